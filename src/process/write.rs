//! Stage 2, the write: each group of probably-identical entries is read once, its best member
//! enriched and written to the output folder (with its XMP sidecar and manifest line), the
//! others hashed and recorded as its duplicates. The only stage that writes media.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Cursor, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use indicatif::ProgressBar;
use rayon::prelude::*;

use crate::hash::{self, HashingReader, HashingWriter};
use crate::manifest::{self, Manifest};
use crate::matcher::Rule;
use crate::media::{resolve_kind, MediaKind};
use crate::metadata::xmp::{self, XmpData};
use crate::metadata::{self, Tags, Written};
use crate::output::{Layout, OutputDir};
use crate::report::{DateSource, MediaReport, Reason, Status, StopReason};
use crate::source::{self, Reader};

use super::plan::{source_key, Disposition, MediaId, Plan};
use super::policy::{self, DateChoice};
use super::Options;

/// What the write stage did: a report line per record (indexed by [`MediaId`]), and why it
/// stopped early, if it did.
pub struct Outcome {
    pub media: Vec<MediaReport>,
    pub stopped: Option<StopReason>,
}

/// A content already in the output: its path, and the sidecar its metadata came from.
#[derive(Debug, Clone)]
struct Known {
    path: String,
    sidecar: Option<usize>,
}

/// The write stage's state: the plan (read-only), the output, and what is in it.
struct Writer<'a> {
    opts: &'a Options,
    plan: &'a Plan,
    out: &'a OutputDir,
    manifest: &'a Manifest,
    /// Content hash → output path, for everything in the output (this run and earlier ones).
    registry: Mutex<HashMap<u128, Known>>,
    progress: &'a ProgressBar,
    /// Why the run stops early (disk full), for the records not yet done.
    stop: Mutex<Option<StopReason>>,
}

/// Writes every record the plan says to write; accounts for the others.
pub fn run(
    opts: &Options,
    plan: &Plan,
    out: &OutputDir,
    manifest: &Manifest,
    progress: &ProgressBar,
) -> Outcome {
    let w = Writer {
        opts,
        plan,
        out,
        manifest,
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
        progress,
        stop: Mutex::new(None),
    };
    let mut media: Vec<Option<MediaReport>> = plan.ids().map(|id| w.not_written(id)).collect();
    // Names are reserved here, in a deterministic order, so that collisions are numbered the
    // same way on every run whatever the thread timing. A file whose folder depends on a date
    // only its own bytes hold gets its name once it is read.
    let named: Vec<(&[MediaId], Option<String>)> = plan
        .groups
        .iter()
        .map(|g| {
            let name = w
                .planned_folder(g[0])
                .map(|dir| out.reserve(&dir, &plan.wanted_name(g[0])));
            (g.as_slice(), name)
        })
        .collect();
    let readers: Vec<Mutex<Reader>> = (0..rayon::current_num_threads())
        .map(|_| Mutex::new(plan.catalog.reader(source::LARGE_BUFFER)))
        .collect();
    let done: Vec<Vec<(MediaId, MediaReport)>> = named
        .into_par_iter()
        .map(|(group, name)| {
            let slot = rayon::current_thread_index().unwrap_or(0) % readers.len();
            let mut reader = readers[slot].lock().expect("reader lock");
            w.write_group(&mut reader, group, name)
        })
        .collect();
    for (id, r) in done.into_iter().flatten() {
        media[id.0] = Some(r);
    }
    Outcome {
        media: media
            .into_iter()
            .map(|r| r.expect("every media record has a result"))
            .collect(),
        stopped: w.stopped(),
    }
}

/// Fails reads once the run is stopped, so that a long copy ends within a moment (its temp
/// file is then removed). Not `ErrorKind::Interrupted`: `io::copy` would retry that.
struct Interruptible<'f, R> {
    inner: R,
    flag: &'f AtomicBool,
}

impl<R: Read> Read for Interruptible<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.flag.load(Ordering::Relaxed) {
            return Err(io::Error::other(StopReason::Interrupted.to_string()));
        }
        self.inner.read(buf)
    }
}

