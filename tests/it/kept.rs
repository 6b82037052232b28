//! What the user typed, corrected and sorted in Google Photos survives (issue 25), and what
//! other programs left among the photos is not taken for a photo.

use std::path::PathBuf;

use crate::common::*;

#[test]
fn junk_other_programs_leave_is_not_a_photo() {
    // A zip made on a Mac from a Synology share: AppleDouble halves, folder files, thumbnail
    // folders, beside two real photos (one in an album).
    let tmp = tempfile::tempdir().unwrap();
    let y = format!("{GP}/Photos from 2019");
    let trip = format!("{GP}/Trip");
    let junk = [
        format!("{y}/._IMG_0002.jpg"),
        format!("{y}/.DS_Store"),
        format!("{y}/Thumbs.db"),
        format!("{y}/desktop.ini"),
        format!("{y}/@eaDir/IMG_0002.jpg/SYNOPHOTO_THUMB_M.jpg"),
        format!("{y}/@eaDir/IMG_0002.jpg/SYNOPHOTO_THUMB_XL.jpg"),
        format!("{trip}/._IMG_0002.jpg"),
        format!("__MACOSX/{y}/._IMG_0002.jpg"),
    ];
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (format!("{y}/IMG_0002.jpg"), photo("<2>")),
        (
            format!("{y}/IMG_0002.jpg.json"),
            sidecar("IMG_0002.jpg", 1_562_253_012, None),
        ),
        (format!("{trip}/IMG_0002.jpg"), photo("<2>")),
        (format!("{trip}/metadata.json"), album_json("Trip")),
    ];
    files.extend(junk.iter().map(|p| (p.clone(), photo("<junk>"))));
    let zip: PathBuf = export(&tmp.path().join("in"), "20240101T000000Z", &files);
    let out = tmp.path().join("out");
    let (o, report) = process(std::slice::from_ref(&zip), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let library: Vec<String> = files_of(&out).into_keys().collect();
    assert_eq!(library, ["IMG_0002.jpg"], "{}", stderr(&o));
    let ignored: Vec<String> = report["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().rsplit_once(':').unwrap().1.to_string())
        .collect();
    for j in &junk {
        assert!(
            ignored.contains(j),
            "{j} not listed as ignored: {ignored:?}"
        );
    }
    let albums = &report["albums"];
    assert_eq!(
        albums[0]["files"],
        serde_json::json!(["IMG_0002.jpg"]),
        "{albums}"
    );
    let v = gpbackup(&[
        "verify".as_ref(),
        out.as_os_str(),
        "--against".as_ref(),
        zip.as_os_str(),
    ]);
    assert!(v.status.success(), "{}", stderr(&v));
}

/// A sidecar saying `caption`, taken at 2019-07-04 15:10:12 UTC.
fn captioned(title: &str, caption: &str) -> Vec<u8> {
    let mut v: serde_json::Value =
        serde_json::from_slice(&sidecar(title, 1_562_253_012, None)).unwrap();
    v["description"] = caption.into();
    serde_json::to_vec_pretty(&v).unwrap()
}

#[test]
fn a_caption_beats_a_cameras_placeholder_and_a_videos_caption_is_in_its_xmp() {
    if !have_exiftool() {
        return;
    }
    // A real Olympus photo whose ImageDescription is "OLYMPUS DIGITAL CAMERA", and a video:
    // both captioned in Google Photos.
    let tmp = tempfile::tempdir().unwrap();
    let y = format!("{GP}/Photos from 2010");
    let olympus = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/cameras/2010-09-02-08-43-02_2010-09-02-08-43-02a.jpg"),
    )
    .unwrap();
    let files = [
        (format!("{y}/P9020001.JPG"), olympus),
        (
            format!("{y}/P9020001.JPG.json"),
            captioned("P9020001.JPG", "Grandma's garden"),
        ),
        (format!("{y}/VID_1.mp4"), fixture("clip.mp4")),
        (
            format!("{y}/VID_1.mp4.json"),
            captioned("VID_1.mp4", "First steps"),
        ),
    ];
    let zip = export(&tmp.path().join("in"), "20240101T000000Z", &files);
    let out = tmp.path().join("out");
    let (o, report) = process(std::slice::from_ref(&zip), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let photo = exiftool(&out.join("P9020001.JPG"), &["-ImageDescription", "-Make"]);
    assert_eq!(photo["ImageDescription"], "Grandma's garden", "{photo}");
    assert_eq!(photo["Make"], "OLYMPUS IMAGING CORP.", "{photo}");
    let notes = report_entry(&report, "P9020001.JPG")["notes"].to_string();
    assert!(notes.contains("OLYMPUS DIGITAL CAMERA"), "{notes}");
    // The video's caption: in its XMP sidecar, said in the report.
    let xmp = exiftool(&out.join("VID_1.mp4.xmp"), &["-XMP-dc:Description"]);
    assert_eq!(xmp["Description"], "First steps", "{xmp}");
    let notes = report_entry(&report, "VID_1.mp4")["notes"].to_string();
    assert!(notes.contains("XMP sidecar"), "{notes}");
}

#[test]
fn albums_of_one_title_and_untitled_albums_stay_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let album = |folder: &str, title: &str, tag: &str| -> Vec<(String, Vec<u8>)> {
        let meta = serde_json::to_vec(&serde_json::json!({ "title": title })).unwrap();
        vec![
            (format!("{GP}/{folder}/metadata.json"), meta),
            (format!("{GP}/{folder}/IMG_{tag}.jpg"), photo(tag)),
            (
                format!("{GP}/{folder}/IMG_{tag}.jpg.json"),
                sidecar(&format!("IMG_{tag}.jpg"), 1_562_253_012, None),
            ),
        ]
    };
    let mut t = Takeout::new(2);
    for (part, files) in [
        (0, album("Viaje a León", "Viaje a León", "1")),
        (0, album("Viaje a León(1)", "Viaje a León", "2")),
        (1, album("Untitled(1)", "", "3")),
        (1, album("Untitled(2)", "", "4")),
    ] {
        for (path, bytes) in files {
            t.add(part, path, bytes);
        }
    }
    let parts = t.write(&tmp.path().join("in"));
    let titles = |out: &std::path::Path| -> Vec<(String, Vec<String>)> {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("albums.json")).unwrap()).unwrap();
        let mut got: Vec<(String, Vec<String>)> = (v["albums"].as_array().unwrap().iter())
            .map(|a| {
                let files = a["files"].as_array().unwrap().iter();
                let files = files.map(|f| f.as_str().unwrap().to_string()).collect();
                (a["title"].as_str().unwrap().to_string(), files)
            })
            .collect();
        got.sort();
        got
    };
    let one = tmp.path().join("one");
    let (o, _) = process(&parts, &one, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want: Vec<(String, Vec<String>)> = [
        ("Untitled(1)", "IMG_3.jpg"),
        ("Untitled(2)", "IMG_4.jpg"),
        ("Viaje a León", "IMG_1.jpg"),
        ("Viaje a León (1)", "IMG_2.jpg"),
    ]
    .iter()
    .map(|(t, f)| (t.to_string(), vec![f.to_string()]))
    .collect();
    assert_eq!(titles(&one), want);
    let split = tmp.path().join("split");
    for p in [&parts[1], &parts[0]] {
        let (o, _) = process(std::slice::from_ref(p), &split, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(titles(&split), want);
}

/// Runs `gpbackup process ZIP -o OUT --timezone auto` with the machine in zone `tz`.
fn process_in_zone(zip: &std::path::Path, out: &std::path::Path, tz: &str) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_gpbackup"))
        .args(["process", "--timezone", "auto", "-o"])
        .arg(out)
        .arg(zip)
        .env("TZ", tz)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_cameras_date_without_offset_gets_the_one_its_sidecar_implies_on_any_machine() {
    if !have_exiftool() {
        return;
    }
    // A real Samsung photo (ExifVersion 0220: no offset tags) dated 2004-01-11 22:45:15 by
    // its clock; Google Photos says 21:45:15 UTC: the photo was taken at +01:00.
    let tmp = tempfile::tempdir().unwrap();
    let name = "2004-01-11-22-45-15_2004-01-11-22-45-15a.jpg";
    let samsung = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/cameras")
            .join(name),
    )
    .unwrap();
    let instant = 1_073_857_515; // 2004-01-11 21:45:15 UTC
    let y = format!("{GP}/Photos from 2004");
    let files = [
        (format!("{y}/{name}"), samsung),
        (format!("{y}/{name}.json"), sidecar(name, instant, None)),
    ];
    let zip = export(&tmp.path().join("in"), "20240101T000000Z", &files);
    let mut libraries = Vec::new();
    for tz in ["UTC", "America/New_York", "Asia/Kolkata"] {
        let out = tmp.path().join(tz.replace('/', "-"));
        process_in_zone(&zip, &out, tz);
        let photo = out.join(name);
        // The camera's date stays; its offset goes to XMP in the file (ExifVersion 0220 has
        // no offset tags).
        let j = exiftool(&photo, &["-a", "-G1", "-DateTimeOriginal"]);
        assert_eq!(
            j["ExifIFD:DateTimeOriginal"], "2004:01:11 22:45:15",
            "{tz}: {j}"
        );
        assert_eq!(
            j["XMP-exif:DateTimeOriginal"], "2004:01:11 22:45:15+01:00",
            "{tz}: {j}"
        );
        assert_eq!(mtime(&photo), instant, "{tz}");
        let mtimes: Vec<i64> = files_of(&out).keys().map(|p| mtime(&out.join(p))).collect();
        libraries.push((files_of(&out), mtimes));
    }
    assert!(
        libraries.windows(2).all(|w| w[0] == w[1]),
        "the zone of the machine shows"
    );
}

#[test]
fn a_date_corrected_in_google_photos_replaces_a_cameras_in_place() {
    if !have_exiftool() {
        return;
    }
    // A real Olympus photo; Google Photos says it was taken nine years later (the camera's
    // clock was never set). The corrected date replaces the camera's where it is; the
    // makers' notes and every other EXIF value stay.
    let tmp = tempfile::tempdir().unwrap();
    let name = "2010-09-02-08-43-02_2010-09-02-08-43-02a.jpg";
    let input = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/cameras")
        .join(name);
    let y = format!("{GP}/Photos from 2019");
    let corrected = 1_567_410_182; // 2019-09-02 07:43:02 UTC
    let files = [
        (format!("{y}/{name}"), std::fs::read(&input).unwrap()),
        (format!("{y}/{name}.json"), sidecar(name, corrected, None)),
    ];
    let zip = export(&tmp.path().join("in"), "20240101T000000Z", &files);
    let out = tmp.path().join("out");
    let (o, report) = process(
        std::slice::from_ref(&zip),
        &out,
        &["--timezone", "Europe/Paris"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let output = out.join(name);
    let (b, a) = (
        exiftool(&input, &["-a", "-G0:1"]),
        exiftool(&output, &["-a", "-G0:1"]),
    );
    assert_eq!(
        a["EXIF:ExifIFD:DateTimeOriginal"], "2019:09:02 09:43:02",
        "{a}"
    );
    for (k, v) in b.as_object().unwrap() {
        let ours = ["DateTimeOriginal", "CreateDate", "OffsetTime"]
            .iter()
            .any(|t| k.contains(t));
        if (k.starts_with("EXIF:") || k.starts_with("MakerNotes:")) && !ours {
            assert_eq!(a.get(k), Some(v), "{k}");
        }
    }
    assert_eq!(mtime(&output), corrected);
    let notes = report_entry(&report, name)["notes"].to_string();
    assert!(
        notes.contains("replaces the camera's (2010-09-02 08:43:02)"),
        "{notes}"
    );
    // The summary names it, with the camera's date.
    assert!(
        stderr(&o).contains(&format!(
            "dated as you corrected it in Google Photos, not as its camera said: {name} (camera: \
             2010-09-02 08:43:02)"
        )),
        "{}",
        stderr(&o)
    );
    // The camera's own date stays readable: its DateTimeDigitized in the file, and in the XMP.
    assert_eq!(a["EXIF:ExifIFD:CreateDate"], "2010:09:02 08:43:02", "{a}");
    let xmp = exiftool(&out.join(format!("{name}.xmp")), &["-XMP:all"]);
    assert_eq!(xmp["DateTimeDigitized"], "2010:09:02 08:43:02", "{xmp}");
    assert_eq!(xmp["CreateDate"], "2010:09:02 08:43:02", "{xmp}");
    assert_eq!(
        xmp["DateTimeOriginal"], "2019:09:02 09:43:02+02:00",
        "{xmp}"
    );
}

#[test]
fn a_position_moved_in_google_photos_replaces_the_cameras() {
    if !have_exiftool() {
        return;
    }
    // A real phone photo taken at Temple Square (its GPS); the user moved it 2 km north in
    // Google Photos: geoData is the new place, geoDataExif the camera's.
    let tmp = tempfile::tempdir().unwrap();
    let name = "2012-12-19-21-38-40_temple_square1.jpg";
    let input = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/cameras")
        .join(name);
    let camera = (40.770_338_888_888_9, -111.891_222_222_222);
    let moved = (40.788_4, -111.891_2);
    let mut json: serde_json::Value =
        serde_json::from_slice(&sidecar(name, 1_355_978_320, None)).unwrap();
    json["geoData"] =
        serde_json::json!({"latitude": moved.0, "longitude": moved.1, "altitude": 0.0});
    json["geoDataExif"] =
        serde_json::json!({"latitude": camera.0, "longitude": camera.1, "altitude": 0.0});
    let y = format!("{GP}/Photos from 2012");
    let files = [
        (format!("{y}/{name}"), std::fs::read(&input).unwrap()),
        (
            format!("{y}/{name}.json"),
            serde_json::to_vec(&json).unwrap(),
        ),
    ];
    let zip = export(&tmp.path().join("in"), "20240101T000000Z", &files);
    let out = tmp.path().join("out");
    let (o, report) = process(std::slice::from_ref(&zip), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (b, a) = (
        exiftool(&input, &["-a", "-G0:1"]),
        exiftool(&out.join(name), &["-a", "-G0:1"]),
    );
    let lat = a["Composite:GPSLatitude"].as_f64().unwrap();
    let lon = a["Composite:GPSLongitude"].as_f64().unwrap();
    assert!(
        (lat - moved.0).abs() < 1e-6 && (lon - moved.1).abs() < 1e-6,
        "{a}"
    );
    // Everything else the camera wrote is as it was.
    for (k, v) in b.as_object().unwrap() {
        if (k.starts_with("EXIF:") || k.starts_with("MakerNotes:")) && !k.starts_with("EXIF:GPS:") {
            assert_eq!(a.get(k), Some(v), "{k}");
        }
    }
    let notes = report_entry(&report, name)["notes"].to_string();
    assert!(notes.contains("moved in Google Photos"), "{notes}");
    // Unmoved (both the same): the camera's position stays.
    json["geoData"] = json["geoDataExif"].clone();
    json["geoDataExif"]["latitude"] = serde_json::json!(camera.0);
    let files = [
        (format!("{y}/{name}"), std::fs::read(&input).unwrap()),
        (
            format!("{y}/{name}.json"),
            serde_json::to_vec(&json).unwrap(),
        ),
    ];
    let zip = export(&tmp.path().join("in2"), "20240101T000000Z", &files);
    let out = tmp.path().join("out2");
    let (o, _) = process(std::slice::from_ref(&zip), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let a = exiftool(&out.join(name), &["-a", "-G0:1"]);
    assert_eq!(a["EXIF:GPS:GPSLatitude"], b["EXIF:GPS:GPSLatitude"]);
}

#[test]
fn edited_only_writes_no_original_through_its_album_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let y = format!("{GP}/Photos from 2019");
    let trip = format!("{GP}/Trip");
    let side = |n: &str| sidecar(n, 1_562_253_012, None);
    let files = [
        (format!("{y}/IMG_1.jpg"), photo("<original>")),
        (format!("{y}/IMG_1.jpg.json"), side("IMG_1.jpg")),
        (format!("{y}/IMG_1-edited.jpg"), photo("<edited>")),
        (format!("{trip}/metadata.json"), album_json("Trip")),
        (format!("{trip}/IMG_1.jpg"), photo("<original>")),
        (format!("{trip}/IMG_1.jpg.json"), side("IMG_1.jpg")),
    ];
    let zip = export(&tmp.path().join("in"), "20240101T000000Z", &files);
    let out = tmp.path().join("out");
    let (o, report) = process(std::slice::from_ref(&zip), &out, &["--edited", "only"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let library = files_of(&out);
    assert_eq!(
        library.keys().collect::<Vec<_>>(),
        ["IMG_1-edited.jpg"],
        "{}",
        stderr(&o)
    );
    let album_copy = report_entry(&report, "Trip/IMG_1.jpg");
    assert_eq!(album_copy["status"], "skipped", "{album_copy}");
}

#[test]
fn archived_locked_and_partner_photos_are_kept_apart_in_albums_of_their_own() {
    let tmp = tempfile::tempdir().unwrap();
    let y = format!("{GP}/Photos from 2019");
    let with = |name: &str, field: &str, value: serde_json::Value| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&sidecar(name, 1_562_253_012, None)).unwrap();
        v[field] = value;
        serde_json::to_vec(&v).unwrap()
    };
    let files = [
        (format!("{y}/IMG_1.jpg"), photo("<plain>")),
        (
            format!("{y}/IMG_1.jpg.json"),
            sidecar("IMG_1.jpg", 1_562_253_012, None),
        ),
        (format!("{y}/IMG_2.jpg"), photo("<archived>")),
        (
            format!("{y}/IMG_2.jpg.json"),
            with("IMG_2.jpg", "archived", true.into()),
        ),
        (format!("{GP}/Archive/IMG_3.jpg"), photo("<archive-folder>")),
        (format!("{GP}/Locked Folder/IMG_4.jpg"), photo("<locked>")),
        (format!("{y}/IMG_5.jpg"), photo("<partner>")),
        (
            format!("{y}/IMG_5.jpg.json"),
            with(
                "IMG_5.jpg",
                "googlePhotosOrigin",
                serde_json::json!({"fromPartnerSharing": {}}),
            ),
        ),
    ];
    let zip = export(&tmp.path().join("in"), "20240101T000000Z", &files);
    let out = tmp.path().join("out");
    let (o, report) = process(std::slice::from_ref(&zip), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(files_of(&out).len(), 5, "every photo is in the library");
    let albums: Vec<(String, Vec<String>)> = (report["albums"].as_array().unwrap().iter())
        .map(|a| {
            let files = a["files"].as_array().unwrap().iter();
            (
                a["title"].as_str().unwrap().to_string(),
                files.map(|f| f.as_str().unwrap().to_string()).collect(),
            )
        })
        .collect();
    let want: Vec<(String, Vec<String>)> = [
        ("Google Photos Archive", vec!["IMG_2.jpg", "IMG_3.jpg"]),
        ("Google Photos Locked Folder", vec!["IMG_4.jpg"]),
        ("Google Photos partner sharing", vec!["IMG_5.jpg"]),
    ]
    .into_iter()
    .map(|(t, f)| (t.to_string(), f.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(albums, want);
    // Left out on request, and said why.
    let out = tmp.path().join("left-out");
    let (o, report) = process(
        std::slice::from_ref(&zip),
        &out,
        &["--leave-out", "archive,partner"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let kept: Vec<String> = files_of(&out).into_keys().collect();
    assert_eq!(kept, ["IMG_1.jpg", "IMG_4.jpg"]);
    for name in ["IMG_2.jpg", "IMG_3.jpg", "IMG_5.jpg"] {
        let m = report_entry(&report, &format!("/{name}"));
        assert_eq!(m["status"], "skipped", "{m}");
        assert!(m["reason"].as_str().unwrap().contains("--leave-out"), "{m}");
    }
}

#[test]
fn the_sample_takeout_gives_the_same_bytes_on_machines_in_two_zones() {
    // Only a file dated by its name alone (no sidecar, no date of its own) may differ, in its
    // modification time: nothing in the Takeout tells the zone of its name's clock.
    let tmp = tempfile::tempdir().unwrap();
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample");
    let mut zips: Vec<PathBuf> = std::fs::read_dir(&sample)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "zip"))
        .collect();
    zips.sort();
    let mut runs = Vec::new();
    for tz in ["UTC", "America/New_York"] {
        let out = tmp.path().join(tz.replace('/', "-"));
        let report = tmp.path().join(format!("{}.json", tz.replace('/', "-")));
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_gpbackup"))
            .arg("process")
            .args(&zips)
            .arg("-o")
            .arg(&out)
            .arg("--report")
            .arg(&report)
            .env("TZ", tz)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let r: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        runs.push((out, r));
    }
    let (a, b) = (files_of(&runs[0].0), files_of(&runs[1].0));
    assert_eq!(a, b, "the bytes differ with the machine's zone");
    let by_name_only: Vec<String> = (runs[0].1["media"].as_array().unwrap().iter())
        .filter(|m| m["date_source"] == "file-name")
        .filter_map(|m| m["output"].as_str().map(String::from))
        .collect();
    for path in a.keys() {
        let (ta, tb) = (mtime(&runs[0].0.join(path)), mtime(&runs[1].0.join(path)));
        if !by_name_only.contains(path) && !path.ends_with(".xmp") {
            assert_eq!(ta, tb, "{path}: the mtime differs with the machine's zone");
        }
    }
}

#[test]
fn a_date_corrected_in_google_photos_replaces_a_videos_own() {
    if !have_exiftool() || !have_tool("ffmpeg") {
        return;
    }
    // A camcorder whose clock was never set: its video says 2000-01-01; Google Photos says
    // 2019-07-04 09:00:00 UTC.
    let tmp = tempfile::tempdir().unwrap();
    let video = tmp.path().join("MOV_0001.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=5",
            "-t",
            "1",
        ])
        .args([
            "-metadata",
            "creation_time=2000-01-01T00:00:00Z",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&video)
        .status()
        .unwrap();
    assert!(made.success());
    let instant = 1_562_230_800;
    let y = format!("{GP}/Photos from 2019");
    let files = [
        (format!("{y}/MOV_0001.mp4"), std::fs::read(&video).unwrap()),
        (
            format!("{y}/MOV_0001.mp4.json"),
            sidecar("MOV_0001.mp4", instant, None),
        ),
    ];
    let zip = export(&tmp.path().join("in"), "20240101T000000Z", &files);
    let out = tmp.path().join("out");
    let (o, report) = process(std::slice::from_ref(&zip), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = exiftool(
        &out.join("MOV_0001.mp4"),
        &["-api", "QuickTimeUTC", "-CreateDate"],
    );
    assert_eq!(j["CreateDate"], "2019:07:04 09:00:00+00:00", "{j}");
    assert_eq!(mtime(&out.join("MOV_0001.mp4")), instant);
    let notes = report_entry(&report, "MOV_0001.mp4")["notes"].to_string();
    assert!(
        notes.contains("replaces the video's own (2000-01-01"),
        "{notes}"
    );
    assert_eq!(
        frame_hashes(&video),
        frame_hashes(&out.join("MOV_0001.mp4"))
    );
}

#[test]
fn two_empty_files_are_two_files_each_with_its_date() {
    // Two photos the phone never finished writing: both empty, with sidecars of two days. Each
    // keeps its name and date, in one run and in two (the second empty file comes later).
    let tmp = tempfile::tempdir().unwrap();
    let y = format!("{GP}/Photos from 2019");
    let first = vec![
        (format!("{y}/IMG_0001.jpg"), Vec::new()),
        (
            format!("{y}/IMG_0001.jpg.json"),
            sidecar("IMG_0001.jpg", 1_562_253_012, None),
        ),
    ];
    let second = vec![
        (format!("{y}/IMG_0002.jpg"), Vec::new()),
        (
            format!("{y}/IMG_0002.jpg.json"),
            sidecar("IMG_0002.jpg", 1_262_304_000, None),
        ),
    ];
    let a = export(&tmp.path().join("a"), "20240101T000000Z", &first);
    let b = export(&tmp.path().join("b"), "20240101T000000Z", &second);
    let once = tmp.path().join("once");
    let (o, report) = process(&[a.clone(), b.clone()], &once, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let statuses: Vec<&str> = (report["media"].as_array().unwrap().iter())
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["written", "written"], "{report:#}");
    let twice = tmp.path().join("twice");
    for zip in [&a, &b] {
        let (o, _) = process(std::slice::from_ref(zip), &twice, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    for out in [&once, &twice] {
        let names: Vec<String> = files_of(out).into_keys().collect();
        // (Nothing can be embedded in an empty file: its date is in its XMP sidecar.)
        assert_eq!(
            names,
            [
                "IMG_0001.jpg",
                "IMG_0001.jpg.xmp",
                "IMG_0002.jpg",
                "IMG_0002.jpg.xmp"
            ],
            "{}",
            out.display()
        );
        assert_eq!(mtime(&out.join("IMG_0001.jpg")), 1_562_253_012);
        assert_eq!(mtime(&out.join("IMG_0002.jpg")), 1_262_304_000);
        let v = gpbackup(&[
            "verify".as_ref(),
            out.as_os_str(),
            "--against".as_ref(),
            a.as_os_str(),
            b.as_os_str(),
        ]);
        assert!(v.status.success(), "{}", stderr(&v));
    }
}

#[test]
fn a_motion_photos_video_half_without_extension_takes_its_stills_sidecar() {
    // Older Google cameras' motion photos: `MVIMG_….jpg` and its video half with no extension.
    let tmp = tempfile::tempdir().unwrap();
    let y = format!("{GP}/Photos from 2019");
    let files = vec![
        (format!("{y}/MVIMG_20190704_171012.jpg"), photo("<mv>")),
        (
            format!("{y}/MVIMG_20190704_171012.jpg.json"),
            sidecar("MVIMG_20190704_171012.jpg", 1_562_253_012, None),
        ),
        (format!("{y}/MVIMG_20190704_171012"), fixture("clip.mp4")),
    ];
    let zip = export(&tmp.path().join("in"), "20240101T000000Z", &files);
    let out = tmp.path().join("out");
    // In a zone far from the name's: the name's wall clock must not be what dates the video.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_gpbackup"))
        .env("TZ", "America/Los_Angeles")
        .args([
            "process".as_ref(),
            zip.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ])
        .args([
            "--report".as_ref(),
            tmp.path().join("report.json").as_os_str(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("report.json")).unwrap()).unwrap();
    let half = report_entry(&report, "MVIMG_20190704_171012");
    assert_eq!(half["rule"], "live-photo", "{half:#}");
    assert_eq!(mtime(&out.join("MVIMG_20190704_171012")), 1_562_253_012);
    let tags = exiftool(
        &out.join("MVIMG_20190704_171012"),
        &["-QuickTime:CreateDate"],
    );
    assert_eq!(tags["CreateDate"], "2019:07:04 15:10:12", "{tags}");
}

#[test]
fn an_avi_named_mp4_is_told_by_its_content_and_dated_by_its_sidecar() {
    let tmp = tempfile::tempdir().unwrap();
    let y = format!("{GP}/Photos from 2019");
    let mut avi = b"RIFF\x00\x10\x00\x00AVI LIST\x04\x00\x00\x00hdrl".to_vec();
    avi.resize(4096, 0);
    let files = vec![
        (format!("{y}/VID_0001.mp4"), avi.clone()),
        (
            format!("{y}/VID_0001.mp4.json"),
            sidecar("VID_0001.mp4", 1_562_253_012, None),
        ),
    ];
    let zip = export(&tmp.path().join("in"), "20240101T000000Z", &files);
    let out = tmp.path().join("out");
    let (o, report) = process(std::slice::from_ref(&zip), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let line = report_entry(&report, "VID_0001.mp4");
    let notes = line["notes"].to_string();
    assert!(
        notes.contains("its content is a video of another kind"),
        "{line:#}"
    );
    assert!(!notes.contains("truncated"), "{line:#}");
    assert!(!notes.contains("not a known"), "{line:#}");
    assert_eq!(std::fs::read(out.join("VID_0001.mp4")).unwrap(), avi);
    assert_eq!(mtime(&out.join("VID_0001.mp4")), 1_562_253_012);
    let xmp = exiftool(
        &out.join("VID_0001.mp4.xmp"),
        &["-XMP-exif:DateTimeOriginal"],
    );
    let taken = xmp["DateTimeOriginal"].as_str().unwrap();
    let taken = chrono::DateTime::parse_from_str(taken, "%Y:%m:%d %H:%M:%S%:z").unwrap();
    assert_eq!(taken.timestamp(), 1_562_253_012, "{xmp}");
}

/// Two parts of one export: the album `Trip` with `IMG_0005.jpg` (and that copy's own sidecar,
/// dated `trip_date`, when there is one), then the same photo in its year folder with its
/// sidecar, dated 2019-07-04.
fn copies_in_two_parts(dir: &std::path::Path, trip_date: Option<i64>) -> [PathBuf; 2] {
    let trip = format!("{GP}/Trip");
    let y = format!("{GP}/Photos from 2019");
    let mut first = vec![
        (format!("{trip}/IMG_0005.jpg"), photo("<5>")),
        (format!("{trip}/metadata.json"), album_json("Trip")),
    ];
    if let Some(t) = trip_date {
        first.push((
            format!("{trip}/IMG_0005.jpg.json"),
            sidecar("IMG_0005.jpg", t, None),
        ));
    }
    let second = vec![
        (format!("{y}/IMG_0005.jpg"), photo("<5>")),
        (
            format!("{y}/IMG_0005.jpg.json"),
            sidecar("IMG_0005.jpg", 1_562_253_012, None),
        ),
    ];
    [
        export(&dir.join("a"), "20240101T000000Z", &first),
        export(&dir.join("b"), "20240101T000000Z", &second),
    ]
}

/// An album's copy of a photo comes without a sidecar in one part, its year folder's copy
/// with its sidecar in a later one: the run that brings the year folder's copy completes the
/// file written from the album's, as one run over both parts writes it (dated, with its XMP
/// sidecar and the album's keyword).
#[test]
fn a_photo_written_without_a_sidecar_is_completed_from_its_copy_in_another_folder() {
    if !have_exiftool() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let [a, b] = copies_in_two_parts(tmp.path(), None);
    let args = ["--xmp", "always"];
    let one = tmp.path().join("one");
    let (o, _) = process(&[a.clone(), b.clone()], &one, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let two = tmp.path().join("two");
    for part in [&a, &b] {
        let (o, _) = process(std::slice::from_ref(part), &two, &args);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let tags = ["-EXIF:DateTimeOriginal", "-XMP-dc:Subject"];
    for out in [&one, &two] {
        let x = exiftool(&out.join("IMG_0005.jpg"), &["-EXIF:DateTimeOriginal"]);
        assert!(
            x["DateTimeOriginal"]
                .as_str()
                .is_some_and(|d| d.starts_with("2019:07:04")),
            "{}: {x:#}",
            out.display()
        );
        let x = exiftool(&out.join("IMG_0005.jpg.xmp"), &tags);
        assert_eq!(x["Subject"], serde_json::json!("Trip"), "{}", out.display());
    }
    assert_eq!(files_of(&one), files_of(&two));
}

/// The same, the album's copy with a sidecar of its own that says another date: the file
/// keeps the sidecar it was written with (the README's exception), and the run that brings
/// the year folder's copy changes nothing.
#[test]
fn a_photo_written_with_a_sidecar_is_not_rewritten_from_its_copy_in_another_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let [a, b] = copies_in_two_parts(tmp.path(), Some(1_262_347_200));
    let out = tmp.path().join("out");
    let (o, _) = process(std::slice::from_ref(&a), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = files_of(&out);
    let (o, _) = process(std::slice::from_ref(&b), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("updated"), "{}", stderr(&o));
    assert_eq!(files_of(&out), before);
}

#[test]
fn album_names_are_keywords_of_the_xmp_sidecars_whatever_the_runs() {
    if !have_exiftool() {
        return;
    }
    // One photo in two albums, the second album in a later part; a photo in no album.
    let tmp = tempfile::tempdir().unwrap();
    let y = format!("{GP}/Photos from 2019");
    let leon = format!("{GP}/Viaje a León");
    let beach = format!("{GP}/Beach | 2019");
    let first = vec![
        (format!("{y}/IMG_0001.jpg"), photo("<1>")),
        (
            format!("{y}/IMG_0001.jpg.json"),
            sidecar("IMG_0001.jpg", 1_562_253_012, None),
        ),
        (format!("{y}/IMG_0002.jpg"), photo("<2>")),
        (
            format!("{y}/IMG_0002.jpg.json"),
            sidecar("IMG_0002.jpg", 1_562_253_012, None),
        ),
        (format!("{leon}/IMG_0001.jpg"), photo("<1>")),
        (format!("{leon}/metadata.json"), album_json("Viaje a León")),
    ];
    let second = vec![
        (format!("{beach}/IMG_0001.jpg"), photo("<1>")),
        (format!("{beach}/metadata.json"), album_json("Beach | 2019")),
    ];
    let a = export(&tmp.path().join("a"), "20240101T000000Z", &first);
    let b = export(&tmp.path().join("b"), "20240101T000000Z", &second);
    let keywords = |out: &std::path::Path, name: &str| {
        let x = exiftool(
            &out.join(format!("{name}.xmp")),
            &["-XMP-dc:Subject", "-XMP-lr:HierarchicalSubject"],
        );
        (x["Subject"].clone(), x["HierarchicalSubject"].clone())
    };
    let once = tmp.path().join("once");
    let (o, _) = process(&[a.clone(), b.clone()], &once, &["--xmp", "always"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let twice = tmp.path().join("twice");
    let (o, _) = process(std::slice::from_ref(&a), &twice, &["--xmp", "always"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        keywords(&twice, "IMG_0001.jpg").0,
        serde_json::json!("Viaje a León")
    );
    let before = mtime(&twice.join("IMG_0001.jpg.xmp"));
    let (o, _) = process(std::slice::from_ref(&b), &twice, &["--xmp", "always"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for out in [&once, &twice] {
        let (subject, tree) = keywords(out, "IMG_0001.jpg");
        assert_eq!(
            subject,
            serde_json::json!(["Beach | 2019", "Viaje a León"]),
            "{}",
            out.display()
        );
        assert_eq!(
            tree,
            serde_json::json!(["Albums|Beach / 2019", "Albums|Viaje a León"])
        );
        // Not in an album: no keywords.
        assert_eq!(keywords(out, "IMG_0002.jpg").0, serde_json::Value::Null);
    }
    assert_eq!(mtime(&twice.join("IMG_0001.jpg.xmp")), before);
    // Without XMP sidecars, nothing to say; an XMP sidecar that became a link is not followed,
    // and the summary says its keywords could not be set.
    let plain = tmp.path().join("plain");
    let (o, report) = process(&[a.clone(), b.clone()], &plain, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(report.get("album_notes").is_none(), "{report:#}");
    assert!(!plain.join("IMG_0001.jpg.xmp").exists());
    #[cfg(unix)]
    {
        let linked = tmp.path().join("linked");
        let (o, _) = process(std::slice::from_ref(&a), &linked, &["--xmp", "always"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let xmp = linked.join("IMG_0001.jpg.xmp");
        let elsewhere = tmp.path().join("elsewhere.xmp");
        std::fs::rename(&xmp, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &xmp).unwrap();
        let text = std::fs::read(&elsewhere).unwrap();
        let (_, report) = process(std::slice::from_ref(&b), &linked, &["--xmp", "always"]);
        let notes = report["album_notes"].to_string();
        assert!(
            notes.contains("album keywords not written into IMG_0001.jpg.xmp"),
            "{report:#}"
        );
        assert_eq!(std::fs::read(&elsewhere).unwrap(), text);
    }
    assert_eq!(
        std::fs::read(once.join("IMG_0001.jpg.xmp")).unwrap(),
        std::fs::read(twice.join("IMG_0001.jpg.xmp")).unwrap()
    );
}

#[test]
fn a_photo_without_sidecar_or_date_gets_its_names_date_until_its_sidecar_comes() {
    // A messenger's photo: no EXIF date, a date in its name; its sidecar in another part.
    let tmp = tempfile::tempdir().unwrap();
    let y = format!("{GP}/Photos from 2019");
    let name = "IMG_20190704_171012.jpg";
    let a = export(
        &tmp.path().join("a"),
        "20240101T000000Z",
        &[(format!("{y}/{name}"), photo("<wa>"))],
    );
    // Google's instant: 15:10:12 UTC, the name's wall clock at +02:00.
    let b = export(
        &tmp.path().join("b"),
        "20240101T000000Z",
        &[(
            format!("{y}/{name}.json"),
            sidecar(name, 1_562_253_012, None),
        )],
    );
    let date_of = |p: &std::path::Path| {
        let e = exif_of(p);
        (
            exif_ascii(&e, exif::Tag::DateTimeOriginal),
            exif_ascii(&e, exif::Tag::OffsetTimeOriginal),
        )
    };
    let twice = tmp.path().join("twice");
    let (o, report) = process(std::slice::from_ref(&a), &twice, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        date_of(&twice.join(name)),
        (Some("2019:07:04 17:10:12".into()), None)
    );
    let notes = report_entry(&report, name)["notes"].to_string();
    assert!(notes.contains("the date in its name"), "{notes}");
    let (o, _) = process(std::slice::from_ref(&b), &twice, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let once = tmp.path().join("once");
    let (o, _) = process(&[a.clone(), b.clone()], &once, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        date_of(&once.join(name)),
        (Some("2019:07:04 17:10:12".into()), Some("+02:00".into()))
    );
    assert_eq!(files_of(&once), files_of(&twice));
    assert_eq!(mtime(&once.join(name)), mtime(&twice.join(name)));
    // Videos keep their bytes: a name's wall clock cannot give QuickTime's UTC.
    let v = export(
        &tmp.path().join("v"),
        "20240101T000000Z",
        &[(format!("{y}/VID_20190704_171012.mp4"), fixture("clip.mp4"))],
    );
    let vout = tmp.path().join("v-out");
    let (o, _) = process(std::slice::from_ref(&v), &vout, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(vout.join("VID_20190704_171012.mp4")).unwrap(),
        fixture("clip.mp4")
    );
}
