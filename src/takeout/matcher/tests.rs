use super::*;

const DIR: &str = "Google Photos/Photos from 2019";

fn sc(name: &str) -> SidecarRef<'_> {
    SidecarRef {
        dir: DIR,
        name,
        title: None,
    }
}
fn sc_titled<'a>(name: &'a str, title: &'a str) -> SidecarRef<'a> {
    SidecarRef {
        dir: DIR,
        name,
        title: Some(title),
    }
}
fn md(name: &str) -> MediaRef<'_> {
    MediaRef {
        dir: DIR,
        name,
        video: crate::metadata::media::MediaKind::from_name(name).is_some_and(|k| k.is_video()),
    }
}

/// Matches `media` against `sidecars` and returns (sidecar name, rule) per media file.
fn run(media: &[&str], sidecars: &[SidecarRef]) -> Vec<Option<(String, Rule)>> {
    let m: Vec<MediaRef> = media.iter().map(|n| md(n)).collect();
    match_all(&m, sidecars)
        .into_iter()
        .map(|r| r.map(|x| (sidecars[x.sidecar].name.to_string(), x.rule)))
        .collect()
}

fn one(media: &str, sidecar: &str) -> Option<(String, Rule)> {
    run(&[media], &[sc(sidecar)]).pop().unwrap()
}

fn assert_pair(media: &str, sidecar: &str, rule: Rule) {
    assert_eq!(
        one(media, sidecar),
        Some((sidecar.to_string(), rule)),
        "{media} → {sidecar}"
    );
}

#[test]
fn classic_full_name() {
    assert_pair("IMG_0001.JPG", "IMG_0001.JPG.json", Rule::Exact);
}

#[test]
fn supplemental_metadata() {
    assert_pair(
        "IMG_0002.jpg",
        "IMG_0002.jpg.supplemental-metadata.json",
        Rule::Supplemental,
    );
}

#[test]
fn supplemental_suffix_cut_anywhere() {
    let media = "PXL_20240601_101112345.NIGHT.jpg";
    // The rule's own cut: 46 characters of name + suffix.
    assert_pair(
        media,
        "PXL_20240601_101112345.NIGHT.jpg.supplemental-.json",
        Rule::Clipped,
    );
    for s in [
        "PXL_20240601_101112345.NIGHT.jpg.supplemental-metad.json",
        "PXL_20240601_101112345.NIGHT.jpg.supplem.json",
        "PXL_20240601_101112345.NIGHT.jpg.s.json",
        "PXL_20240601_101112345.NIGHT.jpg..json",
    ] {
        assert_pair(media, s, Rule::Prefix);
    }
}

#[test]
fn long_names_clipped_sidecar() {
    // The media name is 51 characters: the sidecar is its first 46 characters + `.json`.
    let media = "Screenshot_20240102-101112_Some Long App Name.png";
    let clipped = format!(
        "{}.json",
        clip_utf16(&format!("{media}{SUPPLEMENTAL}"), 46).0
    );
    assert_pair(media, &clipped, Rule::Clipped);
    let media = "a_very_long_original_file_name_from_a_camera_abcdef.jpg";
    let old = format!("{}.json", clip_utf16(media, 46).0);
    assert_pair(media, &old, Rule::Clipped);
}

#[test]
fn long_title_with_cut_media_name() {
    let s = sc_titled(
        "a_very_long_original_file_name_from_a_camera_a.json",
        "a_very_long_original_file_name_from_a_camera_abcdefgh.jpg",
    );
    let r = run(&["a_very_long_original_file_name_from_a_camer.jpg"], &[s]);
    assert_eq!(r[0].as_ref().map(|x| x.1), Some(Rule::Title));
}

#[test]
fn counter_moves_after_extension() {
    assert_pair("IMG_0003(1).jpg", "IMG_0003.jpg(1).json", Rule::Numbered);
    assert_pair(
        "IMG_0004(2).jpg",
        "IMG_0004.jpg.supplemental-metadata(2).json",
        Rule::Numbered,
    );
}

#[test]
fn counted_long_name_keeps_counter_after_the_cut() {
    let media = "PXL_20240601_101112345.NIGHT_and_more(1).jpg";
    let base = "PXL_20240601_101112345.NIGHT_and_more.jpg";
    let s = format!(
        "{}(1).json",
        clip_utf16(&format!("{base}{SUPPLEMENTAL}"), 46).0
    );
    assert_pair(media, &s, Rule::Clipped);
}

#[test]
fn edited_copies_share_the_original_sidecar() {
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
    for w in words {
        let edited = format!("IMG_0005-{w}.jpg");
        let r = run(&["IMG_0005.jpg", &edited], &[sc("IMG_0005.jpg.json")]);
        assert_eq!(r[0], Some(("IMG_0005.jpg.json".into(), Rule::Exact)));
        assert_eq!(
            r[1],
            Some(("IMG_0005.jpg.json".into(), Rule::Edited)),
            "{w}"
        );
    }
    // Even when the original itself is not in the export.
    assert_eq!(
        one(
            "IMG_0006-edited.jpg",
            "IMG_0006.jpg.supplemental-metadata.json"
        ),
        Some((
            "IMG_0006.jpg.supplemental-metadata.json".into(),
            Rule::Edited
        ))
    );
}

#[test]
fn sidecar_without_media_extension() {
    assert_pair("IMG_0008.jpg", "IMG_0008.json", Rule::WithoutExtension);
}

