//! `.tgz` and `.tar` parts (issue 28): read directly, the same library as the same export in
//! zips, in any mix and over several runs; a cut part keeps what came before it; hostile
//! parts keep every guarantee of zips.

use std::path::{Path, PathBuf};

use crate::common::*;
use crate::parts::{library, three_parts};

fn summary(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &stderr(o)
}

fn run(inputs: &[PathBuf], out: &Path) -> (std::process::Output, serde_json::Value) {
    process(inputs, out, &["--layout", "year"])
}

/// The statuses of a report's media lines, counted.
fn totals(report: &serde_json::Value) -> std::collections::BTreeMap<String, usize> {
    let mut t = std::collections::BTreeMap::new();
    for m in report["media"].as_array().unwrap() {
        *t.entry(m["status"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    t
}

/// The library one run makes of `t` as zips (under `dir`): what every other packing and
/// grouping of runs must give.
fn library_of_zips(
    t: &crate::common::Takeout,
    dir: &Path,
) -> (
    std::collections::BTreeMap<String, (Vec<u8>, i64)>,
    serde_json::Value,
) {
    let zips = t.write_as(&dir.join("zip"), &[Packing::Zip; 3]);
    let (o, _) = run(&zips, &dir.join("one"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    library(&dir.join("one"))
}

fn no_staging_left(out: &Path) {
    assert!(
        !out.join(".gpbackup/staging").exists(),
        "the staging folder is removed at the end of a run"
    );
}

#[test]
fn a_tgz_export_gives_the_library_of_the_same_export_in_zips() {
    let tmp = tempfile::tempdir().unwrap();
    let t = three_parts();
    let zips = t.write_as(&tmp.path().join("zip"), &[Packing::Zip; 3]);
    let tgzs = t.write_as(&tmp.path().join("tgz"), &[Packing::Tgz; 3]);
    let (oz, rz) = run(&zips, &tmp.path().join("from-zips"));
    assert_eq!(oz.status.code(), Some(0), "{}", stderr(&oz));
    let (ot, rt) = run(&tgzs, &tmp.path().join("from-tgz"));
    assert_eq!(ot.status.code(), Some(0), "{}", stderr(&ot));
    let want = library(&tmp.path().join("from-zips"));
    assert!(want.0.len() >= 8, "{:?}", want.0.keys());
    assert_eq!(library(&tmp.path().join("from-tgz")), want);
    assert_eq!(totals(&rt), totals(&rz));
    // The summaries are the same, but for the parts' names.
    let first = |o: &std::process::Output| summary(o).lines().next().unwrap().to_string();
    assert_eq!(first(&ot), first(&oz));
    no_staging_left(&tmp.path().join("from-tgz"));
    // The photo whose sidecar is in another part has that sidecar's date and place.
    let img_a = tmp.path().join("from-tgz/2019/IMG_A.jpg");
    let e = exif_of(&img_a);
    assert_eq!(
        exif_ascii(&e, exif::Tag::DateTimeOriginal).as_deref(),
        Some("2019:07:04 17:10:12"),
        "the sidecar of part 2, in Paris time"
    );
    let lat = exif_coord(&e, exif::Tag::GPSLatitude, exif::Tag::GPSLatitudeRef).unwrap();
    assert!((lat - 41.9).abs() < 1e-4, "{lat}");
}

#[test]
fn parts_in_any_packing_and_any_runs_make_one_library() {
    let tmp = tempfile::tempdir().unwrap();
    let t = three_parts();
    let want = library_of_zips(&t, tmp.path());
    let mixed = t.write_as(
        &tmp.path().join("mixed"),
        &[Packing::Tgz, Packing::Tar, Packing::Zip],
    );
    // One run over the mix; then runs of one part each, in another order.
    let out = tmp.path().join("mix");
    let (o, _) = run(&mixed, &out);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(library(&out), want);
    let out = tmp.path().join("split");
    for k in [2, 0, 1] {
        let (o, _) = run(std::slice::from_ref(&mixed[k]), &out);
        assert_eq!(o.status.code(), Some(0), "part {k}: {}", stderr(&o));
        no_staging_left(&out);
    }
    assert_eq!(library(&out), want);
}

#[test]
fn a_rerun_with_tgz_parts_writes_nothing_again() {
    let tmp = tempfile::tempdir().unwrap();
    let t = three_parts();
    let zips = t.write_as(&tmp.path().join("zip"), &[Packing::Zip; 3]);
    let tgzs = t.write_as(&tmp.path().join("tgz"), &[Packing::Tgz; 3]);
    let out = tmp.path().join("out");
    let (o, first) = run(&tgzs, &out);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let before = library(&out);
    // The same .tgz parts again, then the same export as zips: every entry is known by its
    // path, size and CRC-32, nothing is written.
    for inputs in [&tgzs, &zips] {
        let (o, r) = run(inputs, &out);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let t = totals(&r);
        let n: usize = totals(&first).values().sum();
        assert_eq!(t.get("in-library"), Some(&n), "{t:?}");
        assert_eq!(library(&out), before);
        assert!(summary(&o).contains(" 0 written"), "{}", summary(&o));
    }
}

#[test]
fn a_cut_tgz_keeps_what_came_before_and_the_downloaded_part_completes_the_library() {
    let tmp = tempfile::tempdir().unwrap();
    let t = three_parts();
    let want = library_of_zips(&t, tmp.path());
    let tgzs = t.write_as(&tmp.path().join("tgz"), &[Packing::Tgz; 3]);
    // Part 3 cut in the middle of its third entry (tar: entries in order, each a header and
    // its data): the first two are read.
    let part3 = &t.parts[2];
    let tar = tar_bytes(part3);
    let cut_at = {
        let mut at = 0;
        for (_, bytes) in &part3[..2] {
            at += 512 + bytes.len().div_ceil(512) * 512;
        }
        at + 512 + part3[2].1.len() / 2
    };
    let cut = tmp.path().join("cut/takeout-20231030T151007Z-003.tgz");
    std::fs::create_dir_all(cut.parent().unwrap()).unwrap();
    // A gzip stream cut where its tar is cut: the gzip of the tar's first bytes, without its
    // end.
    let whole = gzip(&tar[..cut_at]);
    std::fs::write(&cut, &whole[..whole.len() - 8]).unwrap();
    let out = tmp.path().join("out");
    let (o, r) = run(&[tgzs[0].clone(), tgzs[1].clone(), cut.clone()], &out);
    let said = summary(&o);
    assert_eq!(o.status.code(), Some(3), "{said}");
    assert!(
        said.contains("damaged: part 003 (takeout-20231030T151007Z-003.tgz) ends early"),
        "{said}"
    );
    assert!(
        said.contains(&format!("the cut is in {}", part3[2].0)),
        "{said}"
    );
    assert!(said.contains("(2 files read from it"), "{said}");
    counts_adding_up(&said);
    // The two entries before the cut are in the library (IMG_A's album sidecar and IMG_B).
    assert!(
        out.join("2019/IMG_B.jpg").exists(),
        "{:?}",
        library(&out).0.keys()
    );
    assert_eq!(r["damaged_inputs"].as_array().unwrap().len(), 1);
    // The part downloaded again completes the library.
    let (o, _) = run(&[tgzs[2].clone()], &out);
    assert_eq!(o.status.code(), Some(0), "{}", summary(&o));
    assert_eq!(library(&out), want);
}

#[test]
fn verify_against_tgz_parts_reads_them_and_finds_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let tgzs = three_parts().write_as(&tmp.path().join("tgz"), &[Packing::Tgz; 3]);
    let out = tmp.path().join("out");
    run(&tgzs, &out);
    let verify = |extra: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> =
            vec!["verify".as_ref(), out.as_os_str(), "--against".as_ref()];
        args.extend(tgzs.iter().map(|p| p.as_os_str()));
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        gpbackup(&args)
    };
    for extra in [&[][..], &["--full"]] {
        let v = verify(extra);
        assert_eq!(v.status.code(), Some(0), "{extra:?}: {}", summary(&v));
        assert!(
            summary(&v).contains("of these 3 parts are in"),
            "{}",
            summary(&v)
        );
    }
    std::fs::remove_file(out.join("2019/IMG_G.jpg")).unwrap();
    for extra in [&[][..], &["--full"]] {
        let v = verify(extra);
        assert_eq!(v.status.code(), Some(3), "{extra:?}: {}", summary(&v));
        assert!(summary(&v).contains("IMG_G.jpg"), "{}", summary(&v));
    }
    let temp = std::env::temp_dir();
    let left: Vec<_> = std::fs::read_dir(&temp)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(&format!("gpbackup-{}-", std::process::id()))
        })
        .collect();
    assert!(left.is_empty(), "verify leaves no temporary folder");
}

/// A tar entry with any name, type and declared size, written raw (the `tar` crate refuses
/// `..` and absolute names when it builds).
fn raw_entry(name: &str, kind: u8, size: u64, link: &str, data: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"14516262617");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

#[test]
fn a_hostile_tgz_writes_nothing_outside_and_keeps_every_other_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let good = photo("good");
    let mut tar = Vec::new();
    tar.extend(raw_entry(
        &format!("{YEAR}/good.jpg"),
        b'0',
        good.len() as u64,
        "",
        &good,
    ));
    tar.extend(raw_entry(
        &format!("{YEAR}/good.jpg.json"),
        b'0',
        sidecar("good.jpg", 1_562_253_012, None).len() as u64,
        "",
        &sidecar("good.jpg", 1_562_253_012, None),
    ));
    let evil = photo("evil");
    for name in ["../../escaped.jpg", "/tmp/gpbackup-absolute.jpg"] {
        tar.extend(raw_entry(name, b'0', evil.len() as u64, "", &evil));
    }
    tar.extend(raw_entry(
        &format!("{YEAR}/link.jpg"),
        b'2',
        0,
        "/etc/passwd",
        b"",
    ));
    tar.extend(raw_entry(
        &format!("{YEAR}/hard.jpg"),
        b'1',
        0,
        "/etc/shadow",
        b"",
    ));
    tar.extend(raw_entry(&format!("{YEAR}/dev.jpg"), b'3', 0, "", b""));
    tar.extend(raw_entry(&format!("{YEAR}/fifo.jpg"), b'6', 0, "", b""));
    // Last, an entry declaring 7 GB with a few bytes of data: the stream ends in it.
    tar.extend(raw_entry(
        &format!("{YEAR}/huge.jpg"),
        b'0',
        7 << 30,
        "",
        &evil[..100],
    ));
    let part = tmp.path().join("in/takeout-20231030T151007Z-001.tgz");
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::write(&part, gzip(&tar)).unwrap();
    let out = tmp.path().join("deep/out");
    let (o, r) = run(&[part], &out);
    let said = summary(&o);
    assert_eq!(o.status.code(), Some(3), "{said}");
    counts_adding_up(&said);
    assert!(said.contains("the cut is in"), "{said}");
    assert!(said.contains("huge.jpg"), "{said}");
    // Nothing outside the output folder.
    assert!(!tmp.path().join("escaped.jpg").exists());
    assert!(!tmp.path().join("deep/escaped.jpg").exists());
    assert!(!Path::new("/tmp/gpbackup-absolute.jpg").exists());
    let files = files_of(&out);
    assert!(files.contains_key("2019/good.jpg"), "{:?}", files.keys());
    // The two hostile names are photos: written inside, under their file names.
    let evils = files.values().filter(|b| **b == evil).count();
    assert_eq!(
        evils,
        1,
        "one copy, the other a duplicate: {:?}",
        files.keys()
    );
    for name in ["link.jpg", "hard.jpg", "dev.jpg", "fifo.jpg"] {
        assert!(
            !files.keys().any(|k| k.ends_with(name)),
            "{name} is never written: {:?}",
            files.keys()
        );
    }
    let media = r["media"].as_array().unwrap();
    let of = |name: &str| {
        media
            .iter()
            .find(|m| m["source"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} is accounted for: {media:?}"))
    };
    // Links are listed as ignored, as in zips.
    let ignored = r["ignored"].to_string();
    for name in ["link.jpg", "hard.jpg"] {
        assert!(ignored.contains(name), "{ignored}");
        assert!(!media
            .iter()
            .any(|m| m["source"].as_str().unwrap().ends_with(name)));
    }
    for name in ["dev.jpg", "fifo.jpg"] {
        let m = of(name);
        assert_eq!(m["status"], "failed", "{m:?}");
        assert!(m.to_string().contains("device file or pipe"), "{m:?}");
    }
}

#[test]
fn a_gzip_bomb_is_stopped_and_the_part_named() {
    let tmp = tempfile::tempdir().unwrap();
    let good = photo("good");
    // A good photo, then an entry of 200 MB of zeros: a gzip member a MB at a time.
    let mut head = raw_entry(
        &format!("{YEAR}/good.jpg"),
        b'0',
        good.len() as u64,
        "",
        &good,
    );
    let size = 200u64 << 20;
    head.extend(raw_entry(&format!("{YEAR}/bomb.jpg"), b'0', size, "", b""));
    let mut gz = gzip(&head);
    let zeros = gzip(&vec![0u8; 1 << 20]);
    for _ in 0..(size >> 20) {
        gz.extend_from_slice(&zeros);
    }
    let part = tmp.path().join("takeout-20231030T151007Z-001.tgz");
    std::fs::write(&part, &gz).unwrap();
    let out = tmp.path().join("out");
    let (o, _) = run(&[part], &out);
    let said = summary(&o);
    assert_eq!(o.status.code(), Some(3), "{said}");
    assert!(said.contains("gzip bomb"), "{said}");
    assert!(said.contains("bomb.jpg"), "{said}");
    assert!(
        files_of(&out).values().any(|b| *b == good),
        "{:?}",
        files_of(&out).keys()
    );
    no_staging_left(&out);
}

#[test]
fn the_sample_as_tgz_reads_like_the_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample");
    let mut zips: Vec<PathBuf> = std::fs::read_dir(&sample)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "zip"))
        .collect();
    zips.sort();
    let tgzs: Vec<PathBuf> = zips
        .iter()
        .map(|z| {
            let p = tmp
                .path()
                .join(z.file_name().unwrap())
                .with_extension("tgz");
            std::fs::write(&p, gzip(&tar_bytes(&unzip(z)))).unwrap();
            p
        })
        .collect();
    let (oz, _) = run(&zips, &tmp.path().join("z"));
    let (ot, _) = run(&tgzs, &tmp.path().join("t"));
    assert_eq!(ot.status.code(), oz.status.code(), "{}", summary(&ot));
    assert_eq!(
        files_of(&tmp.path().join("t")),
        files_of(&tmp.path().join("z"))
    );
    let lines = |o: &std::process::Output| -> Vec<String> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.starts_with("A record of this run"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(lines(&ot), lines(&oz));
}

