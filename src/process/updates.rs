//! Later runs complete earlier ones: a library file an earlier run wrote without a sidecar
//! (its sidecar in a part not given then) is rewritten with the sidecar a later run finds.
//!
//! The plan side ([`plan_updates`]) chooses, for each such file, the best of its entries
//! that found a sidecar (as one run would choose the member of a duplicate group). The write
//! side ([`Writer::apply_update`]) reads the library file itself in place of its source: a
//! file written without a sidecar is its source byte for byte, which the manifest's hashes
//! prove while it is read. It goes through the normal writer into a temp file, and is put
//! where one run over all parts would have put it.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use crate::albums;
use crate::hash::{self, HashingReader};
use crate::manifest::{self, Manifest};
use crate::matcher::Match;
use crate::media::MediaKind;
use crate::names::key;
use crate::output::open_nofollow;
use crate::report::{MediaReport, Reason, Status};

use super::pairing::Extra;
use super::plan::{disk_order, in_library, split_entry_path, Disposition, MediaId, Plan, Update};
use super::policy::{self, MemberFacts, UpdateAction, UpdateFacts, XmpCleanup};
use super::write::{Known, Writer};
use super::write_file::{failed, remove_temp, Copied};
use super::Options;

/// One entry of a bare library file that found a sidecar this run.
struct Candidate {
    bare: usize,
    entry: String,
    source: String,
    found: Match,
    record: Option<MediaId>,
    rank: (bool, bool, bool, (usize, u64)),
}

/// Turns the sidecars found for remembered bare files (through this run's own records of
/// their entries, or through `extra`, their entries not among the inputs) into
/// [`Plan::updates`], one per file.
pub(super) fn plan_updates(
    plan: &mut Plan,
    opts: &Options,
    manifest: &Manifest,
    extra: Vec<(Extra, Option<Match>)>,
) {
    let by_path: HashMap<String, usize> = (plan.bare_files.iter().enumerate())
        .map(|(i, f)| (key(&f.line.path), i))
        .collect();
    let mut cands: Vec<Candidate> = Vec::new();
    for id in plan.ids() {
        let r = plan.record(id);
        let (Disposition::InLibrary, Some(found)) = (&r.disposition, r.found) else {
            continue;
        };
        let Some(path) = in_library(manifest, plan.entry(id)) else {
            continue;
        };
        if let Some(&bare) = by_path.get(&key(path)) {
            let e = plan.entry(id);
            cands.push(Candidate {
                bare,
                entry: e.path(),
                source: plan.catalog.describe(e),
                found,
                record: Some(id),
                rank: rank(plan, e.dir(), found, disk_order(e)),
            });
        }
    }
    for (k, (x, found)) in extra.into_iter().enumerate() {
        let (Some(found), Some(bare)) = (found, x.bare) else {
            continue;
        };
        let (dir, _) = split_entry_path(&x.source.entry);
        cands.push(Candidate {
            bare,
            source: format!("{} (from an earlier run)", x.source.entry),
            rank: rank(plan, dir, found, (usize::MAX, k as u64)),
            entry: x.source.entry,
            found,
            record: None,
        });
    }
    cands.sort_by_key(|c| (c.bare, c.rank));
    cands.dedup_by_key(|c| c.bare);
    for c in cands {
        let Ok(sidecar) = plan.sidecar(c.found.sidecar) else {
            continue;
        };
        let line = &plan.bare_files[c.bare].line;
        let facts = UpdateFacts {
            byte_for_byte: line.output_hash.as_deref() == Some(line.hash.as_str()),
            trashed: sidecar.trashed(),
            keep_trashed: opts.keep_trashed,
        };
        if policy::update_action(facts) == UpdateAction::Leave {
            continue;
        }
        let (dir, name) = split_entry_path(&c.entry);
        let (dir, name) = (dir.to_string(), name.to_string());
        let update = Update {
            bare: c.bare,
            by_name: match c.record {
                Some(id) => plan.record(id).by_name,
                None => MediaKind::from_name(&name),
            },
            name_date: plan.name_date(opts, &name, Some(c.found)),
            album: albums::album_title(&dir, &plan.albums),
            entry: c.entry,
            source: c.source,
            found: c.found,
            record: c.record,
        };
        if let Some(id) = c.record {
            plan.records[id.0].disposition =
                Disposition::Update(u32::try_from(plan.updates.len()).expect("under 4 billion"));
        }
        plan.updates.push(update);
    }
}