#[test]
fn live_photo_video_takes_the_still_sidecar() {
    let r = run(
        &["IMG_0013.HEIC", "IMG_0013.MOV"],
        &[sc("IMG_0013.HEIC.json")],
    );
    assert_eq!(r[0], Some(("IMG_0013.HEIC.json".into(), Rule::Exact)));
    assert_eq!(r[1], Some(("IMG_0013.HEIC.json".into(), Rule::LivePhoto)));
}

#[test]
fn motion_photos() {
    let r = run(
        &["PXL_20210101_101010101.MP.jpg", "PXL_20210101_101010101.MP"],
        &[sc("PXL_20210101_101010101.MP.jpg.json")],
    );
    assert_eq!(r[0].as_ref().unwrap().1, Rule::Exact);
    assert_eq!(r[1].as_ref().unwrap().1, Rule::LivePhoto);
    let r = run(
        &["MVIMG_20190101_101010.jpg", "MVIMG_20190101_101010.mp4"],
        &[sc("MVIMG_20190101_101010.jpg.json")],
    );
    assert_eq!(r[1].as_ref().unwrap().1, Rule::LivePhoto);
}

#[test]
fn unicode_normalization() {
    let nfd = "E\u{301}te\u{301} a\u{300} la plage.jpg";
    assert_pair(nfd, "Été à la plage.jpg.json", Rule::Exact);
}

#[test]
fn sidecar_named_after_title() {
    let s = sc_titled("Photo: 1.jpg.json", "Photo: 1.jpg");
    let r = run(&["Photo_ 1.jpg"], &[s]);
    assert_eq!(r[0].as_ref().unwrap().1, Rule::Title);
}

#[test]
fn extension_case_and_spelling() {
    assert_pair("IMG_0009.JPG", "IMG_0009.jpg.json", Rule::Exact);
    assert_pair("IMG_0010.jpeg", "IMG_0010.jpg.json", Rule::ExtensionVariant);
    assert_pair(
        "IMG_0011.jpg",
        "IMG_0011.jpeg.supplemental-metadata.json",
        Rule::ExtensionVariant,
    );
}

#[test]
fn title_in_another_folder_only_when_unique() {
    let elsewhere = SidecarRef {
        dir: "Google Photos/Some Album",
        name: "weird.json",
        title: Some("IMG_0012.jpg"),
    };
    let r = run(&["IMG_0012.jpg"], std::slice::from_ref(&elsewhere));
    assert_eq!(r[0].as_ref().unwrap().1, Rule::TitleElsewhere);
    let mut second = elsewhere.clone();
    second.dir = "Google Photos/Other Album";
    let r = run(&["IMG_0012.jpg"], &[elsewhere, second]);
    assert_eq!(r[0], None);
}

#[test]
fn no_stealing_between_similar_names() {
    let r = run(&["IMG_1.jpg", "IMG_11.jpg"], &[sc("IMG_11.jpg.json")]);
    assert_eq!(r[0], None);
    assert_eq!(r[1].as_ref().unwrap().0, "IMG_11.jpg.json");
    let r = run(&["IMG_11.jpg"], &[sc("IMG_1.jpg.json"), sc("IMG_1.json")]);
    assert_eq!(r[0], None);
    let r = run(
        &["IMG_0003.jpg", "IMG_0003(1).jpg"],
        &[sc("IMG_0003.jpg.json")],
    );
    assert_eq!(r[0].as_ref().unwrap().1, Rule::Exact);
    assert_eq!(
        r[1], None,
        "a (1) copy must not take the original's sidecar"
    );
    let r = run(
        &["IMG_0003(1).jpg", "IMG_0003.jpg"],
        &[sc("IMG_0003.jpg(1).json"), sc("IMG_0003.jpg.json")],
    );
    assert_eq!(r[0].as_ref().unwrap().0, "IMG_0003.jpg(1).json");
    assert_eq!(r[1].as_ref().unwrap().0, "IMG_0003.jpg.json");
}

#[test]
fn sidecars_in_other_folders_are_not_used_by_name() {
    let s = SidecarRef {
        dir: "Google Photos/Album",
        name: "IMG_1.jpg.json",
        title: None,
    };
    assert_eq!(run(&["IMG_1.jpg"], &[s]), vec![None]);
}

#[test]
fn nfc_names_keep_only_what_normalizing_changes() {
    let raw = [
        "a\u{301}.jpg",
        "b.jpg",
        "\u{e9}.jpg",
        "e\u{301}(1).jpg",
        "IMG_1.jpg",
    ];
    let names = NfcNames::new(raw.len(), |i| raw[i]);
    assert_eq!(names.changed.len(), 2);
    for (i, r) in raw.iter().enumerate() {
        assert_eq!(names.get(i, r), crate::names::nfc(r), "{r}");
    }
    let none = NfcNames::new(2, |i| ["x.jpg", "y.jpg"][i]);
    assert!(none.changed.is_empty());
    assert_eq!(none.get(1, "y.jpg"), "y.jpg");
}

