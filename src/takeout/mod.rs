//! Reading inputs: Takeout zips (streamed from their central directory, never extracted),
//! `.tgz` and `.tar` parts (read once, their files' bytes kept in the output folder until
//! the run ends: [`tgz`]) and already-extracted Takeout folders (walked with walkdir).
//!
//! Every input is opened and indexed once, up front. Media bytes are then read by workers, each
//! holding its own file handle per zip (`Reader`), built from the shared, already-parsed
//! central directory.
//!
//! A zip is read under [`zip`] (its format, its directory, a truncated download's recovery).
//! What each entry is, and the one rule for whether an input is a Takeout at all
//! ([`Catalog::not_takeout`]), are in `classify`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use self::classify::{classify, is_json, Class, NOT_TAKEOUT};
use self::zip::{CentralEntry, RawEntry};
use crate::compact::{Span, Strings};

mod classify;
pub mod folders;
pub mod matcher;
pub mod parts;
pub mod sidecar;
pub mod tgz;
pub mod zip;

/// Why an input cannot be used at all. Reported before any work starts (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}: no such file or directory")]
    Missing(PathBuf),
    #[error("{0}: the file is empty (expected a Takeout .zip)")]
    Empty(PathBuf),
    /// The bytes of a `.tgz` part could not be kept while it was read (see [`tgz`]).
    #[error(
        "{path}: while reading it, gpbackup keeps its photos in the output folder until they are \
         written, and that failed: {}",
        in_words_stage(source)
    )]
    Stage { path: PathBuf, source: io::Error },
    /// Ctrl-C while `.tgz` (or `.tar`) parts were read: nothing was written.
    #[error(
        "stopped while reading the .tgz or .tar parts, before anything was written: the library \
         is as it was. Run the same command again to do it"
    )]
    Stopped,
    #[error("{path}: {reason}")]
    NotZip { path: PathBuf, reason: String },
    #[error("{path}: cannot read it: {}", crate::words::io_error(source))]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: cannot list folder: {reason}")]
    Walk { path: PathBuf, reason: String },
}

/// A full disk in plain words, with what to do.
fn in_words_stage(err: &io::Error) -> String {
    if crate::words::disk_full(err) {
        "the output disk is full. A .tgz part needs room for its photos twice while it is \
         read (once kept, once in the library); free some space there, or give fewer parts \
         at a time, then run the same command again"
            .into()
    } else {
        crate::words::io_error(err)
    }
}

enum InputKind {
    /// A zip, indexed from its central directory (kept in `Entry`s: the zip crate's own,
    /// much larger, in-memory directory is dropped after indexing).
    Zip,
    /// A truncated zip: the entries recovered from its local headers.
    Recovered(Arc<Vec<RawEntry>>),
    /// A `.tgz` or `.tar` part, its files' bytes kept in this pack (see [`tgz`]).
    Tar(PathBuf),
    Dir,
}

/// One input given on the command line.
pub struct Input {
    pub path: PathBuf,
    kind: InputKind,
    /// When its export was made, as its name says (see [`parts::export_time`]): read once
    /// here, not for each of its entries.
    export: Option<u64>,
    /// Its path as the report shows it (made once, not for each of its entries).
    shown: Box<str>,
}

impl Input {
    fn new(path: PathBuf, kind: InputKind) -> Input {
        let export = parts::export_of(&path);
        let shown = path.display().to_string().into_boxed_str();
        Input {
            path,
            kind,
            export,
            shown,
        }
    }
}

/// Where an entry's bytes are (4 bytes: at a million entries every byte of [`Entry`] is a MB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locator {
    /// An entry of a zip: its local header is at `Entry::order`; compression method as in
    /// the zip format (0 stored, 8 deflated; anything else, or an encrypted entry, cannot be
    /// read and says what it is: see `zip::unsupported`). `symlink`: stored as a link.
    Zip { method: u16, symlink: bool },
    /// An entry of a zip that is not read: where the directory says its bytes are, they are
    /// not its own (see [`zip::refusals`]). `Entry::order` is its local header's position.
    Refused(zip::Refusal),
    /// An entry of a truncated zip: `Entry::order` is its index in the recovered entries.
    Recovered,
    /// A file of an extracted folder: `Entry::order` is its index in the catalog's files
    /// ([`Catalog::disk_path`]). `symlink`: the walk found a link.
    File { symlink: bool },
    /// An entry of a `.tgz` or `.tar` part: `Entry::order` is where its data is in the
    /// uncompressed tar stream and in the part's pack.
    Tar(tgz::TarKind),
}

