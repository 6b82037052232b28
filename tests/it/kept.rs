//! What the user typed, corrected and sorted in Google Photos survives (issue 25), and what
//! other programs left among the photos is not taken for a photo.

use std::path::PathBuf;

use crate::common::*;

#[test]
fn junk_other_programs_leave_is_not_a_photo() {
    // A zip made on a Mac from a Synology share: AppleDouble halves, folder files, thumbnail
    // folders, beside two real photos (one in an album).
    let tmp = tempfile::tempdir().unwrap();
    let y = format!("{GP}/Photos from 2019");
    let trip = format!("{GP}/Trip");
    let junk = [
        format!("{y}/._IMG_0002.jpg"),
        format!("{y}/.DS_Store"),
        format!("{y}/Thumbs.db"),
        format!("{y}/desktop.ini"),
        format!("{y}/@eaDir/IMG_0002.jpg/SYNOPHOTO_THUMB_M.jpg"),
        format!("{y}/@eaDir/IMG_0002.jpg/SYNOPHOTO_THUMB_XL.jpg"),
        format!("{trip}/._IMG_0002.jpg"),
        format!("__MACOSX/{y}/._IMG_0002.jpg"),
    ];
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (format!("{y}/IMG_0002.jpg"), photo("<2>")),
        (
            format!("{y}/IMG_0002.jpg.json"),
            sidecar("IMG_0002.jpg", 1_562_253_012, None),
        ),
        (format!("{trip}/IMG_0002.jpg"), photo("<2>")),
        (format!("{trip}/metadata.json"), album_json("Trip")),
    ];
    files.extend(junk.iter().map(|p| (p.clone(), photo("<junk>"))));
    let zip: PathBuf = export(&tmp.path().join("in"), "20240101T000000Z", &files);
    let out = tmp.path().join("out");
    let (o, report) = process(std::slice::from_ref(&zip), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let library: Vec<String> = files_of(&out).into_keys().collect();
    assert_eq!(library, ["IMG_0002.jpg"], "{}", stderr(&o));
    let ignored: Vec<String> = report["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().rsplit_once(':').unwrap().1.to_string())
        .collect();
    for j in &junk {
        assert!(ignored.contains(j), "{j} not listed as ignored: {ignored:?}");
    }
    let albums = &report["albums"];
    assert_eq!(albums[0]["files"], serde_json::json!(["IMG_0002.jpg"]), "{albums}");
    let v = gpbackup(&[
        "verify".as_ref(),
        out.as_os_str(),
        "--against".as_ref(),
        zip.as_os_str(),
    ]);
    assert!(v.status.success(), "{}", stderr(&v));
}
