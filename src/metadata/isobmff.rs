//! MP4 / MOV / M4V / 3GP (ISO base media and QuickTime files): the creation and modification
//! times of `mvhd`, `tkhd` and `mdhd`, Apple's `com.apple.quicktime.creationdate` and
//! `com.apple.quicktime.location.ISO6709` keys (`moov/meta`: what Apple Photos reads), and an
//! ISO 6709 location (`©xyz` in `moov/udta`).
//!
//! Hand-written because no maintained Rust crate writes QuickTime dates or locations: the
//! file is streamed box by box; only the `moov` box (the index, kilobytes to a few MB) is held
//! in memory and edited. Media data (`mdat`, gigabytes) is copied through unchanged. When the
//! new atoms make `moov` grow, the growth is taken from a `free` atom in or right after `moov`
//! when one has room; otherwise everything after `moov` moves by the growth, and so does every
//! chunk offset (`stco`, `co64`) that points past `moov` (wherever other media data is), so
//! the video still plays. `moov` grows that way only when every track's chunk offset table is
//! found by a strict walk (every box on the way fits its parent): a track out of reach would
//! keep its old offsets. Fragmented files (`mvex`) only get their times patched: their
//! fragment offsets are not adjusted, so `moov` never grows there. Every edit is proven before
//! it is written (`proof`): otherwise the movie header is written as it was, with a note.
//! Boxes are walked with an explicit stack and a depth limit, never by recursion.

use std::io::{self, Read, Write};

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};

use super::{Tags, TimeZoneChoice, Written};
use crate::metadata::Geo;

mod proof;
#[cfg(test)]
use proof::sample_tables;

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

/// How deep container boxes may nest below `moov` (a chunk offset table is 4 levels down).
const MAX_DEPTH: usize = 16;

