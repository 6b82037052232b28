//! The write stage's work on one entry: read once, its type told from its first bytes,
//! enriched with its metadata into a temp file in the output folder while both sides are
//! hashed, then put in place with its XMP sidecar and manifest line (see [`super`]).

use std::fs::File;
use std::io::{self, BufWriter, Cursor, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::dates::DateSource;
use crate::hash::{self, HashingReader, HashingWriter};
use crate::library::dir::Wish;
use crate::library::manifest;
use crate::metadata::media::{resolve_kind, MediaKind};
use crate::metadata::xmp::{self, XmpData};
use crate::metadata::{self, Tags, Written};
use crate::process::report::{MediaReport, Reason, Status, StopReason};
use crate::takeout::sidecar::Sidecar;
use crate::takeout::Reader;

use super::Writer;
use crate::process::plan::{source_key, MediaId, Subject};
use crate::process::policy::{self, DateCandidates, DateChoice};

/// Fails reads once the run is stopped, so that a long copy ends within a moment (its temp
/// file is then removed). Not `ErrorKind::Interrupted`: `io::copy` would retry that.
pub(super) struct Interruptible<'f, R> {
    pub(super) inner: R,
    pub(super) flag: &'f AtomicBool,
}

impl<R: Read> Read for Interruptible<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.flag.load(Ordering::Relaxed) {
            return Err(io::Error::other(StopReason::Interrupted.to_string()));
        }
        self.inner.read(buf)
    }
}

/// The largest read buffer of an entry (larger reads, the copy's, bypass it).
const MAX_READ_BUFFER: u64 = 64 * 1024;

/// The read buffer of an entry of `size` bytes: the whole entry when it is small.
fn read_buffer(size: u64) -> usize {
    size.clamp(64, MAX_READ_BUFFER) as usize
}

/// Room in an output file's write buffer for what metadata adds to it.
const WRITE_SLACK: u64 = 64 * 1024;
/// The largest write buffer (large files are written in pieces of this size).
const MAX_WRITE_BUFFER: u64 = 1 << 20;

/// An entry's bytes: its first bytes (read to tell its type), then the rest, hashed.
pub(super) type Hashed<R> = io::Chain<Cursor<Vec<u8>>, HashingReader<R>>;

/// An entry opened for reading, its type known from its first bytes.
pub(super) struct Opened<R> {
    pub(super) kind: MediaKind,
    pub(super) src: R,
}

/// A copy's temp file in the output folder.
pub(super) enum Temp {
    /// Open, as written.
    Open(PathBuf, File),
    /// Closed with its times set, waiting for its name (see [`Parked`]).
    Closed(PathBuf),
}

impl Temp {
    pub(super) fn path(&self) -> &std::path::Path {
        match self {
            Temp::Open(p, _) | Temp::Closed(p) => p,
        }
    }

    /// Puts the file in place under `name`, or the next free name (see
    /// [`OutputDir::commit`]); an open one gets its times (`mtime`) first. The name it got.
    ///
    /// [`OutputDir::commit`]: crate::library::dir::OutputDir::commit
    pub(super) fn commit(
        self,
        writer: &Writer<'_>,
        name: &str,
        mtime: Option<i64>,
    ) -> io::Result<String> {
        match self {
            Temp::Open(p, file) => writer.out.commit(&p, file, name, mtime),
            Temp::Closed(p) => writer.out.commit_closed(&p, name),
        }
    }
}

/// Where a copy went: the temp file (none in a dry run) and what was written.
pub(super) struct Copied {
    pub(super) temp: Option<Temp>,
    pub(super) written: Written,
    pub(super) src_hash: u128,
    pub(super) src_len: u64,
    pub(super) out_hash: u128,
    pub(super) out_len: u64,
}

