//! File-name helpers shared by the matcher and the output stage: Unicode normalization,
//! `(n)` duplicate counters and extensions, the way Google Photos spells them.

use unicode_normalization::UnicodeNormalization;

/// NFC-normalized, lower-cased form used as a lookup key (zip names may be NFD, titles NFC).
pub fn key(name: &str) -> String {
    // Most names are ASCII, already in NFC: skip the normalizer (a hot path on re-runs).
    if name.is_ascii() {
        return name.to_ascii_lowercase();
    }
    name.nfc().collect::<String>().to_lowercase()
}

/// NFC-normalized form of a name, case kept.
pub fn nfc(name: &str) -> String {
    if name.is_ascii() {
        return name.to_string();
    }
    name.nfc().collect()
}

/// Like [`nfc`], borrowing `name` when it is in NFC already (nearly always).
pub fn nfc_cow(name: &str) -> std::borrow::Cow<'_, str> {
    if name.is_ascii() || unicode_normalization::is_nfc(name) {
        return std::borrow::Cow::Borrowed(name);
    }
    std::borrow::Cow::Owned(name.nfc().collect())
}

/// A media file name split the way Takeout treats it: `IMG_0003(1).jpg` is stem `IMG_0003`,
/// counter `Some(1)`, extension `.jpg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameParts {
    pub stem: String,
    pub counter: Option<u32>,
    /// With its leading dot; empty when the name has none.
    pub ext: String,
}

impl NameParts {
    pub fn parse(name: &str) -> NameParts {
        let (stem, ext) = split_ext(name);
        let (stem, counter) = split_counter(stem);
        NameParts {
            stem: stem.to_string(),
            counter,
            ext: ext.to_string(),
        }
    }

    /// The name without its counter: `IMG_0003.jpg` for `IMG_0003(1).jpg`.
    pub fn base(&self) -> String {
        format!("{}{}", self.stem, self.ext)
    }

    /// `(n)` or the empty string.
    pub fn counter_suffix(&self) -> String {
        counter_suffix(self.counter)
    }
}

pub fn counter_suffix(counter: Option<u32>) -> String {
    counter.map(|n| format!("({n})")).unwrap_or_default()
}

/// Splits `name` into stem and extension (with dot). An extension is at most 5 characters of
/// letters and digits after the last dot, and never the whole name.
pub fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 && name.len() - i <= 6 && name.len() - i >= 2 => {
            let ext = &name[i + 1..];
            if ext.chars().all(|c| c.is_ascii_alphanumeric()) {
                (&name[..i], &name[i..])
            } else {
                (name, "")
            }
        }
        _ => (name, ""),
    }
}

/// Splits a trailing `(n)` counter off `s`.
pub fn split_counter(s: &str) -> (&str, Option<u32>) {
    if let Some(open) = s.strip_suffix(')').and_then(|t| t.rfind('(')) {
        let digits = &s[open + 1..s.len() - 1];
        if !digits.is_empty() && digits.len() <= 4 && digits.chars().all(|c| c.is_ascii_digit()) {
            if let Ok(n) = digits.parse() {
                return (&s[..open], Some(n));
            }
        }
    }
    (s, None)
}

/// Length of `s` in UTF-16 code units, the unit Google counts names in (an emoji outside the
/// Basic Multilingual Plane counts two).
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// The longest prefix of `s` that is at most `n` UTF-16 code units long, and whether a cut at
/// `n` units falls inside a surrogate pair (Google then drops the half it keeps, or writes it
/// as U+FFFD).
pub fn clip_utf16(s: &str, n: usize) -> (&str, bool) {
    let mut units = 0;
    for (i, c) in s.char_indices() {
        let w = c.len_utf16();
        if units + w > n {
            return (&s[..i], units < n);
        }
        units += w;
    }
    (s, false)
}

