//! Parts of one Takeout processed over several runs, in any grouping and order, make the same
//! library as one run over all of them: a sidecar in a later part than its photo updates
//! the photo, a sidecar in an earlier part waits in the manifest for its photo.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::*;

const TRIP: &str = "Takeout/Google Photos/Trip to Rome";
/// 2019-07-04 15:10:12 UTC.
const T: i64 = 1_562_253_012;

/// A Takeout of three parts whose sidecars are mostly in other parts than their media.
pub(crate) fn three_parts() -> Takeout {
    let camera = fixture("camera.jpg");
    let plain = fixture("plain.jpg");
    let rome = Some((41.9, 12.5, 20.0));
    let a = jpeg_variant(&plain, "a");
    let mut t = Takeout::new(3);
    // A photo in part 1, its sidecar in part 2; its album copy in part 1 with the album's
    // own sidecar in part 3.
    t.add(0, format!("{YEAR}/IMG_A.jpg"), a.clone())
        .add(0, format!("{TRIP}/IMG_A.jpg"), a)
        .add(
            0,
            format!("{TRIP}/metadata.json"),
            album_json("Trip to Rome"),
        )
        .add(
            1,
            format!("{YEAR}/IMG_A.jpg.json"),
            sidecar("IMG_A.jpg", T, rome),
        )
        .add(
            2,
            format!("{TRIP}/IMG_A.jpg.json"),
            sidecar("IMG_A.jpg", T, rome),
        );
    // A photo without a date of its own in part 3, its sidecar in part 1 (with a longer
    // title: the file takes it).
    t.add(2, format!("{YEAR}/IMG_B.jpg"), jpeg_variant(&plain, "b"))
        .add(
            0,
            format!("{YEAR}/IMG_B.jpg.json"),
            sidecar("IMG_B.jpg", T + 86_400, None),
        );
    // A camera photo (its own date kept) in part 2, its sidecar in part 3.
    t.add(1, format!("{YEAR}/IMG_C.jpg"), camera.clone()).add(
        2,
        format!("{YEAR}/IMG_C.jpg.json"),
        sidecar("IMG_C.jpg", T, rome),
    );
    // A video in part 2 with its sidecar in part 1.
    t.add(1, format!("{YEAR}/VID_D.mp4"), fixture("clip.mp4"))
        .add(
            0,
            format!("{YEAR}/VID_D.mp4.json"),
            sidecar("VID_D.mp4", T - 86_400 * 40, rome),
        );
    // An edited copy in part 2; its original and the sidecar they share in part 3.
    t.add(2, format!("{YEAR}/IMG_E.jpg"), jpeg_variant(&plain, "e"))
        .add(
            2,
            format!("{YEAR}/IMG_E.jpg.json"),
            sidecar("IMG_E.jpg", T - 86_400 * 400, None),
        )
        .add(
            1,
            format!("{YEAR}/IMG_E-edited.jpg"),
            jpeg_variant(&plain, "e-edited"),
        );
    // A Live Photo: the still and its sidecar in part 2, the video in part 3.
    t.add(1, format!("{YEAR}/IMG_F.HEIC"), fixture("iphone.heic"))
        .add(
            1,
            format!("{YEAR}/IMG_F.HEIC.json"),
            sidecar("IMG_F.HEIC", T + 600, rome),
        )
        .add(2, format!("{YEAR}/IMG_F.MOV"), fixture("live.mov"));
    // A photo and its sidecar in the same part.
    t.add(2, format!("{YEAR}/IMG_G.jpg"), jpeg_variant(&plain, "g"))
        .add(
            2,
            format!("{YEAR}/IMG_G.jpg.json"),
            sidecar("IMG_G.jpg", T + 7200, None),
        );
    t
}

