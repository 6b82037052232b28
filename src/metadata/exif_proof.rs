//! The proof that an edited EXIF (TIFF-structured) block damaged nothing, and the map of what
//! each byte of a block belongs to.
//!
//! Why it exists: the editor (`exif_edit`) decides from its own bookkeeping which values it
//! patches in place, which IFDs it writes again and where the pointers go. A mistake there
//! does not show when the new tags are read back: a reference patched into an IFD that was
//! then rewritten from the values read before (a photo in Chile written as north-east), a
//! date patched into bytes a thumbnail shares, a camera's Exif IFD made unreachable. So after
//! every edit this module reads both blocks again from scratch, with its own walker, and
//! compares them: every IFD of the old block is reachable in the new one under the same name;
//! each of its entries has the same type, count, value-or-offset field and value bytes, but
//! for the ones intentionally set, which hold exactly the new values; nothing else appeared;
//! thumbnails, strips and tiles are byte-identical; every byte of the old block that changed
//! lies in a pointer or in an intentionally set value; and no value, IFD or image data that
//! is new or changed shares a byte with any other. When the proof fails, the writer copies the
//! file unchanged and says why. It costs one walk of each block (at most 64 KB in a JPEG)
//! and one comparison of their bytes, on every edited photo.
//!
//! [`Layout::spans`] also tells the editor whether a value owns its bytes alone before it
//! patches it in place.

use std::collections::HashSet;

/// Tags whose value is the offset of another IFD (Exif, GPS, Interoperability, SubIFDs).
pub(super) const POINTER_TAGS: [u16; 4] = [0x8769, 0x8825, 0xA005, 0x014A];

/// The most IFDs followed along IFD0's next-IFD chain, and SubIFDs of one IFD.
const MAX_CHAIN: u16 = 16;

/// The most entries and spans (values, strips, tiles) one block may have: a block that
/// declares more is not walked (the editor patches nothing in place, the proof fails, the
/// file is copied), so that a few bytes never claim gigabytes.
const MAX_ITEMS: usize = 1 << 20;

/// Which IFD of a block: by how it is reached, the same in the old and the new block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum IfdName {
    /// IFD0, IFD1 (the thumbnail's), … along the next-IFD chain.
    Chain(u16),
    Exif,
    Gps,
    Interop,
    /// The SubIFDs of a chain IFD: (chain index, index).
    Sub(u16, u16),
}

impl IfdName {
    /// `tag` of this IFD as a reader names it ("DateTimeOriginal").
    fn tag_name(self, tag: u16) -> String {
        let ctx = match self {
            IfdName::Exif => exif::Context::Exif,
            IfdName::Gps => exif::Context::Gps,
            IfdName::Interop => exif::Context::Interop,
            IfdName::Chain(_) | IfdName::Sub(..) => exif::Context::Tiff,
        };
        exif::Tag(ctx, tag).to_string()
    }

    /// The directory in plain words.
    fn plain(self) -> String {
        match self {
            IfdName::Chain(0) => "main directory".into(),
            IfdName::Chain(1) => "thumbnail directory".into(),
            IfdName::Chain(n) => format!("directory {n}"),
            IfdName::Exif => "Exif directory".into(),
            IfdName::Gps => "GPS directory".into(),
            IfdName::Interop => "interoperability directory".into(),
            IfdName::Sub(..) => "sub-image directory".into(),
        }
    }
}

/// A value the edit sets: `tag` in IFD `ifd`, of TIFF type `typ` with `count` values whose
/// bytes (in the block's byte order) are `bytes`.
#[derive(Debug, Clone)]
pub(super) struct Intended {
    pub(super) ifd: IfdName,
    pub(super) tag: u16,
    pub(super) typ: u16,
    pub(super) count: usize,
    pub(super) bytes: Vec<u8>,
}

/// One 12-byte entry as found.
#[derive(Debug, Clone, Copy)]
pub(super) struct RawEntry {
    tag: u16,
    typ: u16,
    count: u32,
    field: [u8; 4],
    /// Where the entry starts in the block.
    at: usize,
}

#[derive(Debug, Clone)]
struct FoundIfd {
    name: IfdName,
    entries: Vec<RawEntry>,
}

/// What a span of the block belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    /// An IFD's table: entry count, entries, next-IFD pointer.
    Table(IfdName),
    /// The value (longer than four bytes) of the entry starting at this offset.
    Value(usize),
    /// Image data: a thumbnail, a strip or a tile.
    Data,
}

