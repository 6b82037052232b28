//! Stage 3, the finish: album memberships merged with earlier runs' and written, the manifest
//! synced, the report completed and written.

use std::collections::HashMap;

use crate::cli::AlbumsMode;
use crate::library::albums;
use crate::library::dir::OutputDir;
use crate::library::manifest::Manifest;
use crate::process::report::Report;

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

    // Albums: this run's memberships merged with earlier runs'.
    report.albums = albums::merge(&earlier, std::mem::take(&mut log.members));
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

    if let Err(source) = log.finish(&mut report) {
        return Err(ProcessError::Report {
            path: opts.report.clone().unwrap_or_default(),
            source,
        });
    }
    Ok(report)
}
