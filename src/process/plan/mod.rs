//! Stage 1, the plan: inputs indexed, entries classified, sidecars read and matched, and every
//! decision that needs no media bytes taken. The result is one [`MediaRecord`] per media entry
//! and the duplicate groups the write stage works through.

use rayon::prelude::*;
use std::collections::{HashMap, HashSet};

use crate::library::manifest::{AlbumRecord, Claim, Manifest, Remembered, SourceKey};
use crate::metadata;
use crate::metadata::media::MediaKind;
use crate::metadata::Geo;
use crate::names::key;
use crate::process::report::{MediaReport, Report};
use crate::takeout::folders;
use crate::takeout::matcher::{self, Match, Rule};
use crate::takeout::sidecar::{AlbumInfo, Sidecar};
use crate::takeout::{classify, Catalog, Class, Entry, EntryId, NOT_TAKEOUT};

use crate::process::policy::{self, DateCandidates, MemberFacts, SkipFacts, SkipReason};
use crate::process::{Options, ProcessError};

pub(crate) mod pairing;
mod updates;

/// Addresses one media record of a [`Plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaId(pub usize);

/// Addresses one of [`Plan::updates`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UpdateId(u32);

impl UpdateId {
    /// The id of the update at `index` in [`Plan::updates`].
    pub fn of(index: usize) -> UpdateId {
        UpdateId(u32::try_from(index).expect("under 4 billion updates"))
    }
}

/// Addresses one of [`Plan::open_files`], the library files earlier runs wrote without a
/// sidecar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpenId(pub usize);

/// A sidecar as read: where it is and what it says (or why it could not be read).
pub struct SidecarData {
    pub origin: SidecarOrigin,
    /// The reason is boxed (no spare capacity): half a million of these live for the run.
    pub parsed: Result<Sidecar, Box<str>>,
    /// What the manifest says of it already: `Some(claimed)` when a run recorded it.
    pub recorded: Option<bool>,
}

/// Where a sidecar comes from.
#[derive(Debug, Clone)]
pub enum SidecarOrigin {
    /// An entry of this run's inputs.
    Entry(EntryId),
    /// A `sidecar` line of the manifest: read by an earlier run from a part not given now
    /// (boxed: rare, and most sidecars are of this run).
    Earlier(Box<EarlierSidecar>),
}

/// Where an earlier run read a sidecar.
#[derive(Debug, Clone)]
pub struct EarlierSidecar {
    pub source: SourceKey,
    /// `zip:path` as that run named it.
    pub from: String,
    /// The export time of the part that held it.
    pub export: Option<u64>,
}

impl SidecarData {
    /// The entry of this run it was read from.
    pub fn entry(&self) -> Option<EntryId> {
        match self.origin {
            SidecarOrigin::Entry(i) => Some(i),
            SidecarOrigin::Earlier(_) => None,
        }
    }

    /// (folder, file name), as the matcher compares them.
    pub fn dir_name<'a>(&'a self, catalog: &'a Catalog) -> (&'a str, &'a str) {
        match &self.origin {
            SidecarOrigin::Entry(i) => {
                let e = catalog.entry(*i);
                (e.dir(), e.name())
            }
            SidecarOrigin::Earlier(e) => split_entry_path(&e.source.entry),
        }
    }
}

/// (folder as [`Entry::dir`] gives it, file name) of an entry path.
pub fn split_entry_path(path: &str) -> (&str, &str) {
    let name = path.rsplit('/').next().unwrap_or(path);
    (crate::takeout::dir_of_path(path), name)
}

/// What the write stage is to do with a media entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Read, written (or found to duplicate something written).
    Write,
    /// Left out on purpose.
    Skip(SkipReason),
    /// Already in the output from an earlier run, at this path.
    /// (Its path is the manifest's: [`in_library`].)
    InLibrary,
    /// Already in the output from an earlier run without a sidecar: rewritten with the one
    /// found now.
    Update(UpdateId),
}

/// A library file an earlier run wrote, rewritten now as one run over everything would have
/// written it (see [`updates`]).
pub struct Update {
    pub file: OpenId,
    /// The entry path whose name and folder the file takes.
    pub entry: String,
    /// `zip:path` for the report.
    pub source: String,
    /// The sidecar it gets; `None`: written without one.
    pub found: Option<Match>,
    /// This run's record of the entry, when it is among the inputs (its report line).
    pub record: Option<MediaId>,
    /// Where its source bytes are read from.
    pub from: UpdateFrom,
    /// The file carried another sidecar (a correction), not none (a completion).
    pub had: bool,
    pub by_name: Option<MediaKind>,
    /// A date in its file name (UTC), if any.
    pub name_date: Option<i64>,
    pub album: Option<String>,
}