/// Unix only: the test sends SIGINT.
#[cfg(unix)]
#[test]
fn ctrl_c_while_a_tar_part_is_read_leaves_everything_as_it_was() {
    use std::process::{Command, Stdio};
    let tmp = tempfile::tempdir().unwrap();
    // 120 MB in 40 entries, a plain tar (read by the same loop as a .tgz; quick to build):
    // long enough to read to be stopped.
    let chunk = vec![7u8; 3 << 20];
    let part = tmp.path().join("takeout-20231030T151007Z-001.tar");
    let mut tar = tar::Builder::new(std::io::BufWriter::new(
        std::fs::File::create(&part).unwrap(),
    ));
    for k in 0..40 {
        let mut h = tar::Header::new_gnu();
        h.set_size(chunk.len() as u64);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, format!("{YEAR}/IMG_{k}.jpg"), chunk.as_slice())
            .unwrap();
    }
    tar.finish().unwrap();
    drop(tar);
    let out = tmp.path().join("photos");
    let child = Command::new(env!("CARGO_BIN_EXE_gpbackup"))
        .args(["process", "-j", "1", "-o"])
        .arg(&out)
        .arg(&part)
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    let s = stderr(&o);
    if o.status.code() == Some(0) {
        eprintln!("finished before the signal: nothing to check");
        return;
    }
    assert_eq!(o.status.code(), Some(130), "{s}");
    assert!(
        s.contains("stopped while reading the .tgz or .tar parts, before anything was written"),
        "{s}"
    );
    assert!(!out.exists(), "the folder this run made is removed again");
}

