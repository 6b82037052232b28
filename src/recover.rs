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

const LOCAL_HEADER: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
const FLAG_DESCRIPTOR: u16 = 0x0008;
pub const STORED: u16 = 0;
pub const DEFLATED: u16 = 8;

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
    let mut f = BufReader::with_capacity(256 * 1024, File::open(path)?);
    let mut out = Recovered::default();
    let mut pos = 0u64;
    loop {
        f.seek(SeekFrom::Start(pos))?;
        let mut head = [0u8; 30];
        if pos + 30 > len || f.read_exact(&mut head).is_err() {
            out.stopped = "the file ends inside an entry header".into();
            break;
        }
        if u32_at(&head, 0) != LOCAL_HEADER {
            out.stopped = "no further entries".into();
            break;
        }
        let flags = u16_at(&head, 6);
        let method = u16_at(&head, 8);
        let mut crc = u32_at(&head, 14);
        let mut compressed = u32_at(&head, 18) as u64;
        let mut size = u32_at(&head, 22) as u64;
        let (name_len, extra_len) = (u16_at(&head, 26) as usize, u16_at(&head, 28) as usize);
        let mut name_extra = vec![0u8; name_len + extra_len];
        if f.read_exact(&mut name_extra).is_err() {
            out.stopped = "the file ends inside an entry header".into();
            break;
        }
        let name = String::from_utf8_lossy(&name_extra[..name_len]).into_owned();
        let zip64 = zip64_sizes(&name_extra[name_len..]);
        if let Some((s, c)) = zip64 {
            if size == 0xFFFF_FFFF {
                size = s;
            }
            if compressed == 0xFFFF_FFFF {
                compressed = c;
            }
        }
        let data_start = pos + 30 + (name_len + extra_len) as u64;
        let mut end = data_start + compressed;
        if flags & FLAG_DESCRIPTOR != 0 {
            if method != DEFLATED {
                out.lost = Some(name);
                out.stopped = "an entry whose size is only known after its data".into();
                break;
            }
            // Inflate to find where the data ends, then read the descriptor.
            let mut dec = DeflateDecoder::new(&mut f);
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
                out.lost = Some(name);
                out.stopped = "the file ends inside an entry".into();
                break;
            }
            compressed = dec.total_in();
            size = dec.total_out();
            let actual_crc = hasher.finalize();
            end = data_start + compressed;
            f.seek(SeekFrom::Start(end))?;
            let wide = zip64.is_some();
            let mut desc = [0u8; 24];
            let n = if wide { 24 } else { 16 };
            if f.read_exact(&mut desc[..n]).is_err() {
                out.lost = Some(name);
                out.stopped = "the file ends inside an entry".into();
                break;
            }
            // The descriptor's signature is optional.
            let (fields, sig_len) = if u32_at(&desc, 0) == DATA_DESCRIPTOR {
                (&desc[4..], 4)
            } else {
                (&desc[..], 0)
            };
            crc = u32_at(fields, 0);
            let desc_len = sig_len + 4 + if wide { 16 } else { 8 };
            if crc != actual_crc {
                out.lost = Some(name);
                out.stopped = "an entry with a bad checksum".into();
                break;
            }
            end += desc_len as u64;
        } else if end > len {
            out.lost = Some(name);
            out.stopped = "the file ends inside an entry".into();
            break;
        }
        if !name.ends_with('/') {
            out.entries.push(RawEntry {
                name,
                method,
                data_start,
                compressed,
                size,
                crc32: crc,
            });
        }
        pos = if flags & FLAG_DESCRIPTOR != 0 {
            end
        } else {
            data_start + compressed
        };
    }
    Ok(out)
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
pub fn open_at<'f, R: BufRead + Seek>(
    file: &'f mut R,
    header: u64,
    compressed: u64,
    method: u16,
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
    match method {
        STORED => Ok(Box::new(raw)),
        DEFLATED => Ok(Box::new(DeflateDecoder::new(raw))),
        m => Err(io::Error::other(format!(
            "compression method {m} is not supported (or the entry is encrypted)"
        ))),
    }
}

/// The bytes of a recovered entry (decompressed; size and CRC are checked by the caller's
/// reader, see `source`).
pub fn open(path: &Path, e: &RawEntry) -> io::Result<Box<dyn Read>> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(e.data_start))?;
    let raw = BufReader::with_capacity(256 * 1024, f.take(e.compressed));
    match e.method {
        STORED => Ok(Box::new(raw)),
        DEFLATED => Ok(Box::new(DeflateDecoder::new(raw))),
        m => Err(io::Error::other(format!(
            "compression method {m} is not supported"
        ))),
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
