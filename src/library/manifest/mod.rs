//! `.gpbackup/manifest.jsonl`: what the output folder holds and where each file came from.
//!
//! One JSON object per line, appended and never rewritten. A line is appended *before* its file
//! is renamed into place (with `--sync` it is on disk first), so a file that is there always
//! has its line; a crash between the two leaves a line whose file never appeared, which is
//! ignored on load. A file that could not be renamed into place is retracted by a line with
//! `retracted` and the same path and hash. Lines whose file is gone, and a torn last line, are
//! ignored on load. Lines with the same `hash` add up (the first names the file, later ones
//! add the Takeout entries that were duplicates of it).
//!
//! Five more kinds of line have no `hash`/`path` (so the readers of file lines, and gpbackup
//! versions before them, skip them):
//! - `{"sidecar": {"source": {...}, "from": "zip:path", "data": {...}, "claimed": bool}}`: a
//!   media sidecar a run read, with what it says, so that a later run can use it without the
//!   part that held it (its photo in a later part; an edited copy or a Live Photo's video
//!   sharing it). `claimed`: a media file took it by its own name. A later record for the same
//!   source supersedes an earlier one.
//! - `{"unwritten": {"source": {...}, "status": "failed"|"skipped", "reason": "..."}}`: an entry
//!   a run did not write, for `verify --against` (a later line that holds it supersedes it).
//! - `{"parts": ["takeout-20231030T151007Z-001.zip", ...]}`: the file names of the numbered
//!   parts of an export a run was given, so that a later run does not name them as missing.
//! - `{"inputs": ["/home/me/takeout-20231030T151007Z-001.zip", ...]}`: the paths of the inputs
//!   a run was given whole, where a later run may read a photo again to correct its file.
//! - `{"album": {"folder": "...", "title": "...", "description": "..."}}`: an album's metadata
//!   a run read (`folder`: the album folder's key), so that its folder is an album for every
//!   later run, whatever part brings its photos. A later record for a folder supersedes.
//!
//! A file's line without `output_hash` and without `sources` adds the albums it names to the
//! file of its `hash` (a file an earlier run wrote before its album was known).
//!
//! A run writes a file's line as a [`Line`]. Its readers tell the kinds apart with
//! [`Kind::of`] and read a file's line as a [`LineView`]: [`Manifest::load`] for a run,
//! [`current_outputs`] for `verify`, and `verify --against`'s reader (`verify::library`), which
//! parses a block of lines at a time in parallel.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::compact::{id, Id, IdMap, Span, Strings};
use crate::library::fs::open_nofollow;
use crate::metadata::Geo;

pub const FILE_NAME: &str = "manifest.jsonl";

/// A Takeout entry: its path inside the archive or folder, size and CRC-32 (zips).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourceKey {
    pub entry: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<u32>,
}

impl SourceKey {
    /// The entry as a 128-bit number, for compact maps (see [`source_id`]).
    pub fn id(&self) -> u128 {
        source_id(&self.entry, self.size, self.crc32)
    }
}

/// A Takeout entry (path, size, CRC-32) as a 128-bit XXH3 hash: the key of the manifest's
/// maps of entries, so that a million of them are not a million strings in memory.
pub fn source_id(entry: &str, size: u64, crc32: Option<u32>) -> u128 {
    crate::hash::entry_id(size, crc32, &[entry])
}

/// A content hash as a number: its 32 hex digits, or (for a hash of another form, which no
/// gpbackup writes) a hash of its text.
pub fn hash_id(hash: &str) -> u128 {
    match u128::from_str_radix(hash, 16) {
        Ok(n) if hash.len() == 32 => n,
        _ => xxhash_rust::xxh3::xxh3_128(hash.as_bytes()),
    }
}

/// A file's manifest line, as a run writes it. The readers read it as a [`LineView`]; a
/// line of a file written without a sidecar is also read whole ([`OpenFile`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// xxh3-128 of the source bytes, as 32 hex digits: the identity of a photo.
    pub hash: String,
    /// Output path, relative to the output folder, `/`-separated.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// xxh3-128 of the file as written (after metadata), for `verify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_size: Option<u64>,
    /// Date taken, seconds since the epoch (UTC), and where it came from.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_seconds"
    )]
    pub taken: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_source: Option<crate::dates::DateSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gps: Option<Geo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceKey>,
    /// The XMP sidecar written beside the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xmp: Option<String>,
    /// Albums the file (or this copy of it) is in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub albums: Vec<String>,
    /// Archived in Google Photos.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub archived: bool,
    /// The file of the line before with the same path and hash was not written after all.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retracted: bool,
    /// Written without a sidecar, byte-for-byte: a later run that brings its sidecar rewrites
    /// it with the sidecar's metadata (see [`Manifest::load`]). On a duplicate's line: that entry
    /// had no sidecar of its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_sidecar: bool,
    /// The sidecar whose metadata the file carries, for a later run that finds a better one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
    /// A later run found a better sidecar for the file (a newer export's, or its own where it
    /// had borrowed another photo's) but could not read the photo's bytes: every run tries
    /// again until one can (see `process::plan::updates`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stale: bool,
    /// The camera's date taken (EXIF wall clock), replaced in the file by the date corrected
    /// in Google Photos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_date: Option<String>,
    /// A rewrite over the same path, not yet confirmed (a killed run may have left the file
    /// as it was): the content it replaces. A line without it follows once the file is in
    /// place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacing: Option<Prior>,
    /// A rewrite that moves the file, not yet confirmed (a killed run may have left the old
    /// file too): the path it moves from. A line without it follows once the old file is
    /// gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<Moved>,
}

