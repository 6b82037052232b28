//! A safe output folder: one writer at a time, nothing replaced, no link followed, no hang;
//! the report path and the output folder checked against the inputs. Through the real binary.

use crate::common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const T: i64 = 1562253012;
const MARK: &str = "safety-tag:";

/// A photo that says which one it is (`MARK<tag>;` in a comment segment), about `padding`
/// bytes larger.
fn tagged(tag: &str, padding: usize) -> Vec<u8> {
    jpeg_variant(
        &fixture("plain.jpg"),
        &format!("{MARK}{tag};{}", "p".repeat(padding)),
    )
}

/// The tag of a photo written by `tagged` (metadata may have been added around it).
fn tag_of(bytes: &[u8]) -> Option<String> {
    let at = bytes
        .windows(MARK.len())
        .position(|w| w == MARK.as_bytes())?
        + MARK.len();
    let end = bytes[at..].iter().position(|&b| b == b';')?;
    Some(String::from_utf8_lossy(&bytes[at..at + end]).into_owned())
}

/// A one-zip Takeout of `n` photos `IMG_000i.jpg` (with sidecars) tagged `<prefix>-i`.
fn takeout(dir: &Path, prefix: &str, n: usize, padding: usize) -> PathBuf {
    let mut t = Takeout::new(1);
    for i in 0..n {
        let name = format!("IMG_{i:04}.jpg");
        t.add(
            0,
            format!("{YEAR}/{name}"),
            tagged(&format!("{prefix}-{i}"), padding),
        )
        .add(
            0,
            format!("{YEAR}/{name}.json"),
            sidecar(&name, T + i as i64, None),
        );
    }
    t.write(dir).remove(0)
}

