//! The run's account of every input entry: a human summary for stderr and the full list as
//! JSON (`--report FILE`).
//!
//! Every media entry of the input ends in exactly one [`Status`]. Sidecars that no media file
//! used, JSON files that could not be read, and files that are not part of Google Photos are
//! listed too, so that nothing in a Takeout goes unmentioned.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::dates::DateSource;
use crate::metadata::media::MediaKind;
use crate::metadata::Geo;
use crate::takeout::matcher::Rule;

/// What happened to one media entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Written to the output, with the metadata of its sidecar.
    Written,
    /// Written byte-for-byte or with only the file's own metadata: no sidecar was found.
    WrittenWithoutMetadata,
    /// Identical content was written by this run (from another entry).
    Duplicate,
    /// Already in the output folder from an earlier run: the same entry, or the same content.
    InLibrary,
    /// Written by an earlier run without a sidecar, rewritten now with the sidecar this run
    /// found (and moved to where its date and name put it).
    Updated,
    /// Not written; `reason` says why.
    Failed,
    /// Left out on purpose (`--edited`, the trash); `reason` says why.
    Skipped,
    /// Not attempted: the run stopped first (Ctrl-C, a full disk). The same command run
    /// again does it.
    NotAttempted,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Written => "written",
            Status::WrittenWithoutMetadata => "written without metadata",
            Status::Duplicate => "duplicate",
            Status::InLibrary => "in library",
            Status::Updated => "updated",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::NotAttempted => "not attempted",
        }
    }
}

/// Why a run stopped before the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Ctrl-C, SIGTERM or SIGHUP.
    Interrupted,
    /// The output disk is full.
    DiskFull,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopReason::Interrupted => "interrupted",
            StopReason::DiskFull => "the output disk is full",
        })
    }
}

/// Why an entry is left out on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    Trashed,
    EditedCopy,
    OriginalOfEdited,
    /// In one of Google Photos' own sets `--leave-out` names.
    LeftOut(crate::cli::LeaveOut),
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SkipReason::Trashed => "in the Google Photos trash (use --keep-trashed to keep it)",
            SkipReason::EditedCopy => "an edited copy (--edited skip)",
            SkipReason::OriginalOfEdited => "its edited copy is written instead (--edited only)",
            SkipReason::LeftOut(set) => {
                use crate::takeout::folders::{ARCHIVE_ALBUM, LOCKED_ALBUM, PARTNER_ALBUM};
                let album = match set {
                    crate::cli::LeaveOut::Archive => ARCHIVE_ALBUM,
                    crate::cli::LeaveOut::Locked => LOCKED_ALBUM,
                    crate::cli::LeaveOut::Partner => PARTNER_ALBUM,
                };
                return write!(f, "in {album} (--leave-out)");
            }
        })
    }
}

/// Why a media entry was not written (its status `failed` or `skipped`). In the JSON report
/// it is the sentence `Display` gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Left out on purpose.
    Skipped(SkipReason),
    /// Not attempted: the run stopped first.
    NotAttempted(StopReason),
    /// Reading, converting or writing it failed.
    Failed {
        kind: std::io::ErrorKind,
        message: String,
    },
}

