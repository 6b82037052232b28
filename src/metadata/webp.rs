//! WebP: EXIF in the RIFF container's `EXIF` chunk.
//!
//! Hand-written because little_exif cannot add EXIF to a lossy (`VP8 `) WebP held in memory
//! (its in-memory writer fails with "conversion not yet implemented"). A simple WebP (one `VP8 ` or `VP8L` chunk) becomes an extended
//! one: a `VP8X` header chunk with the EXIF flag and the canvas size goes first, the image
//! chunk stays as it is, the `EXIF` chunk goes after the image data (before `XMP `, as the
//! container spec orders them). WebP files are small: a whole file up to `MAX_WEBP` is held in
//! memory and its structure checked before anything is changed.

use std::io::{self, Read, Write};

use super::exif_block::{self, ImageFacts, EXIF_PREFIX};
use super::{xmp, Tags, TimeZoneChoice, Written};

const MAX_WEBP: u64 = 64 * 1024 * 1024;
const FLAG_EXIF: u8 = 0x08;
const FLAG_XMP: u8 = 0x04;
const FLAG_ALPHA: u8 = 0x10;

/// A chunk of the RIFF container: its FourCC and where its payload is in the file.
#[derive(Debug, Clone, Copy)]
struct Chunk {
    kind: [u8; 4],
    start: usize,
    data: usize,
    len: usize,
    /// End including the padding byte.
    end: usize,
}

/// The chunks of a well-formed WebP file, or `None`.
fn chunks(buf: &[u8]) -> Option<Vec<Chunk>> {
    if buf.len() < 12 || &buf[0..4] != b"RIFF" || &buf[8..12] != b"WEBP" {
        return None;
    }
    let riff = u32::from_le_bytes(buf[4..8].try_into().ok()?) as usize;
    if riff.checked_add(8)? != buf.len() {
        return None;
    }
    let mut out = Vec::new();
    let mut pos = 12;
    while pos < buf.len() {
        if pos + 8 > buf.len() {
            return None;
        }
        let kind: [u8; 4] = buf[pos..pos + 4].try_into().ok()?;
        let len = u32::from_le_bytes(buf[pos + 4..pos + 8].try_into().ok()?) as usize;
        let end = (pos + 8).checked_add(len)?.checked_add(len & 1)?;
        if end > buf.len() {
            return None;
        }
        out.push(Chunk {
            kind,
            start: pos,
            data: pos + 8,
            len,
            end,
        });
        pos = end;
    }
    (!out.is_empty()).then_some(out)
}

/// Canvas size and alpha of a simple WebP's image chunk.
fn simple_image_facts(buf: &[u8], c: Chunk) -> Option<(u32, u32, bool)> {
    let d = &buf[c.data..c.data + c.len];
    match &c.kind {
        b"VP8 " if d.len() >= 10 && d[3..6] == [0x9d, 0x01, 0x2a] => {
            let w = u16::from_le_bytes([d[6], d[7]]) as u32 & 0x3fff;
            let h = u16::from_le_bytes([d[8], d[9]]) as u32 & 0x3fff;
            // A zero size is not an image (and would underflow the VP8X canvas size).
            (w > 0 && h > 0).then_some((w, h, false))
        }
        b"VP8L" if d.len() >= 5 && d[0] == 0x2f => {
            let bits = u32::from_le_bytes([d[1], d[2], d[3], d[4]]);
            Some((
                (bits & 0x3fff) + 1,
                ((bits >> 14) & 0x3fff) + 1,
                bits >> 28 & 1 == 1,
            ))
        }
        _ => None,
    }
}

fn chunk_bytes(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + data.len());
    out.extend_from_slice(kind);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    out
}

/// Copies a WebP from `src` to `dst`, adding the EXIF tags of `tags` that are missing.
pub fn rewrite(
    src: &mut (impl Read + ?Sized),
    dst: &mut (impl Write + ?Sized),
    tags: &Tags,
    zone: &TimeZoneChoice,
) -> io::Result<Written> {
    super::rewrite_whole(src, dst, MAX_WEBP, "WebP", |buf, w| {
        edit(buf, tags, zone, w).map_err(|r| format!("EXIF not written: {r}"))
    })
}

