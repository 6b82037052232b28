//! `gpbackup verify DIR`: every file the manifest lists is re-hashed and compared with the
//! hash recorded when it was written; files that are missing, changed, or not known to the
//! manifest are reported. `verify DIR --against INPUT...` (in [`against`](mod@against))
//! checks instead that the folder holds every photo and video of the inputs.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use crate::compact::IdMap;
use crate::hash;
use crate::library::dir::{is_own_top_level, STATE_DIR};
use crate::library::manifest::{self, FILE_NAME};
use crate::names::key;
use crate::takeout::{SourceError, NOT_TAKEOUT};

mod against;
mod findings;
mod library;

pub use against::{against, AgainstOptions};
pub use findings::{display_home, write_report, AgainstReport, EntryFinding};
pub use library::Unwritten;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}: not a gpbackup output folder (no {STATE_DIR}/{FILE_NAME})")]
    NotOutput(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot start worker threads: {0}")]
    Threads(String),
    #[error("{0}")]
    Input(SourceError),
    /// An input that is not a Takeout ([`crate::takeout::Catalog::not_takeout`]).
    #[error("{0}: {NOT_TAKEOUT}")]
    NoMedia(PathBuf),
    #[error(
        "none of the inputs holds a photo or video, so there is nothing to check; give the \
         parts of the Takeout that hold the photos and videos"
    )]
    NothingToCheck,
}

impl VerifyError {
    /// True when the folder or an input named is not one to verify (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            VerifyError::NotOutput(_)
                | VerifyError::Input(_)
                | VerifyError::NoMedia(_)
                | VerifyError::NothingToCheck
        )
    }
}

/// What `verify` found.
#[derive(Debug, Default, Serialize)]
pub struct VerifyReport {
    /// Files checked and found as written.
    pub ok: usize,
    /// Listed in the manifest, not in the folder.
    pub missing: Vec<String>,
    /// Content differs from what was written.
    pub changed: Vec<String>,
    /// In the folder, not listed in the manifest: not gpbackup's (the user's own files).
    /// Listed apart; they fail the check only with `--strict`.
    pub unknown: Vec<String>,
    /// Paths the manifest names outside the folder (`../x`, absolute): never opened.
    pub invalid: Vec<String>,
}

/// How many files not gpbackup's the summary names as examples (`--strict` lists them all).
const NOT_OURS_EXAMPLES: usize = 3;

impl VerifyReport {
    /// True when every file gpbackup wrote is as it wrote it (and, with `strict`, nothing
    /// else is in the folder).
    pub fn passes(&self, strict: bool) -> bool {
        self.missing.is_empty()
            && self.changed.is_empty()
            && self.invalid.is_empty()
            && (!strict || self.unknown.is_empty())
    }

    /// The counts, the files not gpbackup's (apart, or with `strict` as findings), then
    /// [`problems`](Self::problems).
    pub fn summary(&self, strict: bool) -> String {
        let mut s = format!(
            "{} ok, {} missing, {} changed",
            files(self.ok),
            self.missing.len(),
            self.changed.len(),
        );
        if !self.invalid.is_empty() {
            s.push_str(&format!(", {} invalid", self.invalid.len()));
        }
        s.push('\n');
        if !strict && !self.unknown.is_empty() {
            let mut named = (self.unknown.iter())
                .take(NOT_OURS_EXAMPLES)
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            let more = self.unknown.len().saturating_sub(NOT_OURS_EXAMPLES);
            if more > 0 {
                named.push_str(&format!(" and {more} more"));
            }
            s.push_str(&format!(
                "not gpbackup's: {} ({named}). They are left as they are and not checked \
                 (--strict lists them all and counts them as findings).\n",
                files(self.unknown.len()),
            ));
        }
        s.push_str(&self.problems(strict));
        s
    }

    /// What fails the check, a line each, and what to do about it.
    pub fn problems(&self, strict: bool) -> String {
        let mut s = String::new();
        let unknown: &[String] = if strict { &self.unknown } else { &[] };
        for (what, list) in [
            ("missing", &self.missing[..]),
            ("changed", &self.changed[..]),
            ("not gpbackup's", unknown),
            (
                "invalid (outside the folder, not opened)",
                &self.invalid[..],
            ),
        ] {
            for p in list {
                s.push_str(&format!("{what}: {p}\n"));
            }
        }
        if !self.missing.is_empty() {
            s.push_str(
                "A missing file is written again by the next `gpbackup process` with the same \
                 Takeout.\n",
            );
        }
        if !self.changed.is_empty() {
            s.push_str(
                "A changed file was edited after gpbackup wrote it, and gpbackup leaves it as it \
                 is. If the change is not yours, move the file out of this folder and run \
                 `gpbackup process` with the same Takeout: it writes the photo again.\n",
            );
        }
        if !unknown.is_empty() {
            s.push_str(
                "A file not gpbackup's is not one it wrote: it is never changed or removed.\n",
            );
        }
        s
    }
}