#[test]
fn a_key_index_finds_every_index_of_a_key_and_nothing_else() {
    for n in [0usize, 1, 7, 8, 100, 5000] {
        let mut idx = KeyIndex::default();
        let mut expected: HashMap<u128, Vec<usize>> = HashMap::new();
        for i in 0..n {
            // Some keys are shared by two indexes (0 and 2, 3 and 4, 6 and 8, …).
            let k = hash_key(
                Some(1),
                &format!("name{}", i / 3 * 3 + (i % 3) * (i % 2)),
                None,
            );
            idx.push(k, i);
            expected.entry(k).or_default().push(i);
        }
        idx.seal();
        if n >= 100 {
            // About four pairs a bucket, none much fuller (the hashes are uniform).
            let (count, buckets) = idx.buckets.sizes();
            let average = n as f64 / count as f64;
            assert!((2.0..8.0).contains(&average), "n={n}: {average} a bucket");
            assert!(buckets.into_iter().max().unwrap() <= 32, "n={n}");
        }
        for (k, want) in &expected {
            assert_eq!(&idx.get(*k).collect::<Vec<_>>(), want, "n={n}");
        }
        assert_eq!(idx.get(hash_key(Some(2), "name0", None)).count(), 0);
        // Keys at both ends of the hash space.
        assert_eq!(idx.get(0).count(), 0);
        assert_eq!(idx.get(u128::MAX).count(), 0);
    }
    let mut ends = KeyIndex::default();
    ends.push(0, 1);
    ends.push(u128::MAX, 2);
    for i in 0..20 {
        ends.push(hash_key(None, &i.to_string(), None), 3 + i);
    }
    ends.seal();
    assert_eq!(ends.get(0).collect::<Vec<_>>(), vec![1]);
    assert_eq!(ends.get(u128::MAX).collect::<Vec<_>>(), vec![2]);
    assert_eq!(KeyIndex::default().get(0).count(), 0);
}

#[test]
fn shared_rules_stay_in_their_folder() {
    // The original and its sidecar in one folder, an edited copy and a Live Photo video
    // of the same name in another: they find no original there.
    let other = |name: &'static str| MediaRef {
        dir: "Google Photos/Album",
        name,
        video: name.ends_with(".MOV"),
    };
    let media = [
        md("IMG_1.jpg"),
        other("IMG_1-edited.jpg"),
        md("IMG_2.HEIC"),
        other("IMG_2.MOV"),
    ];
    let got = match_all(&media, &[sc("IMG_1.jpg.json"), sc("IMG_2.HEIC.json")]);
    assert_eq!(got[0].map(|m| m.sidecar), Some(0));
    assert_eq!(got[1], None);
    assert_eq!(got[2].map(|m| m.sidecar), Some(1));
    assert_eq!(got[3], None);
    // In the original's folder they share its sidecar.
    let same = [md("IMG_1.jpg"), md("IMG_1-edited.jpg")];
    assert_eq!(
        match_all(&same, &[sc("IMG_1.jpg.json")])[1].map(|m| m.rule),
        Some(Rule::Edited)
    );
}

#[test]
fn tried_names_for_the_report() {
    let t = tried_names("IMG_0003(1).jpg");
    assert!(t.contains(&"IMG_0003(1).jpg.json".to_string()));
    assert!(t.contains(&"IMG_0003.jpg(1).json".to_string()));
    assert!(t.contains(&"IMG_0003(1).json".to_string()));
}

// Issue 13, 1: NFC before every comparison.

#[test]
fn nfd_edited_word_and_names() {
    // The edited word decomposed, with and without its original in the folder.
    let nfd = "IMG_5001-modifie\u{301}.jpg";
    let r = run(&["IMG_5001.jpg", nfd], &[sc("IMG_5001.jpg.json")]);
    assert_eq!(r[1], Some(("IMG_5001.jpg.json".into(), Rule::Edited)));
    assert_eq!(
        one(nfd, "IMG_5001.jpg.supplemental-metadata.json"),
        Some((
            "IMG_5001.jpg.supplemental-metadata.json".into(),
            Rule::Edited
        ))
    );
    // NFD media, NFC sidecar; and the other way round.
    let nfd = "E\u{301}te\u{301} a\u{300} la plage.jpg";
    assert_pair(nfd, "Été à la plage.jpg.json", Rule::Exact);
    assert_pair("Été à la plage.jpg", &format!("{nfd}.json"), Rule::Exact);
    assert_pair(
        nfd,
        "Été à la plage.jpg.supplemental-metadata.json",
        Rule::Supplemental,
    );
    // A title in NFD names an NFC zip name with replaced characters.
    let s = sc_titled("odd.json", "E\u{301}te\u{301}: a\u{300} la plage.jpg");
    let r = run(&["Été_ à la plage.jpg"], &[s]);
    assert_eq!(r[0].as_ref().map(|x| x.1), Some(Rule::Title));
}

#[test]
fn nfd_names_are_clipped_as_nfc() {
    // 41 characters in NFC, 47 in NFD: only the NFC count gives the sidecar's cut.
    let nfc_name = "Été à Saint-Émilion, château élégant é.jpg";
    assert_eq!(utf16_len(nfc_name), 42);
    let nfd_name: String = unicode_normalization::UnicodeNormalization::nfd(nfc_name).collect();
    assert!(utf16_len(&nfd_name) > CLIP_LEN);
    let long = format!("{nfc_name}{SUPPLEMENTAL}");
    let cut = clip_utf16(&long, CLIP_LEN).0;
    assert_eq!(cut, "Été à Saint-Émilion, château élégant é.jpg.sup");
    assert_pair(&nfd_name, &format!("{cut}.json"), Rule::Clipped);
}

// Issue 13, 2: exact case first.

