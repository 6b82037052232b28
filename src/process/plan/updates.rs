//! Later runs complete and correct earlier ones, so that the library is the one a single
//! run over everything would have written:
//! - a library file written without a sidecar (its sidecar in a part not given then) is
//!   rewritten with the sidecar a later run finds;
//! - a file that carries a sidecar is rewritten when a later run finds a better one for
//!   it: a newer export's that says something else (a corrected date or caption), or its
//!   own where it had borrowed another photo's by a weak rule (a title found elsewhere, a
//!   Live Photo still's); and without one when the sidecar it borrowed went to its owner.
//!
//! The plan side ([`plan_updates`]) chooses, for each library file that took part in this
//! run's matching, the best of its entries (as one run would choose the member of a
//! duplicate group) and asks [`policy::update_action`]. The write side
//! (`process::write::update`) reads the file's source bytes (the library file itself when it
//! is its source byte for byte, which the manifest's hashes prove while it is read; else one
//! of its entries among this run's inputs), writes it through the normal writer into a temp
//! file, and puts it where one run would have put it. A file whose source bytes are not
//! among the inputs is marked `stale` in the manifest, and every later run tries again.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::library::manifest::Manifest;
use crate::metadata::media::MediaKind;
use crate::names::key;
use crate::process::report::MediaReport;
use crate::takeout::folders;
use crate::takeout::matcher::{Match, Rule};
use crate::takeout::tgz::TarKind;
use crate::takeout::{Catalog, EntryId, Locator};

use super::pairing::Extra;
use super::{
    disk_order, in_library, split_entry_path, Disposition, MediaId, OpenId, Plan, Update,
    UpdateFrom, UpdateId,
};
use crate::process::policy::{
    self, MemberFacts, ReadFrom, SidecarFacts, UpdateAction, UpdateFacts,
};
use crate::process::Options;

/// One entry of an open library file, and what this run found for it.
struct Candidate {
    file: OpenId,
    entry: String,
    source: String,
    found: Option<Match>,
    record: Option<MediaId>,
    rank: policy::MemberRank,
}

impl Candidate {
    /// This run's record `id` as a candidate for the open library file `file`.
    fn of_record(plan: &Plan, file: OpenId, id: MediaId) -> Candidate {
        let (e, found) = (plan.entry(id), plan.record(id).found);
        Candidate {
            file,
            entry: e.path(),
            source: plan.catalog.describe(e),
            found,
            record: Some(id),
            rank: rank(plan, e.dir(), found, disk_order(e)),
        }
    }
}

