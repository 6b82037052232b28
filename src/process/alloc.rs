//! How the allocator treats freed memory while the plan is built.
//!
//! mimalloc (the binary's allocator) keeps freed pages for a while (its `purge_delay`, a
//! second by default) before it gives them back to the system. Building the plan frees large
//! tables one after another (the matcher's, the zips' central directories) while others of
//! other sizes are allocated, and the kept pages added up: at a million entries they were
//! about a tenth of the peak (`benches/BENCHMARKS.md`). While the plan is built, freed pages
//! are returned at once; the write stage, where freed buffers are reused at once and a purge
//! would only cost system calls, keeps the default.

/// While alive, freed memory is returned to the system at once (see the module's comment).
pub(super) struct PromptPurge {
    #[cfg(feature = "mimalloc")]
    saved: std::ffi::c_long,
}

/// mimalloc v3's `mi_option_purge_delay` (`mimalloc.h`; the sys crate names no constant for
/// it). A test checks that it is the option whose default is a second.
#[cfg(feature = "mimalloc")]
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

impl PromptPurge {
    pub(super) fn start() -> PromptPurge {
        #[cfg(feature = "mimalloc")]
        {
            // SAFETY: reading and setting an option is thread-safe in mimalloc (an atomic store).
            let saved = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
            unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) };
            PromptPurge { saved }
        }
        #[cfg(not(feature = "mimalloc"))]
        PromptPurge {}
    }
}

impl Drop for PromptPurge {
    fn drop(&mut self) {
        #[cfg(feature = "mimalloc")]
        // SAFETY: as in `start`.
        unsafe {
            libmimalloc_sys::mi_option_set(PURGE_DELAY, self.saved)
        };
    }
}

#[cfg(all(test, feature = "mimalloc"))]
mod tests {
    use super::*;

    #[test]
    fn the_option_set_is_the_purge_delay_and_is_restored() {
        let get = || unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        let before = get();
        // mimalloc v3's default purge delay, in milliseconds (unless the environment set it).
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(before, 1000);
        }
        let guard = PromptPurge::start();
        assert_eq!(get(), 0);
        drop(guard);
        assert_eq!(get(), before);
    }
}
