//! The `process` command: inputs → sidecars → matching → each media entry read once, enriched,
//! written once → report.
//!
//! 1. Every input is opened and indexed (`source`); entries are classified as JSON, media, or
//!    not part of Google Photos.
//! 2. All JSON files are read and parsed (small), in parallel (`sidecar`).
//! 3. Media are paired with sidecars (`matcher`).
//! 4. Media are grouped by a free pre-hash (size and the zip's CRC-32): members of a group are
//!    almost surely byte-identical (a photo and its album copies). Each group is one unit of
//!    parallel work: its best member (the one with a sidecar, in a year folder) is written with
//!    its metadata while its bytes are hashed; the others are only hashed and recorded as
//!    duplicates when their hash matches. A global hash registry (seeded from the output's
//!    manifest) catches duplicates across groups and across runs.
//! 5. The report accounts for every media entry.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::albums::{self, AlbumsMode};
use crate::hash::{self, HashingReader, HashingWriter};
use crate::manifest::{self, Manifest, SourceKey};
use crate::matcher::{self, Match, MediaRef, Rule, SidecarRef};
use crate::media::{resolve_kind, MediaKind};
use crate::metadata::xmp::{self, XmpData, XmpMode};
use crate::metadata::{self, Tags, TimeZoneChoice, Written};
use crate::names::{key, NameParts};
use crate::output::{Layout, OutputDir};
use crate::report::{DateSource, JsonReport, MediaReport, Report, Status};
use crate::sidecar::{self, AlbumInfo, JsonFile, Sidecar};
use crate::source::{self, Catalog, Entry, Reader, SourceError};

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct Options {
    pub inputs: Vec<PathBuf>,
    pub output: PathBuf,
    pub dry_run: bool,
    /// Write the full report as JSON here.
    pub report: Option<PathBuf>,
    /// Worker threads; `None` for one per core.
    pub jobs: Option<usize>,
    /// Show a progress bar (the caller decides: a terminal, not `--quiet`).
    pub progress: bool,
    pub timezone: TimeZoneChoice,
    /// Replace a date taken that the file already has with the sidecar's.
    pub overwrite_dates: bool,
    /// fsync every output file before it is renamed into place.
    pub sync: bool,
    /// When to write `NAME.xmp` sidecars.
    pub xmp: XmpMode,
    /// Set (by a Ctrl-C handler) to stop the run early; files done so far are kept.
    pub cancel: Arc<AtomicBool>,
    pub layout: Layout,
    pub albums: AlbumsMode,
    pub edited: EditedMode,
    /// Also write photos that are in Google Photos' trash.
    pub keep_trashed: bool,
}

/// What to do with edited copies (`IMG_1-edited.jpg`) and their originals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EditedMode {
    /// Write both the original and the edited copy.
    Keep,
    /// Write the edited copy instead of its original.
    Only,
    /// Write the original only.
    Skip,
}

/// Why a run could not be done at all. Per-file problems are never errors: they are in the
/// report.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// An input is unusable: nothing was started (exit code 2).
    #[error(transparent)]
    Input(#[from] SourceError),
    #[error("{path}: {reason}")]
    NotTakeout { path: PathBuf, reason: String },
    #[error("output folder {path}: {source}")]
    Output { path: PathBuf, source: io::Error },
    #[error("cannot write the report {path}: {source}")]
    Report { path: PathBuf, source: io::Error },
    #[error("cannot start worker threads: {0}")]
    Threads(String),
}

impl ProcessError {
    /// True when the command line named something unusable (exit code 2), rather than the run
    /// failing (exit code 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ProcessError::Input(_) | ProcessError::NotTakeout { .. }
        )
    }
}

/// How an input entry is treated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Class {
    Json,
    /// A media file (its kind by extension; `None` for an unknown file among the photos).
    Media(Option<MediaKind>),
    Ignored,
}

/// A media entry on its way through the stages.
struct Item {
    entry: usize,
    by_name: Option<MediaKind>,
    found: Option<Match>,
}

/// A sidecar as read: its entry and what it says (or why it could not be read).
struct SidecarData {
    entry: usize,
    parsed: Result<Sidecar, String>,
}

/// A content already in the output: its path, and the sidecar its metadata came from.
#[derive(Debug, Clone)]
struct Known {
    path: String,
    sidecar: Option<usize>,
}

/// Shared, read-only state of the media stage, plus the hash registry.
struct Ctx<'a> {
    opts: &'a Options,
    catalog: &'a Catalog,
    items: &'a [Item],
    sidecars: &'a [SidecarData],
    out: &'a OutputDir,
    manifest: &'a Manifest,
    /// Content hash → output path, for everything in the output (this run and earlier ones).
    registry: Mutex<HashMap<u128, Known>>,
    progress: ProgressBar,
    /// Album metadata by folder key.
    album_info: &'a HashMap<String, AlbumInfo>,
    /// Why the run stopped early (disk full), for the items not yet done.
    stop: Mutex<Option<String>>,
}

const INTERRUPTED: &str = "interrupted";
const DISK_FULL: &str = "the output disk is full";

/// Fails reads once the run is interrupted, so that a long copy stops within a moment (its
/// temp file is then removed). Not `ErrorKind::Interrupted`: `io::copy` would retry that.
struct Interruptible<'f, R> {
    inner: R,
    flag: &'f AtomicBool,
}

impl<R: Read> Read for Interruptible<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.flag.load(Ordering::Relaxed) {
            return Err(io::Error::other(INTERRUPTED));
        }
        self.inner.read(buf)
    }
}

