//! `gpbackup verify DIR`: every file the manifest lists is re-hashed and compared with the
//! hash recorded when it was written; files that are missing, changed, or not known to the
//! manifest are reported.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use crate::hash;
use crate::manifest::{self, FILE_NAME};
use crate::matcher::{self, MediaRef, SidecarRef};
use crate::names::{key, split_edited, NameParts};
use crate::output::{is_own_top_level, STATE_DIR};
use crate::process::plan::Class;
use crate::source::{Catalog, Entry, Locator, Reader, SourceError};

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
    #[error("{0}: holds no photos or videos; expected a Google Takeout .zip or an extracted Takeout folder")]
    NoMedia(PathBuf),
}

impl VerifyError {
    /// True when the folder or an input named is not one to verify (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            VerifyError::NotOutput(_) | VerifyError::Input(_) | VerifyError::NoMedia(_)
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
    /// In the folder, not listed in the manifest.
    pub unknown: Vec<String>,
    /// Paths the manifest names outside the folder (`../x`, absolute): never opened.
    pub invalid: Vec<String>,
}

impl VerifyReport {
    pub fn all_ok(&self) -> bool {
        self.missing.is_empty()
            && self.changed.is_empty()
            && self.unknown.is_empty()
            && self.invalid.is_empty()
    }

    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} files ok, {} missing, {} changed, {} unknown",
            self.ok,
            self.missing.len(),
            self.changed.len(),
            self.unknown.len()
        );
        if !self.invalid.is_empty() {
            s.push_str(&format!(", {} invalid", self.invalid.len()));
        }
        s.push('\n');
        for (what, list) in [
            ("missing", &self.missing),
            ("changed", &self.changed),
            ("unknown", &self.unknown),
            ("invalid (outside the folder, not opened)", &self.invalid),
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
    let mut report = VerifyReport::default();
    let mut expected: Vec<Expected> = Vec::new();
    let mut current: Vec<usize> = manifest::current_files(&lines).into_values().collect();
    current.sort_unstable();
    for i in current {
        let l = &lines[i];
        let content = l.output_hash.clone().zip(l.output_size);
        let xmp = l.xmp.iter().map(|x| (x, None));
        for (path, content) in std::iter::once((&l.path, content)).chain(xmp) {
            if is_inside(path) {
                expected.push(Expected {
                    path: path.clone(),
                    content,
                });
            } else if !report.invalid.contains(path) {
                report.invalid.push(path.clone());
            }
        }
    }
    let known: HashSet<String> = expected.iter().map(|e| key(&e.path)).collect();

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

// ---------------------------------------------------------------------------------------------
// `verify DIR --against INPUT...`: does the library hold every photo and video of the inputs?
// ---------------------------------------------------------------------------------------------

/// A manifest record of an input entry that was not written (failed, or left out on
/// purpose): one line `{"unwritten": {"source": {...}, "status": "failed"|"skipped", "reason":
/// "..."}}`, written by `process`. It has no `hash`/`path`, so readers of the other lines skip
/// it. Consulted only for entries the library does not hold: a later run that wrote the entry
/// supersedes it.
pub use crate::manifest::Unwritten;

#[derive(serde::Deserialize)]
struct UnwrittenLine {
    unwritten: Unwritten,
}

/// What `verify --against` is asked.
pub struct AgainstOptions<'a> {
    pub inputs: &'a [PathBuf],
    /// Read every entry and compare content hashes (otherwise: names, sizes and CRC-32s).
    pub full: bool,
    pub jobs: Option<usize>,
    pub progress: bool,
}

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
    pub damaged_inputs: Vec<crate::source::Damaged>,
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

    /// "these 52 zips", "this zip", "these 2 folders", "these 3 inputs".
    fn inputs_phrase(&self) -> String {
        let zips = self.inputs.iter().filter(|p| !p.is_dir()).count();
        let n = self.inputs.len();
        let (one, many) = if zips == n {
            ("zip", "zips")
        } else if zips == 0 {
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
            s.push_str(&format!(
                "damaged: {}: {}; the entries after the cut cannot be checked. Download this part again.\n",
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

/// The state of one library file.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FileState {
    Intact,
    Missing,
    Changed,
}

/// One current manifest file.
struct LibFile {
    path: String,
    output_hash: Option<String>,
    output_size: Option<u64>,
    taken: Option<i64>,
}

/// What the manifest says the library holds.
struct Library {
    /// content hash → the file holding it (first current line with that hash).
    by_hash: HashMap<String, usize>,
    files: Vec<LibFile>,
    /// Takeout entry → content hash, for every line whose content is in `by_hash`.
    by_source: HashMap<manifest::SourceKey, String>,
    /// (entry path, size) → content hash, for lookups where one side has no CRC-32
    /// (extracted folders).
    by_name_size: HashMap<(String, u64), String>,
    unwritten: HashMap<manifest::SourceKey, Unwritten>,
    invalid: Vec<String>,
}

fn load_library(root: &Path) -> Result<Library, VerifyError> {
    let state = root.join(STATE_DIR);
    if !state.join(FILE_NAME).is_file() {
        return Err(VerifyError::NotOutput(root.to_path_buf()));
    }
    let io_err = |source| VerifyError::Io {
        path: state.join(FILE_NAME),
        source,
    };
    let lines = manifest::read_lines(&state).map_err(io_err)?;
    let mut lib = Library {
        by_hash: HashMap::new(),
        files: Vec::new(),
        by_source: HashMap::new(),
        by_name_size: HashMap::new(),
        unwritten: HashMap::new(),
        invalid: Vec::new(),
    };
    let mut current: Vec<usize> = manifest::current_files(&lines).into_values().collect();
    current.sort_unstable();
    for i in current {
        let l = &lines[i];
        if !is_inside(&l.path) {
            lib.invalid.push(l.path.clone());
            continue;
        }
        if lib.by_hash.contains_key(&l.hash) {
            continue;
        }
        lib.by_hash.insert(l.hash.clone(), lib.files.len());
        lib.files.push(LibFile {
            path: l.path.clone(),
            output_hash: l.output_hash.clone(),
            output_size: l.output_size,
            taken: l.taken,
        });
    }
    for l in &lines {
        if !lib.by_hash.contains_key(&l.hash) {
            continue;
        }
        for s in &l.sources {
            lib.by_source.insert(s.clone(), l.hash.clone());
            lib.by_name_size
                .insert((s.entry.clone(), s.size), l.hash.clone());
        }
    }
    // Records of entries not written, when the manifest has them.
    let text = std::fs::read(state.join(FILE_NAME)).map_err(io_err)?;
    for line in text.split(|b| *b == b'\n') {
        if line.starts_with(b"{\"unwritten\"") {
            if let Ok(u) = serde_json::from_slice::<UnwrittenLine>(line) {
                lib.unwritten
                    .insert(u.unwritten.source.clone(), u.unwritten);
            }
        }
    }
    lib.invalid.sort();
    lib.invalid.dedup();
    Ok(lib)
}

impl Library {
    /// The content hash the manifest records for this entry, by its name, size and CRC-32.
    fn hash_of_source(&self, e: &Entry) -> Option<&str> {
        let key = manifest::SourceKey {
            entry: e.path.clone(),
            size: e.size,
            crc32: e.crc32,
        };
        if let Some(h) = self.by_source.get(&key) {
            return Some(h);
        }
        // A folder entry (no CRC-32) against a library made from zips, or the reverse: by
        // name and size.
        let h = self.by_name_size.get(&(e.path.clone(), e.size))?;
        let recorded_without_crc = self
            .by_source
            .contains_key(&manifest::SourceKey { crc32: None, ..key });
        (e.crc32.is_none() || recorded_without_crc).then_some(h.as_str())
    }

    /// Checks a library file: by size and modification time (then by content if the time
    /// differs: a copy may not keep it), or by content with `full`.
    fn check(&self, root: &Path, file: usize, full: bool) -> FileState {
        let f = &self.files[file];
        let path = root.join(&f.path);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            return FileState::Missing;
        };
        if !meta.is_file() {
            return FileState::Missing;
        }
        let (Some(want_hash), Some(want_size)) = (&f.output_hash, f.output_size) else {
            return FileState::Intact; // an old line without output hash: presence only
        };
        if meta.len() != want_size {
            return FileState::Changed;
        }
        if !full {
            let mtime = filetime::FileTime::from_last_modification_time(&meta).unix_seconds();
            if f.taken.is_some_and(|t| t == mtime) {
                return FileState::Intact;
            }
        }
        match File::open(&path)
            .and_then(|h| hash::hash_stream(BufReader::with_capacity(1 << 20, h)))
        {
            Ok((h, _)) if hash::hex(h) == *want_hash => FileState::Intact,
            Ok(_) => FileState::Changed,
            Err(_) => FileState::Missing,
        }
    }
}

/// Checks that `root` holds every photo and video of `opts.inputs`.
pub fn against(root: &Path, opts: &AgainstOptions) -> Result<AgainstReport, VerifyError> {
    let lib = load_library(root)?;
    let exclude = root.canonicalize().ok();
    let catalog = Catalog::open(opts.inputs, exclude.as_deref()).map_err(VerifyError::Input)?;
    let classes = crate::process::plan::classify(&catalog.entries);
    let media: Vec<usize> = (0..catalog.entries.len())
        .filter(|i| matches!(classes[*i], Class::Media(_)))
        .collect();
    // An input without a single photo or video is not part of a Takeout's photos: checking
    // nothing must not pass.
    for (k, input) in catalog.inputs.iter().enumerate() {
        let damaged = catalog.damaged.iter().any(|d| d.path == input.path);
        if !damaged && !media.iter().any(|&i| catalog.entries[i].input == k) {
            return Err(VerifyError::NoMedia(input.path.clone()));
        }
    }
    let mut report = AgainstReport {
        library: root.to_path_buf(),
        inputs: catalog.inputs.iter().map(|i| i.path.clone()).collect(),
        full: opts.full,
        media: media.len(),
        invalid_paths: lib.invalid.clone(),
        damaged_inputs: catalog.damaged.clone(),
        repeated_inputs: catalog.skipped_inputs.clone(),
        ..AgainstReport::default()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .build()
        .map_err(|e| VerifyError::Threads(e.to_string()))?;
    pool.install(|| run_against(root, opts, &lib, &catalog, &classes, &media, &mut report));
    Ok(report)
}

/// Where one media entry stands.
enum Found {
    /// Its content is the library file `usize`.
    In(usize),
    /// Not in the library; `Some` when it could not even be read.
    Not(Option<String>),
}

fn run_against(
    root: &Path,
    opts: &AgainstOptions,
    lib: &Library,
    catalog: &Catalog,
    classes: &[Class],
    media: &[usize],
    report: &mut AgainstReport,
) {
    let readers: Vec<Mutex<Reader>> = (0..rayon::current_num_threads())
        .map(|_| Mutex::new(catalog.reader(crate::source::LARGE_BUFFER)))
        .collect();
    // Reads an entry and looks its content up.
    let by_content = |i: usize| -> Found {
        let slot = rayon::current_thread_index().unwrap_or(0) % readers.len();
        let mut reader = readers[slot].lock().expect("reader lock");
        let e = &catalog.entries[i];
        match reader.open(e).and_then(hash::hash_stream) {
            Ok((h, _)) => match lib.by_hash.get(&hash::hex(h)) {
                Some(f) => Found::In(*f),
                None => Found::Not(None),
            },
            Err(err) => Found::Not(Some(format!("cannot be read from the input: {err}"))),
        }
    };
    let bar = if opts.progress {
        let total = if opts.full {
            media.iter().map(|i| catalog.entries[*i].size).sum()
        } else {
            media.len() as u64
        };
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} eta {eta}").expect("template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut found: Vec<Found> = media
        .par_iter()
        .map(|&i| {
            let e = &catalog.entries[i];
            let f = if opts.full {
                by_content(i)
            } else {
                match lib.hash_of_source(e).and_then(|h| lib.by_hash.get(h)) {
                    Some(f) => Found::In(*f),
                    None => Found::Not(None),
                }
            };
            bar.inc(if opts.full { e.size } else { 1 });
            f
        })
        .collect();
    // Fast mode: an entry not known by its name, size and CRC-32 may still be there by
    // content (a manifest line lost, a name changed between exports): read those, unless
    // nothing of their input is in the library (a part never processed).
    if !opts.full {
        let mut seen = vec![false; catalog.inputs.len()];
        for (k, f) in found.iter().enumerate() {
            if matches!(f, Found::In(_)) {
                seen[catalog.entries[media[k]].input] = true;
            }
        }
        let again: Vec<usize> = (0..media.len())
            .filter(|&k| {
                matches!(found[k], Found::Not(None)) && seen[catalog.entries[media[k]].input]
            })
            .collect();
        let results: Vec<(usize, Found)> = again
            .par_iter()
            .map(|&k| (k, by_content(media[k])))
            .collect();
        for (k, f) in results {
            found[k] = f;
        }
    }
    bar.finish_and_clear();

    // The library files they are in: checked once each.
    let mut needed: Vec<usize> = found
        .iter()
        .filter_map(|f| match f {
            Found::In(file) => Some(*file),
            Found::Not(_) => None,
        })
        .collect();
    needed.sort_unstable();
    needed.dedup();
    let states: HashMap<usize, FileState> = needed
        .par_iter()
        .map(|&f| (f, lib.check(root, f, opts.full)))
        .collect();

    let mut accounted_per_input = vec![0usize; catalog.inputs.len()];
    let mut accounted: Vec<usize> = Vec::new();
    let mut pending: Vec<(usize, Option<String>)> = Vec::new();
    for (k, f) in found.into_iter().enumerate() {
        let e = &catalog.entries[media[k]];
        match f {
            Found::In(file) => {
                let path = &lib.files[file].path;
                let why = match states[&file] {
                    FileState::Intact => {
                        report.in_library += 1;
                        accounted_per_input[e.input] += 1;
                        accounted.push(media[k]);
                        continue;
                    }
                    FileState::Missing => "its file in the library is missing",
                    FileState::Changed => {
                        "its file in the library was changed since it was written"
                    }
                };
                accounted_per_input[e.input] += 1; // processed, at least
                report
                    .not_in_library
                    .push(finding(catalog, e, why.into(), Some(path)));
            }
            Found::Not(unreadable) => pending.push((media[k], unreadable)),
        }
    }
    explain(
        lib,
        catalog,
        classes,
        &accounted_per_input,
        &accounted,
        pending,
        report,
    );
    let order = |f: &EntryFinding| (f.input.clone(), f.entry.clone());
    report.not_in_library.sort_by_key(order);
    report.left_out.sort_by_key(order);
}

fn finding(catalog: &Catalog, e: &Entry, why: String, file: Option<&String>) -> EntryFinding {
    EntryFinding {
        input: catalog.inputs[e.input].path.clone(),
        entry: match &e.locator {
            Locator::File(p) => p
                .strip_prefix(&catalog.inputs[e.input].path)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned(),
            // The path in the zip, with "(entry k of n with this name)" for same-name entries.
            _ => {
                let described = catalog.describe(e);
                let prefix = format!("{}:", catalog.inputs[e.input].path.display());
                described
                    .strip_prefix(&prefix)
                    .map(str::to_string)
                    .unwrap_or_else(|| e.path.clone())
            }
        },
        size: e.size,
        why,
        library_file: file.cloned(),
    }
}

/// Says why each entry the library does not hold is not there: a record of its run, the
/// trash (from its sidecar), an edited copy whose original is there (or the reverse), a
/// part never processed, or not known.
fn explain(
    lib: &Library,
    catalog: &Catalog,
    classes: &[Class],
    accounted_per_input: &[usize],
    accounted: &[usize],
    pending: Vec<(usize, Option<String>)>,
    report: &mut AgainstReport,
) {
    if pending.is_empty() {
        return;
    }
    let trashed = trashed_entries(catalog, classes, &pending);
    // (folder, name) of every media entry in the library, and of the originals of the
    // edited copies among them, to recognise `--edited` choices.
    let original_of = |e: &Entry| -> Option<(String, String)> {
        let p = NameParts::parse(e.name());
        let (orig, _) = split_edited(&p.stem)?;
        Some((
            key(e.dir()),
            key(&format!("{orig}{}{}", p.counter_suffix(), p.ext)),
        ))
    };
    let mut in_library: HashSet<(String, String)> = HashSet::new();
    let mut edits_in_library: HashSet<(String, String)> = HashSet::new();
    for &i in accounted {
        let e = &catalog.entries[i];
        in_library.insert((key(e.dir()), key(e.name())));
        if let Some(o) = original_of(e) {
            edits_in_library.insert(o);
        }
    }
    for (i, unreadable) in pending {
        let e = &catalog.entries[i];
        let record = lib.unwritten.get(&manifest::SourceKey {
            entry: e.path.clone(),
            size: e.size,
            crc32: e.crc32,
        });
        let edited_original = original_of(e);
        let (why, deliberate) = if let Some(r) = record {
            (
                format!("{} in its run: {}", r.status, r.reason),
                r.status == "skipped",
            )
        } else if trashed.contains(&i) {
            (
                "in the Google Photos trash (left out unless --keep-trashed)".into(),
                true,
            )
        } else if let Some(reason) = unreadable {
            (reason, false)
        } else if edited_original.is_some_and(|o| in_library.contains(&o)) {
            (
                "an edited copy; its original is in the library (--edited skip)".into(),
                true,
            )
        } else if edits_in_library.contains(&(key(e.dir()), key(e.name()))) {
            (
                "its edited copy is in the library instead (--edited only)".into(),
                true,
            )
        } else if accounted_per_input[e.input] == 0 {
            (
                "never processed: none of the photos of this input are in the library".into(),
                false,
            )
        } else {
            (
                "not in the library: it failed or was not reached in the run that read it \
                 (see that run's report)"
                    .into(),
                false,
            )
        };
        let f = finding(catalog, e, why, None);
        if deliberate {
            report.left_out.push(f);
        } else {
            report.not_in_library.push(f);
        }
    }
}

/// The pending entries whose sidecar says they are in the trash. Only the JSON files of
/// the folders holding pending entries are read, and matched with all media there, as a run
/// does.
fn trashed_entries(
    catalog: &Catalog,
    classes: &[Class],
    pending: &[(usize, Option<String>)],
) -> HashSet<usize> {
    let dirs: HashSet<String> = pending
        .iter()
        .map(|(i, _)| key(catalog.entries[*i].dir()))
        .collect();
    let in_dirs = |i: &usize| dirs.contains(&key(catalog.entries[*i].dir()));
    let jsons: Vec<usize> = (0..catalog.entries.len())
        .filter(|i| classes[*i] == Class::Json && in_dirs(i))
        .collect();
    let media: Vec<usize> = (0..catalog.entries.len())
        .filter(|i| matches!(classes[*i], Class::Media(_)) && in_dirs(i))
        .collect();
    let parsed: Vec<(usize, crate::sidecar::Sidecar)> = jsons
        .par_iter()
        .filter_map(|&i| {
            let mut reader = catalog.reader(crate::source::SMALL_BUFFER);
            let bytes = reader
                .read_small(&catalog.entries[i], crate::sidecar::MAX_JSON_BYTES)
                .ok()?;
            match crate::sidecar::parse(&bytes) {
                Ok(crate::sidecar::JsonFile::Media(s)) => Some((i, s)),
                _ => None,
            }
        })
        .collect();
    let sidecar_refs: Vec<SidecarRef> = parsed
        .iter()
        .map(|(i, s)| {
            let e = &catalog.entries[*i];
            SidecarRef {
                dir: e.dir().to_string(),
                name: e.name().to_string(),
                title: s.title.clone(),
            }
        })
        .collect();
    let media_refs: Vec<MediaRef> = media
        .iter()
        .map(|&i| {
            let e = &catalog.entries[i];
            MediaRef {
                dir: e.dir().to_string(),
                name: e.name().to_string(),
                video: matches!(classes[i], Class::Media(Some(k)) if k.is_video()),
            }
        })
        .collect();
    let pending: HashSet<usize> = pending.iter().map(|(i, _)| *i).collect();
    matcher::match_all(&media_refs, &sidecar_refs)
        .into_iter()
        .zip(&media)
        .filter_map(|(m, &i)| {
            let m = m?;
            (pending.contains(&i) && parsed[m.sidecar].1.trashed).then_some(i)
        })
        .collect()
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

    #[test]
    fn counts_read_with_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(95_662), "95,662");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
