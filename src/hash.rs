//! Hashing bytes as they stream past, so that media are read once: the content hash used for
//! deduplication is computed while the file is being copied, never in a second pass.

use std::io::{self, Read, Write};

use xxhash_rust::xxh3::Xxh3;

/// A 128-bit XXH3 key of some optional numbers and texts (each number tagged, so that `None`
/// and `Some(0)` differ, and each text preceded by its length, so that `("ab", "c")` and
/// `("a", "bc")` differ): the keys of the compact maps of the plan, the matcher and the
/// manifest, which hold numbers rather than a million strings.
pub fn key128(numbers: &[Option<u64>], texts: &[&str]) -> u128 {
    let mut h = numbers_hashed(numbers);
    for t in texts {
        text_hashed(&mut h, &[t]);
    }
    h.digest128()
}

/// [`key128`] of `numbers` and one text given in parts (`parts` joined): the same number,
/// without joining them.
pub fn key128_joined(numbers: &[Option<u64>], parts: &[&str]) -> u128 {
    let mut h = numbers_hashed(numbers);
    text_hashed(&mut h, parts);
    h.digest128()
}

/// The key of a Takeout entry: its path (given in parts, joined), size and CRC-32 (zips) as one
/// [`key128`]. The manifest's records of entries and the inputs' entries meet on it.
pub fn entry_id(size: u64, crc32: Option<u32>, path_parts: &[&str]) -> u128 {
    key128_joined(&[Some(size), crc32.map(u64::from)], path_parts)
}

/// A hasher fed the numbers of a [`key128`], each tagged.
fn numbers_hashed(numbers: &[Option<u64>]) -> Xxh3 {
    let mut h = Xxh3::new();
    for n in numbers {
        match n {
            Some(n) => {
                h.update(&[1]);
                h.update(&n.to_le_bytes());
            }
            None => h.update(&[0]),
        }
    }
    h
}

/// Feeds `h` one text of a [`key128`], given in parts: its length, then its bytes.
fn text_hashed(h: &mut Xxh3, parts: &[&str]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    h.update(&(len as u64).to_le_bytes());
    for p in parts {
        h.update(p.as_bytes());
    }
}

/// Wraps a reader and hashes (xxh3-128) and counts every byte read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Xxh3,
    len: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Xxh3::new(),
            len: 0,
        }
    }

    /// The hash and length of what has been read so far.
    pub fn finish(&self) -> (u128, u64) {
        (self.hasher.digest128(), self.len)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// Wraps a writer and hashes (xxh3-128) and counts every byte written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Xxh3,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Xxh3::new(),
            len: 0,
        }
    }

    pub fn finish(self) -> (W, u128, u64) {
        (self.inner, self.hasher.digest128(), self.len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The content hash of an empty file. Empty files say nothing of what they were: two of them are
/// never taken for copies of one photo (each keeps its own name and date).
pub fn empty() -> u128 {
    xxhash_rust::xxh3::xxh3_128(&[])
}

/// Hashes a whole stream (xxh3-128) without keeping it.
pub fn hash_stream(r: impl Read) -> io::Result<(u128, u64)> {
    let mut h = HashingReader::new(r);
    io::copy(&mut h, &mut io::sink())?;
    Ok(h.finish())
}

pub fn hex(h: u128) -> String {
    format!("{h:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_parts_apart() {
        assert_ne!(key128(&[], &["ab", "c"]), key128(&[], &["a", "bc"]));
        assert_ne!(key128(&[None], &["a"]), key128(&[Some(0)], &["a"]));
        assert_ne!(key128(&[Some(1), None], &[]), key128(&[None, Some(1)], &[]));
        assert_eq!(
            key128(&[Some(7)], &["x", "y"]),
            key128(&[Some(7)], &["x", "y"])
        );
    }

    #[test]
    fn reader_and_writer_agree_with_one_shot_hash() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let expected = xxhash_rust::xxh3::xxh3_128(&data);
        assert_eq!(
            hash_stream(&data[..]).unwrap(),
            (expected, data.len() as u64)
        );
        let mut w = HashingWriter::new(Vec::new());
        for chunk in data.chunks(777) {
            w.write_all(chunk).unwrap();
        }
        let (out, h, n) = w.finish();
        assert_eq!((h, n), (expected, data.len() as u64));
        assert_eq!(out, data);
        assert_eq!(hex(1), "00000000000000000000000000000001");
    }
}
