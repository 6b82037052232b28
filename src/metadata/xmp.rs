//! XMP sidecar files (`IMG_1234.jpg.xmp`, the name digiKam, darktable and Immich read) for
//! files whose metadata cannot be embedded (GIF, HEIC, RAW, unknown types, failed writes), or
//! for every file with `--xmp always`.
//!
//! A fixed template with escaped values: the packet is small and flat, and a full XMP toolkit
//! (C++) would be a heavy build for it.

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset};

use crate::metadata::Geo;

/// What an XMP sidecar says.
#[derive(Debug, Clone, Default)]
pub struct XmpData {
    pub taken: Option<DateTime<FixedOffset>>,
    pub geo: Option<Geo>,
    pub description: Option<String>,
    /// `xmp:Rating`: 5 for a favourite.
    pub rating: Option<u8>,
    pub people: Vec<String>,
    /// The camera's own date taken (its wall clock), where the date corrected in Google
    /// Photos replaced it in the file: kept as the camera's digitizing date
    /// (`exif:DateTimeDigitized`, `xmp:CreateDate`), as the file's EXIF keeps it.
    pub camera_date: Option<chrono::NaiveDateTime>,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 does not allow: C0 controls but tab and newlines, and U+FFFE,
            // U+FFFF (a parser stops at them: the whole sidecar would be unreadable). C1
            // controls and DEL are allowed but discouraged: left out too. Lone surrogates
            // cannot occur in a Rust string (the sidecar parser drops them).
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// XMP's GPS coordinate form: `DDD,MM.mmmmmmR` (degrees, decimal minutes, direction).
fn coordinate(value: f64, pos: char, neg: char) -> String {
    let v = value.abs();
    let mut deg = v.trunc();
    let mut min = (v - deg) * 60.0;
    if (min * 1e6).round() >= 60e6 {
        min = 0.0;
        deg += 1.0;
    }
    format!(
        "{},{:.6}{}",
        deg as u32,
        min,
        if value < 0.0 { neg } else { pos }
    )
}

/// The XMP packet, or `None` when there is nothing to say.
pub fn packet(d: &XmpData) -> Option<String> {
    if d.taken.is_none()
        && d.camera_date.is_none()
        && d.geo.is_none()
        && d.description.is_none()
        && d.rating.is_none()
        && d.people.is_empty()
    {
        return None;
    }
    let attrs = attributes(d);
    let elements = elements(d);
    Some(format!(
        r#"<?xpacket begin="{bom}" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="gpbackup {version}">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
   xmlns:exif="http://ns.adobe.com/exif/1.0/"
   xmlns:xmp="http://ns.adobe.com/xap/1.0/"
   xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
   xmlns:dc="http://purl.org/dc/elements/1.1/"
   xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
   xmlns:lr="http://ns.adobe.com/lightroom/1.0/"{attrs}>{elements}
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"#,
        bom = '\u{feff}',
        version = env!("CARGO_PKG_VERSION"),
    ))
}

/// The end of the one `rdf:Description` of a packet of ours, where the album keywords go.
const DESCRIPTION_END: &str = "\n  </rdf:Description>";
const SUBJECT: (&str, &str) = ("\n   <dc:subject>", "</dc:subject>");
const HIERARCHICAL: (&str, &str) = ("\n   <lr:hierarchicalSubject>", "</lr:hierarchicalSubject>");

/// A packet of gpbackup's (`text`, as [`packet`] writes it) with its album keywords set to
/// `albums`: `dc:subject` holds each album's title, `lr:hierarchicalSubject` `Albums|Title`
/// (how digiKam, Lightroom and Immich show keywords in a tree). Everything else in the text
/// stays as it is. `None` when `text` is not such a packet (written by another program, or
/// changed by one: it is left alone).
pub fn with_albums(text: &str, albums: &[&str]) -> Option<String> {
    if !text.contains("x:xmptk=\"gpbackup ") || text.matches(DESCRIPTION_END).count() != 1 {
        return None;
    }
    let mut out = text.to_string();
    for (open, close) in [SUBJECT, HIERARCHICAL] {
        if let Some(start) = out.find(open) {
            let end = start + out[start..].find(close)? + close.len();
            out.replace_range(start..end, "");
        }
    }
    let at = out.find(DESCRIPTION_END)?;
    out.insert_str(at, &album_elements(albums));
    Some(out)
}

fn album_elements(albums: &[&str]) -> String {
    if albums.is_empty() {
        return String::new();
    }
    let bag = |f: &dyn Fn(&str) -> String| -> String {
        albums
            .iter()
            .map(|a| format!("<rdf:li>{}</rdf:li>", escape(&f(a))))
            .collect()
    };
    // A `|` in a title would be read as a level of the tree.
    let plain = bag(&|a| a.to_string());
    let tree = bag(&|a| format!("Albums|{}", a.replace('|', "/")));
    format!(
        "{}<rdf:Bag>{plain}</rdf:Bag>{}{}<rdf:Bag>{tree}</rdf:Bag>{}",
        SUBJECT.0, SUBJECT.1, HIERARCHICAL.0, HIERARCHICAL.1
    )
}

/// The simple values (dates, position, rating) as attributes of `rdf:Description`, one a line.
fn attributes(d: &XmpData) -> String {
    let mut attrs = String::new();
    if let Some(t) = d.taken {
        let iso = t.format("%Y-%m-%dT%H:%M:%S%:z").to_string();
        let names: &[&str] = if d.camera_date.is_some() {
            &["exif:DateTimeOriginal", "photoshop:DateCreated"]
        } else {
            &[
                "exif:DateTimeOriginal",
                "xmp:CreateDate",
                "photoshop:DateCreated",
            ]
        };
        for name in names {
            let _ = write!(attrs, "\n   {name}=\"{iso}\"");
        }
    }
    if let Some(camera) = d.camera_date {
        let iso = camera.format("%Y-%m-%dT%H:%M:%S").to_string();
        for name in ["exif:DateTimeDigitized", "xmp:CreateDate"] {
            let _ = write!(attrs, "\n   {name}=\"{iso}\"");
        }
    }
    if let Some(g) = d.geo {
        let _ = write!(attrs, "\n   exif:GPSVersionID=\"2.3.0.0\"");
        let _ = write!(
            attrs,
            "\n   exif:GPSLatitude=\"{}\"",
            coordinate(g.lat, 'N', 'S')
        );
        let _ = write!(
            attrs,
            "\n   exif:GPSLongitude=\"{}\"",
            coordinate(g.lon, 'E', 'W')
        );
        if let Some(alt) = g.alt {
            let cm = (alt.abs() * 100.0).round() as u64;
            let _ = write!(
                attrs,
                "\n   exif:GPSAltitudeRef=\"{}\"",
                u8::from(alt < 0.0)
            );
            let _ = write!(attrs, "\n   exif:GPSAltitude=\"{cm}/100\"");
        }
    }
    if let Some(r) = d.rating {
        let _ = write!(attrs, "\n   xmp:Rating=\"{r}\"");
    }
    attrs
}

/// The structured values (description, people) as elements inside `rdf:Description`.
fn elements(d: &XmpData) -> String {
    let mut elements = String::new();
    if let Some(desc) = &d.description {
        let _ = write!(
            elements,
            "\n   <dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">{}</rdf:li></rdf:Alt></dc:description>",
            escape(desc)
        );
    }
    if !d.people.is_empty() {
        let items: String = d
            .people
            .iter()
            .map(|p| format!("<rdf:li>{}</rdf:li>", escape(p)))
            .collect();
        let _ = write!(
            elements,
            "\n   <Iptc4xmpExt:PersonInImage><rdf:Bag>{items}</rdf:Bag></Iptc4xmpExt:PersonInImage>"
        );
    }
    elements
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_in_degrees_and_decimal_minutes() {
        assert_eq!(coordinate(48.8583701, 'N', 'S'), "48,51.502206N");
        assert_eq!(coordinate(-73.9856644, 'E', 'W'), "73,59.139864W");
        assert_eq!(coordinate(-0.5, 'N', 'S'), "0,30.000000S");
    }

    #[test]
    fn packet_with_everything_escaped() {
        let d = XmpData {
            taken: DateTime::parse_from_rfc3339("2019-07-04T17:10:12+02:00").ok(),
            geo: Some(Geo {
                lat: 48.8583701,
                lon: 2.2944813,
                alt: Some(-3.5),
            }),
            description: Some("Tom & Jerry <3 \"quotes\"\u{7}".into()),
            rating: Some(5),
            people: vec!["Alice".into(), "Bob <b>".into()],
            camera_date: None,
        };
        let p = packet(&d).unwrap();
        assert!(p.contains(r#"exif:DateTimeOriginal="2019-07-04T17:10:12+02:00""#));
        assert!(p.contains(r#"exif:GPSLatitude="48,51.502206N""#));
        assert!(p.contains(r#"exif:GPSAltitudeRef="1""#));
        assert!(p.contains(r#"exif:GPSAltitude="350/100""#));
        assert!(p.contains(r#"xmp:Rating="5""#));
        assert!(p.contains("Tom &amp; Jerry &lt;3 &quot;quotes&quot;</rdf:li>"));
        assert!(p.contains("<rdf:li>Bob &lt;b&gt;</rdf:li>"));
        assert!(packet(&XmpData::default()).is_none());
    }

    #[test]
    fn album_keywords_are_set_in_a_packet_of_ours_and_nowhere_else() {
        let d = XmpData {
            description: Some("Beach".into()),
            rating: Some(5),
            ..XmpData::default()
        };
        let p = packet(&d).unwrap();
        let two = with_albums(&p, &["Viaje a León", "A|B & C"]).unwrap();
        assert!(two.contains(
            "<dc:subject><rdf:Bag><rdf:li>Viaje a León</rdf:li><rdf:li>A|B &amp; C</rdf:li></rdf:Bag></dc:subject>"
        ), "{two}");
        assert!(two.contains(
            "<lr:hierarchicalSubject><rdf:Bag><rdf:li>Albums|Viaje a León</rdf:li><rdf:li>Albums|A/B &amp; C</rdf:li></rdf:Bag></lr:hierarchicalSubject>"
        ), "{two}");
        assert!(two.contains("Beach</rdf:li>") && two.contains(r#"xmp:Rating="5""#));
        // Set again: replaced, not added; set to none: the packet as it was.
        let one = with_albums(&two, &["Trip"]).unwrap();
        assert_eq!(one.matches("<dc:subject>").count(), 1, "{one}");
        assert!(
            !one.contains("León") && one.contains("Albums|Trip"),
            "{one}"
        );
        assert_eq!(with_albums(&one, &[]).unwrap(), p);
        assert_eq!(with_albums(&p, &[]).unwrap(), p);
        // Another program's packet is not ours to change.
        let theirs = p.replace("x:xmptk=\"gpbackup ", "x:xmptk=\"XMP Core 6.0 ");
        assert_eq!(with_albums(&theirs, &["Trip"]), None);
        assert_eq!(with_albums("", &["Trip"]), None);
    }

    #[test]
    fn a_cameras_replaced_date_is_its_digitizing_date() {
        let d = XmpData {
            taken: DateTime::parse_from_rfc3339("2019-07-04T17:10:12+02:00").ok(),
            camera_date: chrono::NaiveDateTime::parse_from_str(
                "2000-01-01 00:00:07",
                "%Y-%m-%d %H:%M:%S",
            )
            .ok(),
            ..XmpData::default()
        };
        let p = packet(&d).unwrap();
        assert!(p.contains(r#"exif:DateTimeOriginal="2019-07-04T17:10:12+02:00""#));
        assert!(p.contains(r#"photoshop:DateCreated="2019-07-04T17:10:12+02:00""#));
        assert!(p.contains(r#"exif:DateTimeDigitized="2000-01-01T00:00:07""#));
        assert!(p.contains(r#"xmp:CreateDate="2000-01-01T00:00:07""#));
        assert_eq!(p.matches("xmp:CreateDate").count(), 1);
        let only_camera = XmpData {
            camera_date: d.camera_date,
            ..XmpData::default()
        };
        assert!(packet(&only_camera).is_some());
    }

    #[test]
    fn characters_xml_forbids_are_left_out() {
        let d = XmpData {
            description: Some("a\u{FFFE}b\u{FFFF}c\u{0}d\u{1F}e\tf\ng\u{10FFFF}h\u{FFFD}".into()),
            people: vec!["Al\u{FFFE}ice\u{8}".into()],
            ..XmpData::default()
        };
        let p = packet(&d).unwrap();
        assert!(
            p.contains(">abcde\tf\ng\u{10FFFF}h\u{FFFD}</rdf:li>"),
            "{p}"
        );
        assert!(p.contains("<rdf:li>Alice</rdf:li>"), "{p}");
        let forbidden = |c: char| {
            let u = c as u32;
            (u < 0x20 && !matches!(c, '\t' | '\n' | '\r')) || u == 0xFFFE || u == 0xFFFF
        };
        assert!(!p.chars().any(forbidden));
    }
}
