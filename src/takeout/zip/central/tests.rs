use super::*;
use std::io::Write;

/// One entry of a zip built by [`build`]: stored data, and the record's fields as given.
#[derive(Clone)]
struct Rec {
    name: Vec<u8>,
    data: Vec<u8>,
    made_by: u16,
    flags: u16,
    method: u16,
    external: u32,
    /// Extra fields after the zip64 one (if `zip64`).
    extra: Vec<u8>,
    comment: Vec<u8>,
    /// Sizes and offset as full 32-bit fields, their values in a zip64 extra field.
    zip64: bool,
}

fn rec(name: &str, data: &[u8]) -> Rec {
    Rec {
        name: name.as_bytes().to_vec(),
        data: data.to_vec(),
        made_by: 0x031e,
        flags: 0x0800,
        method: STORED,
        external: 0o100644 << 16,
        extra: Vec::new(),
        comment: Vec::new(),
        zip64: false,
    }
}

/// How the end of a zip built by [`build`] looks.
#[derive(Clone, Default)]
struct End {
    /// Bytes before the zip (a self-extractor's stub).
    prefix: Vec<u8>,
    /// zip64 end record and locator, and full fields in the end record.
    zip64: bool,
    comment: Vec<u8>,
}

fn build(recs: &[Rec], end: &End) -> Vec<u8> {
    let mut out = end.prefix.clone();
    let mut offsets = Vec::new();
    for r in recs {
        offsets.push((out.len() - end.prefix.len()) as u64);
        let crc = crc32fast::hash(&r.data);
        out.extend(0x0403_4b50u32.to_le_bytes());
        out.extend([20, 0]);
        out.extend(r.flags.to_le_bytes());
        out.extend(r.method.to_le_bytes());
        out.extend([0; 4]);
        out.extend(crc.to_le_bytes());
        out.extend((r.data.len() as u32).to_le_bytes());
        out.extend((r.data.len() as u32).to_le_bytes());
        out.extend((r.name.len() as u16).to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(&r.name);
        out.extend(&r.data);
    }
    let cd_start = (out.len() - end.prefix.len()) as u64;
    for (r, offset) in recs.iter().zip(offsets) {
        let mut extra = Vec::new();
        let (mut size32, mut header32) = (r.data.len() as u32, offset as u32);
        if r.zip64 {
            extra.extend(1u16.to_le_bytes());
            extra.extend(24u16.to_le_bytes());
            extra.extend((r.data.len() as u64).to_le_bytes());
            extra.extend((r.data.len() as u64).to_le_bytes());
            extra.extend(offset.to_le_bytes());
            (size32, header32) = (u32::MAX, u32::MAX);
        }
        extra.extend(&r.extra);
        out.extend(CENTRAL_HEADER.to_le_bytes());
        out.extend(r.made_by.to_le_bytes());
        out.extend([20, 0]);
        out.extend(r.flags.to_le_bytes());
        out.extend(r.method.to_le_bytes());
        out.extend([0; 4]);
        out.extend(crc32fast::hash(&r.data).to_le_bytes());
        out.extend(size32.to_le_bytes());
        out.extend(size32.to_le_bytes());
        out.extend((r.name.len() as u16).to_le_bytes());
        out.extend((extra.len() as u16).to_le_bytes());
        out.extend((r.comment.len() as u16).to_le_bytes());
        out.extend([0; 4]);
        out.extend(r.external.to_le_bytes());
        out.extend(header32.to_le_bytes());
        out.extend(&r.name);
        out.extend(&extra);
        out.extend(&r.comment);
    }
    let cd_end = (out.len() - end.prefix.len()) as u64;
    let (count, size) = (recs.len() as u64, cd_end - cd_start);
    if end.zip64 {
        out.extend(ZIP64_EOCD.to_le_bytes());
        out.extend(44u64.to_le_bytes());
        out.extend([45, 3, 45, 0]);
        out.extend([0; 8]);
        out.extend(count.to_le_bytes());
        out.extend(count.to_le_bytes());
        out.extend(size.to_le_bytes());
        out.extend(cd_start.to_le_bytes());
        out.extend(LOCATOR.to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.extend(cd_end.to_le_bytes());
        out.extend(1u32.to_le_bytes());
    }
    out.extend(EOCD.to_le_bytes());
    out.extend([0; 4]);
    let (count16, size32, start32) = if end.zip64 {
        (u16::MAX, u32::MAX, u32::MAX)
    } else {
        (count as u16, size as u32, cd_start as u32)
    };
    out.extend(count16.to_le_bytes());
    out.extend(count16.to_le_bytes());
    out.extend(size32.to_le_bytes());
    out.extend(start32.to_le_bytes());
    out.extend((end.comment.len() as u16).to_le_bytes());
    out.extend(&end.comment);
    out
}

/// What this module and the zip crate's reader make of `bytes`: (this, the zip crate's
/// records or its error).
fn both(bytes: &[u8]) -> (Option<Vec<CentralEntry>>, Result<Vec<CentralEntry>, String>) {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(bytes).unwrap();
    let len = bytes.len() as u64;
    let here = read(&f, len);
    let f2 = f.try_clone().unwrap();
    let theirs =
        super::super::directory::by_zip_crate(Path::new("z.zip"), f2).map_err(|e| e.to_string());
    (here, theirs)
}

use std::path::Path;

/// Reads `bytes` here, and checks the zip crate gives the same records.
fn read_here(bytes: &[u8]) -> Vec<CentralEntry> {
    let (here, theirs) = both(bytes);
    let here = here.expect("read here");
    assert_eq!(Ok(here.clone()), theirs);
    here
}

/// Checks the zip is left to the zip crate.
fn left_to_zip_crate(bytes: &[u8]) -> Result<Vec<CentralEntry>, String> {
    let (here, theirs) = both(bytes);
    assert_eq!(here, None);
    theirs
}

fn sample() -> Vec<Rec> {
    vec![
        rec(
            "Takeout/Google Photos/Photos from 2019/IMG_0001.jpg",
            b"jpeg bytes",
        ),
        rec(
            "Takeout/Google Photos/Photos from 2019/IMG_0001.jpg.json",
            b"{}",
        ),
        rec("Takeout/Google Photos/Álbum/Café ☕.jpg", b"more"),
    ]
}

#[test]
fn a_plain_zip_is_read_here_with_the_zip_crates_records() {
    let all = read_here(&build(&sample(), &End::default()));
    assert_eq!(all.len(), 3);
    assert_eq!(all[2].name, "Takeout/Google Photos/Álbum/Café ☕.jpg");
    assert_eq!(
        (all[0].size, all[0].crc32),
        (10, crc32fast::hash(b"jpeg bytes"))
    );
    assert_eq!(all[1].header_start, 30 + 51 + 10);
    // With a comment after the end record, and one per record.
    let mut recs = sample();
    recs[1].comment = b"a record's comment".to_vec();
    let end = End {
        comment: b"the zip's comment".to_vec(),
        ..End::default()
    };
    assert_eq!(read_here(&build(&recs, &end)).len(), 3);
    // The longest comment there can be: the end record is as far from the end as it gets.
    for zip64 in [false, true] {
        let end = End {
            comment: vec![b'c'; u16::MAX as usize],
            zip64,
            ..End::default()
        };
        let bytes = build(&sample(), &end);
        if zip64 {
            // Its zip64 record lies before the end this reads: the zip crate's.
            assert_eq!(left_to_zip_crate(&bytes).map(|r| r.len()), Ok(3));
        } else {
            assert_eq!(read_here(&bytes).len(), 3);
        }
    }
}

#[test]
fn an_end_record_that_counts_fewer_records_than_there_are_is_left_to_the_zip_crate() {
    let mut recs = sample();
    recs.insert(
        1,
        rec(
            "Takeout/Google Photos/Photos from 2019/IMG_0001.jpg",
            b"same name",
        ),
    );
    let bytes = build(&recs, &End::default());
    assert_eq!(read_here(&bytes).len(), 4);
    // The end record's counts (on this disk, in all) one short.
    let mut short = bytes.clone();
    let eocd = short.len() - EOCD_LEN;
    for at in [eocd + 8, eocd + 10] {
        short[at..at + 2].copy_from_slice(&3u16.to_le_bytes());
    }
    let theirs = left_to_zip_crate(&short).unwrap();
    assert_eq!(theirs.len(), 4, "every record, the same name twice");
}

#[test]
fn a_directory_larger_than_a_chunk_is_read_whole() {
    let recs: Vec<Rec> = (0..20_000)
        .map(|i| {
            rec(
                &format!("Takeout/Google Photos/Photos from 2019/IMG_{i:05}.jpg"),
                b"x",
            )
        })
        .collect();
    let directory: usize = recs.iter().map(|r| CENTRAL_HEADER_LEN + r.name.len()).sum();
    assert!(directory > CHUNK, "records past the first chunk");
    let all = read_here(&build(&recs, &End::default()));
    assert_eq!(all.len(), 20_000);
    assert_eq!(
        all[19_999].name,
        "Takeout/Google Photos/Photos from 2019/IMG_19999.jpg"
    );
}

#[test]
fn zip64_records_and_end_records_are_read_here() {
    let mut recs = sample();
    recs[0].zip64 = true;
    recs[2].zip64 = true;
    for zip64_end in [false, true] {
        let end = End {
            zip64: zip64_end,
            ..End::default()
        };
        let all = read_here(&build(&recs, &end));
        assert_eq!(all[2].size, 4);
        assert_eq!(all[2].header_start, 2 * 30 + 51 + 10 + 56 + 2);
    }
}

#[test]
fn a_zip_written_by_the_zip_crate_is_read_here() {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    w.start_file("a/IMG_1.jpg", stored).unwrap();
    w.write_all(&[7; 1000]).unwrap();
    w.start_file("a/IMG_2.mp4", deflated).unwrap();
    w.write_all(&[8; 5000]).unwrap();
    w.add_symlink("a/link.jpg", "IMG_1.jpg", stored).unwrap();
    w.set_comment("comment").unwrap();
    w.finish().unwrap();
    let all = read_here(out.get_ref());
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].method, DEFLATED);
    assert!(all[2].symlink && !all[1].symlink);
}