/// Reads one entry once, writes it (or finds it is a duplicate); its report line. `name`
/// is the output path reserved for it, if one was; otherwise one is reserved once its date
/// is known, or, with `pause`, the entry stops there as [`Step::Unnamed`] (its temp file
/// written) for the caller to name it and [`finish`] it. A name that ends up unused is given
/// back.
pub(super) fn write_one(
    writer: &Writer<'_>,
    reader: &mut Reader,
    id: MediaId,
    name: Option<String>,
    pause: bool,
) -> Step {
    let mut r = writer.plan.base_report(id);
    match stage(writer, reader, id, &mut r) {
        Err(reason) => Step::Done(failure(writer, r, reason, name)),
        // Its content in the output already: a duplicate now, its temp file gone (a file
        // that waits keeps its temp file until its name comes).
        Ok(staged) if name.is_none() && pause && !writer.holds(staged.copied.src_hash) => {
            match staged.park(writer) {
                Ok(staged) => {
                    let wish = Some(Wish::new(&staged.dir, &staged.wanted));
                    Step::Unnamed(Box::new(Unnamed {
                        id,
                        staged,
                        r,
                        wish,
                    }))
                }
                Err(err) => {
                    writer.note_fatal(&err);
                    let reason = failed(
                        &err,
                        format!("cannot finish writing it: {}", crate::words::io_error(&err)),
                    );
                    Step::Done(failure(writer, r, reason, None))
                }
            }
        }
        Ok(staged) => Step::Done(finish_staged(writer, id, staged, name, r)),
    }
}

/// What [`write_one`] got to. (Most entries end `Done`: that line is not boxed.)
#[allow(clippy::large_enum_variant)]
pub(super) enum Step {
    /// The entry's report line.
    Done(MediaReport),
    /// Read and written to its temp file, waiting for a name.
    Unnamed(Box<Unnamed>),
}

/// An entry read and written to its temp file (closed: many may wait at once), its date and
/// folder decided, waiting for its name.
pub(super) struct Unnamed {
    id: MediaId,
    staged: Staged<Parked>,
    r: MediaReport,
    /// The name it wants, worked out while it was read (in parallel).
    wish: Option<Wish>,
}

impl Unnamed {
    /// The hash of what was read.
    pub(super) fn content(&self) -> u128 {
        self.staged.copied.copied().src_hash
    }

    /// The name it wants in the folder it goes to (once).
    pub(super) fn take_wish(&mut self) -> Option<Wish> {
        self.wish.take()
    }
}

/// Finishes an [`Unnamed`] entry under `name` (reserved for it, if one was: `None` when its
/// content was known to be in the output already); its report line.
pub(super) fn finish(writer: &Writer<'_>, unnamed: Unnamed, name: Option<String>) -> MediaReport {
    let Unnamed { id, staged, r, .. } = unnamed;
    finish_staged(writer, id, staged.unpark(), name, r)
}

/// A [`Copied`] whose temp file is closed, its times set, while it waits for its name: many
/// may wait at once, more than the open files a process may have.
pub(super) struct Parked(Copied);

impl Parked {
    /// Closes `copied`'s temp file, its times set to `mtime` (removed if that fails).
    fn of(writer: &Writer<'_>, mut copied: Copied, mtime: Option<i64>) -> io::Result<Parked> {
        if let Some(Temp::Open(path, file)) = copied.temp.take() {
            if let Err(err) = writer.out.close_temp(file, mtime) {
                let _ = std::fs::remove_file(&path);
                return Err(err);
            }
            copied.temp = Some(Temp::Closed(path));
        }
        Ok(Parked(copied))
    }

    /// What was read and written.
    pub(super) fn copied(&self) -> &Copied {
        &self.0
    }
}

fn finish_staged(
    writer: &Writer<'_>,
    id: MediaId,
    staged: Staged,
    name: Option<String>,
    mut r: MediaReport,
) -> MediaReport {
    let mut name = name;
    match try_finish(writer, id, staged, &mut name, &mut r) {
        Ok(()) => {
            if !matches!(r.status, Status::Written | Status::WrittenWithoutMetadata) {
                if let Some(n) = name {
                    writer.out.release(&n);
                }
            }
            r
        }
        Err(reason) => failure(writer, r, reason, name),
    }
}

/// The line of an entry that failed for `reason` (not attempted, when the run was stopped);
/// the name reserved for it given back.
fn failure(
    writer: &Writer<'_>,
    mut r: MediaReport,
    reason: Reason,
    name: Option<String>,
) -> MediaReport {
    r.status = Status::Failed;
    r.output = None;
    r.reason = Some(match writer.stopped() {
        Some(why @ StopReason::Interrupted) => Reason::NotAttempted(why),
        _ => reason,
    });
    if let Some(n) = name {
        writer.out.release(&n);
    }
    r
}