/// Every file of a library but gpbackup's own: relative path → (bytes, mtime); and its
/// albums.json, parsed.
pub(crate) fn library(root: &Path) -> (BTreeMap<String, (Vec<u8>, i64)>, serde_json::Value) {
    let files = (files_of(root).into_iter())
        .map(|(rel, bytes)| {
            let t = mtime(&root.join(&rel));
            (rel, (bytes, t))
        })
        .collect();
    let albums = std::fs::read(root.join("albums.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    (files, albums)
}

fn verify(out: &Path, against: &[PathBuf]) -> std::process::Output {
    let mut args: Vec<&std::ffi::OsStr> = vec!["verify".as_ref(), out.as_os_str()];
    if !against.is_empty() {
        args.push("--against".as_ref());
        args.extend(against.iter().map(|p| p.as_os_str()));
    }
    gpbackup(&args)
}

/// Runs the parts in `runs` (each a list of part indices) into `out`; `verify` must pass
/// after each run. Returns the last report.
fn run_in_order(
    parts: &[PathBuf],
    runs: &[&[usize]],
    out: &Path,
    extra: &[&str],
) -> serde_json::Value {
    run_counting(parts, runs, out, extra).0
}

/// Like [`run_in_order`]; also counts the files updated over all runs.
fn run_counting(
    parts: &[PathBuf],
    runs: &[&[usize]],
    out: &Path,
    extra: &[&str],
) -> (serde_json::Value, usize) {
    let mut report = serde_json::Value::Null;
    let mut updated = 0;
    for run in runs {
        let inputs: Vec<PathBuf> = run.iter().map(|&i| parts[i].clone()).collect();
        let (o, r) = process(&inputs, out, extra);
        assert_eq!(o.status.code(), Some(0), "run {run:?}: {}", stderr(&o));
        let v = verify(out, &[]);
        assert!(
            v.status.success(),
            "verify after run {run:?}: {}",
            stderr(&v)
        );
        updated += statuses(&r).iter().filter(|(_, s)| s == "updated").count();
        if std::env::var_os("PARTS_DEBUG").is_some() {
            eprintln!("{run:?}: {:?}\n{}", statuses(&r), stderr(&o));
        }
        report = r;
    }
    (report, updated)
}

fn statuses(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = report["media"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let src = m["source"].as_str().unwrap();
            let name = src.rsplit('/').next().unwrap().to_string();
            (name, m["status"].as_str().unwrap().to_string())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn parts_in_any_grouping_and_order_make_the_same_library() {
    let tmp = tempfile::tempdir().unwrap();
    let parts = three_parts().write(&tmp.path().join("in"));
    let extra = ["--layout", "year"];
    let one = tmp.path().join("one");
    run_in_order(&parts, &[&[0, 1, 2]], &one, &extra);
    let (want, want_albums) = library(&one);
    assert!(want.len() >= 8, "{:?}", want.keys());

    // (the runs, how many files an update completes)
    for (k, (order, updates)) in [
        // Updated: IMG_B, the Live Photo's video. Written with a remembered sidecar: IMG_A
        // (its album's), IMG_C, VID_D, the edited copy (its original's).
        (&[&[2usize][..], &[0], &[1]][..], 2),
        // Updated: IMG_C, the edited copy, IMG_B, VID_D. The Live Photo's video takes the
        // still's remembered sidecar.
        (&[&[1], &[2], &[0]], 4),
        // Updated: IMG_A (and its album copy with it).
        (&[&[0], &[1, 2]], 1),
        // Updated: IMG_B, VID_D.
        (&[&[1, 2], &[0]], 2),
        // Each run with every part so far (people re-run with all they have).
        (&[&[0], &[0, 1], &[0, 1, 2]], 3),
    ]
    .into_iter()
    .enumerate()
    {
        let out = tmp.path().join(format!("split-{k}"));
        let (last, updated) = run_counting(&parts, order, &out, &extra);
        assert_eq!(updated, updates, "{order:?}: updates");
        let (got, got_albums) = library(&out);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{order:?}: file names ({})",
            out.display()
        );
        for (path, (bytes, mtime)) in &want {
            let (b, m) = &got[path];
            assert!(b == bytes, "{order:?}: {path} differs in content");
            assert_eq!(m, mtime, "{order:?}: {path} mtime");
        }
        assert_eq!(got_albums, want_albums, "{order:?}: albums.json");
        let v = verify(&out, &parts);
        assert!(
            v.status.success(),
            "{order:?}: verify --against: {}",
            stderr(&v)
        );
        assert!(
            last["unused_sidecars"].as_array().unwrap().is_empty(),
            "{order:?}: {}",
            last["unused_sidecars"]
        );
    }
}

#[test]
fn a_sidecar_in_a_later_part_updates_its_photo() {
    let tmp = tempfile::tempdir().unwrap();
    let parts = three_parts().write(&tmp.path().join("in"));
    let out = tmp.path().join("photos");
    let extra = ["--layout", "year"];
    // Part 3 alone: IMG_B has no date yet, the Live Photo's video no sidecar.
    let r = run_in_order(&parts, &[&[2]], &out, &extra);
    let st = statuses(&r);
    assert!(
        st.contains(&("IMG_B.jpg".into(), "written-without-metadata".into())),
        "{st:?}"
    );
    assert!(out.join("undated/IMG_B.jpg").is_file());
    assert_eq!(
        std::fs::read(out.join("undated/IMG_B.jpg")).unwrap(),
        jpeg_variant(&fixture("plain.jpg"), "b")
    );

    // Part 1 brings IMG_B's sidecar: the file is rewritten, dated, moved to its year.
    let (o, r) = process(&[parts[0].clone()], &out, &extra);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let b = report_entry(&r, "IMG_B.jpg (from an earlier run)");
    assert_eq!(b["status"], "updated", "{b}");
    assert_eq!(b["output"], "2019/IMG_B.jpg", "{b}");
    assert!(!out.join("undated/IMG_B.jpg").exists());
    let e = exif_of(&out.join("2019/IMG_B.jpg"));
    assert_eq!(
        exif_ascii(&e, exif::Tag::DateTimeOriginal).as_deref(),
        Some("2019:07:05 17:10:12"),
        "Paris time of the sidecar's date"
    );
    assert_eq!(mtime(&out.join("2019/IMG_B.jpg")), T + 86_400);
    assert!(
        stderr(&o).contains("1 updated with a sidecar"),
        "{}",
        stderr(&o)
    );
    let v = verify(&out, &[]);
    assert!(v.status.success(), "{}", stderr(&v));

    // Part 2: the Live Photo's still and sidecar, which its video (from part 3) shares.
    let (o, r) = process(&[parts[1].clone()], &out, &extra);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mov = report_entry(&r, "IMG_F.MOV (from an earlier run)");
    assert_eq!(mov["status"], "updated", "{mov}");
    assert_eq!(mov["rule"], "live-photo", "{mov}");
    let v = verify(&out, &parts);
    assert!(v.status.success(), "{}", stderr(&v));
}

#[test]
fn a_sidecar_in_an_earlier_part_waits_for_its_photo() {
    let tmp = tempfile::tempdir().unwrap();
    let parts = three_parts().write(&tmp.path().join("in"));
    let out = tmp.path().join("photos");
    let extra = ["--layout", "year"];
    // Part 1 alone: VID_D's and IMG_B's sidecars match nothing.
    let r = run_in_order(&parts, &[&[0]], &out, &extra);
    let unused: Vec<&str> = r["unused_sidecars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert!(
        unused.iter().any(|s| s.ends_with("VID_D.mp4.json")),
        "{unused:?}"
    );
    let manifest = std::fs::read_to_string(out.join(".gpbackup/manifest.jsonl")).unwrap();
    assert!(manifest
        .lines()
        .any(|l| l.starts_with("{\"sidecar\"") && l.contains("VID_D.mp4.json")));

    // Part 2 brings the video: it is written with the remembered sidecar.
    let (o, r) = process(&[parts[1].clone()], &out, &extra);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let d = report_entry(&r, "VID_D.mp4");
    assert_eq!(d["status"], "written", "{d}");
    assert!(
        d["sidecar"].as_str().unwrap().contains("VID_D.mp4.json"),
        "{d}"
    );
    assert_eq!(d["output"], "2019/VID_D.mp4", "{d}");
    assert_eq!(mtime(&out.join("2019/VID_D.mp4")), T - 86_400 * 40);
    assert!(
        r["unused_sidecars"].as_array().unwrap().is_empty(),
        "{}",
        r["unused_sidecars"]
    );
    // Part 3 brings the edited copy's original and sidecar, and IMG_B for its sidecar.
    let (o, r) = process(&[parts[2].clone()], &out, &extra);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(report_entry(&r, "IMG_B.jpg")["status"], "written");
    assert_eq!(report_entry(&r, "IMG_B.jpg")["output"], "2019/IMG_B.jpg");
    let v = verify(&out, &parts);
    assert!(v.status.success(), "{}", stderr(&v));
}

#[test]
fn a_failed_entry_is_recorded_until_a_later_run_writes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let good = jpeg_variant(&fixture("plain.jpg"), "marker-for-the-corruption");
    let files = [
        (format!("{YEAR}/IMG_1.jpg"), good.clone()),
        (
            format!("{YEAR}/IMG_2.jpg"),
            jpeg_variant(&fixture("plain.jpg"), "two"),
        ),
    ];
    let zip = zip_bytes(&files);
    // Deflated: garbage in of the compressed data of IMG_1 to make it unreadable.
    let mut bad = zip.clone();
    let name = format!("{YEAR}/IMG_1.jpg");
    let at = bad
        .windows(name.len())
        .position(|w| w == name.as_bytes())
        .unwrap()
        - 30;
    let data = at + 30 + name.len() + u16::from_le_bytes([bad[at + 28], bad[at + 29]]) as usize;
    for b in &mut bad[data + 10..data + 60] {
        *b = 0xA5;
    }
    let dir = tmp.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    let part = dir.join("takeout-20231030T151007Z-001.zip");
    std::fs::write(&part, &bad).unwrap();
    let out = tmp.path().join("photos");
    let (o, _) = process(std::slice::from_ref(&part), &out, &[]);
    assert_ne!(o.status.code(), Some(0));
    let manifest = std::fs::read_to_string(out.join(".gpbackup/manifest.jsonl")).unwrap();
    let line = manifest
        .lines()
        .find(|l| l.starts_with("{\"unwritten\""))
        .expect("an unwritten line");
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["unwritten"]["status"], "failed");
    assert_eq!(v["unwritten"]["source"]["entry"], name);
    assert!(
        v["unwritten"]["reason"]
            .as_str()
            .unwrap()
            .contains("damaged data in the input"),
        "{v}"
    );
    let check = verify(&out, std::slice::from_ref(&part));
    assert!(!check.status.success());
    assert!(
        stderr(&check).contains("failed in its run: damaged data in the input"),
        "{}",
        stderr(&check)
    );
    // The good download of the same part: written now, and verify no longer names it.
    std::fs::write(&part, &zip).unwrap();
    let (o, _) = process(std::slice::from_ref(&part), &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let check = verify(&out, &[part]);
    assert!(check.status.success(), "{}", stderr(&check));
}

/// Two parts: the only photo of a 2018 folder (`IMG_X.jpg`, no date of its own) in the first,
/// its sidecar (a date and a place) in the second; written into `dir/in`.
fn photo_then_its_sidecar(dir: &Path) -> Vec<PathBuf> {
    let old = "Takeout/Google Photos/Photos from 2018";
    let mut t = Takeout::new(2);
    t.add(
        0,
        format!("{old}/IMG_X.jpg"),
        jpeg_variant(&fixture("plain.jpg"), "x"),
    )
    .add(
        1,
        format!("{old}/IMG_X.jpg.json"),
        sidecar("IMG_X.jpg", T - 365 * 86_400, Some((41.9, 12.5, 20.0))),
    );
    t.write(&dir.join("in"))
}

#[test]
fn a_rerun_with_the_parts_so_far_dates_a_photo_whose_sidecar_came_later() {
    // The only photo of its folder is in part 1, its sidecar in part 2; people re-run with
    // every part they have so far.
    let tmp = tempfile::tempdir().unwrap();
    let parts = photo_then_its_sidecar(tmp.path());
    let extra = ["--layout", "year"];
    let one = tmp.path().join("one");
    run_in_order(&parts, &[&[0, 1]], &one, &extra);
    let out = tmp.path().join("photos");
    let r = run_in_order(&parts, &[&[0], &[0, 1]], &out, &extra);
    let x = report_entry(&r, "IMG_X.jpg");
    assert_eq!(x["status"], "updated", "{x}");
    assert_eq!(x["output"], "2018/IMG_X.jpg", "{x}");
    assert_eq!(library(&out), library(&one));
    assert_eq!(mtime(&out.join("2018/IMG_X.jpg")), T - 365 * 86_400);
}

#[test]
fn a_part_an_earlier_run_was_given_is_not_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let parts = three_parts().write(&tmp.path().join("in"));
    let out = tmp.path().join("photos");
    let missing = |r: &serde_json::Value| -> Vec<String> {
        (r["missing_parts"].as_array().into_iter().flatten())
            .flat_map(|p| p["missing"].as_array().unwrap().clone())
            .map(|n| n.as_str().unwrap().to_string())
            .collect()
    };
    let r = run_in_order(&parts, &[&[0]], &out, &[]);
    assert!(missing(&r).is_empty(), "{}", r["missing_parts"]);
    // Part 3: part 1 came in the run before, part 2 is still missing.
    let (o, r) = process(&[parts[2].clone()], &out, &[]);
    assert_eq!(missing(&r), ["002"], "{}", stderr(&o));
    assert!(
        stderr(&o).contains("missing: part 002 of"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("part 001"), "{}", stderr(&o));
    // Part 2: every part has been given now.
    let (o, r) = process(&[parts[1].clone()], &out, &[]);
    assert!(missing(&r).is_empty(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("missing:"), "{}", stderr(&o));
    // Given again: nothing new to record.
    let parts_lines = || {
        let text = std::fs::read_to_string(out.join(".gpbackup/manifest.jsonl")).unwrap();
        text.lines().filter(|l| l.starts_with("{\"parts\"")).count()
    };
    assert_eq!(parts_lines(), 3);
    let (o, _) = process(&[parts[1].clone()], &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(parts_lines(), 3);
    // A dry run records nothing: a new folder's first dry run with part 3 names 1 and 2.
    let fresh = tmp.path().join("fresh");
    let (_, r) = process(&[parts[2].clone()], &fresh, &["--dry-run"]);
    assert_eq!(missing(&r), ["001", "002"]);
}

#[test]
fn an_album_named_like_a_year_is_an_album_whatever_part_brings_its_metadata() {
    // "Rome 2019" reads like a year folder; only its metadata.json says it is an album.
    let tmp = tempfile::tempdir().unwrap();
    let rome = "Takeout/Google Photos/Rome 2019";
    let photo = jpeg_variant(&fixture("plain.jpg"), "colosseum");
    let other = jpeg_variant(&fixture("plain.jpg"), "forum");
    let mut t = Takeout::new(3);
    t.add(0, format!("{YEAR}/IMG_R.jpg"), photo.clone())
        .add(
            0,
            format!("{YEAR}/IMG_R.jpg.json"),
            sidecar("IMG_R.jpg", T, None),
        )
        .add(0, format!("{rome}/IMG_R.jpg"), photo)
        .add(
            0,
            format!("{rome}/IMG_R.jpg.json"),
            sidecar("IMG_R.jpg", T, None),
        )
        .add(1, format!("{rome}/metadata.json"), album_json("Rome 2019"))
        .add(2, format!("{rome}/IMG_S.jpg"), other)
        .add(
            2,
            format!("{rome}/IMG_S.jpg.json"),
            sidecar("IMG_S.jpg", T + 60, None),
        );
    let parts = t.write(&tmp.path().join("in"));
    let one = tmp.path().join("one");
    run_in_order(&parts, &[&[0, 1, 2]], &one, &[]);
    let (_, want_albums) = library(&one);
    assert_eq!(
        want_albums["albums"][0]["files"],
        serde_json::json!(["IMG_R.jpg", "IMG_S.jpg"]),
        "{want_albums}"
    );
    for (k, order) in [
        &[&[0usize][..], &[1], &[2]][..],
        &[&[2], &[1], &[0]],
        &[&[1], &[0, 2]],
    ]
    .into_iter()
    .enumerate()
    {
        let out = tmp.path().join(format!("split-{k}"));
        run_in_order(&parts, order, &out, &[]);
        let (_, albums) = library(&out);
        assert_eq!(albums, want_albums, "{order:?}");
        let v = verify(&out, &parts);
        assert!(v.status.success(), "{order:?}: {}", stderr(&v));
    }
}

/// The album list of a library.
fn albums_of(root: &Path) -> serde_json::Value {
    library(root).1
}

#[test]
fn a_rerun_after_a_failed_update_still_dates_the_photo() {
    // Run 1: part 1 (photo, bare). Run 2: parts 1+2, the update fails (disk full: the
    // sidecar is recorded, unclaimed). Run 3: the same command again, as the README says.
    let tmp = tempfile::tempdir().unwrap();
    let parts = photo_then_its_sidecar(tmp.path());
    let extra = ["--layout", "year"];
    let one = tmp.path().join("one");
    run_in_order(&parts, &[&[0, 1]], &one, &extra);
    let out = tmp.path().join("photos");
    run_in_order(&parts, &[&[0]], &out, &extra);
    let mut args: Vec<std::ffi::OsString> = vec!["process".into()];
    args.extend(parts.iter().map(|p| p.clone().into_os_string()));
    args.extend([
        "-o".into(),
        out.clone().into_os_string(),
        "--layout".into(),
        "year".into(),
    ]);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_gpbackup"))
        .args(&args)
        .env("TZ", "UTC")
        .env("GPBACKUP_FAIL_AFTER_BYTES", "0")
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = run_in_order(&parts, &[&[0, 1]], &out, &extra);
    let x = report_entry(&r, "IMG_X.jpg");
    assert_eq!(x["status"], "updated", "{x}");
    assert_eq!(library(&out), library(&one));
}

#[test]
fn files_join_their_album_after_a_run_killed_before_it_recorded_them() {
    // The state a kill -9 (or an error in finish) leaves in run 2: neither the lines that join
    // run 1's photo to the album nor the album's line. Simulated by cutting the manifest
    // before the first of them.
    let tmp = tempfile::tempdir().unwrap();
    let rome = "Takeout/Google Photos/Rome 2019";
    let mut t = Takeout::new(2);
    t.add(
        0,
        format!("{rome}/IMG_S.jpg"),
        jpeg_variant(&fixture("plain.jpg"), "s"),
    )
    .add(
        0,
        format!("{rome}/IMG_S.jpg.json"),
        sidecar("IMG_S.jpg", T, None),
    )
    .add(1, format!("{rome}/metadata.json"), album_json("Rome 2019"));
    let parts = t.write(&tmp.path().join("in"));
    let one = tmp.path().join("one");
    run_in_order(&parts, &[&[0, 1]], &one, &[]);
    let out = tmp.path().join("photos");
    run_in_order(&parts, &[&[0], &[1]], &out, &[]);
    assert_eq!(albums_of(&out), albums_of(&one), "uninterrupted: fine");
    let m = out.join(".gpbackup/manifest.jsonl");
    let text = std::fs::read_to_string(&m).unwrap();
    let join = (text.find("\"albums\":[\"Rome 2019\"]"))
        .map(|at| text[..at].rfind('\n').map_or(0, |n| n + 1));
    let cut = [join, text.find("{\"album\"")]
        .into_iter()
        .flatten()
        .min()
        .unwrap();
    assert!(text[cut..].contains("{\"album\""), "{text}");
    std::fs::write(&m, &text[..cut]).unwrap();
    std::fs::remove_file(out.join("albums.json")).unwrap();
    run_in_order(&parts, &[&[0, 1]], &out, &[]);
    assert_eq!(albums_of(&out), albums_of(&one));
}

#[test]
fn a_sidecar_a_killed_run_did_not_record_is_not_unused() {
    // Run 2 is killed after writing its photo, before it records its sidecars (kill -9):
    // simulated by dropping the sidecar lines it appended. Run 3 gives both parts again.
    let tmp = tempfile::tempdir().unwrap();
    let old = "Takeout/Google Photos/Photos from 2018";
    let mut t = Takeout::new(2);
    t.add(
        0,
        format!("{old}/IMG_A.jpg"),
        jpeg_variant(&fixture("plain.jpg"), "a"),
    )
    .add(
        0,
        format!("{old}/IMG_A.jpg.json"),
        sidecar("IMG_A.jpg", T - 365 * 86_400, None),
    )
    .add(
        1,
        format!("{YEAR}/IMG_B.jpg"),
        jpeg_variant(&fixture("plain.jpg"), "b"),
    )
    .add(
        1,
        format!("{YEAR}/IMG_B.jpg.json"),
        sidecar("IMG_B.jpg", T, None),
    );
    let parts = t.write(&tmp.path().join("in"));
    let out = tmp.path().join("photos");
    run_in_order(&parts, &[&[0], &[1]], &out, &[]);
    let m = out.join(".gpbackup/manifest.jsonl");
    let text = std::fs::read_to_string(&m).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !(l.starts_with("{\"sidecar\"") && l.contains("IMG_B")))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&m, kept).unwrap();
    let r = run_in_order(&parts, &[&[0, 1]], &out, &[]);
    assert_eq!(r["unused_sidecars"], serde_json::json!([]), "{r:#}");
}

#[test]
fn a_changed_sidecar_in_a_newer_export_is_not_unused() {
    let tmp = tempfile::tempdir().unwrap();
    let p1 = jpeg_variant(&fixture("plain.jpg"), "1");
    let p2 = jpeg_variant(&fixture("plain.jpg"), "2");
    let export = |stamp: &str, t2: i64| {
        let files = vec![
            (format!("{YEAR}/IMG_1.jpg"), p1.clone()),
            (
                format!("{YEAR}/IMG_1.jpg.json"),
                sidecar("IMG_1.jpg", T, None),
            ),
            (format!("{YEAR}/IMG_2.jpg"), p2.clone()),
            (
                format!("{YEAR}/IMG_2.jpg.json"),
                sidecar("IMG_2.jpg", t2, None),
            ),
        ];
        let p = tmp.path().join(format!("takeout-{stamp}-001.zip"));
        std::fs::write(&p, zip_bytes(&files)).unwrap();
        p
    };
    // The newer export: the user corrected IMG_2's date.
    let parts = vec![
        export("20230101T000000Z", T),
        export("20240101T000000Z", T + 86_400),
    ];
    let one = tmp.path().join("one");
    let r1 = run_in_order(&parts, &[&[0, 1]], &one, &[]);
    let out = tmp.path().join("photos");
    let r = run_in_order(&parts, &[&[0], &[1]], &out, &[]);
    assert_eq!(r1["unused_sidecars"], serde_json::json!([]));
    assert_eq!(r["unused_sidecars"], serde_json::json!([]), "{r:#}");
}

#[test]
fn an_edited_copy_in_a_later_part_gets_all_of_its_originals_sidecar() {
    // The sidecar an original used in an earlier run, with a place and a caption, serves the
    // edited copy that comes in a later part exactly as in one run.
    let tmp = tempfile::tempdir().unwrap();
    let plain = fixture("plain.jpg");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&sidecar("IMG_E.jpg", T, Some((48.85837, 2.294481, 35.0)))).unwrap();
    meta["description"] = serde_json::json!("Dusk at the tower");
    meta["people"] = serde_json::json!([{ "name": "Ann" }]);
    let mut t = Takeout::new(3);
    t.add(
        0,
        format!("{YEAR}/IMG_E.jpg.json"),
        serde_json::to_vec(&meta).unwrap(),
    )
    .add(1, format!("{YEAR}/IMG_E.jpg"), jpeg_variant(&plain, "e"))
    .add(
        2,
        format!("{YEAR}/IMG_E-edited.jpg"),
        jpeg_variant(&plain, "e-edited"),
    );
    let parts = t.write(&tmp.path().join("in"));
    let extra = ["--xmp", "always"];
    let one = tmp.path().join("one");
    run_in_order(&parts, &[&[0, 1, 2]], &one, &extra);
    let (want, _) = library(&one);
    assert!(
        want.contains_key("IMG_E-edited.jpg.xmp"),
        "{:?}",
        want.keys()
    );
    for (k, order) in [
        &[&[0usize][..], &[1], &[2]][..],
        &[&[1], &[0], &[2]],
        &[&[0, 1], &[2]],
        &[&[0], &[1], &[0, 1, 2]],
    ]
    .into_iter()
    .enumerate()
    {
        let out = tmp.path().join(format!("split-{k}"));
        run_in_order(&parts, order, &out, &extra);
        let (got, _) = library(&out);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{order:?}"
        );
        for (path, (bytes, mtime)) in &want {
            assert!(got[path].0 == *bytes, "{order:?}: {path} differs");
            assert_eq!(got[path].1, *mtime, "{order:?}: {path}");
        }
    }
}

