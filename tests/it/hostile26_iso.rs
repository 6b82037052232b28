//! Hostile review of issue 26, the ISO media editors (MP4/MOV and HEIF): files built from the
//! real fixtures after reading the code go through the real binary in one run; each is either
//! edited so that players read the same frames, or copied unchanged with a note, in bounded
//! memory, and the rest of the run goes on.
//!
//! Every case here showed a bug when it was written (FAILS: what happened).

use crate::common::*;
use crate::memory::run_with_peak_rss;
use std::path::Path;

// clip.mp4: ftyp (0, 32 bytes), moov (32, 908), trak/edts at 248, stco at 822 with its one
// entry at 838, free (940, 8), mdat (948).
const MOOV_END: usize = 940;
const STCO_ENTRY: usize = 838;

fn add_to_offset(b: &mut [u8], by: usize) {
    let v = u32::from_be_bytes(b[STCO_ENTRY..STCO_ENTRY + 4].try_into().unwrap());
    b[STCO_ENTRY..STCO_ENTRY + 4].copy_from_slice(&(v + by as u32).to_be_bytes());
}

/// FAILS: an mdat before moov and the media after it: moov grew, no offset moved.
fn mdat_first() -> Vec<u8> {
    let mut clip = fixture("clip.mp4");
    let early = b"\x00\x00\x00\x15mdatearlier media";
    add_to_offset(&mut clip, early.len());
    let mut out = clip[..32].to_vec();
    out.extend_from_slice(early);
    out.extend_from_slice(&clip[32..]);
    out
}

/// FAILS: trak/edts claims 0x7FFFFFFF bytes (ffmpeg clamps it and decodes the same frames):
/// the track's stco was not reached, not shifted, and moov grew.
fn huge_edts() -> Vec<u8> {
    let mut clip = fixture("clip.mp4");
    clip[248..252].copy_from_slice(&0x7FFF_FFFFu32.to_be_bytes());
    clip
}

/// FAILS: 15,000 boxes nested in moov: a stack overflow aborted the whole run.
fn nested() -> Vec<u8> {
    let depth = 15_000;
    let mut clip = fixture("clip.mp4");
    add_to_offset(&mut clip, depth * 8);
    let moov_size = (MOOV_END - 32 + depth * 8) as u32;
    clip[32..36].copy_from_slice(&moov_size.to_be_bytes());
    let mut out = clip[..MOOV_END].to_vec();
    for i in 0..depth {
        out.extend_from_slice(&(((depth - i) * 8) as u32).to_be_bytes());
        out.extend_from_slice(b"trak");
    }
    out.extend_from_slice(&clip[MOOV_END..]);
    out
}

/// The boxes (type, start, end) in `b[start..end]`.
fn boxes(b: &[u8], mut pos: usize, end: usize) -> Vec<([u8; 4], usize, usize)> {
    let mut out = Vec::new();
    while pos + 8 <= end {
        let size = u32::from_be_bytes(b[pos..pos + 4].try_into().unwrap()) as usize;
        out.push((b[pos + 4..pos + 8].try_into().unwrap(), pos, pos + size));
        pos += size;
    }
    out
}

/// FAILS: iphone.heic whose iloc has fields of 0 bytes and 100 items of 65,535 extents each:
/// a 1.4 KB file took hundreds of MB (a few KB of them aborted the run).
fn iloc_bomb() -> Vec<u8> {
    let src = fixture("iphone.heic");
    let (_, ms, me) = *boxes(&src, 0, src.len())
        .iter()
        .find(|b| &b.0 == b"meta")
        .unwrap();
    let (_, is, ie) = *boxes(&src, ms + 12, me)
        .iter()
        .find(|b| &b.0 == b"iloc")
        .unwrap();
    let mut iloc = vec![1, 0, 0, 0, 0, 0]; // version 1, every field size 0
    iloc.extend_from_slice(&100u16.to_be_bytes());
    for id in 1..=100u16 {
        iloc.extend_from_slice(&id.to_be_bytes());
        iloc.extend_from_slice(&[0, 0, 0, 0, 0xFF, 0xFF]);
    }
    let mut meta = src[ms + 8..is].to_vec();
    meta.extend_from_slice(&(iloc.len() as u32 + 8).to_be_bytes());
    meta.extend_from_slice(b"iloc");
    meta.extend_from_slice(&iloc);
    meta.extend_from_slice(&src[ie..me]);
    let mut out = src[..ms].to_vec();
    out.extend_from_slice(&(meta.len() as u32 + 8).to_be_bytes());
    out.extend_from_slice(b"meta");
    out.extend_from_slice(&meta);
    out.extend_from_slice(&src[me..]);
    out
}

