//! The plan's first half: the JSON files read (only those a new media file may need) and
//! sorted into sidecars, album metadata and the rest, and each media entry paired with its
//! sidecar by the matcher (see [`super`]).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use indicatif::ProgressBar;
use rayon::prelude::*;

use crate::library::manifest::{Claim, Manifest, OpenFile, Remembered, SourceKey};

use crate::metadata::media::MediaKind;
use crate::names::key;
use crate::process::report::JsonReport;
use crate::takeout::matcher::{self, Match, MediaList, MediaRef, SidecarList};
use crate::takeout::sidecar::{self, AlbumInfo, JsonFile};
use crate::takeout::{self, Catalog, Class, EntryId, Reader};

use super::{
    disk_order, folder_name, in_library, source_id, split_entry_path, EarlierSidecar, OpenId,
    SidecarData, SidecarOrigin,
};
use crate::process::policy;
use crate::process::Options;

/// What the JSON files read so far hold.
#[derive(Default)]
struct JsonRead {
    sidecars: Vec<SidecarData>,
    albums: HashMap<String, AlbumInfo>,
    /// Valid JSON of other kinds (`print-subscriptions.json`), for the report.
    other: Vec<String>,
    bad: Vec<JsonReport>,
}

impl JsonRead {
    /// Adds a batch of parsed JSON files.
    fn absorb(&mut self, catalog: &Catalog, batch: Vec<(usize, Result<JsonFile, String>)>) {
        for (i, res) in batch {
            let e = &catalog.entries[i];
            match res {
                Ok(JsonFile::Media(s)) => self.sidecars.push(SidecarData {
                    origin: SidecarOrigin::Entry(EntryId::of(i)),
                    parsed: Ok(s),
                    recorded: None,
                }),
                Ok(JsonFile::Album(a)) => {
                    self.albums.insert(key(e.dir()), a);
                }
                Ok(JsonFile::Other) => self.other.push(catalog.describe(e)),
                Err(reason) => {
                    self.bad.push(JsonReport {
                        source: catalog.describe(e),
                        title: None,
                        reason: Some(reason.clone()),
                    });
                    // Still matched by name, so that its media file is reported with the reason.
                    self.sidecars.push(SidecarData {
                        origin: SidecarOrigin::Entry(EntryId::of(i)),
                        parsed: Err(reason.into()),
                        recorded: None,
                    });
                }
            }
        }
    }
}

/// The matcher's view of the sidecars: this run's, then earlier runs' (`earlier`), each read
/// where it is kept, so that the view costs nothing per sidecar (a list of
/// [`matcher::SidecarRef`]s would take 48 bytes each).
struct SidecarView<'a> {
    catalog: &'a Catalog,
    this_run: &'a [SidecarData],
    earlier: &'a [SidecarData],
}

impl SidecarView<'_> {
    fn get(&self, i: usize) -> &SidecarData {
        match i.checked_sub(self.this_run.len()) {
            None => &self.this_run[i],
            Some(e) => &self.earlier[e],
        }
    }

    /// The entry id of sidecar `i` ([`SourceKey::id`]).
    fn id(&self, i: usize) -> u128 {
        match &self.get(i).origin {
            SidecarOrigin::Entry(e) => source_id(self.catalog.entry(*e)),
            SidecarOrigin::Earlier(e) => e.source.id(),
        }
    }
}

impl SidecarList for SidecarView<'_> {
    fn count(&self) -> usize {
        self.this_run.len() + self.earlier.len()
    }
    fn dir(&self, i: usize) -> &str {
        self.get(i).dir_name(self.catalog).0
    }
    fn name(&self, i: usize) -> &str {
        self.get(i).dir_name(self.catalog).1
    }
    fn title(&self, i: usize) -> Option<&str> {
        self.get(i).parsed.as_ref().ok()?.title()
    }
}

/// The matcher's view of the media: this run's media entries, then the remembered library
/// files that take part ([`extras`]), each read from the catalog, so that the view costs
/// nothing per file (a list of [`MediaRef`]s would take 40 bytes each).
struct MediaView<'a> {
    catalog: &'a Catalog,
    media: &'a [(usize, Option<MediaKind>)],
    extras: &'a [(Extra, MediaRef<'a>)],
}

