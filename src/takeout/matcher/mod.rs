//! Pairing media files with their JSON sidecars.
//!
//! Matching is an ordered list of rules, from the most to the least specific. Every direct rule
//! is tried for all media before the next rule is (rule-major order), so a sidecar is claimed by
//! its most specific match and never stolen by a vaguer one later. Edited copies and the video
//! halves of Live Photos then share the sidecar of their original. See
//! `../shared/takeout-format.md` for the naming quirks each rule handles.
//!
//! Before any comparison, media names, sidecar names and titles are NFC-normalized (macOS and
//! some zip tools store `Été` decomposed); lookups ignore case, but within each rule a sidecar
//! whose name has the media's exact case wins first (`IMG_0042.JPG` → `IMG_0042.JPG.json` and
//! `IMG_0042.jpg` → `IMG_0042.jpg.json`, both in one folder), then the case-insensitive ones
//! are handed out (`IMG_0009.JPG` → `IMG_0009.jpg.json`). A sidecar is only looked for in the
//! media's own folder, except by the title-elsewhere rule. Lengths are counted as Google counts
//! them, in UTF-16 code units: an emoji outside the BMP counts two, and a cut may fall inside
//! it (the half is dropped, or written as U+FFFD). A `(n)` counter (`(1)`, `(12)`, …) is never
//! cut and always stays with its own photo: `X(1)`'s sidecar carries `(1)`, `X`'s none.
//!
//! The direct rules, in the order they are tried (`NAME(n).EXT` is the media file, `(n)` the
//! optional counter):
//!
//! 1. **exact** — `NAME(n).EXT.json`: `IMG_0001.JPG` → `IMG_0001.JPG.json`.
//! 2. **supplemental** — `NAME(n).EXT.supplemental-metadata.json`: `IMG_0002.jpg` →
//!    `IMG_0002.jpg.supplemental-metadata.json`.
//! 3. **numbered** — the counter moves behind the extension: `IMG_0003(12).jpg` →
//!    `IMG_0003.jpg(12).json`, `IMG_0004(2).jpg` → `IMG_0004.jpg.supplemental-metadata(2).json`.
//! 4. **clipped** — `NAME.EXT.supplemental-metadata`, `NAME.EXT` or `NAME.supplemental-metadata`
//!    cut to 46 UTF-16 units, then `(n)` and `.json`: `PXL_20240601_101112345.NIGHT.jpg` →
//!    `PXL_20240601_101112345.NIGHT.jpg.supplemental-.json`;
//!    `😀😃😄😁😆😅😂🤣🥲☺️😊😇🙂🙃😉😌😍🥰😘😗😙😚😋😛.jpg` (29 characters, 52 units) →
//!    the same less `😛.jpg` + `.json`; a cut inside an emoji leaves nothing or U+FFFD of it.
//! 5. **without-extension** — older exports and some newer ones drop the media extension:
//!    `IMG_0008.jpg` → `IMG_0008.json`; `2013-12-23(1).jpg` →
//!    `2013-12-23.supplemental-metadata(1).json`.
//! 6. **extension-variant** — `.jpeg`/`.jpg`, `.tif`/`.tiff`, `.heic`/`.heif` swapped:
//!    `IMG_0010.jpeg` → `IMG_0010.jpg.json`.
//! 7. **prefix** — the sidecar's name before `(n).json` is `NAME.EXT.supplemental-metadata` cut
//!    anywhere after the whole media name (or after 36 units of a long one), or
//!    `NAME.supplemental-metadata` cut after at least `NAME.su`:
//!    `PXL_20240601_101112345.NIGHT.jpg` → `PXL_20240601_101112345.NIGHT.jpg.supplem.json`,
//!    `2013-12-23.jpg` → `2013-12-23.supplemental-me.json`.
//! 8. **title** — a sidecar in the same folder whose `title` is the media name, allowing for
//!    characters the zip name replaced (`Party_ 1_.jpg` ← title `Party: 1?.jpg`) and for a
//!    media name cut from a longer title (`a_very_long_original_file_name_from_a_camer.jpg` ←
//!    title `a_very_long_original_file_name_from_a_camera_abcdefgh.jpg`, also when the title
//!    is fifteen emoji and some words). The sidecar's own `(n)` must be the media's.
//! 9. **title-elsewhere** — the same in another folder, only when exactly one sidecar fits:
//!    `Scans/Scan 1 from grandma.jpg` ← `Elsewhere/odd-name-1.json`.
//!
//! Then the shared rules, for files that found no sidecar of their own:
//!
//! 10. **edited** — `NAME-WORD(n).EXT`, where `WORD` is one of Google's localized words for
//!     "edited" ([`names::EDITED_WORDS`]), shares the sidecar of `NAME(n).EXT`: the sidecar that
//!     file got when it is in the folder, else the one the direct rules give its name:
//!     `IMG_0005-edited.jpg` → `IMG_0005.jpg.json`, `IMG_20120216_094016-edited(1).jpg` →
//!     `IMG_20120216_094016.jpg(1).json` (never `IMG_20120216_094016.jpg.json`: `X(1)` is
//!     another photo than `X`), `IMG-20150125-WA0003-modifié(1).jpg` → `IMG-20150125-WA0003.jpg(1).json`.
//!     Any other word is another photo: `Holiday-Paris.jpg` never takes `Holiday.jpg`'s sidecar.
//!     The alternative of proving an edit by equal camera and date in both files' EXIF is not
//!     implemented here: the matcher sees names only, not media bytes.
//! 11. **live-photo** — a video (or a Pixel `.MP`/`.MP~2` half) shares its still's sidecar:
//!     `IMG_0013.MOV` → `IMG_0013.HEIC.json`, `PXL_20210102_221126856.MP~2` →
//!     `PXL_20210102_221126856.MP~2.jpg.json`.
//!
//! (The last rule, **album-twin**, is applied by the caller, by content: an album copy without a
//! sidecar takes its byte-identical year-folder twin's.)