/// The library file whose name ends with `name`.
fn written(out: &Path, name: &str) -> Vec<u8> {
    files_of(out)
        .into_iter()
        .find(|(p, _)| p.ends_with(name))
        .unwrap_or_else(|| panic!("{name} not in the library"))
        .1
}

#[test]
fn hostile_iso_files_are_never_damaged_and_never_stop_the_run() {
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("VID_MDAT_FIRST.mp4", mdat_first()),
        ("VID_HUGE_EDTS.mp4", huge_edts()),
        ("VID_NESTED.mp4", nested()),
        // FAILS: edited, but noted "truncated video: copied unchanged".
        ("VID_CUT.mp4", fixture("clip.mp4")[..1000].to_vec()),
        ("IMG_BOMB.heic", iloc_bomb()),
        ("IMG_OK.jpg", photo("the rest of the run")),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let mut t = Takeout::new(1);
    for (name, bytes) in &files {
        t.add(0, format!("{YEAR}/{name}"), bytes.clone()).add(
            0,
            format!("{YEAR}/{name}.json"),
            sidecar(name, 1_562_253_012, Some((48.8583701, 2.2944813, 35.0))),
        );
    }
    let zips = t.write(&tmp.path().join("in"));
    let out = tmp.path().join("photos");
    let report_path = tmp.path().join("report.json");
    let mut args: Vec<&std::ffi::OsStr> = vec!["process".as_ref()];
    args.extend(zips.iter().map(|p| p.as_os_str()));
    args.extend(["-o".as_ref(), out.as_os_str()]);
    args.extend(["--timezone", "Europe/Paris", "--report"].map(std::ffi::OsStr::new));
    args.push(report_path.as_os_str());
    let (code, peak) = run_with_peak_rss(&args);
    assert_eq!(code, 0, "the run ends normally");
    assert!(peak < 100 << 20, "peak RSS {} MB", peak >> 20);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let notes = |name: &str| report_entry(&report, name)["notes"].to_string();

    // The rest of the run: the photo is written with its metadata.
    assert_eq!(report_entry(&report, "IMG_OK.jpg")["embedded"], true);

    // Unchanged, with a note saying why.
    for (name, why) in [
        ("VID_NESTED.mp4", "nested too deep"),
        ("IMG_BOMB.heic", "not understood"),
    ] {
        let src = &files.iter().find(|f| f.0 == name).unwrap().1;
        assert!(written(&out, name) == *src, "{name} copied unchanged");
        assert!(notes(name).contains(why), "{name}: {}", notes(name));
    }
    // The huge edts: moov keeps its size (only times patched in place).
    let edts = written(&out, "VID_HUGE_EDTS.mp4");
    assert_eq!(edts.len(), huge_edts().len());
    assert!(edts[MOOV_END..] == huge_edts()[MOOV_END..]);
    assert!(
        notes("VID_HUGE_EDTS.mp4").contains("location not embedded"),
        "{}",
        notes("VID_HUGE_EDTS.mp4")
    );
    // The cut video: edited, and told so.
    let cut = notes("VID_CUT.mp4");
    assert!(
        cut.contains("cut short") && !cut.contains("unchanged"),
        "{cut}"
    );
    assert!(written(&out, "VID_CUT.mp4").len() > 1000);

    // Players read the same frames as from the originals.
    if !have_tool("ffmpeg") {
        eprintln!("ffmpeg missing: frames not compared outside CI");
        return;
    }
    for name in ["VID_MDAT_FIRST.mp4", "VID_HUGE_EDTS.mp4"] {
        let src = &files.iter().find(|f| f.0 == name).unwrap().1;
        let a = tmp.path().join(format!("in-{name}"));
        let b = tmp.path().join(format!("out-{name}"));
        std::fs::write(&a, src).unwrap();
        std::fs::write(&b, written(&out, name)).unwrap();
        let frames = frame_hashes(&a);
        assert_eq!(frames.len(), 10, "{name}");
        assert_eq!(frame_hashes(&b), frames, "{name}");
    }
}
