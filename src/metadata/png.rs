//! PNG: EXIF in a standard `eXIf` chunk before the first `IDAT`.
//!
//! Hand-written (a few lines) because the EXIF crates that write PNG (little_exif) put EXIF
//! into a non-standard `zTXt` "Raw profile type exif" chunk, which kamadak-exif cannot read
//! and exiftool warns about; the standard place is an `eXIf` chunk.
//! Only the chunks before the image data are held in memory; the image data is streamed.

use std::io::{self, Read, Write};

use super::exif_block::{self, ImageFacts, EXIF_PREFIX};
use super::{xmp, Tags, TimeZoneChoice, Written};

const SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";
/// The keyword (with its NUL) of the `iTXt` chunk that holds XMP.
const XMP_KEYWORD: &[u8] = b"XML:com.adobe.xmp\0";
/// Header chunks larger than this in total are not parsed (the file is copied unchanged).
const MAX_HEADER: usize = 16 * 1024 * 1024;

/// A chunk read into memory: its type and data.
struct Chunk {
    kind: [u8; 4],
    data: Vec<u8>,
}

fn chunk_bytes(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + data.len());
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
    out
}

/// Copies a PNG from `src` to `dst`, adding the EXIF tags of `tags` that are missing.
pub fn rewrite(
    src: &mut (impl Read + ?Sized),
    dst: &mut (impl Write + ?Sized),
    tags: &Tags,
    zone: &TimeZoneChoice,
) -> io::Result<Written> {
    let mut w = Written::default();
    // Everything read so far, written back unchanged if the structure is not understood.
    let mut raw = Vec::with_capacity(64 * 1024);
    src.take(8).read_to_end(&mut raw)?;
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut ok = raw[..] == SIGNATURE[..];
    let mut first_idat: Option<[u8; 8]> = None;
    while ok {
        let start = raw.len();
        src.take(8).read_to_end(&mut raw)?;
        if raw.len() < start + 8 {
            ok = false;
            break;
        }
        let len = u32::from_be_bytes(raw[start..start + 4].try_into().expect("4")) as usize;
        let kind: [u8; 4] = raw[start + 4..start + 8].try_into().expect("4");
        if &kind == b"IDAT" {
            first_idat = Some(raw[start..start + 8].try_into().expect("8"));
            raw.truncate(start);
            break;
        }
        // A length near u32::MAX must not wrap (on 32-bit targets usize is u32).
        if raw
            .len()
            .checked_add(len)
            .and_then(|n| n.checked_add(4))
            .is_none_or(|n| n > MAX_HEADER)
        {
            ok = false;
            break;
        }
        src.take(len as u64 + 4).read_to_end(&mut raw)?;
        if raw.len() < start + 12 + len {
            ok = false;
            break;
        }
        chunks.push(Chunk {
            kind,
            data: raw[start + 8..start + 8 + len].to_vec(),
        });
    }
    let new_head = match (ok, &first_idat) {
        (true, Some(_)) => match new_header(&chunks, tags, zone, &mut w) {
            Ok(h) => h,
            Err(reason) => {
                w.notes.push(format!("EXIF not written: {reason}"));
                w.written_date = None;
                w.incomplete = true;
                None
            }
        },
        _ => {
            w.notes
                .push("not a PNG structure we understand: copied unchanged".into());
            w.incomplete = true;
            None
        }
    };
    match new_head {
        Some(h) => {
            dst.write_all(&h)?;
            w.changed = true;
        }
        None => dst.write_all(&raw)?,
    }
    if let Some(idat) = first_idat {
        dst.write_all(&idat)?;
    }
    io::copy(src, dst)?;
    Ok(w)
}

