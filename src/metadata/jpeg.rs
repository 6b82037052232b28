//! JPEG: EXIF in the APP1 segment, rewritten while streaming.
//!
//! Only the header segments (everything before the first scan, usually a few KB) are held in
//! memory; the compressed image data is copied through unchanged in one pass. The EXIF block is
//! read with kamadak-exif to see what is already there; when a tag we would write is missing,
//! the in-place editor (`exif_edit`) appends it: every byte the camera wrote (maker notes,
//! thumbnail, sub-IFDs) stays at its offset in the block, and the EXIF segment stays where it
//! was in the file. Values EXIF cannot take go into an XMP APP1 segment right after it: the
//! time-zone offset when the file's ExifVersion predates 0231, or everything new when the
//! block would outgrow the 64 KB of an APP1 segment (then the XMP sidecar is written too).
//! A file whose EXIF cannot be read or edited safely keeps its bytes and gets the sidecar.

use std::io::{self, Read, Write};

use super::exif_block::{self, ImageFacts, EXIF_PREFIX};
use super::{xmp, Tags, TimeZoneChoice, Written};

/// Header segments larger than this in total are not parsed (the file is copied unchanged).
const MAX_HEADER: usize = 16 * 1024 * 1024;

/// A parsed JPEG header: `head` holds every byte read so far; `segments` index into it.
struct Header {
    head: Vec<u8>,
    /// (marker, start, end) of each segment after SOI, end exclusive.
    segments: Vec<(u8, usize, usize)>,
    /// Where the first scan (or EOI) starts in `head`; `None` when the structure was not
    /// understood, in which case `head` is written back unchanged.
    body_start: Option<usize>,
}

fn read_into(src: &mut (impl Read + ?Sized), head: &mut Vec<u8>, n: usize) -> io::Result<bool> {
    let start = head.len();
    head.resize(start + n, 0);
    let mut filled = 0;
    while filled < n {
        match src.read(&mut head[start + filled..]) {
            Ok(0) => {
                head.truncate(start + filled);
                return Ok(false);
            }
            Ok(k) => filled += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                head.truncate(start + filled);
                return Err(e);
            }
        }
    }
    Ok(true)
}

fn read_header(src: &mut (impl Read + ?Sized)) -> io::Result<Header> {
    let mut h = Header {
        head: Vec::with_capacity(64 * 1024),
        segments: Vec::new(),
        body_start: None,
    };
    if !read_into(src, &mut h.head, 2)? || h.head[..] != [0xFF, 0xD8] {
        return Ok(h);
    }
    loop {
        let seg_start = h.head.len();
        if !read_into(src, &mut h.head, 2)? || h.head[seg_start] != 0xFF {
            return Ok(h);
        }
        let mut marker = h.head[seg_start + 1];
        while marker == 0xFF {
            if !read_into(src, &mut h.head, 1)? {
                return Ok(h);
            }
            marker = h.head[h.head.len() - 1];
        }
        match marker {
            0xDA | 0xD9 => {
                h.body_start = Some(seg_start);
                return Ok(h);
            }
            0xD0..=0xD7 | 0x01 => {
                h.segments.push((marker, seg_start, h.head.len()));
                continue;
            }
            _ => {}
        }
        let len_at = h.head.len();
        if !read_into(src, &mut h.head, 2)? {
            return Ok(h);
        }
        let len = u16::from_be_bytes([h.head[len_at], h.head[len_at + 1]]) as usize;
        if len < 2 || h.head.len() + len > MAX_HEADER || !read_into(src, &mut h.head, len - 2)? {
            return Ok(h);
        }
        h.segments.push((marker, seg_start, h.head.len()));
    }
}

