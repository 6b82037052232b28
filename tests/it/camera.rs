//! Real cameras' EXIF (`fixtures/cameras/`: some fifty camera models' APP1 segments grafted in
//! front of a small real JPEG) through the real binary, with exiftool as the oracle: adding a
//! date and a position must leave every maker-note and EXIF tag the camera wrote as it was,
//! raise no new `exiftool -validate` warning, and leave the pixels alone.

use crate::common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// 2010-01-01 12:00:00 UTC: 13:00 in Paris (the tests' zone).
const TAKEN: i64 = 1_262_347_200;
const PLACE: (f64, f64, f64) = (-33.8567844, 151.2152967, 4.5);

fn camera_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cameras");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .collect();
    v.sort();
    assert!(v.len() >= 50, "the grafted camera files are missing");
    v
}

/// exiftool's reading of many files at once (one process): tag key → value, per file, keyed
/// by the file's path.
fn exiftool_many(
    files: &[PathBuf],
    args: &[&str],
) -> BTreeMap<PathBuf, BTreeMap<String, serde_json::Value>> {
    let mut out = BTreeMap::new();
    for chunk in files.chunks(200) {
        let o = Command::new("exiftool")
            .env("TZ", "UTC")
            .args(["-j", "-a", "-u", "-n", "-G0:1"])
            .args(args)
            .args(chunk)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("exiftool: {e}: {}", String::from_utf8_lossy(&o.stderr)));
        for obj in v.as_array().unwrap() {
            let map: BTreeMap<String, serde_json::Value> = obj
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let src = PathBuf::from(obj["SourceFile"].as_str().unwrap());
            out.insert(src, map);
        }
    }
    out
}

/// The validation warnings exiftool reports for each file.
fn warnings(files: &[PathBuf]) -> BTreeMap<PathBuf, BTreeSet<String>> {
    exiftool_many(files, &["-validate", "-warning"])
        .into_iter()
        .map(|(p, m)| {
            let set = m
                .iter()
                .filter(|(k, _)| k.ends_with("Warning"))
                .flat_map(|(_, v)| match v {
                    serde_json::Value::Array(a) => a.clone(),
                    v => vec![v.clone()],
                })
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect();
            (p, set)
        })
        .collect()
}

fn group0(key: &str) -> &str {
    key.split(':').next().unwrap()
}

/// Runs every camera file (each with a sidecar giving `TAKEN` and `PLACE`) through gpbackup
/// with `extra` arguments; returns (input, output) pairs.
fn run_cameras(tmp: &Path, extra: &[&str]) -> Vec<(PathBuf, PathBuf)> {
    let files = camera_files();
    let mut t = Takeout::new(1);
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap();
        t.add(0, format!("{YEAR}/{name}"), std::fs::read(f).unwrap())
            .add(
                0,
                format!("{YEAR}/{name}.json"),
                sidecar(name, TAKEN, Some(PLACE)),
            );
    }
    let zips = t.write(&tmp.join("in"));
    let out = tmp.join("photos");
    let (o, report) = process(&zips, &out, extra);
    assert!(o.status.success(), "{}", stderr(&o));
    files
        .iter()
        .map(|f| {
            let name = f.file_name().unwrap().to_str().unwrap();
            let m = report_entry(&report, &format!("/{name}"));
            assert_eq!(m["status"], "written", "{m}");
            assert!(
                !m["notes"].to_string().contains("not written"),
                "{name}: {m}"
            );
            (f.clone(), out.join(m["output"].as_str().unwrap()))
        })
        .collect()
}

fn num(v: Option<&serde_json::Value>) -> Option<f64> {
    v.and_then(|v| v.as_f64())
}

#[test]
fn camera_makers_notes_and_exif_survive_adding_date_and_place() {
    check_cameras(false);
}

/// With `--overwrite-dates` the camera's dates are replaced (in place: same length) and
/// nothing else changes.
#[test]
fn camera_dates_overwritten_in_place() {
    check_cameras(true);
}