/// Every box of type `kind` below `parent`, through the container boxes. A walk with its own
/// stack, not recursion, so that a file of nested boxes cannot exhaust the thread's; boxes
/// nested deeper than [`MAX_DEPTH`] are an error.
fn find_all(
    buf: &[u8],
    parent: BoxRef,
    kind: &[u8; 4],
    out: &mut Vec<BoxRef>,
) -> Result<(), String> {
    let first = out.len();
    let mut stack = vec![(parent, 0usize)];
    while let Some((b, depth)) = stack.pop() {
        let kids = children(buf, b.body, b.end);
        // Children in file order: pushed last to first.
        for k in kids.into_iter().rev() {
            if CONTAINERS.contains(&&k.kind) {
                if depth + 1 > MAX_DEPTH {
                    return Err("boxes nested too deep in the movie header".into());
                }
                stack.push((k, depth + 1));
            }
            if &k.kind == kind {
                out.push(k);
            }
        }
    }
    out[first..].sort_by_key(|b| b.start);
    Ok(())
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

/// Sets a box's size field (32- or 64-bit) to `size`.
fn set_size(out: &mut [u8], header_len: usize, size: u64) -> Result<(), String> {
    if header_len == 16 {
        out[8..16].copy_from_slice(&size.to_be_bytes());
    } else {
        let s = u32::try_from(size).map_err(|_| "box too large to grow".to_string())?;
        out[0..4].copy_from_slice(&s.to_be_bytes());
    }
    Ok(())
}

/// An atom of type `kind` holding `body` (8-byte header).
fn atom(kind: &[u8; 4], body: &[u8]) -> Result<Vec<u8>, String> {
    let size = u32::try_from(body.len() + 8).map_err(|_| "atom too large".to_string())?;
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    Ok(out)
}

/// A `free` atom of exactly `size` bytes (at least 8).
fn free_atom(size: u64) -> Result<Vec<u8>, String> {
    let body = usize::try_from(size - 8).map_err(|_| "free atom too large".to_string())?;
    atom(b"free", &vec![0; body])
}

/// Shifts every chunk offset at or past `from` by `delta`.
fn shift_chunk_offsets(buf: &mut [u8], moov: BoxRef, from: u64, delta: u64) -> Result<(), String> {
    for (kind, width) in [(b"stco", 4usize), (b"co64", 8usize)] {
        let mut boxes = Vec::new();
        find_all(buf, moov, kind, &mut boxes)?;
        for b in boxes {
            if b.body + 8 > b.end {
                return Err("malformed chunk offset table".into());
            }
            let count =
                u32::from_be_bytes(buf[b.body + 4..b.body + 8].try_into().expect("4")) as usize;
            let table = b.body + 8;
            if count
                .checked_mul(width)
                .and_then(|n| n.checked_add(table))
                .is_none_or(|e| e > b.end)
            {
                return Err("malformed chunk offset table".into());
            }
            for i in 0..count {
                let at = table + i * width;
                let overflow = || "a chunk offset would overflow".to_string();
                if width == 4 {
                    let v = u32::from_be_bytes(buf[at..at + 4].try_into().expect("4")) as u64;
                    if v >= from {
                        let nv = v
                            .checked_add(delta)
                            .and_then(|n| u32::try_from(n).ok())
                            .ok_or_else(overflow)?;
                        buf[at..at + 4].copy_from_slice(&nv.to_be_bytes());
                    }
                } else {
                    let v = u64::from_be_bytes(buf[at..at + 8].try_into().expect("8"));
                    if v >= from {
                        let nv = v.checked_add(delta).ok_or_else(overflow)?;
                        buf[at..at + 8].copy_from_slice(&nv.to_be_bytes());
                    }
                }
            }
        }
    }
    Ok(())
}

/// Apple's QuickTime metadata keys (`moov/meta` with handler `mdta`, `keys`, `ilst`), which
/// Apple Photos reads instead of `©xyz`.
const KEY_LOCATION: &str = "com.apple.quicktime.location.ISO6709";
const KEY_CREATION: &str = "com.apple.quicktime.creationdate";

/// An `ilst` item for the key at 1-based `index`: one `data` atom of type 1 (UTF-8).
fn ilst_item(index: u32, value: &str) -> Result<Vec<u8>, String> {
    let mut data = vec![0, 0, 0, 1, 0, 0, 0, 0]; // type UTF-8, default locale
    data.extend_from_slice(value.as_bytes());
    atom(&index.to_be_bytes(), &atom(b"data", &data)?)
}

/// A `keys` entry: size, namespace `mdta`, name.
fn key_entry(name: &str) -> Result<Vec<u8>, String> {
    atom(b"mdta", name.as_bytes())
}

/// A movie-level `meta` of handler `mdta` found in `moov`.
struct KeyedMeta {
    meta: BoxRef,
    /// Its children start after a version/flags word (ISO form) rather than at once
    /// (QuickTime form).
    full_box: bool,
    kids: Vec<BoxRef>,
    keys: BoxRef,
    /// Key names, in order (index 1 first).
    names: Vec<String>,
}

impl KeyedMeta {
    /// `Ok(None)` when `meta` is not an `mdta` one (then no keys are added there).
    fn parse(buf: &[u8], meta: BoxRef) -> Result<Option<KeyedMeta>, String> {
        let hdlr_at = |at: usize| buf.get(at + 4..at + 8) == Some(b"hdlr".as_slice());
        let full_box = if hdlr_at(meta.body) {
            false
        } else if hdlr_at(meta.body + 4) {
            true
        } else {
            return Ok(None);
        };
        let kids = children(buf, meta.body + if full_box { 4 } else { 0 }, meta.end);
        let Some(hdlr) = kids.first().filter(|k| &k.kind == b"hdlr") else {
            return Ok(None);
        };
        if buf.get(hdlr.body + 8..hdlr.body + 12) != Some(b"mdta".as_slice()) {
            return Ok(None);
        }
        let Some(keys) = kids.iter().find(|k| &k.kind == b"keys").copied() else {
            return Ok(None);
        };
        if kids.iter().filter(|k| &k.kind == b"ilst").count() > 1 {
            return Err("two ilst atoms in the movie metadata".into());
        }
        let bad = || "malformed keys atom".to_string();
        let count = buf
            .get(keys.body + 4..keys.body + 8)
            .ok_or_else(bad)?
            .iter()
            .fold(0u32, |v, b| (v << 8) | u32::from(*b));
        let entries = children(buf, keys.body + 8, keys.end);
        if entries.len() as u64 != u64::from(count)
            || entries.last().map_or(keys.body + 8, |e| e.end) != keys.end
        {
            return Err(bad());
        }
        let names = entries
            .iter()
            .map(|e| String::from_utf8_lossy(&buf[e.body..e.end]).into_owned())
            .collect();
        Ok(Some(KeyedMeta {
            meta,
            full_box,
            kids,
            keys,
            names,
        }))
    }

    /// The 1-based index of key `name`.
    fn index(&self, name: &str) -> Option<u32> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| i as u32 + 1)
    }

    /// The text of the `ilst` item for key `index` (its first `data` atom).
    fn value(&self, buf: &[u8], index: u32) -> Option<String> {
        let ilst = self.kids.iter().find(|k| &k.kind == b"ilst")?;
        let item = children(buf, ilst.body, ilst.end)
            .into_iter()
            .find(|i| i.kind == index.to_be_bytes())?;
        let data = children(buf, item.body, item.end)
            .into_iter()
            .find(|d| &d.kind == b"data")?;
        let text = buf.get(data.body + 8..data.end)?;
        Some(String::from_utf8_lossy(text).into_owned())
    }

    /// The value of Apple's creation date key, when it holds a date with its offset.
    fn creation_date(&self, buf: &[u8]) -> Option<DateTime<FixedOffset>> {
        let text = self.value(buf, self.index(KEY_CREATION)?)?;
        DateTime::parse_from_str(text.trim_end_matches('\0'), "%Y-%m-%dT%H:%M:%S%z").ok()
    }

    /// This `meta` with `set` (name, value) pairs: existing keys get their item replaced,
    /// new keys are appended to `keys` and `ilst`.
    fn with(&self, buf: &[u8], set: &[(&str, String)]) -> Result<Vec<u8>, String> {
        let mut new_names = Vec::new();
        let mut items: Vec<(u32, Vec<u8>)> = Vec::new();
        for (name, value) in set {
            let index = match self.index(name) {
                Some(i) => i,
                None => {
                    new_names.push(*name);
                    u32::try_from(self.names.len() + new_names.len())
                        .map_err(|_| "too many keys")?
                }
            };
            items.push((index, ilst_item(index, value)?));
        }
        let mut body = if self.full_box {
            buf[self.meta.body..self.meta.body + 4].to_vec()
        } else {
            Vec::new()
        };
        let mut had_ilst = false;
        for kid in &self.kids {
            if kid.start == self.keys.start {
                let mut k = buf[kid.body..kid.body + 4].to_vec();
                let count = u32::try_from(self.names.len() + new_names.len())
                    .map_err(|_| "too many keys")?;
                k.extend_from_slice(&count.to_be_bytes());
                k.extend_from_slice(&buf[kid.body + 8..kid.end]);
                for n in &new_names {
                    k.extend_from_slice(&key_entry(n)?);
                }
                body.extend_from_slice(&atom(b"keys", &k)?);
            } else if &kid.kind == b"ilst" {
                had_ilst = true;
                let mut l = Vec::new();
                let old = children(buf, kid.body, kid.end);
                for item in &old {
                    let index = u32::from_be_bytes(item.kind);
                    if !items.iter().any(|(i, _)| *i == index) {
                        l.extend_from_slice(&buf[item.start..item.end]);
                    }
                }
                l.extend_from_slice(&buf[old.last().map_or(kid.body, |b| b.end)..kid.end]);
                for (_, item) in &items {
                    l.extend_from_slice(item);
                }
                body.extend_from_slice(&atom(b"ilst", &l)?);
            } else {
                body.extend_from_slice(&buf[kid.start..kid.end]);
            }
        }
        if !had_ilst {
            let l: Vec<u8> = items.iter().flat_map(|(_, i)| i.clone()).collect();
            body.extend_from_slice(&atom(b"ilst", &l)?);
        }
        atom(b"meta", &body)
    }
}

