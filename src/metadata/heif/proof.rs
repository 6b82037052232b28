//! The proof that an edited HEIF file still leads every item to the bytes it led to before.
//!
//! The editor rebuilds `meta` (its `iloc` with offsets shifted by the growth, a new Exif item)
//! from its own parse; a field it misreads or an offset it shifts wrongly would show another
//! image, or none, while the run says "written". So before the result is used, this module
//! reads the item locations of the old and the new file with a reader of its own and checks,
//! item by item, that each extent of the new file is where the old extent's bytes land (the
//! file outside `meta` is copied as it is: a position before `meta` stays, a position after it
//! moves by `meta`'s growth), that no extent reads from the old `meta`, and that the Exif item
//! reads only from the bytes appended after the old file. Counts are bounded by the bytes that
//! hold them; nothing is read but the two files' `meta`.

use std::collections::BTreeMap;

type R<T> = Result<T, String>;

/// An item's location: construction method, data reference, and extents (start, length);
/// for method 0 the start is a file position.
#[derive(Debug, Clone, PartialEq)]
struct Located {
    method: u16,
    data_ref: u16,
    extents: Vec<(u64, u64)>,
}

/// Big-endian unsigned of `n` bytes at `*at`, moving `*at` on; within `end`.
fn read(buf: &[u8], at: &mut usize, n: usize, end: usize) -> R<u64> {
    let stop = at
        .checked_add(n)
        .filter(|s| *s <= end)
        .ok_or("a short iloc")?;
    let v = buf[*at..stop]
        .iter()
        .fold(0u64, |v, b| (v << 8) | u64::from(*b));
    *at = stop;
    Ok(v)
}

/// A box: its type, start, start of contents and end.
type Box4 = ([u8; 4], usize, usize, usize);

/// The boxes in `buf[start..end]`, in order.
fn boxes(buf: &[u8], mut pos: usize, end: usize) -> R<Vec<Box4>> {
    let mut out = Vec::new();
    while pos < end {
        let mut at = pos;
        let size = read(buf, &mut at, 4, end)?;
        let kind: [u8; 4] = buf
            .get(at..at + 4)
            .and_then(|k| k.try_into().ok())
            .ok_or("a short box")?;
        at += 4;
        let size = match size {
            0 => (end - pos) as u64,
            1 => read(buf, &mut at, 8, end)?,
            s => s,
        };
        if size < (at - pos) as u64 || size > (end - pos) as u64 {
            return Err("a box size that does not fit".into());
        }
        out.push((kind, pos, at, pos + size as usize));
        pos += size as usize;
    }
    Ok(out)
}

/// The file's `meta` box (start, end) and its item locations by item ID.
fn locations(file: &[u8]) -> R<((usize, usize), BTreeMap<u32, Located>)> {
    let top = boxes(file, 0, file.len())?;
    let (_, start, mbody, mend) = *top.iter().find(|b| &b.0 == b"meta").ok_or("no meta box")?;
    let kids = boxes(file, mbody + 4, mend)?;
    let (_, _, ibody, iend) = *kids.iter().find(|b| &b.0 == b"iloc").ok_or("no iloc")?;
    let mut at = ibody;
    let version = read(file, &mut at, 1, iend)?;
    at += 3; // flags
    let sizes = read(file, &mut at, 2, iend)? as usize;
    let (off, len, base) = (sizes >> 12, (sizes >> 8) & 0xF, (sizes >> 4) & 0xF);
    let index = if version >= 1 { sizes & 0xF } else { 0 };
    let id_size = if version == 2 { 4 } else { 2 };
    let count = read(file, &mut at, id_size, iend)?;
    let mut items = BTreeMap::new();
    for _ in 0..count {
        let id = read(file, &mut at, id_size, iend)? as u32;
        let method = if version >= 1 {
            read(file, &mut at, 2, iend)? as u16 & 0xF
        } else {
            0
        };
        let data_ref = read(file, &mut at, 2, iend)? as u16;
        let base_offset = read(file, &mut at, base, iend)?;
        let n = read(file, &mut at, 2, iend)?;
        if n > 1 && index + off + len == 0 {
            return Err("extents that take no bytes".into());
        }
        let mut extents = Vec::new();
        for _ in 0..n {
            read(file, &mut at, index, iend)?;
            let o = read(file, &mut at, off, iend)?;
            let l = read(file, &mut at, len, iend)?;
            extents.push((base_offset.checked_add(o).ok_or("an offset overflows")?, l));
        }
        if items
            .insert(
                id,
                Located {
                    method,
                    data_ref,
                    extents,
                },
            )
            .is_some()
        {
            return Err("an item located twice".into());
        }
    }
    Ok(((start, mend), items))
}

