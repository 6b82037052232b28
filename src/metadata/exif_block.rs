//! EXIF blocks, whatever the container: reading what a file already has (kamadak-exif, an
//! independent reader) and encoding a block with the tags that are missing (little_exif).
//! The JPEG, PNG and WebP writers only differ in where the block goes.

use little_exif::exif_tag::ExifTag;
use little_exif::filetype::FileExtension;
use little_exif::metadata::Metadata;
use little_exif::rational::uR64;

use super::time::{parse_exif_datetime, parse_offset};
use super::{dms, Tags, TimeZoneChoice, Written};

/// What precedes the TIFF block in a JPEG APP1 segment (and may in a WebP EXIF chunk).
pub(super) const EXIF_PREFIX: &[u8] = b"Exif\0\0";

/// What the container tells about the image, for the tags EXIF requires.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ImageFacts {
    /// Width and height in pixels.
    pub dimensions: Option<(u32, u32)>,
    /// (EXIF resolution unit, x, y).
    pub density: Option<(u16, u32, u32)>,
}

/// A little_exif `Metadata` holding the EXIF (TIFF) block `tiff`. little_exif reads blocks
/// only from containers, so the block is wrapped in a minimal JPEG.
pub(super) fn load(tiff: &[u8]) -> Result<Metadata, String> {
    let len = u16::try_from(2 + EXIF_PREFIX.len() + tiff.len())
        .map_err(|_| "the EXIF block is too large".to_string())?;
    let mut mini = vec![0xFF, 0xD8, 0xFF, 0xE1];
    mini.extend_from_slice(&len.to_be_bytes());
    mini.extend_from_slice(EXIF_PREFIX);
    mini.extend_from_slice(tiff);
    mini.extend_from_slice(&[0xFF, 0xD9]);
    Metadata::new_from_vec(&mini, FileExtension::JPEG).map_err(|e| e.to_string())
}

/// A new EXIF (TIFF) block: the file's own block `existing_tiff` (kept whole) plus the tags of
/// `tags` it lacks. `Ok(None)` when nothing is missing; `Err` with a reason when the block
/// cannot be made safely (the caller then leaves the file's metadata alone).
pub(super) fn encode(
    existing_tiff: Option<&[u8]>,
    facts: &ImageFacts,
    tags: &Tags,
    zone: &TimeZoneChoice,
    written: &mut Written,
) -> Result<Option<Vec<u8>>, String> {
    let existing = match existing_tiff {
        Some(tiff) => Some(
            Existing::read(tiff)
                .map_err(|e| format!("the file's EXIF cannot be read ({e}), left untouched"))?,
        ),
        None => None,
    };
    let ex = existing.clone().unwrap_or_default();
    written.existing_date = ex.date_original.map(|d| (d, ex.offset_original));

    let write_date = tags.taken.is_some() && (ex.date_original.is_none() || tags.overwrite_dates);
    let write_gps = tags.geo.is_some() && !ex.has_gps;
    let write_description = tags.description.is_some() && !ex.has_description;
    if !write_date && !write_gps && !write_description {
        return Ok(None);
    }

    // little_exif re-encodes the whole block; it has panicked on odd input before, so a
    // panic here means "leave this file's metadata alone", never a lost photo.
    let encoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut md = match existing_tiff {
            Some(tiff) => {
                load(tiff).map_err(|e| format!("EXIF could not be decoded for rewriting ({e})"))?
            }
            None => Metadata::new(),
        };
        add_required_tags(&mut md, &ex, facts);
        let mut date = None;
        if write_date {
            let local = tags
                .taken
                .and_then(|t| zone.localize(t, tags.geo, ex.offset_original))
                .ok_or("date out of range")?;
            let stamp = local.format("%Y:%m:%d %H:%M:%S").to_string();
            let offset = local.format("%:z").to_string();
            md.set_tag(ExifTag::DateTimeOriginal(stamp.clone()));
            md.set_tag(ExifTag::OffsetTimeOriginal(offset.clone()));
            if !ex.has_create_date || tags.overwrite_dates {
                md.set_tag(ExifTag::CreateDate(stamp));
                md.set_tag(ExifTag::OffsetTimeDigitized(offset));
            }
            date = Some(local);
        }
        if write_gps {
            let g = tags.geo.expect("checked above");
            let r = |v: [(u32, u32); 3]| {
                v.iter()
                    .map(|(n, d)| uR64 {
                        nominator: *n,
                        denominator: *d,
                    })
                    .collect::<Vec<_>>()
            };
            md.set_tag(ExifTag::GPSVersionID(vec![2, 3, 0, 0]));
            md.set_tag(ExifTag::GPSLatitudeRef(
                if g.lat < 0.0 { "S" } else { "N" }.into(),
            ));
            md.set_tag(ExifTag::GPSLatitude(r(dms(g.lat))));
            md.set_tag(ExifTag::GPSLongitudeRef(
                if g.lon < 0.0 { "W" } else { "E" }.into(),
            ));
            md.set_tag(ExifTag::GPSLongitude(r(dms(g.lon))));
            if let Some(alt) = g.alt {
                md.set_tag(ExifTag::GPSAltitudeRef(vec![u8::from(alt < 0.0)]));
                let cm = (alt.abs() * 100.0).round() as u32;
                md.set_tag(ExifTag::GPSAltitude(vec![uR64 {
                    nominator: cm,
                    denominator: 100,
                }]));
            }
        }
        if write_description {
            md.set_tag(ExifTag::ImageDescription(
                tags.description.clone().unwrap_or_default(),
            ));
        }
        let tiff = md
            .encode()
            .map_err(|e| format!("EXIF could not be encoded ({e})"))?;
        Ok::<_, String>((tiff, date))
    }))
    .map_err(|_| "the EXIF library failed on this file".to_string())??;
    let (tiff, date) = encoded;

    // Check the block we made with the independent reader before using it.
    let check =
        Existing::read(&tiff).map_err(|e| format!("re-encoded EXIF is unreadable ({e})"))?;
    if write_date && check.date_original.is_none() || write_gps && !check.has_gps {
        return Err("re-encoded EXIF lost the new tags".into());
    }
    written.written_date = date;

    Ok(Some(tiff))
}

