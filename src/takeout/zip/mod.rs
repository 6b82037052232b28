//! Recovering the complete entries of a truncated zip (a download cut off: no central
//! directory) by walking its local file headers.
//!
//! Hand-written because the zip crate's stream reader refuses entries whose sizes sit in a
//! data descriptor after the data, which is how streamed zips (Takeout's) are written. A
//! deflate stream ends by itself, so such an entry's end is found by inflating it once; its
//! CRC-32 is checked then and again whenever the entry is read.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use flate2::bufread::DeflateDecoder;

pub(crate) mod central;

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

/// What a walk over a damaged zip found.
#[derive(Debug, Default)]
pub struct Recovered {
    pub entries: Vec<RawEntry>,
    /// The entry cut off by the end of the file (or the first unreadable one), if its header
    /// could be read. Everything after it is lost, unnamed.
    pub lost: Option<String>,
    /// Why the walk stopped.
    pub stopped: String,
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

/// True when the file starts like a zip (a local file header).
pub fn looks_like_zip(path: &Path) -> bool {
    let mut sig = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut sig))
        .is_ok()
        && u32::from_le_bytes(sig) == LOCAL_HEADER
}

/// Walks the local headers of the zip at `path` from its start.
pub fn scan(path: &Path) -> io::Result<Recovered> {
    let len = std::fs::metadata(path)?.len();
    scan_reader(BufReader::with_capacity(256 * 1024, File::open(path)?), len)
}

/// Walks the local headers of a zip of `len` bytes read from `f`, from its start.
///
/// Every size comes from the input, so every sum is checked: a header whose sizes point past
/// the end of the file (or overflow) ends the walk, and each step moves strictly forward, so
/// the walk ends after at most `len / 30` entries whatever the bytes say.
pub fn scan_reader<R: BufRead + Seek>(f: R, len: u64) -> io::Result<Recovered> {
    let mut scan = Scan {
        f,
        len,
        out: Recovered::default(),
    };
    let mut pos = 0u64;
    while let Some(end) = scan.entry_at(pos)? {
        // Never backwards, never in place: the walk always ends.
        if end <= pos {
            scan.out.stopped = "an entry header that points backwards".into();
            break;
        }
        pos = end;
    }
    Ok(scan.out)
}

/// A local file header as read, its sizes taken from its zip64 field where they overflow.
struct LocalHeader {
    name: String,
    flags: u16,
    method: u16,
    crc: u32,
    compressed: u64,
    size: u64,
    /// It has a zip64 field (its data descriptor then holds 64-bit sizes).
    zip64: bool,
    /// Where its data starts in the file.
    data_start: u64,
}

/// The walk of [`scan_reader`]: the zip of `len` bytes and what was found so far.
struct Scan<R> {
    f: R,
    len: u64,
    out: Recovered,
}

impl<R: BufRead + Seek> Scan<R> {
    /// Ends the walk for `reason`, with the entry `lost` there when its name is known.
    fn stop<T>(&mut self, reason: &str, lost: Option<String>) -> Option<T> {
        self.out.stopped = reason.into();
        self.out.lost = lost;
        None
    }

    /// Reads the entry whose header is at `pos` into `out.entries` (unless it is a folder);
    /// where the next one starts, or `None` when the walk stops here.
    fn entry_at(&mut self, pos: u64) -> io::Result<Option<u64>> {
        let Some(mut h) = self.local_header(pos)? else {
            return Ok(None);
        };
        let end = if h.flags & FLAG_DESCRIPTOR != 0 {
            self.through_descriptor(&mut h)?
        } else {
            match h.data_start.checked_add(h.compressed) {
                Some(e) if e <= self.len => Some(e),
                _ => self.stop("the file ends inside an entry", Some(h.name.clone())),
            }
        };
        if end.is_some() && (!h.name.ends_with('/') || h.size > 0) {
            self.out.entries.push(RawEntry {
                name: h.name,
                method: h.method,
                data_start: h.data_start,
                compressed: h.compressed,
                size: h.size,
                crc32: h.crc,
                encrypted: h.flags & FLAG_ENCRYPTED != 0,
            });
        }
        Ok(end)
    }