/// Turns what this run found for the open library files (through this run's own records
/// of their entries, or through `extra`, their entries not among the inputs) into
/// [`Plan::updates`], at most one per file.
pub(super) fn plan_updates(
    plan: &mut Plan,
    opts: &Options,
    manifest: &Manifest,
    extra: Vec<(Extra, Option<Match>)>,
) {
    if plan.open_files.is_empty() {
        return;
    }
    let by_path: HashMap<String, OpenId> = (plan.open_files.iter().enumerate())
        .map(|(i, f)| (key(&f.line.path), OpenId(i)))
        .collect();
    let mut cands: Vec<Candidate> = Vec::new();
    // An entry of each file among this run's inputs, to read its bytes from.
    let mut inputs: HashMap<OpenId, MediaId> = HashMap::new();
    for id in plan.ids() {
        let r = plan.record(id);
        if r.disposition != Disposition::InLibrary {
            continue;
        }
        let Some(path) = in_library(manifest, plan.entry(id)) else {
            continue;
        };
        if let Some(&file) = by_path.get(&key(path)) {
            inputs.entry(file).or_insert(id);
            cands.push(Candidate::of_record(plan, file, id));
        }
    }
    // A photo of this run with a usable sidecar, and the name, size and CRC-32 of a file
    // written without one: the same photo in another folder (an album's copy and its year
    // folder's, in other parts). The file is completed from it, as one run over both writes
    // it from the copy with the sidecar. (The update reads its bytes and checks they are the
    // file's source before it rewrites anything.)
    let by_content: HashMap<(u64, u32, &str), OpenId> = (plan.open_files.iter().enumerate())
        .filter(|(_, f)| f.line.no_sidecar && !f.line.stale)
        .flat_map(|(i, f)| {
            (f.sources.iter()).filter_map(move |s| {
                let name = split_entry_path(&s.entry).1;
                Some(((s.size, s.crc32?, name), OpenId(i)))
            })
        })
        .collect();
    for id in plan.ids() {
        let r = plan.record(id);
        let usable = r.found.is_some_and(|m| plan.sidecar(m.sidecar).is_ok());
        if r.disposition != Disposition::Write || !usable || plan.restored.contains(&id) {
            continue;
        }
        let e = plan.entry(id);
        let Some(&file) = e.crc32.and_then(|c| by_content.get(&(e.size, c, e.name()))) else {
            continue;
        };
        inputs.entry(file).or_insert(id);
        cands.push(Candidate::of_record(plan, file, id));
    }
    for (k, (x, found)) in extra.into_iter().enumerate() {
        let Some(file) = x.file else {
            continue;
        };
        let (dir, _) = split_entry_path(&x.source.entry);
        cands.push(Candidate {
            file,
            source: format!("{} (from an earlier run)", x.source.entry),
            rank: rank(plan, dir, found, (usize::MAX, k as u64)),
            entry: x.source.entry,
            found,
            record: None,
        });
    }
    // Which sidecars went to a photo by its own name this run, and how many photos took
    // each: a file whose sidecar another photo took has lost it.
    let mut takers: HashMap<u128, usize> = HashMap::new();
    let mut take = |found: Option<Match>| {
        if let Some(m) = found.filter(|m| !m.rule.is_shared()) {
            *takers.entry(plan.sidecar_id(m.sidecar)).or_default() += 1;
        }
    };
    for id in plan.ids() {
        if !matches!(plan.record(id).disposition, Disposition::Skip(_)) {
            take(plan.record(id).found);
        }
    }
    for c in cands.iter().filter(|c| c.record.is_none()) {
        take(c.found);
    }
    cands.sort_by(|a, b| (a.file, &a.rank).cmp(&(b.file, &b.rank)));
    let mut updates: Vec<Update> = Vec::new();
    let mut at = 0;
    while at < cands.len() {
        let file = cands[at].file;
        let end = at + cands[at..].iter().take_while(|c| c.file == file).count();
        let (best, all) = (&cands[at], &cands[at..end]);
        at = end;
        let line = &plan.open_file(file).line;
        let had = line.claim.as_ref().and_then(|c| {
            Some(SidecarFacts {
                sidecar: c.sidecar_id()?,
                export: c.export,
                meta: u64::from_str_radix(&c.meta, 16).ok()?,
                strength: Rule::from_name(&c.rule).map_or(0, policy::strength),
            })
        });
        let usable = best.found.filter(|m| plan.sidecar(m.sidecar).is_ok());
        let now = usable.map(|m| SidecarFacts {
            sidecar: plan.sidecar_id(m.sidecar),
            export: plan.sidecar_export(m.sidecar),
            meta: plan.sidecar_meta(m.sidecar),
            strength: policy::strength(m.rule),
        });
        let had_taken = had.is_some_and(|h| {
            let own = (all.iter())
                .filter(|c| c.found.is_some_and(|m| !m.rule.is_shared()))
                .filter(|c| {
                    c.found
                        .is_some_and(|m| plan.sidecar_id(m.sidecar) == h.sidecar)
                })
                .count();
            takers.get(&h.sidecar).copied().unwrap_or(0) > own
        });
        let facts = UpdateFacts {
            had,
            now,
            had_taken,
            byte_for_byte: line.output_hash.as_deref() == Some(line.hash.as_str())
                || line
                    .replacing
                    .as_ref()
                    .is_some_and(|p| p.output_hash == line.hash),
            without_sidecar: line.no_sidecar,
            input_here: inputs.contains_key(&file),
            trashed: usable.is_some_and(|m| plan.sidecar(m.sidecar).is_ok_and(|s| s.trashed())),
            keep_trashed: opts.keep_trashed,
            unfinished: line.replacing.is_some(),
        };
        if facts.trashed && !facts.keep_trashed && had.map(|h| h.meta) != now.map(|n| n.meta) {
            let path = line.path.clone();
            plan.report.trashed_in_library.push(path);
            continue;
        }
        let from = match policy::update_action(facts) {
            UpdateAction::Leave => continue,
            UpdateAction::Defer => UpdateFrom::Deferred,
            UpdateAction::Rewrite(ReadFrom::Library) => UpdateFrom::Library,
            UpdateAction::Rewrite(ReadFrom::Input) => UpdateFrom::Input(inputs[&file]),
        };
        // The entry whose name and folder the file takes: the best one that found the
        // sidecar, or (without one) the best one.
        let (dir, name) = split_entry_path(&best.entry);
        let (dir, name) = (dir.to_string(), name.to_string());
        let update = Update {
            file,
            by_name: match best.record {
                Some(id) => plan.record(id).by_name,
                None => MediaKind::from_name(&name),
            },
            name_date: plan.name_date(opts, &name, usable),
            album: folders::album_title(&dir, &plan.albums),
            entry: best.entry.clone(),
            source: best.source.clone(),
            found: usable,
            record: best.record,
            from,
            had: had.is_some(),
        };
        updates.push(update);
    }
    // In the order of their entries, not of the manifest's lines (the order an earlier run's
    // threads wrote them in): moved files are named in this order (see `process::write`).
    updates.sort_by(|a, b| (&a.entry, &a.source).cmp(&(&b.entry, &b.source)));
    for update in updates {
        if let Some(id) = update.record {
            plan.records[id.0].disposition = Disposition::Update(UpdateId::of(plan.updates.len()));
        }
        plan.updates.push(update);
    }
}

