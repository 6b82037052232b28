//! Hostile inputs for the writers, built from the real files in `fixtures/` as the review
//! of issue 26 built them: each damaged a photo while reporting success. The writers' unit
//! tests use them, and `tests/fuzz/corpus/writers/issue26-*` holds them as files for the
//! fuzz targets and the end-to-end tests (`corpus_files_are_current` keeps them equal).

use super::exif_edit::{Dir, Editor, Val};
use super::{camera_tiff, fixture};

/// The camera whose block has a thumbnail and a maker note (little-endian).
pub(crate) const CANON: &str = "cameras/2007-08-24-02-40-42_2007-08-24-02-40-42a.jpg";

/// Where the Exif APP1 segment of `jpeg` starts and ends.
fn exif_segment(jpeg: &[u8]) -> (usize, usize) {
    let at = jpeg.windows(6).position(|w| w == b"Exif\0\0").unwrap() - 4;
    (
        at,
        at + 2 + u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]) as usize,
    )
}

/// `jpeg` with the block of its Exif segment replaced by `tiff`.
pub(crate) fn with_tiff(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    let (s, e) = exif_segment(jpeg);
    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(tiff);
    [&jpeg[..s], &seg[..], &jpeg[e..]].concat()
}

fn camera_jpeg(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Issue 26, 1: a GPS IFD with the references (north, east, above sea level) but no
/// coordinates.
pub(crate) fn gps_refs_only() -> Vec<u8> {
    let mut ed = Editor::parse(&camera_tiff("media/camera.jpg")).unwrap();
    ed.set(Dir::Gps, 0x0000, Val::Byte(vec![2, 3, 0, 0]));
    ed.set(Dir::Gps, 0x0001, Val::Ascii("N".into()));
    ed.set(Dir::Gps, 0x0003, Val::Ascii("E".into()));
    ed.set(Dir::Gps, 0x0005, Val::Byte(vec![0]));
    ed.finish().unwrap().unwrap()
}

/// The entry of `tag` in `dir` of the camera's block.
fn entry(tiff: &[u8], dir: Dir, tag: u16) -> usize {
    Editor::parse(tiff).unwrap().entry_at(dir, tag).unwrap()
}

/// Issue 26, 4: the camera's DateTimeOriginal pointing into its thumbnail (or, with
/// `into_make`, at the Make's value).
pub(crate) fn date_in_thumbnail(into_make: bool) -> Vec<u8> {
    let mut tiff = camera_tiff(CANON);
    let target = if into_make {
        let make = entry(&tiff, Dir::Ifd0, 0x010F);
        u32::from_le_bytes(tiff[make + 8..make + 12].try_into().unwrap())
    } else {
        let e = exif::Reader::new().read_raw(tiff.clone()).unwrap();
        let thumb = e
            .get_field(exif::Tag::JPEGInterchangeFormat, exif::In::THUMBNAIL)
            .and_then(|f| f.value.get_uint(0))
            .unwrap();
        thumb + 16
    };
    let dto = entry(&tiff, Dir::Exif, 0x9003);
    tiff[dto + 8..dto + 12].copy_from_slice(&target.to_le_bytes());
    tiff
}

/// Issue 26, 5: the camera's Exif IFD pointer stored as `typ` (SLONG 9, SHORT 3).
pub(crate) fn exif_pointer_as(typ: u16) -> Vec<u8> {
    let mut tiff = camera_tiff(CANON);
    let at = entry(&tiff, Dir::Ifd0, 0x8769);
    tiff[at + 2..at + 4].copy_from_slice(&typ.to_le_bytes());
    if typ == 3 {
        // A SHORT holds the offset in the field's first two bytes.
        let off = u32::from_le_bytes(tiff[at + 8..at + 12].try_into().unwrap());
        tiff[at + 8..at + 12].copy_from_slice(&[0; 4]);
        tiff[at + 8..at + 10].copy_from_slice(&(off as u16).to_le_bytes());
    }
    tiff
}

/// `png` with a chunk of `kind` and `data` inserted before the first chunk of type
/// `before`, its CRC spoiled unless `crc_ok`.
pub(crate) fn with_chunk(
    png: &[u8],
    before: &[u8; 4],
    kind: &[u8; 4],
    data: &[u8],
    crc_ok: bool,
) -> Vec<u8> {
    let mut pos = 8;
    while &png[pos + 4..pos + 8] != before {
        pos += 12 + u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
    }
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    c.extend_from_slice(&crc32fast::hash(&c[4..]).to_be_bytes());
    if !crc_ok {
        let n = c.len();
        c[n - 1] ^= 0x55;
    }
    [&png[..pos], &c[..], &png[pos..]].concat()
}

/// Issue 26, 6: a `gAMA` chunk damaged in transit (its CRC wrong) before `PLTE`.
pub(crate) fn damaged_gama() -> Vec<u8> {
    let gamma = 45455u32.to_be_bytes();
    with_chunk(&fixture("screenshot.png"), b"PLTE", b"gAMA", &gamma, false)
}

/// Issue 26, 7: the camera's EXIF (2019-07-04 17:10:12 +02:00) in an `eXIf` after `IDAT`.
pub(crate) fn exif_after_idat() -> Vec<u8> {
    let camera = camera_tiff("media/camera.jpg");
    with_chunk(&fixture("screenshot.png"), b"IEND", b"eXIf", &camera, true)
}

/// The camera's JPEG with an MPF APP2 segment (its index of images) put `before_exif`
/// its Exif APP1 segment or after it, and `plain.jpg` appended as its second image.
pub(crate) fn with_second_image(before_exif: bool) -> Vec<u8> {
    let camera = fixture("camera.jpg");
    let second = fixture("plain.jpg");
    let (es, ee) = exif_segment(&camera);
    let at = if before_exif { es } else { ee };
    // MPF: "MPF\0", a little-endian TIFF header, an IFD {MPFVersion, NumberOfImages,
    // MPEntry} and the two 16-byte entries after it (at 50 from the TIFF header).
    let mut mpf = b"MPF\0II*\0\x08\0\0\0\x03\0".to_vec();
    for (tag, typ, count, field) in [
        (0xB000u16, 7u16, 4u32, *b"0100"),
        (0xB001, 4, 1, 2u32.to_le_bytes()),
        (0xB002, 7, 32, 50u32.to_le_bytes()),
    ] {
        mpf.extend_from_slice(&tag.to_le_bytes());
        mpf.extend_from_slice(&typ.to_le_bytes());
        mpf.extend_from_slice(&count.to_le_bytes());
        mpf.extend_from_slice(&field);
    }
    mpf.extend_from_slice(&[0; 4]);
    let seg_len = 2 + mpf.len() + 32;
    let first_len = camera.len() + 2 + seg_len;
    let header_at = at + 8;
    for (attr, size, off) in [
        (0x0003_0000u32, first_len as u32, 0u32),
        (
            0x0001_0000,
            second.len() as u32,
            (first_len - header_at) as u32,
        ),
    ] {
        mpf.extend_from_slice(&attr.to_le_bytes());
        mpf.extend_from_slice(&size.to_le_bytes());
        mpf.extend_from_slice(&off.to_le_bytes());
        mpf.extend_from_slice(&[0; 4]);
    }
    let mut seg = vec![0xFF, 0xE2];
    seg.extend_from_slice(&(seg_len as u16).to_be_bytes());
    seg.extend_from_slice(&mpf);
    [&camera[..at], &seg[..], &camera[at..], &second[..]].concat()
}

/// Found by the structure-aware mutator: the camera's EXIF in an `eXIf` after `IEND`,
/// which readers find too.
pub(crate) fn exif_after_iend() -> Vec<u8> {
    let mut c = exif_after_idat();
    let png = fixture("screenshot.png");
    let at = png.len() - 12;
    // Move the IEND chunk before the eXIf one.
    let iend = c[at + c.len() - png.len()..].to_vec();
    let exif_len = c.len() - png.len();
    let exif = c[at..at + exif_len].to_vec();
    c.truncate(at);
    c.extend_from_slice(&iend);
    c.extend_from_slice(&exif);
    c
}

/// Every hostile input, named as in `tests/fuzz/corpus/writers/`.
pub(crate) fn all() -> Vec<(&'static str, Vec<u8>)> {
    let camera = fixture("camera.jpg");
    let canon = camera_jpeg(CANON);
    vec![
        (
            "issue26-1-gps-refs-only.jpg",
            with_tiff(&camera, &gps_refs_only()),
        ),
        (
            "issue26-4-date-in-thumbnail.jpg",
            with_tiff(&canon, &date_in_thumbnail(false)),
        ),
        (
            "issue26-4-date-in-make.jpg",
            with_tiff(&canon, &date_in_thumbnail(true)),
        ),
        (
            "issue26-5-exif-pointer-slong.jpg",
            with_tiff(&canon, &exif_pointer_as(9)),
        ),
        (
            "issue26-5-exif-pointer-short.jpg",
            with_tiff(&canon, &exif_pointer_as(3)),
        ),
        ("issue26-6-damaged-gama.png", damaged_gama()),
        ("issue26-7-exif-after-idat.png", exif_after_idat()),
        ("issue26-7-exif-after-iend.png", exif_after_iend()),
        ("issue26-8-mpf-before-exif.jpg", with_second_image(true)),
    ]
}

/// The files in the corpus are the inputs built here (`GPBACKUP_WRITE_CORPUS=1` writes them).
#[test]
fn corpus_files_are_current() {
    let dir = format!("{}/tests/fuzz/corpus/writers", env!("CARGO_MANIFEST_DIR"));
    for (name, bytes) in all() {
        let path = format!("{dir}/{name}");
        if std::env::var("GPBACKUP_WRITE_CORPUS").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &bytes).unwrap();
        }
        let file = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            file == bytes,
            "{path} differs from what hostile::all() builds"
        );
    }
}