/// Runs `gpbackup process`. Returns the report; per-file failures are in it, not errors.
pub fn run(opts: &Options) -> Result<Report, ProcessError> {
    // One malloc arena for all threads: memory freed by one stage (the zip crate's central
    // directories, parsed JSON) is then reused by the next instead of staying resident in
    // another thread's arena. Halves peak RSS on large Takeouts (benches/BENCHMARKS.md).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; M_ARENA_MAX takes effect for arenas
    // created afterwards.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .build()
        .map_err(|e| ProcessError::Threads(e.to_string()))?;
    pool.install(|| run_in_pool(opts))
}

fn run_in_pool(opts: &Options) -> Result<Report, ProcessError> {
    let out_err = |source| ProcessError::Output {
        path: opts.output.clone(),
        source,
    };
    let exclude = opts.output.canonicalize().ok();
    let catalog = Catalog::open(&opts.inputs, exclude.as_deref())?;
    let classes = classify(&catalog.entries);
    trim_heap(); // the zip crate's central directories are freed
    for (i, input) in catalog.inputs.iter().enumerate() {
        let useful = catalog
            .entries
            .iter()
            .zip(&classes)
            .any(|(e, c)| e.input == i && *c != Class::Ignored);
        let damaged = catalog.damaged.iter().any(|d| d.path == input.path);
        if !useful && !damaged {
            return Err(ProcessError::NotTakeout {
                path: input.path.clone(),
                reason: "contains no photos, videos or JSON sidecars; expected a Google Takeout \
                         .zip or an extracted Takeout folder"
                    .into(),
            });
        }
    }

    let out = OutputDir::open(&opts.output, opts.sync, opts.dry_run).map_err(out_err)?;
    let manifest = Manifest::open_with(&out.state_dir(), opts.dry_run, |p| out.was_present(p))
        .map_err(out_err)?;

    let mut report = Report {
        output: opts.output.clone(),
        dry_run: opts.dry_run,
        repeated_inputs: catalog.skipped_inputs.clone(),
        damaged_inputs: catalog.damaged.clone(),
        entry_notes: catalog.entry_notes.clone(),
        ..Report::default()
    };

    // Stage 2: every JSON file, read whole (they are small), in disk order.
    let mut json_entries: Vec<usize> = (0..catalog.entries.len())
        .filter(|i| classes[*i] == Class::Json)
        .collect();
    sort_by_disk_order(&catalog.entries, &mut json_entries);
    // One reader (one open file per zip) per worker thread, built from the central
    // directories parsed once above.
    let readers: Vec<Mutex<Reader>> = (0..rayon::current_num_threads())
        .map(|_| Mutex::new(catalog.reader(source::SMALL_BUFFER)))
        .collect();
    let with_reader = |f: &mut dyn FnMut(&mut Reader)| {
        let slot = rayon::current_thread_index().unwrap_or(0) % readers.len();
        f(&mut readers[slot].lock().expect("reader lock"))
    };
    // Stage 3: pair media with sidecars.
    let mut items: Vec<Item> = classes
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match c {
            Class::Media(kind) => Some(Item {
                entry: i,
                by_name: *kind,
                found: None,
            }),
            _ => None,
        })
        .collect();
    items.sort_by_key(|it| disk_order(&catalog.entries[it.entry]));
    let media_refs: Vec<MediaRef> = items
        .iter()
        .map(|it| {
            let e = &catalog.entries[it.entry];
            MediaRef {
                dir: e.dir().to_string(),
                name: e.name().to_string(),
                video: it.by_name.is_some_and(MediaKind::is_video),
            }
        })
        .collect();

    // Stage 2: the JSON files, read whole (they are small), in disk order. Media already in the
    // output from an earlier run need no sidecar: first only the JSON files of folders with
    // new media are read; the rest only if some new media file found no sidecar there.
    let is_known = |e: &Entry| {
        e.crc32.is_some_and(|crc| {
            manifest
                .path_for_source(&source_key(e, Some(crc)))
                .is_some()
        })
    };
    let pending_dirs: HashSet<String> = items
        .iter()
        .map(|it| &catalog.entries[it.entry])
        .filter(|e| !is_known(e))
        .map(|e| key(e.dir()))
        .collect();
    let (first, mut rest): (Vec<usize>, Vec<usize>) = json_entries
        .iter()
        .partition(|i| pending_dirs.contains(&key(catalog.entries[**i].dir())));
    let read_jsons = |batch: &[usize]| -> Vec<(usize, Result<JsonFile, String>)> {
        batch
            .par_iter()
            .map(|&i| {
                let e = &catalog.entries[i];
                let mut res = Err(String::new());
                with_reader(&mut |reader| {
                    res = reader
                        .read_small(e, sidecar::MAX_JSON_BYTES)
                        .map_err(|err| format!("cannot read: {err}"))
                        .and_then(|bytes| sidecar::parse(&bytes));
                });
                (i, res)
            })
            .collect()
    };
    // Each batch read is added to what earlier batches gave.
    let mut sidecars: Vec<SidecarData> = Vec::new();
    let mut albums: HashMap<String, AlbumInfo> = HashMap::new();
    let mut batch = read_jsons(&first);
    let (sidecar_refs, matches) = loop {
        for (i, res) in batch.drain(..) {
            let e = &catalog.entries[i];
            match res {
                Ok(JsonFile::Media(s)) => sidecars.push(SidecarData {
                    entry: i,
                    parsed: Ok(s),
                }),
                Ok(JsonFile::Album(a)) => {
                    albums.insert(key(e.dir()), a);
                }
                Ok(JsonFile::Other) => report.ignored.push(catalog.describe(e)),
                Err(reason) => {
                    report.bad_json.push(JsonReport {
                        source: catalog.describe(e),
                        title: None,
                        reason: Some(reason.clone()),
                    });
                    // Still matched by name, so that its media file is reported with the reason.
                    sidecars.push(SidecarData {
                        entry: i,
                        parsed: Err(reason),
                    });
                }
            }
        }
        let sidecar_refs: Vec<SidecarRef> = sidecars
            .iter()
            .map(|s| {
                let e = &catalog.entries[s.entry];
                SidecarRef {
                    dir: e.dir().to_string(),
                    name: e.name().to_string(),
                    title: s.parsed.as_ref().ok().and_then(|s| s.title.clone()),
                }
            })
            .collect();
        // Media in folders whose JSON files were not read cannot match anything there.
        let included: Vec<usize> = (0..items.len())
            .filter(|&k| rest.is_empty() || pending_dirs.contains(&key(&media_refs[k].dir)))
            .collect();
        let subset: Vec<MediaRef> = included.iter().map(|&k| media_refs[k].clone()).collect();
        let mut matches = vec![None; items.len()];
        for (&k, m) in included
            .iter()
            .zip(matcher::match_all(&subset, &sidecar_refs))
        {
            matches[k] = m;
        }
        let unmatched_new = items
            .iter()
            .zip(&matches)
            .any(|(it, m)| m.is_none() && !is_known(&catalog.entries[it.entry]));
        if unmatched_new && !rest.is_empty() {
            batch = read_jsons(&std::mem::take(&mut rest));
            continue;
        }
        break (sidecar_refs, matches);
    };
    trim_heap();
    // Folders whose JSON files were not read: their albums' titles are not known this run.
    let unread_dir = |e: &Entry| !rest.is_empty() && !pending_dirs.contains(&key(e.dir()));
    for r in &readers {
        r.lock()
            .expect("reader lock")
            .set_buffer(source::LARGE_BUFFER);
    }
    let mut used = vec![false; sidecars.len()];
    for (item, m) in items.iter_mut().zip(matches) {
        if let Some(m) = m {
            used[m.sidecar] = true;
        }
        item.found = m;
    }
    // A second copy of a used sidecar (a part downloaded twice) is not "unused".
    let used_names: HashSet<(String, String)> = sidecar_refs
        .iter()
        .zip(&used)
        .filter(|(_, u)| **u)
        .map(|(r, _)| (key(&r.dir), key(&r.name)))
        .collect();
    for ((s, r), used) in sidecars.iter().zip(&sidecar_refs).zip(&used) {
        if *used || used_names.contains(&(key(&r.dir), key(&r.name))) {
            continue;
        }
        if let Ok(parsed) = &s.parsed {
            report.unused_sidecars.push(JsonReport {
                source: catalog.describe(&catalog.entries[s.entry]),
                title: parsed.title.clone(),
                reason: None,
            });
        }
    }
    for (i, c) in classes.iter().enumerate() {
        if *c == Class::Ignored {
            report.ignored.push(catalog.describe(&catalog.entries[i]));
        }
    }
    // The matcher's copies of every name are not needed any more.
    drop((used_names, sidecar_refs, media_refs));
    trim_heap();

    // Stage 4: group, name, and write.
    let ctx = Ctx {
        opts,
        catalog: &catalog,
        items: &items,
        sidecars: &sidecars,
        out: &out,
        manifest: &manifest,
        registry: Mutex::new(
            manifest
                .entries()
                .filter_map(|(h, p)| {
                    let known = Known {
                        path: p.to_string(),
                        sidecar: None,
                    };
                    Some((u128::from_str_radix(h, 16).ok()?, known))
                })
                .collect(),
        ),
        progress: progress_bar(opts.progress, &items, &catalog.entries),
        album_info: &albums,
        stop: Mutex::new(None),
    };
    let skips = skip_reasons(&ctx);
    let mut results: Vec<Option<MediaReport>> = (0..items.len()).map(|_| None).collect();
    let mut pending: Vec<usize> = Vec::new();
    for (idx, item) in items.iter().enumerate() {
        let e = &catalog.entries[item.entry];
        if let Some(reason) = &skips[idx] {
            let mut r = ctx.base_report(idx);
            r.status = Status::Skipped;
            r.reason = Some(reason.clone());
            results[idx] = Some(r);
            ctx.progress.inc(e.size);
            continue;
        }
        match e
            .crc32
            .and_then(|crc| manifest.path_for_source(&source_key(e, Some(crc))))
        {
            Some((_, path)) => {
                let mut r = ctx.base_report(idx);
                r.status = Status::Duplicate;
                r.output = Some(path.to_string());
                r.notes
                    .push("already in the output from an earlier run".into());
                if unread_dir(e) {
                    r.album = None; // its memberships are in the manifest already
                }
                results[idx] = Some(r);
                ctx.progress.inc(e.size);
            }
            None => pending.push(idx),
        }
    }
    let groups = group_duplicates(&ctx, pending, &albums);
    // Names are reserved here, in a deterministic order, so that collisions are numbered the
    // same way on every run whatever the thread timing.
    // A file whose folder depends on a date only its own bytes hold gets its name later.
    let planned: Vec<(Vec<usize>, Option<String>)> = groups
        .into_iter()
        .map(|g| {
            let name = ctx
                .planned_dir(g[0])
                .map(|dir| out.reserve(&dir, &ctx.wanted_name(g[0])));
            (g, name)
        })
        .collect();
    let done: Vec<Vec<(usize, MediaReport)>> = planned
        .par_iter()
        .map(|(group, name)| {
            let mut done = Vec::new();
            with_reader(&mut |reader| done = ctx.process_group(reader, group, name.as_deref()));
            done
        })
        .collect();
    ctx.progress.finish_and_clear();
    for (idx, r) in done.into_iter().flatten() {
        results[idx] = Some(r);
    }
    report.media = results
        .into_iter()
        .map(|r| r.expect("every media entry has a result"))
        .collect();
    report.stopped = ctx.stopped();
    drop(ctx);

    // Albums: this run's memberships merged with earlier runs'.
    let members = report.media.iter().filter(|m| {
        matches!(
            m.status,
            Status::Written | Status::WrittenWithoutMetadata | Status::Duplicate
        )
    });
    report.albums = albums::merge(
        manifest.albums(),
        members.filter_map(|m| Some((m.album.clone()?, m.output.clone()?))),
    );
    if !opts.dry_run && opts.albums != AlbumsMode::None {
        albums::write_json(out.root(), &report.albums).map_err(out_err)?;
        if matches!(opts.albums, AlbumsMode::Links | AlbumsMode::Copy) {
            report.album_notes =
                albums::make_folders(out.root(), &report.albums, opts.albums == AlbumsMode::Copy);
        }
    }
    manifest.sync().map_err(out_err)?;

    if let Some(path) = &opts.report {
        write_report(&report, path).map_err(|source| ProcessError::Report {
            path: path.clone(),
            source,
        })?;
    }
    Ok(report)
}