/// A new movie-level `meta` (QuickTime form, as Apple and Android write it) holding `set`.
fn new_keyed_meta(set: &[(&str, String)]) -> Result<Vec<u8>, String> {
    let mut hdlr = vec![0; 8]; // version, flags, pre_defined
    hdlr.extend_from_slice(b"mdta");
    hdlr.extend_from_slice(&[0; 13]); // reserved, empty name
    let mut keys = vec![0; 4];
    keys.extend_from_slice(&(set.len() as u32).to_be_bytes());
    let mut ilst = Vec::new();
    for (i, (name, value)) in set.iter().enumerate() {
        keys.extend_from_slice(&key_entry(name)?);
        ilst.extend_from_slice(&ilst_item(i as u32 + 1, value)?);
    }
    let mut body = atom(b"hdlr", &hdlr)?;
    body.extend_from_slice(&atom(b"keys", &keys)?);
    body.extend_from_slice(&atom(b"ilst", &ilst)?);
    atom(b"meta", &body)
}

/// What the edited `moov` needs from the box after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Room {
    /// The size of a `free`/`skip` box right after `moov` (it may be shortened).
    FreeAfter(u64),
    None,
}

impl Room {
    /// The room a box `header` (read right after `moov`) offers.
    fn after(header: &[u8]) -> Room {
        match header.get(0..8) {
            Some(h) if &h[4..8] == b"free" || &h[4..8] == b"skip" => {
                match u32::from_be_bytes(h[0..4].try_into().expect("4")) {
                    s @ 8.. => Room::FreeAfter(s.into()),
                    _ => Room::None,
                }
            }
            _ => Room::None,
        }
    }
}

