//! Pairing media files with their JSON sidecars.
//!
//! Matching is an ordered list of rules, from the most to the least specific. Every direct rule
//! is tried for all media before the next rule is (rule-major order), so a sidecar is claimed by
//! its most specific match and never stolen by a vaguer one later. Edited copies and the video
//! halves of Live Photos then share the sidecar of their original. See
//! `../shared/takeout-format.md` for the naming quirks each rule handles.

use std::collections::HashMap;

use crate::names::{self, char_len, clip_chars, counter_suffix, key, split_ext, NameParts};

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
    /// The sidecar name cut to 46 characters before `(n)` and `.json`.
    Clipped,
    /// `NAME.json` (older exports).
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

    /// True for rules whose sidecar belongs to another file (it may be shared).
    pub fn is_shared(self) -> bool {
        matches!(self, Rule::Edited | Rule::LivePhoto | Rule::AlbumTwin)
    }
}

/// Takeout cuts a sidecar's name (before any `(n)` and `.json`) to this many characters.
pub const CLIP_LEN: usize = 46;
/// Shortest cut-down sidecar name the prefix rule accepts for a long media name.
const MIN_PREFIX_LEN: usize = 36;
/// Shortest media stem accepted as a cut-down form of a sidecar's title.
const MIN_TRUNCATED_STEM: usize = 30;
const SUPPLEMENTAL: &str = ".supplemental-metadata";

/// A sidecar as the matcher sees it.
#[derive(Debug, Clone)]
pub struct SidecarRef {
    pub dir: String,
    pub name: String,
    pub title: Option<String>,
}

/// A media file as the matcher sees it.
#[derive(Debug, Clone)]
pub struct MediaRef {
    pub dir: String,
    pub name: String,
    pub video: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub sidecar: usize,
    pub rule: Rule,
}

/// Lookup tables over all sidecars of all inputs.
pub struct SidecarIndex<'a> {
    sidecars: &'a [SidecarRef],
    by_name: HashMap<(String, String), usize>,
    /// (dir, sidecar name without `.json` and `(n)`, n) → sidecars
    by_core: HashMap<(String, String, Option<u32>), Vec<usize>>,
    /// loose title key → sidecars
    by_title: HashMap<String, Vec<usize>>,
    /// first `MIN_TRUNCATED_STEM` characters of a long title's loose stem → its loose title
    by_title_start: HashMap<String, Vec<String>>,
}

