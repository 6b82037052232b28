//! The properties of the media writers that the fuzz targets (`tests/fuzz/`) check, through
//! [`crate::fuzzing`]; each function panics when a property does not hold. They live here so
//! that the metadata writers and their tests need nothing outside `metadata/`.

use crate::metadata::exif_proof::{Layout, POINTER_TAGS};
use crate::metadata::{heif, isobmff, jpeg, png, tiff, webp, Geo, Tags, TimeZoneChoice, Written};

/// Every metadata writer on any bytes: it never loses bytes. When it changes nothing the
/// output is the input; when it does, the output is not empty (metadata is only ever added
/// or replaced) and the image data is the input's: a JPEG's from its first scan on, a PNG's
/// `IDAT` chunks, byte for byte.
pub fn writers(data: &[u8]) {
    let bit = |b: u8| data.first().is_some_and(|x| x & b == b);
    let sign = |b: u8| if bit(b) { -1.0 } else { 1.0 };
    let tags = Tags {
        taken: Some(1_562_253_012),
        geo: Some(Geo {
            lat: 48.8583701 * sign(8),
            lon: 2.2944813 * sign(16),
            alt: Some(35.2 * sign(32)),
        }),
        description: Some("fuzz".into()),
        overwrite_dates: data.first().is_some_and(|b| b & 1 == 1),
        keep_camera_dates: data.first().is_some_and(|b| b & 2 == 2),
        geo_moved: data.first().is_some_and(|b| b & 4 == 4),
        name_date: None,
    };
    let zone = TimeZoneChoice::Zone(chrono_tz::Tz::Europe__Paris);
    type Writer = fn(&[u8], &Tags, &TimeZoneChoice, &mut Vec<u8>) -> std::io::Result<Written>;
    let all: [(&str, Writer); 5] = [
        ("jpeg", |d, t, z, o| jpeg::rewrite(&mut &d[..], o, t, z)),
        ("png", |d, t, z, o| png::rewrite(&mut &d[..], o, t, z)),
        ("webp", |d, t, z, o| webp::rewrite(&mut &d[..], o, t, z)),
        ("tiff", |d, t, z, o| tiff::rewrite(&mut &d[..], o, t, z)),
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
            assert!(
                image_data(data) == image_data(&out),
                "{name}: the image data changed"
            );
            exif_kept(name, data, &out, &tags);
            png_chunks_kept(name, data, &out);
        }
    }
}

/// The EXIF of `input` (read with kamadak-exif, not the writers' code) is in `out` but for
/// the tags the writers set: every other value, the thumbnail's bytes; and a position
/// written is the one of `tags`, its references included.
fn exif_kept(name: &str, input: &[u8], out: &[u8], tags: &Tags) {
    use exif::{In, Tag, Value};
    let read = |b: &[u8]| exif::Reader::new().read_raw(exif_block(b)?).ok();
    let (Some(before), Some(after)) = (read(input), read(out)) else {
        return;
    };
    let ours = |t: Tag| {
        t.context() == exif::Context::Gps
            || [
                Tag::DateTimeOriginal,
                Tag::DateTimeDigitized,
                Tag::OffsetTime,
                Tag::OffsetTimeOriginal,
                Tag::OffsetTimeDigitized,
                Tag::ImageDescription,
                Tag::ExifIFDPointer,
                Tag::GPSInfoIFDPointer,
                Tag::InteropIFDPointer,
            ]
            .contains(&t)
            || t.number() == 0x02BC
    };
    // Where a value is in the block is not compared (an IFD may move with its entries).
    let value = |v: &Value| match v {
        Value::Undefined(b, _) => format!("{b:?}"),
        Value::Unknown(typ, count, _) => format!("unknown type {typ}, count {count}"),
        v => format!("{v:?}"),
    };
    for f in before.fields().filter(|f| !ours(f.tag)) {
        let same = after
            .get_field(f.tag, f.ifd_num)
            .is_some_and(|g| value(&g.value) == value(&f.value));
        assert!(same, "{name}: the camera's {} changed", f.tag);
    }
    let thumb = |e: &exif::Exif| {
        let at = e
            .get_field(Tag::JPEGInterchangeFormat, In::THUMBNAIL)?
            .value
            .get_uint(0)?;
        let len = e
            .get_field(Tag::JPEGInterchangeFormatLength, In::THUMBNAIL)?
            .value
            .get_uint(0)?;
        e.buf()
            .get(at as usize..(at as usize).checked_add(len as usize)?)
            .map(<[u8]>::to_vec)
    };
    assert!(
        thumb(&before) == thumb(&after),
        "{name}: the thumbnail changed"
    );
    let Some(g) = tags.geo else { return };
    let text = |e: &exif::Exif, t: Tag| e.get_field(t, In::PRIMARY).map(|f| value(&f.value));
    if text(&after, Tag::GPSLatitude) != text(&before, Tag::GPSLatitude) {
        let r = |t: Tag| {
            after
                .get_field(t, In::PRIMARY)
                .map(|f| f.display_value().to_string())
        };
        let ns = if g.lat < 0.0 { "S" } else { "N" };
        let ew = if g.lon < 0.0 { "W" } else { "E" };
        assert_eq!(r(Tag::GPSLatitudeRef).as_deref(), Some(ns), "{name}");
        assert_eq!(r(Tag::GPSLongitudeRef).as_deref(), Some(ew), "{name}");
    }
}

