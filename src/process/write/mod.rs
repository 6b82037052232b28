//! Stage 2, the write: each group of probably-identical entries is read once, its best member
//! enriched and written to the output folder (with its XMP sidecar and manifest line), the
//! others hashed and recorded as its duplicates. The only stage that writes media.

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::Mutex;

use rayon::prelude::*;

use crate::cli::Layout;
use crate::compact::{Span, Strings};
use crate::dates::DateSource;
use crate::hash;
use crate::library::dir::{OutputDir, Wish};
use crate::library::manifest::{self, Manifest};
use crate::process::report::{MediaLog, MediaReport, Reason, Status, StopReason};
use crate::takeout::matcher::{Match, Rule};
use crate::takeout::{self, Reader};

use crate::process::plan::{
    in_library, source_key, Disposition, Groups, MediaId, Plan, SidecarOrigin, UpdateId,
};
use crate::process::policy;
use crate::process::Options;
use file::io_reason;

pub(crate) mod file;
mod update;

pub use update::finish_interrupted_moves;

/// Groups written between two hand-overs of their report lines.
const BATCH_GROUPS: usize = 2048;

/// A group of more members than this is written alone, its lines handed over as they come
/// (see [`Writer::write_groups`]).
const LARGE_GROUP: usize = 4096;

/// A group to write, with the name reserved for it (when its folder is known before it is
/// read) and whether it is probably in the library already ([`Groups::in_library`]).
struct Named<'a> {
    group: &'a [MediaId],
    name: Option<String>,
    in_library: bool,
}

impl<'a> Named<'a> {
    /// The group's work, from its first member.
    fn work(self) -> GroupWork<'a> {
        GroupWork {
            group: self.group,
            next: 0,
            name: self.name,
            resolved: self.in_library,
        }
    }
}

/// Where the writing of a group stands.
struct GroupWork<'a> {
    group: &'a [MediaId],
    /// The member to do next.
    next: usize,
    /// The name reserved for the member to write, if one is.
    name: Option<String>,
    /// Whether the group's content is in the output (or probably is: see [`Named`]), so
    /// that the next zip member is only hashed.
    resolved: bool,
}

/// Report lines of a group, with their records.
type Lines = Vec<(MediaId, MediaReport)>;

/// A group stopped for its member's name (see [`Writer::write_group_with`]).
type Paused<'a> = (GroupWork<'a>, Box<file::Unnamed>);

/// What the write stage did: every record's line handed to the log, and why it stopped
/// early, if it did.
pub struct Outcome {
    pub log: MediaLog,
    /// (old path, new path) of library files an update moved.
    pub moved: Vec<(String, String)>,
    pub stopped: Option<StopReason>,
}

/// A content already in the output: its path, and the sidecar its metadata came from
/// (32 bytes and the path: one per file written, held to the end of the run).
#[derive(Debug, Clone)]
pub(super) struct Known {
    pub(super) path: Box<str>,
    /// Index into the plan's sidecars.
    pub(super) sidecar: Option<u32>,
    /// Written by an earlier run (known from the manifest).
    pub(super) earlier: bool,
}

/// Content hash → a file this run put in the output (where, and the sidecar its metadata came
/// from), for the duplicates found later in the run. One per file written, so compact: the
/// paths in one string, a table entry 32 bytes with its key.
#[derive(Default)]
pub(super) struct Registry {
    files: HashMap<u128, Stored>,
    paths: Strings,
}

/// A [`Known`] as the registry holds it.
#[derive(Clone, Copy)]
struct Stored {
    /// Where its path is in [`Registry::paths`].
    path: Span,
    /// Index into the plan's sidecars; `u32::MAX` for none.
    sidecar: u32,
    earlier: bool,
}

impl Registry {
    pub(super) fn with_capacity(files: usize) -> Registry {
        Registry {
            files: HashMap::with_capacity(files),
            paths: Strings::default(),
        }
    }

    pub(super) fn get(&self, h: u128) -> Option<Known> {
        let s = self.files.get(&h)?;
        Some(Known {
            path: self.paths.get(s.path).into(),
            sidecar: (s.sidecar != u32::MAX).then_some(s.sidecar),
            earlier: s.earlier,
        })
    }

    pub(super) fn insert(&mut self, h: u128, known: Known) {
        let stored = Stored {
            path: self.paths.push(&known.path),
            sidecar: known.sidecar.unwrap_or(u32::MAX),
            earlier: known.earlier,
        };
        self.files.insert(h, stored);
    }

    /// Forgets `h` (its path stays in the string: a failed write is rare).
    pub(super) fn remove(&mut self, h: u128) {
        self.files.remove(&h);
    }
}