/// Where `moov` is in the input file, which decides where its growth can go.
#[derive(Debug, Clone, Copy)]
struct Place {
    /// Where `moov` ends in the input file: whatever is past it moves when `moov` grows.
    moov_end_in: u64,
    /// The free box right after `moov`.
    room: Room,
}

/// The boxes of a `moov` the edit works on.
struct MoovBoxes {
    moov: BoxRef,
    /// Its children.
    top: Vec<BoxRef>,
    udta: Option<BoxRef>,
}

/// Edits a whole `moov` box in memory (at `place` in the input file). Returns how many bytes
/// of the `free` box after `moov` (`place.room`) the growth used: the caller shortens that box
/// by as much.
fn edit_moov(
    buf: &mut Vec<u8>,
    tags: &Tags,
    zone: &TimeZoneChoice,
    place: Place,
    w: &mut Written,
) -> Result<u64, String> {
    let moov = *children(buf, 0, buf.len())
        .first()
        .ok_or("malformed moov")?;
    let top = children(buf, moov.body, moov.end);
    let mvhd = *top
        .iter()
        .find(|b| &b.kind == b"mvhd")
        .ok_or("no mvhd in moov")?;
    let own_unix = movie_creation(buf, mvhd)?;
    if let Some(unix) = own_unix {
        let utc = DateTime::<Utc>::from_timestamp(unix, 0).map(|d| d.naive_utc());
        w.existing_date = utc.map(|d: NaiveDateTime| (d, FixedOffset::east_opt(0)));
    }
    let (keyed, other_meta) = movie_meta(buf, &top)?;
    // Apple's creation date, with its offset, is the better reading of the file's own date.
    if let Some(d) = keyed.as_ref().and_then(|k| k.creation_date(buf)) {
        w.existing_date = Some((d.naive_local(), Some(*d.offset())));
    }

    // Times: written when the file has none, when asked to overwrite, or when the sidecar's
    // instant is further from the file's than any clock's zone could put it (more than 14
    // hours and a minute: a date corrected in Google Photos, or a camera clock never set).
    // A video's own times are looser than a photo's (some devices stamp the end of the
    // recording, some the local time as UTC), hence no finer rule than that.
    let corrected = match (tags.taken, w.existing_date) {
        (Some(t), Some((wall, off))) if !tags.keep_camera_dates => {
            let own =
                wall.and_utc().timestamp() - off.map_or(0, |o| i64::from(o.local_minus_utc()));
            (own - t).abs() > 14 * 3600 + 60
        }
        _ => false,
    };
    let date_to_write = tags
        .taken
        .filter(|_| w.existing_date.is_none() || tags.overwrite_dates || corrected);
    if let (true, false, Some((wall, off))) = (corrected, tags.overwrite_dates, w.existing_date) {
        w.camera_date = Some(wall);
        w.notes.push(format!(
            "the date corrected in Google Photos replaces the video's own ({}{})",
            wall.format("%Y-%m-%d %H:%M:%S"),
            off.map_or(String::new(), |o| format!(" {o}"))
        ));
    }
    if let Some(t) = date_to_write {
        set_movie_times(buf, moov, mvhd, t, w)?;
    }

    // What is added: Apple's keys, and ©xyz in udta.
    let udta = top.iter().find(|b| &b.kind == b"udta").copied();
    let has_xyz = udta.is_some_and(|u| {
        children(buf, u.body, u.end)
            .iter()
            .any(|b| &b.kind == b"\xa9xyz")
    });
    let xyz = tags.geo.filter(|_| !has_xyz).map(xyz_atom);
    let meta = if other_meta {
        w.notes
            .push("movie metadata of another kind: Apple keys not written".into());
        None
    } else {
        let set = apple_keys(keyed.as_ref(), tags, zone, date_to_write, own_unix, w)?;
        match (&keyed, set.is_empty()) {
            (_, true) => None,
            (Some(k), false) => Some((Some(k.meta), k.with(buf, &set)?)),
            (None, false) => Some((None, new_keyed_meta(&set)?)),
        }
    };
    let boxes = MoovBoxes { moov, top, udta };
    finish(buf, &boxes, meta, xyz, place, w)
}

/// The creation time of the movie header as Unix seconds, when it is after 1904 (zero is the
/// usual "unknown").
fn movie_creation(buf: &[u8], mvhd: BoxRef) -> Result<Option<i64>, String> {
    let (created, _, _) = time_fields(buf, mvhd).ok_or("malformed mvhd")?;
    Ok(i64::try_from(created)
        .ok()
        .and_then(|c| c.checked_sub(EPOCH_1904))
        .filter(|_| created > EPOCH_1904 as u64))
}