#[test]
fn links_encryption_and_duplicate_names_are_read_as_the_zip_crate_reads_them() {
    let mut recs = sample();
    recs[0].external = 0o120777 << 16;
    recs[1].flags |= FLAG_ENCRYPTED;
    // A record made on MS-DOS with link bits: not a link.
    recs[2].made_by = 0x0014;
    recs[2].external = 0o120777 << 16;
    // The same name twice: both kept, in order (the zip crate's index keeps one).
    recs.push(rec(
        "Takeout/Google Photos/Photos from 2019/IMG_0001.jpg",
        b"again",
    ));
    let all = read_here(&build(&recs, &End::default()));
    assert_eq!(
        all.iter()
            .map(|e| (e.symlink, e.encrypted))
            .collect::<Vec<_>>(),
        [(true, false), (false, true), (false, false), (false, false)]
    );
    assert_eq!(all[3].size, 5);
}

#[test]
fn unknown_extra_fields_are_skipped_as_the_zip_crate_skips_them() {
    let mut recs = sample();
    // Info-ZIP's Unix uid/gid field, which the zip crate keeps unread.
    recs[0].extra = vec![0x75, 0x78, 5, 0, 1, 0xe8, 0x03, 0xe8, 0x03];
    recs[0].zip64 = true;
    assert_eq!(read_here(&build(&recs, &End::default())).len(), 3);
}

