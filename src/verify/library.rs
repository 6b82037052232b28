//! What the manifest says the library holds, for `verify --against`.

use std::collections::HashMap;
use std::path::Path;

use super::{compare_hash, current_lines, is_inside, FileState, VerifyError};
use crate::manifest::{self, FILE_NAME};
use crate::output::STATE_DIR;
use crate::source::Entry;

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

/// One current manifest file.
pub(super) struct LibFile {
    pub(super) path: String,
    output_hash: Option<String>,
    output_size: Option<u64>,
    taken: Option<i64>,
}

/// What the manifest says the library holds.
pub(super) struct Library {
    /// content hash → the file holding it (first current line with that hash).
    pub(super) by_hash: HashMap<String, usize>,
    pub(super) files: Vec<LibFile>,
    /// Takeout entry → content hash, for every line whose content is in `by_hash`.
    pub(super) by_source: HashMap<manifest::SourceKey, String>,
    /// (entry path, size) → content hash, for lookups where one side has no CRC-32
    /// (extracted folders).
    pub(super) by_name_size: HashMap<(String, u64), String>,
    pub(super) unwritten: HashMap<manifest::SourceKey, Unwritten>,
    pub(super) invalid: Vec<String>,
}

/// Reads the manifest of `root`.
pub(super) fn load_library(root: &Path) -> Result<Library, VerifyError> {
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
    for i in current_lines(&lines) {
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
    pub(super) fn hash_of_source(&self, e: &Entry) -> Option<&str> {
        let key = source_key(e);
        if let Some(h) = self.by_source.get(&key) {
            return Some(h);
        }
        // A folder entry (no CRC-32) against a library made from zips, or the reverse: by
        // name and size.
        let h = self.by_name_size.get(&(e.path.to_string(), e.size))?;
        let recorded_without_crc = self
            .by_source
            .contains_key(&manifest::SourceKey { crc32: None, ..key });
        (e.crc32.is_none() || recorded_without_crc).then_some(h.as_str())
    }

    /// Checks a library file: by size and modification time (then by content if the time
    /// differs: a copy may not keep it), or by content with `full`.
    pub(super) fn check(&self, root: &Path, file: usize, full: bool) -> FileState {
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
        compare_hash(&path, want_hash)
    }
}

/// The manifest's key for an input entry.
pub(super) fn source_key(e: &Entry) -> manifest::SourceKey {
    manifest::SourceKey {
        entry: e.path.to_string(),
        size: e.size,
        crc32: e.crc32,
    }
}