use std::collections::HashMap;

use std::borrow::Cow;

use rayon::prelude::*;

use crate::names::{
    self, clip_utf16, counter_suffix, key, nfc, nfc_cow, split_ext, utf16_len, NameParts,
};

/// Which rule paired a media file with its sidecar (in the report and the summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// `NAME.EXT.json`
    Exact,
    /// `NAME.EXT.supplemental-metadata.json`
    Supplemental,
    /// `NAME(n).EXT` → `NAME.EXT(n).json` / `NAME.EXT.supplemental-metadata(n).json`
    Numbered,
    /// The sidecar name cut to 46 UTF-16 code units before `(n)` and `.json`.
    Clipped,
    /// `NAME.json` / `NAME.supplemental-metadata.json` (no media extension).
    WithoutExtension,
    /// `.jpeg`/`.jpg`, `.tif`/`.tiff`, `.heic`/`.heif` spelled differently in the sidecar.
    ExtensionVariant,
    /// The sidecar's name (before `.json`) is a cut-down `NAME.EXT.supplemental-metadata`.
    Prefix,
    /// The sidecar's `title` names this file, same folder.
    Title,
    /// The sidecar's `title` names this file, in another folder (only when unique).
    TitleElsewhere,
    /// `NAME-edited.EXT` (any language) shares `NAME.EXT`'s sidecar.
    Edited,
    /// The video half of a Live Photo / motion photo shares the still's sidecar.
    LivePhoto,
    /// No sidecar of its own, but byte-identical to a file that has one (album copies).
    AlbumTwin,
}

impl Rule {
    pub const DIRECT: [Rule; 9] = [
        Rule::Exact,
        Rule::Supplemental,
        Rule::Numbered,
        Rule::Clipped,
        Rule::WithoutExtension,
        Rule::ExtensionVariant,
        Rule::Prefix,
        Rule::Title,
        Rule::TitleElsewhere,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::Exact => "exact",
            Rule::Supplemental => "supplemental",
            Rule::Numbered => "numbered",
            Rule::Clipped => "clipped",
            Rule::WithoutExtension => "without-extension",
            Rule::ExtensionVariant => "extension-variant",
            Rule::Prefix => "prefix",
            Rule::Title => "title",
            Rule::TitleElsewhere => "title-elsewhere",
            Rule::Edited => "edited",
            Rule::LivePhoto => "live-photo",
            Rule::AlbumTwin => "album-twin",
        }
    }

    /// The rule of a [`Rule::name`].
    pub fn from_name(name: &str) -> Option<Rule> {
        let shared = [Rule::Edited, Rule::LivePhoto, Rule::AlbumTwin];
        (Rule::DIRECT.into_iter().chain(shared)).find(|r| r.name() == name)
    }

    /// True for rules whose sidecar belongs to another file (it may be shared).
    pub fn is_shared(self) -> bool {
        matches!(self, Rule::Edited | Rule::LivePhoto | Rule::AlbumTwin)
    }

    /// True for rules that read a sidecar's title rather than its name: the sidecar may be
    /// another photo's (one renamed in Google Photos to this file's name, or a same-named
    /// photo of another folder), which takes it back when it comes in a later part.
    pub fn is_weak(self) -> bool {
        matches!(self, Rule::Title | Rule::TitleElsewhere)
    }
}

/// Takeout cuts a sidecar's name (before any `(n)` and `.json`) to this many UTF-16 code units.
pub const CLIP_LEN: usize = 46;
/// Shortest cut-down sidecar name (UTF-16 units) the prefix rule accepts for a long media name.
const MIN_PREFIX_LEN: usize = 36;
/// Shortest media stem (UTF-16 units) accepted as a cut-down form of a sidecar's title.
const MIN_TRUNCATED_STEM: usize = 30;
/// How much of `.supplemental-metadata` the prefix rule wants after a name without extension
/// (`.su`: a lone `.s` could be the start of an extension).
const MIN_SUFFIX_WITHOUT_EXT: usize = 3;
const SUPPLEMENTAL: &str = ".supplemental-metadata";
/// What a zip name holds where Google's cut split a surrogate pair, depending on the decoder:
/// nothing, one U+FFFD, or one per byte of the lone surrogate's WTF-8 encoding.
const HALF_PAIR: [&str; 3] = ["", "\u{FFFD}", "\u{FFFD}\u{FFFD}\u{FFFD}"];

/// A sidecar as the matcher sees it (borrowed: one per sidecar, at a million entries every
/// byte counts).
#[derive(Debug, Clone)]
pub struct SidecarRef<'a> {
    pub dir: &'a str,
    pub name: &'a str,
    pub title: Option<&'a str>,
}

/// A media file as the matcher sees it.
#[derive(Debug, Clone)]
pub struct MediaRef<'a> {
    pub dir: &'a str,
    pub name: &'a str,
    pub video: bool,
}

