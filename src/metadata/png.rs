//! PNG: EXIF in a standard `eXIf` chunk.
//!
//! Hand-written (a few lines) because the EXIF crates that write PNG (little_exif) put EXIF
//! into a non-standard `zTXt` "Raw profile type exif" chunk, which kamadak-exif cannot read
//! and exiftool warns about; the standard place is an `eXIf` chunk.
//!
//! The whole file (up to `MAX_PNG`) is held in memory: an `eXIf` chunk may come after the
//! image data, and the one a file has must be found before anything is written (PNG allows
//! one). That chunk is edited where it is; a file without one gets it before the first
//! `IDAT`. Every other chunk is copied byte for byte with its own CRC, so a chunk damaged in
//! transit stays one decoders skip. Before the result is used, [`proven`] checks it against
//! the file chunk by chunk.

use std::io::{self, Read, Write};

use super::exif_block::{self, ImageFacts, EXIF_PREFIX};
use super::{xmp, Tags, TimeZoneChoice, Written};

const SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";
/// The keyword (with its NUL) of the `iTXt` chunk that holds XMP.
const XMP_KEYWORD: &[u8] = b"XML:com.adobe.xmp\0";
/// Larger files are copied unchanged (and get an XMP sidecar).
const MAX_PNG: u64 = 64 * 1024 * 1024;

/// A chunk of the file: its type and where its parts are.
#[derive(Debug, Clone, Copy)]
struct Chunk {
    kind: [u8; 4],
    /// Its length field.
    start: usize,
    /// Its data.
    data: usize,
    len: usize,
    /// Past its CRC.
    end: usize,
}

impl Chunk {
    fn data<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.data..self.data + self.len]
    }

    fn crc_ok(&self, buf: &[u8]) -> bool {
        crc32fast::hash(&buf[self.start + 4..self.data + self.len]).to_be_bytes()[..]
            == buf[self.data + self.len..self.end]
    }
}

/// The chunks of `buf` up to and including `IEND` (or the end of the file, when it ends
/// between two chunks); `None` when it is not a PNG or a chunk runs past the end.
fn chunks(buf: &[u8]) -> Option<Vec<Chunk>> {
    if !buf.starts_with(SIGNATURE) {
        return None;
    }
    let mut out = Vec::new();
    let mut pos = SIGNATURE.len();
    while pos < buf.len() {
        let len = u32::from_be_bytes(buf.get(pos..pos + 4)?.try_into().ok()?) as usize;
        let kind: [u8; 4] = buf.get(pos + 4..pos + 8)?.try_into().ok()?;
        let end = (pos + 12).checked_add(len).filter(|e| *e <= buf.len())?;
        out.push(Chunk {
            kind,
            start: pos,
            data: pos + 8,
            len,
            end,
        });
        pos = end;
        if &kind == b"IEND" {
            break;
        }
    }
    Some(out)
}

/// Whether `trailer` (what follows IEND) holds an `eXIf` chunk among the chunks it starts
/// with.
fn exif_after_end(mut trailer: &[u8]) -> bool {
    while let (Some(len), Some(kind)) = (trailer.get(..4), trailer.get(4..8)) {
        if kind == b"eXIf" {
            return true;
        }
        let len = u32::from_be_bytes(len.try_into().expect("4")) as usize;
        match len.checked_add(12).and_then(|n| trailer.get(n..)) {
            Some(rest) => trailer = rest,
            None => break,
        }
    }
    false
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
    super::rewrite_whole(src, dst, MAX_PNG, "PNG", |buf, w| {
        edit(buf, tags, zone, w).map_err(|r| format!("EXIF not written: {r}"))
    })
}

