//! Parsing Takeout JSON files: per-media sidecars and album `metadata.json` files.
//!
//! Parsing is lenient where Google has varied the format (timestamps as strings or numbers,
//! optional fields) and strict where a wrong value would be written into a photo (out-of-range
//! coordinates, absurd timestamps are dropped with a reason).

use serde_json::{Map, Value};

use crate::metadata::Geo;

/// Largest JSON file read from an input; sidecars are a few KB, anything bigger is not one.
pub const MAX_JSON_BYTES: u64 = 4 * 1024 * 1024;

/// What a media sidecar tells about its photo.
///
/// A run holds every sidecar of its inputs for the whole run (a million-file Takeout has about
/// half a million), so it is kept small: what nearly every real sidecar has (title, dates,
/// place) is inline, and what most have not (a description, people, the favorite, archive and
/// trash flags, problems) sits in one box that is absent when all of it is empty. Read those
/// with [`Sidecar::description`], [`Sidecar::people`], … and set them with
/// `extras: SidecarExtras { … }.into()` or [`Sidecar::set_extras`]. The dates and the place
/// are kept without `Option`'s tags (64 bytes in all, against 88 with them; and the title's
/// pointer is never null, so that a `Result` of a sidecar takes no more room): read them with
/// [`Sidecar::title`], [`Sidecar::taken`], [`Sidecar::created`] and [`Sidecar::geo`], make a
/// sidecar with [`Sidecar::new`].
#[derive(Debug, Clone)]
pub struct Sidecar {
    /// Empty for none (a parsed title is never empty).
    title: Box<str>,
    /// `photoTakenTime`, seconds since the epoch (UTC); [`NO_TIME`] for none.
    taken: i64,
    /// `creationTime` (upload time), a last-resort date; [`NO_TIME`] for none.
    created: i64,
    /// Latitude, longitude and altitude; the latitude NaN for no place, the altitude NaN for
    /// none (a parsed place is never NaN).
    geo: [f64; 3],
    pub extras: ExtrasBox,
}

/// A date a sidecar does not have (parsed dates are within 1826-2200).
const NO_TIME: i64 = i64::MIN;

impl Default for Sidecar {
    fn default() -> Sidecar {
        Sidecar::new(None, None, None, None)
    }
}

impl PartialEq for Sidecar {
    fn eq(&self, other: &Sidecar) -> bool {
        self.title() == other.title()
            && self.taken() == other.taken()
            && self.created() == other.created()
            && self.geo() == other.geo()
            && self.extras == other.extras
    }
}

/// The parts of a [`Sidecar`] that real sidecars seldom have.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SidecarExtras {
    pub description: Option<String>,
    pub people: Vec<String>,
    pub favorited: bool,
    pub archived: bool,
    pub trashed: bool,
    /// The position was moved in Google Photos: `geoData` (where the photo is now) is not
    /// `geoDataExif` (the camera's).
    pub moved: bool,
    /// Shared by a partner (`googlePhotosOrigin.fromPartnerSharing`), not the user's own.
    pub partner: bool,
    /// Values that were present but unusable, for the report.
    pub problems: Vec<String>,
}

/// A [`SidecarExtras`] in 8 bytes: no box when it is all empty (so that `==` compares
/// meaning, and a typical sidecar allocates nothing for it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExtrasBox(Option<Box<SidecarExtras>>);

impl From<SidecarExtras> for ExtrasBox {
    fn from(extras: SidecarExtras) -> ExtrasBox {
        ExtrasBox((extras != NO_EXTRAS).then(|| Box::new(extras)))
    }
}

impl ExtrasBox {
    /// What it holds, the box given up.
    pub fn into_inner(self) -> SidecarExtras {
        self.0.map(|e| *e).unwrap_or_default()
    }
}

impl std::ops::Deref for ExtrasBox {
    type Target = SidecarExtras;

