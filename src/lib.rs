//! gpbackup: turn a Google Photos Takeout export into a dated, deduplicated photo folder.
//!
//! The crate is read in the direction data flows: `takeout` reads what Google gives (read
//! only), `library` is the output folder we keep, and the two commands, [`process`] and
//! [`verify`], stand on both and never on each other; `metadata` (media formats), names,
//! dates, hashing and the compact collections are the ground every layer stands on.
//! `docs/CONTRIBUTING.md` ("Development") draws it; `tests/it/layers.rs` holds the code to it.
//!
//! What the binary and the tests use is exported here; everything else is the crate's own.
//! Its documentation is read with `cargo doc --document-private-items`, so links from the
//! exported items into the crate's own modules are meant.
#![allow(rustdoc::private_intra_doc_links)]

pub(crate) mod alloc;
pub mod cli;
pub(crate) mod compact;
pub(crate) mod dates;
#[doc(hidden)]
pub mod fuzzing;
pub mod guide;
pub(crate) mod hash;
pub(crate) mod library;
pub(crate) mod metadata;
pub(crate) mod names;
pub mod process;
pub(crate) mod takeout;
pub mod verify;
pub mod words;

pub use metadata::TimeZoneChoice;

/// For the tests: the output folder's lock, and the indexing of inputs.
#[doc(hidden)]
pub use library::dir::OutputLock;
#[doc(hidden)]
pub use takeout::Catalog;