/// The tags EXIF 2.3 requires (as exiftool `-validate` checks them), with the
/// value gpbackup writes when a file lacks one. Only added when the block is re-encoded anyway.
fn add_required_tags(md: &mut Metadata, ex: &Existing, facts: &ImageFacts) {
    let missing = |t: exif::Tag| !ex.tags.contains(&t.number());
    let r = |n: u32| {
        vec![uR64 {
            nominator: n,
            denominator: 1,
        }]
    };
    if missing(exif::Tag::ExifVersion) {
        md.set_tag(ExifTag::ExifVersion(b"0232".to_vec()));
    }
    if missing(exif::Tag::ComponentsConfiguration) {
        md.set_tag(ExifTag::ComponentsConfiguration(vec![1, 2, 3, 0]));
    }
    if missing(exif::Tag::FlashpixVersion) {
        md.set_tag(ExifTag::FlashpixVersion(b"0100".to_vec()));
    }
    if missing(exif::Tag::ColorSpace) {
        md.set_tag(ExifTag::ColorSpace(vec![1]));
    }
    if let Some((w, hgt)) = facts.dimensions {
        if missing(exif::Tag::PixelXDimension) {
            md.set_tag(ExifTag::ExifImageWidth(vec![w]));
        }
        if missing(exif::Tag::PixelYDimension) {
            md.set_tag(ExifTag::ExifImageHeight(vec![hgt]));
        }
    }
    // The pixel density the JFIF header states, else the customary 72 dpi.
    let (unit, x, y) = facts.density.unwrap_or((2, 72, 72));
    if missing(exif::Tag::XResolution)
        || missing(exif::Tag::YResolution)
        || missing(exif::Tag::ResolutionUnit)
    {
        md.set_tag(ExifTag::XResolution(r(x)));
        md.set_tag(ExifTag::YResolution(r(y)));
        md.set_tag(ExifTag::ResolutionUnit(vec![unit]));
    }
    if missing(exif::Tag::YCbCrPositioning) {
        md.set_tag(ExifTag::YCbCrPositioning(vec![1]));
    }
}

/// What an EXIF block already holds, read with kamadak-exif (an independent reader).
#[derive(Debug, Clone, Default)]
pub(super) struct Existing {
    pub(super) date_original: Option<chrono::NaiveDateTime>,
    pub(super) offset_original: Option<chrono::FixedOffset>,
    pub(super) has_create_date: bool,
    pub(super) has_gps: bool,
    pub(super) has_description: bool,
    /// Numbers of the tags present in the primary image's IFDs.
    pub(super) tags: Vec<u16>,
}

pub(super) fn ascii(exif: &exif::Exif, tag: exif::Tag) -> Option<String> {
    let field = exif.get_field(tag, exif::In::PRIMARY)?;
    match &field.value {
        exif::Value::Ascii(v) => v.first().map(|b| String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

impl Existing {
    pub(super) fn read(tiff: &[u8]) -> Result<Existing, exif::Error> {
        let exif = exif::Reader::new().read_raw(tiff.to_vec())?;
        let has = |t| exif.get_field(t, exif::In::PRIMARY).is_some();
        Ok(Existing {
            date_original: ascii(&exif, exif::Tag::DateTimeOriginal)
                .and_then(|s| parse_exif_datetime(&s)),
            offset_original: ascii(&exif, exif::Tag::OffsetTimeOriginal)
                .and_then(|s| parse_offset(&s)),
            has_create_date: ascii(&exif, exif::Tag::DateTimeDigitized)
                .and_then(|s| parse_exif_datetime(&s))
                .is_some(),
            has_gps: has(exif::Tag::GPSLatitude) && has(exif::Tag::GPSLongitude),
            has_description: ascii(&exif, exif::Tag::ImageDescription)
                .is_some_and(|s| !s.trim().is_empty()),
            tags: exif
                .fields()
                .filter(|f| f.ifd_num == exif::In::PRIMARY)
                .map(|f| f.tag.number())
                .collect(),
        })
    }
}
