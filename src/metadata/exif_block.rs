//! EXIF blocks, whatever the container: reading what a file already has (kamadak-exif, an
//! independent reader), deciding which tags are missing and adding them with the in-place
//! editor (`exif_edit`), which never moves the camera's bytes. The JPEG, PNG, WebP and TIFF
//! writers only differ in where the block goes.

use super::exif_edit::{Dir, Editor, Val};
use super::exif_proof;
use super::time::{parse_exif_datetime, parse_offset};
use super::xmp::{packet, XmpData};
use super::{dms, Tags, TimeZoneChoice, Written};
use crate::metadata::Geo;

/// What precedes the TIFF block in a JPEG APP1 segment (and may in a WebP EXIF chunk).
pub(super) const EXIF_PREFIX: &[u8] = b"Exif\0\0";

/// What the container tells about the image, for the tags EXIF requires.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ImageFacts {
    /// Width and height in pixels.
    pub dimensions: Option<(u32, u32)>,
    /// (EXIF resolution unit, x, y).
    pub density: Option<(u16, u32, u32)>,
    /// The most bytes the container holds in its EXIF block (64 KB less headers in JPEG).
    pub max_len: Option<usize>,
    /// The block is a TIFF file itself: no JPEG-only required tags, XMP goes into IFD0.
    pub tiff_file: bool,
}

/// What [`plan`] decided for one file.
#[derive(Debug, Default)]
pub(super) struct Edit {
    /// The new EXIF block, when it changes.
    pub(super) tiff: Option<Vec<u8>>,
    /// Values that belong in XMP inside the file rather than EXIF, and why.
    pub(super) xmp: Option<(XmpData, String)>,
    /// The EXIF block could not take the new values at all (they are all in `xmp`).
    pub(super) overflow: bool,
}

/// A new EXIF (TIFF) block: the file's own block `existing_tiff` (kept byte-for-byte) plus
/// the tags of `tags` it lacks. `Ok(None)` when nothing is missing; `Err` with a reason when
/// the block cannot be edited safely (the caller then leaves the file's metadata alone).
/// Values EXIF cannot take here are left to the XMP sidecar (`written.incomplete`).
pub(super) fn encode(
    existing_tiff: Option<&[u8]>,
    facts: &ImageFacts,
    tags: &Tags,
    zone: &TimeZoneChoice,
    written: &mut Written,
) -> Result<Option<Vec<u8>>, String> {
    let edit = plan(existing_tiff, facts, tags, zone, written)?;
    xmp_outcome(&edit, false, written);
    Ok(edit.tiff)
}

/// Records in `w` what became of `edit.xmp`: `placed` when the container wrote it into the
/// file, else it goes to the XMP sidecar.
pub(super) fn xmp_outcome(edit: &Edit, placed: bool, w: &mut Written) {
    let Some((_, reason)) = &edit.xmp else {
        return;
    };
    if placed {
        w.notes
            .push(format!("{reason}: written to XMP in the file"));
        if edit.overflow {
            // Readers that ignore XMP would see nothing: the sidecar carries it too.
            w.incomplete = true;
        }
    } else {
        w.notes.push(format!("{reason}: left to the XMP sidecar"));
        w.incomplete = true;
    }
}

const IMAGE_DESCRIPTION: u16 = 0x010E;
const XMP_PACKET: u16 = 0x02BC;
const EXIF_VERSION: u16 = 0x9000;
const DATE_ORIGINAL: u16 = 0x9003;
const DATE_DIGITIZED: u16 = 0x9004;
const OFFSET_ORIGINAL: u16 = 0x9011;
const OFFSET_DIGITIZED: u16 = 0x9012;

