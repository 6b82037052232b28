//! MP4 / MOV / M4V / 3GP (ISO base media and QuickTime files): the creation and modification
//! times of `mvhd`, `tkhd` and `mdhd`, and an ISO 6709 location (`©xyz` in `moov/udta`).
//!
//! Hand-written because no maintained crate writes these (see `shared/crate-notes.md`): the
//! file is streamed box by box; only the `moov` box (the index, kilobytes to a few MB) is held
//! in memory and edited. Media data (`mdat`, gigabytes) is copied through unchanged. When the
//! location makes `moov` grow and `moov` precedes media data, every chunk offset (`stco`,
//! `co64`) that points past `moov` is shifted by the growth, so the video still plays.
//! Fragmented files (`mvex`) only get their times patched: their fragment offsets are not
//! adjusted, so `moov` never grows there.

use std::io::{self, Read, Write};

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};

use super::{Tags, Written};
use crate::sidecar::Geo;

/// Seconds from 1904-01-01 (the QuickTime epoch) to 1970-01-01.
const EPOCH_1904: i64 = 2_082_844_800;
/// A `moov` larger than this is copied unchanged (it would be a very unusual file).
const MAX_MOOV: u64 = 64 * 1024 * 1024;
/// Boxes whose children are boxes, on the way to the ones we edit.
const CONTAINERS: [&[u8; 4]; 7] = [
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf",
];

/// One box inside a buffer: its type and where its header and contents are.
#[derive(Debug, Clone, Copy)]
struct BoxRef {
    kind: [u8; 4],
    start: usize,
    /// Start of the contents (after the 8- or 16-byte header).
    body: usize,
    end: usize,
}

/// The boxes laid out in `buf[start..end]`; stops at anything malformed (a trailing
/// terminator or padding is not a box).
fn children(buf: &[u8], start: usize, end: usize) -> Vec<BoxRef> {
    let mut out = Vec::new();
    let mut pos = start;
    while pos + 8 <= end {
        let size32 = u32::from_be_bytes(buf[pos..pos + 4].try_into().expect("4 bytes")) as u64;
        let kind: [u8; 4] = buf[pos + 4..pos + 8].try_into().expect("4 bytes");
        let (size, header) = match size32 {
            0 => ((end - pos) as u64, 8),
            1 if pos + 16 <= end => (
                u64::from_be_bytes(buf[pos + 8..pos + 16].try_into().expect("8 bytes")),
                16,
            ),
            1 => break,
            s => (s, 8),
        };
        if size < header as u64 || size > (end - pos) as u64 {
            break;
        }
        let box_end = pos + size as usize;
        out.push(BoxRef {
            kind,
            start: pos,
            body: pos + header,
            end: box_end,
        });
        pos = box_end;
    }
    out
}

/// Every box of type `kind` below `parent`, through the container boxes.
fn find_all(buf: &[u8], parent: BoxRef, kind: &[u8; 4], out: &mut Vec<BoxRef>) {
    for b in children(buf, parent.body, parent.end) {
        if &b.kind == kind {
            out.push(b);
        }
        if CONTAINERS.contains(&&b.kind) {
            find_all(buf, b, kind, out);
        }
    }
}

/// The creation time of an `mvhd`/`tkhd`/`mdhd` box (seconds since 1904), and where its
/// creation and modification fields are with their width.
fn time_fields(buf: &[u8], b: BoxRef) -> Option<(u64, usize, usize)> {
    let version = *buf.get(b.body)?;
    let at = b.body + 4;
    match version {
        0 if at + 8 <= b.end => Some((
            u32::from_be_bytes(buf[at..at + 4].try_into().ok()?) as u64,
            at,
            4,
        )),
        1 if at + 16 <= b.end => {
            Some((u64::from_be_bytes(buf[at..at + 8].try_into().ok()?), at, 8))
        }
        _ => None,
    }
}