/// The EXIF block of a file as its structure declares it: a JPEG's first Exif segment before
/// its scan (kamadak-exif also finds one after it, in an appended image), a PNG's first
/// `eXIf` chunk, a WebP's `EXIF` chunk, a TIFF file itself.
fn exif_block(file: &[u8]) -> Option<Vec<u8>> {
    if file.starts_with(&[0xFF, 0xD8]) {
        let (segs, _) = jpeg_segments(file)?;
        let (s, e) = segs.into_iter().find(|(s, e)| {
            e - s > 10 && file[s + 1] == 0xE1 && file[s + 4..s + 10] == *b"Exif\0\0"
        })?;
        return Some(file[s + 10..e].to_vec());
    }
    if file.starts_with(b"II*\0") || file.starts_with(b"MM\0*") {
        return Some(file.to_vec());
    }
    if let Some((s, e)) = png_chunks(file)
        .into_iter()
        .find(|(s, _)| &file[s + 4..s + 8] == b"eXIf")
    {
        let d = &file[s + 8..e - 4];
        return Some(d.strip_prefix(b"Exif\0\0").unwrap_or(d).to_vec());
    }
    if file.starts_with(b"RIFF") {
        let e = exif::Reader::new()
            .read_from_container(&mut std::io::Cursor::new(file))
            .ok()?;
        return Some(e.buf().to_vec());
    }
    None
}

/// Every chunk of a PNG `input` but its `eXIf` is in `out` byte for byte (CRC included), and
/// `out` has one `eXIf` at most.
fn png_chunks_kept(name: &str, input: &[u8], out: &[u8]) {
    let of = |f: &[u8]| -> Vec<Vec<u8>> {
        png_chunks(f)
            .into_iter()
            .map(|(s, e)| f[s..e].to_vec())
            .collect()
    };
    let (a, b) = (of(input), of(out));
    for c in a.iter().filter(|c| &c[4..8] != b"eXIf") {
        assert!(b.contains(c), "{name}: a chunk changed");
    }
    let exifs = b.iter().filter(|c| &c[4..8] == b"eXIf").count();
    assert!(exifs <= 1, "{name}: {exifs} eXIf chunks");
}

/// A JPEG's bytes from its first scan on, or a PNG's `IDAT` chunks; empty for other files.
/// (Read here without the writers' code.)
fn image_data(file: &[u8]) -> Vec<u8> {
    if file.starts_with(&[0xFF, 0xD8]) {
        return jpeg_segments(file)
            .map(|(_, sos)| file[sos..].to_vec())
            .unwrap_or_default();
    }
    png_chunks(file)
        .into_iter()
        .filter(|(s, _)| &file[s + 4..s + 8] == b"IDAT")
        .flat_map(|(s, e)| file[s..e].to_vec())
        .collect()
}

/// (start, end) of each segment of a JPEG's header, and where its first scan starts.
fn jpeg_segments(f: &[u8]) -> Option<(Vec<(usize, usize)>, usize)> {
    let mut out = Vec::new();
    let mut pos = 2;
    loop {
        if *f.get(pos)? != 0xFF {
            return None;
        }
        let mut m = pos + 1;
        while *f.get(m)? == 0xFF {
            m += 1;
        }
        let end = match f[m] {
            0xDA => return Some((out, pos)),
            0xD9 => return None,
            0xD0..=0xD7 | 0x01 => m + 1,
            _ => m + 1 + u16::from_be_bytes([*f.get(m + 1)?, *f.get(m + 2)?]) as usize,
        };
        if end > f.len() || end < m + 3 && !matches!(f[m], 0xD0..=0xD7 | 0x01) {
            return None;
        }
        out.push((pos, end));
        pos = end;
    }
}