/// Decides what to add to the file's EXIF (`existing_tiff`, or a new block) and makes the new
/// block with [`Editor`], which never moves the camera's bytes.
pub(super) fn plan(
    existing_tiff: Option<&[u8]>,
    facts: &ImageFacts,
    tags: &Tags,
    zone: &TimeZoneChoice,
    written: &mut Written,
) -> Result<Edit, String> {
    let before = existing_tiff.map(read_existing).transpose()?;
    let ex = before.as_ref().map(Existing::of).unwrap_or_default();
    written.existing_date = ex.date_original.map(|d| (d, ex.offset_original));
    let mut ed = open_editor(existing_tiff)?;
    let reconciled = match (tags.taken, ex.date_original) {
        (Some(t), Some(wall)) if !tags.keep_camera_dates => {
            Some(super::reconcile(wall, ex.offset_original, t))
        }
        _ => None,
    };
    let wanted = Wanted::decide(&ed, before.as_ref(), &ex, tags, reconciled);
    if !wanted.anything() {
        return Ok(Edit::default());
    }
    let version = exif_version(&ed);
    add_required_tags(&mut ed, facts);

    let mut xmp = XmpData::default();
    let mut xmp_reason = None;
    let date = if wanted.date {
        let local = tags
            .taken
            .and_then(|t| zone.localize(t, tags.geo, ex.offset_original))
            .ok_or("date out of range")?;
        if let Some(reason) = set_date(&mut ed, local, wanted.create_date, version) {
            xmp.taken = Some(local);
            xmp_reason = Some(reason);
        }
        if let (Some(camera), Some(super::Reconciled::Corrected)) = (ex.date_original, reconciled) {
            if !tags.overwrite_dates {
                written.camera_date = Some(camera);
                written.notes.push(format!(
                    "the date corrected in Google Photos ({}) replaces the camera's ({})",
                    local.format("%Y-%m-%d %H:%M:%S %:z"),
                    camera.format("%Y-%m-%d %H:%M:%S")
                ));
            }
        }
        Some(local)
    } else if let Some(off) = wanted.offset {
        // The camera's date stays; the offset the sidecar implies is added.
        let wall = ex
            .date_original
            .expect("an offset is only wanted for a date");
        let local = wall
            .and_local_timezone(off)
            .single()
            .ok_or("date out of range")?;
        if let Some(reason) = set_offset(&mut ed, off, ex.has_create_date, version) {
            xmp.taken = Some(local);
            xmp_reason = Some(reason);
        }
        written.existing_date = Some((wall, Some(off)));
        Some(local)
    } else {
        if wanted.name_date {
            let wall = tags.name_date.expect("checked above");
            set_wall_clock(&mut ed, wall, wanted.create_date);
            written.notes.push(format!(
                "the date in its name ({}, no time zone) is written as its date taken",
                wall.format("%Y-%m-%d %H:%M:%S")
            ));
        }
        None
    };
    if wanted.gps {
        let g = tags.geo.expect("checked above");
        if ex.has_gps {
            written.notes.push(format!(
                "the position moved in Google Photos ({:.6}, {:.6}) replaces the camera's",
                g.lat, g.lon
            ));
        }
        set_gps(&mut ed, g, facts.tiff_file);
    }
    if wanted.description {
        let text = tags.description.clone().unwrap_or_default();
        ed.set(Dir::Ifd0, IMAGE_DESCRIPTION, Val::Ascii(text));
        if let Some(p) = &ex.placeholder {
            written.notes.push(format!(
                "the camera's placeholder description \"{p}\" gave way to the caption"
            ));
        }
    }
    // A TIFF file holds XMP in IFD0 itself.
    let mut xmp_placed_note = None;
    if facts.tiff_file && xmp_reason.is_some() && place_xmp_in_ifd0(&mut ed, &xmp) {
        xmp_placed_note = xmp_reason.take();
    }
    let set_tags = ed.changed_tags();
    let intended = ed.intended();
    let tiff = match ed
        .finish()
        .map_err(|e| format!("EXIF could not be edited ({e})"))?
    {
        Some(tiff) => tiff,
        // Only what EXIF cannot hold here (an offset, for an old ExifVersion): XMP alone.
        None if xmp_reason.is_some() => {
            written.written_date = date;
            return Ok(Edit {
                tiff: None,
                xmp: xmp_reason.map(|r| (xmp, r)),
                overflow: false,
            });
        }
        None => return Err("nothing to write".into()),
    };
    if let Some(max) = facts.max_len.filter(|m| tiff.len() > *m) {
        written.written_date = date;
        return Ok(overflow(max, date, tags, &wanted));
    }
    check_edit(before.as_ref(), &tiff, &wanted, &set_tags)?;
    exif_proof::prove(existing_tiff, &tiff, &intended)?;
    if let Some(reason) = xmp_placed_note {
        written
            .notes
            .push(format!("{reason}: written to XMP in the file"));
    }
    written.written_date = date;
    Ok(Edit {
        tiff: Some(tiff),
        xmp: xmp_reason.map(|r| (xmp, r)),
        overflow: false,
    })
}