fn write_report(report: &Report, path: &Path) -> io::Result<()> {
    let mut f = BufWriter::new(File::create(path)?);
    serde_json::to_writer_pretty(&mut f, report).map_err(io::Error::other)?;
    f.write_all(b"\n")?;
    f.flush()
}

fn progress_bar(show: bool, items: &[Item], entries: &[Entry]) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let total: u64 = items.iter().map(|i| entries[i.entry].size).sum();
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
        )
        .expect("valid template"),
    );
    bar
}

fn disk_order(e: &Entry) -> (usize, u64) {
    (e.input, e.order)
}

fn sort_by_disk_order(entries: &[Entry], idx: &mut [usize]) {
    idx.sort_by_key(|i| disk_order(&entries[*i]));
}

fn source_key(e: &Entry, crc32: Option<u32>) -> SourceKey {
    SourceKey {
        entry: e.path.clone(),
        size: e.size,
        crc32,
    }
}

/// JSON, media, or not ours. Files of unknown type count as media (copied and reported) when
/// they sit in a folder with photos or sidecars; anything else (`archive_browser.html`, other
/// Takeout products' files) is ignored and listed.
pub(crate) fn classify(entries: &[Entry]) -> Vec<Class> {
    let is_json = |e: &Entry| e.name().to_ascii_lowercase().ends_with(".json");
    let photo_dirs: HashSet<String> = entries
        .iter()
        .filter(|e| is_json(e) || MediaKind::from_name(e.name()).is_some())
        .map(|e| key(e.dir()))
        .collect();
    entries
        .iter()
        .map(|e| {
            if e.symlink {
                Class::Ignored
            } else if is_json(e) {
                Class::Json
            } else if let Some(kind) = MediaKind::from_name(e.name()) {
                Class::Media(Some(kind))
            } else if !e.dir().is_empty() && photo_dirs.contains(&key(e.dir())) {
                Class::Media(None)
            } else {
                Class::Ignored
            }
        })
        .collect()
}