#[test]
fn names_differing_only_in_case_keep_their_own_sidecars() {
    let sidecar_sets = [
        [sc("IMG_0042.JPG.json"), sc("IMG_0042.jpg.json")],
        [sc("IMG_0042.jpg.json"), sc("IMG_0042.JPG.json")],
    ];
    for sidecars in sidecar_sets {
        for media in [
            ["IMG_0042.JPG", "IMG_0042.jpg"],
            ["IMG_0042.jpg", "IMG_0042.JPG"],
        ] {
            let r = run(&media, &sidecars);
            for (m, got) in media.iter().zip(&r) {
                assert_eq!(got, &Some((format!("{m}.json"), Rule::Exact)), "{media:?}");
            }
        }
    }
    // The same with the new suffix, and with their edited copies.
    let r = run(
        &[
            "IMG_0042.jpg",
            "IMG_0042.JPG",
            "IMG_0042-edited.jpg",
            "IMG_0042-edited.JPG",
        ],
        &[
            sc("IMG_0042.jpg.supplemental-metadata.json"),
            sc("IMG_0042.JPG.supplemental-metadata.json"),
        ],
    );
    let got: Vec<&str> = r.iter().map(|x| x.as_ref().unwrap().0.as_str()).collect();
    assert_eq!(
        got,
        [
            "IMG_0042.jpg.supplemental-metadata.json",
            "IMG_0042.JPG.supplemental-metadata.json",
            "IMG_0042.jpg.supplemental-metadata.json",
            "IMG_0042.JPG.supplemental-metadata.json",
        ]
    );
    // Edited copies whose originals are not in the export: exact case too.
    let r = run(
        &["IMG_0043-edited.jpg", "IMG_0043-edited.JPG"],
        &[sc("IMG_0043.JPG.json"), sc("IMG_0043.jpg.json")],
    );
    assert_eq!(r[0].as_ref().unwrap().0, "IMG_0043.jpg.json");
    assert_eq!(r[1].as_ref().unwrap().0, "IMG_0043.JPG.json");
    // By title.
    let r = run(
        &["IMG_0044.JPG", "IMG_0044.jpg"],
        &[
            sc_titled("a.json", "IMG_0044.jpg"),
            sc_titled("b.json", "IMG_0044.JPG"),
        ],
    );
    assert_eq!(r[0], Some(("b.json".into(), Rule::Title)));
    assert_eq!(r[1], Some(("a.json".into(), Rule::Title)));
    // Only the other case there: still found, case-insensitively.
    assert_pair("IMG_0045.JPG", "IMG_0045.jpg.json", Rule::Exact);
}

#[test]
fn a_second_copy_of_one_sidecar_is_not_a_case_variant() {
    // The same part downloaded twice: two `IMG_0046.jpg.json`. `IMG_0046.JPG` has no
    // sidecar and must not take the second copy of the other photo's.
    let copy = sc_titled("IMG_0046.jpg.json", "IMG_0046.jpg");
    let r = run(&["IMG_0046.JPG", "IMG_0046.jpg"], &[copy.clone(), copy]);
    assert_eq!(r[0], None);
    assert_eq!(r[1], Some(("IMG_0046.jpg.json".into(), Rule::Exact)));
}

// Issue 13, 3: only Google's words for "edited".

#[test]
fn other_dash_words_are_other_photos() {
    let r = run(
        &["Holiday.jpg", "Holiday-Paris.jpg"],
        &[sc("Holiday.jpg.json")],
    );
    assert_eq!(r[0], Some(("Holiday.jpg.json".into(), Rule::Exact)));
    assert_eq!(r[1], None);
    assert_eq!(one("Holiday-Paris.jpg", "Holiday.jpg.json"), None);
    assert_eq!(one("Scan003-Copy.jpg", "Scan003.jpg.json"), None);
    for (word, lang) in names::EDITED_WORDS {
        let edited = format!("Holiday-{word}.jpg");
        assert_eq!(
            one(&edited, "Holiday.jpg.json"),
            Some(("Holiday.jpg.json".into(), Rule::Edited)),
            "{lang}"
        );
    }
    // Upper case and the Spanish two-word form.
    assert_eq!(
        one("IMG_1-EDITED.JPG", "IMG_1.JPG.json").map(|x| x.1),
        Some(Rule::Edited)
    );
    assert_eq!(
        one(
            "2021-05-22 23.19.26-ha editado.jpeg",
            "2021-05-22 23.19.26.jpeg.json"
        )
        .map(|x| x.1),
        Some(Rule::Edited)
    );
}

// Issue 13, 4: `X-edited(1)` is the edit of `X(1)`.

