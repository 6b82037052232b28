//! How soon the allocator gives freed memory back to the system.
//!
//! mimalloc (the binary's allocator) keeps freed pages for a second (its `purge_delay`)
//! before it returns them. A run frees large tables one after another (the matcher's, the
//! zips' central directories) while it allocates others of other sizes, and the pages kept
//! added up. At a million entries (`benches/run.sh`), returning them at once while the plan
//! is built took its peak from 521 to 471 MB, and returning them within 100 ms while writing
//! took the write stage's from 386-394 to 364-373 MB. The write stage does not return them at
//! once: that costs about 6% of a run of tiny files in system calls, since freed buffers are
//! soon allocated again.
//!
//! A delay the user set (`MIMALLOC_PURGE_DELAY`) is left as it is. The delay only decides
//! when memory is returned, never what a run does: runs overlapping in one process (the
//! library's tests) may leave another run's delay in place, nothing worse.

/// While alive, freed memory is returned to the system within a given delay; the delay before
/// is restored when it is dropped.
pub(crate) struct Purge {
    #[cfg(feature = "mimalloc")]
    saved: std::ffi::c_long,
}

/// mimalloc v3's `mi_option_purge_delay` (`mimalloc.h`; the sys crate names no constant for
/// it). A test checks that it is the option whose default is a second.
#[cfg(feature = "mimalloc")]
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

impl Purge {
    /// Freed memory returned within `ms` milliseconds (0: at once).
    pub(crate) fn within(ms: std::ffi::c_long) -> Purge {
        #[cfg(feature = "mimalloc")]
        {
            use libmimalloc_sys::{mi_option_get, mi_option_set};
            // SAFETY: the option is an aligned word in mimalloc's option table, which it reads
            // (without a lock) to decide when to purge: a write racing that read only makes one
            // purge come sooner or later. `mi_option_set` is the documented way to change it.
            let saved = unsafe { mi_option_get(PURGE_DELAY) };
            if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
                unsafe { mi_option_set(PURGE_DELAY, ms) };
            }
            Purge { saved }
        }
        #[cfg(not(feature = "mimalloc"))]
        {
            let _ = ms;
            Purge {}
        }
    }
}

impl Drop for Purge {
    fn drop(&mut self) {
        // SAFETY: as in `within` (and restoring what was read there).
        #[cfg(feature = "mimalloc")]
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
        // mimalloc v3's default, in milliseconds. (Only this test reads the option: the unit
        // tests never start a run, which sets it too.)
        let get = || unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        let before = get();
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            // The user's delay is left as it is.
            let guard = Purge::within(before + 1);
            assert_eq!(get(), before);
            drop(guard);
            return;
        }
        assert_eq!(before, 1000);
        let outer = Purge::within(100);
        assert_eq!(get(), 100);
        let inner = Purge::within(0);
        assert_eq!(get(), 0);
        drop(inner);
        assert_eq!(get(), 100);
        drop(outer);
        assert_eq!(get(), before);
    }
}
