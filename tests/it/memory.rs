//! Bounded memory: a 200 MB video goes through with a peak RSS far below its size.

use crate::common::*;
use std::io::Write;
use zip::write::SimpleFileOptions;

const PADDING: usize = 200 * 1024 * 1024;

/// Runs `gpbackup ARGS` and returns (exit code, the child's peak resident set size in bytes).
/// The peak is the child's own `VmHWM`, read from `/proc` until it exits: `getrusage` and
/// `wait4` would count the test process's memory too (the kernel carries the forking
/// process's high-water mark across `exec`), and that grows with the tests running beside.
pub(crate) fn run_with_peak_rss(args: &[&std::ffi::OsStr]) -> (i32, u64) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gpbackup"))
        .args(args)
        .env("TZ", "UTC")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run gpbackup");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Some(hwm) = std::fs::read_to_string(&status_file).ok().and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        }) {
            peak = peak.max(hwm * 1024);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            return (status.code().unwrap_or(-1), peak);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A one-part Takeout in `dir` with one MP4 whose mdat carries `padding` extra bytes that no
/// chunk refers to (clip.mp4 ends with its mdat box, at 948), with a sidecar giving a date and
/// a position in Tokyo. The file stays a valid MP4 with moov before mdat.
fn takeout_with_video(dir: &std::path::Path, padding: usize) -> std::path::PathBuf {
    let clip = fixture("clip.mp4");
    let mdat_at = 948;
    assert_eq!(&clip[mdat_at + 4..mdat_at + 8], b"mdat");
    let mdat_len = clip.len() - mdat_at + padding;
    std::fs::create_dir_all(dir).unwrap();
    let zip_path = dir.join("takeout-001.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let stored = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    w.start_file(format!("{YEAR}/VID_BIG.mp4"), stored).unwrap();
    w.write_all(&clip[..mdat_at]).unwrap();
    w.write_all(&(mdat_len as u32).to_be_bytes()).unwrap();
    w.write_all(&clip[mdat_at + 4..]).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..padding / zeros.len() {
        w.write_all(&zeros).unwrap();
    }
    w.start_file(format!("{YEAR}/VID_BIG.mp4.json"), stored)
        .unwrap();
    w.write_all(&sidecar(
        "VID_BIG.mp4",
        1562230800,
        Some((35.6585805, 139.7454329, 12.0)),
    ))
    .unwrap();
    w.finish().unwrap();
    zip_path
}

/// Processes `zip` into `out` with one time zone for all files (so the offline zone data,
/// ~80 MB while it loads, is not part of the measure); returns the written video's size and
/// the run's peak RSS.
fn process_video(zip: &std::path::Path, out: &std::path::Path) -> (u64, u64) {
    let report_path = out.with_extension("json");
    let (code, peak) = run_with_peak_rss(&[
        "process".as_ref(),
        zip.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--timezone".as_ref(),
        "Asia/Tokyo".as_ref(),
        "--report".as_ref(),
        report_path.as_os_str(),
    ]);
    assert_eq!(code, 0);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(report["media"][0]["status"], "written");
    assert_eq!(report["media"][0]["embedded"], true);
    let written = std::fs::metadata(out.join("VID_BIG.mp4")).unwrap().len();
    (written, peak)
}

#[test]
fn a_200_mb_video_streams_with_flat_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let big = takeout_with_video(&tmp.path().join("big"), PADDING);
    let (written, peak) = process_video(&big, &tmp.path().join("out"));
    assert!(written > PADDING as u64);
    eprintln!(
        "peak RSS {} MB for a {} MB video",
        peak >> 20,
        written >> 20
    );
    assert!(peak > 1 << 20, "the child's memory was read");
    assert!(peak < 64 << 20, "peak RSS {} MB", peak >> 20);
}