/// Where an update reads the file's source bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateFrom {
    /// The library file: it is its source byte for byte.
    Library,
    /// This run's entry of the same content.
    Input(MediaId),
    /// An entry of the same content in an input an earlier run was given, still there
    /// (index into [`Plan::elsewhere`]).
    Elsewhere(usize, EntryId),
    /// Nowhere this run: the file is marked for a later run that has them.
    Deferred,
}

/// One media entry and everything decided about it before its bytes are read (64 bytes: one
/// per media entry, held through the run).
pub struct MediaRecord {
    pub entry: EntryId,
    /// Its kind by extension; `None` for an unknown file type among the photos.
    pub by_name: Option<MediaKind>,
    /// Its sidecar and the rule that found it.
    pub found: Option<Match>,
    /// The album whose folder it is in (one string per album, shared by its records).
    pub album: Option<std::sync::Arc<str>>,
    /// A date in its file name (UTC), if any.
    pub name_date: Option<i64>,
    pub disposition: Disposition,
}

/// Everything the later stages need: the inputs, one record per media entry (in disk order),
/// the sidecars, the albums, the groups of probably-identical entries to write, and the
/// report's lists of what is not media.
pub struct Plan {
    pub catalog: Catalog,
    pub records: Vec<MediaRecord>,
    pub sidecars: Vec<SidecarData>,
    /// Album metadata by folder key.
    pub albums: HashMap<String, AlbumInfo>,
    /// Entries to write, grouped by size and CRC-32, best member first, in disk order.
    pub groups: Groups,
    /// Library files this run may rewrite: written without a sidecar, marked `stale`, or
    /// looked at again because a sidecar came for them or their sidecar went to another.
    pub open_files: Vec<crate::library::manifest::OpenFile>,
    /// Those of them this run rewrites (or marks).
    pub updates: Vec<Update>,
    /// Sidecars taken by entries earlier runs recorded as duplicates without one.
    pub waiting_claims: Vec<usize>,
    /// The records whose file an earlier run wrote and that is gone from the folder since:
    /// written again (few).
    pub restored: HashSet<MediaId>,
    /// The file names of the parts earlier runs were given (the manifest's `parts` lines).
    pub earlier_parts: Vec<String>,
    /// The paths of the inputs earlier runs were given (the manifest's `inputs` lines).
    pub earlier_inputs: Vec<String>,
    /// Inputs of earlier runs not given now, opened to read a photo whose library file is
    /// corrected (see [`updates`]).
    pub elsewhere: Vec<Catalog>,
    /// The albums whose metadata this run read and no earlier run recorded as it is now.
    pub new_albums: Vec<AlbumRecord>,
    /// Of those, the folders no earlier run knew as albums at all: files earlier runs wrote
    /// from them join the album now.
    pub newly_albums: Vec<AlbumRecord>,
    /// The report so far: inputs, ignored files, unreadable and unused JSON.
    pub report: Report,
}

impl Plan {
    pub fn update(&self, id: UpdateId) -> &Update {
        &self.updates[id.0 as usize]
    }

    /// The library file written without a sidecar that `id` addresses.
    pub fn open_file(&self, id: OpenId) -> &crate::library::manifest::OpenFile {
        &self.open_files[id.0]
    }

    pub fn record(&self, id: MediaId) -> &MediaRecord {
        &self.records[id.0]
    }

    pub fn entry(&self, id: MediaId) -> &Entry {
        self.catalog.entry(self.records[id.0].entry)
    }

    /// The matched sidecar's data, or why it could not be read.
    pub fn sidecar_of(&self, id: MediaId) -> Option<Result<&Sidecar, &str>> {
        let m = self.records[id.0].found?;
        Some(self.sidecar(m.sidecar))
    }

    pub fn sidecar(&self, index: usize) -> Result<&Sidecar, &str> {
        self.sidecars[index].parsed.as_ref().map_err(|why| &**why)
    }

    /// `zip:path` of a sidecar.
    pub fn describe_sidecar(&self, index: usize) -> String {
        match &self.sidecars[index].origin {
            SidecarOrigin::Entry(i) => self.catalog.describe(self.catalog.entry(*i)),
            SidecarOrigin::Earlier(e) => format!("{} (read by an earlier run)", e.from),
        }
    }

