//! A zip's central directory read directly, for the zips the zip crate would read the same
//! way: one read of the end of the file, then the records a megabyte at a time.
//!
//! Written by hand because the zip crate's reader, which stays the reader of every other
//! zip, builds a name index (a SipHash map), a full record with its own allocations for each
//! entry and a parsed list of extra fields, and keeps them all: on the 2 GB benchmark
//! (19,000 entries in 4 zips) it reads the directories in 11 ms, this module in 3 ms. Here a
//! record costs its name.
//!
//! The records must come out exactly as the zip crate gives them, since entry names are
//! what the manifest remembers: a zip is read here only when it is plain, and [`read`]
//! returns `None` for anything else, which the zip crate then reads (or rejects). Plain is:
//! the last end-of-central-directory record in the last 64 KiB is the one the zip crate
//! settles on, its directory starts where it says (no data prepended to the zip) and ends
//! at the end records, every record lies inside it, every name is UTF-8 (the zip crate
//! decodes others as CP437, or takes the Unicode path extra field), every extra field is
//! the zip64 one or one the zip crate keeps unread, and every method is stored or deflated.
//! `tests::the_same_as_the_zip_crate_on_damaged_zips` holds the two readers to agreeing.

use std::fs::File;

use super::{is_symlink, CentralEntry, CENTRAL_HEADER, DEFLATED, FLAG_ENCRYPTED, STORED};

const EOCD: u32 = 0x0605_4b50;
const EOCD_LEN: usize = 22;
const LOCATOR: u32 = 0x0706_4b50;
const LOCATOR_LEN: usize = 20;
const ZIP64_EOCD: u32 = 0x0606_4b50;
/// The fixed part of the zip64 end record: signature, size, versions, disks, counts, size
/// and offset of the directory.
const ZIP64_EOCD_LEN: usize = 56;
const CENTRAL_HEADER_LEN: usize = 46;
/// How far from the end the end record is looked for: its size, a signature and the longest
/// comment. (The zip crate looks 10 bytes further, the size of its own struct for the
/// record; either way only the last record counts, and a zip whose last one does not
/// parse is the zip crate's.)
const SEARCHED: u64 = EOCD_LEN as u64 + 4 + (1 << 16);
/// The directory is read this much at a time (more when one record is longer).
const CHUNK: usize = 1 << 20;
/// Extra fields the zip crate parses (NTFS times, extended timestamp, Unicode comment and
/// path, AES, two alignment paddings): a zip with any of them is left to it. The zip64
/// field (1) is read here; any other is skipped by both.
const PARSED_BY_ZIP_CRATE: [u16; 7] = [0x000a, 0x5455, 0x6375, 0x7075, 0x9901, 0xa11e, 0xd935];

/// Where the records are: `count` of them from `start`, all before `end`.
#[derive(Debug, PartialEq)]
struct Directory {
    start: u64,
    count: u64,
    end: u64,
}

/// How much of a zip's end holds its end records, when they are where this reads them.
pub(crate) const TAIL: usize = SEARCHED as usize + LOCATOR_LEN;

/// Where the central directory of a zip of `len` bytes lies (offset, size), from its last
/// bytes `tail` (up to [`TAIL`] of them); `None` when [`read`] would not read it.
pub(crate) fn directory_range(tail: &[u8], len: u64) -> Option<(u64, u64)> {
    directory(tail, len).map(|d| (d.start, d.end - d.start))
}

/// Every record of the central directory of `file` (`len` bytes), in order and duplicates
/// included, or `None` when the zip is not one this reads (see the module's doc).
pub(crate) fn read(file: &File, len: u64) -> Option<Vec<CentralEntry>> {
    let tail_len = (TAIL as u64).min(len);
    let mut tail = vec![0; tail_len as usize];
    read_exact_at(file, &mut tail, len - tail_len)?;
    let dir = directory(&tail, len)?;
    drop(tail);
    let mut chunks = Chunks {
        file,
        end: dir.end,
        buf: Vec::new(),
        at: 0,
    };
    // Each record is at least its fixed part long, so `count` cannot ask for more room
    // than the directory has bytes.
    let room = dir
        .count
        .min((dir.end - dir.start) / CENTRAL_HEADER_LEN as u64);
    let mut out = Vec::with_capacity(usize::try_from(room).ok()?);
    let mut at = dir.start;
    for _ in 0..dir.count {
        let (entry, next) = record(&mut chunks, at, dir.start)?;
        out.push(entry);
        at = next;
    }
    // The records fill the directory. A count short of them is the zip crate's to read (for
    // a zip with the same name twice, gpbackup reads records up to the end, not the count),
    // as is anything between them and the end records.
    (at == dir.end).then_some(out)
}