/// The PNG in `buf` with its `eXIf` chunk edited or added (and an XMP `iTXt` chunk where
/// EXIF cannot hold a value); `Ok(None)` when nothing is missing.
fn edit(
    buf: &[u8],
    tags: &Tags,
    zone: &TimeZoneChoice,
    w: &mut Written,
) -> Result<Option<Vec<u8>>, String> {
    const NOT_UNDERSTOOD: &str = "not a PNG structure we understand, copied unchanged";
    let cs = chunks(buf).ok_or(NOT_UNDERSTOOD)?;
    let first_idat = cs
        .iter()
        .position(|c| &c.kind == b"IDAT")
        .ok_or(NOT_UNDERSTOOD)?;
    let ihdr = cs
        .first()
        .filter(|c| &c.kind == b"IHDR" && c.len >= 8)
        .ok_or(NOT_UNDERSTOOD)?;
    let be32 = |b: &[u8]| u32::from_be_bytes(b[..4].try_into().expect("4"));
    let d = ihdr.data(buf);
    let dimensions = Some((be32(&d[0..4]), be32(&d[4..8])));
    let density = cs
        .iter()
        .find(|c| &c.kind == b"pHYs" && c.len >= 9 && c.crc_ok(buf))
        .and_then(|c| {
            // Pixels per metre → pixels per centimetre (EXIF unit 3).
            let d = c.data(buf);
            let (x, y) = (be32(&d[0..4]), be32(&d[4..8]));
            (d[8] == 1 && x >= 100 && y >= 100).then_some((3, x / 100, y / 100))
        });
    // Readers also find an eXIf in chunks after IEND: never add a second one.
    let tail = cs.last().map_or(SIGNATURE.len(), |c| c.end);
    if exif_after_end(&buf[tail..]) {
        return Err("the file has EXIF after its end, left untouched".into());
    }
    let mut exifs = cs.iter().enumerate().filter(|(_, c)| &c.kind == b"eXIf");
    let existing = exifs.next();
    if exifs.next().is_some() {
        return Err("the file has two EXIF chunks (PNG allows one), left untouched".into());
    }
    if existing.is_some_and(|(_, c)| !c.crc_ok(buf)) {
        return Err(
            "the file's EXIF chunk is damaged (its checksum is wrong), left untouched".into(),
        );
    }
    // Some writers keep the JPEG-style prefix inside eXIf: tolerate it.
    let tiff = existing.map(|(_, c)| {
        let d = c.data(buf);
        d.strip_prefix(EXIF_PREFIX).unwrap_or(d)
    });
    let facts = ImageFacts {
        dimensions,
        density,
        ..ImageFacts::default()
    };
    let edit = exif_block::plan(tiff, &facts, tags, zone, w)?;
    let has_xmp = cs
        .iter()
        .any(|c| &c.kind == b"iTXt" && c.data(buf).starts_with(XMP_KEYWORD));
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
    let existing = existing.map(|(i, _)| i);
    let mut out = Vec::with_capacity(buf.len() + 0x1_0000);
    out.extend_from_slice(SIGNATURE);
    for (i, c) in cs.iter().enumerate() {
        if i == first_idat {
            if existing.is_none() {
                out.extend_from_slice(new_exif.as_deref().unwrap_or_default());
            }
            out.extend_from_slice(xmp_chunk.as_deref().unwrap_or_default());
        }
        match &new_exif {
            Some(e) if Some(i) == existing => out.extend_from_slice(e),
            _ => out.extend_from_slice(&buf[c.start..c.end]),
        }
    }
    out.extend_from_slice(&buf[tail..]);
    proven(buf, &out, new_exif.as_deref(), xmp_chunk.as_deref())?;
    Ok(Some(out))
}

