//! Parsing Takeout JSON files: per-media sidecars and album `metadata.json` files.
//!
//! Parsing is lenient where Google has varied the format (timestamps as strings or numbers,
//! optional fields) and strict where a wrong value would be written into a photo (out-of-range
//! coordinates, absurd timestamps are dropped with a reason).

use serde_json::{Map, Value};

/// Largest JSON file read from an input; sidecars are a few KB, anything bigger is not one.
pub const MAX_JSON_BYTES: u64 = 4 * 1024 * 1024;

/// A position from a sidecar, in degrees and metres.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Geo {
    pub lat: f64,
    pub lon: f64,
    pub alt: Option<f64>,
}

/// What a media sidecar tells about its photo.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sidecar {
    pub title: Option<String>,
    pub description: Option<String>,
    /// `photoTakenTime`, seconds since the epoch (UTC).
    pub taken: Option<i64>,
    /// `creationTime` (upload time), a last-resort date.
    pub created: Option<i64>,
    pub geo: Option<Geo>,
    pub people: Vec<String>,
    pub favorited: bool,
    pub archived: bool,
    pub trashed: bool,
    /// Values that were present but unusable, for the report.
    pub problems: Vec<String>,
}

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

/// Parses one JSON file. Errors are human-readable reasons ("not valid JSON: …").
pub fn parse(bytes: &[u8]) -> Result<JsonFile, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(obj) = value else {
        return Ok(JsonFile::Other);
    };
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
        return Ok(JsonFile::Media(media_sidecar(&obj)));
    }
    match obj.get("title") {
        Some(Value::String(title)) => Ok(JsonFile::Album(AlbumInfo {
            title: title.clone(),
            description: non_empty_string(obj.get("description")),
        })),
        _ => Ok(JsonFile::Other),
    }
}

fn media_sidecar(obj: &Map<String, Value>) -> Sidecar {
    let mut s = Sidecar {
        title: non_empty_string(obj.get("title")),
        description: non_empty_string(obj.get("description")).map(|d| d.trim().to_string()),
        favorited: flag(obj.get("favorited")),
        archived: flag(obj.get("archived")),
        trashed: flag(obj.get("trashed")),
        ..Sidecar::default()
    };
    s.description = s.description.filter(|d| !d.is_empty());
    s.taken = timestamp(obj, "photoTakenTime", &mut s.problems);
    s.created = timestamp(obj, "creationTime", &mut s.problems);
    s.geo =
        geo(obj, "geoData", &mut s.problems).or_else(|| geo(obj, "geoDataExif", &mut s.problems));
    if let Some(Value::Array(people)) = obj.get("people") {
        s.people = people
            .iter()
            .filter_map(|p| non_empty_string(p.get("name")))
            .collect();
    }
    s
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
        assert_eq!(s.title.as_deref(), Some("IMG_20190704_153012.jpg"));
        assert_eq!(s.description.as_deref(), Some("Eiffel tower at dusk"));
        assert_eq!(s.taken, Some(1562253012));
        assert_eq!(s.created, Some(1562254512));
        assert_eq!(
            s.geo,
            Some(Geo {
                lat: 48.8583701,
                lon: 2.2944813,
                alt: Some(35.2)
            })
        );
        assert_eq!(s.people, vec!["Alice".to_string()]);
        assert!(s.favorited && s.archived && !s.trashed);
        assert!(s.problems.is_empty());
    }

    #[test]
    fn zero_geo_means_none_and_falls_back_to_exif_geo() {
        let s = media(
            r#"{"photoTakenTime":{"timestamp":1},"geoData":{"latitude":0.0,"longitude":0.0},
            "geoDataExif":{"latitude":35.6,"longitude":139.7}}"#,
        );
        assert_eq!(
            s.geo,
            Some(Geo {
                lat: 35.6,
                lon: 139.7,
                alt: None
            })
        );
        let s = media(
            r#"{"photoTakenTime":{"timestamp":1},"geoData":{"latitude":0.0,"longitude":0.0}}"#,
        );
        assert_eq!(s.geo, None);
    }

    #[test]
    fn lenient_numbers_strict_ranges() {
        let s = media(r#"{"photoTakenTime":{"timestamp":1562253012}}"#);
        assert_eq!(s.taken, Some(1562253012));
        let s = media(
            r#"{"photoTakenTime":{"timestamp":"99999999999999999"},"geoData":{"latitude":91,"longitude":2}}"#,
        );
        assert_eq!(s.taken, None);
        assert_eq!(s.geo, None);
        assert_eq!(s.problems.len(), 2, "{:?}", s.problems);
        let s = media(r#"{"photoTakenTime":{"timestamp":{"a":1}},"title":5}"#);
        assert_eq!(s.taken, None);
        assert_eq!(s.title, None);
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