    /// The entry id of a sidecar ([`SourceKey::id`]).
    pub fn sidecar_id(&self, index: usize) -> u128 {
        match &self.sidecars[index].origin {
            SidecarOrigin::Entry(i) => source_id(self.catalog.entry(*i)),
            SidecarOrigin::Earlier(e) => e.source.id(),
        }
    }

    /// The export time of the part that held a sidecar (see
    /// [`crate::takeout::parts::export_time`]).
    pub fn sidecar_export(&self, index: usize) -> Option<u64> {
        match &self.sidecars[index].origin {
            SidecarOrigin::Entry(i) => self.catalog.export_of(self.catalog.entry(*i)),
            SidecarOrigin::Earlier(e) => e.export,
        }
    }

    /// What a file's line records of the sidecar `found` gave it (`None`: none, or one that
    /// could not be read).
    pub fn claim(&self, found: Option<Match>) -> Option<Claim> {
        let m = found?;
        let sidecar = self.sidecar(m.sidecar).ok()?;
        Some(Claim {
            sidecar: format!("{:032x}", self.sidecar_id(m.sidecar)),
            rule: m.rule.name().to_string(),
            export: self.sidecar_export(m.sidecar),
            meta: format!("{:016x}", crate::process::stored::store(sidecar).digest()),
        })
    }

    /// The usable sidecar of a media entry.
    pub fn usable_sidecar(&self, id: MediaId) -> Option<&Sidecar> {
        self.sidecar_of(id).and_then(Result::ok)
    }

    /// A date in the file name `name` (UTC, in the zone its sidecar's place suggests).
    pub fn name_date(&self, opts: &Options, name: &str, found: Option<Match>) -> Option<i64> {
        crate::dates::from_file_name(name).and_then(|d| {
            let geo = found
                .and_then(|m| self.sidecars[m.sidecar].parsed.as_ref().ok())
                .and_then(|s| s.geo());
            metadata::local_to_utc(d, None, &opts.timezone, geo)
        })
    }

    /// The position its sidecar gives.
    pub fn geo(&self, id: MediaId) -> Option<Geo> {
        self.usable_sidecar(id).and_then(|s| s.geo())
    }

    /// The dates known before the file is read.
    pub fn date_candidates(&self, id: MediaId) -> DateCandidates {
        self.subject(id).dates()
    }

    /// The name its output file should have (see [`policy::output_name`]).
    pub fn wanted_name(&self, id: MediaId) -> String {
        self.subject(id).wanted_name()
    }

    /// What the write stage needs of a record.
    pub fn subject(&self, id: MediaId) -> Subject<'_> {
        let record = &self.records[id.0];
        Subject {
            name: self.entry(id).name(),
            by_name: record.by_name,
            found: record.found,
            sidecar: self.usable_sidecar(id),
            name_date: record.name_date,
        }
    }

    /// What the write stage needs of an update.
    pub fn update_subject(&self, k: UpdateId) -> Subject<'_> {
        let u = self.update(k);
        Subject {
            name: u.entry.rsplit('/').next().unwrap_or(&u.entry),
            by_name: u.by_name,
            found: u.found,
            sidecar: u.found.and_then(|m| self.sidecar(m.sidecar).ok()),
            name_date: u.name_date,
        }
    }

    /// The album of Google Photos' own that keeps a record apart: the Archive (its folder,
    /// or its sidecar's `archived`), the Locked Folder, or a partner's sharing.
    pub fn special_album(&self, id: MediaId) -> Option<&'static str> {
        if let Some(a) = folders::special_album(self.entry(id).dir()) {
            return Some(a);
        }
        let s = self.usable_sidecar(id)?;
        if s.archived() {
            Some(folders::ARCHIVE_ALBUM)
        } else if s.extras().partner {
            Some(folders::PARTNER_ALBUM)
        } else {
            None
        }
    }

    /// The report line of a record before anything is read: where it is, its sidecar (or the
    /// names looked for), its album; status `failed` until a stage says otherwise.
    pub fn base_report(&self, id: MediaId) -> MediaReport {
        let record = self.record(id);
        let mut r = MediaReport {
            rule: record.found.map(|m| m.rule),
            sidecar: record.found.map(|m| self.describe_sidecar(m.sidecar)),
            album: record.album.as_deref().map(String::from),
            special: self.special_album(id),
            ..MediaReport::new(
                self.catalog.describe(self.entry(id)),
                record.by_name.unwrap_or(MediaKind::Unknown),
            )
        };
        match self.sidecar_of(id) {
            None => r.tried = matcher::tried_names(self.entry(id).name()),
            Some(Err(why)) => r
                .notes
                .push(format!("its sidecar could not be used: {why}")),
            Some(Ok(s)) => {
                r.notes
                    .extend(s.problems().iter().map(|p| format!("sidecar: {p}")));
                r.gps = s.geo();
            }
        }
        if self.restored.contains(&id) {
            r.restored = true;
            r.notes.push(
                "written again: its file from an earlier run was gone from the folder".into(),
            );
        }
        r
    }

    pub fn ids(&self) -> impl Iterator<Item = MediaId> {
        (0..self.records.len()).map(MediaId)
    }
}

