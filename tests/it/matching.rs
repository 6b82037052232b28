//! Matching quality: a generated Takeout with several hundred media files covering every
//! naming rule, spread over three zips with sidecars in other zips than their media. Every
//! file must be matched, by exactly the rule expected.

use crate::common::*;
use std::collections::BTreeMap;

const BASE_T: i64 = 1_400_000_000;

struct Corpus {
    takeout: Takeout,
    /// media path suffix (folder/name) → expected rule
    expected: BTreeMap<String, &'static str>,
    /// media path suffix → the timestamp its sidecar carries
    taken: BTreeMap<String, i64>,
    n: usize,
}

impl Corpus {
    fn new() -> Self {
        Corpus {
            takeout: Takeout::new(3),
            expected: BTreeMap::new(),
            taken: BTreeMap::new(),
            n: 0,
        }
    }

    /// Adds a media file and (unless `sidecar` is None) its sidecar, in different zips.
    fn add(
        &mut self,
        dir: &str,
        media: &str,
        sidecar_name: Option<&str>,
        title: &str,
        rule: &'static str,
    ) {
        self.n += 1;
        let n = self.n;
        let bytes = self.content(media, n);
        let t = BASE_T + n as i64 * 1000;
        let media_zip = n % 3;
        self.takeout.add(
            media_zip,
            format!("Takeout/Google Photos/{dir}/{media}"),
            bytes,
        );
        if let Some(s) = sidecar_name {
            self.takeout.add(
                (n + 1) % 3,
                format!("Takeout/Google Photos/{dir}/{s}"),
                sidecar(title, t, None),
            );
            self.taken.insert(format!("{dir}/{media}"), t);
        }
        self.expected.insert(format!("{dir}/{media}"), rule);
    }

    /// Unique, valid bytes for a media file of this name's type.
    fn content(&self, name: &str, n: usize) -> Vec<u8> {
        let lower = name.to_lowercase();
        let tag = format!("corpus-{n}");
        if lower.ends_with(".heic") {
            isobmff_variant(&fixture("iphone.heic"), &tag)
        } else if lower.ends_with(".mov") {
            isobmff_variant(&fixture("live.mov"), &tag)
        } else if lower.ends_with(".mp4") || lower.ends_with(".mp") {
            isobmff_variant(&fixture("clip.mp4"), &tag)
        } else {
            jpeg_variant(&fixture("plain.jpg"), &tag)
        }
    }
}

fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn build() -> Corpus {
    let mut c = Corpus::new();
    let y = "Photos from 2019";
    for i in 0..40 {
        let m = format!("IMG_{i:04}.jpg");
        c.add(y, &m, Some(&format!("{m}.json")), &m, "exact");
        let m = format!("IMG_{i:04}.JPG");
        c.add(
            "Photos from 2018",
            &m,
            Some(&format!("IMG_{i:04}.jpg.json")),
            &m,
            "exact",
        );
        let m = format!("PXL_20240601_{i:09}.jpg");
        c.add(
            y,
            &m,
            Some(&format!("{m}.supplemental-metadata.json")),
            &m,
            "supplemental",
        );
    }
    // The 46-character cut, at every length that cuts the suffix somewhere.
    for len in 24..=60 {
        let stem = format!("Screenshot_{len:02}_{}", "x".repeat(len - 14 - 4));
        let m = format!("{}.png", clip(&stem, len - 4));
        let full = format!("{m}.supplemental-metadata");
        let s = if full.chars().count() > 46 {
            format!("{}.json", clip(&full, 46))
        } else {
            format!("{full}.json")
        };
        // At exactly 46 characters the cut leaves the bare media name: `NAME.EXT.json`.
        let rule = match full.chars().count() {
            n if n <= 46 => "supplemental",
            _ if m.chars().count() == 46 => "exact",
            _ => "clipped",
        };
        c.add("Photos from 2020", &m, Some(&s), &m, rule);
    }
    // The same cut with a (n) counter, which is never cut.
    for i in 1..=5 {
        let base = format!("PXL_20240601_101112345.NIGHT_{i}.jpg");
        let m = format!("PXL_20240601_101112345.NIGHT_{i}({i}).jpg");
        let s = format!(
            "{}({i}).json",
            clip(&format!("{base}.supplemental-metadata"), 46)
        );
        c.add("Photos from 2024", &m, Some(&s), &base, "clipped");
    }
    // The suffix cut at other places than 46 (Google has changed it): the prefix rule.
    for (i, cut) in [
        ".supplemental-metad",
        ".supplem",
        ".s",
        ".",
        ".supplemental-metadat",
    ]
    .iter()
    .enumerate()
    {
        for j in 0..4 {
            let m = format!("PXL_2023010{i}_10111{j}345.NIGHT.jpg");
            c.add(
                "Photos from 2023",
                &m,
                Some(&format!("{m}{cut}.json")),
                &m,
                "prefix",
            );
        }
    }
    // (n) numbering, old and new style, beside the original.
    for i in 0..20 {
        let o = format!("IMG_{:04}.jpg", 5000 + i);
        c.add(y, &o, Some(&format!("{o}.json")), &o, "exact");
        let m = format!("IMG_{:04}(1).jpg", 5000 + i);
        c.add(y, &m, Some(&format!("{o}(1).json")), &o, "numbered");
        let m = format!("IMG_{:04}(2).jpg", 5000 + i);
        c.add(
            y,
            &m,
            Some(&format!("{o}.supplemental-metadata(2).json")),
            &o,
            "numbered",
        );
    }
    // Older exports: no media extension in the sidecar name.
    for i in 0..15 {
        let m = format!("DSC_{i:04}.jpg");
        c.add(
            y,
            &m,
            Some(&format!("DSC_{i:04}.json")),
            &m,
            "without-extension",
        );
    }
    // .jpeg / .jpg swapped.
    for i in 0..10 {
        let m = format!("IMG_{:04}.jpeg", 6000 + i);
        c.add(
            y,
            &m,
            Some(&format!("IMG_{:04}.jpg.json", 6000 + i)),
            &m,
            "extension-variant",
        );
    }
    // Long titles: the zip name is cut to 47 characters (extension kept), the sidecar is the
    // title cut to 46 + .json.
    for i in 0..10 {
        let title =
            format!("a_very_long_{i:02}_original_file_name_from_a_camera_and_more_text.jpg");
        let m = format!("{}.jpg", clip(&title, 43));
        let s = format!("{}.json", clip(&title, 46));
        c.add("Photos from 2021", &m, Some(&s), &title, "title");
    }
    // Sidecars named after the title, with characters the zip name replaced.
    for i in 0..10 {
        let title = format!("Party: {i}?.jpg");
        let m = format!("Party_ {i}_.jpg");
        c.add(
            "Photos from 2021",
            &m,
            Some(&format!("{title}.json")),
            &title,
            "title",
        );
    }
    // Edited copies in many languages share their original's sidecar.
    let words = [
        "edited",
        "bearbeitet",
        "modifié",
        "editado",
        "modificato",
        "bewerkt",
        "redigeret",
        "muokattu",
        "edytowane",
        "編集済み",
        "편집됨",
        "已编辑",
    ];
    for (i, w) in words.iter().enumerate() {
        let o = format!("IMG_{:04}.jpg", 7000 + i);
        c.add(y, &o, Some(&format!("{o}.json")), &o, "exact");
        c.add(
            y,
            &format!("IMG_{:04}-{w}.jpg", 7000 + i),
            None,
            "",
            "edited",
        );
    }
    // Live Photos and motion photos: the video half takes the still's sidecar.
    for i in 0..15 {
        let still = format!("IMG_{:04}.HEIC", 8000 + i);
        c.add(y, &still, Some(&format!("{still}.json")), &still, "exact");
        c.add(
            y,
            &format!("IMG_{:04}.MOV", 8000 + i),
            None,
            "",
            "live-photo",
        );
    }
    for i in 0..5 {
        let still = format!("PXL_20210101_10101010{i}.MP.jpg");
        c.add(y, &still, Some(&format!("{still}.json")), &still, "exact");
        c.add(
            y,
            &format!("PXL_20210101_10101010{i}.MP"),
            None,
            "",
            "live-photo",
        );
        let still = format!("MVIMG_20190101_10101{i}.jpg");
        c.add(y, &still, Some(&format!("{still}.json")), &still, "exact");
        c.add(
            y,
            &format!("MVIMG_20190101_10101{i}.mp4"),
            None,
            "",
            "live-photo",
        );
    }
    // NFD names in the zip, NFC sidecar names.
    for i in 0..5 {
        let nfc = format!("Été à la plage {i}.jpg");
        let nfd = format!("E\u{301}te\u{301} a\u{300} la plage {i}.jpg");
        c.add(y, &nfd, Some(&format!("{nfc}.json")), &nfc, "exact");
    }
    // A sidecar in another folder, found by its unique title.
    for i in 0..5 {
        let m = format!("Scan {i} from grandma.jpg");
        c.n += 1;
        let n = c.n;
        let bytes = c.content(&m, n);
        c.takeout
            .add(n % 3, format!("Takeout/Google Photos/Scans/{m}"), bytes);
        c.takeout.add(
            (n + 1) % 3,
            format!("Takeout/Google Photos/Elsewhere/odd-name-{i}.json"),
            sidecar(&m, BASE_T + n as i64 * 1000, None),
        );
        c.taken
            .insert(format!("Scans/{m}"), BASE_T + n as i64 * 1000);
        c.expected.insert(format!("Scans/{m}"), "title-elsewhere");
    }
    // Albums (localized folder and metadata file names): copies with their own sidecars, and
    // copies without one that take their year-folder twin's.
    for (k, (album, meta)) in [
        ("Urlaub in Paris", "Metadaten.json"),
        ("Vacances", "métadonnées.json"),
    ]
    .iter()
    .enumerate()
    {
        c.takeout.add(
            k,
            format!("Takeout/Google Photos/{album}/{meta}"),
            album_json(album),
        );
        for i in 0..10 {
            let m = format!("IMG_{:04}.jpg", 9000 + k * 100 + i);
            c.add(
                "Fotos von 2019",
                &m,
                Some(&format!("{m}.json")),
                &m,
                "exact",
            );
            let twin = c.content(&m, c.n);
            let part = (c.n + 2) % 3;
            c.takeout
                .add(part, format!("Takeout/Google Photos/{album}/{m}"), twin);
            if i % 2 == 0 {
                c.takeout.add(
                    part,
                    format!("Takeout/Google Photos/{album}/{m}.json"),
                    sidecar(&m, BASE_T + c.n as i64 * 1000, None),
                );
                c.expected.insert(format!("{album}/{m}"), "exact");
            } else {
                c.expected.insert(format!("{album}/{m}"), "album-twin");
            }
            c.taken
                .insert(format!("{album}/{m}"), BASE_T + c.n as i64 * 1000);
        }
    }
    // A sidecar whose photo is not in the export: reported as unused, never a crash.
    c.takeout.add(
        2,
        "Takeout/Google Photos/Photos from 2019/IMG_9999.jpg.json",
        sidecar("IMG_9999.jpg", BASE_T, None),
    );
    c
}

