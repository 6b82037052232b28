//! The zip format as Takeout writes it: its signatures and constants, the records of the
//! central directory, and the reading of one entry's bytes from its local header (stored, or
//! inflated). The directory is read by `directory`; a zip cut off before its directory is
//! recovered by [`recover`].

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use flate2::bufread::DeflateDecoder;

pub(crate) mod directory;
pub mod recover;
#[cfg(test)]
mod tests;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
const FLAG_DESCRIPTOR: u16 = 0x0008;
/// General purpose bit 0: the entry is encrypted.
pub const FLAG_ENCRYPTED: u16 = 0x0001;
pub const STORED: u16 = 0;
pub const DEFLATED: u16 = 8;
/// The method number of WinZip's AES encryption (the real method is in its extra field).
pub const AES: u16 = 99;

/// What an entry gpbackup cannot read is, in words ("bzip2-compressed", "encrypted (AES)"),
/// from its zip method number and its encryption flag; `None` for a readable entry.
pub fn unsupported(method: u16, encrypted: bool) -> Option<String> {
    if method == AES {
        return Some("encrypted (AES)".into());
    }
    if encrypted {
        return Some("encrypted (zip password)".into());
    }
    let what = match method {
        STORED | DEFLATED => return None,
        1 => "compressed with the legacy Shrink method",
        2..=5 => "compressed with the legacy Reduce method",
        6 => "compressed with the legacy Implode method",
        9 => "Deflate64-compressed",
        10 => "compressed with the legacy PKWARE DCL Implode method",
        12 => "bzip2-compressed",
        14 => "LZMA-compressed",
        18 => "IBM TERSE-compressed",
        19 => "IBM LZ77-compressed",
        93 => "zstd-compressed",
        94 => "MP3-compressed",
        95 => "xz-compressed",
        96 => "compressed with WinZip's JPEG method",
        97 => "WavPack-compressed",
        98 => "PPMd-compressed",
        m => return Some(format!("compressed with unknown method {m}")),
    };
    Some(what.into())
}

/// The error for an entry that cannot be read (see [`unsupported`]).
pub fn unsupported_error(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "{what}: gpbackup reads stored and deflate-compressed entries only; extract this \
             zip with a tool that reads it (7-Zip) and give gpbackup the folder"
        ),
    )
}

/// An entry found by its local header, complete in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEntry {
    pub name: String,
    pub method: u16,
    /// Where its (compressed) data starts, and how long it is.
    pub data_start: u64,
    pub compressed: u64,
    pub size: u64,
    pub crc32: u32,
    /// General purpose bit 0 (traditional zip encryption) was set.
    pub encrypted: bool,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The signature of a record of the central directory.
const CENTRAL_HEADER: u32 = 0x0201_4b50;

/// One record of a zip's central directory.
#[derive(Debug, Clone, PartialEq)]
pub struct CentralEntry {
    pub name: String,
    pub method: u16,
    pub encrypted: bool,
    pub crc32: u32,
    pub compressed: u64,
    pub size: u64,
    /// Where its local header is, from the start of the file.
    pub header_start: u64,
    pub symlink: bool,
}

/// Every record of the central directory that starts at `start` (the zip crate's
/// `central_directory_start`), in order, duplicates included (the zip crate keys entries by
/// name and keeps one of each). `offset` is added to each local header position (data
/// prepended to the zip). Stops at the first record that is not a central header.
pub fn central_entries<R: BufRead + Seek>(
    mut f: R,
    start: u64,
    offset: u64,
) -> io::Result<Vec<CentralEntry>> {
    f.seek(SeekFrom::Start(start))?;
    let mut out = Vec::new();
    loop {
        let mut head = [0u8; 46];
        if f.read_exact(&mut head).is_err() || u32_at(&head, 0) != CENTRAL_HEADER {
            break;
        }
        let made_by = u16_at(&head, 4);
        let flags = u16_at(&head, 8);
        let method = u16_at(&head, 10);
        let crc32 = u32_at(&head, 16);
        let mut compressed = u32_at(&head, 20) as u64;
        let mut size = u32_at(&head, 24) as u64;
        let name_len = u16_at(&head, 28) as usize;
        let extra_len = u16_at(&head, 30) as usize;
        let comment_len = u16_at(&head, 32) as usize;
        let external = u32_at(&head, 38);
        let mut header = u32_at(&head, 42) as u64;
        let mut rest = vec![0u8; name_len + extra_len];
        f.read_exact(&mut rest)?;
        f.seek_relative(comment_len as i64)?;
        // The zip64 field holds, in this order, only the values whose 32-bit field is full.
        let mut extra = &rest[name_len..];
        while extra.len() >= 4 {
            let (id, len) = (u16_at(extra, 0), u16_at(extra, 2) as usize);
            let body = &extra[4..(4 + len).min(extra.len())];
            if id == 0x0001 {
                let mut at = 0;
                let mut take = |v: &mut u64| {
                    if *v == 0xFFFF_FFFF && at + 8 <= body.len() {
                        *v = u64_at(body, at);
                        at += 8;
                    }
                };
                take(&mut size);
                take(&mut compressed);
                take(&mut header);
            }
            extra = &extra[(4 + len).min(extra.len())..];
        }
        out.push(CentralEntry {
            name: String::from_utf8_lossy(&rest[..name_len]).into_owned(),
            method,
            encrypted: flags & FLAG_ENCRYPTED != 0,
            crc32,
            compressed,
            size,
            header_start: header.saturating_add(offset),
            symlink: is_symlink(made_by, external),
        });
    }
    Ok(out)
}