/// The WebP in `buf` with the missing EXIF tags (and XMP, where EXIF cannot hold a value)
/// added; `Ok(None)` when nothing is missing.
fn edit(
    buf: &[u8],
    tags: &Tags,
    zone: &TimeZoneChoice,
    w: &mut Written,
) -> Result<Option<Vec<u8>>, String> {
    let cs = chunks(buf).ok_or("not a WebP structure we understand, copied unchanged")?;
    let (width, height, alpha) = canvas(buf, &cs)?;
    let exif_chunk = cs.iter().find(|c| &c.kind == b"EXIF").copied();
    let tiff = exif_chunk.map(|c| {
        let d = &buf[c.data..c.data + c.len];
        d.strip_prefix(EXIF_PREFIX).unwrap_or(d)
    });
    let facts = ImageFacts {
        dimensions: Some((width, height)),
        ..ImageFacts::default()
    };
    let edit = exif_block::plan(tiff, &facts, tags, zone, w)?;
    let has_xmp = cs.iter().any(|c| &c.kind == b"XMP ");
    let new_xmp = match &edit.xmp {
        Some((data, _)) if !has_xmp => {
            xmp::packet(data).map(|p| chunk_bytes(b"XMP ", p.as_bytes()))
        }
        _ => None,
    };
    exif_block::xmp_outcome(&edit, new_xmp.is_some(), w);
    if edit.tiff.is_none() && new_xmp.is_none() {
        return Ok(None);
    }
    // The container's order: VP8X, image data, EXIF, XMP (other chunks keep their places).
    let new_exif = edit.tiff.as_ref().map(|b| chunk_bytes(b"EXIF", b));
    let mut meta = new_exif.clone().unwrap_or_default();
    meta.extend_from_slice(new_xmp.as_deref().unwrap_or_default());
    let flags = if new_exif.is_some() { FLAG_EXIF } else { 0 }
        | if new_xmp.is_some() { FLAG_XMP } else { 0 };
    let body = if &cs[0].kind == b"VP8X" {
        extended_body(buf, &cs, flags, &meta, new_exif.is_some())
    } else {
        let flags = flags | if alpha { FLAG_ALPHA } else { 0 };
        simple_body(buf, cs[0], flags, (width, height), &meta)
    };
    let riff = u32::try_from(body.len() + 4).map_err(|_| "file too large")?;
    let mut out = Vec::with_capacity(body.len() + 12);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&riff.to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(&body);
    Ok(Some(out))
}

/// Width, height and whether it has alpha (of a simple WebP: the extended header keeps its
/// own flag), from the first chunk.
fn canvas(buf: &[u8], cs: &[Chunk]) -> Result<(u32, u32, bool), String> {
    let first = cs[0];
    if &first.kind == b"VP8X" {
        if first.len < 10 {
            return Err("malformed VP8X chunk".into());
        }
        let d = &buf[first.data..first.data + 10];
        let w24 = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], 0]) + 1;
        return Ok((w24(&d[4..7]), w24(&d[7..10]), false));
    }
    if cs.len() != 1 {
        return Err("unexpected chunks in a simple WebP".into());
    }
    simple_image_facts(buf, first).ok_or_else(|| "unknown WebP image chunk".to_string())
}

/// The chunks of an extended WebP with `flags` set in its header and the new `meta` chunks
/// in place: replacing the EXIF chunk when `new_exif`, else after the EXIF chunk or before
/// the XMP one, else at the end.
fn extended_body(buf: &[u8], cs: &[Chunk], flags: u8, meta: &[u8], new_exif: bool) -> Vec<u8> {
    let mut body = Vec::with_capacity(buf.len() + meta.len() + 18);
    let mut vp8x = buf[cs[0].start..cs[0].end].to_vec();
    vp8x[8] |= flags;
    body.extend_from_slice(&vp8x);
    let mut placed = false;
    for c in &cs[1..] {
        match &c.kind {
            b"EXIF" if new_exif => {
                body.extend_from_slice(meta);
                placed = true;
            }
            b"EXIF" if !placed => {
                body.extend_from_slice(&buf[c.start..c.end]);
                body.extend_from_slice(meta);
                placed = true;
            }
            b"XMP " if !placed => {
                body.extend_from_slice(meta);
                placed = true;
                body.extend_from_slice(&buf[c.start..c.end]);
            }
            _ => body.extend_from_slice(&buf[c.start..c.end]),
        }
    }
    if !placed {
        body.extend_from_slice(meta);
    }
    body
}