impl MediaList for MediaView<'_> {
    fn count(&self) -> usize {
        self.media.len() + self.extras.len()
    }
    fn dir(&self, m: usize) -> &str {
        match m.checked_sub(self.media.len()) {
            None => self.catalog.entries[self.media[m].0].dir(),
            Some(x) => self.extras[x].1.dir,
        }
    }
    fn name(&self, m: usize) -> &str {
        match m.checked_sub(self.media.len()) {
            None => self.catalog.entries[self.media[m].0].name(),
            Some(x) => self.extras[x].1.name,
        }
    }
    fn video(&self, m: usize) -> bool {
        match m.checked_sub(self.media.len()) {
            None => self.media[m].1.is_some_and(MediaKind::is_video),
            Some(x) => self.extras[x].1.video,
        }
    }
}

/// Some files of a [`MediaList`]: file `k` is `all`'s `which[k]`.
struct Subset<'a> {
    all: &'a dyn MediaList,
    which: &'a [usize],
}

impl MediaList for Subset<'_> {
    fn count(&self) -> usize {
        self.which.len()
    }
    fn dir(&self, k: usize) -> &str {
        self.all.dir(self.which[k])
    }
    fn name(&self, k: usize) -> &str {
        self.all.name(self.which[k])
    }
    fn video(&self, k: usize) -> bool {
        self.all.video(self.which[k])
    }
}

/// JSON files parsed in parallel between two hand-overs to [`JsonRead::absorb`].
const JSON_CHUNK: usize = 4096;

/// Reads JSON files whole (they are small), in parallel, one reader (one open file per zip)
/// per worker thread, into `read` a chunk at a time (the parsed files of a whole export are
/// never held twice). Once a stop is requested the rest are skipped.
fn read_jsons(json: &Json, batch: &[usize], read: &mut JsonRead) {
    json.stage.inc_length(batch.len() as u64);
    for chunk in batch.chunks(JSON_CHUNK) {
        let parsed = read_chunk(json.opts, json.catalog, json.readers, chunk, json.stage);
        read.absorb(json.catalog, parsed);
    }
}

fn read_chunk(
    opts: &Options,
    catalog: &Catalog,
    readers: &[Mutex<Reader>],
    chunk: &[usize],
    stage: &ProgressBar,
) -> Vec<(usize, Result<JsonFile, String>)> {
    chunk
        .par_iter()
        .map(|&i| {
            if opts.stop_requested() {
                return (i, Err("not read: the run was stopped".to_string()));
            }
            let slot = rayon::current_thread_index().unwrap_or(0) % readers.len();
            let mut reader = readers[slot].lock().expect("reader lock");
            let res = reader
                .read_small(&catalog.entries[i], sidecar::MAX_JSON_BYTES)
                .map_err(|err| format!("cannot read: {}", crate::words::io_error(&err)))
                .and_then(|bytes| sidecar::parse(&bytes));
            stage.inc(1);
            (i, res)
        })
        .collect()
}

/// What pairing found: each media entry's match, each remembered media file's (see
/// [`Extra`]), the sidecars and albums read, and what the report lists of the JSON files.
pub(super) struct Paired {
    pub matches: Vec<Option<Match>>,
    pub extra: Vec<(Extra, Option<Match>)>,
    /// Library files found again in the manifest to take part (see [`read_and_match`]),
    /// numbered after the remembered open files.
    pub revisited: Vec<OpenFile>,
    /// The folder keys whose JSON files were not read.
    pub unread: HashSet<String>,
    /// This run's sidecars, then those earlier runs read (see [`super::Plan::sidecars`]).
    pub sidecars: Vec<SidecarData>,
    /// Album metadata by folder key.
    pub albums: HashMap<String, AlbumInfo>,
    /// Sidecars taken by entries earlier runs recorded as duplicates without one.
    pub waiting_claims: Vec<usize>,
    /// This run's sidecars no media file used.
    pub unused_sidecars: Vec<JsonReport>,
    /// Valid JSON files of other kinds (`print-subscriptions.json`).
    pub other_json: Vec<String>,
    /// JSON files that could not be read.
    pub bad_json: Vec<JsonReport>,
}

