//! The decisions of a run, as pure functions over plain data: which date wins and why, which
//! name and folder a file gets, why an entry is left out, which member of a duplicate group is
//! written, when an XMP sidecar is wanted. Nothing here touches the disk, so each decision has
//! a table test.

use chrono::{DateTime, FixedOffset};

use crate::cli::Layout;
use crate::cli::XmpMode;
use crate::dates::DateSource;
use crate::library::manifest::Claim;
use crate::metadata::Geo;
use crate::metadata::TimeZoneChoice;
use crate::names::{key, split_edited, NameParts};
pub use crate::process::report::SkipReason;
use crate::takeout::matcher::Rule;

use crate::cli::EditedMode;

/// A date taken (seconds since the epoch, UTC) and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DateChoice {
    pub when: Option<i64>,
    pub source: Option<DateSource>,
}

impl DateChoice {
    fn from(when: Option<i64>, source: DateSource) -> DateChoice {
        DateChoice {
            source: when.map(|_| source),
            when,
        }
    }
}

/// Every date a file may have, best known before or after its bytes are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DateCandidates {
    /// `photoTakenTime` of its sidecar.
    pub sidecar: Option<i64>,
    /// The date the file itself carries (EXIF, QuickTime), as UTC.
    pub embedded: Option<i64>,
    /// A date in its file name.
    pub name: Option<i64>,
    /// `creationTime` of its sidecar: the upload.
    pub upload: Option<i64>,
}

/// The date known before a file's bytes are read: its sidecar's, else its name's. A
/// `photoTakenTime` of 0 means "unknown" (Google writes it for photos without a date).
pub fn planned_date(c: &DateCandidates) -> DateChoice {
    match usable(c.sidecar) {
        Some(t) => DateChoice::from(Some(t), DateSource::Sidecar),
        None => DateChoice::from(c.name, DateSource::FileName),
    }
}

/// The one effective date of a file, once its own date is known: the date the file keeps in
/// its metadata drives its mtime, folder, XMP, report and manifest too. With
/// `overwrite_dates` the sidecar's date replaces the file's own; otherwise the camera's date
/// is kept, then the sidecar's, the name's, and the upload time last.
pub fn effective_date(c: &DateCandidates, overwrite_dates: bool) -> DateChoice {
    let sidecar = usable(c.sidecar);
    if overwrite_dates && sidecar.is_some() {
        return DateChoice::from(sidecar, DateSource::Sidecar);
    }
    [
        (c.embedded, DateSource::Exif),
        (sidecar, DateSource::Sidecar),
        (c.name, DateSource::FileName),
        (c.upload, DateSource::UploadTime),
    ]
    .into_iter()
    .find(|(t, _)| t.is_some())
    .map(|(t, s)| DateChoice::from(t, s))
    .unwrap_or_default()
}

fn usable(t: Option<i64>) -> Option<i64> {
    t.filter(|t| *t != 0)
}

/// How many whole days the sidecar's date and the file's own date differ by, when the file's
/// date was kept and the two disagree by more than a day (worth a note in the report).
pub fn date_disagreement(c: &DateCandidates, chosen: &DateChoice) -> Option<i64> {
    let (Some(s), Some(e)) = (usable(c.sidecar), c.embedded) else {
        return None;
    };
    let days = (s - e).abs() / 86_400;
    ((s - e).abs() > 86_400 && chosen.source == Some(DateSource::Exif)).then_some(days)
}

/// The file name to give a media file: the sidecar's `title` when the zip's name is a
/// cut-down or character-replaced form of it (same extension, no `(n)` counter), else the name
/// in the zip. `title` is only given when the sidecar is the file's own (not an original's).
pub fn output_name(zip_name: &str, title: Option<&str>) -> String {
    let Some(title) = title else {
        return zip_name.to_string();
    };
    let (n, t) = (NameParts::parse(zip_name), NameParts::parse(title));
    let loose = |s: &str| -> String {
        key(s)
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '_' })
            .collect()
    };
    let same_ext = !n.ext.is_empty() && key(&n.ext) == key(&t.ext);
    if n.counter.is_none() && same_ext && loose(&t.stem).starts_with(&loose(&n.stem)) {
        title.to_string()
    } else {
        zip_name.to_string()
    }
}