/// One file inside an input (56 bytes; its name is in a string shared with the other
/// entries of its folder).
///
/// Its path inside the input, `/`-separated, as stored (may be hostile: never used as a
/// path), is kept in two parts: the folder, and the file name. Both are in one [`Names`]
/// shared by the entries of that folder of that input (a million entries live in a few
/// thousand folders): a string per name would cost 16 bytes of pointer and an allocation
/// each.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Index into the catalog's inputs ([`Entry::input_index`] as a `usize`).
    pub input: u32,
    pub locator: Locator,
    /// Its folder and the names of its folder's entries.
    names: Arc<Names>,
    /// Where its name is in `names.text`.
    name: Span,
    pub size: u64,
    /// Size of its compressed data (the size itself for files of a folder).
    pub compressed: u64,
    /// CRC-32 from the central directory (zips only): a free pre-hash for duplicate grouping.
    pub crc32: Option<u32>,
    /// Position in the input, to read entries in disk order (see [`Locator`] for what it is
    /// besides).
    pub order: u64,
}

/// Addresses one entry of a [`Catalog`] (four bytes: a million-entry Takeout keeps one per
/// media file and sidecar for the whole run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId(u32);

impl EntryId {
    /// The id of the entry at `index` in [`Catalog::entries`].
    pub fn of(index: usize) -> EntryId {
        EntryId(u32::try_from(index).expect("under 4 billion entries"))
    }

    /// Its index in [`Catalog::entries`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl Entry {
    /// An entry at `path` (its folder not shared with other entries: the catalog's indexing
    /// shares them, see [`Folders`]).
    pub fn new(input: u32, locator: Locator, path: &str, size: u64, crc32: Option<u32>) -> Entry {
        let mut folders = Folders::default();
        folders.add(input, locator, path, size, size, crc32, 0);
        let mut one = Vec::with_capacity(1);
        folders.finish(&mut one);
        one.pop().expect("one entry")
    }

    /// The path inside the input, as stored.
    pub fn path(&self) -> String {
        let (folder, name) = self.path_parts();
        let mut p = String::with_capacity(folder.len() + name.len());
        p.push_str(folder);
        p.push_str(name);
        p
    }

    /// The entry's key (see [`crate::hash::entry_id`]), with `crc32` for its CRC-32: the
    /// number the manifest records it under.
    pub fn id(&self, crc32: Option<u32>) -> u128 {
        let (folder, name) = self.path_parts();
        crate::hash::entry_id(self.size, crc32, &[folder, name])
    }

    /// The path's two parts: up to and with the last `/`, and the rest.
    pub fn path_parts(&self) -> (&str, &str) {
        (&self.names.folder, self.name())
    }

    /// The input it is in, as an index into [`Catalog::inputs`].
    pub fn input_index(&self) -> usize {
        self.input as usize
    }

    /// True for a symbolic link (never read: a link could point anywhere).
    pub fn symlink(&self) -> bool {
        matches!(
            self.locator,
            Locator::Zip { symlink: true, .. }
                | Locator::File { symlink: true }
                | Locator::Tar(tgz::TarKind::Link)
        )
    }

    /// The file name (last path component).
    pub fn name(&self) -> &str {
        self.names.text.get(self.name)
    }

    /// The folder part of the path, from below `Takeout/` when present, so that the same
    /// folder in different zips (or in an extracted copy) has the same key.
    pub fn dir(&self) -> &str {
        let folder = &*self.names.folder;
        strip_takeout_prefix(folder.strip_suffix('/').unwrap_or(folder))
    }
}

/// A path split after its last `/`: (folder with its `/`, file name).
fn split_path(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(at) => path.split_at(at + 1),
        None => ("", path),
    }
}

/// A folder of an input and the names of its entries, one after the other in one [`Strings`].
#[derive(Debug)]
struct Names {
    /// The path up to and with its last `/` (empty for entries at the top).
    folder: Box<str>,
    text: Strings<Box<str>>,
}

/// Entries being indexed: each is added with its path, and built once the names of its
/// folder are gathered (see [`Names`]).
#[derive(Default)]
struct Folders {
    /// Folder path → its place in `folders`.
    ids: HashMap<Box<str>, u32>,
    /// The folders of the entries added since the last [`Folders::finish`], and their names.
    folders: Vec<(Box<str>, Strings)>,
    added: Vec<Added>,
}

/// An entry added to [`Folders`], its name in its folder's string.
struct Added {
    input: u32,
    locator: Locator,
    folder: u32,
    name: Span,
    size: u64,
    compressed: u64,
    crc32: Option<u32>,
    order: u64,
}

impl Folders {
    /// Adds an entry at `path`; it is built by the next [`Folders::finish`].
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        input: u32,
        locator: Locator,
        path: &str,
        size: u64,
        compressed: u64,
        crc32: Option<u32>,
        order: u64,
    ) {
        let (folder, name) = split_path(path);
        let id = match self.ids.get(folder) {
            Some(&id) => id,
            None => {
                let id = u32::try_from(self.folders.len()).expect("under 4 billion folders");
                self.ids.insert(folder.into(), id);
                self.folders.push((folder.into(), Strings::default()));
                id
            }
        };
        let name = self.folders[id as usize].1.push(name);
        self.added.push(Added {
            input,
            locator,
            folder: id,
            name,
            size,
            compressed,
            crc32,
            order,
        });
    }

    /// Whether enough entries wait to be built (they are held twice until then).
    fn is_full(&self) -> bool {
        self.added.len() >= 1 << 16
    }

    /// Builds the entries added so far onto `out`, in the order they were added.
    fn finish(&mut self, out: &mut Vec<Entry>) {
        self.ids.clear();
        let names: Vec<Arc<Names>> = self
            .folders
            .drain(..)
            .map(|(folder, text)| {
                Arc::new(Names {
                    folder,
                    text: text.into_boxed(),
                })
            })
            .collect();
        out.extend(self.added.drain(..).map(|a| Entry {
            input: a.input,
            locator: a.locator,
            names: names[a.folder as usize].clone(),
            name: a.name,
            size: a.size,
            compressed: a.compressed,
            crc32: a.crc32,
            order: a.order,
        }));
    }
}

