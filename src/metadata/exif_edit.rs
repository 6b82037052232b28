//! An EXIF (TIFF-structured) block editor that never moves a byte the camera wrote.
//!
//! Why hand-written: the EXIF crates that write (little_exif, the one we used) decode the block
//! into a tag list and encode a new one, re-laying out every IFD and value. Makers' notes are
//! opaque blobs holding offsets into the block, so any re-layout breaks them (Canon, Nikon,
//! Olympus, Casio… lose tags; exiftool warns "Possibly incorrect maker notes offsets"), and
//! thumbnails and sub-IFDs are at the mercy of the encoder. No crate we know edits in place.
//!
//! What this editor does instead: the existing block is kept whole and byte-for-byte where it
//! is, so every offset in it stays valid. An IFD (IFD0, the Exif sub-IFD or the GPS IFD) that
//! gains or changes entries is written again, sorted by tag, at the END of the block, with its
//! values after it, and the one pointer to it is updated in place (the IFD0 offset in the
//! header, or the ExifIFD/GPS pointer entry of IFD0). The old copy of a rewritten IFD stays in
//! the block, unreferenced. A value replaced by one of the same type and size is patched where
//! it is (an overwritten date) without rewriting its IFD. A block that does not exist yet is
//! built by the same code, starting from a bare header.
//!
//! Every read of the existing block is bounds-checked: a malformed block is an `Err`, never a
//! panic, and nothing is written for it.

use super::exif_proof::{self, IfdName, Intended, Layout, Owner};

/// The TIFF field types we write.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Val {
    /// ASCII, written with its terminating NUL.
    Ascii(String),
    Byte(Vec<u8>),
    Undefined(Vec<u8>),
    Short(Vec<u16>),
    Long(Vec<u32>),
    /// (numerator, denominator) pairs.
    Rational(Vec<(u32, u32)>),
}

impl Val {
    fn type_code(&self) -> u16 {
        match self {
            Val::Byte(_) => 1,
            Val::Ascii(_) => 2,
            Val::Short(_) => 3,
            Val::Long(_) => 4,
            Val::Rational(_) => 5,
            Val::Undefined(_) => 7,
        }
    }

    fn count(&self) -> usize {
        match self {
            Val::Ascii(s) => s.len() + 1,
            Val::Byte(v) | Val::Undefined(v) => v.len(),
            Val::Short(v) => v.len(),
            Val::Long(v) => v.len(),
            Val::Rational(v) => v.len(),
        }
    }

    fn encode(&self, le: bool) -> Vec<u8> {
        let u16b = |v: u16| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        let u32b = |v: u32| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        match self {
            Val::Ascii(s) => {
                let mut b = s.as_bytes().to_vec();
                b.push(0);
                b
            }
            Val::Byte(v) | Val::Undefined(v) => v.clone(),
            Val::Short(v) => v.iter().flat_map(|x| u16b(*x)).collect(),
            Val::Long(v) => v.iter().flat_map(|x| u32b(*x)).collect(),
            Val::Rational(v) => v
                .iter()
                .flat_map(|(n, d)| u32b(*n).into_iter().chain(u32b(*d)))
                .collect(),
        }
    }
}

/// The three IFDs the editor can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dir {
    Ifd0 = 0,
    Exif = 1,
    Gps = 2,
}

/// How [`exif_proof`] names the IFD `d`.
fn ifd_name(d: Dir) -> IfdName {
    match d {
        Dir::Ifd0 => IfdName::Chain(0),
        Dir::Exif => IfdName::Exif,
        Dir::Gps => IfdName::Gps,
    }
}

const EXIF_POINTER: u16 = 0x8769;
const GPS_POINTER: u16 = 0x8825;

/// One 12-byte entry of an existing IFD, as found.
#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: u16,
    typ: u16,
    count: u32,
    /// The value-or-offset field, raw.
    field: [u8; 4],
    /// Where the entry starts in the block.
    at: usize,
}

/// An entry of a rewritten IFD: (tag, type, count, the new value's bytes or `None` for the
/// existing value-or-offset field, that field).
type OutEntry = (u16, u16, u32, Option<Vec<u8>>, [u8; 4]);