#[test]
fn every_quirk_matched_by_the_expected_rule() {
    let c = build();
    assert!(c.expected.len() >= 300, "only {} media", c.expected.len());
    let tmp = tempfile::tempdir().unwrap();
    let zips = c.takeout.write(&tmp.path().join("in"));
    let out = tmp.path().join("photos");
    let (o, report) = process(&zips, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));

    let media = report["media"].as_array().unwrap();
    assert_eq!(media.len(), c.expected.len());
    let mut wrong = Vec::new();
    for (suffix, rule) in &c.expected {
        let m = media
            .iter()
            .find(|m| {
                m["source"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/{suffix}"))
            })
            .unwrap_or_else(|| panic!("no report line for {suffix}"));
        if m["rule"].as_str() != Some(rule) {
            wrong.push(format!(
                "{suffix}: expected {rule}, got {} (tried {})",
                m["rule"], m["tried"]
            ));
        }
        if let Some(t) = c.taken.get(suffix) {
            if m["taken"].as_i64() != Some(*t) {
                wrong.push(format!("{suffix}: taken {} instead of {t}", m["taken"]));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    let s = stderr(&o);
    let total = c.expected.len();
    assert!(
        s.contains(&format!(
            "{total} of {total} photos and videos found their Google Photos metadata\n"
        )),
        "{s}"
    );
    let unused = report["unused_sidecars"].as_array().unwrap();
    assert_eq!(unused.len(), 1, "{unused:?}");
    assert!(unused[0]["source"]
        .as_str()
        .unwrap()
        .ends_with("IMG_9999.jpg.json"));
    assert_eq!(unused[0]["title"], "IMG_9999.jpg");
    eprintln!("{s}");
    assert!(report["bad_json"].as_array().unwrap().is_empty());
}
