//! What the manifest says the library holds, for `verify --against`.
//!
//! The manifest is read once, a line at a time, each line parsed into numbers (content hashes
//! and Takeout entries as 128-bit ids) and applied in file order. Sidecar lines are skipped
//! unparsed; no line and no copy of the file is kept.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::OpenOptions;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::path::Path;

use rayon::prelude::*;

use super::{compare_hash, is_inside, FileState, VerifyError};
use crate::hash::{from_id, id, Id, IdMap};
use crate::manifest::scan::{Cursor, Seen};
use crate::manifest::{entry_source_id, hash_id, source_id, PathLine, PathLines, FILE_NAME};
use crate::names::span_of;
use crate::output::{open_nofollow, STATE_DIR};
use crate::source::Entry;

/// A manifest record of an input entry that was not written (failed, or left out on
/// purpose): one line `{"unwritten": {"source": {...}, "status": "failed"|"skipped", "reason":
/// "..."}}`, written by `process`. It has no `hash`/`path`, so readers of the other lines skip
/// it. Consulted only for entries the library does not hold: a later run that wrote the entry
/// supersedes it.
pub use crate::manifest::Unwritten;

#[derive(serde::Deserialize)]
struct UnwrittenLine {
    unwritten: Unwritten,
}

/// The fields of a file's manifest line that the check needs (the others are not parsed).
#[derive(serde::Deserialize)]
struct LineView<'a> {
    #[serde(borrow)]
    hash: Cow<'a, str>,
    #[serde(borrow)]
    path: Cow<'a, str>,
    #[serde(default, borrow)]
    output_hash: Option<Cow<'a, str>>,
    #[serde(default)]
    output_size: Option<u64>,
    #[serde(default)]
    taken: Option<i64>,
    #[serde(default, borrow)]
    sources: Vec<SourceView<'a>>,
    #[serde(default)]
    retracted: bool,
}

#[derive(serde::Deserialize)]
struct SourceView<'a> {
    #[serde(borrow)]
    entry: Cow<'a, str>,
    size: u64,
    #[serde(default)]
    crc32: Option<u32>,
}

/// A hasher for keys that are already hashes (the 128-bit ids): their low 64 bits.
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached for u128 keys; any other key still spreads.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = (n as u64) ^ ((n >> 64) as u64);
    }
}

/// A hash map keyed by a 128-bit id (for the few `unwritten` records).
type IdHashMap<V> = HashMap<u128, V, BuildHasherDefault<IdHasher>>;

/// One current manifest file.
#[derive(Default)]
pub(super) struct LibFile {
    /// Where its path is in the library's paths ([`Library::path`]), and its length.
    at: u32,
    len: u32,
    /// Content hash and size as written (`None` on a line of an old version without them).
    output: Option<(Id, u64)>,
    taken: Option<i64>,
}

/// Takeout entry id → the content hash of every line that names it, in line order, so that
/// a lookup finds the last one whose file is current (as if the lines of files that are gone
/// had never been read). Gathered as pairs, then sorted once ([`Recorded::seal`]).
#[derive(Default)]
pub(super) struct Recorded {
    pairs: Vec<(Id, Id)>,
    map: IdMap<Id>,
}

impl Recorded {
    fn insert(&mut self, key: u128, hash: u128) {
        self.pairs.push((id(key), id(hash)));
    }

    fn seal(&mut self) {
        self.map = IdMap::build_all(std::mem::take(&mut self.pairs));
    }

    /// The content hash of the last line naming `key` whose content is `current`.
    fn get(&self, key: u128, current: impl Fn(u128) -> bool) -> Option<u128> {
        self.map
            .get_all(key)
            .iter()
            .rev()
            .map(|(_, h)| from_id(*h))
            .find(|h| current(*h))
    }
}

/// What the manifest says the library holds.
pub(super) struct Library {
    /// content hash → the file holding it (first current line with that hash).
    pub(super) by_hash: IdMap<u32>,
    pub(super) files: Vec<LibFile>,
    /// The files' paths, one after the other.
    paths: String,
    /// Takeout entry ([`source_id`]) → content hash.
    by_source: Recorded,
    /// (entry path, size) as [`source_id`] without CRC-32 → content hash, for lookups where
    /// one side has no CRC-32 (extracted folders).
    by_name_size: Recorded,
    /// Takeout entry ([`source_id`]) → its record of not being written.
    pub(super) unwritten: IdHashMap<Unwritten>,
    pub(super) invalid: Vec<String>,
}