impl Reason {
    /// A failure of another kind than an I/O error's.
    pub fn other(message: impl Into<String>) -> Reason {
        Reason::Failed {
            kind: std::io::ErrorKind::Other,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Skipped(s) => write!(f, "{s}"),
            Reason::NotAttempted(s) => write!(f, "not attempted: {s}"),
            Reason::Failed { message, .. } => f.write_str(message),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for StopReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The report line of one media entry.
#[derive(Debug, Clone, Serialize)]
pub struct MediaReport {
    /// `zip:path` or the file's path.
    pub source: String,
    pub status: Status,
    pub kind: MediaKind,
    /// Output path relative to the output folder: the file written, or for a duplicate the
    /// file it duplicates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Rule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<String>,
    /// Date taken, seconds since the epoch (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taken: Option<i64>,
    /// The date as written into the file (local wall clock with offset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_source: Option<DateSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gps: Option<Geo>,
    /// True when metadata was embedded into the file.
    pub embedded: bool,
    /// The XMP sidecar written beside it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xmp: Option<String>,
    /// The album whose folder it was in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub album: Option<String>,
    /// Why it failed or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// Sidecar names looked for, for a file without one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tried: Vec<String>,
    /// Warnings: metadata that could not be written, dates that disagree, ….
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The album of Google Photos' own it is also listed in (the Archive, the Locked Folder,
    /// a partner's sharing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub special: Option<&'static str>,
    /// An earlier run wrote it, and its file was gone from the folder: written again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub restored: bool,
    /// Its library file carried another sidecar's metadata, rewritten now with the right
    /// one (a newer export's, its own) or without one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub corrected: bool,
    /// Its library file is to be corrected, but its photo is not among this run's inputs.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deferred: bool,
    /// The camera's date taken (its wall clock), replaced by the date corrected in Google
    /// Photos.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub camera_date: Option<String>,
    /// The file's own date was kept though its sidecar's is this many whole days away (more
    /// than one; see `policy::date_disagreement`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub camera_kept_days: Option<i64>,
}

impl MediaReport {
    /// The report line of `source` before anything is known of it: status `failed` until a
    /// stage says otherwise.
    pub fn new(source: String, kind: MediaKind) -> MediaReport {
        MediaReport {
            source,
            status: Status::Failed,
            kind,
            output: None,
            rule: None,
            sidecar: None,
            taken: None,
            local_date: None,
            date_source: None,
            gps: None,
            embedded: false,
            xmp: None,
            album: None,
            reason: None,
            tried: Vec::new(),
            notes: Vec::new(),
            special: None,
            restored: false,
            corrected: false,
            deferred: false,
            camera_date: None,
            camera_kept_days: None,
        }
    }
}

/// A JSON file that was not used, or could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct JsonReport {
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Everything a run did. The per-file lines are not held here: they go to the JSON report as
/// they come ([`MediaLog`]); the run keeps their counts, its failures and album memberships.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Written in the JSON report's header, before the streamed media lines.
    #[serde(skip)]
    pub output: PathBuf,
    #[serde(skip)]
    pub dry_run: bool,
    /// `-v`: the summary counts the files each matching rule paired.
    #[serde(skip)]
    pub verbose: bool,
    /// The record of this run (`OUTPUT/.gpbackup/reports/…`): its readable log once
    /// written, or why it could not be.
    #[serde(skip)]
    pub record: Option<Result<PathBuf, String>>,
    /// Counts of the media lines.
    #[serde(skip)]
    pub tally: Tally,
    /// The first [`FAILURES_KEPT`] media entries that failed (but those not attempted
    /// because the run stopped early): named in the summary. Every one is in the JSON report.
    #[serde(skip)]
    pub failures: Vec<MediaReport>,
    /// How many more failed than `failures` holds.
    #[serde(skip)]
    pub failures_not_kept: usize,
    /// Media sidecars that no media file used.
    pub unused_sidecars: Vec<JsonReport>,
    /// JSON files that could not be read or parsed.
    pub bad_json: Vec<JsonReport>,
    /// Files outside the photo folders (e.g. `archive_browser.html`), not copied.
    pub ignored: Vec<String>,
    /// Inputs named twice on the command line, read once.
    pub repeated_inputs: Vec<PathBuf>,
    /// Truncated zips: read as far as they go.
    pub damaged_inputs: Vec<crate::takeout::Damaged>,
    /// Parts of an export that were not given although later parts were.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_parts: Vec<crate::takeout::parts::MissingParts>,
    /// Entries read despite something odd about them: the same name twice in one zip, a
    /// folder entry holding data.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entry_notes: Vec<crate::takeout::EntryNote>,
    /// Why the run stopped before the end (interrupted, disk full).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<StopReason>,
    /// Albums and their files (from this run and earlier ones).
    pub albums: Vec<crate::library::albums::Album>,
    /// Problems making album folders (`--albums links|copy`) or setting album keywords.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub album_notes: Vec<String>,
    /// Library files changed since gpbackup wrote them (another size): left as they are.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed_in_library: Vec<String>,
    /// Library files whose photo this run's sidecar has in Google Photos' trash (a newer
    /// export's): kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trashed_in_library: Vec<String>,
}

/// How many file names a line of the summary gives before "and N more".
const SUMMARY_NAMES: usize = 10;

/// How many failures a run keeps to name at its end (the rest are counted): a million
/// failed entries hold no more memory than twenty, and print no more lines.
pub const FAILURES_KEPT: usize = 20;

/// `n` with its thousands grouped: `999,990`.
pub fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `one` for 1, else `many`.
fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// How many files a summary line is about, and the first [`SUMMARY_NAMES`] of them by name:
/// a run of a million such files keeps ten names.
#[derive(Debug, Default, Clone)]
struct FirstNames {
    total: usize,
    first: Vec<String>,
}

impl FirstNames {
    fn push(&mut self, name: impl FnOnce() -> String) {
        self.total += 1;
        if self.first.len() < SUMMARY_NAMES {
            self.first.push(name());
        }
    }

    /// "a, b and 3 more (see the record of this run)".
    fn text(&self) -> String {
        let more = self.total - self.first.len();
        let mut text = self.first.join(", ");
        if more > 0 {
            let _ = write!(
                text,
                " and {} more (see the record of this run)",
                grouped(more)
            );
        }
        text
    }
}

/// The counts of the media lines the summary needs.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    by_status: BTreeMap<Status, usize>,
    /// Lines not already in the library with a sidecar, per rule (they add up to
    /// `matched`).
    rules: BTreeMap<Rule, usize>,
    /// Lines not already in the library, and those of them with a sidecar.
    considered: usize,
    matched: usize,
    /// Lines written or deduplicated by this run, per date source; those without a date.
    dates: BTreeMap<DateSource, usize>,
    undated: FirstNames,
    /// Lines written again because their file from an earlier run was gone.
    restored: usize,
    /// The library files corrected (see [`MediaReport::corrected`]).
    corrected: FirstNames,
    /// The library files to correct once their photos are given (see
    /// [`MediaReport::deferred`]).
    deferred: FirstNames,
    /// Files that kept their own date taken though their sidecar's is days away.
    camera_kept: FirstNames,
    /// Files written with the date corrected in Google Photos in place of their camera's:
    /// "path (the camera's date)".
    redated: FirstNames,
}

impl Tally {
    /// Counts one media line.
    pub fn add(&mut self, m: &MediaReport) {
        *self.by_status.entry(m.status).or_insert(0) += 1;
        if m.status != Status::InLibrary {
            self.considered += 1;
            if let Some(r) = m.rule {
                self.matched += 1;
                *self.rules.entry(r).or_insert(0) += 1;
            }
        }
        let written = matches!(
            m.status,
            Status::Written | Status::WrittenWithoutMetadata | Status::Duplicate | Status::Updated
        );
        match m.date_source {
            Some(d) if written => *self.dates.entry(d).or_insert(0) += 1,
            None if written && m.status != Status::Duplicate => self
                .undated
                .push(|| m.output.clone().unwrap_or_else(|| m.source.clone())),
            _ => {}
        }
        if m.restored && matches!(m.status, Status::Written | Status::WrittenWithoutMetadata) {
            self.restored += 1;
        }
        let output = || m.output.clone().unwrap_or_else(|| m.source.clone());
        if m.corrected && m.status == Status::Updated {
            self.corrected.push(output);
        }
        if m.deferred {
            self.deferred.push(output);
        }
        if let Some(days) = m.camera_kept_days.filter(|_| written) {
            if m.status != Status::Duplicate {
                self.camera_kept
                    .push(|| format!("{} ({} apart)", output(), plural_days(days)));
            }
        }
        if let Some(camera) = m.camera_date.as_deref().filter(|_| written) {
            if m.status != Status::Duplicate {
                self.redated
                    .push(|| format!("{} (camera: {camera})", output()));
            }
        }
    }

    /// Media lines counted.
    pub fn total(&self) -> usize {
        self.by_status.values().sum()
    }