/// The layout folder of a file taken at `taken` (UTC), in the zone it was taken in.
pub fn folder(
    layout: Layout,
    tz: &TimeZoneChoice,
    taken: Option<i64>,
    geo: Option<Geo>,
    own_offset: Option<FixedOffset>,
) -> String {
    let local: Option<DateTime<FixedOffset>> = taken.and_then(|t| tz.localize(t, geo, own_offset));
    layout.dir_for(local)
}

/// What [`skip_reason`] needs to know of one media file.
#[derive(Debug, Clone, Copy, Default)]
pub struct SkipFacts {
    pub trashed: bool,
    /// It is the edited copy of another file.
    pub is_edited_copy: bool,
    /// Another file is its edited copy.
    pub has_edited_copy: bool,
}

pub fn skip_reason(f: SkipFacts, keep_trashed: bool, edited: EditedMode) -> Option<SkipReason> {
    if f.trashed && !keep_trashed {
        return Some(SkipReason::Trashed);
    }
    match edited {
        EditedMode::Skip if f.is_edited_copy => Some(SkipReason::EditedCopy),
        EditedMode::Only if f.has_edited_copy => Some(SkipReason::OriginalOfEdited),
        _ => None,
    }
}

/// Which `--leave-out` set leaves out the photos of Google Photos' own set `album` (see
/// [`crate::takeout::folders::special_album`]), if any.
pub fn left_out(album: &str, leave_out: &[crate::cli::LeaveOut]) -> Option<crate::cli::LeaveOut> {
    use crate::cli::LeaveOut;
    use crate::takeout::folders::{ARCHIVE_ALBUM, LOCKED_ALBUM, PARTNER_ALBUM};
    leave_out.iter().copied().find(|l| match l {
        LeaveOut::Archive => album == ARCHIVE_ALBUM,
        LeaveOut::Locked => album == LOCKED_ALBUM,
        LeaveOut::Partner => album == PARTNER_ALBUM,
    })
}

/// The original's file name of an edited copy (`IMG_1-edited(1).jpg` → `IMG_1(1).jpg`), or
/// `None` when `name` is not an edited copy.
pub fn original_name(name: &str) -> Option<String> {
    let p = NameParts::parse(name);
    let (orig, _) = split_edited(&p.stem)?;
    Some(format!("{orig}{}{}", p.counter_suffix(), p.ext))
}

/// What decides which member of a group of identical files is written (the others are
/// recorded as its duplicates).
#[derive(Debug, Clone, Copy, Default)]
pub struct MemberFacts {
    /// Its sidecar could be read.
    pub usable_sidecar: bool,
    /// The export time of its sidecar's part: a newer export's metadata wins.
    pub export: Option<u64>,
    /// The sidecar is its own, not borrowed from an original or a Live Photo's still.
    pub own_sidecar: bool,
    /// In a year folder, not an album.
    pub in_year_folder: bool,
    /// (input, position in it): the earliest read wins ties.
    pub disk_order: (usize, u64),
}

/// How [`member_rank`] orders members: the smallest is the best.
pub type MemberRank = (
    bool,
    std::cmp::Reverse<Option<u64>>,
    bool,
    bool,
    (usize, u64),
);

/// Sort key: the smallest is the best member (a usable sidecar, of the newest export, its
/// own, in a year folder, first on disk).
pub fn member_rank(f: &MemberFacts) -> MemberRank {
    (
        !f.usable_sidecar,
        std::cmp::Reverse(f.export.filter(|_| f.usable_sidecar)),
        !f.own_sidecar,
        !f.in_year_folder,
        f.disk_order,
    )
}

/// Whether an XMP sidecar is written beside a file.
pub fn xmp_wanted(
    mode: XmpMode,
    embeds_fully: bool,
    incomplete: bool,
    favorite: bool,
    has_people: bool,
) -> bool {
    match mode {
        XmpMode::Never => false,
        XmpMode::Always => true,
        XmpMode::Auto => !embeds_fully || incomplete || favorite || has_people,
    }
}