#[test]
fn what_is_not_plain_is_left_to_the_zip_crate() {
    // A name that is not UTF-8: the zip crate decodes it as CP437.
    let mut recs = sample();
    recs[0].name = b"Takeout/caf\x82.jpg".to_vec();
    let theirs = left_to_zip_crate(&build(&recs, &End::default())).unwrap();
    assert_eq!(theirs[0].name, "Takeout/café.jpg");
    // A Unicode path field, an extended timestamp: the zip crate parses them.
    for id in [0x7075u16, 0x5455] {
        let mut recs = sample();
        recs[1].extra = [&id.to_le_bytes()[..], &[1, 0, 0]].concat();
        left_to_zip_crate(&build(&recs, &End::default())).ok();
    }
    // An extra field cut short, a zip64 field without the values it should hold.
    let mut recs = sample();
    recs[1].extra = vec![0x75, 0x78, 9, 0, 1];
    left_to_zip_crate(&build(&recs, &End::default())).ok();
    let mut recs = sample();
    recs[1].zip64 = true;
    let mut bytes = build(&recs, &End::default());
    let second = (0..bytes.len())
        .filter(|&i| u32_at(&bytes, i) == Some(CENTRAL_HEADER))
        .nth(1)
        .unwrap();
    // Its zip64 field says 24 bytes; make it 16 (too short for the three values).
    let at = second + 46 + recs[1].name.len() + 2;
    assert_eq!(u16_at(&bytes, at), Some(24));
    bytes[at] = 16;
    left_to_zip_crate(&bytes).ok();
    // Another method than stored or deflated.
    let mut recs = sample();
    recs[2].method = 12;
    left_to_zip_crate(&build(&recs, &End::default())).unwrap();
    // Data before the zip (offsets counted from the zip's start).
    let end = End {
        prefix: b"#!/bin/sh\nexit 0\n".to_vec(),
        ..End::default()
    };
    let theirs = left_to_zip_crate(&build(&sample(), &end)).unwrap();
    assert_eq!(theirs[0].header_start, 17);
    // An end record's signature in the zip's comment.
    let end = End {
        comment: [&EOCD.to_le_bytes()[..], &[0; 18]].concat(),
        ..End::default()
    };
    left_to_zip_crate(&build(&sample(), &end)).ok();
    // No entries.
    left_to_zip_crate(&build(&[], &End::default())).unwrap();
}