/// One manifest line, parsed into what [`Loading::apply`] needs.
enum Parsed {
    File {
        /// Only for a line that writes a file or takes one back.
        path: Option<Box<str>>,
        hash: u128,
        output_hash: Option<u128>,
        output_size: Option<u64>,
        taken: Option<i64>,
        retracted: bool,
        /// (entry id, entry id without CRC-32) of each source.
        sources: Vec<(u128, u128)>,
    },
    Unwritten(Box<Unwritten>),
    /// A sidecar line, a torn line or one of another kind.
    Other,
}

fn parse(line: &[u8]) -> Parsed {
    if line.starts_with(b"{\"sidecar\"") {
        return Parsed::Other;
    }
    if line.starts_with(b"{\"unwritten\"") {
        return match serde_json::from_slice::<UnwrittenLine>(line) {
            Ok(u) => Parsed::Unwritten(Box::new(u.unwritten)),
            Err(_) => Parsed::Other,
        };
    }
    scan(line).unwrap_or_else(|| parse_serde(line))
}

/// [`parse`] of a file's line by serde_json: every line [`scan`] leaves.
fn parse_serde(line: &[u8]) -> Parsed {
    let Ok(l) = serde_json::from_slice::<LineView>(line) else {
        return Parsed::Other;
    };
    let output_hash = l.output_hash.as_deref().map(hash_id);
    Parsed::File {
        path: (l.retracted || output_hash.is_some()).then(|| l.path.as_ref().into()),
        hash: hash_id(&l.hash),
        output_hash,
        output_size: l.output_size,
        taken: l.taken,
        retracted: l.retracted,
        sources: l
            .sources
            .iter()
            .map(|s| {
                (
                    source_id(&s.entry, s.size, s.crc32),
                    source_id(&s.entry, s.size, None),
                )
            })
            .collect(),
    }
}

/// [`parse`] of a file's line in place ([`Cursor`]); `None` for a line left to serde_json.
fn scan(line: &[u8]) -> Option<Parsed> {
    const HASH: u32 = 0;
    const PATH: u32 = 1;
    const OUTPUT_HASH: u32 = 2;
    const OUTPUT_SIZE: u32 = 3;
    const TAKEN: u32 = 4;
    const SOURCES: u32 = 5;
    const RETRACTED: u32 = 6;
    let mut c = Cursor::new(line)?;
    let mut seen = Seen::default();
    let (mut hash, mut path, mut output_hash) = ("", "", None);
    let (mut output_size, mut taken, mut retracted) = (None, None, false);
    let mut sources = Vec::new();
    c.object(|c, key| {
        match key {
            "hash" => {
                seen.once(HASH)?;
                hash = c.str()?;
            }
            "path" => {
                seen.once(PATH)?;
                path = c.str()?;
            }
            "output_hash" => {
                seen.once(OUTPUT_HASH)?;
                output_hash = if c.null() { None } else { Some(c.str()?) };
            }
            "output_size" => {
                seen.once(OUTPUT_SIZE)?;
                output_size = if c.null() { None } else { Some(c.u64()?) };
            }
            "taken" => {
                seen.once(TAKEN)?;
                taken = if c.null() { None } else { Some(c.i64()?) };
            }
            "retracted" => {
                seen.once(RETRACTED)?;
                retracted = c.bool()?;
            }
            "sources" => {
                seen.once(SOURCES)?;
                c.array(|c| {
                    let mut seen = Seen::default();
                    let (mut entry, mut size, mut crc32) = (None, None, None);
                    c.object(|c, key| {
                        match key {
                            "entry" => {
                                seen.once(0)?;
                                entry = Some(c.str()?);
                            }
                            "size" => {
                                seen.once(1)?;
                                size = Some(c.u64()?);
                            }
                            "crc32" => {
                                seen.once(2)?;
                                crc32 = if c.null() {
                                    None
                                } else {
                                    Some(u32::try_from(c.u64()?).ok()?)
                                };
                            }
                            _ => c.skip()?,
                        }
                        Some(())
                    })?;
                    let (entry, size) = (entry?, size?);
                    sources.push((source_id(entry, size, crc32), source_id(entry, size, None)));
                    Some(())
                })?;
            }
            _ => c.skip()?,
        }
        Some(())
    })?;
    if !c.at_end() || !seen.has(HASH) || !seen.has(PATH) {
        return None;
    }
    let output_hash = output_hash.map(hash_id);
    Some(Parsed::File {
        path: (retracted || output_hash.is_some()).then(|| path.into()),
        hash: hash_id(hash),
        output_hash,
        output_size,
        taken,
        retracted,
        sources,
    })
}

