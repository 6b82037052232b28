//! The properties of the media writers that the fuzz targets (`tests/fuzz/`) check, through
//! [`crate::fuzzing`]; each function panics when a property does not hold. They live here so
//! that the metadata writers and their tests need nothing outside `metadata/`.

use crate::metadata::{heif, isobmff, jpeg, png, webp, Geo, Tags, TimeZoneChoice, Written};

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
        keep_camera_dates: data.first().is_some_and(|b| b & 2 == 2),
        geo_moved: data.first().is_some_and(|b| b & 4 == 4),
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
        keep_camera_dates: data.len() % 3 == 1,
        geo_moved: data.len() % 5 == 1,
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

// ISO base media files (MP4/MOV/3GP, HEIF/AVIF): structure-aware mutations and the property
// the MP4 writer is held to. Kept apart from the other formats' helpers.

/// A box found by [`iso_boxes`]: where it is, its header's length, and its parent's index.
#[derive(Debug, Clone, Copy)]
struct IsoBox {
    start: usize,
    header: usize,
    end: usize,
    parent: Option<usize>,
}

/// Boxes whose contents are boxes (after 4 bytes of version and flags for `meta`).
const ISO_CONTAINERS: [&[u8; 4]; 14] = [
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta", b"mvex", b"moof",
    b"traf", b"meta", b"iprp", b"ipco",
];

/// Every box of `data` at the top level and inside the known containers, parents first (a walk
/// with its own stack, at most 10,000 boxes).
fn iso_boxes(data: &[u8]) -> Vec<IsoBox> {
    let mut out: Vec<IsoBox> = Vec::new();
    let mut todo = vec![(0usize, data.len(), None)];
    while let Some((mut pos, end, parent)) = todo.pop() {
        while pos + 8 <= end && out.len() < 10_000 {
            let size32 = u32::from_be_bytes(data[pos..pos + 4].try_into().expect("4"));
            let (size, header) = match size32 {
                0 => (end - pos, 8),
                1 if pos + 16 <= end => {
                    let s = u64::from_be_bytes(data[pos + 8..pos + 16].try_into().expect("8"));
                    (usize::try_from(s).unwrap_or(usize::MAX), 16)
                }
                s => (s as usize, 8),
            };
            if size < header || size > end - pos {
                break;
            }
            let kind = &data[pos + 4..pos + 8];
            out.push(IsoBox {
                start: pos,
                header,
                end: pos + size,
                parent,
            });
            if ISO_CONTAINERS.iter().any(|c| c.as_slice() == kind) {
                let skip = if kind == b"meta" { 4 } else { 0 };
                todo.push((pos + header + skip, pos + size, Some(out.len() - 1)));
            }
            pos += size;
        }
    }
    out
}

/// Adds `by` to the size field of box `i` and of every box around it (sizes of 0, "to the
/// end", stay).
fn iso_grow(data: &mut [u8], boxes: &[IsoBox], i: Option<usize>, by: i64) {
    let mut at = i;
    while let Some(k) = at {
        let b = boxes[k];
        if b.header == 16 {
            let s = u64::from_be_bytes(data[b.start + 8..b.start + 16].try_into().expect("8"));
            let n = s.wrapping_add_signed(by);
            data[b.start + 8..b.start + 16].copy_from_slice(&n.to_be_bytes());
        } else {
            let s = u32::from_be_bytes(data[b.start..b.start + 4].try_into().expect("4"));
            if s != 0 {
                let n = (i64::from(s) + by) as u32;
                data[b.start..b.start + 4].copy_from_slice(&n.to_be_bytes());
            }
        }
        at = b.parent;
    }
}

/// `data` (an ISO base media file) changed in its structure, one change per two bytes of
/// `choices`: a box's size set to a value readers trip on, a count (the 4 bytes after a full
/// box's version and flags) set out of proportion, a box wrapped in many containers, a box
/// duplicated, removed or swapped with the next one, a field-size byte zeroed. Sizes of the
/// boxes around an inserted or removed one follow, so the file stays walkable.
pub fn iso_mutate(data: &[u8], choices: &[u8]) -> Vec<u8> {
    let mut m = data.to_vec();
    for c in choices.chunks(2).take(8) {
        let boxes = iso_boxes(&m);
        if boxes.is_empty() {
            break;
        }
        let (op, pick) = (c[0] % 8, usize::from(*c.get(1).unwrap_or(&0)));
        let i = (usize::from(c[0] / 8) * 7 + pick) % boxes.len();
        let b = boxes[i];
        let value = |options: &[u64]| options[pick % options.len()];
        match op {
            0 => {
                let parent_end = b.parent.map_or(m.len(), |p| boxes[p].end);
                let size = value(&[
                    0,
                    1,
                    7,
                    8,
                    (b.end - b.start - 1) as u64,
                    (b.end - b.start + 1) as u64,
                    (parent_end - b.start) as u64 + 8,
                    0x7FFF_FFFF,
                    0xFFFF_FFFF,
                ]) as u32;
                m[b.start..b.start + 4].copy_from_slice(&size.to_be_bytes());
            }
            1 if b.start + b.header + 8 <= b.end => {
                let at = b.start + b.header + 4;
                let count = u32::from_be_bytes(m[at..at + 4].try_into().expect("4"));
                let n = value(&[
                    0,
                    1,
                    0xFFFF,
                    0xFFFF_FFFF,
                    u64::from(count) + 1,
                    u64::from(count.saturating_sub(1)),
                ]) as u32;
                m[at..at + 4].copy_from_slice(&n.to_be_bytes());
            }
            2 => {
                let depth = value(&[1, 2, 17, 300]) as usize;
                let kind: [u8; 4] = m[b.start + 4..b.start + 8].try_into().expect("4");
                let len = b.end - b.start;
                let mut wrap = Vec::with_capacity(depth * 8 + len);
                for d in 0..depth {
                    wrap.extend_from_slice(&(((depth - d) * 8 + len) as u32).to_be_bytes());
                    wrap.extend_from_slice(if (pick / 4) % 2 == 0 { b"trak" } else { &kind });
                }
                wrap.extend_from_slice(&m[b.start..b.end]);
                iso_grow(&mut m, &boxes, b.parent, (depth * 8) as i64);
                m.splice(b.start..b.end, wrap);
            }
            3 => {
                let copy = m[b.start..b.end].to_vec();
                iso_grow(&mut m, &boxes, b.parent, copy.len() as i64);
                m.splice(b.end..b.end, copy);
            }
            4 => {
                iso_grow(&mut m, &boxes, b.parent, -((b.end - b.start) as i64));
                m.drain(b.start..b.end);
            }
            5 => {
                if let Some(next) = boxes
                    .iter()
                    .find(|n| n.start == b.end && n.parent == b.parent)
                {
                    let second = m[next.start..next.end].to_vec();
                    m.copy_within(b.start..b.end, b.start + second.len());
                    m[b.start..b.start + second.len()].copy_from_slice(&second);
                }
            }
            6 if b.start + b.header + 6 <= b.end => {
                // iloc's field sizes (after version and flags), or whatever is there.
                m[b.start + b.header + 4] = value(&[0x00, 0x88, 0x44, 0x0F]) as u8;
            }
            _ => {
                let at = b.start + b.header;
                if at < b.end {
                    m[at] = value(&[0, 1, 2, 3, 0xFF]) as u8; // a full box's version
                }
            }
        }
    }
    m
}

