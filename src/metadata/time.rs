//! Turning UTC instants from sidecars into the wall-clock time and offset that EXIF wants.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, TimeZone, Utc};
use std::sync::OnceLock;

use chrono_tz::Tz;

use crate::metadata::Geo;

/// Which zone a UTC date taken is shown in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeZoneChoice {
    /// One IANA zone (or UTC) for every file, as the user asked.
    Zone(Tz),
    /// Per file: the file's own offset, else the zone at its GPS position (offline lookup),
    /// else `fallback` (this machine's zone).
    Auto { fallback: Tz },
}

impl TimeZoneChoice {
    /// Parses `auto`, `local`, `UTC` or an IANA name such as `Europe/Paris`.
    pub fn parse(s: &str) -> Result<TimeZoneChoice, String> {
        match s {
            "auto" => Ok(TimeZoneChoice::Auto { fallback: local_zone()? }),
            "local" => Ok(TimeZoneChoice::Zone(local_zone()?)),
            "UTC" | "utc" | "Z" => Ok(TimeZoneChoice::Zone(Tz::UTC)),
            name => name.parse::<Tz>().map(TimeZoneChoice::Zone).map_err(|_| {
                format!(
                    "unknown time zone '{name}' (use auto, local, UTC or an IANA name like Europe/Paris)"
                )
            }),
        }
    }

    /// The zone a photo taken at `geo` is shown in (its own offset aside).
    pub fn zone_for(&self, geo: Option<Geo>) -> Tz {
        match self {
            TimeZoneChoice::Zone(tz) => *tz,
            TimeZoneChoice::Auto { fallback } => geo.and_then(zone_at).unwrap_or(*fallback),
        }
    }

    /// The date taken at `utc` seconds as wall-clock time with its offset. In `auto` mode a
    /// file's own offset (`own`, from its OffsetTimeOriginal) wins over its position, and
    /// without either it is UTC.
    pub fn localize(
        &self,
        utc: i64,
        geo: Option<Geo>,
        own: Option<FixedOffset>,
    ) -> Option<DateTime<FixedOffset>> {
        let instant = DateTime::<Utc>::from_timestamp(utc, 0)?;
        if let (TimeZoneChoice::Auto { .. }, Some(off)) = (self, own) {
            return Some(instant.with_timezone(&off));
        }
        // In `auto` mode an instant nothing places (no offset of its own, no position) is
        // written in UTC: the same bytes on every machine, whatever its zone.
        let zone = match self {
            TimeZoneChoice::Auto { .. } => geo.and_then(zone_at).unwrap_or(Tz::UTC),
            TimeZoneChoice::Zone(tz) => *tz,
        };
        let local = instant.with_timezone(&zone);
        Some(local.with_timezone(&local.offset().fix()))
    }
}

/// The IANA zone at a position, from the boundary data built into the binary (no network).
/// Positions at sea get the nautical `Etc/GMT±N` zones. The boundaries are queried where
/// they lie in the binary (tzf-rs's `EmbeddedFinder`, ~4 MB): its `DefaultFinder` expands
/// them into 20-80 MB of polygons for lookups a few microseconds faster, which a photo
/// never needs.
fn zone_at(geo: Geo) -> Option<Tz> {
    static FINDER: OnceLock<tzf_rs::EmbeddedFinder> = OnceLock::new();
    let finder = FINDER.get_or_init(tzf_rs::EmbeddedFinder::new);
    let name = finder.get_tz_name(geo.lon, geo.lat);
    if let Ok(tz) = name.parse::<Tz>() {
        return Some(tz);
    }
    // Outside every boundary: the nautical zone of the longitude (15° each, sign inverted).
    let hours = (geo.lon / 15.0).round() as i32;
    let name = match hours {
        0 => "Etc/GMT".to_string(),
        h if h > 0 => format!("Etc/GMT-{h}"),
        h => format!("Etc/GMT+{}", -h),
    };
    name.parse::<Tz>().ok()
}

/// This machine's zone (the `TZ` variable, then the system setting).
fn local_zone() -> Result<Tz, String> {
    if let Ok(tz) = std::env::var("TZ") {
        let tz = tz.trim_start_matches(':');
        if let Ok(z) = tz.parse::<Tz>() {
            return Ok(z);
        }
    }
    let name = iana_time_zone::get_timezone()
        .map_err(|e| format!("cannot tell this machine's time zone ({e}); pass --timezone"))?;
    name.parse::<Tz>()
        .map_err(|_| format!("this machine's time zone '{name}' is unknown; pass --timezone"))
}

