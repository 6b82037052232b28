//! The write side of a later run completing or correcting an earlier one (see
//! `crate::process::plan::updates`): the file's source bytes are read (the library file
//! itself when the manifest's hashes prove it is its source byte for byte; else an entry of
//! this run with the same content, after checking the library file is still as written), go
//! through the normal writer into a temp file, and are put where one run over everything
//! would have put them. A file whose source bytes are not among the inputs is marked `stale`.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use crate::hash::{self, HashingReader};
use crate::library::fs::open_nofollow;
use crate::library::manifest;
use crate::metadata::media::MediaKind;
use crate::process::plan::{UpdateFrom, UpdateId};
use crate::process::report::{MediaReport, Reason, Status};
use crate::takeout::{self, Catalog, Entry};

use super::file::{self, failed, remove_temp, Copied, Temp};
use super::{Known, Writer};
use crate::process::policy::{self, XmpCleanup};

/// Why an update is not made.
enum NotMade {
    /// The library file is not as gpbackup wrote it: the user's now, left alone (not a
    /// failure).
    Changed,
    /// Reading or writing failed.
    Failed(Reason),
}

impl From<Reason> for NotMade {
    fn from(reason: Reason) -> NotMade {
        NotMade::Failed(reason)
    }
}

/// Rewrites the library file of update `k` (or marks it for a later run); its report line,
/// or, for a file that moves to a name not reserved yet, the file read and waiting for that
/// name (see [`finish_move`]).
pub(super) fn apply_update(writer: &Writer<'_>, k: UpdateId) -> UpdateStep {
    let mut r = writer.plan.update_report(k);
    let u = writer.plan.update(k);
    let path = &writer.plan.open_file(u.file).line.path;
    r.output = Some(path.clone());
    if u.from == UpdateFrom::Deferred {
        defer(writer, k, &mut r);
        return UpdateStep::Done(r);
    }
    if let Some(why) = writer.stopped() {
        r.reason = Some(Reason::NotAttempted(why));
        return UpdateStep::Done(r);
    }
    match try_update(writer, k, &mut r) {
        Ok(Some(staged)) => UpdateStep::Moving(Box::new(Moving { k, staged, r })),
        Ok(None) => UpdateStep::Done(r),
        Err(why) => UpdateStep::Done(not_made(writer, k, why, r)),
    }
}

/// What [`apply_update`] got to. (Most updates end `Done`: that line is not boxed.)
#[allow(clippy::large_enum_variant)]
pub(super) enum UpdateStep {
    Done(MediaReport),
    Moving(Box<Moving>),
}

/// An update whose file moves (another folder or name), read and written to its temp file
/// (closed), waiting for its new name.
pub(super) struct Moving {
    k: UpdateId,
    staged: Staged<file::Parked>,
    r: MediaReport,
}

impl Moving {
    /// The folder it moves to and the name it wants there.
    pub(super) fn wants(&self) -> (&str, &str) {
        (&self.staged.file.dir, &self.staged.file.wanted)
    }
}

/// Moves the file of a [`Moving`] update to `name` (reserved for it); its report line.
pub(super) fn finish_move(writer: &Writer<'_>, moving: Moving, name: String) -> MediaReport {
    let Moving { k, staged, mut r } = moving;
    let staged = Staged {
        file: staged.file.unpark(),
        before: staged.before,
    };
    let result = place(writer, k, staged, name, false, &mut r);
    match result {
        Ok(()) => r,
        Err(why) => not_made(writer, k, why, r),
    }
}

/// The report line of an update not made.
fn not_made(writer: &Writer<'_>, k: UpdateId, why: NotMade, mut r: MediaReport) -> MediaReport {
    let path = &writer.plan.open_file(writer.plan.update(k).file).line.path;
    match why {
        NotMade::Changed => {
            r.status = Status::InLibrary;
            r.notes.push(format!(
                "{path} left as it is: it was changed since gpbackup wrote it (it is yours \
                 now; to get gpbackup's copy, move it out of the folder and run again)"
            ));
        }
        NotMade::Failed(reason) => {
            r.status = Status::Failed;
            r.output = Some(path.clone());
            r.reason = Some(match reason {
                Reason::Failed { kind, message } => Reason::Failed {
                    kind,
                    message: format!("{path} not updated with its sidecar: {message}"),
                },
                other => other,
            });
        }
    }
    r
}

