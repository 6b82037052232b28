//! Sidecar JSON parsing and media ↔ sidecar matching on arbitrary input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gpbackup::fuzzing::sidecar_and_matcher(data));
