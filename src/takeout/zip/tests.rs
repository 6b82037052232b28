//! Tests of the zip format's readers, and the zips they build for the tests of
//! [`super::recover`].

use super::*;
use std::io::Write;

/// A zip written in streaming mode (sizes in data descriptors), as Takeout's are.
pub(super) fn streamed_zip(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
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

/// A local header (no descriptor) with zip64 sizes `(size, compressed)` and `data`.
pub(super) fn zip64_header(
    name: &str,
    method: u16,
    size: u64,
    compressed: u64,
    data: &[u8],
) -> Vec<u8> {
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
    let r = recover::scan_reader(io::Cursor::new(&zip), zip.len() as u64).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.zip");
    std::fs::write(&path, &zip).unwrap();
    let err = open(&path, &r.entries[0]).err().unwrap().to_string();
    assert!(err.starts_with("bzip2-compressed: "), "{err}");
    let mut f = BufReader::new(File::open(&path).unwrap());
    let err = open_at_with(&mut f, 0, 3, 12, None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.starts_with("bzip2-compressed: "), "{err}");
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
        open_at_with(io::Cursor::new(&zip), 0, comp, DEFLATED, None)
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

#[test]
fn entries_whose_bytes_are_not_their_own_are_refused() {
    use Refusal::*;
    // (header, name length, compressed); the directory starts at 1000.
    let end = 1000;
    // Each entry ends where the next starts: all read.
    let fine = [(0, 10, 60), (100, 10, 160), (300, 10, 660)];
    assert_eq!(refusals(&fine, end), [None, None, None]);
    // Listed out of order: sorted by position first.
    let shuffled = [(300, 10, 660), (0, 10, 60), (100, 10, 160)];
    assert_eq!(refusals(&shuffled, end), [None, None, None]);
    // One byte more runs into the next entry, or into the directory.
    assert_eq!(
        refusals(&[(0, 10, 61), (100, 10, 160), (300, 10, 661)], end),
        [Some(Overlaps), None, Some(PastTheEntries)]
    );
    // Each entry's data holds the next ones: all but the innermost refused.
    assert_eq!(
        refusals(&[(0, 10, 900), (40, 10, 860), (80, 10, 820)], end),
        [Some(Overlaps), Some(Overlaps), None]
    );
    // Two records of one local header: both refused.
    assert_eq!(
        refusals(&[(0, 10, 10), (0, 10, 10), (500, 0, 1)], end),
        [Some(SharedHeader), Some(SharedHeader), None]
    );
    // Sizes that overflow, a header inside the directory.
    assert_eq!(
        refusals(
            &[(0, 10, u64::MAX), (u64::MAX - 5, 10, 0), (990, 0, 0)],
            end
        ),
        [
            Some(PastTheEntries),
            Some(PastTheEntries),
            Some(PastTheEntries)
        ]
    );
    assert_eq!(refusals(&[], end), Vec::<Option<Refusal>>::new());
}

#[test]
fn every_record_is_counted_whatever_the_end_record_says() {
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    for i in 0..5 {
        w.start_file(format!("{i}.jpg"), SimpleFileOptions::default())
            .unwrap();
        w.write_all(b"abc").unwrap();
    }
    let mut bytes = w.finish().unwrap().into_inner();
    // The end record's two counts say 2 (as a 16-bit count past 65,535 wraps).
    let eocd = bytes.len() - 22;
    bytes[eocd + 8..eocd + 12].copy_from_slice(&[2, 0, 2, 0]);
    let archive = zip::ZipArchive::new(io::Cursor::new(&bytes)).unwrap();
    assert_eq!(
        archive.len(),
        2,
        "the zip crate reads what the end record counts"
    );
    let start = archive.central_directory_start();
    assert_eq!(count_central(io::Cursor::new(&bytes), start).unwrap(), 5);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrapped.zip");
    std::fs::write(&path, &bytes).unwrap();
    let all = directory::central_directory(&path, bytes.len() as u64).unwrap();
    let names: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["0.jpg", "1.jpg", "2.jpg", "3.jpg", "4.jpg"]);
    assert!(all.iter().all(|e| e.refused.is_none()));
}