impl Owner {
    fn plain(self) -> String {
        match self {
            Owner::Table(n) => format!("the {}", n.plain()),
            Owner::Value(_) => "a value".into(),
            Owner::Data => "the image data or thumbnail".into(),
        }
    }
}

/// Bytes `at..at + len` of a block and what they belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) at: usize,
    pub(super) len: usize,
    pub(super) owner: Owner,
}

impl Span {
    fn overlaps(&self, other: &Span) -> bool {
        self.at < other.at + other.len && other.at < self.at + self.len
    }
}

/// The size of one value of TIFF type `typ`.
pub(super) fn type_size(typ: u16) -> Option<usize> {
    Some(match typ {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 => 8,
        _ => return None,
    })
}

/// The offset a pointer entry holds: one value of an integer type (BYTE, SHORT, LONG, their
/// signed forms when not negative, or IFD), as exiftool follows them.
pub(super) fn pointer(le: bool, typ: u16, count: u32, field: [u8; 4]) -> Option<u32> {
    if count != 1 {
        return None;
    }
    let u16v = |b: [u8; 2]| {
        if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    };
    let u32v = if le {
        u32::from_le_bytes(field)
    } else {
        u32::from_be_bytes(field)
    };
    match typ {
        1 => Some(field[0] as u32),
        6 => (field[0] < 0x80).then_some(field[0] as u32),
        3 => Some(u16v([field[0], field[1]]) as u32),
        8 => Some(u16v([field[0], field[1]]) as u32).filter(|v| *v < 0x8000),
        4 | 13 => Some(u32v),
        9 => (u32v < 0x8000_0000).then_some(u32v),
        _ => None,
    }
}

/// The IFDs and spans of a block, read with no help from the editor.
pub(super) struct Layout {
    le: bool,
    ifds: Vec<FoundIfd>,
    pub(super) spans: Vec<Span>,
    /// Offsets of the IFDs read, so that none is read twice.
    read: HashSet<usize>,
    /// Entries and spans still allowed (see [`MAX_ITEMS`]).
    budget: usize,
}

impl Layout {
    /// Walks `block` from its header: IFD0 and the IFDs after it, the Exif, GPS,
    /// Interoperability IFDs and SubIFDs, the values of their entries and the image data
    /// they point to. IFDs that cannot be read past IFD0 are left out (they are in neither
    /// block, or the comparison finds one missing).
    pub(super) fn walk(block: &[u8]) -> Result<Layout, String> {
        let le = match block.get(0..4) {
            Some(b"II*\0") => true,
            Some(b"MM\0*") => false,
            _ => return Err("not a TIFF header".into()),
        };
        let mut l = Layout {
            le,
            ifds: Vec::new(),
            spans: Vec::new(),
            read: HashSet::new(),
            budget: MAX_ITEMS,
        };
        let mut next = l.u32_at(block, 4).ok_or("truncated header")?;
        let mut seen = HashSet::new();
        for i in 0..MAX_CHAIN {
            if next == 0 || !seen.insert(next) {
                break;
            }
            let Some(n) = l.read_ifd(block, next, IfdName::Chain(i)) else {
                if i == 0 {
                    return Err("IFD0 cannot be read".into());
                }
                break;
            };
            next = n;
        }
        if l.budget == 0 {
            return Err("more entries than a block may have".into());
        }
        Ok(l)
    }

    /// Takes `n` items from the budget; false (and the budget spent) when there are not
    /// that many left.
    fn spend(&mut self, n: usize) -> bool {
        match self.budget.checked_sub(n) {
            Some(left) => {
                self.budget = left;
                true
            }
            None => {
                self.budget = 0;
                false
            }
        }
    }

    fn u16_at(&self, b: &[u8], at: usize) -> Option<u16> {
        let s = b.get(at..at.checked_add(2)?)?;
        Some(if self.le {
            u16::from_le_bytes([s[0], s[1]])
        } else {
            u16::from_be_bytes([s[0], s[1]])
        })
    }

    fn u32_at(&self, b: &[u8], at: usize) -> Option<u32> {
        let s = b.get(at..at.checked_add(4)?)?;
        let s = [s[0], s[1], s[2], s[3]];
        Some(if self.le {
            u32::from_le_bytes(s)
        } else {
            u32::from_be_bytes(s)
        })
    }

