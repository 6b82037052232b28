//! End to end: Takeout zips in, dated and deduplicated photo folder out, through the real binary.

use crate::common::*;
use std::path::{Path, PathBuf};

const T1: i64 = 1562253012; // 2019-07-04 15:10:12 UTC = 17:10:12 in Paris
const T2: i64 = 1579089600; // 2020-01-15 12:00:00 UTC = 13:00:00 in Paris
const T3: i64 = 1500000000; // 2017-07-14 02:40:00 UTC
const T5: i64 = 1600000000; // 2020-09-13 12:26:40 UTC
const EIFFEL: (f64, f64, f64) = (48.8583701, 2.2944813, 35.2);
const TOKYO: (f64, f64, f64) = (35.6585805, 139.7454329, 0.0);

/// A two-zip Takeout with the usual quirks. Returns the zips.
fn quirky_takeout(dir: &Path) -> Vec<std::path::PathBuf> {
    let plain = fixture("plain.jpg");
    let album = "Takeout/Google Photos/Trip to Paris";
    let mut t = Takeout::new(2);
    t.add(0, "Takeout/archive_browser.html", b"<html></html>".to_vec())
        // Sidecar in the other zip.
        .add(0, format!("{YEAR}/IMG_0001.jpg"), plain.clone())
        .add(
            1,
            format!("{YEAR}/IMG_0001.jpg.json"),
            sidecar("IMG_0001.jpg", T1, Some(EIFFEL)),
        )
        // An album copy of the same photo, with its own sidecar and the album's metadata.
        .add(1, format!("{album}/IMG_0001.jpg"), plain.clone())
        .add(
            1,
            format!("{album}/IMG_0001.jpg.json"),
            sidecar("IMG_0001.jpg", T1, Some(EIFFEL)),
        )
        .add(
            1,
            format!("{album}/metadata.json"),
            album_json("Trip to Paris"),
        )
        // Camera JPEG with its own date; new-style sidecar name.
        .add(0, format!("{YEAR}/IMG_0002.jpg"), fixture("camera.jpg"))
        .add(
            0,
            format!("{YEAR}/IMG_0002.jpg.supplemental-metadata.json"),
            sidecar("IMG_0002.jpg", T1, Some(TOKYO)),
        )
        // A second upload with the same name: (1) moves after the extension.
        .add(
            0,
            format!("{YEAR}/IMG_0003.jpg"),
            jpeg_variant(&plain, "three"),
        )
        .add(
            0,
            format!("{YEAR}/IMG_0003.jpg.json"),
            sidecar("IMG_0003.jpg", T3, None),
        )
        .add(
            1,
            format!("{YEAR}/IMG_0003(1).jpg"),
            jpeg_variant(&plain, "three-again"),
        )
        .add(
            0,
            format!("{YEAR}/IMG_0003.jpg(1).json"),
            sidecar("IMG_0003.jpg", T2, None),
        )
        // An edited copy shares its original's sidecar.
        .add(
            0,
            format!("{YEAR}/IMG_0005.jpg"),
            jpeg_variant(&plain, "five"),
        )
        .add(
            1,
            format!("{YEAR}/IMG_0005-edited.jpg"),
            jpeg_variant(&plain, "five-edited"),
        )
        .add(
            1,
            format!("{YEAR}/IMG_0005.jpg.json"),
            sidecar("IMG_0005.jpg", T5, Some(EIFFEL)),
        )
        // No sidecar anywhere.
        .add(
            1,
            format!("{YEAR}/lonely.jpg"),
            jpeg_variant(&plain, "lonely"),
        )
        // A video: copied as-is, mtime set.
        .add(0, format!("{YEAR}/VID_0006.mp4"), fixture("clip.mp4"))
        .add(
            1,
            format!("{YEAR}/VID_0006.mp4.json"),
            sidecar("VID_0006.mp4", T2, None),
        );
    t.write(&dir.join("in"))
}