/// The file's own block read with kamadak-exif, or why it cannot be.
fn read_existing(tiff: &[u8]) -> Result<exif::Exif, String> {
    read(tiff).map_err(|e| format!("the file's EXIF cannot be read ({e}), left untouched"))
}

/// The in-place editor over the file's own block, or over a bare new one.
fn open_editor(existing_tiff: Option<&[u8]>) -> Result<Editor, String> {
    match existing_tiff {
        Some(tiff) => Editor::parse(tiff)
            .map_err(|e| format!("the file's EXIF cannot be edited safely ({e}), left untouched")),
        None => Ok(Editor::fresh()),
    }
}

/// Which of the sidecar's values the block lacks, so that [`plan`] writes them.
struct Wanted {
    date: bool,
    /// With `date` or `name_date`: DateTimeDigitized (and its offset) is written too.
    create_date: bool,
    /// Without a date to write: the date in the file's name, for a file without one.
    name_date: bool,
    /// Without `date`: the offset of the camera's date, which it lacks.
    offset: Option<chrono::FixedOffset>,
    gps: bool,
    description: bool,
}

impl Wanted {
    fn decide(
        ed: &Editor,
        before: Option<&exif::Exif>,
        ex: &Existing,
        tags: &Tags,
        reconciled: Option<super::Reconciled>,
    ) -> Wanted {
        // A tag kamadak-exif could not read (a partly broken block) but the block holds is not
        // "missing": it is left alone. (One it read as no valid date is replaced.)
        let unread = |dir: Dir, tag: exif::Tag| {
            ed.has(dir, tag.number())
                && before.is_none_or(|b| b.get_field(tag, exif::In::PRIMARY).is_none())
        };
        let has_date = ex.date_original.is_some() || unread(Dir::Exif, exif::Tag::DateTimeOriginal);
        let has_create_date = ex.has_create_date || unread(Dir::Exif, exif::Tag::DateTimeDigitized);
        let has_gps = ex.has_gps
            || unread(Dir::Gps, exif::Tag::GPSLatitude)
            || unread(Dir::Gps, exif::Tag::GPSLongitude);
        let corrected = reconciled == Some(super::Reconciled::Corrected);
        let date = tags.taken.is_some() && (!has_date || tags.overwrite_dates || corrected);
        Wanted {
            date,
            create_date: !has_create_date || tags.overwrite_dates,
            name_date: tags.taken.is_none() && tags.name_date.is_some() && !has_date,
            offset: match reconciled {
                Some(super::Reconciled::Offset(o)) if !date && ex.offset_original.is_none() => {
                    Some(o)
                }
                _ => None,
            },
            gps: tags.geo.is_some() && (!has_gps || tags.geo_moved),
            description: tags.description.is_some() && !ex.has_description,
        }
    }

    fn anything(&self) -> bool {
        self.date || self.name_date || self.offset.is_some() || self.gps || self.description
    }
}

/// The block's ExifVersion as a number (0232 → 232), when it has a readable one.
fn exif_version(ed: &Editor) -> Option<u32> {
    ed.value(Dir::Exif, EXIF_VERSION).and_then(|v| {
        std::str::from_utf8(v)
            .ok()?
            .trim_end_matches('\0')
            .parse::<u32>()
            .ok()
    })
}

/// Sets DateTimeOriginal (and DateTimeDigitized when `create`) to `local`, with their offsets
/// where the block's `version` has OffsetTime* tags. Returns why the offset is left to XMP
/// when it has not.
fn set_date(
    ed: &mut Editor,
    local: chrono::DateTime<chrono::FixedOffset>,
    create: bool,
    version: Option<u32>,
) -> Option<String> {
    // OffsetTime* exist from EXIF 2.31 on; a block without a version gets 0232.
    let offsets_allowed = version.is_none_or(|v| v >= 231);
    let offset = Val::Ascii(local.format("%:z").to_string());
    set_wall_clock(ed, local.naive_local(), create);
    // A tag the file already has (even against its version) is kept up to date.
    for (tag, wanted) in [(OFFSET_ORIGINAL, true), (OFFSET_DIGITIZED, create)] {
        if wanted && (offsets_allowed || ed.has(Dir::Exif, tag)) {
            ed.set(Dir::Exif, tag, offset.clone());
        }
    }
    (!offsets_allowed).then(|| {
        format!(
            "the file's ExifVersion {:04} has no time-zone tags, so the offset {}",
            version.unwrap_or(0),
            local.format("%:z")
        )
    })
}

