//! `verify DIR --against INPUT...`: does the library hold every photo and video of the
//! inputs? Each media entry is looked up in the manifest (by name, size and CRC-32, or by
//! content with `--full`), its library file checked, and every entry not there explained.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

use super::findings::{AgainstReport, EntryFinding};
use super::library::{load_library, Library};
use super::{progress_bar, thread_pool, FileState, VerifyError};
use crate::hash;
use crate::names::{key, split_edited, NameParts};
use crate::takeout::matcher::{self, MediaRef, SidecarRef};
use crate::takeout::{classify, Catalog, Class, Entry, Reader};

/// What `verify --against` is asked.
pub struct AgainstOptions<'a> {
    pub inputs: &'a [PathBuf],
    /// Read every entry and compare content hashes (otherwise: names, sizes and CRC-32s).
    pub full: bool,
    pub jobs: Option<usize>,
    pub progress: bool,
}

/// Checks that `root` holds every photo and video of `opts.inputs`.
pub fn against(root: &Path, opts: &AgainstOptions) -> Result<AgainstReport, VerifyError> {
    // Like plain verify: not while a run writes there (its manifest is still growing).
    let _lock = crate::library::dir::OutputLock::acquire_for_reading(root).map_err(|source| {
        VerifyError::Io {
            path: root.to_path_buf(),
            source,
        }
    })?;
    let pool = thread_pool(opts.jobs)?;
    // The manifest and the inputs' directories are read at once, each leaving large tables
    // behind: freed memory goes back at once (at a million entries, the peak is 247 MB,
    // against 381 MB when it goes back with a second's delay). Not for a small manifest,
    // which leaves little to return: for 10,000 files, returning it costs 3 of 40 ms (the
    // same pages freed, then faulted in again).
    let manifest = root
        .join(crate::library::dir::STATE_DIR)
        .join(crate::library::manifest::FILE_NAME);
    let large = std::fs::metadata(manifest).is_ok_and(|m| m.len() > PURGE_ABOVE);
    let _purge = large.then(|| crate::alloc::Purge::within(0));
    let exclude = root.canonicalize().ok();
    // The manifest and the inputs' directories are read at the same time; in fast mode, the
    // library files are checked ahead while the inputs are still being indexed (reading
    // zips' directories leaves a core idle when they come from disk).
    let indexing = AtomicU8::new(NOT_STARTED);
    let (lib, catalog) = pool.install(|| {
        rayon::join(
            || {
                let lib = load_library(root)?;
                let busy = || indexing.load(Ordering::Relaxed) == RUNNING;
                let ahead = if opts.full || !busy() {
                    Vec::new()
                } else {
                    lib.check_ahead(root, busy)
                };
                Ok((lib, ahead))
            },
            || {
                indexing.store(RUNNING, Ordering::Relaxed);
                // A .tgz part is read whole: its sidecars are kept (in a temporary folder) and
                // its photos' content hashes computed on the way; no photo is copied.
                let tar = crate::takeout::tgz::TarOptions {
                    keep: crate::takeout::tgz::Keep::SidecarsAndHashes,
                    ..Default::default()
                };
                let catalog = Catalog::open_with(opts.inputs, exclude.as_deref(), &tar);
                // Classified here, often while the manifest is still being read.
                let catalog = catalog.map(|c| {
                    let classes = classify(&c.entries);
                    (c, classes)
                });
                indexing.store(DONE, Ordering::Relaxed);
                catalog
            },
        )
    });
    let (lib, ahead) = lib?;
    let (catalog, classes) = catalog.map_err(VerifyError::Input)?;
    let media: Vec<usize> = (0..catalog.entries.len())
        .filter(|i| matches!(classes[*i], Class::Media(_)))
        .collect();
    // Every input is a Takeout by the rule `process` applies (a part holding only sidecars
    // is one). Checking nothing at all must not pass: when no input holds a photo or video
    // and none is cut off (a cut-off input fails the check by itself), verify refuses.
    if let Some(input) = catalog.not_takeout(&classes) {
        return Err(VerifyError::NoMedia(input.path.clone()));
    }
    if media.is_empty() && catalog.damaged.is_empty() {
        return Err(VerifyError::NothingToCheck);
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
    let check = Check {
        root,
        opts,
        lib: &lib,
        catalog: &catalog,
        classes: &classes,
        media: &media,
        ahead,
    };
    pool.install(|| check.run(&mut report));
    Ok(report)
}

/// The manifest size (bytes, about 700 a file) above which freed memory is returned at once.
const PURGE_ABOVE: u64 = 32 << 20;

/// Where the indexing of the inputs is.
const NOT_STARTED: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;

/// Where one media entry stands.
enum Found {
    /// Its content is the library file `usize`.
    In(usize),
    /// Not in the library; `Some` when it could not even be read.
    Not(Option<String>),
}

/// One `--against` check: the library, the inputs and their media entries.
struct Check<'a> {
    root: &'a Path,
    opts: &'a AgainstOptions<'a>,
    lib: &'a Library,
    catalog: &'a Catalog,
    classes: &'a [Class],
    /// The media entries (indices into `catalog.entries`).
    media: &'a [usize],
    /// Library files already checked (by file; empty when none were).
    ahead: Vec<Option<FileState>>,
}

