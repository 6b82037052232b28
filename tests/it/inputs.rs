//! The input side: zips as Takeout streams them (data descriptors), zips that hold the same
//! name twice or a folder entry with data, entries gpbackup cannot read, and sidecar text that
//! must cost only its own field.

use crate::common::*;
use std::io::Write;
use std::path::{Path, PathBuf};

use gpbackup::Catalog;

const T1: i64 = 1562253012; // 2019-07-04 15:10:12 UTC = 17:10:12 in Paris
const EIFFEL: (f64, f64, f64) = (48.8583701, 2.2944813, 35.2);

/// One entry of a hand-written zip.
pub(crate) struct Raw {
    pub name: String,
    pub data: Vec<u8>,
    /// Zip method number: 0 and 8 are stored and deflated; any other stores `data` as is
    /// under that number.
    pub method: u16,
    /// General purpose flags besides the data-descriptor bit.
    pub flags: u16,
}

pub(crate) fn raw(name: impl Into<String>, data: Vec<u8>) -> Raw {
    Raw {
        name: name.into(),
        data,
        method: 8,
        flags: 0,
    }
}

/// Zip layout choices.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Layout {
    /// Sizes and CRC in the local header.
    Plain,
    /// Streamed, as Takeout writes: general purpose bit 3, zero sizes in the local header, a
    /// data descriptor (with signature) after the data.
    Descriptor,
    /// Streamed with zip64 descriptors (8-byte sizes; a zip64 extra field in the local header).
    Descriptor64,
}

/// A zip written byte by byte, so that it can hold what the zip crate's writer refuses (the
/// same name twice, any method number) and be laid out as a streaming writer does.
pub(crate) fn raw_zip(entries: &[Raw], layout: Layout) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let data = if e.method == 8 {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&e.data).unwrap();
            enc.finish().unwrap()
        } else {
            e.data.clone()
        };
        let crc = crc32fast::hash(&e.data);
        let streamed = layout != Layout::Plain;
        let flags = e.flags | if streamed { 0x0008 } else { 0 };
        let extra: Vec<u8> = if layout == Layout::Descriptor64 {
            [&1u16.to_le_bytes()[..], &16u16.to_le_bytes(), &[0u8; 16]].concat()
        } else {
            Vec::new()
        };
        let offset = out.len() as u32;
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&[if extra.is_empty() { 20 } else { 45 }, 0]);
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&[0x00, 0x78, 0x5e, 0x57]); // time, date: 2023-10-30 15:00
        if streamed {
            out.extend_from_slice(&[0; 4]);
            let unknown: u32 = if extra.is_empty() { 0 } else { 0xFFFF_FFFF };
            out.extend_from_slice(&unknown.to_le_bytes());
            out.extend_from_slice(&unknown.to_le_bytes());
        } else {
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(&extra);
        out.extend_from_slice(&data);
        if streamed {
            out.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
            out.extend_from_slice(&crc.to_le_bytes());
            if layout == Layout::Descriptor64 {
                out.extend_from_slice(&(data.len() as u64).to_le_bytes());
                out.extend_from_slice(&(e.data.len() as u64).to_le_bytes());
            } else {
                out.extend_from_slice(&(data.len() as u32).to_le_bytes());
                out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
            }
        }
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&[20, 3, 20, 0]); // made by (Unix), needed
        central.extend_from_slice(&flags.to_le_bytes());
        central.extend_from_slice(&e.method.to_le_bytes());
        central.extend_from_slice(&[0x00, 0x78, 0x5e, 0x57]);
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&(data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attributes
        central.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(e.name.as_bytes());
    }
    let cd_start = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_start.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