/// What the write stage needs to know of one file, whatever it is read from (an entry of
/// this run, or a library file an update rewrites).
pub struct Subject<'p> {
    /// Its file name in the Takeout.
    pub name: &'p str,
    /// Its kind by extension; `None` for an unknown file type among the photos.
    pub by_name: Option<MediaKind>,
    pub found: Option<Match>,
    /// Its usable sidecar.
    pub sidecar: Option<&'p Sidecar>,
    /// A date in its file name (UTC), if any.
    pub name_date: Option<i64>,
}

impl Subject<'_> {
    /// The dates known before the file is read.
    pub fn dates(&self) -> DateCandidates {
        DateCandidates {
            sidecar: self.sidecar.and_then(|s| s.taken()),
            embedded: None,
            name: self.name_date,
            upload: self.sidecar.and_then(|s| s.created()),
        }
    }

    /// The name its output file should have (see [`policy::output_name`]).
    pub fn wanted_name(&self) -> String {
        let title = match (self.found, self.sidecar) {
            (Some(m), Some(s)) if !m.rule.is_shared() => s.title(),
            _ => None,
        };
        policy::output_name(self.name, title)
    }
}

/// Opens and indexes every input, in their reading order (the newest export first, see
/// [`crate::takeout::parts::reading_order`]); refuses an input with nothing of Google Photos in it.
///
/// `.tgz` and `.tar` parts keep their files' bytes in `staging` until the catalog is dropped
/// (see [`crate::takeout::tgz`]); `bar` counts their bytes as they are read. Returns the
/// catalog and the class of each of its entries.
pub fn index_inputs(
    opts: &Options,
    staging: Option<&std::path::Path>,
    bar: &indicatif::ProgressBar,
) -> Result<(Catalog, Vec<Class>), ProcessError> {
    use crate::takeout::tgz;
    let exclude = opts.output.canonicalize().ok();
    let inputs = crate::takeout::parts::reading_order(&opts.inputs);
    // (A part given twice is read once.)
    let parts: std::collections::HashSet<std::path::PathBuf> = (inputs.iter())
        .filter(|p| tgz::sniff(p) != tgz::Sniffed::Other)
        .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()))
        .collect();
    let tar_bytes: u64 = (parts.iter())
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    if tar_bytes > 0 {
        // The parts' bytes are kept while they are read: about their size (photos and videos
        // hardly compress).
        // They are kept in the output folder, or in a dry run in the system's temporary
        // folder: the free space of that disk is what counts.
        let needed = policy::space_needed(tar_bytes, 0);
        let at = match staging {
            Some(s) => s.parent().unwrap_or(&opts.output).to_path_buf(),
            None => std::env::temp_dir(),
        };
        if let Some(free) = crate::library::fs::free_space(&at) {
            if let Some(short) = policy::space_shortfall(needed, free) {
                return Err(match staging {
                    Some(_) => ProcessError::NoSpace {
                        path: opts.output.clone(),
                        short,
                        free,
                    },
                    None => ProcessError::NoTempSpace {
                        path: at,
                        short,
                        free,
                    },
                });
            }
        }
        super::show_tar_bytes(bar, tar_bytes);
    }
    let count = |n: u64| bar.inc(n);
    let tar = tgz::TarOptions {
        place: staging.map_or(tgz::StagingPlace::Temporary, tgz::StagingPlace::At),
        keep: tgz::Keep::All,
        cancel: Some(&opts.cancel),
        progress: Some(&count),
    };
    let catalog = Catalog::open_with(&inputs, exclude.as_deref(), &tar)?;
    let classes = classify(&catalog.entries);
    if let Some(input) = catalog.not_takeout(&classes) {
        return Err(ProcessError::NotTakeout {
            path: input.path.clone(),
            reason: NOT_TAKEOUT.into(),
        });
    }
    Ok((catalog, classes))
}

/// The manifest key of an entry.
pub fn source_key(e: &Entry) -> SourceKey {
    SourceKey {
        entry: e.path(),
        size: e.size,
        crc32: e.crc32,
    }
}