/// Signature and header chunks with an `eXIf` chunk added or replaced; `None` when nothing
/// is missing.
fn new_header(
    chunks: &[Chunk],
    tags: &Tags,
    zone: &TimeZoneChoice,
    w: &mut Written,
) -> Result<Option<Vec<u8>>, String> {
    let ihdr = chunks
        .first()
        .filter(|c| &c.kind == b"IHDR" && c.data.len() >= 8);
    let dimensions = ihdr.map(|c| {
        let w = u32::from_be_bytes(c.data[0..4].try_into().expect("4"));
        let h = u32::from_be_bytes(c.data[4..8].try_into().expect("4"));
        (w, h)
    });
    let density = chunks
        .iter()
        .find(|c| &c.kind == b"pHYs" && c.data.len() >= 9)
        .and_then(|c| {
            // Pixels per metre → pixels per centimetre (EXIF unit 3).
            let x = u32::from_be_bytes(c.data[0..4].try_into().expect("4"));
            let y = u32::from_be_bytes(c.data[4..8].try_into().expect("4"));
            (c.data[8] == 1 && x >= 100 && y >= 100).then_some((3, x / 100, y / 100))
        });
    let existing = chunks.iter().position(|c| &c.kind == b"eXIf");
    // Some writers keep the JPEG-style prefix inside eXIf: tolerate it.
    let tiff = existing.map(|i| {
        let d = &chunks[i].data[..];
        d.strip_prefix(EXIF_PREFIX).unwrap_or(d)
    });
    let facts = ImageFacts {
        dimensions,
        density,
        ..ImageFacts::default()
    };
    let edit = exif_block::plan(tiff, &facts, tags, zone, w)?;
    let has_xmp = chunks
        .iter()
        .any(|c| &c.kind == b"iTXt" && c.data.starts_with(XMP_KEYWORD));
    let xmp_chunk = match &edit.xmp {
        Some((data, _)) if !has_xmp => xmp::packet(data).map(|p| {
            // Keyword, no compression, empty language and translated keyword, the packet.
            let mut d = XMP_KEYWORD.to_vec();
            d.extend_from_slice(&[0, 0, 0, 0]);
            d.extend_from_slice(p.as_bytes());
            chunk_bytes(b"iTXt", &d)
        }),
        _ => None,
    };
    exif_block::xmp_outcome(&edit, xmp_chunk.is_some(), w);
    if edit.tiff.is_none() && xmp_chunk.is_none() {
        return Ok(None);
    }
    let new_exif = edit.tiff.as_ref().map(|b| chunk_bytes(b"eXIf", b));
    let mut out = SIGNATURE.to_vec();
    for (i, c) in chunks.iter().enumerate() {
        match &new_exif {
            Some(e) if Some(i) == existing => out.extend_from_slice(e),
            _ => out.extend_from_slice(&chunk_bytes(&c.kind, &c.data)),
        }
    }
    if existing.is_none() {
        out.extend_from_slice(new_exif.as_deref().unwrap_or_default());
    }
    out.extend_from_slice(&xmp_chunk.unwrap_or_default());
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::fixture;
    use crate::metadata::Geo;

    fn tags() -> Tags {
        Tags {
            taken: Some(1588500672),
            geo: Some(Geo {
                lat: 35.6586,
                lon: 139.7454,
                alt: None,
            }),
            ..Tags::default()
        }
    }

    /// (type, data) of every chunk, checking each CRC.
    fn parse(png: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
        assert_eq!(&png[..8], SIGNATURE);
        let mut pos = 8;
        let mut out = Vec::new();
        while pos < png.len() {
            let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
            let kind: [u8; 4] = png[pos + 4..pos + 8].try_into().unwrap();
            let data = png[pos + 8..pos + 8 + len].to_vec();
            let crc = u32::from_be_bytes(png[pos + 8 + len..pos + 12 + len].try_into().unwrap());
            assert_eq!(
                crc,
                crc32fast::hash(&[&kind[..], &data].concat()),
                "CRC of {kind:?}"
            );
            out.push((kind, data));
            pos += 12 + len;
        }
        out
    }

    #[test]
    fn adds_an_exif_chunk_before_the_image_data() {
        let src = fixture("screenshot.png");
        let zone = TimeZoneChoice::parse("Asia/Tokyo").unwrap();
        let mut out = Vec::new();
        let w = rewrite(&mut &src[..], &mut out, &tags(), &zone).unwrap();
        assert!(w.changed, "{:?}", w.notes);
        let chunks = parse(&out);
        let exif_at = chunks.iter().position(|c| &c.0 == b"eXIf").unwrap();
        let idat_at = chunks.iter().position(|c| &c.0 == b"IDAT").unwrap();
        assert!(exif_at < idat_at);
        // Every original chunk is still there, unchanged and in order.
        let without: Vec<_> = chunks.iter().filter(|c| &c.0 != b"eXIf").cloned().collect();
        assert_eq!(without, parse(&src));
        let exif = exif::Reader::new()
            .read_from_container(&mut std::io::Cursor::new(&out))
            .unwrap();
        let f = exif
            .get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
            .unwrap();
        assert_eq!(f.display_value().to_string(), "2020-05-03 19:11:12");
        // A second pass finds nothing missing.
        let mut again = Vec::new();
        let w = rewrite(&mut &out[..], &mut again, &tags(), &zone).unwrap();
        assert!(!w.changed);
        assert_eq!(again, out);
    }

    #[test]
    fn huge_chunk_lengths_are_copied_unchanged() {
        let zone = TimeZoneChoice::parse("UTC").unwrap();
        let src = fixture("screenshot.png");
        for len in [u32::MAX, u32::MAX - 3, 0x8000_0000] {
            let mut bad = src.clone();
            // The first chunk after IHDR gets an absurd length.
            bad[33..37].copy_from_slice(&len.to_be_bytes());
            let mut out = Vec::new();
            let w = rewrite(&mut &bad[..], &mut out, &tags(), &zone).unwrap();
            assert!(!w.changed);
            assert_eq!(out, bad);
        }
    }

    #[test]
    fn odd_input_is_copied_unchanged() {
        let zone = TimeZoneChoice::parse("UTC").unwrap();
        let src = fixture("screenshot.png");
        for part in [&src[..5], &src[..20], &src[..40], &b"not a png at all"[..]] {
            let mut out = Vec::new();
            let w = rewrite(&mut &part[..], &mut out, &tags(), &zone).unwrap();
            assert!(!w.changed);
            assert_eq!(out, part);
        }
    }
}
