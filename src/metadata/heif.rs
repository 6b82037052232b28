//! HEIC / HEIF / AVIF: EXIF in the file's `Exif` item, by editing the item boxes ourselves.
//!
//! A HEIF file is a `meta` box (the item index: `pitm` names the primary image, `iinf` lists
//! the items, `iloc` says where each item's bytes are, `iref` links items) and the items' data,
//! usually in `mdat`. Nothing the camera wrote is moved or re-encoded:
//! - the new EXIF payload (4-byte TIFF-header offset + the TIFF block from
//!   [`exif_block::encode`]) goes into a new `mdat` box at the end of the file;
//! - a file without an Exif item gets one: an `infe` of type `Exif`, its `iloc` entry, and an
//!   `iref` `cdsc` link to the *primary* item (in iPhone files a grid, not item 1);
//! - a file with an Exif item gets that item's `iloc` entry pointed at the new payload (the
//!   old bytes stay where they were, unreferenced);
//! - when `meta` grows, every `iloc` offset that points past it is shifted by the growth.
//!
//! Every other item's bytes are checked to read back identically through the new index, and
//! an independent reader (`proof`) checks that every item's extents moved exactly with the
//! bytes around the grown `meta`, before the result is used. Counts are bounded by the bytes
//! that hold them: an `iloc` extent of no bytes cannot be repeated, and items claiming more
//! bytes than the file holds are refused (reading them back would cost a multiple of the file). Anything not understood (fragmented files, image sequences, external
//! data references, odd field sizes) leaves the file unchanged with a note, and the XMP sidecar
//! carries the metadata. The whole file is held in memory: HEICs are a few MB; anything over
//! `MAX_HEIF` is copied unchanged.

use std::io::{self, Read, Write};

use super::exif_block::{self, ImageFacts};
use super::{Tags, TimeZoneChoice, Written};

mod proof;

const MAX_HEIF: u64 = 64 * 1024 * 1024;

type R<T> = Result<T, String>;

/// Copies a HEIF-family image from `src` to `dst`, adding the EXIF tags of `tags` that its
/// existing EXIF lacks (or an Exif item when it has none).
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

fn bad(what: &str) -> String {
    format!("HEIF structure not understood ({what}): EXIF not written")
}

fn edit(
    buf: &[u8],
    tags: &Tags,
    zone: &TimeZoneChoice,
    w: &mut Written,
) -> Result<Option<Vec<u8>>, String> {
    let file = Heif::parse(buf)?;
    let exif_id = file.exif_item()?;
    // The payload's first 4 bytes give the TIFF header's offset past them ("Exif\0\0" often
    // sits between): that prefix is kept as it was.
    let old_payload = exif_id.map(|id| file.item_data(buf, id)).transpose()?;
    let (prefix, tiff) = match &old_payload {
        Some(p) => {
            let skip = uint(p, 0, 4).map_err(|_| bad("Exif item too short"))?;
            let start = usize::try_from(skip)
                .ok()
                .and_then(|s| s.checked_add(4))
                .filter(|s| *s <= p.len())
                .ok_or_else(|| bad("Exif item's TIFF offset"))?;
            (p[..start].to_vec(), Some(&p[start..]))
        }
        None => (0u32.to_be_bytes().to_vec(), None),
    };
    let facts = ImageFacts {
        dimensions: file.primary_dimensions(buf),
        ..ImageFacts::default()
    };
    let Some(block) = exif_block::encode(tiff, &facts, tags, zone, w)? else {
        return Ok(None);
    };
    let mut payload = prefix;
    payload.extend_from_slice(&block);
    let (out, id) = file.with_exif(buf, exif_id, &payload)?;
    file.check(buf, &out, id, &payload)?;
    proof::prove(buf, &out, id).map_err(|e| format!("EXIF not written: {e}"))?;

    // And the independent reader finds the new tags.
    let read = exif::Reader::new()
        .read_from_container(&mut io::Cursor::new(&out))
        .map_err(|e| format!("EXIF not written: the result is unreadable ({e})"))?;
    let has = |t| read.get_field(t, exif::In::PRIMARY).is_some();
    if w.written_date.is_some() && !has(exif::Tag::DateTimeOriginal) {
        return Err("EXIF not written: the result lost the date".into());
    }
    if tags.geo.is_some() && !has(exif::Tag::GPSLatitude) {
        return Err("EXIF not written: the result lost the position".into());
    }
    Ok(Some(out))
}

/// An unsigned big-endian integer of `n` bytes (0 to 8) at `at`.
fn uint(buf: &[u8], at: usize, n: usize) -> R<u64> {
    let end = at.checked_add(n).ok_or_else(|| bad("offset"))?;
    let bytes = buf.get(at..end).ok_or_else(|| bad("truncated box"))?;
    Ok(bytes.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b)))
}

/// Appends `v` as an `n`-byte big-endian integer, if it fits.
fn put(out: &mut Vec<u8>, v: u64, n: usize) -> R<()> {
    if n < 8 && v >> (8 * n) != 0 {
        return Err(bad("a value does not fit its field"));
    }
    out.extend_from_slice(&v.to_be_bytes()[8 - n..]);
    Ok(())
}

/// A box with `body` as its contents (8-byte header, or 16 when it must).
fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 16);
    match u32::try_from(body.len() + 8) {
        Ok(size) => out.extend_from_slice(&size.to_be_bytes()),
        Err(_) => {
            out.extend_from_slice(&1u32.to_be_bytes());
            out.extend_from_slice(kind);
            out.extend_from_slice(&(body.len() as u64 + 16).to_be_bytes());
            out.extend_from_slice(body);
            return out;
        }
    }
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

