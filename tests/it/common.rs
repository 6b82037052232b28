//! Test helpers: build Takeout-shaped zips from the real media in `fixtures/media/`, run the
//! real `gpbackup` binary, and read results back with independent readers.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

pub const YEAR: &str = "Takeout/Google Photos/Photos from 2019";

pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/media")
        .join(name)
}

pub fn fixture(name: &str) -> Vec<u8> {
    let p = fixture_path(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A distinct but valid JPEG: `base` with a comment segment carrying `tag` after SOI.
pub fn jpeg_variant(base: &[u8], tag: &str) -> Vec<u8> {
    assert_eq!(&base[..2], &[0xFF, 0xD8]);
    let mut out = vec![0xFF, 0xD8];
    // JFIF APP0 stays first when present.
    let mut rest = &base[2..];
    if rest.starts_with(&[0xFF, 0xE0]) {
        let len = u16::from_be_bytes([rest[2], rest[3]]) as usize + 2;
        out.extend_from_slice(&rest[..len]);
        rest = &rest[len..];
    }
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&((tag.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(tag.as_bytes());
    out.extend_from_slice(rest);
    out
}

/// A distinct but valid ISO-BMFF file (HEIC, MP4, MOV): `base` with a `free` box carrying
/// `tag` appended.
pub fn isobmff_variant(base: &[u8], tag: &str) -> Vec<u8> {
    let mut out = base.to_vec();
    out.extend_from_slice(&((tag.len() + 8) as u32).to_be_bytes());
    out.extend_from_slice(b"free");
    out.extend_from_slice(tag.as_bytes());
    out
}

/// A media sidecar as Google writes it.
pub fn sidecar(title: &str, taken: i64, geo: Option<(f64, f64, f64)>) -> Vec<u8> {
    let (lat, lon, alt) = geo.unwrap_or((0.0, 0.0, 0.0));
    serde_json::to_vec_pretty(&serde_json::json!({
        "title": title,
        "description": "",
        "imageViews": "3",
        "creationTime": { "timestamp": (taken + 3600).to_string(), "formatted": "x" },
        "photoTakenTime": { "timestamp": taken.to_string(), "formatted": "x" },
        "geoData": { "latitude": lat, "longitude": lon, "altitude": alt,
                     "latitudeSpan": 0.0, "longitudeSpan": 0.0 },
        "geoDataExif": { "latitude": lat, "longitude": lon, "altitude": alt,
                         "latitudeSpan": 0.0, "longitudeSpan": 0.0 },
        "url": "https://photos.google.com/photo/x",
        "googlePhotosOrigin": { "mobileUpload": { "deviceType": "ANDROID_PHONE" } }
    }))
    .unwrap()
}

/// An album's metadata.json.
pub fn album_json(title: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "title": title, "description": "", "access": "protected",
        "date": { "timestamp": "1562253012", "formatted": "x" }
    }))
    .unwrap()
}

/// The parts of a Takeout export: each a list of (path in zip, bytes).
#[derive(Default)]
pub struct Takeout {
    pub parts: Vec<Vec<(String, Vec<u8>)>>,
}

impl Takeout {
    pub fn new(parts: usize) -> Self {
        Takeout {
            parts: (0..parts).map(|_| Vec::new()).collect(),
        }
    }

    pub fn add(
        &mut self,
        part: usize,
        path: impl Into<String>,
        bytes: impl Into<Vec<u8>>,
    ) -> &mut Self {
        self.parts[part].push((path.into(), bytes.into()));
        self
    }

    /// Part `part` extracted into the folder `root`, as a user unpacks a zip; the folder to
    /// give gpbackup (`root/Takeout`).
    pub fn extract(&self, part: usize, root: &Path) -> PathBuf {
        for (path, bytes) in &self.parts[part] {
            let p = root.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
        root.join("Takeout")
    }

    /// Writes `takeout-20231030T151007Z-00N.zip` files into `dir`.
    pub fn write(&self, dir: &Path) -> Vec<PathBuf> {
        std::fs::create_dir_all(dir).unwrap();
        self.parts
            .iter()
            .enumerate()
            .map(|(i, files)| {
                let path = dir.join(format!("takeout-20231030T151007Z-{:03}.zip", i + 1));
                std::fs::write(&path, zip_bytes(files)).unwrap();
                path
            })
            .collect()
    }
}

/// How a part of a Takeout is packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    Zip,
    Tgz,
    Tar,
}

impl Takeout {
    /// Writes part N as `takeout-20231030T151007Z-00N` packed as `packing[N]` says.
    pub fn write_as(&self, dir: &Path, packing: &[Packing]) -> Vec<PathBuf> {
        std::fs::create_dir_all(dir).unwrap();
        (self.parts.iter().zip(packing).enumerate())
            .map(|(i, (files, how))| {
                let stem = dir.join(format!("takeout-20231030T151007Z-{:03}", i + 1));
                let (ext, bytes) = match how {
                    Packing::Zip => ("zip", zip_bytes(files)),
                    Packing::Tgz => ("tgz", gzip(&tar_bytes(files))),
                    Packing::Tar => ("tar", tar_bytes(files)),
                };
                let path = stem.with_extension(ext);
                std::fs::write(&path, bytes).unwrap();
                path
            })
            .collect()
    }
}

/// A tar of `files` as GNU tar writes it (long names in extra headers).
pub fn tar_bytes(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_698_678_607);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, bytes.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The entries of the zip at `path`, in its order: (path, bytes).
pub fn unzip(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..z.len())
        .filter_map(|i| {
            let mut f = z.by_index(i).unwrap();
            if f.is_dir() {
                return None;
            }
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut bytes).unwrap();
            Some((f.name().unwrap().to_string(), bytes))
        })
        .collect()
}