    fn deref(&self) -> &SidecarExtras {
        self.0.as_deref().unwrap_or(&NO_EXTRAS)
    }
}

/// What a sidecar without extras reads as.
static NO_EXTRAS: SidecarExtras = SidecarExtras {
    description: None,
    people: Vec::new(),
    favorited: false,
    archived: false,
    trashed: false,
    moved: false,
    partner: false,
    problems: Vec::new(),
};

/// An album folder's `metadata.json` (localized names: recognised by content).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlbumInfo {
    pub title: String,
    pub description: Option<String>,
}

/// What a JSON file in a Takeout turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonFile {
    Media(Sidecar),
    Album(AlbumInfo),
    /// Valid JSON of another kind (e.g. `print-subscriptions.json`).
    Other,
}

/// Dates before 1826 (the oldest photograph) or after 2200 are not a real date taken.
const MIN_TS: i64 = -4_575_744_000;
const MAX_TS: i64 = 7_258_118_400;

/// Longest description embedded into a file's own metadata, in bytes. EXIF's
/// ImageDescription counts its bytes in a u32, but in a JPEG the whole EXIF block lives in one
/// APP1 segment of at most 65,533 bytes, which also holds the date, GPS and the camera's own
/// tags: a description that takes most of it cannot be written without losing those. A longer
/// description goes to the XMP sidecar only (XMP has no such limit), and the date and place
/// are still embedded.
pub const MAX_EMBEDDED_DESCRIPTION: usize = 60_000;

impl Sidecar {
    /// A sidecar with these title, dates (taken, uploaded) and place, and no extras. A NaN
    /// coordinate is no place, a NaN altitude none, a date of `i64::MIN` none.
    pub fn new(
        title: Option<Box<str>>,
        taken: Option<i64>,
        created: Option<i64>,
        geo: Option<Geo>,
    ) -> Sidecar {
        let geo = match geo {
            Some(g) if !g.lat.is_nan() && !g.lon.is_nan() => {
                [g.lat, g.lon, g.alt.unwrap_or(f64::NAN)]
            }
            _ => [f64::NAN; 3],
        };
        Sidecar {
            title: title.unwrap_or_default(),
            taken: taken.unwrap_or(NO_TIME),
            created: created.unwrap_or(NO_TIME),
            geo,
            extras: ExtrasBox::default(),
        }
    }

    /// The file name Google Photos knows the photo by (never empty).
    pub fn title(&self) -> Option<&str> {
        (!self.title.is_empty()).then_some(&*self.title)
    }

    /// `photoTakenTime`, seconds since the epoch (UTC).
    pub fn taken(&self) -> Option<i64> {
        (self.taken != NO_TIME).then_some(self.taken)
    }

    /// `creationTime` (upload time), a last-resort date.
    pub fn created(&self) -> Option<i64> {
        (self.created != NO_TIME).then_some(self.created)
    }

    /// Where it was taken.
    pub fn geo(&self) -> Option<Geo> {
        let [lat, lon, alt] = self.geo;
        (!lat.is_nan()).then_some(Geo {
            lat,
            lon,
            alt: (!alt.is_nan()).then_some(alt),
        })
    }

    /// The seldom-set parts (all empty when the sidecar has none).
    pub fn extras(&self) -> &SidecarExtras {
        &self.extras
    }

    /// Replaces the seldom-set parts (no box is kept when they are all empty).
    pub fn set_extras(&mut self, extras: SidecarExtras) {
        self.extras = extras.into();
    }

    /// The description, trimmed, never empty.
    pub fn description(&self) -> Option<&str> {
        self.extras().description.as_deref()
    }

    /// Names of the people tagged, none empty.
    pub fn people(&self) -> &[String] {
        &self.extras().people
    }

    pub fn favorited(&self) -> bool {
        self.extras().favorited
    }

    pub fn archived(&self) -> bool {
        self.extras().archived
    }

    pub fn trashed(&self) -> bool {
        self.extras().trashed
    }