/// The file a rewrite moves from ([`Line::moved_from`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moved {
    pub path: String,
    pub output_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xmp: Option<String>,
}

/// The content a rewrite in place replaces ([`Line::replacing`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prior {
    pub output_hash: String,
    pub output_size: u64,
}

impl Line {
    /// The line once its rewrite is done: without what it replaced.
    pub fn confirmed(&self) -> Line {
        Line {
            replacing: None,
            moved_from: None,
            ..self.clone()
        }
    }
}

/// Which sidecar gave a library file its metadata (a file line's `claim`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The sidecar's Takeout entry ([`SourceKey::id`] as 32 hex digits).
    pub sidecar: String,
    /// The matcher's rule that paired them (`exact`, `title-elsewhere`, …).
    pub rule: String,
    /// The export time of the part that held the sidecar (`20240601000000`), if its name
    /// gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<u64>,
    /// A digest of what the sidecar says ([`StoredSidecar::digest`]): two sidecars that say
    /// the same give the same file.
    pub meta: String,
}

impl Claim {
    /// [`Claim::sidecar`] as a number (`None` if it is not one).
    pub fn sidecar_id(&self) -> Option<u128> {
        u128::from_str_radix(&self.sidecar, 16).ok()
    }
}

/// What a media sidecar says, as a `sidecar` line keeps it. Coordinates are kept as text
/// (Rust's shortest exact form), so that they read back bit for bit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoredSidecar {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_seconds"
    )]
    pub taken: Option<i64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_seconds"
    )]
    pub created: Option<i64>,
    /// Latitude, longitude and altitude.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geo: Option<(String, String, Option<String>)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub favorited: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub archived: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub trashed: bool,
    /// The position was moved in Google Photos.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub moved: bool,
    /// Shared by a partner.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partner: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl StoredSidecar {
    /// A number that changes when anything it says changes (but the reading problems); a
    /// claim writes it as 16 hex digits ([`Claim::meta`]).
    pub fn digest(&self) -> u64 {
        let said = StoredSidecar {
            problems: Vec::new(),
            ..self.clone()
        };
        let text = serde_json::to_vec(&said).expect("a sidecar serializes");
        xxhash_rust::xxh3::xxh3_64(&text)
    }
}

/// A media sidecar a run read (a `sidecar` line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SidecarRecord {
    pub source: SourceKey,
    /// `zip:path` as the run that read it named it.
    pub from: String,
    /// The export time of the part that held it (see [`Claim::export`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<u64>,
    pub data: StoredSidecar,
    /// A media file took it by its own name; only an edited copy or a Live Photo's video may
    /// still share it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub claimed: bool,
}

/// An input entry a run did not write (an `unwritten` line), read by `verify --against`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unwritten {
    pub source: SourceKey,
    /// `failed` or `skipped`.
    pub status: String,
    #[serde(default)]
    pub reason: String,
}

/// The envelope of a `sidecar` line: `{"sidecar": {...}}`.
#[derive(Serialize, Deserialize)]
struct SidecarLine<T> {
    sidecar: T,
}

/// An album's metadata a run read (an `album` line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlbumRecord {
    /// The album folder's key (lower-case, NFC, below `Takeout/`).
    pub folder: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// An `album` line: `{"album": {...}}`.
#[derive(Serialize, Deserialize)]
struct AlbumLine<T> {
    album: T,
}

/// An `inputs` line: `{"inputs": [path, ...]}`.
#[derive(Serialize, Deserialize)]
struct InputsLine<T> {
    inputs: T,
}

/// A `parts` line: `{"parts": [file name, ...]}`.
#[derive(Serialize, Deserialize)]
struct PartsLine<T> {
    parts: T,
}

/// The envelope of an `unwritten` line: `{"unwritten": {...}}`.
#[derive(Serialize, Deserialize)]
struct UnwrittenLine<T> {
    unwritten: T,
}

impl SidecarRecord {
    /// The record of a `sidecar` line; `None` when the line does not parse.
    pub(crate) fn parse(text: &[u8]) -> Option<SidecarRecord> {
        let line: SidecarLine<SidecarRecord> = serde_json::from_slice(text).ok()?;
        Some(line.sidecar)
    }
}

impl Unwritten {
    /// The record of an `unwritten` line; `None` when the line does not parse.
    pub(crate) fn parse(text: &[u8]) -> Option<Unwritten> {
        let line: UnwrittenLine<Unwritten> = serde_json::from_slice(text).ok()?;
        Some(line.unwritten)
    }
}

/// The kinds of manifest line, told apart by how a line starts: a file's line starts
/// with its `hash`, a record with its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A file's line ([`Line`], read as a [`LineView`]).
    File,
    /// A [`SidecarRecord`].
    Sidecar,
    /// An [`Unwritten`] record.
    Unwritten,
    /// The parts of an export a run was given.
    Parts,
    /// An [`AlbumRecord`].
    Album,
    /// The inputs a run was given (their paths).
    Inputs,
}

impl Kind {
    pub(crate) fn of(text: &[u8]) -> Kind {
        if text.starts_with(b"{\"sidecar\"") {
            Kind::Sidecar
        } else if text.starts_with(b"{\"unwritten\"") {
            Kind::Unwritten
        } else if text.starts_with(b"{\"parts\"") {
            Kind::Parts
        } else if text.starts_with(b"{\"album\"") {
            Kind::Album
        } else if text.starts_with(b"{\"inputs\"") {
            Kind::Inputs
        } else {
            Kind::File
        }
    }
}