/// 1826-01-01 00:00:00 UTC: no photograph is older (the sidecar reader uses the same bound).
const OLDEST_PHOTO: i64 = -4_575_744_000;

/// Parses EXIF's `YYYY:MM:DD HH:MM:SS` (also with `-` date separators, as some phones write).
/// Dates before 1970 are real (scans of old prints); dates before 1826 are not.
pub fn parse_exif_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim().trim_end_matches('\0');
    exact_exif_datetime(s)
        .or_else(|| NaiveDateTime::parse_from_str(s, "%Y:%m:%d %H:%M:%S").ok())
        .or_else(|| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok())
        .filter(|d| d.and_utc().timestamp() >= OLDEST_PHOTO)
}

/// The `n` ASCII digits of `b` at `at` as a number.
fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let d = b.get(at..at + n)?;
    d.iter().try_fold(0u32, |v, &c| {
        c.is_ascii_digit().then(|| v * 10 + u32::from(c - b'0'))
    })
}

/// `YYYY:MM:DD HH:MM:SS` (or with `-` date separators) exactly, a valid date and time, read
/// without chrono's format parser (which reads its format string again for every date: a
/// run of tiny photos reads two dates per photo). `None` for anything else, which chrono
/// then reads as it always did.
fn exact_exif_datetime(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    let sep = *b.get(4)?;
    if b.len() != 19 || !(sep == b':' || sep == b'-') || b[7] != sep || b[10] != b' ' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(
        digits(b, 0, 4)? as i32,
        digits(b, 5, 2)?,
        digits(b, 8, 2)?,
    )?;
    date.and_hms_opt(digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?)
}

/// Parses an EXIF offset such as `+02:00`.
pub fn parse_offset(s: &str) -> Option<FixedOffset> {
    let s = s.trim().trim_end_matches('\0');
    exact_offset(s).or_else(|| {
        DateTime::parse_from_str(&format!("2000-01-01T00:00:00{s}"), "%Y-%m-%dT%H:%M:%S%:z")
            .ok()
            .map(|d| *d.offset())
    })
}

/// `+HH:MM` or `-HH:MM` exactly, under a day, read without chrono's format parser (see
/// [`exact_exif_datetime`]); `None` for anything else.
fn exact_offset(s: &str) -> Option<FixedOffset> {
    let b = s.as_bytes();
    if b.len() != 6 || b[3] != b':' {
        return None;
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = (digits(b, 1, 2)?, digits(b, 4, 2)?);
    if h > 23 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60) as i32)
}

/// The instant a wall-clock date (from EXIF or a file name) stands for, given its own offset,
/// or else the zone the photo was taken in.
pub fn local_to_utc(
    local: NaiveDateTime,
    offset: Option<FixedOffset>,
    zone: &TimeZoneChoice,
    geo: Option<Geo>,
) -> Option<i64> {
    match offset {
        Some(off) => off
            .from_local_datetime(&local)
            .single()
            .map(|d| d.timestamp()),
        None => zone
            .zone_for(geo)
            .from_local_datetime(&local)
            .earliest()
            .map(|d| d.timestamp()),
    }
}

/// How a file's own date taken (a camera's wall clock, with its offset if it has one) and its
/// sidecar's `photoTakenTime` (an instant) relate. Google computes the instant from the wall
/// clock unless the user corrected the date in Google Photos, so:
/// - with an offset, the two agree, or the date was corrected;
/// - without one, the difference is the photo's offset when it is one (within ±14 h, a
///   multiple of 15 minutes); a larger or odd difference is a corrected date.
///
/// A minute's leeway either way covers cameras that round seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconciled {
    /// The file's date is the sidecar's instant.
    Agree,
    /// The file's date is the sidecar's instant at this offset (which the file lacks).
    Offset(FixedOffset),
    /// The date was corrected in Google Photos: the sidecar's instant is another moment.
    Corrected,
}

