//! HEIC/AVIF Exif items and video Apple keys through the real binary, judged by independent
//! readers: `heif-info` (which item is primary, whether it has Exif), `heif-convert` (decoded
//! pixels), exiftool (tags), ffprobe/ffmpeg (the video still reads, frames identical).

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

// 2019-07-04 09:00:00 UTC = 18:00 in Tokyo.
const TAKEN: i64 = 1562230800;
const TOKYO: (f64, f64, f64) = (35.6585805, 139.7454329, 12.0);

/// Runs gpbackup on a one-photo Takeout holding `bytes` as `name` (with a sidecar dating it
/// TAKEN in Tokyo) and returns the written file and the report.
fn process_one(dir: &Path, name: &str, bytes: Vec<u8>) -> (PathBuf, serde_json::Value) {
    let mut t = Takeout::new(1);
    t.add(0, format!("{YEAR}/{name}"), bytes).add(
        0,
        format!("{YEAR}/{name}.json"),
        sidecar(name, TAKEN, Some(TOKYO)),
    );
    let zips = t.write(&dir.join("in"));
    let out = dir.join("photos");
    // (The sidecars' date is not the cameras': their dates are kept.)
    let (o, report) = process(&zips, &out, &["--timezone", "auto", "--keep-camera-dates"]);
    assert!(o.status.success(), "{}", stderr(&o));
    (out.join(name), report)
}

fn run(tool: &str, args: &[&std::ffi::OsStr]) -> String {
    let o = Command::new(tool).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// heif-info's paragraph about the primary image (from its `image:` line to the next one).
fn heif_primary(p: &Path) -> String {
    let info = run("heif-info", &[p.as_os_str()]);
    let start = info
        .match_indices("image:")
        .map(|(i, _)| i)
        .find(|i| info[*i..].lines().next().unwrap().ends_with("primary"))
        .unwrap_or_else(|| panic!("no primary image: {info}"));
    let rest = &info[start..];
    let end = rest[6..].find("\nimage:").map_or(rest.len(), |e| e + 6);
    rest[..end].to_string()
}

/// The image decoded by heif-convert, as raw YUV frames (y4m).
fn heif_pixels(p: &Path) -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let y4m = tmp.path().join("decoded.y4m");
    run("heif-convert", &[p.as_os_str(), y4m.as_os_str()]);
    std::fs::read(y4m).unwrap()
}

fn heif_tools() -> bool {
    have_exiftool() && have_tool("heif-info") && have_tool("heif-convert")
}

#[test]
fn heif_images_get_exif_for_their_primary_image() {
    if !heif_tools() {
        eprintln!("exiftool or libheif-examples missing: skipped outside CI");
        return;
    }
    // (fixture, primary item, the camera's own date if it has one)
    for (name, primary, camera_date) in [
        ("iphone.heic", 2, None),
        ("grid_exif.heic", 1, Some(("2019:07:04 17:10:12", "+02:00"))),
        ("small.avif", 1, None),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let src = fixture_path(name);
        let (p, report) = process_one(tmp.path(), name, fixture(name));
        let entry = report_entry(&report, name);
        assert_eq!(entry["status"], "written", "{entry}");
        assert_eq!(entry["embedded"], true, "{entry}");

        // Same primary item, and libheif now lists Exif for it.
        let before = heif_primary(&src);
        let after = heif_primary(&p);
        assert!(
            after.contains(&format!("(id={primary}), primary")),
            "{name}: {after}"
        );
        assert_eq!(before.contains("Exif:"), camera_date.is_some(), "{name}");
        assert!(after.contains("Exif:"), "{name}: {after}");

        let j = exiftool(&p, &[]);
        let (date, offset) = camera_date.unwrap_or(("2019:07:04 18:00:00", "+09:00"));
        assert_eq!(j["DateTimeOriginal"], date, "{name}: {j}");
        assert_eq!(j["OffsetTimeOriginal"], offset, "{name}: {j}");
        assert!(
            (j["GPSLatitude"].as_f64().unwrap() - TOKYO.0).abs() < 1e-6
                && (j["GPSLongitude"].as_f64().unwrap() - TOKYO.1).abs() < 1e-6,
            "{name}: {j}"
        );
        if camera_date.is_some() {
            assert_eq!(j["Make"], "Apple", "{name}: the camera's tags are kept");
            assert_eq!(j["Model"], "iPhone 12", "{name}");
        }
        let v = exiftool(&p, &["-validate", "-warning", "-error", "-a"]);
        assert_eq!(v["Validate"], "0 0 0", "{name}: {v}");

        assert!(
            heif_pixels(&p) == heif_pixels(&src),
            "{name}: pixels differ"
        );
        assert!(
            !p.with_file_name(format!("{name}.xmp")).exists(),
            "{name}: embedded, so no XMP sidecar in auto mode"
        );
    }
}