#[test]
fn too_little_room_to_read_a_tgz_is_said_before_reading() {
    let tmp = tempfile::tempdir().unwrap();
    let tgzs = three_parts().write_as(&tmp.path().join("tgz"), &[Packing::Tgz; 3]);
    let out = tmp.path().join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_gpbackup"))
        .args(["process", "-o"])
        .arg(&out)
        .args(&tgzs)
        .env("GPBACKUP_FREE_BYTES", "1000")
        .output()
        .unwrap();
    let s = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(s.contains("more than the 1.0 KB free on"), "{s}");
    assert!(
        !out.exists(),
        "nothing is written: {:?}",
        files_of(&out).keys()
    );
}

/// A dry run keeps a `.tgz` part's files in the system's temporary folder: the room there
/// is checked, and the message names that folder and how to choose another.
#[test]
fn a_dry_run_checks_the_room_in_the_temporary_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let tgzs = three_parts().write_as(&tmp.path().join("tgz"), &[Packing::Tgz; 3]);
    let out = tmp.path().join("out");
    let temp = tmp.path().join("temp");
    std::fs::create_dir(&temp).unwrap();
    let dry_run = |free: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_gpbackup"))
            .args(["process", "--dry-run", "-o"])
            .arg(&out)
            .args(&tgzs)
            .env("TMPDIR", &temp)
            .env("GPBACKUP_FREE_BYTES", free)
            .output()
            .unwrap()
    };
    let o = dry_run("1000");
    let s = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(
        s.contains(&format!("temporary folder {}", temp.display())),
        "{s}"
    );
    assert!(s.contains("more than the 1.0 KB free there"), "{s}");
    assert!(s.contains("set TMPDIR"), "{s}");
    assert!(
        !s.contains("-o."),
        "the output folder is not where the room is short: {s}"
    );
    let o = dry_run("100000000000");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        summary(&o).contains("9 would be written"),
        "{}",
        summary(&o)
    );
    assert!(!out.exists(), "a dry run writes nothing");
    let left: Vec<_> = std::fs::read_dir(&temp).unwrap().collect();
    assert!(left.is_empty(), "the staging folder is removed: {left:?}");
}