/// Random damage to zips of every shape above: whatever this reads, the zip crate reads
/// the same (and what it would reject, this leaves to it).
#[test]
fn the_same_as_the_zip_crate_on_damaged_zips() {
    let mut next = crate::fuzzing::xorshift(0x9e37_79b9_7f4a_7c15u64);
    let mut zip64 = sample();
    zip64[1].zip64 = true;
    zip64[0].extra = vec![0x75, 0x78, 1, 0, 1];
    let shapes = [
        build(&sample(), &End::default()),
        build(
            &zip64,
            &End {
                zip64: true,
                ..End::default()
            },
        ),
        build(
            &sample(),
            &End {
                comment: b"c".to_vec(),
                ..End::default()
            },
        ),
    ];
    let (mut here, mut cases) = (0, 0);
    for shape in &shapes {
        for _ in 0..700 {
            let mut bytes = shape.clone();
            // Damage falls on the directory and the end records, where it matters.
            let cd = bytes.len() - 320.min(bytes.len());
            for _ in 0..1 + next() % 3 {
                let at = cd + (next() as usize % (bytes.len() - cd));
                bytes[at] = match next() % 4 {
                    0 => 0xff,
                    1 => 0,
                    2 => bytes[at].wrapping_add(1),
                    _ => next() as u8,
                };
            }
            match next() % 8 {
                0 => bytes.truncate(bytes.len() - 1 - next() as usize % 40),
                1 => bytes.extend(b"trailing"),
                _ => {}
            }
            let (ours, theirs) = both(&bytes);
            cases += 1;
            if let Some(ours) = ours {
                here += 1;
                assert_eq!(Ok(ours), theirs, "case {cases}");
            }
        }
    }
    // Much damage leaves a zip that is still plain (a size, a CRC, a name's letter).
    assert!(
        here > cases / 5 && here < cases,
        "{here} of {cases} read here"
    );
}