/// The contents of the first `idat` box in the file's `meta` box, if any.
fn idat(file: &[u8]) -> R<Option<&[u8]>> {
    let top = boxes(file, 0, file.len())?;
    let (_, _, body, end) = *top.iter().find(|b| &b.0 == b"meta").ok_or("no meta box")?;
    Ok(boxes(file, body + 4, end)?
        .into_iter()
        .find(|b| &b.0 == b"idat")
        .map(|b| &file[b.2..b.3]))
}

/// Checks that every item of `old` but `exif` reads the same bytes in `new`, by position:
/// `new` is `old` with its `meta` box replaced and bytes appended, which only the item `exif`
/// reads from.
pub(super) fn prove(old: &[u8], new: &[u8], exif: u32) -> R<()> {
    let ((ms, me), before) = locations(old).map_err(|e| format!("before: {e}"))?;
    let ((ns, ne), after) = locations(new).map_err(|e| format!("after: {e}"))?;
    if ns != ms {
        return Err("the index moved".into());
    }
    let growth = (ne - ns) as i128 - (me - ms) as i128;
    let appended = (old.len() as i128 + growth) as u64;
    let map = |p: u64| -> Option<u64> {
        if p < ms as u64 {
            Some(p)
        } else if p < me as u64 {
            None
        } else {
            u64::try_from(i128::from(p) + growth).ok()
        }
    };
    let changed = |id: u32| format!("item {id} would read other bytes");
    for (id, b) in &before {
        if *id == exif {
            continue;
        }
        let a = after.get(id).ok_or_else(|| changed(*id))?;
        if (a.method, a.data_ref) != (b.method, b.data_ref) || a.extents.len() != b.extents.len() {
            return Err(changed(*id));
        }
        if b.method != 0 || b.data_ref != 0 {
            // In idat (copied within meta) or elsewhere: the same entry, the same idat.
            if a.extents != b.extents || idat(old)? != idat(new)? {
                return Err(changed(*id));
            }
            continue;
        }
        for (&(bs, bl), &(as_, al)) in b.extents.iter().zip(&a.extents) {
            // A length of 0 runs to the end of the file, which now holds appended bytes.
            let end = bs.checked_add(bl).ok_or_else(|| changed(*id))?;
            let inside_meta = bs < me as u64 && end > ms as u64;
            if bl == 0 || al != bl || inside_meta || map(bs) != Some(as_) {
                return Err(changed(*id));
            }
        }
    }
    if after.len() != before.len() + usize::from(!before.contains_key(&exif)) {
        return Err("the edit would change the item list".into());
    }
    let e = after.get(&exif).ok_or("no Exif item after the edit")?;
    let outside = e.extents.iter().any(|&(s, l)| {
        s < appended || l == 0 || s.checked_add(l).is_none_or(|end| end > new.len() as u64)
    });
    if e.method != 0 || e.data_ref != 0 || outside {
        return Err("the Exif item would read bytes of the image".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{fixture, paris_tags, TimeZoneChoice};

    #[test]
    fn an_item_pointing_one_byte_off_is_caught() {
        let mut caught = 0;
        for name in ["iphone.heic", "grid_exif.heic", "small.avif"] {
            let src = fixture(name);
            let mut out = Vec::new();
            let zone = TimeZoneChoice::parse("UTC").unwrap();
            let w =
                super::super::rewrite(&mut &src[..], &mut out, &paris_tags(None), &zone).unwrap();
            assert!(w.changed, "{name}");
            let (_, items) = locations(&out).unwrap();
            let exif = super::super::Heif::parse(&out)
                .unwrap()
                .exif_item()
                .unwrap()
                .unwrap();
            prove(&src, &out, exif).unwrap();
            // Move one byte an item's offset that is not the Exif one: its 4-byte field is
            // found by value in the new iloc.
            let (id, loc) = items
                .iter()
                .find(|(id, l)| **id != exif && l.method == 0)
                .unwrap();
            let target = (loc.extents[0].0 as u32).to_be_bytes();
            let (ms, me) = locations(&out).unwrap().0;
            let at = out[ms..me].windows(4).position(|w| w == target);
            let Some(at) = at else { continue }; // an offset held in 8 bytes or in base
            let mut bad = out.clone();
            bad[ms + at + 3] = bad[ms + at + 3].wrapping_add(1);
            assert!(prove(&src, &bad, exif).is_err(), "{name}: item {id}");
            caught += 1;
        }
        assert!(caught >= 2, "{caught}");
    }
}
