//! gpbackup: turn a Google Photos Takeout export into a dated, deduplicated photo folder.

pub mod albums;
pub mod dates;
#[doc(hidden)]
pub mod fuzzing;
pub mod hash;
pub mod manifest;
pub mod matcher;
pub mod media;
pub mod metadata;
pub mod names;
pub mod output;
pub mod parts;
pub mod process;
pub mod recover;
pub mod report;
pub mod sidecar;
pub mod source;
pub mod verify;
