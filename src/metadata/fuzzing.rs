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