/// For the updates whose source bytes are not among this run's inputs: an entry with the
/// same content in an input an earlier run was given that is still where it was (users keep
/// the parts they downloaded on other days). Each such input is opened (a zip's directory
/// read; a `.tgz` or `.tar` part read whole, keeping only its sidecars and the files wanted,
/// its bytes counted on `stage`) only while some update is still without its bytes.
pub(super) fn find_elsewhere(
    plan: &mut Plan,
    staging: Option<&std::path::Path>,
    cancel: &std::sync::atomic::AtomicBool,
    stage: &indicatif::ProgressBar,
) {
    let mut wanted: HashMap<u128, Vec<usize>> = HashMap::new();
    for (k, u) in plan.updates.iter().enumerate() {
        if u.from == UpdateFrom::Deferred {
            for s in &plan.open_file(u.file).sources {
                wanted.entry(s.id()).or_default().push(k);
            }
        }
    }
    if wanted.is_empty() {
        return;
    }
    let given: Vec<PathBuf> = (plan.catalog.inputs.iter())
        .filter_map(|i| i.path.canonicalize().ok())
        .collect();
    // Each with whether it is a `.tgz` or `.tar` part (sniffed once).
    let earlier: Vec<(PathBuf, bool)> = (plan.earlier_inputs.iter())
        .map(PathBuf::from)
        .filter(|p| !given.contains(p) && p.exists())
        .map(|p| {
            let tar = crate::takeout::tgz::sniff(&p) != crate::takeout::tgz::Sniffed::Other;
            (p, tar)
        })
        .collect();
    // What a `.tgz` or `.tar` part keeps of its files: those of the paths and sizes wanted
    // (a hash of each: a collision keeps a file more).
    let paths_wanted: std::collections::HashSet<u128> = if earlier.iter().any(|(_, tar)| *tar) {
        (plan.updates.iter())
            .filter(|u| u.from == UpdateFrom::Deferred)
            .flat_map(|u| &plan.open_file(u.file).sources)
            .map(|s| crate::hash::key128(&[Some(s.size)], &[&s.entry]))
            .collect()
    } else {
        Default::default()
    };
    let keep =
        |path: &str, size: u64| paths_wanted.contains(&crate::hash::key128(&[Some(size)], &[path]));
    if let Some(s) = staging {
        // This run's own staging folder, when it has no `.tgz` parts of its own.
        let _ = std::fs::create_dir(s);
    }
    let count = |n: u64| stage.inc(n);
    for (path, tar_part) in earlier {
        if tar_part {
            // Read whole again: its bytes are shown as this run's parts' are.
            stage.set_position(0);
            crate::process::show_tar_bytes(stage, std::fs::metadata(&path).map_or(0, |m| m.len()));
        }
        // Each in a folder of its own beside this run's packs (those it keeps stay read).
        let folder = staging.map(|s| s.join(format!("earlier-{}", plan.elsewhere.len())));
        let tar = crate::takeout::tgz::TarOptions {
            place: folder
                .as_deref()
                .map_or(crate::takeout::tgz::StagingPlace::Temporary, |s| {
                    crate::takeout::tgz::StagingPlace::At(s)
                }),
            keep: crate::takeout::tgz::Keep::Wanted(&keep),
            // (Stopped, it fails: the run then stops before its writes.)
            cancel: Some(cancel),
            progress: Some(&count),
        };
        let opened = Catalog::open_with(std::slice::from_ref(&path), None, &tar);
        if tar_part {
            crate::process::show_planning(stage);
        }
        let Ok(catalog) = opened else {
            continue;
        };
        let mut used = false;
        for (i, e) in catalog.entries.iter().enumerate() {
            // (An entry whose bytes were not kept cannot be written.)
            if e.locator == Locator::Tar(TarKind::Hashed) {
                continue;
            }
            let Some(ks) = wanted.remove(&e.id(e.crc32)) else {
                continue;
            };
            for k in ks {
                if plan.updates[k].from == UpdateFrom::Deferred {
                    plan.updates[k].from =
                        UpdateFrom::Elsewhere(plan.elsewhere.len(), EntryId::of(i));
                    used = true;
                }
            }
        }
        if used {
            plan.elsewhere.push(catalog);
        }
        let left = plan.updates.iter().any(|u| u.from == UpdateFrom::Deferred);
        if !left {
            break;
        }
    }
}

