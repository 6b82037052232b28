//! Matching as real exports name things (issue 13): decomposed Unicode, names differing only in
//! case, `-word` suffixes that are not Google's "edited", counted edited copies, emoji-dense
//! names cut in UTF-16 units, and names rebuilt from published archive listings. Each test
//! builds Takeout zips (every sidecar in another part than its media file), runs the real
//! binary, and checks the rule and the date of every media file in the report.

use crate::common::*;
use unicode_normalization::UnicodeNormalization;

const Y: &str = "Photos from 2019";
const BASE_T: i64 = 1_400_000_000;

/// What the report must say about one media file.
enum Want {
    /// Paired by this rule, dated by the sidecar that carries this timestamp.
    By(&'static str, i64),
    /// No sidecar, and not this (another photo's) date.
    Unmatched { not: i64 },
}

struct Case {
    takeout: Takeout,
    n: usize,
    wants: Vec<(String, Want)>,
}

impl Case {
    fn new() -> Self {
        Case {
            takeout: Takeout::new(3),
            n: 0,
            wants: Vec::new(),
        }
    }

    /// Adds a media file (unique bytes of its type) to a part.
    fn media(&mut self, dir: &str, name: &str, want: Want) {
        self.n += 1;
        let tag = format!("real-{}", self.n);
        let lower = name.to_lowercase();
        let bytes = if lower.ends_with(".mov") {
            isobmff_variant(&fixture("live.mov"), &tag)
        } else if lower.ends_with(".mp4") || lower.contains(".mp~") || lower.ends_with(".mp") {
            isobmff_variant(&fixture("clip.mp4"), &tag)
        } else {
            jpeg_variant(&fixture("plain.jpg"), &tag)
        };
        self.takeout.add(
            self.n % 3,
            format!("Takeout/Google Photos/{dir}/{name}"),
            bytes,
        );
        self.wants.push((format!("{dir}/{name}"), want));
    }

    /// Adds a sidecar carrying `taken`, in the part after the last media file's.
    fn sidecar(&mut self, dir: &str, name: &str, title: &str, taken: i64) {
        self.takeout.add(
            (self.n + 1) % 3,
            format!("Takeout/Google Photos/{dir}/{name}"),
            sidecar(title, taken, None),
        );
    }