/// A box in a buffer: its type and where its header and contents are.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bx {
    kind: [u8; 4],
    start: usize,
    /// Start of the contents (after the 8- or 16-byte header).
    body: usize,
    end: usize,
    /// Its size field is 0 ("to the end of the enclosing space").
    to_end: bool,
}

/// The boxes that fill `buf[start..end]` exactly; anything else is not understood.
fn boxes(buf: &[u8], start: usize, end: usize) -> R<Vec<Bx>> {
    let mut out = Vec::new();
    let mut pos = start;
    while pos < end {
        let size32 = uint(buf, pos, 4)?;
        let kind: [u8; 4] = buf
            .get(pos + 4..pos + 8)
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| bad("truncated box header"))?;
        let room = (end - pos) as u64;
        let (size, header) = match size32 {
            0 => (room, 8),
            1 => (uint(buf, pos + 8, 8)?, 16),
            s => (s, 8),
        };
        if size < header as u64 || size > room {
            return Err(bad("box size"));
        }
        let box_end = pos + size as usize; // size <= room
        out.push(Bx {
            kind,
            start: pos,
            body: pos + header,
            end: box_end,
            to_end: size32 == 0,
        });
        pos = box_end;
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq)]
struct Extent {
    index: u64,
    offset: u64,
    length: u64,
}

#[derive(Debug, Clone, PartialEq)]
struct IlocItem {
    id: u32,
    /// The 16 bits holding the construction method (versions 1 and 2), reserved bits kept.
    method_field: u16,
    data_ref: u16,
    base: u64,
    extents: Vec<Extent>,
}

impl IlocItem {
    fn method(&self) -> u16 {
        self.method_field & 0xF
    }
}

/// The `iloc` box, parsed whole (ISO/IEC 14496-12, ItemLocationBox).
#[derive(Debug, Clone)]
struct Iloc {
    version: u8,
    flags: [u8; 3],
    offset_size: usize,
    length_size: usize,
    base_size: usize,
    index_size: usize,
    items: Vec<IlocItem>,
}

impl Iloc {
    fn parse(buf: &[u8], b: Bx) -> R<Iloc> {
        let mut at = b.body;
        let mut take = |n: usize| -> R<u64> {
            if at.checked_add(n).is_none_or(|e| e > b.end) {
                return Err(bad("truncated iloc"));
            }
            let v = uint(buf, at, n)?;
            at += n;
            Ok(v)
        };
        let version = take(1)? as u8;
        let flags = (take(3)? as u32).to_be_bytes()[1..].try_into().expect("3");
        if version > 2 {
            return Err(bad("iloc version"));
        }
        let sizes = take(2)?;
        let field = |shift: u32| -> R<usize> {
            match (sizes >> shift) & 0xF {
                0 => Ok(0),
                4 => Ok(4),
                8 => Ok(8),
                _ => Err(bad("iloc field size")),
            }
        };
        let offset_size = field(12)?;
        let length_size = field(8)?;
        let base_size = field(4)?;
        let index_size = if version >= 1 { field(0)? } else { 0 };
        let id_size = if version == 2 { 4 } else { 2 };
        // Each extent takes this many bytes of the box; with none, a count could claim any
        // number of extents (and memory) for free.
        let extent_size = index_size + offset_size + length_size;
        let count = take(id_size)?;
        let mut items = Vec::new();
        for _ in 0..count {
            let id = take(id_size)? as u32;
            let method_field = if version >= 1 { take(2)? as u16 } else { 0 };
            let data_ref = take(2)? as u16;
            let base = take(base_size)?;
            let n = take(2)?;
            if extent_size == 0 && n > 1 {
                return Err(bad("iloc extents that take no bytes"));
            }
            let mut extents = Vec::new();
            for _ in 0..n {
                extents.push(Extent {
                    index: take(index_size)?,
                    offset: take(offset_size)?,
                    length: take(length_size)?,
                });
            }
            items.push(IlocItem {
                id,
                method_field,
                data_ref,
                base,
                extents,
            });
        }
        if at != b.end {
            return Err(bad("iloc has trailing bytes"));
        }
        Ok(Iloc {
            version,
            flags,
            offset_size,
            length_size,
            base_size,
            index_size,
            items,
        })
    }

    fn encode(&self) -> R<Vec<u8>> {
        let mut body = vec![self.version];
        body.extend_from_slice(&self.flags);
        let sizes = (self.offset_size << 12)
            | (self.length_size << 8)
            | (self.base_size << 4)
            | if self.version >= 1 {
                self.index_size
            } else {
                0
            };
        put(&mut body, sizes as u64, 2)?;
        let id_size = if self.version == 2 { 4 } else { 2 };
        put(&mut body, self.items.len() as u64, id_size)?;
        for item in &self.items {
            put(&mut body, item.id.into(), id_size)?;
            if self.version >= 1 {
                put(&mut body, item.method_field.into(), 2)?;
            }
            put(&mut body, item.data_ref.into(), 2)?;
            put(&mut body, item.base, self.base_size)?;
            put(&mut body, item.extents.len() as u64, 2)?;
            for e in &item.extents {
                if self.version >= 1 {
                    put(&mut body, e.index, self.index_size)?;
                }
                put(&mut body, e.offset, self.offset_size)?;
                put(&mut body, e.length, self.length_size)?;
            }
        }
        Ok(boxed(b"iloc", &body))
    }
}

/// An item reference (`iref` child): `from` refers to each of `to` as `kind`.
#[derive(Debug, Clone, PartialEq)]
struct Ref {
    kind: [u8; 4],
    from: u32,
    to: Vec<u32>,
}