/// An entry as the manifest's maps key it (see [`crate::hash::entry_id`]).
pub(super) fn source_id(e: &Entry) -> u128 {
    e.id(e.crc32)
}

/// Where an entry of this run stands in the library of earlier runs: its output path when the
/// same entry (path, size and CRC-32) was written or deduplicated before.
pub(super) fn in_library<'m>(manifest: &'m Manifest, e: &Entry) -> Option<&'m str> {
    e.crc32?;
    manifest.path_for_source(source_id(e))
}

/// Builds the plan over `catalog`, whose entries' classes are `classes`: reads the sidecars
/// (only those a new media file may need), matches, decides skips and groups.
pub fn build(
    opts: &Options,
    catalog: Catalog,
    classes: Vec<Class>,
    manifest: &Manifest,
    remembered: Remembered,
    stage: &indicatif::ProgressBar,
) -> Plan {
    // Counted first: a vector grown by doubling holds up to twice its entries.
    let count = classes
        .iter()
        .filter(|c| matches!(c, Class::Media(_)))
        .count();
    let mut media: Vec<(usize, Option<MediaKind>)> = Vec::with_capacity(count);
    media.extend(classes.iter().enumerate().filter_map(|(i, c)| match c {
        Class::Media(kind) => Some((i, *kind)),
        _ => None,
    }));
    media.sort_by_key(|(i, _)| disk_order(&catalog.entries[*i]));
    let paired = pairing::read_and_match(
        opts,
        &catalog,
        &classes,
        &media,
        manifest,
        &remembered,
        stage,
    );
    let mut ignored = paired.other_json;
    ignored.extend(
        (catalog.entries.iter().zip(&classes))
            .filter(|(_, c)| **c == Class::Ignored)
            .map(|(e, _)| catalog.describe(e)),
    );
    let mut plan = Plan {
        report: Report {
            output: opts.output.clone(),
            dry_run: opts.dry_run,
            verbose: opts.per_file,
            repeated_inputs: catalog.skipped_inputs.clone(),
            damaged_inputs: catalog.damaged.clone(),
            missing_parts: crate::takeout::parts::missing(&opts.inputs, &remembered.parts),
            entry_notes: catalog.entry_notes.clone(),
            unused_sidecars: paired.unused_sidecars,
            bad_json: paired.bad_json,
            ignored,
            ..Report::default()
        },
        records: Vec::new(),
        sidecars: paired.sidecars,
        albums: HashMap::new(),
        groups: Groups::default(),
        open_files: {
            let mut open = remembered.open_files;
            open.extend(paired.revisited);
            open
        },
        updates: Vec::new(),
        waiting_claims: paired.waiting_claims,
        new_albums: Vec::new(),
        restored: HashSet::new(),
        earlier_parts: remembered.parts,
        earlier_inputs: remembered.inputs,
        elsewhere: Vec::new(),
        newly_albums: Vec::new(),
        catalog,
    };
    let unread = paired.unread;
    (plan.albums, plan.new_albums, plan.newly_albums) =
        merge_albums(paired.albums, remembered.albums);
    // One album title per folder, shared by the folder's records.
    let mut titles: HashMap<&str, Option<std::sync::Arc<str>>> = HashMap::new();
    for &(entry, _) in &media {
        let dir = plan.catalog.entries[entry].dir();
        titles
            .entry(dir)
            .or_insert_with(|| folders::album_title(dir, &plan.albums).map(Into::into));
    }
    let records = media
        .par_iter()
        .zip(paired.matches)
        .map(|(&(entry, by_name), found)| {
            let e = &plan.catalog.entries[entry];
            MediaRecord {
                entry: EntryId::of(entry),
                by_name,
                found,
                album: titles[e.dir()].clone(),
                name_date: plan.name_date(opts, e.name(), found),
                disposition: Disposition::Write,
            }
        })
        .collect();
    plan.records = records;
    crate::process::trace_memory("records");
    let skips = skip_reasons(&plan, opts);
    crate::process::trace_memory("skips");
    let mut trashed_kept: std::collections::BTreeSet<String> = Default::default();
    for (id, skip) in plan.ids().zip(skips) {
        let e = plan.entry(id);
        let disposition = match (skip, in_library(manifest, e)) {
            (Some(SkipReason::Trashed), Some(path)) => {
                // Never deleted from the library: kept, and named.
                trashed_kept.insert(path.to_string());
                Disposition::Skip(SkipReason::Trashed)
            }
            (Some(why), _) => Disposition::Skip(why),
            (None, Some(_)) => Disposition::InLibrary,
            (None, None) => Disposition::Write,
        };
        // Known entries of folders whose JSON was not read: their memberships are in the
        // manifest already, and their album's title is not known this run.
        let unread_dir = !unread.is_empty() && unread.contains(&key(e.dir()));
        let r = &mut plan.records[id.0];
        if unread_dir && disposition == Disposition::InLibrary {
            r.album = None;
        }
        r.disposition = disposition;
    }
    plan.report.trashed_in_library.extend(trashed_kept);
    plan.restored = (plan.ids())
        .filter(|&id| plan.record(id).disposition == Disposition::Write)
        .filter(|&id| manifest.was_removed(source_id(plan.entry(id))))
        .collect();
    updates::plan_updates(&mut plan, opts, manifest, paired.extra);
    // An earlier `.tgz` part is read into the output's staging folder (the system's temporary
    // folder in a dry run), as this run's parts are.
    let staging = (!opts.dry_run).then(|| {
        opts.output
            .join(crate::library::dir::STATE_DIR)
            .join(crate::process::STAGING_DIR)
    });
    updates::find_elsewhere(&mut plan, staging.as_deref(), &opts.cancel, stage);
    crate::process::trace_memory("updates");
    plan.groups = group_duplicates(&plan);
    plan
}

