//! The README's first command, on the committed sample Takeout in `fixtures/sample/`.

use crate::common::*;
use std::path::PathBuf;

#[test]
fn sample_takeout_summary_and_dates() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample");
    let mut zips: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    zips.sort();
    assert_eq!(zips.len(), 2);
    let before = snapshot(&zips);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("photos");
    let (o, report) = process(&zips, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stderr(&o);
    assert!(
        s.contains("13 media files: 12 written (1 without a sidecar), 1 duplicate, 0 failed"),
        "{s}"
    );
    assert!(
        s.contains(
            "12 of 13 photos and videos found their Google Photos metadata; 1 without: the record \
             of this run names them\n"
        ),
        "{s}"
    );
    // The matching rules are our words: named with `-v` only.
    assert!(!s.contains("matched by rule"), "{s}");
    // The README shows this summary: it stays true.
    let readme = std::fs::read_to_string(dir.join("../../README.md")).unwrap();
    for line in s.lines().take(4) {
        assert!(
            readme.contains(&format!("    {line}\n")),
            "README lacks {line:?}"
        );
    }
    // 12 media files, plus XMP sidecars for the GIF (not embeddable) and for the
    // favourite photo and its edited copy (rating and people have no EXIF tag).
    let files = listing(&out);
    let xmps: Vec<&String> = files.iter().filter(|f| f.ends_with(".xmp")).collect();
    assert_eq!(files.len() - xmps.len(), 12);
    assert_eq!(
        xmps,
        [
            "IMG_20190704_171012-edited.jpg.xmp",
            "IMG_20190704_171012.jpg.xmp",
            "animation.gif.xmp"
        ]
    );
    let xmp = std::fs::read_to_string(out.join("IMG_20190704_171012.jpg.xmp")).unwrap();
    assert!(
        xmp.contains(r#"xmp:Rating="5""#) && xmp.contains("<rdf:li>Alice</rdf:li>"),
        "{xmp}"
    );
    assert_eq!(mtime(&out.join("IMG_0013.HEIC")), 1562000000);
    // The Live Photo's video half takes its still's date.
    assert_eq!(mtime(&out.join("IMG_0013.MOV")), 1562000000);
    assert_eq!(report_entry(&report, "IMG_0013.MOV")["rule"], "live-photo");
    // The file without a sidecar is dated from its name.
    let lonely = report_entry(&report, "IMG_20200614_093000.jpg");
    assert_eq!(lonely["status"], "written-without-metadata");
    assert_eq!(lonely["date_source"], "file-name");
    // The date in its name is its date taken, as the name gives it (no zone): a photo
    // manager that reads EXIF alone sorts it there. The rest is the zip's photo, byte for byte.
    assert_eq!(mtime(&out.join("IMG_20200614_093000.jpg")), 1592119800);
    let e = exif_of(&out.join("IMG_20200614_093000.jpg"));
    assert_eq!(
        exif_ascii(&e, exif::Tag::DateTimeOriginal).as_deref(),
        Some("2020:06:14 09:30:00")
    );
    assert_eq!(exif_ascii(&e, exif::Tag::OffsetTimeOriginal), None);
    let zip = std::fs::File::open(&zips[1]).unwrap();
    let mut zip = zip::ZipArchive::new(zip).unwrap();
    let name = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().to_string())
        .find(|n| n.ends_with("IMG_20200614_093000.jpg"))
        .expect("the lonely photo is in part 2");
    let mut original = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name(&name).unwrap(), &mut original).unwrap();
    let written = std::fs::read(out.join("IMG_20200614_093000.jpg")).unwrap();
    // (SOI and the JFIF segment, then the new Exif segment, then the rest as it was.)
    assert_eq!(written[..20], original[..20]);
    assert!(written.ends_with(&original[20..]));
    // The description reaches the file.
    let e = exif_of(&out.join("IMG_20190704_171012.jpg"));
    assert_eq!(
        exif_ascii(&e, exif::Tag::ImageDescription).as_deref(),
        Some("Eiffel tower at dusk")
    );
    assert_eq!(snapshot(&zips), before);
}

/// `-v` counts the files each matching rule paired, and those counts add up to the files
/// matched, on a re-run too (where files already in the library are in no count).
#[test]
fn the_matching_rules_add_up_under_v_on_a_rerun() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample");
    let mut zips: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    zips.sort();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("photos");
    let (o, _) = process(&zips[..1], &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (o, _) = process(&zips, &out, &["-v"]);
    let s = stderr(&o);
    assert!(o.status.success(), "{s}");
    counts_adding_up(&s);
    let found = s
        .lines()
        .find(|l| l.contains("found their Google Photos metadata"))
        .unwrap_or_else(|| panic!("{s}"));
    let matched: usize = found.split(' ').next().unwrap().parse().unwrap();
    let rules = s
        .lines()
        .find_map(|l| l.strip_prefix("matched by rule: "))
        .unwrap_or_else(|| panic!("{s}"));
    let (list, all) = rules.rsplit_once(" (").unwrap();
    assert_eq!(all, format!("{matched} in all)"), "{s}");
    let sum: usize = list
        .split(", ")
        .map(|r| r.rsplit_once(' ').unwrap().1.parse::<usize>().unwrap())
        .sum();
    assert_eq!(sum, matched, "{s}");
    let (o, _) = process(&zips, &tmp.path().join("fresh"), &["-v"]);
    assert!(
        stderr(&o).contains(
            "matched by rule: exact 7, supplemental 2, numbered 1, edited 1, live-photo 1 (12 in all)"
        ),
        "{}",
        stderr(&o)
    );
}
