//! The end-to-end tests: one test binary (one link) with a module per area. Each runs the real
//! `gpbackup` binary on Takeout zips built from the real media in `fixtures/`.

mod common;

mod faults;
mod formats;
mod fuzz_regression;
mod library;
mod matching;
mod matching_real;
mod memory;
mod process;
mod sample;
mod timezones;