/// The movie-level `meta` among `top`: its Apple keys, or `true` when it is of another kind.
fn movie_meta(buf: &[u8], top: &[BoxRef]) -> Result<(Option<KeyedMeta>, bool), String> {
    let metas: Vec<BoxRef> = top.iter().filter(|b| &b.kind == b"meta").copied().collect();
    Ok(match metas.as_slice() {
        [] => (None, false),
        [m] => match KeyedMeta::parse(buf, *m)? {
            Some(k) => (Some(k), false),
            None => (None, true),
        },
        _ => return Err("two meta atoms in moov".into()),
    })
}

/// Sets the creation and modification times of `mvhd` and of every `tkhd` and `mdhd` to
/// `t` (Unix seconds); a date before 1904 is left out with a note.
fn set_movie_times(
    buf: &mut [u8],
    moov: BoxRef,
    mvhd: BoxRef,
    t: i64,
    w: &mut Written,
) -> Result<(), String> {
    let Some(qt) = t
        .checked_add(EPOCH_1904)
        .and_then(|q| u64::try_from(q).ok())
    else {
        w.notes.push(
            "date before 1904: not a QuickTime time, the movie's times are left as they are".into(),
        );
        return Ok(());
    };
    let mut boxes = vec![mvhd];
    find_all(buf, moov, b"tkhd", &mut boxes)?;
    find_all(buf, moov, b"mdhd", &mut boxes)?;
    for b in boxes {
        let Some((_, at, width)) = time_fields(buf, b) else {
            continue;
        };
        for field in [at, at + width] {
            if width == 4 {
                let v = u32::try_from(qt).map_err(|_| "date beyond 2040 in a 32-bit box")?;
                buf[field..field + 4].copy_from_slice(&v.to_be_bytes());
            } else {
                buf[field..field + 8].copy_from_slice(&qt.to_be_bytes());
            }
        }
    }
    w.written_date = DateTime::<Utc>::from_timestamp(t, 0).map(|d| d.fixed_offset());
    w.changed = true;
    Ok(())
}

/// The Apple keys to set: the location when the file has none, and the creation date: the
/// date written now (`date_to_write`), else the file's own instant (`own_unix`, from its
/// movie header) in its local time, when the file has no such key yet.
fn apple_keys(
    keyed: Option<&KeyedMeta>,
    tags: &Tags,
    zone: &TimeZoneChoice,
    date_to_write: Option<i64>,
    own_unix: Option<i64>,
    w: &mut Written,
) -> Result<Vec<(&'static str, String)>, String> {
    let has = |key: &str| keyed.is_some_and(|k| k.index(key).is_some());
    let mut set = Vec::new();
    if let Some(g) = tags.geo {
        if !has(KEY_LOCATION) {
            set.push((KEY_LOCATION, iso6709(g)));
        }
    }
    let instant = date_to_write.or(own_unix.filter(|_| !has(KEY_CREATION)));
    if let Some(t) = instant {
        let local = zone
            .localize(t, tags.geo, None)
            .ok_or("date out of range")?;
        set.push((
            KEY_CREATION,
            local.format("%Y-%m-%dT%H:%M:%S%z").to_string(),
        ));
        if date_to_write.is_some() {
            w.written_date = Some(local);
        }
    }
    Ok(set)
}

/// A child of `moov` and its new bytes (`None`: the child as it is, read after any shift).
type Part = (BoxRef, Option<Vec<u8>>);

fn part_len((k, b): &Part) -> usize {
    b.as_ref().map_or(k.end - k.start, Vec::len)
}

/// Lays out the new `moov`: `meta` replaces (or is added as) the movie metadata, `xyz` goes
/// into `udta`; the growth is taken from a `free` atom in `moov` or right after it when one
/// has room, else chunk offsets past `moov` are shifted.
fn finish(
    buf: &mut Vec<u8>,
    boxes: &MoovBoxes,
    meta: Option<(Option<BoxRef>, Vec<u8>)>,
    xyz: Option<Vec<u8>>,
    place: Place,
    w: &mut Written,
) -> Result<u64, String> {
    if meta.is_none() && xyz.is_none() {
        return Ok(0);
    }
    let mut parts = edited_children(buf, boxes, &meta, xyz.as_deref())?;
    let mut added = Vec::new();
    if let Some((None, new)) = &meta {
        added.extend_from_slice(new);
    }
    if let (Some(x), None) = (&xyz, boxes.udta) {
        added.extend_from_slice(&atom(b"udta", x)?);
    }
    let growth = growth_or_free(&boxes.top, &parts, &mut added)?;
    let Some(room) = make_room(buf, boxes, &mut parts, growth, place, w)? else {
        return Ok(0);
    };
    *buf = assemble(buf, boxes, &parts, &added, room.moov_growth)?;
    w.changed = true;
    Ok(room.consumed_after)
}