pub fn zip_bytes(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    zip_bytes_with(files, false)
}

/// A zip of `files`; with `zip64`, every entry carries zip64 extra fields (as Takeout parts
/// over 4 GB do).
pub fn zip_bytes_with(files: &[(String, Vec<u8>)], zip64: bool) -> Vec<u8> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    if zip64 {
        // Forces the zip64 end-of-central-directory record and locator.
        w.set_raw_zip64_extensible_data_sector(Box::new([]));
    }
    let opts = SimpleFileOptions::default()
        .large_file(zip64)
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::from_date_and_time(2023, 10, 30, 15, 10, 7).unwrap());
    for (name, bytes) in files {
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

pub fn gpbackup(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gpbackup"))
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("run gpbackup")
}

/// Runs `gpbackup process INPUTS -o OUT --timezone Europe/Paris --report OUT.report.json`
/// (unless `extra` gives another `--timezone`) with TZ=UTC, and returns (output, report).
pub fn process(inputs: &[PathBuf], out: &Path, extra: &[&str]) -> (Output, serde_json::Value) {
    let report = out.with_extension("report.json");
    let mut args: Vec<&std::ffi::OsStr> = vec!["process".as_ref()];
    args.extend(inputs.iter().map(|p| p.as_os_str()));
    args.extend(["-o".as_ref(), out.as_os_str()]);
    if !extra.contains(&"--timezone") {
        args.extend(["--timezone", "Europe/Paris"].map(std::ffi::OsStr::new));
    }
    args.extend(["--report".as_ref(), report.as_os_str()]);
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let output = gpbackup(&args);
    let report = std::fs::read(&report)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    (output, report)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Names of the files in `dir` (not folders, not `albums.json`), sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file() && e.file_name() != "albums.json")
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

pub fn mtime(p: &Path) -> i64 {
    filetime::FileTime::from_last_modification_time(&std::fs::metadata(p).unwrap()).unix_seconds()
}

/// EXIF read back with kamadak-exif.
pub fn exif_of(p: &Path) -> exif::Exif {
    let bytes = std::fs::read(p).unwrap();
    exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .unwrap_or_else(|e| panic!("{}: no EXIF: {e}", p.display()))
}

pub fn exif_ascii(e: &exif::Exif, tag: exif::Tag) -> Option<String> {
    match &e.get_field(tag, exif::In::PRIMARY)?.value {
        exif::Value::Ascii(v) => v.first().map(|b| String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// A GPS coordinate in signed degrees.
pub fn exif_coord(e: &exif::Exif, tag: exif::Tag, ref_tag: exif::Tag) -> Option<f64> {
    let exif::Value::Rational(r) = &e.get_field(tag, exif::In::PRIMARY)?.value else {
        return None;
    };
    let deg = r[0].to_f64() + r[1].to_f64() / 60.0 + r[2].to_f64() / 3600.0;
    let neg = matches!(exif_ascii(e, ref_tag).as_deref(), Some("S") | Some("W"));
    Some(if neg { -deg } else { deg })
}

/// Bytes and mtime of every input, to assert they are untouched.
pub fn snapshot(paths: &[PathBuf]) -> Vec<(Vec<u8>, i64)> {
    paths
        .iter()
        .map(|p| (std::fs::read(p).unwrap(), mtime(p)))
        .collect()
}

/// Media report lines by the file name at the end of their source.
pub fn report_entry<'a>(
    report: &'a serde_json::Value,
    source_suffix: &str,
) -> &'a serde_json::Value {
    report["media"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["source"].as_str().unwrap().ends_with(source_suffix))
        .unwrap_or_else(|| panic!("no report line for {source_suffix}"))
}

/// True when exiftool runs. In CI (CI=true) its absence is a failure, not a skip.
pub fn have_exiftool() -> bool {
    let ok = Command::new("exiftool")
        .arg("-ver")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("exiftool is required in CI (apt-get install libimage-exiftool-perl)");
    }
    ok
}

/// `exiftool -j -n` of one file, as its JSON object (times shown in UTC).
pub fn exiftool(p: &Path, extra: &[&str]) -> serde_json::Value {
    let out = Command::new("exiftool")
        .env("TZ", "UTC")
        .args(["-j", "-n"])
        .args(extra)
        .arg(p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "exiftool failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0].clone()
}

/// True when `tool` runs (`tool -version`). In CI (CI=true) its absence is a failure.
pub fn have_tool(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{tool} is required in CI");
    }
    ok
}

/// MD5 of every decoded frame (ffmpeg's framemd5): equal when the pixels are equal.
pub fn frame_hashes(p: &Path) -> Vec<String> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(p)
        .args(["-map", "0:v", "-f", "framemd5", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg cannot decode {}: {}",
        p.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.rsplit(',').next().unwrap().trim().to_string())
        .collect()
}

/// Asserts that a run stopped on a full output disk as promised: exit 1, the words that say so
/// and how to finish, and no temp file left behind.
pub fn assert_stopped_on_full_disk(o: &Output, out: &Path) {
    let s = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{s}");
    assert!(s.contains("stopped early: the output disk is full"), "{s}");
    assert!(
        s.contains("free some space there, then run the same command again"),
        "{s}"
    );
    let temps = std::fs::read_dir(out.join(".gpbackup/tmp"))
        .unwrap()
        .count();
    assert_eq!(temps, 0, "the file in progress removed");
}

/// The photo folders' root in a Takeout.
pub const GP: &str = "Takeout/Google Photos";

/// A distinct JPEG (no date of its own) whose bytes carry `tag`, by which it is found again.
pub fn photo(tag: &str) -> Vec<u8> {
    jpeg_variant(&fixture("plain.jpg"), tag)
}

/// The zip `dir/takeout-STAMP-001.zip` of `files`: a one-part export made at STAMP.
pub fn export(dir: &Path, stamp: &str, files: &[(String, Vec<u8>)]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(format!("takeout-{stamp}-001.zip"));
    std::fs::write(&p, zip_bytes(files)).unwrap();
    p
}

/// Every file under `root` but gpbackup's own state and album list: relative path → bytes
/// (a link shown as `<symlink>`).
pub fn files_of(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    for e in walkdir::WalkDir::new(root).min_depth(1) {
        let e = e.unwrap();
        let rel = e
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel.starts_with(".gpbackup") || rel == "albums.json" {
            continue;
        }
        if e.path_is_symlink() {
            files.insert(rel, b"<symlink>".to_vec());
        } else if e.file_type().is_file() {
            files.insert(rel, std::fs::read(e.path()).unwrap());
        }
    }
    files
}

/// The first summary line (`N media files: A written, …, F failed`) of `summary`, checked
/// to add up: its parts (what is in brackets is within the part before it) sum to its
/// total. Returns each part's words with its number (`"failed" → 0`).
pub fn counts_adding_up(summary: &str) -> std::collections::BTreeMap<String, usize> {
    let line = summary
        .lines()
        .find(|l| l.contains(" media file"))
        .unwrap_or_else(|| panic!("no counts line in {summary}"));
    let num = |t: &str| -> (usize, String) {
        let (n, words) = t.trim().split_once(' ').unwrap_or((t.trim(), ""));
        let n = n
            .replace(',', "")
            .parse()
            .unwrap_or_else(|_| panic!("{t:?} in {line}"));
        (n, words.trim().to_string())
    };
    let (head, rest) = line.split_once(": ").unwrap();
    let mut flat = String::new();
    let mut depth = 0;
    for c in rest.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => flat.push(c),
            _ => {}
        }
    }
    let parts: std::collections::BTreeMap<String, usize> = flat
        .split(", ")
        .map(|p| {
            let (n, words) = num(p);
            (words, n)
        })
        .collect();
    let (total, _) = num(head);
    assert_eq!(
        parts.values().sum::<usize>(),
        total,
        "does not add up: {line}"
    );
    parts
}
