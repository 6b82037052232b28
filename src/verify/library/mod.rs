//! What the manifest says the library holds, for `verify --against`.
//!
//! The manifest is read once, a block of lines at a time, each line parsed into numbers
//! (content hashes and Takeout entries as 128-bit ids; the lines of a block in parallel) and
//! applied in file order. Sidecar lines are skipped unparsed; no line and no copy of the file
//! is kept.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::path::Path;

use rayon::prelude::*;

use super::{compare_hash, is_inside, FileState, VerifyError};
use crate::compact::{from_id, id, Id, IdMap, Span, Strings};
use crate::library::dir::STATE_DIR;
use crate::library::fs::open_nofollow;
use crate::library::manifest::{hash_id, Kind, LineView, PathLine, PathLines, FILE_NAME};
use crate::takeout::Entry;

/// A manifest record of an input entry that was not written (failed, or left out on
/// purpose): one line `{"unwritten": {"source": {...}, "status": "failed"|"skipped", "reason":
/// "..."}}`, written by `process`. It has no `hash`/`path`, so readers of the other lines skip
/// it. Consulted only for entries the library does not hold: a later run that wrote the entry
/// supersedes it.
pub use crate::library::manifest::Unwritten;

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
    /// Where its path is in the library's paths ([`Library::path`]).
    path: Span,
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
    paths: Strings<Box<str>>,
    /// Takeout entry ([`crate::library::manifest::source_id`]) → content hash.
    by_source: Recorded,
    /// (entry path, size) as [`crate::library::manifest::source_id`] without CRC-32 → content hash, for lookups where
    /// one side has no CRC-32 (extracted folders).
    by_name_size: Recorded,
    /// Takeout entry ([`crate::library::manifest::source_id`]) → its record of not being written.
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