/// The folder part of an entry path, as [`Entry::dir`] gives it (for paths the manifest
/// recorded).
pub fn dir_of_path(path: &str) -> &str {
    strip_takeout_prefix(path.rsplit_once('/').map(|(d, _)| d).unwrap_or(""))
}

/// An input's index as [`Entry::input`] holds it.
fn input_number(input: usize) -> u32 {
    u32::try_from(input).expect("under 4 billion inputs")
}

fn strip_takeout_prefix(dir: &str) -> &str {
    let mut rest = dir;
    let mut from = dir;
    while let Some((head, tail)) = rest.split_once('/') {
        if head == "Takeout" {
            from = tail;
        }
        rest = tail;
    }
    if rest == "Takeout" {
        return "";
    }
    from.strip_prefix("Takeout/").unwrap_or(from)
}

/// A part whose end is missing (a download cut off) or that is damaged inside: what could
/// be recovered, what was lost.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Damaged {
    pub path: PathBuf,
    pub recovered: usize,
    /// The entry cut off, when its header was readable; entries after it are lost unnamed.
    pub lost: Option<String>,
    pub reason: String,
    /// True when the part simply ends early (an interrupted download); false when its bytes
    /// are wrong.
    pub ends_early: bool,
}

/// Something odd about an input entry that is still read (the same name twice in one zip, a
/// folder entry that holds data), for the report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EntryNote {
    /// `zip:path` as the entry is stored.
    pub source: String,
    pub note: String,
}

/// All inputs and all their entries, indexed once.
#[derive(Default)]
pub struct Catalog {
    pub inputs: Vec<Input>,
    pub entries: Vec<Entry>,
    /// Inputs given twice (same file), skipped.
    pub skipped_inputs: Vec<PathBuf>,
    /// Truncated zips, read as far as they go.
    pub damaged: Vec<Damaged>,
    /// Entries read despite something odd about them (listed in the report).
    pub entry_notes: Vec<EntryNote>,
    /// (input, `Entry::order`) → (k, n): the k-th of n entries of one zip with the same path.
    /// Only such entries are here (in most zips, none).
    copies: HashMap<(usize, u64), (u32, u32)>,
    /// The files of extracted folders, where they are on disk (see [`Locator::File`]).
    files: Vec<Box<Path>>,
    /// The content hashes of `.tgz` entries whose bytes were not kept (see
    /// [`tgz::Keep::SidecarsAndHashes`]), by (input, `Entry::order`).
    hashes: HashMap<(u32, u64), u128>,
    /// Where `.tgz` parts keep their files' bytes, when there are any (removed when the
    /// catalog is dropped).
    staging: Option<tgz::Staging>,
    /// The entries being indexed (only while indexing).
    folders: Folders,
}

impl Catalog {
    /// Opens and indexes every input. `exclude` is skipped when walking folders (the output
    /// folder may sit inside an input folder). `.tgz` parts keep their bytes in a temporary
    /// folder (see [`Catalog::open_with`]).
    pub fn open(paths: &[PathBuf], exclude: Option<&Path>) -> Result<Catalog, SourceError> {
        Catalog::open_with(paths, exclude, &tgz::TarOptions::default())
    }