fn write_zip(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn media_lines(report: &serde_json::Value) -> &Vec<serde_json::Value> {
    report["media"].as_array().unwrap()
}

/// A Takeout part holding a camera JPEG, a plain JPEG and a video, each with its sidecar.
fn three_photos() -> Vec<Raw> {
    vec![
        raw(format!("{YEAR}/camera.jpg"), fixture("camera.jpg")),
        raw(
            format!("{YEAR}/camera.jpg.json"),
            sidecar("camera.jpg", T1, Some(EIFFEL)),
        ),
        raw(format!("{YEAR}/plain.jpg"), fixture("plain.jpg")),
        raw(
            format!("{YEAR}/plain.jpg.supplemental-metadata.json"),
            sidecar("plain.jpg", T1, Some(EIFFEL)),
        ),
        raw(format!("{YEAR}/clip.mp4"), fixture("clip.mp4")),
        raw(
            format!("{YEAR}/clip.mp4.json"),
            sidecar("clip.mp4", T1, Some(EIFFEL)),
        ),
    ]
}

#[test]
fn a_streamed_zip_with_data_descriptors_is_read_whole() {
    for layout in [Layout::Descriptor, Layout::Descriptor64] {
        let dir = tempfile::tempdir().unwrap();
        let zip = write_zip(
            dir.path(),
            "takeout-001.zip",
            &raw_zip(&three_photos(), layout),
        );
        let out = dir.path().join("out");
        let before = snapshot(std::slice::from_ref(&zip));
        let (o, report) = process(std::slice::from_ref(&zip), &out, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(snapshot(&[zip]), before, "the input is untouched");
        let lines = media_lines(&report);
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|m| m["status"] == "written"), "{report:#}");
        assert_eq!(listing(&out), ["camera.jpg", "clip.mp4", "plain.jpg"]);
        if have_exiftool() {
            let plain = exiftool(&out.join("plain.jpg"), &[]);
            assert_eq!(
                plain["DateTimeOriginal"], "2019:07:04 17:10:12",
                "{plain:#}"
            );
            assert!((plain["GPSLatitude"].as_f64().unwrap() - EIFFEL.0).abs() < 1e-6);
            let clip = exiftool(&out.join("clip.mp4"), &["-api", "QuickTimeUTC"]);
            assert_eq!(clip["CreateDate"], "2019:07:04 15:10:12+00:00", "{clip:#}");
        }
        // The same zip cut before its central directory is recovered from its local headers
        // (the descriptors are what tell where each entry ends).
        let bytes = raw_zip(&three_photos(), layout);
        let cut = write_zip(dir.path(), "cut.zip", &bytes[..bytes.len() - 40]);
        let catalog = Catalog::open(&[cut], None).unwrap();
        assert_eq!(catalog.damaged.len(), 1);
        assert_eq!(catalog.entries.len(), 6, "every entry before the directory");
    }
}