#[test]
fn counted_edited_copies_share_only_their_own_counters_sidecar() {
    for (edited, original) in [
        ("IMG_20120216_094016-edited(1).jpg", "IMG_20120216_094016"),
        ("IMG-20150125-WA0003-modifié(1).jpg", "IMG-20150125-WA0003"),
        (
            "IMG-20150125-WA0004-modifie\u{301}(1).jpg",
            "IMG-20150125-WA0004",
        ),
        ("IMG_0007-bearbeitet(12).jpg", "IMG_0007"),
    ] {
        let n = NameParts::parse(edited).counter_suffix();
        let title = format!("{original}.jpg");
        let plain_name = format!("{title}.json");
        let plain = sc_titled(&plain_name, &title);
        for own in [
            format!("{title}{n}.json"),
            format!("{title}{SUPPLEMENTAL}{n}.json"),
            format!("{original}{n}.json"),
            format!("{original}{SUPPLEMENTAL}{n}.json"),
        ] {
            // The counter's sidecar wins even when the original is not in the export.
            let sidecars = [plain.clone(), sc_titled(&own, &title)];
            let r = run(&[edited], &sidecars);
            assert_eq!(r[0], Some((own.clone(), Rule::Edited)), "{edited}");
            // With both originals present, each takes its own.
            let counted = format!("{original}{n}.jpg");
            let r = run(&[&title, &counted, edited], &sidecars);
            assert_eq!(r[0].as_ref().unwrap().0, plain.name);
            assert_eq!(r[1].as_ref().unwrap().0, own);
            assert_eq!(r[2], Some((own.clone(), Rule::Edited)), "{edited}");
        }
        // Only `X`'s sidecar, titled `X.jpg`: not the edit's, whatever the title says.
        assert_eq!(run(&[edited], std::slice::from_ref(&plain)), vec![None]);
        let counted = format!("{original}{n}.jpg");
        assert_eq!(run(&[&counted, edited], &[plain]), vec![None, None]);
    }
    // And the other way round: `X-edited.jpg` never takes `X(1)`'s.
    assert_eq!(
        run(
            &["IMG_0008-edited.jpg"],
            &[sc_titled("IMG_0008.jpg(1).json", "IMG_0008.jpg")]
        ),
        vec![None]
    );
}

#[test]
fn counted_copies_never_take_the_uncounted_title() {
    // `X(1)` alone with `X`'s sidecar (its own part missing): no match by title.
    let s = sc_titled("IMG_0003.jpg.json", "IMG_0003.jpg");
    assert_eq!(run(&["IMG_0003(1).jpg"], &[s]), vec![None]);
    // But a counted sidecar named after a replaced title is its.
    let s = sc_titled("Party: 1?.jpg(1).json", "Party: 1?.jpg");
    let r = run(&["Party_ 1_(1).jpg"], &[s]);
    assert_eq!(r[0].as_ref().map(|x| x.1), Some(Rule::Title));
    // A file uploaded as `X(1).jpg`: its title is the whole name, its sidecar has no counter.
    let s = sc_titled("weird.json", "Photo(1).jpg");
    let r = run(&["Photo(1).jpg"], &[s]);
    assert_eq!(r[0].as_ref().map(|x| x.1), Some(Rule::Title));
}

// Issue 13, 5: UTF-16 code units.

#[test]
fn emoji_dense_names_are_cut_in_utf16_units() {
    let media = "😀😃😄😁😆😅😂🤣🥲☺️😊😇🙂🙃😉😌😍🥰😘😗😙😚😋😛.jpg";
    assert_eq!(media.chars().count(), 29);
    assert_eq!(utf16_len(media), 52);
    let sidecar = "😀😃😄😁😆😅😂🤣🥲☺️😊😇🙂🙃😉😌😍🥰😘😗😙😚😋.json";
    assert_pair(media, sidecar, Rule::Clipped);
    // Counted in characters, the name and 17 characters of the suffix would be kept.
    let by_chars: String = format!("{media}{SUPPLEMENTAL}").chars().take(46).collect();
    let tried = tried_names(media);
    assert!(tried.contains(&sidecar.to_string()), "{tried:?}");
    assert!(!tried.contains(&format!("{by_chars}.json")), "{tried:?}");
}

#[test]
fn a_cut_inside_a_surrogate_pair() {
    // 45 units of name, then an emoji: the 46-unit cut keeps half of it.
    let media = format!("{}🎉party.jpg", "a".repeat(45));
    let stem = "a".repeat(45);
    for half in ["", "\u{FFFD}", "\u{FFFD}\u{FFFD}\u{FFFD}"] {
        assert_pair(&media, &format!("{stem}{half}.json"), Rule::Clipped);
        let counted = format!("{}🎉party(3).jpg", "a".repeat(45));
        assert_pair(&counted, &format!("{stem}{half}(3).json"), Rule::Clipped);
    }
}

#[test]
fn fifteen_emoji_and_some_words() {
    let emoji = "🎉🎂🎈🎁🥳🍰🕯️🎊🎶🍾🥂🌟💐🎵🌈";
    let titles = [
        format!("{emoji} Birthday party at the lake house with everyone.jpg"),
        format!("Birthday party at the lake {emoji}{emoji}.jpg"),
    ];
    for title in titles {
        // The zip name: the title cut to 47 units keeping the extension (the cut may fall
        // inside an emoji: the half is dropped); the sidecar: the title cut to 46 + `.json`.
        let (stem, ext) = split_ext(&title);
        let media = format!("{}{ext}", clip_utf16(stem, 47 - utf16_len(ext)).0);
        let sidecar = format!("{}.json", clip_utf16(&title, 46).0);
        let r = run(&[&media], &[sc_titled(&sidecar, &title)]);
        assert_eq!(r[0], Some((sidecar.clone(), Rule::Title)), "{media}");
        // The same with the half left as U+FFFD in the zip name.
        if clip_utf16(stem, 47 - utf16_len(ext)).1 {
            let media = format!("{}\u{FFFD}{ext}", clip_utf16(stem, 47 - utf16_len(ext)).0);
            let r = run(&[&media], &[sc_titled(&sidecar, &title)]);
            assert_eq!(r[0], Some((sidecar, Rule::Title)), "{media}");
        }
    }
    // Two titles sharing their first thirty units: each cut name finds its own.
    let a = format!("{emoji} Birthday party at the lake house, morning.jpg");
    let b = format!("{emoji} Birthday party at the lake house, evening.jpg");
    let cut = |t: &str| format!("{}.jpg", clip_utf16(split_ext(t).0, 43).0);
    assert_eq!(cut(&a), cut(&b), "the zip names collide: Google adds (1)");
    let ma = format!("{}(1).jpg", clip_utf16(split_ext(&b).0, 43).0);
    let r = run(
        &[&cut(&a), &ma],
        &[
            sc_titled(&format!("{}.json", clip_utf16(&a, 46).0), &a),
            sc_titled(&format!("{}(1).json", clip_utf16(&b, 46).0), &b),
        ],
    );
    assert_eq!(r[0].as_ref().unwrap().1, Rule::Title);
    assert!(r[1].as_ref().unwrap().0.ends_with("(1).json"), "{r:?}");
}

