//! `gpbackup verify DIR`: every file the manifest lists is re-hashed and compared with the
//! hash recorded when it was written; files that are missing, changed, or not known to the
//! manifest are reported.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use crate::hash;
use crate::manifest::{self, FILE_NAME};
use crate::names::key;
use crate::output::{is_own_top_level, STATE_DIR};

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}: not a gpbackup output folder (no {STATE_DIR}/{FILE_NAME})")]
    NotOutput(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot start worker threads: {0}")]
    Threads(String),
}

impl VerifyError {
    /// True when the folder named is not one to verify (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, VerifyError::NotOutput(_))
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
    /// In the folder, not listed in the manifest.
    pub unknown: Vec<String>,
}

impl VerifyReport {
    pub fn all_ok(&self) -> bool {
        self.missing.is_empty() && self.changed.is_empty() && self.unknown.is_empty()
    }

    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} files ok, {} missing, {} changed, {} unknown\n",
            self.ok,
            self.missing.len(),
            self.changed.len(),
            self.unknown.len()
        );
        for (what, list) in [
            ("missing", &self.missing),
            ("changed", &self.changed),
            ("unknown", &self.unknown),
        ] {
            for p in list {
                s.push_str(&format!("{what}: {p}\n"));
            }
        }
        s
    }
}

/// One file the manifest expects.
struct Expected {
    path: String,
    /// Hash and size as written; `None` for XMP sidecars (only their presence is checked).
    content: Option<(String, u64)>,
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
    let _lock = crate::output::OutputLock::acquire_for_reading(root).map_err(io_err(root))?;
    let lines = manifest::read_lines(&state).map_err(io_err(&state))?;
    let mut expected: Vec<Expected> = Vec::new();
    let mut current: Vec<usize> = manifest::current_files(&lines).into_values().collect();
    current.sort_unstable();
    for i in current {
        let l = &lines[i];
        let content = l.output_hash.clone().zip(l.output_size);
        expected.push(Expected {
            path: l.path.clone(),
            content,
        });
        if let Some(x) = &l.xmp {
            expected.push(Expected {
                path: x.clone(),
                content: None,
            });
        }
    }
    let known: HashSet<String> = expected.iter().map(|e| key(&e.path)).collect();

    let mut report = VerifyReport::default();
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
        if !known.contains(&key(&rel)) {
            report.unknown.push(rel);
        }
    }

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .map_err(|e| VerifyError::Threads(e.to_string()))?;
    let bar = if progress {
        let total = expected
            .iter()
            .filter_map(|e| e.content.as_ref().map(|c| c.1))
            .sum();
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let results: Vec<(usize, Check)> = pool.install(|| {
        expected
            .par_iter()
            .enumerate()
            .map(|(i, e)| {
                let check = check(&root.join(&e.path), e.content.as_ref());
                if let Some((_, size)) = &e.content {
                    bar.inc(*size);
                }
                (i, check)
            })
            .collect()
    });
    bar.finish_and_clear();
    for (i, c) in results {
        let path = expected[i].path.clone();
        match c {
            Check::Ok => report.ok += 1,
            Check::Missing => report.missing.push(path),
            Check::Changed => report.changed.push(path),
        }
    }
    Ok(report)
}

enum Check {
    Ok,
    Missing,
    Changed,
}

fn check(path: &Path, content: Option<&(String, u64)>) -> Check {
    let Ok(meta) = std::fs::metadata(path) else {
        return Check::Missing;
    };
    let Some((want_hash, want_size)) = content else {
        return Check::Ok;
    };
    if meta.len() != *want_size {
        return Check::Changed;
    }
    match File::open(path).and_then(|f| hash::hash_stream(BufReader::with_capacity(1 << 20, f))) {
        Ok((h, _)) if hash::hex(h) == *want_hash => Check::Ok,
        Ok(_) => Check::Changed,
        Err(_) => Check::Missing,
    }
}