/// The file's top-level boxes and its one `meta` box: a still image (`ftyp` first, nothing of
/// an image sequence or a fragmented file).
fn top_level(buf: &[u8]) -> R<(Vec<Bx>, Bx)> {
    let top = boxes(buf, 0, buf.len())?;
    if top.first().is_none_or(|b| &b.kind != b"ftyp") {
        return Err(bad("no ftyp first"));
    }
    if top
        .iter()
        .any(|b| [b"moov", b"moof", b"sidx", b"mfra"].contains(&&b.kind))
    {
        return Err(bad("an image sequence or fragmented file"));
    }
    let mut metas = top.iter().filter(|b| &b.kind == b"meta");
    let meta = *metas.next().ok_or_else(|| bad("no meta box"))?;
    if metas.next().is_some() {
        return Err(bad("two meta boxes"));
    }
    if uint(buf, meta.body, 4)? != 0 {
        return Err(bad("meta version"));
    }
    Ok((top, meta))
}

/// The `iinf` box: its version and (item ID, item type) from every `infe`; the type is zero
/// for `infe` versions 0 and 1.
fn parse_iinf(buf: &[u8], iinf: Bx) -> R<(u8, Vec<Item>)> {
    let version = uint(buf, iinf.body, 1)? as u8;
    let count_size = if version == 0 { 2 } else { 4 };
    let count = uint(buf, iinf.body + 4, count_size)?;
    let entries = boxes(buf, iinf.body + 4 + count_size, iinf.end)?;
    if entries.len() as u64 != count || entries.iter().any(|e| &e.kind != b"infe" || e.to_end) {
        return Err(bad("iinf entries"));
    }
    let mut items = Vec::new();
    for e in entries {
        let v = uint(buf, e.body, 1)?;
        let (id, kind_at) = match v {
            0 | 1 => (uint(buf, e.body + 4, 2)?, None),
            2 => (uint(buf, e.body + 4, 2)?, Some(e.body + 8)),
            3 => (uint(buf, e.body + 4, 4)?, Some(e.body + 10)),
            _ => return Err(bad("infe version")),
        };
        let kind = match kind_at {
            Some(at) if at + 4 <= e.end => buf[at..at + 4].try_into().expect("4"),
            Some(_) => return Err(bad("truncated infe")),
            None => [0; 4],
        };
        items.push((id as u32, kind));
    }
    Ok((version, items))
}

/// The `iref` box `b`: its version and its references.
fn parse_iref(buf: &[u8], b: Bx) -> R<(u8, Vec<Ref>)> {
    let version = uint(buf, b.body, 1)? as u8;
    let id_size = match version {
        0 => 2,
        1 => 4,
        _ => return Err(bad("iref version")),
    };
    let mut refs = Vec::new();
    for r in boxes(buf, b.body + 4, b.end)? {
        let from = uint(buf, r.body, id_size)? as u32;
        let n = uint(buf, r.body + id_size, 2)? as usize;
        let mut to = Vec::with_capacity(n.min(1024));
        let mut at = r.body + id_size + 2;
        for _ in 0..n {
            if at + id_size > r.end {
                return Err(bad("truncated iref"));
            }
            to.push(uint(buf, at, id_size)? as u32);
            at += id_size;
        }
        if at != r.end || r.to_end {
            return Err(bad("iref entry size"));
        }
        refs.push(Ref {
            kind: r.kind,
            from,
            to,
        });
    }
    Ok((version, refs))
}

/// Points item `id` of `iloc` (added when it has none) at `len` bytes at file offset `at`,
/// widening fields of size zero that must now hold a value.
fn locate(iloc: &mut Iloc, id: u32, at: u64, len: usize) -> R<()> {
    if iloc.offset_size == 0 && iloc.base_size == 0 {
        iloc.offset_size = 4;
    }
    if iloc.length_size == 0 {
        iloc.length_size = 4;
    }
    let (base, offset) = if iloc.offset_size == 0 {
        (at, 0)
    } else {
        (0, at)
    };
    let located = IlocItem {
        id,
        method_field: 0,
        data_ref: 0,
        base,
        extents: vec![Extent {
            index: 0,
            offset,
            length: len as u64,
        }],
    };
    match iloc.items.iter_mut().find(|i| i.id == id) {
        // The reserved bits stay; the method becomes 0 (file offsets).
        Some(item) => {
            *item = IlocItem {
                method_field: item.method_field & !0xF,
                ..located
            }
        }
        None => iloc.items.push(located),
    }
    if iloc.version < 2 && id > 0xFFFF {
        return Err(bad("item ID too large for iloc"));
    }
    Ok(())
}

/// How many bytes the items of `iloc` claim in all, an extent of length 0 claiming the rest
/// of its space (a file of `file_len` bytes, or an `idat` of `idat_len`). Items' data does not
/// overlap in the files cameras write, so more than the file holds is not a photo: it would
/// only make reading the items back cost a multiple of the file.
fn claimed(iloc: &Iloc, file_len: usize, idat_len: usize) -> u64 {
    let mut total = 0u64;
    for item in &iloc.items {
        let space = match item.method() {
            0 => file_len,
            1 => idat_len,
            _ => continue, // constructed from other items: no bytes of its own
        } as u64;
        for e in &item.extents {
            let start = item.base.saturating_add(e.offset);
            let len = match e.length {
                0 => space.saturating_sub(start),
                n => n,
            };
            total = total.saturating_add(len);
        }
    }
    total
}

/// (item ID, item type) from an `infe`; the type is zero for `infe` versions 0 and 1.
type Item = (u32, [u8; 4]);

/// What gpbackup understands of a HEIF file's structure.
struct Heif {
    top: Vec<Bx>,
    meta: Bx,
    /// `meta`'s children.
    kids: Vec<Bx>,
    primary: u32,
    iloc_at: usize,
    iloc: Iloc,
    iinf_at: usize,
    iinf_version: u8,
    items: Vec<Item>,
    iref_at: Option<usize>,
    iref_version: u8,
    refs: Vec<Ref>,
    idat: Option<Bx>,
}