/// An entry of an earlier run's library file that this run may rewrite (see
/// [`super::updates`]), not among this run's inputs: the matcher sees it as a media file in
/// its folder.
pub(crate) struct Extra {
    /// Index into the open files; `None` for an entry recorded as a duplicate without a
    /// sidecar of its own (its file has its metadata: it only takes its sidecar).
    pub file: Option<OpenId>,
    pub source: SourceKey,
}

/// Sidecars earlier runs read from parts not given now, and this run's sidecars' records.
fn earlier_sidecars(
    catalog: &Catalog,
    classes: &[Class],
    remembered: &Remembered,
) -> Vec<SidecarData> {
    let here: HashSet<u128> = (0..catalog.entries.len())
        .filter(|i| classes[*i] == Class::Json)
        .map(|i| source_id(&catalog.entries[i]))
        .collect();
    remembered
        .sidecars
        .iter()
        .filter(|r| !here.contains(&r.source.id()))
        .filter_map(|r| {
            Some(SidecarData {
                origin: SidecarOrigin::Earlier(Box::new(EarlierSidecar {
                    source: r.source.clone(),
                    from: r.from.clone(),
                    export: r.export,
                })),
                parsed: Ok(crate::process::stored::restore(&r.data)?),
                recorded: Some(r.claimed),
            })
        })
        .collect()
}

/// The entries of the open files (`files`, numbered from `first`) and of the remembered
/// duplicates waiting for their sidecar (`waiting`) that are not among this run's media.
fn extras_of<'a>(
    here: &HashSet<u128>,
    files: &'a [OpenFile],
    first: usize,
    waiting: &'a [SourceKey],
) -> Vec<(Extra, MediaRef<'a>)> {
    let open = files.iter().enumerate();
    let sources = open
        .flat_map(|(b, f)| f.sources.iter().map(move |s| (Some(OpenId(first + b)), s)))
        .chain(waiting.iter().map(|s| (None, s)));
    let mut out = Vec::new();
    for (file, s) in sources.filter(|(_, s)| !here.contains(&s.id())) {
        let (dir, name) = split_entry_path(&s.entry);
        let video = MediaKind::from_name(name).is_some_and(MediaKind::is_video);
        let extra = Extra {
            file,
            source: s.clone(),
        };
        out.push((extra, MediaRef { dir, name, video }));
    }
    out
}

/// Two sets as one (the larger one grows).
pub(super) fn merge_sets<T: Eq + std::hash::Hash>(a: HashSet<T>, b: HashSet<T>) -> HashSet<T> {
    let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    big.extend(small);
    big
}

/// The entry ids of this run's media, when some earlier run's entries take part.
fn media_here(catalog: &Catalog, media: &[(usize, Option<MediaKind>)]) -> HashSet<u128> {
    (media.iter())
        .map(|(i, _)| source_id(&catalog.entries[*i]))
        .collect()
}

