//! The output folder: one writer at a time (`.gpbackup/lock`), its own names, unique names for
//! the files it receives, each committed from a temp file in the folder with its modification
//! time and a rename that never replaces (the operations themselves are in
//! [`crate::library::fs`]), and no link followed inside it. Paths inside it are relative and
//! `/`-separated (`2019/07/IMG_1.jpg`).

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::cli::Layout;
use crate::compact::IdMap;
use crate::library::fs::{
    ensure_dir, link_error, open_nofollow, refuse_link, rename_noreplace, sync_dir, FailAfter,
    SafetyError,
};
use crate::names::{self, key, nfc, split_ext};

/// Folder inside the output that holds gpbackup's own state (manifest, temp files).
pub const STATE_DIR: &str = ".gpbackup";
const TMP_DIR: &str = "tmp";
/// The lock file inside [`STATE_DIR`]: one run at a time; it holds the pid of the holder.
pub const LOCK_FILE: &str = "lock";
const TEMP_SUFFIX: &str = ".part";
/// Album folders (`--albums links|copy`) and the album list.
pub const ALBUMS_DIR: &str = "albums";
pub const ALBUMS_FILE: &str = "albums.json";
/// The album list's name when `albums.json` is the user's own file.
pub const ALBUMS_OWN_FILE: &str = "albums.gpbackup.json";
/// The first field of gpbackup's JSON files (album list, report): `"generator": "gpbackup"`.
pub const GENERATOR: &str = "gpbackup";

/// Folder for files whose date taken is unknown, in the dated layouts.
pub const UNDATED_DIR: &str = "undated";

impl Layout {
    /// The folder (relative, `/`-separated) of a file taken at `local` (wall-clock date).
    pub fn dir_for(self, local: Option<chrono::DateTime<chrono::FixedOffset>>) -> String {
        match (self, local) {
            (Layout::Flat, _) => String::new(),
            (_, None) => UNDATED_DIR.to_string(),
            (Layout::Year, Some(d)) => d.format("%Y").to_string(),
            (Layout::YearMonth, Some(d)) => d.format("%Y/%m").to_string(),
        }
    }
}

/// True for the top-level names that hold gpbackup's own state and album list, not photos.
pub fn is_own_top_level(name: &str) -> bool {
    [STATE_DIR, ALBUMS_DIR, ALBUMS_FILE, ALBUMS_OWN_FILE].contains(&name)
}

/// True for the names of gpbackup's temp files (`<pid>-<n>.part`): the only files cleanup
/// removes.
fn is_temp_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(TEMP_SUFFIX) else {
        return false;
    };
    let Some((pid, n)) = stem.split_once('-') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(pid) && digits(n)
}

/// A name or path as a 128-bit number, for the sets of names in use: a library of a million
/// files is not a million strings in memory. Two names sharing one is as unlikely as two
/// photos sharing a content hash; it would only number a new file's name.
pub(crate) fn name_id(name: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(name.as_bytes())
}

/// The names already in the output folder, below its own folders: their keys (NFC, lower
/// case: names in use on any file system), and its files' paths NFC-normalized, as
/// [`name_id`]s. A link where gpbackup makes its own folders is refused.
fn list_names(root: &Path) -> io::Result<(HashSet<u128>, IdMap<()>)> {
    let mut taken = HashSet::new();
    let mut present: Vec<u128> = Vec::new();
    for own in [STATE_DIR, ALBUMS_DIR, ALBUMS_FILE, ALBUMS_OWN_FILE] {
        taken.insert(name_id(&key(own)));
    }
    if !root.is_dir() {
        return Ok((taken, IdMap::default()));
    }
    let walker = walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| {
            e.depth() > 1 || (e.file_name() != STATE_DIR && e.file_name() != ALBUMS_DIR)
        });
    for e in walker {
        let e = e.map_err(io::Error::other)?;
        let rel = e.path().strip_prefix(root).unwrap_or(e.path());
        let rel: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let rel = rel.join("/");
        if e.path_is_symlink() && is_own_position(&rel) {
            return Err(link_error(e.path()));
        }
        taken.insert(name_id(&key(&rel)));
        if e.file_type().is_file() {
            present.push(name_id(&nfc(&rel)));
        }
    }
    Ok((taken, IdMap::set_of(present)))
}