/// The sidecars as the matcher reads them, one at a time by index: a caller that has the
/// names at hand (the plan's catalog) lends them without building a list of [`SidecarRef`]s
/// (48 bytes a sidecar, 23 MB at a million entries).
pub trait SidecarList: Sync {
    /// How many sidecars there are (indexes `0..count()`).
    fn count(&self) -> usize;
    /// Sidecar `i`'s folder, as [`crate::takeout::Entry::dir`] gives it.
    fn dir(&self, i: usize) -> &str;
    /// Sidecar `i`'s file name.
    fn name(&self, i: usize) -> &str;
    /// The `title` sidecar `i` holds, if any.
    fn title(&self, i: usize) -> Option<&str>;
}

/// The media files as the matcher reads them (see [`SidecarList`]).
pub trait MediaList: Sync {
    /// How many media files there are (indexes `0..count()`).
    fn count(&self) -> usize;
    /// File `m`'s folder, as [`crate::takeout::Entry::dir`] gives it.
    fn dir(&self, m: usize) -> &str;
    /// File `m`'s name.
    fn name(&self, m: usize) -> &str;
    /// Whether file `m` is a video (which may be a Live Photo's half).
    fn video(&self, m: usize) -> bool;
}

impl SidecarList for &[SidecarRef<'_>] {
    fn count(&self) -> usize {
        self.len()
    }
    fn dir(&self, i: usize) -> &str {
        self[i].dir
    }
    fn name(&self, i: usize) -> &str {
        self[i].name
    }
    fn title(&self, i: usize) -> Option<&str> {
        self[i].title
    }
}

impl MediaList for &[MediaRef<'_>] {
    fn count(&self) -> usize {
        self.len()
    }
    fn dir(&self, m: usize) -> &str {
        self[m].dir
    }
    fn name(&self, m: usize) -> &str {
        self[m].name
    }
    fn video(&self, m: usize) -> bool {
        self[m].video
    }
}

/// The NFC forms of a list of names, kept only for the names that are not NFC already (in
/// real exports, nearly none): a vector of `Cow`s would be 24 bytes a name.
#[derive(Default)]
struct NfcNames {
    /// (index, NFC name), by index.
    changed: Vec<(u32, Box<str>)>,
}