    /// The local header at `pos`, or `None` (the walk stopped) when there is none.
    fn local_header(&mut self, pos: u64) -> io::Result<Option<LocalHeader>> {
        self.f.seek(SeekFrom::Start(pos))?;
        let mut head = [0u8; 30];
        if pos.checked_add(30).is_none_or(|e| e > self.len) || self.f.read_exact(&mut head).is_err()
        {
            return Ok(self.stop("the file ends inside an entry header", None));
        }
        if u32_at(&head, 0) != LOCAL_HEADER {
            return Ok(self.stop("no further entries", None));
        }
        let (name_len, extra_len) = (u16_at(&head, 26) as usize, u16_at(&head, 28) as usize);
        let mut name_extra = vec![0u8; name_len + extra_len];
        if self.f.read_exact(&mut name_extra).is_err() {
            return Ok(self.stop("the file ends inside an entry header", None));
        }
        let mut h = LocalHeader {
            name: String::from_utf8_lossy(&name_extra[..name_len]).into_owned(),
            flags: u16_at(&head, 6),
            method: u16_at(&head, 8),
            crc: u32_at(&head, 14),
            compressed: u32_at(&head, 18) as u64,
            size: u32_at(&head, 22) as u64,
            zip64: false,
            // pos + 30 <= len was checked, and a header is at most 30 + 2 * 65535 bytes.
            data_start: pos + 30 + (name_len + extra_len) as u64,
        };
        if let Some((s, c)) = zip64_sizes(&name_extra[name_len..]) {
            h.zip64 = true;
            if h.size == 0xFFFF_FFFF {
                h.size = s;
            }
            if h.compressed == 0xFFFF_FFFF {
                h.compressed = c;
            }
        }
        Ok(Some(h))
    }

    /// Inflates the data of `h` (whose sizes are only known after it) to find where it ends,
    /// then reads its data descriptor into `h`; where the entry ends, or `None` (the walk
    /// stopped, the entry lost).
    fn through_descriptor(&mut self, h: &mut LocalHeader) -> io::Result<Option<u64>> {
        if h.method != DEFLATED {
            let reason = "an entry whose size is only known after its data";
            return Ok(self.stop(reason, Some(h.name.clone())));
        }
        let mut dec = DeflateDecoder::new(&mut self.f);
        let mut hasher = crc32fast::Hasher::new();
        let mut buf = vec![0u8; 64 * 1024];
        let inflated = loop {
            match dec.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => hasher.update(&buf[..n]),
                Err(e) => break Err(e),
            }
        };
        if inflated.is_err() {
            return Ok(self.stop("the file ends inside an entry", Some(h.name.clone())));
        }
        h.compressed = dec.total_in();
        h.size = dec.total_out();
        let actual_crc = hasher.finalize();
        // What was inflated was read from the file: it ends inside it.
        let data_end = h.data_start.saturating_add(h.compressed);
        self.f.seek(SeekFrom::Start(data_end))?;
        let mut desc = [0u8; 24];
        let n = if h.zip64 { 24 } else { 16 };
        if self.f.read_exact(&mut desc[..n]).is_err() {
            return Ok(self.stop("the file ends inside an entry", Some(h.name.clone())));
        }
        // The descriptor's signature is optional.
        let (fields, sig_len) = if u32_at(&desc, 0) == DATA_DESCRIPTOR {
            (&desc[4..], 4)
        } else {
            (&desc[..], 0)
        };
        h.crc = u32_at(fields, 0);
        let desc_len = sig_len + 4 + if h.zip64 { 16 } else { 8 };
        if h.crc != actual_crc {
            return Ok(self.stop("an entry with a bad checksum", Some(h.name.clone())));
        }
        Ok(Some(data_end.saturating_add(desc_len)))
    }
}

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

/// (uncompressed, compressed) sizes from a zip64 extra field, if there is one.
fn zip64_sizes(extra: &[u8]) -> Option<(u64, u64)> {
    let mut at = 0;
    while at + 4 <= extra.len() {
        let (id, len) = (u16_at(extra, at), u16_at(extra, at + 2) as usize);
        if id == 0x0001 && len >= 16 && at + 4 + 16 <= extra.len() {
            return Some((u64_at(extra, at + 4), u64_at(extra, at + 12)));
        }
        at += 4 + len;
    }
    None
}