/// Where gpbackup makes its own folders, at the top of the output: a link there is refused.
fn is_own_position(rel: &str) -> bool {
    let year = |s: &str| s.len() >= 4 && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = rel.split('/').collect();
    match parts[..] {
        [one] => is_own_top_level(one) || one == UNDATED_DIR || year(one),
        [y, m] => year(y) && m.len() == 2 && m.bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

/// The exclusive lock on an output folder: `.gpbackup/lock`, held (with this process's id
/// written in it) for as long as the value lives. The operating system releases it when the
/// process ends, however it ends.
pub struct OutputLock {
    _file: File,
}

impl OutputLock {
    /// Takes the lock of the output folder `root`, creating `.gpbackup/` and the lock file if
    /// needed. Another holder: an error carrying [`SafetyError::Locked`] with its pid.
    pub fn acquire(root: &Path) -> io::Result<OutputLock> {
        let state = root.join(STATE_DIR);
        ensure_dir(&state)?;
        let path = state.join(LOCK_FILE);
        let file = open_nofollow(
            &path,
            OpenOptions::new().read(true).write(true).create(true),
        )?;
        Self::lock(file, &path, true)
    }

    /// For `verify`, which only reads: like [`acquire`](Self::acquire), but on a folder that
    /// cannot be written (a read-only mount, another user's folder) the existing lock file is
    /// locked as it is, and without one no lock is needed (nobody can be writing there).
    pub fn acquire_for_reading(root: &Path) -> io::Result<Option<OutputLock>> {
        match Self::acquire(root) {
            Ok(lock) => Ok(Some(lock)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied
                ) =>
            {
                let path = root.join(STATE_DIR).join(LOCK_FILE);
                match open_nofollow(&path, OpenOptions::new().read(true)) {
                    Ok(file) => Self::lock(file, &path, false).map(Some),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    fn lock(mut file: File, path: &Path, write_pid: bool) -> io::Result<OutputLock> {
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(io::Error::other(SafetyError::Locked {
                    pid: holder_pid(&mut file),
                }))
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot lock {}: {e}", path.display()),
                ))
            }
        }
        if write_pid {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(format!("{}\n", std::process::id()).as_bytes())?;
        }
        Ok(OutputLock { _file: file })
    }
}

/// The pid the lock holder wrote (it writes it right after taking the lock: wait for it a
/// moment).
fn holder_pid(file: &mut File) -> String {
    for _ in 0..50 {
        let mut text = String::new();
        if file.seek(SeekFrom::Start(0)).is_ok() && file.read_to_string(&mut text).is_ok() {
            if let Ok(pid) = text.trim().parse::<u32>() {
                return pid.to_string();
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    "unknown".into()
}

/// An existing path's canonical form; for a path that does not exist yet, its nearest
/// existing ancestor's canonical form with the rest appended.
fn canonical_lenient(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(c) = cur.canonicalize() {
            return rest.iter().rev().fold(c, |acc: PathBuf, r| acc.join(r));
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return abs,
        }
    }
}

/// True when `a` and `b` are the same file (device and inode; elsewhere the same canonical
/// path).
fn same_file(a: &fs::Metadata, b: &fs::Metadata, pa: &Path, pb: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = (pa, pb);
        a.dev() == b.dev() && a.ino() == b.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        pa.canonicalize()
            .ok()
            .is_some_and(|x| pb.canonicalize().ok() == Some(x))
    }
}

/// True when the file at `path` starts as gpbackup writes its JSON files: an object whose
/// first field is `"generator": "gpbackup"`.
pub fn written_by_us(path: &Path) -> io::Result<bool> {
    let mut head = Vec::with_capacity(256);
    open_nofollow(path, OpenOptions::new().read(true))?
        .take(256)
        .read_to_end(&mut head)?;
    Ok(starts_with_generator(&head))
}

fn starts_with_generator(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    for token in ["{", "\"generator\"", ":", &format!("\"{GENERATOR}\"")] {
        rest = rest.trim_ascii_start();
        match rest.strip_prefix(token.as_bytes()) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    true
}

/// Refuses, before any work, what would write where it must not: an output folder inside (or
/// equal to) an input folder, and a `--report` path that is an input, lies inside an input
/// folder, is a link, or is an existing file gpbackup did not write (an empty file is fine).
pub fn check_paths(
    output: &Path,
    inputs: &[PathBuf],
    report: Option<&Path>,
) -> Result<(), SafetyError> {
    let folders: Vec<(PathBuf, PathBuf)> = inputs
        .iter()
        .filter(|p| p.is_dir())
        .filter_map(|p| Some((p.clone(), p.canonicalize().ok()?)))
        .collect();
    let out = canonical_lenient(output);
    if let Some((input, _)) = folders.iter().find(|(_, c)| out.starts_with(c)) {
        return Err(SafetyError::OutputInInput {
            output: output.to_path_buf(),
            input: input.clone(),
        });
    }
    if let Some(report) = report {
        check_report_path(report, inputs, &folders)?;
    }
    Ok(())
}

fn check_report_path(
    report: &Path,
    inputs: &[PathBuf],
    folders: &[(PathBuf, PathBuf)],
) -> Result<(), SafetyError> {
    let refuse = |reason: String| SafetyError::Report {
        path: report.to_path_buf(),
        reason,
    };
    if let Ok(meta) = fs::metadata(report) {
        for input in inputs {
            if fs::metadata(input).is_ok_and(|m| same_file(&meta, &m, report, input)) {
                return Err(refuse(format!(
                    "is the input {}: inputs are only ever read",
                    input.display()
                )));
            }
        }
    }
    let canonical = canonical_lenient(report);
    if let Some((input, _)) = folders.iter().find(|(_, c)| canonical.starts_with(c)) {
        return Err(refuse(format!(
            "is inside the input folder {}: inputs are only ever read",
            input.display()
        )));
    }
    check_report_file(report).map_err(refuse)
}

/// The checks of the report path itself: absent, an empty file, or a report gpbackup wrote.
/// Also made just before the report is written.
pub fn check_report_file(report: &Path) -> Result<(), String> {
    match fs::symlink_metadata(report) {
        Err(_) => Ok(()),
        Ok(m) if m.file_type().is_symlink() => {
            Err("is a symbolic link: not followed; name the file itself".into())
        }
        Ok(m) if m.is_dir() => Err("is a folder".into()),
        Ok(m) if !m.is_file() => Err("is not a regular file".into()),
        Ok(m) if m.len() == 0 => Ok(()),
        Ok(_) => match written_by_us(report) {
            Ok(true) => Ok(()),
            Ok(false) => Err(
                "exists and is not a report gpbackup wrote: choose another path, or remove it"
                    .into(),
            ),
            Err(e) => Err(format!("cannot read it: {e}")),
        },
    }
}

pub struct OutputDir {
    root: PathBuf,
    tmp: PathBuf,
    /// Keys (NFC, lower-case: safe on case-insensitive file systems) of relative paths in use,
    /// as [`name_id`]s.
    taken: Mutex<HashSet<u128>>,
    /// Relative paths of the files present when the folder was opened, NFC-normalized (macOS
    /// volumes give names back decomposed), as [`name_id`]s.
    present: IdMap<()>,
    /// Folders (relative) known to be real folders, not links.
    dirs: Mutex<HashSet<String>>,
    counter: AtomicU64,
    /// This process's id, for temp file names (asked once: `getpid` is a system call).
    pid: u32,
    sync: bool,
    /// Held for the whole run (none in a dry run, which writes nothing).
    _lock: Option<OutputLock>,
    /// Test hook: commits fail as on a full disk past a number of bytes.
    fail_after: FailAfter,
}

/// A name to reserve (see [`OutputDir::reserve`]), its first choice and that choice's key
/// worked out ahead: in parallel, outside the lock under which names are reserved in order.
pub struct Wish {
    dir: String,
    wanted: String,
    first: String,
    id: u128,
}

impl Wish {
    /// The file name `wanted` in the folder `dir` (relative, `/`-separated, already safe).
    pub fn new(dir: &str, wanted: &str) -> Wish {
        let wanted = names::sanitize_component(wanted).unwrap_or_else(|| "unnamed".to_string());
        let first = if dir.is_empty() {
            wanted.clone()
        } else {
            format!("{dir}/{wanted}")
        };
        Wish {
            id: name_id(&key(&first)),
            dir: dir.to_string(),
            wanted,
            first,
        }
    }
}

impl OutputDir {
    /// Removes the output folder this run created (and locked) before finding that it had
    /// nothing to do: gpbackup's own files, then the folder, each only if nothing else is
    /// there. The lock file goes while it is still held, so that no other run can be
    /// holding it then.
    pub fn remove_new(self) {
        let state = self.root.join(STATE_DIR);
        let _ = fs::remove_dir(&self.tmp);
        let _ = fs::remove_file(state.join(LOCK_FILE));
        let root = self.root.clone();
        drop(self);
        let _ = fs::remove_dir(&state);
        let _ = fs::remove_dir(&root);
    }

    /// Creates the folder if needed, takes its lock, removes temp files left by an interrupted
    /// run, and notes the names already present. Refuses a link where gpbackup keeps its own
    /// folders and files. With `dry_run` nothing is created and no lock is taken.
    pub fn open(root: &Path, sync: bool, dry_run: bool) -> io::Result<OutputDir> {
        let state = root.join(STATE_DIR);
        let tmp = state.join(TMP_DIR);
        // The output folder itself may be a link the user made: it is theirs to choose.
        match fs::metadata(root) {
            Ok(m) if !m.is_dir() => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a folder", root.display()),
                ))
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound && !dry_run => fs::create_dir_all(root)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let lock = if dry_run {
            refuse_link(&state)?;
            refuse_link(&tmp)?;
            None
        } else {
            let lock = OutputLock::acquire(root)?;
            ensure_dir(&tmp)?;
            for e in fs::read_dir(&tmp)? {
                let e = e?;
                let ours = e.file_name().to_str().is_some_and(is_temp_name);
                if ours && e.file_type()?.is_file() {
                    let _ = fs::remove_file(e.path());
                }
            }
            Some(lock)
        };
        refuse_link(&state.join(crate::library::manifest::FILE_NAME))?;
        let albums = root.join(ALBUMS_DIR);
        refuse_link(&albums)?;
        if albums.is_dir() {
            for e in fs::read_dir(&albums)? {
                let e = e?;
                if e.file_type()?.is_symlink() {
                    return Err(link_error(&e.path()));
                }
            }
        }

        let (taken, present) = list_names(root)?;
        Ok(OutputDir {
            root: root.to_path_buf(),
            tmp,
            taken: Mutex::new(taken),
            present,
            dirs: Mutex::new(HashSet::new()),
            counter: AtomicU64::new(0),
            pid: std::process::id(),
            sync,
            _lock: lock,
            fail_after: FailAfter::from_env(),
        })
    }

    /// True when the file `rel` was in the folder when it was opened (no disk access), also
    /// when the file system gives its name back in another Unicode normalization form.
    pub fn was_present(&self, rel: &str) -> bool {
        self.present.contains_key(name_id(&nfc(rel)))
    }

    /// The size of a file of the folder now (`None`: not a file, never through a link).
    pub fn size_of(&self, rel: &str) -> Option<u64> {
        let meta = std::fs::symlink_metadata(self.root.join(rel)).ok()?;
        meta.is_file().then_some(meta.len())
    }

    /// True when `rel` was a file of the folder when it was opened and holds `size` bytes of
    /// content hash `hash` (xxh3-128) now: read only when its size is that size, never through
    /// a link at its name.
    pub fn holds_same(&self, rel: &str, size: u64, hash: u128) -> bool {
        if !self.was_present(rel) || self.size_of(rel) != Some(size) {
            return false;
        }
        let path = self.root.join(rel);
        let open = crate::library::fs::open_nofollow(&path, std::fs::OpenOptions::new().read(true));
        open.and_then(|f| crate::hash::hash_stream(io::BufReader::with_capacity(1 << 20, f)))
            .is_ok_and(|(h, len)| h == hash && len == size)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    /// True when files and folders are fsynced (`--sync`).
    pub fn sync(&self) -> bool {
        self.sync
    }

    /// Reserves a free path in the folder `dir` (relative, `/`-separated, already safe; empty
    /// for the top) based on the file name `wanted`: `IMG_0001.jpg`, then `IMG_0001 (2).jpg`,
    /// …. A name too long for the suffix is cut before the suffix is added. Deterministic
    /// when called in a deterministic order.
    pub fn reserve(&self, dir: &str, wanted: &str) -> String {
        self.reserve_wish(Wish::new(dir, wanted))
    }

    /// [`reserve`](Self::reserve) of a name whose first choice is worked out already.
    pub fn reserve_wish(&self, wish: Wish) -> String {
        let mut taken = self.taken.lock().expect("name lock");
        if taken.insert(wish.id) {
            return wish.first;
        }
        let join = |name: &str| {
            if wish.dir.is_empty() {
                name.to_string()
            } else {
                format!("{}/{name}", wish.dir)
            }
        };
        let (stem, ext) = split_ext(&wish.wanted);
        for n in 2u64.. {
            let suffix = format!(" ({n}){ext}");
            let mut end = stem.len().min(255usize.saturating_sub(suffix.len()));
            while !stem.is_char_boundary(end) {
                end -= 1;
            }
            let candidate = join(&format!("{}{suffix}", &stem[..end]));
            if taken.insert(name_id(&key(&candidate))) {
                return candidate;
            }
        }
        unreachable!("names run out")
    }

    /// Makes room for `n` more names at once: a set grown by doubling holds its old and new
    /// tables for a moment (at a million files, a peak of its own).
    pub fn expect_names(&self, n: usize) {
        self.taken.lock().expect("name lock").reserve(n);
    }

    /// Reserves exactly `name` (already safe), or returns false when it is taken.
    pub fn reserve_exact(&self, name: &str) -> bool {
        self.taken
            .lock()
            .expect("name lock")
            .insert(name_id(&key(name)))
    }

    /// Whether `name` is taken: by a file in the folder when the run began, or reserved.
    /// (A name that is not cannot be a file of gpbackup's.)
    pub fn is_taken(&self, name: &str) -> bool {
        let id = name_id(&key(name));
        self.taken.lock().expect("name lock").contains(&id)
    }

    /// Gives a reserved name back (its file was never written).
    pub fn release(&self, name: &str) {
        self.taken
            .lock()
            .expect("name lock")
            .remove(&name_id(&key(name)));
    }

    /// The next free name after `name` was found taken on disk: its ` (n)` counter (if any)
    /// dropped, then numbered afresh.
    fn next_free(&self, name: &str) -> String {
        let (dir, base) = name.rsplit_once('/').unwrap_or(("", name));
        let (stem, ext) = split_ext(base);
        let stem = match stem.strip_suffix(')').and_then(|s| s.rsplit_once(" (")) {
            Some((s, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => s,
            _ => stem,
        };
        self.reserve(dir, &format!("{stem}{ext}"))
    }

    /// Makes sure every folder of `rel_dir` (relative, `/`-separated) is a real folder inside
    /// the output, creating what is missing; a link is an error.
    pub fn ensure_rel_dir(&self, rel_dir: &str) -> io::Result<()> {
        let mut prefix = String::new();
        for part in rel_dir.split('/').filter(|p| !p.is_empty()) {
            let parent = self.root.join(&prefix);
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if self.dirs.lock().expect("dirs lock").contains(&prefix) {
                continue;
            }
            if ensure_dir(&self.root.join(&prefix))? && self.sync {
                sync_dir(&parent)?;
            }
            self.dirs.lock().expect("dirs lock").insert(prefix.clone());
        }
        Ok(())
    }

    /// A new temp file inside the output folder (same file system, so rename is atomic).
    pub fn temp_file(&self) -> io::Result<(PathBuf, File)> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let path = self.tmp.join(format!("{}-{n}{TEMP_SUFFIX}", self.pid));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok((path, file))
    }

    /// Sets the times, makes the data durable (with `sync`), and moves the temp file to
    /// `name`, never replacing anything: when `name` was taken meanwhile (by something other
    /// than this run), the next free name is used. Returns the name the file got.
    pub fn commit(
        &self,
        tmp: &Path,
        file: File,
        name: &str,
        mtime: Option<i64>,
    ) -> io::Result<String> {
        self.commit_as(tmp, file, name, mtime, true)
    }

    /// Like [`commit`](Self::commit), but to `name` only: when it is taken, an
    /// `ErrorKind::AlreadyExists` error (an XMP sidecar must keep its photo's name).
    pub fn commit_exact(
        &self,
        tmp: &Path,
        file: File,
        name: &str,
        mtime: Option<i64>,
    ) -> io::Result<()> {
        self.commit_as(tmp, file, name, mtime, false).map(|_| ())
    }

    /// Finishes a temp file that waits before it is put in place with
    /// [`commit_closed`](Self::commit_closed): its times set to `mtime`, its data durable
    /// with `sync`, and closed (many may wait at once, more than a process may hold open).
    pub fn close_temp(&self, file: File, mtime: Option<i64>) -> io::Result<()> {
        self.fail_after.commit(&file)?;
        self.settle(file, mtime)
    }

    /// [`commit`](Self::commit) for a temp file [`close_temp`](Self::close_temp) finished.
    pub fn commit_closed(&self, tmp: &Path, name: &str) -> io::Result<String> {
        self.rename_into(tmp, name, true)
    }

    fn commit_as(
        &self,
        tmp: &Path,
        file: File,
        name: &str,
        mtime: Option<i64>,
        renumber: bool,
    ) -> io::Result<String> {
        self.close_temp(file, mtime)?;
        self.rename_into(tmp, name, renumber)
    }

    /// Moves a finished temp file to `name` (see [`commit`](Self::commit)); with `renumber`,
    /// to the next free name when `name` was taken meanwhile.
    fn rename_into(&self, tmp: &Path, name: &str, renumber: bool) -> io::Result<String> {
        let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
        self.ensure_rel_dir(dir)?;
        let mut name = name.to_string();
        loop {
            match rename_noreplace(tmp, &self.root.join(&name)) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && renumber => {
                    name = self.next_free(&name);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{name} appeared during the run; not overwritten"),
                    ))
                }
                Err(e) => return Err(e),
            }
        }
        if self.sync {
            sync_dir(&self.root.join(dir))?;
        }
        Ok(name)
    }

    /// Sets a finished temp file's times to `mtime` and, with `sync`, makes its data durable;
    /// closes it.
    fn settle(&self, file: File, mtime: Option<i64>) -> io::Result<()> {
        if let Some(t) = mtime {
            let ft = filetime::FileTime::from_unix_time(t, 0);
            filetime::set_file_handle_times(&file, Some(ft), Some(ft))?;
        }
        if self.sync {
            file.sync_all()?;
        }
        Ok(())
    }

    /// Replaces gpbackup's own top-level file `name` (the album list) atomically with `bytes`
    /// (see [`OutputDir::replace_own_file`]).
    pub fn replace_own(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let (tmp, mut f) = self.temp_file()?;
        let result = f
            .write_all(bytes)
            .and_then(|()| self.replace_own_file(&tmp, f, name, None));
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Moves the temp file `tmp` (open as `file`) over gpbackup's own file `name` (relative,
    /// `/`-separated), or to it where nothing is. This is the one rename that replaces, for
    /// the album list and for a library file an update rewrites (and its XMP sidecar): the
    /// caller has checked that the file there is gpbackup's (for an update: read and found to
    /// be exactly what the manifest says gpbackup wrote), the folder is locked against other
    /// gpbackup runs, and the rename is atomic, so the file is at every moment either the old
    /// or the new version, never a mix or gone. A link or a folder there is an error. `mtime`
    /// sets the file's times; with `sync` its data and the folder entry are durable.
    pub fn replace_own_file(
        &self,
        tmp: &Path,
        file: File,
        name: &str,
        mtime: Option<i64>,
    ) -> io::Result<()> {
        self.settle(file, mtime)?;
        let dest = self.root.join(name);
        refuse_link(&dest)?;
        if fs::symlink_metadata(&dest).is_ok_and(|m| !m.is_file()) {
            return Err(io::Error::other(format!("{name} is not a file")));
        }
        fs::rename(tmp, &dest)?;
        if self.sync {
            if let Some(dir) = dest.parent() {
                sync_dir(dir)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
