//! Split runs converge on one run: whatever parts or exports each run is given, and in
//! whatever order, every photo ends with the date, place and caption one run over everything
//! gives it, and those are its own sidecar's (the newest export's when exports differ).
//! Each test names, on failure, every photo that got a wrong value and which run order did it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::*;

/// Both places are in France, so their local time is Paris time as for photos with no place.
const PARIS: (f64, f64, f64) = (48.8584, 2.2945, 35.0);
const MARSEILLE: (f64, f64, f64) = (43.2965, 5.3698, 12.0);

// The dates taken, each at 12:00:00 UTC.
const T2015_06_01: i64 = 1_433_160_000;
const T2018_03_03: i64 = 1_520_078_400;
const T2020_05_05: i64 = 1_588_680_000;
const T2021_07_07: i64 = 1_625_659_200;
const T2019_01_01: i64 = 1_546_344_000;
const T2019_02_02: i64 = 1_549_108_800;
const T2010_01_01: i64 = 1_262_347_200;
const T2010_02_02: i64 = 1_265_112_000;
const T2011_01_01: i64 = 1_293_883_200;
const T2024_03_03: i64 = 1_709_467_200;

/// A sidecar as Google writes it, with a description.
fn meta(title: &str, taken: i64, geo: Option<(f64, f64, f64)>, description: &str) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&sidecar(title, taken, geo)).unwrap();
    v["description"] = description.into();
    serde_json::to_vec_pretty(&v).unwrap()
}

/// What one photo must carry after every way of running.
struct Want {
    /// The photo, as failure messages name it.
    label: &'static str,
    /// What its bytes carry (a JPEG comment, an ISO-BMFF `free` box): how it is found.
    tag: &'static str,
    /// EXIF DateTimeOriginal; for a video, QuickTime CreateDate in UTC (read by exiftool).
    date: &'static str,
    /// Signed degrees (not checked for a video).
    gps: Option<(f64, f64)>,
    /// EXIF ImageDescription (not checked for a video).
    caption: Option<&'static str>,
    video: bool,
}

impl Want {
    fn still(
        label: &'static str,
        tag: &'static str,
        date: &'static str,
        gps: Option<(f64, f64, f64)>,
        caption: Option<&'static str>,
    ) -> Want {
        Want {
            label,
            tag,
            date,
            gps: gps.map(|(lat, lon, _)| (lat, lon)),
            caption,
            video: false,
        }
    }
}

/// What a photo carries in a library.
struct Seen {
    path: String,
    date: Option<String>,
    gps: Option<(f64, f64)>,
    caption: Option<String>,
}

fn gps_eq(a: Option<(f64, f64)>, b: Option<(f64, f64)>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => (a.0 - b.0).abs() < 1e-4 && (a.1 - b.1).abs() < 1e-4,
        _ => false,
    }
}

fn show_gps(g: Option<(f64, f64)>) -> String {
    g.map_or("none".into(), |(a, b)| format!("({a:.4}, {b:.4})"))
}

fn show(s: &Option<String>) -> String {
    s.as_ref().map_or("none".into(), |s| format!("{s:?}"))
}

impl Seen {
    fn same(&self, o: &Seen) -> bool {
        self.date == o.date && gps_eq(self.gps, o.gps) && self.caption == o.caption
    }

    fn show(&self) -> String {
        format!(
            "date {}, GPS {}, caption {}",
            show(&self.date),
            show_gps(self.gps),
            show(&self.caption)
        )
    }
}

/// The library's media files (not its XMP sidecars).
fn media_of(root: &Path) -> Vec<String> {
    files_of(root)
        .into_keys()
        .filter(|p| !p.to_ascii_lowercase().ends_with(".xmp"))
        .collect()
}