impl NfcNames {
    /// The names `name(0)`, …, `name(count - 1)`, looked at in parallel.
    fn new<'n>(count: usize, name: impl Fn(usize) -> &'n str + Sync) -> NfcNames {
        let count = u32::try_from(count).expect("under 4 billion names");
        let changed = (0..count)
            .into_par_iter()
            .filter_map(|i| match nfc_cow(name(i as usize)) {
                Cow::Owned(nfc) => Some((i, nfc.into_boxed_str())),
                Cow::Borrowed(_) => None,
            })
            .collect();
        NfcNames { changed }
    }

    /// Name `i` in NFC, `raw` being the name as given.
    fn get<'s>(&'s self, i: usize, raw: &'s str) -> &'s str {
        if self.changed.is_empty() {
            return raw;
        }
        match self.changed.binary_search_by_key(&i, |(k, _)| *k as usize) {
            Ok(at) => &self.changed[at].1,
            Err(_) => raw,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub sidecar: usize,
    pub rule: Rule,
}

/// A candidate sidecar for a media file: its index, and whether its name (or title) has the
/// media's exact case.
type Candidate = (usize, bool);

/// Takeout replaces characters that are not allowed in zip names (`:`, `?`, `/`, …) by `_`:
/// NFC with every ASCII character but letters, digits and `.` mapped to `_` (space too, as
/// before: both sides are mapped alike), and controls too; lower-cased with `fold`. Other
/// characters (letters of any script, emoji) are kept: they survive in zip names.
fn loose(name: &str, fold: bool) -> String {
    let n = if fold { key(name) } else { nfc(name) };
    n.chars()
        .map(|c| {
            if c.is_control() || (c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '.')) {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// `name` without the U+FFFD a cut inside a surrogate pair may have left at its end.
fn trim_half_pair(name: &str) -> &str {
    name.trim_end_matches('\u{FFFD}')
}

/// The sidecar name without `.json` (any case), split into core and `(n)` counter.
fn sidecar_core(name: &str) -> (&str, Option<u32>) {
    let without_json = match name.len().checked_sub(5) {
        Some(i) if name.is_char_boundary(i) && name[i..].eq_ignore_ascii_case(".json") => {
            &name[..i]
        }
        _ => name,
    };
    names::split_counter(without_json)
}

/// Lookup tables over all sidecars of all inputs.
pub struct SidecarIndex<'a> {
    sidecars: &'a dyn SidecarList,
    /// Folder keys, each once: the index's folders are numbers into it (a million sidecars
    /// live in a few thousand folders).
    folders: HashMap<String, u32>,
    /// Each sidecar's folder.
    dirs: Vec<u32>,
    /// NFC sidecar names, case kept, where they differ from the names given.
    names: NfcNames,
    /// (folder, lower-case NFC name) → sidecars of distinct exact names (of two with one
    /// exact name, the first: a zip downloaded twice).
    by_name: KeyIndex,
    /// (folder, lower-case core, n) → sidecars
    by_core: KeyIndex,
    /// loose title key → sidecars
    by_title: KeyIndex,
    /// first `MIN_TRUNCATED_STEM` units of a long title's loose stem → sidecars (a map
    /// of those strings to their titles would take 8 MB at a million entries)
    by_title_start: KeyIndex,
}

impl<'a> SidecarIndex<'a> {
    pub fn new(sidecars: &'a dyn SidecarList) -> Self {
        let n = sidecars.count();
        let mut idx = SidecarIndex {
            sidecars,
            folders: HashMap::new(),
            dirs: Vec::with_capacity(n),
            names: NfcNames::new(n, |i| sidecars.name(i)),
            by_name: KeyIndex::default(),
            by_core: KeyIndex::default(),
            by_title: KeyIndex::default(),
            by_title_start: KeyIndex::default(),
        };
        let mut last: Option<(&str, u32)> = None;
        for i in 0..n {
            let dir = match last {
                // Sidecars of one folder mostly come together: one key per folder, not per file.
                Some((d, id)) if d == sidecars.dir(i) => id,
                _ => {
                    let id = idx.folder_id(sidecars.dir(i));
                    last = Some((sidecars.dir(i), id));
                    id
                }
            };
            idx.dirs.push(dir);
        }
        let mut by_name = KeyIndex::with_capacity(n);
        in_parallel_chunks(
            0..n,
            |i| Some(hash_key(Some(idx.dirs[i]), &key(idx.name(i)), None)),
            |i, name_key| by_name.push(name_key, i),
        );
        idx.by_name = by_name;
        // A second copy of a sidecar (a part downloaded twice: same folder, same exact name)
        // is never a candidate. Copies share their lower-case key: they are found among the
        // sidecars of one key, with no set of all names.
        idx.by_name.sort();
        let copy = idx.by_name.repeats(n, |a, b| {
            idx.dirs[a] == idx.dirs[b] && idx.name(a) == idx.name(b)
        });
        idx.by_name.retain(|i| !copy[i]);
        idx.by_name.seal();
        let originals = || (0..n).filter(|&i| !copy[i]);
        let titled = originals().filter(|&i| sidecars.title(i).is_some()).count();
        // Each original's core key, and its title's key and that of its start.
        let (mut by_core, mut by_title, mut by_title_start) = (
            KeyIndex::with_capacity(originals().count()),
            KeyIndex::with_capacity(titled),
            KeyIndex::default(),
        );
        in_parallel_chunks(
            0..n,
            |i| {
                if copy[i] {
                    return None;
                }
                let (core, counter) = idx.core_counter(i);
                let core_key = hash_key(Some(idx.dirs[i]), &key(core), counter);
                let title = sidecars.title(i).map(|t| {
                    let loose_title = loose(t, true);
                    let (stem, _) = split_ext(&loose_title);
                    let start = (utf16_len(stem) > MIN_TRUNCATED_STEM)
                        .then(|| hash_key(None, clip_utf16(stem, MIN_TRUNCATED_STEM).0, None));
                    (hash_key(None, &loose_title, None), start)
                });
                Some((core_key, title))
            },
            |i, (core_key, title)| {
                by_core.push(core_key, i);
                if let Some((title_key, start)) = title {
                    if let Some(start) = start {
                        by_title_start.push(start, i);
                    }
                    by_title.push(title_key, i);
                }
            },
        );
        (idx.by_core, idx.by_title, idx.by_title_start) = (by_core, by_title, by_title_start);
        idx.by_core.seal();
        idx.by_title.seal();
        idx.by_title_start.seal();
        idx
    }

    /// The number of folder `dir` (any case), a new one if it has none yet.
    fn folder_id(&mut self, dir: &str) -> u32 {
        let k = key(dir);
        let next = u32::try_from(self.folders.len()).expect("under 4 billion folders");
        *self.folders.entry(k).or_insert(next)
    }

    /// The number of the folder of key `dir_key` ([`key`] of a folder), if a sidecar is there.
    fn find_folder(&self, dir_key: &str) -> Option<u32> {
        self.folders.get(dir_key).copied()
    }

    /// Sidecar `i`'s name, NFC.
    fn name(&self, i: usize) -> &str {
        self.names.get(i, self.sidecars.name(i))
    }

    /// The core of sidecar `i`'s name (the NFC name without `(n).json` and a trailing
    /// U+FFFD, a prefix of the name) and its `(n)` counter. Found again at each use: kept for
    /// every sidecar they would be 12 bytes a sidecar, and only title and prefix candidates need
    /// them.
    fn core_counter(&self, i: usize) -> (&str, Option<u32>) {
        let (core, counter) = sidecar_core(self.name(i));
        (trim_half_pair(core), counter)
    }

    fn core(&self, i: usize) -> &str {
        self.core_counter(i).0
    }

    fn counter(&self, i: usize) -> Option<u32> {
        self.core_counter(i).1
    }

    /// Sidecars named `name` in `dir`, in any case, each with whether it is of exact case.
    fn lookup(&self, folder: Option<u32>, name: &str) -> Vec<Candidate> {
        let Some(dir) = folder else {
            return Vec::new();
        };
        let out: Vec<Candidate> = self
            .by_name
            .get(hash_key(Some(dir), &key(name), None))
            .map(|i| (i, self.name(i) == name))
            .collect();
        out
    }

    /// Sidecar file names the name-based rule `rule` would accept for `name` (NFC).
    fn candidate_names(rule: Rule, name: &str) -> Vec<String> {
        let p = NameParts::parse(name);
        let base = p.base();
        let n = p.counter_suffix();
        let mut v = match rule {
            Rule::Exact => vec![format!("{name}.json")],
            Rule::Supplemental => vec![format!("{name}{SUPPLEMENTAL}.json")],
            Rule::Numbered if p.counter.is_some() => vec![
                format!("{base}{n}.json"),
                format!("{base}{SUPPLEMENTAL}{n}.json"),
            ],
            Rule::Clipped => {
                let mut v = Vec::new();
                let mut longs = vec![format!("{base}{SUPPLEMENTAL}"), base.clone()];
                if !p.ext.is_empty() {
                    longs.push(format!("{}{SUPPLEMENTAL}", p.stem));
                }
                for long in longs {
                    if utf16_len(&long) > CLIP_LEN {
                        let (cut, split) = clip_utf16(&long, CLIP_LEN);
                        let halves = if split {
                            &HALF_PAIR[..]
                        } else {
                            &HALF_PAIR[..1]
                        };
                        for half in halves {
                            v.push(format!("{cut}{half}{n}.json"));
                        }
                    }
                }
                v
            }
            Rule::WithoutExtension if !p.ext.is_empty() => vec![
                format!("{}{n}.json", p.stem),
                format!("{}{SUPPLEMENTAL}{n}.json", p.stem),
            ],
            Rule::ExtensionVariant => {
                let alt = match p.ext.to_ascii_lowercase().as_str() {
                    ".jpg" => ".jpeg",
                    ".jpeg" => ".jpg",
                    ".tif" => ".tiff",
                    ".tiff" => ".tif",
                    ".heic" => ".heif",
                    ".heif" => ".heic",
                    _ => return Vec::new(),
                };
                let alt_base = format!("{}{alt}", p.stem);
                vec![
                    format!("{alt_base}{n}.json"),
                    format!("{alt_base}{SUPPLEMENTAL}{n}.json"),
                ]
            }
            _ => Vec::new(),
        };
        let mut seen = Vec::with_capacity(v.len());
        v.retain(|c| {
            let new = !seen.contains(c);
            seen.push(c.clone());
            new
        });
        v
    }

    /// Every sidecar rule `rule` offers for the media file `name` (NFC) in the folder numbered
    /// `folder` (`None`: a folder without sidecars), best first, each with whether it has the
    /// media's exact case.
    fn candidates(&self, rule: Rule, folder: Option<u32>, name: &str) -> Vec<Candidate> {
        match rule {
            Rule::Prefix => self.prefix_candidates(folder, name),
            Rule::Title => self.title_candidates(name, Some(folder)),
            Rule::TitleElsewhere => self.title_candidates(name, None),
            _ => {
                let mut out: Vec<Candidate> = Vec::new();
                for c in Self::candidate_names(rule, name) {
                    for cand in self.lookup(folder, &c) {
                        if !out.iter().any(|o| o.0 == cand.0) {
                            out.push(cand);
                        }
                    }
                }
                out
            }
        }
    }

    /// Sidecars whose name before `(n).json` is a prefix of `NAME.EXT.supplemental-metadata`
    /// covering at least the whole media name (or, for long names, most of it), or of
    /// `NAME.supplemental-metadata` covering `NAME.su`; longest first.
    fn prefix_candidates(&self, folder: Option<u32>, name: &str) -> Vec<Candidate> {
        let p = NameParts::parse(name);
        let Some(dir) = folder else {
            return Vec::new();
        };
        let mut fulls = vec![{
            let full = format!("{}{SUPPLEMENTAL}", p.base());
            let min = utf16_len(&p.base()).min(MIN_PREFIX_LEN);
            (full, min)
        }];
        if !p.ext.is_empty() {
            let full = format!("{}{SUPPLEMENTAL}", p.stem);
            fulls.push((full, utf16_len(&p.stem) + MIN_SUFFIX_WITHOUT_EXT));
        }
        let mut out: Vec<Candidate> = Vec::new();
        for (full, min) in fulls {
            let folded = key(&full);
            let mut ends: Vec<(usize, usize)> = Vec::new();
            let mut units = 0;
            for (i, c) in folded.char_indices() {
                units += c.len_utf16();
                ends.push((i + c.len_utf8(), units));
            }
            for &(end, units) in ends.iter().rev() {
                if units < min {
                    break;
                }
                let k = hash_key(Some(dir), &folded[..end], p.counter);
                for i in self.by_core.get(k) {
                    if !out.iter().any(|o| o.0 == i) {
                        out.push((i, full.starts_with(self.core(i))));
                    }
                }
            }
        }
        out
    }

    /// Sidecars whose `title` is this media name, allowing for characters the zip name
    /// replaced and for a media name cut down from a longer title. The title never carries the
    /// `(n)` counter: the sidecar's own name does, and it must be the media's.
    /// `folder`: `Some` of the media's folder's number for sidecars in that folder only.
    fn title_candidates(&self, name: &str, folder: Option<Option<u32>>) -> Vec<Candidate> {
        let p = NameParts::parse(name);
        let in_dir = |i: usize| folder.is_none_or(|f| f == Some(self.dirs[i]));
        let own = |i: usize| self.counter(i) == p.counter;
        let mut out: Vec<Candidate> = Vec::new();
        // The title is the whole name (a file uploaded as `X(1).jpg`), or the name without its
        // counter.
        let probes = [
            (loose(name, true), None),
            (loose(&p.base(), true), p.counter),
        ];
        for (probe, counter) in probes {
            for i in self.by_title.get(hash_key(None, &probe, None)) {
                if in_dir(i) && self.counter(i) == counter && !out.iter().any(|o| o.0 == i) {
                    out.push((i, self.title_exact_case(i, name)));
                }
            }
        }
        let stem = loose(trim_half_pair(&p.stem), true);
        if out.is_empty() && utf16_len(&stem) >= MIN_TRUNCATED_STEM {
            // The zip cut a long title down to about 47 units, keeping the extension.
            let ext = loose(&p.ext, true);
            let start = clip_utf16(&stem, MIN_TRUNCATED_STEM).0;
            let longer = |i: usize| {
                let Some(title) = self.sidecars.title(i) else {
                    return false;
                };
                let t = loose(title, true);
                let (ts, te) = split_ext(&t);
                te == ext && ts.starts_with(&stem) && ts.len() > stem.len()
            };
            // In increasing order (as pushed), each once.
            let found: Vec<usize> = self
                .by_title_start
                .get(hash_key(None, start, None))
                .filter(|&i| in_dir(i) && own(i) && longer(i))
                .collect();
            out = found
                .into_iter()
                .map(|i| (i, self.title_exact_case(i, name)))
                .collect();
        }
        out
    }

    /// Whether sidecar `i`'s title fits the media name `name` with case kept, given that
    /// [`Self::title_candidates`] found it case-insensitively: the title is the media name, its
    /// name without the counter, or a longer name the media name was cut from, so with case kept
    /// it must have the media's extension and begin with its stem.
    fn title_exact_case(&self, i: usize, name: &str) -> bool {
        let Some(title) = self.sidecars.title(i) else {
            return false;
        };
        let p = NameParts::parse(name);
        let t = loose(title, false);
        let (ts, te) = split_ext(&t);
        te == loose(&p.ext, false) && ts.starts_with(&loose(trim_half_pair(&p.stem), false))
    }

    /// The sidecar a direct rule gives `name` (NFC), claimed or not, exact case first (for
    /// edited copies and Live Photo halves whose original is not in the folder: they share
    /// the sidecar their original would have).
    fn shared(&self, folder: Option<u32>, name: &str) -> Option<usize> {
        Rule::DIRECT
            .iter()
            .filter(|r| **r != Rule::TitleElsewhere)
            .find_map(|r| {
                let c = self.candidates(*r, folder, name);
                c.iter().find(|c| c.1).or(c.first()).map(|c| c.0)
            })
    }
}

/// A multimap from keys (a folder, a name key, a counter) to indexes, in a sorted vector of
/// 16-byte pairs rather than a map of strings to vectors: at a million entries the strings
/// and small vectors of a `HashMap<(String, …), Vec<usize>>` would be most of the matcher's
/// memory. A key is 96 bits of its XXH3-128 hash: two of a million keys sharing them has a
/// chance of about 10^-17, far below that of a disk error.
#[derive(Default)]
struct KeyIndex {
    /// (hash, index), sorted once all are in: the indexes of one key in the order pushed.
    pairs: Vec<(u64, u32, u32)>,
    /// Where the pairs of each hash prefix begin: a lookup searches a handful of pairs, not
    /// all (a binary search over all of them missed the cache at every step: a fiftieth of a
    /// run of small files).
    buckets: crate::compact::Buckets,
}

/// The 96 bits of a key's hash a [`KeyIndex`] keeps.
fn short_key(key: u128) -> (u64, u32) {
    ((key >> 64) as u64, (key >> 32) as u32)
}

impl KeyIndex {
    /// An index with room for `n` keys (pushed without growing: a growing vector holds its
    /// old and its new buffer at once).
    fn with_capacity(n: usize) -> KeyIndex {
        KeyIndex {
            pairs: Vec::with_capacity(n),
            ..KeyIndex::default()
        }
    }

    fn push(&mut self, key: u128, index: usize) {
        let index = u32::try_from(index).expect("under 4 billion entries");
        let (hi, lo) = short_key(key);
        self.pairs.push((hi, lo, index));
    }

    /// Sorts the pairs: by key, and the indexes of one key in increasing order.
    fn sort(&mut self) {
        self.pairs.sort_unstable();
    }

    /// Of the indexes of each key, those `same` as a smaller index of that key, as a flag for
    /// each index below `n` (sorted pairs, indexes below `n`).
    fn repeats(&self, n: usize, same: impl Fn(usize, usize) -> bool) -> Vec<bool> {
        let mut repeat = vec![false; n];
        for run in self.pairs.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            for (k, later) in run.iter().enumerate().skip(1) {
                let later = later.2 as usize;
                repeat[later] = run[..k]
                    .iter()
                    .any(|earlier| same(earlier.2 as usize, later));
            }
        }
        repeat
    }

    /// Keeps only the pairs of the indexes `keep` accepts.
    fn retain(&mut self, keep: impl Fn(usize) -> bool) {
        self.pairs.retain(|p| keep(p.2 as usize));
    }

    /// Sorts the pairs (indexes were pushed in increasing order: they stay so per key) and
    /// finds where each bucket starts (about four pairs a bucket).
    fn seal(&mut self) {
        self.sort();
        self.pairs.shrink_to_fit();
        let pairs = &self.pairs;
        self.buckets = crate::compact::Buckets::of(pairs.len(), 20, |i| pairs[i].0);
    }

    fn get(&self, key: u128) -> impl Iterator<Item = usize> + '_ {
        let (hi, lo) = short_key(key);
        // Not sealed (nothing pushed): nothing found.
        let bucket = &self.pairs[self.buckets.range(hi)];
        let start = bucket.partition_point(|p| (p.0, p.1) < (hi, lo));
        bucket[start..]
            .iter()
            .take_while(move |p| (p.0, p.1) == (hi, lo))
            .map(|p| p.2 as usize)
    }
}

/// The hash of a key of a [`KeyIndex`]: a folder (if any), a string, a counter (if any).
fn hash_key(folder: Option<u32>, s: &str, counter: Option<u32>) -> u128 {
    crate::hash::key128(&[folder.map(u64::from), counter.map(u64::from)], &[s])
}

/// `work(i)` for each `i` of `range`, in parallel, handed to `take` in the order of `range`
/// (skipping `None`s): a chunk at a time, so that the results in waiting stay few.
fn in_parallel_chunks<T: Send>(
    range: std::ops::Range<usize>,
    work: impl Fn(usize) -> Option<T> + Sync,
    mut take: impl FnMut(usize, T),
) {
    const CHUNK: usize = 1 << 14;
    let mut start = range.start;
    while start < range.end {
        let end = range.end.min(start + CHUNK);
        let done: Vec<Option<T>> = (start..end).into_par_iter().map(&work).collect();
        for (i, t) in (start..).zip(done) {
            if let Some(t) = t {
                take(i, t);
            }
        }
        start = end;
    }
}

/// Each media file's folder as a number, numbered in the order of the folders' keys (so that
/// sorting by it sorts by folder), and those keys.
fn folder_ranks(media: &dyn MediaList) -> (Vec<u32>, Vec<String>) {
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut last: Option<(&str, u32)> = None;
    let first: Vec<u32> = (0..media.count())
        .map(|m| match last {
            // Files of one folder mostly come together: one key per folder, not per file.
            Some((dir, id)) if dir == media.dir(m) => id,
            _ => {
                let next = u32::try_from(ids.len()).expect("under 4 billion folders");
                let id = *ids.entry(key(media.dir(m))).or_insert(next);
                last = Some((media.dir(m), id));
                id
            }
        })
        .collect();
    let mut sorted: Vec<(String, u32)> = ids.into_iter().collect();
    sorted.sort_unstable();
    let mut rank = vec![0; sorted.len()];
    let mut keys = Vec::with_capacity(sorted.len());
    for (r, (k, id)) in (0..).zip(sorted) {
        rank[id as usize] = r;
        keys.push(k);
    }
    (
        first.into_iter().map(|id| rank[id as usize]).collect(),
        keys,
    )
}

/// Still-image extensions a Live Photo's video half may belong to, most likely first.
const STILL_EXTS: [&str; 6] = [".HEIC", ".JPG", ".jpg", ".heic", ".jpeg", ".png"];

/// True for the separate video half of a motion photo: a Pixel's `X.MP` or, with the camera's
/// copy counter, `X.MP~2` (which has no media extension at all), and an older Google camera's
/// `MVIMG_X` beside `MVIMG_X.jpg` (no extension: nothing else in a Takeout has none).
fn is_motion_half(name: &str) -> bool {
    if !name.contains('.') {
        return true;
    }
    let upper = name.to_ascii_uppercase();
    match upper.rsplit_once(".MP") {
        Some((stem, rest)) => {
            !stem.is_empty()
                && (rest.is_empty()
                    || rest
                        .strip_prefix('~')
                        .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit())))
        }
        None => false,
    }
}