    pub fn count(&self, status: Status) -> usize {
        self.by_status.get(&status).copied().unwrap_or(0)
    }
}

/// Where the media lines go as each entry is done: counted, the failures and album
/// memberships kept, and the line itself written to the JSON report (`--report`) and, with
/// `-v`, printed on stdout. A run of a million entries never holds their lines.
pub struct MediaLog {
    pub tally: Tally,
    /// The first [`FAILURES_KEPT`] failures.
    pub failures: Vec<MediaReport>,
    /// The failures after those.
    failures_not_kept: usize,
    /// (album, output path) of every line that is an album's member.
    pub members: Vec<(String, String)>,
    /// The output paths whose XMP sidecar this run wrote.
    pub xmp_written: Vec<String>,
    /// Library files an update moved: old path → new path. Lines naming the old one are
    /// given the new one.
    moved: std::collections::HashMap<String, String>,
    file: Option<ReportFile>,
    /// The record of the run, kept whether or not `--report` was given.
    record: Option<Record>,
    per_file: Option<io::BufWriter<io::Stdout>>,
    /// `-v` in a dry run: its lines say what would be done.
    dry_run: bool,
    /// The first error writing the JSON report.
    error: Option<io::Error>,
}

/// The record a run leaves in its output folder (`.gpbackup/reports/`), named by the time it
/// started: the JSON report (`…-process.json`) and a readable log (`…-process.log`): the
/// summary, then every file with something to say, one per line. Both are streamed as the
/// entries are done (the log's lines into a temp file, copied under the summary at the end).
/// Failing to write it never fails the run: the summary says so.
struct Record {
    json: ReportFile,
    log_path: PathBuf,
    /// The log's file lines so far.
    lines: crate::library::fs::AtomicFile,
    error: Option<io::Error>,
}

impl Record {
    /// Starts the record in `dir` (made if need be; a link there is refused), named by
    /// `stem` (`2026-12-07T20-55-00`), numbered when a record of that name is there.
    fn start(dir: &Path, stem: &str, output: &Path) -> io::Result<Record> {
        match std::fs::create_dir(dir) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        if !std::fs::symlink_metadata(dir)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "it is not a folder of gpbackup's",
            ));
        }
        // The temp files of a record a killed run left (the output folder is locked: no
        // other run writes here).
        for e in std::fs::read_dir(dir)?.flatten() {
            let stale = e.file_name().to_string_lossy().ends_with(".gpbackup-tmp");
            if stale && e.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
        let name = (1..1000)
            .map(|n| match n {
                1 => format!("{stem}-process"),
                n => format!("{stem}-process-{n}"),
            })
            .find(|n| {
                [".json", ".log"]
                    .iter()
                    .all(|ext| std::fs::symlink_metadata(dir.join(format!("{n}{ext}"))).is_err())
            })
            .ok_or_else(|| io::Error::new(io::ErrorKind::AlreadyExists, "too many records"))?;
        let log_path = dir.join(format!("{name}.log"));
        let json = ReportFile::start(&dir.join(format!("{name}.json")), output, false)?;
        let lines = crate::library::fs::AtomicFile::create(&dir.join(format!("{name}.lines")))?;
        Ok(Record {
            json,
            log_path,
            lines,
            error: None,
        })
    }

    /// One media line: into the JSON, and into the log when it has something to say.
    fn push(&mut self, json: &str, m: &MediaReport) {
        if self.error.is_some() {
            return;
        }
        let mut res = self.json.push(json);
        if res.is_ok() && worth_a_log_line(m) {
            res = writeln!(self.lines.writer(), "{}", log_line(m));
        }
        if let Err(e) = res {
            self.error = Some(e);
        }
    }

    /// Completes both files with `report` (whose `record` names the log); returns the log's
    /// path.
    fn finish(mut self, report: &mut Report) -> io::Result<PathBuf> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.json.finish(report)?;
        report.record = Some(Ok(self.log_path.clone()));
        let mut log = crate::library::fs::AtomicFile::create(&self.log_path)?;
        let w = log.writer();
        w.write_all(report.summary().as_bytes())?;
        writeln!(w)?;
        writeln!(w, "Files with something to say, one per line:")?;
        // The lines, read back from their temp file (never held whole).
        let (tmp, file) = self.lines.into_temp()?;
        let copied = io::copy(&mut io::BufReader::new(file), w);
        let _ = std::fs::remove_file(&tmp);
        copied?;
        for j in &report.unused_sidecars {
            writeln!(w, "unused sidecar: {}", j.source)?;
        }
        for j in &report.bad_json {
            let why = j.reason.as_deref().unwrap_or("unreadable");
            writeln!(w, "unreadable JSON: {}: {why}", j.source)?;
        }
        log.commit()?;
        Ok(self.log_path)
    }
}

/// True for the media lines the log names: those not written, written without their
/// metadata, updated, or with a note (a file already in the library, or a duplicate, is
/// named only in the JSON).
fn worth_a_log_line(m: &MediaReport) -> bool {
    match m.status {
        Status::InLibrary | Status::Duplicate => false,
        Status::Written => !m.notes.is_empty() || m.camera_date.is_some(),
        _ => true,
    }
}

/// `failed: zip:path: why`, `written: zip:path -> 2019/x.jpg: note; note`.
fn log_line(m: &MediaReport) -> String {
    let mut line = format!("{}: {}", m.status.label(), m.source);
    if let Some(o) = &m.output {
        let _ = write!(line, " -> {o}");
    }
    if let Some(why) = &m.reason {
        let _ = write!(line, ": {why}");
    }
    if let Some(camera) = &m.camera_date {
        let _ = write!(
            line,
            ": dated as corrected in Google Photos (camera: {camera})"
        );
    }
    if !m.notes.is_empty() {
        let _ = write!(line, ": {}", m.notes.join("; "));
    }
    line
}

/// The JSON report being written: its header and the media lines so far, in a temp file
/// beside it that is renamed into place once the rest is written.
struct ReportFile {
    file: crate::library::fs::AtomicFile,
    lines: usize,
}

impl ReportFile {
    /// The file at `path` with the report's header.
    fn start(path: &Path, output: &Path, dry_run: bool) -> io::Result<ReportFile> {
        let mut file = crate::library::fs::AtomicFile::create(path)?;
        let w = file.writer();
        write!(
            w,
            "{{\n  \"generator\": \"{}\",\n  \"output\": {},\n  \"dry_run\": {dry_run},\n  \"media\": [",
            crate::library::dir::GENERATOR,
            serde_json::to_string(output).map_err(io::Error::other)?,
        )?;
        Ok(ReportFile { file, lines: 0 })
    }

    /// One media line, serialized.
    fn push(&mut self, json: &str) -> io::Result<()> {
        let sep = if self.lines == 0 { "\n    " } else { ",\n    " };
        self.lines += 1;
        let w = self.file.writer();
        w.write_all(sep.as_bytes())?;
        w.write_all(json.as_bytes())
    }

    /// The rest of `report` after the media lines; the file renamed into place.
    fn finish(mut self, report: &Report) -> io::Result<()> {
        let rest = serde_json::to_string_pretty(report).map_err(io::Error::other)?;
        let w = self.file.writer();
        w.write_all(if self.lines == 0 {
            b"],\n"
        } else {
            b"\n  ],\n"
        })?;
        // `rest` is a JSON object: its fields follow the media lines in the same object.
        w.write_all(
            rest.trim_start_matches('{')
                .trim_start_matches('\n')
                .as_bytes(),
        )?;
        w.write_all(b"\n")?;
        self.file.commit()
    }
}

impl MediaLog {
    /// Starts the log; with `report`, its JSON file (checked again: it must be absent, empty
    /// or a report gpbackup wrote) and its header.
    pub fn new(
        report: Option<&Path>,
        per_file: bool,
        output: &Path,
        dry_run: bool,
    ) -> io::Result<MediaLog> {
        let file = match report {
            None => None,
            Some(path) => {
                crate::library::dir::check_report_file(path)
                    .map_err(|why| io::Error::new(io::ErrorKind::AlreadyExists, why))?;
                Some(ReportFile::start(path, output, dry_run)?)
            }
        };
        Ok(MediaLog {
            tally: Tally::default(),
            failures: Vec::new(),
            failures_not_kept: 0,
            members: Vec::new(),
            xmp_written: Vec::new(),
            moved: Default::default(),
            file,
            record: None,
            per_file: per_file.then(|| io::BufWriter::new(io::stdout())),
            dry_run,
            error: None,
        })
    }

