//! Asks the kernel for the central directories of all the input zips at once, before they
//! are indexed one after the other: with cold caches the directories then come from disk
//! together, in large reads, instead of one zip and one small read at a time. Nothing here
//! decides anything: a zip whose end records `takeout::central` would not read is simply not
//! prefetched (indexing it reports what is wrong, or reads it with the zip crate).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::takeout::zip::central::{directory_range, TAIL};

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
    fn no_end_record_no_range() {
        assert_eq!(directory_range(&[0u8; 100], 100), None);
        assert_eq!(directory_range(&[], 0), None);
        // An end record pointing past the end of the file.
        let mut bytes = zip_bytes(2);
        let len = bytes.len();
        let eocd = len - 22 - COMMENT.len();
        assert_eq!(&bytes[eocd..eocd + 4], b"PK\x05\x06");
        assert!(directory_range(&bytes, len as u64).is_some());
        bytes[eocd + 16..eocd + 20].copy_from_slice(&(len as u32).to_le_bytes());
        assert_eq!(directory_range(&bytes, len as u64), None);
    }
}