/// Sets DateTimeOriginal (and DateTimeDigitized when `create`) to the wall clock `wall`.
fn set_wall_clock(ed: &mut Editor, wall: chrono::NaiveDateTime, create: bool) {
    let stamp = Val::Ascii(wall.format("%Y:%m:%d %H:%M:%S").to_string());
    ed.set(Dir::Exif, DATE_ORIGINAL, stamp.clone());
    if create {
        ed.set(Dir::Exif, DATE_DIGITIZED, stamp);
    }
}

/// Adds the offset of the date taken (and of the digitized date, when there is one) to a
/// block whose dates have none. Returns why it went to XMP instead, for a version without
/// time-zone tags.
fn set_offset(
    ed: &mut Editor,
    off: chrono::FixedOffset,
    digitized: bool,
    version: Option<u32>,
) -> Option<String> {
    let offsets_allowed = version.is_none_or(|v| v >= 231);
    if !offsets_allowed {
        return Some(format!(
            "the file's ExifVersion {:04} has no time-zone tags, so the offset {off}",
            version.unwrap_or(0)
        ));
    }
    let text = Val::Ascii(off.to_string());
    ed.set_missing(Dir::Exif, OFFSET_ORIGINAL, text.clone());
    if digitized {
        ed.set_missing(Dir::Exif, OFFSET_DIGITIZED, text);
    }
    None
}

/// Sets the GPS position (and the altitude, unless the block has one).
fn set_gps(ed: &mut Editor, g: Geo, tiff_file: bool) {
    let r = |v: [(u32, u32); 3]| Val::Rational(v.to_vec());
    // exiftool -validate requires the method in a TIFF's GPS IFD (EXIF 2.2+). The position
    // was not measured by the device at capture time: of the values allowed, MANUAL.
    if tiff_file && !ed.has(Dir::Gps, 0x0000) {
        let mut method = b"ASCII\0\0\0".to_vec();
        method.extend_from_slice(b"MANUAL");
        ed.set_missing(Dir::Gps, 0x001B, Val::Undefined(method));
    }
    ed.set_missing(Dir::Gps, 0x0000, Val::Byte(vec![2, 3, 0, 0]));
    let ns = if g.lat < 0.0 { "S" } else { "N" };
    let ew = if g.lon < 0.0 { "W" } else { "E" };
    ed.set(Dir::Gps, 0x0001, Val::Ascii(ns.into()));
    ed.set(Dir::Gps, 0x0002, r(dms(g.lat)));
    ed.set(Dir::Gps, 0x0003, Val::Ascii(ew.into()));
    ed.set(Dir::Gps, 0x0004, r(dms(g.lon)));
    if let Some(alt) = g.alt {
        if !ed.has(Dir::Gps, 0x0006) {
            let cm = (alt.abs() * 100.0).round() as u32;
            ed.set(Dir::Gps, 0x0005, Val::Byte(vec![u8::from(alt < 0.0)]));
            ed.set(Dir::Gps, 0x0006, Val::Rational(vec![(cm, 100)]));
        }
    }
}

/// Puts `xmp` into IFD0's XMP tag (a TIFF file's place for it) unless the block has one;
/// whether it did.
fn place_xmp_in_ifd0(ed: &mut Editor, xmp: &XmpData) -> bool {
    if ed.has(Dir::Ifd0, XMP_PACKET) {
        return false;
    }
    let Some(packet) = packet(xmp) else {
        return false;
    };
    ed.set(Dir::Ifd0, XMP_PACKET, Val::Byte(packet.into_bytes()));
    true
}

/// The edit when the grown block exceeds the `max` bytes the container holds: everything new
/// goes to XMP instead.
fn overflow(
    max: usize,
    date: Option<chrono::DateTime<chrono::FixedOffset>>,
    tags: &Tags,
    wanted: &Wanted,
) -> Edit {
    let reason = format!(
        "the EXIF block would exceed the {} bytes the file allows, so the new date, place and description",
        max
    );
    let data = XmpData {
        taken: date,
        geo: tags.geo.filter(|_| wanted.gps),
        description: tags.description.clone().filter(|_| wanted.description),
        ..XmpData::default()
    };
    Edit {
        tiff: None,
        xmp: Some((data, reason)),
        overflow: true,
    }
}