/// Lower-cased NFC with every character that Takeout may have replaced in a zip name
/// (anything but letters, digits and dots) mapped to `_`.
fn loose_key(name: &str) -> String {
    key(name)
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl<'a> SidecarIndex<'a> {
    pub fn new(sidecars: &'a [SidecarRef]) -> Self {
        let mut idx = SidecarIndex {
            sidecars,
            by_name: HashMap::with_capacity(sidecars.len()),
            by_core: HashMap::with_capacity(sidecars.len()),
            by_title: HashMap::new(),
            by_title_start: HashMap::new(),
        };
        for (i, s) in sidecars.iter().enumerate() {
            let dir = key(&s.dir);
            // The first of two same-named sidecars wins (a zip downloaded twice).
            idx.by_name.entry((dir.clone(), key(&s.name))).or_insert(i);
            let lower = key(&s.name);
            let without_json = lower.strip_suffix(".json").unwrap_or(&lower);
            let (core, n) = names::split_counter(without_json);
            idx.by_core
                .entry((dir, core.to_string(), n))
                .or_default()
                .push(i);
            if let Some(t) = &s.title {
                let loose = loose_key(t);
                let (stem, _) = split_ext(&loose);
                if char_len(stem) > MIN_TRUNCATED_STEM {
                    let start = clip_chars(stem, MIN_TRUNCATED_STEM).to_string();
                    let titles = idx.by_title_start.entry(start).or_default();
                    if !titles.contains(&loose) {
                        titles.push(loose.clone());
                    }
                }
                idx.by_title.entry(loose).or_default().push(i);
            }
        }
        idx
    }

    fn lookup(&self, dir: &str, name: &str) -> Option<usize> {
        self.by_name.get(&(key(dir), key(name))).copied()
    }

    /// Sidecar file names the name-based rule `rule` would accept for `name`.
    fn candidate_names(rule: Rule, name: &str) -> Vec<String> {
        let p = NameParts::parse(name);
        let base = p.base();
        let n = p.counter_suffix();
        match rule {
            Rule::Exact => vec![format!("{name}.json")],
            Rule::Supplemental => vec![format!("{name}{SUPPLEMENTAL}.json")],
            Rule::Numbered if p.counter.is_some() => vec![
                format!("{base}{n}.json"),
                format!("{base}{SUPPLEMENTAL}{n}.json"),
            ],
            Rule::Clipped => {
                let mut v = Vec::new();
                for long in [format!("{base}{SUPPLEMENTAL}"), base.clone()] {
                    if char_len(&long) > CLIP_LEN {
                        v.push(format!("{}{n}.json", clip_chars(&long, CLIP_LEN)));
                    }
                }
                v
            }
            Rule::WithoutExtension if !p.ext.is_empty() => vec![format!("{}{n}.json", p.stem)],
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
        }
    }

    /// Every sidecar rule `rule` offers for the media file `name` in `dir`, best first.
    fn candidates(&self, rule: Rule, dir: &str, name: &str) -> Vec<usize> {
        match rule {
            Rule::Prefix => self.prefix_candidates(dir, name),
            Rule::Title => self.title_candidates(name, Some(dir)),
            Rule::TitleElsewhere => self.title_candidates(name, None),
            _ => Self::candidate_names(rule, name)
                .iter()
                .filter_map(|c| self.lookup(dir, c))
                .collect(),
        }
    }

    /// Sidecars whose name before `(n).json` is a prefix of `NAME.EXT.supplemental-metadata`,
    /// covering at least the whole media name (or, for long names, most of it); longest first.
    fn prefix_candidates(&self, dir: &str, name: &str) -> Vec<usize> {
        let p = NameParts::parse(name);
        let base = key(&p.base());
        let full = format!("{base}{SUPPLEMENTAL}");
        let min = char_len(&base).min(MIN_PREFIX_LEN);
        let dir = key(dir);
        let mut out = Vec::new();
        let ends: Vec<usize> = full
            .char_indices()
            .map(|(i, _)| i)
            .skip(1)
            .chain(std::iter::once(full.len()))
            .collect();
        for (chars, &end) in ends.iter().enumerate().rev() {
            if chars + 1 < min {
                break;
            }
            if let Some(ids) = self
                .by_core
                .get(&(dir.clone(), full[..end].to_string(), p.counter))
            {
                out.extend(ids.iter().copied());
            }
        }
        out
    }

    /// Sidecars whose `title` is this media name, allowing for `(n)`, for characters the zip
    /// name replaced, and for a media name cut down from a longer title.
    fn title_candidates(&self, name: &str, dir: Option<&str>) -> Vec<usize> {
        let p = NameParts::parse(name);
        let in_dir = |i: &usize| dir.is_none_or(|d| key(&self.sidecars[*i].dir) == key(d));
        let mut out: Vec<usize> = Vec::new();
        for probe in [loose_key(name), loose_key(&p.base())] {
            if let Some(ids) = self.by_title.get(&probe) {
                for &i in ids {
                    if in_dir(&i) && !out.contains(&i) {
                        out.push(i);
                    }
                }
            }
        }
        if out.is_empty() && char_len(&p.stem) >= MIN_TRUNCATED_STEM {
            // The zip cut a long title down to about 47 characters, keeping the extension.
            let stem = loose_key(&p.stem);
            let ext = loose_key(&p.ext);
            let start = clip_chars(&stem, MIN_TRUNCATED_STEM);
            let mut found: Vec<usize> = self
                .by_title_start
                .get(start)
                .into_iter()
                .flatten()
                .filter(|t| {
                    let (ts, te) = split_ext(t);
                    te == ext && ts.starts_with(&stem) && ts.len() > stem.len()
                })
                .flat_map(|t| self.by_title[t].iter().copied())
                .filter(|i| in_dir(i))
                .collect();
            found.sort_unstable();
            out = found;
        }
        out
    }

    /// The sidecar a direct rule gives `name`, claimed or not (for edited copies and Live
    /// Photo halves, which share their original's).
    fn shared(&self, dir: &str, name: &str) -> Option<usize> {
        Rule::DIRECT
            .iter()
            .filter(|r| **r != Rule::TitleElsewhere)
            .find_map(|r| self.candidates(*r, dir, name).into_iter().next())
    }
}

/// Still-image extensions a Live Photo's video half may belong to, most likely first.
const STILL_EXTS: [&str; 6] = [".HEIC", ".JPG", ".jpg", ".heic", ".jpeg", ".png"];

/// Pairs every media file with a sidecar, or `None`. Deterministic for a given input.
pub fn match_all(media: &[MediaRef], sidecars: &[SidecarRef]) -> Vec<Option<Match>> {
    match_all_claimed(media, sidecars, vec![false; sidecars.len()])
}

/// Like [`match_all`], with some sidecars claimed already (by a media file of an earlier
/// run): no direct rule gives them to another file, but edited copies and Live Photo videos
/// still share them.
pub fn match_all_claimed(
    media: &[MediaRef],
    sidecars: &[SidecarRef],
    mut claimed: Vec<bool>,
) -> Vec<Option<Match>> {
    let index = SidecarIndex::new(sidecars);
    let mut order: Vec<usize> = (0..media.len()).collect();
    order.sort_by(|a, b| (&media[*a].dir, &media[*a].name).cmp(&(&media[*b].dir, &media[*b].name)));
    let mut result: Vec<Option<Match>> = vec![None; media.len()];

    for rule in Rule::DIRECT {
        for &m in &order {
            if result[m].is_some() {
                continue;
            }
            let cands = index.candidates(rule, &media[m].dir, &media[m].name);
            let free: Vec<usize> = cands.into_iter().filter(|s| !claimed[*s]).collect();
            // Matching across folders is only safe when it is unambiguous.
            if rule == Rule::TitleElsewhere && free.len() != 1 {
                continue;
            }
            if let Some(&s) = free.first() {
                claimed[s] = true;
                result[m] = Some(Match { sidecar: s, rule });
            }
        }
    }
    for &m in &order {
        if result[m].is_some() {
            continue;
        }
        let MediaRef { dir, name, video } = &media[m];
        let p = NameParts::parse(name);
        if let Some((orig, _word)) = names::split_edited(&p.stem) {
            let original = format!("{orig}{}{}", counter_suffix(p.counter), p.ext);
            if let Some(s) = index.shared(dir, &original) {
                result[m] = Some(Match {
                    sidecar: s,
                    rule: Rule::Edited,
                });
                continue;
            }
        }
        if *video {
            // `X.MOV` belongs to `X.HEIC`; a Pixel `X.MP` half belongs to `X.MP.jpg`.
            let (without_ext, _) = split_ext(name);
            let found = [without_ext, name.as_str()].iter().find_map(|stem| {
                STILL_EXTS
                    .iter()
                    .find_map(|ext| index.shared(dir, &format!("{stem}{ext}")))
            });
            if let Some(s) = found {
                result[m] = Some(Match {
                    sidecar: s,
                    rule: Rule::LivePhoto,
                });
            }
        }
    }
    result
}

/// The sidecar names the name-based rules looked for, for the report of an unmatched file.
pub fn tried_names(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for rule in Rule::DIRECT {
        for c in SidecarIndex::candidate_names(rule, name) {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = "Google Photos/Photos from 2019";

    fn sc(name: &str) -> SidecarRef {
        SidecarRef {
            dir: DIR.into(),
            name: name.into(),
            title: None,
        }
    }
    fn sc_titled(name: &str, title: &str) -> SidecarRef {
        SidecarRef {
            dir: DIR.into(),
            name: name.into(),
            title: Some(title.into()),
        }
    }
    fn md(name: &str) -> MediaRef {
        MediaRef {
            dir: DIR.into(),
            name: name.into(),
            video: crate::media::MediaKind::from_name(name).is_some_and(|k| k.is_video()),
        }
    }

    /// Matches `media` against `sidecars` and returns (sidecar name, rule) per media file.
    fn run(media: &[&str], sidecars: &[SidecarRef]) -> Vec<Option<(String, Rule)>> {
        let m: Vec<MediaRef> = media.iter().map(|n| md(n)).collect();
        match_all(&m, sidecars)
            .into_iter()
            .map(|r| r.map(|x| (sidecars[x.sidecar].name.clone(), x.rule)))
            .collect()
    }

    fn one(media: &str, sidecar: &str) -> Option<(String, Rule)> {
        run(&[media], &[sc(sidecar)]).pop().unwrap()
    }

    fn assert_pair(media: &str, sidecar: &str, rule: Rule) {
        assert_eq!(
            one(media, sidecar),
            Some((sidecar.to_string(), rule)),
            "{media} → {sidecar}"
        );
    }

    #[test]
    fn classic_full_name() {
        assert_pair("IMG_0001.JPG", "IMG_0001.JPG.json", Rule::Exact);
    }

    #[test]
    fn supplemental_metadata() {
        assert_pair(
            "IMG_0002.jpg",
            "IMG_0002.jpg.supplemental-metadata.json",
            Rule::Supplemental,
        );
    }

    #[test]
    fn supplemental_suffix_cut_anywhere() {
        let media = "PXL_20240601_101112345.NIGHT.jpg";
        // The rule's own cut: 46 characters of name + suffix.
        assert_pair(
            media,
            "PXL_20240601_101112345.NIGHT.jpg.supplemental-.json",
            Rule::Clipped,
        );
        for s in [
            "PXL_20240601_101112345.NIGHT.jpg.supplemental-metad.json",
            "PXL_20240601_101112345.NIGHT.jpg.supplem.json",
            "PXL_20240601_101112345.NIGHT.jpg.s.json",
            "PXL_20240601_101112345.NIGHT.jpg..json",
        ] {
            assert_pair(media, s, Rule::Prefix);
        }
    }

    #[test]
    fn long_names_clipped_sidecar() {
        // The media name is 51 characters: the sidecar is its first 46 characters + `.json`.
        let media = "Screenshot_20240102-101112_Some Long App Name.png";
        let clipped = format!("{}.json", clip_chars(&format!("{media}{SUPPLEMENTAL}"), 46));
        assert_pair(media, &clipped, Rule::Clipped);
        let media = "a_very_long_original_file_name_from_a_camera_abcdef.jpg";
        let old = format!("{}.json", clip_chars(media, 46));
        assert_pair(media, &old, Rule::Clipped);
    }

    #[test]
    fn long_title_with_cut_media_name() {
        let s = sc_titled(
            "a_very_long_original_file_name_from_a_camera_a.json",
            "a_very_long_original_file_name_from_a_camera_abcdefgh.jpg",
        );
        let r = run(&["a_very_long_original_file_name_from_a_camer.jpg"], &[s]);
        assert_eq!(r[0].as_ref().map(|x| x.1), Some(Rule::Title));
    }

    #[test]
    fn counter_moves_after_extension() {
        assert_pair("IMG_0003(1).jpg", "IMG_0003.jpg(1).json", Rule::Numbered);
        assert_pair(
            "IMG_0004(2).jpg",
            "IMG_0004.jpg.supplemental-metadata(2).json",
            Rule::Numbered,
        );
    }

    #[test]
    fn counted_long_name_keeps_counter_after_the_cut() {
        let media = "PXL_20240601_101112345.NIGHT_and_more(1).jpg";
        let base = "PXL_20240601_101112345.NIGHT_and_more.jpg";
        let s = format!(
            "{}(1).json",
            clip_chars(&format!("{base}{SUPPLEMENTAL}"), 46)
        );
        assert_pair(media, &s, Rule::Clipped);
    }

    #[test]
    fn edited_copies_share_the_original_sidecar() {
        let words = [
            "edited",
            "bearbeitet",
            "modifié",
            "editado",
            "modificato",
            "bewerkt",
            "redigeret",
            "muokattu",
            "edytowane",
            "編集済み",
            "편집됨",
            "已编辑",
        ];
        for w in words {
            let edited = format!("IMG_0005-{w}.jpg");
            let r = run(&["IMG_0005.jpg", &edited], &[sc("IMG_0005.jpg.json")]);
            assert_eq!(r[0], Some(("IMG_0005.jpg.json".into(), Rule::Exact)));
            assert_eq!(
                r[1],
                Some(("IMG_0005.jpg.json".into(), Rule::Edited)),
                "{w}"
            );
        }
        // Even when the original itself is not in the export.
        assert_eq!(
            one(
                "IMG_0006-edited.jpg",
                "IMG_0006.jpg.supplemental-metadata.json"
            ),
            Some((
                "IMG_0006.jpg.supplemental-metadata.json".into(),
                Rule::Edited
            ))
        );
    }

    #[test]
    fn sidecar_without_media_extension() {
        assert_pair("IMG_0008.jpg", "IMG_0008.json", Rule::WithoutExtension);
    }

    #[test]
    fn live_photo_video_takes_the_still_sidecar() {
        let r = run(
            &["IMG_0013.HEIC", "IMG_0013.MOV"],
            &[sc("IMG_0013.HEIC.json")],
        );
        assert_eq!(r[0], Some(("IMG_0013.HEIC.json".into(), Rule::Exact)));
        assert_eq!(r[1], Some(("IMG_0013.HEIC.json".into(), Rule::LivePhoto)));
    }

    #[test]
    fn motion_photos() {
        let r = run(
            &["PXL_20210101_101010101.MP.jpg", "PXL_20210101_101010101.MP"],
            &[sc("PXL_20210101_101010101.MP.jpg.json")],
        );
        assert_eq!(r[0].as_ref().unwrap().1, Rule::Exact);
        assert_eq!(r[1].as_ref().unwrap().1, Rule::LivePhoto);
        let r = run(
            &["MVIMG_20190101_101010.jpg", "MVIMG_20190101_101010.mp4"],
            &[sc("MVIMG_20190101_101010.jpg.json")],
        );
        assert_eq!(r[1].as_ref().unwrap().1, Rule::LivePhoto);
    }

    #[test]
    fn unicode_normalization() {
        let nfd = "E\u{301}te\u{301} a\u{300} la plage.jpg";
        assert_pair(nfd, "Été à la plage.jpg.json", Rule::Exact);
    }

    #[test]
    fn sidecar_named_after_title() {
        let s = sc_titled("Photo: 1.jpg.json", "Photo: 1.jpg");
        let r = run(&["Photo_ 1.jpg"], &[s]);
        assert_eq!(r[0].as_ref().unwrap().1, Rule::Title);
    }

    #[test]
    fn extension_case_and_spelling() {
        assert_pair("IMG_0009.JPG", "IMG_0009.jpg.json", Rule::Exact);
        assert_pair("IMG_0010.jpeg", "IMG_0010.jpg.json", Rule::ExtensionVariant);
        assert_pair(
            "IMG_0011.jpg",
            "IMG_0011.jpeg.supplemental-metadata.json",
            Rule::ExtensionVariant,
        );
    }

    #[test]
    fn title_in_another_folder_only_when_unique() {
        let elsewhere = SidecarRef {
            dir: "Google Photos/Some Album".into(),
            name: "weird.json".into(),
            title: Some("IMG_0012.jpg".into()),
        };
        let r = run(&["IMG_0012.jpg"], std::slice::from_ref(&elsewhere));
        assert_eq!(r[0].as_ref().unwrap().1, Rule::TitleElsewhere);
        let mut second = elsewhere.clone();
        second.dir = "Google Photos/Other Album".into();
        let r = run(&["IMG_0012.jpg"], &[elsewhere, second]);
        assert_eq!(r[0], None);
    }

    #[test]
    fn no_stealing_between_similar_names() {
        let r = run(&["IMG_1.jpg", "IMG_11.jpg"], &[sc("IMG_11.jpg.json")]);
        assert_eq!(r[0], None);
        assert_eq!(r[1].as_ref().unwrap().0, "IMG_11.jpg.json");
        let r = run(&["IMG_11.jpg"], &[sc("IMG_1.jpg.json"), sc("IMG_1.json")]);
        assert_eq!(r[0], None);
        let r = run(
            &["IMG_0003.jpg", "IMG_0003(1).jpg"],
            &[sc("IMG_0003.jpg.json")],
        );
        assert_eq!(r[0].as_ref().unwrap().1, Rule::Exact);
        assert_eq!(
            r[1], None,
            "a (1) copy must not take the original's sidecar"
        );
        let r = run(
            &["IMG_0003(1).jpg", "IMG_0003.jpg"],
            &[sc("IMG_0003.jpg(1).json"), sc("IMG_0003.jpg.json")],
        );
        assert_eq!(r[0].as_ref().unwrap().0, "IMG_0003.jpg(1).json");
        assert_eq!(r[1].as_ref().unwrap().0, "IMG_0003.jpg.json");
    }

    #[test]
    fn sidecars_in_other_folders_are_not_used_by_name() {
        let s = SidecarRef {
            dir: "Google Photos/Album".into(),
            name: "IMG_1.jpg.json".into(),
            title: None,
        };
        assert_eq!(run(&["IMG_1.jpg"], &[s]), vec![None]);
    }

    #[test]
    fn tried_names_for_the_report() {
        let t = tried_names("IMG_0003(1).jpg");
        assert!(t.contains(&"IMG_0003(1).jpg.json".to_string()));
        assert!(t.contains(&"IMG_0003.jpg(1).json".to_string()));
        assert!(t.contains(&"IMG_0003(1).json".to_string()));
    }
}