    /// Opens and indexes every input; `.tgz` and `.tar` parts are read whole, as `tar` says.
    pub fn open_with(
        paths: &[PathBuf],
        exclude: Option<&Path>,
        tar: &tgz::TarOptions,
    ) -> Result<Catalog, SourceError> {
        let mut catalog = Catalog::default();
        // What each file given is, from its first bytes (a folder or a missing path: Other).
        let sniffed: Vec<tgz::Sniffed> = paths
            .iter()
            .map(|p| match std::fs::metadata(p) {
                Ok(m) if m.is_file() => tgz::sniff(p),
                _ => tgz::Sniffed::Other,
            })
            .collect();
        let tars: Vec<bool> = sniffed.iter().map(|s| *s != tgz::Sniffed::Other).collect();
        if tars.contains(&true) {
            catalog.staging =
                Some(
                    tgz::Staging::make(tar.place).map_err(|source| SourceError::Stage {
                        path: paths[tars.iter().position(|&t| t).unwrap_or(0)].clone(),
                        source,
                    })?,
                );
        }
        // An input given twice (the same file or folder) is read once.
        let canonicals: Vec<PathBuf> = paths
            .iter()
            .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()))
            .collect();
        let mut firsts = std::collections::HashSet::new();
        let first: Vec<bool> = canonicals.iter().map(|c| firsts.insert(c)).collect();
        // The zips' central directories are read in parallel (on a cold disk, each is a
        // seek and a read), and so are the tar parts (each a stream to inflate whole); they
        // are indexed in the order given.
        let staging = catalog.staging.as_ref();
        let mut prepared: Vec<Option<Prepared>> = {
            use rayon::prelude::*;
            paths
                .par_iter()
                .enumerate()
                .map(|(k, path)| match std::fs::metadata(path) {
                    Ok(_) if tars[k] && first[k] => {
                        let staging = staging.expect("made for the tar parts");
                        let pack = staging.pack(k);
                        Some(Prepared::Tar(tgz::read(path, sniffed[k], &pack, tar)))
                    }
                    Ok(m) if m.is_file() && !tars[k] => Some(Prepared::Zip(
                        zip::directory::central_directory(path, m.len()),
                    )),
                    _ => None,
                })
                .collect()
        };
        if prepared
            .iter()
            .any(|p| matches!(p, Some(Prepared::Tar(Err(SourceError::Stopped)))))
        {
            return Err(SourceError::Stopped);
        }
        // Room for every entry at once: a vector doubling as it fills holds up to twice the
        // entries for a moment (and copies them).
        let zipped: usize = prepared
            .iter()
            .flatten()
            .map(|p| match p {
                Prepared::Zip(Ok(c)) => c.len(),
                Prepared::Tar(Ok(t)) => t.items.len(),
                _ => 0,
            })
            .sum();
        catalog.entries.reserve_exact(zipped);
        for (k, path) in paths.iter().enumerate() {
            let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => SourceError::Missing(path.clone()),
                _ => SourceError::Io {
                    path: path.clone(),
                    source: e,
                },
            })?;
            let canonical = &canonicals[k];
            if !first[k] {
                catalog.skipped_inputs.push(path.clone());
                continue;
            }
            let index = catalog.inputs.len();
            if tars[k] {
                let read = match prepared[k].take() {
                    Some(Prepared::Tar(r)) => r?,
                    _ => unreachable!("every tar part given once is read above"),
                };
                let staging = catalog.staging.as_ref().expect("made for the tar parts");
                let pack = staging.pack(k);
                if let Some(d) = &read.damage {
                    catalog.damaged.push(Damaged {
                        path: path.clone(),
                        recovered: read.items.len(),
                        lost: d.lost.clone(),
                        reason: d.reason.clone(),
                        ends_early: d.ends_early,
                    });
                }
                catalog.index_tar(index, path, read.items);
                catalog
                    .inputs
                    .push(Input::new(path.clone(), InputKind::Tar(pack)));
            } else if meta.is_dir() {
                catalog.index_dir(index, path, canonical, exclude)?;
                catalog
                    .inputs
                    .push(Input::new(path.clone(), InputKind::Dir));
            } else {
                let central = match prepared[k].take() {
                    Some(Prepared::Zip(c)) => c,
                    _ => zip::directory::central_directory(path, meta.len()),
                };
                match central {
                    Ok(central) => {
                        catalog.index_zip(index, path, central);
                        catalog
                            .inputs
                            .push(Input::new(path.clone(), InputKind::Zip));
                    }
                    // No central directory, but it starts like a zip: a cut-off download.
                    Err(SourceError::NotZip { .. }) if zip::recover::looks_like_zip(path) => {
                        let found = zip::recover::scan(path).map_err(|e| SourceError::Io {
                            path: path.clone(),
                            source: e,
                        })?;
                        catalog.damaged.push(Damaged {
                            path: path.clone(),
                            recovered: found.entries.len(),
                            lost: found.lost.clone(),
                            reason: format!(
                                "truncated zip (no central directory); stopped at {}",
                                found.stopped
                            ),
                            ends_early: true,
                        });
                        catalog.index_recovered(index, path, &found.entries);
                        catalog.inputs.push(Input::new(
                            path.clone(),
                            InputKind::Recovered(Arc::new(found.entries)),
                        ));
                    }
                    Err(e) => return Err(e),
                }
            }
            catalog.number_copies(index);
        }
        catalog.entries.shrink_to_fit();
        catalog.folders = Folders::default();
        Ok(catalog)
    }

    /// A zip entry named like a folder (`X.jpg/`) that holds data is read as the file `X.jpg`,
    /// and said so: a photo is never dropped for its name. Returns the path to index it under,
    /// `None` for a real (empty) folder entry.
    fn file_path(&mut self, zip: &Path, name: String, size: u64) -> Option<String> {
        if !name.ends_with('/') {
            return Some(name);
        }
        let trimmed = name.trim_end_matches('/');
        if size == 0 || trimmed.is_empty() {
            return None;
        }
        self.entry_notes.push(EntryNote {
            source: format!("{}:{name}", zip.display()),
            note: format!(
                "named like a folder but holds {size} bytes of data: read as the file {trimmed}"
            ),
        });
        Some(trimmed.to_string())
    }

    /// Numbers the entries of `input` that share a path (a zip may hold the same name twice):
    /// each is still read as its own file, and named apart in the report.
    fn number_copies(&mut self, input: usize) {
        // This input's entries (the last ones) by a hash of their path: the same path twice
        // is two neighbours once sorted, told apart from another path of the same hash by
        // comparing the paths. (A map of paths to lists would take a fifth of indexing a zip.)
        let first = self
            .entries
            .iter()
            .rposition(|e| e.input_index() != input)
            .map_or(0, |i| i + 1);
        let mut keyed: Vec<(u64, usize)> = (first..self.entries.len())
            .map(|i| {
                let (folder, name) = self.entries[i].path_parts();
                let h = xxhash_rust::xxh3::xxh3_64(folder.as_bytes());
                (xxhash_rust::xxh3::xxh3_64_with_seed(name.as_bytes(), h), i)
            })
            .collect();
        keyed.sort_unstable();
        let mut notes = Vec::new();
        for run in keyed
            .chunk_by(|a, b| a.0 == b.0)
            .filter(|run| run.len() > 1)
        {
            // In entry order; each path of the run with the entries that have it.
            let mut rest: Vec<usize> = run.iter().map(|&(_, i)| i).collect();
            while let Some(&one) = rest.first() {
                let parts = self.entries[one].path_parts();
                let (same, other): (Vec<usize>, Vec<usize>) = rest
                    .iter()
                    .partition(|&&i| self.entries[i].path_parts() == parts);
                rest = other;
                if same.len() < 2 {
                    continue;
                }
                let n = same.len() as u32;
                for (k, i) in same.iter().enumerate() {
                    self.copies
                        .insert((input, self.entries[*i].order), (k as u32 + 1, n));
                }
                let (folder, name) = parts;
                let what = match self.inputs.get(input).map(|i| &i.kind) {
                    Some(InputKind::Tar(_)) => "archive",
                    _ => "zip",
                };
                notes.push(EntryNote {
                    source: format!("{}:{folder}{name}", self.inputs_path(input).display()),
                    note: format!(
                        "the {what} holds {n} entries with this name; each is read as its own file"
                    ),
                });
            }
        }
        notes.sort_by(|a, b| a.source.cmp(&b.source));
        self.entry_notes.extend(notes);
    }

    fn inputs_path(&self, input: usize) -> &Path {
        // Called while indexing, before the input is pushed.
        self.inputs
            .get(input)
            .map(|i| i.path.as_path())
            .unwrap_or(Path::new(""))
    }

    fn index_zip(&mut self, input: usize, zip: &Path, central: Vec<CentralEntry>) {
        let input = input_number(input);
        for e in central {
            let Some(path) = self.file_path(zip, e.name, e.size) else {
                continue;
            };
            // An encrypted entry keeps its method; the local header's flag makes it unreadable
            // (`zip::open_at`), and it is named as encrypted there.
            let locator = match e.refused {
                Some(why) => Locator::Refused(why),
                None => Locator::Zip {
                    method: e.method,
                    symlink: e.symlink,
                },
            };
            self.add_entry(
                input,
                locator,
                &path,
                e.size,
                e.compressed,
                Some(e.crc32),
                e.header_start,
            );
        }
        self.folders.finish(&mut self.entries);
    }

    /// Adds an entry of the input being indexed (see [`Folders::add`]), building the entries
    /// added so far when enough wait.
    #[allow(clippy::too_many_arguments)]
    fn add_entry(
        &mut self,
        input: u32,
        locator: Locator,
        path: &str,
        size: u64,
        compressed: u64,
        crc32: Option<u32>,
        order: u64,
    ) {
        self.folders
            .add(input, locator, path, size, compressed, crc32, order);
        if self.folders.is_full() {
            self.folders.finish(&mut self.entries);
        }
    }

    fn index_tar(&mut self, input: usize, part: &Path, items: Vec<tgz::TarItem>) {
        let number = input_number(input);
        for item in items {
            let Some(path) = self.file_path(part, item.path, item.size) else {
                continue;
            };
            if let Some(h) = item.hash {
                self.hashes.insert((number, item.pos), h);
            }
            self.add_entry(
                number,
                Locator::Tar(item.kind),
                &path,
                item.size,
                item.size,
                Some(item.crc32),
                item.pos,
            );
        }
        self.folders.finish(&mut self.entries);
    }

    /// The content hash of an entry whose bytes were not kept, when it was computed (see
    /// [`tgz::Keep::SidecarsAndHashes`]).
    pub fn content_hash(&self, e: &Entry) -> Option<u128> {
        self.hashes.get(&(e.input, e.order)).copied()
    }

    fn index_recovered(&mut self, input: usize, zip: &Path, found: &[RawEntry]) {
        let input = input_number(input);
        for (i, e) in (0u64..).zip(found) {
            let Some(path) = self.file_path(zip, e.name.clone(), e.size) else {
                continue;
            };
            self.add_entry(
                input,
                Locator::Recovered,
                &path,
                e.size,
                e.compressed,
                Some(e.crc32),
                i,
            );
        }
        self.folders.finish(&mut self.entries);
    }

    fn index_dir(
        &mut self,
        input: usize,
        root: &Path,
        canonical: &Path,
        exclude: Option<&Path>,
    ) -> Result<(), SourceError> {
        // Paths are keyed from below `Takeout/` when the folder is inside one, like zip entries.
        let prefix: String = {
            let comps: Vec<String> = canonical
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            match comps.iter().rposition(|c| c == "Takeout") {
                Some(i) => comps[i..].iter().map(|c| format!("{c}/")).collect(),
                None => String::new(),
            }
        };
        let walker = walkdir::WalkDir::new(root)
            .follow_links(false)
            .sort_by_file_name();
        let input = input_number(input);
        for item in walker.into_iter().filter_entry(|d| {
            exclude.is_none_or(|ex| d.path().canonicalize().map(|p| p != ex).unwrap_or(true))
        }) {
            let item = item.map_err(|e| SourceError::Walk {
                path: root.to_path_buf(),
                reason: e.to_string(),
            })?;
            if item.file_type().is_dir() {
                continue;
            }
            let rel = item.path().strip_prefix(root).unwrap_or(item.path());
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let size = item.metadata().map(|m| m.len()).unwrap_or(0);
            let locator = Locator::File {
                symlink: item.path_is_symlink(),
            };
            let path = format!("{prefix}{}", rel.join("/"));
            let order = self.files.len() as u64;
            self.files.push(item.path().into());
            self.add_entry(input, locator, &path, size, size, None, order);
        }
        self.folders.finish(&mut self.entries);
        Ok(())
    }

    /// How an entry is named in messages and the report: `takeout-001.zip:Takeout/…/a.jpg`.
    /// The entry `id` addresses.
    pub fn entry(&self, id: EntryId) -> &Entry {
        &self.entries[id.index()]
    }

    /// The export time of the input that holds `e` (see [`parts::export_time`]).
    pub fn export_of(&self, e: &Entry) -> Option<u64> {
        self.inputs[e.input_index()].export
    }

    pub fn describe(&self, e: &Entry) -> String {
        let input = &self.inputs[e.input_index()];
        match e.locator {
            Locator::Zip { .. } | Locator::Refused(_) | Locator::Recovered | Locator::Tar(_) => {
                let (folder, name) = e.path_parts();
                let mut text =
                    String::with_capacity(input.shown.len() + folder.len() + name.len() + 1);
                for part in [&*input.shown, ":", folder, name] {
                    text.push_str(part);
                }
                if let Some((k, n)) = self.copies.get(&(e.input_index(), e.order)) {
                    text.push_str(&format!(" (entry {k} of {n} with this name)"));
                }
                text
            }
            Locator::File { .. } => match self.disk_path(e) {
                Some(p) => p.display().to_string(),
                // Not a file this catalog indexed (an entry made elsewhere): its path.
                None => e.path(),
            },
        }
    }

    /// Where a file of an extracted folder is on disk; `None` for an entry of a zip.
    pub fn disk_path(&self, e: &Entry) -> Option<&Path> {
        match e.locator {
            Locator::File { .. } => self.files.get(e.order as usize).map(|p| &**p),
            _ => None,
        }
    }

    /// A reader for one worker thread. Zip handles are opened lazily, one per zip, with a
    /// read buffer of `buffer` bytes: small for sidecars (an entry away from the last one
    /// refills the buffer, a few hundred bytes wanted), large for media.
    pub fn reader(&self, buffer: usize) -> Reader<'_> {
        Reader {
            catalog: self,
            zips: (0..self.inputs.len()).map(|_| None).collect(),
            buf: PosBuffer {
                data: vec![0; buffer.max(64)].into_boxed_slice(),
                input: usize::MAX,
                start: 0,
                len: 0,
            },
            inflate: Box::new(flate2::Decompress::new(false)),
        }
    }
}

