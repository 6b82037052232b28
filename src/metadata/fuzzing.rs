//! The properties of the media writers that the fuzz targets (`tests/fuzz/`) check, through
//! [`crate::fuzzing`]; each function panics when a property does not hold. They live here so
//! that the metadata writers and their tests need nothing outside `metadata/`.

use crate::metadata::{heif, isobmff, jpeg, png, webp, Geo, Tags, TimeZoneChoice, Written};

/// Every metadata writer on any bytes: it never loses bytes. When it changes nothing the
/// output is the input; when it does, the output is not empty (metadata is
/// only ever added or replaced).
pub fn writers(data: &[u8]) {
    let tags = Tags {
        taken: Some(1_562_253_012),
        geo: Some(Geo {
            lat: 48.8583701,
            lon: 2.2944813,
            alt: Some(35.2),
        }),
        description: Some("fuzz".into()),
        overwrite_dates: data.first().is_some_and(|b| b & 1 == 1),
        keep_camera_dates: data.first().is_some_and(|b| b & 2 == 2),
        geo_moved: data.first().is_some_and(|b| b & 4 == 4),
    };
    let zone = TimeZoneChoice::Zone(chrono_tz::Tz::Europe__Paris);
    type Writer = fn(&[u8], &Tags, &TimeZoneChoice, &mut Vec<u8>) -> std::io::Result<Written>;
    let all: [(&str, Writer); 4] = [
        ("jpeg", |d, t, z, o| jpeg::rewrite(&mut &d[..], o, t, z)),
        ("png", |d, t, z, o| png::rewrite(&mut &d[..], o, t, z)),
        ("webp", |d, t, z, o| webp::rewrite(&mut &d[..], o, t, z)),
        ("isobmff", |d, t, z, o| {
            isobmff::rewrite(&mut &d[..], o, t, z)
        }),
    ];
    for (name, write) in all {
        let mut out = Vec::new();
        let w = write(data, &tags, &zone, &mut out).expect("reading from memory cannot fail");
        if !w.changed {
            assert!(
                out == data,
                "{name}: unchanged output differs from the input"
            );
        } else {
            assert!(!out.is_empty(), "{name}: changed to nothing");
        }
    }
}

/// The HEIF/AVIF writer on any bytes: when it changes nothing the output is the input; when it
/// does, the independent reader (kamadak-exif) finds EXIF with a date in the result.
pub fn heif_writer(data: &[u8]) {
    let tags = Tags {
        taken: Some(1_562_253_012),
        geo: Some(Geo {
            lat: -33.8688,
            lon: 151.2093,
            alt: None,
        }),
        description: None,
        overwrite_dates: data.len() % 2 == 1,
        keep_camera_dates: data.len() % 3 == 1,
        geo_moved: data.len() % 5 == 1,
    };
    let zone = TimeZoneChoice::Zone(chrono_tz::Tz::Australia__Sydney);
    let mut out = Vec::new();
    let w = heif::rewrite(&mut &data[..], &mut out, &tags, &zone)
        .expect("reading from memory cannot fail");
    if !w.changed {
        assert!(out == data, "heif: unchanged output differs from the input");
        return;
    }
    let e = exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(&out))
        .expect("heif: changed output without readable EXIF");
    assert!(
        e.get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
            .is_some(),
        "heif: changed output without a date"
    );
}

/// Numbers for the tests that change inputs at random (xorshift64: the same from one `seed`
/// on every run, so that a failure can be replayed).
#[cfg(test)]
pub(crate) fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
