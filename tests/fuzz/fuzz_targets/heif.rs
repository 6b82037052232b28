//! The HEIC/HEIF/AVIF writer (our own item-box editor) on arbitrary input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // As in `writers`: little_exif's panics are caught by gpbackup (the file is then kept as
    // it was), so libfuzzer-sys's aborting panic hook is replaced by the default one.
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let _ = std::panic::take_hook();
    });
    gpbackup::fuzzing::heif_writer(data);
});
