//! The plan's first half: the JSON files read (only those a new media file may need) and
//! sorted into sidecars, album metadata and the rest, and each media entry paired with its
//! sidecar by the matcher (see [`super::plan`]).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::manifest::Manifest;
use crate::matcher::{self, Match, MediaRef, SidecarRef};
use crate::media::MediaKind;
use crate::names::key;
use crate::report::JsonReport;
use crate::sidecar::{self, AlbumInfo, JsonFile};
use crate::source::{self, Catalog, Reader};

use super::plan::{disk_order, in_library, Class, Plan, SidecarData};
use super::Options;

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
                    entry: i,
                    parsed: Ok(s),
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
                        entry: i,
                        parsed: Err(reason),
                    });
                }
            }
        }
    }

    /// The matcher's view of the sidecars.
    fn refs(&self, catalog: &Catalog) -> Vec<SidecarRef> {
        self.sidecars
            .iter()
            .map(|s| {
                let e = &catalog.entries[s.entry];
                SidecarRef {
                    dir: e.dir().to_string(),
                    name: e.name().to_string(),
                    title: s.parsed.as_ref().ok().and_then(|s| s.title.clone()),
                }
            })
            .collect()
    }
}

/// Reads JSON files whole (they are small), in parallel, one reader (one open file per zip)
/// per worker thread. Once a stop is requested the rest are skipped.
fn read_jsons(
    opts: &Options,
    catalog: &Catalog,
    readers: &[Mutex<Reader>],
    batch: &[usize],
) -> Vec<(usize, Result<JsonFile, String>)> {
    batch
        .par_iter()
        .map(|&i| {
            if opts.stop_requested() {
                return (i, Err("not read: the run was stopped".to_string()));
            }
            let slot = rayon::current_thread_index().unwrap_or(0) % readers.len();
            let mut reader = readers[slot].lock().expect("reader lock");
            let res = reader
                .read_small(&catalog.entries[i], sidecar::MAX_JSON_BYTES)
                .map_err(|err| format!("cannot read: {err}"))
                .and_then(|bytes| sidecar::parse(&bytes));
            (i, res)
        })
        .collect()
}

/// Reads the JSON files and pairs media with sidecars. Media already in the output from an
/// earlier run need no sidecar: first only the JSON files of folders with new media are read;
/// the rest only if some new media file found no sidecar there. Returns each media entry's
/// match, and the folder keys whose JSON files were not read.
pub(super) fn read_and_match(
    opts: &Options,
    plan: &mut Plan,
    classes: &[Class],
    media: &[(usize, Option<MediaKind>)],
    manifest: &Manifest,
) -> (Vec<Option<Match>>, HashSet<String>) {
    let catalog = &plan.catalog;
    let mut json_entries: Vec<usize> = (0..catalog.entries.len())
        .filter(|i| classes[*i] == Class::Json)
        .collect();
    json_entries.sort_by_key(|i| disk_order(&catalog.entries[*i]));
    let media_refs: Vec<MediaRef> = media
        .iter()
        .map(|&(i, kind)| {
            let e = &catalog.entries[i];
            MediaRef {
                dir: e.dir().to_string(),
                name: e.name().to_string(),
                video: kind.is_some_and(MediaKind::is_video),
            }
        })
        .collect();
    let is_new = |i: usize| in_library(manifest, &catalog.entries[i]).is_none();
    let pending_dirs: HashSet<String> = media
        .iter()
        .filter(|(i, _)| is_new(*i))
        .map(|(i, _)| key(catalog.entries[*i].dir()))
        .collect();
    let (first, mut rest): (Vec<usize>, Vec<usize>) = json_entries
        .iter()
        .partition(|i| pending_dirs.contains(&key(catalog.entries[**i].dir())));
    let readers: Vec<Mutex<Reader>> = (0..rayon::current_num_threads())
        .map(|_| Mutex::new(catalog.reader(source::SMALL_BUFFER)))
        .collect();
    let mut read = JsonRead::default();
    read.absorb(catalog, read_jsons(opts, catalog, &readers, &first));
    let (sidecar_refs, matches) = loop {
        let sidecar_refs = read.refs(catalog);
        // Media in folders whose JSON files were not read cannot match anything there.
        let included: Vec<usize> = (0..media.len())
            .filter(|&k| rest.is_empty() || pending_dirs.contains(&key(&media_refs[k].dir)))
            .collect();
        let matches = if included.len() == media.len() {
            // Every media entry (a first run): no subset to copy.
            matcher::match_all(&media_refs, &sidecar_refs)
        } else {
            let subset: Vec<MediaRef> = included.iter().map(|&k| media_refs[k].clone()).collect();
            let mut matches = vec![None; media.len()];
            for (&k, m) in included
                .iter()
                .zip(matcher::match_all(&subset, &sidecar_refs))
            {
                matches[k] = m;
            }
            matches
        };
        let unmatched_new = media
            .iter()
            .zip(&matches)
            .any(|((i, _), m)| m.is_none() && is_new(*i));
        if !unmatched_new || rest.is_empty() {
            break (sidecar_refs, matches);
        }
        let batch = std::mem::take(&mut rest);
        read.absorb(catalog, read_jsons(opts, catalog, &readers, &batch));
    };
    let unread: HashSet<String> = rest
        .iter()
        .map(|i| key(catalog.entries[*i].dir()))
        .filter(|d| !pending_dirs.contains(d))
        .collect();
    plan.report.unused_sidecars = unused_sidecars(catalog, &read.sidecars, &sidecar_refs, &matches);
    plan.report.ignored.extend(read.other);
    plan.report.bad_json.extend(read.bad);
    plan.sidecars = read.sidecars;
    plan.albums = read.albums;
    (matches, unread)
}

/// Sidecars no media file used. A second copy of a used sidecar (a part downloaded twice) is
/// not "unused".
fn unused_sidecars(
    catalog: &Catalog,
    sidecars: &[SidecarData],
    refs: &[SidecarRef],
    matches: &[Option<Match>],
) -> Vec<JsonReport> {
    let mut used = vec![false; sidecars.len()];
    for m in matches.iter().flatten() {
        used[m.sidecar] = true;
    }
    let used_names: HashSet<(String, String)> = refs
        .iter()
        .zip(&used)
        .filter(|(_, u)| **u)
        .map(|(r, _)| (key(&r.dir), key(&r.name)))
        .collect();
    sidecars
        .iter()
        .zip(refs)
        .zip(&used)
        .filter(|((_, r), used)| !**used && !used_names.contains(&(key(&r.dir), key(&r.name))))
        .filter_map(|((s, _), _)| {
            let parsed = s.parsed.as_ref().ok()?;
            Some(JsonReport {
                source: catalog.describe(&catalog.entries[s.entry]),
                title: parsed.title.clone(),
                reason: None,
            })
        })
        .collect()
}
