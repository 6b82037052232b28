//! Asks the kernel for the central directories of all the input zips at once, before they
//! are indexed one after the other: with cold caches the directories then come from disk
//! together, in large reads, instead of one zip and one small read at a time. Nothing here
//! decides anything: a zip this cannot make sense of is simply not prefetched (indexing it
//! reports what is wrong).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// End of central directory record: signature and fixed size.
const EOCD: u32 = 0x0605_4b50;
const EOCD_LEN: usize = 22;
/// Zip64 end of central directory locator and record.
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
const ZIP64_LOCATOR_LEN: usize = 20;
const ZIP64_EOCD: u32 = 0x0606_4b50;
const ZIP64_EOCD_LEN: usize = 56;
/// The end record can be followed by a comment of up to 64 KiB.
const TAIL: usize = EOCD_LEN + u16::MAX as usize + ZIP64_LOCATOR_LEN + ZIP64_EOCD_LEN;
/// Inputs prefetched at the same time.
const AT_ONCE: usize = 16;

/// Prefetches the central directory of each input that is a file, several at a time.
pub(super) fn central_directories(inputs: &[PathBuf]) {
    let next = AtomicUsize::new(0);
    let threads = inputs.len().min(AT_ONCE);
    if threads == 0 {
        return;
    }
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = inputs.get(i) else { break };
                prefetch(path);
            });
        }
    });
}

/// Reads the end of the zip at `path` (one read) and asks for its central directory.
fn prefetch(path: &Path) {
    let Ok(file) = File::open(path) else { return };
    let Ok(meta) = file.metadata() else { return };
    if !meta.is_file() {
        return;
    }
    let len = meta.len();
    let tail_len = (TAIL as u64).min(len) as usize;
    // On the stack: this thread allocates nothing (a heap of its own would cost more than
    // the read).
    let mut buf = [0u8; TAIL];
    let tail = &mut buf[..tail_len];
    if read_at(&file, tail, len - tail_len as u64).is_err() {
        return;
    }
    if let Some((start, size)) = directory_range(tail, len) {
        will_need(&file, start, size);
    }
}

/// Where the central directory lies (offset, size), from the last `tail` bytes of a file of
/// `len` bytes; `None` when they hold no end record that says so.
fn directory_range(tail: &[u8], len: u64) -> Option<(u64, u64)> {
    let tail_start = len - tail.len() as u64;
    let at = (0..=tail.len().checked_sub(EOCD_LEN)?)
        .rev()
        .find(|&i| u32_at(tail, i) == Some(EOCD))?;
    let mut size = u64::from(u32_at(tail, at + 12)?);
    let mut start = u64::from(u32_at(tail, at + 16)?);
    if size == u64::from(u32::MAX) || start == u64::from(u32::MAX) {
        // Zip64: the locator just before the end record says where the zip64 record is.
        let loc = at.checked_sub(ZIP64_LOCATOR_LEN)?;
        if u32_at(tail, loc)? != ZIP64_LOCATOR {
            return None;
        }
        let record = u64_at(tail, loc + 8)?.checked_sub(tail_start)? as usize;
        if u32_at(tail, record)? != ZIP64_EOCD {
            return None;
        }
        size = u64_at(tail, record + 40)?;
        start = u64_at(tail, record + 48)?;
    }
    (start.checked_add(size)? <= len).then_some((start, size))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_at(_: &File, _: &mut [u8], _: u64) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// Asks the kernel to start reading `size` bytes at `start` into its cache.
#[cfg(target_os = "linux")]
fn will_need(file: &File, start: u64, size: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(start), Ok(size)) = (i64::try_from(start), i64::try_from(size)) else {
        return;
    };
    // SAFETY: a hint about an open descriptor's pages; it reads nothing into our memory.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), start, size, libc::POSIX_FADV_WILLNEED);
    }
}

#[cfg(not(target_os = "linux"))]
fn will_need(_: &File, _: u64, _: u64) {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const COMMENT: &str = "a comment after the end record";

    /// A zip of `n` stored entries, written by the zip crate.
    fn zip_bytes(n: usize) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for i in 0..n {
            w.start_file(format!("Takeout/Google Photos/{i}.jpg"), opts)
                .unwrap();
            w.write_all(&[i as u8; 100]).unwrap();
        }
        w.set_comment(COMMENT).unwrap();
        w.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn the_central_directory_is_found_from_the_end_record() {
        let bytes = zip_bytes(5);
        let archive = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
        let want_start = archive.central_directory_start();
        let len = bytes.len() as u64;
        for tail in [bytes.len(), 300] {
            let got = directory_range(&bytes[bytes.len() - tail..], len);
            let (start, size) = got.unwrap_or_else(|| panic!("tail {tail}"));
            assert_eq!(start, want_start);
            // The directory's records, then the end record.
            assert_eq!(&bytes[start as usize..start as usize + 4], b"PK\x01\x02");
            assert_eq!(&bytes[(start + size) as usize..][..4], b"PK\x05\x06");
        }
    }

    #[test]
    fn a_zip64_directory_is_found_from_the_zip64_record() {
        // 100 bytes of entries, a directory of 500, the zip64 record and locator, and an
        // end record whose fields say "see zip64".
        let (start, size) = (100u64, 500u64);
        let mut b = vec![0u8; 600];
        let record_at = b.len() as u64;
        b.extend_from_slice(&ZIP64_EOCD.to_le_bytes());
        b.extend_from_slice(&44u64.to_le_bytes());
        b.extend_from_slice(&[0; 28]);
        b.extend_from_slice(&size.to_le_bytes());
        b.extend_from_slice(&start.to_le_bytes());
        assert_eq!(b.len() as u64, record_at + ZIP64_EOCD_LEN as u64);
        b.extend_from_slice(&ZIP64_LOCATOR.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&record_at.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&EOCD.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&[0xFF; 4]);
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        let len = b.len() as u64;
        assert_eq!(directory_range(&b, len), Some((start, size)));
        assert_eq!(directory_range(&b[500..], len), Some((start, size)));
        // A record that is not where the locator says: no range.
        let mut bad = b.clone();
        bad[record_at as usize] ^= 1;
        assert_eq!(directory_range(&bad, len), None);
    }

    #[test]
    fn no_end_record_no_range() {
        assert_eq!(directory_range(&[0u8; 100], 100), None);
        assert_eq!(directory_range(&[], 0), None);
        // An end record pointing past the end of the file.
        let mut bytes = zip_bytes(2);
        let len = bytes.len();
        let eocd = len - EOCD_LEN - COMMENT.len();
        assert_eq!(u32_at(&bytes, eocd), Some(EOCD));
        assert!(directory_range(&bytes, len as u64).is_some());
        bytes[eocd + 16..eocd + 20].copy_from_slice(&(len as u32).to_le_bytes());
        assert_eq!(directory_range(&bytes, len as u64), None);
    }
}
