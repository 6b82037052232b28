//! The output folder: unique names, atomic writes (temp file in the folder, fsync, rename),
//! modification times. Paths inside it are relative and `/`-separated (`2019/07/IMG_1.jpg`).

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
/// Album folders (`--albums links|copy`) and the album list.
pub const ALBUMS_DIR: &str = "albums";
pub const ALBUMS_FILE: &str = "albums.json";

/// How the output folder is organised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// Every file in the top folder.
    Flat,
    /// `2019/IMG_1.jpg`, by local date taken.
    Year,
    /// `2019/07/IMG_1.jpg`, by local date taken.
    YearMonth,
}

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

pub struct OutputDir {
    root: PathBuf,
    tmp: PathBuf,
    /// Keys (NFC, lower-case: safe on case-insensitive file systems) of relative paths in use.
    taken: Mutex<HashSet<String>>,
    /// Exact relative paths of the files present when the folder was opened.
    present: HashSet<String>,
    counter: AtomicU64,
    sync: bool,
}

impl OutputDir {
    /// Creates the folder if needed, removes temp files left by an interrupted run, and notes
    /// the names already present. With `dry_run` nothing is created.
    pub fn open(root: &Path, sync: bool, dry_run: bool) -> io::Result<OutputDir> {
        let tmp = root.join(STATE_DIR).join(TMP_DIR);
        let mut taken = HashSet::new();
        let mut present = HashSet::new();
        for own in [STATE_DIR, ALBUMS_DIR, ALBUMS_FILE] {
            taken.insert(key(own));
        }
        if root.is_dir() {
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
                taken.insert(key(&rel));
                if e.file_type().is_file() {
                    present.insert(rel);
                }
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
            present,
            counter: AtomicU64::new(0),
            sync,
        })
    }

    /// True when the file `rel` was in the folder when it was opened (no disk access).
    pub fn was_present(&self, rel: &str) -> bool {
        self.present.contains(rel)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    /// Reserves a free path in the folder `dir` (relative, `/`-separated, already safe; empty
    /// for the top) based on the file name `wanted`: `IMG_0001.jpg`, then `IMG_0001 (2).jpg`,
    /// …. Deterministic when called in a deterministic order.
    pub fn reserve(&self, dir: &str, wanted: &str) -> String {
        let wanted = names::sanitize_component(wanted).unwrap_or_else(|| "unnamed".to_string());
        let join = |name: &str| {
            if dir.is_empty() {
                name.to_string()
            } else {
                format!("{dir}/{name}")
            }
        };
        let mut taken = self.taken.lock().expect("name lock");
        if taken.insert(key(&join(&wanted))) {
            return join(&wanted);
        }
        let (stem, ext) = split_ext(&wanted);
        for n in 2.. {
            let candidate = join(&names::truncate_keeping_ext(
                &format!("{stem} ({n}){ext}"),
                255,
            ));
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
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
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
        assert_eq!(out.reserve("", "img_0001.JPG"), "img_0001 (2).JPG");
        assert_eq!(out.reserve("", "IMG_0001.jpg"), "IMG_0001 (3).jpg");
        assert_eq!(out.reserve("", "new.png"), "new.png");
        assert_eq!(out.reserve("", ".gpbackup"), ".gpbackup (2)");
        assert_eq!(out.reserve("", "../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(out.reserve("2019/07", "new.png"), "2019/07/new.png");
        assert_eq!(out.reserve("2019/07", "NEW.png"), "2019/07/NEW (2).png");
        assert_eq!(out.reserve("", "albums"), "albums (2)");
    }

    #[test]
    fn commit_is_atomic_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutputDir::open(dir.path(), true, false).unwrap();
        let (tmp, mut f) = out.temp_file().unwrap();
        io::Write::write_all(&mut f, b"photo").unwrap();
        let dest = out.commit(&tmp, f, "a.jpg", Some(1562253012)).unwrap();
        let (tmp2, f2) = out.temp_file().unwrap();
        let nested = out.commit(&tmp2, f2, "2019/07/b.jpg", None).unwrap();
        assert!(nested.ends_with("2019/07/b.jpg") && nested.is_file());
        // Existing nested files are known to a new run.
        let again = OutputDir::open(dir.path(), false, true).unwrap();
        assert_eq!(again.reserve("2019/07", "b.jpg"), "2019/07/b (2).jpg");
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