/// Pairs every media file with a sidecar, or `None`. Deterministic for a given input.
pub fn match_all(media: &[MediaRef], sidecars: &[SidecarRef]) -> Vec<Option<Match>> {
    match_all_claimed(&media, &sidecars, vec![false; sidecars.len()])
}

/// Like [`match_all`], with some sidecars claimed already (by a media file of an earlier
/// run): no direct rule gives them to another file, but edited copies and Live Photo videos
/// still share them.
pub fn match_all_claimed(
    media: &dyn MediaList,
    sidecars: &dyn SidecarList,
    claimed: Vec<bool>,
) -> Vec<Option<Match>> {
    let result = {
        let mut m = Matching::new(media, sidecars);
        m.direct(claimed);
        m.shared();
        m.result
    };
    // Widened once the index is gone.
    result.into_iter().map(|f| f.map(Match::from)).collect()
}

/// A [`Match`] as [`Matching`] keeps it: 8 bytes with its `Option`, where an
/// `Option<Match>` is 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Found {
    sidecar: u32,
    rule: Rule,
}

impl Found {
    fn new(sidecar: usize, rule: Rule) -> Found {
        let sidecar = u32::try_from(sidecar).expect("under 4 billion sidecars");
        Found { sidecar, rule }
    }
}

impl From<Found> for Match {
    fn from(f: Found) -> Match {
        Match {
            sidecar: f.sidecar as usize,
            rule: f.rule,
        }
    }
}

