//! `gpbackup verify DIR --against INPUT...`: does the library hold every photo and video of
//! the Takeout? Each case runs in the fast mode (names, sizes, CRC-32s) and with `--full`
//! (content hashes), and both must give the same answer.

use crate::common::*;
use crate::inputs::{raw, raw_zip, Layout, Raw};
use std::path::{Path, PathBuf};
use std::process::Output;

const T1: i64 = 1562253012;
const EIFFEL: (f64, f64, f64) = (48.8583701, 2.2944813, 35.2);

/// A trashed photo's sidecar.
fn trashed_sidecar(title: &str) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&sidecar(title, T1, None)).unwrap();
    v["trashed"] = true.into();
    serde_json::to_vec(&v).unwrap()
}

/// Two parts: photos, a video, an album copy of one photo (a duplicate), a trashed photo.
fn takeout() -> Takeout {
    let plain = fixture("plain.jpg");
    let album = "Takeout/Google Photos/Paris";
    let mut t = Takeout::new(2);
    t.add(0, format!("{YEAR}/A.jpg"), jpeg_variant(&plain, "A"))
        .add(
            0,
            format!("{YEAR}/A.jpg.json"),
            sidecar("A.jpg", T1, Some(EIFFEL)),
        )
        .add(0, format!("{YEAR}/B.jpg"), jpeg_variant(&plain, "B"))
        .add(0, format!("{YEAR}/B.jpg.json"), sidecar("B.jpg", T1, None))
        .add(0, format!("{YEAR}/clip.mp4"), fixture("clip.mp4"))
        .add(1, format!("{YEAR}/C.jpg"), jpeg_variant(&plain, "C"))
        .add(1, format!("{YEAR}/C.jpg.json"), sidecar("C.jpg", T1, None))
        .add(1, format!("{album}/A.jpg"), jpeg_variant(&plain, "A"))
        .add(
            1,
            format!("{album}/A.jpg.json"),
            sidecar("A.jpg", T1, Some(EIFFEL)),
        )
        .add(1, format!("{YEAR}/T.jpg"), jpeg_variant(&plain, "T"))
        .add(1, format!("{YEAR}/T.jpg.json"), trashed_sidecar("T.jpg"));
    t
}