/// A date in seconds since the epoch, as every reader of the manifest reads it: a whole
/// number, or one with a fraction (another tool's or a hand's edit, `1212126961.5`) read as
/// the second it falls in, so that `process` and `verify` read the line alike. A number out
/// of range makes the line unreadable, for every reader.
fn whole_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    if let Some(i) = n.as_i64() {
        return Ok(Some(i));
    }
    // Within ±2^63 (exclusive): the floor fits an i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    match n.as_f64().map(f64::floor) {
        Some(f) if f.is_finite() && (-LIMIT..LIMIT).contains(&f) => Ok(Some(f as i64)),
        _ => Err(serde::de::Error::custom(format!(
            "a date out of range: {n}"
        ))),
    }
}

/// A file's line as every reader of the manifest reads it: the fields of a [`Line`] that some
/// reader needs, borrowed from the line's text (a string with an escape in it is copied).
/// What no reader needs (the date's source, the coordinates, …) is skipped unparsed.
#[derive(Deserialize)]
pub(crate) struct LineView<'a> {
    #[serde(borrow)]
    pub(crate) hash: Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) path: Cow<'a, str>,
    #[serde(default, borrow)]
    pub(crate) output_hash: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(crate) output_size: Option<u64>,
    #[serde(default, deserialize_with = "whole_seconds")]
    pub(crate) taken: Option<i64>,
    #[serde(default, borrow)]
    pub(crate) xmp: Option<Cow<'a, str>>,
    /// The sources and albums, left unparsed until a reader asks for them
    /// ([`LineView::sources`], [`LineView::albums`]): `verify` needs neither.
    #[serde(default, borrow)]
    sources: Option<&'a RawValue>,
    #[serde(default, borrow)]
    albums: Option<&'a RawValue>,
    #[serde(default)]
    pub(crate) retracted: bool,
    #[serde(default)]
    pub(crate) no_sidecar: bool,
    #[serde(default)]
    pub(crate) stale: bool,
    #[serde(default)]
    pub(crate) replacing: Option<Prior>,
    #[serde(default)]
    pub(crate) moved_from: Option<Moved>,
    /// The claim, left unparsed until a reader asks for it ([`LineView::claim_sidecar`]).
    #[serde(default, borrow)]
    claim: Option<&'a RawValue>,
}

impl<'a> LineView<'a> {
    /// The line's claim, if it has one that parses.
    pub(crate) fn claim(&self) -> Option<Claim> {
        serde_json::from_str(self.claim?.get()).ok()
    }

    /// A file's line ([`Kind::File`]); `None` when it does not parse (a torn last line).
    pub(crate) fn parse(text: &'a [u8]) -> Option<LineView<'a>> {
        serde_json::from_slice(text).ok()
    }

    /// The Takeout entries of the line (none when they do not parse).
    pub(crate) fn sources(&self) -> Vec<SourceView<'a>> {
        self.sources
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
            .unwrap_or_default()
    }

    /// The albums of the line (none when they do not parse).
    pub(crate) fn albums(&self) -> Vec<Cow<'a, str>> {
        self.albums
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
            .unwrap_or_default()
    }
}

/// A [`SourceKey`] as a [`LineView`] holds it.
#[derive(Deserialize)]
pub(crate) struct SourceView<'a> {
    #[serde(borrow)]
    pub(crate) entry: Cow<'a, str>,
    pub(crate) size: u64,
    #[serde(default)]
    pub(crate) crc32: Option<u32>,
}

impl SourceView<'_> {
    /// [`SourceKey::id`].
    pub(crate) fn id(&self) -> u128 {
        source_id(&self.entry, self.size, self.crc32)
    }

    /// The entry's id by path and size only, for lookups where one side has no CRC-32
    /// (extracted folders).
    pub(crate) fn id_without_crc32(&self) -> u128 {
        source_id(&self.entry, self.size, None)
    }

    pub(crate) fn key(&self) -> SourceKey {
        SourceKey {
            entry: self.entry.to_string(),
            size: self.size,
            crc32: self.crc32,
        }
    }
}

/// A library file written without a sidecar, as the manifest records it.
#[derive(Debug, Clone)]
pub struct OpenFile {
    /// Its current line.
    pub line: Line,
    /// Every Takeout entry with its content (the one written first, then its duplicates).
    pub sources: Vec<SourceKey>,
}

/// What earlier runs left for later ones to complete: files written without a sidecar, and
/// the sidecars they read (latest record per source, in order of first appearance).
#[derive(Debug, Clone, Default)]
pub struct Remembered {
    pub open_files: Vec<OpenFile>,
    /// The sidecars read from entries that are not among this run's inputs, whole.
    pub sidecars: Vec<SidecarRecord>,
    /// Whether a media file took it, for every sidecar recorded (by [`SourceKey::id`]).
    pub claimed: IdMap<bool>,
    /// Entries recorded as duplicates of a file that has its metadata, which had no sidecar
    /// of their own: a later run that finds theirs takes it (so that it is not "unused").
    pub waiting: Vec<SourceKey>,
    /// The file names of the parts of exports earlier runs were given (`parts` lines).
    pub parts: Vec<String>,
    /// The inputs earlier runs were given (`inputs` lines), where a later run may read a
    /// photo again to correct its library file (see `process::plan::updates`).
    pub inputs: Vec<String>,
    /// The albums earlier runs read the metadata of, the latest record of each folder.
    pub albums: Vec<AlbumRecord>,
    /// Moves a killed run left half done: the file is at its new path (this line's), and its
    /// old file may still be there; the manifest's maps already leave the old path out.
    pub interrupted_moves: Vec<Line>,
}