/// Checks the block we made with the independent reader before using it: the new tags are
/// there and every tag that was there (`before`) and not replaced (`set_tags`) reads back
/// the same.
fn check_edit(
    before: Option<&exif::Exif>,
    tiff: &[u8],
    wanted: &Wanted,
    set_tags: &[(Dir, u16)],
) -> Result<(), String> {
    let after = read(tiff).map_err(|e| format!("the edited EXIF is unreadable ({e})"))?;
    let check = Existing::of(&after);
    let dated = wanted.date || wanted.name_date;
    if dated && check.date_original.is_none() || wanted.gps && !check.has_gps {
        return Err("the edited EXIF lost the new tags".into());
    }
    let Some(before) = before else {
        return Ok(());
    };
    for f in before.fields() {
        let tag = f.tag.number();
        let dir = match f.tag.context() {
            exif::Context::Tiff => Dir::Ifd0,
            exif::Context::Exif => Dir::Exif,
            exif::Context::Gps => Dir::Gps,
            _ => Dir::Ifd0,
        };
        let replaced = f.ifd_num == exif::In::PRIMARY && set_tags.contains(&(dir, tag));
        if replaced || matches!(tag, 0x8769 | 0x8825) {
            continue;
        }
        let same = after
            .get_field(f.tag, f.ifd_num)
            .is_some_and(|g| same_value(&g.value, &f.value));
        if !same {
            return Err(format!("editing EXIF would change its {}", f.tag));
        }
    }
    Ok(())
}

/// Equal values; for UNDEFINED ones also at the same place in the block (a maker note), unless
/// they are small enough to sit inside their (possibly moved) entry.
/// (kamadak-exif's `Value` has no `PartialEq`; comparing their `Debug` texts was a twentieth
/// of a run of small photos.) Floats are compared bit for bit: the block is copied, not
/// recomputed.
fn same_value(a: &exif::Value, b: &exif::Value) -> bool {
    use exif::Value as V;
    /// Same length and each pair the same by `same`.
    fn all<T>(x: &[T], y: &[T], same: impl Fn(&T, &T) -> bool) -> bool {
        x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
    }
    match (a, b) {
        (V::Undefined(x, xo), V::Undefined(y, yo)) => x == y && (x.len() <= 4 || xo == yo),
        (V::Byte(x), V::Byte(y)) => x == y,
        (V::Ascii(x), V::Ascii(y)) => x == y,
        (V::Short(x), V::Short(y)) => x == y,
        (V::Long(x), V::Long(y)) => x == y,
        (V::Rational(x), V::Rational(y)) => all(x, y, |p, q| (p.num, p.denom) == (q.num, q.denom)),
        (V::SByte(x), V::SByte(y)) => x == y,
        (V::SShort(x), V::SShort(y)) => x == y,
        (V::SLong(x), V::SLong(y)) => x == y,
        (V::SRational(x), V::SRational(y)) => {
            all(x, y, |p, q| (p.num, p.denom) == (q.num, q.denom))
        }
        (V::Float(x), V::Float(y)) => all(x, y, |p, q| p.to_bits() == q.to_bits()),
        (V::Double(x), V::Double(y)) => all(x, y, |p, q| p.to_bits() == q.to_bits()),
        (V::Unknown(..), V::Unknown(..)) => format!("{a:?}") == format!("{b:?}"),
        _ => false,
    }
}

/// The tags EXIF requires in a JPEG (as exiftool `-validate` checks them), each added with
/// gpbackup's value when the file lacks it. A TIFF file gets those its ExifIFD requires (the
/// JPEG-only ones are not allowed there).
fn add_required_tags(ed: &mut Editor, facts: &ImageFacts) {
    ed.set_missing(Dir::Exif, EXIF_VERSION, Val::Undefined(b"0232".to_vec()));
    ed.set_missing(Dir::Exif, 0xA000, Val::Undefined(b"0100".to_vec()));
    ed.set_missing(Dir::Exif, 0xA001, Val::Short(vec![1]));
    if facts.tiff_file {
        return;
    }
    ed.set_missing(Dir::Exif, 0x9101, Val::Undefined(vec![1, 2, 3, 0]));
    if let Some((w, h)) = facts.dimensions {
        ed.set_missing(Dir::Exif, 0xA002, Val::Long(vec![w]));
        ed.set_missing(Dir::Exif, 0xA003, Val::Long(vec![h]));
    }
    // The pixel density the container states, else the customary 72 dpi.
    let (unit, x, y) = facts.density.unwrap_or((2, 72, 72));
    ed.set_missing(Dir::Ifd0, 0x011A, Val::Rational(vec![(x, 1)]));
    ed.set_missing(Dir::Ifd0, 0x011B, Val::Rational(vec![(y, 1)]));
    ed.set_missing(Dir::Ifd0, 0x0128, Val::Short(vec![unit]));
    ed.set_missing(Dir::Ifd0, 0x0213, Val::Short(vec![1]));
}