/// A sidecar as [`update_action`] compares them: which entry, of which export, saying what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SidecarFacts {
    /// Its Takeout entry (the manifest's entry id).
    pub sidecar: u128,
    /// The export time of its part, if its name gives one.
    pub export: Option<u64>,
    /// A digest of what it says.
    pub meta: u64,
    /// How it was found: 2 by the photo's own name, 1 by its title (a weak rule), 0 borrowed
    /// (an edited copy's original's, a Live Photo still's, an album twin's). See
    /// [`strength`].
    pub strength: u8,
}

/// [`SidecarFacts::strength`] of a matcher rule.
pub fn strength(rule: Rule) -> u8 {
    if rule.is_shared() {
        0
    } else if rule.is_weak() {
        1
    } else {
        2
    }
}

/// What [`update_action`] needs to know of a library file an earlier run wrote, and of what
/// this run found for its entries.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpdateFacts {
    /// The sidecar whose metadata the file carries (its line's claim); `None` for a file
    /// written without one, or by a version that did not record it.
    pub had: Option<SidecarFacts>,
    /// The best usable sidecar this run found for one of its entries.
    pub now: Option<SidecarFacts>,
    /// The sidecar it carries went to another photo this run (its rightful owner).
    pub had_taken: bool,
    /// The manifest says the file is its source byte for byte (what a run writes without a
    /// sidecar), so the file itself can stand in for its source.
    pub byte_for_byte: bool,
    /// Its line says it was written without a sidecar (only the date in its name, if any,
    /// is in it): the first sidecar found is applied to its source.
    pub without_sidecar: bool,
    /// One of its entries is among this run's inputs: its bytes can be read again.
    pub input_here: bool,
    /// The sidecar found says the photo is in Google Photos' trash.
    pub trashed: bool,
    pub keep_trashed: bool,
    /// A killed run was rewriting it (its line is not confirmed): it is written again with
    /// what is found now.
    pub unfinished: bool,
}

/// Where a rewritten library file's source bytes are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    /// The library file itself (it is its source byte for byte).
    Library,
    /// One of its entries among this run's inputs.
    Input,
}

/// What a later run does with a library file an earlier run wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateAction {
    /// Rewrite it as one run over everything would have written it: with the sidecar found
    /// (a file written without one; a newer export's sidecar that says something else; its
    /// own where it had borrowed another photo's), or without one (the sidecar it carried
    /// went to its owner and it has none of its own).
    Rewrite(ReadFrom),
    /// It should be rewritten, but its bytes are in parts not given now: the file is marked,
    /// and a run that has them rewrites it.
    Defer,
    /// Leave it: nothing better was found; the metadata found is an older export's; the
    /// sidecar says it is in the trash (one run would have left it out, but a photo
    /// already in the library is never deleted); or an old line that cannot say what the
    /// file carries.
    Leave,
}

pub fn update_action(f: UpdateFacts) -> UpdateAction {
    // A newer export's sidecar wins (one without an export time counts as older); within an
    // export, one found more surely (its own by name over one by title over a borrowed one).
    // Two as sure, of one export, that say different things (an album copy's sidecar and its
    // year-folder twin's): the file keeps the one it has, so that runs never undo each other.
    let better = |h: SidecarFacts, n: SidecarFacts| match n.export.cmp(&h.export) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => n.strength > h.strength,
    };
    let change = match (f.had, f.now) {
        (_, Some(_)) if f.trashed && !f.keep_trashed => false,
        (_, Some(_)) if f.unfinished => true,
        (None, Some(_)) => f.byte_for_byte || f.without_sidecar,
        (None, None) => false,
        (Some(_), None) => f.had_taken,
        (Some(h), Some(n)) => h.meta != n.meta && better(h, n),
    };
    if !change {
        UpdateAction::Leave
    } else if f.byte_for_byte {
        UpdateAction::Rewrite(ReadFrom::Library)
    } else if f.input_here {
        UpdateAction::Rewrite(ReadFrom::Input)
    } else {
        UpdateAction::Defer
    }
}