    /// Runs the binary and checks every media file's rule and date.
    fn check(self) -> serde_json::Value {
        let tmp = tempfile::tempdir().unwrap();
        let zips = self.takeout.write(&tmp.path().join("in"));
        let (o, report) = process(&zips, &tmp.path().join("photos"), &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        let media = report["media"].as_array().unwrap();
        assert_eq!(media.len(), self.wants.len(), "{}", stderr(&o));
        let mut wrong = Vec::new();
        for (suffix, want) in &self.wants {
            // Compared in NFC: the report may spell a decomposed zip name either way.
            let wanted: String = format!("/{suffix}").nfc().collect();
            let m = media
                .iter()
                .find(|m| {
                    let s: String = m["source"].as_str().unwrap().nfc().collect();
                    s.ends_with(&wanted)
                })
                .unwrap_or_else(|| panic!("no report line for {suffix}"));
            match want {
                Want::By(rule, t) => {
                    if m["rule"].as_str() != Some(rule) || m["taken"].as_i64() != Some(*t) {
                        wrong.push(format!(
                            "{suffix}: expected {rule} dated {t}, got {} dated {} (tried {})",
                            m["rule"], m["taken"], m["tried"]
                        ));
                    }
                }
                Want::Unmatched { not } => {
                    if !m["rule"].is_null() || m["taken"].as_i64() == Some(*not) {
                        wrong.push(format!(
                            "{suffix}: expected no sidecar, got {} dated {}",
                            m["rule"], m["taken"]
                        ));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        report
    }
}

fn t(i: i64) -> i64 {
    BASE_T + i * 86_400
}

#[test]
fn decomposed_names_match_composed_sidecars() {
    let mut c = Case::new();
    // An edited copy whose French word is decomposed, beside its original.
    c.media(Y, "IMG_5001.jpg", Want::By("exact", t(1)));
    c.media(Y, "IMG_5001-modifie\u{301}.jpg", Want::By("edited", t(1)));
    c.sidecar(Y, "IMG_5001.jpg.json", "IMG_5001.jpg", t(1));
    // The same without its original in the export.
    c.media(Y, "IMG_5002-modifie\u{301}.jpg", Want::By("edited", t(2)));
    c.sidecar(
        Y,
        "IMG_5002.jpg.supplemental-metadata.json",
        "IMG_5002.jpg",
        t(2),
    );
    // A decomposed name, a composed sidecar name and title.
    c.media(
        Y,
        "E\u{301}te\u{301} a\u{300} la plage.jpg",
        Want::By("exact", t(3)),
    );
    c.sidecar(Y, "Été à la plage.jpg.json", "Été à la plage.jpg", t(3));
    // A name that is cut only when counted in NFC (42 units; 50 in NFD).
    let long = "Été à Saint-Émilion, château élégant é.jpg";
    let nfd: String = long.nfd().collect();
    c.media(Y, &nfd, Want::By("clipped", t(4)));
    c.sidecar(
        Y,
        "Été à Saint-Émilion, château élégant é.jpg.sup.json",
        long,
        t(4),
    );
    // A composed media name, a decomposed sidecar name.
    c.media(Y, "Noël.jpg", Want::By("supplemental", t(5)));
    c.sidecar(
        Y,
        "Noe\u{308}l.jpg.supplemental-metadata.json",
        "Noël.jpg",
        t(5),
    );
    c.check();
}

#[test]
fn names_differing_only_in_case_keep_their_own_dates() {
    let mut c = Case::new();
    c.media(Y, "IMG_0042.JPG", Want::By("exact", t(1)));
    c.media(Y, "IMG_0042.jpg", Want::By("exact", t(2)));
    c.sidecar(Y, "IMG_0042.jpg.json", "IMG_0042.jpg", t(2));
    c.sidecar(Y, "IMG_0042.JPG.json", "IMG_0042.JPG", t(1));
    // The new suffix, with their edited copies.
    c.media(Y, "IMG_0043.jpg", Want::By("supplemental", t(3)));
    c.media(Y, "IMG_0043.JPG", Want::By("supplemental", t(4)));
    c.media(Y, "IMG_0043-edited.jpg", Want::By("edited", t(3)));
    c.media(Y, "IMG_0043-edited.JPG", Want::By("edited", t(4)));
    c.sidecar(
        Y,
        "IMG_0043.JPG.supplemental-metadata.json",
        "IMG_0043.JPG",
        t(4),
    );
    c.sidecar(
        Y,
        "IMG_0043.jpg.supplemental-metadata.json",
        "IMG_0043.jpg",
        t(3),
    );
    // Only the other case in the export: still found.
    c.media(Y, "IMG_0044.JPG", Want::By("exact", t(5)));
    c.sidecar(Y, "IMG_0044.jpg.json", "IMG_0044.JPG", t(5));
    c.check();
}

#[test]
fn only_googles_edited_words_share_a_sidecar() {
    let mut c = Case::new();
    c.media(Y, "Holiday.jpg", Want::By("exact", t(1)));
    c.media(Y, "Holiday-Paris.jpg", Want::Unmatched { not: t(1) });
    c.sidecar(Y, "Holiday.jpg.json", "Holiday.jpg", t(1));
    // Without the original in the export either.
    c.media(Y, "Trip-Rome.jpg", Want::Unmatched { not: t(2) });
    c.sidecar(Y, "Trip.jpg.json", "Trip.jpg", t(2));
    let words = [
        "edited",
        "bearbeitet",
        "modifié",
        "editado",
        "ha editado",
        "modificato",
        "bewerkt",
        "redigeret",
        "redigerad",
        "redigert",
        "muokattu",
        "edytowane",
        "upraveno",
        "szerkesztett",
        "düzenlendi",
        "изменено",
        "змінено",
        "επεξεργασμένο",
        "編集済み",
        "편집됨",
        "已编辑",
        "已編輯",
    ];
    for (i, w) in words.iter().enumerate() {
        let k = 10 + i as i64;
        let o = format!("IMG_{:04}.jpg", 7000 + i);
        c.media(Y, &o, Want::By("exact", t(k)));
        c.media(
            Y,
            &format!("IMG_{:04}-{w}.jpg", 7000 + i),
            Want::By("edited", t(k)),
        );
        c.sidecar(Y, &format!("{o}.json"), &o, t(k));
    }
    c.check();
}

#[test]
fn counted_edited_copies_take_only_their_counters_sidecar() {
    let mut c = Case::new();
    let x = "IMG_20120216_094016";
    c.media(Y, &format!("{x}.jpg"), Want::By("exact", t(1)));
    c.media(Y, &format!("{x}(1).jpg"), Want::By("numbered", t(2)));
    c.media(Y, &format!("{x}-edited(1).jpg"), Want::By("edited", t(2)));
    c.sidecar(Y, &format!("{x}.jpg.json"), &format!("{x}.jpg"), t(1));
    c.sidecar(Y, &format!("{x}.jpg(1).json"), &format!("{x}.jpg"), t(2));
    // `X(1)` is not in the export, its sidecar is: the edit of `X(1)` takes it.
    let x = "IMG-20150125-WA0003";
    c.media(Y, &format!("{x}.jpg"), Want::By("exact", t(3)));
    c.media(Y, &format!("{x}-modifié(1).jpg"), Want::By("edited", t(4)));
    c.sidecar(Y, &format!("{x}.jpg.json"), &format!("{x}.jpg"), t(3));
    c.sidecar(
        Y,
        &format!("{x}.jpg.supplemental-metadata(1).json"),
        &format!("{x}.jpg"),
        t(4),
    );
    // Only `X`'s sidecar: the edit of `X(12)` has none.
    let x = "IMG-20150125-WA0005";
    c.media(Y, &format!("{x}.jpg"), Want::By("exact", t(5)));
    c.media(Y, &format!("{x}(12).jpg"), Want::Unmatched { not: t(5) });
    c.media(
        Y,
        &format!("{x}-modifié(12).jpg"),
        Want::Unmatched { not: t(5) },
    );
    c.sidecar(Y, &format!("{x}.jpg.json"), &format!("{x}.jpg"), t(5));
    c.check();
}

#[test]
fn emoji_dense_names_are_cut_in_utf16_units() {
    let mut c = Case::new();
    // 29 characters, 52 UTF-16 units: the 46-unit cut drops the last emoji and `.jpg`.
    let name = "😀😃😄😁😆😅😂🤣🥲☺️😊😇🙂🙃😉😌😍🥰😘😗😙😚😋😛.jpg";
    c.media(Y, name, Want::By("clipped", t(1)));
    c.sidecar(
        Y,
        "😀😃😄😁😆😅😂🤣🥲☺️😊😇🙂🙃😉😌😍🥰😘😗😙😚😋.json",
        name,
        t(1),
    );
    // Fifteen emoji and some words: the zip name is the title cut to 47 units keeping the
    // extension, the sidecar the title cut to 46 units.
    let emoji = "🎉🎂🎈🎁🥳🍰🌟🎊🎶🍾🥂💐🎵🌈🎀";
    let title = format!("{emoji} Birthday party at the lake house.jpg");
    let media = format!("{emoji} Birthday par.jpg");
    let json = format!("{emoji} Birthday party .json");
    assert_eq!(media.encode_utf16().count(), 47);
    assert_eq!(json.encode_utf16().count(), 46 + 5);
    c.media(Y, &media, Want::By("title", t(2)));
    c.sidecar(Y, &json, &title, t(2));
    // Words first: the zip name's cut falls inside an emoji, whose half is dropped.
    let title = format!("Birthday party at the lakes {emoji}.jpg");
    let media = "Birthday party at the lakes 🎉🎂🎈🎁🥳🍰🌟.jpg";
    let json = "Birthday party at the lakes 🎉🎂🎈🎁🥳🍰🌟🎊🎶.json";
    assert_eq!(media.encode_utf16().count(), 46);
    c.media(Y, media, Want::By("title", t(3)));
    c.sidecar(Y, json, &title, t(3));
    // A 46-unit cut inside an emoji of a name without a title to help.
    let name = format!("{}🎉party.jpg", "a".repeat(45));
    c.media(Y, &name, Want::By("clipped", t(4)));
    c.sidecar(Y, &format!("{}.json", "a".repeat(45)), "", t(4));
    c.check();
}

#[test]
fn names_from_real_exports() {
    let mut c = Case::new();
    c.media(Y, "2013-12-23.jpg", Want::By("without-extension", t(1)));
    c.media(Y, "2013-12-23(1).jpg", Want::By("without-extension", t(2)));
    c.sidecar(
        Y,
        "2013-12-23.supplemental-metadata(1).json",
        "2013-12-23.jpg",
        t(2),
    );
    c.sidecar(
        Y,
        "2013-12-23.supplemental-metadata.json",
        "2013-12-23.jpg",
        t(1),
    );
    // Cut-down forms of the same.
    c.media(Y, "2013-12-24.jpg", Want::By("prefix", t(3)));
    c.sidecar(Y, "2013-12-24.supplemental-me.json", "2013-12-24.jpg", t(3));
    let long = "Screenshot_20190704-153012_Some Application.png";
    c.media(Y, long, Want::By("clipped", t(4)));
    c.sidecar(
        Y,
        "Screenshot_20190704-153012_Some Application.su.json",
        long,
        t(4),
    );
    // An edited copy of such a photo, with and without the original.
    c.media(
        Y,
        "2234089303984509579.jpg",
        Want::By("without-extension", t(5)),
    );
    c.media(
        Y,
        "2234089303984509579-edited.jpg",
        Want::By("edited", t(5)),
    );
    c.sidecar(
        Y,
        "2234089303984509579.supplemental-metadata.json",
        "2234089303984509579.jpg",
        t(5),
    );
    c.media(
        Y,
        "2234089303984509580-edited.jpg",
        Want::By("edited", t(6)),
    );
    c.sidecar(
        Y,
        "2234089303984509580.supplemental-metadata.json",
        "2234089303984509580.jpg",
        t(6),
    );
    // A Pixel motion photo's halves with the camera's `~2` copy counter.
    c.media(
        Y,
        "PXL_20210102_221126856.MP~2.jpg",
        Want::By("exact", t(7)),
    );
    c.media(
        Y,
        "PXL_20210102_221126856.MP~2",
        Want::By("live-photo", t(7)),
    );
    c.sidecar(
        Y,
        "PXL_20210102_221126856.MP~2.jpg.json",
        "PXL_20210102_221126856.MP~2.jpg",
        t(7),
    );
    // The video half alone.
    c.media(
        Y,
        "PXL_20210102_221126857.MP~2",
        Want::By("live-photo", t(8)),
    );
    c.sidecar(
        Y,
        "PXL_20210102_221126857.MP~2.jpg.json",
        "PXL_20210102_221126857.MP~2.jpg",
        t(8),
    );
    // Counters of several digits.
    c.media(Y, "IMG_0003.jpg", Want::By("exact", t(9)));
    c.media(Y, "IMG_0003(12).jpg", Want::By("numbered", t(10)));
    c.sidecar(Y, "IMG_0003.jpg.json", "IMG_0003.jpg", t(9));
    c.sidecar(Y, "IMG_0003.jpg(12).json", "IMG_0003.jpg", t(10));
    let report = c.check();
    assert!(report["unused_sidecars"].as_array().unwrap().is_empty());
}