/// What one pass over the manifest gathers, compactly: per file line only numbers, but for
/// the lines of files without a sidecar (few), which are kept whole.
#[derive(Default)]
struct Loading {
    /// Every line that wrote a file or took one back, in order ([`PathLines::current`]
    /// finds which file each path holds; `PathLine::line` is the line's number).
    lines: PathLines,
    /// (entry, content hash) of every line's sources, in order.
    sources: Vec<(u128, u128)>,
    /// (content hash, album) of every line's albums, in order.
    albums: Vec<(u128, Box<str>)>,
    /// Lines of files written without a sidecar, or `stale` (by line number).
    open: Vec<(u32, Line)>,
    /// (content hash, entry) of duplicates recorded without a sidecar of their own.
    dup_without: Vec<(u128, SourceKey)>,
    sidecars: Vec<SidecarRecord>,
    sidecar_at: HashMap<u128, usize>,
    parts: BTreeSet<String>,
    inputs: BTreeSet<String>,
    album_records: BTreeMap<String, AlbumRecord>,
    /// (entry, claimed) of every sidecar line, in order.
    claimed: Vec<(Id, bool)>,
}

/// A manifest line that wrote a file at a path, or took it back: 48 bytes and the path's
/// text, where a map from paths takes about a hundred bytes a file, half of it empty room.
pub(crate) struct PathLine {
    /// The hash of the path.
    path: Id,
    /// The content written or taken back.
    pub(crate) hash: Id,
    /// What the reader numbers it by (its line, or its place in a list of its own): the
    /// order of the lines that write.
    pub(crate) line: u32,
    /// Where the path is in [`PathLines::text`] (a line that writes; unused on a line that
    /// takes its file back, whose `line` is `u32::MAX`).
    span: Span,
    /// The size of the file as written (0: not recorded, or 4 GB and over: a path line stays
    /// 48 bytes).
    pub(crate) size: u32,
}

impl PathLine {
    /// A line that wrote a file (not one that took it back).
    fn writes(&self) -> bool {
        self.line != u32::MAX
    }

    /// Where its path is in the text of the [`PathLines`] it came from (a line that writes:
    /// every line [`PathLines::current`] gives).
    pub(crate) fn span(&self) -> Span {
        debug_assert!(self.writes(), "a line that writes has a path");
        self.span
    }

    /// Its path, in the text of the [`PathLines`] it came from.
    pub(crate) fn path<'t>(&self, text: &'t Strings<impl Deref<Target = str>>) -> &'t str {
        text.get(self.span())
    }
}

/// The lines of a manifest that wrote a file at a path or took one back, in order, and the
/// paths written, one after the other in one string: what each reader of the manifest
/// gathers to find which file each path holds.
#[derive(Default)]
pub(crate) struct PathLines {
    lines: Vec<PathLine>,
    text: Strings,
}

impl PathLines {
    /// A line that wrote content `hash` at `path`, numbered `line` (see [`PathLine::line`]).
    pub(crate) fn write(&mut self, path: &str, hash: u128, line: u32, size: Option<u64>) {
        let span = self.text.push(path);
        self.lines.push(PathLine {
            path: path_id(path),
            hash: id(hash),
            line,
            span,
            size: size.and_then(|s| u32::try_from(s).ok()).unwrap_or(0),
        });
    }

    /// A line that took back the file of content `hash` at `path`.
    pub(crate) fn retract(&mut self, path: &str, hash: u128) {
        self.lines.push(PathLine {
            path: path_id(path),
            hash: id(hash),
            line: u32::MAX,
            span: Span::default(),
            size: 0,
        });
    }

    /// The lines that wrote the file each path holds now, in the order of their numbers, and
    /// the text their paths are in. A path holds the file of the last line that wrote it,
    /// unless a later line took that very file back (same content): a retraction never
    /// erases the record of another photo written under the same name.
    pub(crate) fn current(self) -> (Vec<PathLine>, Strings) {
        let mut lines = self.lines;
        // By path, each path's lines in order (a stable sort of lines pushed in order).
        lines.sort_by_key(|l| l.path);
        let mut holding = vec![false; lines.len()];
        let mut start = 0;
        for of_path in lines.chunk_by(|a, b| a.path == b.path) {
            let mut holds: Option<usize> = None;
            for (k, l) in of_path.iter().enumerate() {
                if l.writes() {
                    holds = Some(k);
                } else if holds.is_some_and(|h| of_path[h].hash == l.hash) {
                    holds = None;
                }
            }
            if let Some(k) = holds {
                holding[start + k] = true;
            }
            start += of_path.len();
        }
        let mut holding = holding.into_iter();
        lines.retain(|_| holding.next() == Some(true));
        lines.sort_unstable_by_key(|l| l.line);
        (lines, self.text)
    }
}

/// An output path as a number, for [`PathLines`].
fn path_id(path: &str) -> Id {
    id(crate::hash::key128(&[], &[path]))
}

impl Loading {
    fn file_line(&mut self, n: u32, text: &[u8]) {
        let Some(l) = LineView::parse(text) else {
            return;
        };
        let hash = hash_id(&l.hash);
        if l.retracted {
            self.lines.retract(&l.path, hash);
        } else if l.output_hash.is_some() {
            self.lines.write(&l.path, hash, n, l.output_size);
            if l.no_sidecar || l.stale || l.replacing.is_some() || l.moved_from.is_some() {
                if let Ok(line) = serde_json::from_slice::<Line>(text) {
                    self.open.push((n, line));
                }
            }
        }
        let sources = l.sources();
        if l.no_sidecar && l.output_hash.is_none() && !l.retracted {
            for s in &sources {
                self.dup_without.push((hash, s.key()));
            }
        }
        self.sources.extend(sources.iter().map(|s| (s.id(), hash)));
        self.albums
            .extend(l.albums().iter().map(|a| (hash, a.as_ref().into())));
    }

