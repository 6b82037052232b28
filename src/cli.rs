//! The choices a user makes on the command line that the library acts on. clap reads them
//! (`ValueEnum`), and their doc comments are their `--help` text; `src/main.rs` defines the
//! commands and their arguments.

/// What to make of albums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AlbumsMode {
    /// Nothing.
    None,
    /// `albums.json`: each album and its files.
    Json,
    /// `albums.json` and `albums/<Album>/` folders of hard links (symbolic links where the
    /// file system has no hard links).
    Links,
    /// `albums.json` and `albums/<Album>/` folders of copies.
    Copy,
}

/// When XMP sidecars are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum XmpMode {
    /// For files whose metadata could not be embedded in the file itself.
    Auto,
    /// For every file written.
    Always,
    /// Never.
    Never,
}

/// What to do with edited copies (`IMG_1-edited.jpg`) and their originals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EditedMode {
    /// Write both the original and the edited copy.
    Keep,
    /// Write the edited copy instead of its original.
    Only,
    /// Write the original only.
    Skip,
}

/// How the output folder is organised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// Every file in the top folder.
    Flat,
    /// `2019/IMG_1.jpg`, by local date taken.
    Year,
    /// `2019/07/IMG_1.jpg`, by local date taken.
    YearMonth,
}

/// Which of Google Photos' own sets of photos `--leave-out` leaves out of the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LeaveOut {
    /// The Archive (its folder, or a sidecar's `archived`).
    Archive,
    /// The Locked Folder.
    Locked,
    /// Photos a partner shared.
    Partner,
}