impl Heif {
    fn parse(buf: &[u8]) -> R<Heif> {
        let (top, meta) = top_level(buf)?;
        let kids = boxes(buf, meta.body + 4, meta.end)?;
        if kids.iter().any(|k| k.to_end) {
            return Err(bad("open-ended box in meta"));
        }
        let one = |kind: &[u8; 4]| -> R<Option<usize>> {
            let mut it = kids.iter().enumerate().filter(|(_, k)| &k.kind == kind);
            let first = it.next().map(|(i, _)| i);
            if it.next().is_some() {
                return Err(bad("a box twice in meta"));
            }
            Ok(first)
        };
        let hdlr = kids[one(b"hdlr")?.ok_or_else(|| bad("no hdlr"))?];
        if buf.get(hdlr.body + 8..hdlr.body + 12) != Some(b"pict".as_slice())
            || hdlr.end < hdlr.body + 12
        {
            return Err(bad("not an image handler"));
        }
        let pitm = kids[one(b"pitm")?.ok_or_else(|| bad("no primary item"))?];
        let primary = match uint(buf, pitm.body, 1)? {
            0 => uint(buf, pitm.body + 4, 2)?,
            _ => uint(buf, pitm.body + 4, 4)?,
        } as u32;
        let iloc_at = one(b"iloc")?.ok_or_else(|| bad("no iloc"))?;
        let iloc = Iloc::parse(buf, kids[iloc_at])?;
        let idat_len = kids
            .iter()
            .find(|k| &k.kind == b"idat")
            .map_or(0, |k| k.end - k.body);
        if claimed(&iloc, buf.len(), idat_len) > buf.len() as u64 {
            return Err(bad("items that claim more bytes than the file holds"));
        }
        let iinf_at = one(b"iinf")?.ok_or_else(|| bad("no iinf"))?;
        let (iinf_version, items) = parse_iinf(buf, kids[iinf_at])?;
        let iref_at = one(b"iref")?;
        let (iref_version, refs) = match iref_at {
            Some(i) => parse_iref(buf, kids[i])?,
            None => (0, Vec::new()),
        };
        let idat = one(b"idat")?.map(|i| kids[i]);
        Ok(Heif {
            top,
            meta,
            kids,
            primary,
            iloc_at,
            iloc,
            iinf_at,
            iinf_version,
            items,
            iref_at,
            iref_version,
            refs,
            idat,
        })
    }

    /// The Exif item that describes the primary image: the one whose `cdsc` reference points
    /// at it, or a lone Exif item that refers to nothing. `Err` when Exif items exist that
    /// describe other images only (writing there would not date the photo).
    fn exif_item(&self) -> R<Option<u32>> {
        let exifs: Vec<u32> = self
            .items
            .iter()
            .filter(|(_, k)| k == b"Exif")
            .map(|(id, _)| *id)
            .collect();
        let describes = |id: u32, target: Option<u32>| {
            self.refs.iter().any(|r| {
                &r.kind == b"cdsc" && r.from == id && target.is_none_or(|t| r.to.contains(&t))
            })
        };
        let primary: Vec<u32> = exifs
            .iter()
            .copied()
            .filter(|id| describes(*id, Some(self.primary)))
            .collect();
        match (primary.as_slice(), exifs.as_slice()) {
            ([one], _) => Ok(Some(*one)),
            ([], []) => Ok(None),
            ([], [one]) if !describes(*one, None) => Ok(Some(*one)),
            _ => Err(bad("Exif items that do not belong to the primary image")),
        }
    }

    fn iloc_item(&self, id: u32) -> Option<&IlocItem> {
        self.iloc.items.iter().find(|i| i.id == id)
    }

    /// The bytes of item `id` (its extents in order).
    fn item_data(&self, buf: &[u8], id: u32) -> R<Vec<u8>> {
        let item = self
            .iloc_item(id)
            .ok_or_else(|| bad("an item without location"))?;
        if item.data_ref != 0 {
            return Err(bad("item data in another file"));
        }
        let (space_start, space_end) = match item.method() {
            0 => (0, buf.len()),
            1 => {
                let idat = self.idat.ok_or_else(|| bad("item in a missing idat"))?;
                (idat.body, idat.end)
            }
            _ => return Err(bad("item constructed from other items")),
        };
        let mut out = Vec::new();
        for e in &item.extents {
            let start = item
                .base
                .checked_add(e.offset)
                .and_then(|s| u64::try_from(space_start).ok()?.checked_add(s))
                .ok_or_else(|| bad("item offset"))?;
            let end = match e.length {
                0 => space_end as u64,
                n => start.checked_add(n).ok_or_else(|| bad("item length"))?,
            };
            if start > end || end > space_end as u64 {
                return Err(bad("item data beyond its space"));
            }
            out.extend_from_slice(&buf[start as usize..end as usize]);
        }
        Ok(out)
    }

    /// Width and height of the primary image (its `ispe` property), for EXIF's dimension tags.
    fn primary_dimensions(&self, buf: &[u8]) -> Option<(u32, u32)> {
        let iprp = self.kids.iter().find(|k| &k.kind == b"iprp")?;
        let props = boxes(buf, iprp.body, iprp.end).ok()?;
        let ipco = props.iter().find(|k| &k.kind == b"ipco")?;
        let ipco = boxes(buf, ipco.body, ipco.end).ok()?;
        for ipma in props.iter().filter(|k| &k.kind == b"ipma") {
            let version = uint(buf, ipma.body, 1).ok()?;
            let wide = uint(buf, ipma.body + 1, 3).ok()? & 1 == 1;
            let count = uint(buf, ipma.body + 4, 4).ok()?;
            let mut at = ipma.body + 8;
            for _ in 0..count {
                let id_size = if version < 1 { 2 } else { 4 };
                let id = uint(buf, at, id_size).ok()?;
                let n = uint(buf, at + id_size, 1).ok()? as usize;
                at += id_size + 1;
                for _ in 0..n {
                    let index = if wide {
                        uint(buf, at, 2).ok()? & 0x7FFF
                    } else {
                        uint(buf, at, 1).ok()? & 0x7F
                    } as usize;
                    at += if wide { 2 } else { 1 };
                    if id != u64::from(self.primary) || index == 0 {
                        continue;
                    }
                    let p = ipco.get(index - 1)?;
                    if &p.kind == b"ispe" {
                        let w = uint(buf, p.body + 4, 4).ok()?;
                        let h = uint(buf, p.body + 8, 4).ok()?;
                        return Some((w as u32, h as u32));
                    }
                }
                if at > ipma.end {
                    return None;
                }
            }
        }
        None
    }

