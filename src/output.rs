//! The output folder: unique names, atomic writes (temp file in the folder, fsync, rename),
//! modification times.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::names::{self, key, split_ext};

/// Folder inside the output that holds gpbackup's own state (manifest, temp files).
pub const STATE_DIR: &str = ".gpbackup";
const TMP_DIR: &str = "tmp";

pub struct OutputDir {
    root: PathBuf,
    tmp: PathBuf,
    /// Keys (NFC, lower-case: safe on case-insensitive file systems) of names in use.
    taken: Mutex<HashSet<String>>,
    counter: AtomicU64,
    sync: bool,
}

impl OutputDir {
    /// Creates the folder if needed, removes temp files left by an interrupted run, and notes
    /// the names already present. With `dry_run` nothing is created.
    pub fn open(root: &Path, sync: bool, dry_run: bool) -> io::Result<OutputDir> {
        let tmp = root.join(STATE_DIR).join(TMP_DIR);
        let mut taken = HashSet::new();
        taken.insert(key(STATE_DIR));
        if root.is_dir() {
            for e in fs::read_dir(root)? {
                taken.insert(key(&e?.file_name().to_string_lossy()));
            }
        } else if root.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a folder", root.display()),
            ));
        }
        if !dry_run {
            fs::create_dir_all(&tmp)?;
            for e in fs::read_dir(&tmp)? {
                let _ = fs::remove_file(e?.path());
            }
        }
        Ok(OutputDir {
            root: root.to_path_buf(),
            tmp,
            taken: Mutex::new(taken),
            counter: AtomicU64::new(0),
            sync,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    /// Reserves a free name based on `wanted`: `IMG_0001.jpg`, then `IMG_0001 (2).jpg`, ….
    /// Deterministic when called in a deterministic order.
    pub fn reserve(&self, wanted: &str) -> String {
        let wanted = names::sanitize_component(wanted).unwrap_or_else(|| "unnamed".to_string());
        let mut taken = self.taken.lock().expect("name lock");
        if taken.insert(key(&wanted)) {
            return wanted;
        }
        let (stem, ext) = split_ext(&wanted);
        for n in 2.. {
            let candidate = names::truncate_keeping_ext(&format!("{stem} ({n}){ext}"), 255);
            if taken.insert(key(&candidate)) {
                return candidate;
            }
        }
        unreachable!("names run out")
    }

    /// Reserves exactly `name` (already safe), or returns false when it is taken.
    pub fn reserve_exact(&self, name: &str) -> bool {
        self.taken.lock().expect("name lock").insert(key(name))
    }

    /// Gives a reserved name back (its file was never written).
    pub fn release(&self, name: &str) {
        self.taken.lock().expect("name lock").remove(&key(name));
    }

    /// A new temp file inside the output folder (same file system, so rename is atomic).
    pub fn temp_file(&self) -> io::Result<(PathBuf, File)> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let path = self.tmp.join(format!("{}-{n}.part", std::process::id()));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok((path, file))
    }

    /// Sets the times, makes the data durable (with `sync`), and moves the temp file to
    /// `name`. Never replaces an existing file.
    pub fn commit(
        &self,
        tmp: &Path,
        file: File,
        name: &str,
        mtime: Option<i64>,
    ) -> io::Result<PathBuf> {
        if let Some(t) = mtime {
            let ft = filetime::FileTime::from_unix_time(t, 0);
            filetime::set_file_handle_times(&file, Some(ft), Some(ft))?;
        }
        if self.sync {
            file.sync_all()?;
        }
        drop(file);
        let dest = self.root.join(name);
        if dest.symlink_metadata().is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} appeared during the run; not overwritten",
                    dest.display()
                ),
            ));
        }
        fs::rename(tmp, &dest)?;
        Ok(dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collisions_get_numbered_case_insensitively() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("IMG_0001.jpg"), b"x").unwrap();
        let out = OutputDir::open(dir.path(), false, false).unwrap();
        assert_eq!(out.reserve("img_0001.JPG"), "img_0001 (2).JPG");
        assert_eq!(out.reserve("IMG_0001.jpg"), "IMG_0001 (3).jpg");
        assert_eq!(out.reserve("new.png"), "new.png");
        assert_eq!(out.reserve(".gpbackup"), ".gpbackup (2)");
        assert_eq!(out.reserve("../../etc/passwd"), ".._.._etc_passwd");
    }

    #[test]
    fn commit_is_atomic_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutputDir::open(dir.path(), true, false).unwrap();
        let (tmp, mut f) = out.temp_file().unwrap();
        io::Write::write_all(&mut f, b"photo").unwrap();
        let dest = out.commit(&tmp, f, "a.jpg", Some(1562253012)).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"photo");
        let mtime = filetime::FileTime::from_last_modification_time(&fs::metadata(&dest).unwrap());
        assert_eq!(mtime.unix_seconds(), 1562253012);
        assert!(!tmp.exists());
        let (tmp, f) = out.temp_file().unwrap();
        assert!(out.commit(&tmp, f, "a.jpg", None).is_err());
        assert_eq!(fs::read(&dest).unwrap(), b"photo");
    }

    #[test]
    fn leftover_temp_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutputDir::open(dir.path(), false, false).unwrap();
        let (tmp, _f) = out.temp_file().unwrap();
        drop(out);
        OutputDir::open(dir.path(), false, false).unwrap();
        assert!(!tmp.exists());
    }
}
