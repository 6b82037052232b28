//! The end-to-end tests: one test binary (one link) with a module per area. Each runs the real
//! `gpbackup` binary on Takeout zips built from the real media in `fixtures/`.

mod common;

mod camera;
mod check;
mod cli;
mod converge;
mod faults;
mod formats;
mod fuzz_regression;
mod guide;
mod heif_video;
mod hostile24;
mod hostile26;
mod hostile26_exif;
mod hostile26_iso;
mod inputs;
mod kept;
mod layers;
mod library;
mod matching;
mod matching_real;
// Reads the peak memory of the child from /proc.
#[cfg(target_os = "linux")]
mod memory;
mod parts;
mod process;
mod safety;
mod sample;
mod tgz;
mod timezones;