/// Which written contents the [`Registry`] must keep: those another group of this run may
/// hold too ("crossing" groups), and those of groups of several members (the members after
/// the first are checked against the first one's content). A group is the entries of one
/// (size, CRC-32), so the same content is in two groups only when one has a CRC-32 and the
/// other none (a file of an extracted folder) and their sizes are equal. A Takeout of zips
/// alone, or of folders alone, so keeps only the groups of several members, not one entry
/// per file written (at a million entries, 50 MB of table and paths).
pub(super) struct Recurring {
    /// By [`MediaId`]: [`NOT_KEPT`], [`KEPT`] or [`CROSSING`].
    kept: Vec<u8>,
    /// How many groups are kept (room made at once for them).
    groups: usize,
}

const NOT_KEPT: u8 = 0;
const KEPT: u8 = 1;
const CROSSING: u8 = 2;

impl Recurring {
    /// `content` gives a record's size and CRC-32; `records` is how many records there are.
    pub(super) fn of(
        groups: &Groups,
        content: impl Fn(MediaId) -> (u64, Option<u32>),
        records: usize,
    ) -> Recurring {
        let sizes = |with_crc: bool| -> HashSet<u64> {
            groups
                .iter()
                .map(|g| content(g[0]))
                .filter(|(_, crc)| crc.is_some() == with_crc)
                .map(|(size, _)| size)
                .collect()
        };
        let without_crc = sizes(false);
        // Groups with a CRC-32 matter only when some have none (mostly, none have).
        let with_crc = if without_crc.is_empty() {
            HashSet::new()
        } else {
            sizes(true)
        };
        let mut r = Recurring {
            kept: vec![NOT_KEPT; records],
            groups: 0,
        };
        for g in groups.iter() {
            let (size, crc) = content(g[0]);
            let other_side = if crc.is_some() {
                &without_crc
            } else {
                &with_crc
            };
            let kept = if other_side.contains(&size) {
                CROSSING
            } else if g.len() > 1 {
                KEPT
            } else {
                continue;
            };
            r.groups += 1;
            for id in g {
                r.kept[id.0] = kept;
            }
        }
        r
    }

    /// Whether record `id`'s content is kept once written.
    pub(super) fn keeps(&self, id: MediaId) -> bool {
        self.kept.get(id.0).is_none_or(|&k| k != NOT_KEPT)
    }

    /// Whether another group may hold record `id`'s content.
    pub(super) fn crosses(&self, id: MediaId) -> bool {
        self.kept.get(id.0).is_none_or(|&k| k == CROSSING)
    }
}

/// A batch's groups as units of work for the threads, each with its place in the batch:
/// every group alone, but those another group may duplicate (`crossing_size` is `Some`)
/// together by size, in the batch's order (one content has one size). A unit is written in
/// its order, so that of two groups with one content the first is the one written, under the
/// name it reserved, whatever the thread timing.
fn units_of_work<T>(
    items: Vec<T>,
    crossing_size: impl Fn(&T) -> Option<u64>,
) -> Vec<Vec<(usize, T)>> {
    let mut units: Vec<Vec<(usize, T)>> = Vec::with_capacity(items.len());
    let mut by_size: HashMap<u64, usize> = HashMap::new();
    for (k, item) in items.into_iter().enumerate() {
        let Some(size) = crossing_size(&item) else {
            units.push(vec![(k, item)]);
            continue;
        };
        let unit = *by_size.entry(size).or_insert_with(|| {
            units.push(Vec::new());
            units.len() - 1
        });
        units[unit].push((k, item));
    }
    units
}

/// A sidecar's index as [`Known::sidecar`] holds it.
pub(super) fn sidecar_number(index: usize) -> u32 {
    u32::try_from(index).expect("under 4 billion sidecars")
}

/// The write stage's state: the plan (read-only), the output, and what is in it.
pub(super) struct Writer<'a> {
    pub(super) opts: &'a Options,
    pub(super) plan: &'a Plan,
    pub(super) out: &'a OutputDir,
    pub(super) manifest: &'a Manifest,
    /// Content hash → output path, for what this run wrote or updated; the manifest has the
    /// rest (see [`Writer::known`]).
    pub(super) registry: Mutex<Registry>,
    /// Which contents the registry keeps once written.
    pub(super) recurring: Recurring,
    pub(super) progress: &'a crate::process::Progress,
    /// Why the run stops early (disk full), for the records not yet done.
    pub(super) stop: Mutex<Option<StopReason>>,
    /// (old path, new path) of library files an update moved.
    pub(super) moved: Mutex<Vec<(String, String)>>,
}

