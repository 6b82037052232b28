//! Later runs complete earlier ones: a library file an earlier run wrote without a sidecar
//! (its sidecar in a part not given then) is rewritten with the sidecar a later run finds.
//!
//! The plan side ([`plan_updates`]) chooses, for each such file, the best of its entries
//! that found a sidecar (as one run would choose the member of a duplicate group). The write
//! side (`process::write::update`) reads the library file itself in place of its source: a
//! file written without a sidecar is its source byte for byte, which the manifest's hashes
//! prove while it is read. It goes through the normal writer into a temp file, and is put
//! where one run over all parts would have put it.

use std::collections::HashMap;

use crate::library::manifest::Manifest;
use crate::metadata::media::MediaKind;
use crate::names::key;
use crate::process::report::MediaReport;
use crate::takeout::folders;
use crate::takeout::matcher::Match;

use super::pairing::Extra;
use super::{
    disk_order, in_library, split_entry_path, BareId, Disposition, MediaId, Plan, Update, UpdateId,
};
use crate::process::policy::{self, MemberFacts, UpdateAction, UpdateFacts};
use crate::process::Options;

/// One entry of a bare library file that found a sidecar this run.
struct Candidate {
    bare: BareId,
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
    let by_path: HashMap<String, BareId> = (plan.bare_files.iter().enumerate())
        .map(|(i, f)| (key(&f.line.path), BareId(i)))
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
        let line = &plan.bare_file(c.bare).line;
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
            album: folders::album_title(&dir, &plan.albums),
            entry: c.entry,
            source: c.source,
            found: c.found,
            record: c.record,
        };
        if let Some(id) = c.record {
            plan.records[id.0].disposition = Disposition::Update(UpdateId::of(plan.updates.len()));
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