/// The manifest as read so far.
#[derive(Default)]
struct Loading {
    /// Every line that wrote a file (`PathLine::line`: its place in `files`) or took one
    /// back.
    lines: PathLines,
    /// The file of each line that wrote one (its path's place set by `finish`).
    files: Vec<LibFile>,
    by_source: Recorded,
    by_name_size: Recorded,
    unwritten: IdHashMap<Unwritten>,
}

impl Loading {
    /// Applies the next line. A later line for the same path supersedes an earlier one; a
    /// retraction removes it only when it retracts that very file (same hash), as
    /// [`crate::manifest::current_files`] decides.
    fn apply(&mut self, p: Parsed) {
        match p {
            Parsed::File {
                path,
                hash,
                output_hash,
                output_size,
                taken,
                retracted,
                sources,
            } => {
                match path {
                    Some(path) if retracted => self.lines.retract(&path, hash),
                    Some(path) => {
                        let k = u32::try_from(self.files.len()).expect("under 4 billion files");
                        self.lines.write(&path, hash, k);
                        self.files.push(LibFile {
                            at: 0,
                            len: 0,
                            output: output_hash.map(id).zip(output_size),
                            taken,
                        });
                    }
                    None => {}
                }
                for (id, name_size) in sources {
                    self.by_source.insert(id, hash);
                    self.by_name_size.insert(name_size, hash);
                }
            }
            Parsed::Unwritten(u) => {
                self.unwritten.insert(u.source.id(), *u);
            }
            Parsed::Other => {}
        }
    }

    fn finish(mut self) -> Library {
        // The file each path holds, in line order; of files with one content, the first.
        let (current, mut paths) = std::mem::take(&mut self.lines).current();
        let mut invalid = Vec::new();
        let inside: Vec<&PathLine> = current
            .iter()
            .filter(|c| {
                let path = c.path(&paths);
                let ok = is_inside(path);
                if !ok {
                    invalid.push(path.to_string());
                }
                ok
            })
            .collect();
        let first = IdMap::build(
            (0u32..).zip(&inside).map(|(k, c)| (c.hash, k)).collect(),
            false,
        );
        let mut files = Vec::with_capacity(first.len());
        let mut hashes = Vec::with_capacity(first.len());
        for (k, c) in (0u32..).zip(&inside) {
            if first.get(from_id(c.hash)) == Some(k) {
                hashes.push((c.hash, u32::try_from(files.len()).expect("under 4 billion")));
                let f = &mut self.files[c.line as usize];
                (f.at, f.len) = (c.at, c.len);
                files.push(std::mem::take(f));
            }
        }
        drop(inside);
        drop(current);
        drop(self.files);
        self.by_source.seal();
        self.by_name_size.seal();
        invalid.sort();
        invalid.dedup();
        paths.shrink_to_fit();
        Library {
            by_hash: IdMap::build(hashes, false),
            files,
            paths,
            by_source: self.by_source,
            by_name_size: self.by_name_size,
            unwritten: self.unwritten,
            invalid,
        }
    }
}