/// Copies a JPEG from `src` to `dst`, embedding `tags` in its EXIF where they are missing.
/// I/O errors are returned; metadata problems are notes, and the bytes are then copied as-is.
pub fn rewrite(
    src: &mut (impl Read + ?Sized),
    dst: &mut (impl Write + ?Sized),
    tags: &Tags,
    zone: &TimeZoneChoice,
) -> io::Result<Written> {
    let header = read_header(src)?;
    let mut written = Written::default();
    let new_head = match header.body_start {
        None => {
            written
                .notes
                .push("not a JPEG structure we understand: copied unchanged".into());
            written.incomplete = true;
            None
        }
        Some(body) => match new_header(&header, body, tags, zone, &mut written) {
            Ok(h) => h,
            Err(reason) => {
                written.notes.push(format!("EXIF not written: {reason}"));
                written.written_date = None;
                written.incomplete = true;
                None
            }
        },
    };
    match new_head {
        Some(h) => {
            dst.write_all(&h)?;
            written.changed = true;
        }
        None => dst.write_all(&header.head)?,
    }
    io::copy(src, dst)?;
    Ok(written)
}

/// The signature of an XMP APP1 segment.
const XMP_PREFIX: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
/// The largest TIFF block an APP1 segment holds (length field, "Exif\0\0").
const MAX_TIFF: usize = 0xFFFF - 2 - EXIF_PREFIX.len();

/// An APP1 segment with `prefix` and `data`, or `None` when it would exceed 64 KB.
fn app1(prefix: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(2 + prefix.len() + data.len()).ok()?;
    let mut segment = Vec::with_capacity(len as usize + 2);
    segment.extend_from_slice(&[0xFF, 0xE1]);
    segment.extend_from_slice(&len.to_be_bytes());
    segment.extend_from_slice(prefix);
    segment.extend_from_slice(data);
    Some(segment)
}

/// The header with the EXIF segment replaced (at the same place) or inserted, and an XMP
/// segment added when the plan needs one; `None` when nothing needs writing.
fn new_header(
    h: &Header,
    body: usize,
    tags: &Tags,
    zone: &TimeZoneChoice,
    written: &mut Written,
) -> Result<Option<Vec<u8>>, String> {
    let app1_with = |prefix: &[u8]| {
        h.segments
            .iter()
            .find(|(m, s, e)| *m == 0xE1 && h.head[s + 4..*e].starts_with(prefix))
            .copied()
    };
    let exif_seg = app1_with(EXIF_PREFIX);
    // Readers that resynchronise on a damaged header find EXIF where its segments do not
    // say: the one they would read first must be the one edited, else a new one would hide
    // it (or it would hide the edit).
    let first_signature = h
        .head
        .windows(10)
        .position(|w| w.starts_with(EXIF_PREFIX) && (w[6..] == *b"II*\0" || w[6..] == *b"MM\0*"));
    if first_signature.is_some_and(|at| exif_seg.is_none_or(|(_, s, _)| at < s + 4)) {
        return Err("the file holds EXIF outside the segments it declares, left untouched".into());
    }
    let has_xmp = app1_with(XMP_PREFIX).is_some();
    let existing = exif_seg.map(|(_, s, e)| &h.head[s + 4 + EXIF_PREFIX.len()..e]);
    let facts = ImageFacts {
        dimensions: h.dimensions(),
        density: h.jfif_density(),
        max_len: Some(MAX_TIFF),
        tiff_file: false,
    };
    let edit = exif_block::plan(existing, &facts, tags, zone, written)?;
    let exif_segment = match &edit.tiff {
        Some(tiff) => Some(app1(EXIF_PREFIX, tiff).ok_or("the EXIF block exceeds 64 KB")?),
        None => None,
    };
    let xmp_segment = match &edit.xmp {
        Some((data, _)) if !has_xmp => {
            xmp::packet(data).and_then(|p| app1(XMP_PREFIX, p.as_bytes()))
        }
        _ => None,
    };
    exif_block::xmp_outcome(&edit, xmp_segment.is_some(), written);
    if exif_segment.is_none() && xmp_segment.is_none() {
        return Ok(None);
    }
    let xmp_segment = xmp_segment.unwrap_or_default();
    let mut out = Vec::with_capacity(h.head.len() + xmp_segment.len() + 0x1_0000);
    out.extend_from_slice(&h.head[..2]);
    // Where the header starts to change: what comes before stays where it was.
    let change_at;
    match exif_seg {
        Some((_, s, e)) => {
            change_at = s;
            // The EXIF segment stays where it was (replaced when its block changed), the XMP
            // segment follows it.
            out.extend_from_slice(&h.head[2..s]);
            out.extend_from_slice(exif_segment.as_deref().unwrap_or(&h.head[s..e]));
            out.extend_from_slice(&xmp_segment);
            out.extend_from_slice(&h.head[e..]);
        }
        None => {
            // After a leading JFIF/JFXX APP0, which must stay first.
            let insert_at = h
                .segments
                .iter()
                .take_while(|(m, _, _)| *m == 0xE0)
                .last()
                .map_or(2, |(_, _, e)| *e);
            change_at = insert_at;
            out.extend_from_slice(&h.head[2..insert_at]);
            out.extend_from_slice(exif_segment.as_deref().unwrap_or_default());
            out.extend_from_slice(&xmp_segment);
            out.extend_from_slice(&h.head[insert_at..]);
        }
    }
    debug_assert!(body <= h.head.len());
    shift_mpf_offsets(h, change_at, &mut out)?;
    let exif_segment = exif_segment.as_deref();
    let xmp_segment = Some(&xmp_segment[..]).filter(|x| !x.is_empty());
    proven(&h.head, &out, exif_segment, xmp_segment)?;
    Ok(Some(out))
}

