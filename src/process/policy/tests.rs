use super::*;

const S: i64 = 1_562_253_012;
const E: i64 = 1_451_606_400; // 2016-01-01
const N: i64 = 1_500_000_000;
const U: i64 = 1_600_000_000;

fn c(
    sidecar: Option<i64>,
    embedded: Option<i64>,
    name: Option<i64>,
    upload: Option<i64>,
) -> DateCandidates {
    DateCandidates {
        sidecar,
        embedded,
        name,
        upload,
    }
}

#[test]
fn planned_date_table() {
    use DateSource::*;
    let table = [
        (c(Some(S), None, Some(N), None), Some(S), Some(Sidecar)),
        (c(Some(0), None, Some(N), None), Some(N), Some(FileName)),
        (c(None, Some(E), Some(N), Some(U)), Some(N), Some(FileName)),
        (c(None, Some(E), None, Some(U)), None, None),
        (
            c(Some(-86_400 * 365 * 5), None, None, None),
            Some(-86_400 * 365 * 5),
            Some(Sidecar),
        ),
    ];
    for (i, (cands, when, source)) in table.into_iter().enumerate() {
        assert_eq!(planned_date(&cands), DateChoice { when, source }, "row {i}");
    }
}

#[test]
fn effective_date_table() {
    use DateSource::*;
    let table = [
        // The camera's date is kept unless --overwrite-dates.
        (
            c(Some(S), Some(E), Some(N), Some(U)),
            false,
            Some(E),
            Some(Exif),
        ),
        (
            c(Some(S), Some(E), Some(N), Some(U)),
            true,
            Some(S),
            Some(Sidecar),
        ),
        (
            c(Some(S), None, Some(N), Some(U)),
            false,
            Some(S),
            Some(Sidecar),
        ),
        (
            c(None, None, Some(N), Some(U)),
            false,
            Some(N),
            Some(FileName),
        ),
        (
            c(None, None, None, Some(U)),
            false,
            Some(U),
            Some(UploadTime),
        ),
        (c(None, None, None, None), false, None, None),
        // photoTakenTime 0 is unknown, also with --overwrite-dates.
        (
            c(Some(0), None, Some(N), Some(U)),
            true,
            Some(N),
            Some(FileName),
        ),
        (
            c(Some(0), None, None, Some(U)),
            false,
            Some(U),
            Some(UploadTime),
        ),
        (
            c(Some(0), Some(E), None, Some(U)),
            true,
            Some(E),
            Some(Exif),
        ),
        // Before 1970 is a real date.
        (
            c(Some(-1_000_000), None, None, None),
            false,
            Some(-1_000_000),
            Some(Sidecar),
        ),
        (c(None, None, None, None), true, None, None),
    ];
    for (i, (cands, overwrite, when, source)) in table.into_iter().enumerate() {
        assert_eq!(
            effective_date(&cands, overwrite),
            DateChoice { when, source },
            "row {i}"
        );
    }
}

#[test]
fn date_disagreement_table() {
    let exif = DateChoice {
        when: Some(E),
        source: Some(DateSource::Exif),
    };
    let side = DateChoice {
        when: Some(S),
        source: Some(DateSource::Sidecar),
    };
    assert_eq!(
        date_disagreement(&c(Some(S), Some(E), None, None), &exif),
        Some((S - E) / 86_400)
    );
    assert_eq!(
        date_disagreement(&c(Some(E), Some(S), None, None), &exif),
        Some((S - E) / 86_400)
    );
    // Overwritten: nothing kept to disagree with.
    assert_eq!(
        date_disagreement(&c(Some(S), Some(E), None, None), &side),
        None
    );
    // Within a day, exactly a day, and no sidecar date.
    assert_eq!(
        date_disagreement(&c(Some(E + 3600), Some(E), None, None), &exif),
        None
    );
    assert_eq!(
        date_disagreement(&c(Some(E + 86_400), Some(E), None, None), &exif),
        None
    );
    assert_eq!(
        date_disagreement(&c(Some(E + 86_401), Some(E), None, None), &exif),
        Some(1)
    );
    assert_eq!(
        date_disagreement(&c(None, Some(E), None, None), &exif),
        None
    );
    assert_eq!(
        date_disagreement(&c(Some(0), Some(E), None, None), &exif),
        None
    );
}

