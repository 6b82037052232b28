//! `.gpbackup/manifest.jsonl`: what the output folder holds and where each file came from.
//!
//! One JSON object per line, appended and never rewritten. A line is appended *before* its file
//! is renamed into place (with `--sync` it is on disk first), so a file that is there always
//! has its line; a crash between the two leaves a line whose file never appeared, which is
//! ignored on load. A file that could not be renamed into place is retracted by a line with
//! `retracted` and the same path and hash. Lines whose file is gone, and a torn last line, are
//! ignored on load. Lines with the same `hash` add up (the first names the file, later ones
//! add the Takeout entries that were duplicates of it).
//!
//! Two more kinds of line have no `hash`/`path` (so [`read_lines`], and gpbackup versions
//! before them, skip them):
//! - `{"sidecar": {"source": {...}, "from": "zip:path", "data": {...}, "claimed": bool}}`: a
//!   media sidecar a run read, with what it says, so that a later run can use it without the
//!   part that held it (its photo in a later part; an edited copy or a Live Photo's video
//!   sharing it). `claimed`: a media file took it by its own name. A later record for the same
//!   source supersedes an earlier one.
//! - `{"unwritten": {"source": {...}, "status": "failed"|"skipped", "reason": "..."}}`: an entry
//!   a run did not write, for `verify --against` (a later line that holds it supersedes it).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::output::open_nofollow;
use crate::sidecar::{Geo, Sidecar};

pub const FILE_NAME: &str = "manifest.jsonl";

/// A Takeout entry: its path inside the archive or folder, size and CRC-32 (zips).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourceKey {
    pub entry: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<u32>,
}

/// One manifest line.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Line {
    /// xxh3-128 of the source bytes, as 32 hex digits: the identity of a photo.
    pub hash: String,
    /// Output path, relative to the output folder, `/`-separated.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// xxh3-128 of the file as written (after metadata), for `verify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_size: Option<u64>,
    /// Date taken, seconds since the epoch (UTC), and where it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_source: Option<crate::report::DateSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gps: Option<Geo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceKey>,
    /// The XMP sidecar written beside the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xmp: Option<String>,
    /// Albums the file (or this copy of it) is in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub albums: Vec<String>,
    /// Archived in Google Photos.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub archived: bool,
    /// The file of the line before with the same path and hash was not written after all.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retracted: bool,
    /// Written without a sidecar, byte-for-byte: a later run that brings its sidecar rewrites
    /// it with the sidecar's metadata (see [`remembered`]). On a duplicate's line: that entry
    /// had no sidecar of its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_sidecar: bool,
}

/// What a media sidecar says, as a `sidecar` line keeps it. Coordinates are kept as text
/// (Rust's shortest exact form), so that they read back bit for bit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoredSidecar {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taken: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
    /// Latitude, longitude and altitude.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geo: Option<(String, String, Option<String>)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub favorited: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub archived: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub trashed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl StoredSidecar {
    pub fn from_sidecar(s: &Sidecar) -> StoredSidecar {
        StoredSidecar {
            title: s.title.clone(),
            description: s.description.clone(),
            taken: s.taken,
            created: s.created,
            geo: s.geo.map(|g| {
                (
                    g.lat.to_string(),
                    g.lon.to_string(),
                    g.alt.map(|a| a.to_string()),
                )
            }),
            people: s.people.clone(),
            favorited: s.favorited,
            archived: s.archived,
            trashed: s.trashed,
            problems: s.problems.clone(),
        }
    }

    /// The sidecar back; `None` when its coordinates are not numbers (an edited line).
    pub fn to_sidecar(&self) -> Option<Sidecar> {
        let geo = match &self.geo {
            None => None,
            Some((lat, lon, alt)) => Some(Geo {
                lat: lat.parse().ok()?,
                lon: lon.parse().ok()?,
                alt: match alt {
                    Some(a) => Some(a.parse().ok()?),
                    None => None,
                },
            }),
        };
        Some(Sidecar {
            title: self.title.clone(),
            description: self.description.clone(),
            taken: self.taken,
            created: self.created,
            geo,
            people: self.people.clone(),
            favorited: self.favorited,
            archived: self.archived,
            trashed: self.trashed,
            problems: self.problems.clone(),
        })
    }
}

/// A media sidecar a run read (a `sidecar` line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SidecarRecord {
    pub source: SourceKey,
    /// `zip:path` as the run that read it named it.
    pub from: String,
    pub data: StoredSidecar,
    /// A media file took it by its own name; only an edited copy or a Live Photo's video may
    /// still share it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub claimed: bool,
}