/// The signature of an MPF APP2 segment: the index of the images a file holds (a camera's
/// large preview, a phone's depth map or gain map), after the main one.
const MPF_PREFIX: &[u8] = b"MPF\0";

/// The MP entries of an MPF segment `seg` (marker included): whether its numbers are
/// little-endian, and for each image where its offset field is in `seg` and the offset (from
/// the byte after "MPF\0"; 0 for the main image). `None` when the index cannot be read.
fn mp_entries(seg: &[u8]) -> Option<(bool, Vec<(usize, u32)>)> {
    const TIFF_AT: usize = 4 + MPF_PREFIX.len();
    let t = seg.get(TIFF_AT..)?;
    let le = match t.get(..4)? {
        b"II*\0" => true,
        b"MM\0*" => false,
        _ => return None,
    };
    let u16_at = |i: usize| {
        let b: [u8; 2] = t.get(i..i.checked_add(2)?)?.try_into().ok()?;
        Some(if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |i: usize| {
        let b: [u8; 4] = t.get(i..i.checked_add(4)?)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let ifd = u32_at(4)? as usize;
    for i in 0..u16_at(ifd)? as usize {
        let e = ifd + 2 + 12 * i;
        if u16_at(e)? != 0xB002 {
            continue;
        }
        let count = u32_at(e + 4)? as usize;
        if u16_at(e + 2)? != 7 || count == 0 || !count.is_multiple_of(16) {
            return None;
        }
        let at = u32_at(e + 8)? as usize;
        t.get(at..at.checked_add(count)?)?;
        let fields = (0..count / 16).map(|k| {
            let f = at + 16 * k + 8;
            Some((TIFF_AT + f, u32_at(f)?))
        });
        return Some((le, fields.collect::<Option<_>>()?));
    }
    None
}

/// Updates, in the new header `out`, the MPF segments that come before `change_at` (where
/// the header grows): the images they point to (after the main image's data) move by the
/// growth, they do not. Refuses the edit when such an index cannot be read or points into
/// the header before the change.
fn shift_mpf_offsets(h: &Header, change_at: usize, out: &mut [u8]) -> Result<(), String> {
    let growth = out.len() - h.head.len();
    let mpf = h
        .segments
        .iter()
        .filter(|(m, s, e)| *m == 0xE2 && h.head[s + 4..*e].starts_with(MPF_PREFIX));
    for &(_, s, e) in mpf.filter(|(_, s, _)| *s < change_at && growth > 0) {
        let refuse = || "the file's index of its other images (MPF) cannot be updated".to_string();
        let (le, entries) = mp_entries(&h.head[s..e]).ok_or_else(refuse)?;
        for (field, off) in entries.into_iter().filter(|(_, off)| *off != 0) {
            if s + 4 + MPF_PREFIX.len() + off as usize <= change_at {
                return Err(refuse());
            }
            let new = u32::try_from(off as usize + growth).map_err(|_| refuse())?;
            let bytes = if le {
                new.to_le_bytes()
            } else {
                new.to_be_bytes()
            };
            out[s + field..s + field + 4].copy_from_slice(&bytes);
        }
    }
    Ok(())
}

/// Segments of a header: (where each starts, its bytes).
type Segments<'a> = Vec<(usize, &'a [u8])>;

/// The segments of a header held in memory (from SOI to the first scan): (start, bytes)
/// each, and where the scan starts. An independent reading for [`proven`].
fn segments(head: &[u8]) -> Option<(Segments<'_>, usize)> {
    if !head.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut out = Vec::new();
    let mut pos = 2;
    loop {
        if *head.get(pos)? != 0xFF {
            return None;
        }
        let mut m = pos + 1;
        while *head.get(m)? == 0xFF {
            m += 1;
        }
        let end = match head[m] {
            0xDA | 0xD9 => return Some((out, pos)),
            0xD0..=0xD7 | 0x01 => m + 1,
            _ => m + 1 + u16::from_be_bytes([*head.get(m + 1)?, *head.get(m + 2)?]) as usize,
        };
        out.push((pos, head.get(pos..end)?));
        pos = end;
    }
}

/// The proof that the new header `new` is `old` with only its Exif segment replaced or added
/// (`exif`, when it changed), an XMP segment added (`xmp`) and the offsets of MPF indexes
/// moved with the images they point to: read again from both, every other segment is
/// byte-identical and in the same order, and what follows them (the start of the scan, read
/// with the header) too. The rest of the scan data is copied after the header as it is
/// read. See `exif_proof` for why edits are proven.
fn proven(old: &[u8], new: &[u8], exif: Option<&[u8]>, xmp: Option<&[u8]>) -> Result<(), String> {
    let damaged = |what: &str| Err(format!("the edited file would {what}"));
    let (Some((a, a_body)), Some((b, b_body))) = (segments(old), segments(new)) else {
        return damaged("not be a JPEG we read back");
    };
    if old[a_body..] != new[b_body..] {
        return damaged("change its image data");
    }
    let mut b = b;
    for added in [exif, xmp].into_iter().flatten() {
        match b.iter().position(|(_, s)| *s == added) {
            Some(k) => {
                b.remove(k);
            }
            None => return damaged("lose its new metadata"),
        }
    }
    let mut a = a;
    if exif.is_some() {
        let old_exif = a
            .iter()
            .position(|(_, s)| s[1] == 0xE1 && s[4..].starts_with(EXIF_PREFIX));
        if let Some(k) = old_exif {
            a.remove(k);
        }
    }
    if a.len() != b.len() {
        return damaged("gain or lose a segment");
    }
    let growth = new.len() - old.len();
    for ((pa, sa), (pb, sb)) in a.iter().zip(&b) {
        let mpf = sa.len() > 4 && sa[1] == 0xE2 && sa[4..].starts_with(MPF_PREFIX);
        if !mpf {
            if sa != sb {
                return damaged("change a segment it does not edit");
            }
            continue;
        }
        // An index of images: each keeps pointing at its image, which moved by `growth`.
        if sa.len() != sb.len() {
            return damaged("change its index of images (MPF)");
        }
        let (Some((_, ea)), Some((_, eb))) = (mp_entries(sa), mp_entries(sb)) else {
            if sa == sb && *pb == pa + growth {
                continue;
            }
            return damaged("break its index of images (MPF)");
        };
        let fields: Vec<usize> = ea.iter().map(|(f, _)| *f).collect();
        let outside = (0..sa.len())
            .any(|i| sa[i] != sb[i] && !fields.iter().any(|f| (*f..f + 4).contains(&i)));
        let moved = ea.iter().zip(&eb).all(|((fa, oa), (fb, ob))| {
            fa == fb
                && if *oa == 0 {
                    *ob == 0
                } else {
                    pb + *ob as usize == pa + *oa as usize + growth
                }
        });
        if outside || !moved {
            return damaged("break its index of images (MPF)");
        }
    }
    Ok(())
}

impl Header {
    /// Width and height from the start-of-frame segment.
    fn dimensions(&self) -> Option<(u32, u32)> {
        let (_, s, e) = self
            .segments
            .iter()
            .find(|(m, _, _)| matches!(m, 0xC0..=0xCF) && !matches!(m, 0xC4 | 0xC8 | 0xCC))?;
        let seg = &self.head[*s..*e];
        if seg.len() < 9 {
            return None;
        }
        let hgt = u16::from_be_bytes([seg[5], seg[6]]) as u32;
        let w = u16::from_be_bytes([seg[7], seg[8]]) as u32;
        (w > 0 && hgt > 0).then_some((w, hgt))
    }

    /// (EXIF resolution unit, x, y) from a JFIF APP0 segment that states a real density.
    fn jfif_density(&self) -> Option<(u16, u32, u32)> {
        let (_, s, e) = self.segments.iter().find(|(m, _, _)| *m == 0xE0)?;
        let seg = &self.head[*s..*e];
        if seg.len() < 16 || &seg[4..9] != b"JFIF\0" {
            return None;
        }
        let unit = match seg[11] {
            1 => 2, // dots per inch
            2 => 3, // dots per cm
            _ => return None,
        };
        let x = u16::from_be_bytes([seg[12], seg[13]]) as u32;
        let y = u16::from_be_bytes([seg[14], seg[15]]) as u32;
        (x > 0 && y > 0).then_some((unit, x, y))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::exif_block::ascii;
    use crate::metadata::fixture;
    use crate::metadata::hostile::with_second_image;

    fn paris() -> TimeZoneChoice {
        TimeZoneChoice::parse("Europe/Paris").unwrap()
    }

    fn tags() -> Tags {
        Tags {
            description: Some("Eiffel tower at dusk".into()),
            ..crate::metadata::paris_tags(Some(35.2))
        }
    }

    fn read_back(bytes: &[u8]) -> exif::Exif {
        exif::Reader::new()
            .read_from_container(&mut std::io::Cursor::new(bytes))
            .expect("EXIF readable by kamadak-exif")
    }

    /// Everything after the header (the scan data) must be identical.
    fn body(bytes: &[u8]) -> &[u8] {
        let h = read_header(&mut &bytes[..]).unwrap();
        &bytes[h.body_start.unwrap()..]
    }

    #[test]
    fn adds_exif_to_a_jpeg_without_any() {
        let src = fixture("plain.jpg");
        let mut out = Vec::new();
        let w = rewrite(&mut &src[..], &mut out, &tags(), &paris()).unwrap();
        assert!(w.changed, "{:?}", w.notes);
        let exif = read_back(&out);
        assert_eq!(
            ascii(&exif, exif::Tag::DateTimeOriginal).unwrap(),
            "2019:07:04 17:10:12"
        );
        assert_eq!(
            ascii(&exif, exif::Tag::OffsetTimeOriginal).unwrap(),
            "+02:00"
        );
        assert_eq!(
            ascii(&exif, exif::Tag::DateTimeDigitized).unwrap(),
            "2019:07:04 17:10:12"
        );
        assert_eq!(ascii(&exif, exif::Tag::GPSLatitudeRef).unwrap(), "N");
        let lat = exif
            .get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
            .unwrap();
        let exif::Value::Rational(r) = &lat.value else {
            panic!()
        };
        let deg = r[0].to_f64() + r[1].to_f64() / 60.0 + r[2].to_f64() / 3600.0;
        assert!((deg - 48.8583701).abs() < 1e-6);
        assert_eq!(body(&out), body(&src));
        // JFIF APP0 stays first.
        assert_eq!(&out[2..4], &[0xFF, 0xE0]);
    }

    #[test]
    fn a_names_date_goes_where_no_date_is_and_nowhere_else() {
        let name_date = chrono::NaiveDate::from_ymd_opt(2020, 6, 14)
            .unwrap()
            .and_hms_opt(9, 30, 0);
        let only_name = Tags {
            name_date,
            ..Tags::default()
        };
        // A photo without EXIF: the name's wall clock, no offset, both dates.
        let src = fixture("plain.jpg");
        let mut out = Vec::new();
        let w = rewrite(&mut &src[..], &mut out, &only_name, &paris()).unwrap();
        assert!(w.changed, "{:?}", w.notes);
        assert!(w.notes.iter().any(|n| n.contains("the date in its name")));
        let exif = read_back(&out);
        assert_eq!(
            ascii(&exif, exif::Tag::DateTimeOriginal).unwrap(),
            "2020:06:14 09:30:00"
        );
        assert_eq!(
            ascii(&exif, exif::Tag::DateTimeDigitized).unwrap(),
            "2020:06:14 09:30:00"
        );
        assert_eq!(ascii(&exif, exif::Tag::OffsetTimeOriginal), None);
        assert_eq!(w.written_date, None);
        assert_eq!(body(&out), body(&src));
        // A camera's date stays: the file is copied as it is.
        let camera = fixture("camera.jpg");
        let mut out = Vec::new();
        let w = rewrite(&mut &camera[..], &mut out, &only_name, &paris()).unwrap();
        assert!(!w.changed, "{:?}", w.notes);
        assert_eq!(out, camera);
        // A sidecar's date wins over a name's.
        let both = Tags {
            name_date,
            ..crate::metadata::paris_tags(None)
        };
        let mut out = Vec::new();
        rewrite(&mut &src[..], &mut out, &both, &paris()).unwrap();
        assert_eq!(
            ascii(&read_back(&out), exif::Tag::DateTimeOriginal).unwrap(),
            "2019:07:04 17:10:12"
        );
    }

    #[test]
    fn keeps_the_cameras_date_and_tags() {
        let src = fixture("camera.jpg");
        let mut out = Vec::new();
        let w = rewrite(&mut &src[..], &mut out, &tags(), &paris()).unwrap();
        assert!(w.changed, "GPS was missing, so it is added: {:?}", w.notes);
        let (d, off) = w.existing_date.unwrap();
        assert_eq!(d.to_string(), "2019-07-04 17:10:12");
        assert_eq!(off.unwrap().local_minus_utc(), 7200);
        let exif = read_back(&out);
        assert_eq!(ascii(&exif, exif::Tag::Make).unwrap(), "Canon");
        assert_eq!(ascii(&exif, exif::Tag::Model).unwrap(), "Canon EOS 80D");
        assert_eq!(
            ascii(&exif, exif::Tag::DateTimeOriginal).unwrap(),
            "2019:07:04 17:10:12"
        );
        assert!(exif
            .get_field(exif::Tag::GPSLongitude, exif::In::PRIMARY)
            .is_some());
        assert_eq!(body(&out), body(&src));
    }

    #[test]
    fn overwrite_dates_replaces_the_cameras_date() {
        let src = fixture("camera.jpg");
        let mut out = Vec::new();
        let t = Tags {
            taken: Some(1262347200),
            overwrite_dates: true,
            ..tags()
        };
        rewrite(&mut &src[..], &mut out, &t, &paris()).unwrap();
        let exif = read_back(&out);
        assert_eq!(
            ascii(&exif, exif::Tag::DateTimeOriginal).unwrap(),
            "2010:01:01 13:00:00"
        );
        assert_eq!(
            ascii(&exif, exif::Tag::OffsetTimeOriginal).unwrap(),
            "+01:00"
        );
    }

    #[test]
    fn nothing_missing_means_byte_identical() {
        let src = fixture("camera.jpg");
        let mut once = Vec::new();
        rewrite(&mut &src[..], &mut once, &tags(), &paris()).unwrap();
        let mut twice = Vec::new();
        let w = rewrite(&mut &once[..], &mut twice, &tags(), &paris()).unwrap();
        assert!(!w.changed);
        assert_eq!(once, twice);
    }

    /// A JPEG whose EXIF block is `size` bytes (a large UserComment fills it).
    fn jpeg_with_exif_of(size: usize) -> Vec<u8> {
        use crate::metadata::exif_edit::{Dir, Editor, Val};
        let mut ed = Editor::fresh();
        ed.set(Dir::Ifd0, 0x010F, Val::Ascii("Canon".into()));
        ed.set(Dir::Exif, 0x9000, Val::Undefined(b"0232".to_vec()));
        ed.set(Dir::Exif, 0x9286, Val::Undefined(vec![0; 16]));
        let small = ed.finish().unwrap().unwrap().len();
        let mut ed = Editor::fresh();
        ed.set(Dir::Ifd0, 0x010F, Val::Ascii("Canon".into()));
        ed.set(Dir::Exif, 0x9000, Val::Undefined(b"0232".to_vec()));
        ed.set(
            Dir::Exif,
            0x9286,
            Val::Undefined(vec![0; 16 + size - small]),
        );
        let tiff = ed.finish().unwrap().unwrap();
        assert_eq!(tiff.len(), size);
        let plain = fixture("plain.jpg");
        let h = read_header(&mut &plain[..]).unwrap();
        let mut out = vec![0xFF, 0xD8];
        out.extend_from_slice(&app1(EXIF_PREFIX, &tiff).unwrap());
        let (_, _, jfif_end) = h.segments[0];
        out.extend_from_slice(&plain[jfif_end..]);
        out
    }

    #[test]
    fn a_full_exif_segment_sends_the_new_values_to_xmp() {
        let src = jpeg_with_exif_of(MAX_TIFF - 21);
        let mut out = Vec::new();
        let w = rewrite(&mut &src[..], &mut out, &tags(), &paris()).unwrap();
        assert!(w.changed, "{:?}", w.notes);
        assert!(w.incomplete, "the sidecar is written too");
        assert!(w.notes[0].contains("exceed"), "{:?}", w.notes);
        // The EXIF segment is byte-identical; an XMP segment follows it.
        let exif_len = 4 + EXIF_PREFIX.len() + MAX_TIFF - 21;
        assert_eq!(out[..2 + exif_len], src[..2 + exif_len]);
        let xmp = &out[2 + exif_len..];
        assert_eq!(&xmp[..2], &[0xFF, 0xE1]);
        assert!(xmp[4..].starts_with(XMP_PREFIX));
        let text = String::from_utf8_lossy(xmp);
        assert!(text.contains(r#"exif:DateTimeOriginal="2019-07-04T17:10:12+02:00""#));
        assert!(text.contains(r#"exif:GPSLatitude="48,51.502206N""#));
        assert!(text.contains("Eiffel tower at dusk"));
        assert_eq!(body(&out), body(&src));
        // A block that still fits is edited in place.
        let src = jpeg_with_exif_of(2000);
        let mut out = Vec::new();
        let w = rewrite(&mut &src[..], &mut out, &tags(), &paris()).unwrap();
        assert!(w.changed && !w.incomplete, "{:?}", w.notes);
        assert!(!out.windows(XMP_PREFIX.len()).any(|x| x == XMP_PREFIX));
    }

    /// The proof (`exif_proof`) accepts every edit of the real cameras' blocks: none is
    /// refused, with overwritten dates (patched in place) or added ones, a moved position.
    #[test]
    fn every_real_cameras_edit_is_proven() {
        let dir = format!("{}/fixtures/cameras", env!("CARGO_MANIFEST_DIR"));
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let src = std::fs::read(&path).unwrap();
            for overwrite in [false, true] {
                let t = Tags {
                    overwrite_dates: overwrite,
                    geo_moved: true,
                    ..tags()
                };
                let mut out = Vec::new();
                let w = rewrite(&mut &src[..], &mut out, &t, &paris()).unwrap();
                assert!(
                    w.changed && !w.notes.iter().any(|n| n.contains("not written")),
                    "{}: {:?}",
                    path.display(),
                    w.notes
                );
                n += 1;
            }
        }
        assert!(n >= 100);
    }

    /// The bytes of the second image an MPF index in `jpeg` points to.
    fn second_image(jpeg: &[u8]) -> &[u8] {
        let at = jpeg.windows(4).position(|w| w == b"MPF\0").unwrap() + 4;
        let e = at + 50 + 16;
        let le = |i: usize| u32::from_le_bytes(jpeg[i..i + 4].try_into().unwrap()) as usize;
        let (size, off) = (le(e + 4), le(e + 8));
        &jpeg[at + off..at + off + size]
    }

    /// Issue 26, 8: an MPF index (a second image: a phone's depth map, a camera's preview)
    /// before the Exif segment, which grows. FAILS before: its offsets were not updated.
    #[test]
    fn an_mpf_index_before_the_exif_keeps_pointing_at_its_images() {
        let plain = fixture("plain.jpg");
        for before in [true, false] {
            let src = with_second_image(before);
            assert_eq!(second_image(&src), &plain[..]);
            let mut out = Vec::new();
            let w = rewrite(&mut &src[..], &mut out, &tags(), &paris()).unwrap();
            assert!(w.changed, "{:?}", w.notes);
            assert!(out.len() > src.len());
            assert_eq!(second_image(&out), &plain[..], "before Exif: {before}");
        }
    }

    /// The proof refuses every change but the edited segments and the MPF offsets moved
    /// with their images.
    #[test]
    fn the_proof_catches_any_other_change() {
        let src = with_second_image(true);
        let mut out = Vec::new();
        rewrite(&mut &src[..], &mut out, &tags(), &paris()).unwrap();
        let old = read_header(&mut &src[..]).unwrap().head;
        let new = read_header(&mut &out[..]).unwrap().head;
        let h = read_header(&mut &out[..]).unwrap();
        let exif = h
            .segments
            .iter()
            .find(|(m, s, e)| *m == 0xE1 && new[s + 4..*e].starts_with(EXIF_PREFIX))
            .map(|(_, s, e)| &new[*s..*e]);
        let (_, ms, me) = *h.segments.iter().find(|(m, _, _)| *m == 0xE2).unwrap();
        // The full stream: the header read is followed by the same scan data.
        let tail = &out[new.len()..];
        assert_eq!(tail, &src[old.len()..]);
        proven(&old, &new, exif, None).unwrap();
        let mut stale_mpf = new.clone();
        stale_mpf[ms..me].copy_from_slice(&old[ms..me]);
        let mut dqt = new.clone();
        let dqt_at = h.segments.iter().find(|(m, _, _)| *m == 0xDB).unwrap().1;
        dqt[dqt_at + 10] ^= 1;
        let mut scan = new.clone();
        let last = scan.len() - 1;
        scan[last] ^= 1;
        for (what, bad) in [("stale MPF", stale_mpf), ("DQT", dqt), ("scan", scan)] {
            assert!(proven(&old, &bad, exif, None).is_err(), "{what}");
        }
        assert!(proven(&old, &new, None, None).is_err(), "Exif not declared");
    }

    /// Found by `cargo fuzz`: a header whose APP0 length is wrong hides the camera's Exif
    /// segment from the writer, not from readers that resynchronise (kamadak-exif, exiftool).
    /// A new Exif segment in front of it would replace the camera's tags for them.
    #[test]
    fn exif_the_segments_do_not_declare_is_left_alone() {
        let path = "tests/fuzz/corpus/writers/fuzz-exif-outside-declared-segments.jpg";
        let src = std::fs::read(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let mut out = Vec::new();
        let w = rewrite(&mut &src[..], &mut out, &tags(), &paris()).unwrap();
        assert!(!w.changed, "{:?}", w.notes);
        assert_eq!(out, src);
    }

    #[test]
    fn not_a_jpeg_is_copied_unchanged() {
        for src in [
            b"GIF89a-not-a-jpeg".to_vec(),
            vec![0xFF, 0xD8, 0x00, 0x01],
            vec![0xFF],
            vec![],
        ] {
            let mut out = Vec::new();
            let w = rewrite(&mut &src[..], &mut out, &tags(), &paris()).unwrap();
            assert!(!w.changed);
            assert_eq!(out, src);
        }
    }

    #[test]
    fn truncated_and_garbled_headers_never_lose_bytes() {
        let src = fixture("camera.jpg");
        for cut in [3, 10, 30, 100, 400] {
            let part = &src[..cut.min(src.len())];
            let mut out = Vec::new();
            let w = rewrite(&mut &part[..], &mut out, &tags(), &paris()).unwrap();
            assert!(!w.changed, "an incomplete header is never rewritten");
            assert_eq!(out, part);
        }
        let mut bad = src.clone();
        // Corrupt the TIFF header inside the EXIF segment.
        let pos = bad.windows(6).position(|w| w == EXIF_PREFIX).unwrap() + 6;
        bad[pos] = b'X';
        bad[pos + 1] = b'Y';
        let mut out = Vec::new();
        let w = rewrite(&mut &bad[..], &mut out, &tags(), &paris()).unwrap();
        assert!(!w.changed);
        assert_eq!(out, bad);
        assert!(w.notes[0].contains("cannot be read"), "{:?}", w.notes);
    }
}