    /// Keeps a record of the run in `dir` (see [`Record`]), named by `stem`, the time the
    /// run started. When it cannot be started, the summary says why.
    pub fn keep_record(&mut self, dir: &Path, stem: &str, output: &Path, report: &mut Report) {
        match Record::start(dir, stem, output) {
            Ok(r) => self.record = Some(r),
            Err(e) => report.record = Some(Err(crate::words::io_error(&e))),
        }
    }

    /// Library files an update moved (old path, new path): lines pushed from now on follow them.
    pub fn set_moved(&mut self, moved: &[(String, String)]) {
        self.moved = moved.iter().cloned().collect();
    }

    /// One media entry done.
    pub fn push(&mut self, mut m: MediaReport) {
        // (The stages mark an entry the run stopped before by its reason.)
        if matches!(m.reason, Some(Reason::NotAttempted(_))) {
            m.status = Status::NotAttempted;
        }
        if let Some(new) = m.output.as_deref().and_then(|p| self.moved.get(p)) {
            m.output = Some(new.clone());
        }
        self.tally.add(&m);
        if let Some(out) = &mut self.per_file {
            // stdout closed (a pager quit): the summary still goes to stderr.
            if writeln!(out, "{}", per_file_line(&m, self.dry_run)).is_err() {
                self.per_file = None;
            }
        }
        if self.file.is_some() || self.record.is_some() {
            let json = serde_json::to_string(&m).unwrap_or_default();
            if let Some(f) = &mut self.file {
                if self.error.is_none() {
                    if let Err(e) = f.push(&json) {
                        self.error = Some(e);
                    }
                }
            }
            if let Some(r) = &mut self.record {
                r.push(&json, &m);
            }
        }
        let member = matches!(
            m.status,
            Status::Written
                | Status::WrittenWithoutMetadata
                | Status::Duplicate
                | Status::InLibrary
                | Status::Updated
        );
        if member {
            if let (Some(output), Some(_)) = (&m.output, &m.xmp) {
                self.xmp_written.push(output.clone());
            }
            if let Some(output) = &m.output {
                let albums = m.album.iter().cloned().chain(m.special.map(String::from));
                self.members
                    .extend(albums.map(|album| (album, output.clone())));
            }
        }
        if m.status == Status::Failed {
            if self.failures.len() < FAILURES_KEPT {
                self.failures.push(m);
            } else {
                self.failures_not_kept += 1;
            }
        }
    }

    /// Ends the log: the counts and failures go into `report`, and the JSON report, if any,
    /// is completed with the rest of `report` and renamed into place.
    pub fn finish(mut self, report: &mut Report) -> io::Result<()> {
        report.tally = std::mem::take(&mut self.tally);
        report.failures = std::mem::take(&mut self.failures);
        report.failures_not_kept = self.failures_not_kept;
        if let Some(out) = &mut self.per_file {
            let _ = out.flush();
        }
        if let Some(r) = self.record.take() {
            let kept = r.finish(report);
            report.record = Some(kept.map_err(|e| crate::words::io_error(&e)));
        }
        let Some(f) = self.file.take() else {
            return Ok(());
        };
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        f.finish(report)
    }
}

/// The `-v` line of one media entry: status, source, and the output file (or why there is
/// none).
/// In a dry run, what would be done.
pub fn per_file_line(m: &MediaReport, dry_run: bool) -> String {
    let label = match m.status {
        Status::Written if dry_run => "would write",
        Status::WrittenWithoutMetadata if dry_run => "would write without metadata",
        Status::Updated if dry_run => "would update",
        status => status.label(),
    };
    match (&m.output, &m.reason) {
        (Some(o), _) if matches!(m.status, Status::Duplicate | Status::InLibrary) => {
            format!("{label:<10} {} = {o}", m.source)
        }
        (Some(o), _) => format!("{label:<10} {} -> {o}", m.source),
        (None, Some(why)) => format!("{label:<10} {}: {why}", m.source),
        (None, None) => format!("{label:<10} {}", m.source),
    }
}

impl Report {
    pub fn count(&self, status: Status) -> usize {
        self.tally.count(status)
    }

    /// True when every media entry was written or deduplicated, and every input was whole.
    pub fn all_ok(&self) -> bool {
        self.count(Status::Failed) == 0 && self.damaged_inputs.is_empty() && self.stopped.is_none()
    }

    /// The first media entries that failed (see [`Report::failures`]), but those not
    /// attempted because the run stopped early.
    pub fn failures(&self) -> impl Iterator<Item = &MediaReport> {
        self.failures.iter()
    }

