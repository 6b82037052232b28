//! Bad input, faults and hostile archives: nothing lost, nothing escapes the output folder,
//! and a clear word on what went wrong. Every test checks that the inputs are untouched.

use crate::common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

const T: i64 = 1562253012;

fn photo(tag: &str) -> Vec<u8> {
    jpeg_variant(&fixture("plain.jpg"), tag)
}

/// A zip of `files` with every entry stored (uncompressed) or deflated.
fn zip_with(files: &[(String, Vec<u8>)], method: CompressionMethod) -> Vec<u8> {
    let mut w = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in files {
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("present")
}

/// Photo `IMG_000n.jpg` with its sidecar, `n` in `range`.
fn photos(range: std::ops::Range<usize>) -> Vec<(String, Vec<u8>)> {
    padded_photos(range, 0)
}

/// The same, each photo made about `padding` bytes larger (its comment segment).
fn padded_photos(range: std::ops::Range<usize>, padding: usize) -> Vec<(String, Vec<u8>)> {
    let pad = "p".repeat(padding);
    range
        .flat_map(|i| {
            let name = format!("IMG_{i:04}.jpg");
            let tag = if padding == 0 {
                format!("photo number {i}")
            } else {
                format!("photo number {i} {pad}")
            };
            [
                (format!("{YEAR}/{name}"), photo(&tag)),
                (
                    format!("{YEAR}/{name}.json"),
                    sidecar(&name, T + i as i64, None),
                ),
            ]
        })
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn statuses(report: &serde_json::Value) -> Vec<(String, String)> {
    report["media"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let src = m["source"].as_str().unwrap();
            (
                src.rsplit('/').next().unwrap().to_string(),
                m["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn truncated_zip_recovers_every_complete_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = zip_with(&photos(1..6), CompressionMethod::Stored);
    // Cut inside the data of photo 4.
    let cut = find(&zip, b"photo number 4") + 5;
    let part = write(&tmp.path().join("in"), "takeout-001.zip", &zip[..cut]);
    let before = snapshot(std::slice::from_ref(&part));
    let out = tmp.path().join("photos");
    let (o, report) = process(std::slice::from_ref(&part), &out, &[]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "completed with failures: {}",
        stderr(&o)
    );
    let s = stderr(&o);
    // Named right under the counts (whose "0 failed" does not cover a part cut off), in
    // plain words with what to do.
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(
        lines[1],
        "damaged: part 001 (takeout-001.zip) ends early, probably an interrupted download: \
         download it again and run the same command with it. Every photo before the cut is in \
         the library (6 files read from it; the cut is in Takeout/Google Photos/Photos from \
         2019/IMG_0004.jpg).",
        "{s}"
    );
    counts_adding_up(&s);
    assert!(
        !s.contains("truncated zip") && !s.contains("entry header"),
        "{s}"
    );
    assert_eq!(
        listing(&out),
        ["IMG_0001.jpg", "IMG_0002.jpg", "IMG_0003.jpg"]
    );
    assert_eq!(
        mtime(&out.join("IMG_0003.jpg")),
        T + 3,
        "recovered sidecars are used"
    );
    assert_eq!(report["damaged_inputs"][0]["recovered"], 6);
    assert_eq!(snapshot(&[part]), before);

    // Only the central directory cut off: everything is recovered, still reported.
    let part = write(
        &tmp.path().join("in2"),
        "takeout-001.zip",
        &zip[..zip.len() - 30],
    );
    let out = tmp.path().join("photos2");
    let (o, _) = process(&[part], &out, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(listing(&out).len(), 5);
}

#[test]
fn a_corrupt_entry_fails_alone() {
    let tmp = tempfile::tempdir().unwrap();
    // Stored: a flipped byte in the data is a CRC error.
    let mut stored = zip_with(&photos(1..4), CompressionMethod::Stored);
    let at = find(&stored, b"photo number 2");
    stored[at] ^= 0x20;
    // Deflated: garbage in the compressed data.
    let mut deflated = zip_with(&photos(4..7), CompressionMethod::Deflated);
    let name = format!("{YEAR}/IMG_0005.jpg");
    let header = find(&deflated, name.as_bytes()) - 30;
    let data = header
        + 30
        + name.len()
        + u16::from_le_bytes([deflated[header + 28], deflated[header + 29]]) as usize;
    for b in &mut deflated[data + 10..data + 60] {
        *b = 0xA5;
    }
    let parts = vec![
        write(&tmp.path().join("in"), "a.zip", &stored),
        write(&tmp.path().join("in"), "b.zip", &deflated),
    ];
    let before = snapshot(&parts);
    let out = tmp.path().join("photos");
    let (o, report) = process(&parts, &out, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let s = stderr(&o);
    assert!(
        s.contains("failed: ")
            && s.contains("a.zip:Takeout/Google Photos/Photos from 2019/IMG_0002.jpg: ")
            && s.contains("download the part it is in again"),
        "{s}"
    );
    assert!(
        s.contains("b.zip:Takeout/Google Photos/Photos from 2019/IMG_0005.jpg"),
        "{s}"
    );
    assert_eq!(
        listing(&out),
        [
            "IMG_0001.jpg",
            "IMG_0003.jpg",
            "IMG_0004.jpg",
            "IMG_0006.jpg"
        ]
    );
    assert_eq!(
        std::fs::read_dir(out.join(".gpbackup/tmp"))
            .unwrap()
            .count(),
        0,
        "nothing partial left"
    );
    let st = statuses(&report);
    assert!(st.contains(&("IMG_0002.jpg".into(), "failed".into())));
    assert_eq!(snapshot(&parts), before);
}

#[test]
fn unusable_inputs_are_named_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("photos");
    let empty = write(tmp.path(), "empty.zip", b"");
    let notes = tmp.path().join("notes");
    write(&notes, "todo.txt", b"buy milk");
    let good = write(
        &tmp.path().join("in"),
        "takeout-001.zip",
        &zip_with(&photos(1..2), CompressionMethod::Deflated),
    );
    for (bad, says) in [
        (empty, "the file is empty"),
        (notes.clone(), "contains no photos, videos or JSON sidecars"),
        (tmp.path().join("missing.zip"), "no such file or directory"),
    ] {
        let (o, _) = process(&[good.clone(), bad.clone()], &out, &[]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let s = stderr(&o);
        assert_eq!(s.lines().count(), 1, "one line: {s}");
        assert!(
            s.contains(&bad.display().to_string()) && s.contains(says),
            "{s}"
        );
        assert!(!out.exists(), "no work started");
    }
    // An output path that is a file.
    let file = write(tmp.path(), "photos.txt", b"x");
    let (o, _) = process(&[good], &file, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not a folder"), "{}", stderr(&o));
}

#[test]
fn malformed_sidecars_still_write_their_photos() {
    let tmp = tempfile::tempdir().unwrap();
    let sidecars: Vec<(&str, Vec<u8>)> = vec![
        ("cut.jpg", br#"{"title": "cut.jpg", "photoTakenTime": {"timesta"#.to_vec()),
        ("types.jpg", br#"{"title": 7, "photoTakenTime": {"timestamp": {"x": 1}}, "geoData": "north"}"#.to_vec()),
        ("number.jpg", br#"{"photoTakenTime": {"timestamp": 1562253012}}"#.to_vec()),
        ("huge.jpg", br#"{"photoTakenTime": {"timestamp": "1e300"}, "geoData": {"latitude": 1e308, "longitude": 2}}"#.to_vec()),
        ("bytes.jpg", b"{\"title\": \"bytes\xff\xfe.jpg\", \"photoTakenTime\": {\"timestamp\": \"1\"}}".to_vec()),
        ("empty.jpg", b"".to_vec()),
    ];
    let mut files = Vec::new();
    for (name, json) in &sidecars {
        files.push((format!("{YEAR}/{name}"), photo(name)));
        files.push((format!("{YEAR}/{name}.json"), json.clone()));
    }
    let part = write(
        &tmp.path().join("in"),
        "t.zip",
        &zip_with(&files, CompressionMethod::Deflated),
    );
    let out = tmp.path().join("photos");
    let (o, report) = process(std::slice::from_ref(&part), &out, &[]);
    assert!(o.status.success(), "warnings never abort: {}", stderr(&o));
    assert_eq!(listing(&out).len(), 6, "every photo is written");
    assert_eq!(
        mtime(&out.join("number.jpg")),
        1562253012,
        "a number timestamp is fine"
    );
    for name in ["cut.jpg", "bytes.jpg", "empty.jpg"] {
        let m = report_entry(&report, &format!("/{name}"));
        assert_eq!(m["status"], "written-without-metadata", "{m}");
        let notes = m["notes"].to_string();
        assert!(
            notes.contains("its sidecar could not be used"),
            "{name}: {notes}"
        );
    }
    let huge = report_entry(&report, "/huge.jpg");
    assert!(
        huge["notes"].to_string().contains("not a usable date"),
        "{huge}"
    );
    assert!(huge["notes"].to_string().contains("out of range"), "{huge}");
    assert!(report_entry(&report, "/types.jpg")["notes"]
        .to_string()
        .contains("not a usable date"));
    assert_eq!(report["bad_json"].as_array().unwrap().len(), 3);
}

#[test]
fn hostile_names_never_escape_or_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let names = [
        "../../evil.jpg".to_string(),
        "/etc/evil2.jpg".into(),
        "C:\\Windows\\evil3.jpg".into(),
        "Takeout\\Google Photos\\evil4.jpg".into(),
        format!("{YEAR}/nul\u{0}byte.jpg"),
        format!("{YEAR}/{}.jpg", "long".repeat(80)),
        format!("{YEAR}/Case.jpg"),
        format!("{YEAR}/case.JPG"),
        format!("{YEAR}/\u{e9}t\u{e9}.jpg"),
        format!("{YEAR}/e\u{301}te\u{301}.jpg"),
        format!("{YEAR}/CON.jpg"),
        format!("{YEAR}/trailing. .jpg. "),
    ];
    let files: Vec<(String, Vec<u8>)> = names.iter().map(|n| (n.clone(), photo(n))).collect();
    let part = write(
        &tmp.path().join("in"),
        "t.zip",
        &zip_with(&files, CompressionMethod::Deflated),
    );
    let before = snapshot(std::slice::from_ref(&part));
    let out = tmp.path().join("deep/photos");
    let (o, report) = process(std::slice::from_ref(&part), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Nothing outside the output folder: the temp dir holds only the input and the output.
    let mut top: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["deep", "in"]);
    assert!(!Path::new("/etc/evil2.jpg").exists());
    // Every photo is there once, under a safe and distinct name.
    let written = listing(&out);
    assert_eq!(written.len(), names.len(), "{written:?}");
    let lower: std::collections::BTreeSet<String> =
        written.iter().map(|n| n.to_lowercase()).collect();
    assert_eq!(
        lower.len(),
        written.len(),
        "distinct even on a case-insensitive disk: {written:?}"
    );
    for n in &written {
        assert!(
            n.len() <= 255 && !n.contains('\\') && !n.contains('\0') && !n.ends_with('.'),
            "{n:?}"
        );
    }
    let mut contents: Vec<Vec<u8>> = written
        .iter()
        .map(|n| std::fs::read(out.join(n)).unwrap())
        .collect();
    contents.sort();
    let mut expected: Vec<Vec<u8>> = files.iter().map(|f| f.1.clone()).collect();
    expected.sort();
    // Metadata was added (no sidecars: dates are not known, so the bytes are unchanged).
    assert_eq!(contents, expected);
    assert_eq!(report["media"].as_array().unwrap().len(), names.len());
    assert_eq!(snapshot(&[part]), before);
}

/// Rewrites the sizes a zip declares for `name` (local header and central directory).
fn declare_size(zip: &mut [u8], name: &str, size: u32) {
    let mut from = 0;
    while let Some(p) = zip[from..]
        .windows(name.len())
        .position(|w| w == name.as_bytes())
    {
        let at = from + p;
        if at >= 30 && zip[at - 30..at - 26] == *b"PK\x03\x04" {
            zip[at - 30 + 22..at - 30 + 26].copy_from_slice(&size.to_le_bytes());
        }
        if at >= 46 && zip[at - 46..at - 42] == *b"PK\x01\x02" {
            zip[at - 46 + 24..at - 46 + 28].copy_from_slice(&size.to_le_bytes());
        }
        from = at + 1;
    }
}

#[test]
fn zip_bombs_are_stopped_at_the_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let mut files = photos(1..2);
    let zeros = vec![0u8; 4 << 20];
    files.push((format!("{YEAR}/bomb.mp4"), zeros.clone()));
    files.push((format!("{YEAR}/liar.jpg"), zeros));
    let mut zip = zip_with(&files, CompressionMethod::Deflated);
    // A 2 GB claim from a few KB of compressed data: refused before reading.
    declare_size(&mut zip, &format!("{YEAR}/bomb.mp4"), 0x8000_0000);
    // A small claim for data that inflates to 4 MB: stopped at the claim.
    declare_size(&mut zip, &format!("{YEAR}/liar.jpg"), 1000);
    let part = write(&tmp.path().join("in"), "t.zip", &zip);
    let out = tmp.path().join("photos");
    let (o, report) = process(std::slice::from_ref(&part), &out, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let bomb = report_entry(&report, "/bomb.mp4");
    assert_eq!(bomb["status"], "failed");
    assert!(
        bomb["reason"]
            .as_str()
            .unwrap()
            .contains("suspected zip bomb"),
        "{bomb}"
    );
    let liar = report_entry(&report, "/liar.jpg");
    assert_eq!(liar["status"], "failed", "{liar}");
    assert_eq!(listing(&out), ["IMG_0001.jpg"]);
    let used: u64 = walkdir::WalkDir::new(&out)
        .into_iter()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    assert!(used < 1 << 20, "no disk filled: {used} bytes");
}

/// A size-limited tmpfs, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(dir: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then(|| SmallDisk(dir.to_path_buf()))
    }

    fn grow(&self, size: &str) {
        let o = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
    }
}

/// ENOSPC on a real file system: a 256 KB tmpfs as the output (needs root, as in CI, where
/// it fails rather than skips without it; tests/it/safety.rs has a variant that needs no root).
/// The report goes elsewhere: on the full disk it could not be written either.
#[test]
fn a_full_disk_stops_cleanly_and_a_rerun_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&tmp.path().join("disk"), "256k") else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI must run this test as root (it mounts a tmpfs)");
        }
        eprintln!("cannot mount a tmpfs here (not root?): skipped");
        return;
    };
    let files = padded_photos(0..12, 60_000);
    let part = write(
        &tmp.path().join("in"),
        "t.zip",
        &zip_with(&files, CompressionMethod::Deflated),
    );
    let before = snapshot(std::slice::from_ref(&part));
    let out = disk.0.join("photos");
    // The check of free space before writing would stop this run before any write: the test
    // hook tells it there is room, so that the disk fills during the run.
    let run_seeing = |free: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gpbackup"));
        c.args(["process", "-j", "1", "--timezone", "Europe/Paris", "-o"])
            .arg(&out)
            .arg(&part)
            .env("TZ", "UTC");
        if let Some(free) = free {
            c.env("GPBACKUP_FREE_BYTES", free);
        }
        c.output().unwrap()
    };
    let run = || run_seeing(None);
    let o = run_seeing(Some("100000000"));
    assert_stopped_on_full_disk(&o, &out);
    let partial = listing(&out).len();
    assert!(partial > 0 && partial < 12, "{partial}");
    let v = gpbackup(&["verify".as_ref(), out.as_os_str()]);
    assert!(
        v.status.success(),
        "what was written is consistent: {}",
        stderr(&v)
    );

    disk.grow("4m");
    let o = run();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(&out).len(), 12);
    let v = gpbackup(&["verify".as_ref(), out.as_os_str()]);
    assert!(v.status.success(), "{}", stderr(&v));
    assert_eq!(snapshot(&[part]), before);
}

/// A disk too small for the library: the run says how much is missing before it writes
/// anything, and removes the output folder it made; `--dry-run` says it and goes on. On a
/// real tmpfs (root, as in CI), so that the free space is the file system's own answer.
#[test]
fn a_disk_too_small_is_named_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&tmp.path().join("disk"), "2m") else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI must run this test as root (it mounts a tmpfs)");
        }
        eprintln!("cannot mount a tmpfs here (not root?): skipped");
        return;
    };
    // 40 photos of 60 KB: about 4 MB with room for each, on a 2 MB disk.
    let files = padded_photos(0..40, 60_000);
    let part = write(
        &tmp.path().join("in"),
        "t.zip",
        &zip_with(&files, CompressionMethod::Deflated),
    );
    let before = snapshot(std::slice::from_ref(&part));
    let out = disk.0.join("photos");
    let o = gpbackup(&[
        "process".as_ref(),
        part.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    let s = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert_space_named(&s, &out, "2.1 MB");
    assert!(
        !out.exists(),
        "nothing written, the folder made removed: {s}"
    );

    let o = gpbackup(&[
        "process".as_ref(),
        part.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--dry-run".as_ref(),
    ]);
    let s = stderr(&o);
    assert!(o.status.success(), "{s}");
    assert_space_named(&s, &out, "2.1 MB");
    assert!(s.contains("dry run"), "{s}");

    disk.grow("8m");
    let o = gpbackup(&[
        "process".as_ref(),
        part.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("needs about"), "{}", stderr(&o));
    assert_eq!(listing(&out).len(), 40);
    assert_eq!(snapshot(&[part]), before);
}

/// The same check without root: the test hook `GPBACKUP_FREE_BYTES` says how much is free.
/// An existing library keeps what it holds; a re-run needs room only for what it adds.
#[test]
fn free_space_is_checked_before_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let part = write(
        &tmp.path().join("in"),
        "t.zip",
        &zip_with(&padded_photos(0..30, 60_000), CompressionMethod::Deflated),
    );
    let out = tmp.path().join("photos");
    let run = |free: &str, part: &Path| {
        Command::new(env!("CARGO_BIN_EXE_gpbackup"))
            .args(["process", "-j", "1", "-o"])
            .arg(&out)
            .arg(part)
            .env("TZ", "UTC")
            .env("GPBACKUP_FREE_BYTES", free)
            .output()
            .unwrap()
    };
    let o = run("1500000", &part);
    let s = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    // 30 photos of 60 KB, 16 KB of room each and 1 MB for the library's own files: 3.4 MB.
    assert_space_named(&s, &out, "1.5 MB");
    assert!(s.contains("needs about 1.9 MB more"), "{s}");
    assert!(!out.exists(), "{s}");
    let o = run("3500000", &part);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(&out).len(), 30);
    // A re-run with one photo more needs room for that one only.
    let more = write(
        &tmp.path().join("in2"),
        "t.zip",
        &zip_with(&padded_photos(0..31, 60_000), CompressionMethod::Deflated),
    );
    let o = run("1200000", &more);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(&out).len(), 31);
}