/// The children of `moov`, with the movie `meta` replaced and `xyz` added to `udta`.
fn edited_children(
    buf: &[u8],
    boxes: &MoovBoxes,
    meta: &Option<(Option<BoxRef>, Vec<u8>)>,
    xyz: Option<&[u8]>,
) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    for kid in &boxes.top {
        let bytes = match (meta, xyz) {
            (Some((Some(m), new)), _) if m.start == kid.start => Some(new.clone()),
            (_, Some(x)) if boxes.udta.is_some_and(|u| u.start == kid.start) => {
                // After the last user-data atom (before a QuickTime zero terminator, if any).
                let at = children(buf, kid.body, kid.end)
                    .last()
                    .map_or(kid.body, |b| b.end);
                let mut u = buf[kid.start..at].to_vec();
                u.extend_from_slice(x);
                u.extend_from_slice(&buf[at..kid.end]);
                let size = (kid.end - kid.start + x.len()) as u64;
                set_size(&mut u, kid.body - kid.start, size)?;
                Some(u)
            }
            _ => None,
        };
        parts.push((*kid, bytes));
    }
    Ok(parts)
}

/// How many bytes the edited children (`parts` and `added`) grow `moov` by. When they are
/// shorter than the old children (`top`), a `free` atom is added to keep `moov`'s size.
fn growth_or_free(top: &[BoxRef], parts: &[Part], added: &mut Vec<u8>) -> Result<u64, String> {
    let old_len: usize = top.iter().map(|k| k.end - k.start).sum();
    let mut new_len: usize = parts.iter().map(part_len).sum::<usize>() + added.len();
    if new_len < old_len {
        // A replaced key value was longer than the new one: free space keeps moov's size.
        let short = (old_len - new_len) as u64;
        if short < 8 {
            return Err("the movie metadata would shrink by less than a free atom".into());
        }
        added.extend_from_slice(&free_atom(short)?);
        new_len = old_len;
    }
    Ok((new_len - old_len) as u64)
}

/// Where the growth went.
struct Growth {
    /// By how much `moov` itself grows (0 when a free atom inside it gave the room).
    moov_growth: u64,
    /// How many bytes of the free box after `moov` were used.
    consumed_after: u64,
}

/// Finds room for `growth` bytes: a free atom inside `moov` (shortened in `parts`), the free
/// box right after it, or else shifted chunk offsets. `None` when there is no free space and
/// the media cannot follow: a fragmented video (its fragment offsets are not shifted) or a
/// track whose chunk offset table is out of certain reach.
fn make_room(
    buf: &mut [u8],
    boxes: &MoovBoxes,
    parts: &mut [Part],
    growth: u64,
    place: Place,
    w: &mut Written,
) -> Result<Option<Growth>, String> {
    let fits = |size: u64| size == growth || size >= growth + 8;
    let mut room = Growth {
        moov_growth: growth,
        consumed_after: 0,
    };
    // 1. A free atom inside moov that can give up `growth` bytes.
    let inside = parts
        .iter()
        .position(|p| (&p.0.kind == b"free" || &p.0.kind == b"skip") && fits(part_len(p) as u64));
    if let Some(i) = inside {
        let size = part_len(&parts[i]) as u64;
        parts[i].1 = Some(if size == growth {
            Vec::new()
        } else {
            free_atom(size - growth)?
        });
        room.moov_growth = 0;
    } else if matches!(place.room, Room::FreeAfter(size) if fits(size)) {
        // 2. The free atom right after moov: shortened by the caller, media stays put.
        room.consumed_after = growth;
    } else if boxes.top.iter().any(|b| &b.kind == b"mvex") {
        w.notes
            .push("fragmented video without free space: location not embedded".into());
        return Ok(None);
    } else if proof::sample_tables(&buf[boxes.moov.start..boxes.moov.end]).is_err() {
        w.notes.push(
            "a track of this video is not laid out as expected and there is no free space: \
             location not embedded (the frames stay where they are)"
                .into(),
        );
        return Ok(None);
    } else {
        // 3. Whatever follows moov moves by the growth: so do the chunk offsets that point
        // there (wherever earlier media data is, no offset before moov changes).
        shift_chunk_offsets(buf, boxes.moov, place.moov_end_in, growth)?;
    }
    Ok(Some(room))
}