/// Reads entries' bytes; one per worker thread (file handles are not shared between threads).
/// Each zip is opened once; one read buffer serves them all (one entry is read at a time).
pub struct Reader<'c> {
    catalog: &'c Catalog,
    zips: Vec<Option<File>>,
    buf: PosBuffer,
    /// One decompressor for every entry this reader opens (reset per entry).
    inflate: Box<flate2::Decompress>,
}

/// A read buffer that remembers which file and which bytes of it it holds.
struct PosBuffer {
    data: Box<[u8]>,
    /// The input whose bytes are in `data` (`usize::MAX`: none).
    input: usize,
    /// File position of `data[0]`, and how many bytes of `data` are valid.
    start: u64,
    len: usize,
}

/// A zip read through the reader's buffer at explicit positions (`pread`): a seek only moves
/// the position, so entries read in disk order are served from one buffer refill after
/// another, with no `lseek` and no refill of bytes already in the buffer. A refill reads
/// what the entry being read still needs (see [`refill_len`]), not the whole buffer.
pub struct PosReader<'r> {
    file: &'r File,
    input: usize,
    buf: &'r mut PosBuffer,
    pos: u64,
    /// Where the bytes the caller is about to read probably end (the entry's end, from its
    /// central record): a refill stops there, rounded up to a page.
    until: u64,
}