#[test]
fn output_name_table() {
    let long = "a_very_long_original_file_name_from_a_camera_app.jpg";
    let table = [
        ("IMG_1.jpg", None, "IMG_1.jpg"),
        ("IMG_1.jpg", Some("IMG_1.jpg"), "IMG_1.jpg"),
        // Cut by the zip: the title is the real name.
        (
            "a_very_long_original_file_name_from_a_camer.jpg",
            Some(long),
            long,
        ),
        // The same name, decomposed in the zip.
        ("cafe\u{301}.jpg", Some("café.jpg"), "café.jpg"),
        // Characters the zip replaced.
        ("IMG:6.jpg", Some("IMG_6 copy.jpg"), "IMG_6 copy.jpg"),
        // A counter: the title is the first upload's name.
        ("IMG_2(1).jpg", Some("IMG_2.jpg"), "IMG_2(1).jpg"),
        // Another extension, or another stem: the zip's name stays.
        ("IMG_3.heic", Some("IMG_3.jpg"), "IMG_3.heic"),
        ("IMG_4.jpg", Some("holiday.jpg"), "IMG_4.jpg"),
        ("noext", Some("noext"), "noext"),
        ("IMG_5.JPG", Some("img_5_long.jpg"), "img_5_long.jpg"),
    ];
    for (zip, title, want) in table {
        assert_eq!(output_name(zip, title), want, "{zip} / {title:?}");
    }
}

#[test]
fn folder_table() {
    let utc = TimeZoneChoice::parse("UTC").unwrap();
    let tokyo = TimeZoneChoice::parse("Asia/Tokyo").unwrap();
    // 2015-12-31 20:00 UTC: still 2015 in UTC, already 2016 in Tokyo.
    let t = 1_451_592_000;
    assert_eq!(folder(Layout::Flat, &utc, Some(t), None, None), "");
    assert_eq!(folder(Layout::Year, &utc, Some(t), None, None), "2015");
    assert_eq!(folder(Layout::Year, &tokyo, Some(t), None, None), "2016");
    assert_eq!(
        folder(Layout::YearMonth, &tokyo, Some(t), None, None),
        "2016/01"
    );
    // The file's own offset wins in `auto` mode only.
    let auto = TimeZoneChoice::parse("auto").unwrap();
    let own = FixedOffset::west_opt(5 * 3600);
    assert_eq!(
        folder(Layout::YearMonth, &auto, Some(t), None, own),
        "2015/12"
    );
    assert_eq!(
        folder(Layout::YearMonth, &tokyo, Some(t), None, own),
        "2016/01"
    );
    assert_eq!(folder(Layout::Year, &utc, None, None, None), "undated");
    assert_eq!(folder(Layout::Flat, &utc, None, None, None), "");
    assert_eq!(
        folder(Layout::Year, &utc, Some(-1_000_000_000), None, None),
        "1938"
    );
}

#[test]
fn skip_reason_table() {
    use EditedMode::*;
    let f = |trashed, is_edited_copy, has_edited_copy| SkipFacts {
        trashed,
        is_edited_copy,
        has_edited_copy,
    };
    let table = [
        (
            f(true, false, false),
            false,
            Keep,
            Some(SkipReason::Trashed),
        ),
        (f(true, false, false), true, Keep, None),
        (f(true, true, false), false, Skip, Some(SkipReason::Trashed)),
        (
            f(false, true, false),
            false,
            Skip,
            Some(SkipReason::EditedCopy),
        ),
        (f(false, true, false), false, Keep, None),
        (f(false, true, false), false, Only, None),
        (
            f(false, false, true),
            false,
            Only,
            Some(SkipReason::OriginalOfEdited),
        ),
        (f(false, false, true), false, Skip, None),
        (f(false, false, true), false, Keep, None),
        (f(false, false, false), false, Only, None),
    ];
    for (i, (facts, keep, mode, want)) in table.into_iter().enumerate() {
        assert_eq!(skip_reason(facts, keep, mode), want, "row {i}");
    }
}

#[test]
fn original_name_table() {
    assert_eq!(
        original_name("IMG_1-edited.jpg").as_deref(),
        Some("IMG_1.jpg")
    );
    assert_eq!(
        original_name("IMG_1-edited(2).jpg").as_deref(),
        Some("IMG_1(2).jpg")
    );
    assert_eq!(
        original_name("IMG_1-bearbeitet.JPG").as_deref(),
        Some("IMG_1.JPG")
    );
    assert_eq!(original_name("IMG_1.jpg"), None);
}