/// The new `moov`: its header with the size grown by `moov_growth`, the edited children
/// `parts`, the `added` atoms, and whatever followed the last child.
fn assemble(
    buf: &[u8],
    boxes: &MoovBoxes,
    parts: &[Part],
    added: &[u8],
    moov_growth: u64,
) -> Result<Vec<u8>, String> {
    let moov = boxes.moov;
    let header = moov.body - moov.start;
    let mut out = buf[moov.start..moov.body].to_vec();
    let size = (moov.end - moov.start) as u64;
    set_size(
        &mut out,
        header,
        size.checked_add(moov_growth).ok_or("moov too large")?,
    )?;
    for (k, b) in parts {
        out.extend_from_slice(b.as_deref().unwrap_or(&buf[k.start..k.end]));
    }
    out.extend_from_slice(added);
    // Whatever followed the last child (a terminator, padding) stays last.
    out.extend_from_slice(&buf[boxes.top.last().map_or(moov.body, |k| k.end)..moov.end]);
    Ok(out)
}

/// The chunks (offset, length) of every track of the first `moov` of `file`, read with the
/// strict walk that proves edits; `None` when they cannot be read with certainty. For the
/// fuzz properties.
#[doc(hidden)]
pub fn chunk_offsets(file: &[u8]) -> Option<Vec<Vec<(u64, u64)>>> {
    let moov = children(file, 0, file.len())
        .into_iter()
        .find(|b| &b.kind == b"moov")?;
    proof::sample_tables(&file[moov.start..moov.end]).ok()
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
    zone: &TimeZoneChoice,
) -> io::Result<Written> {
    let mut copy = Copy {
        src,
        dst,
        tags,
        zone,
        w: Written::default(),
        pos: 0,
        done_moov: false,
        cut_short: false,
        pending: None,
    };
    while copy.next_box()? {}
    let mut w = copy.w;
    if !copy.done_moov && !w.notes.iter().any(|n| n.contains("video")) {
        w.notes
            .push("no movie header (moov) found: copied unchanged".into());
    }
    // Every note above says that something was not embedded.
    w.incomplete = !w.notes.is_empty();
    if copy.cut_short {
        w.notes.push(if w.changed {
            "the video is cut short (its media data ends early): its metadata is written, \
             the rest is copied as far as it goes"
                .into()
        } else {
            "the video is cut short (its media data ends early): copied as far as it goes".into()
        });
    }
    Ok(w)
}

/// One top-level box header as read.
struct BoxHeader {
    /// Its bytes (8, or 16 with a 64-bit size).
    bytes: Vec<u8>,
    /// The 32-bit size field (0: to the end of the file, 1: a 64-bit size follows).
    size32: u32,
    kind: [u8; 4],
    /// The box's size; `None` for "to the end of the file".
    size: Option<u64>,
}

/// The state of [`rewrite`]'s copy, box by box.
struct Copy<'a, R: Read + ?Sized, W: Write + ?Sized> {
    src: &'a mut R,
    dst: &'a mut W,
    tags: &'a Tags,
    zone: &'a TimeZoneChoice,
    w: Written,
    /// The input position.
    pos: u64,
    done_moov: bool,
    /// The file ends inside a box after `moov`.
    cut_short: bool,
    /// A box header read ahead (to see whether free space follows moov).
    pending: Option<Vec<u8>>,
}

