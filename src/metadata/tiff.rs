//! TIFF files: the file IS a TIFF-structured block, so the same in-place editor that edits a
//! JPEG's EXIF edits the file itself. Nothing the file holds moves: rewritten IFDs and new
//! values are appended at the end of the file and the pointers to them patched (the IFD0
//! offset in the header, the ExifIFD/GPS entries), so strips, tiles and every other offset
//! stay valid. XMP (tag 700 in IFD0) takes what EXIF cannot (an offset in an old ExifVersion).
//!
//! The file is held in memory, up to `MAX_TIFF` (the IFDs can sit anywhere, often after the
//! image data); larger ones are copied unchanged and get an XMP sidecar. BigTIFF and RAW
//! formats built on TIFF (DNG, CR2, NEF…) are never rewritten.

use std::io::{self, Read, Write};

use super::exif_block::{self, ImageFacts};
use super::{Tags, TimeZoneChoice, Written};

const MAX_TIFF: u64 = 128 * 1024 * 1024;

/// IFD0 tags that mark a RAW file (DNGVersion) rather than an image TIFF.
const DNG_VERSION: u16 = 0xC612;

/// Copies a TIFF from `src` to `dst`, adding the EXIF tags of `tags` that are missing.
pub fn rewrite(
    src: &mut (impl Read + ?Sized),
    dst: &mut (impl Write + ?Sized),
    tags: &Tags,
    zone: &TimeZoneChoice,
) -> io::Result<Written> {
    super::rewrite_whole(src, dst, MAX_TIFF, "TIFF", |buf, w| {
        edit(buf, tags, zone, w).map_err(|r| format!("EXIF not written: {r}"))
    })
}

fn edit(
    buf: &[u8],
    tags: &Tags,
    zone: &TimeZoneChoice,
    w: &mut Written,
) -> Result<Option<Vec<u8>>, String> {
    match buf.get(..4) {
        Some(b"II*\0") | Some(b"MM\0*") => {}
        Some(b"II+\0") | Some(b"MM\0+") => return Err("BigTIFF is not rewritten".into()),
        _ => return Err("not a TIFF structure we understand, copied unchanged".into()),
    }
    // Canon CR2 marks itself after the header.
    if buf.get(8..10) == Some(b"CR") {
        return Err("a RAW file (CR2) is never rewritten".into());
    }
    if is_dng(buf) {
        return Err("a RAW file (DNG) is never rewritten".into());
    }
    let facts = ImageFacts {
        tiff_file: true,
        ..ImageFacts::default()
    };
    let edit = exif_block::plan(Some(buf), &facts, tags, zone, w)?;
    // XMP that could not go into IFD0 (the file has its own packet) goes to the sidecar.
    exif_block::xmp_outcome(&edit, false, w);
    Ok(edit.tiff)
}

