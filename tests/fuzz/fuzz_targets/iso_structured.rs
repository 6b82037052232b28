//! The MP4/MOV and HEIF writers on real files changed in their structure (box sizes, counts,
//! nesting, order: `gpbackup::fuzzing::iso_mutate`), where byte-level mutation rarely goes.
#![no_main]
use libfuzzer_sys::fuzz_target;

const SEEDS: [&[u8]; 6] = [
    include_bytes!("../../../fixtures/media/clip.mp4"),
    include_bytes!("../../../fixtures/media/live.mov"),
    include_bytes!("../../../fixtures/media/reserved.mp4"),
    include_bytes!("../../../fixtures/media/iphone.heic"),
    include_bytes!("../../../fixtures/media/grid_exif.heic"),
    include_bytes!("../../../fixtures/media/small.avif"),
];

fuzz_target!(|data: &[u8]| {
    // As in `writers`: panics the writers catch are not failures.
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let _ = std::panic::take_hook();
    });
    gpbackup::fuzzing::iso_structured(&SEEDS, data);
});
