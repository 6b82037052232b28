//! The proof that an edited `moov` still leads every sample to the bytes it led to before.
//!
//! The editor moves chunk offsets with its own walk of `moov`; a box it misreads, a track it
//! does not reach, or a mistake in where the growth goes would break every frame of the video
//! while the run says "written". So before an edited `moov` is written, this module reads the
//! old and the new `moov` with a walk of its own, strict where the editor is lenient (every box
//! on the way to a chunk offset table fits its parent exactly, every track has exactly one
//! table), and checks, for every track, that each new chunk offset is where the bytes the old
//! one pointed at land in the output, and that no chunk starts in the edited region. Everything
//! outside that region is copied as it is, so a position before it stays and a position after
//! it moves by the region's growth. Only `moov` (in memory) is read, never the media.

/// Where the output differs from the input: `old_len` input bytes from `start` (`moov`, and
/// the free box after it when the growth took some of it) became `new_len` output bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Edit {
    pub start: u64,
    pub old_len: u64,
    pub new_len: u64,
}

impl Edit {
    /// Where input position `p` is in the output; `None` inside the edited region.
    fn map(&self, p: u64) -> Option<u64> {
        let end = self.start.checked_add(self.old_len)?;
        if p < self.start {
            Some(p)
        } else if p < end {
            None
        } else {
            (p - self.old_len).checked_add(self.new_len)
        }
    }
}

/// Nesting of the boxes on the way to a chunk offset table: moov, trak, mdia, minf, stbl.
const PATH: [&[u8; 4]; 4] = [b"trak", b"mdia", b"minf", b"stbl"];

/// (type, start of contents, end) of each box filling `buf[start..end]` exactly; up to 7
/// trailing zero bytes (a QuickTime terminator) are allowed. Any other misfit is an error.
fn strict(buf: &[u8], start: usize, end: usize) -> Result<Vec<([u8; 4], usize, usize)>, String> {
    let bad = || "a box size that does not fit".to_string();
    let mut out = Vec::new();
    let mut pos = start;
    while pos < end {
        if end - pos < 8 {
            if buf[pos..end].iter().all(|b| *b == 0) {
                break;
            }
            return Err(bad());
        }
        let size32 = u32::from_be_bytes(buf[pos..pos + 4].try_into().expect("4"));
        let kind: [u8; 4] = buf[pos + 4..pos + 8].try_into().expect("4");
        let (size, header) = match size32 {
            1 if end - pos >= 16 => (
                u64::from_be_bytes(buf[pos + 8..pos + 16].try_into().expect("8")),
                16,
            ),
            0 | 1 => return Err(bad()),
            s => (u64::from(s), 8),
        };
        if size < header || size > (end - pos) as u64 {
            return Err(bad());
        }
        out.push((kind, pos + header as usize, pos + size as usize));
        pos += size as usize;
    }
    Ok(out)
}

/// The chunk offsets of every track of the `moov` box that fills `moov`, track by track.
/// An error when a track's table cannot be found with certainty.
pub(super) fn sample_tables(moov: &[u8]) -> Result<Vec<Vec<u64>>, String> {
    let top = strict(moov, 0, moov.len())?;
    let [(kind, body, end)] = top.as_slice() else {
        return Err("not one box".into());
    };
    if kind != b"moov" {
        return Err("not a moov box".into());
    }
    let mut tracks = Vec::new();
    for (kind, tbody, tend) in strict(moov, *body, *end)? {
        if &kind != b"trak" {
            continue;
        }
        // Down trak → mdia → minf → stbl: exactly one of each.
        let mut at = (tbody, tend);
        for want in &PATH[1..] {
            let kids = strict(moov, at.0, at.1)?;
            let mut found = kids.iter().filter(|k| &k.0 == *want);
            match (found.next(), found.next()) {
                (Some(k), None) => at = (k.1, k.2),
                _ => {
                    return Err(format!(
                        "a track without one {}",
                        String::from_utf8_lossy(*want)
                    ))
                }
            }
        }
        let kids = strict(moov, at.0, at.1)?;
        let mut tables = kids.iter().filter(|k| &k.0 == b"stco" || &k.0 == b"co64");
        let (Some(&(kind, tb, te)), None) = (tables.next(), tables.next()) else {
            return Err("a track without one chunk offset table".into());
        };
        let width = if &kind == b"co64" { 8 } else { 4 };
        if te - tb < 8 {
            return Err("a short chunk offset table".into());
        }
        let count = u32::from_be_bytes(moov[tb + 4..tb + 8].try_into().expect("4")) as usize;
        // A count can never exceed what the table's bytes hold.
        if count > (te - tb - 8) / width {
            return Err("a chunk count larger than its table".into());
        }
        let entries = moov[tb + 8..tb + 8 + count * width]
            .chunks_exact(width)
            .map(|c| c.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b)))
            .collect();
        tracks.push(entries);
    }
    Ok(tracks)
}