/// "1 file", "2 files".
fn files(n: usize) -> String {
    if n == 1 {
        "1 file".to_string()
    } else {
        format!("{n} files")
    }
}

/// One file the manifest expects.
struct Expected {
    path: String,
    /// Hash and size as written; `None` for XMP sidecars (only their presence is checked).
    content: Option<(u128, u64)>,
}

/// Checks `root` against its manifest, hashing files in parallel on `jobs` threads.
pub fn run(root: &Path, jobs: Option<usize>, progress: bool) -> Result<VerifyReport, VerifyError> {
    let state = root.join(STATE_DIR);
    if !state.join(FILE_NAME).is_file() {
        return Err(VerifyError::NotOutput(root.to_path_buf()));
    }
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| VerifyError::Io { path, source }
    };
    let _lock = crate::library::dir::OutputLock::acquire_for_reading(root).map_err(io_err(root))?;
    let (outputs, unfinished) = manifest::current_outputs(&state).map_err(io_err(&state))?;
    let mut report = VerifyReport::default();
    let expected = expected_files(outputs, &mut report.invalid);
    let known = IdMap::set_of(expected.iter().map(|e| key_id(&e.path)));
    report.unknown = unknown_files(root, &known)?;

    let pool = thread_pool(jobs)?;
    let total = expected
        .iter()
        .filter_map(|e| e.content.as_ref().map(|c| c.1))
        .sum();
    let bar = progress_bar(
        progress,
        total,
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    );
    let results: Vec<FileState> = pool.install(|| {
        expected
            .par_iter()
            .map(|e| {
                let mut state = check(&root.join(&e.path), e.content.as_ref());
                if let (FileState::Changed, Some(manifest::Unfinished::Replacing(before))) =
                    (state, unfinished.get(&e.path))
                {
                    state = check(&root.join(&e.path), Some(before));
                }
                if let Some((_, size)) = &e.content {
                    bar.inc(*size);
                }
                state
            })
            .collect()
    });
    bar.finish_and_clear();
    // A move a killed run left unconfirmed, whose old file is there: it stands for the new
    // one until the next run.
    let intact: HashSet<&str> = (expected.iter().zip(&results))
        .filter(|(_, s)| !unfinished.is_empty() && **s == FileState::Intact)
        .map(|(e, _)| e.path.as_str())
        .collect();
    let moving: HashSet<String> = (unfinished.iter())
        .filter_map(|(path, u)| match u {
            manifest::Unfinished::MovedFrom(old) if intact.contains(old.as_str()) => {
                Some(path.clone())
            }
            _ => None,
        })
        .collect();
    drop(intact);
    for (e, state) in expected.into_iter().zip(results) {
        match state {
            FileState::Intact => report.ok += 1,
            FileState::Missing if moving.contains(&e.path) => report.ok += 1,
            FileState::Missing => report.missing.push(e.path),
            FileState::Changed => report.changed.push(e.path),
        }
    }
    Ok(report)
}

/// The files (and XMP sidecars) the manifest's current lines name; the paths that leave the
/// folder go to `invalid` instead, once each.
fn expected_files(outputs: Vec<manifest::Output>, invalid: &mut Vec<String>) -> Vec<Expected> {
    let mut expected = Vec::with_capacity(outputs.len());
    for o in outputs {
        let xmp = o.xmp.map(|x| (x, None));
        for (path, content) in std::iter::once((o.path, o.content)).chain(xmp) {
            if is_inside(&path) {
                expected.push(Expected { path, content });
            } else if !invalid.contains(&path) {
                invalid.push(path);
            }
        }
    }
    expected
}

/// A path's [`key`] (the name in use on any file system) as a number, as the output folder
/// numbers the names in use.
fn key_id(path: &str) -> u128 {
    crate::library::dir::name_id(&key(path))
}

