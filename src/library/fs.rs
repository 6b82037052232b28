//! Safe file operations for the output folder and gpbackup's own files: no link followed
//! where gpbackup keeps its own, no file replaced, files written whole (a temp file renamed
//! into place) and made durable; and why a path is refused ([`SafetyError`]).
//!
//! Test hook: `GPBACKUP_FAIL_AFTER_BYTES=N` makes the commit that would take the bytes written
//! by this run past N fail with "no space left on device", as a full disk does, so that the
//! full-disk path is tested without root (tests/it/safety.rs). It is read in every build (a
//! debug-only hook would make the test depend on the profile) and can only make a run stop.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The test hook's environment variable (see the module documentation).
pub const FAIL_AFTER_ENV: &str = "GPBACKUP_FAIL_AFTER_BYTES";

/// Why the output folder (or the report path) cannot be used safely.
#[derive(Debug, thiserror::Error)]
pub enum SafetyError {
    /// Another run holds the output folder's lock. The message spells out the lock's path,
    /// [`STATE_DIR`](crate::library::dir::STATE_DIR)`/`[`LOCK_FILE`](crate::library::dir::LOCK_FILE)
    /// (a test of `dir` holds the two together): this module names nothing of the folder.
    #[error(
        "in use by another gpbackup run (pid {pid}, holding .gpbackup/lock); wait for it to finish"
    )]
    Locked { pid: String },
    /// A link where gpbackup keeps its own folder or file.
    #[error("{} is a symbolic link: gpbackup follows no links inside its output folder; remove the link or choose another output folder", path.display())]
    Link { path: PathBuf },
    #[error("--report {}: {reason}", path.display())]
    Report { path: PathBuf, reason: String },
    #[error("the output folder {} is inside the input folder {}: choose an output folder outside it", output.display(), input.display())]
    OutputInInput { output: PathBuf, input: PathBuf },
}

impl SafetyError {
    /// True when the command line named something unusable (exit code 2), rather than the
    /// folder being busy or unsafe (exit code 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            SafetyError::Report { .. } | SafetyError::OutputInInput { .. }
        )
    }

    /// The safety error an I/O error carries, if it carries one.
    pub fn of(err: &io::Error) -> Option<&SafetyError> {
        err.get_ref()?.downcast_ref()
    }
}

/// The error of a link where gpbackup keeps its own folder or file.
pub(crate) fn link_error(path: &Path) -> io::Error {
    io::Error::other(SafetyError::Link {
        path: path.to_path_buf(),
    })
}

/// Opens an existing-or-new regular file without following a link at `path` (its folders are
/// checked by the caller) and without blocking on a FIFO. A link is a [`SafetyError::Link`].
pub fn open_nofollow(path: &Path, opts: &mut OpenOptions) -> io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    #[cfg(not(unix))]
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(link_error(path));
    }
    let file = opts.open(path);
    // O_NOFOLLOW's refusal of a link.
    #[cfg(unix)]
    let file = file.map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => link_error(path),
        _ => e,
    });
    let file = file?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok(file)
}

/// Errors unless `path` is absent or not a link.
pub(crate) fn refuse_link(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(link_error(path)),
        _ => Ok(()),
    }
}