/// The fields kamadak-exif reads in `tiff`. Structural oddities it reports alongside what it
/// read (a camera's Exif IFD with a next-IFD pointer, a third IFD) are not errors here: the
/// editor copies what it does not touch byte-for-byte.
fn read(tiff: &[u8]) -> Result<exif::Exif, exif::Error> {
    exif::Reader::new()
        .continue_on_error(true)
        .read_raw(tiff.to_vec())
        .or_else(|e| e.distill_partial_result(|_| {}))
}

/// What an EXIF block already holds, read with kamadak-exif (an independent reader).
#[derive(Debug, Clone, Default)]
pub(super) struct Existing {
    pub(super) date_original: Option<chrono::NaiveDateTime>,
    pub(super) offset_original: Option<chrono::FixedOffset>,
    pub(super) has_create_date: bool,
    pub(super) has_gps: bool,
    pub(super) has_description: bool,
    /// The description is a camera's placeholder ([`is_placeholder`]), not a caption.
    pub(super) placeholder: Option<String>,
}

/// What cameras write in ImageDescription when nobody typed anything ("OLYMPUS DIGITAL
/// CAMERA", "SONY DSC", "My beautiful picture", the file's own name, …): not a caption, so a
/// sidecar's caption takes its place.
pub(super) fn is_placeholder(text: &str) -> bool {
    const PLACEHOLDERS: [&str; 13] = [
        "OLYMPUS DIGITAL CAMERA",
        "SONY DSC",
        "DIGITAL CAMERA",
        "KONICA MINOLTA DIGITAL CAMERA",
        "MINOLTA DIGITAL CAMERA",
        "SAMSUNG DIGITAL CAMERA",
        "KODAK DIGITAL STILL CAMERA",
        "LG DIGITAL CAMERA",
        "DIGITAL IMAGE",
        "DIGITAL STILLCAMERA",
        "MY BEAUTIFUL PICTURE",
        "EXIF_JPEG_PICTURE",
        "DCIM",
    ];
    let t = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    let lower = t.to_ascii_lowercase();
    let file_name = !t.contains(' ') && [".jpg", ".jpeg"].iter().any(|x| lower.ends_with(x));
    file_name || PLACEHOLDERS.iter().any(|p| t.eq_ignore_ascii_case(p))
}