fn spawn_process(input: &Path, out: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gpbackup"))
        .args(["process", "--timezone", "Europe/Paris", "-q"])
        .args(extra)
        .arg("-o")
        .arg(out)
        .arg(input)
        .env("TZ", "UTC")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child`, failing the test (not hanging it) after `limit`.
fn wait_for(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gpbackup still running after {limit:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn verify(out: &Path) -> Output {
    gpbackup(&["verify".as_ref(), out.as_os_str()])
}

/// Every file under `dir` (relative paths), `.gpbackup` and the album list left out.
fn files(dir: &Path) -> BTreeSet<String> {
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| e.depth() > 1 || e.file_name() != ".gpbackup")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|p| !p.starts_with("albums"))
        .collect()
}

/// Tag → output files holding it.
fn tags_in(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut by_tag: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in files(dir) {
        if f.ends_with(".xmp") {
            continue;
        }
        let tag = tag_of(&std::fs::read(dir.join(&f)).unwrap())
            .unwrap_or_else(|| panic!("{f}: not one of ours"));
        by_tag.entry(tag).or_default().push(f);
    }
    by_tag
}

/// Two runs started together on one folder: exactly one works, the other says at once
/// which process holds the folder; afterwards every photo is there once, unreplaced.
fn race(inputs: [&Path; 2], out: &Path) -> [Output; 2] {
    let a = spawn_process(inputs[0], out, &["-j", "1"]);
    let b = spawn_process(inputs[1], out, &["-j", "1"]);
    let pids = [a.id(), b.id()];
    let outs = [
        wait_for(a, Duration::from_secs(120)),
        wait_for(b, Duration::from_secs(120)),
    ];
    let codes: Vec<Option<i32>> = outs.iter().map(|o| o.status.code()).collect();
    let loser = match codes[..] {
        [Some(0), Some(1)] => 1,
        [Some(1), Some(0)] => 0,
        _ => panic!(
            "expected one run to finish and one to be refused: {codes:?}\n{}\n{}",
            stderr(&outs[0]),
            stderr(&outs[1])
        ),
    };
    let said = stderr(&outs[loser]);
    let winner_pid = pids[1 - loser];
    assert_eq!(said.lines().count(), 1, "one line: {said}");
    assert!(
        said.contains(&out.display().to_string())
            && said.contains(&format!("in use by another gpbackup run (pid {winner_pid}")),
        "{said}"
    );
    outs
}

#[test]
fn two_runs_of_one_takeout_at_once_leave_each_photo_once() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 150;
    let input = takeout(&tmp.path().join("in"), "A", n, 20_000);
    let before = snapshot(std::slice::from_ref(&input));
    let out = tmp.path().join("photos");
    race([&input, &input], &out);
    let v = verify(&out);
    assert!(v.status.success(), "{}", stderr(&v));
    let tags = tags_in(&out);
    assert_eq!(tags.len(), n);
    assert!(tags.values().all(|f| f.len() == 1), "a photo doubled");
    for (tag, f) in &tags {
        let i: usize = tag.strip_prefix("A-").unwrap().parse().unwrap();
        assert_eq!(f[0], format!("IMG_{i:04}.jpg"), "replaced by another photo");
    }
    // The loser's run, repeated: nothing new.
    let (o, _) = process(std::slice::from_ref(&input), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(files(&out).len(), n);
    assert!(verify(&out).status.success());
    assert_eq!(snapshot(&[input]), before);
}

#[test]
fn two_takeouts_with_the_same_names_at_once_replace_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 120;
    let a = takeout(&tmp.path().join("a"), "A", n, 20_000);
    let b = takeout(&tmp.path().join("b"), "B", n, 20_000);
    let before = snapshot(&[a.clone(), b.clone()]);
    let out = tmp.path().join("photos");
    race([&a, &b], &out);
    assert!(verify(&out).status.success());
    // The refused run, repeated, adds its photos beside the others.
    for input in [&a, &b] {
        let (o, _) = process(std::slice::from_ref(input), &out, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let v = verify(&out);
    assert!(v.status.success(), "{}", stderr(&v));
    let tags = tags_in(&out);
    assert_eq!(tags.len(), 2 * n, "every photo of both Takeouts");
    assert!(tags.values().all(|f| f.len() == 1), "a photo doubled");
    assert_eq!(files(&out).len(), 2 * n);
    assert_eq!(snapshot(&[a, b]), before);
}

#[test]
fn a_held_folder_refuses_process_and_verify_at_once_naming_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let input = takeout(&tmp.path().join("in"), "A", 2, 0);
    let out = tmp.path().join("photos");
    let (o, _) = process(std::slice::from_ref(&input), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let listing_before = files(&out);
    let held = gpbackup::OutputLock::acquire(&out).unwrap();
    let me = format!("pid {}", std::process::id());
    let start = Instant::now();
    let (o, _) = process(std::slice::from_ref(&input), &out, &[]);
    let v = verify(&out);
    let against = gpbackup(&[
        "verify".as_ref(),
        out.as_os_str(),
        "--against".as_ref(),
        input.as_os_str(),
    ]);
    assert!(start.elapsed() < Duration::from_secs(10));
    for r in [&o, &v, &against] {
        let s = stderr(r);
        assert_eq!(r.status.code(), Some(1), "{s}");
        assert_eq!(s.lines().count(), 1, "{s}");
        assert!(
            s.contains(&me) && s.contains(&out.display().to_string()),
            "{s}"
        );
    }
    assert_eq!(files(&out), listing_before);
    drop(held);
    assert!(verify(&out).status.success());
}

#[cfg(unix)]
#[test]
fn links_inside_the_output_folder_are_never_followed() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let input = takeout(&tmp.path().join("in"), "A", 3, 0);
    // (link inside the output, whether it points to a folder, extra options)
    let cases: [(&str, bool, &[&str]); 5] = [
        (".gpbackup/tmp", true, &[]),
        (".gpbackup/manifest.jsonl", false, &[]),
        ("2019", true, &["--layout", "year"]),
        ("albums.json", false, &[]),
        ("albums", true, &["--albums", "links"]),
    ];
    for (link, is_dir, extra) in cases {
        let case = tmp.path().join(link.replace(['/', '.'], "_"));
        let target = case.join("target");
        if is_dir {
            std::fs::create_dir_all(&target).unwrap();
            std::fs::write(target.join("precious.jpg"), b"the user's").unwrap();
        } else {
            std::fs::create_dir_all(&case).unwrap();
            std::fs::write(&target, b"the user's").unwrap();
        }
        let out = case.join("photos");
        std::fs::create_dir_all(out.join(link).parent().unwrap()).unwrap();
        symlink(&target, out.join(link)).unwrap();
        let (o, _) = process(std::slice::from_ref(&input), &out, extra);
        let s = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{link}: {s}");
        assert_eq!(s.lines().count(), 1, "{link}: {s}");
        assert!(
            s.contains("is a symbolic link") && s.contains(link),
            "{link}: {s}"
        );
        if is_dir {
            let inside: Vec<_> = std::fs::read_dir(&target).unwrap().collect();
            assert_eq!(inside.len(), 1, "{link}: written through the link");
            assert_eq!(
                std::fs::read(target.join("precious.jpg")).unwrap(),
                b"the user's"
            );
        } else {
            assert_eq!(std::fs::read(&target).unwrap(), b"the user's", "{link}");
        }
        assert!(out.join(link).symlink_metadata().unwrap().is_symlink());
        assert!(files(&out).is_empty(), "{link}: nothing written");
    }
}

#[cfg(unix)]
#[test]
fn temp_cleanup_removes_only_gpbackups_own_temp_files() {
    let tmp = tempfile::tempdir().unwrap();
    let input = takeout(&tmp.path().join("in"), "A", 2, 0);
    let out = tmp.path().join("photos");
    let state = out.join(".gpbackup/tmp");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("4242-7.part"), b"left by a killed run").unwrap();
    std::fs::write(state.join("notes.txt"), b"not ours").unwrap();
    let (o, _) = process(
        std::slice::from_ref(&input),
        &out,
        &["--sync", "--layout", "year"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(files(&out).len(), 2);
    assert!(verify(&out).status.success());
    assert!(!state.join("4242-7.part").exists());
    assert_eq!(std::fs::read(state.join("notes.txt")).unwrap(), b"not ours");
}

#[test]
fn the_report_is_never_an_input_or_a_users_file() {
    let tmp = tempfile::tempdir().unwrap();
    let input = takeout(&tmp.path().join("in"), "A", 2, 0);
    let before = snapshot(std::slice::from_ref(&input));
    let out = tmp.path().join("photos");
    let notes = tmp.path().join("notes.json");
    std::fs::write(&notes, b"{\"mine\": true}\n").unwrap();
    for (report, why) in [
        (input.clone(), "is the input"),
        (notes.clone(), "is not a report gpbackup wrote"),
    ] {
        let o = gpbackup(
            &[
                "process".as_ref(),
                input.as_os_str(),
                "-o".as_ref(),
                out.as_os_str(),
                "--report".as_ref(),
                report.as_os_str(),
            ][..],
        );
        let s = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{s}");
        assert_eq!(s.lines().count(), 1, "{s}");
        assert!(s.contains("--report") && s.contains(why), "{s}");
        assert!(!out.exists(), "refused before any work");
    }
    // The report of an extracted-folder input may not go inside it.
    let folder = tmp.path().join("extracted");
    let zip_bytes = std::fs::read(&input).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    zip.extract(&folder).unwrap();
    let o = gpbackup(
        &[
            "process".as_ref(),
            folder.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
            "--report".as_ref(),
            folder.join("Takeout/report.json").as_os_str(),
        ][..],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("inside the input folder"));
    assert!(!folder.join("Takeout/report.json").exists());
    assert_eq!(snapshot(std::slice::from_ref(&input)), before);
    assert_eq!(std::fs::read(&notes).unwrap(), b"{\"mine\": true}\n");
    // Its own report is replaced on a re-run, atomically: no temp file left beside it.
    let (o, r1) = process(std::slice::from_ref(&input), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(r1["generator"], "gpbackup");
    let (o, r2) = process(std::slice::from_ref(&input), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(r2["media"][0]["status"], "in-library");
    let beside: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("gpbackup-tmp"))
        .collect();
    assert!(beside.is_empty(), "{beside:?}");
}

#[test]
fn an_output_folder_inside_an_input_folder_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let input = takeout(&tmp.path().join("in"), "A", 2, 0);
    let folder = tmp.path().join("extracted");
    let bytes = std::fs::read(&input).unwrap();
    zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .unwrap()
        .extract(&folder)
        .unwrap();
    let photos_dir = folder.join("Takeout/Google Photos");
    for out in [
        photos_dir.join("backup"),
        folder.clone(),
        folder.join("new/deeper"),
    ] {
        let o = gpbackup(
            &[
                "process".as_ref(),
                folder.as_os_str(),
                "-o".as_ref(),
                out.as_os_str(),
            ][..],
        );
        let s = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{s}");
        assert_eq!(s.lines().count(), 1, "{s}");
        assert!(s.contains("is inside the input folder"), "{s}");
    }
    assert!(!photos_dir.join("backup").exists() && !folder.join("new").exists());
    assert!(!folder.join(".gpbackup").exists());
}

/// Two different photos with the same 255-byte name (in two folders): both written, under two
/// names of at most 255 bytes. The ` (2)` suffix used to be cut off again: an endless loop.
#[test]
fn two_photos_with_255_byte_names_are_both_written() {
    let tmp = tempfile::tempdir().unwrap();
    let name = format!("{}.jpg", "n".repeat(251));
    assert_eq!(name.len(), 255);
    let other = format!("{}m.jpg", "n".repeat(250));
    let mut t = Takeout::new(1);
    t.add(0, format!("{YEAR}/{name}"), tagged("one", 0))
        .add(
            0,
            format!("Takeout/Google Photos/Photos from 2020/{name}"),
            tagged("two", 0),
        )
        .add(
            0,
            format!("Takeout/Google Photos/Photos from 2021/{name}"),
            tagged("three", 0),
        )
        .add(0, format!("{YEAR}/{other}"), tagged("four", 0))
        .add(
            0,
            format!("Takeout/Google Photos/Photos from 2020/{other}"),
            tagged("five", 0),
        );
    let input = t.write(&tmp.path().join("in")).remove(0);
    let out = tmp.path().join("photos");
    let o = wait_for(spawn_process(&input, &out, &[]), Duration::from_secs(60));
    assert!(o.status.success(), "{}", stderr(&o));
    let tags = tags_in(&out);
    assert_eq!(tags.len(), 5, "{tags:?}");
    let names: BTreeSet<&String> = tags.values().flatten().collect();
    assert_eq!(names.len(), 5);
    assert!(names.iter().all(|n| n.len() <= 255), "{names:?}");
    assert!(verify(&out).status.success());
}

#[cfg(unix)]
#[test]
fn a_users_albums_json_is_never_touched_and_ours_is_not_rewritten_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let album = "Takeout/Google Photos/Paris";
    let mut t = Takeout::new(1);
    t.add(0, format!("{album}/IMG_1.jpg"), tagged("paris", 0))
        .add(
            0,
            format!("{album}/IMG_1.jpg.json"),
            sidecar("IMG_1.jpg", T, None),
        )
        .add(0, format!("{album}/metadata.json"), album_json("Paris"));
    let input = t.write(&tmp.path().join("in")).remove(0);

    // The user's own albums.json.
    let out = tmp.path().join("theirs");
    std::fs::create_dir_all(&out).unwrap();
    let mine = b"{\"albums\": [\"my own list\"]}\n";
    std::fs::write(out.join("albums.json"), mine).unwrap();
    let (o, _) = process(std::slice::from_ref(&input), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("albums.gpbackup.json"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(out.join("albums.json")).unwrap(), mine);
    let ours: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("albums.gpbackup.json")).unwrap()).unwrap();
    assert_eq!(ours["generator"], "gpbackup");
    assert_eq!(ours["albums"][0]["title"], "Paris");
    let v = verify(&out);
    assert!(v.status.success(), "{}", stderr(&v));

    // Ours, unchanged by a re-run: not rewritten (same inode, same modification time).
    let out = tmp.path().join("ours");
    let (o, _) = process(std::slice::from_ref(&input), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stamp = |p: &Path| {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(p).unwrap();
        (m.ino(), m.mtime(), m.mtime_nsec())
    };
    let list = out.join("albums.json");
    let first = stamp(&list);
    std::thread::sleep(Duration::from_millis(20));
    let (o, _) = process(std::slice::from_ref(&input), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stamp(&list), first, "rewritten although unchanged");
    assert!(!out.join("albums.gpbackup.json").exists());
    // A new album changes it: rewritten.
    let mut t = Takeout::new(1);
    t.add(0, "Takeout/Google Photos/Rome/IMG_2.jpg", tagged("rome", 0))
        .add(
            0,
            "Takeout/Google Photos/Rome/metadata.json",
            album_json("Rome"),
        );
    let rome = t.write(&tmp.path().join("rome")).remove(0);
    let (o, _) = process(std::slice::from_ref(&rome), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(stamp(&list), first);
    let ours: serde_json::Value = serde_json::from_slice(&std::fs::read(&list).unwrap()).unwrap();
    assert_eq!(ours["albums"].as_array().unwrap().len(), 2);
}

/// The full-disk path without root: `GPBACKUP_FAIL_AFTER_BYTES` (a test hook read in every
/// build) makes the commit that crosses the limit fail with ENOSPC, as a full disk does.
#[test]
fn an_injected_full_disk_stops_cleanly_and_a_rerun_finishes() {
    injected_full_disk("flat");
}

/// The same in a dated layout, where each photo waits, read, for its name (the disk fills
/// as the waiting file is closed).
#[test]
fn an_injected_full_disk_stops_cleanly_in_a_dated_layout_too() {
    injected_full_disk("year");
}

fn injected_full_disk(layout: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let input = takeout(&tmp.path().join("in"), "A", 12, 30_000);
    let before = snapshot(std::slice::from_ref(&input));
    let out = tmp.path().join("photos");
    let run = |limit: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gpbackup"));
        c.args(["process", "-j", "1", "--timezone", "Europe/Paris"])
            .args(["--layout", layout, "-o"])
            .arg(&out)
            .arg(&input)
            .env("TZ", "UTC");
        if let Some(l) = limit {
            c.env("GPBACKUP_FAIL_AFTER_BYTES", l);
        }
        c.output().unwrap()
    };
    // Room for three photos of about 30 KB, not four.
    let o = run(Some("100000"));
    assert_stopped_on_full_disk(&o, &out);
    assert_eq!(files(&out).len(), 3);
    // The photo whose write found the disk full failed; those after it were not attempted.
    let counts = counts_adding_up(&stderr(&o));
    assert_eq!(counts["written"], 3, "{}", stderr(&o));
    assert_eq!(counts["failed"], 1, "{}", stderr(&o));
    assert_eq!(counts["not attempted"], 8, "{}", stderr(&o));
    let v = verify(&out);
    assert!(v.status.success(), "consistent: {}", stderr(&v));
    let o = run(None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(files(&out).len(), 12);
    assert!(tags_in(&out).values().all(|f| f.len() == 1));
    assert!(verify(&out).status.success());
    assert_eq!(snapshot(&[input]), before);
}

/// `photo` with the four bytes at `at` changed so that its CRC-32 is `want`: CRC-32 is affine
/// over GF(2), and any 32 consecutive bits can be solved for.
fn force_crc(photo: &mut [u8], at: usize, want: u32) {
    let crc = |p: &[u8]| crc32fast::hash(p);
    photo[at..at + 4].fill(0);
    let base = crc(photo);
    // Column i: the change of the CRC when bit i of the patch flips.
    let mut rows: Vec<(u32, u32)> = (0..32)
        .map(|i| {
            let mut p = photo.to_vec();
            p[at + i / 8] ^= 1 << (i % 8);
            (crc(&p) ^ base, 1u32 << i)
        })
        .collect();
    // Gaussian elimination: find the bit combination whose effect is base ^ want.
    let mut target = base ^ want;
    let mut patch = 0u32;
    for bit in (0..32).rev() {
        let Some(pivot) = rows.iter().position(|(e, _)| e >> bit & 1 == 1) else {
            panic!("singular");
        };
        let (pe, pp) = rows.remove(pivot);
        for r in rows.iter_mut() {
            if r.0 >> bit & 1 == 1 {
                r.0 ^= pe;
                r.1 ^= pp;
            }
        }
        if target >> bit & 1 == 1 {
            target ^= pe;
            patch ^= pp;
        }
    }
    photo[at..at + 4].copy_from_slice(&patch.to_le_bytes());
    assert_eq!(crc(photo), want);
}

/// Kills the mutant "dedup trusting size + CRC-32 without the hash": two different photos
/// with the same size and CRC-32 are both written.
#[test]
fn two_photos_with_the_same_size_and_crc_are_both_written() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tagged("first-AAAA", 0);
    let mut b = tagged("second-BBB", 0);
    assert_eq!(a.len(), b.len());
    let at = b.windows(4).position(|w| w == b"BBB;").unwrap() - 1;
    force_crc(&mut b, at, crc32fast::hash(&a));
    assert_ne!(a, b);
    let mut t = Takeout::new(1);
    t.add(0, format!("{YEAR}/IMG_A.jpg"), a)
        .add(
            0,
            format!("{YEAR}/IMG_A.jpg.json"),
            sidecar("IMG_A.jpg", T, None),
        )
        .add(0, format!("{YEAR}/IMG_B.jpg"), b)
        .add(
            0,
            format!("{YEAR}/IMG_B.jpg.json"),
            sidecar("IMG_B.jpg", T, None),
        );
    let input = t.write(&tmp.path().join("in")).remove(0);
    let out = tmp.path().join("photos");
    let (o, report) = process(std::slice::from_ref(&input), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    for name in ["IMG_A.jpg", "IMG_B.jpg"] {
        assert_eq!(report_entry(&report, name)["status"], "written", "{name}");
    }
    assert_eq!(tags_in(&out).len(), 2);
    assert!(verify(&out).status.success());
}

/// Kills the mutant "the manifest skip keyed by path alone": a later export that reuses an
/// entry path (`IMG_0003(1).jpg`) for a different photo of the same size writes it.
#[test]
fn a_later_export_reusing_an_entry_path_for_another_photo_writes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let entry = format!("{YEAR}/IMG_0003(1).jpg");
    let first = tagged("first-export", 0);
    let second = tagged("later-export", 0);
    assert_eq!(first.len(), second.len());
    let out = tmp.path().join("photos");
    for (dir, photo) in [("one", &first), ("two", &second)] {
        let mut t = Takeout::new(1);
        t.add(0, entry.clone(), photo.clone()).add(
            0,
            format!("{YEAR}/IMG_0003.jpg(1).json"),
            sidecar("IMG_0003.jpg", T, None),
        );
        let input = t.write(&tmp.path().join(dir)).remove(0);
        let (o, report) = process(std::slice::from_ref(&input), &out, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            report_entry(&report, "IMG_0003(1).jpg")["status"],
            "written"
        );
    }
    let tags = tags_in(&out);
    assert_eq!(
        tags.keys().collect::<Vec<_>>(),
        ["first-export", "later-export"]
    );
    assert!(verify(&out).status.success());
}

#[cfg(unix)]
#[test]
fn sigterm_and_sighup_stop_like_ctrl_c() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 600;
    let input = takeout(&tmp.path().join("in"), "A", n, 60_000);
    for signal in [libc::SIGTERM, libc::SIGHUP] {
        let out = tmp.path().join(format!("photos-{signal}"));
        let child = spawn_process(&input, &out, &["-j", "1"]);
        // Mid-run: the first photo is there.
        let start = Instant::now();
        while files(&out).is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no photo written"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(child.id() as i32, signal) };
        let sent = Instant::now();
        let o = wait_for(child, Duration::from_secs(30));
        let s = stderr(&o);
        assert!(files(&out).len() < n, "stopped early");
        assert_eq!(o.status.code(), Some(130), "signal {signal}: {s}");
        assert!(
            sent.elapsed() < Duration::from_secs(2),
            "{:?}",
            sent.elapsed()
        );
        assert!(s.contains("stopped early: interrupted"), "{s}");
        assert_eq!(
            std::fs::read_dir(out.join(".gpbackup/tmp"))
                .unwrap()
                .count(),
            0
        );
        assert!(verify(&out).status.success());
    }
}

/// Ctrl-C mid-run: what was not reached is "not attempted", apart from what failed (nothing
/// here), and the first summary line adds up.
#[cfg(unix)]
#[test]
fn ctrl_c_counts_what_it_did_not_reach_as_not_attempted() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 400;
    let input = takeout(&tmp.path().join("in"), "A", n, 60_000);
    let out = tmp.path().join("photos");
    // (Not `-q`: the summary is what is checked.)
    let child = Command::new(env!("CARGO_BIN_EXE_gpbackup"))
        .args(["process", "--timezone", "Europe/Paris", "-j", "1", "-o"])
        .arg(&out)
        .arg(&input)
        .env("TZ", "UTC")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while files(&out).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no photo written"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = wait_for(child, Duration::from_secs(30));
    let s = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "{s}");
    let counts = counts_adding_up(&s);
    assert_eq!(counts["failed"], 0, "nothing failed: {s}");
    let left = counts["not attempted"];
    assert!(left > 0 && left < n, "{s}");
    assert_eq!(counts["written"] + left, n, "{s}");
    assert!(
        s.contains(&format!(
            "not attempted (stopped early): {left} — run the same command again to finish"
        )),
        "{s}"
    );
}
