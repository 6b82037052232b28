//! Stage 3, the finish: album memberships merged with earlier runs' and written, the manifest
//! synced, the report completed and written.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::OpenOptions;
use std::path::PathBuf;

use crate::cli::AlbumsMode;
use crate::library::albums;
use crate::library::dir::OutputDir;
use crate::library::fs::open_nofollow;
use crate::library::manifest::{self, AlbumRecord, Line, Manifest};
use crate::metadata::xmp;
use crate::names::key;
use crate::process::report::Report;
use crate::takeout::dir_of_path;
use crate::takeout::folders::shown_title;

use super::plan::Plan;
use super::write::Outcome;
use super::{Options, ProcessError};

/// Completes the run: the report of the plan with the write stage's outcome, albums,
/// manifest, and the report file.
pub fn run(
    opts: &Options,
    mut plan: Plan,
    outcome: Outcome,
    out: &OutputDir,
    manifest: &Manifest,
) -> Result<Report, ProcessError> {
    let out_err = |source| ProcessError::Output {
        path: opts.output.clone(),
        source,
    };
    let mut report = std::mem::take(&mut plan.report);
    report.stopped = outcome.stopped;
    let mut log = outcome.log;
    // Files an update moved: earlier runs' album memberships follow them (this run's lines
    // did as they were logged).
    let moved: HashMap<&str, &str> = outcome
        .moved
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let mut earlier = manifest.albums().clone();
    for paths in earlier.values_mut() {
        *paths = paths
            .iter()
            .map(|p| moved.get(p.as_str()).map_or(p.clone(), |n| n.to_string()))
            .collect();
    }
    // (Files whose album got its title: their album keywords change.)
    let renamed = rename_guessed(&mut earlier, &plan.albums);

    // Albums: this run's memberships merged with earlier runs', and the files earlier runs
    // wrote from a folder this run learnt is an album.
    let joined =
        joined_albums(&plan.newly_albums, (out, manifest), &moved, &earlier).map_err(out_err)?;
    for line in &joined {
        manifest.append(line).map_err(out_err)?;
    }
    // What this run learnt for later runs, once the files it wrote are recorded: the albums
    // (after the files that joined them: a run killed before this line joins them again), and
    // the parts it was given whole (a truncated one is still missing), and where they are.
    manifest.append_albums(&plan.new_albums).map_err(out_err)?;
    let whole: Vec<PathBuf> = (opts.inputs.iter())
        .filter(|p| !report.damaged_inputs.iter().any(|d| &d.path == *p))
        .cloned()
        .collect();
    let new_parts: Vec<String> = (crate::takeout::parts::names(&whole).into_iter())
        .filter(|n| !plan.earlier_parts.contains(n))
        .collect();
    manifest.append_parts(&new_parts).map_err(out_err)?;
    let new_inputs: Vec<String> = (whole.iter())
        .filter_map(|p| p.canonicalize().ok()?.to_str().map(String::from))
        .filter(|p| !plan.earlier_inputs.contains(p))
        .collect();
    manifest.append_inputs(&new_inputs).map_err(out_err)?;
    log.members.extend(
        joined
            .into_iter()
            .flat_map(|l| l.albums.into_iter().map(move |a| (a, l.path.clone()))),
    );
    // The files whose album keywords may have changed: those this run found in an album, and
    // those it wrote an XMP sidecar for.
    let touched: HashSet<String> = (log.members.iter().map(|(_, p)| p.clone()))
        .chain(renamed)
        .collect();
    let fresh: HashSet<String> = std::mem::take(&mut log.xmp_written).into_iter().collect();
    report.albums = albums::merge(&earlier, std::mem::take(&mut log.members));
    if !opts.dry_run && opts.albums != AlbumsMode::None {
        report
            .album_notes
            .extend(album_keywords(out, &report.albums, &touched, &fresh));
        report
            .album_notes
            .extend(albums::write_json(out, &report.albums).map_err(out_err)?);
        if matches!(opts.albums, AlbumsMode::Links | AlbumsMode::Copy) {
            report.album_notes.extend(albums::make_folders(
                out,
                &report.albums,
                opts.albums == AlbumsMode::Copy,
            ));
        }
    }
    manifest.sync().map_err(out_err)?;

    if let Err(source) = log.finish(&mut report) {
        return Err(ProcessError::Report {
            path: opts.report.clone().unwrap_or_default(),
            source,
        });
    }
    Ok(report)
}

