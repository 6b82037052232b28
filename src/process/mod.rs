//! The `process` command: Takeout inputs in, a dated, deduplicated photo folder out.
//!
//! The run is three stages, each handing a typed value to the next (`run_stages` is the
//! outline):
//!
//! 1. [`plan`]: every input is indexed (`crate::takeout`: zips and folders, entries
//!    classified), the JSON sidecars read (small, in parallel) and paired with media
//!    (`plan::pairing`, through `takeout::matcher`), and everything that needs no media bytes
//!    is decided: skips, entries already in the library, library files whose sidecar arrived
//!    now (`plan::updates`), duplicate groups by size and CRC-32. → a [`plan::Plan`] with one
//!    record per media entry.
//! 2. [`write`](mod@write): library files an update completes are rewritten first (`write::update`);
//!    then each duplicate group is one unit of parallel work. Its best member is read once,
//!    enriched (`crate::metadata`) and written atomically into the output folder
//!    (`crate::library::dir`) while its bytes are hashed (`write::file`); the others are only
//!    hashed and recorded as duplicates. This run's hash registry, then the manifest's, catch
//!    duplicates across groups and runs. → a report line per record.
//! 3. [`finish`]: albums, the manifest's final sync, the report. → the [`Report`].
//!
//! The decisions themselves (which date, name, folder, member, skip) are pure functions in
//! [`policy`].

pub(crate) mod finish;
pub(crate) mod plan;
pub(crate) mod policy;
pub(crate) mod report;
mod stored;
pub(crate) mod write;

pub use report::{Report, StopReason};

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::alloc;
use crate::cli::Layout;
use crate::cli::{AlbumsMode, EditedMode, XmpMode};
use crate::library::dir::OutputDir;
use crate::library::manifest::Manifest;
use crate::metadata::TimeZoneChoice;
use crate::process::report::MediaLog;
use crate::takeout::SourceError;

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
    /// Print a line per media file on stdout as each is done (`-v`).
    pub per_file: bool,
    /// Show a progress bar (the caller decides: a terminal, not `--quiet`).
    pub progress: bool,
    pub timezone: TimeZoneChoice,
    /// Replace a date taken that the file already has with the sidecar's.
    pub overwrite_dates: bool,
    /// Keep the camera's date taken even when the sidecar's shows it was corrected.
    pub keep_camera_dates: bool,
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
    /// Google Photos' own sets of photos left out of the library.
    pub leave_out: Vec<crate::cli::LeaveOut>,
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
    #[error("output folder {path}: {}", in_words(source))]
    Output { path: PathBuf, source: io::Error },
    #[error("cannot write the report {path}: {}", in_words(source))]
    Report { path: PathBuf, source: io::Error },
    /// The output's file system has less free space than the run needs: nothing was written.
    #[error(
        "the library needs about {} more than the {} free on {}. Free some space or choose \
         another folder with -o.",
        policy::plain_size(*short),
        policy::plain_size(*free),
        path.display()
    )]
    NoSpace {
        path: PathBuf,
        short: u64,
        free: u64,
    },
    /// A dry run over `.tgz` or `.tar` parts keeps their files in the system's temporary
    /// folder while it reads them, and that folder's disk has too little free space.
    #[error(
        "a dry run keeps the files of .tgz and .tar parts in the temporary folder {} while it \
         reads them, and needs about {} more than the {} free there. Free some space there, \
         or set TMPDIR to a folder on a disk with more room.",
        path.display(),
        policy::plain_size(*short),
        policy::plain_size(*free)
    )]
    NoTempSpace {
        path: PathBuf,
        short: u64,
        free: u64,
    },
    #[error("cannot start worker threads: {0}")]
    Threads(String),
    /// A locked output folder, a link where gpbackup keeps its files (exit code 1), the
    /// output folder inside an input, or an unsafe `--report` path (exit code 2).
    #[error(transparent)]
    Safety(#[from] crate::library::fs::SafetyError),
}