/// The proof that `new` is `old` with only its `eXIf` chunk replaced or added (`exif`, when
/// it changed) and an XMP chunk added (`xmp`): read again from both files, every other chunk
/// is byte-identical (CRC included) and in the same order, nothing follows `IEND` that did
/// not, and the new file has one `eXIf` chunk at most. See `exif_proof` for why edits are
/// proven.
fn proven(old: &[u8], new: &[u8], exif: Option<&[u8]>, xmp: Option<&[u8]>) -> Result<(), String> {
    let damaged = |what: &str| Err(format!("the edited file would {what}"));
    let (Some(a), Some(b)) = (chunks(old), chunks(new)) else {
        return damaged("not be a PNG we read back");
    };
    let mut added: Vec<&[u8]> = exif.into_iter().chain(xmp).collect();
    let mut kept = Vec::new();
    for c in &b {
        let bytes = &new[c.start..c.end];
        match added.iter().position(|x| *x == bytes) {
            Some(k) => {
                added.remove(k);
            }
            None => kept.push(bytes),
        }
    }
    let before: Vec<&[u8]> = a
        .iter()
        .filter(|c| exif.is_none() || &c.kind != b"eXIf")
        .map(|c| &old[c.start..c.end])
        .collect();
    if !added.is_empty() || kept != before {
        return damaged("change a chunk it does not edit");
    }
    if b.iter().filter(|c| &c.kind == b"eXIf").count() > 1 {
        return damaged("have two EXIF chunks");
    }
    let tail = |cs: &[Chunk]| cs.last().map_or(SIGNATURE.len(), |c| c.end);
    if old[tail(&a)..] != new[tail(&b)..] {
        return damaged("change what follows the image");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::fixture;
    use crate::metadata::hostile::{self, with_chunk};
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

    /// Issue 26, 6: a chunk damaged in transit (its CRC wrong) is copied as it is, so that
    /// decoders keep skipping it. FAILS before: every chunk before IDAT got a fresh CRC.
    #[test]
    fn chunks_not_edited_keep_their_bytes_and_crc() {
        let zone = TimeZoneChoice::parse("Asia/Tokyo").unwrap();
        let src = hostile::damaged_gama();
        let gama = &src[33..33 + 16];
        let mut out = Vec::new();
        let w = rewrite(&mut &src[..], &mut out, &tags(), &zone).unwrap();
        assert!(w.changed, "{:?}", w.notes);
        assert!(
            out.windows(16).any(|x| x == gama),
            "the damaged gAMA is kept"
        );
        assert_eq!(&out[..33 + 16], &src[..33 + 16]);
    }

    /// Issue 26, 7: a PNG with its `eXIf` after the image data. FAILS before: it was not
    /// seen, a second `eXIf` went before IDAT and its date replaced the camera's.
    #[test]
    fn an_exif_chunk_after_the_image_data_is_the_one_edited() {
        let zone = TimeZoneChoice::parse("Europe/Paris").unwrap();
        let camera = crate::metadata::camera_tiff("media/camera.jpg");
        let src = hostile::exif_after_idat();
        let tags = Tags {
            taken: Some(1_262_347_200),
            keep_camera_dates: true,
            ..crate::metadata::paris_tags(None)
        };
        let mut out = Vec::new();
        let w = rewrite(&mut &src[..], &mut out, &tags, &zone).unwrap();
        assert!(w.changed, "{:?}", w.notes);
        let chunks = parse(&out);
        let kinds: Vec<&[u8; 4]> = chunks.iter().map(|c| &c.0).collect();
        assert_eq!(kinds, [b"IHDR", b"PLTE", b"IDAT", b"eXIf", b"IEND"]);
        let exif = exif::Reader::new()
            .read_from_container(&mut std::io::Cursor::new(&out))
            .unwrap();
        let f = exif
            .get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
            .unwrap();
        assert_eq!(f.display_value().to_string(), "2019-07-04 17:10:12");
        assert!(exif
            .get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
            .is_some());
        // Two eXIf chunks: neither is chosen, the file is copied.
        let two = with_chunk(&src, b"IDAT", b"eXIf", &camera, true);
        let mut out = Vec::new();
        let w = rewrite(&mut &two[..], &mut out, &tags, &zone).unwrap();
        assert!(!w.changed && w.incomplete, "{:?}", w.notes);
        assert_eq!(out, two);
        // An eXIf after IEND (readers find it): no second one.
        let after = [&fixture("screenshot.png")[..], &with_chunk_bytes(&camera)].concat();
        let mut out = Vec::new();
        let w = rewrite(&mut &after[..], &mut out, &tags, &zone).unwrap();
        assert!(!w.changed && w.incomplete, "{:?}", w.notes);
        assert_eq!(out, after);
        // A damaged eXIf is not made valid.
        let bad = with_chunk(&fixture("screenshot.png"), b"IEND", b"eXIf", &camera, false);
        let mut out = Vec::new();
        let w = rewrite(&mut &bad[..], &mut out, &tags, &zone).unwrap();
        assert!(!w.changed && w.incomplete, "{:?}", w.notes);
        assert_eq!(out, bad);
    }

    fn with_chunk_bytes(tiff: &[u8]) -> Vec<u8> {
        chunk_bytes(b"eXIf", tiff)
    }

    /// The proof refuses every change but the edited chunks.
    #[test]
    fn the_proof_catches_any_other_change() {
        let src = fixture("screenshot.png");
        let exif = chunk_bytes(b"eXIf", b"MM\0*\0\0\0\0");
        let xmp = chunk_bytes(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0<x/>");
        let good = [&src[..189], &exif[..], &xmp[..], &src[189..]].concat();
        proven(&src, &good, Some(&exif), Some(&xmp)).unwrap();
        let mut recrc = good.clone();
        recrc[33 + 12 + 144 - 1] ^= 1; // PLTE's CRC
        let swapped = [&src[..33], &src[189..320], &src[33..189], &src[320..]].concat();
        let dropped = [&src[..33], &src[189..]].concat();
        let two = [&good[..189], &exif[..], &good[189..]].concat();
        let tail = [&good[..], b"x"].concat();
        for (what, bad, x) in [
            ("CRC", recrc, Some(&xmp[..])),
            ("order", swapped, None),
            ("dropped", dropped, None),
            ("two eXIf", two, Some(&xmp[..])),
            ("trailing", tail, Some(&xmp[..])),
            ("xmp missing", good.clone(), None),
        ] {
            let e = if what == "order" || what == "dropped" {
                None
            } else {
                Some(&exif[..])
            };
            assert!(proven(&src, &bad, e, x).is_err(), "{what}");
        }
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