/// An IFD found in the block.
#[derive(Debug, Clone, Default)]
struct Ifd {
    entries: Vec<Entry>,
    next: u32,
}

/// An editor over one EXIF block. See the module documentation.
pub(super) struct Editor {
    /// The existing block (a bare 8-byte header for a new one).
    block: Vec<u8>,
    le: bool,
    /// The existing IFD0, Exif and GPS IFDs (by [`Dir`]).
    found: [Option<Ifd>; 3],
    /// Requested values by [`Dir`], in request order (a later one for a tag wins).
    changes: [Vec<(u16, Val)>; 3],
}

fn type_size(typ: u16) -> Option<usize> {
    Some(match typ {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 => 8,
        _ => return None,
    })
}

impl Editor {
    /// A new block (little-endian) with no IFD yet.
    pub(super) fn fresh() -> Editor {
        Editor {
            block: b"II*\0\0\0\0\0".to_vec(),
            le: true,
            found: [None, None, None],
            changes: Default::default(),
        }
    }

    /// Reads the structure of an existing block (`II` or `MM` TIFF header first).
    pub(super) fn parse(tiff: &[u8]) -> Result<Editor, String> {
        let le = match tiff.get(0..4) {
            Some(b"II*\0") => true,
            Some(b"MM\0*") => false,
            _ => return Err("not a TIFF header".into()),
        };
        let mut ed = Editor {
            block: tiff.to_vec(),
            le,
            found: [None, None, None],
            changes: Default::default(),
        };
        let ifd0 = ed.u32_at(4).ok_or("truncated header")?;
        let ifd0 = ed.read_ifd(ifd0)?;
        // A pointer of any integer type exiftool follows is the pointer; one that holds no
        // offset is not replaced by a new IFD (the camera's would become unreachable).
        let pointer =
            |ifd: &Ifd, tag: u16, what: &str| match ifd.entries.iter().find(|e| e.tag == tag) {
                Some(e) => exif_proof::pointer(le, e.typ, e.count, e.field)
                    .map(Some)
                    .ok_or_else(|| format!("the {what} pointer holds no offset")),
                None => Ok(None),
            };
        let exif = pointer(&ifd0, EXIF_POINTER, "Exif IFD")?;
        let gps = pointer(&ifd0, GPS_POINTER, "GPS IFD")?;
        ed.found[Dir::Exif as usize] = match exif {
            Some(off) => Some(ed.read_ifd(off).map_err(|e| format!("Exif IFD: {e}"))?),
            None => None,
        };
        ed.found[Dir::Gps as usize] = match gps {
            Some(off) => Some(ed.read_ifd(off).map_err(|e| format!("GPS IFD: {e}"))?),
            None => None,
        };
        ed.found[Dir::Ifd0 as usize] = Some(ifd0);
        Ok(ed)
    }

    fn u16_of(&self, b: [u8; 2]) -> u16 {
        if self.le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    }

    fn u32_of(&self, b: [u8; 4]) -> u32 {
        if self.le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    }

    fn u16_at(&self, at: usize) -> Option<u16> {
        let b = self.block.get(at..at.checked_add(2)?)?;
        Some(self.u16_of([b[0], b[1]]))
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let b = self.block.get(at..at.checked_add(4)?)?;
        Some(self.u32_of([b[0], b[1], b[2], b[3]]))
    }

