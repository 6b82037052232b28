//! Stage 3, the finish: album memberships merged with earlier runs' and written, the manifest
//! synced, the report completed and written.

use std::collections::HashMap;

use crate::albums::{self, AlbumsMode};
use crate::manifest::Manifest;
use crate::output::OutputDir;
use crate::report::{Report, Status};

use super::plan::Plan;
use super::write::Outcome;
use super::{Options, ProcessError};

/// Completes the run: the report of the plan with the write stage's outcome, albums,
/// manifest, and the report file.
pub fn run(
    opts: &Options,
    plan: Plan,
    outcome: Outcome,
    out: &OutputDir,
    manifest: &Manifest,
) -> Result<Report, ProcessError> {
    let out_err = |source| ProcessError::Output {
        path: opts.output.clone(),
        source,
    };
    let mut report = plan.report;
    report.media = outcome.media;
    report.media.extend(outcome.updated);
    report.stopped = outcome.stopped;
    // Files an update moved: every mention of their old path follows them.
    let moved: HashMap<&str, &str> = outcome
        .moved
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    for m in &mut report.media {
        if let Some(new) = m.output.as_deref().and_then(|p| moved.get(p)) {
            m.output = Some(new.to_string());
        }
    }
    let mut earlier = manifest.albums().clone();
    for paths in earlier.values_mut() {
        *paths = paths
            .iter()
            .map(|p| moved.get(p.as_str()).map_or(p.clone(), |n| n.to_string()))
            .collect();
    }

    // Albums: this run's memberships merged with earlier runs'.
    let members = report.media.iter().filter(|m| {
        matches!(
            m.status,
            Status::Written
                | Status::WrittenWithoutMetadata
                | Status::Duplicate
                | Status::InLibrary
                | Status::Updated
        )
    });
    report.albums = albums::merge(
        &earlier,
        members.filter_map(|m| Some((m.album.clone()?, m.output.clone()?))),
    );
    if !opts.dry_run && opts.albums != AlbumsMode::None {
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

    if let Some(path) = &opts.report {
        crate::report::write_file(&report, path).map_err(|source| ProcessError::Report {
            path: path.clone(),
            source,
        })?;
    }
    Ok(report)
}