/// The media entries sorted by where they stand once their library files are checked.
struct Tally {
    /// Per input, how many of its entries the library holds (intact or not).
    per_input: Vec<usize>,
    /// The entries whose library file is intact.
    accounted: Vec<usize>,
    /// The entries not in the library, with why they could not be read.
    pending: Vec<(usize, Option<String>)>,
}

impl Check<'_> {
    /// Runs the check on the current thread pool, filling `report`.
    fn run(&self, report: &mut AgainstReport) {
        // Fast mode reads entries only when some are not found by their name, size and
        // CRC-32 (see `read_again`): no readers (and their buffers) otherwise.
        let readers = self.opts.full.then(|| Readers::new(self.catalog));
        // Progress only where it takes time: reading every entry (looking entries up by name
        // takes milliseconds, and counting each would be a fortieth of it).
        let total = self
            .media
            .iter()
            .map(|i| self.catalog.entries[*i].size)
            .sum();
        let bar = progress_bar(
            self.opts.progress && self.opts.full,
            total,
            "{bar:40} {bytes}/{total_bytes} eta {eta}",
        );
        let mut found: Vec<Found> = self
            .media
            .par_iter()
            .map(|&i| {
                let e = &self.catalog.entries[i];
                match &readers {
                    Some(readers) => {
                        let f = readers.by_content(self.lib, e);
                        bar.inc(e.size);
                        f
                    }
                    None => self.by_source(e),
                }
            })
            .collect();
        if !self.opts.full {
            self.read_again(&mut found);
        }
        bar.finish_and_clear();
        let states = self.file_states(&found);
        let tally = self.tally(found, &states, report);
        self.explain(&tally, report);
        let order = |f: &EntryFinding| (f.input.clone(), f.entry.clone());
        report.not_in_library.sort_by_key(order);
        report.left_out.sort_by_key(order);
    }

    /// Looks an entry up by its name, size and CRC-32.
    fn by_source(&self, e: &Entry) -> Found {
        match self.lib.file_of_source(e) {
            Some(f) => Found::In(f),
            None => Found::Not(None),
        }
    }

    /// Fast mode: an entry not known by its name, size and CRC-32 may still be there by
    /// content (a manifest line lost, a name changed between exports): reads those, unless
    /// nothing of their input is in the library (a part never processed).
    fn read_again(&self, found: &mut [Found]) {
        let mut seen = vec![false; self.catalog.inputs.len()];
        for (k, f) in found.iter().enumerate() {
            if matches!(f, Found::In(_)) {
                seen[self.input_of(k)] = true;
            }
        }
        let again: Vec<usize> = (0..self.media.len())
            .filter(|&k| matches!(found[k], Found::Not(None)) && seen[self.input_of(k)])
            .collect();
        if again.is_empty() {
            return;
        }
        let readers = Readers::new(self.catalog);
        let results: Vec<(usize, Found)> = again
            .par_iter()
            .map(|&k| {
                let e = &self.catalog.entries[self.media[k]];
                (k, readers.by_content(self.lib, e))
            })
            .collect();
        for (k, f) in results {
            found[k] = f;
        }
    }

    /// The input of the `k`th media entry.
    fn input_of(&self, k: usize) -> usize {
        self.catalog.entries[self.media[k]].input_index()
    }

    /// The state of every library file an entry was `found` in (by file), checked once
    /// each.
    fn file_states(&self, found: &[Found]) -> Vec<Option<FileState>> {
        let mut needed = vec![false; self.lib.files.len()];
        for f in found {
            if let Found::In(file) = f {
                needed[*file] = true;
            }
        }
        let mut states = vec![None; self.lib.files.len()];
        let needed: Vec<usize> = (0..needed.len())
            .filter(|&f| {
                needed[f]
                    && match self.ahead.get(f).copied().flatten() {
                        Some(state) => {
                            states[f] = Some(state);
                            false
                        }
                        None => true,
                    }
            })
            .collect();
        let checked = if self.opts.full {
            needed
                .par_iter()
                .map(|&f| (f, self.lib.check(self.root, f, true)))
                .collect()
        } else {
            self.lib.check_listed(self.root, &needed)
        };
        for (f, state) in checked {
            states[f] = Some(state);
        }
        states
    }

    /// Counts the entries whose library file is intact in `report`, lists those whose file
    /// is missing or changed, and returns the rest to explain.
    fn tally(
        &self,
        found: Vec<Found>,
        states: &[Option<FileState>],
        report: &mut AgainstReport,
    ) -> Tally {
        let mut tally = Tally {
            per_input: vec![0; self.catalog.inputs.len()],
            accounted: Vec::new(),
            pending: Vec::new(),
        };
        for (k, f) in found.into_iter().enumerate() {
            let e = &self.catalog.entries[self.media[k]];
            let file = match f {
                Found::In(file) => file,
                Found::Not(unreadable) => {
                    tally.pending.push((self.media[k], unreadable));
                    continue;
                }
            };
            // Processed, at least.
            tally.per_input[e.input_index()] += 1;
            let why = match states[file].expect("every file found is checked") {
                FileState::Intact => {
                    report.in_library += 1;
                    tally.accounted.push(self.media[k]);
                    continue;
                }
                FileState::Missing => "its file in the library is missing",
                FileState::Changed => "its file in the library was changed since it was written",
            };
            let path = self.lib.path(file);
            report
                .not_in_library
                .push(finding(self.catalog, e, why.into(), Some(path)));
        }
        tally
    }

    /// Says why each entry the library does not hold is not there: a record of its run, the
    /// trash (from its sidecar), an edited copy whose original is there (or the reverse), a
    /// part never processed, or not known.
    fn explain(&self, tally: &Tally, report: &mut AgainstReport) {
        if tally.pending.is_empty() {
            return;
        }
        let trashed = trashed_entries(self.catalog, self.classes, &tally.pending);
        let edits = Edits::of(self.catalog, &tally.accounted);
        for (i, unreadable) in &tally.pending {
            let e = &self.catalog.entries[*i];
            let (why, deliberate) = if let Some(r) = self.lib.unwritten_of(e) {
                (
                    format!("{} in its run: {}", r.status, r.reason),
                    r.status == "skipped",
                )
            } else if trashed.contains(i) {
                (
                    "in the Google Photos trash (left out unless --keep-trashed)".into(),
                    true,
                )
            } else if let Some(reason) = unreadable {
                (reason.clone(), false)
            } else if let Some(why) = edits.why_left_out(e) {
                (why.into(), true)
            } else if tally.per_input[e.input_index()] == 0 {
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
            let f = finding(self.catalog, e, why, None);
            if deliberate {
                report.left_out.push(f);
            } else {
                report.not_in_library.push(f);
            }
        }
    }
}

