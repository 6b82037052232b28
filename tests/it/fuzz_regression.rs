//! Replays the fuzz corpus (`tests/fuzz/corpus/`) through the same property checks the fuzz
//! targets run, so that every input a fuzzer found (and every seed) stays a regression test.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| check(&data));
        assert!(result.is_ok(), "{target}: {} fails", path.display());
        n += 1;
    }
    assert!(n > 0, "no corpus in {}", dir.display());
}

#[test]
fn sidecar_matcher_corpus() {
    replay("sidecar_matcher", gpbackup::fuzzing::sidecar_and_matcher);
}

#[test]
fn writers_corpus() {
    replay("writers", gpbackup::fuzzing::writers);
}

#[test]
fn writers_structured_corpus() {
    replay("writers_structured", gpbackup::fuzzing::writers_structured);
}

#[test]
fn heif_corpus() {
    replay("heif", gpbackup::fuzzing::heif_writer);
}

#[test]
fn recover_scan_corpus() {
    replay("recover_scan", gpbackup::fuzzing::recover_scan);
}

/// The real files the `iso_structured` target changes (as it embeds them).
fn iso_seeds() -> Vec<Vec<u8>> {
    [
        "clip.mp4",
        "live.mov",
        "reserved.mp4",
        "iphone.heic",
        "grid_exif.heic",
        "small.avif",
    ]
    .iter()
    .map(|n| crate::common::fixture(n))
    .collect()
}

#[test]
fn iso_structured_corpus() {
    let seeds = iso_seeds();
    let seeds: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
    let check = |data: &[u8]| gpbackup::fuzzing::iso_structured(&seeds, data);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus/iso_structured");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| check(&data));
        assert!(result.is_ok(), "iso_structured: {} fails", path.display());
        n += 1;
    }
    assert!(n > 0, "no corpus in {}", dir.display());
}

#[test]
fn iso_media_kept_on_the_writers_corpus() {
    replay("writers", gpbackup::fuzzing::iso_media_kept);
}