/// Why an item is left out on purpose (`None`: it is processed): photos in the trash (unless
/// `--keep-trashed`), and edited copies or their originals as `--edited` says.
fn skip_reasons(ctx: &Ctx) -> Vec<Option<String>> {
    // (folder, name) keys of every media file, to find edited copies' originals.
    let names: HashSet<(String, String)> = ctx
        .items
        .iter()
        .map(|it| {
            let e = &ctx.catalog.entries[it.entry];
            (key(e.dir()), key(e.name()))
        })
        .collect();
    let original_of = |idx: usize| -> Option<(String, String)> {
        let e = ctx.entry(idx);
        let p = NameParts::parse(e.name());
        let (orig, _) = crate::names::split_edited(&p.stem)?;
        let original = (
            key(e.dir()),
            key(&format!("{orig}{}{}", p.counter_suffix(), p.ext)),
        );
        let shares = ctx.items[idx].found.is_some_and(|m| m.rule == Rule::Edited);
        (shares || names.contains(&original)).then_some(original)
    };
    let edited: Vec<Option<(String, String)>> = (0..ctx.items.len()).map(original_of).collect();
    let have_edits: HashSet<&(String, String)> = edited.iter().flatten().collect();
    (0..ctx.items.len())
        .map(|idx| {
            let e = ctx.entry(idx);
            let trashed = ctx
                .sidecar_of(idx)
                .is_some_and(|s| s.is_ok_and(|s| s.trashed));
            if trashed && !ctx.opts.keep_trashed {
                return Some("in the Google Photos trash (use --keep-trashed to keep it)".into());
            }
            match ctx.opts.edited {
                EditedMode::Keep => None,
                EditedMode::Skip if edited[idx].is_some() => {
                    Some("an edited copy (--edited skip)".into())
                }
                EditedMode::Only if have_edits.contains(&(key(e.dir()), key(e.name()))) => {
                    Some("its edited copy is written instead (--edited only)".into())
                }
                _ => None,
            }
        })
        .collect()
}