/// The duplicate-group ranking of an entry (see [`policy::member_rank`]).
fn rank(plan: &Plan, dir: &str, found: Option<Match>, order: (usize, u64)) -> policy::MemberRank {
    policy::member_rank(&MemberFacts {
        usable_sidecar: found.is_some_and(|m| plan.sidecar(m.sidecar).is_ok()),
        export: found.and_then(|m| plan.sidecar_export(m.sidecar)),
        own_sidecar: found.is_some_and(|m| !m.rule.is_shared()),
        in_year_folder: folders::is_year_folder(dir, &plan.albums),
        disk_order: order,
    })
}

impl Plan {
    /// The report line of an update before anything is read.
    pub fn update_report(&self, k: UpdateId) -> MediaReport {
        let u = self.update(k);
        let mut r = match u.record {
            Some(id) => self.base_report(id),
            None => MediaReport {
                rule: u.found.map(|m| m.rule),
                sidecar: u.found.map(|m| self.describe_sidecar(m.sidecar)),
                album: u.album.clone(),
                ..MediaReport::new(u.source.clone(), u.by_name.unwrap_or(MediaKind::Unknown))
            },
        };
        r.gps = None;
        if let Some(s) = u.found.and_then(|m| self.sidecar(m.sidecar).ok()) {
            if u.record.is_none() {
                r.notes
                    .extend(s.problems().iter().map(|p| format!("sidecar: {p}")));
            }
            r.gps = s.geo();
        }
        r
    }

    /// The digest of what a sidecar says ([`StoredSidecar::digest`]); 0 for one that could
    /// not be read.
    ///
    /// [`StoredSidecar::digest`]: crate::library::manifest::StoredSidecar::digest
    pub fn sidecar_meta(&self, index: usize) -> u64 {
        self.sidecar(index)
            .map_or(0, |s| crate::process::stored::store(s).digest())
    }
}