/// Marks the library file of update `k` `stale` in the manifest (unless it is already, or
/// the run is a dry run): every later run looks at it again until one rewrites it.
pub(super) fn mark_stale(writer: &Writer<'_>, k: UpdateId) -> io::Result<()> {
    let old = &writer.plan.open_file(writer.plan.update(k).file).line;
    if old.stale || writer.opts.dry_run {
        return Ok(());
    }
    writer.manifest.append(&manifest::Line {
        stale: true,
        ..old.clone()
    })
}

/// A file to rewrite whose source bytes are not among the inputs: its line is marked
/// `stale`, so that every later run looks at it again, and its report line says what to do.
fn defer(writer: &Writer<'_>, k: UpdateId, r: &mut MediaReport) {
    let u = writer.plan.update(k);
    let old = &writer.plan.open_file(u.file).line;
    if let Err(err) = mark_stale(writer, k) {
        r.notes.push(format!(
            "manifest not updated: {}",
            crate::words::io_error(&err)
        ));
    }
    r.status = Status::InLibrary;
    r.deferred = true;
    r.notes.push(format!(
        "{} carries {}; its photo ({}) is not among this run's inputs: run again with the \
         part that holds it, and it is rewritten",
        old.path,
        if u.found.is_some() {
            "another sidecar than the one found now"
        } else {
            "the sidecar of another photo"
        },
        u.entry,
    ));
}

/// Reads the source of update `k`'s file through the writer into a temp file and decides
/// its date and place: put there at once when it stays where it is; else returned, to be
/// named (`Ok(None)` when there is nothing to rewrite).
fn try_update(
    writer: &Writer<'_>,
    k: UpdateId,
    r: &mut MediaReport,
) -> Result<Option<Staged<file::Parked>>, NotMade> {
    let plan = writer.plan;
    let u = plan.update(k);
    let old = &plan.open_file(u.file).line;
    if confirm_if_done(writer, old, r).is_some() {
        return Ok(None);
    }
    let subject = plan.update_subject(k);
    let tags = file::tags_for(writer, &subject);
    let (kind, copied, before) = match u.from {
        UpdateFrom::Input(id) => {
            let (catalog, e) = (&plan.catalog, plan.entry(id));
            from_input(writer, catalog, e, old, subject.by_name, &tags, r)?
        }
        UpdateFrom::Elsewhere(c, i) => {
            let catalog = &plan.elsewhere[c];
            r.notes.push(format!(
                "read again from {}, given to an earlier run",
                catalog.describe(catalog.entry(i))
            ));
            from_input(
                writer,
                catalog,
                catalog.entry(i),
                old,
                subject.by_name,
                &tags,
                r,
            )?
        }
        _ => reread(writer, old, subject.by_name, &tags, r)?,
    };
    let mut dates = subject.dates();
    let date = file::decide_date(writer, &mut dates, &copied.written, &tags, r);
    let dir = file::folder_for(writer, date, &copied.written, &tags);
    let wanted = subject.wanted_name();
    let in_place = policy::update_in_place(&old.path, &dir, &wanted);
    let staged = Staged {
        file: file::Staged {
            kind,
            tags,
            date,
            copied,
            dir,
            wanted,
        },
        before,
    };
    match in_place {
        Some(name) => place(writer, k, staged, name, true, r).map(|()| None),
        None => staged.park(writer).map(Some).map_err(|err| {
            writer.note_fatal(&err);
            NotMade::Failed(failed(&err, crate::words::io_error(&err)))
        }),
    }
}

/// An update's file read and written to its temp file, its date and folder decided.
struct Staged<C = Copied> {
    file: file::Staged<C>,
    /// The library file's metadata when it was opened.
    before: std::fs::Metadata,
}

impl Staged {
    /// Its temp file closed, to wait for its name (see [`file::Parked`]).
    fn park(self, writer: &Writer<'_>) -> io::Result<Staged<file::Parked>> {
        Ok(Staged {
            file: self.file.park(writer)?,
            before: self.before,
        })
    }
}