/// The albums of a run, by folder key: those whose metadata this run read, and those
/// earlier runs read (`earlier`, the manifest's `album` lines) for folders this run has no
/// metadata of. With them, by folder: this run's records that no earlier run made as they
/// are now (to record), and of those, the folders no earlier run knew as albums at all.
fn merge_albums(
    this_run: HashMap<String, AlbumInfo>,
    earlier: Vec<AlbumRecord>,
) -> (
    HashMap<String, AlbumInfo>,
    Vec<AlbumRecord>,
    Vec<AlbumRecord>,
) {
    let (mut new, mut newly) = (Vec::new(), Vec::new());
    let known: HashMap<&str, &AlbumRecord> =
        earlier.iter().map(|a| (a.folder.as_str(), a)).collect();
    for (folder, info) in &this_run {
        let record = AlbumRecord {
            folder: folder.clone(),
            title: info.title.clone(),
            description: info.description.clone(),
        };
        match known.get(folder.as_str()) {
            Some(&old) if *old == record => {}
            Some(_) => new.push(record),
            None => {
                newly.push(record.clone());
                new.push(record);
            }
        }
    }
    new.sort_by(|a, b| a.folder.cmp(&b.folder));
    newly.sort_by(|a, b| a.folder.cmp(&b.folder));
    drop(known);
    let mut albums = this_run;
    for a in earlier {
        albums.entry(a.folder).or_insert(AlbumInfo {
            title: a.title,
            description: a.description,
        });
    }
    (albums, new, newly)
}

pub(super) fn disk_order(e: &Entry) -> (usize, u64) {
    (e.input_index(), e.order)
}

/// A file's (folder, name), any case, as one 128-bit hash of their keys: 16 bytes and no
/// allocation in the sets of a million entries that hold them.
pub(super) fn folder_name(dir: &str, name: &str) -> u128 {
    crate::hash::key128(&[], &[&key(dir), &key(name)])
}

