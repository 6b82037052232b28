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
use crate::hash::{from_id, id, Id, IdMap};
use crate::library::dir::STATE_DIR;
use crate::library::fs::open_nofollow;
use crate::library::manifest::{hash_id, Kind, LineView, PathLine, PathLines, FILE_NAME};
use crate::names::span_of;
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

/// One manifest line, by its kind: a file's line and an `unwritten` record read by serde_json,
/// a sidecar line skipped unread.
fn parse(line: &[u8]) -> Parsed {
    match Kind::of(line) {
        Kind::Sidecar => return Parsed::Other,
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
            .sources
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
        invalid.sort();
        invalid.dedup();
        paths.shrink_to_fit();
        Library {
            by_hash: IdMap::build(hashes, false),
            files,
            paths,
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
        span_of(&self.paths, (f.at, f.len))
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
    /// its whole path. (Listing the folder first, as this did before, cost as much again.)
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
mod tests {
    use super::*;
    use crate::library::manifest::{Line, SourceKey};

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
    fn a_file_looked_up_in_its_folder_has_the_metadata_of_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.jpg"), b"12345").unwrap();
        let old = filetime::FileTime::from_unix_time(1_262_304_000, 0);
        filetime::set_file_mtime(d.join("a.jpg"), old).unwrap();
        std::fs::write(d.join("b c.jpg"), b"").unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(d.join("a.jpg"), d.join("link.jpg")).unwrap();
        let folder = Folder::open(d).unwrap();
        let a = folder.meta("a.jpg").unwrap();
        assert_eq!(
            a,
            Meta {
                is_file: true,
                len: 5,
                mtime: 1_262_304_000
            }
        );
        for name in ["a.jpg", "b c.jpg", "sub", "link.jpg"] {
            let Ok(by_path) = std::fs::symlink_metadata(d.join(name)) else {
                continue;
            };
            assert_eq!(folder.meta(name).unwrap(), Meta::of(&by_path), "{name}");
        }
        // A link is not followed, a folder is not a file.
        #[cfg(unix)]
        assert!(!folder.meta("link.jpg").unwrap().is_file);
        assert!(!folder.meta("sub").unwrap().is_file);
        let gone = folder.meta("gone.jpg").unwrap_err();
        assert_eq!(gone.kind(), io::ErrorKind::NotFound);
        assert_ne!(
            folder.meta("a\0b").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert!(Folder::open(&d.join("missing")).is_none());
        // A file, or a FIFO, where the folder should be: none (and no wait on the FIFO).
        assert!(Folder::open(&d.join("a.jpg")).is_none());
        #[cfg(unix)]
        {
            let fifo = std::ffi::CString::new(d.join("fifo").into_os_string().into_encoded_bytes())
                .unwrap();
            assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
            assert!(Folder::open(&d.join("fifo")).is_none());
        }
    }

    fn entry(path: &str, crc32: Option<u32>) -> Entry {
        let file = crate::takeout::Locator::File { symlink: false };
        Entry::new(0, file, path, 3, crc32)
    }

    fn load(lines: &[String]) -> Library {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(STATE_DIR);
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(state.join(FILE_NAME), lines.join("\n") + "\n").unwrap();
        load_library(dir.path()).unwrap()
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
        let n = BLOCK / 150 + 1000;
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
        long.albums = vec!["x".repeat(BLOCK + 10)];
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

    /// A reader that gives at most 5 bytes a read.
    struct Trickle<'a>(&'a [u8]);

    impl io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(5).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn lines_are_parsed_a_block_at_a_time_and_applied_in_order() {
        let json = |l: &Line| serde_json::to_string(l).unwrap();
        let mut text = String::new();
        let mut want = Vec::new();
        for i in 0..40u32 {
            let mut l = line(&format!("{i:032x}"), &format!("{i}.jpg"), "e", Some(i));
            if i == 17 {
                l.albums = vec!["y".repeat(300)]; // longer than a block
            }
            text += &json(&l);
            want.push(i);
            text += if i == 9 { "\n\n" } else { "\n" };
            if i == 30 {
                text += "{\"sidecar\":{}}\n";
            }
        }
        text.pop(); // the last line without its newline
        for block in [64, 100, 4096] {
            let mut got = Vec::new();
            let mut others = 0;
            each_parsed(Trickle(text.as_bytes()), block, |p| match p {
                Parsed::File { taken, hash, .. } => {
                    assert_eq!(taken, Some(0));
                    got.push(hash);
                }
                _ => others += 1,
            })
            .unwrap();
            let want: Vec<u128> = want.iter().map(|i| hash_id(&format!("{i:032x}"))).collect();
            assert_eq!(got, want, "block {block}");
            assert_eq!(others, 1);
        }
        // A line far longer than a block is read in blocks that double (a few reads, not
        // one per block's worth).
        let mut long = line(A, "long.jpg", "e", Some(1));
        long.albums = vec!["z".repeat(1 << 20)];
        let text = json(&long) + "\n";
        let mut n = 0;
        each_parsed(text.as_bytes(), 64, |_| n += 1).unwrap();
        assert_eq!(n, 1);
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
        // A folder gone: each of its files is missing.
        std::fs::remove_dir_all(root.join("albums/Paris")).unwrap();
        let mut listed = lib.check_listed(root, &[7, 0, 3]);
        listed.sort_by_key(|(f, _)| *f);
        let want_gone = [
            (0, FileState::Intact),
            (3, FileState::Missing),
            (7, FileState::Missing),
        ];
        assert_eq!(listed, want_gone);
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
