//! The JPEG, PNG, WebP, TIFF and MP4/MOV metadata writers on arbitrary input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys aborts in its panic hook, before gpbackup's own catch_unwind around
    // little_exif can keep the original bytes (what production does). Restore the default
    // hook: an uncaught panic still fails the run, a caught one is handled as in production.
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let _ = std::panic::take_hook();
    });
    gpbackup::fuzzing::writers(data);
});