/// Writes every record the plan says to write; accounts for the others. Each record's line
/// goes to `log` as soon as it is done (in batches), never held for the whole run.
pub fn run(
    opts: &Options,
    plan: &Plan,
    out: &OutputDir,
    manifest: &Manifest,
    progress: &crate::process::Progress,
    log: MediaLog,
) -> Outcome {
    // Room for every file this run may write, made at once (see `OutputDir::expect_names`).
    out.expect_names(plan.groups.len());
    let content = |id| {
        let e = plan.entry(id);
        (e.size, e.crc32)
    };
    let recurring = Recurring::of(&plan.groups, content, plan.records.len());
    let w = Writer {
        opts,
        plan,
        out,
        manifest,
        registry: Mutex::new(Registry::with_capacity(
            recurring.groups + plan.updates.len(),
        )),
        recurring,
        progress,
        stop: Mutex::new(None),
        moved: Mutex::new(Vec::new()),
    };
    let mut done = Done {
        log,
        claimed: vec![false; plan.sidecars.len()],
        held_back: HashSet::new(),
    };
    w.apply_updates(&mut done);
    let moved = w.moved.lock().expect("moved").clone();
    done.log.set_moved(&moved);
    for id in plan.ids() {
        if let Some(r) = w.not_written(id) {
            w.hand_over(&mut done, id, r);
        }
    }
    // The sidecars are recorded before the files that take them are written, as taken by
    // those that are to be written (a run stopped anywhere after this leaves them recorded:
    // a later part's photo finds its sidecar); those whose file then fails are recorded
    // again, free, after the writes.
    let mut recorded: Vec<Option<bool>> = plan.sidecars.iter().map(|s| s.recorded).collect();
    let expected = w.expected_claims(&done.claimed);
    w.record_sidecars(&expected, &done.held_back, &mut recorded);
    crate::process::trace_memory("sidecars recorded");
    if w.stopped().is_none() {
        w.write_groups(&mut done);
    } else {
        w.not_attempted(&mut done);
    }
    let claimed = std::mem::take(&mut done.claimed);
    w.record_sidecars(&claimed, &done.held_back, &mut recorded);
    let stopped = w.stopped();
    Outcome {
        log: done.log,
        moved,
        stopped,
    }
}

/// The lines handed over so far, and the sidecars their files took.
struct Done {
    log: MediaLog,
    claimed: Vec<bool>,
    /// Sidecars of corrections that failed or were not made: not recorded, so that the next
    /// run sees them as new and tries again.
    held_back: HashSet<usize>,
}

impl Done {
    /// A sidecar is taken by the file that found it by its own name once that file is in
    /// the library (or left out on purpose): one whose file failed is still free for the
    /// retry (as is one for a file not corrected yet: its photo was not there), one shared
    /// (edited copy, Live Photo video) is never taken, and one found by its title stays free
    /// for the photo whose name it has (see [`Rule::is_weak`]).
    ///
    /// [`Rule::is_weak`]: crate::takeout::matcher::Rule::is_weak
    fn claim(&mut self, found: Option<Match>, r: &MediaReport) {
        match found {
            Some(m)
                if !m.rule.is_shared()
                    && !m.rule.is_weak()
                    && r.status != Status::Failed
                    && !r.deferred =>
            {
                self.claimed[m.sidecar] = true;
            }
            _ => {}
        }
    }
}