/// Makes sure `path` is a real folder (not a link to one), creating it when missing (its
/// parent must exist). Returns true when it was created.
pub(crate) fn ensure_dir(path: &Path) -> io::Result<bool> {
    let check = |m: fs::Metadata| {
        if m.file_type().is_symlink() {
            Err(link_error(path))
        } else if m.is_dir() {
            Ok(false)
        } else {
            Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a folder", path.display()),
            ))
        }
    };
    match fs::symlink_metadata(path) {
        Ok(m) => check(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(path) {
            Ok(()) => Ok(true),
            // Made meanwhile (another thread of this run): check what it is.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                check(fs::symlink_metadata(path)?)
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// Makes a folder's entries (a rename, a new file) durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(path)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Moves `from` to `to` unless `to` exists (then `ErrorKind::AlreadyExists`, and nothing
/// moved). Linux: `renameat2(RENAME_NOREPLACE)`, one atomic step. Where the file system does
/// not support it (EINVAL), and elsewhere: a hard link to `to` (which fails if `to` exists),
/// then `from` unlinked. Where there are no hard links either (FAT, some shares): a check and
/// a rename, safe against other gpbackup runs because they are locked out.
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| {
            CString::new(p.as_os_str().as_bytes())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"))
        };
        let (f, t) = (c(from)?, c(to)?);
        // SAFETY: two valid NUL-terminated paths; the syscall only reads them. The raw syscall
        // needs no glibc 2.28 wrapper.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                f.as_ptr(),
                libc::AT_FDCWD,
                t.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if !matches!(err.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
            return Err(err);
        }
    }
    link_then_unlink(from, to)
}

fn link_then_unlink(from: &Path, to: &Path) -> io::Result<()> {
    match fs::hard_link(from, to) {
        Ok(()) => {
            // `to` is complete; a temp name left behind is removed by the next run.
            let _ = fs::remove_file(from);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => {
            if fs::symlink_metadata(to).is_ok() {
                return Err(io::ErrorKind::AlreadyExists.into());
            }
            fs::rename(from, to)
        }
    }
}

/// "No space left on device", as a full disk reports it.
fn disk_full() -> io::Error {
    #[cfg(unix)]
    {
        io::Error::from_raw_os_error(libc::ENOSPC)
    }
    #[cfg(not(unix))]
    {
        io::Error::new(io::ErrorKind::StorageFull, "no space left on device")
    }
}

/// The full-disk test hook (see the module documentation): the bytes committed so far and,
/// when the hook is set, the limit past which a commit fails.
pub(crate) struct FailAfter {
    limit: Option<u64>,
    committed: AtomicU64,
}

impl FailAfter {
    /// The hook as [`FAIL_AFTER_ENV`] sets it (none when it is not a number).
    pub(crate) fn from_env() -> FailAfter {
        FailAfter {
            limit: std::env::var(FAIL_AFTER_ENV)
                .ok()
                .and_then(|v| v.trim().parse().ok()),
            committed: AtomicU64::new(0),
        }
    }

    /// Counts `file`'s bytes as committed: past the limit, "no space left on device".
    pub(crate) fn commit(&self, file: &File) -> io::Result<()> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let len = file.metadata()?.len();
        if self.committed.fetch_add(len, Ordering::SeqCst) + len > limit {
            return Err(disk_full());
        }
        Ok(())
    }
}

/// A file written in a temp file beside its path, renamed into place (fsynced) by
/// [`AtomicFile::commit`]; dropped without it, the temp file is removed and `path` untouched.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    w: Option<io::BufWriter<File>>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
        let tmp = dir.join(format!(
            ".{}.{}.gpbackup-tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        // Left by a killed run that had this pid: ours, a regular file (not a link).
        if fs::symlink_metadata(&tmp).is_ok_and(|m| m.is_file()) {
            let _ = fs::remove_file(&tmp);
        }
        let f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            w: Some(io::BufWriter::new(f)),
        })
    }

    pub fn writer(&mut self) -> &mut io::BufWriter<File> {
        self.w.as_mut().expect("not committed yet")
    }

    /// Flushes the file and gives it back open for reading from its start, with its temp
    /// path, which is the caller's to remove: for a file written only to be read back.
    pub fn into_temp(mut self) -> io::Result<(PathBuf, File)> {
        let w = self.w.take().expect("not committed");
        drop(w.into_inner().map_err(io::IntoInnerError::into_error)?);
        let tmp = std::mem::take(&mut self.tmp);
        match File::open(&tmp) {
            Ok(f) => Ok((tmp, f)),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Flushes, fsyncs and renames the file into place.
    pub fn commit(mut self) -> io::Result<()> {
        let w = self.w.take().expect("committed once");
        let f = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&self.tmp, &self.path)?;
        // Renamed: nothing left for `drop` to remove.
        self.tmp = PathBuf::new();
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        self.w = None;
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Test hook: `GPBACKUP_FREE_BYTES=N` makes [`free_space`] answer N, so that the check of free
/// space before a run is tested without a small disk (tests/it/faults.rs), and so that a
/// full disk can still be met during a run. It changes only what the check sees.
pub const FREE_BYTES_ENV: &str = "GPBACKUP_FREE_BYTES";

/// The space free for this user on the file system holding `path` (or, when `path` does not
/// exist yet, its nearest existing folder); `None` where it cannot be known (on systems other
/// than Unix, or when the file system does not say).
pub fn free_space(path: &Path) -> Option<u64> {
    if let Some(n) = std::env::var(FREE_BYTES_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return Some(n);
    }
    let existing = (path.ancestors())
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .find(|p| p.exists())?;
    free_space_at(existing)
}

#[cfg(unix)]
fn free_space_at(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a NUL-terminated path and `st` a buffer of the size statvfs fills.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled `st`.
    let st = unsafe { st.assume_init() };
    #[allow(clippy::unnecessary_cast)] // the fields' types differ between Unix systems
    let (avail, frsize) = (st.f_bavail as u64, st.f_frsize as u64);
    Some(avail.saturating_mul(frsize))
}

/// Elsewhere the free space is not asked for (it would take a crate this project does not
/// use): the run goes ahead, and a full disk stops it cleanly as it would anyway.
#[cfg(not(unix))]
fn free_space_at(_path: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_noreplace_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, b"new").unwrap();
        fs::write(&b, b"old").unwrap();
        let err = rename_noreplace(&a, &b).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&b).unwrap(), b"old");
        assert!(a.exists());
        link_then_unlink(&a, &b).unwrap_err();
        assert_eq!(fs::read(&b).unwrap(), b"old");
        let c = dir.path().join("c");
        link_then_unlink(&a, &c).unwrap();
        assert_eq!(fs::read(&c).unwrap(), b"new");
        assert!(!a.exists());
    }

    #[test]
    fn safety_errors_that_are_usage_errors() {
        let p = PathBuf::from("x");
        let report = SafetyError::Report {
            path: p.clone(),
            reason: "is an input".into(),
        };
        let inside = SafetyError::OutputInInput {
            output: p.clone(),
            input: p.clone(),
        };
        assert!(report.is_usage() && inside.is_usage());
        assert!(!SafetyError::Locked { pid: "1".into() }.is_usage());
        assert!(!SafetyError::Link { path: p }.is_usage());
    }

    #[cfg(unix)]
    #[test]
    fn free_space_is_asked_of_the_nearest_existing_folder() {
        if std::env::var_os(FREE_BYTES_ENV).is_some() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let here = free_space(tmp.path()).expect("statvfs answers");
        // The tests write more than this into temp folders.
        assert!(here > 1 << 20, "{here}");
        let deeper = free_space(&tmp.path().join("not/yet/made")).expect("an ancestor");
        // The same file system, asked twice: within what other writers change meanwhile.
        assert!(here.abs_diff(deeper) < 1 << 30, "{here} {deeper}");
        assert!(free_space(Path::new("relative-not-made")).is_some());
    }
}