/// True when IFD0 has a DNGVersion tag.
fn is_dng(buf: &[u8]) -> bool {
    let le = buf.starts_with(b"II");
    let u16_at = |at: usize| {
        let b = buf.get(at..at.checked_add(2)?)?;
        Some(if le {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    };
    let Some(off) = buf.get(4..8).map(|b| {
        let b = [b[0], b[1], b[2], b[3]];
        (if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }) as usize
    }) else {
        return false;
    };
    let n = u16_at(off).unwrap_or(0) as usize;
    (0..n).any(|i| u16_at(off + 2 + 12 * i) == Some(DNG_VERSION))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2×2 RGB uncompressed TIFF (big- or little-endian) with only the baseline tags.
    pub(crate) fn tiny_tiff(le: bool) -> Vec<u8> {
        let u16b = |v: u16| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        let u32b = |v: u32| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        let mut b = Vec::new();
        b.extend_from_slice(if le { b"II*\0" } else { b"MM\0*" });
        b.extend_from_slice(&u32b(20));
        // Pixels at 8..20, then IFD0 at 20.
        b.extend_from_slice(&[255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9]);
        let entries: [(u16, u16, u32, u32); 8] = [
            (0x100, 3, 1, 2),
            (0x101, 3, 1, 2),
            (0x102, 3, 1, 8),
            (0x103, 3, 1, 1),
            (0x106, 3, 1, 2),
            (0x111, 4, 1, 8),
            (0x115, 3, 1, 3),
            (0x117, 4, 1, 12),
        ];
        b.extend_from_slice(&u16b(entries.len() as u16));
        for (tag, typ, count, v) in entries {
            b.extend_from_slice(&u16b(tag));
            b.extend_from_slice(&u16b(typ));
            b.extend_from_slice(&u32b(count));
            if typ == 3 {
                b.extend_from_slice(&u16b(v as u16));
                b.extend_from_slice(&[0, 0]);
            } else {
                b.extend_from_slice(&u32b(v));
            }
        }
        b.extend_from_slice(&u32b(0));
        b
    }

    fn tags() -> Tags {
        crate::metadata::paris_tags(None)
    }

    #[test]
    fn tiff_gets_exif_and_gps_appended_with_pixels_in_place() {
        let zone = TimeZoneChoice::parse("Europe/Paris").unwrap();
        for le in [true, false] {
            let src = tiny_tiff(le);
            let mut out = Vec::new();
            let w = rewrite(&mut &src[..], &mut out, &tags(), &zone).unwrap();
            assert!(w.changed, "{:?}", w.notes);
            assert_eq!(out[8..src.len()], src[8..], "nothing of the file moved");
            let e = exif::Reader::new().read_raw(out.clone()).expect("readable");
            let f = e
                .get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
                .unwrap();
            assert_eq!(f.display_value().to_string(), "2019-07-04 17:10:12");
            assert!(e
                .get_field(exif::Tag::OffsetTimeOriginal, exif::In::PRIMARY)
                .is_some());
            assert!(e
                .get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
                .is_some());
            // No JPEG-only tags in a TIFF.
            assert!(e
                .get_field(exif::Tag::ComponentsConfiguration, exif::In::PRIMARY)
                .is_none());
            let mut again = Vec::new();
            let w = rewrite(&mut &out[..], &mut again, &tags(), &zone).unwrap();
            assert!(!w.changed);
            assert_eq!(again, out);
        }
    }

    #[test]
    fn raw_bigtiff_and_garbage_are_copied_unchanged() {
        let zone = TimeZoneChoice::parse("UTC").unwrap();
        let mut cr2 = tiny_tiff(true);
        cr2[8] = b'C';
        cr2[9] = b'R';
        let mut dng = tiny_tiff(true);
        // Turn the last IFD0 entry (StripByteCounts) into a DNGVersion tag.
        let at = 20 + 2 + 12 * 7;
        dng[at..at + 2].copy_from_slice(&DNG_VERSION.to_le_bytes());
        let bigtiff = b"II+\0\x08\0\0\0\0\0\0\0\0\0\0\0".to_vec();
        let mut bad_ifd = tiny_tiff(false);
        bad_ifd[4..8].copy_from_slice(&0xFFFF_FFF0u32.to_be_bytes());
        let mut short = tiny_tiff(true);
        short.truncate(30);
        for (src, why) in [
            (cr2, "CR2"),
            (dng, "DNG"),
            (bigtiff, "BigTIFF"),
            (bad_ifd, "cannot be"),
            (short, "cannot be"),
            (b"not a tiff".to_vec(), "not a TIFF"),
        ] {
            let mut out = Vec::new();
            let w = rewrite(&mut &src[..], &mut out, &tags(), &zone).unwrap();
            assert!(!w.changed, "{why}");
            assert_eq!(out, src);
            assert!(w.incomplete);
            assert!(
                w.notes.iter().any(|n| n.contains(why)),
                "{why}: {:?}",
                w.notes
            );
        }
    }
}