/// Reads the manifest of `root`: once, a line at a time.
pub(super) fn load_library(root: &Path) -> Result<Library, VerifyError> {
    let state = root.join(STATE_DIR);
    let path = state.join(FILE_NAME);
    let io_err = |source| VerifyError::Io {
        path: path.clone(),
        source,
    };
    let file = match open_nofollow(&path, OpenOptions::new().read(true)) {
        Ok(f) if f.metadata().map_err(io_err)?.is_file() => f,
        Ok(_) => return Err(VerifyError::NotOutput(root.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(VerifyError::NotOutput(root.to_path_buf()))
        }
        Err(e) => return Err(io_err(e)),
    };
    // One thread: it runs beside the indexing of the inputs, and what it keeps is
    // allocated in one place.
    let mut loading = Loading::default();
    crate::manifest::each_line(file, |text| loading.apply(parse(text))).map_err(io_err)?;
    Ok(loading.finish())
}

impl Library {
    /// The path of library file `file`.
    pub(super) fn path(&self, file: usize) -> &str {
        let f = &self.files[file];
        span_of(&self.paths, (f.at, f.len))
    }

    /// Whether `hash` is the content of a current library file.
    fn is_current(&self, hash: u128) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// The library file the manifest records for this entry, by its name, size and CRC-32.
    pub(super) fn file_of_source(&self, e: &Entry) -> Option<usize> {
        let current = |h| self.is_current(h);
        let h = match self.by_source.get(entry_source_id(e, e.crc32), current) {
            Some(h) => h,
            None => {
                // A folder entry (no CRC-32) against a library made from zips, or the
                // reverse: by name and size.
                let no_crc = entry_source_id(e, None);
                let h = self.by_name_size.get(no_crc, current)?;
                let recorded_without_crc = self.by_source.get(no_crc, current).is_some();
                if !(e.crc32.is_none() || recorded_without_crc) {
                    return None;
                }
                h
            }
        };
        self.by_hash.get(h).map(|f| f as usize)
    }

    /// The library file holding content `hash`.
    pub(super) fn file_of_hash(&self, hash: u128) -> Option<usize> {
        self.by_hash.get(hash).map(|f| f as usize)
    }

    /// The record of `e` not being written, if the manifest has one.
    pub(super) fn unwritten_of(&self, e: &Entry) -> Option<&Unwritten> {
        self.unwritten.get(&entry_source_id(e, e.crc32))
    }

    /// Checks a library file: by size and modification time (then by content if the time
    /// differs: a copy may not keep it), or by content with `full`.
    pub(super) fn check(&self, root: &Path, file: usize, full: bool) -> FileState {
        let path = root.join(self.path(file));
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            return FileState::Missing;
        };
        self.state_from_meta(file, &meta, full)
            .unwrap_or_else(|want| compare_hash(&path, want))
    }

    /// Fast mode, while `busy()` (the inputs are still being indexed): checks library files
    /// in manifest order, each by its path, as far as it gets. What it could not settle
    /// from the metadata (a time that differs: the content is to be compared) is left
    /// `None`, for [`Library::check_listed`] when needed.
    pub(super) fn check_ahead(
        &self,
        root: &Path,
        busy: impl Fn() -> bool,
    ) -> Vec<Option<FileState>> {
        let mut states = vec![None; self.files.len()];
        for (f, state) in states.iter_mut().enumerate() {
            if !busy() {
                break;
            }
            let Ok(meta) = std::fs::symlink_metadata(root.join(self.path(f))) else {
                *state = Some(FileState::Missing);
                continue;
            };
            *state = self.state_from_meta(f, &meta, false).ok();
        }
        states
    }

    /// The state of a library file from its metadata (not following a symbolic link), or
    /// `Err(hash)` when its content must be compared with that hash.
    fn state_from_meta(
        &self,
        file: usize,
        meta: &std::fs::Metadata,
        full: bool,
    ) -> Result<FileState, u128> {
        let f = &self.files[file];
        if !meta.is_file() {
            return Ok(FileState::Missing);
        }
        let Some((want_hash, want_size)) = f.output else {
            return Ok(FileState::Intact); // an old line without output hash: presence only
        };
        let want_hash = from_id(want_hash);
        if meta.len() != want_size {
            return Ok(FileState::Changed);
        }
        if !full {
            let mtime = filetime::FileTime::from_last_modification_time(meta).unix_seconds();
            if f.taken.is_some_and(|t| t == mtime) {
                return Ok(FileState::Intact);
            }
        }
        Err(want_hash)
    }

    /// Fast mode: checks `files` as [`Library::check`] does, from one listing per folder.
    /// Each folder holding some of them is read once; the files found there are checked
    /// from their entries (a stat relative to the open folder, in parallel) instead of each
    /// by its whole path. A file not in its folder's listing (gone, or named otherwise by a
    /// file system that folds case) is checked by its path.
    pub(super) fn check_listed(&self, root: &Path, files: &[usize]) -> Vec<(usize, FileState)> {
        let mut by_dir: HashMap<&str, Vec<(&str, usize)>> = HashMap::new();
        for &f in files {
            let p = self.path(f);
            let (dir, name) = p.rsplit_once('/').unwrap_or(("", p));
            by_dir.entry(dir).or_default().push((name, f));
        }
        let mut out = Vec::with_capacity(files.len());
        for (dir, wanted) in by_dir {
            // The folder's entries are checked a batch at a time as they are listed (in
            // parallel): a library of half a million files in one folder is never held as
            // half a million listed entries.
            let not_listed = find_in_folder(&root.join(dir), &wanted, |batch| {
                let states: Vec<(usize, FileState)> = batch
                    .par_iter()
                    .map(|(entry, f)| {
                        let state = match entry.metadata() {
                            Ok(meta) => self
                                .state_from_meta(*f, &meta, false)
                                .unwrap_or_else(|want| compare_hash(&entry.path(), want)),
                            Err(_) => self.check(root, *f, false),
                        };
                        (*f, state)
                    })
                    .collect();
                out.extend(states);
            });
            out.extend(
                not_listed
                    .par_iter()
                    .map(|&f| (f, self.check(root, f, false)))
                    .collect::<Vec<_>>(),
            );
        }
        out
    }
}

/// Folder entries with the library file each is.
type Listed = Vec<(std::fs::DirEntry, usize)>;

/// How many listed entries [`find_in_folder`] hands over at a time.
const LISTED_BATCH: usize = 4096;