    /// Reads the IFD at `offset` as `name` with the IFDs it points to; its next-IFD pointer.
    fn read_ifd(&mut self, b: &[u8], offset: u32, name: IfdName) -> Option<u32> {
        let at = offset as usize;
        if at < 8 {
            return None;
        }
        let n = self.u16_at(b, at)? as usize;
        let end = at + 2 + 12 * n;
        if end > b.len() {
            return None;
        }
        let again = !self.read.insert(at);
        if again || !self.spend(n + 1) {
            // An IFD reached a second time (under another name) is not read again: its
            // table is marked as shared by both.
            self.spans.push(Span {
                at,
                len: (end + 4).min(b.len()) - at,
                owner: Owner::Table(name),
            });
            return None;
        }
        let next = self.u32_at(b, end).unwrap_or(0);
        self.spans.push(Span {
            at,
            len: (end + 4).min(b.len()) - at,
            owner: Owner::Table(name),
        });
        let entries: Vec<RawEntry> = (0..n)
            .map(|i| {
                let e = at + 2 + 12 * i;
                RawEntry {
                    tag: self.u16_at(b, e).expect("in bounds"),
                    typ: self.u16_at(b, e + 2).expect("in bounds"),
                    count: self.u32_at(b, e + 4).expect("in bounds"),
                    field: b[e + 8..e + 12].try_into().expect("4"),
                    at: e,
                }
            })
            .collect();
        for e in &entries {
            if let Some((v, len)) = self.value_span(b, e).filter(|(_, len)| *len > 4) {
                self.spans.push(Span {
                    at: v,
                    len,
                    owner: Owner::Value(e.at),
                });
            }
        }
        self.data_spans(b, &entries);
        self.ifds.push(FoundIfd {
            name,
            entries: entries.clone(),
        });
        let ptr = |e: &RawEntry| pointer(self.le, e.typ, e.count, e.field);
        let children: Vec<(u32, IfdName)> = match name {
            IfdName::Chain(c) => entries
                .iter()
                .flat_map(|e| match e.tag {
                    0x8769 if c == 0 => ptr(e).map(|o| (o, IfdName::Exif)).into_iter().collect(),
                    0x8825 if c == 0 => ptr(e).map(|o| (o, IfdName::Gps)).into_iter().collect(),
                    0x014A => self
                        .uints(b, e)
                        .into_iter()
                        .take(MAX_CHAIN as usize)
                        .enumerate()
                        .map(|(k, o)| (o, IfdName::Sub(c, k as u16)))
                        .collect(),
                    _ => Vec::new(),
                })
                .collect(),
            IfdName::Exif => entries
                .iter()
                .filter(|e| e.tag == 0xA005)
                .filter_map(|e| ptr(e).map(|o| (o, IfdName::Interop)))
                .collect(),
            _ => Vec::new(),
        };
        for (o, child) in children {
            // Only one of each name (a second Exif pointer in IFD0 is not followed).
            if !self.ifds.iter().any(|f| f.name == child) {
                self.read_ifd(b, o, child);
            }
        }
        Some(next)
    }

    /// Where an entry's value is and its length, when it is in the block.
    fn value_span(&self, b: &[u8], e: &RawEntry) -> Option<(usize, usize)> {
        let len = type_size(e.typ)?.checked_mul(e.count as usize)?;
        let at = if len <= 4 {
            e.at + 8
        } else {
            self.u32_at(&e.field, 0)? as usize
        };
        (at.checked_add(len)? <= b.len()).then_some((at, len))
    }

