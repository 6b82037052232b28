//! What each entry of the inputs is to gpbackup (a JSON file, a photo or video, or not ours),
//! and the one rule both commands apply to say whether an input is a Takeout at all.

use std::collections::HashSet;

use super::{Catalog, Entry, Input, InputKind};
use crate::metadata::media::MediaKind;
use crate::names::key;

/// How an input entry is treated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Class {
    Json,
    /// A media file (its kind by extension; `None` for an unknown file among the photos).
    Media(Option<MediaKind>),
    Ignored,
}

/// Why an input [`Catalog::not_takeout`] names is refused, in the words both commands print
/// after its path.
pub const NOT_TAKEOUT: &str = "contains no photos, videos or JSON sidecars; expected a Google \
                               Takeout .zip or an extracted Takeout folder";

/// A JSON file: a sidecar, an album's metadata, or another Takeout JSON.
pub fn is_json(e: &Entry) -> bool {
    is_json_name(e.name())
}

/// True for a name (or path) ending in `.json`, in any case.
pub fn is_json_name(name: &str) -> bool {
    let name = name.as_bytes();
    name.len() >= 5 && name[name.len() - 5..].eq_ignore_ascii_case(b".json")
}

/// Files other programs leave among photos, never photos themselves: macOS's AppleDouble
/// halves (`._IMG_0002.jpg`) and folder files, Windows' thumbnail caches and folder
/// settings, Synology's thumbnail folders (`@eaDir/IMG_1.jpg/SYNOPHOTO_THUMB_M.jpg`).
pub fn is_junk(e: &Entry) -> bool {
    const NAMES: [&str; 5] = [
        ".ds_store",
        "thumbs.db",
        "ehthumbs.db",
        "desktop.ini",
        "icon\r",
    ];
    const PREFIXES: [&str; 2] = ["synophoto_thumb", "synofile_thumb"];
    const FOLDERS: [&str; 4] = ["@eadir", "__macosx", ".appledouble", "@synoresource"];
    let name = e.name();
    let starts = |p: &str| {
        name.get(..p.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(p))
    };
    name.starts_with("._")
        || NAMES.iter().any(|n| name.eq_ignore_ascii_case(n))
        || PREFIXES.iter().any(|p| starts(p))
        || (e.path_parts().0.split('/')).any(|d| FOLDERS.iter().any(|f| d.eq_ignore_ascii_case(f)))
}

/// JSON, media, or not ours, for each entry. Files of unknown type count as media (copied and
/// reported) when they sit in a folder with photos or sidecars; anything else
/// (`archive_browser.html`, other Takeout products' files, [`is_junk`] files) is ignored and
/// listed.
pub fn classify(entries: &[Entry]) -> Vec<Class> {
    use rayon::prelude::*;
    let junk: Vec<bool> = entries.par_iter().map(is_junk).collect();
    // (A set of folders per split, keyed once merged: one key per folder, not per entry.)
    let photo_dirs: HashSet<String> = (entries.par_iter().zip(&junk))
        .filter(|(e, junk)| !**junk && (is_json(e) || MediaKind::from_name(e.name()).is_some()))
        .fold(HashSet::new, |mut dirs: HashSet<&str>, (e, _)| {
            dirs.insert(e.dir());
            dirs
        })
        .reduce(HashSet::new, |mut a, b| {
            a.extend(b);
            a
        })
        .into_iter()
        .map(key)
        .collect();
    (entries.par_iter().zip(junk))
        .map(|(e, junk)| {
            if e.symlink() || junk {
                Class::Ignored
            } else if is_json(e) {
                Class::Json
            } else if let Some(kind) = MediaKind::from_name(e.name()) {
                Class::Media(Some(kind))
            } else if !e.dir().is_empty() && photo_dirs.contains(&key(e.dir())) {
                Class::Media(None)
            } else {
                Class::Ignored
            }
        })
        .collect()
}

