//! Dates are written as the wall-clock time where the photo was taken, whatever this
//! machine's zone.

use crate::common::*;

#[test]
fn auto_zone_from_gps_whatever_the_machines_zone() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = fixture("plain.jpg");
    let mut t = Takeout::new(1);
    // 2019-07-04 09:00:00 UTC: 18:00 in Tokyo, 11:00 in Paris, 05:00 in New York.
    let taken = 1562230800;
    for (name, geo) in [
        ("tokyo.jpg", Some((35.6585805, 139.7454329, 0.0))),
        ("paris.jpg", Some((48.8583701, 2.2944813, 35.0))),
        ("newyork.jpg", Some((40.7484405, -73.9856644, 10.0))),
        ("atsea.jpg", Some((30.0, -30.0, 0.0))),
        ("nogps.jpg", None),
    ] {
        t.add(0, format!("{YEAR}/{name}"), jpeg_variant(&plain, name))
            .add(0, format!("{YEAR}/{name}.json"), sidecar(name, taken, geo));
    }
    let zips = t.write(&tmp.path().join("in"));
    let out = tmp.path().join("photos");
    // The default is --timezone auto; this machine pretends to be in Honolulu (UTC-10).
    let report = out.with_extension("json");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_gpbackup"))
        .args([
            "process",
            zips[0].to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .args(["--report", report.to_str().unwrap()])
        .env("TZ", "Pacific/Honolulu")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    for (name, date, offset) in [
        ("tokyo.jpg", "2019:07:04 18:00:00", "+09:00"),
        ("paris.jpg", "2019:07:04 11:00:00", "+02:00"),
        ("newyork.jpg", "2019:07:04 05:00:00", "-04:00"),
        ("atsea.jpg", "2019:07:04 07:00:00", "-02:00"),
        // Nothing places it: UTC, not the machine's zone (the same bytes on every machine).
        ("nogps.jpg", "2019:07:04 09:00:00", "+00:00"),
    ] {
        let e = exif_of(&out.join(name));
        assert_eq!(
            exif_ascii(&e, exif::Tag::DateTimeOriginal).as_deref(),
            Some(date),
            "{name}"
        );
        assert_eq!(
            exif_ascii(&e, exif::Tag::OffsetTimeOriginal).as_deref(),
            Some(offset),
            "{name}"
        );
        // Whatever the wall clock, the instant is the same: the mtime.
        assert_eq!(mtime(&out.join(name)), taken, "{name}");
    }
}