/// One input reader per worker thread, to read entries by content.
struct Readers<'a>(Vec<Mutex<Reader<'a>>>);

impl<'a> Readers<'a> {
    fn new(catalog: &'a Catalog) -> Readers<'a> {
        Readers(
            (0..rayon::current_num_threads())
                .map(|_| Mutex::new(catalog.reader(crate::takeout::LARGE_BUFFER)))
                .collect(),
        )
    }

    /// Reads entry `e` and looks its content up in `lib`.
    fn by_content(&self, lib: &Library, e: &Entry) -> Found {
        let slot = rayon::current_thread_index().unwrap_or(0) % self.0.len();
        let mut reader = self.0[slot].lock().expect("reader lock");
        let known = reader.catalog().content_hash(e).map(|h| (h, e.size));
        match known.map_or_else(|| reader.open(e).and_then(hash::hash_stream), Ok) {
            Ok((h, _)) => match lib.file_of_hash(h) {
                Some(f) => Found::In(f),
                None => Found::Not(None),
            },
            Err(err) => Found::Not(Some(format!("cannot be read from the input: {err}"))),
        }
    }
}

/// (folder, name) of every media entry in the library, and of the originals of the edited
/// copies among them, to recognise `--edited` choices.
struct Edits {
    in_library: HashSet<(String, String)>,
    originals_of_edits_in_library: HashSet<(String, String)>,
}

impl Edits {
    fn of(catalog: &Catalog, accounted: &[usize]) -> Edits {
        let mut edits = Edits {
            in_library: HashSet::new(),
            originals_of_edits_in_library: HashSet::new(),
        };
        for &i in accounted {
            let e = &catalog.entries[i];
            edits.in_library.insert((key(e.dir()), key(e.name())));
            if let Some(o) = original_of(e) {
                edits.originals_of_edits_in_library.insert(o);
            }
        }
        edits
    }