/// One manifest line, by its kind: a file's line and an `unwritten` record read by serde_json,
/// a sidecar line skipped unread.
fn parse(line: &[u8]) -> Parsed {
    match Kind::of(line) {
        Kind::Sidecar | Kind::Parts | Kind::Album | Kind::Inputs => return Parsed::Other,
        Kind::Unwritten => {
            return Unwritten::parse(line).map_or(Parsed::Other, |u| Parsed::Unwritten(Box::new(u)))
        }
        Kind::File => {}
    }
    let Some(l) = LineView::parse(line) else {
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
            .sources()
            .iter()
            .map(|s| (s.id(), s.id_without_crc32()))
            .collect(),
    }
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
    /// [`crate::library::manifest::PathLines::current`] decides.
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
                        self.lines.write(&path, hash, k, None);
                        self.files.push(LibFile {
                            path: Span::default(),
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
        // The records are sorted beside the rest.
        let (mut by_source, mut by_name_size) = (
            std::mem::take(&mut self.by_source),
            std::mem::take(&mut self.by_name_size),
        );
        let ((), mut lib) = rayon::join(
            || {
                rayon::join(|| by_source.seal(), || by_name_size.seal());
            },
            || self.files_and_paths(),
        );
        (lib.by_source, lib.by_name_size) = (by_source, by_name_size);
        lib
    }

    /// The library's files and paths (its records still to come).
    fn files_and_paths(mut self) -> Library {
        // The file each path holds, in line order; of files with one content, the first.
        let (current, paths) = std::mem::take(&mut self.lines).current();
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
                f.path = c.span();
                files.push(std::mem::take(f));
            }
        }
        drop(inside);
        drop(current);
        drop(self.files);
        invalid.sort();
        invalid.dedup();
        Library {
            by_hash: IdMap::build(hashes, false),
            files,
            paths: paths.into_boxed(),
            by_source: Recorded::default(),
            by_name_size: Recorded::default(),
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
    // Lines are parsed in parallel, a block at a time (a core left idle by the indexing of
    // the inputs takes part), and applied in their order on this thread.
    let mut loading = Loading::default();
    each_parsed(file, BLOCK, |p| loading.apply(p)).map_err(io_err)?;
    Ok(loading.finish())
}

/// How much of the manifest is read and parsed at a time.
const BLOCK: usize = 256 << 10;

/// Reads the manifest a block of whole lines at a time, parses each block's lines in
/// parallel and hands them to `apply` in file order. A line longer than a block is read
/// whole; the last line needs no newline; empty lines are skipped.
fn each_parsed(
    mut file: impl io::Read,
    block_size: usize,
    mut apply: impl FnMut(Parsed),
) -> io::Result<()> {
    use std::io::Read;
    let mut block: Vec<u8> = Vec::new();
    loop {
        let kept = block.len();
        let want = block_size.max(kept * 2) - kept;
        // Short of `want` only at the end of the file (`read_to_end` reads on until then).
        let at_end = (&mut file).take(want as u64).read_to_end(&mut block)? < want;
        let whole = if at_end {
            block.len()
        } else {
            match block.iter().rposition(|&c| c == b'\n') {
                Some(i) => i + 1,
                None => continue, // a line longer than the block: read on
            }
        };
        let lines: Vec<&[u8]> = block[..whole]
            .split(|&c| c == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let parsed: Vec<Parsed> = lines
            .par_iter()
            .with_min_len(64)
            .map(|l| parse(l))
            .collect();
        parsed.into_iter().for_each(&mut apply);
        if at_end {
            return Ok(());
        }
        block.drain(..whole);
    }
}

impl Library {
    /// The path of library file `file`.
    pub(super) fn path(&self, file: usize) -> &str {
        let f = &self.files[file];
        self.paths.get(f.path)
    }

    /// Whether `hash` is the content of a current library file.
    fn is_current(&self, hash: u128) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// The library file the manifest records for this entry, by its name, size and CRC-32.
    pub(super) fn file_of_source(&self, e: &Entry) -> Option<usize> {
        let current = |h| self.is_current(h);
        let h = match self.by_source.get(e.id(e.crc32), current) {
            Some(h) => h,
            None => {
                // A folder entry (no CRC-32) against a library made from zips, or the
                // reverse: by name and size.
                let no_crc = e.id(None);
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
        self.unwritten.get(&e.id(e.crc32))
    }

    /// Checks a library file: by size and modification time (then by content if the time
    /// differs: a copy may not keep it), or by content with `full`.
    pub(super) fn check(&self, root: &Path, file: usize, full: bool) -> FileState {
        let path = root.join(self.path(file));
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            return FileState::Missing;
        };
        self.state_from_meta(file, &Meta::of(&meta), full)
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
            *state = self.state_from_meta(f, &Meta::of(&meta), false).ok();
        }
        states
    }

    /// The state of a library file from its metadata (not following a symbolic link), or
    /// `Err(hash)` when its content must be compared with that hash.
    fn state_from_meta(&self, file: usize, meta: &Meta, full: bool) -> Result<FileState, u128> {
        let f = &self.files[file];
        if !meta.is_file {
            return Ok(FileState::Missing);
        }
        let Some((want_hash, want_size)) = f.output else {
            return Ok(FileState::Intact); // an old line without output hash: presence only
        };
        let want_hash = from_id(want_hash);
        if meta.len != want_size {
            return Ok(FileState::Changed);
        }
        if !full && f.taken == Some(meta.mtime) {
            return Ok(FileState::Intact);
        }
        Err(want_hash)
    }

    /// Fast mode: checks `files` as [`Library::check`] does, a folder at a time: each folder
    /// is opened once and its files are looked up by name in it (in parallel), not each by
    /// its whole path. (Listing the folder first would cost as much again.)
    pub(super) fn check_listed(&self, root: &Path, files: &[usize]) -> Vec<(usize, FileState)> {
        let mut by_dir: Vec<(&str, &str, usize)> = files
            .iter()
            .map(|&f| {
                let p = self.path(f);
                let (dir, name) = p.rsplit_once('/').unwrap_or(("", p));
                (dir, name, f)
            })
            .collect();
        by_dir.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut out = Vec::with_capacity(files.len());
        for in_dir in by_dir.chunk_by(|a, b| a.0 == b.0) {
            let folder = root.join(in_dir[0].0);
            let states = match Folder::open(&folder) {
                Some(dir) => in_dir
                    .par_iter()
                    .map(|&(_, name, f)| {
                        let state = match dir.meta(name) {
                            Ok(meta) => self
                                .state_from_meta(f, &meta, false)
                                .unwrap_or_else(|want| compare_hash(&folder.join(name), want)),
                            Err(e) if e.kind() == io::ErrorKind::NotFound => FileState::Missing,
                            // Anything else (a name the system refuses, …): by its path.
                            Err(_) => self.check(root, f, false),
                        };
                        (f, state)
                    })
                    .collect(),
                None => in_dir
                    .par_iter()
                    .map(|&(_, _, f)| (f, self.check(root, f, false)))
                    .collect(),
            };
            out.extend::<Vec<_>>(states);
        }
        out
    }
}

/// What the fast check needs of a library file's metadata (not following a link).
#[derive(Debug, PartialEq)]
struct Meta {
    is_file: bool,
    len: u64,
    /// Modification time, whole seconds since the epoch.
    mtime: i64,
}

impl Meta {
    fn of(meta: &std::fs::Metadata) -> Meta {
        Meta {
            is_file: meta.is_file(),
            len: meta.len(),
            mtime: filetime::FileTime::from_last_modification_time(meta).unix_seconds(),
        }
    }
}

/// A library folder, open to look its files up by name.
struct Folder {
    #[cfg(unix)]
    dir: std::fs::File,
    #[cfg(not(unix))]
    path: std::path::PathBuf,
}

impl Folder {
    fn open(path: &Path) -> Option<Folder> {
        #[cfg(unix)]
        {
            // Only a folder: a FIFO where one should be would block the open.
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_NONBLOCK)
                .open(path)
                .ok()
                .map(|dir| Folder { dir })
        }
        #[cfg(not(unix))]
        {
            path.is_dir().then(|| Folder {
                path: path.to_path_buf(),
            })
        }
    }

    /// The metadata of `name` in this folder, not following a link: `fstatat`, which
    /// std has only for the entries of a listing.
    #[cfg(unix)]
    fn meta(&self, name: &str) -> io::Result<Meta> {
        use std::os::fd::AsRawFd;
        let name = std::ffi::CString::new(name)?;
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: a valid folder descriptor, a NUL-terminated name and room for the result;
        // `st` is read only when the call succeeded.
        let st = unsafe {
            if libc::fstatat(
                self.dir.as_raw_fd(),
                name.as_ptr(),
                st.as_mut_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            st.assume_init()
        };
        Ok(Meta {
            is_file: st.st_mode & libc::S_IFMT == libc::S_IFREG,
            len: st.st_size as u64,
            // `time_t` is 32 bits on some 32-bit systems.
            #[allow(clippy::useless_conversion)]
            mtime: i64::from(st.st_mtime),
        })
    }

    #[cfg(not(unix))]
    fn meta(&self, name: &str) -> io::Result<Meta> {
        std::fs::symlink_metadata(self.path.join(name)).map(|m| Meta::of(&m))
    }
}

#[cfg(test)]
mod tests;
