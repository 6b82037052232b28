//! Bounded memory: a 200 MB video goes through with a peak RSS far below its size. This file
//! holds one test only, so that the children's peak RSS (getrusage) is that one run's.

mod common;

use common::*;
use std::io::Write;
use zip::write::SimpleFileOptions;

const PADDING: usize = 200 * 1024 * 1024;

/// Peak resident set size of the waited-for children, in bytes.
fn children_peak_rss() -> u64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    usage.ru_maxrss as u64 * 1024
}

#[test]
fn a_200_mb_video_streams_with_flat_memory() {
    let tmp = tempfile::tempdir().unwrap();
    // clip.mp4 ends with its mdat box (at 948, 1170 bytes): extend it with 200 MB that no
    // chunk refers to. The file stays a valid MP4 with moov before mdat.
    let clip = fixture("clip.mp4");
    let mdat_at = 948;
    assert_eq!(&clip[mdat_at + 4..mdat_at + 8], b"mdat");
    let mdat_len = clip.len() - mdat_at + PADDING;
    let zip_path = tmp.path().join("takeout-001.zip");
    {
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let stored =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        w.start_file(format!("{YEAR}/VID_BIG.mp4"), stored).unwrap();
        w.write_all(&clip[..mdat_at]).unwrap();
        w.write_all(&(mdat_len as u32).to_be_bytes()).unwrap();
        w.write_all(&clip[mdat_at + 4..]).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..PADDING / zeros.len() {
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
    }
    let out = tmp.path().join("photos");
    let (o, report) = process(&[zip_path], &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(report["media"][0]["status"], "written");
    assert_eq!(report["media"][0]["embedded"], true);
    let written = std::fs::metadata(out.join("VID_BIG.mp4")).unwrap().len();
    assert!(written > PADDING as u64);
    let peak = children_peak_rss();
    eprintln!(
        "peak RSS {} MB for a {} MB video",
        peak >> 20,
        written >> 20
    );
    assert!(peak < 100 << 20, "peak RSS {} MB", peak >> 20);
}
