//! Albums: which Takeout folders are albums, the album list (`albums.json`), and album folders
//! of links or copies (`--albums links|copy`).
//!
//! A folder is an album when it holds an album metadata JSON (any language's file name:
//! recognised by content), or when it is neither a year folder ("Photos from 2019", "Fotos von
//! 2019", …) nor one of Google Photos' special folders (Archive, Trash, …).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::names::{key, sanitize_component, split_ext};
use crate::output::{ALBUMS_DIR, ALBUMS_FILE};
use crate::sidecar::AlbumInfo;

/// What to make of albums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AlbumsMode {
    /// Nothing.
    None,
    /// `albums.json`: each album and its files.
    Json,
    /// `albums.json` and `albums/<Album>/` folders of hard links (symbolic links where the
    /// file system has no hard links).
    Links,
    /// `albums.json` and `albums/<Album>/` folders of copies.
    Copy,
}

/// An album and the output files in it (relative paths).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Album {
    pub title: String,
    pub files: Vec<String>,
}

/// Google Photos' own folders, in the languages seen in Takeouts: not albums.
const SPECIAL: [&str; 20] = [
    "archive",
    "archiv",
    "archives",
    "archivo",
    "archivio",
    "archief",
    "arquivo",
    "trash",
    "bin",
    "papierkorb",
    "corbeille",
    "papelera",
    "cestino",
    "prullenbak",
    "lixeira",
    "locked folder",
    "failed videos",
    "gesperrter ordner",
    "dossier verrouillé",
    "carpeta bloqueada",
];

/// A year folder: words and one four-digit year ("Photos from 2019", "Fotos von 2019",
/// "Photos de 2019", "2019 年的照片"), and no album metadata.
pub fn is_year_folder(dir: &str, albums: &HashMap<String, AlbumInfo>) -> bool {
    let last = dir.rsplit('/').next().unwrap_or(dir);
    let digits: Vec<&str> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .collect();
    digits.len() == 1 && digits[0].len() == 4 && !albums.contains_key(&key(dir))
}

/// The album a Takeout folder stands for (its metadata title, else its name), if any.
/// `dir` is the folder below `Takeout/` (`Google Photos/Paris trip`).
pub fn album_title(dir: &str, albums: &HashMap<String, AlbumInfo>) -> Option<String> {
    if let Some(info) = albums.get(&key(dir)) {
        return Some(info.title.clone());
    }
    let (parent, last) = dir.rsplit_once('/')?;
    let odd = last.trim().is_empty() || last == "." || last == "..";
    if odd
        || parent.is_empty()
        || is_year_folder(dir, albums)
        || SPECIAL.contains(&key(last).as_str())
    {
        return None;
    }
    Some(last.to_string())
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

/// Writes `albums.json` atomically (temp file, then rename over the old one).
pub fn write_json(root: &Path, albums: &[Album]) -> io::Result<()> {
    let tmp = root.join(format!(".{ALBUMS_FILE}.tmp"));
    {
        let mut f = fs::File::create(&tmp)?;
        #[derive(Serialize)]
        struct AlbumsFile<'a> {
            albums: &'a [Album],
        }
        serde_json::to_writer_pretty(&mut f, &AlbumsFile { albums }).map_err(io::Error::other)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
    }
    fs::rename(&tmp, root.join(ALBUMS_FILE))
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
/// are the file are kept; nothing is ever overwritten. Returns notes for the report.
pub fn make_folders(root: &Path, albums: &[Album], copy: bool) -> Vec<String> {
    let mut notes = Vec::new();
    let mut symlinked = 0usize;
    for (album, folder) in albums.iter().zip(folder_names(albums)) {
        let dir = root.join(ALBUMS_DIR).join(&folder);
        if let Err(e) = fs::create_dir_all(&dir) {
            notes.push(format!("{}: {e}", dir.display()));
            continue;
        }
        let mut used = HashSet::new();
        for file in &album.files {
            let target = root.join(file);
            let base = file.rsplit('/').next().unwrap_or(file);
            match place(&dir, base, &target, file, copy, &mut used) {
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

/// Puts `target` into `dir` under `base` (or `base (2)`, … when that name holds another file).
fn place(
    dir: &Path,
    base: &str,
    target: &Path,
    rel_target: &str,
    copy: bool,
    used: &mut HashSet<String>,
) -> io::Result<Placed> {
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
            if same_file(&link, target) {
                return Ok(Placed::Already);
            }
            continue;
        }
        if copy {
            fs::copy(target, &link)?;
            let meta = fs::metadata(target)?;
            let mtime = filetime::FileTime::from_last_modification_time(&meta);
            filetime::set_file_times(&link, mtime, mtime)?;
            return Ok(Placed::Copied);
        }
        return match fs::hard_link(target, &link) {
            Ok(()) => Ok(Placed::HardLink),
            Err(_) => {
                symlink(&relative_target(rel_target), &link)?;
                Ok(Placed::Symlink)
            }
        };
    }
    unreachable!("names run out")
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
    fn which_folders_are_albums() {
        let mut meta = HashMap::new();
        meta.insert(
            key("Google Photos/Paris 2019"),
            AlbumInfo {
                title: "Paris 2019".into(),
                description: None,
            },
        );
        assert_eq!(
            album_title("Google Photos/Paris 2019", &meta).as_deref(),
            Some("Paris 2019")
        );
        assert_eq!(album_title("Google Photos/Photos from 2019", &meta), None);
        assert_eq!(album_title("Google Fotos/Fotos von 2019", &meta), None);
        assert_eq!(album_title("Google Photos/Trash", &meta), None);
        assert_eq!(album_title("Google Fotos/Papierkorb", &meta), None);
        assert_eq!(
            album_title("Google Photos/Wedding", &meta).as_deref(),
            Some("Wedding")
        );
        assert_eq!(album_title("Google Photos", &meta), None);
        assert_eq!(album_title("../..", &meta), None);
    }

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