/// An error of the output's disk in plain words, with what to do: a full disk stops the run
/// as it stops during the writes.
fn in_words(err: &io::Error) -> String {
    if crate::words::disk_full(err) {
        "stopped early: the output disk is full. What was written is kept; free some space \
         there, then run the same command again to finish"
            .into()
    } else {
        crate::words::io_error(err)
    }
}

impl Options {
    /// True once the user asked the run to stop (Ctrl-C, SIGTERM, SIGHUP).
    pub fn stop_requested(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

impl ProcessError {
    /// True when the user stopped the run (Ctrl-C) before anything was written.
    pub fn is_interrupted(&self) -> bool {
        matches!(self, ProcessError::Input(SourceError::Stopped))
    }

    /// True when the command line named something unusable (exit code 2), rather than the run
    /// failing (exit code 1).
    pub fn is_usage(&self) -> bool {
        match self {
            ProcessError::Safety(e) => e.is_usage(),
            ProcessError::Input(SourceError::Stage { .. } | SourceError::Stopped) => false,
            e => matches!(e, ProcessError::Input(_) | ProcessError::NotTakeout { .. }),
        }
    }
}

/// Runs `gpbackup process`. Returns the report; per-file failures are in it, not errors.
pub fn run(opts: &Options) -> Result<Report, ProcessError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .build()
        .map_err(|e| ProcessError::Threads(e.to_string()))?;
    pool.install(|| run_stages(opts))
}

fn run_stages(opts: &Options) -> Result<Report, ProcessError> {
    let out_err = |source| ProcessError::Output {
        path: opts.output.clone(),
        source,
    };
    trace_memory("start");
    // The record of the run is named by the time it started.
    let started = chrono::Local::now().format("%Y-%m-%dT%H-%M-%S").to_string();
    crate::library::dir::check_paths(&opts.output, &opts.inputs, opts.report.as_deref())?;
    // The output folder is locked before the inputs are indexed (which can take a while),
    // so that a second run into it stops at once, even when this run creates it. A folder
    // this run created is removed again when the inputs turn out unusable.
    let stage = stage_bar(opts.progress);
    let created = !opts.dry_run && std::fs::symlink_metadata(&opts.output).is_err();
    let out = OutputDir::open(&opts.output, opts.sync, opts.dry_run).map_err(out_err)?;
    let planning = alloc::Purge::within(0);
    // The staging folder a killed run left behind is removed (one run at a time: the lock).
    let staging = (!opts.dry_run).then(|| out.state_dir().join(STAGING_DIR));
    if let Some(dir) = &staging {
        let _ = std::fs::remove_dir_all(dir);
    }
    let (catalog, classes) = match plan::index_inputs(opts, staging.as_deref(), &stage) {
        Ok(c) => c,
        Err(e) => {
            if created {
                out.remove_new();
            }
            return Err(e);
        }
    };
    trace_memory("indexed");
    // The manifest and what earlier runs left to complete (files without their sidecar,
    // sidecars without their file); sidecars of this run's inputs are read again from them.
    // (A first run has no manifest: no need to know them.)
    let first_run = !out
        .state_dir()
        .join(crate::library::manifest::FILE_NAME)
        .exists();
    let json_here = crate::compact::IdMap::set_of(
        catalog
            .entries
            .iter()
            .filter(|e| !first_run && crate::takeout::is_json(e))
            .map(plan::source_id),
    );
    let (manifest, remembered) = Manifest::load(
        &out.state_dir(),
        opts.dry_run,
        |p| out.was_present(p),
        |s| !json_here.contains_key(s.id()),
    )
    .map_err(out_err)?;
    drop(json_here);
    let manifest = manifest.durable(opts.sync).map_err(out_err)?;
    write::finish_interrupted_moves(&out, &manifest, &remembered.interrupted_moves, opts.dry_run)
        .map_err(out_err)?;
    trace_memory("manifest");
    // Library files someone changed since they were written (by their size: no file is
    // read), named in the summary as `verify` would.
    // (A rewrite a killed run left unconfirmed is not a change: this run finishes it.)
    let unconfirmed: Vec<&str> = (remembered.open_files.iter())
        .filter(|f| f.line.replacing.is_some())
        .map(|f| f.line.path.as_str())
        .collect();
    let mut changed = manifest.changed(|p| out.size_of(p));
    changed.retain(|p| !unconfirmed.contains(&p.as_str()));
    drop(unconfirmed);
    let mut plan = plan::build(opts, catalog, classes, &manifest, remembered, &stage);
    plan.report.changed_in_library = changed;
    drop(planning);
    trace_memory("planned");
    stage.finish_and_clear();
    if let Some(short) = space_short(opts, &plan) {
        if !opts.dry_run {
            // A folder this run made is removed again, with the empty manifest it began.
            if created {
                drop(manifest);
                let _ =
                    std::fs::remove_file(out.state_dir().join(crate::library::manifest::FILE_NAME));
                out.remove_new();
            }
            return Err(short);
        }
        eprintln!("gpbackup: {short} (A dry run: nothing is written, the check goes on.)");
    }
    let mut log = MediaLog::new(
        opts.report.as_deref(),
        opts.per_file,
        &opts.output,
        opts.dry_run,
    )
    .map_err(|source| ProcessError::Report {
        path: opts.report.clone().unwrap_or_default(),
        source,
    })?;
    // Every run but a dry one keeps its record in the output folder.
    if !opts.dry_run {
        let dir = (opts.output.join(crate::library::dir::STATE_DIR)).join(REPORTS_DIR);
        log.keep_record(&dir, &started, &opts.output, &mut plan.report);
    }
    let progress = progress_bar(opts.progress, &plan);
    let writing = alloc::Purge::within(100);
    let outcome = write::run(opts, &plan, &out, &manifest, &progress, log);
    progress.bar.finish_and_clear();
    drop(writing);
    trace_memory("media written");
    let r = finish::run(opts, plan, outcome, &out, &manifest);
    trace_memory("finished");
    r
}

/// The shortfall of free space at the output, when the files the plan writes do not fit
/// ([`ProcessError::NoSpace`]); `None` when they fit or the free space cannot be known.
/// What is written: the best member of each group of identical entries not in the library
/// yet, the library files rewritten by an update, and with `--albums copy` a copy of each
/// of those in an album.
fn space_short(opts: &Options, plan: &plan::Plan) -> Option<ProcessError> {
    let mut bytes = 0u64;
    let mut files = 0u64;
    for (k, group) in plan.groups.iter().enumerate() {
        if plan.groups.in_library(k) {
            continue;
        }
        let best = group[0];
        let size = plan.entry(best).size;
        bytes = bytes.saturating_add(size);
        files += 1;
        if opts.albums == AlbumsMode::Copy && group.iter().any(|&m| plan.record(m).album.is_some())
        {
            bytes = bytes.saturating_add(size);
            files += 1;
        }
    }
    for u in &plan.updates {
        if u.from == plan::UpdateFrom::Deferred {
            continue;
        }
        let line = &plan.open_file(u.file).line;
        bytes = bytes.saturating_add(line.output_size.or(line.size).unwrap_or(0));
        files += 1;
    }
    let needed = policy::space_needed(bytes, files);
    let free = crate::library::fs::free_space(&opts.output)?;
    let short = policy::space_shortfall(needed, free)?;
    Some(ProcessError::NoSpace {
        path: opts.output.clone(),
        short,
        free,
    })
}

/// Where in the output's `.gpbackup` folder each run leaves its record (its JSON report and
/// readable log).
pub const REPORTS_DIR: &str = "reports";
/// Where in the output's `.gpbackup` folder `.tgz` parts keep their files' bytes while a run
/// reads them (removed at its end; see [`crate::takeout::tgz`]).
pub const STAGING_DIR: &str = "staging";

/// The progress shown before any media is written (on stderr, only on a terminal): a
/// spinner while the inputs are listed, then the count of sidecars read (at a million
/// entries these stages take a while). Each line names its stage and fits 40 columns.
fn stage_bar(show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    stage_bar_to(ProgressDrawTarget::stderr())
}

fn stage_bar_to(target: ProgressDrawTarget) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(ProgressStyle::with_template(LISTING).expect("valid template"));
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    bar
}