#[test]
fn member_rank_orders_the_best_first() {
    let m = |usable_sidecar, export, own_sidecar, in_year_folder, pos| MemberFacts {
        usable_sidecar,
        export,
        own_sidecar,
        in_year_folder,
        disk_order: (0, pos),
    };
    let (old, new) = (Some(20230101000000), Some(20240101000000));
    let mut members = [
        m(false, new, false, true, 0),
        m(true, None, false, true, 1),
        m(true, None, true, false, 2),
        m(true, None, true, true, 4),
        m(true, None, true, true, 3),
        // A newer export's sidecar wins over an own sidecar in a year folder; an unusable
        // one does not count.
        m(true, old, false, false, 5),
        m(true, new, false, false, 6),
        m(true, new, true, true, 7),
        m(false, new, true, true, 8),
    ];
    members.sort_by_key(member_rank);
    let order: Vec<u64> = members.iter().map(|m| m.disk_order.1).collect();
    assert_eq!(order, [7, 6, 5, 3, 4, 2, 1, 8, 0]);
}

#[test]
#[rustfmt::skip]
fn update_action_table() {
    use ReadFrom::*;
    use UpdateAction::*;
    let (old, new) = (Some(20230101000000), Some(20240101000000));
    // A sidecar: (entry, export, digest, how surely it was found).
    let found = |sidecar, export, meta, strength| Some(SidecarFacts { sidecar, export, meta, strength });
    let sc = |sidecar, export, meta| found(sidecar, export, meta, 2);
    // (had, now, had_taken, byte_for_byte, input_here, trashed, keep_trashed)
    let f = |had, now, had_taken, byte_for_byte, input_here, trashed, keep_trashed| UpdateFacts {
        had, now, had_taken, byte_for_byte, input_here, trashed, keep_trashed, unfinished: false,
        without_sidecar: false,
    };
    let bare = |facts: UpdateFacts| UpdateFacts { without_sidecar: true, ..facts };
    let unfinished = |facts: UpdateFacts| UpdateFacts { unfinished: true, ..facts };
    let table = [
        // A file written without a sidecar gets the one found, from itself.
        (f(None, sc(1, old, 7), false, true, false, false, false), Rewrite(Library)),
        (f(None, sc(1, old, 7), false, true, true, false, false), Rewrite(Library)),
        // … unless it is not its source byte for byte (an old line with metadata).
        (f(None, sc(1, old, 7), false, false, true, false, false), Leave),
        // Written without a sidecar but with its name's date: from its source.
        (bare(f(None, sc(1, old, 7), false, false, true, false, false)), Rewrite(Input)),
        (bare(f(None, sc(1, old, 7), false, false, false, false, false)), Defer),
        (bare(f(None, sc(1, old, 7), false, true, false, false, false)), Rewrite(Library)),
        (bare(f(None, None, false, false, true, false, false)), Leave),
        (f(None, None, false, true, true, false, false), Leave),
        // The trash never removes nor rewrites a library file, unless asked to keep it.
        (f(None, sc(1, old, 7), false, true, false, true, false), Leave),
        (f(None, sc(1, old, 7), false, true, false, true, true), Rewrite(Library)),
        (f(sc(1, old, 7), sc(2, new, 8), false, false, true, true, false), Leave),
        // The same sidecar, or one that says the same: nothing to do.
        (f(sc(1, old, 7), sc(1, old, 7), false, false, true, false, false), Leave),
        (f(sc(1, old, 7), sc(2, new, 7), false, false, true, false, false), Leave),
        // A newer export's sidecar that says otherwise, or the same export's found more
        // surely (its own by name over one by title over a borrowed one).
        (f(sc(1, old, 7), sc(2, new, 8), false, false, true, false, false), Rewrite(Input)),
        (f(sc(1, None, 7), sc(2, old, 8), false, false, true, false, false), Rewrite(Input)),
        (f(found(1, old, 7, 1), sc(2, old, 8), false, false, true, false, false), Rewrite(Input)),
        (f(found(1, old, 7, 0), found(2, old, 8, 1), false, false, true, false, false), Rewrite(Input)),
        (f(found(1, None, 7, 0), sc(2, None, 8), false, false, true, false, false), Rewrite(Input)),
        // As sure, of one export (or both of none), saying otherwise: the file keeps its own.
        (f(sc(1, old, 7), sc(2, old, 8), false, false, true, false, false), Leave),
        (f(sc(1, None, 7), sc(2, None, 8), false, false, true, false, false), Leave),
        (f(found(1, old, 7, 1), found(2, old, 8, 1), false, false, true, false, false), Leave),
        // A newer export wins even when less sure; the same export's less sure one does not.
        (f(sc(1, old, 7), found(2, new, 8, 0), false, false, true, false, false), Rewrite(Input)),
        (f(sc(1, old, 7), found(2, old, 8, 0), false, false, true, false, false), Leave),
        // An older export's, or one of unknown age against a known one: left.
        (f(sc(1, new, 7), sc(2, old, 8), false, false, true, false, false), Leave),
        (f(found(1, new, 7, 0), sc(2, None, 8), false, false, true, false, false), Leave),
        // Its bytes not among the inputs: marked for a later run.
        (f(sc(1, old, 7), sc(2, new, 8), false, false, false, false, false), Defer),
        // Nothing found: left, unless its sidecar went to its owner (then without one).
        (f(sc(1, old, 7), None, false, false, true, false, false), Leave),
        (f(sc(1, old, 7), None, true, false, true, false, false), Rewrite(Input)),
        (f(sc(1, old, 7), None, true, false, false, false, false), Defer),
        // A rewrite a killed run left unconfirmed: made again with what is found now, even
        // the same sidecar; not with nothing found, nor into the trash.
        (unfinished(f(sc(1, old, 7), sc(1, old, 7), false, false, true, false, false)), Rewrite(Input)),
        (unfinished(f(None, sc(1, old, 7), false, true, false, false, false)), Rewrite(Library)),
        (unfinished(f(sc(1, old, 7), None, false, false, true, false, false)), Leave),
        (unfinished(f(sc(1, old, 7), sc(2, new, 8), false, false, true, true, false)), Leave),
    ];
    for (i, (facts, want)) in table.into_iter().enumerate() {
        assert_eq!(update_action(facts), want, "row {i}");
    }
    assert_eq!(
        [Rule::Exact, Rule::Prefix, Rule::Title, Rule::TitleElsewhere, Rule::LivePhoto, Rule::Edited, Rule::AlbumTwin].map(strength),
        [2, 2, 1, 1, 0, 0, 0]
    );
}