/// A simple WebP's `image` chunk made extended: a new VP8X header with `flags` and the
/// canvas size, the image, then the `meta` chunks.
fn simple_body(
    buf: &[u8],
    image: Chunk,
    flags: u8,
    (width, height): (u32, u32),
    meta: &[u8],
) -> Vec<u8> {
    let mut body = Vec::with_capacity(buf.len() + meta.len() + 18);
    let mut vp8x = [0u8; 10];
    vp8x[0] = flags;
    let (w1, h1) = (width - 1, height - 1);
    vp8x[4..7].copy_from_slice(&w1.to_le_bytes()[..3]);
    vp8x[7..10].copy_from_slice(&h1.to_le_bytes()[..3]);
    body.extend_from_slice(&chunk_bytes(b"VP8X", &vp8x));
    body.extend_from_slice(&buf[image.start..image.end]);
    body.extend_from_slice(meta);
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::fixture;
    use crate::metadata::Geo;

    fn tags() -> Tags {
        Tags {
            taken: Some(1590000000),
            geo: Some(Geo {
                lat: -33.8688,
                lon: 151.2093,
                alt: None,
            }),
            ..Tags::default()
        }
    }

    #[test]
    fn lossy_webp_becomes_extended_with_exif() {
        let src = fixture("sticker.webp");
        let zone = TimeZoneChoice::parse("Australia/Sydney").unwrap();
        let mut out = Vec::new();
        let w = rewrite(&mut &src[..], &mut out, &tags(), &zone).unwrap();
        assert!(w.changed, "{:?}", w.notes);
        let cs = chunks(&out).expect("well-formed output");
        let kinds: Vec<&[u8; 4]> = cs.iter().map(|c| &c.kind).collect();
        assert_eq!(kinds, [b"VP8X", b"VP8 ", b"EXIF"]);
        assert_eq!(out[cs[0].data], FLAG_EXIF);
        // Canvas 48×48 stored as width-1, height-1.
        assert_eq!(&out[cs[0].data + 4..cs[0].data + 10], &[47, 0, 0, 47, 0, 0]);
        // The image chunk is byte-identical.
        let orig = chunks(&src).unwrap()[0];
        assert_eq!(out[cs[1].start..cs[1].end], src[orig.start..orig.end]);
        let exif = exif::Reader::new()
            .read_from_container(&mut std::io::Cursor::new(&out))
            .unwrap();
        let f = exif
            .get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
            .unwrap();
        assert_eq!(f.display_value().to_string(), "2020-05-21 04:40:00");
        let mut again = Vec::new();
        let w = rewrite(&mut &out[..], &mut again, &tags(), &zone).unwrap();
        assert!(!w.changed, "{:?}", w.notes);
        assert_eq!(again, out);
    }

    /// A simple lossy WebP whose `VP8 ` frame header says `width`×`height`.
    fn vp8_with_size(width: u16, height: u16) -> Vec<u8> {
        let mut src = fixture("sticker.webp");
        let c = chunks(&src).unwrap()[0];
        src[c.data + 6..c.data + 8].copy_from_slice(&width.to_le_bytes());
        src[c.data + 8..c.data + 10].copy_from_slice(&height.to_le_bytes());
        src
    }

    #[test]
    fn zero_sizes_and_huge_lengths_are_refused_without_panic() {
        let zone = TimeZoneChoice::parse("UTC").unwrap();
        for src in [vp8_with_size(0, 48), vp8_with_size(48, 0)] {
            let mut out = Vec::new();
            let w = rewrite(&mut &src[..], &mut out, &tags(), &zone).unwrap();
            assert!(!w.changed);
            assert_eq!(out, src);
            assert!(
                w.notes[0].contains("unknown WebP image chunk"),
                "{:?}",
                w.notes
            );
        }
        // A RIFF size or chunk length near u32::MAX.
        let mut src = fixture("sticker.webp");
        src[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(chunks(&src).is_none());
        let mut src = fixture("sticker.webp");
        src[16..20].copy_from_slice(&(u32::MAX - 1).to_le_bytes());
        assert!(chunks(&src).is_none());
        let mut out = Vec::new();
        let w = rewrite(&mut &src[..], &mut out, &tags(), &zone).unwrap();
        assert!(!w.changed);
        assert_eq!(out, src);
    }

    #[test]
    fn malformed_webp_is_copied_unchanged() {
        let zone = TimeZoneChoice::parse("UTC").unwrap();
        let src = fixture("sticker.webp");
        let mut bad_size = src.clone();
        bad_size[4] ^= 0x10;
        for part in [&src[..10], &src[..50], &bad_size[..], &b"RIFF"[..]] {
            let mut out = Vec::new();
            let w = rewrite(&mut &part[..], &mut out, &tags(), &zone).unwrap();
            assert!(!w.changed);
            assert_eq!(out, part);
        }
    }
}