    /// The lines naming the failures: the first [`FAILURES_KEPT`], then how many more.
    pub fn failure_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .failures()
            .map(|m| match &m.reason {
                Some(why) => format!("failed: {}: {why}", m.source),
                None => format!("failed: {}: unknown reason", m.source),
            })
            .collect();
        if self.failures_not_kept > 0 {
            lines.push(format!(
                "... and {} more {} (see the record of this run)",
                grouped(self.failures_not_kept),
                plural(self.failures_not_kept, "failure", "failures")
            ));
        }
        lines
    }

    /// The human summary printed on stderr.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        self.summary_counts(&mut s);
        self.summary_dates(&mut s);
        self.summary_corrections(&mut s);
        self.summary_lists(&mut s);
        self.summary_failures(&mut s);
        match &self.record {
            Some(Ok(log)) => {
                let _ = writeln!(s, "A record of this run: {}", log.display());
            }
            Some(Err(why)) => {
                let _ = writeln!(s, "No record of this run could be kept: {why}");
            }
            None => {}
        }
        s
    }

    /// What happened to the media entries (a line whose parts add up to its total), and how
    /// those new to the library were matched.
    fn summary_counts(&self, s: &mut String) {
        let _ = writeln!(s, "{}", self.counts_line());
        // A part cut off holds files no count has: named right under the counts.
        for d in &self.damaged_inputs {
            let _ = writeln!(s, "{}", damaged_line(d));
        }
        // Entries already in the library were matched by the run that wrote them.
        let (considered, matched) = (self.tally.considered, self.tally.matched);
        if considered == 0 {
            return;
        }
        let _ = write!(
            s,
            "{} of {} {} found {} Google Photos metadata",
            grouped(matched),
            grouped(considered),
            plural(considered, "photo or video", "photos and videos"),
            plural(considered, "its", "their"),
        );
        if matched < considered {
            let which = match &self.record {
                Some(Ok(_)) => "the record of this run names them",
                _ => "-v or --report names them",
            };
            let _ = write!(s, "; {} without: {which}", grouped(considered - matched));
        }
        let _ = writeln!(s);
        if self.verbose && matched > 0 {
            let rules: Vec<String> = (self.tally.rules.iter())
                .map(|(r, n)| format!("{} {}", r.name(), grouped(*n)))
                .collect();
            let _ = writeln!(
                s,
                "matched by rule: {} ({} in all)",
                rules.join(", "),
                grouped(matched)
            );
        }
    }

    /// `N media files: A written, B duplicates, …, F failed`: every media entry in exactly
    /// one part (what is in brackets is a part of the part before it), written and failed
    /// always said, the others when there are any.
    fn counts_line(&self) -> String {
        let total = self.tally.total();
        let n = |status| self.count(status);
        let mut parts: Vec<String> = Vec::new();
        let written = n(Status::Written) + n(Status::WrittenWithoutMetadata);
        let mut within = Vec::new();
        if n(Status::WrittenWithoutMetadata) > 0 {
            within.push(format!(
                "{} without a sidecar",
                grouped(n(Status::WrittenWithoutMetadata))
            ));
        }
        if self.tally.restored > 0 {
            within.push(format!(
                "{} put back: gone from the folder since an earlier run",
                grouped(self.tally.restored)
            ));
        }
        let verb = if self.dry_run {
            "would be written"
        } else {
            "written"
        };
        parts.push(if within.is_empty() {
            format!("{} {verb}", grouped(written))
        } else {
            format!("{} {verb} ({})", grouped(written), within.join(", "))
        });
        let corrected = self.tally.corrected.total;
        let updated = n(Status::Updated) - corrected;
        let mut some = |count: usize, words: String| {
            if count > 0 {
                parts.push(format!("{} {words}", grouped(count)));
            }
        };
        some(updated, "updated with a sidecar".into());
        some(corrected, "corrected".into());
        some(
            n(Status::Duplicate),
            plural(n(Status::Duplicate), "duplicate", "duplicates").into(),
        );
        some(n(Status::InLibrary), "already in the library".into());
        some(n(Status::Skipped), "skipped".into());
        some(
            n(Status::NotAttempted),
            "not attempted (stopped early)".into(),
        );
        parts.push(format!("{} failed", grouped(n(Status::Failed))));
        format!(
            "{} media {}: {}",
            grouped(total),
            plural(total, "file", "files"),
            parts.join(", ")
        )
    }

    /// Where the dates of the files written by this run came from.
    fn summary_dates(&self, s: &mut String) {
        let (sources, undated) = (&self.tally.dates, self.tally.undated.total);
        if sources.is_empty() && undated == 0 {
            return;
        }
        let dated: Vec<String> = sources
            .iter()
            .map(|(d, n)| format!("{} {}", date_source_label(*d), grouped(*n)))
            .collect();
        let undated = match undated {
            0 => String::new(),
            n => format!(
                "{} {} without any date",
                grouped(n),
                plural(n, "file written", "files written")
            ),
        };
        let _ = match (dated.is_empty(), undated.is_empty()) {
            (true, _) => writeln!(s, "{undated}"),
            (false, true) => writeln!(s, "dates from: {}", dated.join(", ")),
            (false, false) => writeln!(s, "dates from: {}; {undated}", dated.join(", ")),
        };
        if self.tally.undated.total > 0 {
            let _ = writeln!(
                s,
                "no date found for: {}. {} may be in a part not given: run again with \
                 every part of the export.",
                self.tally.undated.text(),
                plural(self.tally.undated.total, "Its sidecar", "Their sidecars"),
            );
        }
    }

    /// Albums, unused and unreadable JSON, missing and damaged parts.
    /// Library files of earlier runs that this run corrected, could not correct yet, or
    /// found in a newer export's trash: each named (the first few), with what to do.
    fn summary_corrections(&self, s: &mut String) {
        let corrected = &self.tally.corrected;
        if corrected.total > 0 {
            let _ = writeln!(
                s,
                "corrected {} library {} with a newer export's metadata or the photo's own sidecar: {}",
                grouped(corrected.total),
                plural(corrected.total, "file", "files"),
                corrected.text()
            );
        }
        let redated = &self.tally.redated;
        if redated.total > 0 {
            let _ = writeln!(
                s,
                "dated as you corrected {} in Google Photos, not as {} camera said: {}. The \
                 camera's date is kept in {} XMP sidecar; --keep-camera-dates keeps the cameras' \
                 dates instead.",
                plural(redated.total, "it", "them"),
                plural(redated.total, "its", "their"),
                redated.text(),
                plural(redated.total, "its", "each one's"),
            );
        }
        let kept = &self.tally.camera_kept;
        if kept.total > 0 {
            let _ = writeln!(
                s,
                "kept the camera's date taken of {} {} though Google Photos has another more \
                 than a day away: {}. Without --keep-camera-dates, a new library takes the \
                 dates corrected in Google Photos.",
                grouped(kept.total),
                plural(kept.total, "file", "files"),
                kept.text(),
            );
        }
        let deferred = &self.tally.deferred;
        if deferred.total > 0 {
            let _ = writeln!(
                s,
                "not corrected yet: {}: a better sidecar was found, but the photo is in a part \
                 not given now (nor where an earlier run read it). Run again with that part, and \
                 {} rewritten.",
                deferred.text(),
                plural(deferred.total, "it is", "they are"),
            );
        }
        let named = |paths: &[String]| {
            let mut text = paths
                .iter()
                .take(SUMMARY_NAMES)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if paths.len() > SUMMARY_NAMES {
                let _ = write!(
                    text,
                    " and {} more (see the record of this run)",
                    grouped(paths.len() - SUMMARY_NAMES)
                );
            }
            text
        };
        let changed = &self.changed_in_library;
        if !changed.is_empty() {
            let _ = writeln!(
                s,
                "changed since gpbackup wrote {}, left as {} (yours now): {}. To get gpbackup's \
                 copy back, move it out of the folder and run again; `gpbackup verify` lists \
                 every change.",
                plural(changed.len(), "it", "them"),
                plural(changed.len(), "it is", "they are"),
                named(changed)
            );
        }
        let trashed = &self.trashed_in_library;
        if !trashed.is_empty() {
            let _ = writeln!(
                s,
                "in Google Photos' trash, but in the library from an earlier run: kept (delete \
                 {} yourself if you want): {}",
                plural(trashed.len(), "it", "them"),
                named(trashed)
            );
        }
    }

    fn summary_lists(&self, s: &mut String) {
        if !self.albums.is_empty() {
            let n = self.albums.len();
            let _ = writeln!(s, "{} {}", grouped(n), plural(n, "album", "albums"));
        }
        for n in self.album_notes.iter().take(5) {
            let _ = writeln!(s, "albums: {n}");
        }
        if !self.unused_sidecars.is_empty() {
            let n = self.unused_sidecars.len();
            let first: Vec<&str> = (self.unused_sidecars.iter().take(3))
                .map(|j| j.source.rsplit('/').next().unwrap_or(&j.source))
                .collect();
            let _ = writeln!(
                s,
                "{} {} matched no media file ({}{}): {} may be in a part not given, or \
                 in Google Photos' trash",
                grouped(n),
                plural(n, "sidecar", "sidecars"),
                first.join(", "),
                if n > first.len() {
                    ", … in the record of this run"
                } else {
                    ""
                },
                plural(n, "its photo", "their photos"),
            );
        }
        if !self.bad_json.is_empty() {
            let n = self.bad_json.len();
            let _ = writeln!(
                s,
                "{} {} could not be read",
                grouped(n),
                plural(n, "JSON file", "JSON files")
            );
        }
        for p in &self.missing_parts {
            let _ = writeln!(s, "{}", self.missing_parts_line(p));
        }
        for n in &self.entry_notes {
            let _ = writeln!(s, "note: {}: {}", n.source, n.note);
        }
    }

    /// `missing: part 017 of takeout-… (parts up to 052 were given): it may hold …`, naming
    /// only what the missing part may explain.
    fn missing_parts_line(&self, p: &crate::takeout::parts::MissingParts) -> String {
        let many = p.missing.len() > 1;
        let mut line = format!(
            "missing: part{} {} of {} (parts up to {} were given)",
            if many { "s" } else { "" },
            p.missing.join(", "),
            p.export,
            p.last_given,
        );
        let lonely = self.count(Status::WrittenWithoutMetadata);
        let unused = self.unused_sidecars.len();
        let mut holds = Vec::new();
        if lonely > 0 {
            holds.push(format!(
                "the {} of the {} {} written without one",
                plural(lonely, "sidecar", "sidecars"),
                grouped(lonely),
                plural(lonely, "file", "files"),
            ));
        }
        if unused > 0 {
            holds.push(format!(
                "the {} of the {} unused {}",
                plural(unused, "photo", "photos"),
                grouped(unused),
                plural(unused, "sidecar", "sidecars"),
            ));
        }
        if !holds.is_empty() {
            let it = if many { "they" } else { "it" };
            line += &format!(": {it} may hold {}", holds.join(" and "));
        }
        line + ". Process it when you have it: the files it completes are updated."
    }

    /// The first failures, and how many were not attempted.
    fn summary_failures(&self, s: &mut String) {
        for line in self.failure_lines() {
            let _ = writeln!(s, "{line}");
        }
        let not_attempted = self.count(Status::NotAttempted);
        if not_attempted > 0 {
            let _ = writeln!(
                s,
                "not attempted (stopped early): {} — run the same command again to finish",
                grouped(not_attempted)
            );
        }
    }
}