/// The MP4/MOV writer on `data`: unchanged output is the input; changed output leads every
/// chunk of every track (read with a strict walk of its own) to the bytes the input's led to.
pub fn iso_media_kept(data: &[u8]) {
    let tags = Tags {
        taken: Some(1_562_253_012),
        geo: Some(Geo {
            lat: 48.8583701,
            lon: 2.2944813,
            alt: Some(35.2),
        }),
        overwrite_dates: data.len() % 2 == 1,
        ..Tags::default()
    };
    let zone = TimeZoneChoice::Zone(chrono_tz::Tz::Europe__Paris);
    let mut out = Vec::new();
    let w = isobmff::rewrite(&mut &data[..], &mut out, &tags, &zone)
        .expect("reading from memory cannot fail");
    if !w.changed {
        assert!(
            out == data,
            "isobmff: unchanged output differs from the input"
        );
        return;
    }
    let Some(before) = isobmff::chunk_offsets(data) else {
        return;
    };
    let after = isobmff::chunk_offsets(&out).expect("isobmff: edited tables unreadable");
    assert_eq!(before.len(), after.len(), "isobmff: tracks changed");
    // A chunk's bytes (its first 64 KB, as far as the file goes).
    let at = |buf: &[u8], (o, len): (u64, u64)| {
        let o = usize::try_from(o).unwrap_or(usize::MAX).min(buf.len());
        let len = usize::try_from(len.min(1 << 16)).expect("64 KB");
        buf[o..o.saturating_add(len).min(buf.len())].to_vec()
    };
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.len(), a.len(), "isobmff: chunks changed");
        for (ob, oa) in b.iter().zip(a) {
            assert!(
                at(data, *ob) == at(&out, *oa),
                "isobmff: a chunk reads other bytes"
            );
        }
    }
}

/// One structure-aware fuzz case: `data[0]` picks one of `seeds` (real files), the rest says
/// how to change it ([`iso_mutate`]); the result goes through every property of the ISO media
/// writers.
pub fn iso_structured(seeds: &[&[u8]], data: &[u8]) {
    let Some((first, choices)) = data.split_first() else {
        return;
    };
    let Some(seed) = seeds.get(usize::from(*first) % seeds.len().max(1)) else {
        return;
    };
    let m = iso_mutate(seed, choices);
    iso_media_kept(&m);
    heif_writer(&m);
    writers(&m);
}

#[cfg(test)]
mod iso_tests {
    use super::*;
    use crate::metadata::fixture;

    #[test]
    fn structured_iso_mutations_keep_every_promise() {
        let names = [
            "clip.mp4",
            "live.mov",
            "reserved.mp4",
            "iphone.heic",
            "grid_exif.heic",
            "small.avif",
        ];
        let seeds: Vec<Vec<u8>> = names.iter().map(|n| fixture(n)).collect();
        let seeds: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
        let mut next = xorshift(0xD1B5_4A32_D192_ED03);
        for _ in 0..1500 {
            let n = 1 + (next() % 8) as usize * 2;
            let data: Vec<u8> = (0..=n).map(|_| next() as u8).collect();
            iso_structured(&seeds, &data);
        }
    }

    #[test]
    fn mutations_change_the_structure() {
        let clip = fixture("clip.mp4");
        assert!(
            iso_boxes(&clip).len() > 20,
            "the walk reaches the sample tables"
        );
        // Wrapping a box in 300 containers keeps every size consistent.
        let wrapped = iso_mutate(&clip, &[2 + 8, 3]);
        assert_eq!(wrapped.len(), clip.len() + 2400);
        assert!(iso_boxes(&wrapped).len() > iso_boxes(&clip).len() + 299);
    }
}