/// An entry (or a library file an update rewrites) read and written to its temp file, its
/// date and folder decided: what its commit needs.
pub(super) struct Staged<C = Copied> {
    pub(super) kind: MediaKind,
    pub(super) tags: Tags,
    pub(super) date: DateChoice,
    pub(super) copied: C,
    /// The folder its date puts it in, and the name it wants there.
    pub(super) dir: String,
    pub(super) wanted: String,
}

impl<C> Staged<C> {
    /// The same, its copy turned by `f` into another form.
    fn map<D, E>(self, f: impl FnOnce(C) -> Result<D, E>) -> Result<Staged<D>, E> {
        Ok(Staged {
            copied: f(self.copied)?,
            kind: self.kind,
            tags: self.tags,
            date: self.date,
            dir: self.dir,
            wanted: self.wanted,
        })
    }
}

impl Staged {
    /// Its temp file closed with its times set, to wait for its name (see [`Parked`]).
    pub(super) fn park(self, writer: &Writer<'_>) -> io::Result<Staged<Parked>> {
        let when = self.date.when;
        self.map(|copied| Parked::of(writer, copied, when))
    }
}

impl Staged<Parked> {
    /// Ready to be put in place, once named.
    pub(super) fn unpark(self) -> Staged {
        match self.map(|p| Ok::<_, std::convert::Infallible>(p.0)) {
            Ok(staged) => staged,
        }
    }
}

/// Reads an entry once into a temp file, embedding its metadata, and decides its date.
fn stage(
    writer: &Writer<'_>,
    reader: &mut Reader,
    id: MediaId,
    r: &mut MediaReport,
) -> Result<Staged, Reason> {
    let plan = writer.plan;
    let e = plan.entry(id);
    let subject = plan.subject(id);
    let mut dates = subject.dates();
    let tags = tags_for(writer, &subject);
    let src = reader.open(e).map_err(|err| {
        failed(
            &err,
            format!("cannot open: {}", crate::words::io_error(&err)),
        )
    })?;
    let src = Interruptible {
        inner: src,
        flag: &writer.opts.cancel,
    };
    // Through a buffer: the metadata readers ask for a few bytes at a time, and a zip
    // entry's decompressor asked for two bytes inflates them on its slow path.
    let src = io::BufReader::with_capacity(read_buffer(e.size), src);
    let mut opened = sniff(subject.by_name, HashingReader::new(src), r)?;
    let copied = copy(writer, &mut opened, &tags, e.size)?;
    if copied.src_len != e.size && e.crc32.is_some() {
        remove_temp(&copied.temp);
        return Err(Reason::Failed {
            kind: io::ErrorKind::InvalidData,
            message: format!("read {} bytes, the zip says {}", copied.src_len, e.size),
        });
    }
    let date = decide_date(writer, &mut dates, &copied.written, &tags, r);
    let dir = folder_for(writer, date, &copied.written, &tags);
    Ok(Staged {
        kind: opened.kind,
        tags,
        date,
        copied,
        dir,
        wanted: subject.wanted_name(),
    })
}