/// Bytes a refill reads, rounded up to this (the page cache's unit).
const REFILL_PAGE: u64 = 4096;

/// How many bytes a refill of a buffer of `cap` bytes reads at `pos`: up to `until` (where
/// the entry being read probably ends) rounded up to a page, and at least a page. A refill
/// that continues where the last one ended (`last`: its end and length) reads the entries
/// in disk order: it reads twice as much as the last one (the whole buffer at most), as a
/// file's read-ahead does. Reading the whole buffer for every entry would copy 256 KB from
/// the page cache for a photo of 2 KB (in a run of tiny files, 6 GB for 165 MB of zips).
fn refill_len(pos: u64, until: u64, cap: usize, last: Option<(u64, usize)>) -> usize {
    let cap = cap as u64;
    let wanted = until
        .max(pos + 1)
        .div_ceil(REFILL_PAGE)
        .saturating_mul(REFILL_PAGE)
        - pos;
    let wanted = match last {
        Some((end, len)) if end == pos => wanted.max(2 * len as u64),
        _ => wanted,
    };
    wanted.clamp(REFILL_PAGE.min(cap), cap) as usize
}

impl PosReader<'_> {
    fn read_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
        loop {
            #[cfg(unix)]
            let r = std::os::unix::fs::FileExt::read_at(file, buf, at);
            #[cfg(windows)]
            let r = std::os::windows::fs::FileExt::seek_read(file, buf, at);
            match r {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }

    fn buffered(&self) -> bool {
        let b = &self.buf;
        b.input == self.input && self.pos >= b.start && self.pos < b.start + b.len as u64
    }
}