/// Checks that `new` (the edited `moov`, written in place of `old` as `edit` says) leads every
/// chunk of every track to the same bytes as `old` did.
pub(super) fn prove(old: &[u8], new: &[u8], edit: Edit) -> Result<(), String> {
    let before = match sample_tables(old) {
        Ok(t) => t,
        // Tables we cannot read are left as they are: then nothing outside moov may move.
        Err(_) if edit.old_len == edit.new_len && old.len() == new.len() => return Ok(()),
        Err(e) => return Err(format!("its sample index cannot be checked ({e})")),
    };
    let after =
        sample_tables(new).map_err(|e| format!("the edited sample index does not read ({e})"))?;
    if before.len() != after.len() {
        return Err("the edit would change the number of tracks".into());
    }
    for (t, (b, a)) in before.iter().zip(&after).enumerate() {
        if b.len() != a.len() {
            return Err(format!("the edit would change track {}'s chunks", t + 1));
        }
        for (old, new) in b.iter().zip(a) {
            if edit.map(*old) != Some(*new) {
                return Err(format!(
                    "the edit would move track {}'s media out of place",
                    t + 1
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_map_around_the_edited_region() {
        let e = Edit {
            start: 100,
            old_len: 50,
            new_len: 80,
        };
        assert_eq!(e.map(0), Some(0));
        assert_eq!(e.map(99), Some(99));
        assert_eq!(e.map(100), None);
        assert_eq!(e.map(149), None);
        assert_eq!(e.map(150), Some(180));
        assert_eq!(e.map(u64::MAX), None, "no overflow");
        let shrink = Edit { new_len: 20, ..e };
        assert_eq!(shrink.map(150), Some(120));
    }
}

#[cfg(test)]
mod clip_tests {
    use super::*;
    use crate::metadata::fixture;

    /// clip.mp4's moov (at 32, 908 bytes) and a copy with its one chunk offset moved.
    fn moovs(by: i64) -> (Vec<u8>, Vec<u8>) {
        let clip = fixture("clip.mp4");
        let old = clip[32..940].to_vec();
        let mut new = old.clone();
        // stco at 822 in the file: its first entry at 822 + 16.
        let at = 822 - 32 + 16;
        let v = u32::from_be_bytes(new[at..at + 4].try_into().unwrap());
        new[at..at + 4].copy_from_slice(&((v as i64 + by) as u32).to_be_bytes());
        (old, new)
    }

    #[test]
    fn chunk_offsets_must_move_exactly_with_the_media() {
        let e = |grow: u64| Edit {
            start: 32,
            old_len: 908,
            new_len: 908 + grow,
        };
        let (old, same) = moovs(0);
        assert!(prove(&old, &same, e(0)).is_ok());
        assert!(
            prove(&old, &same, e(8)).is_err(),
            "media moved, offsets not"
        );
        let (old, moved) = moovs(8);
        assert!(prove(&old, &moved, e(8)).is_ok());
        assert!(prove(&old, &moved, e(9)).is_err());
        assert!(prove(&old, &moved, e(0)).is_err());
        // An offset into moov itself is never proven.
        let (mut old, _) = moovs(0);
        old[822 - 32 + 16..822 - 32 + 20].copy_from_slice(&100u32.to_be_bytes());
        assert!(prove(&old, &old.clone(), e(0)).is_err());
    }

    #[test]
    fn tables_out_of_reach_are_proven_only_when_nothing_moves() {
        let (mut old, _) = moovs(0);
        // trak/edts (at 248 in the file) claims more than its track holds.
        old[248 - 32..252 - 32].copy_from_slice(&0x7FFF_FFFFu32.to_be_bytes());
        assert!(sample_tables(&old).is_err());
        let same = Edit {
            start: 32,
            old_len: 908,
            new_len: 908,
        };
        assert!(prove(&old, &old.clone(), same).is_ok());
        let mut grown = old.clone();
        grown.extend_from_slice(&[0; 8]);
        let grow = Edit {
            new_len: 916,
            ..same
        };
        assert!(prove(&old, &grown, grow).is_err());
    }
}