// Issue 13, 6: names from real exports.

#[test]
fn real_export_names() {
    let r = run(
        &["2013-12-23.jpg", "2013-12-23(1).jpg"],
        &[
            sc_titled("2013-12-23.supplemental-metadata(1).json", "2013-12-23.jpg"),
            sc_titled("2013-12-23.supplemental-metadata.json", "2013-12-23.jpg"),
        ],
    );
    assert_eq!(
        r[0],
        Some((
            "2013-12-23.supplemental-metadata.json".into(),
            Rule::WithoutExtension
        ))
    );
    assert_eq!(
        r[1],
        Some((
            "2013-12-23.supplemental-metadata(1).json".into(),
            Rule::WithoutExtension
        ))
    );
    // Its cut-down forms.
    for cut in [".supplemental-me", ".supplem", ".su"] {
        assert_pair(
            "2013-12-23.jpg",
            &format!("2013-12-23{cut}.json"),
            Rule::Prefix,
        );
        assert_pair(
            "2013-12-23(2).jpg",
            &format!("2013-12-23{cut}(2).json"),
            Rule::Prefix,
        );
    }
    // Too little of the suffix to tell it from an extension.
    assert_eq!(one("2013-12-23.jpg", "2013-12-23.s.json"), None);
    // A long one, cut at 46 units.
    let media = "Screenshot_20190704-153012_Some Application.png";
    let stem = split_ext(media).0;
    let long = format!("{stem}{SUPPLEMENTAL}");
    let cut = clip_utf16(&long, 46).0;
    assert_eq!(cut, "Screenshot_20190704-153012_Some Application.su");
    assert_pair(media, &format!("{cut}.json"), Rule::Clipped);
    // An edited copy of such a photo.
    let r = run(
        &["2234089303984509579.jpg", "2234089303984509579-edited.jpg"],
        &[sc("2234089303984509579.supplemental-metadata.json")],
    );
    assert_eq!(r[0].as_ref().unwrap().1, Rule::WithoutExtension);
    assert_eq!(
        r[1],
        Some((
            "2234089303984509579.supplemental-metadata.json".into(),
            Rule::Edited
        ))
    );
    assert_eq!(
        one(
            "2234089303984509579-edited.jpg",
            "2234089303984509579.supplemental-metadata.json"
        )
        .map(|x| x.1),
        Some(Rule::Edited)
    );
    // A motion photo's video half with the camera's `~2` copy counter.
    let r = run(
        &[
            "PXL_20210102_221126856.MP~2.jpg",
            "PXL_20210102_221126856.MP~2",
        ],
        &[sc("PXL_20210102_221126856.MP~2.jpg.json")],
    );
    assert_eq!(r[0].as_ref().unwrap().1, Rule::Exact);
    assert_eq!(
        r[1],
        Some((
            "PXL_20210102_221126856.MP~2.jpg.json".into(),
            Rule::LivePhoto
        ))
    );
    assert_eq!(
        one(
            "PXL_20210102_221126856.MP~2",
            "PXL_20210102_221126856.MP~2.jpg.json"
        )
        .map(|x| x.1),
        Some(Rule::LivePhoto)
    );
    // Not every `~` name is a motion half.
    assert_eq!(one("notes.txt~2", "notes.txt~2.jpg.json"), None);
    // An older Google camera's video half has no extension.
    assert_eq!(
        one("MVIMG_20190704_171012", "MVIMG_20190704_171012.jpg.json").map(|x| x.1),
        Some(Rule::LivePhoto)
    );
}

#[test]
fn motion_half_names() {
    for yes in [
        "X.MP",
        "X.mp",
        "X.MP~2",
        "X.MP~12",
        "MVIMG_20190704_171012",
        "XMP",
    ] {
        assert!(is_motion_half(yes), "{yes}");
    }
    for no in [
        ".MP",
        "X.MP~",
        "X.MP~a",
        "X.MPG",
        "X.MP4",
        "X.jpg",
        "MVIMG_1.jpg",
    ] {
        assert!(!is_motion_half(no), "{no}");
    }
}

// Issue 13, 7: counters of several digits; clipping in UTF-16 units, not bytes.