impl Writer<'_> {
    /// Library files that get their sidecar now, before anything new is written, so that a
    /// new duplicate of one names its final path.
    fn apply_updates(&self, done: &mut Done) {
        let plan = self.plan;
        // (`None` for a moving file's line until it is moved.)
        let mut lines: Vec<(UpdateId, Option<MediaReport>)> =
            Vec::with_capacity(plan.updates.len());
        for first in (0..plan.updates.len()).step_by(BATCH_GROUPS) {
            let batch = first..(first + BATCH_GROUPS).min(plan.updates.len());
            let steps: Vec<update::UpdateStep> = batch
                .into_par_iter()
                .map(|k| update::apply_update(self, UpdateId::of(k)))
                .collect();
            // A file that moves gets its new name once read, in update order (as a new file
            // does in group order, see `write_run`), whatever the thread timing.
            let mut moving = Vec::new();
            for (k, step) in (first..).zip(steps) {
                match step {
                    update::UpdateStep::Done(r) => lines.push((UpdateId::of(k), Some(r))),
                    update::UpdateStep::Moving(m) => {
                        let (dir, wanted) = m.wants();
                        let name = self.out.reserve(dir, wanted);
                        moving.push((lines.len(), m, name));
                        lines.push((UpdateId::of(k), None));
                    }
                }
            }
            let moved: Vec<(usize, MediaReport)> = moving
                .into_par_iter()
                .map(|(at, m, name)| (at, update::finish_move(self, *m, name)))
                .collect();
            for (at, r) in moved {
                lines[at].1 = Some(r);
            }
        }
        for (k, r) in lines {
            let r = r.expect("every update has its line");
            let u = plan.update(k);
            if r.status == Status::Failed {
                // Tried again by the next run: the file is marked, its sidecar left new.
                let _ = update::mark_stale(self, k);
                done.held_back.extend(u.found.map(|m| m.sidecar));
            }
            match u.record {
                Some(id) => self.hand_over(done, id, r),
                None => {
                    done.claim(u.found, &r);
                    done.log.push(r);
                }
            }
        }
    }

    /// Writes the duplicate groups, in parallel, handing their lines over per batch.
    fn write_groups(&self, done: &mut Done) {
        let plan = self.plan;
        let readers: Vec<Mutex<Reader>> = (0..rayon::current_num_threads())
            .map(|_| Mutex::new(plan.catalog.reader(takeout::LARGE_BUFFER)))
            .collect();
        // The lines of the run of groups written last, handed over while the next run is
        // written.
        let mut pending = Vec::new();
        for first in (0..plan.groups.len()).step_by(BATCH_GROUPS) {
            let batch = first..(first + BATCH_GROUPS).min(plan.groups.len());
            // Names are reserved here, a batch at a time in group order, so that collisions
            // are numbered the same way on every run whatever the thread timing. A file whose
            // folder depends on a date only its own bytes hold gets its name once it is read.
            // (The folders and wanted names are found in parallel, the names reserved in
            // order.)
            let wanted: Vec<(&[MediaId], bool, Option<Wish>)> = batch
                .into_par_iter()
                .map(|k| {
                    let group = plan.groups.get(k);
                    let in_library = plan.groups.in_library(k);
                    // None for a group probably in the library (it gets one if it is not).
                    let wanted = (!in_library)
                        .then(|| self.planned_folder(group[0]))
                        .flatten()
                        .map(|dir| Wish::new(&dir, &plan.wanted_name(group[0])));
                    (group, in_library, wanted)
                })
                .collect();
            let named = wanted.into_iter().map(|(group, in_library, wanted)| Named {
                group,
                name: wanted.map(|wish| self.out.reserve_wish(wish)),
                in_library,
            });
            // Groups are written in parallel by runs of ordinary ones; a group of more
            // members than LARGE_GROUP (a content in a zip a million times over) is written
            // alone between them, its lines handed over as they come: a group's lines are
            // otherwise held until it is done. Runs and large groups go in group order.
            let mut run = Vec::new();
            for n in named {
                if n.group.len() > LARGE_GROUP {
                    self.write_run(std::mem::take(&mut run), &readers, done, &mut pending);
                    self.hand_over_all(done, std::mem::take(&mut pending));
                    let mut reader = readers[0].lock().unwrap_or_else(|p| p.into_inner());
                    // (Alone, so it reserves its name in order without pausing.)
                    let _ = self.write_group_with(&mut reader, n.work(), false, |id, r| {
                        self.hand_over(done, id, r)
                    });
                } else {
                    run.push(n);
                }
            }
            self.write_run(run, &readers, done, &mut pending);
        }
        self.hand_over_all(done, pending);
    }

    /// Writes a run of groups in parallel while the lines of the run before (`pending`) are
    /// handed over; leaves its own lines in `pending`, in group order.
    fn write_run(
        &self,
        named: Vec<Named>,
        readers: &[Mutex<Reader>],
        done: &mut Done,
        pending: &mut Vec<(MediaId, MediaReport)>,
    ) {
        if named.is_empty() {
            return;
        }
        let units = units_of_work(named, |n| self.crossing_size(n.group));
        let before = std::mem::take(pending);
        // Each group is written until a member needs a name its own bytes decide (its folder
        // is that of its own date): that member waits in its temp file.
        let ((), mut written) = rayon::join(
            || self.hand_over_all(done, before),
            || {
                units
                    .into_par_iter()
                    .flat_map_iter(|unit| {
                        unit.into_iter().map(|(k, n)| {
                            let mut lines = Vec::with_capacity(n.group.len());
                            let paused = self.with_reader(readers, |reader| {
                                self.write_group_with(reader, n.work(), true, |id, r| {
                                    lines.push((id, r))
                                })
                            });
                            (k, lines, paused)
                        })
                    })
                    .collect::<Vec<_>>()
            },
        );
        written.sort_unstable_by_key(|(k, _, _)| *k);
        // Then the waiting ones get their names, in group order, so that collisions are
        // numbered the same way whatever the thread timing; and their groups go on, each to
        // its next member that waits for a name (a group of files of one size from a folder
        // holds many contents), round after round.
        let mut seen = HashSet::new();
        let mut waiting: Vec<(usize, Paused)> = (written.iter_mut())
            .filter_map(|(k, _, paused)| Some((*k, paused.take()?)))
            .collect();
        while !waiting.is_empty() {
            let named: Vec<(usize, Paused, Option<String>)> = waiting
                .into_iter()
                .map(|(k, mut paused)| {
                    let name = self.name_waiting(&mut paused.1, &mut seen);
                    (k, paused, name)
                })
                .collect();
            let crossing_size =
                |w: &(usize, Paused, Option<String>)| self.crossing_size(w.1 .0.group);
            let resumed: Vec<(usize, Lines, Option<Paused>)> = units_of_work(named, crossing_size)
                .into_par_iter()
                .flat_map_iter(|unit| {
                    unit.into_iter().map(|(_, (k, paused, name))| {
                        let mut lines = Vec::new();
                        let again = self.with_reader(readers, |reader| {
                            self.resume_group(reader, paused, name, |id, r| lines.push((id, r)))
                        });
                        (k, lines, again)
                    })
                })
                .collect();
            waiting = Vec::new();
            for (k, lines, again) in resumed {
                written[k].1.extend(lines);
                waiting.extend(again.map(|p| (k, p)));
            }
            waiting.sort_unstable_by_key(|(k, _)| *k);
        }
        pending.extend(written.into_iter().flat_map(|(_, l, _)| l));
    }

    /// The size of a group's content when another group may hold it too (see
    /// [`units_of_work`]).
    fn crossing_size(&self, group: &[MediaId]) -> Option<u64> {
        let first = group[0];
        self.recurring
            .crosses(first)
            .then(|| self.plan.entry(first).size)
    }

    /// Runs `f` with this thread's reader. A panic while a reader was held (caught in
    /// [`Writer::write_group_with`]) leaves it usable: every entry is opened afresh.
    fn with_reader<T>(&self, readers: &[Mutex<Reader>], f: impl FnOnce(&mut Reader) -> T) -> T {
        let slot = rayon::current_thread_index().unwrap_or(0) % readers.len();
        let mut reader = readers[slot].lock().unwrap_or_else(|p| p.into_inner());
        f(&mut reader)
    }

    /// Hands over finished lines, in their order (see [`Writer::hand_over`]).
    fn hand_over_all(&self, done: &mut Done, lines: Vec<(MediaId, MediaReport)>) {
        for (id, r) in lines {
            self.hand_over(done, id, r);
        }
    }

    /// Hands a record's finished line to the log, with what it settles: its sidecar (see
    /// [`Done::claim`]) and, when it was not written, its manifest line.
    fn hand_over(&self, done: &mut Done, id: MediaId, r: MediaReport) {
        done.claim(self.plan.record(id).found, &r);
        self.record_unwritten(id, &r);
        done.log.push(r);
    }

    /// Records in the manifest an entry not written (failed, left out on purpose), for
    /// `verify --against`. One that a later run writes is found there by its line.
    fn record_unwritten(&self, id: MediaId, r: &MediaReport) {
        let status = match r.status {
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            _ => return,
        };
        let record = manifest::Unwritten {
            source: source_key(self.plan.entry(id)),
            status: status.into(),
            reason: r
                .reason
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        };
        let _ = self.manifest.append_unwritten(&record);
    }

    /// Records in the manifest the sidecars this run read (what they say), and which a media
    /// file took by its own name (`claimed`), so that later runs can use them without their
    /// part: a sidecar whose photo comes later, or one an edited copy or a Live Photo video
    /// shares.
    ///
    /// `recorded`: what the manifest holds of each sidecar (`Some(claimed)`), updated with
    /// what is recorded now; a sidecar is recorded again only when its claim changed. A
    /// record that cannot be written (a full disk) stops the run.
    fn record_sidecars(
        &self,
        claimed: &[bool],
        held_back: &HashSet<usize>,
        recorded: &mut [Option<bool>],
    ) {
        let plan = self.plan;
        let mut claimed = claimed.to_vec();
        for &s in &plan.waiting_claims {
            claimed[s] = true;
        }
        // A chunk at a time: the records of a whole run are never held at once.
        const CHUNK: usize = 4096;
        let chunks = plan.sidecars.chunks(CHUNK).zip(claimed.chunks(CHUNK));
        for (c, (sidecars, claimed)) in chunks.enumerate() {
            let before = &recorded[c * CHUNK..c * CHUNK + sidecars.len()];
            let records: Vec<(usize, manifest::SidecarRecord)> = sidecars
                .par_iter()
                .zip(claimed)
                .enumerate()
                .filter(|(i, _)| !held_back.contains(&(c * CHUNK + i)))
                .filter_map(|(i, (s, &now))| {
                    let parsed = s.parsed.as_ref().ok()?;
                    let claimed = now || s.recorded == Some(true);
                    if before[i] == Some(claimed) {
                        return None;
                    }
                    let (source, from, export) = match &s.origin {
                        SidecarOrigin::Entry(i) => {
                            let e = plan.catalog.entry(*i);
                            let export = plan.catalog.export_of(e);
                            (source_key(e), plan.catalog.describe(e), export)
                        }
                        SidecarOrigin::Earlier(e) => (e.source.clone(), e.from.clone(), e.export),
                    };
                    Some((
                        i,
                        manifest::SidecarRecord {
                            source,
                            from,
                            export,
                            data: crate::process::stored::store(parsed),
                            claimed,
                        },
                    ))
                })
                .collect();
            let (done, records): (Vec<usize>, Vec<manifest::SidecarRecord>) =
                records.into_iter().unzip();
            if let Err(err) = self.manifest.append_sidecars(&records) {
                self.note_fatal(&err);
                return;
            }
            for (i, r) in done.into_iter().zip(&records) {
                recorded[c * CHUNK + i] = Some(r.claimed);
            }
        }
    }

    /// The sidecars taken once every record to write is written: those taken so far
    /// (`claimed`), and each found by its own name by a record to write (see
    /// [`Done::claim`]).
    fn expected_claims(&self, claimed: &[bool]) -> Vec<bool> {
        let plan = self.plan;
        let mut expected = claimed.to_vec();
        for id in plan.ids() {
            let record = plan.record(id);
            if !matches!(record.disposition, Disposition::Write) {
                continue;
            }
            if let Some(m) = record.found {
                if !m.rule.is_shared() && !m.rule.is_weak() {
                    expected[m.sidecar] = true;
                }
            }
        }
        expected
    }

    /// Every record to write, not attempted: the run stopped before the writes.
    fn not_attempted(&self, done: &mut Done) {
        let Some(why) = self.stopped() else { return };
        for k in 0..self.plan.groups.len() {
            for &id in self.plan.groups.get(k) {
                let mut r = self.plan.base_report(id);
                r.reason = Some(Reason::NotAttempted(why));
                self.hand_over(done, id, r);
            }
        }
    }

    /// The report line of a record that is not written by this stage (skipped, or already in
    /// the library); `None` for those it writes.
    fn not_written(&self, id: MediaId) -> Option<MediaReport> {
        let plan = self.plan;
        // (The base report names the entry: made only for the lines this returns.)
        let r = match &plan.record(id).disposition {
            Disposition::Write | Disposition::Update(_) => return None,
            Disposition::Skip(why) => MediaReport {
                status: Status::Skipped,
                reason: Some(Reason::Skipped(*why)),
                ..plan.base_report(id)
            },
            Disposition::InLibrary => {
                let mut r = MediaReport {
                    status: Status::InLibrary,
                    output: in_library(self.manifest, plan.entry(id)).map(str::to_string),
                    ..plan.base_report(id)
                };
                r.notes
                    .push("already in the output from an earlier run".into());
                r
            }
        };
        self.progress.file_done(plan.entry(id).size);
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
    pub(super) fn stopped(&self) -> Option<StopReason> {
        if self.opts.stop_requested() {
            return Some(StopReason::Interrupted);
        }
        *self.stop.lock().expect("stop lock")
    }

    /// Stops the run when an error means that no further file can be written.
    pub(super) fn note_fatal(&self, err: &io::Error) {
        if crate::words::disk_full(err) {
            let mut stop = self.stop.lock().expect("stop lock");
            stop.get_or_insert(StopReason::DiskFull);
        }
    }

    /// Processes a group of probably-identical entries, best first, from member `work.next`
    /// on: a report line per member, given to `emit` as it is done. With `pause`, a member
    /// whose name is not reserved yet stops the group once it is read (see
    /// [`file::Step::Unnamed`]): the group's state and that member are returned, for
    /// [`Writer::resume_group`] once it has a name.
    fn write_group_with<'g>(
        &self,
        reader: &mut Reader,
        mut work: GroupWork<'g>,
        pause: bool,
        mut emit: impl FnMut(MediaId, MediaReport),
    ) -> Option<(GroupWork<'g>, Box<file::Unnamed>)> {
        while let Some(&id) = work.group.get(work.next) {
            work.next += 1;
            let e = self.plan.entry(id);
            // A bug (a panic in a parser or writer) fails this file alone, by its name.
            let step = guarded(|| {
                if let Some(why) = self.stopped() {
                    let mut r = self.plan.base_report(id);
                    r.reason = Some(Reason::NotAttempted(why));
                    file::Step::Done(r)
                } else if let Some(r) = (work.resolved && e.crc32.is_some())
                    .then(|| self.hash_only(reader, id))
                    .flatten()
                {
                    // Once one member's bytes are in the output, a zip member with the same
                    // CRC-32 is only hashed to confirm it is the same photo (`None`: it is not).
                    file::Step::Done(r)
                } else {
                    let step = file::write_one(self, reader, id, work.name.take(), pause);
                    if let file::Step::Done(r) = &step {
                        work.resolved |= r.status != Status::Failed;
                    }
                    step
                }
            })
            .unwrap_or_else(|why| {
                let mut r = self.plan.base_report(id);
                r.reason = Some(why);
                file::Step::Done(r)
            });
            self.progress.file_done(e.size);
            match step {
                file::Step::Done(r) => emit(id, r),
                file::Step::Unnamed(u) => return Some((work, u)),
            }
        }
        if let Some(name) = work.name.take() {
            self.out.release(&name);
        }
        None
    }

    /// Finishes a group [`Writer::write_group_with`] paused: its member waiting under `name`
    /// (`None`: its content is in the output already), then the rest of the group, up to its
    /// next member that waits for a name (returned, as `write_group_with` does).
    fn resume_group<'g>(
        &self,
        reader: &mut Reader,
        (mut work, unnamed): Paused<'g>,
        name: Option<String>,
        mut emit: impl FnMut(MediaId, MediaReport),
    ) -> Option<Paused<'g>> {
        let id = work.group[work.next - 1];
        let r = guarded(|| file::finish(self, *unnamed, name)).unwrap_or_else(|why| {
            let mut r = self.plan.base_report(id);
            r.reason = Some(why);
            r
        });
        work.resolved |= r.status != Status::Failed;
        emit(id, r);
        self.write_group_with(reader, work, true, emit)
    }

    /// The name of an entry that waited for one ([`file::Unnamed`]), reserved in group order:
    /// none when its content is in the output already, or in an entry named before it in
    /// this run (`seen`), which it duplicates.
    fn name_waiting(
        &self,
        unnamed: &mut file::Unnamed,
        seen: &mut HashSet<u128>,
    ) -> Option<String> {
        let h = unnamed.content();
        let known = h != hash::empty() && (!seen.insert(h) || self.holds(h));
        let wish = unnamed.take_wish().filter(|_| !known)?;
        Some(self.out.reserve_wish(wish))
    }

    /// Hashes an entry without writing it. Its report line when it duplicates something in
    /// the output or cannot be read; `None` when its content is new.
    fn hash_only(&self, reader: &mut Reader, id: MediaId) -> Option<MediaReport> {
        let mut r = self.plan.base_report(id);
        // Stopped within a moment, as a copy is (a video may take seconds to hash).
        let hashed = reader.open(self.plan.entry(id)).and_then(|src| {
            hash::hash_stream(file::Interruptible {
                inner: src,
                flag: &self.opts.cancel,
            })
        });
        let h = match hashed {
            Ok((h, _)) => h,
            Err(err) => {
                r.reason = Some(match self.stopped() {
                    Some(why @ StopReason::Interrupted) => Reason::NotAttempted(why),
                    _ => io_reason(&err),
                });
                return Some(r);
            }
        };
        let known = self.known(&self.registry.lock().expect("registry"), h)?;
        let planned = policy::planned_date(&self.plan.date_candidates(id));
        r.taken = planned.when;
        r.date_source = planned.source;
        self.mark_duplicate(id, h, &known, &mut r);
        Some(r)
    }

    /// What the output holds with content hash `h`: this run's record of it, else the
    /// manifest's (a file of an earlier run). `registry` is the locked registry.
    /// Never for an empty file ([`hash::empty`]).
    pub(super) fn known(&self, registry: &Registry, h: u128) -> Option<Known> {
        if h == hash::empty() {
            return None;
        }
        if let Some(k) = registry.get(h) {
            return Some(k);
        }
        Some(Known {
            path: self.manifest.path_for_id(h)?.into(),
            sidecar: None,
            earlier: true,
        })
    }

    /// Whether the output holds content `h` (see [`Writer::known`]).
    pub(super) fn holds(&self, h: u128) -> bool {
        self.known(&self.registry.lock().expect("registry"), h)
            .is_some()
    }

    /// Remembers that output file `path` now holds content `hash`, the file of record `id`
    /// (with the sidecar its metadata came from), when another group of this run may need
    /// it ([`Recurring`]). `registry` is the locked registry.
    pub(super) fn remember(&self, registry: &mut Registry, id: MediaId, hash: u128, path: &str) {
        if self.recurring.keeps(id) {
            let known = Known {
                path: path.into(),
                sidecar: self
                    .plan
                    .record(id)
                    .found
                    .map(|m| sidecar_number(m.sidecar)),
                earlier: false,
            };
            registry.insert(hash, known);
        }
    }

    /// Records `r` as a duplicate of `known`. A copy without a sidecar of its own (an album
    /// copy) takes the sidecar of its twin: that is the metadata its content carries.
    pub(super) fn mark_duplicate(&self, id: MediaId, h: u128, known: &Known, r: &mut MediaReport) {
        r.status = if known.earlier {
            Status::InLibrary
        } else {
            Status::Duplicate
        };
        r.output = Some(known.path.to_string());
        if let (None, Some(s)) = (self.plan.record(id).found, known.sidecar) {
            let s = s as usize;
            r.rule = Some(Rule::AlbumTwin);
            r.tried.clear();
            r.sidecar = Some(self.plan.describe_sidecar(s));
            if let Ok(twin) = self.plan.sidecar(s) {
                if r.date_source != Some(DateSource::Exif) && twin.taken().is_some_and(|t| t != 0) {
                    r.taken = twin.taken();
                    r.date_source = Some(DateSource::Sidecar);
                }
                r.gps = twin.geo();
            }
        }
        let e = self.plan.entry(id);
        let line = manifest::Line {
            hash: hash::hex(h),
            path: known.path.to_string(),
            sources: vec![source_key(e)],
            albums: (self.plan.record(id).album.iter())
                .map(|a| a.to_string())
                .chain(self.plan.special_album(id).map(String::from))
                .collect(),
            no_sidecar: self.plan.usable_sidecar(id).is_none(),
            ..manifest::Line::default()
        };
        // The manifest only speeds up later runs: a failed append loses nothing.
        let _ = self.manifest.append(&line);
    }
}