/// Lists `folder` and hands the entries named in `wanted` (name, file) to `found`, a batch
/// at a time; returns the files not found there.
fn find_in_folder(
    folder: &Path,
    wanted: &[(&str, usize)],
    mut found: impl FnMut(&Listed),
) -> Vec<usize> {
    // Name → its place in `wanted`, by the name's hash (a map of the names themselves was
    // 50 bytes a file); a listed name is compared with the wanted one before it counts.
    let by_name = IdMap::build(
        (0u32..)
            .zip(wanted)
            .map(|(k, (name, _))| (id(name_key(name.as_bytes())), k))
            .collect(),
        false,
    );
    let mut seen = vec![false; wanted.len()];
    let mut left = wanted.len();
    let mut batch: Listed = Vec::with_capacity(LISTED_BATCH.min(wanted.len()));
    if let Ok(list) = std::fs::read_dir(folder) {
        for entry in list.flatten() {
            let name = entry.file_name();
            let bytes = name.as_encoded_bytes();
            let Some(k) = by_name.get(name_key(bytes)).map(|k| k as usize) else {
                continue;
            };
            if seen[k] || wanted[k].0.as_bytes() != bytes {
                continue;
            }
            seen[k] = true;
            left -= 1;
            batch.push((entry, wanted[k].1));
            if batch.len() == LISTED_BATCH {
                found(&batch);
                batch.clear();
            }
            if left == 0 {
                break;
            }
        }
    }
    if !batch.is_empty() {
        found(&batch);
    }
    (0..wanted.len())
        .filter(|&k| !seen[k])
        .map(|k| wanted[k].1)
        .collect()
}

