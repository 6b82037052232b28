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