/// Puts a staged entry in the output under `name` (reserved now if none was), unless the
/// output holds its content already.
fn try_finish(
    writer: &Writer<'_>,
    id: MediaId,
    staged: Staged,
    name: &mut Option<String>,
    r: &mut MediaReport,
) -> Result<(), Reason> {
    let Staged {
        kind,
        tags,
        date,
        copied,
        dir,
        wanted,
    } = staged;
    if name.is_none() {
        // Its content in the output already: no name to reserve and give back.
        let known = writer.known(&writer.registry.lock().expect("registry"), copied.src_hash);
        if let Some(known) = known {
            remove_temp(&copied.temp);
            writer.mark_duplicate(id, copied.src_hash, &known, r);
            return Ok(());
        }
    }
    let name: &str = name.get_or_insert_with(|| writer.out.reserve(&dir, &wanted));
    // Already in the folder as a file of the user's own, under the name this one wanted?
    if let Some(theirs) = already_there(writer, &wanted, name, &copied) {
        remove_temp(&copied.temp);
        r.status = Status::InLibrary;
        r.notes.push(format!(
            "{ALREADY_THERE}: {theirs} has the same bytes, so no copy was made; that file \
             is yours and is left as it is"
        ));
        r.output = Some(theirs);
        return Ok(());
    }
    // Already in the output (another group, or an earlier run)?
    {
        let mut registry = writer.registry.lock().expect("registry");
        if let Some(known) = writer.known(&registry, copied.src_hash) {
            drop(registry);
            remove_temp(&copied.temp);
            writer.mark_duplicate(id, copied.src_hash, &known, r);
            return Ok(());
        }
        writer.remember(&mut registry, id, copied.src_hash, name);
    }
    commit(writer, id, kind, name, &tags, date, copied, r)
}

/// How the report names a photo found already in the folder, in a file gpbackup did not
/// write (see [`already_there`]).
pub(crate) const ALREADY_THERE: &str = "already in the folder (not gpbackup's)";

/// The file of the user's own (in the folder before this run, not in the manifest) under the
/// name this photo wanted, when it holds byte for byte what gpbackup would write (the source
/// itself when nothing is embedded): the same photo, not copied again as `NAME (2)`.
///
/// It is not recorded in the manifest: a manifest line would make it gpbackup's, for later
/// runs to rewrite (a sidecar that comes later) or move (another `--layout`), and the file is
/// the user's. So each run finds it again this way (one read of it, only when the names
/// collide and the sizes match), and `verify --against` still lists the photo as not in the
/// library: gpbackup vouches only for what it wrote.
///
/// The content's own copy of gpbackup's (an earlier run, another group) goes first: then this
/// photo is a duplicate of that, as before.
fn already_there(writer: &Writer<'_>, wanted: &str, name: &str, copied: &Copied) -> Option<String> {
    let first = policy::name_taken_from(name, wanted)?;
    // Empty files are each their own content (see `hash::empty`).
    if copied.out_len == 0
        || writer
            .known(&writer.registry.lock().expect("registry"), copied.src_hash)
            .is_some()
    {
        return None;
    }
    (writer
        .out
        .holds_same(&first, copied.out_len, copied.out_hash))
    .then_some(first)
}

/// What is embedded into a file: a sidecar's metadata; for a photo without one, the date in
/// its name where it has none of its own. When its sidecar comes in a later run, the file is
/// made again from its photo (see `plan::updates`), as one run over all parts would make it.
pub(super) fn tags_for(writer: &Writer<'_>, subject: &Subject) -> Tags {
    let planned = policy::planned_date(&subject.dates());
    match subject.sidecar {
        Some(s) => Tags {
            taken: planned.when,
            geo: s.geo(),
            description: s.embeddable_description(),
            overwrite_dates: writer.opts.overwrite_dates
                && planned.source == Some(DateSource::Sidecar),
            keep_camera_dates: writer.opts.keep_camera_dates
                || planned.source != Some(DateSource::Sidecar),
            geo_moved: s.extras().moved,
            name_date: None,
        },
        // A photo's name may hold its date: a photo manager that reads EXIF alone sorts it
        // by that then, not by the day it was imported (see `Tags::name_date`).
        None => Tags {
            name_date: subject
                .by_name
                .is_some_and(|k| !k.is_video())
                .then(|| crate::dates::from_file_name(subject.name))
                .flatten(),
            ..Tags::default()
        },
    }
}