/// Whether a library file that carries `claim` may get another sidecar from a folder with
/// sidecars no earlier run recorded, the newest of an export of time `newest` (`None`:
/// unknown): a file without a claim, one that borrowed its sidecar or found it by its title
/// (its own may be among them), or one whose sidecar is of an older export (or of unknown
/// age). A file that found its own by its name, in the same export or a newer one, keeps it
/// (see [`update_action`]): it is not looked at again.
pub fn may_take_a_new_sidecar(claim: Option<&Claim>, newest: Option<u64>) -> bool {
    let Some(c) = claim else {
        return true;
    };
    let borrowed = Rule::from_name(&c.rule).is_none_or(|r| r.is_weak() || r.is_shared());
    borrowed
        || match (c.export, newest) {
            (None, _) => true,
            (Some(had), Some(new)) => new > had,
            (Some(_), None) => false,
        }
}

/// Where an updated file goes: `Some(path)` when it stays where it is (the one-run path is
/// its own, compared as the file system would), `None` when it moves to a new name in
/// `dir` (the layout folder of its date, the sidecar's title).
pub fn update_in_place(old: &str, dir: &str, wanted: &str) -> Option<String> {
    let wanted = crate::names::sanitize_component(wanted)?;
    let target = if dir.is_empty() {
        wanted
    } else {
        format!("{dir}/{wanted}")
    };
    (key(&target) == key(old)).then(|| old.to_string())
}

/// What happens to the XMP sidecar beside an updated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmpCleanup {
    /// Nothing to remove.
    Keep,
    /// Remove the old one (moved away with its photo, or no longer wanted).
    Remove(String),
}

/// The old XMP sidecar of an updated file is removed when the new one (if any) has another
/// name; a new one under the same name replaced it.
pub fn xmp_cleanup(old: Option<&str>, new: Option<&str>) -> XmpCleanup {
    match old {
        Some(o) if new.is_none_or(|n| key(n) != key(o)) => XmpCleanup::Remove(o.to_string()),
        _ => XmpCleanup::Keep,
    }
}

/// The name a file would have had where the folder did not hold another under it: `reserved`
/// (the name it got, `dir/IMG_1 (2).jpg`) with its folder and `wanted` (its file name as
/// planned, made safe); `None` when it got that name (no other file took it) or `wanted` cannot
/// be made safe. A file there with what this one would be byte for byte is the same photo,
/// already in the folder (see `write::file::already_there`).
pub fn name_taken_from(reserved: &str, wanted: &str) -> Option<String> {
    let wanted = crate::names::sanitize_component(wanted)?;
    let first = match reserved.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{wanted}"),
        None => wanted,
    };
    (key(&first) != key(reserved)).then_some(first)
}

/// Room each file written takes beyond its source's bytes: the metadata embedded (a few KB
/// at most), its XMP sidecar, its manifest line, and the file system's rounding up to whole
/// blocks (4 KB on most).
pub const ROOM_PER_FILE: u64 = 16 * 1024;

/// Room the library's own files take whatever is written: the manifest's header, the lock,
/// `albums.json`, the report.
pub const ROOM_FIXED: u64 = 1024 * 1024;

/// The space a run needs at its destination: `bytes` of sources to write as `files` files,
/// with the room each takes beyond its bytes ([`ROOM_PER_FILE`], [`ROOM_FIXED`]).
pub fn space_needed(bytes: u64, files: u64) -> u64 {
    bytes
        .saturating_add(files.saturating_mul(ROOM_PER_FILE))
        .saturating_add(ROOM_FIXED)
}

/// How much space is missing at the destination: `None` when `needed` fits in `free`.
pub fn space_shortfall(needed: u64, free: u64) -> Option<u64> {
    (needed > free).then(|| needed - free)
}

/// A size in plain words, in decimal units as file managers show them: `41.2 GB`, `850 MB`,
/// `12 KB`.
pub fn plain_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1_000_000_000_000, "TB"),
        (1_000_000_000, "GB"),
        (1_000_000, "MB"),
        (1_000, "KB"),
    ];
    for (unit, name) in UNITS {
        if bytes >= unit {
            let value = bytes as f64 / unit as f64;
            return if value < 100.0 {
                format!("{value:.1} {name}")
            } else {
                format!("{value:.0} {name}")
            };
        }
    }
    if bytes == 1 {
        "1 byte".to_string()
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests;