/// A manifest line naming its album for each file earlier runs wrote from a folder in
/// `newly` (albums no earlier run knew) that the manifest does not record in it (`earlier`),
/// at the path an update of this run `moved` it to. This run's report lines of such files
/// name the album too, but only these lines keep it for later runs. A second pass over the
/// manifest, made only when such a folder appears and earlier runs left files.
fn joined_albums(
    newly: &[AlbumRecord],
    (out, manifest): (&OutputDir, &Manifest),
    moved: &HashMap<&str, &str>,
    earlier: &BTreeMap<String, BTreeSet<String>>,
) -> std::io::Result<Vec<Line>> {
    if newly.is_empty() || !manifest.holds_files() {
        return Ok(Vec::new());
    }
    // (An untitled album's name is its folder's, as the entry path writes it.)
    let titles: HashMap<&str, &AlbumRecord> =
        newly.iter().map(|a| (a.folder.as_str(), a)).collect();
    let picked = manifest::sources_picked(&out.state_dir(), |entry| {
        let dir = dir_of_path(entry);
        let a = titles.get(key(dir).as_str())?;
        Some(shown_title(dir.rsplit('/').next().unwrap_or(dir), &a.title))
    })?;
    let mut lines: Vec<Line> = Vec::new();
    let mut seen: HashSet<(u128, String)> = HashSet::new();
    for (hash, title) in picked {
        let Some(path) = manifest.path_for_id(hash) else {
            continue;
        };
        let path = moved.get(path).copied().unwrap_or(path);
        let member = earlier
            .get(&title)
            .is_some_and(|paths| paths.contains(path));
        if member || !seen.insert((hash, title.clone())) {
            continue;
        }
        lines.push(Line {
            hash: crate::hash::hex(hash),
            path: path.to_string(),
            albums: vec![title],
            ..Line::default()
        });
    }
    Ok(lines)
}

/// Sets the album keywords of the XMP sidecars (ours) of the `touched` files, and of the
/// `fresh` ones (whose XMP sidecar this run wrote) that are in an album, to the albums each is
/// in (see [`xmp::with_albums`]); a sidecar another program wrote or changed is left as it
/// is. Its mtime stays. Problems, as notes, in the order of the files' paths.
///
/// (A fresh sidecar of a file in no album stays as written: [`xmp::packet`] writes no
/// keywords. The sidecars are done in parallel: a million-file run rewrites a hundred
/// thousand.)
fn album_keywords(
    out: &OutputDir,
    albums: &[albums::Album],
    touched: &HashSet<String>,
    fresh: &HashSet<String>,
) -> Vec<String> {
    use rayon::prelude::*;
    let mut of: HashMap<&str, Vec<&str>> = HashMap::new();
    for a in albums {
        for f in (a.files.iter()).filter(|f| touched.contains(*f) || fresh.contains(*f)) {
            of.entry(f).or_default().push(&a.title);
        }
    }
    let in_album = |p: &&String| of.contains_key(p.as_str()) && !touched.contains(*p);
    let mut paths: Vec<&String> = touched
        .iter()
        .chain(fresh.iter().filter(in_album))
        .collect();
    paths.sort_unstable();
    paths
        .par_iter()
        .filter_map(|path| {
            let name = format!("{path}.xmp");
            let titles = of.get(path.as_str()).map_or(&[][..], Vec::as_slice);
            let e = set_keywords(out, &name, titles).err()?;
            Some(format!("album keywords not written into {name}: {e}"))
        })
        .collect()
}