    fn u32_bytes(&self, v: u32) -> [u8; 4] {
        if self.le {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    }

    fn u16_bytes(&self, v: u16) -> [u8; 2] {
        if self.le {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    }

    fn read_ifd(&self, offset: u32) -> Result<Ifd, String> {
        let start = offset as usize;
        if start < 8 {
            return Err(format!("IFD offset {offset} inside the header"));
        }
        let n = self
            .u16_at(start)
            .ok_or_else(|| format!("IFD offset {offset} past the end of the block"))?;
        let entries_end = start + 2 + 12 * n as usize;
        let next = self
            .u32_at(entries_end)
            // Some writers end the last IFD without its next-IFD pointer: read it as none.
            .unwrap_or(0);
        if entries_end > self.block.len() {
            return Err(format!("IFD at {offset} runs past the end of the block"));
        }
        let entries = (0..n as usize)
            .map(|i| {
                let at = start + 2 + 12 * i;
                let b = &self.block[at..at + 12];
                Entry {
                    tag: self.u16_of([b[0], b[1]]),
                    typ: self.u16_of([b[2], b[3]]),
                    count: self.u32_of([b[4], b[5], b[6], b[7]]),
                    field: [b[8], b[9], b[10], b[11]],
                    at,
                }
            })
            .collect();
        Ok(Ifd { entries, next })
    }

    fn entry(&self, dir: Dir, tag: u16) -> Option<&Entry> {
        self.found[dir as usize]
            .as_ref()?
            .entries
            .iter()
            .find(|e| e.tag == tag)
    }

    /// Where the entry of `tag` in `dir` starts in the block (for tests that change it).
    #[cfg(test)]
    pub(super) fn entry_at(&self, dir: Dir, tag: u16) -> Option<usize> {
        self.entry(dir, tag).map(|e| e.at)
    }

    /// True when the existing block has `tag` in `dir`.
    pub(super) fn has(&self, dir: Dir, tag: u16) -> bool {
        self.entry(dir, tag).is_some()
    }

    /// Where an entry's value is in the block and its length, when it is readable.
    fn value_span(&self, e: &Entry) -> Option<(usize, usize)> {
        let len = type_size(e.typ)?.checked_mul(e.count as usize)?;
        let at = if len <= 4 {
            e.at + 8
        } else {
            self.u32_of(e.field) as usize
        };
        (at.checked_add(len)? <= self.block.len()).then_some((at, len))
    }

    /// The raw bytes of the existing value of `tag` in `dir`.
    pub(super) fn value(&self, dir: Dir, tag: u16) -> Option<&[u8]> {
        let (at, len) = self.value_span(self.entry(dir, tag)?)?;
        Some(&self.block[at..at + len])
    }

    /// Sets `tag` in `dir` to `val` (added, or replacing the existing entry).
    pub(super) fn set(&mut self, dir: Dir, tag: u16, val: Val) {
        let list = &mut self.changes[dir as usize];
        list.retain(|(t, _)| *t != tag);
        list.push((tag, val));
    }

    /// Sets `tag` in `dir` only when the block does not have it yet.
    pub(super) fn set_missing(&mut self, dir: Dir, tag: u16, val: Val) {
        if !self.has(dir, tag) {
            self.set(dir, tag, val);
        }
    }

    /// (IFD, tag) of everything set so far.
    pub(super) fn changed_tags(&self) -> Vec<(Dir, u16)> {
        [Dir::Ifd0, Dir::Exif, Dir::Gps]
            .into_iter()
            .flat_map(|d| self.changes[d as usize].iter().map(move |(t, _)| (d, *t)))
            .collect()
    }

    /// True when something was set.
    pub(super) fn is_changed(&self) -> bool {
        self.changes.iter().any(|c| !c.is_empty())
    }

    /// Everything set so far, as [`exif_proof::prove`] expects to find it.
    pub(super) fn intended(&self) -> Vec<Intended> {
        [Dir::Ifd0, Dir::Exif, Dir::Gps]
            .into_iter()
            .flat_map(|d| {
                self.changes[d as usize]
                    .iter()
                    .map(move |(t, v)| (d, *t, v))
            })
            .map(|(d, tag, v)| Intended {
                ifd: ifd_name(d),
                tag,
                typ: v.type_code(),
                count: v.count(),
                bytes: v.encode(self.le),
            })
            .collect()
    }

    /// The edited block: the existing bytes (with same-size values patched in place) followed
    /// by the rewritten and new IFDs. `Ok(None)` when nothing was set.
    pub(super) fn finish(mut self) -> Result<Option<Vec<u8>>, String> {
        if !self.is_changed() {
            return Ok(None);
        }
        // What each byte of the block belongs to (nothing, for a new block).
        let layout = Layout::walk(&self.block).ok();
        let patches = self.take_in_place_patches(layout.as_ref());
        let rewrite = self.ifds_to_rewrite(layout.as_ref());
        let mut out = self.block.clone();
        for p in patches {
            if p.len <= 4 && rewrite[p.dir as usize] {
                // The IFD is written anew from its entries as found: an inline value goes
                // into the new copy, the old one keeps the camera's bytes.
                self.changes[p.dir as usize].push((p.tag, p.val));
            } else {
                out[p.at..p.at + p.len].copy_from_slice(&p.val.encode(self.le));
            }
        }
        let mut plans = self.lay_out(&rewrite, out.len() + out.len() % 2)?;
        self.point_to_new_ifds(&mut plans, &mut out);
        if !plans.is_empty() {
            out.resize(out.len() + out.len() % 2, 0);
        }
        for p in &plans {
            self.write_ifd(p, &mut out);
        }
        Ok(Some(out))
    }

    /// Whether the value of entry `e` of `d`, at `at..at + len`, owns its bytes alone in
    /// `layout`: an inline value when its IFD's table shares no byte, a longer one when no
    /// other value, IFD or image data (a thumbnail, a strip) shares one of its bytes.
    fn owns_alone(
        &self,
        layout: Option<&Layout>,
        d: Dir,
        e: &Entry,
        at: usize,
        len: usize,
    ) -> bool {
        let name = ifd_name(d);
        let Some(l) = layout.filter(|l| l.entry_at(name, e.tag) == Some(e.at)) else {
            return false;
        };
        if len <= 4 {
            !l.table_shared(name)
        } else {
            !l.others_over(at, len, Owner::Value(e.at))
        }
    }

    /// Takes out of `changes` every value of the same type and size as the existing one that
    /// owns its bytes alone ([`Editor::owns_alone`]) and returns them as patches of the block:
    /// they are written where they are.
    fn take_in_place_patches(&mut self, layout: Option<&Layout>) -> Vec<Patch> {
        let mut patches = Vec::new();
        for d in [Dir::Ifd0, Dir::Exif, Dir::Gps] {
            let mut keep = Vec::new();
            for (tag, val) in std::mem::take(&mut self.changes[d as usize]) {
                let in_place = self.entry(d, tag).and_then(|e| {
                    let (at, len) = (e.typ == val.type_code() && e.count as usize == val.count())
                        .then(|| self.value_span(e))
                        .flatten()?;
                    (len == val.encode(self.le).len() && self.owns_alone(layout, d, e, at, len))
                        .then_some((at, len))
                });
                match in_place {
                    Some((at, len)) => patches.push(Patch {
                        dir: d,
                        tag,
                        val,
                        at,
                        len,
                    }),
                    None => keep.push((tag, val)),
                }
            }
            self.changes[d as usize] = keep;
        }
        patches
    }

    /// Which IFDs (by [`Dir`]) are written anew at the end: those with changes left, and IFD0
    /// when a new sub-IFD needs a pointer entry in it, or when the pointer it has cannot be
    /// patched in place (not four bytes wide, or in a table that shares bytes): the pointer
    /// is then added to `changes` here, its value filled in by
    /// [`Editor::point_to_new_ifds`].
    fn ifds_to_rewrite(&mut self, layout: Option<&Layout>) -> [bool; 3] {
        let needs = |ed: &Editor, d: Dir| !ed.changes[d as usize].is_empty();
        let mut rewrite = [
            needs(self, Dir::Ifd0),
            needs(self, Dir::Exif),
            needs(self, Dir::Gps),
        ];
        let table_ok = layout.is_some_and(|l| !l.table_shared(IfdName::Chain(0)));
        for (d, tag) in [(Dir::Exif, EXIF_POINTER), (Dir::Gps, GPS_POINTER)] {
            let patchable = self
                .entry(Dir::Ifd0, tag)
                .is_some_and(|e| matches!(e.typ, 4 | 9 | 13) && table_ok);
            if rewrite[d as usize] && !patchable {
                self.changes[0].retain(|(t, _)| *t != tag);
                self.changes[0].push((tag, Val::Long(vec![0])));
                rewrite[0] = true;
            }
        }
        rewrite
    }

    /// The IFDs to `rewrite`, laid out one after the other from `end`, each followed by its
    /// out-of-line values.
    fn lay_out(&self, rewrite: &[bool; 3], mut end: usize) -> Result<Vec<Planned>, String> {
        let mut plans = Vec::new();
        for d in [Dir::Ifd0, Dir::Exif, Dir::Gps] {
            if rewrite[d as usize] {
                let p = self.plan_ifd(d, end)?;
                end += p.size;
                plans.push(p);
            }
        }
        if end > u32::MAX as usize {
            return Err("the EXIF block would exceed 4 GB".into());
        }
        Ok(plans)
    }

    /// IFD `d` as rewritten at `offset`: its entries that are not changed, and the changed
    /// ones with their new values, sorted by tag.
    fn plan_ifd(&self, d: Dir, offset: usize) -> Result<Planned, String> {
        let changes = &self.changes[d as usize];
        let found = self.found[d as usize].clone().unwrap_or_default();
        let mut entries: Vec<_> = found
            .entries
            .iter()
            .filter(|e| !changes.iter().any(|(t, _)| *t == e.tag))
            .map(|e| (e.tag, e.typ, e.count, None, e.field))
            .collect();
        for (tag, val) in changes {
            let count = u32::try_from(val.count()).map_err(|_| "value too large")?;
            entries.push((
                *tag,
                val.type_code(),
                count,
                Some(val.encode(self.le)),
                [0; 4],
            ));
        }
        entries.sort_by_key(|e| e.0);
        let n = entries.len();
        if n > u16::MAX as usize {
            return Err("too many entries in one IFD".into());
        }
        let values: usize = entries
            .iter()
            .filter_map(|e| e.3.as_ref())
            .filter(|b| b.len() > 4)
            .map(|b| b.len() + b.len() % 2)
            .sum();
        Ok(Planned {
            dir: d,
            entries,
            next: found.next,
            offset,
            size: 2 + 12 * n + 4 + values,
        })
    }

    /// Points IFD0's Exif and GPS entries to the moved or new sub-IFDs (in the rewritten IFD0
    /// of `plans`, else in place in `out`), and the header to a rewritten IFD0.
    fn point_to_new_ifds(&self, plans: &mut [Planned], out: &mut [u8]) {
        let offset_of =
            |plans: &[Planned], d: Dir| plans.iter().find(|p| p.dir == d).map(|p| p.offset as u32);
        for (d, tag) in [(Dir::Exif, EXIF_POINTER), (Dir::Gps, GPS_POINTER)] {
            let Some(off) = offset_of(plans, d) else {
                continue;
            };
            let bytes = self.u32_bytes(off);
            if let Some(p) = plans.iter_mut().find(|p| p.dir == Dir::Ifd0) {
                let e = p
                    .entries
                    .iter_mut()
                    .find(|e| e.0 == tag)
                    .expect("pointer entry");
                // Keep the camera's type (LONG or IFD); a new pointer is a LONG.
                e.3 = None;
                e.4 = bytes;
                if e.1 != 13 {
                    e.1 = 4;
                }
                e.2 = 1;
            } else {
                let at = self.entry(Dir::Ifd0, tag).expect("pointer exists").at + 8;
                out[at..at + 4].copy_from_slice(&bytes);
            }
        }
        if let Some(off) = offset_of(plans, Dir::Ifd0) {
            out[4..8].copy_from_slice(&self.u32_bytes(off));
        }
    }

    /// Appends the planned IFD `p` to `out` (which ends at `p.offset`): its entries, the
    /// next-IFD pointer, then the values longer than four bytes.
    fn write_ifd(&self, p: &Planned, out: &mut Vec<u8>) {
        debug_assert_eq!(out.len(), p.offset);
        let mut values_at = p.offset + 2 + 12 * p.entries.len() + 4;
        let mut values = Vec::new();
        out.extend_from_slice(&self.u16_bytes(p.entries.len() as u16));
        for (tag, typ, count, new, field) in &p.entries {
            out.extend_from_slice(&self.u16_bytes(*tag));
            out.extend_from_slice(&self.u16_bytes(*typ));
            out.extend_from_slice(&self.u32_bytes(*count));
            match new {
                None => out.extend_from_slice(field),
                Some(b) if b.len() <= 4 => {
                    let mut f = [0u8; 4];
                    f[..b.len()].copy_from_slice(b);
                    out.extend_from_slice(&f);
                }
                Some(b) => {
                    out.extend_from_slice(&self.u32_bytes(values_at as u32));
                    values.extend_from_slice(b);
                    if b.len() % 2 == 1 {
                        values.push(0);
                    }
                    values_at += b.len() + b.len() % 2;
                }
            }
        }
        out.extend_from_slice(&self.u32_bytes(p.next));
        out.extend_from_slice(&values);
        debug_assert_eq!(out.len(), p.offset + p.size);
    }
}

/// A value written where it is: `val` of `tag` in `dir` at `at..at + len`.
struct Patch {
    dir: Dir,
    tag: u16,
    val: Val,
    at: usize,
    len: usize,
}

/// An IFD as it will be written at the end of the block.
struct Planned {
    dir: Dir,
    entries: Vec<OutEntry>,
    /// The next-IFD pointer the IFD had.
    next: u32,
    /// Where it starts in the new block.
    offset: usize,
    /// Its bytes: count, entries, next pointer and out-of-line values.
    size: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small big-endian block: IFD0 {Make, ExifIFD}, Exif {DateTimeOriginal, MakerNote
    /// holding an offset into the block}, and a trailing "thumbnail" at a fixed offset.
    fn camera_block(le: bool) -> Vec<u8> {
        let mut b = Vec::new();
        let u16b = |v: u16| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        let u32b = |v: u32| if le { v.to_le_bytes() } else { v.to_be_bytes() };
        b.extend_from_slice(if le { b"II*\0" } else { b"MM\0*" });
        b.extend_from_slice(&u32b(8));
        // IFD0 at 8: 2 entries → ends at 8+2+24+4 = 38.
        b.extend_from_slice(&u16b(2));
        for (tag, typ, count, field) in [
            (0x010F_u16, 2_u16, 6_u32, u32b(38)),
            (0x8769, 4, 1, u32b(44)),
        ] {
            b.extend_from_slice(&u16b(tag));
            b.extend_from_slice(&u16b(typ));
            b.extend_from_slice(&u32b(count));
            b.extend_from_slice(&field);
        }
        b.extend_from_slice(&u32b(0));
        b.extend_from_slice(b"Canon\0"); // 38..44
                                         // Exif IFD at 44: 2 entries → ends at 44+2+24+4 = 74.
        b.extend_from_slice(&u16b(2));
        for (tag, typ, count, field) in [
            (0x9003_u16, 2_u16, 20_u32, u32b(74)),
            (0x927C, 7, 8, u32b(94)),
        ] {
            b.extend_from_slice(&u16b(tag));
            b.extend_from_slice(&u16b(typ));
            b.extend_from_slice(&u32b(count));
            b.extend_from_slice(&field);
        }
        b.extend_from_slice(&u32b(0));
        b.extend_from_slice(b"2001:02:03 04:05:06\0"); // 74..94
                                                       // Maker note: "MN" + an absolute offset (102) into the block + 2 bytes.
        b.extend_from_slice(b"MN");
        b.extend_from_slice(&u32b(102));
        b.extend_from_slice(b"..");
        b.extend_from_slice(b"THUMB"); // 102..107
        b
    }

    fn reread(tiff: &[u8]) -> exif::Exif {
        exif::Reader::new()
            .read_raw(tiff.to_vec())
            .expect("kamadak-exif reads the result")
    }

    fn ascii(e: &exif::Exif, tag: exif::Tag) -> String {
        match &e.get_field(tag, exif::In::PRIMARY).unwrap().value {
            exif::Value::Ascii(v) => String::from_utf8_lossy(&v[0]).into_owned(),
            v => panic!("{v:?}"),
        }
    }

    /// Entry tags of the IFD at `off`, checking they are sorted and the IFD is word-aligned.
    fn tags_at(ed: &Editor, off: u32) -> Vec<u16> {
        assert_eq!(off % 2, 0, "IFD at an odd offset");
        let ifd = ed.read_ifd(off).unwrap();
        let tags: Vec<u16> = ifd.entries.iter().map(|e| e.tag).collect();
        let mut sorted = tags.clone();
        sorted.sort();
        assert_eq!(tags, sorted, "entries sorted");
        for e in &ifd.entries {
            if let Some((at, len)) = ed.value_span(e) {
                assert!(len <= 4 || at % 2 == 0, "odd value offset for {:#x}", e.tag);
            }
        }
        tags
    }

    #[test]
    fn adding_gps_keeps_every_existing_byte_in_place() {
        for le in [true, false] {
            let src = camera_block(le);
            let mut ed = Editor::parse(&src).unwrap();
            ed.set(Dir::Gps, 0x0000, Val::Byte(vec![2, 3, 0, 0]));
            ed.set(
                Dir::Gps,
                0x0002,
                Val::Rational(vec![(48, 1), (51, 1), (301, 100)]),
            );
            ed.set(Dir::Gps, 0x0001, Val::Ascii("N".into()));
            let out = ed.finish().unwrap().unwrap();
            // The old block is a prefix of the new one but for the IFD0 pointer.
            assert_eq!(out[..4], src[..4]);
            assert_eq!(out[8..src.len()], src[8..]);
            let e = reread(&out);
            assert_eq!(ascii(&e, exif::Tag::Make), "Canon");
            assert_eq!(
                ascii(&e, exif::Tag::DateTimeOriginal),
                "2001:02:03 04:05:06"
            );
            assert_eq!(ascii(&e, exif::Tag::GPSLatitudeRef), "N");
            let lat = e
                .get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
                .unwrap();
            assert_eq!(lat.display_value().to_string(), "48 deg 51 min 3.01 sec");
            // The maker note is where it was, its offset still points at the thumbnail.
            let mn = e
                .get_field(exif::Tag::MakerNote, exif::In::PRIMARY)
                .unwrap();
            let exif::Value::Undefined(bytes, off) = &mn.value else {
                panic!()
            };
            assert_eq!(*off, 94);
            assert_eq!(&bytes[..2], b"MN");
            assert_eq!(&out[102..107], b"THUMB");
            // IFD0 moved to the end, sorted, with a GPS pointer; the Exif IFD did not move.
            let ed2 = Editor::parse(&out).unwrap();
            let ifd0 = ed2.u32_at(4).unwrap();
            assert!(ifd0 as usize >= src.len());
            assert_eq!(tags_at(&ed2, ifd0), [0x010F, 0x8769, 0x8825]);
            let exif_ptr = ed2.value(Dir::Ifd0, 0x8769).unwrap();
            assert_eq!(ed2.u32_of(exif_ptr.try_into().unwrap()), 44);
            let gps = ed2.u32_of(ed2.value(Dir::Ifd0, 0x8825).unwrap().try_into().unwrap());
            assert_eq!(tags_at(&ed2, gps), [0, 1, 2]);
        }
    }

    #[test]
    fn adding_to_the_exif_ifd_patches_its_pointer_in_place() {
        let src = camera_block(false);
        let mut ed = Editor::parse(&src).unwrap();
        ed.set(Dir::Exif, 0x9011, Val::Ascii("+02:00".into()));
        ed.set_missing(Dir::Exif, 0x9003, Val::Ascii("1999:01:01 00:00:00".into()));
        let out = ed.finish().unwrap().unwrap();
        // IFD0 stays where it was; only its ExifIFD pointer value changed.
        assert_eq!(out[..30], src[..30]);
        assert_ne!(out[30..34], src[30..34]);
        assert_eq!(out[34..src.len()], src[34..]);
        let e = reread(&out);
        assert_eq!(ascii(&e, exif::Tag::OffsetTimeOriginal), "+02:00");
        assert_eq!(
            ascii(&e, exif::Tag::DateTimeOriginal),
            "2001:02:03 04:05:06"
        );
        let ed2 = Editor::parse(&out).unwrap();
        let exif_off = ed2.u32_of(ed2.value(Dir::Ifd0, 0x8769).unwrap().try_into().unwrap());
        assert_eq!(tags_at(&ed2, exif_off), [0x9003, 0x9011, 0x927C]);
    }

    #[test]
    fn same_size_values_are_patched_in_place() {
        let src = camera_block(true);
        let mut ed = Editor::parse(&src).unwrap();
        ed.set(Dir::Exif, 0x9003, Val::Ascii("2010:01:01 13:00:00".into()));
        let out = ed.finish().unwrap().unwrap();
        assert_eq!(out.len(), src.len(), "nothing appended");
        assert_eq!(&out[74..94], b"2010:01:01 13:00:00\0");
        assert_eq!(out[..74], src[..74]);
        assert_eq!(out[94..], src[94..]);
        // A value of another size moves to the end with a rewritten IFD.
        let mut ed = Editor::parse(&src).unwrap();
        ed.set(Dir::Ifd0, 0x010F, Val::Ascii("Nikon Corp".into()));
        let out = ed.finish().unwrap().unwrap();
        assert_eq!(ascii(&reread(&out), exif::Tag::Make), "Nikon Corp");
        assert_eq!(
            &out[38..44],
            b"Canon\0",
            "the old value stays, unreferenced"
        );
    }

    #[test]
    fn a_fresh_block_is_built_by_the_same_editor() {
        let mut ed = Editor::fresh();
        ed.set(Dir::Ifd0, 0x011A, Val::Rational(vec![(72, 1)]));
        ed.set(Dir::Exif, 0x9000, Val::Undefined(b"0232".to_vec()));
        ed.set(Dir::Exif, 0x9003, Val::Ascii("2019:07:04 17:10:12".into()));
        ed.set(Dir::Gps, 0x0000, Val::Byte(vec![2, 3, 0, 0]));
        ed.set(Dir::Ifd0, 0x0128, Val::Short(vec![2]));
        let out = ed.finish().unwrap().unwrap();
        assert_eq!(&out[..8], b"II*\0\x08\0\0\0");
        let e = reread(&out);
        assert_eq!(
            ascii(&e, exif::Tag::DateTimeOriginal),
            "2019:07:04 17:10:12"
        );
        let v = e
            .get_field(exif::Tag::ExifVersion, exif::In::PRIMARY)
            .unwrap();
        assert_eq!(v.display_value().to_string(), "2.32");
        let ed2 = Editor::parse(&out).unwrap();
        assert_eq!(tags_at(&ed2, 8), [0x011A, 0x0128, 0x8769, 0x8825]);
        assert!(Editor::fresh().finish().unwrap().is_none());
    }

    #[test]
    fn malformed_blocks_are_errors_not_panics() {
        let src = camera_block(true);
        for cut in 0..src.len() {
            // Must not panic; short blocks are errors or parse with what they hold.
            if let Ok(mut ed) = Editor::parse(&src[..cut]) {
                ed.set(Dir::Gps, 1, Val::Ascii("N".into()));
                let _ = ed.finish();
            }
        }
        let mut bad = src.clone();
        bad[4] = 0xFF; // IFD0 offset far past the end
        assert!(Editor::parse(&bad).is_err());
        let mut bad = src.clone();
        bad[30] = 0xF0; // Exif pointer past the end
        assert!(Editor::parse(&bad).is_err());
        let mut bad = src.clone();
        bad[8] = 0xFF; // 255 entries in IFD0
        assert!(Editor::parse(&bad).is_err());
        assert!(Editor::parse(b"XX*\0\x08\0\0\0").is_err());
        // A value whose offset points past the end reads as absent, never out of bounds.
        let mut bad = src.clone();
        bad[18] = 0xF0;
        let ed = Editor::parse(&bad).unwrap();
        assert!(ed.has(Dir::Ifd0, 0x010F));
        assert!(ed.value(Dir::Ifd0, 0x010F).is_none());
    }
}