    /// The values of a BYTE, SHORT or LONG (or IFD) entry.
    fn uints(&self, b: &[u8], e: &RawEntry) -> Vec<u32> {
        let Some((at, len)) = self.value_span(b, e) else {
            return Vec::new();
        };
        let v = &b[at..at + len];
        match e.typ {
            1 => v.iter().map(|x| *x as u32).collect(),
            3 => (0..v.len() / 2)
                .filter_map(|i| self.u16_at(v, 2 * i).map(u32::from))
                .collect(),
            4 | 13 => (0..v.len() / 4)
                .filter_map(|i| self.u32_at(v, 4 * i))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The image data an IFD points to: its thumbnail, strips or tiles.
    fn data_spans(&mut self, b: &[u8], entries: &[RawEntry]) {
        let find = |tag: u16| entries.iter().find(|e| e.tag == tag);
        for (off_tag, len_tag) in [(0x0201, 0x0202), (0x0111, 0x0117), (0x0144, 0x0145)] {
            let (Some(o), Some(l)) = (find(off_tag), find(len_tag)) else {
                continue;
            };
            if !self.spend((o.count as usize).min(l.count as usize)) {
                return;
            }
            let (offs, lens) = (self.uints(b, o), self.uints(b, l));
            for (at, len) in offs.into_iter().zip(lens) {
                let (at, len) = (at as usize, len as usize);
                if len > 0 && at.checked_add(len).is_some_and(|end| end <= b.len()) {
                    self.spans.push(Span {
                        at,
                        len,
                        owner: Owner::Data,
                    });
                }
            }
        }
    }

    fn ifd(&self, name: IfdName) -> Option<&FoundIfd> {
        self.ifds.iter().find(|f| f.name == name)
    }

    /// The spans other than `own` that share a byte with `at..at + len`.
    pub(super) fn others_over(&self, at: usize, len: usize, own: Owner) -> bool {
        let probe = Span {
            at,
            len,
            owner: own,
        };
        self.spans
            .iter()
            .any(|s| s.overlaps(&probe) && !(s.owner == own && (s.at, s.len) == (at, len)))
    }

    /// Whether the table of IFD `name` overlaps any other span.
    pub(super) fn table_shared(&self, name: IfdName) -> bool {
        self.spans
            .iter()
            .filter(|s| s.owner == Owner::Table(name))
            .any(|t| {
                self.spans
                    .iter()
                    .any(|s| s.owner != Owner::Table(name) && s.overlaps(t))
            })
    }

    /// Where each IFD table and each entry starts (for the structure-aware fuzzing mutator).
    pub(super) fn tables_and_entries(&self) -> (Vec<usize>, Vec<usize>) {
        let tables = self
            .spans
            .iter()
            .filter(|s| matches!(s.owner, Owner::Table(_)))
            .map(|s| s.at)
            .collect();
        let entries = self
            .ifds
            .iter()
            .flat_map(|f| f.entries.iter().map(|e| e.at));
        (tables, entries.collect())
    }

    /// Where the entry of `tag` in IFD `name` starts, for the editor.
    pub(super) fn entry_at(&self, name: IfdName, tag: u16) -> Option<usize> {
        Some(self.ifd(name)?.entries.iter().find(|e| e.tag == tag)?.at)
    }
}

/// Proves that `new` is `old` with the `intended` values set and nothing else changed (see
/// the module documentation); `old` is `None` for a block made from nothing. The error says
/// what would have been damaged.
pub(super) fn prove(old: Option<&[u8]>, new: &[u8], intended: &[Intended]) -> Result<(), String> {
    let b = Layout::walk(new).map_err(|e| format!("the edited EXIF cannot be read ({e})"))?;
    let a = match old {
        Some(old) => Some((old, Layout::walk(old)?)),
        None => None,
    };
    let intended: Vec<&Intended> = intended
        .iter()
        .filter(|i| !POINTER_TAGS.contains(&i.tag))
        .collect();
    let is_intended = |n: IfdName, t: u16| intended.iter().any(|i| (i.ifd, i.tag) == (n, t));
    // The new values are there, exactly.
    for i in &intended {
        let name = i.ifd.tag_name(i.tag);
        let e = b
            .ifd(i.ifd)
            .and_then(|f| f.entries.iter().find(|e| e.tag == i.tag))
            .ok_or_else(|| format!("the new {name} is missing from the edited EXIF"))?;
        let bytes = b.value_span(new, e).map(|(at, len)| &new[at..at + len]);
        if e.typ != i.typ || e.count as usize != i.count || bytes != Some(&i.bytes[..]) {
            return Err(format!("the new {name} was not written as meant"));
        }
    }
    let Some((old, a)) = a else {
        return no_shared_bytes(&b, new, None);
    };
    if new.len() < old.len() || a.le != b.le {
        return Err("the edited EXIF does not keep the camera's bytes".into());
    }
    // Every IFD and entry of the old block, unchanged but for what was set.
    for f in &a.ifds {
        let g = b
            .ifd(f.name)
            .ok_or_else(|| format!("the edited EXIF would lose the camera's {}", f.name.plain()))?;
        for e in &f.entries {
            if POINTER_TAGS.contains(&e.tag) || is_intended(f.name, e.tag) {
                continue;
            }
            let same = g.entries.iter().any(|n| {
                (n.tag, n.typ, n.count, n.field) == (e.tag, e.typ, e.count, e.field)
                    && a.value_span(old, e).map(|(at, len)| &old[at..at + len])
                        == b.value_span(new, n).map(|(at, len)| &new[at..at + len])
            });
            if !same {
                return Err(format!(
                    "editing EXIF would change the camera's {}",
                    f.name.tag_name(e.tag)
                ));
            }
        }
        for n in &g.entries {
            let known = f.entries.iter().any(|e| e.tag == n.tag);
            if !known && !POINTER_TAGS.contains(&n.tag) && !is_intended(f.name, n.tag) {
                return Err(format!(
                    "editing EXIF would add a {} nobody asked for",
                    f.name.tag_name(n.tag)
                ));
            }
        }
    }
    // The camera's image data, byte for byte.
    for s in a.spans.iter().filter(|s| s.owner == Owner::Data) {
        if old[s.at..s.at + s.len] != new[s.at..s.at + s.len] {
            return Err("editing EXIF would change the thumbnail or the image data".into());
        }
    }
    // Every changed byte of the old block is a pointer or a value that was set.
    let mut allowed: Vec<(usize, usize)> = vec![(4, 4)];
    for g in &b.ifds {
        for n in &g.entries {
            if POINTER_TAGS.contains(&n.tag) {
                allowed.push((n.at + 8, 4));
            } else if is_intended(g.name, n.tag) {
                allowed.extend(b.value_span(new, n));
            }
        }
    }
    for at in changed_bytes(old, &new[..old.len()]) {
        if !allowed.iter().any(|(s, l)| (*s..s + l).contains(&at)) {
            return Err(format!(
                "editing EXIF would change a byte of the camera's block (at {at})"
            ));
        }
    }
    no_shared_bytes(&b, new, Some((&a, old)))
}

/// Fails when a span of `b` that is new or changed since `a` shares a byte with any other.
fn no_shared_bytes(b: &Layout, new: &[u8], a: Option<(&Layout, &[u8])>) -> Result<(), String> {
    let old_spans: HashSet<(usize, usize)> = a
        .map(|(a, _)| a.spans.iter().map(|s| (s.at, s.len)).collect())
        .unwrap_or_default();
    let unchanged = |s: &Span| {
        old_spans.contains(&(s.at, s.len))
            && a.is_some_and(|(_, old)| {
                old.get(s.at..s.at + s.len) == Some(&new[s.at..s.at + s.len])
            })
    };
    for (i, s) in b.spans.iter().enumerate() {
        if unchanged(s) {
            continue;
        }
        if let Some(t) = b
            .spans
            .iter()
            .enumerate()
            .find(|(j, t)| *j != i && t.overlaps(s))
        {
            return Err(format!(
                "the edited EXIF would store {} in the bytes of {}",
                s.owner.plain(),
                t.1.owner.plain()
            ));
        }
    }
    Ok(())
}

/// The offsets where `a` and `b` (of the same length) differ, found 64 bytes at a time.
fn changed_bytes<'a>(a: &'a [u8], b: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    a.chunks(64)
        .zip(b.chunks(64))
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .flat_map(|(k, (x, y))| {
            x.iter()
                .zip(y.iter())
                .enumerate()
                .filter(|(_, (p, q))| p != q)
                .map(move |(i, _)| k * 64 + i)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::camera_tiff;
    use crate::metadata::exif_edit::{Dir, Editor, Val};

    const CANON: &str = "cameras/2007-08-24-02-40-42_2007-08-24-02-40-42a.jpg";

    /// The camera's block with a GPS position added and its date replaced: (old, new, what
    /// was set).
    fn edit() -> (Vec<u8>, Vec<u8>, Vec<Intended>) {
        let old = camera_tiff(CANON);
        let mut ed = Editor::parse(&old).unwrap();
        ed.set(Dir::Gps, 1, Val::Ascii("S".into()));
        ed.set(Dir::Gps, 2, Val::Rational(vec![(33, 1), (51, 1), (0, 1)]));
        ed.set(Dir::Exif, 0x9003, Val::Ascii("2010:01:01 13:00:00".into()));
        let intended = ed.intended();
        let new = ed.finish().unwrap().unwrap();
        (old, new, intended)
    }

    fn le32(v: u32) -> [u8; 4] {
        v.to_le_bytes()
    }

    #[test]
    fn a_faithful_edit_is_proven() {
        let (old, new, intended) = edit();
        prove(Some(&old), &new, &intended).unwrap();
        // A block made from nothing.
        let mut ed = Editor::fresh();
        ed.set(Dir::Gps, 1, Val::Ascii("N".into()));
        ed.set(Dir::Exif, 0x9000, Val::Undefined(b"0232".to_vec()));
        let intended = ed.intended();
        prove(None, &ed.finish().unwrap().unwrap(), &intended).unwrap();
    }

    /// An IFD reached twice (the GPS pointer at the Exif IFD) is read once and marked
    /// shared; a block declaring more strips than any file has is not walked.
    #[test]
    fn aliased_ifds_and_huge_counts_are_bounded() {
        let old = camera_tiff(CANON);
        let l = Layout::walk(&old).unwrap();
        let exif_ptr = l.entry_at(IfdName::Chain(0), 0x8769).unwrap();
        let mut ed = Editor::parse(&old).unwrap();
        ed.set(Dir::Gps, 1, Val::Ascii("N".into()));
        let with_gps = ed.finish().unwrap().unwrap();
        let l = Layout::walk(&with_gps).unwrap();
        let gps_ptr = l.entry_at(IfdName::Chain(0), 0x8825).unwrap();
        let mut aliased = with_gps.clone();
        let exif_field = old[exif_ptr + 8..exif_ptr + 12].to_vec();
        aliased[gps_ptr + 8..gps_ptr + 12].copy_from_slice(&exif_field);
        let l = Layout::walk(&aliased).unwrap();
        assert!(l.ifd(IfdName::Gps).is_none());
        assert!(l.table_shared(IfdName::Exif) && l.table_shared(IfdName::Gps));
        let mut ed = Editor::fresh();
        let strips = vec![8u32; MAX_ITEMS + 1];
        ed.set(Dir::Ifd0, 0x0111, Val::Long(strips.clone()));
        ed.set(Dir::Ifd0, 0x0117, Val::Long(strips));
        let huge = ed.finish().unwrap().unwrap();
        assert!(Layout::walk(&huge).is_err());
    }

    /// Each damage an editor could do, made by hand in a faithful result: the proof fails.
    #[test]
    fn every_kind_of_damage_is_caught() {
        let (old, good, intended) = edit();
        let l = Layout::walk(&good).unwrap();
        let thumb = l.spans.iter().find(|s| s.owner == Owner::Data).unwrap().at;
        let gps = l.ifd(IfdName::Gps).unwrap();
        let lat_ref = gps.entries.iter().find(|e| e.tag == 1).unwrap().at;
        let exif = l.entry_at(IfdName::Chain(0), 0x8769).unwrap();
        let make = l.entry_at(IfdName::Chain(0), 0x010F).unwrap();
        let dto = l.entry_at(IfdName::Exif, 0x9003).unwrap();
        let model_off = {
            let e = l.entry_at(IfdName::Chain(0), 0x0110).unwrap();
            u32::from_le_bytes(good[e + 8..e + 12].try_into().unwrap())
        };
        type Damage = Box<dyn Fn(&mut Vec<u8>)>;
        let damages: Vec<(&str, Damage)> = vec![
            ("new value lost", Box::new(move |b| b[lat_ref + 8] = b'N')),
            ("thumbnail", Box::new(move |b| b[thumb + 3] ^= 1)),
            ("camera tag", Box::new(move |b| b[make + 8] ^= 1)),
            (
                "unreachable Exif IFD",
                Box::new(move |b| b[exif + 8..exif + 12].copy_from_slice(&le32(0))),
            ),
            (
                "a set value in another's bytes",
                Box::new(move |b| {
                    b[dto + 8..dto + 12].copy_from_slice(&le32(model_off));
                    let at = model_off as usize;
                    b[at..at + 20].copy_from_slice(b"2010:01:01 13:00:00\0");
                }),
            ),
            (
                "a tag nobody asked for",
                Box::new(move |b| b[make..make + 2].copy_from_slice(&0x010Du16.to_le_bytes())),
            ),
            ("a byte outside any value", Box::new(|b| b[9] ^= 1)),
            ("shorter", Box::new(|b| b.truncate(100))),
        ];
        for (what, damage) in damages {
            let mut bad = good.clone();
            damage(&mut bad);
            assert!(prove(Some(&old), &bad, &intended).is_err(), "{what}");
        }
    }
}