/// The decompressed bytes of the entry whose local header is at `header` in `file` (size and
/// CRC are checked by the caller's reader, see `source`).
pub fn open_at<'f, R: BufRead + Seek + 'f>(
    file: R,
    header: u64,
    compressed: u64,
    method: u16,
) -> io::Result<Box<dyn Read + 'f>> {
    open_at_with(file, header, compressed, method, None)
}

/// Like [`open_at`], inflating with `state` (reset first) when given: a reader that opens
/// many entries keeps one decompressor instead of setting up a new one (its 32 KB window
/// and tables, zeroed) per entry, which was a tenth of a run of tiny files.
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

/// The bytes of a recovered entry (decompressed; size and CRC are checked by the caller's
/// reader, see `source`).
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A zip written in streaming mode (sizes in data descriptors), as Takeout's are.
    fn streamed_zip(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in files {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(data).unwrap();
            let comp = enc.finish().unwrap();
            out.extend_from_slice(&LOCAL_HEADER.to_le_bytes());
            out.extend_from_slice(&[20, 0]); // version
            out.extend_from_slice(&FLAG_DESCRIPTOR.to_le_bytes());
            out.extend_from_slice(&DEFLATED.to_le_bytes());
            out.extend_from_slice(&[0; 4]); // time, date
            out.extend_from_slice(&[0; 12]); // crc, sizes: in the descriptor
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&comp);
            out.extend_from_slice(&DATA_DESCRIPTOR.to_le_bytes());
            out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
            out.extend_from_slice(&(comp.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        }
        out
    }

    fn read_all(path: &Path, e: &RawEntry) -> Vec<u8> {
        let mut v = Vec::new();
        open(path, e).unwrap().read_to_end(&mut v).unwrap();
        v
    }

    #[test]
    fn complete_entries_of_a_cut_streamed_zip() {
        let a: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        let b = b"{\"title\": \"b.jpg\"}".to_vec();
        let c: Vec<u8> = (0..80_000u32).map(|i| (i * 7 % 253) as u8).collect();
        let zip = streamed_zip(&[
            ("a.jpg", a.clone()),
            ("b.jpg.json", b.clone()),
            ("c.mp4", c),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.zip");
        std::fs::write(&path, &zip[..zip.len() - 1000]).unwrap();
        let r = scan(&path).unwrap();
        assert_eq!(
            r.entries
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>(),
            ["a.jpg", "b.jpg.json"]
        );
        assert_eq!(r.lost.as_deref(), Some("c.mp4"));
        assert_eq!(read_all(&path, &r.entries[0]), a);
        assert_eq!(read_all(&path, &r.entries[1]), b);
        assert_eq!(r.entries[0].crc32, crc32fast::hash(&a));
        assert!(looks_like_zip(&path));
    }

    /// A local header (no descriptor) with zip64 sizes `(size, compressed)` and `data`.
    fn zip64_header(name: &str, method: u16, size: u64, compressed: u64, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&LOCAL_HEADER.to_le_bytes());
        out.extend_from_slice(&[45, 0, 0, 0]); // version, flags
        out.extend_from_slice(&method.to_le_bytes());
        out.extend_from_slice(&[0; 8]); // time, date, crc
        out.extend_from_slice(&[0xFF; 8]); // sizes: in the zip64 field
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&compressed.to_le_bytes());
        out.extend_from_slice(data);
        out
    }

    fn scan_bytes(b: &[u8]) -> Recovered {
        scan_reader(io::Cursor::new(b), b.len() as u64).unwrap()
    }

    #[test]
    fn a_zip64_size_that_wraps_around_ends_the_walk() {
        // A stored entry, then one whose zip64 compressed size makes `data_start + size`
        // wrap to 0 (the start of the file): before, the walk went back to the first entry
        // and round again, forever, collecting entries (or overflowed in a debug build).
        let mut zip = zip64_header("a.jpg", STORED, 3, 3, b"abc");
        let second_data_start = (zip.len() + 30 + "b.jpg".len() + 20) as u64;
        zip.extend(zip64_header(
            "b.jpg",
            STORED,
            1,
            0u64.wrapping_sub(second_data_start),
            b"x",
        ));
        let r = scan_bytes(&zip);
        assert_eq!(r.entries.len(), 1);
        assert_eq!(r.entries[0].name, "a.jpg");
        assert_eq!(r.lost.as_deref(), Some("b.jpg"));
        assert_eq!(r.stopped, "the file ends inside an entry");
        // The largest size, and one that lands back inside the first entry.
        for compressed in [u64::MAX, u64::MAX - second_data_start - 10] {
            let mut zip = zip64_header("a.jpg", STORED, 3, 3, b"abc");
            zip.extend(zip64_header("b.jpg", STORED, 1, compressed, b"x"));
            let r = scan_bytes(&zip);
            assert_eq!(r.entries.len(), 1, "{compressed}");
            assert_eq!(r.lost.as_deref(), Some("b.jpg"));
        }
    }

    #[test]
    fn every_step_moves_forward() {
        // Many empty entries: each is a header and nothing else; the walk ends at the end.
        let mut zip = Vec::new();
        for i in 0..100 {
            zip.extend(zip64_header(&format!("{i}.jpg"), STORED, 0, 0, b""));
        }
        let r = scan_bytes(&zip);
        assert_eq!(r.entries.len(), 100);
        assert_eq!(r.stopped, "the file ends inside an entry header");
        let starts: Vec<u64> = r.entries.iter().map(|e| e.data_start).collect();
        assert!(starts.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn unsupported_entries_are_named_by_what_they_are() {
        assert_eq!(unsupported(12, false).as_deref(), Some("bzip2-compressed"));
        assert_eq!(unsupported(93, false).as_deref(), Some("zstd-compressed"));
        assert_eq!(unsupported(14, false).as_deref(), Some("LZMA-compressed"));
        assert_eq!(unsupported(AES, true).as_deref(), Some("encrypted (AES)"));
        assert_eq!(
            unsupported(DEFLATED, true).as_deref(),
            Some("encrypted (zip password)")
        );
        assert_eq!(
            unsupported(65535, false).as_deref(),
            Some("compressed with unknown method 65535")
        );
        assert_eq!(unsupported(STORED, false), None);
        assert_eq!(unsupported(DEFLATED, false), None);
        // A recovered bzip2 entry says so when it is opened.
        let zip = zip64_header("a.jpg", 12, 3, 3, b"abc");
        let r = scan_bytes(&zip);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.zip");
        std::fs::write(&path, &zip).unwrap();
        let err = open(&path, &r.entries[0]).err().unwrap().to_string();
        assert!(err.starts_with("bzip2-compressed: "), "{err}");
        let mut f = BufReader::new(File::open(&path).unwrap());
        let err = open_at(&mut f, 0, 3, 12).err().unwrap().to_string();
        assert!(err.starts_with("bzip2-compressed: "), "{err}");
    }

    #[test]
    fn a_folder_entry_with_data_is_kept() {
        let mut zip = zip64_header("dir/", STORED, 0, 0, b"");
        zip.extend(zip64_header("X.jpg/", STORED, 3, 3, b"abc"));
        let r = scan_bytes(&zip);
        let names: Vec<&str> = r.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["X.jpg/"]);
    }

    #[test]
    fn the_central_directory_walk_agrees_with_the_zip_crate() {
        use zip::write::SimpleFileOptions;
        for zip64 in [false, true] {
            let mut w = zip::ZipWriter::new(io::Cursor::new(b"prefix".to_vec()));
            let opts = SimpleFileOptions::default().large_file(zip64);
            for (name, data) in [("a/x.jpg", &b"abc"[..]), ("a/y.mp4", &[7u8; 5000][..])] {
                w.start_file(name, opts).unwrap();
                w.write_all(data).unwrap();
            }
            w.add_directory("a/b/", opts).unwrap();
            let bytes = w.finish().unwrap().into_inner();
            let archive = zip::ZipArchive::new(io::Cursor::new(&bytes)).unwrap();
            let walked = central_entries(
                io::Cursor::new(&bytes),
                archive.central_directory_start(),
                archive.offset(),
            )
            .unwrap();
            let meta = archive.metadata();
            assert_eq!(walked.len(), meta.len());
            for (i, w) in walked.iter().enumerate() {
                let e = meta.entry(i).unwrap();
                assert_eq!(w.name, e.name().unwrap(), "{zip64}");
                assert_eq!(
                    (w.size, w.compressed, w.crc32, w.header_start),
                    (e.size(), e.compressed_size(), e.crc32(), e.header_start()),
                    "{zip64} {}",
                    w.name
                );
            }
        }
    }

    #[test]
    fn cut_inside_a_header_or_garbage() {
        let zip = streamed_zip(&[("a.jpg", vec![1, 2, 3])]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.zip");
        std::fs::write(&path, &zip[..20]).unwrap();
        let r = scan(&path).unwrap();
        assert!(r.entries.is_empty() && r.lost.is_none());
        std::fs::write(&path, b"not a zip").unwrap();
        assert!(!looks_like_zip(&path));
        assert!(scan(&path).unwrap().entries.is_empty());
    }

    /// An entry with a local header at 0: `(zip bytes, compressed length)`.
    fn one_entry(data: &[u8]) -> (Vec<u8>, u64) {
        let zip = streamed_zip(&[("x.jpg", data.to_vec())]);
        let comp = u32::from_le_bytes(zip[zip.len() - 8..zip.len() - 4].try_into().unwrap());
        (zip, u64::from(comp))
    }

    fn inflate_with(state: &mut flate2::Decompress, zip: &[u8], comp: u64) -> io::Result<Vec<u8>> {
        let f = io::Cursor::new(zip);
        let mut out = Vec::new();
        open_at_with(f, 0, comp, DEFLATED, Some(state))?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn a_kept_decompressor_inflates_entry_after_entry_like_a_fresh_one() {
        let mut state = flate2::Decompress::new(false);
        let mut noise = 0x2545_f491_u32;
        let random: Vec<u8> = (0..300_000)
            .map(|_| {
                noise ^= noise << 13;
                noise ^= noise >> 17;
                noise ^= noise << 5;
                noise as u8
            })
            .collect();
        let text: Vec<u8> = b"photoTakenTime "
            .iter()
            .cycle()
            .take(1 << 20)
            .copied()
            .collect();
        for data in [
            &random[..],
            &text[..],
            b"",
            b"x",
            &random[..1000],
            &text[..70_000],
        ] {
            let (zip, comp) = one_entry(data);
            let mut fresh = Vec::new();
            open_at(io::Cursor::new(&zip), 0, comp, DEFLATED)
                .unwrap()
                .read_to_end(&mut fresh)
                .unwrap();
            assert_eq!(fresh, data);
            assert_eq!(inflate_with(&mut state, &zip, comp).unwrap(), data);
        }
    }

    #[test]
    fn a_cut_or_corrupt_stream_never_passes_for_whole() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 241) as u8).collect();
        let (zip, comp) = one_entry(&data);
        let mut state = flate2::Decompress::new(false);
        // Cut short: fewer bytes than the entry holds (the caller's size check fails it).
        let cut = inflate_with(&mut state, &zip, comp / 2).unwrap();
        assert!(cut.len() < data.len() && data.starts_with(&cut));
        // Garbage where the deflate data starts: an error, or at least not the data.
        let mut bad = zip.clone();
        let start = 30 + "x.jpg".len();
        for b in &mut bad[start..start + 8] {
            *b = 0xff;
        }
        let got = inflate_with(&mut state, &bad, comp);
        assert!(got.map_or(true, |v| v != data));
        // And the state is still good for the next entry.
        assert_eq!(inflate_with(&mut state, &zip, comp).unwrap(), data);
    }

    #[test]
    fn a_kept_decompressor_fed_a_byte_at_a_time() {
        // Calls that take input but give no output yet (a block header split across reads)
        // are not the end of the data.
        let data: Vec<u8> = (0..20_000u32).map(|i| (i * 13 % 199) as u8).collect();
        let (zip, comp) = one_entry(&data);
        let mut state = flate2::Decompress::new(false);
        let trickle = io::BufReader::with_capacity(1, io::Cursor::new(&zip));
        let mut out = Vec::new();
        open_at_with(trickle, 0, comp, DEFLATED, Some(&mut state))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }
}
