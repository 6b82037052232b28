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

/// A chunk: where it starts in the file and how many bytes its samples take.
pub(super) type Chunk = (u64, u64);

/// The entries of a full box's table (`width` bytes each, after version, flags and a count),
/// the count bounded by the bytes that hold them.
fn table(moov: &[u8], (tb, te): (usize, usize), width: usize) -> Result<&[u8], String> {
    if te < tb + 8 {
        return Err("a short sample table".into());
    }
    let count = u32::from_be_bytes(moov[tb + 4..tb + 8].try_into().expect("4")) as usize;
    if count > (te - tb - 8) / width {
        return Err("a count larger than its table".into());
    }
    Ok(&moov[tb + 8..tb + 8 + count * width])
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |v, x| (v << 8) | u64::from(*x))
}

/// How many bytes each of `chunks` chunks takes, from the sample sizes (`stsz` contents) and
/// the samples per chunk (`stsc` contents). Work bounded by the tables' bytes and `chunks`.
fn chunk_lengths(
    moov: &[u8],
    stsz: (usize, usize),
    stsc: (usize, usize),
    chunks: usize,
) -> Result<Vec<u64>, String> {
    let bad = |what: &str| format!("a sample table that does not add up ({what})");
    if stsz.1 < stsz.0 + 12 {
        return Err(bad("stsz"));
    }
    // version and flags, the size of every sample (0: each its own), then a counted table.
    let constant = be(&moov[stsz.0 + 4..stsz.0 + 8]);
    let sizes: Vec<u64> = if constant == 0 {
        table(moov, (stsz.0 + 4, stsz.1), 4)?
            .chunks_exact(4)
            .map(be)
            .collect()
    } else {
        Vec::new()
    };
    let runs: Vec<(u64, u64)> = table(moov, stsc, 12)?
        .chunks_exact(12)
        .map(|e| (be(&e[0..4]), be(&e[4..8])))
        .collect();
    let mut out = Vec::with_capacity(chunks);
    let (mut run, mut sample) = (0usize, 0usize);
    for chunk in 1..=chunks as u64 {
        while runs.get(run + 1).is_some_and(|r| r.0 <= chunk) {
            run += 1;
        }
        let n = match runs.get(run) {
            Some(&(first, n)) if first <= chunk => n,
            _ => return Err(bad("stsc")),
        };
        let len = if constant != 0 {
            constant.checked_mul(n).ok_or_else(|| bad("stsz"))?
        } else {
            let end = usize::try_from(n)
                .ok()
                .and_then(|n| sample.checked_add(n))
                .filter(|e| *e <= sizes.len())
                .ok_or_else(|| bad("more samples than sizes"))?;
            let len = sizes[sample..end]
                .iter()
                .try_fold(0u64, |a, s| a.checked_add(*s));
            sample = end;
            len.ok_or_else(|| bad("stsz"))?
        };
        out.push(len);
    }
    Ok(out)
}

/// The chunks of every track of the `moov` box that fills `moov`, track by track. An error
/// when a track's tables cannot be found and read with certainty.
pub(super) fn sample_tables(moov: &[u8]) -> Result<Vec<Vec<Chunk>>, String> {
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
        let one = |kinds: &[&[u8; 4]]| {
            let mut found = kids.iter().filter(|k| kinds.contains(&&k.0));
            match (found.next(), found.next()) {
                (Some(&(kind, b, e)), None) => Ok((kind, (b, e))),
                _ => Err(format!(
                    "a track without one {}",
                    String::from_utf8_lossy(kinds[0])
                )),
            }
        };
        let (kind, offsets) = one(&[b"stco", b"co64"])?;
        let width = if &kind == b"co64" { 8 } else { 4 };
        let offsets: Vec<u64> = table(moov, offsets, width)?
            .chunks_exact(width)
            .map(be)
            .collect();
        let lengths = chunk_lengths(moov, one(&[b"stsz"])?.1, one(&[b"stsc"])?.1, offsets.len())?;
        tracks.push(offsets.into_iter().zip(lengths).collect());
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
        for (&(old, len), &new) in b.iter().zip(a) {
            // No chunk reads from the edited region, and each starts where its bytes went.
            let end = old.saturating_add(len);
            let edited = old < edit.start.saturating_add(edit.old_len) && end > edit.start;
            if edited || edit.map(old).map(|p| (p, len)) != Some(new) {
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
        // An offset into moov itself is never proven, nor a chunk that runs into it (found
        // by the fuzzer: a chunk at 36 whose samples cover moov's header at 48).
        for start in [100u32, 30] {
            let (mut old, _) = moovs(0);
            old[822 - 32 + 16..822 - 32 + 20].copy_from_slice(&start.to_be_bytes());
            assert!(prove(&old, &old.clone(), e(0)).is_err(), "{start}");
        }
        assert_eq!(
            sample_tables(&moovs(0).0).unwrap()[0][0].1,
            1170 - 8,
            "mdat's samples"
        );
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