/// Puts the rewritten file of update `k` in place under `name`: over the old file
/// (`in_place`), or under its new name, the old one then removed.
fn place(
    writer: &Writer<'_>,
    k: UpdateId,
    staged: Staged,
    name: String,
    in_place: bool,
    r: &mut MediaReport,
) -> Result<(), NotMade> {
    let plan = writer.plan;
    let u = plan.update(k);
    let old = &plan.open_file(u.file).line;
    let subject = plan.update_subject(k);
    let Staged {
        file:
            file::Staged {
                kind,
                copied,
                tags,
                date,
                ..
            },
        before,
    } = staged;
    let own_xmp = old.xmp.as_deref().filter(|_| in_place);
    let xmp = file::write_xmp(
        writer,
        subject.sidecar,
        kind,
        &name,
        &tags,
        date.when,
        &copied.written,
        r,
        own_xmp,
    );
    let line = manifest::Line {
        path: name.clone(),
        xmp: xmp.clone(),
        output_hash: Some(hash::hex(copied.out_hash)),
        output_size: Some(copied.out_len),
        taken: date.when,
        date_source: date.source,
        gps: if r.embedded { tags.geo } else { None },
        archived: subject.sidecar.is_some_and(|s| s.archived()),
        no_sidecar: subject.sidecar.is_none(),
        retracted: false,
        claim: plan.claim(u.found),
        camera_date: (copied.written.camera_date)
            .map(|d| d.format("%Y:%m:%d %H:%M:%S").to_string()),
        stale: false,
        // Until a line without them follows, what a killed run may have left half done.
        replacing: in_place.then_some(()).and_then(|()| {
            Some(manifest::Prior {
                output_hash: old.output_hash.clone()?,
                output_size: old.output_size?,
            })
        }),
        moved_from: match (in_place, &old.output_hash) {
            (false, Some(h)) => Some(manifest::Moved {
                path: old.path.clone(),
                output_hash: h.clone(),
                xmp: old.xmp.clone(),
            }),
            _ => None,
        },
        ..old.clone()
    };
    if let Err(err) = writer.manifest.append(&line) {
        r.notes.push(format!(
            "manifest not updated: {}",
            crate::words::io_error(&err)
        ));
    }
    let target = Target {
        name: &name,
        in_place,
        xmp: xmp.as_deref(),
        mtime: date.when,
    };
    let final_name = put_in_place(writer, old, &line, copied.temp, &target, &before)?;
    let done = if final_name != old.path && !writer.opts.dry_run {
        move_away(writer, old, &final_name, r)
    } else {
        true
    };
    if done && !writer.opts.dry_run {
        let confirmed = manifest::Line {
            path: final_name.clone(),
            ..line.confirmed()
        };
        if let Err(err) = writer.manifest.append(&confirmed) {
            r.notes.push(format!(
                "manifest not updated: {}",
                crate::words::io_error(&err)
            ));
        }
    }
    if let (XmpCleanup::Remove(x), false) = (
        policy::xmp_cleanup(old.xmp.as_deref(), xmp.as_deref()),
        writer.opts.dry_run,
    ) {
        if in_place {
            let _ = std::fs::remove_file(writer.out.root().join(&x));
        }
    }
    let sidecar = u.found.map(|m| m.sidecar);
    settle(writer, copied.src_hash, sidecar, &old.path, &final_name);
    r.status = Status::Updated;
    r.output = Some(final_name);
    r.xmp = xmp;
    r.corrected = u.had;
    r.notes.push(match (u.had, &r.sidecar) {
        (false, s) => format!(
            "written by an earlier run without a sidecar; updated with {}",
            s.clone().unwrap_or_default()
        ),
        (true, Some(s)) => format!("corrected: it carried another sidecar than {s}"),
        (true, None) => "corrected: the sidecar it carried is another photo's, and it has \
                         none of its own"
            .to_string(),
    });
    Ok(())
}

/// What the rest of the run needs to know of a file updated (and perhaps moved).
fn settle(writer: &Writer<'_>, src_hash: u128, sidecar: Option<usize>, old: &str, new: &str) {
    let known = Known {
        path: new.into(),
        sidecar: sidecar.map(crate::process::write::sidecar_number),
        earlier: true,
    };
    writer
        .registry
        .lock()
        .expect("registry")
        .insert(src_hash, known);
    if new != old {
        let mut moved = writer.moved.lock().expect("moved");
        moved.push((old.to_string(), new.to_string()));
    }
}

/// Reads the library file of `old` back through the normal writer (embedding `tags` into
/// a temp file), and checks it is our own file, unchanged since it was written: then it
/// is its source, byte for byte. Its type, the copy, and its metadata as opened.
fn reread(
    writer: &Writer<'_>,
    old: &manifest::Line,
    by_name: Option<MediaKind>,
    tags: &crate::metadata::Tags,
    r: &mut MediaReport,
) -> Result<(MediaKind, Copied, std::fs::Metadata), NotMade> {
    let (file, before) = open_own(writer, old)?;
    let src = io::BufReader::with_capacity(1 << 20, file);
    let mut opened = file::sniff(by_name, HashingReader::new(src), r)?;
    let copied = file::copy(writer, &mut opened, tags, before.len())?;
    let read = (hash::hex(copied.src_hash), copied.src_len);
    if !is_ours(old, &read) || read.0 != old.hash {
        remove_temp(&copied.temp);
        return Err(NotMade::Changed);
    }
    Ok((opened.kind, copied, before))
}