#[test]
fn update_in_place_table() {
    let table = [
        ("undated/IMG_1.jpg", "undated", "IMG_1.jpg", true),
        ("2019/IMG_1.jpg", "2019", "IMG_1.jpg", true),
        // Another folder (the sidecar's date), another name (its title).
        ("undated/IMG_1.jpg", "2019", "IMG_1.jpg", false),
        ("IMG_1.jpg", "", "holiday.jpg", false),
        // The same name as the file system compares it.
        ("IMG_1.JPG", "", "img_1.jpg", true),
        ("cafe\u{301}.jpg", "", "café.jpg", true),
        // An earlier run's collision number: the one-run name is elsewhere.
        ("IMG_1 (2).jpg", "", "IMG_1.jpg", false),
        ("IMG_1.jpg", "", "IMG_1.jpg", true),
    ];
    for (old, dir, wanted, same) in table {
        assert_eq!(
            update_in_place(old, dir, wanted).is_some(),
            same,
            "{old} / {dir} / {wanted}"
        );
    }
}

#[test]
fn xmp_cleanup_table() {
    use XmpCleanup::*;
    assert_eq!(xmp_cleanup(None, None), Keep);
    assert_eq!(xmp_cleanup(None, Some("a.jpg.xmp")), Keep);
    assert_eq!(xmp_cleanup(Some("a.jpg.xmp"), Some("a.jpg.xmp")), Keep);
    assert_eq!(
        xmp_cleanup(Some("a.jpg.xmp"), Some("2019/a.jpg.xmp")),
        Remove("a.jpg.xmp".into())
    );
    assert_eq!(
        xmp_cleanup(Some("a.mp4.xmp"), None),
        Remove("a.mp4.xmp".into())
    );
}

#[test]
fn xmp_wanted_table() {
    use XmpMode::*;
    let table = [
        (Never, false, true, true, true, false),
        (Always, true, false, false, false, true),
        (Auto, true, false, false, false, false),
        (Auto, false, false, false, false, true),
        (Auto, true, true, false, false, true),
        (Auto, true, false, true, false, true),
        (Auto, true, false, false, true, true),
    ];
    for (i, (mode, embeds, incomplete, fav, people, want)) in table.into_iter().enumerate() {
        assert_eq!(
            xmp_wanted(mode, embeds, incomplete, fav, people),
            want,
            "row {i}"
        );
    }
}