/// Reads the JSON files and pairs media with sidecars. Media already in the output from an
/// earlier run with their sidecar need none: first only the JSON files of folders with new
/// media (or with library files still without a sidecar) are read; the rest only if some new
/// media file found no sidecar there. The sidecars earlier runs read from parts not given now
/// take part (those a file claimed are left to edited copies and Live Photo videos).
///
/// Library files of earlier runs take part again where this run may change what they get
/// (see [`super::updates`]): those written without a sidecar or marked `stale`; those of
/// folders with sidecars no earlier run recorded (a part that came only now, a newer
/// export); and those whose sidecar a photo of this run took. Those not among the inputs
/// are found by a pass over the manifest, and the matching is made again with them.
pub(super) fn read_and_match(
    opts: &Options,
    catalog: &Catalog,
    classes: &[Class],
    media: &[(usize, Option<MediaKind>)],
    manifest: &Manifest,
    remembered: &Remembered,
    stage: &ProgressBar,
) -> Paired {
    let mut json_entries: Vec<usize> = (0..catalog.entries.len())
        .filter(|i| classes[*i] == Class::Json)
        .collect();
    json_entries.sort_by_key(|i| disk_order(&catalog.entries[*i]));
    let open = &remembered.open_files;
    // This run's media entries, when entries of earlier runs take part (see `extras_of`).
    let mut here = if open.is_empty() && remembered.waiting.is_empty() {
        HashSet::new()
    } else {
        media_here(catalog, media)
    };
    let mut extras = extras_of(&here, open, 0, &remembered.waiting);
    // A media file needs its sidecar when it is new to the library, or when its library file
    // is open and its folder holds a JSON file no photo of an earlier run took (the part
    // that holds its sidecar may have come only now, or the run that read it could not
    // apply it); a stale file's (or one a killed run was rewriting) always.
    let marked = |f: &&OpenFile| f.line.stale || f.line.replacing.is_some();
    let bare: HashSet<&str> = (open.iter())
        .filter(|f| !marked(f))
        .map(|f| f.line.path.as_str())
        .collect();
    let stale: HashSet<&str> = (open.iter())
        .filter(marked)
        .map(|f| f.line.path.as_str())
        .collect();
    let unseen_json_dirs: HashSet<String> = if bare.is_empty() {
        HashSet::new()
    } else {
        (json_entries.iter().map(|&i| &catalog.entries[i]))
            .filter(|e| remembered.claimed.get(source_id(e)) != Some(true))
            .map(|e| key(e.dir()))
            .collect()
    };
    let needs_sidecar = |k: usize| {
        if k >= media.len() {
            return true;
        }
        let e = &catalog.entries[media[k].0];
        in_library(manifest, e).is_none_or(|p| {
            stale.contains(p) || (bare.contains(p) && unseen_json_dirs.contains(&key(e.dir())))
        })
    };
    let mut pending_dirs: HashSet<String> = {
        let all_media = MediaView {
            catalog,
            media,
            extras: &extras,
        };
        // (A set per split: a collect would hold a key per media file for a moment.)
        (0..all_media.count())
            .into_par_iter()
            .filter(|k| needs_sidecar(*k))
            .fold(HashSet::new, |mut dirs, k| {
                dirs.insert(key(all_media.dir(k)));
                dirs
            })
            .reduce(HashSet::new, merge_sets)
    };
    // Read first: the JSON files of those folders, and every JSON file no earlier run
    // recorded (an album's metadata, whatever part brings it; sidecars whose photo comes in
    // a later part, recorded for it).
    let read_first: Vec<bool> = (json_entries.par_iter())
        .map(|&i| {
            let e = &catalog.entries[i];
            pending_dirs.contains(&key(e.dir())) || remembered.claimed.get(source_id(e)).is_none()
        })
        .collect();
    let (mut first, mut rest) = (Vec::new(), Vec::new());
    for (&i, now) in json_entries.iter().zip(read_first) {
        if now { &mut first } else { &mut rest }.push(i);
    }
    crate::process::show_sidecar_count(stage);
    let readers: Vec<Mutex<Reader>> = (0..rayon::current_num_threads())
        .map(|_| Mutex::new(catalog.reader(takeout::SMALL_BUFFER)))
        .collect();
    let json = Json {
        opts,
        catalog,
        readers: &readers,
        stage,
    };
    let earlier = earlier_sidecars(catalog, classes, remembered);
    let mut read = JsonRead::default();
    read.sidecars.reserve_exact(first.len());
    read_jsons(&json, &first, &mut read);
    // A media sidecar no earlier run recorded, in a folder whose media needed none (a newer
    // export's, or one a killed run read but did not record): the folder's media are matched
    // too, and its other JSON files read, so that the sidecar goes to its photo, not to the
    // unused ones.
    let late: HashSet<String> = (read.sidecars.iter())
        .filter(|s| s.parsed.is_ok())
        .filter_map(|s| s.entry())
        .map(|i| key(catalog.entry(i).dir()))
        .filter(|d| !pending_dirs.contains(d))
        .collect();
    read_more(&json, &late, &mut rest, &mut read);
    pending_dirs.extend(late.iter().cloned());
    crate::process::trace_memory("sidecars read");
    let claims = |files: &[OpenFile]| -> Vec<u128> {
        (files.iter())
            .filter_map(|f| f.line.claim.as_ref()?.sidecar_id())
            .collect()
    };
    let mut freed: HashSet<u128> = claims(open).into_iter().collect();
    let match_now = |extras: &[(Extra, MediaRef)],
                     freed: &HashSet<u128>,
                     pending_dirs: &HashSet<String>,
                     rest: &mut Vec<usize>,
                     read: &mut JsonRead| {
        let all_media = MediaView {
            catalog,
            media,
            extras,
        };
        let wanted: (&Json, &[SidecarData], &dyn Fn(usize) -> bool) =
            (&json, &earlier, &needs_sidecar);
        match_until_found(wanted, &all_media, freed, pending_dirs, rest, read)
    };
    let mut matches = match_now(&extras, &freed, &pending_dirs, &mut rest, &mut read);
    // Library files to look at again, not among the inputs nor open already.
    let revisited = if manifest.holds_files() {
        let taken: HashSet<u128> = (matches.iter().flatten())
            .filter(|m| !m.rule.is_shared())
            .filter_map(|m| {
                let s = SidecarView {
                    catalog,
                    this_run: &read.sidecars,
                    earlier: &earlier,
                }
                .id(m.sidecar);
                remembered.claimed.get(s).is_some().then_some(s)
            })
            .collect();
        let fresh = fresh_dirs(catalog, &read.sidecars, remembered);
        let in_fresh = |entry: &str, claim: Option<&Claim>| {
            let dir = key(takeout::dir_of_path(entry));
            fresh
                .get(&dir)
                .is_some_and(|&newest| policy::may_take_a_new_sidecar(claim, newest))
        };
        let skip: HashSet<u128> = (open.iter())
            .map(|f| crate::library::manifest::hash_id(&f.line.hash))
            .collect();
        if taken.is_empty() && fresh.is_empty() {
            Vec::new()
        } else {
            manifest
                .revisit(in_fresh, &taken, &skip)
                .unwrap_or_default()
        }
    } else {
        Vec::new()
    };
    if !revisited.is_empty() {
        let dirs: HashSet<String> = (revisited.iter())
            .flat_map(|f| f.sources.iter())
            .map(|s| key(takeout::dir_of_path(&s.entry)))
            .filter(|d| !pending_dirs.contains(d))
            .collect();
        read_more(&json, &dirs, &mut rest, &mut read);
        pending_dirs.extend(dirs);
        if here.is_empty() {
            here = media_here(catalog, media);
        }
        extras.extend(extras_of(&here, &revisited, open.len(), &[]));
        freed.extend(claims(&revisited));
        matches = match_now(&extras, &freed, &pending_dirs, &mut rest, &mut read);
    }
    let unread: HashSet<String> = rest
        .iter()
        .map(|i| key(catalog.entries[*i].dir()))
        .filter(|d| !pending_dirs.contains(d))
        .collect();
    // This run's sidecars (the first the matcher saw; earlier runs' are never "unused").
    let unused = unused_sidecars(catalog, &read.sidecars, &earlier, &matches);
    read.sidecars.par_iter_mut().for_each(|s| {
        if let Some(i) = s.entry() {
            s.recorded = remembered.claimed.get(source_id(catalog.entry(i)));
        }
    });
    read.sidecars.extend(earlier);
    let mut paired = split_extras(matches, media.len(), extras);
    paired.revisited = revisited;
    paired.unread = unread;
    paired.sidecars = read.sidecars;
    paired.albums = read.albums;
    paired.unused_sidecars = unused;
    paired.other_json = read.other;
    paired.bad_json = read.bad;
    paired
}