/// `±DD.DDDD±DDD.DDDD±AAA.AAA/`, the ISO 6709 string Apple and Android write.
fn iso6709(g: Geo) -> String {
    let mut s = format!("{:+08.4}{:+09.4}", g.lat, g.lon);
    if let Some(alt) = g.alt {
        s.push_str(&format!("{alt:+.3}"));
    }
    s.push('/');
    s
}

/// A `©xyz` user-data atom holding `g`.
fn xyz_atom(g: Geo) -> Vec<u8> {
    let text = iso6709(g);
    let mut atom = Vec::with_capacity(12 + text.len());
    atom.extend_from_slice(&((12 + text.len()) as u32).to_be_bytes());
    atom.extend_from_slice(b"\xa9xyz");
    atom.extend_from_slice(&(text.len() as u16).to_be_bytes());
    atom.extend_from_slice(&0x15c7u16.to_be_bytes()); // language: undetermined
    atom.extend_from_slice(text.as_bytes());
    atom
}

/// Adds `delta` to a box's size field (32- or 64-bit).
fn grow(buf: &mut [u8], b: BoxRef, delta: u64) -> Result<(), String> {
    if b.body - b.start == 16 {
        let size = u64::from_be_bytes(buf[b.start + 8..b.start + 16].try_into().expect("8 bytes"));
        buf[b.start + 8..b.start + 16].copy_from_slice(&(size + delta).to_be_bytes());
    } else {
        let size =
            u32::from_be_bytes(buf[b.start..b.start + 4].try_into().expect("4 bytes")) as u64;
        if size == 0 {
            return Ok(()); // "to the end": still right
        }
        let new = u32::try_from(size + delta).map_err(|_| "box too large to grow".to_string())?;
        buf[b.start..b.start + 4].copy_from_slice(&new.to_be_bytes());
    }
    Ok(())
}

/// Shifts every chunk offset at or past `from` by `delta`.
fn shift_chunk_offsets(buf: &mut [u8], moov: BoxRef, from: u64, delta: u64) -> Result<(), String> {
    for (kind, width) in [(b"stco", 4usize), (b"co64", 8usize)] {
        let mut boxes = Vec::new();
        find_all(buf, moov, kind, &mut boxes);
        for b in boxes {
            if b.body + 8 > b.end {
                return Err("malformed chunk offset table".into());
            }
            let count =
                u32::from_be_bytes(buf[b.body + 4..b.body + 8].try_into().expect("4")) as usize;
            let table = b.body + 8;
            if count.checked_mul(width).is_none_or(|n| table + n > b.end) {
                return Err("malformed chunk offset table".into());
            }
            for i in 0..count {
                let at = table + i * width;
                if width == 4 {
                    let v = u32::from_be_bytes(buf[at..at + 4].try_into().expect("4")) as u64;
                    if v >= from {
                        let nv = u32::try_from(v + delta)
                            .map_err(|_| "a chunk offset would overflow".to_string())?;
                        buf[at..at + 4].copy_from_slice(&nv.to_be_bytes());
                    }
                } else {
                    let v = u64::from_be_bytes(buf[at..at + 8].try_into().expect("8"));
                    if v >= from {
                        buf[at..at + 8].copy_from_slice(&(v + delta).to_be_bytes());
                    }
                }
            }
        }
    }
    Ok(())
}

