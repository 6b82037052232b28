//! What `verify --against` found, as words and as JSON.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// An input media entry the library does not hold (or left out on purpose).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EntryFinding {
    /// The zip or folder.
    pub input: PathBuf,
    /// Path inside it.
    pub entry: String,
    pub size: u64,
    pub why: String,
    /// The library file it was written to or duplicates, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub library_file: Option<String>,
}

/// What `verify --against` found.
#[derive(Debug, Default, Serialize)]
pub struct AgainstReport {
    pub library: PathBuf,
    pub inputs: Vec<PathBuf>,
    /// Content hashes compared (`--full`), or names, sizes and CRC-32s.
    pub full: bool,
    /// Photos and videos in the inputs.
    pub media: usize,
    /// Of those, in the library (written, or a duplicate of a file there), intact.
    pub in_library: usize,
    /// Not in the library (or its file there is missing or changed): these fail the check.
    pub not_in_library: Vec<EntryFinding>,
    /// Left out on purpose (the trash, `--edited`): listed, fail only with `--strict`.
    pub left_out: Vec<EntryFinding>,
    /// Manifest paths that leave the folder (`../x`, absolute): never opened.
    pub invalid_paths: Vec<String>,
    /// Truncated zips: the entries after the cut cannot be checked.
    pub damaged_inputs: Vec<crate::takeout::Damaged>,
    /// Inputs named twice, read once.
    pub repeated_inputs: Vec<PathBuf>,
}

impl AgainstReport {
    /// True when everything is accounted for (and, with `strict`, nothing was left out).
    pub fn passes(&self, strict: bool) -> bool {
        self.not_in_library.is_empty()
            && self.invalid_paths.is_empty()
            && self.damaged_inputs.is_empty()
            && (!strict || self.left_out.is_empty())
    }

    /// "these 52 zips", "this zip", "these 3 parts" (some .tgz), "these 2 folders", "these 3
    /// inputs".
    fn inputs_phrase(&self) -> String {
        let files = self.inputs.iter().filter(|p| !p.is_dir()).count();
        let zips = (self.inputs.iter())
            .filter(|p| !p.is_dir() && p.to_string_lossy().to_lowercase().ends_with(".zip"))
            .count();
        let n = self.inputs.len();
        let (one, many) = if zips == n {
            ("zip", "zips")
        } else if files == n {
            ("part", "parts")
        } else if files == 0 {
            ("folder", "folders")
        } else {
            ("input", "inputs")
        };
        if n == 1 {
            format!("this {one}")
        } else {
            format!("these {} {many}", thousands(n))
        }
    }

    /// The plain-language answer, then every entry that is not accounted for.
    pub fn summary(&self, library: &str, strict: bool) -> String {
        let mut s = String::new();
        let what = self.inputs_phrase();
        let missing = self.not_in_library.len();
        if missing == 0 {
            s.push_str(&format!(
                "All {} photos and videos of {what} are in {library}.",
                thousands(self.in_library)
            ));
            if !self.left_out.is_empty() {
                let trash = self
                    .left_out
                    .iter()
                    .filter(|f| f.why.contains("trash"))
                    .count();
                let other = self.left_out.len() - trash;
                if trash > 0 {
                    s.push_str(&format!(
                        " {} {} in the trash and {} left out on purpose.",
                        thousands(trash),
                        if trash == 1 { "was" } else { "were" },
                        if trash == 1 { "was" } else { "were" },
                    ));
                }
                if other > 0 {
                    s.push_str(&format!(
                        " {} other{} left out on purpose (--edited).",
                        thousands(other),
                        if other == 1 { " was" } else { "s were" },
                    ));
                }
            }
            s.push('\n');
        } else {
            s.push_str(&format!(
                "{} of the {} photos and videos of {what} {} NOT in {library}:\n",
                thousands(missing),
                thousands(self.media - self.left_out.len()),
                if missing == 1 { "is" } else { "are" },
            ));
            for f in &self.not_in_library {
                s.push_str(&format!("  {}:{}: {}\n", f.input.display(), f.entry, f.why));
            }
            s.push_str(&format!(
                "{} are in the library.\n",
                thousands(self.in_library)
            ));
        }
        if !self.left_out.is_empty() {
            s.push_str(&format!(
                "Left out on purpose{}:\n",
                if strict {
                    " (--strict: counted as missing)"
                } else {
                    ""
                }
            ));
            for f in &self.left_out {
                s.push_str(&format!("  {}:{}: {}\n", f.input.display(), f.entry, f.why));
            }
        }
        for d in &self.damaged_inputs {
            let after = if d.ends_early {
                "the entries after the cut cannot be checked"
            } else {
                "the entries after the damage cannot be checked"
            };
            s.push_str(&format!(
                "damaged: {}: {}; {after}. Download this part again.\n",
                d.path.display(),
                d.reason
            ));
        }
        for p in &self.invalid_paths {
            s.push_str(&format!(
                "invalid: the manifest names {p:?}, outside the folder (not opened)\n"
            ));
        }
        if !self.full {
            s.push_str("(checked by entry names, sizes and CRC-32s; --full compares every byte)\n");
        }
        s
    }
}

/// 95662 → "95,662".
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The folder as a user would write it: `~/photos` for a path in the home folder.
pub fn display_home(path: &Path) -> String {
    let shown = path.display().to_string();
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
        return shown;
    };
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match absolute.strip_prefix(&home) {
        Ok(rest) if !home.as_os_str().is_empty() && home != Path::new("/") => {
            format!("~/{}", rest.display())
        }
        _ => shown,
    }
}

/// Writes the `--against` result as JSON to `path`, atomically (a temp file beside it, then a
/// rename). Refuses a path that is one of the inputs.
pub fn write_report(report: &AgainstReport, path: &Path, inputs: &[PathBuf]) -> io::Result<()> {
    let target = std::path::absolute(path)?;
    let canon = |p: &Path| p.canonicalize().ok();
    if let Some(t) = canon(&target) {
        if inputs.iter().any(|i| canon(i).as_ref() == Some(&t)) {
            return Err(io::Error::other("that is one of the inputs: not written"));
        }
    }
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = File::create_new(&tmp)?;
        let mut text = serde_json::to_vec_pretty(report).map_err(io::Error::other)?;
        text.push(b'\n');
        std::io::Write::write_all(&mut f, &text)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_with_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(95_662), "95,662");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