/// Where `kind` (a top-level box) starts in `bytes`.
fn top_box(bytes: &[u8], kind: &[u8; 4]) -> usize {
    let mut pos = 0;
    while pos + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        if &bytes[pos + 4..pos + 8] == kind {
            return pos;
        }
        assert!(size >= 8, "test fixtures have plain 32-bit box sizes");
        pos += size;
    }
    panic!("no {}", String::from_utf8_lossy(kind));
}

#[test]
fn videos_get_apple_keys_and_still_play() {
    if !have_exiftool() || !have_tool("ffprobe") || !have_tool("ffmpeg") {
        eprintln!("exiftool or ffmpeg missing: skipped outside CI");
        return;
    }
    // clip.mp4: moov before mdat, only an 8-byte free after it, so moov grows and the chunk
    // offsets move; live.mov: moov after mdat; reserved.mp4: moov before mdat with 3 KB of
    // free space after it (ffmpeg -moov_size), which takes the growth.
    for name in ["clip.mp4", "live.mov", "reserved.mp4"] {
        let tmp = tempfile::tempdir().unwrap();
        let src = fixture(name);
        let (p, report) = process_one(tmp.path(), name, src.clone());
        let entry = report_entry(&report, name);
        assert_eq!(entry["status"], "written", "{entry}");
        assert_eq!(entry["embedded"], true, "{entry}");
        let out = std::fs::read(&p).unwrap();

        let j = exiftool(&p, &["-G1", "-a", "-api", "QuickTimeUTC"]);
        assert_eq!(
            j["Keys:CreationDate"], "2019:07:04 18:00:00+09:00",
            "{name}: {j}"
        );
        assert_eq!(
            j["Keys:GPSCoordinates"], "35.6586 139.7454 12",
            "{name}: {j}"
        );
        assert_eq!(
            j["UserData:GPSCoordinates"], "35.6586 139.7454 12",
            "{name}"
        );
        for tag in [
            "QuickTime:CreateDate",
            "Track1:TrackCreateDate",
            "Track1:MediaCreateDate",
        ] {
            assert_eq!(j[tag], "2019:07:04 09:00:00+00:00", "{name} {tag}: {j}");
        }
        let v = exiftool(&p, &["-validate", "-warning", "-error", "-a"]);
        assert_eq!(v["Validate"], "0 0 0", "{name}: {v}");

        // ffprobe reads the file and the keys without a complaint; the frames are identical.
        let probe = Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", "format_tags", "-of", "json"])
            .arg(&p)
            .output()
            .unwrap();
        assert!(
            probe.status.success() && probe.stderr.is_empty(),
            "{name}: {probe:?}"
        );
        let tags: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
        let tags = &tags["format"]["tags"];
        assert_eq!(
            tags["com.apple.quicktime.creationdate"], "2019-07-04T18:00:00+0900",
            "{name}: {tags}"
        );
        assert_eq!(
            tags["com.apple.quicktime.location.ISO6709"], "+35.6586+139.7454+12.000/",
            "{name}: {tags}"
        );
        assert_eq!(
            frame_hashes(&p),
            frame_hashes(&fixture_path(name)),
            "{name}"
        );

        let (mdat_in, mdat_out) = (top_box(&src, b"mdat"), top_box(&out, b"mdat"));
        match name {
            "reserved.mp4" => {
                assert_eq!(mdat_out, mdat_in, "the free atom took the growth");
                assert_eq!(out.len(), src.len());
                assert!(out[mdat_out..] == src[mdat_in..]);
            }
            "clip.mp4" => assert!(mdat_out > mdat_in, "moov grew in front of mdat"),
            _ => assert!(
                out[..top_box(&src, b"moov")] == src[..top_box(&src, b"moov")],
                "everything before moov is unchanged"
            ),
        }
        assert!(!p.with_file_name(format!("{name}.xmp")).exists(), "{name}");
    }
}
