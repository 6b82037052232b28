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
    /// The length of its name as stored (in bytes).
    pub name_len: u16,
    /// Why it is not read though the directory lists it (see [`refusals`]).
    pub refused: Option<Refusal>,
}

/// Why an entry the central directory lists is not read: where the directory says its bytes
/// are, they are not its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Another entry starts at the same place.
    SharedHeader,
    /// Its data, as long as declared, runs into the next entry.
    Overlaps,
    /// Its data, as long as declared, runs past the last entry (into the directory or past
    /// the end of the zip).
    PastTheEntries,
}

impl Refusal {
    /// What is wrong, in plain words, and what to do.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::SharedHeader => {
                "the zip's list of contents puts this file at the same place as another one: \
                 their bytes overlap (a damaged or deliberately crafted zip; `unzip -t` rejects \
                 it too); not read. Download this part again"
            }
            Refusal::Overlaps => {
                "the zip's list of contents gives this file more data than there is before the \
                 next file: their bytes overlap (a damaged or deliberately crafted zip; `unzip \
                 -t` rejects it too); not read. Download this part again"
            }
            Refusal::PastTheEntries => {
                "the zip's list of contents gives this file more data than the zip holds (a \
                 damaged or deliberately crafted zip); not read. Download this part again"
            }
        }
    }
}

/// The size of a local header before its name.
const LOCAL_HEADER_LEN: u64 = 30;

/// For each entry of a central directory, given as (local header position, name length,
/// compressed size) in directory order, why it is refused, if it is: its local header and
/// data, as long as the directory declares them, must end before the next entry's header
/// starts (and the last one before `end`, where the central directory starts). Entries
/// checked this way never read a byte of another entry, so reading them all reads each byte
/// of the zip once at most: overlapping entries (each one's data holding the next ones, a
/// zip bomb that no compression ratio shows) and sizes claiming more than the zip holds are
/// refused before anything is read. The local header's extra field is not known here (it is
/// read with the entry): its bytes are within the room checked, since the entry's data
/// follows it and must end in time too.
///
/// Sorting: O(n log n) time and 4 bytes per entry.
pub fn refusals(spans: &[(u64, u16, u64)], end: u64) -> Vec<Option<Refusal>> {
    let mut order: Vec<u32> = (0..spans.len() as u32).collect();
    order.sort_unstable_by_key(|&i| spans[i as usize].0);
    let mut out = vec![None; spans.len()];
    for (k, &i) in order.iter().enumerate() {
        let (start, name_len, compressed) = spans[i as usize];
        let next = order.get(k + 1).map(|&j| spans[j as usize].0);
        let previous = k.checked_sub(1).map(|p| spans[order[p] as usize].0);
        let reach = start
            .checked_add(LOCAL_HEADER_LEN + u64::from(name_len))
            .and_then(|s| s.checked_add(compressed));
        let fits = |limit: u64| reach.is_some_and(|r| r <= limit);
        out[i as usize] = if !fits(end) {
            Some(Refusal::PastTheEntries)
        } else if next == Some(start) || previous == Some(start) {
            Some(Refusal::SharedHeader)
        } else if next.is_some_and(|n| !fits(n)) {
            Some(Refusal::Overlaps)
        } else {
            None
        };
    }
    out
}

/// Every record of the central directory that starts at `start` (the zip crate's
/// `central_directory_start`), in order, duplicates included (the zip crate keys entries by
/// name and keeps one of each), and all of them whatever the end record counts (see
/// [`count_central`]). `offset` is added to each local header position (data prepended to
/// the zip). Stops at the first record that is not a central header.
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
            name_len: name_len as u16,
            refused: None,
        });
    }
    Ok(out)
}

/// How many records the central directory that starts at `start` holds: they are walked
/// until one is not a central header (the end record). The end record's own count is not
/// trusted: a writer without zip64 writes it in 16 bits, so past 65,535 entries it wraps (a
/// directory of 65,537 entries says 1). Reads the directory once, keeps nothing.
pub fn count_central<R: BufRead + Seek>(mut f: R, start: u64) -> io::Result<usize> {
    f.seek(SeekFrom::Start(start))?;
    let mut n = 0;
    loop {
        let mut head = [0u8; 46];
        if f.read_exact(&mut head).is_err() || u32_at(&head, 0) != CENTRAL_HEADER {
            return Ok(n);
        }
        let skip = u16_at(&head, 28) as i64 + u16_at(&head, 30) as i64 + u16_at(&head, 32) as i64;
        f.seek_relative(skip)?;
        n += 1;
    }
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

/// Why a file could not be opened as a zip, in plain words with what to do.
pub(crate) fn zip_error_in_words(e: &zip::result::ZipError) -> String {
    use zip::result::ZipError as Z;
    match e {
        Z::Io(err) => crate::words::io_error(err),
        Z::UnsupportedArchive(what) => format!(
            "a zip gpbackup cannot read ({what}): download this part again from Takeout as a \
             .zip"
        ),
        _ => "not a zip file, or a damaged one: download this part again from Takeout \
              (choose .zip)"
            .to_string(),
    }
}

#[cfg(test)]
mod words_tests {
    use super::zip_error_in_words;
    use zip::result::ZipError;

    #[test]
    fn zip_errors_are_said_in_plain_words() {
        let eocd = ZipError::InvalidArchive("Could not find EOCD".into());
        assert_eq!(
            zip_error_in_words(&eocd),
            "not a zip file, or a damaged one: download this part again from Takeout (choose .zip)"
        );
        let io = ZipError::Io(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        assert!(zip_error_in_words(&io).starts_with("permission denied"));
        let odd = ZipError::UnsupportedArchive("multi-disk");
        assert!(zip_error_in_words(&odd).contains("cannot read (multi-disk)"));
    }
}