#[test]
fn the_same_name_twice_in_a_tgz_is_two_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (photo("first"), photo("second"));
    let files = vec![
        (format!("{YEAR}/IMG_1.jpg"), a.clone()),
        (format!("{YEAR}/IMG_1.jpg"), b.clone()),
    ];
    let part = tmp.path().join("takeout-20231030T151007Z-001.tgz");
    std::fs::write(&part, gzip(&tar_bytes(&files))).unwrap();
    let out = tmp.path().join("out");
    let (o, r) = run(&[part], &out);
    assert_eq!(o.status.code(), Some(0), "{}", summary(&o));
    let written: Vec<Vec<u8>> = files_of(&out).into_values().collect();
    assert!(
        written.contains(&a) && written.contains(&b),
        "both are kept"
    );
    assert!(
        r.to_string()
            .contains("the archive holds 2 entries with this name"),
        "{r}"
    );
}

#[test]
fn a_part_whose_checksum_fails_is_not_used_and_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let files = vec![
        (format!("{YEAR}/IMG_1.jpg"), photo("one")),
        (
            format!("{YEAR}/IMG_1.jpg.json"),
            sidecar("IMG_1.jpg", 1_562_253_012, None),
        ),
    ];
    // Stored uncompressed, so that a flipped byte decodes without an error.
    let mut gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
        e.write_all(&tar_bytes(&files)).unwrap();
        e.finish().unwrap()
    };
    let at = 600; // inside the photo's bytes
    gz[at] ^= 0x01;
    let part = tmp.path().join("takeout-20231030T151007Z-001.tgz");
    std::fs::write(&part, &gz).unwrap();
    let out = tmp.path().join("out");
    let (o, _) = run(&[part], &out);
    let said = summary(&o);
    assert_eq!(o.status.code(), Some(3), "{said}");
    assert!(
        said.contains("is damaged (its checksum does not match: one of its files is damaged"),
        "{said}"
    );
    assert!(said.contains("None of its files was used."), "{said}");
    counts_adding_up(&said);
    assert!(files_of(&out).is_empty(), "{:?}", files_of(&out).keys());
}
