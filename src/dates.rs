//! Dates written into file names by cameras, phones and apps, the fallback for files that have
//! neither a sidecar date nor an EXIF date: `IMG_20190704_153012.jpg`,
//! `PXL_20210101_101010101.jpg`, `Screenshot_2020-05-03-10-11-12.png`,
//! `VID-20180102-WA0003.mp4`, `2019-07-04 15.30.12.jpg`.
//!
//! The name is split into runs of digits; a date is a run of 8 (`YYYYMMDD`) or 14
//! (`YYYYMMDDHHMMSS`) digits, or the runs 4-2-2 (`YYYY-MM-DD`). A time follows as a run of
//! 6 or more digits (`HHMMSS`, milliseconds ignored) or the runs 2-2-2. Only plausible
//! calendar values between 1990 and 2100 count; anything else is not a date.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// Where the date taken (and so the file's modification time) came from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum DateSource {
    /// `photoTakenTime` of the sidecar.
    Sidecar,
    /// The file's own EXIF date (kept over the sidecar's unless `--overwrite-dates`).
    Exif,
    /// A date in the file name, such as `IMG_20190704_153012.jpg`.
    // Manifests of version 0.1 wrote the Debug form in lower case.
    #[serde(alias = "filename")]
    FileName,
    /// `creationTime` of the sidecar: when it was uploaded (last resort).
    #[serde(alias = "uploadtime")]
    UploadTime,
}

/// The wall-clock date and time a file name states, if it states one.
pub fn from_file_name(name: &str) -> Option<NaiveDateTime> {
    let runs: Vec<&str> = name
        .split(|c: char| !c.is_ascii_digit())
        .filter(|r| !r.is_empty())
        .collect();
    (0..runs.len()).find_map(|i| date_at(&runs, i))
}

fn date_at(runs: &[&str], i: usize) -> Option<NaiveDateTime> {
    let r = runs[i];
    let (date, next) = match r.len() {
        8 => (ymd(&r[0..4], &r[4..6], &r[6..8])?, i + 1),
        14 => {
            let d = ymd(&r[0..4], &r[4..6], &r[6..8])?;
            let t = hms(&r[8..10], &r[10..12], &r[12..14]).unwrap_or(NaiveTime::MIN);
            return Some(d.and_time(t));
        }
        4 => {
            let (m, d) = (runs.get(i + 1)?, runs.get(i + 2)?);
            if m.len() != 2 || d.len() != 2 {
                return None;
            }
            (ymd(r, m, d)?, i + 3)
        }
        _ => return None,
    };
    let time = match runs.get(next) {
        Some(t) if t.len() >= 6 && t.len() <= 9 => hms(&t[0..2], &t[2..4], &t[4..6]),
        Some(h) if h.len() == 2 => match (runs.get(next + 1), runs.get(next + 2)) {
            (Some(m), Some(s)) if m.len() == 2 && s.len() == 2 => hms(h, m, s),
            _ => None,
        },
        _ => None,
    };
    Some(date.and_time(time.unwrap_or(NaiveTime::MIN)))
}

fn ymd(y: &str, m: &str, d: &str) -> Option<NaiveDate> {
    let y: i32 = y.parse().ok()?;
    if !(1990..=2100).contains(&y) {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m.parse().ok()?, d.parse().ok()?)
}

fn hms(h: &str, m: &str, s: &str) -> Option<NaiveTime> {
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, s.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(name: &str) -> Option<String> {
        from_file_name(name).map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
    }

    #[test]
    fn camera_and_phone_names() {
        assert_eq!(
            d("IMG_20190704_153012.jpg").as_deref(),
            Some("2019-07-04 15:30:12")
        );
        assert_eq!(
            d("PXL_20210101_101010101.MP.jpg").as_deref(),
            Some("2021-01-01 10:10:10")
        );
        assert_eq!(
            d("Screenshot_2020-05-03-10-11-12.png").as_deref(),
            Some("2020-05-03 10:11:12")
        );
        assert_eq!(
            d("VID-20180102-WA0003.mp4").as_deref(),
            Some("2018-01-02 00:00:00")
        );
        assert_eq!(
            d("2019-07-04 15.30.12.jpg").as_deref(),
            Some("2019-07-04 15:30:12")
        );
        assert_eq!(
            d("signal-2022-11-30-101112.jpg").as_deref(),
            Some("2022-11-30 10:11:12")
        );
        assert_eq!(
            d("20230115143000.jpg").as_deref(),
            Some("2023-01-15 14:30:00")
        );
    }

    #[test]
    fn numbers_that_are_not_dates() {
        assert_eq!(d("IMG_0001.JPG"), None);
        assert_eq!(d("DSC01234.jpg"), None);
        assert_eq!(d("12345678.jpg"), None);
        assert_eq!(d("photo_19891231.jpg"), None, "before 1990");
        assert_eq!(d("IMG_20191340_101010.jpg"), None, "month 13");
        assert_eq!(
            d("IMG_20190704_256012.jpg").as_deref(),
            Some("2019-07-04 00:00:00")
        );
    }
}
