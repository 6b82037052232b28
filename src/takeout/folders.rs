//! What a folder of a Takeout stands for: a year folder, an album, or one of Google Photos'
//! own folders.
//!
//! A folder is an album when it holds an album metadata JSON (any language's file name:
//! recognised by content), or when it is neither a year folder ("Photos from 2019", "Fotos von
//! 2019", …) nor one of Google Photos' special folders (Archive, Trash, …).

use std::collections::HashMap;

use crate::names::key;
use crate::takeout::sidecar::AlbumInfo;

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
}