/// An input entry a run did not write (an `unwritten` line), read by `verify --against`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unwritten {
    pub source: SourceKey,
    /// `failed` or `skipped`.
    pub status: String,
    #[serde(default)]
    pub reason: String,
}

#[derive(Serialize, Deserialize)]
struct SidecarLine<T> {
    sidecar: T,
}

#[derive(Serialize, Deserialize)]
struct UnwrittenLine<T> {
    unwritten: T,
}

/// A library file written without a sidecar, as the manifest records it.
#[derive(Debug, Clone)]
pub struct BareFile {
    /// Its current line.
    pub line: Line,
    /// Every Takeout entry with its content (the one written first, then its duplicates).
    pub sources: Vec<SourceKey>,
}

/// What earlier runs left for later ones to complete: files written without a sidecar, and
/// the sidecars they read (latest record per source, in order of first appearance).
#[derive(Debug, Clone, Default)]
pub struct Remembered {
    pub bare_files: Vec<BareFile>,
    pub sidecars: Vec<SidecarRecord>,
    /// Entries recorded as duplicates of a file that has its metadata, which had no sidecar
    /// of their own: a later run that finds theirs takes it (so that it is not "unused").
    pub waiting: Vec<SourceKey>,
}

impl Remembered {
    /// The sidecar a run recorded for this entry.
    pub fn sidecar(&self, key: &SourceKey) -> Option<&SidecarRecord> {
        self.sidecars.iter().find(|s| &s.source == key)
    }
}

/// Reads what earlier runs left to complete from the manifest in `state_dir`. `exists`
/// tells whether an output path holds a file: a bare file that is gone is not remembered.
pub fn remembered(state_dir: &Path, exists: impl Fn(&str) -> bool) -> io::Result<Remembered> {
    let path = state_dir.join(FILE_NAME);
    let f = match open_nofollow(&path, OpenOptions::new().read(true)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Remembered::default()),
        Err(e) => return Err(e),
    };
    let mut lines = Vec::new();
    let mut sidecars: Vec<SidecarRecord> = Vec::new();
    let mut sidecar_at: HashMap<SourceKey, usize> = HashMap::new();
    let mut reader = BufReader::new(f);
    let mut buf = Vec::new();
    while reader.read_until(b'\n', &mut buf)? > 0 {
        if buf.starts_with(b"{\"sidecar\"") {
            if let Ok(SidecarLine { sidecar }) =
                serde_json::from_slice::<SidecarLine<SidecarRecord>>(&buf)
            {
                match sidecar_at.get(&sidecar.source) {
                    Some(&i) => sidecars[i] = sidecar,
                    None => {
                        sidecar_at.insert(sidecar.source.clone(), sidecars.len());
                        sidecars.push(sidecar);
                    }
                }
            }
        } else if let Ok(l) = serde_json::from_slice::<Line>(&buf) {
            lines.push(l);
        }
        buf.clear();
    }
    let mut current: Vec<usize> = current_files(&lines).into_values().collect();
    current.sort_unstable();
    let mut bare: HashMap<&str, BareFile> = HashMap::new();
    let mut order = Vec::new();
    for i in current {
        let l = &lines[i];
        if l.no_sidecar && exists(&l.path) && !bare.contains_key(l.hash.as_str()) {
            order.push(l.hash.as_str());
            let file = BareFile {
                line: l.clone(),
                sources: Vec::new(),
            };
            bare.insert(l.hash.as_str(), file);
        }
    }
    for l in &lines {
        if let Some(b) = bare.get_mut(l.hash.as_str()) {
            for s in &l.sources {
                if !b.sources.contains(s) {
                    b.sources.push(s.clone());
                }
            }
        }
    }
    let held: HashSet<&str> = current_files(&lines)
        .into_iter()
        .filter(|(p, _)| exists(p))
        .map(|(_, i)| lines[i].hash.as_str())
        .collect();
    let mut waiting: Vec<SourceKey> = Vec::new();
    let mut seen: HashSet<&SourceKey> = HashSet::new();
    for l in &lines {
        let dup = l.output_hash.is_none() && !l.retracted && l.no_sidecar;
        if dup && held.contains(l.hash.as_str()) && !bare.contains_key(l.hash.as_str()) {
            for s in &l.sources {
                if seen.insert(s) {
                    waiting.push(s.clone());
                }
            }
        }
    }
    let bare_files = order.iter().filter_map(|h| bare.remove(h)).collect();
    Ok(Remembered {
        bare_files,
        sidecars,
        waiting,
    })
}

