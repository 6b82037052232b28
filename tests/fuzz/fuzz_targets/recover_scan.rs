//! `recover::scan`, the walk over a truncated zip's local headers, on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    gpbackup::fuzzing::recover_scan(data);
});