/// Whether a central record (`made_by`: its "version made by", `external`: its external
/// attributes) is a symbolic link, as the zip crate decides it: a Unix mode in the high 16
/// bits with the link bits set, unless the record was made on MS-DOS (whose attributes
/// have no links).
pub fn is_symlink(made_by: u16, external: u32) -> bool {
    const S_IFLNK: u32 = 0o120000;
    made_by >> 8 != 0 && (external >> 16) & S_IFLNK == S_IFLNK
}

/// The decompressed bytes of the entry whose local header is at `header` in `file` (size and
/// CRC are checked by the caller's reader, see [`crate::takeout::Reader::open`]), inflating
/// with `state` (reset first) when given: a reader that opens many entries keeps one
/// decompressor instead of setting up a new one (its 32 KB window and tables, zeroed) per
/// entry, which would be a tenth of a run of tiny files.
pub fn open_at_with<'f, R: BufRead + Seek + 'f>(
    mut file: R,
    header: u64,
    compressed: u64,
    method: u16,
    state: Option<&'f mut flate2::Decompress>,
) -> io::Result<Box<dyn Read + 'f>> {
    file.seek(SeekFrom::Start(header))?;
    let mut head = [0u8; 30];
    file.read_exact(&mut head)?;
    if u32_at(&head, 0) != LOCAL_HEADER {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no local file header where the central directory says",
        ));
    }
    let skip = u16_at(&head, 26) as i64 + u16_at(&head, 28) as i64;
    file.seek_relative(skip)?;
    let raw = file.take(compressed);
    let encrypted = u16_at(&head, 6) & FLAG_ENCRYPTED != 0;
    if let Some(what) = unsupported(method, encrypted) {
        return Err(unsupported_error(&what));
    }
    match (method, state) {
        (DEFLATED, Some(state)) => {
            state.reset(false);
            Ok(Box::new(Inflater {
                inner: raw,
                state,
                done: false,
            }))
        }
        (DEFLATED, None) => Ok(Box::new(DeflateDecoder::new(raw))),
        _ => Ok(Box::new(raw)),
    }
}

/// Raw deflate data inflated with a decompressor the caller keeps (see [`open_at_with`]).
/// flate2's own readers own theirs; this one borrows it. Like them, it ends quietly at the
/// end of the input even when the stream is cut short: the caller's size and CRC checks
/// catch that.
struct Inflater<'d, R> {
    inner: R,
    state: &'d mut flate2::Decompress,
    done: bool,
}

impl<R: BufRead> Read for Inflater<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        use flate2::{FlushDecompress, Status};
        if out.is_empty() || self.done {
            return Ok(0);
        }
        loop {
            let input = self.inner.fill_buf()?;
            let eof = input.is_empty();
            let (in_before, out_before) = (self.state.total_in(), self.state.total_out());
            let flush = if eof {
                FlushDecompress::Finish
            } else {
                FlushDecompress::None
            };
            let status = self
                .state
                .decompress(input, out, flush)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let consumed = (self.state.total_in() - in_before) as usize;
            let produced = (self.state.total_out() - out_before) as usize;
            self.inner.consume(consumed);
            if status == Status::StreamEnd {
                self.done = true;
                return Ok(produced);
            }
            if produced > 0 {
                return Ok(produced);
            }
            if eof || consumed == 0 {
                // No more input, or none it can use: the stream is cut short.
                self.done = true;
                return Ok(0);
            }
        }
    }
}

/// The bytes of an entry [`recover`] found (decompressed; size and CRC are checked by the
/// caller's reader, see [`crate::takeout::Reader::open`]).
pub fn open(path: &Path, e: &RawEntry) -> io::Result<Box<dyn Read>> {
    open_in(File::open(path)?, e)
}

/// [`open`] over any reader of the whole zip.
pub fn open_in<'r, R: Read + Seek + 'r>(mut f: R, e: &RawEntry) -> io::Result<Box<dyn Read + 'r>> {
    if let Some(what) = unsupported(e.method, e.encrypted) {
        return Err(unsupported_error(&what));
    }
    f.seek(SeekFrom::Start(e.data_start))?;
    let raw = BufReader::with_capacity(256 * 1024, f.take(e.compressed));
    match e.method {
        DEFLATED => Ok(Box::new(DeflateDecoder::new(raw))),
        _ => Ok(Box::new(raw)),
    }
}