/// The one date of a file, decided once its own date is known: it drives the mtime, the
/// folder, the XMP, the report and the manifest alike.
pub(super) fn decide_date(
    writer: &Writer<'_>,
    dates: &mut DateCandidates,
    written: &Written,
    tags: &Tags,
    r: &mut MediaReport,
) -> DateChoice {
    r.embedded = written.changed;
    r.notes.extend(written.notes.iter().cloned());
    dates.embedded = written
        .existing_date
        .and_then(|(d, off)| metadata::local_to_utc(d, off, &writer.opts.timezone, tags.geo));
    // A camera date the writer replaced by the one corrected in Google Photos.
    let replaced = written.camera_date.is_some();
    let date = policy::effective_date(dates, writer.opts.overwrite_dates || replaced);
    if let Some(days) = policy::date_disagreement(dates, &date) {
        r.camera_kept_days = Some(days);
        r.notes.push(format!(
            "the file's own date taken differs from the sidecar's by {days} days; the \
             file's was kept (use --overwrite-dates to replace it)"
        ));
    }
    r.taken = date.when;
    r.date_source = date.source;
    r.local_date = written.written_date.map(|d| d.to_rfc3339());
    r.camera_date = (written.camera_date).map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string());
    date
}

/// The layout folder of a file with this date, in the zone it was taken in (its own
/// offset first).
pub(super) fn folder_for(
    writer: &Writer<'_>,
    date: DateChoice,
    written: &Written,
    tags: &Tags,
) -> String {
    let own_offset = written.existing_date.and_then(|(_, off)| off);
    policy::folder(
        writer.opts.layout,
        &writer.opts.timezone,
        date.when,
        tags.geo,
        own_offset,
    )
}

/// Reads the first bytes of an entry and tells its type from them.
pub(super) fn sniff<R: Read>(
    by_name: Option<MediaKind>,
    mut src: HashingReader<R>,
    r: &mut MediaReport,
) -> Result<Opened<Hashed<R>>, Reason> {
    let mut head = Vec::with_capacity(32);
    // (The first read fills the entry's read buffer: damaged data shows here already, and
    // is named as such.)
    (&mut src)
        .take(32)
        .read_to_end(&mut head)
        .map_err(|err| match err.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => io_reason(&err),
            _ => failed(
                &err,
                format!("cannot read: {}", crate::words::io_error(&err)),
            ),
        })?;
    // A file of unknown type is told by its content too (an extensionless video half).
    let kind = resolve_kind(by_name, MediaKind::sniff(&head));
    r.kind = kind;
    if by_name.is_some_and(|k| k != kind) {
        r.notes.push(format!(
            "its content is {}, not what its extension says",
            kind.plain_name()
        ));
    }
    if kind == MediaKind::Unknown {
        r.notes
            .push("not a known photo or video type: copied unchanged".into());
    }
    Ok(Opened {
        kind,
        src: Cursor::new(head).chain(src),
    })
}