/// The photo of `w` in the library `root`: the one file whose bytes carry its tag.
fn find(root: &Path, files: &BTreeMap<String, Vec<u8>>, w: &Want) -> Result<Seen, String> {
    let tag = w.tag.as_bytes();
    let hits: Vec<&String> = files
        .iter()
        .filter(|(_, b)| b.windows(tag.len()).any(|x| x == tag))
        .map(|(p, _)| p)
        .collect();
    let path = match hits[..] {
        [p] => p.clone(),
        [] => {
            return Err(format!(
                "not in the library (files: {:?})",
                files.keys().collect::<Vec<_>>()
            ))
        }
        _ => return Err(format!("{} copies in the library: {hits:?}", hits.len())),
    };
    let full = root.join(&path);
    if w.video {
        let j = exiftool(&full, &["-api", "QuickTimeUTC"]);
        return Ok(Seen {
            path,
            date: j["CreateDate"].as_str().map(str::to_string),
            gps: None,
            caption: None,
        });
    }
    let bytes = &files[&path];
    let Ok(e) = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(bytes)) else {
        return Ok(Seen {
            path,
            date: None,
            gps: None,
            caption: None,
        });
    };
    let lat = exif_coord(&e, exif::Tag::GPSLatitude, exif::Tag::GPSLatitudeRef);
    let lon = exif_coord(&e, exif::Tag::GPSLongitude, exif::Tag::GPSLongitudeRef);
    Ok(Seen {
        path,
        date: exif_ascii(&e, exif::Tag::DateTimeOriginal),
        gps: lat.zip(lon),
        caption: exif_ascii(&e, exif::Tag::ImageDescription),
    })
}

/// Checks every photo of `wants` in the library `out`, which the runs `say` made: it must
/// carry the expected values, and those of the same photo in the one-run library `one` (when
/// `out` is not that one). Every wrong value goes to `problems`, naming the photo.
fn check(say: &str, out: &Path, wants: &[Want], one: Option<&Path>, problems: &mut Vec<String>) {
    let files = files_of(out);
    let one_files = one.map(|o| (o, files_of(o)));
    for w in wants {
        if w.video && !have_exiftool() {
            eprintln!(
                "note: exiftool is absent; {say}: the date of {} not checked",
                w.label
            );
            continue;
        }
        let got = match find(out, &files, w) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{say}: {}: {e}", w.label));
                continue;
            }
        };
        let mut wrong = Vec::new();
        if got.date.as_deref() != Some(w.date) {
            wrong.push(format!("date {} (want {:?})", show(&got.date), w.date));
        }
        if !w.video && !gps_eq(got.gps, w.gps) {
            wrong.push(format!(
                "GPS {} (want {})",
                show_gps(got.gps),
                show_gps(w.gps)
            ));
        }
        if !w.video && got.caption.as_deref() != w.caption {
            wrong.push(format!(
                "caption {} (want {})",
                show(&got.caption),
                show(&w.caption.map(str::to_string))
            ));
        }
        if let Some((root, files)) = &one_files {
            match find(root, files, w) {
                Ok(o) if !o.same(&got) => wrong.push(format!(
                    "one run over everything gave it {} ({})",
                    o.show(),
                    o.path
                )),
                _ => {}
            }
        }
        if !wrong.is_empty() {
            problems.push(format!(
                "{say}: {} ({}): {}",
                w.label,
                got.path,
                wrong.join("; ")
            ));
        }
    }
}