/// Reads the source bytes of `old`'s file from the entry `e` of `catalog` through the normal
/// writer (embedding `tags` into a temp file), after checking the library file is still as
/// it was written (a file the user changed is theirs: left alone). The entry must hold the
/// file's source, byte for byte. Its type, the copy, and the library file's metadata.
fn from_input(
    writer: &Writer<'_>,
    catalog: &Catalog,
    e: &Entry,
    old: &manifest::Line,
    by_name: Option<MediaKind>,
    tags: &crate::metadata::Tags,
    r: &mut MediaReport,
) -> Result<(MediaKind, Copied, std::fs::Metadata), NotMade> {
    let (file, before) = open_own(writer, old)?;
    let (h, len) = hash::hash_stream(file).map_err(|err| {
        failed(
            &err,
            format!("cannot read: {}", crate::words::io_error(&err)),
        )
    })?;
    if !is_ours(old, &(hash::hex(h), len)) {
        return Err(NotMade::Changed);
    }
    let mut reader = catalog.reader(takeout::LARGE_BUFFER);
    let src = reader
        .open(e)
        .map_err(|err| failed(&err, format!("cannot open {}: {err}", e.path())))?;
    let mut opened = file::sniff(by_name, HashingReader::new(src), r)?;
    let copied = file::copy(writer, &mut opened, tags, e.size)?;
    if hash::hex(copied.src_hash) != old.hash {
        remove_temp(&copied.temp);
        return Err(
            Reason::other(format!("{} is not the photo of the library file", e.path())).into(),
        );
    }
    Ok((opened.kind, copied, before))
}

/// The library file of `old`, open to read (never through a link), and its metadata.
fn open_own(
    writer: &Writer<'_>,
    old: &manifest::Line,
) -> Result<(File, std::fs::Metadata), Reason> {
    let full = writer.out.root().join(&old.path);
    let file = open_nofollow(&full, OpenOptions::new().read(true)).map_err(|err| {
        failed(
            &err,
            format!("cannot open: {}", crate::words::io_error(&err)),
        )
    })?;
    let before = file.metadata().map_err(|err| {
        failed(
            &err,
            format!("cannot read: {}", crate::words::io_error(&err)),
        )
    })?;
    Ok((file, before))
}

/// Whether a library file of `(hash, size)` is as gpbackup wrote it for `line`: its content,
/// or the one a rewrite a killed run left unconfirmed replaces.
fn is_ours(line: &manifest::Line, (hash, size): &(String, u64)) -> bool {
    let written = line.output_hash.as_ref() == Some(hash) && line.output_size == Some(*size);
    let replaced =
        (line.replacing.as_ref()).is_some_and(|p| &p.output_hash == hash && p.output_size == *size);
    written || replaced
}

/// A rewrite a killed run made but did not confirm (its file is already what its line says):
/// confirmed now. `None` when it is not one (the rewrite is to be made).
fn confirm_if_done(writer: &Writer<'_>, old: &manifest::Line, r: &mut MediaReport) -> Option<()> {
    old.replacing.as_ref()?;
    let f = open_nofollow(
        &writer.out.root().join(&old.path),
        OpenOptions::new().read(true),
    )
    .ok()?;
    let (h, len) = hash::hash_stream(f).ok()?;
    if old.output_hash.as_deref() != Some(hash::hex(h).as_str()) || old.output_size != Some(len) {
        return None;
    }
    if !writer.opts.dry_run {
        if let Err(err) = writer.manifest.append(&old.confirmed()) {
            r.notes.push(format!(
                "manifest not updated: {}",
                crate::words::io_error(&err)
            ));
        }
    }
    r.status = Status::InLibrary;
    r.notes
        .push("rewritten by a run that was stopped; now confirmed".to_string());
    Some(())
}