    fn album_line(&mut self, text: &[u8]) {
        if let Ok(AlbumLine { album }) = serde_json::from_slice::<AlbumLine<AlbumRecord>>(text) {
            self.album_records.insert(album.folder.clone(), album);
        }
    }

    fn inputs_line(&mut self, text: &[u8]) {
        if let Ok(InputsLine { inputs }) = serde_json::from_slice::<InputsLine<Vec<String>>>(text) {
            self.inputs.extend(inputs);
        }
    }

    fn parts_line(&mut self, text: &[u8]) {
        if let Ok(PartsLine { parts }) = serde_json::from_slice::<PartsLine<Vec<String>>>(text) {
            self.parts.extend(parts);
        }
    }

    fn sidecar_line(&mut self, text: &[u8], keep: &impl Fn(&SourceKey) -> bool) {
        let Some(sidecar) = SidecarRecord::parse(text) else {
            return;
        };
        let source = sidecar.source.id();
        self.claimed.push((id(source), sidecar.claimed));
        if !keep(&sidecar.source) {
            return;
        }
        match self.sidecar_at.get(&source) {
            Some(&i) => self.sidecars[i] = sidecar,
            None => {
                self.sidecar_at.insert(source, self.sidecars.len());
                self.sidecars.push(sidecar);
            }
        }
    }
}

/// A file the manifest says the output folder holds, as `verify` checks it: its path, and its
/// content as written (hash and size; `None` on a line of an old version without them).
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub path: String,
    pub content: Option<(u128, u64)>,
    /// The XMP sidecar written beside it.
    pub xmp: Option<String>,
}

/// What a rewrite a killed run left unconfirmed ([`Line::replacing`], [`Line::moved_from`])
/// may have left: the file may still hold the content it replaces, or, moved, still be at its
/// old path (whose file stands for it while it is not there).
#[derive(Debug, Clone, PartialEq)]
pub enum Unfinished {
    Replacing((u128, u64)),
    MovedFrom(String),
}

/// What a line that wrote a file says of it besides its path: content as written, XMP
/// sidecar.
type Written = (Option<(u128, u64)>, Option<Box<str>>);

/// The files the manifest in `state_dir` says the folder holds (the current line of each
/// path, as [`PathLines::current`] finds it), in the order of their lines; read in one pass that
/// keeps only those, not every line whole (at a million files, 300 MB). With them, by path,
/// the rewrites a killed run left unconfirmed (rare: kept apart, so that the list of files
/// stays as small as it can).
pub fn current_outputs(state_dir: &Path) -> io::Result<(Vec<Output>, HashMap<String, Unfinished>)> {
    let Some(f) = open_to_read(state_dir)? else {
        return Ok((Vec::new(), HashMap::new()));
    };
    let mut lines = PathLines::default();
    // Per line that wrote a file: its content and XMP sidecar (`PathLine::line` numbers them).
    let mut written: Vec<Written> = Vec::new();
    let mut unconfirmed: HashMap<u32, Unfinished> = HashMap::new();
    each_file_line(f, |_, l| {
        let hash = hash_id(&l.hash);
        if l.retracted {
            lines.retract(&l.path, hash);
        } else if let Some(output) = &l.output_hash {
            let k = u32::try_from(written.len()).expect("under 4 billion files");
            lines.write(&l.path, hash, k, l.output_size);
            let content = l.output_size.map(|size| (hash_id(output), size));
            written.push((content, l.xmp.as_deref().map(Into::into)));
            let unfinished = match (l.replacing, l.moved_from) {
                (Some(p), _) => Unfinished::Replacing((hash_id(&p.output_hash), p.output_size)),
                (None, Some(m)) => Unfinished::MovedFrom(m.path),
                (None, None) => return,
            };
            unconfirmed.insert(k, unfinished);
        }
    })?;
    let (current, text) = lines.current();
    let mut unfinished = HashMap::new();
    let files = current
        .into_iter()
        .map(|w| {
            let (content, xmp) = std::mem::take(&mut written[w.line as usize]);
            let path = w.path(&text).to_string();
            if let Some(u) = unconfirmed.remove(&w.line) {
                unfinished.insert(path.clone(), u);
            }
            Output {
                path,
                content,
                xmp: xmp.map(String::from),
            }
        })
        .collect();
    Ok((files, unfinished))
}

/// The read buffer of the manifest: it is read once, front to back.
const READ_BUFFER: usize = 1 << 20;

/// Every line of an open manifest, without its newline (blank lines skipped), in order.
fn each_line(file: File, mut f: impl FnMut(&[u8])) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(READ_BUFFER, file);
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line)? > 0 {
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if !text.is_empty() {
            f(text);
        }
        line.clear();
    }
    Ok(())
}

/// Every file's line of an open manifest ([`Kind::File`]), with its text, in order; a line
/// that does not parse (a torn last line) is skipped.
fn each_file_line(file: File, mut f: impl FnMut(&[u8], LineView)) -> io::Result<()> {
    each_line(file, |text| {
        if Kind::of(text) != Kind::File {
            return;
        }
        if let Some(l) = LineView::parse(text) {
            f(text, l);
        }
    })
}