/// An entry's bytes: its first bytes (read to tell its type), then the rest, hashed.
type Hashed<R> = io::Chain<Cursor<Vec<u8>>, HashingReader<R>>;

/// An entry opened for reading, its type known from its first bytes.
struct Opened<R> {
    kind: MediaKind,
    src: R,
}

/// Where a copy went: the temp file (none in a dry run) and what was written.
struct Copied {
    temp: Option<(PathBuf, File)>,
    written: Written,
    src_hash: u128,
    src_len: u64,
    out_hash: u128,
    out_len: u64,
}

impl Writer<'_> {
    /// The report line of a record that is not written by this stage (skipped, or already in
    /// the library); `None` for those it writes.
    fn not_written(&self, id: MediaId) -> Option<MediaReport> {
        let plan = self.plan;
        let mut r = plan.base_report(id);
        match &plan.record(id).disposition {
            Disposition::Write => return None,
            Disposition::Skip(why) => {
                r.status = Status::Skipped;
                r.reason = Some(Reason::Skipped(*why));
            }
            Disposition::InLibrary(path) => {
                r.status = Status::Duplicate;
                r.output = Some(path.clone());
                r.notes
                    .push("already in the output from an earlier run".into());
            }
        }
        self.progress.inc(plan.entry(id).size);
        Some(r)
    }

    /// The folder of a record when it is known before its bytes are read: always in the flat
    /// layout; in the dated ones when the sidecar's date is to replace the file's own.
    fn planned_folder(&self, id: MediaId) -> Option<String> {
        let planned = policy::planned_date(&self.plan.date_candidates(id));
        let decided = self.opts.overwrite_dates && planned.source == Some(DateSource::Sidecar);
        match self.opts.layout {
            Layout::Flat => Some(String::new()),
            _ if decided => Some(policy::folder(
                self.opts.layout,
                &self.opts.timezone,
                planned.when,
                self.plan.geo(id),
                None,
            )),
            _ => None,
        }
    }

    /// Why the run stops early, if it does: interrupted, or the output disk is full.
    fn stopped(&self) -> Option<StopReason> {
        if self.opts.stop_requested() {
            return Some(StopReason::Interrupted);
        }
        *self.stop.lock().expect("stop lock")
    }

    /// Stops the run when an error means that no further file can be written.
    fn note_fatal(&self, err: &io::Error) {
        if err.raw_os_error() == Some(28) || err.kind() == io::ErrorKind::StorageFull {
            let mut stop = self.stop.lock().expect("stop lock");
            stop.get_or_insert(StopReason::DiskFull);
        }
    }

    /// Processes one group of probably-identical entries, best first: a report line per
    /// member.
    fn write_group(
        &self,
        reader: &mut Reader,
        group: &[MediaId],
        name: Option<String>,
    ) -> Vec<(MediaId, MediaReport)> {
        let mut out = Vec::with_capacity(group.len());
        let mut reserved = name;
        let mut resolved = false;
        for &id in group {
            let e = self.plan.entry(id);
            let r = if let Some(why) = self.stopped() {
                let mut r = self.plan.base_report(id);
                r.reason = Some(Reason::NotAttempted(why));
                r
            } else if let Some(r) = (resolved && e.crc32.is_some())
                .then(|| self.hash_only(reader, id))
                .flatten()
            {
                // Once one member's bytes are in the output, a zip member with the same
                // CRC-32 is only hashed to confirm it is the same photo (`None`: it is not).
                r
            } else {
                let r = self.write_one(reader, id, reserved.take());
                resolved |= r.status != Status::Failed;
                r
            };
            out.push((id, r));
            self.progress.inc(e.size);
        }
        if let Some(name) = reserved {
            self.out.release(&name);
        }
        out
    }

    /// Hashes an entry without writing it. Its report line when it duplicates something in
    /// the output or cannot be read; `None` when its content is new.
    fn hash_only(&self, reader: &mut Reader, id: MediaId) -> Option<MediaReport> {
        let mut r = self.plan.base_report(id);
        let h = match reader.open(self.plan.entry(id)).and_then(hash::hash_stream) {
            Ok((h, _)) => h,
            Err(err) => {
                r.reason = Some(io_reason(&err));
                return Some(r);
            }
        };
        let known = self.registry.lock().expect("registry").get(&h).cloned()?;
        let planned = policy::planned_date(&self.plan.date_candidates(id));
        r.taken = planned.when;
        r.date_source = planned.source;
        self.mark_duplicate(id, h, &known, &mut r);
        Some(r)
    }

    /// Records `r` as a duplicate of `known`. A copy without a sidecar of its own (an album
    /// copy) takes the sidecar of its twin: that is the metadata its content carries.
    fn mark_duplicate(&self, id: MediaId, h: u128, known: &Known, r: &mut MediaReport) {
        r.status = Status::Duplicate;
        r.output = Some(known.path.clone());
        if let (None, Some(s)) = (self.plan.record(id).found, known.sidecar) {
            r.rule = Some(Rule::AlbumTwin);
            r.tried.clear();
            r.sidecar = Some(self.plan.describe_sidecar(s));
            if let Ok(twin) = self.plan.sidecar(s) {
                if r.date_source != Some(DateSource::Exif) && twin.taken.is_some_and(|t| t != 0) {
                    r.taken = twin.taken;
                    r.date_source = Some(DateSource::Sidecar);
                }
                r.gps = twin.geo;
            }
        }
        let e = self.plan.entry(id);
        let line = manifest::Line {
            hash: hash::hex(h),
            path: known.path.clone(),
            sources: vec![source_key(e)],
            albums: self.plan.record(id).album.clone().into_iter().collect(),
            ..manifest::Line::default()
        };
        // The manifest only speeds up later runs: a failed append loses nothing.
        let _ = self.manifest.append(&line);
    }

    /// Reads one entry once, writes it (or finds it is a duplicate); its report line. `name`
    /// is the output path reserved for it, if one was; otherwise one is reserved once its date
    /// is known. A name that ends up unused is given back.
    fn write_one(&self, reader: &mut Reader, id: MediaId, name: Option<String>) -> MediaReport {
        let mut r = self.plan.base_report(id);
        let mut name = name;
        if let Err(reason) = self.try_write(reader, id, &mut name, &mut r) {
            r.status = Status::Failed;
            r.output = None;
            r.reason = Some(match self.stopped() {
                Some(why @ StopReason::Interrupted) => Reason::NotAttempted(why),
                _ => reason,
            });
        }
        if !matches!(r.status, Status::Written | Status::WrittenWithoutMetadata) {
            if let Some(n) = name {
                self.out.release(&n);
            }
        }
        r
    }

    fn try_write(
        &self,
        reader: &mut Reader,
        id: MediaId,
        name: &mut Option<String>,
        r: &mut MediaReport,
    ) -> Result<(), Reason> {
        let plan = self.plan;
        let e = plan.entry(id);
        let sidecar = plan.usable_sidecar(id);
        let mut dates = plan.date_candidates(id);
        let planned = policy::planned_date(&dates);
        let tags = Tags {
            taken: planned.when,
            geo: plan.geo(id),
            description: sidecar.and_then(|s| s.description.clone()),
            overwrite_dates: self.opts.overwrite_dates
                && planned.source == Some(DateSource::Sidecar),
        };
        let src = reader
            .open(e)
            .map_err(|err| failed(&err, format!("cannot open: {err}")))?;
        let src = Interruptible {
            inner: src,
            flag: &self.opts.cancel,
        };
        let mut opened = self.sniff(id, HashingReader::new(src), r)?;
        let copied = self.copy(&mut opened, &tags)?;
        if copied.src_len != e.size && e.crc32.is_some() {
            remove_temp(&copied.temp);
            return Err(Reason::Failed {
                kind: io::ErrorKind::InvalidData,
                message: format!("read {} bytes, the zip says {}", copied.src_len, e.size),
            });
        }
        let written = &copied.written;
        r.embedded = written.changed;
        r.notes.extend(written.notes.iter().cloned());

        // The one date of this file, decided once: it drives the mtime, the folder, the XMP,
        // the report and the manifest alike.
        dates.embedded = written
            .existing_date
            .and_then(|(d, off)| metadata::local_to_utc(d, off, &self.opts.timezone, tags.geo));
        let date = policy::effective_date(&dates, self.opts.overwrite_dates);
        if let Some(days) = policy::date_disagreement(&dates, &date) {
            r.notes.push(format!(
                "the file's own date taken differs from the sidecar's by {days} days; the \
                 file's was kept (use --overwrite-dates to replace it)"
            ));
        }
        r.taken = date.when;
        r.date_source = date.source;
        r.local_date = written.written_date.map(|d| d.to_rfc3339());
        let own_offset = written.existing_date.and_then(|(_, off)| off);
        let name: &str = name.get_or_insert_with(|| {
            let dir = policy::folder(
                self.opts.layout,
                &self.opts.timezone,
                date.when,
                tags.geo,
                own_offset,
            );
            self.out.reserve(&dir, &plan.wanted_name(id))
        });
        // Already in the output (another group, or an earlier run)?
        {
            let mut registry = self.registry.lock().expect("registry");
            if let Some(known) = registry.get(&copied.src_hash).cloned() {
                drop(registry);
                remove_temp(&copied.temp);
                self.mark_duplicate(id, copied.src_hash, &known, r);
                return Ok(());
            }
            let known = Known {
                path: name.to_string(),
                sidecar: plan.record(id).found.map(|m| m.sidecar),
            };
            registry.insert(copied.src_hash, known);
        }
        self.commit(id, opened.kind, name, &tags, date, copied, r)
    }

    /// Reads the first bytes of an entry and tells its type from them.
    fn sniff<R: Read>(
        &self,
        id: MediaId,
        mut src: HashingReader<R>,
        r: &mut MediaReport,
    ) -> Result<Opened<Hashed<R>>, Reason> {
        let mut head = Vec::with_capacity(32);
        (&mut src)
            .take(32)
            .read_to_end(&mut head)
            .map_err(|err| failed(&err, format!("cannot read: {err}")))?;
        let by_name = self.plan.record(id).by_name;
        let kind = match by_name {
            None => MediaKind::Unknown,
            by_name => resolve_kind(by_name, MediaKind::sniff(&head)),
        };
        r.kind = kind;
        if by_name.is_some_and(|k| k != kind) {
            r.notes.push(format!(
                "its content is {kind:?}, not what its extension says"
            ));
        }
        Ok(Opened {
            kind,
            src: Cursor::new(head).chain(src),
        })
    }

    /// Copies an opened entry to a temp file in the output folder (nowhere in a dry run),
    /// embedding `tags`, hashing what is read and what is written.
    fn copy<R: Read>(&self, opened: &mut Opened<Hashed<R>>, tags: &Tags) -> Result<Copied, Reason> {
        let temp = if self.opts.dry_run {
            None
        } else {
            Some(self.out.temp_file().map_err(|err| {
                self.note_fatal(&err);
                failed(&err, format!("cannot create a temp file: {err}"))
            })?)
        };
        let sink: Box<dyn Write> = match &temp {
            Some((_, f)) => Box::new(BufWriter::with_capacity(
                1 << 20,
                f.try_clone()
                    .map_err(|err| failed(&err, format!("cannot write: {err}")))?,
            )),
            None => Box::new(io::sink()),
        };
        let mut dst = HashingWriter::new(sink);
        let copied = metadata::rewrite(
            opened.kind,
            &mut opened.src,
            &mut dst,
            tags,
            &self.opts.timezone,
        )
        .and_then(|w| dst.flush().map(|_| w));
        let written = match copied {
            Ok(w) => w,
            Err(err) => {
                remove_temp(&temp);
                self.note_fatal(&err);
                return Err(io_reason(&err));
            }
        };
        let (src_hash, src_len) = opened.src.get_ref().1.finish();
        let (_, out_hash, out_len) = dst.finish();
        Ok(Copied {
            temp,
            written,
            src_hash,
            src_len,
            out_hash,
            out_len,
        })
    }

    /// Puts a copied file in place under `name`, with its XMP sidecar and manifest line.
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        id: MediaId,
        kind: MediaKind,
        name: &str,
        tags: &Tags,
        date: DateChoice,
        copied: Copied,
        r: &mut MediaReport,
    ) -> Result<(), Reason> {
        let sidecar = self.plan.usable_sidecar(id);
        // Order matters for a crash at any point: the XMP sidecar first, then the manifest
        // line, then the photo appears under its name. A line whose file never appeared is
        // ignored on load; an XMP sidecar left without its photo is taken over by the rerun.
        let xmp = self.write_xmp(id, kind, name, tags, date.when, &copied.written, r);
        let line = manifest::Line {
            hash: hash::hex(copied.src_hash),
            path: name.to_string(),
            xmp: xmp.clone(),
            size: Some(copied.src_len),
            output_hash: Some(hash::hex(copied.out_hash)),
            output_size: Some(copied.out_len),
            taken: date.when,
            date_source: date.source,
            gps: if r.embedded { tags.geo } else { None },
            sources: vec![source_key(self.plan.entry(id))],
            albums: r.album.clone().into_iter().collect(),
            archived: sidecar.is_some_and(|s| s.archived),
            retracted: false,
        };
        if let Err(err) = self.manifest.append(&line) {
            r.notes.push(format!("manifest not updated: {err}"));
        }
        if let Some((tmp_path, file)) = copied.temp {
            if let Err(err) = self.out.commit(&tmp_path, file, name, date.when) {
                let _ = std::fs::remove_file(&tmp_path);
                if let Some(x) = &xmp {
                    let _ = std::fs::remove_file(self.out.root().join(x));
                    self.out.release(x);
                }
                self.registry
                    .lock()
                    .expect("registry")
                    .remove(&copied.src_hash);
                let retract = manifest::Line {
                    retracted: true,
                    ..line
                };
                let _ = self.manifest.append(&retract);
                self.note_fatal(&err);
                return Err(failed(&err, format!("cannot write {name}: {err}")));
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

    /// Writes `NAME.xmp` beside the output file when `--xmp` asks for it (see
    /// [`policy::xmp_wanted`]). Returns its name.
    #[allow(clippy::too_many_arguments)]
    fn write_xmp(
        &self,
        id: MediaId,
        kind: MediaKind,
        name: &str,
        tags: &Tags,
        taken: Option<i64>,
        written: &Written,
        r: &mut MediaReport,
    ) -> Option<String> {
        let sidecar = self.plan.usable_sidecar(id);
        let favorite = sidecar.is_some_and(|s| s.favorited);
        let people = sidecar.map(|s| s.people.clone()).unwrap_or_default();
        let wanted = policy::xmp_wanted(
            self.opts.xmp,
            metadata::embeds_fully(kind),
            written.incomplete,
            favorite,
            !people.is_empty(),
        );
        if !wanted {
            return None;
        }
        let local = written
            .written_date
            .or_else(|| taken.and_then(|t| self.opts.timezone.localize(t, tags.geo, None)));
        let data = XmpData {
            taken: local,
            geo: tags.geo,
            description: tags.description.clone(),
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

fn remove_temp(temp: &Option<(PathBuf, File)>) {
    if let Some((p, _)) = temp {
        let _ = std::fs::remove_file(p);
    }
}

fn failed(err: &io::Error, message: String) -> Reason {
    Reason::Failed {
        kind: err.kind(),
        message,
    }
}

/// A read error names the input's problem (corrupt data, bad CRC); a write error the output's.
fn io_reason(err: &io::Error) -> Reason {
    let message = match err.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            format!("corrupt data in the input: {err}")
        }
        _ => format!("{err}"),
    };
    failed(err, message)
}