/// The file each path holds, from the last line that wrote it (`path` → line index). A later
/// line for the same path supersedes an earlier one; a retraction removes it only when it
/// retracts that very line (same path and same `hash`), so that it can never erase the record
/// of another photo written under the same name.
pub fn current_files(lines: &[Line]) -> HashMap<&str, usize> {
    let mut current: HashMap<&str, usize> = HashMap::new();
    for (i, l) in lines.iter().enumerate() {
        if l.retracted {
            if current
                .get(l.path.as_str())
                .is_some_and(|&j| lines[j].hash == l.hash)
            {
                current.remove(l.path.as_str());
            }
        } else if l.output_hash.is_some() {
            current.insert(l.path.as_str(), i);
        }
    }
    current
}

/// The manifest as loaded, plus the open file that new lines go to.
pub struct Manifest {
    /// hash → output path of the files that exist.
    by_hash: HashMap<String, String>,
    /// Takeout entry → hash, for skipping unchanged entries without reading them.
    by_source: HashMap<SourceKey, String>,
    /// album → output paths of its files that exist.
    albums: BTreeMap<String, BTreeSet<String>>,
    file: Option<Mutex<File>>,
    path: PathBuf,
    /// Each appended line is made durable before `append` returns (`--sync`).
    durable: bool,
}