fn check_cameras(overwrite: bool) {
    if !have_exiftool() || !have_tool("ffmpeg") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // The sidecars give one date for all, far from the cameras': without --overwrite-dates the
    // cameras' dates are kept (--keep-camera-dates: the date one sidecar gives is taken for a
    // correction made in Google Photos otherwise).
    let extra: &[&str] = if overwrite {
        &["--overwrite-dates"]
    } else {
        &["--keep-camera-dates"]
    };
    let pairs = run_cameras(tmp.path(), extra);
    let inputs: Vec<PathBuf> = pairs.iter().map(|p| p.0.clone()).collect();
    let outputs: Vec<PathBuf> = pairs.iter().map(|p| p.1.clone()).collect();
    let before = exiftool_many(&inputs, &[]);
    let after = exiftool_many(&outputs, &[]);
    let warn_before = warnings(&inputs);
    let warn_after = warnings(&outputs);
    let mut failures = Vec::new();
    let mut maker_tags = 0;
    for (input, output) in &pairs {
        let name = input.file_name().unwrap().to_string_lossy();
        let b = &before[input];
        let a = &after[output];
        let had_gps =
            b.contains_key("EXIF:GPS:GPSLatitude") && b.contains_key("EXIF:GPS:GPSLongitude");
        let had_date = b.contains_key("EXIF:ExifIFD:DateTimeOriginal") && !overwrite;
        let replaced = [
            "EXIF:ExifIFD:DateTimeOriginal",
            "EXIF:ExifIFD:CreateDate",
            "EXIF:ExifIFD:OffsetTimeOriginal",
            "EXIF:ExifIFD:OffsetTimeDigitized",
        ];
        for (k, v) in b {
            let g = group0(k);
            if g != "MakerNotes" && g != "EXIF" {
                continue;
            }
            // A partial GPS record is completed (its position replaced).
            if !had_gps && k.starts_with("EXIF:GPS:") || overwrite && replaced.contains(&k.as_str())
            {
                continue;
            }
            if g == "MakerNotes" {
                maker_tags += 1;
            }
            if a.get(k) != Some(v) {
                failures.push(format!("{name}: {k} was {v}, now {:?}", a.get(k)));
            }
        }
        // The position: the camera's own, else the sidecar's.
        let (lat, lon) = (
            num(a.get("Composite:GPSLatitude")),
            num(a.get("Composite:GPSLongitude")),
        );
        if had_gps {
            assert_eq!(
                a.get("Composite:GPSLatitude"),
                b.get("Composite:GPSLatitude")
            );
        } else if !lat.is_some_and(|v| (v - PLACE.0).abs() < 1e-6)
            || !lon.is_some_and(|v| (v - PLACE.1).abs() < 1e-6)
            || !num(a.get("EXIF:GPS:GPSAltitude")).is_some_and(|v| (v - PLACE.2).abs() < 0.01)
        {
            failures.push(format!(
                "{name}: GPS {lat:?},{lon:?} {:?}",
                a.get("EXIF:GPS:GPSAltitude")
            ));
        }
        // The date: the camera's own, else the sidecar's in Paris time (with its offset in
        // EXIF when the ExifVersion allows it, else in XMP).
        if !had_date {
            let date = a
                .get("EXIF:ExifIFD:DateTimeOriginal")
                .and_then(|v| v.as_str());
            if date != Some("2010:01:01 13:00:00") {
                failures.push(format!("{name}: DateTimeOriginal {date:?}"));
            }
            let version: u32 = a["EXIF:ExifIFD:ExifVersion"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            let offset = a
                .get("EXIF:ExifIFD:OffsetTimeOriginal")
                .and_then(|v| v.as_str());
            let xmp = a
                .get("XMP:XMP-exif:DateTimeOriginal")
                .and_then(|v| v.as_str());
            let ok = if version >= 231 {
                offset == Some("+01:00")
            } else {
                offset.is_none() && xmp == Some("2010:01:01 13:00:00+01:00")
            };
            if !ok {
                failures.push(format!(
                    "{name}: version {version} offset {offset:?} xmp {xmp:?}"
                ));
            }
        }
        // No new validation warning.
        let new: Vec<_> = warn_after[output].difference(&warn_before[input]).collect();
        if !new.is_empty() {
            failures.push(format!("{name}: new warnings {new:?}"));
        }
        if frame_hashes(input) != frame_hashes(output) {
            failures.push(format!("{name}: decoded pixels differ"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The oracle saw the makers' notes (a broken reading would compare nothing).
    assert!(
        maker_tags > 1500,
        "only {maker_tags} maker-note tags compared"
    );
}

/// `src` rewritten by exiftool with `args` (to make test inputs with EXIF of a given shape).
fn exiftool_made(tmp: &Path, name: &str, src: &[u8], args: &[&str]) -> Vec<u8> {
    let p = tmp.join(name);
    std::fs::write(&p, src).unwrap();
    let o = Command::new("exiftool")
        .args(["-q", "-overwrite_original"])
        .args(args)
        .arg(&p)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(&p).unwrap()
}

/// A 1965 scan (JPEG without EXIF), a TIFF, a JPEG whose ExifVersion 0220 has no time-zone
/// tags, and a PNG and a WebP with a camera's EXIF: each gets the date and position, keeps
/// what it had, raises no new validation warning and keeps its pixels.
#[test]
fn old_dates_tiff_old_exif_versions_png_and_webp() {
    if !have_exiftool() || !have_tool("ffmpeg") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let made = tmp.path().join("made");
    std::fs::create_dir_all(&made).unwrap();
    let camera = [
        "-Make=Nikon",
        "-Model=COOLPIX P100",
        "-ExifVersion=0220",
        "-ExposureTime=1/60",
        "-FNumber=2.8",
    ];
    // 1965-08-14 10:30:00 UTC: 11:30 in Paris (no summer time in France in 1965).
    let old = -138_288_600;
    let inputs: Vec<(&str, Vec<u8>, i64)> = vec![
        ("scan1965.jpg", fixture("plain.jpg"), old),
        ("scan.tif", fixture("scan.tif"), TAKEN),
        (
            "v0220.jpg",
            exiftool_made(&made, "v0220.jpg", &fixture("plain.jpg"), &camera),
            TAKEN,
        ),
        (
            "camera.png",
            exiftool_made(&made, "camera.png", &fixture("screenshot.png"), &camera),
            TAKEN,
        ),
        (
            "camera.webp",
            exiftool_made(&made, "camera.webp", &fixture("sticker.webp"), &camera),
            TAKEN,
        ),
    ];
    let mut t = Takeout::new(1);
    for (name, bytes, taken) in &inputs {
        t.add(0, format!("{YEAR}/{name}"), bytes.clone()).add(
            0,
            format!("{YEAR}/{name}.json"),
            sidecar(name, *taken, Some(PLACE)),
        );
        std::fs::write(made.join(name), bytes).unwrap();
    }
    let zips = t.write(&tmp.path().join("in"));
    let out = tmp.path().join("photos");
    let (o, report) = process(&zips, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (name, _, taken) in &inputs {
        let m = report_entry(&report, &format!("/{name}"));
        assert_eq!(m["embedded"], true, "{name}: {m}");
        let input = made.join(name);
        let output = out.join(m["output"].as_str().unwrap());
        let b = exiftool(&input, &["-a", "-G0:1"]);
        let a = exiftool(&output, &["-a", "-G0:1"]);
        // What the file had is unchanged.
        for (k, v) in b.as_object().unwrap() {
            if k.starts_with("EXIF:") && !k.starts_with("EXIF:IFD0:") || k == "EXIF:IFD0:Make" {
                assert_eq!(a.get(k), Some(v), "{name}: {k}");
            }
        }
        // The date (pre-1970 too), in EXIF; the offset in EXIF from ExifVersion 0231 on, else
        // in XMP inside the file.
        let expected = if *taken == old {
            ("1965:08:14 11:30:00", "1965:08:14 11:30:00+01:00")
        } else {
            ("2010:01:01 13:00:00", "2010:01:01 13:00:00+01:00")
        };
        assert_eq!(a["EXIF:ExifIFD:DateTimeOriginal"], expected.0, "{name}");
        let version = a["EXIF:ExifIFD:ExifVersion"].as_str().unwrap();
        if version == "0220" {
            assert!(a.get("EXIF:ExifIFD:OffsetTimeOriginal").is_none(), "{name}");
            assert_eq!(a["XMP:XMP-exif:DateTimeOriginal"], expected.1, "{name}");
            assert!(
                m["notes"]
                    .to_string()
                    .contains("written to XMP in the file"),
                "{m}"
            );
        } else {
            assert_eq!(a["EXIF:ExifIFD:OffsetTimeOriginal"], "+01:00", "{name}");
        }
        assert!(
            (a["Composite:GPSLatitude"].as_f64().unwrap() - PLACE.0).abs() < 1e-6,
            "{name}"
        );
        assert!(
            (a["Composite:GPSLongitude"].as_f64().unwrap() - PLACE.1).abs() < 1e-6,
            "{name}"
        );
        assert_eq!(mtime(&output), *taken, "{name}");
        assert!(
            m["xmp"].is_null(),
            "{name}: everything is in the file, no sidecar: {m}"
        );
        let wb = warnings(std::slice::from_ref(&input));
        let wa = warnings(std::slice::from_ref(&output));
        let new: Vec<_> = wa[&output].difference(&wb[&input]).collect();
        assert!(new.is_empty(), "{name}: new warnings {new:?}");
        assert_eq!(
            frame_hashes(&input),
            frame_hashes(&output),
            "{name}: pixels"
        );
    }
}