/// Google Photos' localized words for an edited copy (`IMG_0005-edited.jpg`), lower-case NFC,
/// with their language. An edited copy has no sidecar of its own: it shares its original's.
/// Any other `-word` ends a different photo's name (`Holiday-Paris.jpg`).
///
/// Reported from real exports (users' bug reports and other Takeout tools' lists that cite
/// them): `edited`, `bearbeitet`, `modifié`, `ha editado` (es), `editado`, `editat` (ca),
/// `modificato`, `bewerkt`, `edytowane`, `redigeret`, `編集済み`. The others are the language's
/// usual word for "edited" as other Takeout tools list them, not confirmed from an export;
/// where those tools disagree (ru, uk, cs, zh) every candidate is listed.
pub const EDITED_WORDS: &[(&str, &str)] = &[
    ("edited", "en"),
    ("bearbeitet", "de"),
    ("modifié", "fr"),
    ("editado", "es, pt"),
    ("ha editado", "es"),
    ("editat", "ca"),
    ("modificato", "it"),
    ("bewerkt", "nl"),
    ("redigeret", "da"),
    ("redigerad", "sv"),
    ("redigert", "nb"),
    ("muokattu", "fi"),
    ("edytowane", "pl"),
    ("upraveno", "cs"),
    ("upravené", "cs, sk"),
    ("szerkesztett", "hu"),
    ("düzenlendi", "tr"),
    ("изменено", "ru"),
    ("отредактировано", "ru"),
    ("змінено", "uk"),
    ("відредаговано", "uk"),
    ("επεξεργασμένο", "el"),
    ("編集済み", "ja"),
    ("편집됨", "ko"),
    ("已编辑", "zh-Hans"),
    ("编辑", "zh-Hans"),
    ("已編輯", "zh-Hant"),
    ("編輯", "zh-Hant"),
];

/// True when `word` (in any case, NFC or NFD) is one of Google's words for "edited".
pub fn is_edited_word(word: &str) -> bool {
    let w = key(word);
    EDITED_WORDS.iter().any(|(e, _)| *e == w)
}

/// Splits an edited copy's stem into the original stem and the localized "edited" word:
/// `IMG_0005-edited` → (`IMG_0005`, `edited`), `Foto-bearbeitet` → (`Foto`, `bearbeitet`).
/// `None` unless the text after the last `-` is one of [`EDITED_WORDS`].
pub fn split_edited(stem: &str) -> Option<(&str, &str)> {
    let (orig, word) = stem.rsplit_once('-')?;
    (!orig.is_empty() && is_edited_word(word)).then_some((orig, word))
}

/// Makes a name safe as a single path component on Linux, macOS and Windows: no separators,
/// no control or reserved characters, no `.`/`..`, no reserved device names, at most 255 bytes
/// (the extension is kept when cutting). Returns `None` when nothing usable is left.
pub fn sanitize_component(name: &str) -> Option<String> {
    let mut out: String = nfc(name)
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    // Windows drops trailing dots and spaces; leading spaces are confusing everywhere.
    while out.ends_with('.') || out.ends_with(' ') {
        out.pop();
    }
    let trimmed = out.trim_start();
    if trimmed.is_empty() || trimmed.chars().all(|c| c == '.' || c == '_') {
        return None;
    }
    let mut out = trimmed.to_string();
    let (stem, ext) = split_ext(&out);
    const RESERVED: [&str; 22] = [
        "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
        "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
    ];
    if RESERVED.contains(&stem.to_ascii_lowercase().as_str()) {
        out = format!("{stem}_{ext}");
    }
    Some(truncate_keeping_ext(&out, 255))
}