fn assert_space_named(s: &str, out: &Path, free: &str) {
    assert!(s.contains("the library needs about"), "{s}");
    assert!(
        s.contains(&format!("than the {free} free on {}", out.display())),
        "{s}"
    );
    assert!(
        s.contains("Free some space or choose another folder with -o."),
        "{s}"
    );
    assert!(!s.contains("os error"), "{s}");
}

/// Unix only: the test sends SIGINT (Windows has no signal to send to another process).
#[cfg(unix)]
#[test]
fn ctrl_c_stops_within_a_second_and_says_how_to_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let files = padded_photos(0..400, 60_000);
    let part = write(
        &tmp.path().join("in"),
        "t.zip",
        &zip_with(&files, CompressionMethod::Deflated),
    );
    let before = snapshot(std::slice::from_ref(&part));
    let out = tmp.path().join("photos");
    let child = Command::new(env!("CARGO_BIN_EXE_gpbackup"))
        .args(["process", "-j", "1", "-o"])
        .arg(&out)
        .arg(&part)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let sent = std::time::Instant::now();
    let o = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    let s = String::from_utf8_lossy(&o.stderr);
    if o.status.code() == Some(0) {
        eprintln!("finished before the signal: nothing to check");
    } else {
        assert!(
            took < std::time::Duration::from_secs(1),
            "stopped after {took:?}"
        );
        assert_eq!(o.status.code(), Some(130), "{s}");
        assert!(
            s.contains("stopped early: interrupted") && s.contains("run the same command again"),
            "{s}"
        );
        assert_eq!(
            std::fs::read_dir(out.join(".gpbackup/tmp"))
                .unwrap()
                .count(),
            0
        );
    }
    let (o, _) = process(std::slice::from_ref(&part), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(&out).len(), 400);
    assert_eq!(snapshot(&[part]), before);
}