/// Why each record is left out on purpose, if it is: the trash, and edited copies or their
/// originals as `--edited` says.
fn skip_reasons(plan: &Plan, opts: &Options) -> Vec<Option<SkipReason>> {
    let own = |id: MediaId| {
        let e = plan.entry(id);
        folder_name(e.dir(), e.name())
    };
    // (Each pass over the records is made in parallel.)
    let ids = || (0..plan.records.len()).into_par_iter().map(MediaId);
    let names: HashSet<u128> = ids().map(own).collect();
    // The original of each edited copy, when that original is in the export (or shares its
    // sidecar with the copy): (record, original), by record (few records are edited copies).
    let original_of: Vec<(usize, u128)> = ids()
        .filter_map(|id| {
            let e = plan.entry(id);
            let original = folder_name(e.dir(), &policy::original_name(e.name())?);
            let shares = plan
                .record(id)
                .found
                .is_some_and(|m| m.rule == Rule::Edited);
            (shares || names.contains(&original)).then_some((id.0, original))
        })
        .collect();
    drop(names);
    let have_edits: HashSet<u128> = original_of.iter().map(|(_, o)| *o).collect();
    // Their copies elsewhere (an album's), by content: the same original.
    let content = |id: MediaId| {
        let e = plan.entry(id);
        e.crc32.map(|crc| (e.size, crc))
    };
    let edited_contents: HashSet<(u64, u32)> = if have_edits.is_empty() {
        HashSet::new()
    } else {
        ids()
            .filter(|&id| have_edits.contains(&own(id)))
            .filter_map(content)
            .collect()
    };
    // A copy of an entry (same folder, name and size: a part given twice, or a zip and its
    // extracted folder) finds no sidecar of its own (a second copy of a sidecar is never a
    // candidate): it is in the trash when the entry is.
    let copy_key = |id: MediaId| {
        let e = plan.entry(id);
        crate::hash::key128(&[Some(e.size)], &[&key(e.dir()), &key(e.name())])
    };
    let trashed: HashSet<u128> = ids()
        .filter(|&id| plan.usable_sidecar(id).is_some_and(|s| s.trashed()))
        .map(copy_key)
        .collect();
    ids()
        .map(|id| {
            let facts = SkipFacts {
                trashed: !trashed.is_empty() && trashed.contains(&copy_key(id)),
                is_edited_copy: original_of.binary_search_by_key(&id.0, |o| o.0).is_ok(),
                has_edited_copy: have_edits.contains(&own(id))
                    || content(id).is_some_and(|c| edited_contents.contains(&c)),
            };
            policy::skip_reason(facts, opts.keep_trashed, opts.edited).or_else(|| {
                let set = plan.special_album(id)?;
                policy::left_out(set, &opts.leave_out).map(SkipReason::LeftOut)
            })
        })
        .collect()
}

/// Groups of records, flat: every member in one vector, and where each group ends (two
/// small numbers per group rather than a vector each).
#[derive(Debug, Default)]
pub struct Groups {
    members: Vec<MediaId>,
    ends: Vec<u32>,
    /// Per group: whether an entry of this run with its content (size and CRC-32) is in the
    /// library already (see [`Groups::in_library`]).
    in_library: Vec<bool>,
}

impl Groups {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Group `k`, best member first.
    pub fn get(&self, k: usize) -> &[MediaId] {
        let start = if k == 0 { 0 } else { self.ends[k - 1] as usize };
        &self.members[start..self.ends[k] as usize]
    }