/// Puts the updated temp file in place: over the old file (after checking nobody wrote to
/// it meanwhile), or under its new name. On failure the old file stays, and its line
/// stands again. The name the file got.
fn put_in_place(
    writer: &Writer<'_>,
    old: &manifest::Line,
    line: &manifest::Line,
    temp: Option<Temp>,
    target: &Target,
    before: &std::fs::Metadata,
) -> Result<String, Reason> {
    let name = target.name;
    let Some(temp) = temp else {
        return Ok(name.to_string()); // a dry run
    };
    let tmp = temp.path().to_path_buf();
    // (A file that moves waited for its name since it was read: it is checked too.)
    let put = if !unchanged_since(&writer.out.root().join(&old.path), before) {
        Err(io::Error::other("it was changed while it was read"))
    } else if !target.in_place {
        temp.commit(writer, name, target.mtime)
    } else {
        // (A file updated in place never waits for a name: its temp file is open.)
        let file = match temp {
            Temp::Open(_, file) => Ok(file),
            Temp::Closed(_) => OpenOptions::new().write(true).open(&tmp),
        };
        let done = file.and_then(|f| writer.out.replace_own_file(&tmp, f, name, target.mtime));
        done.map(|_| name.to_string())
    };
    let err = match put {
        Ok(got) => return Ok(got),
        Err(err) => err,
    };
    writer.note_fatal(&err);
    let _ = std::fs::remove_file(&tmp);
    let undo = if target.in_place {
        old.clone()
    } else {
        writer.out.release(name);
        if let Some(x) = target.xmp.filter(|x| Some(*x) != old.xmp.as_deref()) {
            let _ = std::fs::remove_file(writer.out.root().join(x));
            writer.out.release(x);
        }
        manifest::Line {
            retracted: true,
            ..line.clone()
        }
    };
    let _ = writer.manifest.append(&undo);
    Err(failed(&err, crate::words::io_error(&err)))
}

/// Once the updated file is in its new place: the old file and its XMP sidecar removed,
/// and the old line retracted (after the removal: a crash between leaves two good files,
/// each with its line, rather than a file without one; the next run finishes the move, see
/// `process::finish_interrupted_moves`). Whether the old file is gone.
fn move_away(writer: &Writer<'_>, old: &manifest::Line, new: &str, r: &mut MediaReport) -> bool {
    let root = writer.out.root();
    if let Err(err) = std::fs::remove_file(root.join(&old.path)) {
        r.notes.push(format!(
            "{} could not be removed after the move: {err}",
            old.path
        ));
        return false;
    }
    if let Some(x) = &old.xmp {
        let _ = std::fs::remove_file(root.join(x));
        writer.out.release(x);
    }
    let retract = manifest::Line {
        retracted: true,
        ..old.clone()
    };
    let _ = writer.manifest.append(&retract);
    // The name is free again for the photo one run would have given it (the file that
    // borrowed its sidecar, and its name's folder, may have had it).
    writer.out.release(&old.path);
    r.notes.push(format!("moved from {} to {new}", old.path));
    true
}

/// Where an updated file goes.
struct Target<'a> {
    name: &'a str,
    /// Over the old file (same path).
    in_place: bool,
    /// Its XMP sidecar, if one was written.
    xmp: Option<&'a str>,
    mtime: Option<i64>,
}

/// True when the file at `path` still has the size and modification time it had when it
/// was opened (nobody wrote to it while it was read).
fn unchanged_since(path: &Path, before: &std::fs::Metadata) -> bool {
    let Ok(now) = std::fs::symlink_metadata(path) else {
        return false;
    };
    now.is_file() && now.len() == before.len() && now.modified().ok() == before.modified().ok()
}

/// Finishes the moves a killed run left half done (see [`Line::moved_from`]): the file is at
/// its new path with its line; its old file, if still there and as gpbackup wrote it, is
/// removed (with its XMP sidecar) and its line retracted, and the move is confirmed. An old
/// file changed since is left as it is. Nothing is done on a dry run.
///
/// [`Line::moved_from`]: crate::library::manifest::Line::moved_from
pub fn finish_interrupted_moves(
    out: &crate::library::dir::OutputDir,
    manifest: &manifest::Manifest,
    moves: &[manifest::Line],
    dry_run: bool,
) -> io::Result<()> {
    for line in moves.iter().filter(|_| !dry_run) {
        let Some(m) = &line.moved_from else { continue };
        let old = out.root().join(&m.path);
        let ours = match open_nofollow(&old, OpenOptions::new().read(true)) {
            Ok(f) => hash::hash_stream(f).is_ok_and(|(h, _)| hash::hex(h) == m.output_hash),
            Err(e) if e.kind() == io::ErrorKind::NotFound => true,
            Err(_) => false,
        };
        if ours {
            match std::fs::remove_file(&old) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            if let Some(x) = m.xmp.as_ref().filter(|x| Some(*x) != line.xmp.as_ref()) {
                let _ = std::fs::remove_file(out.root().join(x));
                out.release(x);
            }
            out.release(&m.path);
            manifest.append(&manifest::Line {
                hash: line.hash.clone(),
                path: m.path.clone(),
                retracted: true,
                ..manifest::Line::default()
            })?;
        }
        manifest.append(&line.confirmed())?;
    }
    Ok(())
}