impl Catalog {
    /// The first input that is not a Takeout, if any. An input is a Takeout when it holds at
    /// least one entry that is not ignored (a photo, a video, a JSON file, or an unknown file
    /// among them: a part of a Takeout may hold only sidecars), or when it is a truncated
    /// download, whose entries past the cut are unknown. `classes` are the entries' classes
    /// as [`classify`] gives them.
    pub fn not_takeout(&self, classes: &[Class]) -> Option<&Input> {
        let mut takeout: Vec<bool> = self
            .inputs
            .iter()
            .map(|input| {
                // A damaged part is named as damaged, whatever it still holds.
                matches!(input.kind, InputKind::Recovered(_))
                    || self.damaged.iter().any(|d| d.path == input.path)
            })
            .collect();
        for (e, c) in self.entries.iter().zip(classes) {
            if *c != Class::Ignored {
                takeout[e.input_index()] = true;
            }
        }
        self.inputs
            .iter()
            .zip(takeout)
            .find_map(|(input, takeout)| (!takeout).then_some(input))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;
    use crate::takeout::Locator;

    #[test]
    fn junk_is_never_a_photo() {
        let zip = Locator::Zip {
            method: 8,
            symlink: false,
        };
        let e = |path: &str| Entry::new(0, zip, path, 1, Some(1));
        let y = "Takeout/Google Photos/Photos from 2019";
        let table = [
            (format!("{y}/._IMG_0002.jpg"), true),
            (format!("{y}/._IMG_0002.jpg.json"), true),
            (format!("{y}/.DS_Store"), true),
            (format!("{y}/Thumbs.db"), true),
            (format!("{y}/ehthumbs.db"), true),
            (format!("{y}/desktop.ini"), true),
            (format!("{y}/Icon\r"), true),
            (format!("{y}/@eaDir/IMG_1.jpg/SYNOPHOTO_THUMB_M.jpg"), true),
            (format!("{y}/@eaDir/IMG_1.jpg/SYNOFILE_THUMB_XL.jpg"), true),
            (format!("{y}/SYNOPHOTO_THUMB_S.jpg"), true),
            (format!("__MACOSX/{y}/IMG_1.jpg"), true),
            (format!("{y}/.AppleDouble/IMG_1.jpg"), true),
            (format!("{y}/@SynoResource/IMG_1.jpg"), true),
            // Photos whose names only look alike.
            (format!("{y}/IMG_0002.jpg"), false),
            (format!("{y}/_IMG_0002.jpg"), false),
            (format!("{y}/.hidden.jpg"), false),
            (format!("{y}/Thumbs.db.jpg"), false),
            (format!("{y}/eaDir/IMG_1.jpg"), false),
            (format!("{y}/my desktop.ini.png"), false),
        ];
        for (path, junk) in &table {
            assert_eq!(is_junk(&e(path)), *junk, "{path}");
        }
        // Classified as ignored; a folder of junk alone is no photo folder.
        let entries = vec![
            e(&format!("{y}/._IMG_0002.jpg")),
            e(&format!("{y}/IMG_0002.jpg")),
            e("Takeout/Google Photos/@eaDir/x/SYNOPHOTO_THUMB_M.jpg"),
            e("Takeout/Google Photos/@eaDir/x/odd.bin"),
        ];
        assert_eq!(
            classify(&entries),
            [
                Class::Ignored,
                Class::Media(Some(MediaKind::Jpeg)),
                Class::Ignored,
                Class::Ignored
            ]
        );
    }

    #[test]
    fn classification() {
        let zip = Locator::Zip {
            method: 8,
            symlink: false,
        };
        let e = |path: &str| Entry::new(0, zip, path, 1, Some(1));
        // Links (stored as links in a zip, or found by the walk of a folder) are never read.
        let zip_link = Locator::Zip {
            method: 0,
            symlink: true,
        };
        let file_link = Locator::File { symlink: true };
        let entries = vec![
            e("Takeout/archive_browser.html"),
            e("Takeout/Google Photos/Photos from 2019/a.jpg"),
            e("Takeout/Google Photos/Photos from 2019/a.jpg.json"),
            e("Takeout/Google Photos/Photos from 2019/odd.xyz"),
            e("Takeout/Google Drive/notes.txt"),
            Entry::new(
                0,
                zip_link,
                "Takeout/Google Photos/Photos from 2019/b.jpg",
                9,
                None,
            ),
            Entry::new(
                0,
                file_link,
                "Takeout/Google Photos/Photos from 2019/c.jpg",
                9,
                None,
            ),
        ];
        assert_eq!(
            classify(&entries),
            vec![
                Class::Ignored,
                Class::Media(Some(MediaKind::Jpeg)),
                Class::Json,
                Class::Media(None),
                Class::Ignored,
                Class::Ignored,
                Class::Ignored
            ]
        );
    }

    /// Inputs as `(name, damaged, entry paths)`.
    type Inputs<'a> = &'a [(&'a str, bool, &'a [&'a str])];

    /// A catalog of `inputs`, its entries classified.
    fn catalog(inputs: Inputs) -> (Catalog, Vec<Class>) {
        let zip = Locator::Zip {
            method: 8,
            symlink: false,
        };
        let mut catalog = Catalog::default();
        for (k, (name, damaged, paths)) in (0u32..).zip(inputs) {
            let kind = if *damaged {
                InputKind::Recovered(Arc::new(Vec::new()))
            } else {
                InputKind::Zip
            };
            catalog.inputs.push(Input::new(PathBuf::from(name), kind));
            for path in *paths {
                catalog.entries.push(Entry::new(k, zip, path, 1, Some(1)));
            }
        }
        let classes = classify(&catalog.entries);
        (catalog, classes)
    }

    #[test]
    fn an_input_is_a_takeout_when_it_holds_a_photo_a_video_or_a_sidecar_or_is_cut_off() {
        const PHOTO: &str = "Takeout/Google Photos/Photos from 2019/a.jpg";
        const VIDEO: &str = "Takeout/Google Photos/Photos from 2019/b.mp4";
        const SIDECAR: &str = "Takeout/Google Photos/Photos from 2019/a.jpg.json";
        const HTML: &str = "Takeout/archive_browser.html";
        const NOTES: &str = "Takeout/Google Drive/notes.txt";
        // (inputs, the input refused)
        let cases: [(Inputs, Option<&str>); 11] = [
            (&[("photos.zip", false, &[HTML, PHOTO])], None),
            (&[("video.zip", false, &[VIDEO])], None),
            (&[("sidecars.zip", false, &[HTML, SIDECAR])], None),
            (&[("html.zip", false, &[HTML])], Some("html.zip")),
            (&[("drive.zip", false, &[NOTES])], Some("drive.zip")),
            (&[("empty.zip", false, &[])], Some("empty.zip")),
            (&[("cut.zip", true, &[])], None),
            (&[("cut.zip", true, &[HTML])], None),
            // A sidecar-only part beside the part with its photo; an html-only one named
            // wherever it is given.
            (
                &[("001.zip", false, &[PHOTO]), ("002.zip", false, &[SIDECAR])],
                None,
            ),
            (
                &[
                    ("001.zip", false, &[PHOTO]),
                    ("002.zip", false, &[HTML]),
                    ("003.zip", false, &[SIDECAR]),
                ],
                Some("002.zip"),
            ),
            // An unknown file in a folder that holds a photo in another part.
            (
                &[
                    ("001.zip", false, &[PHOTO]),
                    (
                        "002.zip",
                        false,
                        &["Takeout/Google Photos/Photos from 2019/odd.xyz"],
                    ),
                ],
                None,
            ),
        ];
        for (inputs, refused) in cases {
            let (catalog, classes) = catalog(inputs);
            let got = catalog.not_takeout(&classes).map(|i| i.path.clone());
            assert_eq!(got, refused.map(PathBuf::from), "{inputs:?}");
        }
    }
}
