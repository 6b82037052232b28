//! The numbered parts of a Takeout export (`takeout-20231030T151007Z-001.zip`, `-002.zip`, …):
//! which parts of each export were given, and which numbers between them were not. A photo
//! and its sidecar often sit in different parts, so a missing part explains files without a
//! sidecar and sidecars without a file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The parts of one export that were not given although parts before and after them were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingParts {
    /// The export's name: the part name less its number (`takeout-20231030T151007Z`).
    pub export: String,
    /// The missing part numbers, as Google writes them (`017`).
    pub missing: Vec<String>,
    /// The highest part number given.
    pub last_given: String,
}

/// More than this many missing numbers means the names only look like parts.
const MAX_GAP: u32 = 1000;

/// Splits a part's file or folder name into (export, number, digits as written):
/// `takeout-20231030T151007Z-001.zip` → (`takeout-20231030T151007Z`, 1, `001`). Names not
/// shaped like a Takeout part give `None`.
pub fn part_of(name: &str) -> Option<(String, u32, String)> {
    let lower = name.to_ascii_lowercase();
    let stem_len = [".zip", ".tgz", ".tar.gz", ".tar"]
        .iter()
        .find(|ext| lower.ends_with(*ext))
        .map_or(name.len(), |ext| name.len() - ext.len());
    let stem = &name[..stem_len];
    let (export, digits) = stem.rsplit_once('-')?;
    let numbered =
        !digits.is_empty() && digits.len() <= 4 && digits.bytes().all(|b| b.is_ascii_digit());
    if !numbered || !export.to_ascii_lowercase().starts_with("takeout") {
        return None;
    }
    let n: u32 = digits.parse().ok()?;
    (n >= 1).then(|| (export.to_string(), n, digits.to_string()))
}

/// When an export was made, as its part names say, as a number that sorts as time does
/// (`takeout-20231030T151007Z-001.zip` → 20231030151007); `None` for a name without it.
pub fn export_time(name: &str) -> Option<u64> {
    let (export, _, _) = part_of(name)?;
    let stamp = export.get("takeout-".len()..)?;
    let b = stamp.as_bytes();
    let shaped = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && (b[..8].iter().chain(&b[9..15])).all(u8::is_ascii_digit);
    shaped.then(|| (b[..8].iter().chain(&b[9..15])).fold(0, |n, d| n * 10 + u64::from(d - b'0')))
}

/// The export time of an input path (see [`export_time`]).
pub fn export_of(input: &Path) -> Option<u64> {
    export_time(input.file_name()?.to_str()?)
}

/// The inputs in the order a run reads them, whatever order they were given in: the newest
/// export first (its metadata wins over an older one's, see `process::policy::member_rank`),
/// each export's parts by number, then inputs without an export time, by path.
pub fn reading_order(inputs: &[PathBuf]) -> Vec<PathBuf> {
    let mut order: Vec<(std::cmp::Reverse<Option<u64>>, u32, &PathBuf)> = inputs
        .iter()
        .map(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let number = part_of(name).map_or(0, |(_, n, _)| n);
            (std::cmp::Reverse(export_time(name)), number, p)
        })
        .collect();
    order.sort();
    order.into_iter().map(|(_, _, p)| p.clone()).collect()
}