/// `[1] then [1, 2]`: the runs, each a list of indices into `names`.
fn describe(runs: &[&[usize]], names: &[&str]) -> String {
    runs.iter()
        .map(|r| {
            format!(
                "[{}]",
                r.iter().map(|&i| names[i]).collect::<Vec<_>>().join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join(" then ")
}

fn verify(out: &Path, against: &[PathBuf]) -> Output {
    let mut args: Vec<&std::ffi::OsStr> = vec!["verify".as_ref(), out.as_os_str()];
    if !against.is_empty() {
        args.push("--against".as_ref());
        args.extend(against.iter().map(|p| p.as_os_str()));
    }
    gpbackup(&args)
}

/// Runs `runs` over `inputs` into `out`, each to exit 0; a failing `verify` after a run goes
/// to `problems`. Returns each run's output.
fn run(
    inputs: &[PathBuf],
    runs: &[&[usize]],
    names: &[&str],
    out: &Path,
    problems: &mut Vec<String>,
) -> Vec<Output> {
    let say = describe(runs, names);
    let mut outputs = Vec::new();
    for r in runs {
        let given: Vec<PathBuf> = r.iter().map(|&i| inputs[i].clone()).collect();
        let (o, _) = process(&given, out, &[]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{say}: run {}: {}",
            describe(&[r], names),
            stderr(&o)
        );
        let v = verify(out, &[]);
        if !v.status.success() {
            problems.push(format!(
                "{say}: verify after run {} fails: {}",
                describe(&[r], names),
                stderr(&v).trim()
            ));
        }
        outputs.push(o);
    }
    outputs
}

/// Runs one run over every input and each of `orders` into fresh folders under `dir`, and
/// checks every library against `wants`; panics with every problem found.
fn converge(
    dir: &Path,
    inputs: &[PathBuf],
    names: &[&str],
    orders: &[&[&[usize]]],
    wants: &[Want],
) {
    let mut problems = Vec::new();
    let all: Vec<usize> = (0..inputs.len()).collect();
    let one = dir.join("one");
    let one_order: &[&[usize]] = &[&all];
    run(inputs, one_order, names, &one, &mut problems);
    check(
        &format!("one run {}", describe(one_order, names)),
        &one,
        wants,
        None,
        &mut problems,
    );
    for (k, order) in orders.iter().enumerate() {
        let out = dir.join(format!("split-{k}"));
        run(inputs, order, names, &out, &mut problems);
        check(
            &format!("runs {}", describe(order, names)),
            &out,
            wants,
            Some(&one),
            &mut problems,
        );
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

/// Two photos named IMG_0001.JPG, of 2015 and of 2018, each with the other's sidecar in its
/// part (part 1: the 2015 photo; part 2: the 2018 photo); and what each must carry.
fn same_names_in_two_years(dir: &Path) -> (Vec<PathBuf>, [Want; 2]) {
    let (y15, y18) = (
        format!("{GP}/Photos from 2015"),
        format!("{GP}/Photos from 2018"),
    );
    let mut t = Takeout::new(2);
    t.add(0, format!("{y15}/IMG_0001.JPG"), photo("<photo-of-2015>"))
        .add(
            0,
            format!("{y18}/IMG_0001.JPG.json"),
            meta(
                "IMG_0001.JPG",
                T2018_03_03,
                Some(MARSEILLE),
                "twenty-eighteen",
            ),
        )
        .add(1, format!("{y18}/IMG_0001.JPG"), photo("<photo-of-2018>"))
        .add(
            1,
            format!("{y15}/IMG_0001.JPG.json"),
            meta("IMG_0001.JPG", T2015_06_01, Some(PARIS), "twenty-fifteen"),
        );
    let parts = t.write(&dir.join("in"));
    let wants = [
        Want::still(
            "Photos from 2015/IMG_0001.JPG",
            "<photo-of-2015>",
            "2015:06:01 14:00:00",
            Some(PARIS),
            Some("twenty-fifteen"),
        ),
        Want::still(
            "Photos from 2018/IMG_0001.JPG",
            "<photo-of-2018>",
            "2018:03:03 13:00:00",
            Some(MARSEILLE),
            Some("twenty-eighteen"),
        ),
    ];
    (parts, wants)
}

#[test]
fn two_photos_named_alike_in_two_year_folders_keep_their_own_sidecars_in_split_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (parts, wants) = same_names_in_two_years(tmp.path());
    converge(
        tmp.path(),
        &parts,
        &["1", "2"],
        &[&[&[0], &[0, 1]], &[&[0], &[1]], &[&[1], &[0]]],
        &wants,
    );
}

#[test]
fn a_photo_renamed_in_google_photos_and_another_of_its_new_name_keep_their_own_sidecars() {
    // IMG_5678.jpg was renamed "Birthday.jpg" in Google Photos (its sidecar's title); another
    // photo really is Birthday.jpg. A title match must not give either the other's sidecar.
    let tmp = tempfile::tempdir().unwrap();
    let (y20, y21) = (
        format!("{GP}/Photos from 2020"),
        format!("{GP}/Photos from 2021"),
    );
    let mut t = Takeout::new(2);
    t.add(0, format!("{y21}/Birthday.jpg"), photo("<real-birthday>"))
        .add(
            0,
            format!("{y20}/IMG_5678.jpg.json"),
            meta("Birthday.jpg", T2020_05_05, Some(PARIS), "renamed"),
        )
        .add(
            1,
            format!("{y20}/IMG_5678.jpg"),
            photo("<renamed-img-5678>"),
        )
        .add(
            1,
            format!("{y21}/Birthday.jpg.json"),
            meta(
                "Birthday.jpg",
                T2021_07_07,
                Some(MARSEILLE),
                "real birthday",
            ),
        );
    let parts = t.write(&tmp.path().join("in"));
    let wants = [
        Want::still(
            "Photos from 2020/IMG_5678.jpg (titled Birthday.jpg)",
            "<renamed-img-5678>",
            "2020:05:05 14:00:00",
            Some(PARIS),
            Some("renamed"),
        ),
        Want::still(
            "Photos from 2021/Birthday.jpg",
            "<real-birthday>",
            "2021:07:07 14:00:00",
            Some(MARSEILLE),
            Some("real birthday"),
        ),
    ];
    converge(
        tmp.path(),
        &parts,
        &["1", "2"],
        &[&[&[0], &[0, 1]], &[&[0], &[1]], &[&[1], &[0]]],
        &wants,
    );
}

#[test]
fn a_live_photo_video_takes_its_own_sidecar_when_it_comes_in_a_later_part() {
    // The video first takes the still's sidecar (the Live Photo rule); its own sidecar, in a
    // later part, must then date it as one run does.
    let tmp = tempfile::tempdir().unwrap();
    let y19 = format!("{GP}/Photos from 2019");
    let mut t = Takeout::new(2);
    t.add(0, format!("{y19}/IMG_0100.JPG"), photo("<live-still>"))
        .add(
            0,
            format!("{y19}/IMG_0100.JPG.json"),
            meta("IMG_0100.JPG", T2019_01_01, None, "the still's"),
        )
        .add(
            0,
            format!("{y19}/IMG_0100.MOV"),
            isobmff_variant(&fixture("live.mov"), "<live-video>"),
        )
        .add(
            1,
            format!("{y19}/IMG_0100.MOV.json"),
            meta("IMG_0100.MOV", T2019_02_02, None, "the video's own"),
        );
    let parts = t.write(&tmp.path().join("in"));
    let wants = [
        Want::still(
            "Photos from 2019/IMG_0100.JPG (the still)",
            "<live-still>",
            "2019:01:01 13:00:00",
            None,
            Some("the still's"),
        ),
        Want {
            label: "Photos from 2019/IMG_0100.MOV (the video, with its own sidecar)",
            tag: "<live-video>",
            date: "2019:02:02 12:00:00+00:00",
            gps: None,
            caption: None,
            video: true,
        },
    ];
    converge(
        tmp.path(),
        &parts,
        &["1", "2"],
        &[&[&[0], &[1]], &[&[0], &[0, 1]]],
        &wants,
    );
}

/// Export A (2024-01-01) and export B (2024-07-01, p1's sidecar corrected, p3 new), each one
/// part, written into `dir`.
fn two_exports(dir: &Path) -> Vec<PathBuf> {
    let (y10, y11, y24) = (
        format!("{GP}/Photos from 2010"),
        format!("{GP}/Photos from 2011"),
        format!("{GP}/Photos from 2024"),
    );
    let p1 = (format!("{y10}/IMG_1001.jpg"), photo("<p1>"));
    let p2 = (format!("{y11}/IMG_1002.jpg"), photo("<p2>"));
    let p2_json = (
        format!("{y11}/IMG_1002.jpg.json"),
        meta("IMG_1002.jpg", T2011_01_01, None, ""),
    );
    let a = export(
        dir,
        "20240101T000000Z",
        &[
            p1.clone(),
            (
                format!("{y10}/IMG_1001.jpg.json"),
                meta("IMG_1001.jpg", T2010_01_01, None, "old caption"),
            ),
            p2.clone(),
            p2_json.clone(),
        ],
    );
    let b = export(
        dir,
        "20240701T000000Z",
        &[
            p1,
            (
                format!("{y10}/IMG_1001.jpg.json"),
                meta("IMG_1001.jpg", T2010_02_02, None, "new caption"),
            ),
            p2,
            p2_json,
            (format!("{y24}/IMG_1003.jpg"), photo("<p3>")),
            (
                format!("{y24}/IMG_1003.jpg.json"),
                meta("IMG_1003.jpg", T2024_03_03, None, ""),
            ),
        ],
    );
    vec![a, b]
}

#[test]
fn a_newer_export_corrects_a_photo_whatever_the_order_of_the_exports() {
    let tmp = tempfile::tempdir().unwrap();
    newer_export_corrects(two_exports(&tmp.path().join("in")), tmp.path());
}

/// The same when the newer export was asked for as `.tgz` and the older one as `.zip`.
#[test]
fn a_newer_export_as_tgz_corrects_a_photo_of_an_export_as_zip() {
    let tmp = tempfile::tempdir().unwrap();
    let mut exports = two_exports(&tmp.path().join("in"));
    let tgz = exports[1].with_extension("tgz");
    std::fs::write(&tgz, gzip(&tar_bytes(&unzip(&exports[1])))).unwrap();
    std::fs::remove_file(&exports[1]).unwrap();
    exports[1] = tgz;
    newer_export_corrects(exports, tmp.path());
}

fn newer_export_corrects(exports: Vec<PathBuf>, tmp: &Path) {
    let names = ["A (2024-01-01)", "B (2024-07-01)"];
    let wants = [
        Want::still(
            "p1 IMG_1001.jpg (corrected in B)",
            "<p1>",
            "2010:02:02 13:00:00",
            None,
            Some("new caption"),
        ),
        Want::still("p2 IMG_1002.jpg", "<p2>", "2011:01:01 13:00:00", None, None),
        Want::still(
            "p3 IMG_1003.jpg (only in B)",
            "<p3>",
            "2024:03:03 13:00:00",
            None,
            None,
        ),
    ];
    let mut problems = Vec::new();
    let orders: [&[&[usize]]; 4] = [&[&[0], &[1]], &[&[1], &[0]], &[&[0, 1]], &[&[1, 0]]];
    for (k, order) in orders.into_iter().enumerate() {
        let say = format!("runs {}", describe(order, &names));
        let out = tmp.join(format!("out-{k}"));
        let outputs = run(&exports, order, &names, &out, &mut problems);
        check(&say, &out, &wants, None, &mut problems);
        let media = media_of(&out);
        if media.len() != 3 {
            problems.push(format!(
                "{say}: {} photo files in the library, want 3: {media:?}",
                media.len()
            ));
        }
        let v = verify(&out, &exports);
        if !v.status.success() {
            problems.push(format!(
                "{say}: verify --against A B fails: {}",
                stderr(&v).trim()
            ));
        }
        if k == 0 {
            // The second run's summary tells of the correction it made to p1.
            let o = &outputs[1];
            let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(o));
            if !text.contains("IMG_1001") {
                problems.push(format!(
                    "{say}: the summary of run B does not name IMG_1001.jpg, corrected by B:\n{}",
                    text.trim()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn a_photo_trashed_only_in_the_newer_export_is_left_out_in_any_order_and_kept_once_in_the_library()
{
    let tmp = tempfile::tempdir().unwrap();
    let y19 = format!("{GP}/Photos from 2019");
    let p1 = (format!("{y19}/IMG_2001.jpg"), photo("<t1>"));
    let p2 = (format!("{y19}/IMG_2002.jpg"), photo("<t2>"));
    let p2_json = (
        format!("{y19}/IMG_2002.jpg.json"),
        meta("IMG_2002.jpg", T2019_02_02, None, ""),
    );
    let p1_json = meta("IMG_2001.jpg", T2019_01_01, None, "");
    let mut trashed: serde_json::Value = serde_json::from_slice(&p1_json).unwrap();
    trashed["trashed"] = true.into();
    let dir = tmp.path().join("in");
    let a = export(
        &dir,
        "20240101T000000Z",
        &[
            p1.clone(),
            (format!("{y19}/IMG_2001.jpg.json"), p1_json),
            p2.clone(),
            p2_json.clone(),
        ],
    );
    let b = export(
        &dir,
        "20240701T000000Z",
        &[
            p1,
            (
                format!("{y19}/IMG_2001.jpg.json"),
                serde_json::to_vec_pretty(&trashed).unwrap(),
            ),
            p2,
            p2_json,
        ],
    );
    let exports = [a, b];
    let names = ["A (2024-01-01)", "B (2024-07-01, IMG_2001.jpg trashed)"];
    let mut problems = Vec::new();
    let want_order: &[&[usize]] = &[&[0, 1]];
    let want_out = tmp.path().join("a-b");
    run(&exports, want_order, &names, &want_out, &mut problems);
    let want = files_of(&want_out);
    let want_say = format!("one run {}", describe(want_order, &names));
    // One run, in either order: the newer export's trash wins.
    let say = format!("one run {}", describe(&[&[1, 0]], &names));
    let out = tmp.path().join("b-a");
    run(&exports, &[&[1, 0]], &names, &out, &mut problems);
    let got = files_of(&out);
    if got != want {
        problems.push(format!(
            "{say}: library {:?}, but {want_say} gives {:?}",
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>()
        ));
    }
    if want.contains_key("2019/IMG_2001.jpg") || want.len() != 1 {
        problems.push(format!(
            "{want_say}: the trashed photo is written: {:?}",
            want.keys()
        ));
    }
    // A photo already in the library is never deleted: a run of the newer export keeps it
    // as it was, and its summary names it.
    let out = tmp.path().join("a-then-b");
    let outputs = run(&exports, &[&[0], &[1]], &names, &out, &mut problems);
    let after_a = tmp.path().join("a-only");
    run(&exports, &[&[0]], &names, &after_a, &mut problems);
    if files_of(&out) != files_of(&after_a) {
        problems.push(format!(
            "runs A then B: library {:?}, want it as after A: {:?}",
            files_of(&out).keys().collect::<Vec<_>>(),
            files_of(&after_a).keys().collect::<Vec<_>>()
        ));
    }
    let summary = stderr(&outputs[1]);
    if !summary.contains("in Google Photos' trash, but in the library from an earlier run: kept")
        || !summary.contains("IMG_2001.jpg")
    {
        problems.push(format!(
            "runs A then B: the summary of B does not name the trashed photo:\n{summary}"
        ));
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn a_photo_whose_part_is_gone_is_named_and_corrected_when_the_part_comes_again() {
    // Run 1 pairs the 2015 photo with the 2018 photo's sidecar (the only one of its title).
    // Part 1 is then moved away (deleted from Downloads): run 2 finds the photos' own
    // sidecars but cannot read the 2015 photo again; it names it and marks it. Given part 1
    // again from its new place, a third run corrects it.
    let tmp = tempfile::tempdir().unwrap();
    let (parts, wants) = same_names_in_two_years(tmp.path());
    let mut problems = Vec::new();
    let one = tmp.path().join("one");
    run(&parts, &[&[0, 1]], &["1", "2"], &one, &mut problems);
    let out = tmp.path().join("out");
    run(&parts, &[&[0]], &["1", "2"], &out, &mut problems);
    let moved = tmp
        .path()
        .join("elsewhere")
        .join(parts[0].file_name().unwrap());
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&parts[0], &moved).unwrap();
    let outputs = run(&parts, &[&[1]], &["1", "2"], &out, &mut problems);
    let summary = stderr(&outputs[0]);
    assert!(
        summary.contains("not corrected yet: 2018/IMG_0001.JPG")
            || summary.contains("not corrected yet: IMG_0001.JPG"),
        "run 2 does not name the photo it could not correct:\n{summary}"
    );
    let manifest = std::fs::read_to_string(out.join(".gpbackup/manifest.jsonl")).unwrap();
    assert!(manifest.contains("\"stale\":true"), "{manifest}");
    // A run of part 2 alone again still cannot: it says so again, and changes nothing.
    let before = files_of(&out);
    let outputs = run(&parts, &[&[1]], &["1", "2"], &out, &mut problems);
    assert!(
        stderr(&outputs[0]).contains("not corrected yet"),
        "{}",
        stderr(&outputs[0])
    );
    assert_eq!(files_of(&out), before);
    // Part 1 from where it is now: corrected, and the library is one run's.
    let (o, _) = process(&[moved], &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("corrected 1 library file"),
        "{}",
        stderr(&o)
    );
    check(
        "runs 1, 2 (part 1 gone), 2, 1 (moved)",
        &out,
        &wants,
        Some(&one),
        &mut problems,
    );
    assert_eq!(files_of(&out), files_of(&one));
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn an_album_titled_unlike_its_folder_is_one_album_whatever_part_brings_its_metadata() {
    // The folder `Rome_ day 1` holds the album "Rome: day 1" (a colon is not allowed in a zip
    // name); its metadata.json is in part 2. Run 1 knows the folder only by its name.
    let tmp = tempfile::tempdir().unwrap();
    let rome = format!("{GP}/Rome_ day 1");
    let y18 = format!("{GP}/Photos from 2018");
    let mut t = Takeout::new(2);
    t.add(0, format!("{rome}/IMG_1.jpg"), photo("<rome>"))
        .add(
            0,
            format!("{rome}/IMG_1.jpg.json"),
            meta("IMG_1.jpg", T2018_03_03, None, ""),
        )
        .add(0, format!("{y18}/IMG_1.jpg"), photo("<rome>"))
        .add(
            1,
            format!("{rome}/metadata.json"),
            br#"{"title": "Rome: day 1", "description": "the first day"}"#.to_vec(),
        )
        .add(
            1,
            format!("{y18}/IMG_1.jpg.json"),
            meta("IMG_1.jpg", T2018_03_03, None, ""),
        );
    let parts = t.write(&tmp.path().join("in"));
    let albums = |out: &Path| -> serde_json::Value {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("albums.json")).unwrap()).unwrap();
        v["albums"].clone()
    };
    let mut problems = Vec::new();
    let one = tmp.path().join("one");
    run(&parts, &[&[0, 1]], &["1", "2"], &one, &mut problems);
    let want = albums(&one);
    assert_eq!(want.as_array().unwrap().len(), 1, "{want}");
    assert_eq!(want[0]["title"], "Rome: day 1", "{want}");
    for (k, order) in [&[&[0usize][..], &[1]][..], &[&[1], &[0]], &[&[0], &[0, 1]]]
        .into_iter()
        .enumerate()
    {
        let out = tmp.path().join(format!("split-{k}"));
        run(&parts, order, &["1", "2"], &out, &mut problems);
        let got = albums(&out);
        if got != want {
            problems.push(format!("runs {order:?}: albums {got}, one run: {want}"));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn a_newer_exports_sidecar_titled_like_a_photo_of_its_folder_leaves_that_photo_its_own() {
    // Export A: IMG_3001.jpg and its sidecar. The first part of a newer export B holds only
    // the sidecar of IMG_3002.jpg, renamed "IMG_3001.jpg" in Google Photos (its photo is in a
    // part not given). The folder's JSON files are all read before matching, so that
    // IMG_3001.jpg keeps its own sidecar rather than take the other by its title.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    let y10 = format!("{GP}/Photos from 2010");
    let a = export(
        &dir,
        "20240101T000000Z",
        &[
            (format!("{y10}/IMG_3001.jpg"), photo("<p3001>")),
            (
                format!("{y10}/IMG_3001.jpg.json"),
                meta("IMG_3001.jpg", T2010_01_01, None, "its own"),
            ),
        ],
    );
    let b = export(
        &dir,
        "20240701T000000Z",
        &[(
            format!("{y10}/IMG_3002.jpg.json"),
            meta(
                "IMG_3001.jpg",
                T2010_02_02,
                Some(PARIS),
                "the renamed one's",
            ),
        )],
    );
    let wants = [Want::still(
        "IMG_3001.jpg (export A)",
        "<p3001>",
        "2010:01:01 13:00:00",
        None,
        Some("its own"),
    )];
    converge(
        tmp.path(),
        &[a, b],
        &["A (2024-01-01)", "B part 1 (2024-07-01)"],
        &[&[&[0], &[0, 1]], &[&[0], &[1]]],
        &wants,
    );
}

#[test]
fn a_photo_to_correct_is_read_from_whichever_earlier_part_holds_it() {
    read_from_an_earlier_part(&[Packing::Zip; 3]);
}

/// The same with `.tgz` parts: the earlier part is read again whole.
#[test]
fn a_photo_to_correct_is_read_from_an_earlier_tgz_part() {
    read_from_an_earlier_part(&[Packing::Tgz, Packing::Zip, Packing::Tgz]);
}

fn read_from_an_earlier_part(packing: &[Packing]) {
    // Run 1 was given parts 1 and 3; the 2015 photo (with the 2018 photo's sidecar) is in part
    // 3. Run 2, given part 2 alone, corrects it by reading part 3 (part 1 has nothing of it).
    let tmp = tempfile::tempdir().unwrap();
    let (y15, y18) = (
        format!("{GP}/Photos from 2015"),
        format!("{GP}/Photos from 2018"),
    );
    let mut t = Takeout::new(3);
    t.add(
        0,
        format!("{GP}/Photos from 2010/IMG_9.jpg"),
        photo("<other>"),
    )
    .add(2, format!("{y15}/IMG_0001.JPG"), photo("<photo-of-2015>"))
    .add(
        2,
        format!("{y18}/IMG_0001.JPG.json"),
        meta(
            "IMG_0001.JPG",
            T2018_03_03,
            Some(MARSEILLE),
            "twenty-eighteen",
        ),
    )
    .add(1, format!("{y18}/IMG_0001.JPG"), photo("<photo-of-2018>"))
    .add(
        1,
        format!("{y15}/IMG_0001.JPG.json"),
        meta("IMG_0001.JPG", T2015_06_01, Some(PARIS), "twenty-fifteen"),
    );
    let parts = t.write_as(&tmp.path().join("in"), packing);
    let mut problems = Vec::new();
    let one = tmp.path().join("one");
    run(&parts, &[&[0, 1, 2]], &["1", "2", "3"], &one, &mut problems);
    let out = tmp.path().join("out");
    let outputs = run(
        &parts,
        &[&[0, 2], &[1]],
        &["1", "2", "3"],
        &out,
        &mut problems,
    );
    let summary = stderr(&outputs[1]);
    assert!(summary.contains("corrected 1 library file"), "{summary}");
    // The same files, byte for byte (their names may differ in their (n) counter).
    let contents = |root: &Path| -> std::collections::BTreeSet<Vec<u8>> {
        files_of(root).into_values().collect()
    };
    assert!(contents(&out) == contents(&one), "the libraries differ");
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
    let staging = out.join(".gpbackup/staging");
    assert!(
        std::fs::read_dir(&staging).map_or(true, |d| d.count() == 0),
        "the earlier part's bytes are not left behind"
    );
}

#[test]
fn process_names_a_library_file_changed_since_it_was_written_as_verify_does() {
    let tmp = tempfile::tempdir().unwrap();
    let (parts, _) = same_names_in_two_years(tmp.path());
    let out = tmp.path().join("out");
    let mut problems = Vec::new();
    run(&parts, &[&[0, 1]], &["1", "2"], &out, &mut problems);
    // Another program re-saves one photo (longer).
    let edited = out.join("IMG_0001.JPG");
    let mut bytes = std::fs::read(&edited).unwrap();
    bytes.extend_from_slice(b"an editor's trailer");
    std::fs::write(&edited, &bytes).unwrap();
    let (o, _) = process(&parts, &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let summary = stderr(&o);
    assert!(
        summary
            .contains("changed since gpbackup wrote it, left as it is (yours now): IMG_0001.JPG"),
        "{summary}"
    );
    assert_eq!(
        std::fs::read(&edited).unwrap(),
        bytes,
        "left as the user made it"
    );
    let v = gpbackup(&["verify".as_ref(), out.as_os_str()]);
    assert!(stderr(&v).contains("IMG_0001.JPG"), "{}", stderr(&v));
    // Unchanged files are not named.
    let clean = tmp.path().join("clean");
    run(&parts, &[&[0, 1]], &["1", "2"], &clean, &mut problems);
    let (o, _) = process(&parts, &clean, &[]);
    assert!(!stderr(&o).contains("changed since"), "{}", stderr(&o));
    assert!(problems.is_empty(), "{problems:?}");
}