#[test]
fn two_zip_takeout_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let zips = quirky_takeout(tmp.path());
    let before = snapshot(&zips);
    let out = tmp.path().join("photos");
    let (o, report) = process(&zips, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));

    assert_eq!(
        listing(&out),
        [
            "IMG_0001.jpg",
            "IMG_0002.jpg",
            "IMG_0003(1).jpg",
            "IMG_0003.jpg",
            "IMG_0005-edited.jpg",
            "IMG_0005.jpg",
            "VID_0006.mp4",
            "lonely.jpg"
        ]
    );

    // Dates and GPS, read back with kamadak-exif.
    let e = exif_of(&out.join("IMG_0001.jpg"));
    assert_eq!(
        exif_ascii(&e, exif::Tag::DateTimeOriginal).as_deref(),
        Some("2019:07:04 17:10:12")
    );
    assert_eq!(
        exif_ascii(&e, exif::Tag::OffsetTimeOriginal).as_deref(),
        Some("+02:00")
    );
    assert_eq!(
        exif_ascii(&e, exif::Tag::DateTimeDigitized).as_deref(),
        Some("2019:07:04 17:10:12")
    );
    let lat = exif_coord(&e, exif::Tag::GPSLatitude, exif::Tag::GPSLatitudeRef).unwrap();
    let lon = exif_coord(&e, exif::Tag::GPSLongitude, exif::Tag::GPSLongitudeRef).unwrap();
    assert!(
        (lat - EIFFEL.0).abs() < 1e-6 && (lon - EIFFEL.1).abs() < 1e-6,
        "{lat},{lon}"
    );

    // The camera's own date is kept; its make survives; the sidecar's position is added.
    let e = exif_of(&out.join("IMG_0002.jpg"));
    assert_eq!(exif_ascii(&e, exif::Tag::Make).as_deref(), Some("Canon"));
    assert_eq!(
        exif_ascii(&e, exif::Tag::DateTimeOriginal).as_deref(),
        Some("2019:07:04 17:10:12")
    );
    let lon = exif_coord(&e, exif::Tag::GPSLongitude, exif::Tag::GPSLongitudeRef).unwrap();
    assert!((lon - TOKYO.1).abs() < 1e-6);

    let e = exif_of(&out.join("IMG_0003(1).jpg"));
    assert_eq!(
        exif_ascii(&e, exif::Tag::DateTimeOriginal).as_deref(),
        Some("2020:01:15 13:00:00")
    );
    assert_eq!(
        exif_ascii(&e, exif::Tag::OffsetTimeOriginal).as_deref(),
        Some("+01:00")
    );
    let e = exif_of(&out.join("IMG_0003.jpg"));
    assert_eq!(
        exif_ascii(&e, exif::Tag::DateTimeOriginal).as_deref(),
        Some("2017:07:14 04:40:00")
    );
    assert!(
        e.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
            .is_none(),
        "no GPS in its sidecar"
    );
    let e = exif_of(&out.join("IMG_0005-edited.jpg"));
    assert_eq!(
        exif_ascii(&e, exif::Tag::DateTimeOriginal).as_deref(),
        Some("2020:09:13 14:26:40")
    );

    // Modification times are the date taken.
    for (name, t) in [
        ("IMG_0001.jpg", T1),
        ("IMG_0002.jpg", T1),
        ("IMG_0003.jpg", T3),
        ("IMG_0003(1).jpg", T2),
        ("IMG_0005.jpg", T5),
        ("IMG_0005-edited.jpg", T5),
        ("VID_0006.mp4", T2),
    ] {
        assert_eq!(mtime(&out.join(name)), t, "{name}");
    }
    // The video got its creation time; its media data (the last 1170 bytes, mdat) is intact.
    let video = std::fs::read(out.join("VID_0006.mp4")).unwrap();
    let clip = fixture("clip.mp4");
    assert_ne!(video, clip);
    assert_eq!(video[video.len() - 1170..], clip[clip.len() - 1170..]);
    let mvhd = video.windows(4).position(|w| w == b"mvhd").unwrap();
    let created = u32::from_be_bytes(video[mvhd + 8..mvhd + 12].try_into().unwrap()) as i64;
    assert_eq!(created - 2_082_844_800, T2);
    // The file without a sidecar is a byte-for-byte copy.
    assert_eq!(
        std::fs::read(out.join("lonely.jpg")).unwrap(),
        jpeg_variant(&fixture("plain.jpg"), "lonely")
    );

    // The report accounts for every media entry.
    let media = report["media"].as_array().unwrap();
    assert_eq!(media.len(), 9);
    let status = |s: &str| {
        report_entry(&report, s)["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status("Photos from 2019/IMG_0001.jpg"), "written");
    assert_eq!(status("Trip to Paris/IMG_0001.jpg"), "duplicate");
    assert_eq!(
        report_entry(&report, "Trip to Paris/IMG_0001.jpg")["output"],
        "IMG_0001.jpg"
    );
    assert_eq!(status("lonely.jpg"), "written-without-metadata");
    assert!(!report_entry(&report, "lonely.jpg")["tried"]
        .as_array()
        .unwrap()
        .is_empty());
    let rule = |s: &str| {
        report_entry(&report, s)["rule"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(rule("IMG_0002.jpg"), "supplemental");
    assert_eq!(rule("IMG_0003(1).jpg"), "numbered");
    assert_eq!(rule("IMG_0005-edited.jpg"), "edited");
    assert!(report["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i.as_str().unwrap().ends_with("archive_browser.html")));
    assert!(
        report["unused_sidecars"].as_array().unwrap().is_empty(),
        "{}",
        report["unused_sidecars"]
    );
    let summary = stderr(&o);
    assert!(
        summary.contains("9 media files: 8 written (1 without a sidecar), 1 duplicate, 0 failed"),
        "{summary}"
    );
    assert!(
        summary.contains("8 of 9 photos and videos found their Google Photos metadata"),
        "{summary}"
    );

    assert_eq!(snapshot(&zips), before, "inputs must be untouched");
}

#[test]
fn the_same_input_twice_and_a_rerun_write_nothing_new() {
    let tmp = tempfile::tempdir().unwrap();
    let zips = quirky_takeout(tmp.path());
    let before = snapshot(&zips);
    let out = tmp.path().join("photos");
    // The same zips named twice in one run (a re-download).
    let copy = tmp.path().join("redownload.zip");
    std::fs::copy(&zips[0], &copy).unwrap();
    let mut inputs = zips.clone();
    inputs.push(copy);
    let (o, _) = process(&inputs, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first = listing(&out);
    assert_eq!(first.len(), 8);
    let stamp: Vec<i64> = first.iter().map(|n| mtime(&out.join(n))).collect();

    let (o, report) = process(&zips, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(&out), first, "a rerun writes no new file");
    assert_eq!(
        first
            .iter()
            .map(|n| mtime(&out.join(n)))
            .collect::<Vec<_>>(),
        stamp
    );
    for m in report["media"].as_array().unwrap() {
        assert_eq!(m["status"], "in-library", "{m}");
    }
    assert_eq!(snapshot(&zips), before);
    // No temp files are left behind.
    assert_eq!(
        std::fs::read_dir(out.join(".gpbackup/tmp"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn dry_run_writes_nothing_but_counts_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let zips = quirky_takeout(tmp.path());
    let out = tmp.path().join("photos");
    let (o, report) = process(&zips, &out, &["--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!out.exists());
    assert!(stderr(&o).contains("8 would be written"), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("A record of this run"),
        "{}",
        stderr(&o)
    );
    assert_eq!(report["media"].as_array().unwrap().len(), 9);
    // `-v` says what would be done, not what was.
    let (o, _) = process(&zips, &out, &["--dry-run", "-v"]);
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("would write "), "{said}");
    assert!(!said.contains("written "), "{said}");
    assert!(!out.exists());
}

/// Every run, without `--report` too, leaves its JSON report and a readable log in
/// `OUTPUT/.gpbackup/reports/`, named by the time it started, and its summary ends saying
/// where. The log holds the summary and each file with something to say, one per line.
#[test]
fn every_run_leaves_a_record_named_in_its_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let zips = quirky_takeout(tmp.path());
    let out = tmp.path().join("photos");
    let run = || {
        let mut args: Vec<&std::ffi::OsStr> = vec!["process".as_ref(), "-o".as_ref()];
        args.push(out.as_os_str());
        args.extend(zips.iter().map(|z| z.as_os_str()));
        gpbackup(&args)
    };
    let o = run();
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stderr(&o);
    let last = s.lines().last().unwrap();
    let log = PathBuf::from(
        last.strip_prefix("A record of this run: ")
            .unwrap_or_else(|| panic!("{s}")),
    );
    assert_eq!(log.parent().unwrap(), out.join(".gpbackup/reports"));
    let name = log.file_name().unwrap().to_str().unwrap();
    // 2026-12-07T20-55-00-process.log
    assert_eq!(
        name.len(),
        "2026-12-07T20-55-00-process.log".len(),
        "{name}"
    );
    assert!(
        name.ends_with("-process.log") && name.as_bytes()[10] == b'T',
        "{name}"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with(s.lines().next().unwrap()), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("written without metadata: ") && l.contains(".zip:")),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(log.with_extension("json")).unwrap()).unwrap();
    assert_eq!(json["media"].as_array().unwrap().len(), 9);
    // A second run in the same second keeps the first one's record.
    let o = run();
    assert!(o.status.success(), "{}", stderr(&o));
    let records = std::fs::read_dir(out.join(".gpbackup/reports"))
        .unwrap()
        .count();
    assert_eq!(records, 4);
}

#[test]
fn extracted_folders_work_like_zips() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("extracted");
    let mut t = Takeout::new(1);
    t.add(0, format!("{YEAR}/IMG_0001.jpg"), fixture("plain.jpg"))
        .add(
            0,
            format!("{YEAR}/IMG_0001.jpg.json"),
            sidecar("IMG_0001.jpg", T1, Some(EIFFEL)),
        );
    let folder = t.extract(0, &root);
    let out = tmp.path().join("photos");
    let (o, _) = process(&[folder], &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = exif_of(&out.join("IMG_0001.jpg"));
    assert_eq!(
        exif_ascii(&e, exif::Tag::DateTimeOriginal).as_deref(),
        Some("2019:07:04 17:10:12")
    );
    assert_eq!(mtime(&out.join("IMG_0001.jpg")), T1);
}

#[test]
fn a_zip_and_its_extracted_copy_give_each_photo_once() {
    // The zip's entries have a CRC-32, the folder's files none: the same photo is in two
    // duplicate groups, and only the write stage's registry of contents tells they are one.
    let tmp = tempfile::tempdir().unwrap();
    let plain = fixture("plain.jpg");
    let mut t = Takeout::new(1);
    for (n, tag, when) in [(1, "one", T1), (2, "two", T2)] {
        t.add(
            0,
            format!("{YEAR}/IMG_000{n}.jpg"),
            jpeg_variant(&plain, tag),
        )
        .add(
            0,
            format!("{YEAR}/IMG_000{n}.jpg.json"),
            sidecar(&format!("IMG_000{n}.jpg"), when, None),
        );
    }
    let mut inputs = t.write(tmp.path());
    let root = tmp.path().join("extracted");
    inputs.push(t.extract(0, &root));
    let out = tmp.path().join("photos");
    let (o, report) = process(&inputs, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(&out), ["IMG_0001.jpg", "IMG_0002.jpg"]);
    let lines = report["media"].as_array().unwrap();
    assert_eq!(lines.len(), 4, "{report:#}");
    for name in ["IMG_0001.jpg", "IMG_0002.jpg"] {
        let of_it: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|m| m["source"].as_str().unwrap().ends_with(name))
            .collect();
        let mut statuses: Vec<&str> = of_it
            .iter()
            .map(|m| m["status"].as_str().unwrap())
            .collect();
        statuses.sort();
        assert_eq!(statuses, ["duplicate", "written"], "{name}: {report:#}");
        assert!(
            of_it.iter().all(|m| m["output"] == name),
            "{name}: {report:#}"
        );
    }
}

#[test]
fn several_extracted_folders_each_read_their_own_files() {
    // Parts extracted into folders of their own, given together: every file is read from its
    // own folder (the catalog numbers the files of all folders in one list).
    let tmp = tempfile::tempdir().unwrap();
    let plain = fixture("plain.jpg");
    let mut t = Takeout::new(2);
    for (part, tag, n, when) in [(0, "first part", 1, T1), (1, "second part", 2, T2)] {
        t.add(
            part,
            format!("{YEAR}/IMG_000{n}.jpg"),
            jpeg_variant(&plain, tag),
        )
        .add(
            part,
            format!("{YEAR}/IMG_000{n}.jpg.json"),
            sidecar(&format!("IMG_000{n}.jpg"), when, None),
        );
    }
    let mut roots = Vec::new();
    for (k, part) in t.parts.iter().enumerate() {
        let root = tmp.path().join(format!("part{k}"));
        for (path, bytes) in part {
            let p = root.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
        roots.push(root.join("Takeout"));
    }
    let out = tmp.path().join("photos");
    let (o, report) = process(&roots, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(&out), ["IMG_0001.jpg", "IMG_0002.jpg"]);
    for (n, tag, when, part) in [
        (1, "first part", T1, "part0"),
        (2, "second part", T2, "part1"),
    ] {
        let name = format!("IMG_000{n}.jpg");
        let bytes = std::fs::read(out.join(&name)).unwrap();
        assert!(
            bytes.windows(tag.len()).any(|w| w == tag.as_bytes()),
            "{name}"
        );
        assert_eq!(mtime(&out.join(&name)), when, "{name}");
        let line = report["media"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["output"] == name.as_str())
            .unwrap();
        let source = line["source"].as_str().unwrap();
        assert!(source.contains(part) && source.ends_with(&name), "{source}");
    }
}

#[test]
fn name_collisions_between_different_photos_are_numbered() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = fixture("plain.jpg");
    let mut t = Takeout::new(1);
    t.add(0, format!("{YEAR}/IMG_0001.jpg"), jpeg_variant(&plain, "a"))
        .add(
            0,
            format!("{YEAR}/IMG_0001.jpg.json"),
            sidecar("IMG_0001.jpg", T1, None),
        )
        .add(
            0,
            "Takeout/Google Photos/Photos from 2020/IMG_0001.jpg",
            jpeg_variant(&plain, "b"),
        )
        .add(
            0,
            "Takeout/Google Photos/Photos from 2020/IMG_0001.jpg.json",
            sidecar("IMG_0001.jpg", T2, None),
        );
    let zips = t.write(&tmp.path().join("in"));
    let out = tmp.path().join("photos");
    let (o, _) = process(&zips, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(&out), ["IMG_0001 (2).jpg", "IMG_0001.jpg"]);
    assert_eq!(mtime(&out.join("IMG_0001.jpg")), T1);
    assert_eq!(mtime(&out.join("IMG_0001 (2).jpg")), T2);
}

#[test]
fn unusable_inputs_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("photos");
    let missing = tmp.path().join("nope.zip");
    let (o, _) = process(&[missing], &out, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope.zip"), "{}", stderr(&o));
    let notzip = tmp.path().join("notes.zip");
    std::fs::write(&notzip, b"this is not a zip").unwrap();
    let (o, _) = process(&[notzip], &out, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a zip file, or a damaged one: download this part again"),
        "{}",
        stderr(&o)
    );
    assert!(
        !out.exists(),
        "nothing is created before the inputs are checked"
    );
}

#[test]
fn exiftool_reads_what_we_wrote() {
    if !have_exiftool() {
        eprintln!("exiftool not installed: skipped outside CI");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let zips = quirky_takeout(tmp.path());
    let out = tmp.path().join("photos");
    let (o, _) = process(&zips, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = exiftool(&out.join("IMG_0001.jpg"), &[]);
    assert_eq!(j["DateTimeOriginal"], "2019:07:04 17:10:12");
    assert_eq!(j["OffsetTimeOriginal"], "+02:00");
    assert_eq!(j["CreateDate"], "2019:07:04 17:10:12");
    assert!(
        (j["GPSLatitude"].as_f64().unwrap() - EIFFEL.0).abs() < 1e-6,
        "{j}"
    );
    assert!(
        (j["GPSLongitude"].as_f64().unwrap() - EIFFEL.1).abs() < 1e-6,
        "{j}"
    );
    assert!(
        (j["GPSAltitude"].as_f64().unwrap() - EIFFEL.2).abs() < 0.01,
        "{j}"
    );
    let j = exiftool(&out.join("IMG_0002.jpg"), &[]);
    assert_eq!(j["Make"], "Canon");
    assert_eq!(j["Model"], "Canon EOS 80D");
    assert!(
        (j["GPSLatitude"].as_f64().unwrap() - TOKYO.0).abs() < 1e-6,
        "{j}"
    );
    // The EXIF we create, and the camera EXIF we extend, pass exiftool's validation.
    for name in ["IMG_0001.jpg", "IMG_0002.jpg", "IMG_0005-edited.jpg"] {
        let v = exiftool(&out.join(name), &["-validate", "-warning", "-error", "-a"]);
        assert_eq!(
            v["Validate"], "0 0 0",
            "{name}: errors, warnings, minor: {v}"
        );
    }
    // Maker-independent camera tags survive the rewrite unchanged.
    let before = exiftool(&fixture_path("camera.jpg"), &["-EXIF:all"]);
    let after = exiftool(&out.join("IMG_0002.jpg"), &["-EXIF:all"]);
    for tag in [
        "Make",
        "Model",
        "Orientation",
        "Software",
        "DateTimeOriginal",
        "OffsetTimeOriginal",
        "ExifVersion",
    ] {
        assert_eq!(before[tag], after[tag], "{tag}");
    }
}

#[test]
fn zip64_archives_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    let files = vec![
        (format!("{YEAR}/IMG_0001.jpg"), fixture("plain.jpg")),
        (
            format!("{YEAR}/IMG_0001.jpg.json"),
            sidecar("IMG_0001.jpg", T1, Some(EIFFEL)),
        ),
    ];
    let bytes = zip_bytes_with(&files, true);
    // The archive really is zip64: its end-of-central-directory locator is there.
    assert!(
        bytes.windows(4).any(|w| w == b"PK\x06\x07"),
        "no zip64 locator"
    );
    let zip = tmp.path().join("takeout-001.zip");
    std::fs::write(&zip, bytes).unwrap();
    let out = tmp.path().join("photos");
    let (o, _) = process(&[zip], &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = exif_of(&out.join("IMG_0001.jpg"));
    assert_eq!(
        exif_ascii(&e, exif::Tag::DateTimeOriginal).as_deref(),
        Some("2019:07:04 17:10:12")
    );
}

#[test]
fn the_date_corrected_in_google_photos_wins_unless_keep_camera_dates() {
    let tmp = tempfile::tempdir().unwrap();
    let mut t = Takeout::new(1);
    // The camera says 2019-07-04; the user corrected it to 2020-01-15 in Google Photos.
    t.add(0, format!("{YEAR}/IMG_0002.jpg"), fixture("camera.jpg"))
        .add(
            0,
            format!("{YEAR}/IMG_0002.jpg.json"),
            sidecar("IMG_0002.jpg", T2, None),
        );
    let zips = t.write(&tmp.path().join("in"));

    // By default the correction wins, in the file, its mtime and the report; the camera's
    // date is named, and kept in the manifest.
    let out = tmp.path().join("corrected");
    let (o, report) = process(&zips, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = exif_of(&out.join("IMG_0002.jpg"));
    assert_eq!(
        exif_ascii(&e, exif::Tag::DateTimeOriginal).as_deref(),
        Some("2020:01:15 13:00:00")
    );
    assert_eq!(exif_ascii(&e, exif::Tag::Make).as_deref(), Some("Canon"));
    assert_eq!(mtime(&out.join("IMG_0002.jpg")), T2);
    let entry = report_entry(&report, "IMG_0002.jpg");
    assert_eq!(entry["date_source"], "sidecar", "{entry}");
    assert!(
        entry["notes"]
            .to_string()
            .contains("replaces the camera's (2019-07-04 17:10:12)"),
        "{entry}"
    );
    let manifest = std::fs::read_to_string(out.join(".gpbackup/manifest.jsonl")).unwrap();
    assert!(
        manifest.contains(r#""camera_date":"2019:07:04 17:10:12""#),
        "{manifest}"
    );

    let out = tmp.path().join("kept");
    let (o, report) = process(&zips, &out, &["--keep-camera-dates"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = exif_of(&out.join("IMG_0002.jpg"));
    assert_eq!(
        exif_ascii(&e, exif::Tag::DateTimeOriginal).as_deref(),
        Some("2019:07:04 17:10:12")
    );
    let notes = report_entry(&report, "IMG_0002.jpg")["notes"].to_string();
    assert!(
        notes.contains("differs from the sidecar's by 194 days"),
        "{notes}"
    );
    // The summary names it, with what the other choice does.
    let said = stderr(&o);
    assert!(
        said.contains(
            "kept the camera's date taken of 1 file though Google Photos has another more than \
             a day away: IMG_0002.jpg (194 days apart). Without --keep-camera-dates"
        ),
        "{said}"
    );
    // One date per photo: the date the file keeps drives its mtime and the report too.
    assert_eq!(
        mtime(&out.join("IMG_0002.jpg")),
        T1,
        "the mtime is the camera's date taken, the one in the file"
    );
    assert_eq!(report_entry(&report, "IMG_0002.jpg")["taken"], T1);
    assert_eq!(report_entry(&report, "IMG_0002.jpg")["date_source"], "exif");
    let by_year = tmp.path().join("by-year");
    let (o, _) = process(
        &zips,
        &by_year,
        &["--layout", "year", "--keep-camera-dates"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        by_year.join("2019/IMG_0002.jpg").is_file(),
        "the camera's year"
    );

    let out = tmp.path().join("overwritten");
    let (o, report) = process(&zips, &out, &["--overwrite-dates", "--layout", "year"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        report_entry(&report, "IMG_0002.jpg")["date_source"],
        "sidecar"
    );
    let out = out.join("2020");
    assert_eq!(mtime(&out.join("IMG_0002.jpg")), T2);
    let e = exif_of(&out.join("IMG_0002.jpg"));
    assert_eq!(
        exif_ascii(&e, exif::Tag::DateTimeOriginal).as_deref(),
        Some("2020:01:15 13:00:00")
    );
    assert_eq!(
        exif_ascii(&e, exif::Tag::OffsetTimeOriginal).as_deref(),
        Some("+01:00")
    );
    assert_eq!(exif_ascii(&e, exif::Tag::Make).as_deref(), Some("Canon"));
}

#[test]
fn a_missing_part_is_named_with_what_it_may_explain() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = fixture("plain.jpg");
    let mut t = Takeout::new(3);
    // a.jpg's sidecar is in part 2, b.jpg is in part 2 and its sidecar in part 3.
    t.add(0, format!("{YEAR}/a.jpg"), jpeg_variant(&plain, "a"))
        .add(1, format!("{YEAR}/a.jpg.json"), sidecar("a.jpg", T1, None))
        .add(1, format!("{YEAR}/b.jpg"), jpeg_variant(&plain, "b"))
        .add(2, format!("{YEAR}/b.jpg.json"), sidecar("b.jpg", T2, None))
        .add(2, format!("{YEAR}/c.jpg"), jpeg_variant(&plain, "c"))
        .add(2, format!("{YEAR}/c.jpg.json"), sidecar("c.jpg", T3, None));
    let zips = t.write(&tmp.path().join("in"));
    let out = tmp.path().join("photos");
    let (o, report) = process(&[zips[0].clone(), zips[2].clone()], &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stderr(&o);
    assert!(
        s.contains(
            "missing: part 002 of takeout-20231030T151007Z (parts up to 003 were given): it may \
             hold the sidecar of the 1 file written without one and the photo of the 1 unused \
             sidecar. Process it when you have it: the files it completes are updated."
        ),
        "{s}"
    );
    assert_eq!(report["missing_parts"][0]["missing"][0], "002");
    // All parts given: nothing is said to be missing.
    let (o, report) = process(&zips, &tmp.path().join("all"), &[]);
    assert!(!stderr(&o).contains("missing:"), "{}", stderr(&o));
    assert!(report.get("missing_parts").is_none());
}

#[test]
fn a_photo_in_the_trash_is_left_out_from_a_zip_and_its_extracted_copy_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = fixture("plain.jpg");
    let mut trashed: serde_json::Value =
        serde_json::from_slice(&sidecar("IMG_0009.jpg", T1, None)).unwrap();
    trashed["trashed"] = serde_json::Value::Bool(true);
    let mut t = Takeout::new(1);
    t.add(
        0,
        format!("{YEAR}/IMG_0009.jpg"),
        jpeg_variant(&plain, "bin"),
    )
    .add(
        0,
        format!("{YEAR}/IMG_0009.jpg.json"),
        serde_json::to_vec(&trashed).unwrap(),
    )
    .add(
        0,
        format!("{YEAR}/IMG_0001.jpg"),
        jpeg_variant(&plain, "kept"),
    )
    .add(
        0,
        format!("{YEAR}/IMG_0001.jpg.json"),
        sidecar("IMG_0001.jpg", T2, None),
    );
    let mut inputs = t.write(tmp.path());
    let root = tmp.path().join("extracted");
    inputs.push(t.extract(0, &root));
    let out = tmp.path().join("photos");
    let (o, report) = process(&inputs, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(&out), ["IMG_0001.jpg"], "{report:#}");
    let statuses: Vec<(&str, &str)> = report["media"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["source"].as_str().unwrap().ends_with("IMG_0009.jpg"))
        .map(|m| (m["source"].as_str().unwrap(), m["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    assert!(
        statuses.iter().all(|(_, s)| *s == "skipped"),
        "{statuses:?}"
    );
}
