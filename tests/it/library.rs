//! A library that lasts: incremental re-runs, albums, layouts, edited copies, the trash,
//! `verify`, and interrupted runs.

use crate::common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const T: i64 = 1562253012;

fn photo(n: usize) -> Vec<u8> {
    jpeg_variant(&fixture("plain.jpg"), &format!("photo {n}"))
}

fn album_of(report: &serde_json::Value, title: &str) -> Vec<String> {
    let albums = report["albums"].as_array().unwrap();
    let a = albums
        .iter()
        .find(|a| a["title"] == title)
        .unwrap_or_else(|| panic!("no album {title}: {albums:?}"));
    a["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}

/// Takeout A: 6 photos, album "Paris" with 2 of them. Takeout B: the same plus 3 new photos,
/// and the album renamed "Paris 2019" with one more photo.
fn takeouts(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let build = |n_photos: usize, album: &str, album_members: &[usize]| {
        let mut t = Takeout::new(2);
        for i in 0..n_photos {
            let name = format!("IMG_{i:04}.jpg");
            t.add(i % 2, format!("{YEAR}/{name}"), photo(i)).add(
                (i + 1) % 2,
                format!("{YEAR}/{name}.json"),
                sidecar(&name, T + i as i64 * 86_400, None),
            );
        }
        let dir = format!("Takeout/Google Photos/{album}");
        t.add(0, format!("{dir}/metadata.json"), album_json(album));
        for &i in album_members {
            let name = format!("IMG_{i:04}.jpg");
            t.add(1, format!("{dir}/{name}"), photo(i)).add(
                1,
                format!("{dir}/{name}.json"),
                sidecar(&name, T + i as i64 * 86_400, None),
            );
        }
        t
    };
    let a = build(6, "Paris", &[1, 2]).write(&dir.join("a"));
    let b = build(9, "Paris 2019", &[1, 2, 7]).write(&dir.join("b"));
    (a, b)
}

#[test]
fn incremental_runs_add_only_what_is_new() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = takeouts(tmp.path());
    let out = tmp.path().join("photos");

    let (o, ra) = process(&a, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(&out).len(), 6);
    assert_eq!(album_of(&ra, "Paris"), ["IMG_0001.jpg", "IMG_0002.jpg"]);
    let stamps: BTreeMap<String, i64> = listing(&out)
        .into_iter()
        .map(|n| (n.clone(), mtime(&out.join(&n))))
        .collect();

    let (o, rb) = process(&b, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let files = listing(&out);
    assert_eq!(files.len(), 9, "the union, each photo once: {files:?}");
    // What run A wrote is untouched.
    for (name, t) in &stamps {
        assert_eq!(mtime(&out.join(name)), *t, "{name}");
    }
    let written: Vec<&serde_json::Value> = rb["media"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["status"] == "written")
        .collect();
    assert_eq!(written.len(), 3, "only the new photos are written");
    // Albums of both runs: the old name keeps its members, the new one has its own.
    assert_eq!(album_of(&rb, "Paris"), ["IMG_0001.jpg", "IMG_0002.jpg"]);
    assert_eq!(
        album_of(&rb, "Paris 2019"),
        ["IMG_0001.jpg", "IMG_0002.jpg", "IMG_0007.jpg"]
    );
    let albums_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("albums.json")).unwrap()).unwrap();
    assert_eq!(albums_json["albums"], rb["albums"]);

    // The manifest lists every file once, with its hash, date and sources.
    let manifest = std::fs::read_to_string(out.join(".gpbackup/manifest.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = manifest
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let files_listed: std::collections::BTreeSet<&str> = lines
        .iter()
        .filter(|l| l.get("output_hash").is_some())
        .map(|l| l["path"].as_str().unwrap())
        .collect();
    assert_eq!(files_listed.len(), 9);
    // File lines, the sidecars and albums the runs read (for later runs), and the parts (and
    // inputs) they were given.
    assert!(lines.iter().all(|l| match l.get("hash") {
        Some(h) => h.as_str().unwrap().len() == 32,
        None => ["sidecar", "album", "parts", "inputs"]
            .iter()
            .any(|k| l.get(k).is_some()),
    }));

    // Run B again: nothing to do, nothing read, and the summary says so.
    let (o, again) = process(&b, &out, &[]);
    assert!(o.status.success());
    let summary = stderr(&o);
    let n = again["media"].as_array().unwrap().len();
    assert!(
        summary.contains(&format!(
            "{n} media files: 0 written, {n} already in the library, 0 failed"
        )),
        "{summary}"
    );
    assert!(!summary.contains("found their Google Photos"), "{summary}");
    assert!(!summary.contains("without any date"), "{summary}");
    assert_eq!(listing(&out), files);
    for m in again["media"].as_array().unwrap() {
        assert_eq!(m["status"], "in-library", "{m}");
        assert_eq!(
            m["notes"][0], "already in the output from an earlier run",
            "{m}"
        );
    }
    let v = gpbackup(&["verify".as_ref(), out.as_os_str()]);
    assert!(v.status.success(), "{}", stderr(&v));
}

#[test]
fn album_folders_of_hard_links_with_safe_names() {
    let tmp = tempfile::tempdir().unwrap();
    let mut t = Takeout::new(1);
    for (album, title) in [
        ("Trip_ Paris_Rome_", "Trip: Paris/Rome?"),
        ("CON", "CON"),
        ("Trip_ Paris_Rome_ (x)", "trip: paris/rome?"),
    ] {
        let dir = format!("Takeout/Google Photos/{album}");
        t.add(0, format!("{dir}/metadata.json"), album_json(title));
        t.add(0, format!("{dir}/IMG_1.jpg"), photo(1)).add(
            0,
            format!("{dir}/IMG_1.jpg.json"),
            sidecar("IMG_1.jpg", T, None),
        );
    }
    t.add(0, format!("{YEAR}/IMG_1.jpg"), photo(1)).add(
        0,
        format!("{YEAR}/IMG_1.jpg.json"),
        sidecar("IMG_1.jpg", T, None),
    );
    let zips = t.write(&tmp.path().join("in"));
    let out = tmp.path().join("photos");
    let (o, _) = process(&zips, &out, &["--albums", "links"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut folders: Vec<String> = std::fs::read_dir(out.join("albums"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(
        folders,
        ["CON_", "Trip_ Paris_Rome_", "trip_ paris_rome_ (2)"]
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let inode = std::fs::metadata(out.join("IMG_1.jpg")).unwrap().ino();
        for f in &folders {
            let m = std::fs::metadata(out.join("albums").join(f).join("IMG_1.jpg")).unwrap();
            assert_eq!(m.ino(), inode, "{f}: the same file, not a copy");
        }
    }
    // Running again changes nothing and verify still passes.
    let (o, _) = process(&zips, &out, &["--albums", "links"]);
    assert!(o.status.success());
    assert_eq!(
        std::fs::read_dir(out.join("albums/CON_")).unwrap().count(),
        1
    );
    let v = gpbackup(&["verify".as_ref(), out.as_os_str()]);
    assert!(v.status.success(), "{}", stderr(&v));
}

#[test]
fn layouts_edited_copies_and_the_trash() {
    let tmp = tempfile::tempdir().unwrap();
    let mut t = Takeout::new(1);
    let trashed = {
        let mut v: serde_json::Value =
            serde_json::from_slice(&sidecar("gone.jpg", T, None)).unwrap();
        v["trashed"] = true.into();
        serde_json::to_vec(&v).unwrap()
    };
    t.add(0, format!("{YEAR}/IMG_1.jpg"), photo(1))
        .add(
            0,
            format!("{YEAR}/IMG_1.jpg.json"),
            sidecar("IMG_1.jpg", T, None),
        )
        .add(0, format!("{YEAR}/IMG_1-edited.jpg"), photo(2))
        .add(0, format!("{YEAR}/IMG_2.jpg"), photo(3))
        .add(
            0,
            format!("{YEAR}/IMG_2.jpg.json"),
            sidecar("IMG_2.jpg", 1579089600, None),
        )
        .add(0, format!("{YEAR}/gone.jpg"), photo(4))
        .add(0, format!("{YEAR}/gone.jpg.json"), trashed)
        .add(0, format!("{YEAR}/mystery.jpg"), photo(5));
    let zips = t.write(&tmp.path().join("in"));

    let out = tmp.path().join("ym");
    let (o, r) = process(&zips, &out, &["--layout", "year-month"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for p in [
        "2019/07/IMG_1.jpg",
        "2019/07/IMG_1-edited.jpg",
        "2020/01/IMG_2.jpg",
        "undated/mystery.jpg",
    ] {
        assert!(out.join(p).is_file(), "{p}");
    }
    assert!(
        !out.join("2019/07/gone.jpg").exists(),
        "trashed photos are left out"
    );
    assert_eq!(report_entry(&r, "gone.jpg")["status"], "skipped");
    assert!(stderr(&o).contains("1 skipped"), "{}", stderr(&o));

    let out = tmp.path().join("only");
    let (o, _) = process(
        &zips,
        &out,
        &["--edited", "only", "--layout", "year", "--keep-trashed"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("2019/IMG_1-edited.jpg").is_file());
    assert!(!out.join("2019/IMG_1.jpg").exists());
    assert!(out.join("2019/gone.jpg").is_file(), "--keep-trashed");

    let out = tmp.path().join("skip");
    let (o, r) = process(&zips, &out, &["--edited", "skip"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!out.join("IMG_1-edited.jpg").exists());
    assert!(out.join("IMG_1.jpg").is_file());
    assert_eq!(
        report_entry(&r, "IMG_1-edited.jpg")["reason"],
        "an edited copy (--edited skip)"
    );
}

#[test]
fn edited_copies_are_known_by_their_original_or_the_sidecar_they_share() {
    // `--edited skip` leaves out an edited copy whose original is in the export (even when the
    // copy has a sidecar of its own), or that shares its original's sidecar (the original in a
    // part not given); not one with neither.
    let tmp = tempfile::tempdir().unwrap();
    let mut t = Takeout::new(1);
    t.add(0, format!("{YEAR}/IMG_1.jpg"), photo(1))
        .add(
            0,
            format!("{YEAR}/IMG_1.jpg.json"),
            sidecar("IMG_1.jpg", T, None),
        )
        .add(0, format!("{YEAR}/IMG_1-edited.jpg"), photo(2))
        .add(
            0,
            format!("{YEAR}/IMG_1-edited.jpg.json"),
            sidecar("IMG_1-edited.jpg", T, None),
        )
        .add(0, format!("{YEAR}/IMG_2-edited.jpg"), photo(3))
        .add(
            0,
            format!("{YEAR}/IMG_2.jpg.json"),
            sidecar("IMG_2.jpg", T, None),
        )
        .add(0, format!("{YEAR}/IMG_3-edited.jpg"), photo(4));
    let zips = t.write(&tmp.path().join("in"));
    let out = tmp.path().join("skip");
    let (o, r) = process(&zips, &out, &["--edited", "skip"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(&out), ["IMG_1.jpg", "IMG_3-edited.jpg"]);
    for name in ["IMG_1-edited.jpg", "IMG_2-edited.jpg"] {
        let e = report_entry(&r, name);
        assert_eq!(e["reason"], "an edited copy (--edited skip)", "{name}");
    }
    assert_eq!(report_entry(&r, "IMG_2-edited.jpg")["rule"], "edited");
}

#[test]
fn verify_finds_flipped_deleted_and_stray_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = takeouts(tmp.path());
    let out = tmp.path().join("photos");
    let (o, _) = process(&a, &out, &[]);
    assert!(o.status.success());
    let v = gpbackup(&["verify".as_ref(), out.as_os_str()]);
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    assert!(
        stderr(&v).contains("6 files ok, 0 missing, 0 changed\n"),
        "{}",
        stderr(&v)
    );

    let target = out.join("IMG_0003.jpg");
    let mut bytes = std::fs::read(&target).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x01;
    std::fs::write(&target, bytes).unwrap();
    std::fs::remove_file(out.join("IMG_0004.jpg")).unwrap();
    std::fs::write(out.join("stray.jpg"), b"not ours").unwrap();
    let v = gpbackup(&["verify".as_ref(), out.as_os_str()]);
    assert_eq!(v.status.code(), Some(3));
    let s = stderr(&v);
    assert!(s.contains("4 files ok, 1 missing, 1 changed\n"), "{s}");
    assert!(
        s.contains("changed: IMG_0003.jpg")
            && s.contains("missing: IMG_0004.jpg")
            && s.contains("not gpbackup's: 1 file (stray.jpg)"),
        "{s}"
    );
    // Each finding says what to do; doing it gives the library back.
    assert!(
        s.contains("A missing file is written again by the next `gpbackup process`")
            && s.contains("move the file out of this folder and run `gpbackup process`")
            && s.contains("They are left as they are and not checked"),
        "{s}"
    );
    let kept = tmp.path().join("my edit.jpg");
    std::fs::rename(&target, &kept).unwrap();
    let (o, report) = process(&a, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("IMG_0004.jpg").is_file() && target.is_file());
    assert!(
        stderr(&o).contains("2 put back: gone from the folder since an earlier run"),
        "{}",
        stderr(&o)
    );
    let back: Vec<&str> = (report["media"].as_array().unwrap().iter())
        .filter(|m| m["restored"] == true)
        .map(|m| m["output"].as_str().unwrap())
        .collect();
    assert_eq!(back.len(), 2, "{report:#}");
    assert!(back.contains(&"IMG_0003.jpg") && back.contains(&"IMG_0004.jpg"));
    std::fs::remove_file(out.join("stray.jpg")).unwrap();
    let v = gpbackup(&["verify".as_ref(), out.as_os_str()]);
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    assert!(!stderr(&v).contains("A missing file"), "{}", stderr(&v));

    let v = gpbackup(&["verify".as_ref(), tmp.path().as_os_str()]);
    assert_eq!(v.status.code(), Some(2), "not an output folder");
}

/// (relative path → content hash) of every file below `dir`, but gpbackup's own state.
fn tree(dir: &Path) -> BTreeMap<String, u128> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".gpbackup")
    {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.insert(
                rel,
                xxhash_rust::xxh3::xxh3_128(&std::fs::read(e.path()).unwrap()),
            );
        }
    }
    out
}

#[test]
fn killed_runs_resume_to_the_same_result() {
    let tmp = tempfile::tempdir().unwrap();
    let mut t = Takeout::new(3);
    // 300 photos of ~60 KB, with name collisions, favourites (XMP) and an album.
    let padding = "x".repeat(60_000);
    for i in 0..300 {
        let name = format!("IMG_{:04}.jpg", i % 250);
        let dir = if i < 250 {
            YEAR.to_string()
        } else {
            "Takeout/Google Photos/Photos from 2020".into()
        };
        let bytes = jpeg_variant(&fixture("plain.jpg"), &format!("{i} {padding}"));
        let mut json: serde_json::Value =
            serde_json::from_slice(&sidecar(&name, T + i as i64, None)).unwrap();
        if i % 7 == 0 {
            json["favorited"] = true.into();
        }
        t.add(i % 3, format!("{dir}/{name}"), bytes.clone()).add(
            (i + 1) % 3,
            format!("{dir}/{name}.json"),
            serde_json::to_vec(&json).unwrap(),
        );
        if i % 10 == 0 {
            t.add(i % 3, format!("Takeout/Google Photos/Best/{name}"), bytes);
        }
    }
    let zips = t.write(&tmp.path().join("in"));
    let reference = tmp.path().join("reference");
    let (o, _) = process(&zips, &reference, &["-j", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let expected = tree(&reference);
    assert!(expected.len() > 300);

    let out = tmp.path().join("photos");
    let bin = env!("CARGO_BIN_EXE_gpbackup");
    let mut killed = 0;
    for delay_ms in [40, 120, 250, 500] {
        let mut child = Command::new(bin)
            .args([
                "process",
                "-q",
                "-j",
                "2",
                "--timezone",
                "Europe/Paris",
                "-o",
            ])
            .arg(&out)
            .args(&zips)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();
    }
    eprintln!("{killed} of 4 runs were killed mid-way");
    let (o, _) = process(&zips, &out, &["-j", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        tree(&out),
        expected,
        "the same files, names and contents as an uninterrupted run"
    );
    assert_eq!(
        std::fs::read_dir(out.join(".gpbackup/tmp"))
            .unwrap()
            .count(),
        0,
        "no temp files"
    );
    let v = gpbackup(&["verify".as_ref(), out.as_os_str()]);
    assert!(v.status.success(), "{}", stderr(&v));
}

/// A run killed between writing the best of a group of copies and recording the others as
/// its duplicates: the next run finds that copy's content in the library before naming it,
/// and the photos after it keep the names an uninterrupted run gives them.
#[test]
fn the_rest_of_a_group_left_half_done_takes_no_name() {
    let tmp = tempfile::tempdir().unwrap();
    let a = jpeg_variant(&fixture("plain.jpg"), "a");
    let b = jpeg_variant(&fixture("plain.jpg"), "b");
    let zips = Takeout::new(2)
        .add(0, format!("{YEAR}/IMG_0040.jpg"), a.clone())
        .add(
            0,
            format!("{YEAR}/IMG_0040.jpg.json"),
            sidecar("IMG_0040.jpg", T, None),
        )
        .add(0, "Takeout/Google Photos/Best/IMG_0040.jpg", a)
        .add(1, "Takeout/Google Photos/Photos from 2020/IMG_0040.jpg", b)
        .add(
            1,
            "Takeout/Google Photos/Photos from 2020/IMG_0040.jpg.json",
            sidecar("IMG_0040.jpg", T + 60, None),
        )
        .write(&tmp.path().join("in"));
    let reference = tmp.path().join("reference");
    let (o, _) = process(&zips, &reference, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let expected = tree(&reference);
    assert!(expected.contains_key("IMG_0040 (2).jpg"), "{expected:?}");
    // What the kill leaves: the first photo and its line, nothing of the album copy or of
    // the photo after it.
    let out = tmp.path().join("photos");
    let (o, _) = process(&zips[..1], &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest = out.join(".gpbackup/manifest.jsonl");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let first: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("{\"sidecar\"") || l.contains("Photos from 2019"))
        .collect();
    assert!(first.iter().all(|l| !l.contains("/Best/")), "{text}");
    std::fs::write(&manifest, first.join("\n") + "\n").unwrap();
    let _ = std::fs::remove_file(out.join("albums.json"));
    let (o, _) = process(&zips, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(tree(&out), expected);
    // And every entry, the album copy too, is accounted for.
    let mut args = vec!["verify".as_ref(), out.as_os_str(), "--against".as_ref()];
    args.extend(zips.iter().map(|z| z.as_os_str()));
    let v = gpbackup(&args);
    assert!(v.status.success(), "{}", stderr(&v));
}

#[test]
fn a_rerun_on_a_volume_that_stores_names_decomposed_writes_no_copies() {
    let tmp = tempfile::tempdir().unwrap();
    let nfc = "\u{c9}t\u{e9} \u{e0} la plage.jpg";
    let nfd = "E\u{301}te\u{301} a\u{300} la plage.jpg";
    let mut t = Takeout::new(1);
    t.add(0, format!("{YEAR}/{nfc}"), photo(1)).add(
        0,
        format!("{YEAR}/{nfc}.json"),
        sidecar(nfc, T, None),
    );
    let zips = t.write(&tmp.path().join("in"));
    let out = tmp.path().join("photos");
    let (o, _) = process(&zips, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // What macOS (HFS+) hands back when the folder is listed: the decomposed name.
    std::fs::rename(out.join(nfc), out.join(nfd)).unwrap();
    let (o, again) = process(&zips, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(&out), vec![nfd.to_string()], "no second copy");
    assert_eq!(again["media"][0]["status"], "in-library");
}

/// A photo already in the folder that gpbackup did not write (the user copied it there), with
/// the bytes gpbackup would write: recognised, not copied again as `NAME (2)`, left untouched,
/// and said in plain words. A file of the same name with other bytes is not the same photo.
#[test]
fn a_photo_already_in_the_folder_is_not_copied_again() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = fixture("plain.jpg");
    let files = vec![
        // No sidecar and no date in its name: written byte for byte.
        (format!("{YEAR}/IMG_0014.jpg"), jpeg_variant(&plain, "14")),
        // With a sidecar: written with its date.
        (format!("{YEAR}/B.jpg"), jpeg_variant(&plain, "B")),
        (format!("{YEAR}/B.jpg.json"), sidecar("B.jpg", T, None)),
        (format!("{YEAR}/C.jpg"), jpeg_variant(&plain, "C")),
        (format!("{YEAR}/D.jpg"), jpeg_variant(&plain, "D")),
        (format!("{YEAR}/D.jpg.json"), sidecar("D.jpg", T, None)),
    ];
    let zips = vec![export(&tmp.path().join("in"), "20240101T000000Z", &files)];
    // What gpbackup writes for each, in a library of its own.
    let plain_lib = tmp.path().join("plain");
    let (o, _) = process(&zips, &plain_lib, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let written = |n: &str| std::fs::read(plain_lib.join(n)).unwrap();
    assert_ne!(
        written("B.jpg"),
        jpeg_variant(&plain, "B"),
        "B gets its date"
    );

    let out = tmp.path().join("photos");
    std::fs::create_dir_all(&out).unwrap();
    let mine = [
        ("IMG_0014.jpg", written("IMG_0014.jpg")),
        ("B.jpg", written("B.jpg")),
        // Another photo under a name of the Takeout's.
        ("C.jpg", jpeg_variant(&plain, "my own C")),
        // The Takeout's photo as it came, without the date gpbackup embeds: not the file
        // gpbackup would write, so the library gets its own.
        ("D.jpg", jpeg_variant(&plain, "D")),
    ];
    for (n, b) in &mine {
        std::fs::write(out.join(n), b).unwrap();
    }
    let before: Vec<(Vec<u8>, i64)> = mine
        .iter()
        .map(|(n, _)| (std::fs::read(out.join(n)).unwrap(), mtime(&out.join(n))))
        .collect();
    for round in 0..2 {
        let (o, r) = process(&zips, &out, &[]);
        let s = stderr(&o);
        assert!(o.status.success(), "{s}");
        let names = listing(&out);
        assert!(
            !names.contains(&"IMG_0014 (2).jpg".to_string()),
            "{names:?}"
        );
        assert!(!names.contains(&"B (2).jpg".to_string()), "{names:?}");
        assert!(names.contains(&"C (2).jpg".to_string()), "{names:?}");
        assert!(names.contains(&"D (2).jpg".to_string()), "{names:?}");
        for n in ["IMG_0014.jpg", "B.jpg"] {
            let m = report_entry(&r, &format!("/{n}"));
            assert_eq!(m["output"], n, "round {round}: {m}");
            let notes = m["notes"].to_string();
            assert!(
                notes.contains("already in the folder (not gpbackup's)")
                    && notes.contains("left as it is"),
                "round {round}: {m}"
            );
        }
        let after: Vec<(Vec<u8>, i64)> = mine
            .iter()
            .map(|(n, _)| (std::fs::read(out.join(n)).unwrap(), mtime(&out.join(n))))
            .collect();
        assert_eq!(after, before, "the user's files untouched");
    }
    // They stay the user's: `verify` lists them apart and passes.
    let v = gpbackup(&["verify".as_ref(), out.as_os_str()]);
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    assert!(
        stderr(&v).contains("not gpbackup's: 4 files"),
        "{}",
        stderr(&v)
    );
}

/// The library of a run on one thread and on four, compared byte for byte: over two batches
/// of groups (2,048 each, see `process::write`), with the same name many times over
/// (numbered collisions), album copies, photos dated by their sidecar and by their own EXIF
/// date, favourites (XMP sidecars).
#[test]
fn one_thread_or_four_make_the_same_library() {
    let tmp = tempfile::tempdir().unwrap();
    let mut t = Takeout::new(3);
    let plain = fixture("plain.jpg");
    let camera = fixture("camera.jpg");
    for i in 0..4600 {
        let name = format!("IMG_{:04}.jpg", i % 700);
        let dir = format!(
            "Takeout/Google Photos/Photos from {}",
            2010 + i % 3 + 3 * (i / 2100)
        );
        let base = if i % 4 == 0 { &camera } else { &plain };
        let bytes = jpeg_variant(base, &format!("{i}"));
        let taken = T + (i % 5) as i64 * 40 * 86_400;
        let mut json: serde_json::Value =
            serde_json::from_slice(&sidecar(&name, taken, None)).unwrap();
        if i % 9 == 0 {
            json["favorited"] = true.into();
        }
        t.add(i % 3, format!("{dir}/{name}"), bytes.clone()).add(
            (i + 1) % 3,
            format!("{dir}/{name}.json"),
            serde_json::to_vec(&json).unwrap(),
        );
        if i < 700 && i % 3 == 0 {
            t.add(
                (i + 2) % 3,
                format!("Takeout/Google Photos/Trip/{name}"),
                bytes,
            );
        }
    }
    let zips = t.write(&tmp.path().join("in"));
    // Flat: every name is reserved before its file is read, a batch at a time in group
    // order. Dated: a file whose folder its own date decides waits, once read, for the files
    // before it in the batch to be named.
    for layout in ["flat", "year"] {
        let mut libraries = Vec::new();
        for jobs in ["1", "4"] {
            let out = tmp.path().join(format!("photos-{layout}-{jobs}"));
            let args = ["-j", jobs, "--layout", layout, "--timezone", "Europe/Paris"];
            let (o, report) = process(&zips, &out, &args);
            assert!(o.status.success(), "{}", stderr(&o));
            let mut lines: Vec<String> = (report["media"].as_array().unwrap().iter())
                .map(|m| format!("{} {} {}", m["source"], m["status"], m["output"]))
                .collect();
            lines.sort();
            libraries.push((files_of(&out), lines));
        }
        let (one, four) = (&libraries[0], &libraries[1]);
        assert!(one.0.len() > 4000, "{layout}: {} files", one.0.len());
        assert!(
            one.0.keys().any(|p| p.ends_with("IMG_0001 (3).jpg")),
            "{layout}: numbered names"
        );
        assert!(one.0.keys().any(|p| p.ends_with(".xmp")), "{layout}: XMP");
        let differing: Vec<&String> = (one.0.keys().chain(four.0.keys()))
            .filter(|p| one.0.get(*p) != four.0.get(*p))
            .take(5)
            .collect();
        assert!(
            differing.is_empty(),
            "{layout}: files differ: {differing:?}"
        );
        assert_eq!(one.1.len(), 4600 + 234);
        assert!(one.1 == four.1, "{layout}: the same report lines");
    }
}

/// A later run moving files of an earlier one to the folders their sidecars date them in,
/// many to one name in one folder: on one thread and on four, the same names for the same
/// files.
#[test]
fn one_thread_or_four_move_files_to_the_same_names() {
    let tmp = tempfile::tempdir().unwrap();
    let mut t = Takeout::new(2);
    let plain = fixture("plain.jpg");
    for i in 0..600 {
        let name = format!("IMG_{:04}.jpg", i % 40);
        let dir = format!("Takeout/Google Photos/Photos from {}", 1990 + i / 40);
        t.add(
            0,
            format!("{dir}/{name}"),
            jpeg_variant(&plain, &format!("{i}")),
        )
        .add(
            1,
            format!("{dir}/{name}.json"),
            sidecar(&name, T + (i % 3) as i64 * 40 * 86_400, None),
        );
    }
    let parts = t.write(&tmp.path().join("in"));
    let mut libraries = Vec::new();
    for jobs in ["1", "4"] {
        let out = tmp.path().join(format!("photos-{jobs}"));
        let args = ["-j", jobs, "--layout", "year", "--timezone", "Europe/Paris"];
        let (o, _) = process(&parts[..1], &out, &args);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(out.join("undated/IMG_0001 (15).jpg").exists());
        let (o, report) = process(&parts[1..], &out, &args);
        assert!(o.status.success(), "{}", stderr(&o));
        let updated = (report["media"].as_array().unwrap().iter())
            .filter(|m| m["status"] == "updated")
            .count();
        assert_eq!(updated, 600);
        libraries.push(files_of(&out));
    }
    let (one, four) = (&libraries[0], &libraries[1]);
    assert!(!one.keys().any(|p| p.starts_with("undated/")));
    assert!(one.keys().any(|p| p.ends_with("IMG_0001 (15).jpg")));
    let differing: Vec<&String> = (one.keys().chain(four.keys()))
        .filter(|p| one.get(*p) != four.get(*p))
        .take(5)
        .collect();
    assert!(differing.is_empty(), "files differ: {differing:?}");
}

/// In a dated layout, a photo in a zip and the same photo in an extracted folder wait, read,
/// for their names with others of that name: the copy is a duplicate and takes no number,
/// so the names of the month run without a gap.
#[test]
fn a_photo_in_a_zip_and_in_a_folder_takes_one_name_in_a_dated_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let camera = fixture("camera.jpg");
    let mut t = Takeout::new(2);
    let dirs = [
        "Photos from 2016",
        "Photos from 2017",
        "Trip",
        "Photos from 2018",
    ];
    // Each folder photo of a size of its own (a group of its own, named in its turn); the
    // zip's of one size with the photo in both.
    let folder_tags = ["a", "bb", "ccc", "eeeee"];
    for (k, dir) in dirs.iter().enumerate() {
        let path = format!("{GP}/{dir}/IMG_1.jpg");
        t.add(0, &path, jpeg_variant(&camera, &format!("zip{k}")));
        t.add(1, &path, jpeg_variant(&camera, folder_tags[k]));
    }
    let both = jpeg_variant(&camera, "both");
    t.add(0, format!("{GP}/Photos from 2019/IMG_1.jpg"), both.clone());
    t.add(1, format!("{GP}/Album/IMG_1.jpg"), both.clone());
    let zips = t.write(&tmp.path().join("in"));
    let folder = t.extract(1, &tmp.path().join("extracted"));
    let out = tmp.path().join("photos");
    let args = ["--layout", "year-month", "--timezone", "Europe/Paris"];
    let (o, report) = process(&[zips[0].clone(), folder], &out, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let files = files_of(&out);
    let mut names: Vec<&str> = files.keys().map(String::as_str).collect();
    names.retain(|n| !n.starts_with("albums") && !n.ends_with(".xmp"));
    let mut want: Vec<String> = std::iter::once("2019/07/IMG_1.jpg".to_string())
        .chain((2..=9).map(|n| format!("2019/07/IMG_1 ({n}).jpg")))
        .collect();
    want.sort();
    assert_eq!(names, want, "nine photos, one name each, no gap");
    assert_eq!(files.values().filter(|b| **b == both).count(), 1);
    let duplicates = (report["media"].as_array().unwrap().iter())
        .filter(|m| m["status"] == "duplicate")
        .count();
    assert_eq!(duplicates, 1);
}

/// An extracted folder's files have no CRC-32: its photos of one size are one group, read one
/// after the other, most of them new content. On one thread and on four, in every layout,
/// the same names for the same photos.
#[test]
fn same_size_photos_of_a_folder_are_named_alike_on_any_number_of_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let camera = fixture("camera.jpg");
    let mut t = Takeout::new(1);
    for i in 0..120 {
        // Five sizes (tags of 4 to 8 characters), 24 photos of each, all different.
        let tag = format!("{i:0w$}", w = 4 + i % 5);
        t.add(
            0,
            format!("{GP}/Album {i}/IMG_0001.jpg"),
            jpeg_variant(&camera, &tag),
        );
    }
    let folder = t.extract(0, &tmp.path().join("extracted"));
    for layout in ["flat", "year"] {
        let mut libraries = Vec::new();
        for jobs in ["1", "4", "4"] {
            let out = tmp
                .path()
                .join(format!("photos-{layout}-{jobs}-{}", libraries.len()));
            let args = ["-j", jobs, "--layout", layout];
            let (o, _) = process(std::slice::from_ref(&folder), &out, &args);
            assert!(o.status.success(), "{}", stderr(&o));
            let mut files = files_of(&out);
            files.retain(|p, _| !p.starts_with("albums"));
            libraries.push(files);
        }
        assert_eq!(libraries[0].len(), 120, "{layout}");
        for other in &libraries[1..] {
            let differing: Vec<&String> = (libraries[0].keys().chain(other.keys()))
                .filter(|p| libraries[0].get(*p) != other.get(*p))
                .take(5)
                .collect();
            assert!(
                differing.is_empty(),
                "{layout}: files differ: {differing:?}"
            );
        }
    }
}