fn set_keywords(out: &OutputDir, name: &str, titles: &[&str]) -> std::io::Result<()> {
    use std::io::{Read as _, Write as _};
    // (Most album files have no XMP sidecar: no open to find that out.)
    if !out.is_taken(name) {
        return Ok(());
    }
    let open = open_nofollow(&out.root().join(name), OpenOptions::new().read(true));
    let mut f = match open {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    };
    let meta = f.metadata()?;
    if !meta.is_file() || meta.len() > 1 << 20 {
        return Ok(());
    }
    let mut text = String::new();
    if f.read_to_string(&mut text).is_err() {
        return Ok(());
    }
    let Some(new) = xmp::with_albums(&text, titles).filter(|new| *new != text) else {
        return Ok(());
    };
    let mtime = filetime::FileTime::from_last_modification_time(&meta).unix_seconds();
    let (tmp, mut file) = out.temp_file()?;
    let done = file
        .write_all(new.as_bytes())
        .and_then(|()| out.replace_own_file(&tmp, file, name, Some(mtime)));
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done
}

/// Memberships an earlier run recorded under an album folder's name, before any run had read
/// the folder's `metadata.json`, go to the album's title (`Rome_ day 1` → `Rome: day 1`): one
/// run over all parts has only the title. A folder's name is its album's title made safe for
/// a file name, so a title equal to another album's folder name (ignoring case) is that
/// folder's guess.
fn rename_guessed(
    memberships: &mut BTreeMap<String, BTreeSet<String>>,
    albums: &HashMap<String, crate::takeout::sidecar::AlbumInfo>,
) -> Vec<String> {
    // Folder name (a key) → the album's title (an untitled album is known by its folder's
    // name already).
    let titles: HashMap<&str, String> = (albums.iter())
        .filter(|(_, info)| !info.title.trim().is_empty())
        .map(|(folder, info)| {
            let name = folder.rsplit('/').next().unwrap_or(folder);
            (name, shown_title(name, &info.title))
        })
        .collect();
    let guessed: Vec<String> = (memberships.keys())
        .filter(|t| titles.get(key(t).as_str()).is_some_and(|real| real != *t))
        .cloned()
        .collect();
    let mut renamed = Vec::new();
    for guess in guessed {
        let real = titles[key(&guess).as_str()].clone();
        if let Some(paths) = memberships.remove(&guess) {
            renamed.extend(paths.iter().cloned());
            memberships.entry(real).or_default().extend(paths);
        }
    }
    renamed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::takeout::sidecar::AlbumInfo;

    #[test]
    fn a_folder_name_recorded_as_an_album_title_goes_to_the_title() {
        let info = |title: &str| AlbumInfo {
            title: title.into(),
            description: None,
        };
        let albums: HashMap<String, AlbumInfo> = [
            (key("Google Photos/Rome_ day 1"), info("Rome: day 1")),
            (key("Google Photos/Paris"), info("Paris")),
            (key("Google Photos/Trip"), info("Trip")),
        ]
        .into_iter()
        .collect();
        let set = |p: &[&str]| {
            p.iter()
                .map(|s| s.to_string())
                .collect::<BTreeSet<String>>()
        };
        let mut m: BTreeMap<String, BTreeSet<String>> = [
            ("Rome_ day 1".to_string(), set(&["a.jpg"])),
            ("Rome: day 1".to_string(), set(&["b.jpg"])),
            ("paris".to_string(), set(&["c.jpg"])),
            ("Paris".to_string(), set(&["d.jpg"])),
            ("Trip".to_string(), set(&["e.jpg"])),
            ("Other".to_string(), set(&["f.jpg"])),
        ]
        .into_iter()
        .collect();
        let mut renamed = rename_guessed(&mut m, &albums);
        renamed.sort();
        assert_eq!(renamed, ["a.jpg", "c.jpg"]);
        let want: BTreeMap<String, BTreeSet<String>> = [
            ("Rome: day 1".to_string(), set(&["a.jpg", "b.jpg"])),
            ("Paris".to_string(), set(&["c.jpg", "d.jpg"])),
            ("Trip".to_string(), set(&["e.jpg"])),
            ("Other".to_string(), set(&["f.jpg"])),
        ]
        .into_iter()
        .collect();
        assert_eq!(m, want);
    }
}