    /// The file with `payload` as the primary image's Exif item (`existing`, or a new item),
    /// and that item's ID.
    fn with_exif(&self, buf: &[u8], existing: Option<u32>, payload: &[u8]) -> R<(Vec<u8>, u32)> {
        let id = match existing {
            Some(id) => id,
            None => self
                .items
                .iter()
                .map(|(id, _)| *id)
                .chain(self.iloc.items.iter().map(|i| i.id))
                .chain([self.primary])
                .max()
                .unwrap_or(0)
                .checked_add(1)
                .ok_or_else(|| bad("item IDs exhausted"))?,
        };
        // The new meta's size does not depend on the offsets in it (the field sizes are fixed
        // first): build it once to learn the growth, then again with the offsets shifted.
        let trial = self.new_meta(buf, id, existing.is_none(), 0, payload.len())?;
        let delta = trial.len() as i64 - (self.meta.end - self.meta.start) as i64;
        let meta = self.new_meta(buf, id, existing.is_none(), delta, payload.len())?;
        if meta.len() != trial.len() {
            return Err(bad("index size changed"));
        }

        let mut out = Vec::with_capacity(buf.len() + meta.len() + payload.len() + 8);
        out.extend_from_slice(&buf[..self.meta.start]);
        out.extend_from_slice(&meta);
        out.extend_from_slice(&buf[self.meta.end..]);
        // A last box that ran "to the end of the file" gets its size, as a box follows now.
        let last = *self.top.last().expect("ftyp at least");
        if last.to_end && last.start != self.meta.start {
            let at = shifted(last.start as u64, delta)? as usize;
            let size = u32::try_from(last.end - last.start).map_err(|_| bad("open-ended box"))?;
            out[at..at + 4].copy_from_slice(&size.to_be_bytes());
        }
        let mdat_size =
            u32::try_from(payload.len() + 8).map_err(|_| bad("EXIF payload too large"))?;
        out.extend_from_slice(&mdat_size.to_be_bytes());
        out.extend_from_slice(b"mdat");
        out.extend_from_slice(payload);
        Ok((out, id))
    }

    /// The `meta` box with item `id` located at the end of the file (in a new `mdat` holding
    /// `len` bytes) and, when `add`, declared (`infe`) and linked to the primary (`iref`);
    /// every other item's offsets shifted by `delta`, the growth of `meta`.
    fn new_meta(&self, buf: &[u8], id: u32, add: bool, delta: i64, len: usize) -> R<Vec<u8>> {
        let mut iloc = self.iloc.clone();
        self.shift_items(&mut iloc, id, delta)?;
        // Where the payload lands: after the shifted file and the new mdat's header.
        let at = shifted(buf.len() as u64, delta)?
            .checked_add(8)
            .ok_or_else(|| bad("offset"))?;
        locate(&mut iloc, id, at, len)?;

        let mut body = buf[self.meta.body..self.meta.body + 4].to_vec(); // version, flags
        for (i, kid) in self.kids.iter().enumerate() {
            if i == self.iloc_at {
                body.extend_from_slice(&iloc.encode()?);
            } else if i == self.iinf_at && add {
                body.extend_from_slice(&self.new_iinf(buf, id)?);
            } else if Some(i) == self.iref_at && add {
                let mut r = buf[kid.body..kid.end].to_vec();
                r.extend_from_slice(&self.cdsc(id, self.iref_version)?);
                body.extend_from_slice(&boxed(b"iref", &r));
            } else {
                body.extend_from_slice(&buf[kid.start..kid.end]);
            }
        }
        if add && self.iref_at.is_none() {
            let version = u8::from(id > 0xFFFF || self.primary > 0xFFFF);
            let mut r = vec![version, 0, 0, 0];
            r.extend_from_slice(&self.cdsc(id, version)?);
            body.extend_from_slice(&boxed(b"iref", &r));
        }
        if self.meta.body - self.meta.start == 16 {
            let mut out = vec![0, 0, 0, 1];
            out.extend_from_slice(b"meta");
            out.extend_from_slice(&(body.len() as u64 + 16).to_be_bytes());
            out.extend_from_slice(&body);
            return Ok(out);
        }
        Ok(boxed(b"meta", &body))
    }