    /// Values that were present but unusable, for the report.
    pub fn problems(&self) -> &[String] {
        &self.extras().problems
    }

    /// The description to embed into the file itself: `None` when there is none or it is too
    /// long for EXIF (see [`MAX_EMBEDDED_DESCRIPTION`]; it then goes to XMP only).
    pub fn embeddable_description(&self) -> Option<String> {
        self.description()
            .filter(|d| d.len() <= MAX_EMBEDDED_DESCRIPTION)
            .map(String::from)
    }

    /// True when the description is too long to embed (it needs the XMP sidecar).
    pub fn description_xmp_only(&self) -> bool {
        self.description()
            .is_some_and(|d| d.len() > MAX_EMBEDDED_DESCRIPTION)
    }
}

/// Parses one JSON file. Errors are human-readable reasons ("not valid JSON: …").
///
/// A `\u` escape of a lone UTF-16 surrogate (`"\ud83d"` without its pair: a cut emoji) is
/// valid JSON syntax but no character, and serde_json refuses the whole file for it. Such a file
/// is parsed again with each bad escape replaced by a marker character, and every string
/// holding a marker is dropped (named in `problems`): a bad escape costs that string only.
pub fn parse(bytes: &[u8]) -> Result<JsonFile, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut problems = Vec::new();
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => match lenient(text) {
            Some((mut v, marker)) => {
                drop_marked(&mut v, marker, "", &mut problems);
                v
            }
            None => return Err(format!("not valid JSON: {e}")),
        },
    };
    let Value::Object(obj) = value else {
        return Ok(JsonFile::Other);
    };
    let result = parse_object(obj);
    Ok(match result {
        JsonFile::Media(mut s) if !problems.is_empty() => {
            let mut extras = std::mem::take(&mut s.extras).into_inner();
            problems.append(&mut extras.problems);
            extras.problems = problems;
            s.set_extras(extras);
            JsonFile::Media(s)
        }
        other => other,
    })
}

/// Characters that stand in for a bad escape: Unicode noncharacters (never in real text).
/// The one chosen appears nowhere in the file, raw or escaped, so every one found after
/// parsing is a replaced escape.
const MARKERS: std::ops::RangeInclusive<u32> = 0xFDD0..=0xFDEF;

/// `text` parsed with every escape of a lone surrogate replaced by a marker, and the marker;
/// `None` when it still does not parse (or holds every marker already).
fn lenient(text: &str) -> Option<(Value, char)> {
    let lower = text.to_ascii_lowercase();
    let marker = MARKERS
        .filter_map(char::from_u32)
        .find(|m| !text.contains(*m) && !lower.contains(&format!("\\u{:04x}", *m as u32)))?;
    let fixed = replace_lone_surrogates(text, marker)?;
    Some((serde_json::from_str(&fixed).ok()?, marker))
}