/// See [`Reconciled`]. `wall`: the file's own date taken; `offset`: its own offset, if any;
/// `sidecar`: the sidecar's instant (seconds since the epoch, UTC).
pub fn reconcile(wall: NaiveDateTime, offset: Option<FixedOffset>, sidecar: i64) -> Reconciled {
    const LEEWAY: i64 = 60;
    const QUARTER: i64 = 15 * 60;
    const MAX_OFFSET: i64 = 14 * 3600;
    let as_utc = wall.and_utc().timestamp();
    if let Some(off) = offset {
        let instant = as_utc - i64::from(off.local_minus_utc());
        return if (instant - sidecar).abs() <= LEEWAY {
            Reconciled::Agree
        } else {
            Reconciled::Corrected
        };
    }
    let diff = as_utc - sidecar;
    let quarters = (diff as f64 / QUARTER as f64).round() as i64 * QUARTER;
    if (diff - quarters).abs() > LEEWAY || quarters.abs() > MAX_OFFSET {
        return Reconciled::Corrected;
    }
    match FixedOffset::east_opt(quarters as i32) {
        Some(off) => Reconciled::Offset(off),
        None => Reconciled::Corrected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast readers give what chrono's format parser gives, on the shapes they read and
    /// on everything around them (they leave the rest to chrono).
    #[test]
    fn exif_dates_and_offsets_read_fast_as_chrono_reads_them() {
        let chrono_date = |s: &str| {
            NaiveDateTime::parse_from_str(s, "%Y:%m:%d %H:%M:%S")
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S"))
                .ok()
        };
        let mut dates = vec![
            "2019:07:04 17:10:12",
            "2019-07-04 17:10:12",
            "2019:07-04 17:10:12",
            "2019:02:29 00:00:00",
            "2020:02:29 23:59:59",
            "2019:13:01 00:00:00",
            "2019:00:10 00:00:00",
            "2019:01:32 00:00:00",
            "2019:01:01 24:00:00",
            "2019:01:01 23:60:00",
            "2019:01:01 23:59:60",
            "0000:00:00 00:00:00",
            "    :  :     :  :  ",
            "2019:07:04 17:10",
            "2019:07:04 17:10:12.5",
            "2019:07:04T17:10:12",
            "2019:07:04  7:10:12",
            "+019:07:04 17:10:12",
            "2019:7:04 17:10:12",
            "２０19:07:04 17:10:12",
            "",
        ];
        let owned: Vec<String> = (0..200)
            .map(|k| {
                format!(
                    "{:04}:{:02}:{:02} {:02}:{:02}:{:02}",
                    1800 + k * 3,
                    k % 14,
                    k % 33,
                    k % 25,
                    k % 61,
                    (k * 7) % 62
                )
            })
            .collect();
        dates.extend(owned.iter().map(String::as_str));
        for s in dates {
            assert_eq!(
                exact_exif_datetime(s).or_else(|| chrono_date(s)),
                chrono_date(s),
                "{s:?}"
            );
        }
        let chrono_offset = |s: &str| {
            DateTime::parse_from_str(&format!("2000-01-01T00:00:00{s}"), "%Y-%m-%dT%H:%M:%S%:z")
                .ok()
                .map(|d| *d.offset())
        };
        for s in [
            "+02:00",
            "-05:30",
            "+00:00",
            "-00:00",
            "+23:59",
            "+24:00",
            "-12:60",
            "+1:00",
            "+0200",
            "02:00",
            "+02:00:00",
            "Z",
            "",
            "+ab:cd",
            "−02:00",
        ] {
            assert_eq!(
                exact_offset(s).or_else(|| chrono_offset(s)),
                chrono_offset(s),
                "{s:?}"
            );
        }
        assert_eq!(
            exact_offset("-05:30"),
            FixedOffset::west_opt(5 * 3600 + 1800)
        );
        assert!(exact_exif_datetime("2019:07:04 17:10:12").is_some());
    }

    #[test]
    fn a_wall_clock_and_an_instant_reconciled() {
        let wall = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        let at = |s: &str| wall(s).and_utc().timestamp();
        let o = |secs: i32| FixedOffset::east_opt(secs).unwrap();
        use Reconciled::*;
        let table = [
            // No offset: the difference is the offset (Paris in summer, New York, India,
            // Nepal, Chatham Islands, the date line, UTC itself).
            (
                "2019-07-04 17:10:12",
                None,
                "2019-07-04 15:10:12",
                Offset(o(7200)),
            ),
            (
                "2019-07-04 11:10:12",
                None,
                "2019-07-04 15:10:12",
                Offset(o(-4 * 3600)),
            ),
            (
                "2019-07-04 20:40:12",
                None,
                "2019-07-04 15:10:12",
                Offset(o(19800)),
            ),
            (
                "2019-07-04 20:55:12",
                None,
                "2019-07-04 15:10:12",
                Offset(o(20700)),
            ),
            (
                "2019-07-05 05:10:12",
                None,
                "2019-07-04 15:10:12",
                Offset(o(14 * 3600)),
            ),
            (
                "2019-07-04 15:10:12",
                None,
                "2019-07-04 15:10:12",
                Offset(o(0)),
            ),
            // A minute's leeway.
            (
                "2019-07-04 17:11:00",
                None,
                "2019-07-04 15:10:12",
                Offset(o(7200)),
            ),
            // Exactly a minute: still the offset; a second more: corrected.
            (
                "2019-07-04 17:11:12",
                None,
                "2019-07-04 15:10:12",
                Offset(o(7200)),
            ),
            (
                "2019-07-04 17:11:13",
                None,
                "2019-07-04 15:10:12",
                Corrected,
            ),
            (
                "2019-07-04 17:11:12",
                Some(o(7200)),
                "2019-07-04 15:10:12",
                Agree,
            ),
            (
                "2019-07-04 17:11:13",
                Some(o(7200)),
                "2019-07-04 15:10:12",
                Corrected,
            ),
            // Odd differences, or more than 14 hours: corrected.
            (
                "2019-07-04 17:20:12",
                None,
                "2019-07-04 15:10:12",
                Corrected,
            ),
            (
                "2019-07-05 05:25:12",
                None,
                "2019-07-04 15:10:12",
                Corrected,
            ),
            (
                "2000-01-01 00:00:00",
                None,
                "2019-07-04 15:10:12",
                Corrected,
            ),
            (
                "2010-03-01 09:00:00",
                None,
                "2019-10-01 09:00:00",
                Corrected,
            ),
            // With an offset: agree, within a minute, or corrected.
            (
                "2019-07-04 17:10:12",
                Some(o(7200)),
                "2019-07-04 15:10:12",
                Agree,
            ),
            (
                "2019-07-04 17:10:50",
                Some(o(7200)),
                "2019-07-04 15:10:12",
                Agree,
            ),
            (
                "2019-07-04 17:10:12",
                Some(o(3600)),
                "2019-07-04 15:10:12",
                Corrected,
            ),
            // The repeated hour of a fall-back night: the sidecar tells which one it was.
            (
                "2019-10-27 02:30:00",
                None,
                "2019-10-27 00:30:00",
                Offset(o(7200)),
            ),
            (
                "2019-10-27 02:30:00",
                None,
                "2019-10-27 01:30:00",
                Offset(o(3600)),
            ),
        ];
        for (w, own, instant, want) in table {
            assert_eq!(
                reconcile(wall(w), own, at(instant)),
                want,
                "{w} {own:?} {instant}"
            );
        }
    }

    const JULY: i64 = 1562253012; // 2019-07-04 15:10:12 UTC
    const JANUARY: i64 = 1579089600; // 2020-01-15 12:00:00 UTC

    fn fmt(z: &TimeZoneChoice, t: i64, geo: Option<Geo>, own: Option<FixedOffset>) -> String {
        z.localize(t, geo, own)
            .unwrap()
            .format("%Y:%m:%d %H:%M:%S %:z")
            .to_string()
    }

    fn at(lat: f64, lon: f64) -> Option<Geo> {
        Some(Geo {
            lat,
            lon,
            alt: None,
        })
    }

    fn auto() -> TimeZoneChoice {
        // The machine's zone is the fallback: make it something far from every test position.
        TimeZoneChoice::Auto {
            fallback: "Pacific/Honolulu".parse().unwrap(),
        }
    }

    #[test]
    fn explicit_zones() {
        let paris = TimeZoneChoice::parse("Europe/Paris").unwrap();
        assert_eq!(fmt(&paris, JULY, None, None), "2019:07:04 17:10:12 +02:00");
        assert_eq!(
            fmt(&paris, JANUARY, None, None),
            "2020:01:15 13:00:00 +01:00"
        );
        // An explicit zone applies whatever the position.
        assert_eq!(
            fmt(&paris, JULY, at(35.66, 139.75), None),
            "2019:07:04 17:10:12 +02:00"
        );
        let tokyo = TimeZoneChoice::parse("Asia/Tokyo").unwrap();
        assert_eq!(fmt(&tokyo, JULY, None, None), "2019:07:05 00:10:12 +09:00");
        let ny = TimeZoneChoice::parse("America/New_York").unwrap();
        assert_eq!(fmt(&ny, JULY, None, None), "2019:07:04 11:10:12 -04:00");
        let utc = TimeZoneChoice::parse("UTC").unwrap();
        assert_eq!(fmt(&utc, JULY, None, None), "2019:07:04 15:10:12 +00:00");
        assert!(TimeZoneChoice::parse("Mars/Olympus").is_err());
    }

    #[test]
    fn the_embedded_finder_answers_as_the_expanded_one() {
        // The finder we use queries the boundary data in place; tzf-rs's default finder
        // expands it. Over a world-wide grid (a point every 1.7° by 2.3°, with an odd fraction
        // so that points fall near borders too) both name the same zone.
        let (embedded, expanded) = (tzf_rs::EmbeddedFinder::new(), tzf_rs::DefaultFinder::new());
        let mut checked = 0;
        let mut lat = -89.3;
        while lat < 89.9 {
            let mut lon = -179.7;
            while lon < 180.0 {
                assert_eq!(
                    embedded.get_tz_name(lon, lat),
                    expanded.get_tz_name(lon, lat),
                    "{lat}, {lon}"
                );
                checked += 1;
                lon += 2.3;
            }
            lat += 1.7;
        }
        assert!(checked > 16_000);
    }

    #[test]
    fn auto_uses_the_position() {
        let z = auto();
        // Paris, summer and winter.
        assert_eq!(
            fmt(&z, JULY, at(48.8584, 2.2945), None),
            "2019:07:04 17:10:12 +02:00"
        );
        assert_eq!(
            fmt(&z, JANUARY, at(48.8584, 2.2945), None),
            "2020:01:15 13:00:00 +01:00"
        );
        // Tokyo: 09:00 UTC is 18:00 there.
        assert_eq!(
            fmt(&z, 1562230800, at(35.6586, 139.7454), None),
            "2019:07:04 18:00:00 +09:00"
        );
        // New York, summer.
        assert_eq!(
            fmt(&z, JULY, at(40.7484, -73.9857), None),
            "2019:07:04 11:10:12 -04:00"
        );
        // Mid-Atlantic, at sea: the nautical zone (30°W → UTC-2).
        assert_eq!(
            fmt(&z, JULY, at(30.0, -30.0), None),
            "2019:07:04 13:10:12 -02:00"
        );
        // No position: UTC, whatever the machine's zone (the same bytes everywhere); a wall
        // clock without an offset is still read in the machine's zone (nothing else tells).
        assert_eq!(fmt(&z, JULY, None, None), "2019:07:04 15:10:12 +00:00");
        let wall = chrono::NaiveDate::from_ymd_opt(2019, 7, 4)
            .unwrap()
            .and_hms_opt(5, 10, 12)
            .unwrap();
        assert_eq!(local_to_utc(wall, None, &z, None), Some(JULY));
    }

    #[test]
    fn auto_prefers_the_files_own_offset() {
        let own = FixedOffset::east_opt(3 * 3600);
        assert_eq!(
            fmt(&auto(), JULY, at(48.8584, 2.2945), own),
            "2019:07:04 18:10:12 +03:00"
        );
    }

    #[test]
    fn exif_dates_and_offsets() {
        let d = parse_exif_datetime("2019:07:04 17:10:12").unwrap();
        let off = parse_offset("+02:00");
        assert_eq!(off.unwrap().local_minus_utc(), 7200);
        let z = TimeZoneChoice::parse("UTC").unwrap();
        assert_eq!(local_to_utc(d, off, &z, None), Some(JULY));
        // Without an offset: the zone of the position.
        assert_eq!(
            local_to_utc(d, None, &auto(), at(48.8584, 2.2945)),
            Some(JULY)
        );
        assert_eq!(parse_exif_datetime("0000:00:00 00:00:00"), None);
        assert_eq!(parse_exif_datetime("    :  :     :  :  "), None);
        // A 1965 scan has a date; 1800 is not a photograph's.
        let old = parse_exif_datetime("1965:08:14 10:30:00").unwrap();
        assert_eq!(old.and_utc().timestamp(), -138_288_600);
        assert_eq!(local_to_utc(old, off, &z, None), Some(-138_288_600 - 7200));
        assert!(parse_exif_datetime("1826:01:01 00:00:00").is_some());
        assert_eq!(parse_exif_datetime("1800:01:01 00:00:00"), None);
        let paris = TimeZoneChoice::parse("Europe/Paris").unwrap();
        assert_eq!(
            fmt(&paris, -138_288_600, None, None),
            "1965:08:14 11:30:00 +01:00"
        );
    }
}