/// Copies an opened entry of `size` bytes to a temp file in the output folder (nowhere in
/// a dry run), embedding `tags`, hashing what is read and what is written.
pub(super) fn copy<R: Read>(
    writer: &Writer<'_>,
    opened: &mut Opened<Hashed<R>>,
    tags: &Tags,
    size: u64,
) -> Result<Copied, Reason> {
    let temp = if writer.opts.dry_run {
        None
    } else {
        let (path, file) = writer.out.temp_file().map_err(|err| {
            writer.note_fatal(&err);
            failed(
                &err,
                format!(
                    "cannot create a temp file: {}",
                    crate::words::io_error(&err)
                ),
            )
        })?;
        Some(Temp::Open(path, file))
    };
    // The write buffer fits the file (what metadata adds included), up to 1 MB: a small
    // file does not allocate and free a large one.
    let capacity = size.saturating_add(WRITE_SLACK).min(MAX_WRITE_BUFFER) as usize;
    let copied = {
        let sink: Box<dyn Write + '_> = match &temp {
            Some(Temp::Open(_, f)) => Box::new(BufWriter::with_capacity(capacity, f)),
            Some(Temp::Closed(_)) => unreachable!("a temp file being written is open"),
            None => Box::new(io::sink()),
        };
        let mut dst = HashingWriter::new(sink);
        metadata::rewrite(
            opened.kind,
            &mut opened.src,
            &mut dst,
            tags,
            &writer.opts.timezone,
        )
        .and_then(|w| dst.flush().map(|_| w))
        .map(|w| {
            let (_, out_hash, out_len) = dst.finish();
            (w, out_hash, out_len)
        })
    };
    let (written, out_hash, out_len) = match copied {
        Ok(w) => w,
        Err(err) => {
            remove_temp(&temp);
            writer.note_fatal(&err);
            return Err(io_reason(&err));
        }
    };
    let (src_hash, src_len) = opened.src.get_ref().1.finish();
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
    writer: &Writer<'_>,
    id: MediaId,
    kind: MediaKind,
    name: &str,
    tags: &Tags,
    date: DateChoice,
    copied: Copied,
    r: &mut MediaReport,
) -> Result<(), Reason> {
    let sidecar = writer.plan.usable_sidecar(id);
    // Order matters for a crash at any point: the XMP sidecar first, then the manifest
    // line, then the photo appears under its name. A line whose file never appeared is
    // ignored on load; an XMP sidecar left without its photo is taken over by the rerun.
    let xmp = write_xmp(
        writer,
        sidecar,
        kind,
        name,
        tags,
        date.when,
        &copied.written,
        r,
        None,
    );
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
        sources: vec![source_key(writer.plan.entry(id))],
        albums: (r.album.iter().cloned())
            .chain(r.special.map(String::from))
            .collect(),
        archived: sidecar.is_some_and(|s| s.archived()),
        retracted: false,
        no_sidecar: sidecar.is_none(),
        claim: writer.plan.claim(writer.plan.record(id).found),
        camera_date: (copied.written.camera_date)
            .map(|d| d.format("%Y:%m:%d %H:%M:%S").to_string()),
        stale: false,
        replacing: None,
        moved_from: None,
    };
    // The line goes first: a file in the library is always one the manifest records (a file
    // it does not would be taken for the user's own, and this one written again beside it).
    if let Err(err) = writer.manifest.append(&line) {
        remove_temp(&copied.temp);
        writer.note_fatal(&err);
        return Err(failed(
            &err,
            format!(
                "not written: the library's record of it could not be saved: {}",
                crate::words::io_error(&err)
            ),
        ));
    }
    let final_name = match copied.temp {
        Some(temp) => {
            let tmp_path = temp.path().to_path_buf();
            let renamed = temp.commit(writer, name, date.when);
            after_rename(
                writer,
                id,
                name,
                &tmp_path,
                renamed,
                line,
                copied.src_hash,
                &xmp,
            )?
        }
        None => name.to_string(),
    };
    r.status = if sidecar.is_some() {
        Status::Written
    } else {
        Status::WrittenWithoutMetadata
    };
    r.output = Some(final_name);
    r.xmp = xmp;
    Ok(())
}

/// Follows up the rename of a written file into place: when the name was taken meanwhile
/// by something else, the manifest line follows the file to the name it got; when the
/// rename failed, the temp file, its XMP sidecar and its manifest line are taken back.
/// Returns the file's final name.
#[allow(clippy::too_many_arguments)]
fn after_rename(
    writer: &Writer<'_>,
    id: MediaId,
    name: &str,
    tmp_path: &std::path::Path,
    renamed: io::Result<String>,
    line: manifest::Line,
    src_hash: u128,
    xmp: &Option<String>,
) -> Result<String, Reason> {
    match renamed {
        Ok(got) if got != name => {
            let moved = manifest::Line {
                path: got.clone(),
                ..line.clone()
            };
            let _ = writer.manifest.append(&moved);
            let _ = writer.manifest.append(&manifest::Line {
                retracted: true,
                ..line
            });
            writer.remember(
                &mut writer.registry.lock().expect("registry"),
                id,
                src_hash,
                &got,
            );
            Ok(got)
        }
        Ok(got) => Ok(got),
        Err(err) => {
            writer.note_fatal(&err);
            let _ = std::fs::remove_file(tmp_path);
            if let Some(x) = xmp {
                let _ = std::fs::remove_file(writer.out.root().join(x));
                writer.out.release(x);
            }
            writer.registry.lock().expect("registry").remove(src_hash);
            let retract = manifest::Line {
                retracted: true,
                ..line
            };
            let _ = writer.manifest.append(&retract);
            Err(failed(
                &err,
                format!("cannot write {name}: {}", crate::words::io_error(&err)),
            ))
        }
    }
}

