//! Writing the date taken, position and description into the media files themselves.
//!
//! One writer per container format. Every writer streams: it reads the source once, writes the
//! output once, and on any metadata problem writes the source bytes unchanged and says why.

mod exif_block;
mod exif_edit;
pub(crate) mod exif_proof;
#[doc(hidden)]
pub mod fuzzing;
pub mod heif;
#[cfg(test)]
mod hostile;
pub mod isobmff;
pub mod jpeg;
pub mod media;
pub mod png;
pub mod tiff;
mod time;
pub mod webp;
pub mod xmp;

pub use time::{local_to_utc, reconcile, Reconciled, TimeZoneChoice};

use chrono::{DateTime, FixedOffset, NaiveDateTime};

use crate::metadata::media::MediaKind;

/// A position in degrees (WGS 84) and metres above sea level.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Geo {
    pub lat: f64,
    pub lon: f64,
    pub alt: Option<f64>,
}

/// What the sidecar says should be in the file.
#[derive(Debug, Clone, Default)]
pub struct Tags {
    /// Date taken, seconds since the epoch (UTC).
    pub taken: Option<i64>,
    pub geo: Option<Geo>,
    pub description: Option<String>,
    /// Replace a date the camera already wrote.
    pub overwrite_dates: bool,
    /// Keep the camera's date even when `taken` shows it was corrected in Google Photos (see
    /// [`reconcile`]); otherwise the corrected date replaces it, and a camera date without an
    /// offset gets the one `taken` implies.
    pub keep_camera_dates: bool,
    /// `geo` is where the photo was moved to in Google Photos: it replaces the camera's.
    pub geo_moved: bool,
    /// The date in the file's name (its wall clock: a name tells no zone), for a file without
    /// a sidecar: written as its `DateTimeOriginal`, without an offset, where the file has no
    /// date of its own and `taken` is `None`. Photos only: a video's times are UTC, which
    /// a wall clock of no zone cannot give.
    pub name_date: Option<NaiveDateTime>,
}

/// What a writer found in the file and did to it.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// Metadata was embedded (the output differs from the input in its metadata only).
    pub changed: bool,
    /// The file's own date taken, as found before writing (wall clock and its offset, if any).
    pub existing_date: Option<(NaiveDateTime, Option<FixedOffset>)>,
    /// The date written into the file, with its offset.
    pub written_date: Option<DateTime<FixedOffset>>,
    /// Why nothing (or not everything) could be embedded; the file is still written.
    pub notes: Vec<String>,
    /// Some of the metadata could not be embedded (an XMP sidecar should carry it).
    pub incomplete: bool,
    /// The camera's date taken, replaced by the date corrected in Google Photos.
    pub camera_date: Option<NaiveDateTime>,
}

/// Copies one media file of `kind` from `src` to `dst`, embedding `tags` where its format can
/// hold them (the one place that knows which writer serves which format). Formats without a
/// writer are copied byte-for-byte.
pub fn rewrite(
    kind: MediaKind,
    src: &mut (impl std::io::Read + ?Sized),
    dst: &mut (impl std::io::Write + ?Sized),
    tags: &Tags,
    tz: &TimeZoneChoice,
) -> std::io::Result<Written> {
    match kind {
        MediaKind::Jpeg => jpeg::rewrite(src, dst, tags, tz),
        MediaKind::IsoVideo => isobmff::rewrite(src, dst, tags, tz),
        MediaKind::Png => png::rewrite(src, dst, tags, tz),
        MediaKind::Webp => webp::rewrite(src, dst, tags, tz),
        MediaKind::Tiff => tiff::rewrite(src, dst, tags, tz),
        MediaKind::Heif | MediaKind::Avif => heif::rewrite(src, dst, tags, tz),
        _ => std::io::copy(src, dst).map(|_| Written::default()),
    }
}

/// Whether a file of `kind` holds the date and place once [`rewrite`] has embedded them (so
/// no XMP sidecar is needed for those; a caption is another matter: [`embeds_description`]).
pub fn embeds_fully(kind: MediaKind) -> bool {
    embeds_description(kind) || kind == MediaKind::IsoVideo
}