/// Rewrites `\uD800`–`\uDFFF` escapes that are not a high-low pair as `\uXXXX` of `marker`;
/// `None` when there are none (the error was something else).
fn replace_lone_surrogates(text: &str, marker: char) -> Option<String> {
    let b = text.as_bytes();
    let hex = |at: usize| -> Option<u32> {
        let h = text.get(at..at + 4)?;
        h.bytes()
            .all(|c| c.is_ascii_hexdigit())
            .then(|| u32::from_str_radix(h, 16).ok())?
    };
    // `\uXXXX` at `at` (the backslash), its value.
    let escape_at = |at: usize| -> Option<u32> {
        (b.get(at) == Some(&b'\\') && b.get(at + 1) == Some(&b'u'))
            .then(|| hex(at + 2))
            .flatten()
    };
    let mut out = String::with_capacity(text.len());
    let mut replaced = false;
    let (mut i, mut copied, mut in_string) = (0, 0, false);
    while i < b.len() {
        match b[i] {
            b'"' => {
                in_string = !in_string;
                i += 1;
            }
            b'\\' if in_string => {
                let Some(v) = escape_at(i) else {
                    i += 2; // any other escape: two bytes
                    continue;
                };
                let high = (0xD800..0xDC00).contains(&v);
                let low = (0xDC00..0xE000).contains(&v);
                let paired =
                    high && escape_at(i + 6).is_some_and(|w| (0xDC00..0xE000).contains(&w));
                if paired {
                    i += 12;
                } else if high || low {
                    out.push_str(&text[copied..i]);
                    out.push_str(&format!("\\u{:04x}", marker as u32));
                    i += 6;
                    copied = i;
                    replaced = true;
                } else {
                    i += 6;
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[copied..]);
    replaced.then_some(out)
}

/// Replaces every string holding the marker with `null` (object keys holding it: the entry
/// is removed), naming each in `problems`.
fn drop_marked(v: &mut Value, marker: char, at: &str, problems: &mut Vec<String>) {
    match v {
        Value::String(s) if s.contains(marker) => {
            problems.push(format!(
                "{} holds an invalid \\u escape (half of an emoji?): that text is left out",
                if at.is_empty() { "a value" } else { at }
            ));
            *v = Value::Null;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                drop_marked(item, marker, &format!("{at}[{i}]"), problems);
            }
        }
        Value::Object(map) => {
            let bad: Vec<String> = map.keys().filter(|k| k.contains(marker)).cloned().collect();
            for k in bad {
                map.remove(&k);
                problems.push(
                    "a field name holds an invalid \\u escape: that field is left out".into(),
                );
            }
            for (k, item) in map.iter_mut() {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                drop_marked(item, marker, &path, problems);
            }
        }
        _ => {}
    }
}

fn parse_object(obj: Map<String, Value>) -> JsonFile {
    let looks_like_media = [
        "photoTakenTime",
        "creationTime",
        "geoData",
        "imageViews",
        "url",
    ]
    .iter()
    .any(|k| obj.contains_key(*k));
    if looks_like_media {
        return JsonFile::Media(media_sidecar(&obj));
    }
    match obj.get("title") {
        Some(Value::String(title)) => JsonFile::Album(AlbumInfo {
            title: title.clone(),
            description: non_empty_string(obj.get("description")),
        }),
        _ => JsonFile::Other,
    }
}

fn media_sidecar(obj: &Map<String, Value>) -> Sidecar {
    let mut extras = SidecarExtras {
        description: non_empty_string(obj.get("description"))
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty()),
        favorited: flag(obj.get("favorited")),
        archived: flag(obj.get("archived")),
        trashed: flag(obj.get("trashed")),
        partner: (obj.get("googlePhotosOrigin"))
            .is_some_and(|o| o.get("fromPartnerSharing").is_some()),
        ..SidecarExtras::default()
    };
    let problems = &mut extras.problems;
    let taken = timestamp(obj, "photoTakenTime", problems);
    let created = timestamp(obj, "creationTime", problems);
    let (now, camera) = (
        geo(obj, "geoData", problems),
        geo(obj, "geoDataExif", problems),
    );
    let geo = now.or(camera);
    extras.moved = match (now, camera) {
        (Some(n), Some(c)) => (n.lat - c.lat).abs() > 1e-6 || (n.lon - c.lon).abs() > 1e-6,
        _ => false,
    };
    if let Some(Value::Array(people)) = obj.get("people") {
        extras.people = people
            .iter()
            .filter_map(|p| non_empty_string(p.get("name")))
            .collect();
    }
    let mut sidecar = Sidecar::new(
        non_empty_string(obj.get("title")).map(String::into_boxed_str),
        taken,
        created,
        geo,
    );
    sidecar.set_extras(extras);
    sidecar
}

fn non_empty_string(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Reads `obj[field].timestamp`, a string or a number of seconds since the epoch.
fn timestamp(obj: &Map<String, Value>, field: &str, problems: &mut Vec<String>) -> Option<i64> {
    let raw = obj.get(field)?.get("timestamp")?;
    let parsed = match raw {
        Value::String(s) => s.trim().parse::<f64>().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    };
    match parsed {
        Some(t) if t.is_finite() && (MIN_TS as f64..=MAX_TS as f64).contains(&t) => {
            Some(t.floor() as i64)
        }
        _ => {
            problems.push(format!("{field}.timestamp {raw} is not a usable date"));
            None
        }
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

/// A position, or `None` for absent or `0.0, 0.0` (Google's "no location").
fn geo(obj: &Map<String, Value>, field: &str, problems: &mut Vec<String>) -> Option<Geo> {
    let g = obj.get(field)?;
    let (lat, lon) = (number(g.get("latitude"))?, number(g.get("longitude"))?);
    if lat == 0.0 && lon == 0.0 {
        return None;
    }
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        problems.push(format!("{field} {lat},{lon} is out of range"));
        return None;
    }
    let alt = number(g.get("altitude")).filter(|a| a.abs() < 100_000.0 && *a != 0.0);
    Some(Geo { lat, lon, alt })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_place_read_back_as_given() {
        let paris = Geo {
            lat: 48.85,
            lon: -2.29,
            alt: Some(-35.5),
        };
        let no_alt = Geo { alt: None, ..paris };
        for (taken, created, geo) in [
            (None, None, None),
            (Some(0), Some(-1), Some(paris)),
            (Some(-4_575_744_000), None, Some(no_alt)),
            (None, Some(7_258_118_400), None),
        ] {
            let s = Sidecar::new(Some("a.jpg".into()), taken, created, geo);
            assert_eq!((s.taken(), s.created(), s.geo()), (taken, created, geo));
            assert_eq!(s.title(), Some("a.jpg"));
            assert_eq!(s, s.clone());
        }
        // What cannot be a date or a place reads as none.
        let nan = |lat, lon| {
            Some(Geo {
                lat,
                lon,
                alt: None,
            })
        };
        for geo in [nan(f64::NAN, 1.0), nan(1.0, f64::NAN)] {
            let s = Sidecar::new(None, Some(i64::MIN), None, geo);
            assert_eq!((s.taken(), s.geo()), (None, None));
        }
        assert_eq!(Sidecar::default(), Sidecar::new(None, None, None, None));
        assert_eq!(
            Sidecar::new(Some("".into()), None, None, None).title(),
            None
        );
        // Each part counts in `==`.
        let base = Sidecar::new(None, Some(1), Some(2), Some(paris));
        for other in [
            Sidecar::new(Some("a".into()), Some(1), Some(2), Some(paris)),
            Sidecar::new(None, Some(3), Some(2), Some(paris)),
            Sidecar::new(None, Some(1), None, Some(paris)),
            Sidecar::new(None, Some(1), Some(2), Some(no_alt)),
        ] {
            assert_ne!(base, other);
        }
        let mut favorite = base.clone();
        favorite.set_extras(SidecarExtras {
            favorited: true,
            ..SidecarExtras::default()
        });
        assert_ne!(base, favorite);
    }

    fn media(json: &str) -> Sidecar {
        match parse(json.as_bytes()).unwrap() {
            JsonFile::Media(s) => s,
            other => panic!("not a media sidecar: {other:?}"),
        }
    }

    #[test]
    fn full_sidecar() {
        let s = media(
            r#"{"title":"IMG_20190704_153012.jpg","description":"Eiffel tower at dusk",
            "imageViews":"12",
            "creationTime":{"timestamp":"1562254512","formatted":"x"},
            "photoTakenTime":{"timestamp":"1562253012","formatted":"Jul 4, 2019"},
            "geoData":{"latitude":48.8583701,"longitude":2.2944813,"altitude":35.2,"latitudeSpan":0.0,"longitudeSpan":0.0},
            "geoDataExif":{"latitude":1.0,"longitude":2.0,"altitude":0.0},
            "people":[{"name":"Alice"},{"name":""}],
            "favorited":true,"archived":true,"trashed":false}"#,
        );
        assert_eq!(s.title(), Some("IMG_20190704_153012.jpg"));
        assert_eq!(s.description(), Some("Eiffel tower at dusk"));
        assert_eq!(s.taken(), Some(1562253012));
        assert_eq!(s.created(), Some(1562254512));
        assert_eq!(
            s.geo(),
            Some(Geo {
                lat: 48.8583701,
                lon: 2.2944813,
                alt: Some(35.2)
            })
        );
        assert_eq!(s.people(), vec!["Alice".to_string()]);
        assert!(s.favorited() && s.archived() && !s.trashed());
        assert!(s.problems().is_empty());
    }

    #[test]
    fn only_a_sidecar_with_extras_boxes_them() {
        // Google writes an empty description and no flags for most photos.
        let s = media(
            r#"{"title":"IMG_1.jpg","description":"  ","people":[],"favorited":false,
            "photoTakenTime":{"timestamp":"5"},"creationTime":{"timestamp":"6"},
            "geoData":{"latitude":1.5,"longitude":2.5}}"#,
        );
        assert!(s.extras.0.is_none());
        assert_eq!(
            (s.description(), s.people(), s.problems()),
            (None, &[][..], &[][..])
        );
        assert!(!s.favorited() && !s.archived() && !s.trashed());
        let mut t = s.clone();
        t.set_extras(SidecarExtras::default());
        assert!(t.extras.0.is_none());
        assert_eq!(t, s);
        // One flag or one problem is enough to keep the box, and `==` sees it.
        for extras in [
            SidecarExtras {
                trashed: true,
                ..SidecarExtras::default()
            },
            SidecarExtras {
                problems: vec!["x".into()],
                ..SidecarExtras::default()
            },
        ] {
            t.set_extras(extras.clone());
            assert!(t.extras.0.is_some());
            assert_eq!(t.extras(), &extras);
            assert_ne!(t, s);
        }
        assert!(!t.trashed() && t.problems() == ["x"]);
        // A problem found while parsing leniently lands in the box too.
        let s = media(r#"{"title":"a\ud83d","photoTakenTime":{"timestamp":"5"}}"#);
        assert_eq!(s.title(), None);
        assert_eq!(s.problems().len(), 1, "{:?}", s.problems());
    }

    #[test]
    fn zero_geo_means_none_and_falls_back_to_exif_geo() {
        let s = media(
            r#"{"photoTakenTime":{"timestamp":1},"geoData":{"latitude":0.0,"longitude":0.0},
            "geoDataExif":{"latitude":35.6,"longitude":139.7}}"#,
        );
        assert_eq!(
            s.geo(),
            Some(Geo {
                lat: 35.6,
                lon: 139.7,
                alt: None
            })
        );
        let s = media(
            r#"{"photoTakenTime":{"timestamp":1},"geoData":{"latitude":0.0,"longitude":0.0}}"#,
        );
        assert_eq!(s.geo(), None);
    }

    #[test]
    fn lenient_numbers_strict_ranges() {
        let s = media(r#"{"photoTakenTime":{"timestamp":1562253012}}"#);
        assert_eq!(s.taken(), Some(1562253012));
        let s = media(
            r#"{"photoTakenTime":{"timestamp":"99999999999999999"},"geoData":{"latitude":91,"longitude":2}}"#,
        );
        assert_eq!(s.taken(), None);
        assert_eq!(s.geo(), None);
        assert_eq!(s.problems().len(), 2, "{:?}", s.problems());
        let s = media(r#"{"photoTakenTime":{"timestamp":{"a":1}},"title":5}"#);
        assert_eq!(s.taken(), None);
        assert_eq!(s.title(), None);
    }

    #[test]
    fn albums_and_others() {
        assert_eq!(
            parse(br#"{"title":"Paris 2019","description":"","access":"protected","date":{"timestamp":"1"}}"#)
                .unwrap(),
            JsonFile::Album(AlbumInfo { title: "Paris 2019".into(), description: None })
        );
        assert_eq!(parse(b"[1,2]").unwrap(), JsonFile::Other);
        assert_eq!(parse(br#"{"subscriptions":[]}"#).unwrap(), JsonFile::Other);
    }

    #[test]
    fn a_lone_surrogate_escape_costs_that_string_only() {
        // serde_json alone refuses the whole file (all of its metadata was lost).
        let json = r#"{"title":"IMG_1.jpg","description":"sunset \ud83d over the sea",
            "photoTakenTime":{"timestamp":"1562253012"},
            "geoData":{"latitude":48.85,"longitude":2.29},
            "people":[{"name":"Al\udc00ice"},{"name":"Bob \ud83d\ude00"}]}"#;
        assert!(serde_json::from_str::<Value>(json).is_err());
        let s = media(json);
        assert_eq!(s.title(), Some("IMG_1.jpg"));
        assert_eq!(s.description(), None);
        assert_eq!(s.taken(), Some(1562253012));
        assert_eq!(s.geo().map(|g| g.lat), Some(48.85));
        // A valid pair is kept; the broken name is left out.
        assert_eq!(s.people(), vec!["Bob \u{1F600}".to_string()]);
        assert_eq!(s.problems().len(), 2, "{:?}", s.problems());
        assert!(
            s.problems()[0].starts_with("description holds an invalid"),
            "{:?}",
            s.problems()
        );
        assert!(
            s.problems()[1].starts_with("people[0].name holds"),
            "{:?}",
            s.problems()
        );
        // An escaped backslash before `u` is not an escape; other errors stay errors.
        let s = media(r#"{"photoTakenTime":{"timestamp":"5"},"description":"C:\\ud83d"}"#);
        assert_eq!(s.description(), Some("C:\\ud83d"));
        assert!(s.problems().is_empty());
        assert!(parse(br#"{"description":"\ud83d", "#)
            .unwrap_err()
            .contains("not valid JSON"));
        // The marker is chosen from characters the file does not hold.
        let s = media("{\"photoTakenTime\":{\"timestamp\":\"5\"},\"title\":\"\u{FDD0}\\ufdd1\",\"description\":\"x\\udc00\"}");
        assert_eq!(s.title(), Some("\u{FDD0}\u{FDD1}"));
        assert_eq!(s.description(), None);
    }

    #[test]
    fn an_over_long_description_is_for_xmp_only() {
        let long = "a".repeat(MAX_EMBEDDED_DESCRIPTION + 1);
        let s = media(&format!(
            r#"{{"photoTakenTime":{{"timestamp":"5"}},"description":"{long}"}}"#
        ));
        assert_eq!(s.description(), Some(long.as_str()));
        assert_eq!(s.embeddable_description(), None);
        assert!(s.description_xmp_only());
        let fits = "é".repeat(MAX_EMBEDDED_DESCRIPTION / 2);
        let s = media(&format!(
            r#"{{"photoTakenTime":{{"timestamp":"5"}},"description":"{fits}"}}"#
        ));
        assert_eq!(s.embeddable_description().as_deref(), Some(fits.as_str()));
        assert!(!s.description_xmp_only());
    }

    #[test]
    fn malformed_json_is_an_error_with_a_reason() {
        assert!(parse(br#"{"title": "x", "photoTakenTime": {"#)
            .unwrap_err()
            .contains("not valid JSON"));
        assert!(parse(b"\xff\xfe").unwrap_err().contains("UTF-8"));
        // A byte-order mark is tolerated.
        assert!(matches!(
            parse("\u{feff}{\"photoTakenTime\":{\"timestamp\":\"5\"}}".as_bytes()),
            Ok(JsonFile::Media(_))
        ));
    }
}
