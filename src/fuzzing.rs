//! The properties the fuzz targets (`tests/fuzz/`) check, shared with the regression test
//! that replays their corpus in CI (`tests/fuzz_regression.rs`). Each function panics when a
//! property does not hold, and must never panic otherwise, whatever the input.

use crate::takeout::matcher::{self, MediaRef, SidecarRef};
use crate::takeout::sidecar;

pub use crate::metadata::fuzzing::{
    heif_writer, iso_media_kept, iso_mutate, iso_structured, mutate_structure, writers,
    writers_structured,
};

/// Sidecar parsing and matching: any bytes parse to a result or a reason; matching pairs each
/// media file with at most one sidecar, and a sidecar with one media file unless it is shared
/// (edited copies, Live Photo halves).
pub fn sidecar_and_matcher(data: &[u8]) {
    if let Ok(sidecar::JsonFile::Media(s)) = sidecar::parse(data) {
        if let Some(g) = s.geo() {
            assert!((-90.0..=90.0).contains(&g.lat) && (-180.0..=180.0).contains(&g.lon));
        }
    }
    // Names from the input: lines before an empty line are media, the rest sidecars.
    let text = String::from_utf8_lossy(data);
    let mut media = Vec::new();
    let mut sidecars = Vec::new();
    let mut in_sidecars = false;
    for line in text.lines().take(64) {
        if line.is_empty() {
            in_sidecars = true;
            continue;
        }
        let (dir, name) = line.rsplit_once('/').unwrap_or(("Photos from 2019", line));
        if in_sidecars {
            sidecars.push(SidecarRef {
                dir,
                name,
                title: Some(name),
            });
        } else {
            media.push(MediaRef {
                dir,
                name,
                video: name.ends_with(".MOV"),
            });
        }
    }
    let matches = matcher::match_all(&media, &sidecars);
    assert_eq!(matches.len(), media.len());
    let mut claimed = vec![false; sidecars.len()];
    for m in matches.into_iter().flatten() {
        assert!(m.sidecar < sidecars.len());
        if !m.rule.is_shared() {
            assert!(!claimed[m.sidecar], "a sidecar claimed twice");
            claimed[m.sidecar] = true;
        }
    }
    let _ = matcher::tried_names(&text);
}

/// Walking the local headers of a damaged zip
/// ([`crate::takeout::zip::recover::scan_reader`]): any bytes end the walk (no endless loop,
/// no overflow), every entry found lies inside the file, in file order, and reading one never
/// panics.
pub fn recover_scan(data: &[u8]) {
    use std::io::{Cursor, Read};
    let len = data.len() as u64;
    let found =
        crate::takeout::zip::recover::scan_reader(Cursor::new(data), len).expect("memory reads");
    assert!(
        found.entries.len() as u64 <= len / 30,
        "more entries than headers fit"
    );
    let mut last_end = 0u64;
    for e in &found.entries {
        let end = e.data_start.checked_add(e.compressed).expect("no overflow");
        assert!(end <= len, "entry {} ends past the file", e.name);
        assert!(e.data_start >= last_end + 30, "entries overlap or go back");
        last_end = end;
        if let Ok(r) = crate::takeout::zip::open_in(Cursor::new(data), e) {
            let mut sink = Vec::new();
            let _ = r.take(1 << 20).read_to_end(&mut sink);
        }
    }
}