/// The manifest of `state_dir`, open for reading (never through a link); `None` when there
/// is none yet.
fn open_to_read(state_dir: &Path) -> io::Result<Option<File>> {
    match open_nofollow(&state_dir.join(FILE_NAME), OpenOptions::new().read(true)) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The content hash of every file line one of whose Takeout entries `pick` picks, with what
/// it made of the entry, in the order of the lines: a second pass over the manifest in
/// `state_dir`, for the rare question no loaded map answers (which files came from a folder).
pub fn sources_picked<T>(
    state_dir: &Path,
    pick: impl Fn(&str) -> Option<T>,
) -> io::Result<Vec<(u128, T)>> {
    let mut out = Vec::new();
    let Some(f) = open_to_read(state_dir)? else {
        return Ok(out);
    };
    each_file_line(f, |_, l| {
        if l.retracted {
            return;
        }
        let hash = hash_id(&l.hash);
        out.extend(
            l.sources()
                .iter()
                .filter_map(|s| Some((hash, pick(&s.entry)?))),
        );
    })?;
    Ok(out)
}

/// Every entry of the lines of the files without a sidecar (`bare_at`: content hash → index
/// into `bare`), in the order of the lines: a second pass over the manifest, made only when
/// there are such files.
fn bare_sources(
    state_dir: &Path,
    bare_at: &HashMap<u128, usize>,
    bare: &mut [OpenFile],
) -> io::Result<()> {
    let Some(f) = open_to_read(state_dir)? else {
        return Ok(());
    };
    each_file_line(f, |_, l| {
        if let Some(&b) = bare_at.get(&hash_id(&l.hash)) {
            for s in &l.sources() {
                let key = s.key();
                if !bare[b].sources.contains(&key) {
                    bare[b].sources.push(key);
                }
            }
        }
    })
}

/// The manifest as loaded, plus the open file that new lines go to.
pub struct Manifest {
    /// Content hash → index into `paths`, for the files that exist (the first path of each
    /// content).
    by_hash: IdMap<u32>,
    paths: Paths,
    /// The size each file of `paths` was written with (0: not recorded, or 4 GB and over).
    sizes: Vec<u32>,
    /// Takeout entry ([`SourceKey::id`]) → index into `paths` of its content's file, for
    /// skipping unchanged entries without reading them.
    by_source: IdMap<u32>,
    /// The Takeout entries ([`source_id`]) of files earlier runs wrote that are gone from the
    /// folder (no other path holds their content).
    removed: IdMap<()>,
    /// album → output paths of its files that exist.
    albums: BTreeMap<String, BTreeSet<String>>,
    file: Option<Mutex<File>>,
    path: PathBuf,
    /// Each appended line is made durable before `append` returns (`--sync`).
    durable: bool,
}

/// The output paths of a [`Manifest`]'s files: one string, and where each path is in it.
#[derive(Default)]
struct Paths {
    text: Strings<Box<str>>,
    spans: Vec<Span>,
}

impl Paths {
    /// Path number `k`.
    fn get(&self, k: u32) -> &str {
        self.text.get(self.spans[k as usize])
    }
}

impl Manifest {
    /// Loads the manifest and what earlier runs left to complete in one pass over it (it
    /// holds a line per entry: at a million entries, hundreds of MB), keeping numbers rather
    /// than lines. Sidecar records are kept whole only when `keep_sidecar` says so (those of
    /// entries not among this run's inputs); of the others, only whether a file took them.
    pub fn load(
        state_dir: &Path,
        dry_run: bool,
        exists: impl Fn(&str) -> bool,
        keep_sidecar: impl Fn(&SourceKey) -> bool,
    ) -> io::Result<(Manifest, Remembered)> {
        let path = state_dir.join(FILE_NAME);
        let mut m = Manifest {
            by_hash: IdMap::default(),
            paths: Paths::default(),
            sizes: Vec::new(),
            by_source: IdMap::default(),
            removed: IdMap::default(),
            albums: BTreeMap::new(),
            file: None,
            path: path.clone(),
            durable: false,
        };
        let mut loading = Loading::default();
        if let Some(f) = open_to_read(state_dir)? {
            let mut n: u32 = 0;
            each_line(f, |text| {
                match Kind::of(text) {
                    Kind::File => loading.file_line(n, text),
                    Kind::Sidecar => loading.sidecar_line(text, &keep_sidecar),
                    Kind::Unwritten => {}
                    Kind::Parts => loading.parts_line(text),
                    Kind::Inputs => loading.inputs_line(text),
                    Kind::Album => loading.album_line(text),
                }
                n = n.saturating_add(1);
            })?;
        }
        let remembered = m.settle(loading, &exists, state_dir)?;
        if !dry_run {
            let mut f = open_nofollow(
                &path,
                OpenOptions::new().create(true).read(true).append(true),
            )?;
            // After a crash mid-append the last line has no end: end it, so that the next
            // line is not glued to it.
            let len = f.metadata()?.len();
            if len > 0 {
                let mut last = [0u8; 1];
                f.seek(SeekFrom::Start(len - 1))?;
                f.read_exact(&mut last)?;
                if last[0] != b'\n' {
                    f.write_all(b"\n")?;
                }
            }
            m.file = Some(Mutex::new(f));
        }
        Ok((m, remembered))
    }

    /// Turns what the pass gathered into the maps, and what is left to complete.
    fn settle(
        &mut self,
        mut loading: Loading,
        exists: &impl Fn(&str) -> bool,
        state_dir: &Path,
    ) -> io::Result<Remembered> {
        let (current, text) = std::mem::take(&mut loading.lines).current();
        let current_lines: HashSet<u32> = current.iter().map(|c| c.line).collect();
        // The files there now: `by_hash` holds every content among them (the first path of
        // each; a path of a content seen before stays in `paths`, unused: rare). The paths
        // stay where loading put them.
        self.paths.text = text.into_boxed();
        // A move a killed run left half done: its new file is there; the old path is left
        // out (the run finishes the move, see `Remembered::interrupted_moves`).
        let mut interrupted_moves: Vec<Line> = Vec::new();
        let mut moved_away: HashSet<(Id, &str)> = HashSet::new();
        for (n, line) in &loading.open {
            if let Some(m) = &line.moved_from {
                if current_lines.contains(n) && exists(&line.path) {
                    moved_away.insert((id(hash_id(&line.hash)), m.path.as_str()));
                    interrupted_moves.push(line.clone());
                }
            }
        }
        let mut hashes: Vec<(Id, u32)> = Vec::with_capacity(current.len());
        let mut gone: HashSet<Id> = HashSet::new();
        for c in current {
            let path = c.path(&self.paths.text);
            if moved_away.contains(&(c.hash, path)) {
                continue;
            }
            if exists(path) {
                let at = u32::try_from(self.paths.spans.len()).expect("under 4 billion files");
                hashes.push((c.hash, at));
                self.paths.spans.push(c.span());
                self.sizes.push(c.size);
            } else {
                gone.insert(c.hash);
            }
        }
        self.paths.spans.shrink_to_fit();
        self.sizes.shrink_to_fit();
        self.by_hash = IdMap::build(hashes, false);
        let sources: Vec<(Id, u32)> = loading
            .sources
            .iter()
            .filter_map(|&(source, hash)| Some((id(source), self.by_hash.get(hash)?)))
            .collect();
        if !gone.is_empty() {
            self.removed = IdMap::set_of(
                (loading.sources.iter())
                    .filter(|&&(_, hash)| {
                        gone.contains(&id(hash)) && self.by_hash.get(hash).is_none()
                    })
                    .map(|&(source, _)| source),
            );
        }
        drop(std::mem::take(&mut loading.sources));
        self.by_source = IdMap::build(sources, true);
        for (hash, album) in loading.albums {
            if let Some(at) = self.by_hash.get(hash) {
                let path = self.paths.get(at).to_string();
                self.albums.entry(album.into()).or_default().insert(path);
            }
        }
        // Files written without a sidecar: those whose line is the current one of a file
        // that is there.
        let mut bare: Vec<OpenFile> = Vec::new();
        let mut bare_at: HashMap<u128, usize> = HashMap::new();
        for (n, line) in loading.open {
            let hash = hash_id(&line.hash);
            if current_lines.contains(&n) && exists(&line.path) && !bare_at.contains_key(&hash) {
                bare_at.insert(hash, bare.len());
                bare.push(OpenFile {
                    line,
                    sources: Vec::new(),
                });
            }
        }
        if !bare.is_empty() {
            bare_sources(state_dir, &bare_at, &mut bare)?;
        }
        let mut waiting: Vec<SourceKey> = Vec::new();
        let mut seen: HashSet<u128> = HashSet::new();
        for (hash, source) in loading.dup_without {
            if self.by_hash.contains_key(hash)
                && !bare_at.contains_key(&hash)
                && seen.insert(source.id())
            {
                waiting.push(source);
            }
        }
        Ok(Remembered {
            open_files: bare,
            sidecars: loading.sidecars,
            claimed: IdMap::build(loading.claimed, true),
            waiting,
            parts: loading.parts.into_iter().collect(),
            inputs: loading.inputs.into_iter().collect(),
            albums: loading.album_records.into_values().collect(),
            interrupted_moves,
        })
    }

    /// With `on` (`--sync`), every appended line is on disk before `append` returns: a line
    /// is appended before its file is renamed into place, so after a power cut every file
    /// that is there has its line.
    /// The manifest file itself (which may have just been created) is made durable at once.
    pub fn durable(mut self, on: bool) -> io::Result<Manifest> {
        self.durable = on;
        if let (true, Some(f)) = (on, &self.file) {
            f.lock().expect("manifest lock").sync_all()?;
            if let Some(dir) = self.path.parent() {
                crate::library::fs::sync_dir(dir)?;
                if let Some(root) = dir.parent() {
                    crate::library::fs::sync_dir(root)?;
                }
            }
        }
        Ok(self)
    }

    /// Album memberships recorded by earlier runs, of files that still exist.
    pub fn albums(&self) -> &BTreeMap<String, BTreeSet<String>> {
        &self.albums
    }

    /// The library files whose size is not the one they were written with (`size_of`: a
    /// file's size now, by path): changed by someone since, as `verify` would find them
    /// (it compares contents; a change that keeps the size is left to it). Sorted.
    pub fn changed(&self, size_of: impl Fn(&str) -> Option<u64> + Sync) -> Vec<String> {
        use rayon::prelude::*;
        // In parallel: one stat a file, which on a cold disk is a read each.
        let mut changed: Vec<String> = (0..self.paths.spans.len())
            .into_par_iter()
            .with_min_len(1024)
            .filter(|&k| self.sizes[k] != 0)
            .filter_map(|k| {
                let path = self.paths.get(k as u32);
                let now = size_of(path)?;
                (now != u64::from(self.sizes[k])).then(|| path.to_string())
            })
            .collect();
        changed.sort();
        changed
    }

    /// Whether earlier runs left files in the folder (as it was loaded).
    pub fn holds_files(&self) -> bool {
        !self.by_hash.is_empty()
    }

    /// The output path of a file with this content hash (as a number), if the folder has one.
    pub fn path_for_id(&self, hash: u128) -> Option<&str> {
        let at = self.by_hash.get(hash)?;
        Some(self.paths.get(at))
    }

    /// Whether an earlier run wrote the Takeout entry ([`source_id`]) into a file that is gone
    /// from the folder (removed or moved away since).
    pub fn was_removed(&self, source: u128) -> bool {
        self.removed.contains_key(source)
    }

    /// The output path the same Takeout entry ([`source_id`]) went to in an earlier run.
    pub fn path_for_source(&self, source: u128) -> Option<&str> {
        let at = self.by_source.get(source)?;
        Some(self.paths.get(at))
    }

    /// The library files a run looks at again (see `process::plan::pairing`), with their
    /// current line and every entry of their content: those with an entry that `wants` (by
    /// its path, and the file's claim), or whose claim names one of `sidecars` (entry ids),
    /// but not those whose content is in `skip` (the files already open). A pass over the
    /// manifest, made only when there is something to look for.
    pub fn revisit(
        &self,
        wants: impl Fn(&str, Option<&Claim>) -> bool,
        sidecars: &HashSet<u128>,
        skip: &HashSet<u128>,
    ) -> io::Result<Vec<OpenFile>> {
        let Some(state_dir) = self.path.parent() else {
            return Ok(Vec::new());
        };
        let Some(f) = open_to_read(state_dir)? else {
            return Ok(Vec::new());
        };
        // First which contents, then their current lines (the last that wrote each at its
        // current path) and entries: no line is kept whole that is not asked for.
        let mut picked: HashSet<u128> = HashSet::new();
        each_file_line(f, |_, l| {
            let hash = hash_id(&l.hash);
            if skip.contains(&hash) || picked.contains(&hash) || self.path_for_id(hash).is_none() {
                return;
            }
            let claim = l.claim();
            let wanted = || l.sources().iter().any(|s| wants(&s.entry, claim.as_ref()));
            let taken = claim.as_ref().and_then(Claim::sidecar_id);
            if taken.is_some_and(|c| sidecars.contains(&c)) || wanted() {
                picked.insert(hash);
            }
        })?;
        if picked.is_empty() {
            return Ok(Vec::new());
        }
        let mut found: HashMap<u128, OpenFile> = HashMap::new();
        let Some(f) = open_to_read(state_dir)? else {
            return Ok(Vec::new());
        };
        each_file_line(f, |text, l| {
            let hash = hash_id(&l.hash);
            if !picked.contains(&hash) {
                return;
            }
            let file = found.entry(hash).or_insert_with(|| OpenFile {
                line: Line::default(),
                sources: Vec::new(),
            });
            let current = self.path_for_id(hash) == Some(l.path.as_ref());
            if current && l.output_hash.is_some() && !l.retracted {
                if let Ok(line) = serde_json::from_slice::<Line>(text) {
                    file.line = line;
                }
            }
            for s in &l.sources() {
                let key = s.key();
                if !file.sources.contains(&key) {
                    file.sources.push(key);
                }
            }
        })?;
        let mut files: Vec<OpenFile> = (found.into_values())
            .filter(|f| !f.line.path.is_empty())
            .collect();
        files.sort_by(|a, b| a.line.path.cmp(&b.line.path));
        Ok(files)
    }

    /// Appends one line (a single write, so concurrent appends never interleave).
    pub fn append(&self, line: &Line) -> io::Result<()> {
        self.append_value(line)
    }

    /// Appends `sidecar` lines, serialized in parallel and written in large blocks of whole
    /// lines (a run records every sidecar it read: one write each would take a tenth of a
    /// run of tiny files).
    pub fn append_sidecars(&self, records: &[SidecarRecord]) -> io::Result<()> {
        use rayon::prelude::*;
        if self.file.is_none() {
            return Ok(());
        }
        for chunk in records.chunks(4096) {
            let lines: Vec<String> = chunk
                .par_iter()
                .map(|r| serde_json::to_string(&SidecarLine { sidecar: r }))
                .collect::<Result<_, _>>()
                .map_err(io::Error::other)?;
            let mut block = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
            for l in &lines {
                block.push_str(l);
                block.push('\n');
            }
            self.write_lines(&block)?;
        }
        Ok(())
    }

    /// Appends a `parts` line naming the parts of exports this run was given (nothing when
    /// there are none).
    pub fn append_parts(&self, names: &[String]) -> io::Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        self.append_value(&PartsLine { parts: names })
    }

    /// Appends an `inputs` line (none for no paths).
    pub fn append_inputs(&self, paths: &[String]) -> io::Result<()> {
        if paths.is_empty() {
            return Ok(());
        }
        self.append_value(&InputsLine { inputs: paths })
    }

    /// Appends an `album` line for each record.
    pub fn append_albums(&self, records: &[AlbumRecord]) -> io::Result<()> {
        for r in records {
            self.append_value(&AlbumLine { album: r })?;
        }
        Ok(())
    }

    /// Appends an `unwritten` line.
    pub fn append_unwritten(&self, record: &Unwritten) -> io::Result<()> {
        self.append_value(&UnwrittenLine { unwritten: record })
    }

    /// Appends any line as one write (concurrent appends never interleave), made durable
    /// before it returns with `--sync`.
    fn append_value(&self, value: &impl Serialize) -> io::Result<()> {
        if self.file.is_none() {
            return Ok(());
        }
        let mut text = serde_json::to_string(value).map_err(io::Error::other)?;
        text.push('\n');
        self.write_lines(&text)
    }

    /// Appends whole lines in one write (concurrent appends never interleave), made durable
    /// before it returns with `--sync`; nothing without a manifest file (a dry run).
    fn write_lines(&self, text: &str) -> io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let mut f = file.lock().expect("manifest lock");
        f.write_all(text.as_bytes())?;
        if self.durable {
            f.sync_data()?;
        }
        Ok(())
    }

    /// Makes every appended line durable.
    pub fn sync(&self) -> io::Result<()> {
        match &self.file {
            Some(f) => f.lock().expect("manifest lock").sync_all(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