/// (start, end) of each whole chunk of a PNG (none when it is not one).
fn png_chunks(f: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if !f.starts_with(b"\x89PNG\r\n\x1a\n") {
        return out;
    }
    let mut pos = 8;
    while let Some(len) = f.get(pos..pos + 4) {
        let len = u32::from_be_bytes(len.try_into().expect("4")) as usize;
        let Some(end) = (pos + 12).checked_add(len).filter(|e| *e <= f.len()) else {
            break;
        };
        out.push((pos, end));
        pos = end;
    }
    out
}

/// The writers ([`writers`]) on a structure-aware mutant of a file: the first eight bytes of
/// `data` seed [`mutate_structure`] of the rest.
pub fn writers_structured(data: &[u8]) {
    let Some((seed, file)) = data.split_first_chunk::<8>() else {
        return;
    };
    writers(&mutate_structure(file, u64::from_le_bytes(*seed)));
}

/// `file` changed where its structure is (what random bit flips seldom reach): in its EXIF
/// block (a JPEG's Exif segment, a PNG's `eXIf` chunk, a TIFF file) an entry's type, count,
/// value offset (pointed at another IFD, value or image data, or past the end) or tag (made
/// a pointer or a duplicate), an IFD's entry count or next-IFD pointer; a JPEG's segments
/// or a PNG's chunks moved, duplicated or (a PNG's) their CRC spoiled. The same `seed` makes
/// the same mutant.
pub fn mutate_structure(file: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = xorshift(seed | 1);
    let mut f = file.to_vec();
    let op = rng() % 4;
    if f.starts_with(b"II*\0") || f.starts_with(b"MM\0*") {
        mutate_tiff(&mut f, &mut rng);
    } else if f.starts_with(&[0xFF, 0xD8]) {
        let Some((segs, _)) = jpeg_segments(&f) else {
            return f;
        };
        let exif = segs
            .iter()
            .find(|(s, e)| e - s > 10 && f[s + 4..s + 10] == *b"Exif\0\0");
        match (op, exif) {
            (0 | 1, Some(&(s, e))) => mutate_tiff(&mut f[s + 10..e], &mut rng),
            _ => f = move_or_copy(&f, &segs, &mut rng),
        }
    } else if !png_chunks(&f).is_empty() {
        let chunks = png_chunks(&f);
        let exif = chunks.iter().find(|(s, _)| &f[s + 4..s + 8] == b"eXIf");
        match (op, exif) {
            (0, Some(&(s, e))) => {
                mutate_tiff(&mut f[s + 8..e - 4], &mut rng);
                let crc = crc32fast::hash(&f[s + 4..e - 4]);
                f[e - 4..e].copy_from_slice(&crc.to_be_bytes());
            }
            (1, _) => {
                let (_, e) = chunks[rng() as usize % chunks.len()];
                f[e - 1 - rng() as usize % 4] ^= 1 << (rng() % 8);
            }
            _ => f = move_or_copy(&f, &chunks, &mut rng),
        }
    }
    f
}

/// `f` with one of its `parts` (segments, chunks) moved before another, or copied there.
fn move_or_copy(f: &[u8], parts: &[(usize, usize)], rng: &mut impl FnMut() -> u64) -> Vec<u8> {
    if parts.len() < 2 {
        return f.to_vec();
    }
    let (s, e) = parts[rng() as usize % parts.len()];
    let (to, _) = parts[rng() as usize % parts.len()];
    let keep = rng().is_multiple_of(3);
    let mut out = Vec::with_capacity(f.len() + e - s);
    for (i, b) in f.iter().enumerate() {
        if i == to {
            out.extend_from_slice(&f[s..e]);
        }
        if keep || !(s..e).contains(&i) {
            out.push(*b);
        }
    }
    out
}

