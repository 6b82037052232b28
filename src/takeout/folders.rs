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

/// The album gpbackup lists the photos of Google Photos' Archive in (from its folder, or a
/// sidecar's `archived`), so that they stay apart from the rest without leaving the library.
pub const ARCHIVE_ALBUM: &str = "Google Photos Archive";
/// The album of the photos of the Locked Folder.
pub const LOCKED_ALBUM: &str = "Google Photos Locked Folder";
/// The album of the photos a partner shared (`googlePhotosOrigin.fromPartnerSharing`).
pub const PARTNER_ALBUM: &str = "Google Photos partner sharing";

/// The album of one of Google Photos' own folders whose photos are kept apart: the Archive
/// and the Locked Folder (in the languages seen in Takeouts).
pub fn special_album(dir: &str) -> Option<&'static str> {
    let last = key(dir.rsplit('/').next().unwrap_or(dir));
    match last.as_str() {
        "archive" | "archiv" | "archives" | "archivo" | "archivio" | "archief" | "arquivo" => {
            Some(ARCHIVE_ALBUM)
        }
        "locked folder" | "gesperrter ordner" | "dossier verrouillé" | "carpeta bloqueada" => {
            Some(LOCKED_ALBUM)
        }
        _ => None,
    }
}

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
        return Some(shown_title(
            dir.rsplit('/').next().unwrap_or(dir),
            &info.title,
        ));
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

/// The title an album is known by in the library, from its folder's name (`folder`, the last
/// component) and its metadata's `title`. Albums of one title are different albums: Google
/// names the second one's folder `Title(1)`, and it is shown as `Title (1)`. An untitled
/// album (title "") is shown by its folder's name (`Untitled(1)`, `Sans titre(9)`), so that
/// untitled albums stay apart.
pub fn shown_title(folder: &str, title: &str) -> String {
    if title.trim().is_empty() {
        return folder.to_string();
    }
    // The folder's name is the title, made safe for a file name (`Rome: day 1` → `Rome_ day 1`).
    let as_folder = |t: &str| {
        let safe: String = (t.chars())
            .map(|c| match c {
                '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
                c => c,
            })
            .collect();
        key(safe.trim())
    };
    let counter = folder
        .strip_suffix(')')
        .and_then(|f| f.rsplit_once('('))
        .filter(|(stem, n)| {
            !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
                && key(stem.trim()) == as_folder(title)
                && key(folder) != as_folder(title)
        });
    match counter {
        Some((_, n)) => format!("{title} ({n})"),
        None => title.to_string(),
    }
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
    fn the_archive_and_the_locked_folder_are_kept_apart() {
        let table = [
            ("Google Photos/Archive", Some(ARCHIVE_ALBUM)),
            ("Google Fotos/Archiv", Some(ARCHIVE_ALBUM)),
            ("Google Photos/Locked Folder", Some(LOCKED_ALBUM)),
            ("Google Fotos/Gesperrter Ordner", Some(LOCKED_ALBUM)),
            ("Google Photos/Trash", None),
            ("Google Photos/Photos from 2019", None),
            ("Google Photos/Archive 2019", None),
        ];
        for (dir, want) in table {
            assert_eq!(special_album(dir), want, "{dir}");
        }
    }

    #[test]
    fn albums_of_one_title_and_untitled_albums_stay_apart() {
        let table = [
            ("Viaje a León", "Viaje a León", "Viaje a León"),
            ("Viaje a León(1)", "Viaje a León", "Viaje a León (1)"),
            ("Viaje a León(12)", "Viaje a León", "Viaje a León (12)"),
            ("viaje a leon(1)", "Viaje a León", "Viaje a León"),
            ("Rome_ day 1", "Rome: day 1", "Rome: day 1"),
            ("Rome_ day 1(2)", "Rome: day 1", "Rome: day 1 (2)"),
            // A title that ends like a counter is its own.
            ("Party(1)", "Party(1)", "Party(1)"),
            ("Party(1)(1)", "Party(1)", "Party(1) (1)"),
            // Another name altogether: the title.
            ("Trip(1)", "Holiday", "Holiday"),
            ("Trip(x)", "Trip", "Trip"),
            ("Trip()", "Trip", "Trip"),
            // Untitled albums: their folders' names.
            ("Untitled(1)", "", "Untitled(1)"),
            ("Sans titre(9)", " ", "Sans titre(9)"),
        ];
        for (folder, title, want) in table {
            assert_eq!(shown_title(folder, title), want, "{folder} / {title:?}");
        }
        let mut meta = HashMap::new();
        for (dir, title) in [
            ("Google Photos/Viaje a León", "Viaje a León"),
            ("Google Photos/Viaje a León(1)", "Viaje a León"),
        ] {
            meta.insert(
                key(dir),
                AlbumInfo {
                    title: title.into(),
                    description: None,
                },
            );
        }
        assert_eq!(
            album_title("Google Photos/Viaje a León(1)", &meta).as_deref(),
            Some("Viaje a León (1)")
        );
        assert_eq!(
            album_title("Google Photos/Viaje a León", &meta).as_deref(),
            Some("Viaje a León")
        );
    }
}