/// The file names of the `inputs` that are numbered parts of an export.
pub fn names(inputs: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> = inputs
        .iter()
        .filter_map(|p| p.file_name()?.to_str())
        .filter(|name| part_of(name).is_some())
        .map(String::from)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// For each export among `inputs` and the parts `earlier` runs were given (file names), the
/// part numbers missing between 1 and the highest given. An export none of whose parts is
/// among `inputs` is not named: this run says nothing of it.
pub fn missing(inputs: &[PathBuf], earlier: &[String]) -> Vec<MissingParts> {
    let now = names(inputs);
    let given_now: BTreeSet<String> = now.iter().filter_map(|n| Some(part_of(n)?.0)).collect();
    // export → (numbers given, digits of the widest number written)
    let mut exports: BTreeMap<String, (Vec<u32>, usize)> = BTreeMap::new();
    for name in now.iter().chain(earlier) {
        if let Some((export, n, digits)) = part_of(name) {
            if !given_now.contains(&export) {
                continue;
            }
            let e = exports.entry(export).or_default();
            e.0.push(n);
            e.1 = e.1.max(digits.len());
        }
    }
    exports
        .into_iter()
        .filter_map(|(export, (mut given, width))| {
            given.sort_unstable();
            given.dedup();
            let last = *given.last()?;
            let gap = last - given.len() as u32;
            if gap == 0 || gap > MAX_GAP {
                return None;
            }
            let missing = (1..last)
                .filter(|n| given.binary_search(n).is_err())
                .map(|n| format!("{n:0width$}"))
                .collect();
            Some(MissingParts {
                export,
                missing,
                last_given: format!("{last:0width$}"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names() {
        let table = [
            (
                "takeout-20231030T151007Z-001.zip",
                Some(("takeout-20231030T151007Z", 1, "001")),
            ),
            (
                "takeout-20231030T151007Z-052.ZIP",
                Some(("takeout-20231030T151007Z", 52, "052")),
            ),
            (
                "takeout-20231030T151007Z-3.zip",
                Some(("takeout-20231030T151007Z", 3, "3")),
            ),
            (
                "takeout-20231030T151007Z-017",
                Some(("takeout-20231030T151007Z", 17, "017")),
            ),
            (
                "Takeout-20231030T151007Z-002.tgz",
                Some(("Takeout-20231030T151007Z", 2, "002")),
            ),
            ("takeout-x-0004.tar.gz", Some(("takeout-x", 4, "0004"))),
            ("takeout-20231030T151007Z-000.zip", None),
            ("takeout-20231030T151007Z-12345.zip", None),
            ("takeout-20231030T151007Z.zip", None),
            ("photos-2019.zip", None),
            ("takeout-20231030T151007Z-01a.zip", None),
            ("-001.zip", None),
        ];
        for (name, want) in table {
            let got = part_of(name);
            let want = want.map(|(e, n, d)| (e.to_string(), n, d.to_string()));
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn export_times_and_the_reading_order() {
        let table = [
            ("takeout-20231030T151007Z-001.zip", Some(20231030151007)),
            ("Takeout-20231030T151007Z-2.tgz", Some(20231030151007)),
            ("takeout-20231030T151007Z-001", Some(20231030151007)),
            ("takeout-00000101T000009Z-001", Some(101_000_009)),
            ("takeout-20231030T151007-001.zip", None),
            ("takeout-2023103XT151007Z-001.zip", None),
            ("takeout-20231030X151007Z-001.zip", None),
            ("takeout-20231030T151007Y-001.zip", None),
            ("takeout-x-001.zip", None),
            ("takeout-20231030T151007Z.zip", None),
            ("photos.zip", None),
        ];
        for (name, want) in table {
            assert_eq!(export_time(name), want, "{name}");
        }
        let (old, new) = ("takeout-20230101T000000Z", "takeout-20240101T000000Z");
        let given = paths(&[
            "b-folder",
            &format!("{old}-002.zip"),
            &format!("{new}-010.zip"),
            "a.zip",
            &format!("{old}-001.zip"),
            &format!("{new}-002.zip"),
        ]);
        let want = paths(&[
            &format!("{new}-002.zip"),
            &format!("{new}-010.zip"),
            &format!("{old}-001.zip"),
            &format!("{old}-002.zip"),
            "a.zip",
            "b-folder",
        ]);
        assert_eq!(reading_order(&given), want);
        let mut reversed = given.clone();
        reversed.reverse();
        assert_eq!(reading_order(&reversed), want);
        assert_eq!(export_of(&want[0]), Some(20240101000000));
    }

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(|n| PathBuf::from("/dl").join(n)).collect()
    }

    #[test]
    fn gaps_among_the_given_numbers() {
        let t = "takeout-20231030T151007Z";
        let given: Vec<String> = [1, 2, 3, 5, 8]
            .iter()
            .map(|n| format!("{t}-{n:03}.zip"))
            .collect();
        let names: Vec<&str> = given.iter().map(String::as_str).collect();
        assert_eq!(
            missing(&paths(&names), &[]),
            vec![MissingParts {
                export: t.into(),
                missing: vec!["004".into(), "006".into(), "007".into()],
                last_given: "008".into(),
            }]
        );
        // Complete (in any order, one named twice), and a lone later part (1 is missing).
        assert_eq!(
            missing(
                &paths(&[
                    &format!("{t}-002.zip"),
                    &format!("{t}-001.zip"),
                    &format!("{t}-002.zip")
                ]),
                &[]
            ),
            vec![]
        );
        let lone = missing(&paths(&["takeout-a-3.zip"]), &[]);
        assert_eq!(lone[0].missing, vec!["1", "2"]);
        assert_eq!(lone[0].last_given, "3");
        // Two exports are counted apart; a zip and a folder of the same part are one part.
        let two = missing(
            &paths(&[
                "takeout-a-001.zip",
                "takeout-a-002",
                "takeout-b-002.zip",
                "takeout-b-001.zip",
                "other.zip",
            ]),
            &[],
        );
        assert_eq!(two, vec![]);
        // Not parts at all: a number far beyond any export.
        assert_eq!(missing(&paths(&["takeout-a-9999.zip"]), &[]), vec![]);
        assert_eq!(missing(&paths(&["takeout-a-1001.zip"]), &[]).len(), 1);
        assert_eq!(missing(&paths(&["takeout-a-1002.zip"]), &[]), vec![]);
    }

    #[test]
    fn parts_earlier_runs_were_given_are_not_missing() {
        let t = "takeout-20231030T151007Z";
        let part = |n: u32| format!("{t}-{n:03}.zip");
        let earlier = vec![part(1), part(2), "takeout-b-001.zip".to_string()];
        // This run has part 4: 3 is missing, 1 and 2 came before; export b is not this run's.
        assert_eq!(
            missing(&paths(&[&part(4)]), &earlier),
            vec![MissingParts {
                export: t.into(),
                missing: vec!["003".into()],
                last_given: "004".into(),
            }]
        );
        assert_eq!(missing(&paths(&[&part(3)]), &earlier), vec![]);
        assert_eq!(missing(&paths(&["photos.zip"]), &earlier), vec![]);
        assert_eq!(
            names(&paths(&[&part(2), "photos.zip", &part(1), &part(2)])),
            [part(1), part(2)]
        );
    }
}