    /// Shifts by `delta` (the growth of `meta`) the offsets in `iloc` of every item other than
    /// `id` whose data lies after `meta`. An item whose data is inside `meta` or runs to the
    /// end of the file is an error: it could not follow.
    fn shift_items(&self, iloc: &mut Iloc, id: u32, delta: i64) -> R<()> {
        let (meta_start, meta_end) = (self.meta.start as u64, self.meta.end as u64);
        let base_size = iloc.base_size;
        for item in &mut iloc.items {
            if item.id == id || item.method() != 0 || item.data_ref != 0 {
                continue;
            }
            for e in &item.extents {
                let start = item
                    .base
                    .checked_add(e.offset)
                    .ok_or_else(|| bad("offset"))?;
                let end = start.checked_add(e.length).ok_or_else(|| bad("length"))?;
                if e.length == 0 {
                    return Err(bad("an item that runs to the end of the file"));
                }
                if start < meta_end && end > meta_start {
                    return Err(bad("item data inside meta"));
                }
            }
            if base_size > 0 && item.base >= meta_end {
                item.base = shifted(item.base, delta)?;
            } else {
                let base = item.base;
                for e in &mut item.extents {
                    if base + e.offset >= meta_end {
                        e.offset = shifted(e.offset, delta)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// `iinf` with one more entry: an `infe` of type `Exif` for item `id`.
    fn new_iinf(&self, buf: &[u8], id: u32) -> R<Vec<u8>> {
        let iinf = self.kids[self.iinf_at];
        let count_size = if self.iinf_version == 0 { 2 } else { 4 };
        let mut body = buf[iinf.body..iinf.body + 4].to_vec();
        put(&mut body, self.items.len() as u64 + 1, count_size)?;
        body.extend_from_slice(&buf[iinf.body + 4 + count_size..iinf.end]);
        let mut infe = Vec::new();
        if id > 0xFFFF {
            infe.extend_from_slice(&[3, 0, 0, 0]);
            put(&mut infe, id.into(), 4)?;
        } else {
            infe.extend_from_slice(&[2, 0, 0, 0]);
            put(&mut infe, id.into(), 2)?;
        }
        infe.extend_from_slice(&[0, 0]); // no protection
        infe.extend_from_slice(b"Exif");
        infe.push(0); // empty name
        body.extend_from_slice(&boxed(b"infe", &infe));
        Ok(boxed(b"iinf", &body))
    }

    /// A `cdsc` reference from item `id` to the primary item.
    fn cdsc(&self, id: u32, version: u8) -> R<Vec<u8>> {
        let size = if version == 0 { 2 } else { 4 };
        let mut r = Vec::new();
        put(&mut r, id.into(), size)?;
        put(&mut r, 1, 2)?;
        put(&mut r, self.primary.into(), size)?;
        Ok(boxed(b"cdsc", &r))
    }

    /// Checks `out` against the original: the same primary, every other item's bytes
    /// identical, and item `id` holding `payload` as the primary's Exif item.
    fn check(&self, buf: &[u8], out: &[u8], id: u32, payload: &[u8]) -> R<()> {
        let new = Heif::parse(out).map_err(|e| format!("the edited file does not parse: {e}"))?;
        let lost = |what: &str| format!("EXIF not written: the edit would change {what}");
        if new.primary != self.primary || new.exif_item()? != Some(id) {
            return Err(lost("the primary image"));
        }
        if new.item_data(out, id)? != payload {
            return Err(lost("the Exif item"));
        }
        for item in &self.iloc.items {
            if item.id == id {
                continue;
            }
            let same = match self.item_data(buf, item.id) {
                Ok(data) => new.item_data(out, item.id).is_ok_and(|d| d == data),
                // Data we cannot resolve (another file, constructed items): its entry is kept.
                Err(_) => new.iloc_item(item.id) == Some(item),
            };
            if !same {
                return Err(lost(&format!("item {}", item.id)));
            }
        }
        let ids = |h: &Heif| {
            h.items
                .iter()
                .filter(|(i, _)| *i != id)
                .cloned()
                .collect::<Vec<_>>()
        };
        if ids(&new) != ids(self) {
            return Err(lost("the item list"));
        }
        Ok(())
    }
}

/// `v + delta`, where `delta` may be negative (an index that shrank).
fn shifted(v: u64, delta: i64) -> R<u64> {
    v.checked_add_signed(delta)
        .ok_or_else(|| bad("offset out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::fixture;

    fn tags() -> Tags {
        crate::metadata::paris_tags(None)
    }

    fn run(src: &[u8], tags: &Tags) -> (Vec<u8>, Written) {
        let mut out = Vec::new();
        let zone = TimeZoneChoice::parse("Europe/Paris").unwrap();
        let w = rewrite(&mut &src[..], &mut out, tags, &zone).unwrap();
        (out, w)
    }

    fn read_exif(b: &[u8]) -> exif::Exif {
        exif::Reader::new()
            .read_from_container(&mut io::Cursor::new(b))
            .unwrap()
    }

    /// Every item of `src` other than its Exif item reads the same bytes in `out`.
    fn assert_items_kept(src: &[u8], out: &[u8]) {
        let a = Heif::parse(src).unwrap();
        let b = Heif::parse(out).unwrap();
        let exif = b.exif_item().unwrap();
        for item in &a.iloc.items {
            if Some(item.id) != exif {
                assert_eq!(
                    a.item_data(src, item.id).unwrap(),
                    b.item_data(out, item.id).unwrap(),
                    "item {}",
                    item.id
                );
            }
        }
        assert_eq!(a.primary, b.primary);
    }

    #[test]
    fn heic_without_exif_gets_an_item_for_its_primary_grid() {
        let src = fixture("iphone.heic");
        let before = Heif::parse(&src).unwrap();
        assert_eq!(
            before.primary, 2,
            "the fixture's primary is a grid, not item 1"
        );
        assert_eq!(before.exif_item().unwrap(), None);
        let (out, w) = run(&src, &tags());
        assert!(w.changed && !w.incomplete, "{:?}", w.notes);
        let after = Heif::parse(&out).unwrap();
        assert_eq!(after.exif_item().unwrap(), Some(3));
        assert!(after
            .refs
            .iter()
            .any(|r| &r.kind == b"cdsc" && r.from == 3 && r.to == [2]));
        assert!(after.items.contains(&(3, *b"Exif")));
        assert_items_kept(&src, &out);
        // Everything before meta is unchanged; the old mdat follows the grown meta unchanged.
        assert_eq!(out[..before.meta.start], src[..before.meta.start]);
        let mdat = before.top.iter().find(|b| &b.kind == b"mdat").unwrap();
        let delta = after.meta.end - before.meta.end;
        assert_eq!(
            out[mdat.start + delta..mdat.end + delta],
            src[mdat.start..mdat.end]
        );
        let e = read_exif(&out);
        let date = e
            .get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
            .unwrap();
        assert_eq!(date.display_value().to_string(), "2019-07-04 17:10:12");
        assert!(e
            .get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
            .is_some());
        // A second run finds everything there and changes nothing.
        let (again, w) = run(&out, &tags());
        assert!(!w.changed, "{:?}", w.notes);
        assert_eq!(again, out);
    }

    #[test]
    fn heic_with_exif_keeps_its_tags_and_gets_the_missing_ones() {
        let src = fixture("grid_exif.heic");
        let before = Heif::parse(&src).unwrap();
        let old_id = before.exif_item().unwrap().unwrap();
        let (out, w) = run(&src, &tags());
        assert!(w.changed, "{:?}", w.notes);
        let after = Heif::parse(&out).unwrap();
        assert_eq!(after.exif_item().unwrap(), Some(old_id), "the same item");
        assert_eq!(after.items, before.items);
        assert_eq!(
            after.meta.end - after.meta.start,
            before.meta.end - before.meta.start
        );
        assert_items_kept(&src, &out);
        // Only the Exif item's location changed: every byte outside meta stays in place.
        assert!(out[..before.meta.start] == src[..before.meta.start]);
        assert!(out[before.meta.end..src.len()] == src[before.meta.end..]);
        let e = read_exif(&out);
        let date = e
            .get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
            .unwrap();
        assert_eq!(
            date.display_value().to_string(),
            "2019-07-04 17:10:12",
            "the camera's date is kept"
        );
        let make = e.get_field(exif::Tag::Make, exif::In::PRIMARY).unwrap();
        assert_eq!(make.display_value().to_string(), "\"Apple\"");
        assert!(e
            .get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
            .is_some());
    }

    #[test]
    fn avif_with_a_version_0_iloc() {
        let src = fixture("small.avif");
        assert_eq!(Heif::parse(&src).unwrap().iloc.version, 0);
        let (out, w) = run(&src, &tags());
        assert!(w.changed, "{:?}", w.notes);
        assert_items_kept(&src, &out);
        assert!(read_exif(&out)
            .get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
            .is_some());
    }

    /// `src` with its iloc re-encoded with the given field sizes (offsets moved into
    /// `base_offset` when `in_base`) and, with `large`, `meta` behind a 16-byte header.
    fn variant(src: &[u8], sizes: (usize, usize, usize), in_base: bool, large: bool) -> Vec<u8> {
        let h = Heif::parse(src).unwrap();
        let mut iloc = h.iloc.clone();
        iloc.version = 1;
        (iloc.offset_size, iloc.length_size, iloc.base_size) = sizes;
        for item in &mut iloc.items {
            if item.method() != 0 {
                continue;
            }
            if in_base && item.extents.len() == 1 {
                item.base += item.extents[0].offset;
                item.extents[0].offset = 0;
            } else {
                for e in &mut item.extents {
                    e.offset += item.base;
                }
                item.base = 0;
            }
        }
        let new_iloc = iloc.encode().unwrap_or_else(|e| panic!("{e}: {iloc:?}"));
        let old_iloc = h.kids[h.iloc_at];
        let grow = new_iloc.len() as i64 - (old_iloc.end - old_iloc.start) as i64
            + if large { 8 } else { 0 };
        // Shift the file offsets by the growth.
        for item in &mut iloc.items {
            if item.method() == 0 {
                if in_base && item.extents.len() == 1 {
                    item.base = shifted(item.base, grow).unwrap();
                } else {
                    for e in &mut item.extents {
                        e.offset = shifted(e.offset, grow).unwrap();
                    }
                }
            }
        }
        let mut body = src[h.meta.body..old_iloc.start].to_vec();
        body.extend_from_slice(&iloc.encode().unwrap());
        body.extend_from_slice(&src[old_iloc.end..h.meta.end]);
        let mut out = src[..h.meta.start].to_vec();
        if large {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(b"meta");
            out.extend_from_slice(&(body.len() as u64 + 16).to_be_bytes());
            out.extend_from_slice(&body);
        } else {
            out.extend_from_slice(&boxed(b"meta", &body));
        }
        out.extend_from_slice(&src[h.meta.end..]);
        assert_items_kept(src, &out);
        out
    }

    #[test]
    fn every_iloc_layout_is_shifted_right() {
        for name in ["iphone.heic", "small.avif", "grid_exif.heic"] {
            let src = fixture(name);
            for (sizes, in_base, large) in [
                ((8, 8, 0), false, false),
                ((4, 4, 8), false, true),
                ((0, 4, 4), true, false),
                ((8, 4, 8), true, true),
            ] {
                let v = variant(&src, sizes, in_base, large);
                let (out, w) = run(&v, &tags());
                assert!(w.changed, "{name} {sizes:?}: {:?}", w.notes);
                assert_items_kept(&v, &out);
                assert!(
                    read_exif(&out)
                        .get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
                        .is_some(),
                    "{name} {sizes:?}"
                );
            }
        }
    }

    #[test]
    fn open_ended_last_box_gets_its_size() {
        let mut src = fixture("iphone.heic");
        let h = Heif::parse(&src).unwrap();
        let mdat = *h.top.last().unwrap();
        src[mdat.start..mdat.start + 4].copy_from_slice(&[0; 4]);
        let (out, w) = run(&src, &tags());
        assert!(w.changed, "{:?}", w.notes);
        assert_items_kept(&src, &out);
        let top = boxes(&out, 0, out.len()).unwrap();
        assert!(top.iter().all(|b| !b.to_end));
        assert_eq!(top.iter().filter(|b| &b.kind == b"mdat").count(), 2);
    }

    #[test]
    fn what_is_not_understood_is_left_alone() {
        let src = fixture("iphone.heic");
        let h = Heif::parse(&src).unwrap();
        // Trailing junk, a second meta, a fragment box, an Exif item for a tile only.
        let mut junk = src.clone();
        junk.extend_from_slice(b"xyz");
        let mut two_metas = src.clone();
        two_metas.extend_from_slice(&src[h.meta.start..h.meta.end]);
        let mut fragmented = src.clone();
        fragmented.extend_from_slice(&boxed(b"moof", &[]));
        let (with_exif, _) = run(&src, &tags());
        let mut tile_exif = with_exif.clone();
        let at = tile_exif.windows(4).rposition(|w| w == b"cdsc").unwrap();
        tile_exif[at + 8..at + 10].copy_from_slice(&1u16.to_be_bytes()); // → item 1
        let mut truncated = src.clone();
        truncated.truncate(h.meta.end - 3);
        for (what, bytes) in [
            ("junk", junk),
            ("two metas", two_metas),
            ("fragmented", fragmented),
            ("tile exif", tile_exif),
            ("truncated", truncated),
        ] {
            let (out, w) = run(&bytes, &tags());
            assert!(!w.changed && w.incomplete, "{what}: {:?}", w.notes);
            assert_eq!(out, bytes, "{what}");
            assert!(
                w.notes[0].contains("not understood"),
                "{what}: {:?}",
                w.notes
            );
        }
    }

    /// iphone.heic whose `iloc` is `body` (its contents after version and flags).
    fn with_iloc(version: u8, body: &[u8]) -> Vec<u8> {
        let src = fixture("iphone.heic");
        let h = Heif::parse(&src).unwrap();
        let old = h.kids[h.iloc_at];
        let mut iloc = vec![version, 0, 0, 0];
        iloc.extend_from_slice(body);
        let mut meta = src[h.meta.body..old.start].to_vec();
        meta.extend_from_slice(&boxed(b"iloc", &iloc));
        meta.extend_from_slice(&src[old.end..h.meta.end]);
        let mut out = src[..h.meta.start].to_vec();
        out.extend_from_slice(&boxed(b"meta", &meta));
        out.extend_from_slice(&src[h.meta.end..]);
        out
    }

    #[test]
    fn iloc_counts_are_bounded_by_the_bytes_that_hold_them() {
        // FAILS before issue 26: fields of size 0 let 65,535 extents fit in 8 bytes (each
        // the whole file): a few hundred bytes of iloc made hundreds of MB of extents.
        let mut body = vec![0x00, 0x00]; // offset, length, base, index sizes: all 0
        body.extend_from_slice(&100u16.to_be_bytes());
        for id in 1..=100u16 {
            body.extend_from_slice(&id.to_be_bytes());
            body.extend_from_slice(&[0, 0, 0, 0]); // method 0, data reference 0
            body.extend_from_slice(&u16::MAX.to_be_bytes()); // extents
        }
        let bomb = with_iloc(1, &body);
        assert!(bomb.len() < 2048);
        let h = top_level(&bomb).unwrap().1;
        let iloc = *boxes(&bomb, h.body + 4, h.end)
            .unwrap()
            .iter()
            .find(|b| &b.kind == b"iloc")
            .unwrap();
        assert!(Iloc::parse(&bomb, iloc).is_err());
        let (out, w) = run(&bomb, &tags());
        assert!(!w.changed && w.incomplete, "{:?}", w.notes);
        assert_eq!(out, bomb);
        assert!(w.notes[0].contains("not understood"), "{:?}", w.notes);
    }

    #[test]
    fn items_claiming_more_than_the_file_are_refused() {
        // FAILS before issue 26: 100 extents of the file's last 16 bytes each, for one item,
        // were read (and compared) whole; with a large file and many items, gigabytes.
        let claim = |offset: u32| {
            let mut body = vec![0x44, 0x00]; // 4-byte offsets and lengths
            body.extend_from_slice(&1u16.to_be_bytes());
            body.extend_from_slice(&[0, 1, 0, 0, 0, 0]);
            body.extend_from_slice(&100u16.to_be_bytes());
            for _ in 0..100 {
                body.extend_from_slice(&offset.to_be_bytes());
                body.extend_from_slice(&16u32.to_be_bytes());
            }
            with_iloc(1, &body)
        };
        let len = claim(0).len();
        let wide = claim(len as u32 - 16);
        assert!(100 * 16 > wide.len());
        let (out, w) = run(&wide, &tags());
        assert!(!w.changed && w.incomplete, "{:?}", w.notes);
        assert_eq!(out, wide);
        assert!(w.notes[0].contains("more bytes than"), "{:?}", w.notes);
    }

    #[test]
    fn random_mutations_never_panic() {
        let mut next = crate::metadata::fuzzing::xorshift(0x9E37_79B9_7F4A_7C15u64);
        for name in ["iphone.heic", "grid_exif.heic", "small.avif"] {
            let src = fixture(name);
            let meta_end = Heif::parse(&src).unwrap().meta.end;
            for _ in 0..300 {
                let mut m = src.clone();
                for _ in 0..1 + next() % 4 {
                    // Mostly in the index, where the structure is.
                    let at = (next() as usize)
                        % if next().is_multiple_of(4) {
                            m.len()
                        } else {
                            meta_end
                        };
                    m[at] = match next() % 3 {
                        0 => next() as u8,
                        1 => m[at] ^ (1 << (next() % 8)),
                        _ => [0, 1, 0xFF, 0x7F, 0x80][next() as usize % 5],
                    };
                }
                crate::metadata::fuzzing::heif_writer(&m);
            }
        }
    }
}