impl Read for PosReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        // A read as large as the buffer, with nothing buffered at the position: straight in.
        if !self.buffered() && out.len() >= self.buf.data.len() {
            let n = Self::read_at(self.file, out, self.pos)?;
            self.pos += n as u64;
            return Ok(n);
        }
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for PosReader<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if !self.buffered() {
            let b = &self.buf;
            let last = (b.input == self.input).then_some((b.start + b.len as u64, b.len));
            let len = refill_len(self.pos, self.until, b.data.len(), last);
            self.buf.input = usize::MAX;
            self.buf.len = Self::read_at(self.file, &mut self.buf.data[..len], self.pos)?;
            self.buf.input = self.input;
            self.buf.start = self.pos;
        }
        let off = (self.pos - self.buf.start) as usize;
        Ok(&self.buf.data[off..self.buf.len])
    }

    fn consume(&mut self, n: usize) {
        self.pos += n as u64;
    }
}

impl Seek for PosReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "seek before the start");
        self.pos = match to {
            SeekFrom::Start(p) => p,
            SeekFrom::Current(d) => self.pos.checked_add_signed(d).ok_or_else(invalid)?,
            SeekFrom::End(d) => self
                .file
                .metadata()?
                .len()
                .checked_add_signed(d)
                .ok_or_else(invalid)?,
        };
        Ok(self.pos)
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.pos)
    }
}

/// What the parallel first look at an input found.
enum Prepared {
    Zip(Result<Vec<CentralEntry>, SourceError>),
    Tar(Result<tgz::TarRead, SourceError>),
}

/// Read buffer for sidecars (each is a seek and a few hundred bytes).
pub const SMALL_BUFFER: usize = 8 * 1024;
/// Read buffer for media.
pub const LARGE_BUFFER: usize = 256 * 1024;