/// Every readable line of the manifest in `state_dir`, in order. A torn line (a crash in the
/// middle of an append) is skipped. No manifest: no lines.
pub fn read_lines(state_dir: &Path) -> io::Result<Vec<Line>> {
    let path = state_dir.join(FILE_NAME);
    let f = match open_nofollow(&path, OpenOptions::new().read(true)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    let mut reader = BufReader::new(f);
    let mut buf = Vec::new();
    while reader.read_until(b'\n', &mut buf)? > 0 {
        if let Ok(l) = serde_json::from_slice::<Line>(&buf) {
            out.push(l);
        }
        buf.clear();
    }
    Ok(out)
}

impl Manifest {
    /// Loads `state_dir/manifest.jsonl` (if any) and opens it for appending (unless `dry_run`).
    /// Lines whose file is gone from `root` are ignored.
    pub fn open(root: &Path, state_dir: &Path, dry_run: bool) -> io::Result<Manifest> {
        Self::open_with(state_dir, dry_run, |p| root.join(p).is_file())
    }

    /// Like `open`, with `exists` telling whether an output path holds a file (the output
    /// folder's own listing: no disk access per line).
    pub fn open_with(
        state_dir: &Path,
        dry_run: bool,
        exists: impl Fn(&str) -> bool,
    ) -> io::Result<Manifest> {
        let path = state_dir.join(FILE_NAME);
        let mut m = Manifest {
            by_hash: HashMap::new(),
            by_source: HashMap::new(),
            albums: BTreeMap::new(),
            file: None,
            path: path.clone(),
            durable: false,
        };
        let lines = read_lines(state_dir)?;
        let mut current: Vec<usize> = current_files(&lines).into_values().collect();
        current.sort_unstable();
        for i in current {
            let l = &lines[i];
            if !m.by_hash.contains_key(&l.hash) && exists(&l.path) {
                m.by_hash.insert(l.hash.clone(), l.path.clone());
            }
        }
        for l in lines {
            let Some(path) = m.by_hash.get(&l.hash).cloned() else {
                continue;
            };
            for album in l.albums {
                m.albums.entry(album).or_default().insert(path.clone());
            }
            for s in l.sources {
                m.by_source.insert(s, l.hash.clone());
            }
        }
        if !dry_run {
            let mut f = open_nofollow(
                &path,
                OpenOptions::new().create(true).read(true).append(true),
            )?;
            // After a crash mid-append the last line has no end: end it, so that the next
            // line is not glued to it.
            let len = f.metadata()?.len();
            if len > 0 {
                let mut last = [0u8; 1];
                f.seek(SeekFrom::Start(len - 1))?;
                f.read_exact(&mut last)?;
                if last[0] != b'\n' {
                    f.write_all(b"\n")?;
                }
            }
            m.file = Some(Mutex::new(f));
        }
        Ok(m)
    }

    /// With `on` (`--sync`), every appended line is on disk before `append` returns: a line
    /// is appended before its file is renamed into place, so after a power cut every file
    /// that is there has its line.
    /// The manifest file itself (which may have just been created) is made durable at once.
    pub fn durable(mut self, on: bool) -> io::Result<Manifest> {
        self.durable = on;
        if let (true, Some(f)) = (on, &self.file) {
            f.lock().expect("manifest lock").sync_all()?;
            if let Some(dir) = self.path.parent() {
                crate::output::sync_dir(dir)?;
                if let Some(root) = dir.parent() {
                    crate::output::sync_dir(root)?;
                }
            }
        }
        Ok(self)
    }

    /// Album memberships recorded by earlier runs, of files that still exist.
    pub fn albums(&self) -> &BTreeMap<String, BTreeSet<String>> {
        &self.albums
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The output path of a file with this content hash, if the folder has one.
    pub fn path_for_hash(&self, hash: &str) -> Option<&str> {
        self.by_hash.get(hash).map(String::as_str)
    }

    /// The output path an identical Takeout entry went to in an earlier run.
    pub fn path_for_source(&self, key: &SourceKey) -> Option<(&str, &str)> {
        let h = self.by_source.get(key)?;
        Some((h.as_str(), self.by_hash.get(h)?.as_str()))
    }

    /// (content hash, output path) of every file the folder holds.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_hash.iter().map(|(h, p)| (h.as_str(), p.as_str()))
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Appends one line (a single write, so concurrent appends never interleave).
    pub fn append(&self, line: &Line) -> io::Result<()> {
        self.append_value(line)
    }

    /// Appends a `sidecar` line.
    pub fn append_sidecar(&self, record: &SidecarRecord) -> io::Result<()> {
        self.append_value(&SidecarLine { sidecar: record })
    }

    /// Appends an `unwritten` line.
    pub fn append_unwritten(&self, record: &Unwritten) -> io::Result<()> {
        self.append_value(&UnwrittenLine { unwritten: record })
    }

    /// Appends any line as one write (concurrent appends never interleave), made durable
    /// before it returns with `--sync`.
    fn append_value(&self, value: &impl Serialize) -> io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let mut text = serde_json::to_string(value).map_err(io::Error::other)?;
        text.push('\n');
        let mut f = file.lock().expect("manifest lock");
        f.write_all(text.as_bytes())?;
        if self.durable {
            f.sync_data()?;
        }
        Ok(())
    }

    /// Makes every appended line durable.
    pub fn sync(&self) -> io::Result<()> {
        match &self.file {
            Some(f) => f.lock().expect("manifest lock").sync_all(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_manifest_is_an_error_not_an_empty_one() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            read_lines(dir.path()).unwrap().is_empty(),
            "none yet: empty"
        );
        // Something that is not a regular file where the manifest belongs: taking it as
        // empty would make the next run write every photo again.
        std::fs::create_dir(dir.path().join(FILE_NAME)).unwrap();
        assert!(read_lines(dir.path()).is_err());
    }

    #[test]
    fn round_trip_torn_lines_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".gpbackup");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(dir.path().join("a.jpg"), b"a").unwrap();
        let key = SourceKey {
            entry: "Takeout/x/a.jpg".into(),
            size: 1,
            crc32: Some(7),
        };
        {
            let m = Manifest::open(dir.path(), &state, false).unwrap();
            assert!(m.is_empty());
            m.append(&Line {
                hash: "h1".into(),
                path: "a.jpg".into(),
                output_hash: Some("o1".into()),
                sources: vec![key.clone()],
                ..Line::default()
            })
            .unwrap();
            m.append(&Line {
                hash: "h2".into(),
                path: "gone.jpg".into(),
                output_hash: Some("o2".into()),
                ..Line::default()
            })
            .unwrap();
            m.sync().unwrap();
        }
        let mut f = OpenOptions::new()
            .append(true)
            .open(state.join(FILE_NAME))
            .unwrap();
        f.write_all(b"{\"hash\":\"h3\",\"pa").unwrap();
        {
            // Appending after a torn line starts a new line.
            let m = Manifest::open(dir.path(), &state, false).unwrap();
            let mut l = Line {
                hash: "h1".into(),
                path: "a.jpg".into(),
                ..Line::default()
            };
            l.albums = vec!["Paris".into()];
            m.append(&l).unwrap();
        }
        let m = Manifest::open(dir.path(), &state, true).unwrap();
        assert_eq!(
            read_lines(&state).unwrap().len(),
            3,
            "torn line skipped, the rest readable"
        );
        assert_eq!(m.albums()["Paris"].iter().collect::<Vec<_>>(), ["a.jpg"]);
        assert_eq!(m.path_for_hash("h1"), Some("a.jpg"));
        assert_eq!(m.path_for_hash("h2"), None, "its file is missing");
        assert_eq!(m.path_for_source(&key), Some(("h1", "a.jpg")));
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn a_retraction_removes_only_its_own_line() {
        let line = |hash: &str, path: &str, retracted: bool| Line {
            hash: hash.into(),
            path: path.into(),
            output_hash: Some(format!("o{hash}")),
            retracted,
            ..Line::default()
        };
        // Another photo's line for the same path, then a retraction of a different photo.
        let lines = vec![
            line("h1", "a.jpg", false),
            line("h2", "a.jpg", true),
            line("h3", "b.jpg", false),
            line("h3", "b.jpg", true),
        ];
        let current = current_files(&lines);
        assert_eq!(current.get("a.jpg"), Some(&0), "h1's record survives");
        assert_eq!(current.get("b.jpg"), None, "h3's own line is retracted");
        assert_eq!(current.len(), 1);
    }

    #[test]
    fn new_line_kinds_are_skipped_by_old_readers_and_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".gpbackup");
        std::fs::create_dir_all(&state).unwrap();
        let key = |e: &str| SourceKey {
            entry: e.into(),
            size: 1,
            crc32: Some(1),
        };
        let geo = Geo {
            lat: 0.1 + 0.2,
            lon: -122.419_415_5,
            alt: Some(1e-7),
        };
        let sidecar = Sidecar {
            title: Some("b.jpg".into()),
            taken: Some(-1_000),
            geo: Some(geo),
            people: vec!["Ann".into()],
            favorited: true,
            ..Sidecar::default()
        };
        // A line of an older version (no `no_sidecar`), then the new kinds.
        let old = r#"{"hash":"h0","path":"old.jpg","output_hash":"h0","output_size":1}"#;
        std::fs::write(state.join(FILE_NAME), format!("{old}\n")).unwrap();
        for p in ["old.jpg", "a.jpg"] {
            std::fs::write(dir.path().join(p), b"x").unwrap();
        }
        {
            let m = Manifest::open(dir.path(), &state, false).unwrap();
            let bare = Line {
                hash: "h1".into(),
                path: "a.jpg".into(),
                output_hash: Some("h1".into()),
                sources: vec![key("T/x/a.jpg")],
                no_sidecar: true,
                ..Line::default()
            };
            m.append(&bare).unwrap();
            let dup = Line {
                hash: "h1".into(),
                path: "a.jpg".into(),
                sources: vec![key("T/album/a.jpg")],
                ..Line::default()
            };
            m.append(&dup).unwrap();
            let record = |claimed| SidecarRecord {
                source: key("T/x/b.jpg.json"),
                from: "z.zip:T/x/b.jpg.json".into(),
                data: StoredSidecar::from_sidecar(&sidecar),
                claimed,
            };
            m.append_sidecar(&record(false)).unwrap();
            m.append_sidecar(&record(true)).unwrap();
            m.append_unwritten(&Unwritten {
                source: key("T/x/c.jpg"),
                status: "failed".into(),
                reason: "corrupt".into(),
            })
            .unwrap();
        }
        let text = std::fs::read_to_string(state.join(FILE_NAME)).unwrap();
        assert!(text
            .lines()
            .any(|l| l.starts_with(r#"{"unwritten":{"source""#)));
        assert_eq!(read_lines(&state).unwrap().len(), 3, "only the file lines");
        let m = Manifest::open(dir.path(), &state, true).unwrap();
        assert_eq!(m.len(), 2);
        let r = remembered(&state, |p| dir.path().join(p).is_file()).unwrap();
        assert_eq!(r.bare_files.len(), 1, "the old line has no no_sidecar");
        assert_eq!(r.bare_files[0].line.path, "a.jpg");
        assert_eq!(
            r.bare_files[0].sources,
            [key("T/x/a.jpg"), key("T/album/a.jpg")]
        );
        assert_eq!(r.sidecars.len(), 1, "the later record supersedes");
        assert!(r.sidecars[0].claimed);
        let back = r.sidecars[0].data.to_sidecar().unwrap();
        assert_eq!(back, sidecar, "read back bit for bit");
        assert_eq!(back.geo.unwrap().lat.to_bits(), (0.1f64 + 0.2).to_bits());
        // A bare file that is gone is not remembered.
        std::fs::remove_file(dir.path().join("a.jpg")).unwrap();
        let r = remembered(&state, |p| dir.path().join(p).is_file()).unwrap();
        assert!(r.bare_files.is_empty());
    }
}