/// Cuts `name` to at most `max_bytes` bytes on a character boundary, keeping its extension.
pub fn truncate_keeping_ext(name: &str, max_bytes: usize) -> String {
    if name.len() <= max_bytes {
        return name.to_string();
    }
    let (stem, ext) = split_ext(name);
    let budget = max_bytes.saturating_sub(ext.len());
    let mut end = budget.min(stem.len());
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{}", &stem[..end], ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counters_and_extensions() {
        let p = NameParts::parse("IMG_0003(1).jpg");
        assert_eq!(p.stem, "IMG_0003");
        assert_eq!(p.counter, Some(1));
        assert_eq!(p.ext, ".jpg");
        assert_eq!(p.base(), "IMG_0003.jpg");
        let p = NameParts::parse("PXL_20240601_101112345.NIGHT.jpg");
        assert_eq!(p.stem, "PXL_20240601_101112345.NIGHT");
        assert_eq!(p.counter, None);
        assert_eq!(NameParts::parse("README").ext, "");
        assert_eq!(NameParts::parse("(1)").counter, Some(1));
        assert_eq!(split_counter("a(x)"), ("a(x)", None));
    }

    #[test]
    fn edited_words_in_any_script_and_form() {
        assert_eq!(
            split_edited("IMG_0005-edited"),
            Some(("IMG_0005", "edited"))
        );
        assert_eq!(split_edited("IMG-編集済み"), Some(("IMG", "編集済み")));
        assert_eq!(
            split_edited("IMG_0005-modifié"),
            Some(("IMG_0005", "modifié"))
        );
        // Decomposed (macOS) and upper-case spellings of a known word.
        assert_eq!(
            split_edited("IMG_5001-modifie\u{301}"),
            Some(("IMG_5001", "modifie\u{301}"))
        );
        assert_eq!(split_edited("IMG_1-EDITED"), Some(("IMG_1", "EDITED")));
        // The Spanish form has a space in it; the counter stays with the original.
        assert_eq!(
            split_edited("2021-05-22 23.19.26-ha editado"),
            Some(("2021-05-22 23.19.26", "ha editado"))
        );
        assert_eq!(
            split_edited("IMG-20150125-WA0003-modifié"),
            Some(("IMG-20150125-WA0003", "modifié"))
        );
        for (word, lang) in EDITED_WORDS {
            let stem = format!("IMG_1-{word}");
            assert_eq!(split_edited(&stem), Some(("IMG_1", *word)), "{lang}");
            assert_eq!(key(word), *word, "{lang}: the list is lower-case NFC");
        }
        // Any other word is part of another photo's name.
        assert_eq!(split_edited("Holiday-Paris"), None);
        assert_eq!(split_edited("VID-20180102-WA0003"), None);
        assert_eq!(split_edited("IMG_1-editedx"), None);
        assert_eq!(split_edited("-edited"), None);
        assert_eq!(split_edited("plain"), None);
    }

    #[test]
    fn counters_of_several_digits() {
        assert_eq!(split_counter("IMG_0003(12)"), ("IMG_0003", Some(12)));
        assert_eq!(split_counter("IMG_0003(1234)"), ("IMG_0003", Some(1234)));
        // Five digits is a name, not a counter; so is an empty or signed one.
        assert_eq!(split_counter("IMG_0003(12345)"), ("IMG_0003(12345)", None));
        assert_eq!(split_counter("IMG_0003()"), ("IMG_0003()", None));
        assert_eq!(split_counter("IMG_0003(-1)"), ("IMG_0003(-1)", None));
        let p = NameParts::parse("IMG_0003(12).jpg");
        assert_eq!((p.stem.as_str(), p.counter), ("IMG_0003", Some(12)));
        assert_eq!(p.counter_suffix(), "(12)");
    }

    #[test]
    fn keys_are_nfc_and_case_folded() {
        assert_eq!(key("E\u{301}te\u{301}.JPG"), key("Été.jpg"));
    }

    #[test]
    fn sanitizes_hostile_names() {
        assert_eq!(sanitize_component("a/b\\c.jpg").unwrap(), "a_b_c.jpg");
        assert_eq!(sanitize_component(".."), None);
        assert_eq!(sanitize_component("CON.jpg").unwrap(), "CON_.jpg");
        assert_eq!(sanitize_component("x\0y.png").unwrap(), "x_y.png");
        assert_eq!(sanitize_component("trail. . ").unwrap(), "trail");
        let long = format!("{}.jpg", "é".repeat(200));
        let s = sanitize_component(&long).unwrap();
        assert!(s.len() <= 255 && s.ends_with(".jpg"));
    }

    #[test]
    fn clips_by_utf16_code_units() {
        assert_eq!(utf16_len("äbc"), 3);
        assert_eq!(utf16_len("a😀"), 3);
        assert_eq!(clip_utf16("äbc", 2), ("äb", false));
        assert_eq!(clip_utf16("ab", 5), ("ab", false));
        assert_eq!(clip_utf16("ab", 2), ("ab", false));
        // An emoji is two units: a cut after one unit of it falls inside the pair.
        assert_eq!(clip_utf16("a😀b", 2), ("a", true));
        assert_eq!(clip_utf16("a😀b", 3), ("a😀", false));
        assert_eq!(clip_utf16("a😀b", 1), ("a", false));
        assert_eq!(clip_utf16("😀", 0), ("", false));
        // Bytes would give other cuts: "é" is two bytes but one unit.
        assert_eq!(clip_utf16("ééé", 2), ("éé", false));
    }
}
