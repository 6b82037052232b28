//! Albums in the library: the album list (`albums.json`) and album folders
//! of links or copies (`--albums links|copy`).
//!
//! The album list is gpbackup's own file only when its first field is
//! `"generator": "gpbackup"`: an `albums.json` without it is the user's and is never touched (the
//! list goes to `albums.gpbackup.json` instead, and the summary says so). The list is rewritten
//! only when its content changes, so a backup tool watching the folder sees no change.
//!
//! Which Takeout folders are albums is the Takeout's side: see `crate::takeout::folders`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::library::dir::{OutputDir, ALBUMS_DIR, ALBUMS_FILE, ALBUMS_OWN_FILE, GENERATOR};
use crate::library::fs::{open_nofollow, rename_noreplace};
use crate::names::{key, sanitize_component, split_ext};

/// An album and the output files in it (relative paths).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Album {
    pub title: String,
    pub files: Vec<String>,
}

/// The albums of the output: memberships from earlier runs merged with this run's
/// (album, output path) pairs; sorted by title, files sorted.
pub fn merge(
    earlier: &BTreeMap<String, BTreeSet<String>>,
    this_run: impl IntoIterator<Item = (String, String)>,
) -> Vec<Album> {
    let mut all = earlier.clone();
    for (album, path) in this_run {
        all.entry(album).or_default().insert(path);
    }
    all.into_iter()
        .map(|(title, files)| Album {
            title,
            files: files.into_iter().collect(),
        })
        .collect()
}

/// What a top-level file of the output holds.
enum Existing {
    Absent,
    /// gpbackup's, with these bytes.
    Ours(Vec<u8>),
    /// The user's.
    Theirs,
}

fn existing(out: &OutputDir, name: &str) -> io::Result<Existing> {
    let path = out.root().join(name);
    let mut f = match open_nofollow(&path, OpenOptions::new().read(true)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Existing::Absent),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    let ours = serde_json::from_slice::<serde_json::Value>(&bytes)
        .is_ok_and(|v| v.get("generator").and_then(|g| g.as_str()) == Some(GENERATOR));
    Ok(if ours {
        Existing::Ours(bytes)
    } else {
        Existing::Theirs
    })
}

/// Writes the album list atomically (temp file, then rename over gpbackup's own old one):
/// `albums.json`, or `albums.gpbackup.json` when `albums.json` is the user's; nothing when the
/// content is unchanged. Returns a note for the summary when the user's file was left alone.
pub fn write_json(out: &OutputDir, albums: &[Album]) -> io::Result<Option<String>> {
    #[derive(Serialize)]
    struct AlbumsFile<'a> {
        generator: &'static str,
        albums: &'a [Album],
    }
    let mut text = serde_json::to_vec_pretty(&AlbumsFile {
        generator: GENERATOR,
        albums,
    })
    .map_err(io::Error::other)?;
    text.push(b'\n');
    let (name, old, note) = match existing(out, ALBUMS_FILE)? {
        Existing::Theirs => {
            let note = format!(
                "{ALBUMS_FILE} is not gpbackup's (no \"generator\" field): left as it is; the \
                 album list is in {ALBUMS_OWN_FILE}"
            );
            match existing(out, ALBUMS_OWN_FILE)? {
                Existing::Theirs => {
                    return Ok(Some(format!(
                        "{ALBUMS_FILE} and {ALBUMS_OWN_FILE} are not gpbackup's: left as they \
                         are; the album list is only in the report"
                    )))
                }
                old => (ALBUMS_OWN_FILE, old, Some(note)),
            }
        }
        old => (ALBUMS_FILE, old, None),
    };
    if matches!(&old, Existing::Ours(bytes) if *bytes == text) {
        return Ok(note);
    }
    out.replace_own(name, &text)?;
    Ok(note)
}

/// Folder names for album titles, safe on every OS and distinct (case-insensitively).
pub fn folder_names(albums: &[Album]) -> Vec<String> {
    let mut used = HashSet::new();
    albums
        .iter()
        .map(|a| {
            let base = sanitize_component(&a.title).unwrap_or_else(|| "Untitled album".into());
            let mut name = base.clone();
            let mut n = 2;
            while !used.insert(key(&name)) {
                name = format!("{base} ({n})");
                n += 1;
            }
            name
        })
        .collect()
}