/// Edits a whole `moov` box in memory. `moov_end_in` is where it ends in the input file and
/// `media_follows` says whether media data comes after it (chunk offsets then move).
fn edit_moov(
    buf: &mut Vec<u8>,
    tags: &Tags,
    moov_end_in: u64,
    media_follows: bool,
    w: &mut Written,
) -> Result<(), String> {
    let moov = *children(buf, 0, buf.len())
        .first()
        .ok_or("malformed moov")?;
    let top = children(buf, moov.body, moov.end);
    let mvhd = top
        .iter()
        .find(|b| &b.kind == b"mvhd")
        .ok_or("no mvhd in moov")?;
    let (created, _, _) = time_fields(buf, *mvhd).ok_or("malformed mvhd")?;
    if created > EPOCH_1904 as u64 {
        let utc =
            DateTime::<Utc>::from_timestamp(created as i64 - EPOCH_1904, 0).map(|d| d.naive_utc());
        w.existing_date = utc.map(|d: NaiveDateTime| (d, FixedOffset::east_opt(0)));
    }

    // Times: written when the file has none (or when asked to overwrite).
    if let Some(t) = tags.taken {
        if w.existing_date.is_none() || tags.overwrite_dates {
            let qt = (t + EPOCH_1904) as u64;
            let mut boxes = vec![*mvhd];
            find_all(buf, moov, b"tkhd", &mut boxes);
            find_all(buf, moov, b"mdhd", &mut boxes);
            for b in boxes {
                let Some((_, at, width)) = time_fields(buf, b) else {
                    continue;
                };
                for field in [at, at + width] {
                    if width == 4 {
                        let v =
                            u32::try_from(qt).map_err(|_| "date beyond 2040 in a 32-bit box")?;
                        buf[field..field + 4].copy_from_slice(&v.to_be_bytes());
                    } else {
                        buf[field..field + 8].copy_from_slice(&qt.to_be_bytes());
                    }
                }
            }
            w.written_date = DateTime::<Utc>::from_timestamp(t, 0).map(|d| d.fixed_offset());
            w.changed = true;
        }
    }

    // Location: added when the file has none, and moov may grow safely.
    let Some(g) = tags.geo else { return Ok(()) };
    let udta = top.iter().find(|b| &b.kind == b"udta").copied();
    if let Some(u) = udta {
        if children(buf, u.body, u.end)
            .iter()
            .any(|b| &b.kind == b"\xa9xyz")
        {
            return Ok(());
        }
    }
    let mut mvex = Vec::new();
    find_all(buf, moov, b"mvex", &mut mvex);
    if !mvex.is_empty() {
        w.notes
            .push("fragmented video: location not embedded".into());
        return Ok(());
    }
    let atom = xyz_atom(g);
    let mut insert = atom.clone();
    let at = match udta {
        Some(u) => {
            // After the last user-data atom (before a QuickTime zero terminator, if any).
            children(buf, u.body, u.end)
                .last()
                .map_or(u.body, |b| b.end)
        }
        None => {
            let mut u = Vec::with_capacity(8 + atom.len());
            u.extend_from_slice(&((8 + atom.len()) as u32).to_be_bytes());
            u.extend_from_slice(b"udta");
            u.extend_from_slice(&atom);
            insert = u;
            moov.end
        }
    };
    let delta = insert.len() as u64;
    let mut edited = buf.clone();
    if media_follows {
        shift_chunk_offsets(&mut edited, moov, moov_end_in, delta)?;
    }
    grow(&mut edited, moov, delta)?;
    if let Some(u) = udta {
        grow(&mut edited, u, delta)?;
    }
    edited.splice(at..at, insert);
    *buf = edited;
    w.changed = true;
    Ok(())
}

/// Reads exactly `n` bytes, or fewer at the end of the stream.
fn read_up_to(src: &mut (impl Read + ?Sized), n: usize) -> io::Result<Vec<u8>> {
    let mut v = Vec::with_capacity(n.min(1 << 20));
    src.take(n as u64).read_to_end(&mut v)?;
    Ok(v)
}