/// The directory the end records at the end of the file describe (`tail`: the file's last
/// bytes), when the zip crate would take the same one.
fn directory(tail: &[u8], len: u64) -> Option<Directory> {
    let tail_start = len - tail.len() as u64;
    // The zip crate tries end records from the last signature backwards; one too close to
    // the end to hold a record fails and it goes on to the one before, so the first it can
    // parse is the last signature with a record's room after it.
    let lowest = len.saturating_sub(SEARCHED);
    let last = tail.len().checked_sub(EOCD_LEN)?;
    let at = (0..=last)
        .rev()
        .take_while(|&i| tail_start + i as u64 >= lowest)
        .find(|&i| u32_at(tail, i) == Some(EOCD))?;
    let eocd = &tail[at..];
    let pos = tail_start + at as u64;
    let comment = u64::from(u16_at(eocd, 20)?);
    if pos + EOCD_LEN as u64 + comment > len {
        return None;
    }
    let (disk, cd_disk) = (u16_at(eocd, 4)?, u16_at(eocd, 6)?);
    let (on_disk, count) = (u16_at(eocd, 8)?, u16_at(eocd, 10)?);
    let (size, start) = (u32_at(eocd, 12)?, u32_at(eocd, 16)?);
    if count == u16::MAX || size == u32::MAX || start == u32::MAX {
        return zip64_directory(tail, at, tail_start);
    }
    if disk != 0 || cd_disk != 0 || on_disk != count || count == 0 {
        return None;
    }
    // The zip crate first looks for the directory where it would start if it ended at the
    // end record, and takes a header found there (any difference from the offset the record
    // gives being data before the zip); otherwise, the first header from that offset on.
    // Either way it must be the offset itself.
    let (start, size) = (u64::from(start), u64::from(size));
    if start >= pos {
        return None;
    }
    if let Some(abutting) = pos.checked_sub(size).filter(|&s| s > start) {
        let i = usize::try_from(abutting.checked_sub(tail_start)?).ok()?;
        if u32_at(tail, i)? == CENTRAL_HEADER {
            return None;
        }
    }
    Some(Directory {
        start,
        count: u64::from(count),
        end: pos,
    })
}

/// The directory of a zip64 end record, from the locator just before the end record at
/// `at` in `tail` (which starts at `tail_start` in the file).
fn zip64_directory(tail: &[u8], at: usize, tail_start: u64) -> Option<Directory> {
    let loc_at = at.checked_sub(LOCATOR_LEN)?;
    let loc = &tail[loc_at..];
    if u32_at(loc, 0)? != LOCATOR {
        return None;
    }
    let loc_pos = tail_start + loc_at as u64;
    let (cd_disk, record_pos, disks) = (u32_at(loc, 4)?, u64_at(loc, 8)?, u32_at(loc, 16)?);
    if cd_disk != 0 || disks > 1 || record_pos >= loc_pos {
        return None;
    }
    let record = tail.get(usize::try_from(record_pos.checked_sub(tail_start)?).ok()?..)?;
    if u32_at(record, 0)? != ZIP64_EOCD {
        return None;
    }
    let size = u64_at(record, 4)?;
    let (disk, record_cd_disk) = (u32_at(record, 16)?, u32_at(record, 20)?);
    let (on_disk, count) = (u64_at(record, 24)?, u64_at(record, 32)?);
    let (cd_size, start) = (u64_at(record, 40)?, u64_at(record, 48)?);
    // The record (with any extensible data) fills the room up to the locator.
    let fills =
        size >= (ZIP64_EOCD_LEN - 12) as u64 && size.checked_add(12) == Some(loc_pos - record_pos);
    if !fills || disk != 0 || record_cd_disk != 0 || on_disk != count || count == 0 {
        return None;
    }
    (start.checked_add(cd_size) == Some(record_pos)
        && count.checked_mul(CENTRAL_HEADER_LEN as u64)? <= cd_size)
        .then_some(Directory {
            start,
            count,
            end: record_pos,
        })
}

