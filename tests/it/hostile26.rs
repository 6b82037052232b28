//! Hostile review of issue 26 (zips, reports, stops): zips whose directory lies about where
//! entries are or how many there are, a million failures, and a run stopped between its files
//! and their records.
//!
//! Tests marked `FAILS:` in their comment showed a bug when they were written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const T: i64 = 1_562_253_012;

/// One record of a hand-built zip's central directory.
struct Record {
    name: String,
    crc: u32,
    compressed: u32,
    size: u32,
    header: u32,
}

/// A stored local header for `name` over `data`.
fn local_header(name: &str, data: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(b"PK\x03\x04");
    h.extend_from_slice(&[20, 0, 0, 0, 0, 0]); // version, flags, method: stored
    h.extend_from_slice(&[0; 4]); // time, date
    h.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    h.extend_from_slice(&(data.len() as u32).to_le_bytes());
    h.extend_from_slice(&(data.len() as u32).to_le_bytes());
    h.extend_from_slice(&(name.len() as u16).to_le_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(name.as_bytes());
    h
}

/// `body` (local headers and data) followed by a central directory of `records` and an end
/// record that counts `count` entries.
fn finish_zip(mut body: Vec<u8>, records: &[Record], count: u16) -> Vec<u8> {
    let start = body.len() as u32;
    for r in records {
        body.extend_from_slice(b"PK\x01\x02");
        body.extend_from_slice(&[20, 3, 20, 0, 0, 0, 0, 0]); // made by, needed, flags, method
        body.extend_from_slice(&[0; 4]); // time, date
        body.extend_from_slice(&r.crc.to_le_bytes());
        body.extend_from_slice(&r.compressed.to_le_bytes());
        body.extend_from_slice(&r.size.to_le_bytes());
        body.extend_from_slice(&(r.name.len() as u16).to_le_bytes());
        body.extend_from_slice(&[0; 8]); // extra, comment, disk, internal
        body.extend_from_slice(&0o100644u32.wrapping_shl(16).to_le_bytes());
        body.extend_from_slice(&r.header.to_le_bytes());
        body.extend_from_slice(r.name.as_bytes());
    }
    let size = body.len() as u32 - start;
    body.extend_from_slice(b"PK\x05\x06");
    body.extend_from_slice(&[0; 4]);
    body.extend_from_slice(&count.to_le_bytes());
    body.extend_from_slice(&count.to_le_bytes());
    body.extend_from_slice(&size.to_le_bytes());
    body.extend_from_slice(&start.to_le_bytes());
    body.extend_from_slice(&[0, 0]);
    body
}

/// A zip of stored `files`, each with its own local header, its end record counting `count`
/// entries (`None`: all of them).
fn stored_zip(files: &[(String, Vec<u8>)], count: Option<u16>) -> Vec<u8> {
    let mut body = Vec::new();
    let mut records = Vec::new();
    for (name, data) in files {
        records.push(Record {
            name: name.clone(),
            crc: crc32fast::hash(data),
            compressed: data.len() as u32,
            size: data.len() as u32,
            header: body.len() as u32,
        });
        body.extend(local_header(name, data));
        body.extend_from_slice(data);
    }
    let count = count.unwrap_or(records.len() as u16);
    finish_zip(body, &records, count)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn used_bytes(root: &Path) -> u64 {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

fn verify_against(out: &Path, inputs: &[PathBuf]) -> Output {
    let mut args: Vec<&std::ffi::OsStr> = vec!["verify".as_ref(), out.as_os_str()];
    args.push("--against".as_ref());
    args.extend(inputs.iter().map(|p| p.as_os_str()));
    gpbackup(&args)
}

/// What [`run_within`] saw of a run.
struct Watched {
    output: Output,
    took: Duration,
    killed: bool,
    /// The child's peak resident set size (its own `VmHWM`, see tests/it/memory.rs), bytes.
    peak: u64,
}

/// Runs `gpbackup ARGS`, killed after `limit`.
fn run_within(args: &[&std::ffi::OsStr], limit: Duration) -> Watched {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_gpbackup"))
        .args(args)
        .env("TZ", "UTC")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status_file = format!("/proc/{}/status", child.id());
    let (mut peak, mut killed) = (0, false);
    let status = loop {
        if let Some(hwm) = std::fs::read_to_string(&status_file).ok().and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        }) {
            peak = peak.max(hwm * 1024);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit && !killed {
            killed = true;
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Watched {
        output: Output {
            status,
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        },
        took: started.elapsed(),
        killed,
        peak,
    }
}

// ---------------------------------------------------------------------------------------
// 11: overlapping stored entries.

/// FAILS: entries whose stored data contains the next entries (each one a local header, then
/// the rest): every one is written, the zip's bytes many times over; `unzip -t` rejects it.
#[test]
fn overlapping_entries_are_refused_and_the_others_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let inner = photo(&format!("innermost {}", "x".repeat(40_000)));
    let n = 12;
    // From the innermost outwards: entry k's data is entry k+1's header and data.
    let mut tail = inner.clone();
    let mut headers = Vec::new();
    for k in (0..n).rev() {
        let name = format!("{YEAR}/IMG_{k:04}.jpg");
        let h = local_header(&name, &tail);
        headers.push((name, crc32fast::hash(&tail), tail.len() as u32));
        let mut t = h;
        t.extend_from_slice(&tail);
        tail = t;
    }
    headers.reverse();
    // A normal photo after them, with its sidecar.
    let mut body = tail;
    let mut records = Vec::new();
    let mut at = 0u32;
    for (name, crc, len) in &headers {
        records.push(Record {
            name: name.clone(),
            crc: *crc,
            compressed: *len,
            size: *len,
            header: at,
        });
        at += 30 + name.len() as u32;
    }
    let plain = photo("plain one");
    for (name, data) in [
        (format!("{YEAR}/IMG_9999.jpg"), plain.clone()),
        (
            format!("{YEAR}/IMG_9999.jpg.json"),
            sidecar("IMG_9999.jpg", T, None),
        ),
    ] {
        records.push(Record {
            name: name.clone(),
            crc: crc32fast::hash(&data),
            compressed: data.len() as u32,
            size: data.len() as u32,
            header: body.len() as u32,
        });
        body.extend(local_header(&name, &data));
        body.extend_from_slice(&data);
    }
    let count = records.len() as u16;
    let zip = finish_zip(body, &records, count);
    let part = write(
        &tmp.path().join("in"),
        "takeout-20240101T000000Z-001.zip",
        &zip,
    );
    let out = tmp.path().join("out");
    let (o, report) = process(std::slice::from_ref(&part), &out, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let used = used_bytes(&out);
    assert!(
        used < 3 * inner.len() as u64 + 2 * plain.len() as u64,
        "{used} bytes written from a {} byte zip:\n{}",
        zip.len(),
        text(&o)
    );
    // The innermost entry does not overlap anything: it is read; the normal photo too.
    assert_eq!(report_entry(&report, "/IMG_9999.jpg")["status"], "written");
    let last = format!("/IMG_{:04}.jpg", n - 1);
    assert_eq!(
        report_entry(&report, &last)["status"],
        "written-without-metadata",
        "{report}"
    );
    for k in 0..n - 1 {
        let m = report_entry(&report, &format!("/IMG_{k:04}.jpg"));
        assert_eq!(m["status"], "failed", "{m}");
        let why = m["reason"].as_str().unwrap();
        assert!(why.contains("overlap"), "{why}");
    }
    assert!(stderr(&o).contains("overlap"), "{}", stderr(&o));
}

// ---------------------------------------------------------------------------------------
// 12: records whose data runs past the next entry or the directory.

/// `n` central records of `Photos from 2019/IMG_n.jpg` that all point at one local header and
/// claim 4 GB of stored data, after one normal photo (with its sidecar).
fn liars_zip(n: usize) -> Vec<u8> {
    let plain = photo("a normal one");
    let files = [
        (format!("{YEAR}/IMG_0001.jpg"), plain),
        (
            format!("{YEAR}/IMG_0001.jpg.json"),
            sidecar("IMG_0001.jpg", T, None),
        ),
    ];
    let mut body = Vec::new();
    let mut records = Vec::new();
    for (name, data) in &files {
        records.push(Record {
            name: name.clone(),
            crc: crc32fast::hash(data),
            compressed: data.len() as u32,
            size: data.len() as u32,
            header: body.len() as u32,
        });
        body.extend(local_header(name, data));
        body.extend_from_slice(data);
    }
    let shared = body.len() as u32;
    body.extend(local_header(&format!("{YEAR}/liar.jpg"), b"abc"));
    body.extend_from_slice(b"abc");
    for i in 0..n {
        records.push(Record {
            name: format!("{YEAR}/L{i:07}.jpg"),
            crc: 0x1234_5678,
            compressed: 0xFFFF_FFF0,
            size: 0xFFFF_FFF0,
            header: shared,
        });
    }
    let count = records.len().min(0xFFFF) as u16;
    finish_zip(body, &records, count)
}

/// FAILS: records claiming more data than the zip holds are each read to the end of the zip:
/// 16,000 of them took 11 s, 50,000 never finish.
#[test]
fn records_running_past_their_data_are_refused_up_front() {
    let tmp = tempfile::tempdir().unwrap();
    let part = write(
        &tmp.path().join("in"),
        "takeout-20240101T000000Z-001.zip",
        &liars_zip(50_000),
    );
    let out = tmp.path().join("out");
    let report = tmp.path().join("report.json");
    let args: Vec<&std::ffi::OsStr> = vec![
        "process".as_ref(),
        part.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "-q".as_ref(),
        "--report".as_ref(),
        report.as_os_str(),
    ];
    let Watched {
        output: o,
        took,
        killed,
        ..
    } = run_within(&args, Duration::from_secs(60));
    assert!(!killed, "not done after {took:?}");
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(report_entry(&report, "/IMG_0001.jpg")["status"], "written");
    let liar = report_entry(&report, "/L0000007.jpg");
    assert_eq!(liar["status"], "failed");
    let why = liar["reason"].as_str().unwrap();
    assert!(why.contains("more data than"), "{why}");
    eprintln!("50,000 liars in {took:?}");
}

// ---------------------------------------------------------------------------------------
// 13: a million failures.

/// FAILS: many refused records: every failure's line kept in memory (a million took 1.5 GB)
/// and `-q` prints one line for each. (A million entries take minutes in a debug build: a
/// tenth of that shows the same.)
#[test]
fn many_failures_are_streamed_not_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let part = write(
        &tmp.path().join("in"),
        "takeout-20240101T000000Z-001.zip",
        &liars_zip(100_000),
    );
    let out = tmp.path().join("out");
    let report = tmp.path().join("report.json");
    let args: Vec<&std::ffi::OsStr> = vec![
        "process".as_ref(),
        part.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "-q".as_ref(),
        "--report".as_ref(),
        report.as_os_str(),
    ];
    let Watched {
        output: o,
        took,
        killed,
        peak,
    } = run_within(&args, Duration::from_secs(300));
    assert!(!killed, "not done after {took:?}");
    // 100,000 failures (all one duplicate group: one size, one CRC-32) held their lines at
    // ~1.2 KB each; the catalog and plan of 100,000 entries take ~20 MB.
    eprintln!("100,000 failures: {} MB at most", peak >> 20);
    assert!(peak < 80 << 20, "peak {} MB", peak >> 20);
    assert_eq!(o.status.code(), Some(3));
    let lines = String::from_utf8_lossy(&o.stderr).lines().count();
    assert!(lines < 40, "-q printed {lines} lines");
    let s = stderr(&o);
    assert!(
        s.contains("and 99,980 more failures"),
        "{}",
        &s[..s.len().min(3000)]
    );
    // Quiet, it still says where the whole story is.
    assert!(
        s.contains("A record of this run: ") && s.contains(".gpbackup/reports/"),
        "{}",
        &s[s.len().saturating_sub(2000)..]
    );
    // Every failure is in the report.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["media"].as_array().unwrap().len(), 100_001);
}

// ---------------------------------------------------------------------------------------
// 14: an end record that counts fewer entries than the directory holds.

/// FAILS: a zip whose end record counts 2 of its 5 entries (what a writer without zip64
/// leaves past 65,535 entries: the count wraps): 3 photos are never read, and `verify
/// --against` agrees.
#[test]
fn every_record_of_the_directory_is_read_whatever_the_end_record_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let files: Vec<(String, Vec<u8>)> = (0..5)
        .flat_map(|i| {
            let name = format!("IMG_{i:04}.jpg");
            [
                (format!("{YEAR}/{name}"), photo(&format!("wrapped {i}"))),
                (
                    format!("{YEAR}/{name}.json"),
                    sidecar(&name, T + i as i64, None),
                ),
            ]
        })
        .collect();
    let part = write(
        &tmp.path().join("in"),
        "takeout-20240101T000000Z-001.zip",
        &stored_zip(&files, Some(2)),
    );
    let out = tmp.path().join("out");
    let (o, report) = process(std::slice::from_ref(&part), &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(report["media"].as_array().unwrap().len(), 5, "{report}");
    let v = verify_against(&out, std::slice::from_ref(&part));
    assert_eq!(v.status.code(), Some(0), "{}", text(&v));
    // A photo gone from the library is missed by `verify --against`, whichever it is.
    let written: Vec<String> = files_of(&out).into_keys().collect();
    assert_eq!(written.len(), 5, "{written:?}");
    std::fs::remove_file(out.join(written.last().unwrap())).unwrap();
    let v = verify_against(&out, std::slice::from_ref(&part));
    assert_ne!(v.status.code(), Some(0), "{}", text(&v));
}

// ---------------------------------------------------------------------------------------
// 15: a run stopped between its files and their sidecar records.

/// `gpbackup process INPUT -o OUT -j 1` under strace, killed (SIGKILL) at its `n`-th `write`.
/// `None` when strace cannot run here.
fn killed_at_write(n: usize, input: &Path, out: &Path) -> Option<Output> {
    strace_at_write(&format!("signal=SIGKILL:when={n}"), None, input, out)
}

/// The same run with `inject` (strace's `inject=write:` expression) at its writes (of
/// `only` when given; strace counts the writes of each thread apart).
fn strace_at_write(inject: &str, only: Option<&Path>, input: &Path, out: &Path) -> Option<Output> {
    let ok = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=none", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("strace cannot run here: skipped");
        return None;
    }
    let mut cmd = Command::new("strace");
    if let Some(path) = only {
        cmd.arg("-P").arg(path);
    }
    let o = cmd
        .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=write"])
        .args(["-e", &format!("inject=write:{inject}")])
        .arg(env!("CARGO_BIN_EXE_gpbackup"))
        .arg("process")
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(["--timezone", "Europe/Paris", "-j", "1", "-q"])
        .env("TZ", "UTC")
        .output()
        .unwrap();
    Some(o)
}

/// The date of the one library file of part 2's photo.
fn dated_two(out: &Path) -> Option<String> {
    let got: Vec<String> = files_of(out)
        .into_iter()
        .filter(|(_, b)| b.windows(5).any(|w| w == b"<two>"))
        .map(|(p, _)| p)
        .collect();
    assert_eq!(got.len(), 1, "{got:?}");
    let bytes = std::fs::read(out.join(&got[0])).unwrap();
    let e = exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(bytes))
        .ok()?;
    exif_ascii(&e, exif::Tag::DateTimeOriginal)
}

fn copy_dir(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let dest = to.join(e.path().strip_prefix(from).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else if e.file_type().is_file() {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// Part 1 holds a photo and the sidecar of part 2's photo.
fn split_export(dir: &Path) -> (PathBuf, PathBuf) {
    let stamp = "20240101T000000Z";
    let one = write(
        dir,
        &format!("takeout-{stamp}-001.zip"),
        &zip_bytes(&[
            (format!("{YEAR}/IMG_0001.jpg"), photo("<one>")),
            (
                format!("{YEAR}/IMG_0001.jpg.json"),
                sidecar("IMG_0001.jpg", T, None),
            ),
            (
                format!("{YEAR}/IMG_0002.jpg.json"),
                sidecar("IMG_0002.jpg", T + 60, None),
            ),
        ]),
    );
    let two = write(
        dir,
        &format!("takeout-{stamp}-002.zip"),
        &zip_bytes(&[(format!("{YEAR}/IMG_0002.jpg"), photo("<two>"))]),
    );
    (one, two)
}

/// FAILS: a run of part 1 killed after its files but before its sidecar records: part 2,
/// given next, finds no sidecar for its photo and writes it without its date.
#[test]
fn a_run_stopped_before_its_sidecar_records_leaves_a_state_the_next_run_completes() {
    let mut problems = Vec::new();
    for n in 2..=6 {
        let tmp = tempfile::tempdir().unwrap();
        let (one, two) = split_export(&tmp.path().join("in"));
        let out = tmp.path().join("out");
        let Some(o) = killed_at_write(n, &one, &out) else {
            return;
        };
        if o.status.code() == Some(0) {
            continue;
        }
        // The files of part 1 are in: so are the records of its sidecars, and part 2 alone
        // finds its photo's.
        if files_of(&out).keys().any(|p| p.ends_with("IMG_0001.jpg")) {
            let two_alone = tmp.path().join("two-alone");
            copy_dir(&out, &two_alone);
            let (o, _) = process(std::slice::from_ref(&two), &two_alone, &[]);
            let date = dated_two(&two_alone);
            if o.status.code() != Some(0) || date.is_none() {
                problems.push(format!(
                    "killed at write {n} after part 1's files: part 2 alone dates its photo \
                     {date:?}:\n{}",
                    text(&o)
                ));
            }
        }
        let (o1, _) = process(std::slice::from_ref(&one), &out, &[]);
        let (o2, _) = process(std::slice::from_ref(&two), &out, &[]);
        if o1.status.code() != Some(0) || o2.status.code() != Some(0) {
            problems.push(format!("killed at write {n}: {}{}", text(&o1), text(&o2)));
            continue;
        }
        let date = dated_two(&out);
        if date.is_none() {
            problems.push(format!(
                "killed at write {n}: part 2's photo is dated {date:?}:\n{}{}",
                text(&o1),
                text(&o2)
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

/// FAILS: the disk full from one of the manifest's lines on (the last writes of a run): the
/// file is put in place without its record, the sidecar records are lost, and the run says
/// it succeeded; a full disk in the finish ends with a bare "No space left on device".
#[test]
fn a_disk_full_at_the_last_writes_ends_plainly_and_the_next_run_completes() {
    let mut problems = Vec::new();
    for n in 1..=4 {
        let tmp = tempfile::tempdir().unwrap();
        let (one, two) = split_export(&tmp.path().join("in"));
        let out = tmp.path().join("out");
        let manifest = out.join(".gpbackup/manifest.jsonl");
        let inject = format!("error=ENOSPC:when={n}+");
        let Some(o) = strace_at_write(&inject, Some(&manifest), &one, &out) else {
            return;
        };
        let said = text(&o);
        if said.contains("No space left on device") && !said.contains("the output disk is full") {
            problems.push(format!("write {n} failed: a bare message: {said}"));
        }
        if o.status.code() == Some(0) {
            // A run that says it is done recorded everything: part 2 alone finds its sidecar.
            let (o2, _) = process(std::slice::from_ref(&two), &out, &[]);
            if o2.status.code() != Some(0) || dated_two(&out).is_none() {
                problems.push(format!(
                    "write {n} failed, the run said it was done, part 2 alone: {}{said}",
                    text(&o2)
                ));
            }
            continue;
        }
        if !said.contains("the output disk is full") {
            problems.push(format!("write {n} failed: not said plainly: {said}"));
        }
        let (o1, _) = process(std::slice::from_ref(&one), &out, &[]);
        let (o2, _) = process(std::slice::from_ref(&two), &out, &[]);
        let v = gpbackup(&["verify".as_ref(), out.as_os_str()]);
        if o1.status.code() != Some(0)
            || o2.status.code() != Some(0)
            || v.status.code() != Some(0)
            || dated_two(&out).is_none()
        {
            problems.push(format!(
                "write {n} failed: the next runs: {}{}{}",
                text(&o1),
                text(&o2),
                text(&v)
            ));
        }
        let photos = files_of(&out)
            .keys()
            .filter(|p| p.ends_with(".jpg"))
            .count();
        if photos != 2 {
            problems.push(format!(
                "write {n} failed: {:?}",
                files_of(&out).keys().collect::<Vec<_>>()
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------
// A manifest line with a date that is not a whole number.

/// FAILS: a file's manifest line whose `"taken"` has a fraction: `process` says the photo is
/// in the library (forever), `verify --against` says it is missing.
#[test]
fn a_fractional_date_in_the_manifest_is_read_alike_by_process_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let part = export(
        &tmp.path().join("in"),
        "20240101T000000Z",
        &[
            (format!("{YEAR}/IMG_0001.jpg"), photo("<frac>")),
            (
                format!("{YEAR}/IMG_0001.jpg.json"),
                sidecar("IMG_0001.jpg", 1_212_126_961, None),
            ),
        ],
    );
    let out = tmp.path().join("out");
    let (o, _) = process(std::slice::from_ref(&part), &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let path = out.join(".gpbackup/manifest.jsonl");
    let manifest = std::fs::read_to_string(&path).unwrap();
    assert!(manifest.contains("\"taken\":1212126961,"), "{manifest}");
    std::fs::write(
        &path,
        manifest.replace("\"taken\":1212126961,", "\"taken\":1212126961.5,"),
    )
    .unwrap();
    let (o, report) = process(std::slice::from_ref(&part), &out, &[]);
    let v = verify_against(&out, std::slice::from_ref(&part));
    let in_library = report_entry(&report, "/IMG_0001.jpg")["status"] == "in-library";
    let verified = v.status.code() == Some(0);
    assert_eq!(
        in_library,
        verified,
        "process and verify disagree:\n{}\n{}",
        text(&o),
        text(&v)
    );
    assert!(in_library, "{}", text(&o));
    assert_eq!(
        files_of(&out)
            .keys()
            .filter(|p| p.ends_with(".jpg"))
            .count(),
        1
    );
}