const LISTING: &str = "listing the zips {spinner} {elapsed}";
/// (No total: which sidecars are read is decided as they are.)
const SIDECARS: &str = "reading sidecars: {human_pos} {spinner} {elapsed}";
/// Files done and their total above; bytes, the bar and the time left below.
const WRITING: &str = "writing: {msg}\n{wide_bar} {binary_bytes}/{binary_total_bytes} {eta} left";

const PLANNING: &str = "planning {spinner} {elapsed}";

/// `.tgz` and `.tar` parts: bytes read of them all.
const TARS: &str = "reading .tgz/.tar {binary_bytes}/{binary_total_bytes} {eta}";

/// Turns the stage spinner into the bytes read of the `.tgz` parts (`total` bytes).
pub(crate) fn show_tar_bytes(bar: &ProgressBar, total: u64) {
    bar.set_length(total);
    bar.set_style(ProgressStyle::with_template(TARS).expect("valid template"));
}

/// Turns the stage line back into a spinner of the planning (after an earlier part is read
/// again, see [`show_tar_bytes`]).
pub(crate) fn show_planning(bar: &ProgressBar) {
    bar.set_style(ProgressStyle::with_template(PLANNING).expect("valid template"));
}

/// Turns the stage spinner into a count of the sidecars read.
pub(crate) fn show_sidecar_count(bar: &ProgressBar) {
    bar.set_position(0);
    bar.set_style(ProgressStyle::with_template(SIDECARS).expect("valid template"));
}