/// The candidates of a block of files under one rule: (file, how many) and the candidates
/// of all, in that order.
type CandidateBlock = (Vec<(u32, u32)>, Vec<(u32, bool)>);

/// One matching pass: the media in a fixed order (folder, then name) and what each got.
struct Matching<'a> {
    media: &'a dyn MediaList,
    index: SidecarIndex<'a>,
    /// NFC names of the media where they differ from the names given ([`Matching::name`]),
    /// and their folders, numbered in the order of their keys.
    names: NfcNames,
    dirs: Vec<u32>,
    /// The index's number of each media folder (by the number in `dirs`), if a sidecar is
    /// there.
    folders: Vec<Option<u32>>,
    order: Vec<u32>,
    result: Vec<Option<Found>>,
}

impl<'a> Matching<'a> {
    /// Media file `m`'s name, NFC.
    fn name(&self, m: usize) -> &str {
        self.names.get(m, self.media.name(m))
    }

    /// Media file `m`'s folder's number in the index, if a sidecar is there.
    fn folder(&self, m: usize) -> Option<u32> {
        self.folders[self.dirs[m] as usize]
    }

    fn new(media: &'a dyn MediaList, sidecars: &'a dyn SidecarList) -> Matching<'a> {
        let count = media.count();
        assert!(u32::try_from(count).is_ok(), "under 4 billion files");
        let names = NfcNames::new(count, |m| media.name(m));
        let (dirs, dir_keys) = folder_ranks(media);
        let mut order: Vec<u32> = (0..count as u32).collect();
        // Sorted by keys fetched once each (a comparison fetching both names went through
        // the caller's tables twice).
        order.par_sort_by_cached_key(|&m| {
            (
                dirs[m as usize],
                names.get(m as usize, media.name(m as usize)),
            )
        });
        let index = SidecarIndex::new(sidecars);
        let folders = dir_keys.iter().map(|k| index.find_folder(k)).collect();
        Matching {
            media,
            index,
            names,
            dirs,
            folders,
            order,
            result: vec![None; count],
        }
    }

    /// The direct rules, most specific first, each over all media before the next: a sidecar
    /// goes to one file only.
    fn direct(&mut self, mut claimed: Vec<bool>) {
        for rule in Rule::DIRECT {
            // Each file's candidates are looked up in parallel (read-only, in `order`); the
            // claims below are made in order, one at a time.
            // Flat, per block of files: (file, number of candidates) and their candidates,
            // 8 bytes each (a vector per file would be 40 bytes and an allocation).
            let blocks: Vec<CandidateBlock> = self
                .order
                .par_chunks(4096)
                .map(|chunk| {
                    let (mut files, mut flat) = (Vec::new(), Vec::new());
                    for m in chunk.iter().map(|&m| m as usize) {
                        if self.result[m].is_some() {
                            continue;
                        }
                        let c = self.index.candidates(rule, self.folder(m), self.name(m));
                        if !c.is_empty() {
                            files.push((m as u32, c.len() as u32));
                            flat.extend(c.into_iter().map(|(s, exact)| (s as u32, exact)));
                        }
                    }
                    (files, flat)
                })
                .collect();
            // Exact-case names first, for every file, then the case-insensitive ones.
            for exact_only in [true, false] {
                for (files, flat) in &blocks {
                    let mut at = 0;
                    for &(m, n) in files {
                        let (m, c) = (m as usize, &flat[at..at + n as usize]);
                        at += n as usize;
                        if self.result[m].is_some() {
                            continue;
                        }
                        let mut free = c.iter().filter(|(s, _)| !claimed[*s as usize]);
                        // Matching across folders is only safe when it is unambiguous.
                        if rule == Rule::TitleElsewhere && free.clone().count() != 1 {
                            continue;
                        }
                        if let Some(&(s, _)) = free.find(|(_, exact)| *exact || !exact_only) {
                            claimed[s as usize] = true;
                            self.result[m] = Some(Found { sidecar: s, rule });
                        }
                    }
                }
            }
        }
    }

    /// The shared rules: an edited copy takes its original's sidecar, a Live Photo video or
    /// motion-photo half its still's.
    fn shared(&mut self) {
        // The media of each folder by lower-case name, to find an original.
        // Positions in `order`, so that the files of one name come in that order.
        let mut by_name = KeyIndex::with_capacity(self.order.len());
        in_parallel_chunks(
            0..self.order.len(),
            |k| {
                let m = self.order[k] as usize;
                Some(hash_key(Some(self.dirs[m]), &key(self.name(m)), None))
            },
            |k, name_key| by_name.push(name_key, k),
        );
        by_name.seal();
        for k in 0..self.order.len() {
            let m = self.order[k] as usize;
            if self.result[m].is_some() {
                continue;
            }
            let found = self
                .edited_original(m, &by_name)
                .map(|s| (s, Rule::Edited))
                .or_else(|| self.still_of(m, &by_name).map(|s| (s, Rule::LivePhoto)));
            self.result[m] = found.map(|(sidecar, rule)| Found::new(sidecar, rule));
        }
    }

    /// The sidecar the media file `name` in `m`'s folder has by a direct rule, if that file is
    /// there (`Some(None)`: it is there without one), exact case first; else a sidecar of that
    /// name's that no file claimed.
    fn original_sidecar(&self, m: usize, name: &str, by_name: &KeyIndex) -> Option<usize> {
        let files = || {
            by_name
                .get(hash_key(Some(self.dirs[m]), &key(name), None))
                .map(|k| self.order[k] as usize)
        };
        let there = files().find(|&o| self.name(o) == name).or(files().next());
        match there {
            Some(o) => self.result[o]
                .filter(|r| !r.rule.is_shared())
                .map(|r| r.sidecar as usize),
            None => self.index.shared(self.folder(m), name),
        }
    }

    /// An edited copy's original's sidecar: `X-edited(1).jpg` is the edit of `X(1).jpg`,
    /// never of `X.jpg`.
    fn edited_original(&self, m: usize, by_name: &KeyIndex) -> Option<usize> {
        let p = NameParts::parse(self.name(m));
        let (orig, _word) = names::split_edited(&p.stem)?;
        let orig = format!("{orig}{}{}", counter_suffix(p.counter), p.ext);
        self.original_sidecar(m, &orig, by_name)
    }

    /// A video half's still's sidecar: `X.MOV` belongs to `X.HEIC`; a Pixel `X.MP` half
    /// belongs to `X.MP.jpg`.
    fn still_of(&self, m: usize, by_name: &KeyIndex) -> Option<usize> {
        let name = self.name(m);
        if !self.media.video(m) && !is_motion_half(name) {
            return None;
        }
        let (without_ext, _) = split_ext(name);
        [without_ext, name]
            .iter()
            .flat_map(|stem| STILL_EXTS.iter().map(move |ext| format!("{stem}{ext}")))
            .find_map(|still| self.original_sidecar(m, &still, by_name))
    }
}

/// The sidecar names the name-based rules looked for, for the report of an unmatched file.
pub fn tried_names(name: &str) -> Vec<String> {
    let name = nfc(name);
    let mut out: Vec<String> = Vec::new();
    for rule in Rule::DIRECT {
        for c in SidecarIndex::candidate_names(rule, &name) {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