#[test]
fn the_same_name_twice_in_one_zip_is_written_twice() {
    let plain = fixture("plain.jpg");
    let dir = tempfile::tempdir().unwrap();
    let name = format!("{YEAR}/IMG_0001.jpg");
    let entries = vec![
        raw(&name, jpeg_variant(&plain, "first")),
        raw(
            format!("{name}.json"),
            sidecar("IMG_0001.jpg", T1, Some(EIFFEL)),
        ),
        raw(&name, jpeg_variant(&plain, "second")),
        // And one identical to the first: a duplicate, but accounted for.
        raw(&name, jpeg_variant(&plain, "first")),
    ];
    let zip = write_zip(
        dir.path(),
        "takeout-001.zip",
        &raw_zip(&entries, Layout::Plain),
    );
    // Every entry is indexed, each with its own identity.
    let catalog = Catalog::open(std::slice::from_ref(&zip), None).unwrap();
    let described: Vec<String> = catalog
        .entries
        .iter()
        .filter(|e| e.path() == *name)
        .map(|e| catalog.describe(e))
        .collect();
    assert_eq!(described.len(), 3, "{described:?}");
    for (k, d) in described.iter().enumerate() {
        assert!(
            d.ends_with(&format!(
                "IMG_0001.jpg (entry {} of 3 with this name)",
                k + 1
            )),
            "{d}"
        );
    }
    let out = dir.path().join("out");
    let (o, report) = process(std::slice::from_ref(&zip), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(&out), ["IMG_0001 (2).jpg", "IMG_0001.jpg"]);
    let lines = media_lines(&report);
    assert_eq!(lines.len(), 3, "{report:#}");
    let mut statuses: Vec<&str> = lines
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    statuses.sort();
    assert_eq!(statuses[0], "duplicate");
    assert!(statuses[1..].iter().all(|s| s.starts_with("written")));
    let sources: std::collections::HashSet<&str> = lines
        .iter()
        .map(|m| m["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources.len(), 3, "each named apart: {sources:?}");
    let note = &report["entry_notes"][0];
    assert!(note["source"].as_str().unwrap().ends_with(&name), "{note}");
    assert!(note["note"]
        .as_str()
        .unwrap()
        .contains("3 entries with this name"));
    assert!(
        stderr(&o).contains("3 entries with this name"),
        "{}",
        stderr(&o)
    );
    // Written distinct files hold the two distinct photos.
    let a = std::fs::read(out.join("IMG_0001.jpg")).unwrap();
    let b = std::fs::read(out.join("IMG_0001 (2).jpg")).unwrap();
    assert_ne!(a, b);
}

#[test]
fn a_folder_named_entry_holding_data_is_written_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let entries = vec![
        raw(format!("{YEAR}/"), Vec::new()),
        raw(format!("{YEAR}/IMG_0002.jpg/"), fixture("plain.jpg")),
        raw(
            format!("{YEAR}/IMG_0002.jpg.json"),
            sidecar("IMG_0002.jpg", T1, None),
        ),
    ];
    let zip = write_zip(
        dir.path(),
        "takeout-001.zip",
        &raw_zip(&entries, Layout::Plain),
    );
    let out = dir.path().join("out");
    let (o, report) = process(&[zip], &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(&out), ["IMG_0002.jpg"]);
    assert_eq!(report_entry(&report, "IMG_0002.jpg")["status"], "written");
    let note = &report["entry_notes"][0];
    assert!(
        note["source"].as_str().unwrap().ends_with("IMG_0002.jpg/"),
        "{note}"
    );
    assert!(note["note"]
        .as_str()
        .unwrap()
        .contains("named like a folder but holds"));
}

#[test]
fn entries_gpbackup_cannot_read_are_named_by_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let plain = fixture("plain.jpg");
    let mut entries = vec![raw(format!("{YEAR}/ok.jpg"), plain.clone())];
    for (name, method, flags) in [
        ("bzip2.jpg", 12, 0),
        ("zstd.jpg", 93, 0),
        ("lzma.jpg", 14, 0),
        ("aes.jpg", 99, 1),
        ("locked.jpg", 8, 1),
    ] {
        entries.push(Raw {
            name: format!("{YEAR}/{name}"),
            data: jpeg_variant(&plain, name),
            method,
            flags,
        });
    }
    let zip = write_zip(
        dir.path(),
        "takeout-001.zip",
        &raw_zip(&entries, Layout::Plain),
    );
    let out = dir.path().join("out");
    let (o, report) = process(&[zip], &out, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    for (name, what) in [
        ("bzip2.jpg", "bzip2-compressed"),
        ("zstd.jpg", "zstd-compressed"),
        ("lzma.jpg", "LZMA-compressed"),
        ("aes.jpg", "encrypted (AES)"),
        ("locked.jpg", "encrypted (zip password)"),
    ] {
        let m = report_entry(&report, name);
        assert_eq!(m["status"], "failed");
        let reason = m["reason"].as_str().unwrap();
        assert!(reason.contains(&format!("{what}: ")), "{name}: {reason}");
        assert!(!reason.contains("method 65535"), "{reason}");
    }
    assert_eq!(
        report_entry(&report, "ok.jpg")["status"],
        "written-without-metadata"
    );
    assert!(stderr(&o).contains("bzip2-compressed"), "{}", stderr(&o));
}

/// A sidecar JSON text with `description` spliced in raw (it may hold escapes).
fn sidecar_with_raw_description(title: &str, description_json: &str) -> Vec<u8> {
    let base = String::from_utf8(sidecar(title, T1, Some(EIFFEL))).unwrap();
    base.replacen(
        "\"description\": \"\"",
        &format!("\"description\": \"{description_json}\""),
        1,
    )
    .into_bytes()
}

#[test]
fn sidecar_text_faults_cost_only_their_field() {
    if !have_exiftool() {
        return;
    }
    let plain = fixture("plain.jpg");
    let long = "x".repeat(70_000);
    let mut t = Takeout::new(1);
    t.add(0, format!("{YEAR}/long.jpg"), jpeg_variant(&plain, "long"))
        .add(
            0,
            format!("{YEAR}/long.jpg.json"),
            sidecar_with_raw_description("long.jpg", &long),
        )
        .add(
            0,
            format!("{YEAR}/emoji.jpg"),
            jpeg_variant(&plain, "emoji"),
        )
        .add(
            0,
            format!("{YEAR}/emoji.jpg.json"),
            sidecar_with_raw_description("emoji.jpg", "cut \\ud83d emoji"),
        )
        .add(0, format!("{YEAR}/fffe.jpg"), jpeg_variant(&plain, "fffe"))
        .add(
            0,
            format!("{YEAR}/fffe.jpg.json"),
            sidecar_with_raw_description("fffe.jpg", "odd \\ufffe\\uffff\\u0001 text"),
        );
    let dir = tempfile::tempdir().unwrap();
    let zips = t.write(dir.path());
    let out = dir.path().join("out");
    let (o, report) = process(&zips, &out, &["--xmp", "always"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for name in ["long.jpg", "emoji.jpg", "fffe.jpg"] {
        let m = report_entry(&report, name);
        assert_eq!(m["status"], "written", "{m:#}");
        // The date and the place are embedded whatever the description did.
        let e = exiftool(&out.join(name), &[]);
        assert_eq!(
            e["DateTimeOriginal"], "2019:07:04 17:10:12",
            "{name}: {e:#}"
        );
        assert!(
            (e["GPSLatitude"].as_f64().unwrap() - EIFFEL.0).abs() < 1e-6,
            "{name}"
        );
        // Every XMP sidecar is XML (no character the XML 1.0 Char production forbids).
        let xmp = std::fs::read_to_string(out.join(format!("{name}.xmp"))).unwrap();
        let forbidden = |c: char| {
            let u = c as u32;
            (u < 0x20 && !matches!(c, '\t' | '\n' | '\r')) || u == 0xFFFE || u == 0xFFFF
        };
        assert!(!xmp.chars().any(forbidden), "{name}: {xmp}");
    }
    // The long description is in the XMP sidecar, not in EXIF.
    let e = exiftool(&out.join("long.jpg"), &[]);
    assert!(e.get("ImageDescription").is_none());
    let x = exiftool(&out.join("long.jpg.xmp"), &[]);
    assert_eq!(x["Description"].as_str().map(str::len), Some(70_000));
    let notes = report_entry(&report, "long.jpg")["notes"].to_string();
    assert!(notes.contains("too long for EXIF"), "{notes}");
    // The cut emoji costs the description only, and says so.
    let notes = report_entry(&report, "emoji.jpg")["notes"].to_string();
    assert!(notes.contains("invalid \\\\u escape"), "{notes}");
    assert!(exiftool(&out.join("emoji.jpg"), &[])
        .get("ImageDescription")
        .is_none());
    // U+FFFE, U+FFFF and a C0 control are left out of the XMP; the rest is there.
    let x = exiftool(&out.join("fffe.jpg.xmp"), &[]);
    assert_eq!(x["Description"], "odd  text");
}