/// Groups media that are probably byte-identical (same size and, for zips, same CRC-32), best
/// member first, groups in disk order of their first member.
fn group_duplicates(
    ctx: &Ctx,
    pending: Vec<usize>,
    albums: &HashMap<String, AlbumInfo>,
) -> Vec<Vec<usize>> {
    let mut by_key: HashMap<(u64, Option<u32>), Vec<usize>> = HashMap::new();
    for idx in pending {
        let e = &ctx.catalog.entries[ctx.items[idx].entry];
        by_key.entry((e.size, e.crc32)).or_default().push(idx);
    }
    let mut groups: Vec<Vec<usize>> = by_key.into_values().collect();
    for g in &mut groups {
        g.sort_by_key(|idx| {
            let item = &ctx.items[*idx];
            let e = &ctx.catalog.entries[item.entry];
            let usable = ctx.sidecar_of(*idx).is_some_and(|s| s.is_ok());
            let own = item.found.is_some_and(|m| !m.rule.is_shared());
            (
                !usable,
                !own,
                !albums::is_year_folder(e.dir(), albums),
                disk_order(e),
            )
        });
    }
    groups.sort_by_key(|g| disk_order(&ctx.catalog.entries[ctx.items[g[0]].entry]));
    groups
}

impl Ctx<'_> {
    fn entry(&self, idx: usize) -> &Entry {
        &self.catalog.entries[self.items[idx].entry]
    }

    /// The matched sidecar's data, or why it could not be read.
    fn sidecar_of(&self, idx: usize) -> Option<Result<&Sidecar, &str>> {
        let m = self.items[idx].found?;
        Some(
            self.sidecars[m.sidecar]
                .parsed
                .as_ref()
                .map_err(String::as_str),
        )
    }

    /// The report line of an item before anything is read.
    fn base_report(&self, idx: usize) -> MediaReport {
        let item = &self.items[idx];
        let e = self.entry(idx);
        let mut r = MediaReport {
            source: self.catalog.describe(e),
            status: Status::Failed,
            kind: item.by_name.unwrap_or(MediaKind::Unknown),
            output: None,
            rule: item.found.map(|m| m.rule),
            sidecar: item.found.map(|m| {
                self.catalog
                    .describe(&self.catalog.entries[self.sidecars[m.sidecar].entry])
            }),
            taken: None,
            local_date: None,
            date_source: None,
            gps: None,
            embedded: false,
            xmp: None,
            album: albums::album_title(e.dir(), self.album_info),
            reason: None,
            tried: Vec::new(),
            notes: Vec::new(),
        };
        match self.sidecar_of(idx) {
            None => r.tried = matcher::tried_names(e.name()),
            Some(Err(why)) => r
                .notes
                .push(format!("its sidecar could not be used: {why}")),
            Some(Ok(s)) => {
                r.notes
                    .extend(s.problems.iter().map(|p| format!("sidecar: {p}")));
                r.gps = s.geo;
            }
        }
        if item.by_name.is_none() {
            r.notes
                .push("not a known photo or video type: copied unchanged".into());
        }
        r
    }

    /// The file name to give an item: the sidecar's `title` when the zip name is a cut-down or
    /// character-replaced form of it, else the name in the zip.
    fn wanted_name(&self, idx: usize) -> String {
        let name = self.entry(idx).name();
        let title = match (self.items[idx].found, self.sidecar_of(idx)) {
            (Some(m), Some(Ok(s))) if !m.rule.is_shared() => s.title.as_deref(),
            _ => None,
        };
        let Some(title) = title else {
            return name.to_string();
        };
        let (n, t) = (NameParts::parse(name), NameParts::parse(title));
        let loose = |s: &str| -> String {
            key(s)
                .chars()
                .map(|c| if c.is_alphanumeric() { c } else { '_' })
                .collect()
        };
        let same_ext = key(&n.ext) == key(&t.ext) && !n.ext.is_empty();
        if n.counter.is_none() && same_ext && loose(&t.stem).starts_with(&loose(&n.stem)) {
            title.to_string()
        } else {
            name.to_string()
        }
    }

    /// Processes one group of probably-identical entries, best first. Returns a report line
    /// per member.
    fn process_group(
        &self,
        reader: &mut Reader,
        group: &[usize],
        name: Option<&str>,
    ) -> Vec<(usize, MediaReport)> {
        let mut out = Vec::with_capacity(group.len());
        let mut reserved = name.map(str::to_string);
        let mut resolved = false;
        for &idx in group {
            let e = self.entry(idx);
            if let Some(why) = self.stopped() {
                let mut r = self.base_report(idx);
                r.reason = Some(format!("not attempted: {why}"));
                out.push((idx, r));
                self.progress.inc(e.size);
                continue;
            }
            // Once one member's bytes are in the output, a zip member with the same CRC-32
            // is only hashed to confirm it is the same photo.
            if resolved && e.crc32.is_some() {
                // `None`: different content after all, written below.
                if let Some(r) = self.hash_only(reader, idx) {
                    out.push((idx, r));
                    self.progress.inc(e.size);
                    continue;
                }
            }
            let r = self.write_item(reader, idx, reserved.take());
            resolved |= r.status != Status::Failed;
            release_freed_memory(e.size);
            out.push((idx, r));
            self.progress.inc(e.size);
        }
        if let Some(name) = reserved {
            self.out.release(&name);
        }
        out
    }

    /// Hashes an entry without writing it. Its report line when it duplicates something in
    /// the output or cannot be read; `None` when its content is new.
    fn hash_only(&self, reader: &mut Reader, idx: usize) -> Option<MediaReport> {
        let e = self.entry(idx);
        let mut r = self.base_report(idx);
        let h = match reader.open(e).and_then(hash::hash_stream) {
            Ok((h, _)) => h,
            Err(err) => {
                r.reason = Some(read_or_write_error(&err));
                return Some(r);
            }
        };
        let known = self.registry.lock().expect("registry").get(&h).cloned()?;
        let (taken, source) = self.planned_date(idx);
        r.taken = taken;
        r.date_source = source;
        self.mark_duplicate(idx, h, &known, &mut r);
        Some(r)
    }

    /// Records `r` as a duplicate of `known`. A copy without a sidecar of its own (an album
    /// copy) takes the sidecar of its twin: that is the metadata its content carries.
    fn mark_duplicate(&self, idx: usize, h: u128, known: &Known, r: &mut MediaReport) {
        r.status = Status::Duplicate;
        r.output = Some(known.path.clone());
        if let (None, Some(s)) = (self.items[idx].found, known.sidecar) {
            r.rule = Some(Rule::AlbumTwin);
            r.tried.clear();
            r.sidecar = Some(
                self.catalog
                    .describe(&self.catalog.entries[self.sidecars[s].entry]),
            );
            if let Ok(twin) = &self.sidecars[s].parsed {
                if r.date_source != Some(DateSource::Exif) && twin.taken.is_some() {
                    r.taken = twin.taken;
                    r.date_source = Some(DateSource::Sidecar);
                }
                r.gps = twin.geo;
            }
        }
        self.record_duplicate(idx, h, &known.path);
    }

    /// The folder of an item when it is known before its bytes are read: always in the flat
    /// layout, and when the sidecar gives the date in the dated ones.
    fn planned_dir(&self, idx: usize) -> Option<String> {
        match (self.opts.layout, self.planned_date(idx)) {
            (Layout::Flat, _) => Some(String::new()),
            (_, (Some(t), Some(DateSource::Sidecar))) => {
                Some(self.layout_dir(Some(t), self.geo_of(idx), None))
            }
            _ => None,
        }
    }

    /// The layout folder for a file taken at `taken` (UTC), in the zone it was taken in.
    fn layout_dir(
        &self,
        taken: Option<i64>,
        geo: Option<crate::sidecar::Geo>,
        own: Option<chrono::FixedOffset>,
    ) -> String {
        let local = taken.and_then(|t| self.opts.timezone.localize(t, geo, own));
        self.opts.layout.dir_for(local)
    }

    /// Why the run stops early, if it does: interrupted (Ctrl-C), or the output disk is full.
    fn stopped(&self) -> Option<String> {
        if self.opts.cancel.load(Ordering::Relaxed) {
            return Some(INTERRUPTED.into());
        }
        self.stop.lock().expect("stop lock").clone()
    }

    /// Stops the run when an error means that no further file can be written.
    fn note_fatal(&self, err: &io::Error) {
        if err.raw_os_error() == Some(28) || err.kind() == io::ErrorKind::StorageFull {
            let mut stop = self.stop.lock().expect("stop lock");
            stop.get_or_insert_with(|| DISK_FULL.into());
        }
    }

    /// The position the sidecar gives.
    fn geo_of(&self, idx: usize) -> Option<crate::sidecar::Geo> {
        self.sidecar_of(idx)
            .and_then(Result::ok)
            .and_then(|s| s.geo)
    }

    /// The date the sidecar (or failing that the file name) gives, before the file is read.
    fn planned_date(&self, idx: usize) -> (Option<i64>, Option<DateSource>) {
        if let Some(Ok(s)) = self.sidecar_of(idx) {
            if let Some(t) = s.taken {
                return (Some(t), Some(DateSource::Sidecar));
            }
        }
        let from_name = crate::dates::from_file_name(self.entry(idx).name())
            .and_then(|d| metadata::local_to_utc(d, None, &self.opts.timezone, self.geo_of(idx)));
        (from_name, from_name.map(|_| DateSource::FileName))
    }

    fn record_duplicate(&self, idx: usize, h: u128, path: &str) {
        let e = self.entry(idx);
        let line = manifest::Line {
            hash: hash::hex(h),
            path: path.to_string(),
            sources: vec![source_key(e, e.crc32)],
            albums: albums::album_title(e.dir(), self.album_info)
                .into_iter()
                .collect(),
            ..manifest::Line::default()
        };
        // The manifest only speeds up later runs: a failed append loses nothing.
        let _ = self.manifest.append(&line);
    }

    /// Reads one entry once: sniffs its type, embeds its metadata while copying it to a temp
    /// file in the output folder, hashes it on the way, and renames it into place unless the
    /// same content is already there.
    /// `name` is the output path reserved for it, if one was; otherwise one is reserved once
    /// its date is known. A name that ends up unused is given back.
    fn write_item(&self, reader: &mut Reader, idx: usize, name: Option<String>) -> MediaReport {
        let mut r = self.base_report(idx);
        let mut name = name;
        if let Err(reason) = self.try_write(reader, idx, &mut name, &mut r) {
            r.status = Status::Failed;
            r.output = None;
            r.reason = Some(reason);
        }
        if r.status != Status::Written && r.status != Status::WrittenWithoutMetadata {
            if let Some(n) = name {
                self.out.release(&n);
            }
        }
        r
    }

    fn try_write(
        &self,
        reader: &mut Reader,
        idx: usize,
        name: &mut Option<String>,
        r: &mut MediaReport,
    ) -> Result<(), String> {
        let item = &self.items[idx];
        let e = self.entry(idx);
        let sidecar = self.sidecar_of(idx).and_then(Result::ok);
        let (planned, planned_source) = self.planned_date(idx);
        let tags = Tags {
            taken: planned,
            geo: sidecar.and_then(|s| s.geo),
            description: sidecar.and_then(|s| s.embeddable_description()),
            overwrite_dates: self.opts.overwrite_dates
                && planned_source == Some(DateSource::Sidecar),
        };

        let src = reader
            .open(e)
            .map_err(|err| format!("cannot open: {err}"))?;
        let src = Interruptible {
            inner: src,
            flag: &self.opts.cancel,
        };
        let mut src = HashingReader::new(src);
        let mut head = Vec::with_capacity(32);
        (&mut src)
            .take(32)
            .read_to_end(&mut head)
            .map_err(|err| format!("cannot read: {err}"))?;
        let kind = match item.by_name {
            None => MediaKind::Unknown,
            by_name => resolve_kind(by_name, MediaKind::sniff(&head)),
        };
        r.kind = kind;
        if item.by_name.is_some_and(|k| k != kind) {
            r.notes.push(format!(
                "its content is {kind:?}, not what its extension says"
            ));
        }
        let mut chained = Cursor::new(head).chain(&mut src);

        let temp = if self.opts.dry_run {
            None
        } else {
            Some(self.out.temp_file().map_err(|err| {
                self.note_fatal(&err);
                format!("cannot create a temp file: {err}")
            })?)
        };
        let sink: Box<dyn Write> = match &temp {
            Some((_, f)) => Box::new(BufWriter::with_capacity(
                1 << 20,
                f.try_clone()
                    .map_err(|err| format!("cannot write: {err}"))?,
            )),
            None => Box::new(io::sink()),
        };
        let mut dst = HashingWriter::new(sink);
        let copied: io::Result<Written> =
            metadata::rewrite(kind, &mut chained, &mut dst, &tags, &self.opts.timezone)
                .and_then(|w| dst.flush().map(|_| w));
        let cleanup = |temp: &Option<(PathBuf, File)>| {
            if let Some((p, _)) = temp {
                let _ = std::fs::remove_file(p);
            }
        };
        let written = match copied {
            Ok(w) => w,
            Err(err) => {
                cleanup(&temp);
                self.note_fatal(&err);
                return Err(read_or_write_error(&err));
            }
        };
        drop(chained);
        let (src_hash, src_len) = src.finish();
        let (_, out_hash, out_len) = dst.finish();
        if src_len != e.size && e.crc32.is_some() {
            cleanup(&temp);
            return Err(format!("read {src_len} bytes, the zip says {}", e.size));
        }
        r.embedded = written.changed;
        r.notes.extend(written.notes.iter().cloned());

        // The date taken, best source first.
        let existing = written
            .existing_date
            .and_then(|(d, off)| metadata::local_to_utc(d, off, &self.opts.timezone, tags.geo));
        let (taken, source) = match (planned_source, existing) {
            (Some(DateSource::Sidecar), _) => (planned, planned_source),
            (_, Some(t)) => (Some(t), Some(DateSource::Exif)),
            (Some(_), None) => (planned, planned_source),
            (None, None) => match sidecar.and_then(|s| s.created) {
                Some(c) => (Some(c), Some(DateSource::UploadTime)),
                None => (None, None),
            },
        };
        if let (Some(DateSource::Sidecar), Some(t), Some(ex)) = (source, taken, existing) {
            if (t - ex).abs() > 86_400 {
                r.notes.push(format!(
                    "the file's own date taken differs from the sidecar's by {} days; the file's was kept{}",
                    (t - ex).abs() / 86_400,
                    if self.opts.overwrite_dates { " (it could not be replaced)" } else { " (use --overwrite-dates to replace it)" },
                ));
            }
        }
        r.taken = taken;
        r.date_source = source;
        r.local_date = written.written_date.map(|d| d.to_rfc3339());
        let own_offset = written.existing_date.and_then(|(_, off)| off);
        let name: &str = name.get_or_insert_with(|| {
            let dir = self.layout_dir(taken, tags.geo, own_offset);
            self.out.reserve(&dir, &self.wanted_name(idx))
        });

        // Already in the output (another group, or an earlier run)?
        {
            let mut registry = self.registry.lock().expect("registry");
            if let Some(known) = registry.get(&src_hash).cloned() {
                drop(registry);
                cleanup(&temp);
                self.mark_duplicate(idx, src_hash, &known, r);
                return Ok(());
            }
            let sidecar = self.items[idx].found.map(|m| m.sidecar);
            registry.insert(
                src_hash,
                Known {
                    path: name.to_string(),
                    sidecar,
                },
            );
        }
        // Order matters for a crash at any point: the XMP sidecar first, then the manifest
        // line, then the photo appears under its name. A line whose file never appeared is
        // ignored on load; an XMP sidecar left without its photo is taken over by the rerun.
        let xmp = self.write_xmp(idx, kind, name, &tags, taken, &written, r);
        let line = manifest::Line {
            hash: hash::hex(src_hash),
            path: name.to_string(),
            xmp: xmp.clone(),
            size: Some(src_len),
            output_hash: Some(hash::hex(out_hash)),
            output_size: Some(out_len),
            taken,
            date_source: source.map(|s| format!("{s:?}").to_lowercase()),
            gps: if r.embedded { tags.geo } else { None },
            sources: vec![source_key(e, e.crc32)],
            albums: r.album.clone().into_iter().collect(),
            archived: sidecar.is_some_and(|s| s.archived),
            retracted: false,
        };
        if let Err(err) = self.manifest.append(&line) {
            r.notes.push(format!("manifest not updated: {err}"));
        }
        if let Some((tmp_path, file)) = temp {
            if let Err(err) = self.out.commit(&tmp_path, file, name, taken) {
                let _ = std::fs::remove_file(&tmp_path);
                if let Some(x) = &xmp {
                    let _ = std::fs::remove_file(self.out.root().join(x));
                    self.out.release(x);
                }
                self.registry.lock().expect("registry").remove(&src_hash);
                let retract = manifest::Line {
                    retracted: true,
                    ..line
                };
                let _ = self.manifest.append(&retract);
                return Err(format!("cannot write {name}: {err}"));
            }
        }
        r.status = if sidecar.is_some() {
            Status::Written
        } else {
            Status::WrittenWithoutMetadata
        };
        r.output = Some(name.to_string());
        r.xmp = xmp;
        Ok(())
    }

    /// Writes `NAME.xmp` beside the output file when `--xmp` asks for it: in `auto` mode for
    /// formats we cannot embed into, failed embeds, and what no embedded tag holds (people,
    /// favourites). Returns its name.
    #[allow(clippy::too_many_arguments)]
    fn write_xmp(
        &self,
        idx: usize,
        kind: MediaKind,
        name: &str,
        tags: &Tags,
        taken: Option<i64>,
        written: &Written,
        r: &mut MediaReport,
    ) -> Option<String> {
        let sidecar = self.sidecar_of(idx).and_then(Result::ok);
        let favorite = sidecar.is_some_and(|s| s.favorited);
        let people = sidecar.map(|s| s.people.clone()).unwrap_or_default();
        let embeds = metadata::embeds_fully(kind);
        let wanted = match self.opts.xmp {
            XmpMode::Never => false,
            XmpMode::Always => true,
            XmpMode::Auto => {
                !embeds
                    || written.incomplete
                    || favorite
                    || !people.is_empty()
                    || sidecar.is_some_and(|s| s.description_xmp_only())
            }
        };
        if sidecar.is_some_and(|s| s.description_xmp_only()) {
            r.notes.push(if wanted {
                "the description is too long for EXIF: it is in the XMP sidecar only".into()
            } else {
                "the description is too long for EXIF and --xmp never: it is not written".into()
            });
        }
        if !wanted {
            return None;
        }
        let local = written
            .written_date
            .or_else(|| taken.and_then(|t| self.opts.timezone.localize(t, tags.geo, None)));
        let data = XmpData {
            taken: local,
            geo: tags.geo,
            description: sidecar.and_then(|s| s.description.clone()),
            rating: favorite.then_some(5),
            people,
        };
        let text = xmp::packet(&data)?;
        let xmp_name = format!("{name}.xmp");
        if !self.out.reserve_exact(&xmp_name) {
            // Left by an interrupted run for this very photo: keep it.
            let existing = std::fs::read(self.out.root().join(&xmp_name));
            if existing.is_ok_and(|b| b == text.as_bytes()) {
                return Some(xmp_name);
            }
            r.notes.push(format!(
                "{xmp_name} exists already: XMP sidecar not written"
            ));
            return None;
        }
        if self.opts.dry_run {
            return Some(xmp_name);
        }
        let result = self.out.temp_file().and_then(|(tmp, mut f)| {
            f.write_all(text.as_bytes())?;
            self.out.commit(&tmp, f, &xmp_name, taken).inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })
        });
        match result {
            Ok(_) => Some(xmp_name),
            Err(err) => {
                self.out.release(&xmp_name);
                r.notes.push(format!("XMP sidecar not written: {err}"));
                None
            }
        }
    }
}