impl<R: Read + ?Sized, W: Write + ?Sized> Copy<'_, R, W> {
    /// Copies (or edits) the next top-level box; `false` when the copy is over.
    fn next_box(&mut self) -> io::Result<bool> {
        let Some(header) = self.read_header()? else {
            return Ok(false);
        };
        let header_len = header.bytes.len() as u64;
        let Some(size) = header.size.filter(|s| *s >= header_len) else {
            // The rest of the file, as it is.
            self.dst.write_all(&header.bytes)?;
            io::copy(self.src, self.dst)?;
            if header.size32 != 0 && !self.done_moov {
                self.w
                    .notes
                    .push("video structure not understood: copied unchanged".into());
            }
            return Ok(false);
        };
        let more = if &header.kind == b"moov" && !self.done_moov && size <= MAX_MOOV {
            self.moov(header.bytes, size)?
        } else {
            self.copy_box(header, size)?
        };
        self.pos = self.pos.saturating_add(size);
        Ok(more)
    }

    /// The next box header; `None` (what there was copied) when the file ends inside it.
    fn read_header(&mut self) -> io::Result<Option<BoxHeader>> {
        let mut bytes = match self.pending.take() {
            Some(h) => h,
            None => read_up_to(self.src, 8)?,
        };
        if bytes.len() < 8 {
            self.dst.write_all(&bytes)?;
            return Ok(None);
        }
        let size32 = u32::from_be_bytes(bytes[0..4].try_into().expect("4"));
        let kind: [u8; 4] = bytes[4..8].try_into().expect("4");
        let size = match size32 {
            0 => None, // to the end of the file
            1 => {
                let ext = read_up_to(self.src, 8)?;
                bytes.extend_from_slice(&ext);
                if ext.len() < 8 {
                    self.dst.write_all(&bytes)?;
                    return Ok(None);
                }
                Some(u64::from_be_bytes(ext.try_into().expect("8")))
            }
            s => Some(s as u64),
        };
        Ok(Some(BoxHeader {
            bytes,
            size32,
            kind,
            size,
        }))
    }

    /// Copies a box other than the `moov` we edit, as it is.
    fn copy_box(&mut self, header: BoxHeader, size: u64) -> io::Result<bool> {
        self.dst.write_all(&header.bytes)?;
        let body = size - header.bytes.len() as u64;
        let copied = io::copy(&mut self.src.take(body), self.dst)?;
        if copied < body {
            if self.done_moov {
                self.cut_short = true;
            } else {
                self.w
                    .notes
                    .push("truncated video: copied unchanged".into());
            }
            return Ok(false);
        }
        Ok(true)
    }

    /// Reads the `moov` box of `size` bytes (whose header is `buf`), edits it and writes it;
    /// on an error writes it unchanged with a note.
    fn moov(&mut self, mut buf: Vec<u8>, size: u64) -> io::Result<bool> {
        let header_len = buf.len() as u64;
        buf.extend_from_slice(&read_up_to(self.src, (size - header_len) as usize)?);
        if (buf.len() as u64) < size {
            self.dst.write_all(&buf)?;
            self.w
                .notes
                .push("truncated video: copied unchanged".into());
            return Ok(false);
        }
        let next = read_up_to(self.src, 8)?;
        let place = Place {
            moov_end_in: self.pos.saturating_add(size),
            room: Room::after(&next),
        };
        let original = buf.clone();
        let before = (self.w.notes.len(), self.w.written_date);
        let edited = edit_moov(&mut buf, self.tags, self.zone, place, &mut self.w);
        // The edit is used only once proven (see `proof`): what it replaces, by what.
        let proven = edited.and_then(|consumed| {
            let (old_len, new_len) = match place.room {
                // The free box after moov: its header and the bytes moov took are replaced
                // by a new header, or the whole box went.
                Room::FreeAfter(free) if consumed > 0 && free > consumed => {
                    (size + 8 + consumed, buf.len() as u64 + 8)
                }
                Room::FreeAfter(free) if consumed > 0 => (size + free, buf.len() as u64),
                _ => (size, buf.len() as u64),
            };
            let edit = proof::Edit {
                start: self.pos,
                old_len,
                new_len,
            };
            proof::prove(&original, &buf, edit).map(|()| consumed)
        });
        match proven {
            Ok(consumed) => {
                self.dst.write_all(&buf)?;
                if consumed > 0 {
                    if !self.shorten_free(place.room, consumed)? {
                        return Ok(false);
                    }
                } else {
                    self.pending = Some(next);
                }
            }
            Err(reason) => {
                self.w.notes.truncate(before.0);
                self.w
                    .notes
                    .push(format!("video metadata not written: {reason}"));
                self.w.changed = false;
                self.w.written_date = before.1;
                self.dst.write_all(&original)?;
                self.pending = Some(next);
            }
        }
        self.done_moov = true;
        Ok(true)
    }

    /// Copies the free box after `moov` (whose header was read) less the `consumed` bytes
    /// the grown `moov` took; `false` when the file ends inside it.
    fn shorten_free(&mut self, room: Room, consumed: u64) -> io::Result<bool> {
        let Room::FreeAfter(free) = room else {
            unreachable!("consumed only from a free box")
        };
        // Its header was read: its contents are `free - 8` bytes.
        let drop = if free > consumed {
            // A shorter free box: the first `consumed` bytes of contents go, the rest stays.
            self.dst
                .write_all(&((free - consumed) as u32).to_be_bytes())?;
            self.dst.write_all(b"free")?;
            consumed
        } else {
            // All of it went into moov.
            free - 8
        };
        let dropped = io::copy(&mut self.src.take(drop), &mut io::sink())?;
        let rest = (free - 8).saturating_sub(drop);
        let kept = io::copy(&mut self.src.take(rest), self.dst)?;
        if dropped < drop || kept < rest {
            self.cut_short = true;
            return Ok(false);
        }
        self.pos = self.pos.saturating_add(free);
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