/// The folders (keys) of this run's media sidecars that no earlier run recorded, each with
/// the newest export time among them (`None` when one has none).
fn fresh_dirs(
    catalog: &Catalog,
    sidecars: &[SidecarData],
    remembered: &Remembered,
) -> HashMap<String, Option<u64>> {
    let mut dirs: HashMap<String, Option<u64>> = HashMap::new();
    for s in sidecars.iter().filter(|s| s.parsed.is_ok()) {
        let Some(i) = s.entry() else { continue };
        let e = catalog.entry(i);
        if remembered.claimed.get(source_id(e)).is_some() {
            continue;
        }
        let export = catalog.export_of(e);
        dirs.entry(key(e.dir()))
            .and_modify(|newest| *newest = newest.zip(export).map(|(a, b)| a.max(b)))
            .or_insert(export);
    }
    dirs
}

/// What reading JSON files needs.
struct Json<'a> {
    opts: &'a Options,
    catalog: &'a Catalog,
    readers: &'a [Mutex<Reader<'a>>],
    stage: &'a ProgressBar,
}

/// Reads the JSON files of `rest` that are in the folders `dirs` (keys); the others stay.
fn read_more(json: &Json, dirs: &HashSet<String>, rest: &mut Vec<usize>, read: &mut JsonRead) {
    if dirs.is_empty() {
        return;
    }
    let catalog = json.catalog;
    let (more, still): (Vec<usize>, Vec<usize>) =
        (rest.iter()).partition(|&&i| dirs.contains(&key(catalog.entries[i].dir())));
    *rest = still;
    read.sidecars.reserve_exact(more.len());
    read_jsons(json, &more, read);
}

