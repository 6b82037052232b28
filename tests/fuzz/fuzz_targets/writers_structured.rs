//! The JPEG, PNG, WebP, TIFF and MP4/MOV metadata writers on structure-aware mutants: the
//! first eight bytes of the input seed a change where the file's structure is (EXIF entry
//! types, counts and offsets, IFD chains, segment and chunk order, CRCs) in the rest.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let _ = std::panic::take_hook();
    });
    gpbackup::fuzzing::writers_structured(data);
});