/// The duplicate-group ranking of an entry (see [`policy::member_rank`]).
fn rank(
    plan: &Plan,
    dir: &str,
    found: Match,
    order: (usize, u64),
) -> (bool, bool, bool, (usize, u64)) {
    policy::member_rank(&MemberFacts {
        usable_sidecar: plan.sidecar(found.sidecar).is_ok(),
        own_sidecar: !found.rule.is_shared(),
        in_year_folder: albums::is_year_folder(dir, &plan.albums),
        disk_order: order,
    })
}

impl Plan {
    /// The report line of an update before anything is read.
    pub fn update_report(&self, k: usize) -> MediaReport {
        let u = &self.updates[k];
        let mut r = match u.record {
            Some(id) => self.base_report(id),
            None => MediaReport {
                rule: Some(u.found.rule),
                sidecar: Some(self.describe_sidecar(u.found.sidecar)),
                album: u.album.clone(),
                ..MediaReport::new(u.source.clone(), u.by_name.unwrap_or(MediaKind::Unknown))
            },
        };
        if let Ok(s) = self.sidecar(u.found.sidecar) {
            if u.record.is_none() {
                r.notes
                    .extend(s.problems().iter().map(|p| format!("sidecar: {p}")));
            }
            r.gps = s.geo();
        }
        r
    }
}