/// The zips, and the library made from them.
fn library(dir: &Path) -> (Vec<PathBuf>, PathBuf) {
    let zips = takeout().write(&dir.join("in"));
    let out = dir.join("photos");
    let (o, _) = process(&zips, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    (zips, out)
}

/// `gpbackup verify LIB --against INPUTS... [--full] [extra] --report R`.
fn check(
    lib: &Path,
    inputs: &[PathBuf],
    full: bool,
    extra: &[&str],
) -> (Output, serde_json::Value) {
    let report = lib.with_extension(if full { "full.json" } else { "fast.json" });
    let mut args: Vec<&std::ffi::OsStr> =
        vec!["verify".as_ref(), lib.as_os_str(), "--against".as_ref()];
    args.extend(inputs.iter().map(|p| p.as_os_str()));
    if full {
        args.push("--full".as_ref());
    }
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    args.extend(["--report".as_ref(), report.as_os_str()]);
    let o = gpbackup(&args);
    let r = std::fs::read(&report)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    (o, r)
}

/// The entries a report lists under `field`, as (entry, why).
fn listed(r: &serde_json::Value, field: &str) -> Vec<(String, String)> {
    r[field]
        .as_array()
        .unwrap_or_else(|| panic!("no {field} in {r:#}"))
        .iter()
        .map(|f| {
            (
                f["entry"].as_str().unwrap().to_string(),
                f["why"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Runs the check in both modes; asserts they agree (exit code, every listed entry and why)
/// and returns (exit code, stderr, report) of the fast one.
fn both(
    lib: &Path,
    inputs: &[PathBuf],
    extra: &[&str],
) -> (Option<i32>, String, serde_json::Value) {
    let (fast, fr) = check(lib, inputs, false, extra);
    let (full, ur) = check(lib, inputs, true, extra);
    assert_eq!(
        fast.status.code(),
        full.status.code(),
        "fast: {}\nfull: {}",
        stderr(&fast),
        stderr(&full)
    );
    for field in ["not_in_library", "left_out"] {
        assert_eq!(listed(&fr, field), listed(&ur, field), "{field}");
    }
    assert_eq!(fr["in_library"], ur["in_library"]);
    (fast.status.code(), stderr(&fast), fr)
}

#[test]
fn a_complete_library_passes_and_the_trash_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let (zips, lib) = library(dir.path());
    let before = snapshot(&zips);
    let (code, err, r) = both(&lib, &zips, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.starts_with(&format!(
            "All 5 photos and videos of these 2 zips are in {}. 1 was in the trash and was left out on purpose.",
            lib.display()
        )),
        "{err}"
    );
    assert_eq!(r["media"], 6);
    assert_eq!(r["in_library"], 5);
    let left = listed(&r, "left_out");
    assert_eq!(left.len(), 1);
    assert!(
        left[0].0.ends_with("/T.jpg") && left[0].1.contains("trash"),
        "{left:?}"
    );
    // The run's own record of it (its `unwritten` manifest line) says why.
    assert!(
        err.contains("T.jpg: skipped in its run: in the Google Photos trash"),
        "{err}"
    );
    // --strict: what was left out on purpose fails too.
    let (code, err, _) = both(&lib, &zips, &["--strict"]);
    assert_eq!(code, Some(3), "{err}");
    assert_eq!(snapshot(&zips), before, "inputs are only read");
}

#[test]
fn parts_in_another_grouping_or_extracted_pass() {
    let dir = tempfile::tempdir().unwrap();
    let (_, lib) = library(dir.path());
    // The same export downloaded again as one zip.
    let t = takeout();
    let mut one = Takeout::new(1);
    for part in &t.parts {
        for (p, b) in part {
            one.add(0, p.clone(), b.clone());
        }
    }
    let zip = one.write(&dir.path().join("again"));
    let (code, err, _) = both(&lib, &zip, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("of this zip are in"), "{err}");
    // And extracted into a folder.
    let folder = dir.path().join("extracted");
    for part in &t.parts {
        for (p, b) in part {
            let path = folder.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b).unwrap();
        }
    }
    let (code, err, _) = both(&lib, &[folder.join("Takeout")], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("All 5 photos and videos of this folder"),
        "{err}"
    );
}

#[test]
fn a_deleted_photo_fails_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let (zips, lib) = library(dir.path());
    std::fs::remove_file(lib.join("B.jpg")).unwrap();
    let (code, err, r) = both(&lib, &zips, &[]);
    assert_eq!(code, Some(3), "{err}");
    let missing = listed(&r, "not_in_library");
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(missing[0].0.ends_with(&format!("{YEAR}/B.jpg")));
    assert!(missing[0].1.contains("missing"), "{missing:?}");
    assert!(
        err.starts_with("1 of the 5 photos and videos of these 2 zips is NOT in"),
        "{err}"
    );
    assert!(
        err.contains("B.jpg: its file in the library is missing"),
        "{err}"
    );
}

#[test]
fn a_changed_photo_fails_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let (zips, lib) = library(dir.path());
    // One byte changed in place, same size (an editor saving over it, bit rot).
    let path = lib.join("C.jpg");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();
    let (code, err, r) = both(&lib, &zips, &[]);
    assert_eq!(code, Some(3), "{err}");
    let missing = listed(&r, "not_in_library");
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(missing[0].0.ends_with("/C.jpg"));
    assert!(missing[0].1.contains("changed"), "{missing:?}");
    // The album copy of A is a duplicate of A's file: a changed A costs both.
    let path = lib.join("A.jpg");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.push(0);
    std::fs::write(&path, &bytes).unwrap();
    let (code, _, r) = both(&lib, &zips, &[]);
    assert_eq!(code, Some(3));
    let names: Vec<String> = listed(&r, "not_in_library")
        .into_iter()
        .map(|(e, _)| e)
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(
        names.iter().any(|n| n.ends_with("Paris/A.jpg")),
        "{names:?}"
    );
}

#[test]
fn a_part_never_processed_fails_with_its_photos_named() {
    let dir = tempfile::tempdir().unwrap();
    let (mut zips, lib) = library(dir.path());
    let mut t = Takeout::new(1);
    t.add(
        0,
        format!("{YEAR}/D.jpg"),
        jpeg_variant(&fixture("plain.jpg"), "D"),
    )
    .add(0, format!("{YEAR}/D.jpg.json"), sidecar("D.jpg", T1, None));
    let extra = t.write(&dir.path().join("part3"));
    zips.extend(extra);
    let (code, err, r) = both(&lib, &zips, &[]);
    assert_eq!(code, Some(3), "{err}");
    let missing = listed(&r, "not_in_library");
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(missing[0].0.ends_with("/D.jpg"));
    assert!(missing[0].1.starts_with("never processed"), "{missing:?}");
    assert!(err.contains("takeout-20231030T151007Z-001.zip:Takeout/Google Photos/Photos from 2019/D.jpg: never processed"), "{err}");
}

#[test]
fn a_failed_entry_fails_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let plain = fixture("plain.jpg");
    let entries = vec![
        raw(format!("{YEAR}/ok.jpg"), jpeg_variant(&plain, "ok")),
        Raw {
            name: format!("{YEAR}/packed.jpg"),
            data: jpeg_variant(&plain, "packed"),
            method: 12,
            flags: 0,
        },
    ];
    let zip = dir.path().join("takeout-001.zip");
    std::fs::write(&zip, raw_zip(&entries, Layout::Descriptor)).unwrap();
    let lib = dir.path().join("photos");
    let (o, _) = process(std::slice::from_ref(&zip), &lib, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let (code, err, r) = both(&lib, &[zip], &[]);
    assert_eq!(code, Some(3), "{err}");
    let missing = listed(&r, "not_in_library");
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(missing[0].0.ends_with("/packed.jpg"));
    assert!(missing[0].1.contains("bzip2-compressed"), "{missing:?}");
    assert_eq!(r["in_library"], 1);
}

#[test]
fn manifest_paths_outside_the_folder_are_invalid_and_never_opened() {
    let dir = tempfile::tempdir().unwrap();
    let (zips, lib) = library(dir.path());
    let manifest = lib.join(".gpbackup/manifest.jsonl");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    for path in ["../../etc/passwd", "/etc/passwd", "a/../../b.jpg"] {
        text.push_str(
            &serde_json::json!({
                "hash": "0123456789abcdef0123456789abcdef",
                "path": path,
                "output_hash": "0123456789abcdef0123456789abcdef",
                "output_size": 1,
            })
            .to_string(),
        );
        text.push('\n');
    }
    std::fs::write(&manifest, text).unwrap();
    let o = gpbackup(&["verify".as_ref(), lib.as_os_str()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("3 invalid"), "{err}");
    assert!(
        err.contains("invalid (outside the folder, not opened): ../../etc/passwd"),
        "{err}"
    );
    assert!(!err.contains("missing: ../../etc/passwd"), "{err}");
    let (code, err, r) = both(&lib, &zips, &[]);
    assert_eq!(code, Some(3), "{err}");
    assert_eq!(r["invalid_paths"].as_array().unwrap().len(), 3);
    assert!(
        err.contains("\"../../etc/passwd\", outside the folder"),
        "{err}"
    );
}

#[test]
fn the_report_refuses_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let (zips, lib) = library(dir.path());
    let before = snapshot(&zips);
    let o = gpbackup(&[
        "verify".as_ref(),
        lib.as_os_str(),
        "--against".as_ref(),
        zips[0].as_os_str(),
        zips[1].as_os_str(),
        "--report".as_ref(),
        zips[0].as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("one of the inputs"), "{}", stderr(&o));
    assert_eq!(snapshot(&zips), before);
}

#[test]
fn an_input_without_photos_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_, lib) = library(dir.path());
    let mut t = Takeout::new(1);
    t.add(0, "Takeout/Google Drive/notes.txt", b"hello".to_vec());
    let zip = t.write(&dir.path().join("drive"));
    let (o, _) = check(&lib, &zip, false, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("contains no photos, videos or JSON sidecars"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_part_holding_only_sidecars_is_checked_with_the_others_and_alone_checks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, lib) = library(dir.path());
    // The same export downloaded again in two parts: the photos and videos, then every sidecar.
    let mut split = Takeout::new(2);
    for part in &takeout().parts {
        for (p, b) in part {
            split.add(usize::from(p.ends_with(".json")), p.clone(), b.clone());
        }
    }
    let zips = split.write(&dir.path().join("split"));
    let (code, err, r) = both(&lib, &zips, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(r["in_library"], 5);
    assert_eq!(
        listed(&r, "left_out").len(),
        1,
        "the trashed photo, by its sidecar"
    );
    // The sidecars alone: nothing to check, which must not pass.
    let (o, _) = check(&lib, &zips[1..], false, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing to check"), "{}", stderr(&o));
}

#[test]
fn same_name_entries_are_each_accounted() {
    let dir = tempfile::tempdir().unwrap();
    let plain = fixture("plain.jpg");
    let name = format!("{YEAR}/IMG_0001.jpg");
    let entries = vec![
        raw(&name, jpeg_variant(&plain, "first")),
        raw(&name, jpeg_variant(&plain, "second")),
    ];
    let zip = dir.path().join("odd: name.zip");
    std::fs::write(&zip, raw_zip(&entries, Layout::Plain)).unwrap();
    let lib = dir.path().join("photos");
    let (o, _) = process(std::slice::from_ref(&zip), &lib, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (code, err, r) = both(&lib, std::slice::from_ref(&zip), &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(r["in_library"], 2);
    // The second one deleted: named as the second entry of that name.
    std::fs::remove_file(lib.join("IMG_0001 (2).jpg")).unwrap();
    let (code, err, r) = both(&lib, &[zip], &[]);
    assert_eq!(code, Some(3), "{err}");
    let missing = listed(&r, "not_in_library");
    assert_eq!(
        missing[0].0,
        format!("{name} (entry 2 of 2 with this name)"),
        "{missing:?}"
    );
}

/// `gpbackup verify DIR` (without `--against`) on a folder where the user keeps files of their
/// own: they are listed apart and the check passes; with `--strict` each is named and fails it;
/// `-q` prints nothing when only they are there.
#[test]
fn files_of_your_own_are_listed_apart_and_fail_only_with_strict() {
    let dir = tempfile::tempdir().unwrap();
    let (_, lib) = library(dir.path());
    for (name, bytes) in [
        ("notes.txt", &b"my notes"[..]),
        ("scan 1.jpg", b"\xff\xd8 my own scan"),
        ("scan 2.jpg", b"\xff\xd8 another"),
        ("trips/rome.jpg", b"\xff\xd8 rome"),
    ] {
        let p = lib.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let verify = |extra: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> = vec!["verify".as_ref(), lib.as_os_str()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        gpbackup(&args)
    };
    let o = verify(&[]);
    let s = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(s.contains(" ok, 0 missing, 0 changed\n"), "{s}");
    assert!(
        s.contains("not gpbackup's: 4 files (notes.txt, scan 1.jpg, scan 2.jpg and 1 more)"),
        "{s}"
    );
    assert!(!s.contains("unknown"), "{s}");

    let o = verify(&["-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");

    let o = verify(&["--strict"]);
    let s = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{s}");
    for name in ["notes.txt", "scan 1.jpg", "scan 2.jpg", "trips/rome.jpg"] {
        assert!(s.contains(&format!("not gpbackup's: {name}\n")), "{s}");
    }
    assert!(s.contains("it is never changed or removed"), "{s}");

    // A file of gpbackup's changed still fails without --strict.
    let a = lib.join("A.jpg");
    let mut bytes = std::fs::read(&a).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 1;
    std::fs::write(&a, bytes).unwrap();
    let o = verify(&[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("changed: A.jpg"), "{}", stderr(&o));
    for name in ["notes.txt", "scan 1.jpg", "trips/rome.jpg"] {
        assert!(lib.join(name).is_file(), "{name} left as it is");
    }
}