impl<'c> Reader<'c> {
    /// The catalog it reads entries of.
    pub fn catalog(&self) -> &'c Catalog {
        self.catalog
    }

    /// A stream of the entry's (decompressed) bytes. For zips the CRC-32 is checked when the
    /// stream reaches its end: a corrupt entry fails its read, it is never silently accepted.
    pub fn open(&mut self, e: &Entry) -> io::Result<Box<dyn Read + '_>> {
        if let Locator::Refused(why) = e.locator {
            return Err(io::Error::new(io::ErrorKind::InvalidData, why.message()));
        }
        if e.size > BOMB_MIN_SIZE && e.size / e.compressed.max(1) > BOMB_MAX_RATIO {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "suspected zip bomb: {} MB from {} KB of compressed data (limit {BOMB_MAX_RATIO}:1 \
                     above {} MB); not read",
                    e.size >> 20,
                    e.compressed >> 10,
                    BOMB_MIN_SIZE >> 20
                ),
            ));
        }
        let input = e.input_index();
        match e.locator {
            Locator::Refused(_) => unreachable!("refused above"),
            Locator::File { .. } => {
                let path = self
                    .catalog
                    .disk_path(e)
                    .ok_or_else(|| io::Error::other("entry is not a file of an indexed folder"))?;
                Ok(Box::new(File::open(path)?))
            }
            Locator::Recovered => {
                let InputKind::Recovered(found) = &self.catalog.inputs[input].kind else {
                    return Err(io::Error::other("entry is not in a recovered zip"));
                };
                let raw_entry = found
                    .get(e.order as usize)
                    .ok_or_else(|| io::Error::other("entry is not in the recovered zip"))?;
                let raw = zip::open(&self.catalog.inputs[input].path, raw_entry)?;
                Ok(Box::new(Checked::new(raw, e.size, Some(raw_entry.crc32))))
            }
            Locator::Zip { method, .. } => {
                let slot = &mut self.zips[input];
                if slot.is_none() {
                    let path = &self.catalog.inputs[input].path;
                    *slot = Some(File::open(path)?);
                }
                // Its local header, name, a little room for its extra field, and its data.
                let (folder, name) = e.path_parts();
                let span = 30 + 64 + (folder.len() + name.len()) as u64 + e.compressed;
                let file = PosReader {
                    file: slot.as_ref().expect("opened above"),
                    input,
                    buf: &mut self.buf,
                    pos: 0,
                    until: e.order.saturating_add(span),
                };
                let raw = zip::open_at_with(
                    file,
                    e.order,
                    e.compressed,
                    method,
                    Some(&mut self.inflate),
                )?;
                Ok(Box::new(Checked::new(raw, e.size, e.crc32)))
            }
            Locator::Tar(kind) => {
                let not_read = |why: &str| Err(io::Error::new(io::ErrorKind::InvalidData, why));
                match kind {
                    tgz::TarKind::Kept => {}
                    tgz::TarKind::Hashed => {
                        return not_read("its bytes were not kept (only its content hash)")
                    }
                    tgz::TarKind::Link => return not_read("a link in the archive; not read"),
                    tgz::TarKind::Special => {
                        return not_read(
                            "a device file or pipe in the archive, not a photo or video; not read",
                        )
                    }
                }
                let InputKind::Tar(pack) = &self.catalog.inputs[input].kind else {
                    return Err(io::Error::other("entry is not in a tar part"));
                };
                let slot = &mut self.zips[input];
                if slot.is_none() {
                    *slot = Some(File::open(pack)?);
                }
                let file = PosReader {
                    file: slot.as_ref().expect("opened above"),
                    input,
                    buf: &mut self.buf,
                    pos: e.order,
                    until: e.order.saturating_add(e.size),
                };
                Ok(Box::new(Checked::new(file.take(e.size), e.size, e.crc32)))
            }
        }
    }

    /// Reads a small entry (a JSON sidecar) whole, refusing anything over `max` bytes.
    pub fn read_small(&mut self, e: &Entry, max: u64) -> io::Result<Vec<u8>> {
        if e.size > max {
            return Err(io::Error::other(format!(
                "{} bytes is too large for a sidecar",
                e.size
            )));
        }
        let mut buf = Vec::with_capacity(e.size as usize);
        self.open(e)?.take(max + 1).read_to_end(&mut buf)?;
        if buf.len() as u64 > max {
            return Err(io::Error::other("larger than its declared size"));
        }
        Ok(buf)
    }
}

/// Entries over this size (and `.tgz` streams past it, see [`tgz`]) are checked against
/// `BOMB_MAX_RATIO`.
pub const BOMB_MIN_SIZE: u64 = 64 * 1024 * 1024;
/// Largest uncompressed-to-compressed ratio accepted for a large entry. Photos and videos
/// hardly compress (JPEG, HEIC, H.264 are compressed already); 100:1 is only reached by
/// crafted data.
pub const BOMB_MAX_RATIO: u64 = 100;

/// Passes an entry's bytes through, failing when they exceed its declared size, end before
/// it, or (when given) do not match its CRC-32.
struct Checked<R> {
    inner: R,
    expected: u64,
    read: u64,
    crc: Option<(u32, crc32fast::Hasher)>,
}

impl<R: Read> Checked<R> {
    fn new(inner: R, expected: u64, crc: Option<u32>) -> Self {
        Checked {
            inner,
            expected,
            read: 0,
            crc: crc.map(|c| (c, crc32fast::Hasher::new())),
        }
    }
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "more data than the {} bytes the zip declares (corrupt entry or zip bomb)",
                    self.expected
                ),
            ));
        }
        if let Some((_, h)) = &mut self.crc {
            h.update(&buf[..n]);
        }
        if n == 0 && !buf.is_empty() {
            if self.read < self.expected {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "entry ends after {} of its {} bytes",
                        self.read, self.expected
                    ),
                ));
            }
            if let Some((want, h)) = self.crc.take() {
                if h.finalize() != want {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "Invalid checksum",
                    ));
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