/// Runs `f`, turning a panic into a failure reason (the file's temp file, if any, is cleared
/// by the next run), so that a bug costs one file, not the run.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, Reason> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        Reason::other(format!(
            "internal error (a bug in gpbackup, please report it): {what}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_gives_back_what_it_was_given() {
        assert_eq!(std::mem::size_of::<(u128, Stored)>(), 32);
        let mut r = Registry::with_capacity(2);
        let known = |path: &str, sidecar, earlier| Known {
            path: path.into(),
            sidecar,
            earlier,
        };
        let got = |r: &Registry, h| r.get(h).map(|k| (k.path.to_string(), k.sidecar, k.earlier));
        r.insert(1, known("2019/IMG_1.jpg", Some(7), false));
        r.insert(2, known("IMG_2 (2).jpg", None, true));
        r.insert(3, known("", Some(0), false));
        assert_eq!(got(&r, 1), Some(("2019/IMG_1.jpg".into(), Some(7), false)));
        assert_eq!(got(&r, 2), Some(("IMG_2 (2).jpg".into(), None, true)));
        assert_eq!(got(&r, 3), Some(("".into(), Some(0), false)));
        assert_eq!(got(&r, 4), None);
        r.remove(2);
        assert_eq!(got(&r, 2), None);
        assert_eq!(got(&r, 1), Some(("2019/IMG_1.jpg".into(), Some(7), false)));
        // The same content again (an update moving a file): the new place wins.
        r.insert(1, known("2020/IMG_1.jpg", Some(7), true));
        assert_eq!(got(&r, 1), Some(("2020/IMG_1.jpg".into(), Some(7), true)));
    }

    #[test]
    fn only_contents_another_group_may_hold_are_kept() {
        // Records 0-8: (size, CRC-32).
        let content = [
            (10, Some(1)), // 0: alone in its group, no other group of size 10 without CRC
            (10, Some(2)), // 1: size 10 again, other CRC: cannot be the same as 0
            (20, Some(3)), // 2, 3: one group of two (3 is checked against 2)
            (20, Some(3)),
            (30, Some(4)), // 4: a zip entry of size 30 …
            (30, None),    // 5: … and a folder file of that size: either may be the other
            (40, None),    // 6: a folder file alone, no zip entry of its size
            (50, Some(5)), // 7: not in any group (not written)
            (60, Some(6)), // 8
        ];
        let groups = Groups::of(&[&[0], &[1], &[2, 3], &[4], &[5], &[6], &[8]]);
        let r = Recurring::of(&groups, |id| content[id.0], content.len());
        let all = 0..content.len();
        let kept: Vec<usize> = all.clone().filter(|&i| r.keeps(MediaId(i))).collect();
        assert_eq!(kept, [2, 3, 4, 5]);
        let crossing: Vec<usize> = all.filter(|&i| r.crosses(MediaId(i))).collect();
        assert_eq!(crossing, [4, 5]);
        assert_eq!(r.groups, 3);
        // A record the plan did not number (none should be): kept, to be safe.
        assert!(r.keeps(MediaId(content.len())) && r.crosses(MediaId(content.len())));
        let none = Recurring::of(&Groups::default(), |id| content[id.0], 0);
        assert_eq!(none.groups, 0);
        // Folders alone: files of one size are one group, nothing crosses.
        let folder = [(10, None), (10, None), (20, None)];
        let groups = Groups::of(&[&[0, 1], &[2]]);
        let r = Recurring::of(&groups, |id| folder[id.0], folder.len());
        let kept: Vec<bool> = (0..3).map(|i| r.keeps(MediaId(i))).collect();
        assert_eq!(kept, [true, true, false]);
        assert!((0..3).all(|i| !r.crosses(MediaId(i))));
    }

    #[test]
    fn groups_that_may_share_a_content_are_one_unit_per_size() {
        // (name, crossing size)
        let items = vec![
            ("a", None),
            ("b", Some(5)),
            ("c", None),
            ("d", Some(5)),
            ("e", Some(7)),
            ("f", Some(5)),
        ];
        let units = units_of_work(items, |i| i.1);
        let names: Vec<Vec<(usize, &str)>> = units
            .iter()
            .map(|u| u.iter().map(|(k, i)| (*k, i.0)).collect())
            .collect();
        assert_eq!(
            names,
            [
                vec![(0, "a")],
                vec![(1, "b"), (3, "d"), (5, "f")],
                vec![(2, "c")],
                vec![(4, "e")],
            ]
        );
        assert!(units_of_work(Vec::<((), Option<u64>)>::new(), |i| i.1).is_empty());
    }

    #[test]
    fn a_panic_becomes_a_failure_of_that_file() {
        assert_eq!(guarded(|| 7), Ok(7));
        let r = guarded(|| -> u8 { panic!("index out of bounds") }).unwrap_err();
        assert!(r.to_string().contains("internal error"), "{r}");
        assert!(r.to_string().contains("index out of bounds"), "{r}");
        let n = 3;
        let r = guarded(|| -> u8 { panic!("{n} formatted") }).unwrap_err();
        assert!(r.to_string().contains("3 formatted"), "{r}");
    }
}