    /// Whether group `k` is probably in the library already: an entry of this run with the
    /// same size and CRC-32 is. That is the rest of a group an interrupted run left half
    /// done (its best member written, the others not yet recorded as its duplicates): its
    /// members are hashed against the library before any is given a name, so that it takes
    /// no name from a later group (as it would not have in a run not interrupted).
    pub fn in_library(&self, k: usize) -> bool {
        self.in_library[k]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[MediaId]> {
        (0..self.len()).map(|k| self.get(k))
    }

    /// Groups of the given members (records numbered as in a plan), for tests.
    #[cfg(test)]
    pub(crate) fn of(groups: &[&[usize]]) -> Groups {
        let mut g = Groups::default();
        for members in groups {
            g.members.extend(members.iter().map(|&m| MediaId(m)));
            g.ends.push(g.members.len() as u32);
            g.in_library.push(false);
        }
        g
    }
}

/// Groups the records to write that are probably byte-identical (same size and, for zips,
/// same CRC-32), best member first, groups in disk order of their first member.
fn group_duplicates(plan: &Plan) -> Groups {
    let mut ids: Vec<MediaId> = plan
        .ids()
        .filter(|&id| plan.record(id).disposition == Disposition::Write)
        .collect();
    // Empty entries are each their own content (see `hash::empty`).
    let content = |id: MediaId| {
        let e = plan.entry(id);
        (e.size, e.crc32, if e.size == 0 { id.0 } else { 0 })
    };
    let rank = |id: MediaId| {
        let e = plan.entry(id);
        policy::member_rank(&MemberFacts {
            usable_sidecar: plan.usable_sidecar(id).is_some(),
            export: (plan.record(id).found).and_then(|m| plan.sidecar_export(m.sidecar)),
            own_sidecar: plan.record(id).found.is_some_and(|m| !m.rule.is_shared()),
            in_year_folder: folders::is_year_folder(e.dir(), &plan.albums),
            disk_order: disk_order(e),
        })
    };
    // By content, best member first within each: the groups are runs of equal content.
    ids.par_sort_by_cached_key(|&id| (content(id), rank(id)));
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (k, &id) in ids.iter().enumerate() {
        match runs.last_mut() {
            Some((start, end)) if content(ids[*start]) == content(id) => *end = k + 1,
            _ => runs.push((k, k + 1)),
        }
    }
    // The runs are in content order here: each entry already in the library marks the run
    // of its content, if there is one.
    let mut in_library = vec![false; runs.len()];
    for id in plan.ids() {
        let e = plan.entry(id);
        if plan.record(id).disposition == Disposition::InLibrary && e.crc32.is_some() {
            if let Ok(k) =
                runs.binary_search_by(|&(start, _)| content(ids[start]).cmp(&content(id)))
            {
                in_library[k] = true;
            }
        }
    }
    let mut runs: Vec<(usize, usize, bool)> = runs
        .into_iter()
        .zip(in_library)
        .map(|((start, end), known)| (start, end, known))
        .collect();
    runs.par_sort_by_cached_key(|&(start, _, _)| disk_order(plan.entry(ids[start])));
    let mut groups = Groups {
        members: Vec::with_capacity(ids.len()),
        ends: Vec::with_capacity(runs.len()),
        in_library: Vec::with_capacity(runs.len()),
    };
    for (start, end, known) in runs {
        groups.members.extend_from_slice(&ids[start..end]);
        groups
            .ends
            .push(u32::try_from(groups.members.len()).expect("under 4 billion entries"));
        groups.in_library.push(known);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_runs_of_one_vector() {
        let groups = Groups {
            members: [4, 1, 2, 9].map(MediaId).to_vec(),
            ends: vec![1, 3, 4],
            in_library: vec![false, true, false],
        };
        assert!(groups.in_library(1) && !groups.in_library(2));
        assert_eq!(groups.len(), 3);
        assert_eq!(Groups::default().len(), 0);
        let ids = |g: &[MediaId]| g.iter().map(|id| id.0).collect::<Vec<_>>();
        assert_eq!(ids(groups.get(0)), [4]);
        assert_eq!(ids(groups.get(1)), [1, 2]);
        assert_eq!(ids(groups.get(2)), [9]);
        let all: Vec<Vec<usize>> = groups.iter().map(ids).collect();
        assert_eq!(all, [vec![4], vec![1, 2], vec![9]]);
    }

    /// A run keeps every sidecar of its inputs until it ends (about 470,000 in a million-file
    /// Takeout), so a sidecar's place in this table stays small: its seldom-set fields sit in
    /// one box, its dates and place carry no `Option` tags.
    #[test]
    fn albums_of_this_run_and_of_earlier_runs() {
        let record = |folder: &str, title: &str| AlbumRecord {
            folder: folder.into(),
            title: title.into(),
            description: None,
        };
        let info = |title: &str| AlbumInfo {
            title: title.into(),
            description: None,
        };
        let this_run = HashMap::from([
            ("gp/rome 2019".to_string(), info("Rome 2019")),
            ("gp/trip".to_string(), info("Trip, renamed")),
            ("gp/same".to_string(), info("Same")),
        ]);
        let earlier = vec![
            record("gp/trip", "Trip"),
            record("gp/same", "Same"),
            record("gp/older", "Older"),
        ];
        let (albums, new, newly) = merge_albums(this_run, earlier);
        let mut titles: Vec<(&str, &str)> = albums
            .iter()
            .map(|(k, v)| (k.as_str(), v.title.as_str()))
            .collect();
        titles.sort();
        assert_eq!(
            titles,
            [
                ("gp/older", "Older"),
                ("gp/rome 2019", "Rome 2019"),
                ("gp/same", "Same"),
                ("gp/trip", "Trip, renamed"),
            ]
        );
        assert_eq!(
            new,
            [
                record("gp/rome 2019", "Rome 2019"),
                record("gp/trip", "Trip, renamed")
            ]
        );
        assert_eq!(newly, [record("gp/rome 2019", "Rome 2019")]);
        // Nothing new: nothing to record.
        let (_, new, newly) = merge_albums(
            HashMap::from([("gp/same".to_string(), info("Same"))]),
            vec![record("gp/same", "Same")],
        );
        assert!(new.is_empty() && newly.is_empty());
    }

    #[test]
    fn a_sidecar_stays_small() {
        let size = std::mem::size_of::<SidecarData>();
        assert!(size <= 88, "SidecarData is {size} bytes");
        assert!(std::mem::size_of::<Sidecar>() <= 64);
    }

    #[test]
    fn a_record_stays_small() {
        // One per media entry, held through the run (issue 14's memory goal).
        let size = std::mem::size_of::<MediaRecord>();
        assert!(size <= 64, "MediaRecord is {size} bytes");
    }
}