/// "1 day", "3,500 days" (about 9.6 years) …
fn plural_days(days: i64) -> String {
    let n = usize::try_from(days).unwrap_or(0);
    let text = format!("{} {}", grouped(n), plural(n, "day", "days"));
    if days >= 730 {
        format!("{text}, about {:.1} years", days as f64 / 365.25)
    } else {
        text
    }
}

/// `damaged: part 002 (takeout-…-002.zip) ends early, …`: a part cut off, what it means and
/// what to do.
fn damaged_line(d: &crate::takeout::Damaged) -> String {
    let file = d.path.file_name().map_or_else(
        || d.path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let which = match crate::takeout::parts::part_of(&file) {
        Some((_, _, digits)) => format!("part {digits} ({file})"),
        None => file,
    };
    if !d.ends_early && d.recovered == 0 {
        return format!(
            "damaged: {which} is damaged ({}): download it again and run the same command \
             with it. None of its files was used.",
            d.reason,
        );
    }
    if !d.ends_early {
        let at = match &d.lost {
            Some(name) => format!("; the damage is in {name}"),
            None => String::new(),
        };
        return format!(
            "damaged: {which} is damaged inside ({}): download it again and run the same \
             command with it. Every photo before the damage is in the library ({} {} read \
             from it{at}).",
            d.reason,
            grouped(d.recovered),
            plural(d.recovered, "file", "files"),
        );
    }
    let cut = match &d.lost {
        Some(name) => format!("; the cut is in {name}"),
        None => String::new(),
    };
    format!(
        "damaged: {which} ends early, probably an interrupted download: download it again and \
         run the same command with it. Every photo before the cut is in the library ({} {} read \
         from it{cut}).",
        grouped(d.recovered),
        plural(d.recovered, "file", "files"),
    )
}

fn date_source_label(d: DateSource) -> &'static str {
    match d {
        DateSource::Sidecar => "sidecar",
        DateSource::Exif => "exif",
        DateSource::FileName => "file name",
        DateSource::UploadTime => "upload time",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn days_apart_in_words() {
        for (days, said) in [
            (1, "1 day"),
            (194, "194 days"),
            (729, "729 days"),
            (730, "730 days, about 2.0 years"),
            (3_506, "3,506 days, about 9.6 years"),
        ] {
            assert_eq!(super::plural_days(days), said);
        }
    }

    use super::*;

    fn entry(status: Status, rule: Option<Rule>) -> MediaReport {
        MediaReport {
            status,
            rule,
            date_source: rule.map(|_| DateSource::Sidecar),
            reason: (status == Status::Failed).then(|| Reason::other("bad CRC")),
            ..MediaReport::new("t.zip:a.jpg".into(), MediaKind::Jpeg)
        }
    }

    #[test]
    fn a_missing_part_names_only_what_it_may_explain() {
        let mut r = Report {
            missing_parts: vec![crate::takeout::parts::MissingParts {
                export: "takeout-x".into(),
                missing: vec!["002".into(), "004".into()],
                last_given: "005".into(),
            }],
            ..Report::default()
        };
        let s = r.summary();
        assert!(
            s.contains(
                "missing: parts 002, 004 of takeout-x (parts up to 005 were given). Process it"
            ),
            "{s}"
        );
        r.tally.add(&entry(Status::WrittenWithoutMetadata, None));
        let s = r.summary();
        assert!(
            s.contains("given): they may hold the sidecar of the 1 file written without one."),
            "{s}"
        );
    }

    #[test]
    fn summary_counts_every_status_and_rule() {
        let mut log = MediaLog::new(None, false, Path::new("out"), false).unwrap();
        for m in [
            entry(Status::Written, Some(Rule::Exact)),
            entry(Status::Written, Some(Rule::Numbered)),
            entry(Status::Duplicate, Some(Rule::Exact)),
            entry(Status::WrittenWithoutMetadata, None),
            entry(Status::Failed, None),
            // Matched by the run that wrote it: in no count of this run's matching.
            entry(Status::InLibrary, Some(Rule::Supplemental)),
        ] {
            log.push(m);
        }
        let mut r = Report::default();
        log.finish(&mut r).unwrap();
        let s = r.summary();
        assert!(
            s.contains("6 media files: 3 written (1 without a sidecar), 1 duplicate, 1 already in the library, 1 failed"),
            "{s}"
        );
        assert!(
            s.contains(
                "3 of 5 photos and videos found their Google Photos metadata; 2 without: -v or \
                 --report names them\n"
            ),
            "{s}"
        );
        assert!(!s.contains("matched by rule"), "{s}");
        r.verbose = true;
        let s = r.summary();
        assert!(
            s.contains("matched by rule: exact 2, numbered 1 (3 in all)"),
            "{s}"
        );
        assert!(s.contains("failed: t.zip:a.jpg: bad CRC"), "{s}");
        assert!(!r.all_ok());
    }

    #[test]
    fn the_streamed_report_is_one_json_object_with_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        let mut log = MediaLog::new(Some(&path), false, Path::new("/o \"u\\t"), true).unwrap();
        log.set_moved(&[("old.jpg".into(), "2019/new.jpg".into())]);
        let mut member = entry(Status::Duplicate, Some(Rule::Exact));
        member.output = Some("old.jpg".into());
        member.album = Some("Trip".into());
        let mut stopped = entry(Status::Failed, None);
        stopped.reason = Some(Reason::NotAttempted(StopReason::DiskFull));
        let mut skipped = entry(Status::Skipped, None);
        skipped.album = Some("Trip".into());
        skipped.output = Some("x.jpg".into());
        for m in [member, entry(Status::Failed, None), stopped, skipped] {
            log.push(m);
        }
        assert!(!path.exists(), "only complete reports appear");
        assert_eq!(
            log.members,
            [("Trip".to_string(), "2019/new.jpg".to_string())]
        );
        let mut r = Report {
            ignored: vec!["archive_browser.html".into()],
            ..Report::default()
        };
        log.finish(&mut r).unwrap();
        assert_eq!(r.failures.len(), 1, "not-attempted lines are no failures");
        assert_eq!(r.count(Status::Failed), 1);
        assert_eq!(r.count(Status::NotAttempted), 1);
        assert_eq!(r.tally.total(), 4);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["generator"], "gpbackup");
        assert_eq!(v["output"], "/o \"u\\t");
        assert_eq!(v["dry_run"], true);
        assert_eq!(v["media"].as_array().unwrap().len(), 4);
        assert_eq!(v["media"][0]["output"], "2019/new.jpg");
        assert_eq!(v["media"][1]["reason"], "bad CRC");
        assert_eq!(v["ignored"][0], "archive_browser.html");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn a_report_of_no_media_is_valid_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        let log = MediaLog::new(Some(&path), false, Path::new("o"), false).unwrap();
        log.finish(&mut Report::default()).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["media"], serde_json::json!([]));
        assert_eq!(v["albums"], serde_json::json!([]));
    }

    #[test]
    fn an_unfinished_report_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        let mut log = MediaLog::new(Some(&path), false, Path::new("o"), false).unwrap();
        log.push(entry(Status::Written, None));
        drop(log);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// The numbers of a counts line: its total, and the sum of its parts (what is in
    /// brackets is within the part before it).
    fn total_and_sum(line: &str) -> (usize, usize) {
        let num = |t: &str| -> usize {
            let digits: String = t
                .trim()
                .split(' ')
                .next()
                .unwrap()
                .chars()
                .filter(|c| *c != ',')
                .collect();
            digits.parse().unwrap_or_else(|_| panic!("{t:?} in {line}"))
        };
        let (head, rest) = line.split_once(": ").unwrap();
        let mut flat = String::new();
        let mut depth = 0;
        for c in rest.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ if depth == 0 => flat.push(c),
                _ => {}
            }
        }
        (num(head), flat.split(", ").map(num).sum())
    }

    #[test]
    fn the_counts_line_adds_up_for_every_status() {
        let all = [
            Status::Written,
            Status::WrittenWithoutMetadata,
            Status::Duplicate,
            Status::InLibrary,
            Status::Updated,
            Status::Failed,
            Status::Skipped,
            Status::NotAttempted,
        ];
        // Each status alone, several of each, and a mix with a thousand of one.
        let mut cases: Vec<Vec<(Status, usize)>> = all.iter().map(|s| vec![(*s, 1)]).collect();
        cases.push(all.iter().map(|s| (*s, 2)).collect());
        cases.push(vec![(Status::NotAttempted, 1000), (Status::Written, 3)]);
        for case in cases {
            let mut r = Report::default();
            for (status, n) in &case {
                for i in 0..*n {
                    let mut m = entry(*status, None);
                    m.restored = i == 0;
                    m.corrected = i == 0;
                    r.tally.add(&m);
                }
            }
            let line = r.counts_line();
            let (total, sum) = total_and_sum(&line);
            assert_eq!(total, case.iter().map(|(_, n)| n).sum::<usize>(), "{line}");
            assert_eq!(sum, total, "{line}");
        }
        let mut r = Report::default();
        r.tally.add(&entry(Status::Duplicate, None));
        assert_eq!(
            r.counts_line(),
            "1 media file: 0 written, 1 duplicate, 0 failed"
        );
    }

    #[test]
    fn a_record_is_a_json_report_and_a_log_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let reports = dir.path().join("reports");
        std::fs::create_dir(&reports).unwrap();
        let stale = reports.join(".x-process.json.99999.gpbackup-tmp");
        std::fs::write(&stale, b"left by a killed run").unwrap();
        // Any other file stays.
        std::fs::write(reports.join("notes.txt"), b"mine").unwrap();
        let mut r = Report::default();
        let mut log = MediaLog::new(None, false, Path::new("o"), false).unwrap();
        log.keep_record(&reports, "2026-12-07T20-55-00", Path::new("o"), &mut r);
        assert!(!stale.exists());
        log.push(entry(Status::Written, Some(Rule::Exact)));
        log.push(entry(Status::Failed, None));
        log.finish(&mut r).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&reports)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "2026-12-07T20-55-00-process.json",
                "2026-12-07T20-55-00-process.log",
                "notes.txt"
            ]
        );
        let log = std::fs::read_to_string(reports.join("2026-12-07T20-55-00-process.log")).unwrap();
        assert!(
            log.starts_with("2 media files: 1 written, 1 failed\n"),
            "{log}"
        );
        assert!(
            log.ends_with("one per line:\nfailed: t.zip:a.jpg: bad CRC\n"),
            "{log}"
        );
        assert!(r.summary().ends_with("-process.log\n"));
    }

    #[test]
    fn the_v_line_says_what_was_done_or_in_a_dry_run_what_would_be() {
        let with = |status, output: Option<&str>| MediaReport {
            output: output.map(String::from),
            ..entry(status, None)
        };
        let table = [
            (
                with(Status::Written, Some("x.jpg")),
                false,
                "written    t.zip:a.jpg -> x.jpg",
            ),
            (
                with(Status::Written, Some("x.jpg")),
                true,
                "would write t.zip:a.jpg -> x.jpg",
            ),
            (
                with(Status::WrittenWithoutMetadata, Some("x.jpg")),
                true,
                "would write without metadata t.zip:a.jpg -> x.jpg",
            ),
            (
                with(Status::Updated, Some("x.jpg")),
                true,
                "would update t.zip:a.jpg -> x.jpg",
            ),
            (
                with(Status::Updated, Some("x.jpg")),
                false,
                "updated    t.zip:a.jpg -> x.jpg",
            ),
            (
                with(Status::Duplicate, Some("x.jpg")),
                true,
                "duplicate  t.zip:a.jpg = x.jpg",
            ),
            (
                with(Status::InLibrary, Some("x.jpg")),
                false,
                "in library t.zip:a.jpg = x.jpg",
            ),
            (
                with(Status::Failed, None),
                true,
                "failed     t.zip:a.jpg: bad CRC",
            ),
            (with(Status::Skipped, None), false, "skipped    t.zip:a.jpg"),
        ];
        for (m, dry_run, want) in table {
            assert_eq!(per_file_line(&m, dry_run), want);
        }
    }

    #[test]
    fn the_log_names_the_files_with_something_to_say() {
        let noted = |status| MediaReport {
            notes: vec!["a note".into()],
            ..entry(status, None)
        };
        let table = [
            (entry(Status::Written, None), false),
            (noted(Status::Written), true),
            (
                MediaReport {
                    camera_date: Some("2019".into()),
                    ..entry(Status::Written, None)
                },
                true,
            ),
            (noted(Status::InLibrary), false),
            (noted(Status::Duplicate), false),
            (entry(Status::WrittenWithoutMetadata, None), true),
            (entry(Status::Failed, None), true),
            (entry(Status::Skipped, None), true),
        ];
        for (m, want) in table {
            assert_eq!(worth_a_log_line(&m), want, "{m:?}");
        }
    }

    #[test]
    fn files_without_any_date_alone_are_said_plainly() {
        let mut r = Report::default();
        r.tally.add(&entry(Status::WrittenWithoutMetadata, None));
        assert!(
            r.summary().contains("\n1 file written without any date\n"),
            "{}",
            r.summary()
        );
        // Named, the first ten, with what to do.
        assert!(
            r.summary()
                .contains("no date found for: t.zip:a.jpg. Its sidecar may be in"),
            "{}",
            r.summary()
        );
        for k in 0..11 {
            r.tally.add(&MediaReport {
                output: Some(format!("u{k}.jpg")),
                ..entry(Status::WrittenWithoutMetadata, None)
            });
        }
        let s = r.summary();
        assert!(
            s.contains("no date found for: t.zip:a.jpg, u0.jpg, u1.jpg,")
                && s.contains("u8.jpg and 2 more (see the record of this run)."),
            "{s}"
        );
        assert!(!s.contains("u9.jpg"), "{s}");
    }

    #[test]
    fn unused_sidecars_are_named_with_what_they_may_mean() {
        let json = |name: &str| JsonReport {
            source: format!("t.zip:Takeout/Google Photos/Photos from 2019/{name}"),
            title: None,
            reason: None,
        };
        let mut r = Report {
            unused_sidecars: vec![json("a.jpg.json")],
            ..Report::default()
        };
        assert!(
            r.summary().contains(
                "1 sidecar matched no media file (a.jpg.json): its photo may be in a part not \
                 given, or in Google Photos' trash\n"
            ),
            "{}",
            r.summary()
        );
        r.unused_sidecars = ["a", "b", "c", "d"]
            .map(|n| json(&format!("{n}.json")))
            .to_vec();
        assert!(
            r.summary().contains(
                "4 sidecars matched no media file (a.json, b.json, c.json, … in the record of \
                 this run): their photos"
            ),
            "{}",
            r.summary()
        );
    }

    #[test]
    fn a_summary_line_keeps_ten_names_and_counts_the_rest() {
        let mut n = FirstNames::default();
        for k in 0..1_234 {
            n.push(|| format!("f{k}"));
        }
        assert_eq!((n.total, n.first.len()), (1_234, SUMMARY_NAMES));
        assert_eq!(
            n.text(),
            "f0, f1, f2, f3, f4, f5, f6, f7, f8, f9 and 1,224 more (see the record of this run)"
        );
        let mut one = FirstNames::default();
        one.push(|| "a.jpg".into());
        assert_eq!(one.text(), "a.jpg");
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(999_990), "999,990");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn only_the_first_failures_are_kept_the_rest_counted() {
        let mut log = MediaLog::new(None, false, Path::new("out"), false).unwrap();
        for _ in 0..FAILURES_KEPT + 5 {
            log.push(entry(Status::Failed, None));
        }
        let mut r = Report::default();
        log.finish(&mut r).unwrap();
        assert_eq!(r.failures.len(), FAILURES_KEPT);
        assert_eq!(r.count(Status::Failed), FAILURES_KEPT + 5);
        let lines = r.failure_lines();
        assert_eq!(lines.len(), FAILURES_KEPT + 1);
        assert_eq!(
            lines.last().unwrap(),
            "... and 5 more failures (see the record of this run)"
        );
        assert!(r.summary().contains("and 5 more failures"));
    }

    #[test]
    fn dates_are_counted_for_what_this_run_wrote() {
        let dated = |status, source| MediaReport {
            date_source: source,
            ..entry(status, None)
        };
        let mut stopped = entry(Status::Failed, None);
        stopped.reason = Some(Reason::NotAttempted(StopReason::Interrupted));
        let mut log = MediaLog::new(None, false, Path::new("out"), false).unwrap();
        for m in [
            dated(Status::Written, Some(DateSource::Sidecar)),
            dated(Status::Written, Some(DateSource::Sidecar)),
            dated(Status::Duplicate, Some(DateSource::Exif)),
            dated(Status::Updated, Some(DateSource::FileName)),
            // A duplicate without a date says nothing of its own.
            dated(Status::Duplicate, None),
            dated(Status::WrittenWithoutMetadata, None),
            dated(Status::Written, None),
            // Not written by this run: not counted.
            dated(Status::InLibrary, Some(DateSource::Exif)),
            dated(Status::Skipped, Some(DateSource::Exif)),
            stopped.clone(),
            stopped,
        ] {
            log.push(m);
        }
        let mut r = Report::default();
        log.finish(&mut r).unwrap();
        let s = r.summary();
        assert!(
            s.contains(
                "dates from: sidecar 2, exif 1, file name 1; 2 files written without any date"
            ),
            "{s}"
        );
        assert!(
            s.contains("not attempted (stopped early): 2 — run the same command again to finish"),
            "{s}"
        );
        assert!(
            s.contains("11 media files: 4 written (1 without a sidecar), 1 updated with a sidecar, 2 duplicates, 1 already in the library, 1 skipped, 2 not attempted (stopped early), 0 failed"),
            "{s}"
        );
        assert!(
            s.contains("0 of 10 photos and videos found their Google Photos metadata; 10 without"),
            "{s}"
        );
        assert_eq!(r.failures().count(), 0);
    }
}