/// Writes `NAME.xmp` beside the output file when `--xmp` asks for it (see
/// [`policy::xmp_wanted`]). Returns its name.
/// `own`: an XMP sidecar of ours that may be replaced (an update's).
#[allow(clippy::too_many_arguments)]
pub(super) fn write_xmp(
    writer: &Writer<'_>,
    sidecar: Option<&Sidecar>,
    kind: MediaKind,
    name: &str,
    tags: &Tags,
    taken: Option<i64>,
    written: &Written,
    r: &mut MediaReport,
    own: Option<&str>,
) -> Option<String> {
    let favorite = sidecar.is_some_and(|s| s.favorited());
    let people = sidecar.map(|s| s.people().to_vec()).unwrap_or_default();
    let long_description = sidecar.is_some_and(|s| s.description_xmp_only());
    // A caption the file's format does not hold (videos): the XMP sidecar carries it.
    let caption_elsewhere =
        tags.description.is_some() && !metadata::embeds_description(kind) && !long_description;
    let wanted = policy::xmp_wanted(
        writer.opts.xmp,
        metadata::embeds_fully(kind),
        // (A camera date the corrected one replaced is kept in the XMP too.)
        written.incomplete
            || long_description
            || caption_elsewhere
            || written.camera_date.is_some(),
        favorite,
        !people.is_empty(),
    );
    if long_description {
        r.notes.push(if wanted {
            "the description is too long for EXIF: it is in the XMP sidecar only".into()
        } else {
            "the description is too long for EXIF and --xmp never: it is not written".into()
        });
    }
    if caption_elsewhere {
        r.notes.push(if wanted {
            "the caption is in the XMP sidecar only (the file's format holds none)".into()
        } else {
            "the caption is not written: the file's format holds none, and --xmp never".into()
        });
    }
    if !wanted {
        return None;
    }
    let local = written
        .written_date
        .or_else(|| taken.and_then(|t| writer.opts.timezone.localize(t, tags.geo, None)));
    let data = XmpData {
        taken: local,
        geo: tags.geo,
        description: sidecar.and_then(|s| s.description().map(String::from)),
        rating: favorite.then_some(5),
        people,
        camera_date: written.camera_date,
    };
    let text = xmp::packet(&data)?;
    let xmp_name = format!("{name}.xmp");
    let replace = own == Some(xmp_name.as_str());
    if !writer.out.reserve_exact(&xmp_name) && !replace {
        // Left by an interrupted run for this very photo: keep it.
        let existing = std::fs::read(writer.out.root().join(&xmp_name));
        if existing.is_ok_and(|b| b == text.as_bytes()) {
            return Some(xmp_name);
        }
        r.notes.push(format!(
            "{xmp_name} exists already: XMP sidecar not written"
        ));
        return None;
    }
    if writer.opts.dry_run {
        return Some(xmp_name);
    }
    let result = writer.out.temp_file().and_then(|(tmp, mut f)| {
        f.write_all(text.as_bytes())?;
        let done = if replace {
            writer.out.replace_own_file(&tmp, f, &xmp_name, taken)
        } else {
            writer.out.commit_exact(&tmp, f, &xmp_name, taken)
        };
        done.inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    });
    match result {
        Ok(_) => Some(xmp_name),
        Err(err) => {
            if !replace {
                writer.out.release(&xmp_name);
            }
            r.notes.push(format!(
                "XMP sidecar not written: {}",
                crate::words::io_error(&err)
            ));
            None
        }
    }
}

pub(super) fn remove_temp(temp: &Option<Temp>) {
    if let Some(t) = temp {
        let _ = std::fs::remove_file(t.path());
    }
}

pub(super) fn failed(err: &io::Error, message: String) -> Reason {
    Reason::Failed {
        kind: err.kind(),
        message,
    }
}

/// A read error names the input's problem (corrupt data, bad CRC); a write error the output's.
pub(super) fn io_reason(err: &io::Error) -> Reason {
    let message = match err.kind() {
        io::ErrorKind::InvalidData => {
            format!("damaged data in the input ({err}): download the part it is in again")
        }
        io::ErrorKind::UnexpectedEof => {
            "the input ends inside it, probably an interrupted download: download the part it \
             is in again"
                .to_string()
        }
        _ => crate::words::io_error(err),
    };
    failed(err, message)
}
