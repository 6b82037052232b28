//! gpbackup: turn a Google Photos Takeout export into a dated, deduplicated photo folder.

pub mod alloc;
pub mod cli;
pub mod dates;
#[doc(hidden)]
pub mod fuzzing;
pub mod hash;
pub mod library;
pub mod metadata;
pub mod names;
pub mod process;
pub mod takeout;
pub mod verify;