#[test]
fn may_take_a_new_sidecar_table() {
    let claim = |rule: &str, export| Claim {
        sidecar: "0".repeat(32),
        rule: rule.into(),
        export,
        meta: "0".repeat(16),
    };
    let (old, new) = (Some(20230101000000), Some(20240101000000));
    let table = [
        (None, new, true),
        (None, None, true),
        // Borrowed, or found by its title: its own may come, in any export.
        (Some(claim("title", new)), old, true),
        (Some(claim("title-elsewhere", new)), None, true),
        (Some(claim("live-photo", new)), old, true),
        (Some(claim("edited", new)), old, true),
        (Some(claim("album-twin", new)), old, true),
        (Some(claim("no-such-rule", new)), old, true),
        // Its own by its name: only a newer export's (or one against a claim of unknown age).
        (Some(claim("exact", old)), new, true),
        (Some(claim("exact", new)), new, false),
        (Some(claim("exact", new)), old, false),
        (Some(claim("prefix", new)), None, false),
        (Some(claim("supplemental", None)), None, true),
        (Some(claim("exact", None)), old, true),
    ];
    for (i, (claim, newest, want)) in table.into_iter().enumerate() {
        assert_eq!(
            may_take_a_new_sidecar(claim.as_ref(), newest),
            want,
            "row {i}"
        );
    }
}

#[test]
fn rules_are_found_by_their_names() {
    for r in Rule::DIRECT
        .into_iter()
        .chain([Rule::Edited, Rule::LivePhoto, Rule::AlbumTwin])
    {
        assert_eq!(Rule::from_name(r.name()), Some(r));
    }
    assert_eq!(Rule::from_name("Exact"), None);
    assert_eq!(Rule::from_name(""), None);
    let weak: Vec<Rule> = Rule::DIRECT.into_iter().filter(|r| r.is_weak()).collect();
    assert_eq!(weak, [Rule::Title, Rule::TitleElsewhere]);
}

#[test]
fn left_out_table() {
    use crate::cli::LeaveOut::*;
    use crate::takeout::folders::{ARCHIVE_ALBUM, LOCKED_ALBUM, PARTNER_ALBUM};
    let table = [
        (ARCHIVE_ALBUM, vec![], false),
        (ARCHIVE_ALBUM, vec![Archive], true),
        (ARCHIVE_ALBUM, vec![Locked, Partner], false),
        (LOCKED_ALBUM, vec![Locked], true),
        (LOCKED_ALBUM, vec![Archive], false),
        (PARTNER_ALBUM, vec![Archive, Partner], true),
        (PARTNER_ALBUM, vec![Locked], false),
        ("Trip", vec![Archive, Locked, Partner], false),
    ];
    for (album, leave, want) in table {
        assert_eq!(left_out(album, &leave).is_some(), want, "{album} {leave:?}");
    }
    assert_eq!(left_out(LOCKED_ALBUM, &[Archive, Locked]), Some(Locked));
}

#[test]
fn space_shortfall_table() {
    for (needed, free, short) in [
        (0, 0, None),
        (10, 10, None),
        (10, 11, None),
        (11, 10, Some(1)),
        (u64::MAX, 0, Some(u64::MAX)),
        (
            41_200_000_000 + 12_000_000_000,
            12_000_000_000,
            Some(41_200_000_000),
        ),
    ] {
        assert_eq!(space_shortfall(needed, free), short, "{needed} {free}");
    }
}

#[test]
fn space_needed_counts_each_file_and_the_library_own() {
    assert_eq!(space_needed(0, 0), ROOM_FIXED);
    assert_eq!(space_needed(1000, 2), 1000 + 2 * ROOM_PER_FILE + ROOM_FIXED);
    assert_eq!(space_needed(u64::MAX, 5), u64::MAX);
    assert_eq!(space_needed(5, u64::MAX), u64::MAX);
}

#[test]
fn plain_size_table() {
    for (bytes, text) in [
        (0, "0 bytes"),
        (1, "1 byte"),
        (999, "999 bytes"),
        (1_000, "1.0 KB"),
        (12_345, "12.3 KB"),
        (850_000_000, "850 MB"),
        (99_949_999, "99.9 MB"),
        (12_000_000_000, "12.0 GB"),
        (41_249_000_000, "41.2 GB"),
        (3_500_000_000_000, "3.5 TB"),
    ] {
        assert_eq!(plain_size(bytes), text, "{bytes}");
    }
}

#[test]
fn name_taken_from_table() {
    for (reserved, wanted, first) in [
        ("IMG_1.jpg", "IMG_1.jpg", None),
        ("IMG_1 (2).jpg", "IMG_1.jpg", Some("IMG_1.jpg")),
        (
            "2019/07/IMG_1 (3).jpg",
            "IMG_1.jpg",
            Some("2019/07/IMG_1.jpg"),
        ),
        // Names in use on any file system: another case is the same name.
        ("img_1.JPG", "IMG_1.jpg", None),
        // Made safe as the reserved name was.
        ("a_b (2).jpg", "a/b.jpg", Some("a_b.jpg")),
        ("x (2).jpg", "", None),
    ] {
        assert_eq!(
            name_taken_from(reserved, wanted).as_deref(),
            first,
            "{reserved} {wanted}"
        );
    }
}