#[test]
fn counters_of_several_digits() {
    assert_pair("IMG_0003(12).jpg", "IMG_0003.jpg(12).json", Rule::Numbered);
    assert_pair(
        "IMG_0003(123).jpg",
        "IMG_0003.jpg.supplemental-metadata(123).json",
        Rule::Numbered,
    );
    assert_pair(
        "IMG_0003(12).jpg",
        "IMG_0003(12).json",
        Rule::WithoutExtension,
    );
    // Never another counter's.
    assert_eq!(one("IMG_0003(12).jpg", "IMG_0003.jpg(1).json"), None);
    assert_eq!(one("IMG_0003(1).jpg", "IMG_0003.jpg(12).json"), None);
    let media = "PXL_20240601_101112345.NIGHT_and_more(12).jpg";
    let s = format!(
        "{}(12).json",
        clip_utf16(
            &format!("PXL_20240601_101112345.NIGHT_and_more.jpg{SUPPLEMENTAL}"),
            46
        )
        .0
    );
    assert_pair(media, &s, Rule::Clipped);
    assert_pair(
        "PXL_20240601_101112345.NIGHT(12).jpg",
        "PXL_20240601_101112345.NIGHT.jpg.supplem(12).json",
        Rule::Prefix,
    );
}

#[test]
fn clipping_counts_utf16_units_not_bytes_nor_characters() {
    // 50 × "é" is 50 units (100 bytes): the cut keeps 46 of them.
    let media = format!("{}.jpg", "é".repeat(50));
    assert_pair(&media, &format!("{}.json", "é".repeat(46)), Rule::Clipped);
    assert_eq!(one(&media, &format!("{}.json", "é".repeat(23))), None);
    // 20 × "😀" is 20 characters but 40 units: with `.jpg` and the suffix it is cut at
    // `.jpg.s`; counted in characters it would not be cut at all.
    let media = format!("{}.jpg", "😀".repeat(20));
    assert_pair(
        &media,
        &format!("{}.jpg.s.json", "😀".repeat(20)),
        Rule::Clipped,
    );
    assert_eq!(
        tried_names(&media)
            .iter()
            .filter(|n| n.ends_with(".jpg.s.json"))
            .count(),
        1
    );
}

// Issue 14: memory at a million entries.

#[test]
fn a_kept_match_stays_small() {
    // One per media file while the index is alive; an `Option<Match>` is 16 bytes.
    assert_eq!(std::mem::size_of::<Option<Found>>(), 8);
    let f = Found::new(7, Rule::Clipped);
    assert_eq!(
        Match::from(f),
        Match {
            sidecar: 7,
            rule: Rule::Clipped
        }
    );
}

#[test]
fn repeats_are_found_among_the_indexes_of_one_key() {
    let (a, b) = (1u128 << 64, 2u128 << 64);
    let keys = [a, b, a, a, b, a];
    let names = ["x", "y", "x", "X", "x", "x"];
    let mut index = KeyIndex::with_capacity(keys.len());
    // Room for all: pushing never grows it.
    assert!(index.pairs.capacity() >= keys.len());
    for (i, k) in keys.iter().enumerate() {
        index.push(*k, i);
    }
    index.sort();
    let repeat = index.repeats(keys.len(), |i, j| names[i] == names[j]);
    // `x` again under key a (twice), not `X`, nor `x` under key b.
    assert_eq!(repeat, [false, false, true, false, false, true]);
    index.retain(|i| !repeat[i]);
    index.seal();
    assert_eq!(index.get(a).collect::<Vec<_>>(), [0, 3]);
    assert_eq!(index.get(b).collect::<Vec<_>>(), [1, 4]);
    assert_eq!(index.get(3u128 << 64).count(), 0);
}

#[test]
fn second_copies_are_per_folder_and_exact_name() {
    const OTHER: &str = "Google Photos/Trip";
    let sidecar = |dir, name| SidecarRef {
        dir,
        name,
        title: None,
    };
    let sidecars = [
        sidecar(DIR, "a.jpg.json"),
        sidecar(OTHER, "a.jpg.json"),
        sidecar(DIR, "a.jpg.json"),
        sidecar(DIR, "A.JPG.json"),
    ];
    let file = |dir, name| MediaRef {
        dir,
        name,
        video: false,
    };
    let media = [
        file(DIR, "a.jpg"),
        file(OTHER, "a.jpg"),
        file(DIR, "A.JPG"),
        file(DIR, "a.JPG"),
    ];
    let found: Vec<Option<usize>> = match_all(&media, &sidecars)
        .into_iter()
        .map(|m| m.map(|m| m.sidecar))
        .collect();
    // The copy in another folder is that folder's; the case variant is a sidecar of its
    // own; the second copy of `a.jpg.json` is no one's.
    assert_eq!(found, [Some(0), Some(1), Some(3), None]);
}

// Found by `cargo mutants --file src/takeout/matcher/mod.rs`.

#[test]
fn only_shared_rules_are_shared() {
    for rule in Rule::DIRECT {
        assert!(!rule.is_shared(), "{}", rule.name());
    }
    for rule in [Rule::Edited, Rule::LivePhoto, Rule::AlbumTwin] {
        assert!(rule.is_shared(), "{}", rule.name());
    }
}

#[test]
fn only_a_json_ending_is_taken_off_a_sidecar_name() {
    assert_pair("IMG_0001.jpg", "IMG_0001.jpg.supplem.JSON", Rule::Prefix);
    // `xjson` is not `.json`: nothing of it is a cut-down suffix.
    assert_eq!(one("IMG_0001.jpg", "IMG_0001.jpg.xjson"), None);
    // Names whose last five bytes are not whole characters.
    assert_eq!(one("IMG_0001.jpg", "IMG_0001.jpg.😀"), None);
    assert_eq!(one("😀.jpg", "😀😀"), None);
}

