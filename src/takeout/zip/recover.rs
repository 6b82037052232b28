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

use super::{
    u16_at, u32_at, u64_at, RawEntry, DATA_DESCRIPTOR, DEFLATED, FLAG_DESCRIPTOR, FLAG_ENCRYPTED,
    LOCAL_HEADER,
};

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

#[cfg(test)]
mod tests {
    use super::super::tests::{streamed_zip, zip64_header};
    use super::super::{open, STORED};
    use super::*;

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

    fn scan_bytes(b: &[u8]) -> Recovered {
        scan_reader(io::Cursor::new(b), b.len() as u64).unwrap()
    }

    #[test]
    fn a_zip64_size_that_wraps_around_ends_the_walk() {
        // A stored entry, then one whose zip64 compressed size makes `data_start + size`
        // wrap to 0 (the start of the file): a walk that followed it would go back to the
        // first entry and round again, forever, collecting entries (or overflow in a debug
        // build).
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
    fn a_folder_entry_with_data_is_kept() {
        let mut zip = zip64_header("dir/", STORED, 0, 0, b"");
        zip.extend(zip64_header("X.jpg/", STORED, 3, 3, b"abc"));
        let r = scan_bytes(&zip);
        let names: Vec<&str> = r.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["X.jpg/"]);
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
}