/// Whether [`rewrite`] embeds a description (a caption) into a file of `kind`: the formats
/// whose EXIF holds it. The QuickTime/MP4 writer writes dates and places only.
pub fn embeds_description(kind: MediaKind) -> bool {
    matches!(
        kind,
        MediaKind::Jpeg
            | MediaKind::Png
            | MediaKind::Webp
            | MediaKind::Tiff
            | MediaKind::Heif
            | MediaKind::Avif
    )
}

/// For formats edited whole in memory (WebP, HEIF, TIFF). Reads `src` (at most `max`
/// bytes are held) and writes what `edit` makes of it; the bytes unchanged when it changes
/// nothing, when it fails (its reason becomes a note), or when the file is larger than `max`.
pub(crate) fn rewrite_whole(
    src: &mut (impl std::io::Read + ?Sized),
    dst: &mut (impl std::io::Write + ?Sized),
    max: u64,
    what: &str,
    edit: impl FnOnce(&[u8], &mut Written) -> Result<Option<Vec<u8>>, String>,
) -> std::io::Result<Written> {
    use std::io::Read as _;
    let mut w = Written::default();
    let mut buf = Vec::new();
    src.take(max + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        w.notes
            .push(format!("{what} too large to rewrite: copied unchanged"));
        w.incomplete = true;
        dst.write_all(&buf)?;
        std::io::copy(src, dst)?;
        return Ok(w);
    }
    match edit(&buf, &mut w) {
        Ok(Some(out)) => {
            dst.write_all(&out)?;
            w.changed = true;
        }
        Ok(None) => dst.write_all(&buf)?,
        Err(reason) => {
            w.notes.push(reason);
            w.written_date = None;
            w.incomplete = true;
            dst.write_all(&buf)?;
        }
    }
    Ok(w)
}

/// The date and place the writers' unit tests embed: 2019-07-04 15:10:12 UTC at the Eiffel
/// tower, with or without an altitude.
#[cfg(test)]
pub(crate) fn paris_tags(alt: Option<f64>) -> Tags {
    Tags {
        taken: Some(1562253012),
        geo: Some(Geo {
            lat: 48.8583701,
            lon: 2.2944813,
            alt,
        }),
        ..Tags::default()
    }
}

/// The bytes of `fixtures/media/NAME`, for the writers' unit tests.
#[cfg(test)]
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/media/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The TIFF block of the Exif APP1 segment of a JPEG under `fixtures/` (`cameras/…` or
/// `media/…`), for the EXIF editor's unit tests.
#[cfg(test)]
pub(crate) fn camera_tiff(path: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    let jpg = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let at = jpg.windows(6).position(|w| w == b"Exif\0\0").unwrap();
    let len = u16::from_be_bytes([jpg[at - 2], jpg[at - 1]]) as usize;
    jpg[at + 6..at - 2 + len].to_vec()
}

/// GPS degrees as EXIF degrees/minutes/seconds rationals: (numerator, denominator) triples.
pub fn dms(value: f64) -> [(u32, u32); 3] {
    let v = value.abs();
    let mut deg = v.trunc();
    let mut min = ((v - deg) * 60.0).trunc();
    let mut sec_e4 = ((v - deg - min / 60.0) * 3600.0 * 10_000.0).round();
    if sec_e4 >= 600_000.0 {
        sec_e4 -= 600_000.0;
        min += 1.0;
    }
    if min >= 60.0 {
        min -= 60.0;
        deg += 1.0;
    }
    [(deg as u32, 1), (min as u32, 1), (sec_e4 as u32, 10_000)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dms_round_trips() {
        for v in [48.8583701, -2.2944813, 0.000001, 179.9999999, 35.689487] {
            let [d, m, s] = dms(v);
            let back = d.0 as f64 + m.0 as f64 / 60.0 + s.0 as f64 / s.1 as f64 / 3600.0;
            assert!((back - v.abs()).abs() < 1e-7, "{v} → {back}");
            assert!(m.0 < 60 && s.0 < 600_000);
        }
    }
}