pub(super) fn ascii(exif: &exif::Exif, tag: exif::Tag) -> Option<String> {
    let field = exif.get_field(tag, exif::In::PRIMARY)?;
    match &field.value {
        exif::Value::Ascii(v) => v.first().map(|b| String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

impl Existing {
    fn of(exif: &exif::Exif) -> Existing {
        let has = |t| exif.get_field(t, exif::In::PRIMARY).is_some();
        Existing {
            date_original: ascii(exif, exif::Tag::DateTimeOriginal)
                .and_then(|s| parse_exif_datetime(&s)),
            offset_original: ascii(exif, exif::Tag::OffsetTimeOriginal)
                .and_then(|s| parse_offset(&s)),
            has_create_date: ascii(exif, exif::Tag::DateTimeDigitized)
                .and_then(|s| parse_exif_datetime(&s))
                .is_some(),
            has_gps: has(exif::Tag::GPSLatitude) && has(exif::Tag::GPSLongitude),
            has_description: ascii(exif, exif::Tag::ImageDescription)
                .is_some_and(|s| !s.trim().is_empty() && !is_placeholder(&s)),
            placeholder: ascii(exif, exif::Tag::ImageDescription)
                .filter(|s| is_placeholder(s))
                .map(|s| s.trim().to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::camera_tiff;

    fn paris() -> TimeZoneChoice {
        TimeZoneChoice::parse("Europe/Paris").unwrap()
    }

    /// The block `plan` makes of `tiff` for `tags`, and what it noted.
    fn edited(tiff: &[u8], tags: &Tags) -> (Result<Option<Vec<u8>>, String>, Written) {
        let mut w = Written::default();
        let r = plan(Some(tiff), &ImageFacts::default(), tags, &paris(), &mut w).map(|e| e.tiff);
        (r, w)
    }

    fn chile(alt: f64) -> Tags {
        Tags {
            taken: Some(1_262_347_200),
            geo: Some(Geo {
                lat: -33.86,
                lon: -70.65,
                alt: Some(alt),
            }),
            keep_camera_dates: true,
            ..Tags::default()
        }
    }

    fn byte_of(e: &exif::Exif, tag: exif::Tag) -> Option<u8> {
        match &e.get_field(tag, exif::In::PRIMARY)?.value {
            exif::Value::Byte(v) => v.first().copied(),
            _ => None,
        }
    }

    /// Issue 26, 1: a GPS IFD holding the references but no coordinates. The references are
    /// inline values of an IFD that is rewritten (the coordinates are added): the new ones
    /// must be in the rewritten IFD. FAILS before: S/W written as N/E, below sea level as above.
    #[test]
    fn references_replaced_inline_survive_their_ifd_being_rewritten() {
        let hostile = crate::metadata::hostile::gps_refs_only();
        let (r, w) = edited(&hostile, &chile(-12.0));
        let out = r.unwrap().expect("the position is added");
        let e = read(&out).unwrap();
        assert_eq!(ascii(&e, exif::Tag::GPSLatitudeRef).as_deref(), Some("S"));
        assert_eq!(ascii(&e, exif::Tag::GPSLongitudeRef).as_deref(), Some("W"));
        assert_eq!(byte_of(&e, exif::Tag::GPSAltitudeRef), Some(1), "{w:?}");
        // The old GPS IFD keeps its bytes (only the GPS pointer to the new one changed).
        let changed: Vec<usize> = (0..hostile.len())
            .filter(|i| out[*i] != hostile[*i])
            .collect();
        let gps = Editor::parse(&hostile)
            .unwrap()
            .entry_at(Dir::Ifd0, 0x8825)
            .unwrap();
        assert!(
            changed.iter().all(|i| (gps + 8..gps + 12).contains(i)),
            "{changed:?}"
        );
    }

    /// Issue 26, 5: the Exif IFD pointer stored as SLONG (or SHORT), which exiftool follows.
    /// FAILS before: a new Exif IFD replaced the camera's (exposure, maker notes, its date).
    #[test]
    fn an_exif_pointer_of_another_integer_type_is_the_pointer() {
        for typ in [9u16, 3] {
            let hostile = crate::metadata::hostile::exif_pointer_as(typ);
            let (r, w) = edited(&hostile, &chile(10.0));
            let out = r.unwrap().expect("the position is added");
            let ed = Editor::parse(&out).unwrap();
            // The camera's Exif IFD is the one reached, with its date, exposure, maker note.
            for tag in [0x9003, 0x829A, 0x927C] {
                assert!(ed.has(Dir::Exif, tag), "{typ}: {tag:#x} lost: {w:?}");
            }
            assert_eq!(
                ed.value(Dir::Exif, 0x9003),
                Some(&b"2007:08:24 02:40:42\0"[..]),
                "{typ}"
            );
        }
    }

    /// Issue 26, 4: a value the edit replaces whose bytes are also the thumbnail's (or
    /// another tag's value). FAILS before: the date was patched into the thumbnail.
    #[test]
    fn a_value_sharing_its_bytes_is_never_patched_in_place() {
        let src = camera_tiff(crate::metadata::hostile::CANON);
        let tags = Tags {
            overwrite_dates: true,
            ..chile(10.0)
        };
        for into_make in [false, true] {
            let what = if into_make { "Make" } else { "thumbnail" };
            let hostile = crate::metadata::hostile::date_in_thumbnail(into_make);
            let dto = Editor::parse(&src)
                .unwrap()
                .entry_at(Dir::Exif, 0x9003)
                .unwrap();
            let target = u32::from_le_bytes(hostile[dto + 8..dto + 12].try_into().unwrap());
            let before = read(&hostile).unwrap();
            let (r, w) = edited(&hostile, &tags);
            let out = r.unwrap().expect("edited");
            let t = target as usize;
            assert_eq!(out[t..t + 20], hostile[t..t + 20], "{what}: {w:?}");
            let after = read(&out).unwrap();
            assert_eq!(
                ascii(&after, exif::Tag::DateTimeOriginal).as_deref(),
                Some("2010:01:01 13:00:00")
            );
            assert_eq!(
                ascii(&after, exif::Tag::Make),
                ascii(&before, exif::Tag::Make)
            );
        }
    }

    #[test]
    fn camera_placeholders_are_not_captions() {
        let table = [
            ("OLYMPUS DIGITAL CAMERA", true),
            ("OLYMPUS DIGITAL CAMERA         ", true),
            ("SONY DSC\0", true),
            ("My beautiful picture", true),
            ("Digital StillCamera", true),
            ("DCFC1247.JPG", true),
            ("IMG_0001.jpeg", true),
            ("Eiffel tower at dusk", false),
            ("OLYMPUS DIGITAL CAMERA at the beach", false),
            ("my holiday.jpg", false),
            ("", false),
        ];
        for (text, want) in table {
            assert_eq!(is_placeholder(text), want, "{text:?}");
        }
    }

    #[test]
    fn values_are_the_same_only_when_type_and_content_are() {
        use exif::{Rational, SRational, Value as V};
        let r = |num, denom| Rational { num, denom };
        let sr = |num, denom| SRational { num, denom };
        let pairs = [
            (V::Byte(vec![1, 2]), V::Byte(vec![1, 3])),
            (V::Ascii(vec![b"a".to_vec()]), V::Ascii(vec![b"b".to_vec()])),
            (V::Short(vec![1]), V::Short(vec![2])),
            (V::Long(vec![1]), V::Long(vec![2])),
            (V::Rational(vec![r(1, 2)]), V::Rational(vec![r(1, 3)])),
            (V::Rational(vec![r(1, 2)]), V::Rational(vec![r(2, 2)])),
            (
                V::Rational(vec![r(1, 2)]),
                V::Rational(vec![r(1, 2), r(1, 2)]),
            ),
            (V::SByte(vec![-1]), V::SByte(vec![1])),
            (V::SShort(vec![-1]), V::SShort(vec![1])),
            (V::SLong(vec![-1]), V::SLong(vec![1])),
            (V::SRational(vec![sr(-1, 2)]), V::SRational(vec![sr(-1, 3)])),
            (V::SRational(vec![sr(-1, 2)]), V::SRational(vec![sr(1, 2)])),
            (V::SRational(vec![sr(-1, 2)]), V::SRational(vec![])),
            (V::Float(vec![1.0]), V::Float(vec![-1.0])),
            (V::Float(vec![1.0]), V::Float(vec![1.0, 1.0])),
            (V::Double(vec![0.0]), V::Double(vec![-0.0])),
            (V::Double(vec![0.0]), V::Double(vec![])),
            (V::Unknown(7, 1, 8), V::Unknown(7, 2, 8)),
            (V::Short(vec![1]), V::Long(vec![1])),
            (V::Byte(vec![1]), V::Undefined(vec![1], 0)),
        ];
        for (a, b) in &pairs {
            assert!(same_value(a, &a.clone()), "{a:?}");
            assert!(same_value(b, &b.clone()), "{b:?}");
            assert!(!same_value(a, b), "{a:?} vs {b:?}");
            assert!(!same_value(b, a), "{b:?} vs {a:?}");
        }
        // The block is copied, not recomputed: a float reads back with the same bits, NaNs
        // included (a NaN of other bits was changed).
        let nan = f32::from_bits(0x7fc0_0001);
        assert!(same_value(&V::Float(vec![nan]), &V::Float(vec![nan])));
        assert!(!same_value(&V::Float(vec![nan]), &V::Float(vec![f32::NAN])));
        // A small UNDEFINED value sits inside its entry: it may move with it.
        // (length, offset, other's fill byte, other's offset, same?)
        for (len, at, fill, other_at, same) in [
            (4, 10, 1, 20, true),
            (5, 10, 1, 20, false),
            (5, 10, 1, 10, true),
            (5, 10, 2, 10, false),
        ] {
            let (a, b) = (
                V::Undefined(vec![1; len], at),
                V::Undefined(vec![fill; len], other_at),
            );
            assert_eq!(same_value(&a, &b), same, "{a:?} vs {b:?}");
        }
    }
}