/// The write stage's progress: bytes (the bar, its rate and time left) and files.
pub(crate) struct Progress {
    bar: ProgressBar,
    files: std::sync::atomic::AtomicU64,
    total_files: String,
}

impl Progress {
    /// One media entry done (written, found a duplicate, failed, left out): `bytes` long.
    pub(crate) fn file_done(&self, bytes: u64) {
        self.bar.inc(bytes);
        if self.bar.is_hidden() {
            return;
        }
        let n = self.files.fetch_add(1, Ordering::Relaxed) + 1;
        self.bar.set_message(files_message(n, &self.total_files));
    }
}

fn files_message(done: u64, total: &str) -> String {
    format!(
        "{}/{total} files",
        report::grouped(usize::try_from(done).unwrap_or(usize::MAX))
    )
}

fn progress_bar(show: bool, plan: &plan::Plan) -> Progress {
    if !show {
        return Progress {
            bar: ProgressBar::hidden(),
            files: Default::default(),
            total_files: String::new(),
        };
    }
    let (files, bytes) = plan
        .ids()
        .fold((0, 0), |(n, b), id| (n + 1, b + plan.entry(id).size));
    progress_bar_to(ProgressDrawTarget::stderr(), files, bytes)
}

fn progress_bar_to(target: ProgressDrawTarget, files: usize, bytes: u64) -> Progress {
    let bar = ProgressBar::with_draw_target(Some(bytes), target);
    bar.set_style(ProgressStyle::with_template(WRITING).expect("valid template"));
    let total_files = report::grouped(files);
    bar.set_message(files_message(0, &total_files));
    Progress {
        bar,
        files: Default::default(),
        total_files,
    }
}

/// With `GPBACKUP_TRACE_MEMORY` set, prints the process's resident and peak memory (kB) at a
/// point of the run, and the time since the run started, on stderr: how `benches/run.sh`
/// finds where the peak and the time go.
pub(crate) fn trace_memory(point: &str) {
    if std::env::var_os("GPBACKUP_TRACE_MEMORY").is_none() {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map_or("?", str::trim)
            .trim_end_matches(" kB")
            .to_string()
    };
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    let (user, sys) = cpu_seconds();
    eprintln!(
        "memory {point}: rss {} kB, peak {} kB, at {:.2} s, cpu {user:.2} s user {sys:.2} s sys",
        field("VmRSS:"),
        field("VmHWM:"),
        start.elapsed().as_secs_f64()
    );
}