/// Makes `albums/<Album>/` folders of hard links (or copies). Existing entries that already
/// are the file are kept; nothing is ever overwritten, and no link is followed to a folder.
/// Returns notes for the report.
pub fn make_folders(out: &OutputDir, albums: &[Album], copy: bool) -> Vec<String> {
    let mut notes = Vec::new();
    let mut symlinked = 0usize;
    for (album, folder) in albums.iter().zip(folder_names(albums)) {
        let rel = format!("{ALBUMS_DIR}/{folder}");
        if let Err(e) = out.ensure_rel_dir(&rel) {
            notes.push(format!("{rel}: {e}"));
            continue;
        }
        let dir = out.root().join(&rel);
        let mut used = HashSet::new();
        for file in &album.files {
            let base = file.rsplit('/').next().unwrap_or(file);
            match place(out, &dir, base, file, copy, &mut used) {
                Ok(Placed::Symlink) => symlinked += 1,
                Ok(_) => {}
                Err(e) => notes.push(format!("{folder}/{base}: {e}")),
            }
        }
    }
    if symlinked > 0 {
        notes.push(format!(
            "{symlinked} album entries are symbolic links: the file system has no hard links"
        ));
    }
    notes
}

enum Placed {
    Already,
    HardLink,
    Symlink,
    Copied,
}

/// Puts the output file `rel_target` into `dir` under `base` (or `base (2)`, … when that name
/// holds another file). Every way in fails rather than replaces when the name is taken.
fn place(
    out: &OutputDir,
    dir: &Path,
    base: &str,
    rel_target: &str,
    copy: bool,
    used: &mut HashSet<String>,
) -> io::Result<Placed> {
    let target = out.root().join(rel_target);
    let (stem, ext) = split_ext(base);
    for n in 1.. {
        let name = if n == 1 {
            base.to_string()
        } else {
            format!("{stem} ({n}){ext}")
        };
        if !used.insert(key(&name)) {
            continue;
        }
        let link = dir.join(&name);
        if link.symlink_metadata().is_ok() {
            if same_file(&link, &target) {
                return Ok(Placed::Already);
            }
            continue;
        }
        let made = if copy {
            copy_file(out, &target, &link).map(|()| Placed::Copied)
        } else {
            match fs::hard_link(&target, &link) {
                Ok(()) => Ok(Placed::HardLink),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
                Err(_) => symlink(&relative_target(rel_target), &link).map(|()| Placed::Symlink),
            }
        };
        match made {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            made => return made,
        }
    }
    unreachable!("names run out")
}

/// Copies the output file `target` to `dest` through a temp file (same times), never
/// replacing `dest`.
fn copy_file(out: &OutputDir, target: &Path, dest: &Path) -> io::Result<()> {
    let (tmp, mut f) = out.temp_file()?;
    let result = (|| {
        let mut src = open_nofollow(target, OpenOptions::new().read(true))?;
        io::copy(&mut src, &mut f)?;
        let mtime = filetime::FileTime::from_last_modification_time(&src.metadata()?);
        filetime::set_file_handle_times(&f, Some(mtime), Some(mtime))?;
        if out.sync() {
            f.sync_all()?;
        }
        drop(f);
        rename_noreplace(&tmp, dest)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// From `albums/<Album>/` back to the output file.
fn relative_target(rel: &str) -> PathBuf {
    Path::new("..").join("..").join(rel)
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(windows)]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::windows::fs::symlink_file(target, link)
}

/// True when `link` is `target` (the same inode, or a symlink to it), or a copy of it of the
/// same size and modification time.
fn same_file(link: &Path, target: &Path) -> bool {
    let (Ok(a), Ok(b)) = (fs::metadata(link), fs::metadata(target)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if a.dev() == b.dev() && a.ino() == b.ino() {
            return true;
        }
    }
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_are_safe_and_distinct() {
        let a = |t: &str| Album {
            title: t.into(),
            files: vec![],
        };
        let names = folder_names(&[a("A/B"), a("A_B"), a("CON"), a("dots..."), a("a_b")]);
        assert_eq!(names, ["A_B", "A_B (2)", "CON_", "dots", "a_b (3)"]);
    }

    #[test]
    fn merge_keeps_earlier_memberships() {
        let mut earlier = BTreeMap::new();
        earlier.insert("Paris".to_string(), BTreeSet::from(["a.jpg".to_string()]));
        let merged = merge(
            &earlier,
            [
                ("Paris".into(), "b.jpg".into()),
                ("Rome".into(), "c.jpg".into()),
            ],
        );
        assert_eq!(
            merged[0],
            Album {
                title: "Paris".into(),
                files: vec!["a.jpg".into(), "b.jpg".into()]
            }
        );
        assert_eq!(merged[1].title, "Rome");
    }
}
