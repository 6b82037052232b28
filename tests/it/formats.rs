//! Every format in `fixtures/media/` through the real binary: the date, offset and place of
//! the sidecar end up in the file (or its XMP sidecar), and the image or video data is
//! unchanged.

use crate::common::*;
use std::path::Path;

// 2019-07-04 09:00:00 UTC = 18:00 in Tokyo.
const TAKEN: i64 = 1562230800;
const TOKYO: (f64, f64, f64) = (35.6585805, 139.7454329, 12.0);

fn run_all_formats(dir: &Path, extra: &[&str]) -> std::path::PathBuf {
    let mut t = Takeout::new(2);
    for (i, name) in [
        "plain.jpg",
        "screenshot.png",
        "sticker.webp",
        "iphone.heic",
        "animation.gif",
        "clip.mp4",
        "live.mov",
    ]
    .iter()
    .enumerate()
    {
        t.add(i % 2, format!("{YEAR}/{name}"), fixture(name)).add(
            (i + 1) % 2,
            format!("{YEAR}/{name}.json"),
            sidecar(name, TAKEN, Some(TOKYO)),
        );
    }
    let zips = t.write(&dir.join("in"));
    let out = dir.join("photos");
    let mut args = vec!["--timezone", "auto"];
    args.extend_from_slice(extra);
    let (o, report) = process(&zips, &out, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    for m in report["media"].as_array().unwrap() {
        assert_eq!(m["status"], "written", "{m}");
        assert_eq!(m["taken"], TAKEN, "{m}");
    }
    out
}

#[test]
fn images_carry_date_offset_and_place() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_all_formats(tmp.path(), &[]);
    for name in ["plain.jpg", "screenshot.png", "sticker.webp"] {
        let p = out.join(name);
        let e = exif_of(&p);
        assert_eq!(
            exif_ascii(&e, exif::Tag::DateTimeOriginal).as_deref(),
            Some("2019:07:04 18:00:00"),
            "{name}"
        );
        assert_eq!(
            exif_ascii(&e, exif::Tag::OffsetTimeOriginal).as_deref(),
            Some("+09:00"),
            "{name}"
        );
        let lat = exif_coord(&e, exif::Tag::GPSLatitude, exif::Tag::GPSLatitudeRef).unwrap();
        let lon = exif_coord(&e, exif::Tag::GPSLongitude, exif::Tag::GPSLongitudeRef).unwrap();
        assert!(
            (lat - TOKYO.0).abs() < 1e-6 && (lon - TOKYO.1).abs() < 1e-6,
            "{name}: {lat},{lon}"
        );
        assert_eq!(mtime(&p), TAKEN, "{name}");
        assert!(
            !out.join(format!("{name}.xmp")).exists(),
            "{name}: embedded, so no XMP in auto mode"
        );
    }
    // Formats we do not write into are copied unchanged, with an XMP sidecar (HEIC: see
    // heif_video.rs).
    {
        let name = "animation.gif";
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            fixture(name),
            "{name}"
        );
        let xmp = std::fs::read_to_string(out.join(format!("{name}.xmp"))).unwrap();
        assert!(
            xmp.contains(r#"exif:DateTimeOriginal="2019-07-04T18:00:00+09:00""#),
            "{xmp}"
        );
        assert!(xmp.contains(r#"exif:GPSLatitude="35,39.514830N""#), "{xmp}");
        assert_eq!(mtime(&out.join(name)), TAKEN);
    }
}

#[test]
fn videos_carry_utc_creation_time_and_place() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_all_formats(tmp.path(), &[]);
    for name in ["clip.mp4", "live.mov"] {
        let bytes = std::fs::read(out.join(name)).unwrap();
        for kind in [&b"mvhd"[..], b"tkhd", b"mdhd"] {
            let at = bytes.windows(4).position(|w| w == kind).unwrap();
            let created = u32::from_be_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as i64;
            assert_eq!(
                created - 2_082_844_800,
                TAKEN,
                "{name} {}",
                String::from_utf8_lossy(kind)
            );
        }
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("+35.6586+139.7454+12.000/"),
            "{name}: ISO 6709 location"
        );
        assert_eq!(mtime(&out.join(name)), TAKEN);
    }
}

#[test]
fn xmp_always_writes_one_per_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_all_formats(tmp.path(), &["--xmp", "always"]);
    let files = listing(&out);
    assert_eq!(
        files.iter().filter(|f| f.ends_with(".xmp")).count(),
        7,
        "{files:?}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = run_all_formats(tmp.path(), &["--xmp", "never"]);
    assert!(!listing(&out).iter().any(|f| f.ends_with(".xmp")));
}

#[test]
fn exiftool_and_ffmpeg_agree() {
    if !have_exiftool() || !have_tool("ffmpeg") {
        eprintln!("exiftool or ffmpeg missing: skipped outside CI");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = run_all_formats(tmp.path(), &[]);
    for name in ["plain.jpg", "screenshot.png", "sticker.webp"] {
        let j = exiftool(&out.join(name), &[]);
        assert_eq!(j["DateTimeOriginal"], "2019:07:04 18:00:00", "{name}: {j}");
        assert_eq!(j["OffsetTimeOriginal"], "+09:00", "{name}");
        assert!(
            (j["GPSLatitude"].as_f64().unwrap() - TOKYO.0).abs() < 1e-6,
            "{name}: {j}"
        );
        assert!(
            (j["GPSLongitude"].as_f64().unwrap() - TOKYO.1).abs() < 1e-6,
            "{name}: {j}"
        );
        let v = exiftool(&out.join(name), &["-validate", "-warning", "-error", "-a"]);
        assert_eq!(v["Validate"], "0 0 0", "{name}: {v}");
    }
    for name in ["clip.mp4", "live.mov"] {
        // QuickTime times are UTC (18:00 in Tokyo is 09:00 UTC).
        let j = exiftool(&out.join(name), &["-api", "QuickTimeUTC"]);
        for tag in [
            "CreateDate",
            "ModifyDate",
            "TrackCreateDate",
            "MediaCreateDate",
        ] {
            assert_eq!(j[tag], "2019:07:04 09:00:00+00:00", "{name} {tag}: {j}");
        }
        let gps = j["GPSCoordinates"].as_str().unwrap_or_default().to_string();
        assert!(gps.starts_with("35.6586 139.7454"), "{name}: {j}");
    }
    {
        let name = "animation.gif.xmp";
        let j = exiftool(&out.join(name), &[]);
        assert_eq!(
            j["DateTimeOriginal"], "2019:07:04 18:00:00+09:00",
            "{name}: {j}"
        );
        let v = exiftool(&out.join(name), &["-validate", "-warning", "-error"]);
        assert_eq!(v["Validate"], "0 0 0", "{name}: {v}");
    }
    // Image and video data unchanged: the decoded frames are identical.
    for name in [
        "plain.jpg",
        "screenshot.png",
        "sticker.webp",
        "animation.gif",
        "clip.mp4",
        "live.mov",
    ] {
        assert_eq!(
            frame_hashes(&out.join(name)),
            frame_hashes(&fixture_path(name)),
            "{name}"
        );
    }
    // ffprobe reads the creation time too.
    let probe = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format_tags=creation_time",
            "-of",
            "default=nw=1:nk=1",
        ])
        .arg(out.join("clip.mp4"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&probe.stdout).trim(),
        "2019-07-04T09:00:00.000000Z"
    );
}