/// Numbers from `seed` (xorshift64): the same on every run, so a failure can be replayed.
fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// Runs over the parts `0..n` as people make them: each run a random non-empty group of
/// parts, in random order, some repeating parts already given, until every part has been
/// given at least once.
fn random_runs(next: &mut impl FnMut() -> u64, n: usize) -> Vec<Vec<usize>> {
    let mut runs: Vec<Vec<usize>> = Vec::new();
    let mut given = vec![false; n];
    while !given.iter().all(|g| *g) {
        let mut run: Vec<usize> = (0..n).filter(|_| next().is_multiple_of(3)).collect();
        if run.is_empty() || (runs.len() >= 3 && run.iter().all(|&p| given[p])) {
            // Never more than a few runs: the next one brings a part not given yet.
            run = vec![(0..n).find(|&p| !given[p]).unwrap()];
        }
        for i in (1..run.len()).rev() {
            run.swap(i, (next() % (i as u64 + 1)) as usize);
        }
        for &p in &run {
            given[p] = true;
        }
        runs.push(run);
    }
    runs
}

/// A sidecar with a caption.
fn captioned(title: &str, taken: i64, caption: &str) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&sidecar(title, taken, None)).unwrap();
    v["description"] = caption.into();
    serde_json::to_vec_pretty(&v).unwrap()
}

