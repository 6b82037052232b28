//! The properties the fuzz targets (`tests/fuzz/`) check, shared with the regression test
//! that replays their corpus in CI (`tests/fuzz_regression.rs`). Each function panics when a
//! property does not hold, and must never panic otherwise, whatever the input.

use crate::metadata::{heif, isobmff, jpeg, png, webp, Tags, TimeZoneChoice, Written};
use crate::takeout::matcher::{self, MediaRef, SidecarRef};
use crate::takeout::sidecar::{self, Geo};

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

/// Every metadata writer on any bytes: it never loses bytes. When it changes nothing the
/// output is the input; when it does, the output is not empty (metadata is
/// only ever added or replaced).
pub fn writers(data: &[u8]) {
    let tags = Tags {
        taken: Some(1_562_253_012),
        geo: Some(Geo {
            lat: 48.8583701,
            lon: 2.2944813,
            alt: Some(35.2),
        }),
        description: Some("fuzz".into()),
        overwrite_dates: data.first().is_some_and(|b| b & 1 == 1),
    };
    let zone = TimeZoneChoice::Zone(chrono_tz::Tz::Europe__Paris);
    type Writer = fn(&[u8], &Tags, &TimeZoneChoice, &mut Vec<u8>) -> std::io::Result<Written>;
    let all: [(&str, Writer); 4] = [
        ("jpeg", |d, t, z, o| jpeg::rewrite(&mut &d[..], o, t, z)),
        ("png", |d, t, z, o| png::rewrite(&mut &d[..], o, t, z)),
        ("webp", |d, t, z, o| webp::rewrite(&mut &d[..], o, t, z)),
        ("isobmff", |d, t, z, o| {
            isobmff::rewrite(&mut &d[..], o, t, z)
        }),
    ];
    for (name, write) in all {
        let mut out = Vec::new();
        let w = write(data, &tags, &zone, &mut out).expect("reading from memory cannot fail");
        if !w.changed {
            assert!(
                out == data,
                "{name}: unchanged output differs from the input"
            );
        } else {
            assert!(!out.is_empty(), "{name}: changed to nothing");
        }
    }
}

/// The HEIF/AVIF writer on any bytes: when it changes nothing the output is the input; when it
/// does, the independent reader (kamadak-exif) finds EXIF with a date in the result.
pub fn heif_writer(data: &[u8]) {
    let tags = Tags {
        taken: Some(1_562_253_012),
        geo: Some(Geo {
            lat: -33.8688,
            lon: 151.2093,
            alt: None,
        }),
        description: None,
        overwrite_dates: data.len() % 2 == 1,
    };
    let zone = TimeZoneChoice::Zone(chrono_tz::Tz::Australia__Sydney);
    let mut out = Vec::new();
    let w = heif::rewrite(&mut &data[..], &mut out, &tags, &zone)
        .expect("reading from memory cannot fail");
    if !w.changed {
        assert!(out == data, "heif: unchanged output differs from the input");
        return;
    }
    let e = exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(&out))
        .expect("heif: changed output without readable EXIF");
    assert!(
        e.get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
            .is_some(),
        "heif: changed output without a date"
    );
}

/// Walking the local headers of a damaged zip (`recover::scan`): any bytes end the walk (no
/// endless loop, no overflow), every entry found lies inside the file, in file order, and
/// reading one never panics.
pub fn recover_scan(data: &[u8]) {
    use std::io::{Cursor, Read};
    let len = data.len() as u64;
    let found = crate::takeout::zip::scan_reader(Cursor::new(data), len).expect("memory reads");
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

/// Numbers for the tests that change inputs at random (xorshift64: the same from one `seed`
/// on every run, so that a failure can be replayed).
#[cfg(test)]
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