/// The CPU time the process has used so far, user and system, in seconds (zero where it
/// cannot be asked): on a machine shared with other work, a stage's CPU time is what can
/// be compared between runs, not its wall time.
fn cpu_seconds() -> (f64, f64) {
    #[cfg(unix)]
    {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage fills the struct it is given; it is zeroed first.
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } == 0 {
            // SAFETY: initialized by getrusage (or zeroed).
            let u = unsafe { usage.assume_init() };
            let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            return (secs(u.ru_utime), secs(u.ru_stime));
        }
    }
    (0.0, 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A terminal `width` columns wide that keeps what is drawn on it.
    #[derive(Debug, Clone)]
    struct Narrow {
        width: u16,
        drawn: Arc<Mutex<Vec<String>>>,
    }

    impl indicatif::TermLike for Narrow {
        fn width(&self) -> u16 {
            self.width
        }
        fn move_cursor_up(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            let mut drawn = self.drawn.lock().unwrap();
            drawn.extend(s.split('\n').map(String::from));
            Ok(())
        }
        fn clear_line(&self) -> io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    fn narrow() -> (Narrow, ProgressDrawTarget) {
        let t = Narrow {
            width: 40,
            drawn: Default::default(),
        };
        (t.clone(), ProgressDrawTarget::term_like(Box::new(t)))
    }

    fn lines(t: &Narrow) -> Vec<String> {
        let drawn = t.drawn.lock().unwrap();
        drawn.iter().filter(|l| !l.is_empty()).cloned().collect()
    }

    #[test]
    fn every_stage_is_named_and_fits_40_columns() {
        let (listing, target) = narrow();
        stage_bar_to(target).finish();
        let (t, target) = narrow();
        let stage = stage_bar_to(target);
        show_sidecar_count(&stage);
        stage.set_position(1_234_567);
        stage.finish();
        // `.tgz` parts being read; an earlier one read again, then the planning goes on.
        let (tars, target) = narrow();
        let stage = stage_bar_to(target);
        show_tar_bytes(&stage, 48_000_000_000);
        stage.set_position(12_000_000_000);
        stage.abandon();
        let mut again = lines(&tars);
        assert!(
            again
                .iter()
                .any(|l| l.starts_with("reading .tgz/.tar 11.18 GiB/44.70 GiB")),
            "{again:?}"
        );
        let (planning, target) = narrow();
        let stage = stage_bar_to(target);
        show_tar_bytes(&stage, 48_000_000_000);
        stage.set_position(48_000_000_000);
        show_planning(&stage);
        stage.finish();
        let planning = lines(&planning);
        assert!(
            planning.iter().any(|l| l.starts_with("planning")),
            "{planning:?}"
        );
        again.extend(planning);
        let (w, target) = narrow();
        let p = progress_bar_to(target, 1_234_567, 48_000_000_000);
        p.bar.set_position(12_000_000_000);
        for _ in 0..1_234_566 / 100_000 {
            p.files.fetch_add(100_000, Ordering::Relaxed);
            p.file_done(0);
        }
        p.bar.tick();
        p.bar.finish();
        let mut stages = lines(&listing);
        stages.extend(lines(&t));
        stages.extend(again);
        let writing = lines(&w);
        for line in stages.iter().chain(&writing) {
            assert!(line.chars().count() <= 40, "{line:?} is wider than 40");
        }
        assert!(
            stages.iter().any(|l| l.starts_with("listing the zips")),
            "{stages:?}"
        );
        assert!(
            stages
                .iter()
                .any(|l| l.starts_with("reading sidecars: 1,234,567")),
            "{stages:?}"
        );
        assert!(
            writing
                .iter()
                .any(|l| l == "writing: 1,200,012/1,234,567 files"),
            "{writing:?}"
        );
        assert!(
            writing
                .iter()
                .any(|l| l.contains("11.18 GiB/44.70 GiB") && l.ends_with(" left")),
            "{writing:?}"
        );
    }
}