/// Matches the media of the folders `pending_dirs` (all of them when every JSON file is
/// read), reading the rest of the JSON files (`rest`) if a media file that needs a sidecar
/// found none. Earlier runs' sidecars (`earlier`) that a file took by its own name are out of
/// reach, but those of the open files taking part (`freed`: they may keep them).
fn match_until_found(
    (json, earlier, needs_sidecar): (&Json, &[SidecarData], &dyn Fn(usize) -> bool),
    all_media: &MediaView,
    freed: &HashSet<u128>,
    pending_dirs: &HashSet<String>,
    rest: &mut Vec<usize>,
    read: &mut JsonRead,
) -> Vec<Option<Match>> {
    loop {
        let sidecars = SidecarView {
            catalog: json.catalog,
            this_run: &read.sidecars,
            earlier,
        };
        let taken_for_good = |s: &SidecarData| match &s.origin {
            SidecarOrigin::Earlier(e) => {
                s.recorded == Some(true) && !freed.contains(&e.source.id())
            }
            SidecarOrigin::Entry(_) => false,
        };
        let claimed: Vec<bool> = read
            .sidecars
            .iter()
            .map(|_| false)
            .chain(earlier.iter().map(taken_for_good))
            .collect();
        // Media in folders whose JSON files were not read cannot match anything there.
        let matches = if rest.is_empty() {
            matcher::match_all_claimed(all_media, &sidecars, claimed)
        } else {
            let included: Vec<usize> = (0..all_media.count())
                .filter(|&k| pending_dirs.contains(&key(all_media.dir(k))))
                .collect();
            match_included(all_media, &included, &sidecars, claimed)
        };
        crate::process::trace_memory("sidecars matched");
        let still_missing = matches
            .iter()
            .enumerate()
            .any(|(k, m)| m.is_none() && needs_sidecar(k));
        if !still_missing || rest.is_empty() {
            return matches;
        }
        let batch = std::mem::take(rest);
        read.sidecars.reserve_exact(batch.len());
        read_jsons(json, &batch, read);
    }
}

/// Matches the media `included` (indexes into `media`); the others get `None`.
fn match_included(
    media: &dyn MediaList,
    included: &[usize],
    sidecars: &dyn SidecarList,
    claimed: Vec<bool>,
) -> Vec<Option<Match>> {
    if included.len() == media.count() {
        // Every media entry (a first run): no subset to go through.
        return matcher::match_all_claimed(media, sidecars, claimed);
    }
    let subset = Subset {
        all: media,
        which: included,
    };
    let mut matches = vec![None; media.count()];
    let found = matcher::match_all_claimed(&subset, sidecars, claimed);
    for (&k, m) in included.iter().zip(found) {
        matches[k] = m;
    }
    matches
}