/// One structural change in the TIFF-structured `block` (see [`mutate_structure`]).
fn mutate_tiff(block: &mut [u8], rng: &mut impl FnMut() -> u64) {
    let Ok(layout) = Layout::walk(block) else {
        return;
    };
    let le = block.starts_with(b"II");
    let (tables, entries) = layout.tables_and_entries();
    let targets: Vec<usize> = layout.spans.iter().map(|s| s.at).collect();
    let put16 = |b: &mut [u8], at: usize, v: u16| {
        let bytes = if le { v.to_le_bytes() } else { v.to_be_bytes() };
        if let Some(d) = b.get_mut(at..at + 2) {
            d.copy_from_slice(&bytes);
        }
    };
    let put32 = |b: &mut [u8], at: usize, v: u32| {
        let bytes = if le { v.to_le_bytes() } else { v.to_be_bytes() };
        if let Some(d) = b.get_mut(at..at + 4) {
            d.copy_from_slice(&bytes);
        }
    };
    let pick = |rng: &mut dyn FnMut() -> u64, v: &[u32]| v[rng() as usize % v.len()];
    let len = block.len() as u32;
    match (rng() % 6, entries.is_empty()) {
        (0, false) => {
            let e = entries[rng() as usize % entries.len()];
            let typ = pick(
                rng,
                &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xFFFF],
            );
            put16(block, e + 2, typ as u16);
        }
        (1, false) => {
            let e = entries[rng() as usize % entries.len()];
            let count = pick(rng, &[0, 1, 2, 3, 4, 5, 8, 20, 0x7FFF_FFFF, u32::MAX]);
            put32(block, e + 4, count);
        }
        (2, false) => {
            let e = entries[rng() as usize % entries.len()];
            let near = targets
                .get(rng() as usize % targets.len().max(1))
                .map_or(0, |t| *t as u32 + (rng() % 4) as u32 * 2);
            let off = pick(
                rng,
                &[near, near, near, 0, 8, len, len - len % 2, u32::MAX - 3],
            );
            put32(block, e + 8, off);
        }
        (3, false) => {
            let e = entries[rng() as usize % entries.len()];
            let tags = [
                POINTER_TAGS[0],
                POINTER_TAGS[1],
                POINTER_TAGS[2],
                0x9003,
                0x0001,
                0x0201,
            ];
            let tag = tags[rng() as usize % tags.len()];
            put16(block, e, tag);
        }
        (4, _) if !tables.is_empty() => {
            let t = tables[rng() as usize % tables.len()];
            let n = u16::from_le_bytes([block[t], block[t + 1]]);
            let n = if le { n } else { n.swap_bytes() };
            let new = pick(
                rng,
                &[0, 1, n as u32 + 1, n.saturating_sub(1) as u32, 0xFFFF],
            );
            put16(block, t, new as u16);
        }
        _ if !tables.is_empty() => {
            let t = tables[rng() as usize % tables.len()];
            let n = u16::from_le_bytes([block[t], block[t + 1]]);
            let n = if le { n } else { n.swap_bytes() } as usize;
            let other = tables[rng() as usize % tables.len()] as u32;
            put32(block, t + 2 + 12 * n, pick(rng, &[other, 0, len]));
        }
        _ => {}
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
        name_date: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The issue 26 hostile files and real files of each format, each as many structure-aware
    /// mutants: the writers keep their properties ([`writers`]) on all.
    #[test]
    fn structure_aware_mutants_keep_the_writers_properties() {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut seeds: Vec<Vec<u8>> = crate::metadata::hostile::all()
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        for name in ["camera.jpg", "screenshot.png", "sticker.webp", "scan.tif"] {
            seeds.push(crate::metadata::fixture(name));
        }
        for name in [
            "2008-06-17-01-21-30_2008-06-17-01-21-30a.jpg",
            "has-lens-info.jpg",
        ] {
            seeds.push(std::fs::read(format!("{root}/fixtures/cameras/{name}")).unwrap());
        }
        let mut changed = 0;
        for (i, seed) in seeds.iter().enumerate() {
            for k in 0..150u64 {
                let m = mutate_structure(seed, (i as u64) << 32 | k);
                changed += usize::from(m != *seed);
                let mut data = ((i as u64) << 32 | k).to_le_bytes().to_vec();
                data.extend_from_slice(seed);
                let r = std::panic::catch_unwind(|| writers_structured(&data));
                assert!(r.is_ok(), "seed {i}, mutant {k}");
            }
        }
        assert!(changed > seeds.len() * 100, "{changed} mutants differ");
    }

    /// The mutator reaches what the review built by hand: a PNG's eXIf moved after IDAT, a
    /// JPEG's segments reordered, an entry's type changed.
    #[test]
    fn the_mutator_reaches_the_structures() {
        let png = crate::metadata::hostile::damaged_gama();
        let jpg = crate::metadata::fixture("camera.jpg");
        let tiff = crate::metadata::fixture("scan.tif");
        let (mut png_moved, mut jpg_moved, mut types) = (false, false, false);
        for k in 0..300 {
            let p = mutate_structure(&png, k);
            png_moved |= p.len() == png.len() && p != png && png_chunks(&p).len() == 5;
            let j = mutate_structure(&jpg, k);
            jpg_moved |= j.len() == jpg.len() && j[2..4] != jpg[2..4];
            let t = mutate_structure(&tiff, k);
            types |= t.len() == tiff.len() && t != tiff;
        }
        assert!(png_moved && jpg_moved && types);
    }
}