impl Writer<'_> {
    /// Rewrites the library file of update `k` with its sidecar's metadata; its report line.
    pub(super) fn apply_update(&self, k: usize) -> MediaReport {
        let mut r = self.plan.update_report(k);
        let path = &self.plan.bare_files[self.plan.updates[k].bare].line.path;
        r.output = Some(path.clone());
        if let Some(why) = self.stopped() {
            r.reason = Some(Reason::NotAttempted(why));
            return r;
        }
        if let Err(reason) = self.try_update(k, &mut r) {
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
        r
    }

    fn try_update(&self, k: usize, r: &mut MediaReport) -> Result<(), Reason> {
        let plan = self.plan;
        let u = &plan.updates[k];
        let old = &plan.bare_files[u.bare].line;
        let subject = plan.update_subject(k);
        let tags = self.tags_for(&subject);
        let (kind, copied, before) = self.reread(old, subject.by_name, &tags, r)?;
        let mut dates = subject.dates();
        let date = self.decide_date(&mut dates, &copied.written, &tags, r);
        let dir = self.folder_for(date, &copied.written, &tags);
        let wanted = subject.wanted_name();
        let in_place = policy::update_in_place(&old.path, &dir, &wanted);
        let name = in_place
            .clone()
            .unwrap_or_else(|| self.out.reserve(&dir, &wanted));
        let own_xmp = old.xmp.as_deref().filter(|_| in_place.is_some());
        let xmp = self.write_xmp(
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
            no_sidecar: false,
            retracted: false,
            ..old.clone()
        };
        if let Err(err) = self.manifest.append(&line) {
            r.notes.push(format!("manifest not updated: {err}"));
        }
        let target = Target {
            name: &name,
            in_place: in_place.is_some(),
            xmp: xmp.as_deref(),
            mtime: date.when,
        };
        let final_name = self.put_in_place(old, &line, copied.temp, &target, &before)?;
        if final_name != old.path && !self.opts.dry_run {
            self.move_away(old, &final_name, r);
        }
        if let (XmpCleanup::Remove(x), false) = (
            policy::xmp_cleanup(old.xmp.as_deref(), xmp.as_deref()),
            self.opts.dry_run,
        ) {
            if in_place.is_some() {
                let _ = std::fs::remove_file(self.out.root().join(&x));
            }
        }
        self.settle(copied.src_hash, u.found.sidecar, &old.path, &final_name);
        r.status = Status::Updated;
        r.output = Some(final_name);
        r.xmp = xmp;
        r.notes.push(format!(
            "written by an earlier run without a sidecar; updated with {}",
            r.sidecar.clone().unwrap_or_default()
        ));
        Ok(())
    }

    /// What the rest of the run needs to know of a file updated (and perhaps moved).
    fn settle(&self, src_hash: u128, sidecar: usize, old: &str, new: &str) {
        let known = Known {
            path: new.into(),
            sidecar: Some(super::write::sidecar_number(sidecar)),
            earlier: true,
        };
        self.registry
            .lock()
            .expect("registry")
            .insert(src_hash, known);
        if new != old {
            let mut moved = self.moved.lock().expect("moved");
            moved.push((old.to_string(), new.to_string()));
        }
    }

    /// Reads the library file of `old` back through the normal writer (embedding `tags` into
    /// a temp file), and checks it is our own file, unchanged since it was written: then it
    /// is its source, byte for byte. Its type, the copy, and its metadata as opened.
    fn reread(
        &self,
        old: &manifest::Line,
        by_name: Option<MediaKind>,
        tags: &crate::metadata::Tags,
        r: &mut MediaReport,
    ) -> Result<(MediaKind, Copied, std::fs::Metadata), Reason> {
        let full = self.out.root().join(&old.path);
        let file = open_nofollow(&full, OpenOptions::new().read(true))
            .map_err(|err| failed(&err, format!("cannot open: {err}")))?;
        let before = file
            .metadata()
            .map_err(|err| failed(&err, format!("cannot read: {err}")))?;
        let src = io::BufReader::with_capacity(1 << 20, file);
        let mut opened = self.sniff(by_name, HashingReader::new(src), r)?;
        let copied = self.copy(&mut opened, tags, before.len())?;
        if Some(hash::hex(copied.src_hash)) != old.output_hash
            || Some(copied.src_len) != old.output_size
        {
            remove_temp(&copied.temp);
            return Err(Reason::other("it was changed since it was written"));
        }
        Ok((opened.kind, copied, before))
    }

    /// Puts the updated temp file in place: over the old file (after checking nobody wrote to
    /// it meanwhile), or under its new name. On failure the old file stays, and its line
    /// stands again. The name the file got.
    fn put_in_place(
        &self,
        old: &manifest::Line,
        line: &manifest::Line,
        temp: Option<(PathBuf, File)>,
        target: &Target,
        before: &std::fs::Metadata,
    ) -> Result<String, Reason> {
        let name = target.name;
        let Some((tmp, file)) = temp else {
            return Ok(name.to_string()); // a dry run
        };
        let put = if !target.in_place {
            self.out.commit(&tmp, file, name, target.mtime)
        } else if unchanged_since(&self.out.root().join(&old.path), before) {
            let done = self.replace_own_file(&tmp, file, name, target.mtime);
            done.map(|_| name.to_string())
        } else {
            Err(io::Error::other("it was changed while it was read"))
        };
        let err = match put {
            Ok(got) => return Ok(got),
            Err(err) => err,
        };
        self.note_fatal(&err);
        let _ = std::fs::remove_file(&tmp);
        let undo = if target.in_place {
            old.clone()
        } else {
            self.out.release(name);
            if let Some(x) = target.xmp.filter(|x| Some(*x) != old.xmp.as_deref()) {
                let _ = std::fs::remove_file(self.out.root().join(x));
                self.out.release(x);
            }
            manifest::Line {
                retracted: true,
                ..line.clone()
            }
        };
        let _ = self.manifest.append(&undo);
        Err(failed(&err, format!("{err}")))
    }

    /// Once the updated file is in its new place: the old file and its XMP sidecar removed,
    /// and the old line retracted (after the removal: a crash between leaves two good files,
    /// each with its line, rather than a file without one).
    fn move_away(&self, old: &manifest::Line, new: &str, r: &mut MediaReport) {
        let root = self.out.root();
        if let Err(err) = std::fs::remove_file(root.join(&old.path)) {
            r.notes.push(format!(
                "{} could not be removed after the move: {err}",
                old.path
            ));
            return;
        }
        if let Some(x) = &old.xmp {
            let _ = std::fs::remove_file(root.join(x));
        }
        let retract = manifest::Line {
            retracted: true,
            ..old.clone()
        };
        let _ = self.manifest.append(&retract);
        r.notes.push(format!("moved from {} to {new}", old.path));
    }

    /// Puts a temp file in place of gpbackup's own file `name`, replacing it. This is the
    /// one rename that replaces: `name` is a file this run has just read and found to be
    /// exactly what the manifest says gpbackup wrote there (or its XMP sidecar), the output
    /// folder is locked against other gpbackup runs, and the rename is atomic, so the file
    /// is at every moment either the old or the new version, never a mix or gone.
    pub(super) fn replace_own_file(
        &self,
        tmp: &Path,
        file: File,
        name: &str,
        mtime: Option<i64>,
    ) -> io::Result<()> {
        if let Some(t) = mtime {
            let ft = filetime::FileTime::from_unix_time(t, 0);
            filetime::set_file_handle_times(&file, Some(ft), Some(ft))?;
        }
        if self.opts.sync {
            file.sync_all()?;
        }
        drop(file);
        let dest = self.out.root().join(name);
        if std::fs::symlink_metadata(&dest).is_ok_and(|m| !m.is_file()) {
            return Err(io::Error::other(format!("{name} is not a file")));
        }
        std::fs::rename(tmp, &dest)?;
        if self.opts.sync {
            if let Some(dir) = dest.parent() {
                crate::output::sync_dir(dir)?;
            }
        }
        Ok(())
    }
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