/// The record at `at` and where the next one starts; `None` when it is not plain.
fn record(chunks: &mut Chunks, at: u64, dir_start: u64) -> Option<(CentralEntry, u64)> {
    let head = chunks.get(at, CENTRAL_HEADER_LEN)?;
    if u32_at(head, 0)? != CENTRAL_HEADER {
        return None;
    }
    let made_by = u16_at(head, 4)?;
    let flags = u16_at(head, 8)?;
    let method = u16_at(head, 10)?;
    let crc32 = u32_at(head, 16)?;
    let compressed32 = u32_at(head, 20)?;
    let size32 = u32_at(head, 24)?;
    let name_len = usize::from(u16_at(head, 28)?);
    let extra_len = usize::from(u16_at(head, 30)?);
    let comment_len = usize::from(u16_at(head, 32)?);
    let external = u32_at(head, 38)?;
    let header32 = u32_at(head, 42)?;
    if method != STORED && method != DEFLATED {
        return None;
    }
    let rest = chunks.get(
        at + CENTRAL_HEADER_LEN as u64,
        name_len + extra_len + comment_len,
    )?;
    let name = std::str::from_utf8(&rest[..name_len]).ok()?;
    let mut size = u64::from(size32);
    let mut compressed = u64::from(compressed32);
    let mut header = u64::from(header32);
    let mut zip64_seen = false;
    let mut extra = &rest[name_len..name_len + extra_len];
    while !extra.is_empty() {
        let id = u16_at(extra, 0)?;
        let body = extra.get(4..4 + usize::from(u16_at(extra, 2)?))?;
        if id == 1 {
            // Only the values whose own field is full are there, in this order; a second
            // zip64 field, or one too short for them, is the zip crate's to judge.
            if zip64_seen {
                return None;
            }
            zip64_seen = true;
            let mut field = body;
            for (value, full) in [
                (&mut size, size32 == u32::MAX),
                (&mut compressed, compressed32 == u32::MAX),
                (&mut header, header32 == u32::MAX),
            ] {
                if full {
                    *value = u64_at(field, 0)?;
                    field = &field[8..];
                }
            }
        } else if PARSED_BY_ZIP_CRATE.contains(&id) {
            return None;
        }
        extra = &extra[4 + body.len()..];
    }
    // A local header lies before the directory (which also keeps the zip crate's check
    // that the offset plus the record's position does not overflow).
    if header >= dir_start {
        return None;
    }
    let next = at + (CENTRAL_HEADER_LEN + name_len + extra_len + comment_len) as u64;
    let entry = CentralEntry {
        name: name.to_string(),
        method,
        encrypted: flags & FLAG_ENCRYPTED != 0,
        crc32,
        compressed,
        size,
        header_start: header,
        symlink: is_symlink(made_by, external),
    };
    Some((entry, next))
}

/// The directory's bytes, read a chunk at a time as the records are walked in order.
struct Chunks<'f> {
    file: &'f File,
    /// Nothing at or after this is part of the directory.
    end: u64,
    buf: Vec<u8>,
    /// File position of `buf[0]`.
    at: u64,
}

impl Chunks<'_> {
    /// The `n` bytes at `pos`, or `None` when they go past the directory's end (or cannot
    /// be read).
    fn get(&mut self, pos: u64, n: usize) -> Option<&[u8]> {
        let stop = pos.checked_add(n as u64)?;
        if stop > self.end {
            return None;
        }
        if pos < self.at || stop > self.at + self.buf.len() as u64 {
            let want = (self.end - pos).min(CHUNK.max(n) as u64) as usize;
            self.buf.resize(want, 0);
            read_exact_at(self.file, &mut self.buf, pos)?;
            self.at = pos;
        }
        let from = (pos - self.at) as usize;
        Some(&self.buf[from..from + n])
    }
}

fn read_exact_at(file: &File, buf: &mut [u8], at: u64) -> Option<()> {
    let mut done = 0;
    while done < buf.len() {
        match crate::takeout::PosReader::read_at(file, &mut buf[done..], at + done as u64) {
            Ok(0) | Err(_) => return None,
            Ok(n) => done += n,
        }
    }
    Some(())
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests;