/// The property test's Takeout: [`three_parts`] and the round's traps, as an older export
/// of three parts and a newer export of one.
fn traps(dir: &Path) -> Vec<PathBuf> {
    let gp = "Takeout/Google Photos";
    let plain = fixture("plain.jpg");
    let mut t = three_parts();
    // An album named like a year, whose metadata is in another part.
    let rome = format!("{gp}/Rome 2019");
    let colosseum = jpeg_variant(&plain, "colosseum");
    t.add(0, format!("{rome}/IMG_R.jpg"), colosseum.clone())
        .add(
            0,
            format!("{rome}/IMG_R.jpg.json"),
            sidecar("IMG_R.jpg", T, None),
        )
        .add(2, format!("{YEAR}/IMG_R.jpg"), colosseum)
        .add(
            1,
            format!("{YEAR}/IMG_R.jpg.json"),
            sidecar("IMG_R.jpg", T, None),
        )
        .add(1, format!("{rome}/metadata.json"), album_json("Rome 2019"));
    // Two photos of one name in two years, each with the other's sidecar in its part.
    let (y15, y18) = (
        format!("{gp}/Photos from 2015"),
        format!("{gp}/Photos from 2018"),
    );
    t.add(
        0,
        format!("{y15}/IMG_0001.JPG"),
        jpeg_variant(&plain, "2015"),
    )
    .add(
        0,
        format!("{y18}/IMG_0001.JPG.json"),
        captioned("IMG_0001.JPG", T - 86_400 * 500, "eighteen"),
    )
    .add(
        2,
        format!("{y18}/IMG_0001.JPG"),
        jpeg_variant(&plain, "2018"),
    )
    .add(
        1,
        format!("{y15}/IMG_0001.JPG.json"),
        captioned("IMG_0001.JPG", T - 86_400 * 1500, "fifteen"),
    );
    // A photo renamed in Google Photos to the name of another photo.
    let (y20, y21) = (
        format!("{gp}/Photos from 2020"),
        format!("{gp}/Photos from 2021"),
    );
    t.add(
        2,
        format!("{y20}/IMG_5678.jpg"),
        jpeg_variant(&plain, "5678"),
    )
    .add(
        0,
        format!("{y20}/IMG_5678.jpg.json"),
        captioned("Birthday.jpg", T + 86_400 * 300, "renamed"),
    )
    .add(
        0,
        format!("{y21}/Birthday.jpg"),
        jpeg_variant(&plain, "bday"),
    )
    .add(
        1,
        format!("{y21}/Birthday.jpg.json"),
        captioned("Birthday.jpg", T + 86_400 * 700, "the real one"),
    );
    // A Live Photo whose video has its own sidecar, in a later part.
    t.add(0, format!("{YEAR}/IMG_L.JPG"), jpeg_variant(&plain, "live"))
        .add(
            0,
            format!("{YEAR}/IMG_L.JPG.json"),
            sidecar("IMG_L.JPG", T + 50, None),
        )
        .add(
            0,
            format!("{YEAR}/IMG_L.MOV"),
            isobmff_variant(&fixture("live.mov"), "live-l"),
        )
        .add(
            2,
            format!("{YEAR}/IMG_L.MOV.json"),
            sidecar("IMG_L.MOV", T + 86_400 * 3, None),
        );
    let mut parts = t.write(dir);
    // A newer export of the same account: IMG_G's date and caption corrected, IMG_C as it
    // was, and a photo taken since.
    let newer = [
        (format!("{YEAR}/IMG_G.jpg"), jpeg_variant(&plain, "g")),
        (
            format!("{YEAR}/IMG_G.jpg.json"),
            captioned("IMG_G.jpg", T + 7200 + 86_400, "corrected"),
        ),
        (format!("{YEAR}/IMG_C.jpg"), fixture("camera.jpg")),
        (
            format!("{YEAR}/IMG_C.jpg.json"),
            sidecar("IMG_C.jpg", T, Some((41.9, 12.5, 20.0))),
        ),
        (
            format!("{gp}/Photos from 2024/IMG_N.jpg"),
            jpeg_variant(&plain, "new"),
        ),
        (
            format!("{gp}/Photos from 2024/IMG_N.jpg.json"),
            sidecar("IMG_N.jpg", T + 86_400 * 1800, None),
        ),
    ];
    let path = dir.join("takeout-20240601T000000Z-001.zip");
    std::fs::write(&path, zip_bytes(&newer)).unwrap();
    parts.push(path);
    parts
}

