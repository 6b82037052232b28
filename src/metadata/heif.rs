//! HEIC / HEIF / AVIF: EXIF in the file's `Exif` item, through little_exif.
//!
//! Only files that already have an Exif item are updated (iPhone photos do): when little_exif
//! *creates* the item it attaches it to item 1, which in iPhone grid HEICs is a tile rather
//! than the primary image (`shared/crate-notes.md`). Files without EXIF keep their bytes and
//! get an XMP sidecar instead. little_exif needs the whole file in memory: HEICs are a few MB;
//! anything over `MAX_HEIF` is copied unchanged.

use std::io::{self, Read, Write};

use little_exif::filetype::FileExtension;

use super::exif_block::{self, ImageFacts};
use super::{Tags, TimeZoneChoice, Written};

const MAX_HEIF: u64 = 64 * 1024 * 1024;

/// Copies a HEIF-family image from `src` to `dst`, adding the EXIF tags of `tags` that its
/// existing EXIF lacks.
pub fn rewrite(
    src: &mut (impl Read + ?Sized),
    dst: &mut (impl Write + ?Sized),
    tags: &Tags,
    zone: &TimeZoneChoice,
) -> io::Result<Written> {
    super::rewrite_whole(src, dst, MAX_HEIF, "HEIF image", |buf, w| {
        edit(buf, tags, zone, w)
    })
}

fn edit(
    buf: &[u8],
    tags: &Tags,
    zone: &TimeZoneChoice,
    w: &mut Written,
) -> Result<Option<Vec<u8>>, String> {
    let existing = exif::Reader::new()
        .read_from_container(&mut io::Cursor::new(buf))
        .map_err(|_| "no EXIF in this HEIF image: metadata goes to the XMP sidecar".to_string())?;
    let Some(tiff) =
        exif_block::encode(Some(existing.buf()), &ImageFacts::default(), tags, zone, w)?
    else {
        return Ok(None);
    };
    // little_exif has panicked on odd containers: a panic means "leave the file alone".
    let out = std::panic::catch_unwind(|| -> Result<Vec<u8>, String> {
        let md = exif_block::load(&tiff)?;
        let mut out = buf.to_vec();
        md.write_to_vec(&mut out, FileExtension::HEIF)
            .map_err(|e| e.to_string())?;
        Ok(out)
    })
    .map_err(|_| "the EXIF library failed on this HEIF image".to_string())?
    .map_err(|e| format!("EXIF not written: {e}"))?;
    // Check the result with the independent reader before using it.
    let check = exif::Reader::new()
        .read_from_container(&mut io::Cursor::new(&out))
        .map_err(|e| format!("EXIF not written: the result is unreadable ({e})"))?;
    if tags.taken.is_some()
        && check
            .get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
            .is_none()
    {
        return Err("EXIF not written: the result lost the date".into());
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::fixture;
    use crate::sidecar::Geo;

    #[test]
    fn heic_without_exif_is_left_for_the_xmp_sidecar() {
        let src = fixture("iphone.heic");
        let tags = Tags {
            taken: Some(1562253012),
            ..Tags::default()
        };
        let mut out = Vec::new();
        let w = rewrite(
            &mut &src[..],
            &mut out,
            &tags,
            &TimeZoneChoice::parse("UTC").unwrap(),
        )
        .unwrap();
        assert!(!w.changed && w.incomplete, "{:?}", w.notes);
        assert_eq!(out, src);
    }

    #[test]
    fn heic_with_exif_gets_the_missing_tags() {
        // Give the fixture an Exif item first (as an iPhone would), through the same path.
        let src = fixture("iphone.heic");
        let mut seeded = src.clone();
        let mut md = little_exif::metadata::Metadata::new();
        md.set_tag(little_exif::exif_tag::ExifTag::Make("Apple".into()));
        md.write_to_vec(&mut seeded, FileExtension::HEIF).unwrap();
        let tags = Tags {
            taken: Some(1562253012),
            geo: Some(Geo {
                lat: 48.8583701,
                lon: 2.2944813,
                alt: None,
            }),
            ..Tags::default()
        };
        let mut out = Vec::new();
        let zone = TimeZoneChoice::parse("Europe/Paris").unwrap();
        let w = rewrite(&mut &seeded[..], &mut out, &tags, &zone).unwrap();
        assert!(w.changed, "{:?}", w.notes);
        let e = exif::Reader::new()
            .read_from_container(&mut io::Cursor::new(&out))
            .unwrap();
        let date = e
            .get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
            .unwrap();
        assert_eq!(date.display_value().to_string(), "2019-07-04 17:10:12");
        let make = e.get_field(exif::Tag::Make, exif::In::PRIMARY).unwrap();
        assert_eq!(make.display_value().to_string(), "\"Apple\"");
        assert!(e
            .get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
            .is_some());
    }
}