/// Gives freed memory back to the system after every 128 MB of media a worker has read.
/// glibc keeps what a worker thread frees in that thread's arena and, with this mix of
/// allocation sizes (write buffers, inflate state, long-lived report strings), kept ~30 KB
/// per photo resident: 300 MB for 10,000 photos while the live heap stayed under 10 MB
/// (massif). A trim walks the whole heap, so it is done by volume, not per file.
fn release_freed_memory(bytes: u64) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const EVERY: u64 = 128 << 20;
        thread_local!(static READ: std::cell::Cell<u64> = const { std::cell::Cell::new(0) });
        // Each file counts at least 64 KB: small files trim every 2,048 files.
        let due = READ.with(|n| {
            let total = n.get() + bytes.max(EVERY / 2048);
            n.set(total % EVERY);
            total >= EVERY
        });
        if due {
            trim_heap();
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = bytes;
}

/// Returns freed heap memory to the system (glibc only; elsewhere the allocator does).
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// A read error names the input's problem (corrupt data, bad CRC); a write error the output's.
fn read_or_write_error(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            format!("corrupt data in the input: {err}")
        }
        _ => format!("{err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let e = |path: &str| Entry {
            input: 0,
            locator: crate::source::Locator::Zip { method: 8 },
            path: path.into(),
            size: 1,
            compressed: 1,
            crc32: Some(1),
            order: 0,
            symlink: false,
        };
        let entries = vec![
            e("Takeout/archive_browser.html"),
            e("Takeout/Google Photos/Photos from 2019/a.jpg"),
            e("Takeout/Google Photos/Photos from 2019/a.jpg.json"),
            e("Takeout/Google Photos/Photos from 2019/odd.xyz"),
            e("Takeout/Google Drive/notes.txt"),
        ];
        assert_eq!(
            classify(&entries),
            vec![
                Class::Ignored,
                Class::Media(Some(MediaKind::Jpeg)),
                Class::Json,
                Class::Media(None),
                Class::Ignored
            ]
        );
    }
}
