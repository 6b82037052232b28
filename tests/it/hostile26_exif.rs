//! Hostile review of issue 26, the EXIF, JPEG and PNG writers: files built after reading the
//! code (`tests/fuzz/corpus/writers/issue26-*`, made from the real files in `fixtures/` by
//! `src/metadata/hostile.rs`) go through the real binary, and exiftool reads the results.
//! Each was damaged while the run reported it written.
//!
//! Tests marked `FAILS:` in their comment showed a bug when they were written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// 2019-07-04 15:10:12 UTC: the date of `camera.jpg` (17:10:12 +02:00).
const CAMERA_JPG_TAKEN: i64 = 1_562_253_012;
/// 2010-01-01 12:00:00 UTC.
const T2010: i64 = 1_262_347_200;
const CHILE: (f64, f64, f64) = (-33.86, -70.65, -12.0);

fn corpus(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus/writers")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Runs the real binary on each (corpus file, taken, place); every file must be reported
/// written. Returns the output folder.
fn run(dir: &Path, files: &[(&str, i64, (f64, f64, f64))]) -> PathBuf {
    let mut t = Takeout::new(1);
    for (name, taken, geo) in files {
        t.add(0, format!("{YEAR}/{name}"), corpus(name)).add(
            0,
            format!("{YEAR}/{name}.json"),
            sidecar(name, *taken, Some(*geo)),
        );
    }
    let zips = t.write(&dir.join("in"));
    let out = dir.join("photos");
    let (o, report) = process(&zips, &out, &["--timezone", "auto"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for m in report["media"].as_array().unwrap() {
        assert_eq!(m["status"], "written", "{m}");
    }
    out
}

/// `exiftool -b -TAG` of `p`: the bytes of an embedded image.
fn embedded(p: &Path, tag: &str) -> Vec<u8> {
    let o = Command::new("exiftool")
        .args(["-b", &format!("-{tag}")])
        .arg(p)
        .output()
        .unwrap();
    assert!(o.status.success());
    o.stdout
}

/// The tags exiftool reads in `group` (e.g. `ExifIFD`, `MakerNotes`) of `p`.
fn group(p: &Path, group: &str) -> BTreeMap<String, serde_json::Value> {
    let v = exiftool(p, &["-a", "-G1", &format!("-{group}:all")]);
    v.as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with(group))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn written(out: &Path, name: &str) -> PathBuf {
    let p = out.join(name);
    assert!(p.exists(), "{name} not in the library");
    p
}

/// FAILS: 1 (the references patched in an IFD that was then rewritten: 33.86 N, 70.65 E,
/// above sea level), 4 (a date patched into the thumbnail), 5 (the camera's Exif IFD behind
/// an SLONG or SHORT pointer replaced), 6 (a damaged PNG chunk made valid), 7 (a second
/// eXIf before IDAT with the date replacing the camera's), 8 (the second image of an MPF
/// JPEG lost).
#[test]
fn hostile_exif_png_and_jpeg_files_are_written_without_damage() {
    if !have_exiftool() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let files = [
        ("issue26-1-gps-refs-only.jpg", CAMERA_JPG_TAKEN, CHILE),
        ("issue26-4-date-in-thumbnail.jpg", T2010, CHILE),
        ("issue26-5-exif-pointer-slong.jpg", T2010, CHILE),
        ("issue26-5-exif-pointer-short.jpg", T2010, CHILE),
        ("issue26-6-damaged-gama.png", CAMERA_JPG_TAKEN, CHILE),
        ("issue26-7-exif-after-idat.png", CAMERA_JPG_TAKEN, CHILE),
        ("issue26-8-mpf-before-exif.jpg", CAMERA_JPG_TAKEN, CHILE),
    ];
    let out = run(tmp.path(), &files);
    let input = |name: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, corpus(name)).unwrap();
        p
    };

    // 1: south, west, below sea level.
    let p = written(&out, "issue26-1-gps-refs-only.jpg");
    let v = exiftool(&p, &[]);
    assert_eq!(v["GPSLatitudeRef"], "S", "{v}");
    assert_eq!(v["GPSLongitudeRef"], "W", "{v}");
    assert_eq!(v["GPSAltitudeRef"], 1, "{v}");
    assert!(
        (v["GPSLatitude"].as_f64().unwrap() + 33.86).abs() < 1e-6,
        "{v}"
    );
    assert!(
        (v["GPSLongitude"].as_f64().unwrap() + 70.65).abs() < 1e-6,
        "{v}"
    );
    assert!(
        (v["GPSAltitude"].as_f64().unwrap() + 12.0).abs() < 1e-6,
        "{v}"
    );

    // 4: the thumbnail is the camera's; the date is the corrected one.
    let name = "issue26-4-date-in-thumbnail.jpg";
    let p = written(&out, name);
    let thumb = embedded(&input(name), "ThumbnailImage");
    assert!(thumb.len() > 1000);
    assert_eq!(embedded(&p, "ThumbnailImage"), thumb);
    let v = exiftool(&p, &[]);
    assert_eq!(v["DateTimeOriginal"], "2010:01:01 09:00:00", "{v}");

    // 5: the camera's Exif IFD and maker notes are the ones reached.
    for name in [
        "issue26-5-exif-pointer-slong.jpg",
        "issue26-5-exif-pointer-short.jpg",
    ] {
        let p = written(&out, name);
        let before = input(name);
        let (mut b, mut a) = (group(&before, "ExifIFD"), group(&p, "ExifIFD"));
        assert_eq!(b["ExifIFD:DateTimeOriginal"], "2007:08:24 02:40:42");
        assert!(b.contains_key("ExifIFD:ExposureTime"), "{b:?}");
        // The date may be the corrected one (a reader that follows a SHORT pointer sees the
        // camera's and the sidecar's differ); the rest is the camera's.
        for m in [&mut a, &mut b] {
            m.retain(|k, _| !k.contains("DateTimeOriginal") && !k.contains("OffsetTime"));
        }
        assert_eq!(a, b, "{name}");
        let (b, a) = (group(&before, "Canon"), group(&p, "Canon"));
        assert!(b.len() > 20, "{b:?}");
        assert_eq!(a, b, "{name}");
        assert_eq!(exiftool(&p, &[])["GPSLatitudeRef"], "S");
    }

    // 6: the damaged chunk is copied as it was (decoders keep skipping it).
    let name = "issue26-6-damaged-gama.png";
    let src = corpus(name);
    let gama = &src[33..33 + 16];
    let bytes = std::fs::read(written(&out, name)).unwrap();
    assert!(
        bytes.windows(16).any(|w| w == gama),
        "the damaged gAMA is kept"
    );
    assert!(exiftool(&out.join(name), &[])["DateTimeOriginal"].is_string());

    // 7: one eXIf, the camera's, with the position added.
    let name = "issue26-7-exif-after-idat.png";
    let p = written(&out, name);
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(bytes.windows(4).filter(|w| w == b"eXIf").count(), 1);
    let v = exiftool(&p, &[]);
    assert_eq!(v["DateTimeOriginal"], "2019:07:04 17:10:12", "{v}");
    assert_eq!(v["Model"], "Canon EOS 80D", "{v}");
    assert_eq!(v["GPSLatitudeRef"], "S", "{v}");

    // 8: the MPF index still leads to the second image.
    let name = "issue26-8-mpf-before-exif.jpg";
    let p = written(&out, name);
    assert!(std::fs::read(&p).unwrap().len() > corpus(name).len());
    assert_eq!(embedded(&p, "PreviewImage"), fixture("plain.jpg"));
    assert_eq!(exiftool(&p, &[])["GPSLatitudeRef"], "S");
}