#[test]
fn a_name_whose_without_extension_form_is_46_units_is_not_cut() {
    // 24 + 22 = 46 units: `NAME.supplemental-metadata` whole, by the without-extension rule.
    let stem = "abcdefghijklmnopqrstuvwx";
    assert_pair(
        &format!("{stem}.jpg"),
        &format!("{stem}{SUPPLEMENTAL}.json"),
        Rule::WithoutExtension,
    );
    // One more unit and it is cut.
    let stem = "abcdefghijklmnopqrstuvwxy";
    assert_pair(
        &format!("{stem}.jpg"),
        &format!("{stem}.supplemental-metadat.json"),
        Rule::Clipped,
    );
}

#[test]
fn every_extension_variant() {
    for (media, sidecar) in [
        ("IMG_1.jpg", "IMG_1.jpeg.json"),
        ("IMG_1.jpeg", "IMG_1.jpg.json"),
        ("IMG_1.tif", "IMG_1.tiff.json"),
        ("IMG_1.TIFF", "IMG_1.tif.json"),
        ("IMG_1.heic", "IMG_1.heif.json"),
        ("IMG_1.HEIF", "IMG_1.heic.supplemental-metadata.json"),
        ("IMG_1(2).tif", "IMG_1.tiff(2).json"),
    ] {
        assert_pair(media, sidecar, Rule::ExtensionVariant);
    }
    assert_eq!(one("IMG_1.png", "IMG_1.jpg.json"), None);
}

#[test]
fn case_variants_of_cut_down_sidecars() {
    for sidecars in [
        [
            sc("IMG_0047.jpg.supplem.json"),
            sc("IMG_0047.JPG.supplem.json"),
        ],
        [
            sc("IMG_0047.JPG.supplem.json"),
            sc("IMG_0047.jpg.supplem.json"),
        ],
    ] {
        let r = run(&["IMG_0047.JPG", "IMG_0047.jpg"], &sidecars);
        assert_eq!(
            r[0],
            Some(("IMG_0047.JPG.supplem.json".into(), Rule::Prefix))
        );
        assert_eq!(
            r[1],
            Some(("IMG_0047.jpg.supplem.json".into(), Rule::Prefix))
        );
    }
    // Counted case variants matched by title.
    for sidecars in [
        [
            sc_titled("a(1).json", "IMG_0048.jpg"),
            sc_titled("b(1).json", "IMG_0048.JPG"),
        ],
        [
            sc_titled("b(1).json", "IMG_0048.JPG"),
            sc_titled("a(1).json", "IMG_0048.jpg"),
        ],
    ] {
        let r = run(&["IMG_0048(1).JPG", "IMG_0048(1).jpg"], &sidecars);
        assert_eq!(r[0], Some(("b(1).json".into(), Rule::Title)));
        assert_eq!(r[1], Some(("a(1).json".into(), Rule::Title)));
    }
    // Media names cut from long titles that differ only in case.
    let upper = sc_titled(
        "u.json",
        "A_very_long_original_file_name_from_a_camera_abcdefgh.jpg",
    );
    let lower = sc_titled(
        "l.json",
        "a_very_long_original_file_name_from_a_camera_abcdefgh.jpg",
    );
    for sidecars in [[upper.clone(), lower.clone()], [lower, upper]] {
        let r = run(
            &[
                "A_very_long_original_file_name_from_a_camer.jpg",
                "a_very_long_original_file_name_from_a_camer.jpg",
            ],
            &sidecars,
        );
        assert_eq!(r[0], Some(("u.json".into(), Rule::Title)));
        assert_eq!(r[1], Some(("l.json".into(), Rule::Title)));
    }
}

#[test]
fn cut_titles_must_continue_the_media_name() {
    let media = "a_very_long_original_file_name_from_a_camer.jpg";
    // A photo titled exactly so wins over a longer title the name could be cut from.
    let exact = sc_titled("x.json", media);
    let longer = sc_titled(
        "y.json",
        "a_very_long_original_file_name_from_a_camera_abcdefgh.jpg",
    );
    for sidecars in [[exact.clone(), longer.clone()], [longer, exact]] {
        let r = run(&[media], &sidecars);
        assert_eq!(r[0], Some(("x.json".into(), Rule::Title)));
    }
    // The same first 30 units, then another name: not a cut of it.
    let other = sc_titled(
        "z.json",
        "a_very_long_original_file_name_XXXX_another_camera_name.jpg",
    );
    assert_eq!(run(&[media], &[other]), vec![None]);
    // A longer title of another type.
    let png = sc_titled(
        "p.json",
        "a_very_long_original_file_name_from_a_camera_abcdefgh.png",
    );
    assert_eq!(run(&[media], &[png]), vec![None]);
    // A title no longer than the cut name (less the U+FFFD of a split emoji).
    let stem = "a".repeat(40);
    let same_title = format!("{stem}.jpg");
    let same = sc_titled("s.json", &same_title);
    assert_eq!(run(&[&format!("{stem}\u{FFFD}.jpg")], &[same]), vec![None]);
    // And the genuine cut, with the half left as U+FFFD.
    let emoji_title = format!("{stem}😀 and more words.jpg");
    let emoji = sc_titled("e.json", &emoji_title);
    let r = run(&[&format!("{stem}\u{FFFD}.jpg")], &[emoji]);
    assert_eq!(r[0], Some(("e.json".into(), Rule::Title)));
}