/// Splits the matches of this run's media (the first `n`) from those of the library files
/// that took part (`extras`), and notes the sidecars those claimed; the rest of [`Paired`]
/// is empty.
fn split_extras(
    mut matches: Vec<Option<Match>>,
    n: usize,
    extras: Vec<(Extra, MediaRef)>,
) -> Paired {
    let extra_matches = matches.split_off(n);
    let waiting_claims = extras
        .iter()
        .zip(&extra_matches)
        .filter_map(|((x, _), m)| match (x.file, m) {
            (None, Some(m)) if !m.rule.is_shared() => Some(m.sidecar),
            _ => None,
        })
        .collect();
    Paired {
        matches,
        extra: extras
            .into_iter()
            .map(|(e, _)| e)
            .zip(extra_matches)
            .collect(),
        waiting_claims,
        revisited: Vec::new(),
        unread: HashSet::new(),
        sidecars: Vec::new(),
        albums: HashMap::new(),
        unused_sidecars: Vec::new(),
        other_json: Vec::new(),
        bad_json: Vec::new(),
    }
}

/// Sidecars of this run (`sidecars`) no media file used. A second copy of a used sidecar (a
/// part downloaded twice) is not "unused"; matches may also point at `earlier` runs' sidecars
/// (numbered after this run's).
fn unused_sidecars(
    catalog: &Catalog,
    sidecars: &[SidecarData],
    earlier: &[SidecarData],
    matches: &[Option<Match>],
) -> Vec<JsonReport> {
    let mut used = vec![false; sidecars.len() + earlier.len()];
    for m in matches.iter().flatten() {
        used[m.sidecar] = true;
    }
    // (folder, name) keys as hashes: at a million entries, a set of string pairs would be
    // the plan's peak (90 MB).
    let key_of = |s: &SidecarData| {
        let (dir, name) = s.dir_name(catalog);
        folder_name(dir, name)
    };
    let used_names: HashSet<u128> = (sidecars.par_iter().chain(earlier))
        .zip(&used)
        .filter(|(_, u)| **u)
        .fold(HashSet::new, |mut names, (s, _)| {
            names.insert(key_of(s));
            names
        })
        .reduce(HashSet::new, merge_sets);
    sidecars
        .iter()
        .zip(&used)
        .filter(|(s, used)| !**used && !used_names.contains(&key_of(s)))
        .filter_map(|(s, _)| {
            let parsed = s.parsed.as_ref().ok()?;
            Some(JsonReport {
                source: catalog.describe(catalog.entry(s.entry()?)),
                title: parsed.title().map(String::from),
                reason: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::manifest::SourceKey;
    use crate::takeout::sidecar::Sidecar;
    use crate::takeout::Catalog;

    use super::super::EarlierSidecar;

    const PHOTOS: &str = "Takeout/Google Photos/Photos from 2019";
    const ALBUM: &str = "Takeout/Google Photos/Trip";

    /// A catalog of a folder holding `files` (paths below it).
    fn catalog(files: &[String]) -> (tempfile::TempDir, Catalog) {
        let root = tempfile::tempdir().unwrap();
        for f in files {
            let path = root.path().join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"x").unwrap();
        }
        let catalog = Catalog::open(&[root.path().to_path_buf()], None).unwrap();
        (root, catalog)
    }

    fn entry_of(catalog: &Catalog, name: &str) -> usize {
        catalog
            .entries
            .iter()
            .position(|e| e.name() == name)
            .unwrap()
    }

    fn titled(title: &str) -> Sidecar {
        Sidecar::new(Some(title.into()), None, None, None)
    }

    #[test]
    fn the_sidecar_view_numbers_this_runs_sidecars_then_earlier_ones() {
        let (_root, catalog) =
            catalog(&[format!("{PHOTOS}/a.jpg.json"), format!("{ALBUM}/b.json")]);
        let this_run = [
            SidecarData {
                origin: SidecarOrigin::Entry(EntryId::of(entry_of(&catalog, "a.jpg.json"))),
                parsed: Ok(titled("a.jpg")),
                recorded: None,
            },
            SidecarData {
                origin: SidecarOrigin::Entry(EntryId::of(entry_of(&catalog, "b.json"))),
                parsed: Err("not JSON".into()),
                recorded: None,
            },
        ];
        let earlier = [SidecarData {
            origin: SidecarOrigin::Earlier(Box::new(EarlierSidecar {
                source: SourceKey {
                    entry: format!("{ALBUM}/c.jpg.json"),
                    size: 9,
                    crc32: None,
                },
                from: "old.zip".into(),
                export: None,
            })),
            parsed: Ok(titled("c.jpg")),
            recorded: Some(true),
        }];
        let view = SidecarView {
            catalog: &catalog,
            this_run: &this_run,
            earlier: &earlier,
        };
        assert_eq!(view.count(), 3);
        let seen: Vec<(&str, &str, Option<&str>)> = (0..view.count())
            .map(|i| (view.dir(i), view.name(i), view.title(i)))
            .collect();
        let (photos, album) = ("Google Photos/Photos from 2019", "Google Photos/Trip");
        assert_eq!(
            seen,
            [
                (photos, "a.jpg.json", Some("a.jpg")),
                (album, "b.json", None),
                (album, "c.jpg.json", Some("c.jpg")),
            ]
        );
    }

    #[test]
    fn the_media_view_numbers_entries_then_library_files_and_a_subset_picks_from_it() {
        let (_root, catalog) = catalog(&[format!("{PHOTOS}/a.jpg"), format!("{ALBUM}/v.MOV")]);
        let media = [
            (entry_of(&catalog, "a.jpg"), Some(MediaKind::Jpeg)),
            (entry_of(&catalog, "v.MOV"), Some(MediaKind::IsoVideo)),
        ];
        let source = SourceKey {
            entry: format!("{ALBUM}/old.jpg"),
            size: 9,
            crc32: None,
        };
        let extras = [(
            Extra {
                file: Some(OpenId(0)),
                source,
            },
            MediaRef {
                dir: "Google Photos/Old",
                name: "old.MP",
                video: true,
            },
        )];
        let view = MediaView {
            catalog: &catalog,
            media: &media,
            extras: &extras,
        };
        let all = |l: &dyn MediaList| -> Vec<(String, String, bool)> {
            (0..l.count())
                .map(|m| (l.dir(m).to_string(), l.name(m).to_string(), l.video(m)))
                .collect()
        };
        let row = |d: &str, n: &str, v| (d.to_string(), n.to_string(), v);
        let (photos, album) = ("Google Photos/Photos from 2019", "Google Photos/Trip");
        assert_eq!(
            all(&view),
            [
                row(photos, "a.jpg", false),
                row(album, "v.MOV", true),
                row("Google Photos/Old", "old.MP", true),
            ]
        );
        let subset = Subset {
            all: &view,
            which: &[2, 0],
        };
        assert_eq!(
            all(&subset),
            [
                row("Google Photos/Old", "old.MP", true),
                row(photos, "a.jpg", false)
            ]
        );
    }

    #[test]
    fn only_the_included_media_are_matched() {
        let dir = "Google Photos/Photos from 2019";
        let media = [
            MediaRef {
                dir,
                name: "a.jpg",
                video: false,
            },
            MediaRef {
                dir,
                name: "b.jpg",
                video: false,
            },
        ];
        let sidecars = [
            matcher::SidecarRef {
                dir,
                name: "b.jpg.json",
                title: None,
            },
            matcher::SidecarRef {
                dir,
                name: "a.jpg.json",
                title: None,
            },
        ];
        let (media, sidecars) = (&media[..], &sidecars[..]);
        let found = match_included(&media, &[1], &sidecars, vec![false; 2]);
        let exact = |sidecar| {
            Some(Match {
                sidecar,
                rule: matcher::Rule::Exact,
            })
        };
        assert_eq!(found, [None, exact(0)]);
        // All included: all matched.
        let found = match_included(&media, &[0, 1], &sidecars, vec![false; 2]);
        assert_eq!(found, [exact(1), exact(0)]);
    }
}