/// The files in `root` (outside gpbackup's own top-level folders) whose path is not `known`,
/// sorted by name.
fn unknown_files(root: &Path, known: &IdMap<()>) -> Result<Vec<String>, VerifyError> {
    let mut unknown = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter();
    for entry in walker
        .filter_entry(|e| e.depth() > 1 || !e.file_name().to_str().is_some_and(is_own_top_level))
    {
        let entry = entry.map_err(|e| VerifyError::Io {
            path: root.to_path_buf(),
            source: e.into(),
        })?;
        if entry.file_type().is_dir() {
            continue;
        }
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let rel: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let rel = rel.join("/");
        if !known.contains_key(key_id(&rel)) {
            unknown.push(rel);
        }
    }
    Ok(unknown)
}

/// A pool of `jobs` worker threads (all cores when `None`).
fn thread_pool(jobs: Option<usize>) -> Result<rayon::ThreadPool, VerifyError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .map_err(|e| VerifyError::Threads(e.to_string()))
}

/// A progress bar on stderr up to `total` drawn with `template`, or a hidden one when
/// `show` is false.
fn progress_bar(show: bool, total: u64, template: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    bar
}

/// The state of one file the manifest lists.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FileState {
    Intact,
    Missing,
    Changed,
}

/// Checks one listed file: present, and with `content` of that hash and size.
fn check(path: &Path, content: Option<&(u128, u64)>) -> FileState {
    let Ok(meta) = std::fs::metadata(path) else {
        return FileState::Missing;
    };
    let Some(&(want_hash, want_size)) = content else {
        return FileState::Intact;
    };
    if meta.len() != want_size {
        return FileState::Changed;
    }
    compare_hash(path, want_hash)
}

/// Hashes the file at `path` and compares it with `want` (unreadable: missing).
fn compare_hash(path: &Path, want: u128) -> FileState {
    match File::open(path).and_then(|f| hash::hash_stream(BufReader::with_capacity(1 << 20, f))) {
        Ok((h, _)) if h == want => FileState::Intact,
        Ok(_) => FileState::Changed,
        Err(_) => FileState::Missing,
    }
}

/// True when a path the manifest names stays inside the output folder: relative, and only
/// plain names (no `..`, no `.`, no empty part). Others are reported, never opened.
pub fn is_inside(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
        && Path::new(path)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_not_ours_are_apart_and_fail_only_with_strict() {
        let mut r = VerifyReport {
            ok: 6,
            unknown: ["a.txt", "b.jpg", "c.doc", "d.pdf"]
                .map(String::from)
                .to_vec(),
            ..VerifyReport::default()
        };
        assert!(r.passes(false));
        assert!(!r.passes(true));
        let s = r.summary(false);
        assert!(s.starts_with("6 files ok, 0 missing, 0 changed\n"), "{s}");
        assert!(
            s.contains("not gpbackup's: 4 files (a.txt, b.jpg, c.doc and 1 more). "),
            "{s}"
        );
        assert!(r.problems(false).is_empty());
        let strict = r.problems(true);
        assert!(strict.contains("not gpbackup's: d.pdf\n"), "{strict}");
        assert!(r
            .summary(true)
            .starts_with("6 files ok, 0 missing, 0 changed\nnot gpbackup's: a.txt\n"));
        r.unknown.truncate(1);
        r.ok = 1;
        assert!(r
            .summary(false)
            .contains("1 file ok, 0 missing, 0 changed\nnot gpbackup's: 1 file (a.txt). "));
        r.changed.push("x.jpg".into());
        assert!(!r.passes(false));
        r.changed.clear();
        r.missing.push("x.jpg".into());
        assert!(!r.passes(false));
        r.missing.clear();
        r.invalid.push("../x".into());
        assert!(!r.passes(false));
    }

    #[test]
    fn paths_that_leave_the_folder_are_not_inside() {
        for ok in [
            "a.jpg",
            "2019/07/a.jpg",
            "albums/Paris/a (2).jpg",
            "..a.jpg",
            "a..jpg",
        ] {
            assert!(is_inside(ok), "{ok}");
        }
        for bad in [
            "",
            "../../etc/passwd",
            "/etc/passwd",
            "a/../../b.jpg",
            "./a.jpg",
            "a//b.jpg",
            "a/",
            "..",
            "a\0b",
        ] {
            assert!(!is_inside(&bad.replace("\\0", "\0")), "{bad}");
        }
    }
}