#[test]
fn any_order_and_grouping_of_runs_gives_the_library_of_one_run() {
    // The traps this covers: sidecars in other parts than their photos (both ways), a photo
    // without a date of its own, a camera photo, a video, an edited copy, Live Photos (one
    // whose video has a sidecar of its own), album copies, an album named like a year whose
    // metadata is in another part, two photos of one name in two years, a photo renamed to
    // another's name, and a newer export that corrects a photo and adds one.
    let tmp = tempfile::tempdir().unwrap();
    let parts = traps(&tmp.path().join("in"));
    let extra = ["--layout", "year"];
    let one = tmp.path().join("one");
    let all: Vec<usize> = (0..parts.len()).collect();
    run_in_order(&parts, &[&all], &one, &extra);
    let (want, want_albums) = library(&one);
    let seed: u64 = std::env::var("PARTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_2026_1207);
    let cases: usize = std::env::var("PARTS_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let mut next = xorshift(seed);
    for case in 0..cases {
        let runs = random_runs(&mut next, parts.len());
        let order: Vec<&[usize]> = runs.iter().map(Vec::as_slice).collect();
        let out = tmp.path().join(format!("case-{case}"));
        run_in_order(&parts, &order, &out, &extra);
        let (got, albums) = library(&out);
        let say = format!("case {case} of seed {seed} (PARTS_SEED={seed}): runs {runs:?}");
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{say}"
        );
        for (path, (bytes, mtime)) in &want {
            assert!(got[path].0 == *bytes, "{say}: {path} differs");
            assert_eq!(got[path].1, *mtime, "{say}: {path} mtime");
        }
        assert_eq!(albums, want_albums, "{say}: albums");
        std::fs::remove_dir_all(&out).unwrap();
    }
}

#[test]
fn a_sidecar_an_earlier_run_recorded_in_another_folder_is_found_when_its_photo_comes() {
    // The sidecar sits in the year folder, its photo in another folder of a later part (found
    // by its title, the only one anywhere). Run 1 reads and records the sidecar; run 2 gives
    // that part again with the photo's: the sidecar is read again from the part, once the
    // photo found none in its own folder.
    let tmp = tempfile::tempdir().unwrap();
    let misc = "Takeout/Google Photos/Misc";
    let mut t = Takeout::new(2);
    t.add(
        0,
        format!("{YEAR}/Sunset over the bay.jpg.json"),
        sidecar("Sunset over the bay.jpg", T, Some((37.8, -122.4, 5.0))),
    )
    .add(
        1,
        format!("{misc}/Sunset over the bay.jpg"),
        jpeg_variant(&fixture("plain.jpg"), "sunset"),
    );
    let parts = t.write(&tmp.path().join("in"));
    let one = tmp.path().join("one");
    let r = run_in_order(&parts, &[&[0, 1]], &one, &[]);
    let photo = report_entry(&r, "Sunset over the bay.jpg");
    assert_eq!(photo["status"], "written", "{photo}");
    assert!(photo["sidecar"].is_string(), "matched in one run: {photo}");
    let out = tmp.path().join("photos");
    let r = run_in_order(&parts, &[&[0], &[0, 1]], &out, &[]);
    let photo = report_entry(&r, "Sunset over the bay.jpg");
    assert!(photo["sidecar"].is_string(), "{photo}");
    assert_eq!(library(&out), library(&one));
}
