//! Turning UTC instants from sidecars into the wall-clock time and offset that EXIF wants.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// Which zone a UTC date taken is shown in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeZoneChoice {
    /// One IANA zone (or UTC) for every file.
    Zone(Tz),
}

impl TimeZoneChoice {
    /// Parses `local`, `UTC` or an IANA name such as `Europe/Paris`.
    pub fn parse(s: &str) -> Result<TimeZoneChoice, String> {
        match s {
            "local" => Ok(TimeZoneChoice::Zone(local_zone()?)),
            "UTC" | "utc" | "Z" => Ok(TimeZoneChoice::Zone(Tz::UTC)),
            name => name.parse::<Tz>().map(TimeZoneChoice::Zone).map_err(|_| {
                format!(
                    "unknown time zone '{name}' (use local, UTC or an IANA name like Europe/Paris)"
                )
            }),
        }
    }

    /// The date taken at `utc` seconds as local wall-clock time with its offset.
    pub fn localize(&self, utc: i64) -> Option<DateTime<FixedOffset>> {
        let instant = DateTime::<Utc>::from_timestamp(utc, 0)?;
        match self {
            TimeZoneChoice::Zone(tz) => {
                let local = instant.with_timezone(tz);
                Some(local.with_timezone(&local.offset().fix()))
            }
        }
    }
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

/// Parses EXIF's `YYYY:MM:DD HH:MM:SS` (also with `-` date separators, as some phones write).
pub fn parse_exif_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim().trim_end_matches('\0');
    NaiveDateTime::parse_from_str(s, "%Y:%m:%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S"))
        .ok()
        .filter(|d| d.and_utc().timestamp() > 0)
}

/// Parses an EXIF offset such as `+02:00`.
pub fn parse_offset(s: &str) -> Option<FixedOffset> {
    let s = s.trim().trim_end_matches('\0');
    DateTime::parse_from_str(&format!("2000-01-01T00:00:00{s}"), "%Y-%m-%dT%H:%M:%S%:z")
        .ok()
        .map(|d| *d.offset())
}

/// The instant a wall-clock EXIF date stands for, given its own offset or else the zone.
pub fn local_to_utc(
    local: NaiveDateTime,
    offset: Option<FixedOffset>,
    zone: &TimeZoneChoice,
) -> Option<i64> {
    match (offset, zone) {
        (Some(off), _) => off
            .from_local_datetime(&local)
            .single()
            .map(|d| d.timestamp()),
        (None, TimeZoneChoice::Zone(tz)) => tz
            .from_local_datetime(&local)
            .earliest()
            .map(|d| d.timestamp()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paris_summer_and_winter() {
        let z = TimeZoneChoice::parse("Europe/Paris").unwrap();
        // 2019-07-04 15:10:12 UTC → 17:10:12 +02:00
        let d = z.localize(1562253012).unwrap();
        assert_eq!(
            d.format("%Y:%m:%d %H:%M:%S %:z").to_string(),
            "2019:07:04 17:10:12 +02:00"
        );
        // 2020-01-15 12:00:00 UTC → 13:00:00 +01:00
        let d = z.localize(1579089600).unwrap();
        assert_eq!(d.format("%H:%M %:z").to_string(), "13:00 +01:00");
    }

    #[test]
    fn tokyo_new_york_utc() {
        let t = TimeZoneChoice::parse("Asia/Tokyo")
            .unwrap()
            .localize(1562253012)
            .unwrap();
        assert_eq!(t.format("%H:%M:%S %:z").to_string(), "00:10:12 +09:00");
        let n = TimeZoneChoice::parse("America/New_York")
            .unwrap()
            .localize(1562253012)
            .unwrap();
        assert_eq!(n.format("%H:%M:%S %:z").to_string(), "11:10:12 -04:00");
        let u = TimeZoneChoice::parse("UTC")
            .unwrap()
            .localize(1562253012)
            .unwrap();
        assert_eq!(u.format("%H:%M:%S %:z").to_string(), "15:10:12 +00:00");
        assert!(TimeZoneChoice::parse("Mars/Olympus").is_err());
    }

    #[test]
    fn exif_dates_and_offsets() {
        let d = parse_exif_datetime("2019:07:04 17:10:12").unwrap();
        let off = parse_offset("+02:00");
        assert_eq!(off.unwrap().local_minus_utc(), 7200);
        let z = TimeZoneChoice::parse("UTC").unwrap();
        assert_eq!(local_to_utc(d, off, &z), Some(1562253012));
        assert_eq!(parse_exif_datetime("0000:00:00 00:00:00"), None);
        assert_eq!(parse_exif_datetime("    :  :     :  :  "), None);
    }
}