/// Copies an MP4/MOV from `src` to `dst`, embedding `tags`. Never loses bytes: whatever is not
/// understood is copied unchanged, with a note.
pub fn rewrite(
    src: &mut (impl Read + ?Sized),
    dst: &mut (impl Write + ?Sized),
    tags: &Tags,
) -> io::Result<Written> {
    let mut w = Written::default();
    let mut pos: u64 = 0; // input position
    let mut seen_media = false;
    let mut done_moov = false;
    loop {
        let mut header = read_up_to(src, 8)?;
        if header.len() < 8 {
            dst.write_all(&header)?;
            break;
        }
        let size32 = u32::from_be_bytes(header[0..4].try_into().expect("4"));
        let kind: [u8; 4] = header[4..8].try_into().expect("4");
        let size = match size32 {
            0 => None, // to the end of the file
            1 => {
                let ext = read_up_to(src, 8)?;
                header.extend_from_slice(&ext);
                if ext.len() < 8 {
                    dst.write_all(&header)?;
                    break;
                }
                Some(u64::from_be_bytes(ext.try_into().expect("8")))
            }
            s => Some(s as u64),
        };
        let header_len = header.len() as u64;
        let Some(size) = size.filter(|s| *s >= header_len) else {
            // The rest of the file, as it is.
            dst.write_all(&header)?;
            io::copy(src, dst)?;
            if size32 != 0 && !done_moov {
                w.notes
                    .push("video structure not understood: copied unchanged".into());
            }
            break;
        };
        if &kind == b"moov" && !done_moov && size <= MAX_MOOV {
            let mut buf = header;
            buf.extend_from_slice(&read_up_to(src, (size - header_len) as usize)?);
            if (buf.len() as u64) < size {
                dst.write_all(&buf)?;
                w.notes.push("truncated video: copied unchanged".into());
                break;
            }
            let original = buf.clone();
            // Media data after moov: we cannot know yet, so assume it if none was seen.
            match edit_moov(&mut buf, tags, pos + size, !seen_media, &mut w) {
                Ok(()) => dst.write_all(&buf)?,
                Err(reason) => {
                    w.notes
                        .push(format!("video metadata not written: {reason}"));
                    w.changed = false;
                    w.written_date = None;
                    dst.write_all(&original)?;
                }
            }
            done_moov = true;
        } else {
            if &kind == b"mdat" || &kind == b"moof" {
                seen_media = true;
            }
            dst.write_all(&header)?;
            let body = size - header_len;
            let copied = io::copy(&mut src.take(body), dst)?;
            if copied < body {
                w.notes.push("truncated video: copied unchanged".into());
                break;
            }
        }
        pos += size;
    }
    if !done_moov && !w.notes.iter().any(|n| n.contains("video")) {
        w.notes
            .push("no movie header (moov) found: copied unchanged".into());
    }
    // Every note above says that something was not embedded.
    w.incomplete = !w.notes.is_empty();
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::fixture;

    fn tags() -> Tags {
        Tags {
            taken: Some(1562253012),
            geo: Some(Geo {
                lat: 48.8583701,
                lon: 2.2944813,
                alt: Some(35.2),
            }),
            ..Tags::default()
        }
    }

    fn top(buf: &[u8]) -> Vec<BoxRef> {
        children(buf, 0, buf.len())
    }

    /// (offset, first bytes) of every chunk, resolved through stco/co64.
    fn chunk_bytes(buf: &[u8]) -> Vec<Vec<u8>> {
        let moov = *top(buf).iter().find(|b| &b.kind == b"moov").unwrap();
        let mut stco = Vec::new();
        find_all(buf, moov, b"stco", &mut stco);
        let b = stco[0];
        let count = u32::from_be_bytes(buf[b.body + 4..b.body + 8].try_into().unwrap()) as usize;
        (0..count)
            .map(|i| {
                let at = b.body + 8 + i * 4;
                let off = u32::from_be_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
                buf[off..off + 16].to_vec()
            })
            .collect()
    }

    fn rewrite_vec(src: &[u8], t: &Tags) -> (Vec<u8>, Written) {
        let mut out = Vec::new();
        let w = rewrite(&mut &src[..], &mut out, t).unwrap();
        (out, w)
    }

    #[test]
    fn times_and_location_with_moov_before_mdat() {
        let src = fixture("clip.mp4");
        let (out, w) = rewrite_vec(&src, &tags());
        assert!(w.changed, "{:?}", w.notes);
        let moov = *top(&out).iter().find(|b| &b.kind == b"moov").unwrap();
        let mvhd = children(&out, moov.body, moov.end)[0];
        let (created, at, width) = time_fields(&out, mvhd).unwrap();
        assert_eq!(created as i64 - EPOCH_1904, 1562253012);
        assert_eq!(width, 4);
        assert_eq!(
            u32::from_be_bytes(out[at + 4..at + 8].try_into().unwrap()) as u64,
            created
        );
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.contains("+48.8584+002.2945+35.200/"),
            "ISO 6709 location"
        );
        // Chunks still point at the same media bytes after moov grew.
        assert_eq!(chunk_bytes(&out), chunk_bytes(&src));
        // mdat itself is untouched.
        let mdat = |b: &[u8]| {
            let m = *top(b).iter().find(|x| &x.kind == b"mdat").unwrap();
            b[m.start..m.end].to_vec()
        };
        assert_eq!(mdat(&out), mdat(&src));
    }

    #[test]
    fn moov_after_mdat_needs_no_shift() {
        let src = fixture("live.mov");
        let (out, w) = rewrite_vec(&src, &tags());
        assert!(w.changed);
        assert_eq!(chunk_bytes(&out), chunk_bytes(&src));
        assert_eq!(
            &out[..1337],
            &src[..1337],
            "everything before moov is unchanged"
        );
        // The new atom went into the existing udta, after ©swr.
        let find = |pat: &[u8]| out.windows(4).position(|w| w == pat).unwrap();
        assert!(find(b"\xa9xyz") > find(b"\xa9swr"));
        assert_eq!(
            out.len(),
            src.len() + 12 + "+48.8584+002.2945+35.200/".len()
        );
    }

    #[test]
    fn existing_times_and_location_are_kept() {
        let (once, _) = rewrite_vec(&fixture("clip.mp4"), &tags());
        let later = Tags {
            taken: Some(1600000000),
            ..tags()
        };
        let (twice, w) = rewrite_vec(&once, &later);
        assert!(!w.changed);
        assert_eq!(twice, once);
        let (d, off) = w.existing_date.unwrap();
        assert_eq!(d.and_utc().timestamp(), 1562253012);
        assert_eq!(off.unwrap().local_minus_utc(), 0);
        let over = Tags {
            overwrite_dates: true,
            ..later
        };
        let (thrice, w) = rewrite_vec(&once, &over);
        assert!(w.changed);
        assert_eq!(thrice.len(), once.len(), "the location is not added twice");
    }

    #[test]
    fn garbage_and_truncation_never_lose_bytes() {
        let src = fixture("clip.mp4");
        // Cut anywhere before the end of moov (at 940): copied unchanged.
        for cut in [0, 3, 8, 20, 40, 500, 939] {
            let part = &src[..cut];
            let (out, w) = rewrite_vec(part, &tags());
            assert_eq!(out, part, "cut at {cut}");
            assert!(!w.changed);
        }
        // Cut inside mdat: moov is edited, every byte that was there is still there.
        let (out, _) = rewrite_vec(&src[..1000], &tags());
        let (full, _) = rewrite_vec(&src, &tags());
        assert_eq!(out, full[..out.len()]);
        assert_eq!(out.len(), 1000 + full.len() - src.len());
        let junk = b"\x00\x00\x00\x05junkjunkjunk".to_vec();
        assert_eq!(rewrite_vec(&junk, &tags()).0, junk);
    }

    #[test]
    fn iso6709_format() {
        assert_eq!(
            iso6709(Geo {
                lat: -33.8688,
                lon: 151.2093,
                alt: None
            }),
            "-33.8688+151.2093/"
        );
        assert_eq!(
            iso6709(Geo {
                lat: 40.7484,
                lon: -73.9857,
                alt: Some(-3.5)
            }),
            "+40.7484-073.9857-3.500/"
        );
    }
}