/// A file name as a number, for [`find_in_folder`].
fn name_key(name: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Line, SourceKey};

    fn line(hash: &str, path: &str, entry: &str, crc: Option<u32>) -> Line {
        Line {
            hash: hash.into(),
            path: path.into(),
            output_hash: Some(format!("{:032x}", hash_id(hash) ^ 1)),
            output_size: Some(3),
            taken: Some(0),
            sources: vec![SourceKey {
                entry: entry.into(),
                size: 3,
                crc32: crc,
            }],
            ..Line::default()
        }
    }

    #[test]
    fn a_folder_is_listed_and_handed_over_a_batch_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..LISTED_BATCH + 5).map(|i| format!("n{i}.jpg")).collect();
        for n in names.iter().chain(&["other.jpg".to_string()]) {
            std::fs::write(dir.path().join(n), b"x").unwrap();
        }
        // Wanted: every file but one, and one that is not there (file numbers from 10).
        let mut wanted: Vec<(&str, usize)> =
            (10..).zip(&names).map(|(f, n)| (n.as_str(), f)).collect();
        wanted.push(("gone.jpg", 7));
        let mut batches = Vec::new();
        let mut found = Vec::new();
        let not_found = find_in_folder(dir.path(), &wanted, |batch| {
            batches.push(batch.len());
            for (entry, f) in batch {
                assert_eq!(entry.file_name().to_str(), Some(wanted[f - 10].0));
                found.push(*f);
            }
        });
        assert_eq!(not_found, [7]);
        found.sort_unstable();
        assert_eq!(found, (10..10 + names.len()).collect::<Vec<_>>());
        assert_eq!(batches, [LISTED_BATCH, 5]);
        // Nothing wanted there, or no such folder: nothing handed over.
        let none = find_in_folder(&dir.path().join("missing"), &wanted[..2], |_| panic!());
        assert_eq!(none, [10, 11]);
        assert_ne!(name_key(b"a.jpg"), name_key(b"b.jpg"));
    }

    fn entry(path: &str, crc32: Option<u32>) -> Entry {
        let file = crate::source::Locator::File { symlink: false };
        Entry::new(0, file, path, 3, crc32)
    }

    fn load(lines: &[String]) -> Library {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(STATE_DIR);
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(state.join(FILE_NAME), lines.join("\n") + "\n").unwrap();
        load_library(dir.path()).unwrap()
    }

    /// What a parsed line says, comparable.
    #[allow(clippy::type_complexity)]
    fn said(
        p: &Parsed,
    ) -> Option<(
        Option<&str>,
        u128,
        Option<u128>,
        Option<u64>,
        Option<i64>,
        bool,
        &[(u128, u128)],
    )> {
        match p {
            Parsed::File {
                path,
                hash,
                output_hash,
                output_size,
                taken,
                retracted,
                sources,
            } => Some((
                path.as_deref(),
                *hash,
                *output_hash,
                *output_size,
                *taken,
                *retracted,
                sources,
            )),
            _ => None,
        }
    }

    #[test]
    fn lines_read_in_place_say_what_serde_json_reads_in_them() {
        let mut written: Vec<String> = Vec::new();
        for (i, l) in [
            line(A, "2019/a b.jpg", "Takeout/Google Photos/a b.jpg", Some(7)),
            line(B, "é/☕.heic", "Takeout/x.heic", None),
            Line {
                retracted: true,
                output_hash: None,
                taken: Some(-86_400),
                albums: vec!["Trip".into()],
                archived: true,
                ..line(A, "r.jpg", "e.jpg", Some(u32::MAX))
            },
            Line {
                sources: Vec::new(),
                output_size: Some(u64::MAX),
                xmp: Some("x.xmp".into()),
                gps: Some(crate::sidecar::Geo {
                    lat: 1.5,
                    lon: -22.5,
                    alt: Some(1e-7),
                }),
                ..line(B, "q\"uote.jpg", "e", None)
            },
        ]
        .into_iter()
        .enumerate()
        {
            let mut l = l;
            if i == 0 {
                l.sources.push(SourceKey {
                    entry: "Takeout/b.jpg".into(),
                    size: 0,
                    crc32: Some(0),
                });
            }
            written.push(serde_json::to_string(&l).unwrap());
        }
        // Lines by hand: fields given twice, nulls, unknown values of every kind, numbers
        // serde_json refuses for an integer field, a line cut short, spaces.
        let h = format!("\"hash\":\"{A}\",\"path\":\"p.jpg\"");
        for extra in [
            ",\"hash\":\"x\"",
            ",\"output_hash\":null,\"taken\":null,\"output_size\":null",
            ",\"output_hash\":\"1\",\"output_hash\":\"2\"",
            ",\"z\":{\"a\":[1,-2.5e-3,true,false,null,\"s\",{}]},\"y\":[]",
            ",\"taken\":1.0",
            ",\"taken\":1e3",
            ",\"output_size\":-1",
            ",\"z\":1e999",
            ",\"retracted\":null",
            ",\"sources\":null",
            ",\"sources\":[{\"entry\":\"e\",\"size\":1,\"crc32\":4294967296}]",
            ",\"sources\":[{\"entry\":\"e\",\"size\":1,\"size\":2}]",
            ",\"sources\":[{\"size\":1}]",
            ",\"sources\":[{\"entry\":\"e\",\"size\":1,\"crc32\":null,\"w\":[[]]}]",
            ", \"taken\":1",
            "",
        ] {
            written.push(format!("{{{h}{extra}}}"));
        }
        written.push("{\"path\":\"p\"}".to_string());
        written.push(format!("[{h}]"));
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut cases = 0;
        let mut in_place = 0;
        for base in &written {
            for round in 0..400 {
                let mut b = base.clone().into_bytes();
                // Round 0 as written; then one to three bytes changed, dropped or doubled,
                // to JSON's own characters for the most part.
                for _ in 0..(round > 0) as u64 * (1 + next() % 3) {
                    let at = (next() % b.len() as u64) as usize;
                    let byte = b"{}[]\":,-.0123456789eE+ntfa\\ \x01\xc3"[(next() % 29) as usize];
                    match next() % 3 {
                        0 => b[at] = byte,
                        1 => drop(b.remove(at)),
                        _ => b.insert(at, b[at]),
                    }
                    if b.is_empty() {
                        break;
                    }
                }
                cases += 1;
                let by_serde = parse_serde(&b);
                if let Some(p) = scan(&b) {
                    in_place += 1;
                    assert!(said(&p).is_some());
                    assert_eq!(said(&p), said(&by_serde), "{}", String::from_utf8_lossy(&b));
                }
                assert_eq!(
                    said(&parse(&b)),
                    said(&by_serde),
                    "{}",
                    String::from_utf8_lossy(&b)
                );
            }
        }
        // Most lines as written are read in place, and so are many of the changed ones.
        assert!(in_place * 8 > cases, "{in_place} of {cases}");
        assert!(scan(written[0].as_bytes()).is_some());
        assert!(
            scan(written[3].as_bytes()).is_none(),
            "an escape is serde_json's"
        );
    }

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn lines_are_read_once_in_order_with_retractions_and_unwritten_records() {
        let json = |l: &Line| serde_json::to_string(l).unwrap();
        let mut retract = line(B, "b.jpg", "T/b.jpg", Some(2));
        retract.retracted = true;
        retract.sources.clear();
        let unwritten = serde_json::json!({"unwritten": {
            "source": {"entry": "T/c.jpg", "size": 3, "crc32": 3},
            "status": "failed", "reason": "broken"}})
        .to_string();
        let sidecar = r#"{"sidecar": {"source": {"entry": "T/a.jpg.json", "size": 9}}}"#;
        let lib = load(&[
            json(&line(A, "a.jpg", "T/a.jpg", Some(1))),
            sidecar.to_string(),
            json(&line(B, "b.jpg", "T/b.jpg", Some(2))),
            unwritten,
            json(&retract),
            json(&line(A, "../out.jpg", "T/x.jpg", Some(4))),
            "{\"hash\": \"torn".to_string(),
        ]);
        assert_eq!(lib.files.len(), 1);
        assert_eq!(lib.path(0), "a.jpg");
        assert_eq!(lib.file_of_source(&entry("T/a.jpg", Some(1))), Some(0));
        // The same content named by another entry (a duplicate) is there too.
        assert_eq!(lib.file_of_source(&entry("T/x.jpg", Some(4))), Some(0));
        // Retracted: its entry is not in the library.
        assert_eq!(lib.file_of_source(&entry("T/b.jpg", Some(2))), None);
        assert_eq!(lib.file_of_source(&entry("T/a.jpg", Some(9))), None);
        // An extracted folder's entry (no CRC-32) by name and size.
        assert_eq!(lib.file_of_source(&entry("T/a.jpg", None)), Some(0));
        assert_eq!(lib.invalid, vec!["../out.jpg".to_string()]);
        let u = lib.unwritten_of(&entry("T/c.jpg", Some(3))).unwrap();
        assert_eq!((u.status.as_str(), u.reason.as_str()), ("failed", "broken"));
        assert!(lib.unwritten_of(&entry("T/a.jpg", Some(1))).is_none());
    }

    #[test]
    fn an_entry_recorded_again_with_content_now_gone_keeps_its_file() {
        let json = |l: &Line| serde_json::to_string(l).unwrap();
        // The entry is written as A, then a later line names it with B whose file was
        // retracted: the entry is still A's file.
        let mut retract = line(B, "b.jpg", "T/a.jpg", Some(1));
        retract.retracted = true;
        let lib = load(&[
            json(&line(A, "a.jpg", "T/a.jpg", Some(1))),
            json(&line(B, "b.jpg", "T/a.jpg", Some(1))),
            json(&retract),
        ]);
        assert_eq!(lib.file_of_source(&entry("T/a.jpg", Some(1))), Some(0));
        assert_eq!(lib.path(0), "a.jpg");
    }

    #[test]
    fn a_manifest_larger_than_the_read_buffer_is_read_whole() {
        // Lines across buffer boundaries, one of them longer than the buffer.
        let json = |l: &Line| serde_json::to_string(l).unwrap();
        let n = crate::manifest::READ_BUFFER / 150 + 1000;
        let mut lines: Vec<String> = (0..n)
            .map(|i| {
                let h = format!("{i:032x}");
                json(&line(
                    &h,
                    &format!("{i}.jpg"),
                    &format!("T/{i}.jpg"),
                    Some(i as u32),
                ))
            })
            .collect();
        let mut long = line(A, "long.jpg", "T/long.jpg", Some(7));
        long.albums = vec!["x".repeat(crate::manifest::READ_BUFFER + 10)];
        lines.insert(n / 2, json(&long));
        let lib = load(&lines);
        assert_eq!(lib.files.len(), n + 1);
        for i in [0, n / 2, n - 1] {
            let e = entry(&format!("T/{i}.jpg"), Some(i as u32));
            let f = lib.file_of_source(&e).unwrap();
            assert_eq!(lib.path(f), format!("{i}.jpg"));
        }
        assert!(lib.file_of_source(&entry("T/long.jpg", Some(7))).is_some());
    }

    /// A library in `dir` of the files `(path, content)`, written with `taken` as their
    /// time, and its manifest.
    fn library_with(dir: &Path, files: &[(&str, &[u8])]) -> Library {
        let taken = 1_500_000_000;
        let mut lines = Vec::new();
        for (i, (path, content)) in files.iter().enumerate() {
            let file = dir.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, content).unwrap();
            filetime::set_file_mtime(&file, filetime::FileTime::from_unix_time(taken, 0)).unwrap();
            let (h, _) = crate::hash::hash_stream(*content).unwrap();
            let l = Line {
                hash: format!("{i:032x}"),
                path: path.to_string(),
                output_hash: Some(crate::hash::hex(h)),
                output_size: Some(content.len() as u64),
                taken: Some(taken),
                ..Line::default()
            };
            lines.push(serde_json::to_string(&l).unwrap());
        }
        let state = dir.join(STATE_DIR);
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(state.join(FILE_NAME), lines.join("\n") + "\n").unwrap();
        load_library(dir).unwrap()
    }

    #[test]
    fn every_way_of_checking_finds_deleted_and_changed_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let files: Vec<(String, Vec<u8>)> = (0..40)
            .map(|i| {
                let folder = ["", "2019/07/", "2019/08/", "albums/Paris/"][i % 4];
                (format!("{folder}IMG_{i}.jpg"), vec![i as u8; 100 + i])
            })
            .collect();
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_slice()))
            .collect();
        let lib = library_with(root, &refs);
        let file = |k: usize| root.join(&files[k].0);
        // Deleted.
        std::fs::remove_file(file(1)).unwrap();
        std::fs::remove_file(file(6)).unwrap();
        // One byte more.
        std::fs::write(file(2), [files[2].1.clone(), vec![0]].concat()).unwrap();
        // Same size, another byte, its time kept (the content is not compared)...
        let mut bytes = files[3].1.clone();
        bytes[0] ^= 1;
        std::fs::write(file(3), &bytes).unwrap();
        let mtime = filetime::FileTime::from_unix_time(1_500_000_000, 0);
        filetime::set_file_mtime(file(3), mtime).unwrap();
        // ... and with a new time (compared: changed).
        let mut bytes = files[5].1.clone();
        bytes[7] ^= 1;
        std::fs::write(file(5), &bytes).unwrap();
        // A new time only (compared: intact).
        filetime::set_file_mtime(file(9), filetime::FileTime::from_unix_time(7, 0)).unwrap();
        // A folder where the file was, and a link to another file.
        std::fs::remove_file(file(10)).unwrap();
        std::fs::create_dir(file(10)).unwrap();
        #[cfg(unix)]
        {
            std::fs::remove_file(file(11)).unwrap();
            std::os::unix::fs::symlink(file(15), file(11)).unwrap();
        }
        let mut want: Vec<FileState> = vec![FileState::Intact; files.len()];
        for k in [1, 6, 10] {
            want[k] = FileState::Missing;
        }
        #[cfg(unix)]
        {
            want[11] = FileState::Missing;
        }
        want[2] = FileState::Changed;
        want[5] = FileState::Changed;
        // Files are numbered by their manifest line here.
        assert!((0..files.len()).all(|k| lib.path(k) == files[k].0));
        let all: Vec<usize> = (0..files.len()).collect();
        let by_path: Vec<FileState> = all.iter().map(|&f| lib.check(root, f, false)).collect();
        assert_eq!(by_path, want);
        let mut listed = lib.check_listed(root, &all);
        listed.sort_by_key(|(f, _)| *f);
        assert_eq!(listed.iter().map(|(_, s)| *s).collect::<Vec<_>>(), want);
        let ahead = lib.check_ahead(root, || true);
        for (k, state) in ahead.iter().enumerate() {
            // Settled from the metadata, or left for a content comparison.
            match k {
                5 | 9 => assert_eq!(*state, None, "{k}"),
                _ => assert_eq!(*state, Some(want[k]), "{k}"),
            }
        }
        // Full: every byte compared (3 is changed after all).
        want[3] = FileState::Changed;
        let full: Vec<FileState> = all.iter().map(|&f| lib.check(root, f, true)).collect();
        assert_eq!(full, want);
        // A subset, from the listings of their folders only.
        let some = [1, 2, 4, 8, 9];
        let mut listed = lib.check_listed(root, &some);
        listed.sort_by_key(|(f, _)| *f);
        let got: Vec<(usize, FileState)> = listed;
        let want_some: Vec<(usize, FileState)> = some
            .iter()
            .map(|&f| {
                (
                    f,
                    if f == 2 {
                        FileState::Changed
                    } else if f == 1 {
                        FileState::Missing
                    } else {
                        FileState::Intact
                    },
                )
            })
            .collect();
        assert_eq!(got, want_some);
    }

    #[test]
    fn checking_ahead_stops_when_no_longer_busy() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<(String, Vec<u8>)> =
            (0..10).map(|i| (format!("{i}.jpg"), vec![1; 10])).collect();
        let refs: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_slice()))
            .collect();
        let lib = library_with(dir.path(), &refs);
        let calls = std::cell::Cell::new(0);
        let ahead = lib.check_ahead(dir.path(), || {
            calls.set(calls.get() + 1);
            calls.get() <= 3
        });
        assert_eq!(ahead.iter().filter(|s| s.is_some()).count(), 3);
        assert!(ahead[..3].iter().all(|s| *s == Some(FileState::Intact)));
        assert!(lib
            .check_ahead(dir.path(), || false)
            .iter()
            .all(Option::is_none));
    }
}