    /// Why `e` was left out by an `--edited` choice, when it was.
    fn why_left_out(&self, e: &Entry) -> Option<&'static str> {
        if original_of(e).is_some_and(|o| self.in_library.contains(&o)) {
            Some("an edited copy; its original is in the library (--edited skip)")
        } else if self
            .originals_of_edits_in_library
            .contains(&(key(e.dir()), key(e.name())))
        {
            Some("its edited copy is in the library instead (--edited only)")
        } else {
            None
        }
    }
}

/// (folder, name) of the original of an edited copy (`IMG_1-edited.jpg` → `IMG_1.jpg`).
fn original_of(e: &Entry) -> Option<(String, String)> {
    let p = NameParts::parse(e.name());
    let (orig, _) = split_edited(&p.stem)?;
    Some((
        key(e.dir()),
        key(&format!("{orig}{}{}", p.counter_suffix(), p.ext)),
    ))
}

fn finding(catalog: &Catalog, e: &Entry, why: String, file: Option<&str>) -> EntryFinding {
    EntryFinding {
        input: catalog.inputs[e.input_index()].path.clone(),
        entry: match catalog.disk_path(e) {
            Some(p) => p
                .strip_prefix(&catalog.inputs[e.input_index()].path)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned(),
            // The path in the zip, with "(entry k of n with this name)" for same-name entries.
            None => {
                let described = catalog.describe(e);
                let prefix = format!("{}:", catalog.inputs[e.input_index()].path.display());
                described
                    .strip_prefix(&prefix)
                    .map(str::to_string)
                    .unwrap_or_else(|| e.path())
            }
        },
        size: e.size,
        why,
        library_file: file.map(str::to_string),
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
    let parsed: Vec<(usize, crate::takeout::sidecar::Sidecar)> = jsons
        .par_iter()
        .filter_map(|&i| {
            let mut reader = catalog.reader(crate::takeout::SMALL_BUFFER);
            let bytes = reader
                .read_small(&catalog.entries[i], crate::takeout::sidecar::MAX_JSON_BYTES)
                .ok()?;
            match crate::takeout::sidecar::parse(&bytes) {
                Ok(crate::takeout::sidecar::JsonFile::Media(s)) => Some((i, s)),
                _ => None,
            }
        })
        .collect();
    let sidecar_refs: Vec<SidecarRef> = parsed
        .iter()
        .map(|(i, s)| {
            let e = &catalog.entries[*i];
            SidecarRef {
                dir: e.dir(),
                name: e.name(),
                title: s.title(),
            }
        })
        .collect();
    let media_refs: Vec<MediaRef> = media
        .iter()
        .map(|&i| {
            let e = &catalog.entries[i];
            MediaRef {
                dir: e.dir(),
                name: e.name(),
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
            (pending.contains(&i) && parsed[m.sidecar].1.trashed()).then_some(i)
        })
        .collect()
}
