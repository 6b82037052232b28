//! Takeout parts as `.tgz` (a gzip-compressed tar) or plain `.tar`, read in one pass.
//!
//! A tar has no directory and no per-entry checksum, and a gzip stream cannot be entered in
//! the middle: the whole part must be inflated from its start to know what it holds. Each
//! part is therefore read once, sequentially, before anything is decided (the sidecar of a
//! photo may be in a later part), and the bytes of each of its files are kept in a *pack*: a
//! file of the staging folder (in the output folder's state folder, see
//! [`StagingPlace`]) where each kept entry's bytes lie at the position they have in the
//! uncompressed tar stream. An entry is then read from its pack like a stored zip entry: at
//! [`super::Entry::order`] (its data's position in the stream, unique and in stream order),
//! [`super::Entry::size`] bytes, checked against the CRC-32 computed while it was kept.
//! Entries not kept leave a hole (the pack is sparse where the file system allows).
//!
//! The CRC-32 computed while reading makes a tar entry's key (path, size and CRC-32) the same
//! as that of the same file in a zip of the same export: a library made from zips is
//! continued from `.tgz` parts and the other way round, and re-runs recognise entries already
//! in the library.
//!
//! The tar format is the `tar` crate's (GNU long names, PAX headers, header checksums). The
//! gzip stream is inflated by `flate2` (zlib-rs), several members in a row included, and
//! its trailer's CRC-32 and length are checked at the end.
//!
//! Hostile parts: names are never used as paths (see [`super::Entry`]); links are listed as
//! links and never read; device files and pipes are listed and not read; a stream that
//! inflates more than [`BOMB_MAX_RATIO`] times its compressed size beyond [`BOMB_MIN_SIZE`]
//! is stopped there (a gzip bomb); a cut or damaged stream keeps every entry before the
//! damage and names the entry it fell in.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::classify::is_json_name;
use super::{SourceError, BOMB_MAX_RATIO, BOMB_MIN_SIZE};

/// What a part's entries keep of their bytes.
#[derive(Clone, Copy)]
pub enum Keep<'a> {
    /// Every file's bytes are kept in the pack (`process`: every entry may be written).
    All,
    /// Only sidecars (`.json`) are kept; the content hash of every other file is computed
    /// while it streams by (`verify --against`, which compares content, never copies it).
    SidecarsAndHashes,
    /// Sidecars and the files `wanted(path, size)` names (by their path in the catalog) are
    /// kept; the others are only read through (`process` reading an earlier part again for a
    /// few photos).
    Wanted(&'a (dyn Fn(&str, u64) -> bool + Sync)),
}

impl Keep<'_> {
    /// Whether the bytes of the file at `path` (as the tar names it), of `size` bytes, are kept.
    fn keeps(&self, path: &str, size: u64) -> bool {
        match self {
            Keep::All => true,
            Keep::SidecarsAndHashes => is_json_name(path),
            // (The catalog reads a file named like a folder as the file without its `/`.)
            Keep::Wanted(wanted) => is_json_name(path) || wanted(path.trim_end_matches('/'), size),
        }
    }
}

/// Where packs are kept and what of the entries.
#[derive(Clone, Copy)]
pub struct TarOptions<'a> {
    pub place: StagingPlace<'a>,
    pub keep: Keep<'a>,
    /// Stops reading (Ctrl-C): the catalog fails with [`SourceError::Stopped`].
    pub cancel: Option<&'a AtomicBool>,
    /// Told, now and then, how many more bytes of the parts were read (parts are read in
    /// parallel: the sum of what it is told is the bytes read of all of them).
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
}

impl Default for TarOptions<'_> {
    fn default() -> Self {
        TarOptions {
            place: StagingPlace::Temporary,
            keep: Keep::All,
            cancel: None,
            progress: None,
        }
    }
}

/// Where the staging folder is made.
#[derive(Debug, Clone, Copy)]
pub enum StagingPlace<'a> {
    /// This folder, made anew (an old one of an interrupted run is removed first): the
    /// output folder's state folder, on the disk the library is written to.
    At(&'a Path),
    /// A new folder in the system's temporary folder.
    Temporary,
}

/// The staging folder, removed with everything in it when dropped (the end of a run, an
/// error, Ctrl-C).
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
}

impl Staging {
    pub fn make(place: StagingPlace) -> io::Result<Staging> {
        let dir = match place {
            StagingPlace::At(dir) => {
                match std::fs::remove_dir_all(dir) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
                dir.to_path_buf()
            }
            StagingPlace::Temporary => {
                remove_orphans(&std::env::temp_dir());
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos());
                std::env::temp_dir().join(format!("gpbackup-{}-{nanos}", std::process::id()))
            }
        };
        // The photos kept there are the user's: only the user may read them.
        #[cfg(unix)]
        let builder = {
            let mut b = std::fs::DirBuilder::new();
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b
        };
        #[cfg(not(unix))]
        let builder = std::fs::DirBuilder::new();
        builder.create(&dir)?;
        Ok(Staging { dir })
    }

    /// The pack of input number `input`.
    pub fn pack(&self, input: usize) -> PathBuf {
        self.dir.join(format!("{input}.pack"))
    }
}

/// Removes the temporary staging folders (`gpbackup-PID-N`) of runs that are gone (killed
/// before they could remove them: Ctrl-C twice, a crash). Unix only: elsewhere a process's
/// life cannot be asked cheaply, and such folders stay.
fn remove_orphans(temp: &Path) {
    #[cfg(unix)]
    {
        let Ok(entries) = std::fs::read_dir(temp) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(pid) = orphan_pid(&name.to_string_lossy()) else {
                continue;
            };
            // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
            let gone = unsafe { libc::kill(pid, 0) } != 0
                && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
            if gone && e.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    #[cfg(not(unix))]
    let _ = temp;
}

/// The process id in a temporary staging folder's name (`gpbackup-PID-N`).
#[cfg_attr(not(unix), allow(dead_code))]
fn orphan_pid(name: &str) -> Option<i32> {
    let (pid, nanos) = name.strip_prefix("gpbackup-")?.split_once('-')?;
    nanos.parse::<u32>().ok()?;
    pid.parse().ok().filter(|&p: &i32| p > 0)
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What an archive is, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Gzip,
    Tar,
    Other,
}

/// Tells a gzip stream (`1f 8b`) and a tar (`ustar` at byte 257) from anything else.
pub fn sniff(path: &Path) -> Sniffed {
    let mut head = [0u8; 512];
    let Ok(mut f) = File::open(path) else {
        return Sniffed::Other;
    };
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Sniffed::Other,
        }
    }
    sniff_bytes(&head[..n])
}

pub fn sniff_bytes(head: &[u8]) -> Sniffed {
    if head.starts_with(&[0x1f, 0x8b]) {
        Sniffed::Gzip
    } else if head.len() >= 262 && &head[257..262] == b"ustar" {
        Sniffed::Tar
    } else {
        Sniffed::Other
    }
}

/// What a tar entry is, as the catalog keeps it (see `Locator::Tar`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TarKind {
    /// A file whose bytes are in the pack.
    Kept,
    /// A file whose bytes were not kept (see [`Keep`]); with [`Keep::SidecarsAndHashes`],
    /// its content hash is kept instead.
    Hashed,
    /// A symbolic or hard link: never read.
    Link,
    /// A device file, pipe or other special entry: not a file, never read.
    Special,
}

/// One entry of a part, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarItem {
    pub path: String,
    pub size: u64,
    pub crc32: u32,
    /// Where its data starts in the uncompressed tar stream and in the pack; unless every
    /// file is kept ([`Keep::All`]), in the pack only (see `walk`). Distinct, in stream order.
    pub pos: u64,
    pub kind: TarKind,
    /// Its content hash, when only that was kept ([`TarKind::Hashed`]).
    pub hash: Option<u128>,
}

/// A part read to its end or to where it is damaged.
#[derive(Debug, Default)]
pub struct TarRead {
    pub items: Vec<TarItem>,
    /// Why it could not be read to the end, when it could not.
    pub damage: Option<TarDamage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarDamage {
    /// The entry the damage is in, when its header could be read: that entry and every
    /// later one are lost.
    pub lost: Option<String>,
    /// True when the stream simply ends (an interrupted download); false when its bytes are
    /// wrong (a damaged file, a failed checksum, a gzip bomb).
    pub ends_early: bool,
    pub reason: String,
}

/// Counts the compressed bytes read, for the bomb check and the progress.
struct Counting<R> {
    inner: R,
    read: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// Bytes of the pack written at explicit positions, a buffer at a time.
struct Pack {
    file: File,
    buf: Vec<u8>,
    /// The pack position of `buf[0]`.
    at: u64,
    /// Writes made (each a system call or a few).
    writes: u32,
}

const PACK_BUFFER: usize = 1 << 20;
/// Reads at least this large are written to the pack straight, when nothing is buffered.
const DIRECT_WRITE: usize = 64 * 1024;
/// The most bytes read after the tar's end, looking for the gzip stream's end and checksum
/// (GNU tar pads an archive to a record of 10 KB).
const TRAILING_MAX: u64 = 1 << 20;
/// The largest gap between kept entries written as zeros rather than skipped.
const GAP_FILLED: u64 = 64 * 1024;

impl Pack {
    /// Continues at `pos` (the start of an entry's data). A short gap (the tar headers
    /// between two kept entries) is written as zeros, so that a part of small files is
    /// written a buffer at a time, not an entry at a time.
    fn seek(&mut self, pos: u64) -> io::Result<()> {
        let end = self.at + self.buf.len() as u64;
        if pos >= end && pos - end <= GAP_FILLED && !self.buf.is_empty() {
            self.buf.resize(self.buf.len() + (pos - end) as usize, 0);
        } else if pos != end {
            self.flush()?;
            self.at = pos;
        }
        Ok(())
    }

    fn push(&mut self, data: &[u8]) -> io::Result<()> {
        // A large read with nothing buffered (inside a photo or video) goes straight to the
        // pack, without a copy into the buffer.
        if self.buf.is_empty() && data.len() >= DIRECT_WRITE {
            self.writes += 1;
            write_all_at(&self.file, data, self.at)?;
            self.at += data.len() as u64;
            return Ok(());
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PACK_BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.writes += 1;
            write_all_at(&self.file, &self.buf, self.at)?;
            self.at += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }
}

fn write_all_at(file: &File, mut buf: &[u8], mut at: u64) -> io::Result<()> {
    while !buf.is_empty() {
        #[cfg(unix)]
        let r = std::os::unix::fs::FileExt::write_at(file, buf, at);
        #[cfg(windows)]
        let r = std::os::windows::fs::FileExt::seek_write(file, buf, at);
        match r {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                buf = &buf[n..];
                at += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Why reading stopped short of a damaged part: the catalog cannot be made.
#[derive(Debug)]
enum Fatal {
    /// The pack could not be written (the output disk is full, most often).
    Pack(io::Error),
    Stopped,
}

/// Reads the part at `path` (`sniffed`: what [`sniff`] says it is) to its end, keeping its
/// entries' bytes in `pack` (see [`Keep`]). A part damaged at any point keeps what came
/// before (`TarRead::damage`).
pub fn read(
    path: &Path,
    sniffed: Sniffed,
    pack: &Path,
    opts: &TarOptions,
) -> Result<TarRead, SourceError> {
    let io_err = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let read = Rc::new(Cell::new(0u64));
    let counting = Counting {
        inner: BufReader::with_capacity(256 * 1024, file),
        read: read.clone(),
    };
    let gzip = sniffed == Sniffed::Gzip;
    let inner: Box<dyn Read> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(counting))
    } else {
        Box::new(counting)
    };
    let inflated = Rc::new(Cell::new(0u64));
    let mark = Rc::new(Cell::new(0u64));
    let stream = Guard {
        inner,
        inflated: inflated.clone(),
        mark: mark.clone(),
        compressed: read.clone(),
        gzip,
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(pack)
        .map_err(|source| SourceError::Stage {
            path: path.to_path_buf(),
            source,
        })?;
    let mut pack = Pack {
        file,
        buf: Vec::with_capacity(PACK_BUFFER),
        at: 0,
        writes: 0,
    };
    let mut out = TarRead::default();
    let reported = Cell::new(0u64);
    let report = |at_least: u64| {
        if let Some(progress) = opts.progress {
            let now = read.get();
            if now - reported.get() >= at_least {
                progress(now - reported.get());
                reported.set(now);
            }
        }
    };
    let counters = Counters {
        inflated: &inflated,
        mark: &mark,
    };
    let result = walk(stream, gzip, counters, &mut pack, &mut out, opts, &report).and_then(|()| {
        pack.flush().map_err(Fatal::Pack)?;
        Ok(())
    });
    report(0);
    match result {
        Ok(()) => Ok(out),
        Err(Fatal::Stopped) => Err(SourceError::Stopped),
        Err(Fatal::Pack(source)) => Err(SourceError::Stage {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The counts a [`Guard`] keeps, as `walk` sees them.
#[derive(Clone, Copy)]
struct Counters<'a> {
    inflated: &'a Rc<Cell<u64>>,
    mark: &'a Rc<Cell<u64>>,
}

/// The uncompressed stream, counted and bounded: it fails past a gzip bomb's ratio (see
/// [`bomb`]), and when more than [`HEADERS_MAX`] bytes are read since `mark` (the end of the
/// last entry data read): the tar crate reads a long name or a PAX header whole into memory,
/// and skips the data of links and folders, whatever size their header declares.
struct Guard<R> {
    inner: R,
    inflated: Rc<Cell<u64>>,
    mark: Rc<Cell<u64>>,
    compressed: Rc<Cell<u64>>,
    gzip: bool,
}

/// A tar's block: headers, data padding and its end mark come in these.
const BLOCK: u64 = 512;

/// The most bytes read between two entries' data (headers, long names, PAX records, the data
/// of links and folders): a Takeout's take a few KB.
const HEADERS_MAX: u64 = 16 << 20;

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let inflated = self.inflated.get() + n as u64;
        self.inflated.set(inflated);
        if let Some(why) = bomb(inflated, self.compressed.get(), self.gzip) {
            return Err(io::Error::new(io::ErrorKind::InvalidData, why));
        }
        if inflated - self.mark.get() > HEADERS_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "more than {} MB of headers between two files (a crafted or damaged \
                     archive); the rest of it is not read",
                    HEADERS_MAX >> 20
                ),
            ));
        }
        Ok(n)
    }
}

fn walk(
    stream: Guard<Box<dyn Read>>,
    gzip: bool,
    counters: Counters,
    pack: &mut Pack,
    out: &mut TarRead,
    opts: &TarOptions,
    report: &dyn Fn(u64),
) -> Result<(), Fatal> {
    let mut archive = tar::Archive::new(stream);
    let mut buf = vec![0u8; 256 * 1024];
    let Counters { inflated, mark } = counters;
    let damage = |lost: Option<String>, err: &io::Error| TarDamage {
        lost,
        ends_early: err.kind() == io::ErrorKind::UnexpectedEof,
        reason: damage_reason(err, gzip),
    };
    let entries = match archive.entries() {
        Ok(entries) => entries,
        Err(e) => {
            out.damage = Some(damage(None, &e));
            return Ok(());
        }
    };
    // Where the data of the last entry read ends (its blocks padded).
    let mut last_end = 0u64;
    // An entry's position: where its data is in the tar stream, and in the pack. When only
    // some files are kept, the pack holds them one after the other instead, each other entry a
    // byte of its own (positions stay distinct and in stream order): a pack of the kept files'
    // size, whether or not the file system leaves the gaps unwritten (exFAT, or NTFS's
    // ordinary files, would write them out).
    let mut compact = 0u64;
    let mut place = |raw: u64, size: u64, keep: bool| {
        if matches!(opts.keep, Keep::All) {
            return raw;
        }
        let at = compact;
        compact += if keep { size.max(1) } else { 1 };
        at
    };
    for entry in entries {
        if opts.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(Fatal::Stopped);
        }
        let mut entry = match entry {
            Ok(entry) => entry,
            Err(e) if checksum_failed(&e) => {
                distrust(out);
                return Ok(());
            }
            Err(e) => {
                out.damage = Some(damage(None, &e));
                return Ok(());
            }
        };
        mark.set(inflated.get());
        last_end = (entry.raw_file_position() + entry.size()).next_multiple_of(BLOCK);
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = path.strip_prefix("./").map(str::to_string).unwrap_or(path);
        let kind = match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => None,
            tar::EntryType::Link | tar::EntryType::Symlink => Some(TarKind::Link),
            tar::EntryType::Directory
            | tar::EntryType::XGlobalHeader
            | tar::EntryType::XHeader
            | tar::EntryType::GNULongName
            | tar::EntryType::GNULongLink => continue,
            _ => Some(TarKind::Special),
        };
        let raw = entry.raw_file_position();
        if let Some(kind) = kind {
            let pos = place(raw, 0, false);
            out.items.push(TarItem {
                path,
                size: 0,
                crc32: 0,
                pos,
                kind,
                hash: None,
            });
            continue;
        }
        let size = entry.size();
        // A sidecar's bytes are always kept.
        let keep = opts.keep.keeps(&path, size);
        let pos = place(raw, size, keep);
        let mut crc = crc32fast::Hasher::new();
        let mut hash = (!keep && matches!(opts.keep, Keep::SidecarsAndHashes))
            .then(xxhash_rust::xxh3::Xxh3::new);
        if keep {
            pack.seek(pos).map_err(Fatal::Pack)?;
        }
        let mut got = 0u64;
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Bytes of a damaged entry are not an entry: it is named as lost.
                    out.damage = Some(damage(Some(path), &e));
                    return Ok(());
                }
            };
            let data = &buf[..n];
            crc.update(data);
            if let Some(h) = &mut hash {
                h.update(data);
            }
            if keep {
                pack.push(data).map_err(Fatal::Pack)?;
            }
            got += n as u64;
            mark.set(inflated.get());
            report(4 << 20);
            if opts.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Err(Fatal::Stopped);
            }
        }
        if got != size {
            let e = io::Error::new(io::ErrorKind::UnexpectedEof, "entry cut short");
            out.damage = Some(damage(Some(path), &e));
            return Ok(());
        }
        out.items.push(TarItem {
            path,
            size,
            crc32: crc.finalize(),
            pos,
            kind: if keep { TarKind::Kept } else { TarKind::Hashed },
            hash: hash.map(|h| h.digest128()),
        });
    }
    // A complete tar ends with a block of zeros (the tar crate stops there, or where the bytes
    // end). A plain .tar whose bytes end without it was cut, at the end of an entry: the
    // entries after the cut are missing without a trace. (A .tgz cut anywhere fails its gzip
    // trailer, below.)
    if !gzip && inflated.get() < last_end + BLOCK {
        out.damage = Some(TarDamage {
            lost: None,
            ends_early: true,
            reason: "it ends without the mark that ends a complete .tar: it was cut, and \
                     files after the cut are missing"
                .into(),
        });
        return Ok(());
    }
    // The end of the tar: what follows (its padding) is read to the end of the gzip stream,
    // whose trailer checks every byte inflated (a tar's headers have checksums, its data not).
    let mut rest = archive.into_inner();
    let mut trailing = 0u64;
    loop {
        mark.set(inflated.get());
        match rest.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                trailing += n as u64;
                if trailing > TRAILING_MAX {
                    // Not a Takeout's padding: what follows the tar's end is not read.
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if checksum_failed(&e) => {
                distrust(out);
                return Ok(());
            }
            Err(e) => {
                out.damage = Some(TarDamage {
                    lost: None,
                    ends_early: e.kind() == io::ErrorKind::UnexpectedEof,
                    reason: if e.kind() == io::ErrorKind::UnexpectedEof {
                        "the file ends before its last bytes (an interrupted download); every \
                         file in it was read, but none could be checked against the archive's \
                         checksum"
                            .into()
                    } else {
                        format!(
                            "its checksum does not match ({}): a file in it may be damaged",
                            e
                        )
                    },
                });
                return Ok(());
            }
        }
    }
    Ok(())
}

/// True when the gzip stream's checksum (over every byte of the part) failed: some byte read
/// was wrong, and a tar holds no checksum of its files to tell which (flate2's error says
/// so in these words; `tests::a_corrupt_gzip_checksum_is_damage` holds it to them).
fn checksum_failed(e: &io::Error) -> bool {
    e.to_string().contains("does not have a matching checksum")
}

/// A part whose checksum failed: none of its files is used, since any one may be the damaged
/// one (a bit flipped in a photo decodes without an error).
fn distrust(out: &mut TarRead) {
    out.items.clear();
    out.damage = Some(TarDamage {
        lost: None,
        ends_early: false,
        reason: "its checksum does not match: one of its files is damaged, and which one \
                 cannot be told, so none of them is used"
            .into(),
    });
}

/// Why a stream that inflated `inflated` bytes from `compressed` is taken for a gzip bomb.
fn bomb(inflated: u64, compressed: u64, gzip: bool) -> Option<String> {
    let limit = compressed.max(1).saturating_mul(BOMB_MAX_RATIO);
    (gzip && inflated > BOMB_MIN_SIZE && inflated > limit).then(|| {
        format!(
            "suspected gzip bomb: {} MB from {} KB of compressed data (limit {BOMB_MAX_RATIO}:1 \
             above {} MB); the rest of it is not read",
            inflated >> 20,
            compressed >> 10,
            BOMB_MIN_SIZE >> 20
        )
    })
}

/// What stopped the reading of a part, in plain words.
fn damage_reason(err: &io::Error, gzip: bool) -> String {
    let what = if gzip { ".tgz" } else { ".tar" };
    if err.kind() == io::ErrorKind::UnexpectedEof {
        format!("the {what} file ends early")
    } else {
        format!("the {what} file is damaged inside ({err})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn read_bytes(bytes: &[u8], keep: Keep) -> (TarRead, Vec<u8>) {
        let opts = TarOptions {
            keep,
            ..TarOptions::default()
        };
        read_with(bytes, &opts)
    }

    /// Reads `bytes` as a part with `opts`: what was read, and the pack.
    fn read_with(bytes: &[u8], opts: &TarOptions) -> (TarRead, Vec<u8>) {
        let dir = std::env::temp_dir().join(format!(
            "gpbackup-tgz-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("part.tgz");
        std::fs::write(&input, bytes).unwrap();
        let pack = dir.join("0.pack");
        let r = read(&input, sniff(&input), &pack, opts).unwrap();
        let packed = std::fs::read(&pack).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        (r, packed)
    }

    #[test]
    fn each_entry_is_kept_at_its_position_with_its_crc() {
        // A video of 3 MB between small files: its bytes go through the buffer, then straight
        // to the pack.
        let video: Vec<u8> = (0..3_000_000u64).map(|i| (i * 7919 % 251) as u8).collect();
        let tar = tar_of(&[
            ("Takeout/a.jpg", b"AAAA"),
            ("Takeout/v.mp4", &video),
            ("./Takeout/a.jpg.json", b"{}"),
        ]);
        for bytes in [tar.clone(), gzip(&tar)] {
            let (r, pack) = read_bytes(&bytes, Keep::All);
            assert_eq!(r.damage, None);
            let names: Vec<&str> = r.items.iter().map(|i| i.path.as_str()).collect();
            assert_eq!(
                names,
                ["Takeout/a.jpg", "Takeout/v.mp4", "Takeout/a.jpg.json"]
            );
            for (item, data) in r.items.iter().zip([&b"AAAA"[..], &video, b"{}"]) {
                assert_eq!(item.kind, TarKind::Kept);
                assert_eq!(item.size, data.len() as u64);
                assert_eq!(item.crc32, crc32fast::hash(data));
                let at = item.pos as usize;
                assert_eq!(&pack[at..at + data.len()], data);
                assert_eq!(&tar[at..at + data.len()], data, "the tar stream's position");
            }
        }
    }

    #[test]
    fn only_sidecars_are_kept_when_asked_and_the_rest_is_hashed() {
        let tar = tar_of(&[("a.jpg", b"AAAA"), ("a.jpg.json", b"{}")]);
        let (r, pack) = read_bytes(&gzip(&tar), Keep::SidecarsAndHashes);
        assert_eq!(r.items[0].kind, TarKind::Hashed);
        assert_eq!(r.items[0].hash, Some(xxhash_rust::xxh3::xxh3_128(b"AAAA")));
        assert_eq!(r.items[0].crc32, crc32fast::hash(b"AAAA"));
        assert_eq!(r.items[1].kind, TarKind::Kept);
        assert_eq!(r.items[1].hash, None);
        assert!(!pack.windows(4).any(|w| w == b"AAAA"));
        // The pack holds the sidecar alone, a byte for the photo before it.
        assert_eq!((r.items[0].pos, r.items[1].pos), (0, 1));
        assert_eq!(pack, b"\0{}");
    }

    #[test]
    fn a_pack_of_sidecars_alone_is_as_small_as_they_are() {
        let video = vec![7u8; 3_000_000];
        let tar = tar_of(&[
            ("v.mp4", &video),
            ("v.mp4.json", b"{\"a\":1}"),
            ("empty.json", b""),
            ("w.mp4", &video),
            ("w.mp4.json", b"{}"),
        ]);
        let (r, pack) = read_bytes(&gzip(&tar), Keep::SidecarsAndHashes);
        let pos: Vec<u64> = r.items.iter().map(|i| i.pos).collect();
        assert_eq!(pos, [0, 1, 8, 9, 10]);
        assert_eq!(pack, b"\0{\"a\":1}\0\0{}");
        // Each where its position says.
        let kept = r.items.iter().filter(|i| i.kind == TarKind::Kept);
        for (item, want) in kept.zip([&b"{\"a\":1}"[..], b"", b"{}"]) {
            let at = item.pos as usize;
            assert_eq!(&pack[at..at + item.size as usize], want, "{}", item.path);
        }
    }

    /// Reading an earlier part again for one photo keeps that photo and the sidecars, by path
    /// and size; every other file is hashed, not kept.
    #[test]
    fn a_part_read_for_a_few_files_keeps_only_them_and_the_sidecars() {
        let video = vec![7u8; 3_000_000];
        let tar = tar_of(&[
            ("v.mp4", &video),
            ("v.mp4.json", b"{\"a\":1}"),
            ("p.jpg", b"photo"),
            ("q.jpg", b"other"),
            ("w.mp4", &video[..10]),
            ("r.jpg", b"not the size wanted"),
            ("s.jpg/", b"slash"),
        ]);
        let wanted = |path: &str, size: u64| {
            [("p.jpg", 5), ("w.mp4", 10), ("r.jpg", 5), ("s.jpg", 5)].contains(&(path, size))
        };
        let (r, pack) = read_bytes(&gzip(&tar), Keep::Wanted(&wanted));
        let kinds: Vec<(&str, TarKind)> = (r.items.iter())
            .map(|i| (i.path.as_str(), i.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("v.mp4", TarKind::Hashed),
                ("v.mp4.json", TarKind::Kept),
                ("p.jpg", TarKind::Kept),
                ("q.jpg", TarKind::Hashed),
                ("w.mp4", TarKind::Kept),
                ("r.jpg", TarKind::Hashed),
                ("s.jpg/", TarKind::Kept),
            ]
        );
        assert_eq!(
            pack.len(),
            1 + 7 + 5 + 1 + 10 + 1 + 5,
            "a pack of the kept files' size"
        );
        for item in r.items.iter().filter(|i| i.kind == TarKind::Kept) {
            let at = item.pos as usize;
            let want: &[u8] = match item.path.as_str() {
                "v.mp4.json" => b"{\"a\":1}",
                "p.jpg" => b"photo",
                "s.jpg/" => b"slash",
                _ => &video[..10],
            };
            assert_eq!(&pack[at..at + item.size as usize], want, "{}", item.path);
        }
        // Nothing reads the others again: no hash of them is computed.
        assert!(r.items.iter().all(|i| i.hash.is_none()));
    }

    #[test]
    fn a_cut_stream_keeps_what_came_before_and_names_the_entry_it_cut() {
        let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let tar = tar_of(&[("one.jpg", b"1111"), ("two.jpg", &big), ("three.jpg", b"3")]);
        let gz = gzip(&tar);
        let (r, _) = read_bytes(&gz[..gz.len() / 2], Keep::All);
        assert_eq!(r.items.len(), 1);
        assert_eq!(r.items[0].path, "one.jpg");
        let d = r.damage.unwrap();
        assert_eq!(d.lost.as_deref(), Some("two.jpg"));
        assert!(d.ends_early, "{d:?}");
        // A plain tar cut inside an entry too.
        let (r, _) = read_bytes(&tar[..tar.len() / 2], Keep::All);
        assert_eq!(r.items.len(), 1);
        assert_eq!(r.damage.unwrap().lost.as_deref(), Some("two.jpg"));
    }

    #[test]
    fn a_plain_tar_cut_between_two_entries_ends_early() {
        let tar = tar_of(&[("one.jpg", b"1111"), ("two.jpg", b"2222")]);
        // Header and one data block each; then the end mark (two zero blocks) and padding.
        let (r, _) = read_bytes(&tar[..1024], Keep::All);
        assert_eq!(r.items.len(), 1);
        let d = r.damage.unwrap();
        assert!(d.ends_early && d.lost.is_none(), "{d:?}");
        let (r, _) = read_bytes(&tar[..2048], Keep::All);
        assert_eq!(r.items.len(), 2);
        assert!(r.damage.is_some_and(|d| d.ends_early));
        // With its end mark, complete; one zero block is enough (the tar crate stops there).
        for end in [2048 + 512, 2048 + 1024, tar.len()] {
            let (r, _) = read_bytes(&tar[..end], Keep::All);
            assert_eq!((r.items.len(), r.damage), (2, None), "{end}");
        }
        // A .tgz is judged by its gzip stream (its trailer checks every byte), complete here.
        let (r, _) = read_bytes(&gzip(&tar[..2048]), Keep::All);
        assert_eq!((r.items.len(), r.damage), (2, None));
    }

    #[test]
    fn a_cut_in_the_trailer_keeps_every_entry_and_says_so() {
        let tar = tar_of(&[("one.jpg", b"1111")]);
        let gz = gzip(&tar);
        let (r, _) = read_bytes(&gz[..gz.len() - 4], Keep::All);
        assert_eq!(r.items.len(), 1);
        let d = r.damage.unwrap();
        assert_eq!(d.lost, None);
        assert!(d.ends_early);
    }

    #[test]
    fn a_damaged_header_mid_stream_keeps_the_entries_before_it() {
        let mut tar = tar_of(&[("one.jpg", b"1111"), ("two.jpg", b"2222"), ("3.jpg", b"3")]);
        // The second header starts after the first's header and its one data block.
        tar[1024 + 100] ^= 0xff;
        let (r, _) = read_bytes(&gzip(&tar), Keep::All);
        assert_eq!(r.items.len(), 1);
        let d = r.damage.unwrap();
        assert!(!d.ends_early, "{d:?}");
        assert!(d.reason.contains("damaged inside"), "{}", d.reason);
    }

    #[test]
    fn a_corrupt_gzip_checksum_is_damage() {
        let tar = tar_of(&[("one.jpg", b"1111")]);
        let mut gz = gzip(&tar);
        let n = gz.len();
        gz[n - 8] ^= 0xff; // the trailer's CRC-32
        let (r, _) = read_bytes(&gz, Keep::All);
        assert!(
            r.items.is_empty(),
            "none is used: any may be the damaged one"
        );
        let d = r.damage.unwrap();
        assert!(!d.ends_early);
        assert!(d.reason.contains("checksum does not match"), "{}", d.reason);
    }

    /// A byte flipped inside a photo stored uncompressed in the gzip stream decodes without
    /// an error; the checksum at the end catches it, and the part is not used.
    #[test]
    fn a_flipped_byte_in_a_photo_is_caught_by_the_checksum() {
        let photo: Vec<u8> = (0..100_000u64).map(|i| (i * 7919 % 251) as u8).collect();
        let tar = tar_of(&[("a.jpg", &photo), ("b.jpg", b"2")]);
        let mut gz = {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
            e.write_all(&tar).unwrap();
            e.finish().unwrap()
        };
        let at = gz.len() / 2;
        gz[at] ^= 0x01;
        let (r, _) = read_bytes(&gz, Keep::All);
        assert!(r.items.is_empty(), "{:?}", r.items);
        assert!(r.damage.unwrap().reason.contains("checksum does not match"));
    }

    #[test]
    fn links_and_devices_are_listed_and_never_read() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "link.jpg", "/etc/passwd").unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Char);
        h.set_size(0);
        b.append_data(&mut h, "dev.jpg", io::empty()).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        b.append_data(&mut h, "folder/", io::empty()).unwrap();
        let tar = b.into_inner().unwrap();
        let (r, _) = read_bytes(&tar, Keep::All);
        let kinds: Vec<(&str, TarKind)> =
            r.items.iter().map(|i| (i.path.as_str(), i.kind)).collect();
        assert_eq!(
            kinds,
            [("link.jpg", TarKind::Link), ("dev.jpg", TarKind::Special)]
        );
    }

    #[test]
    fn the_bomb_rule() {
        assert_eq!(bomb(BOMB_MIN_SIZE, 1, true), None, "at the size, not above");
        assert!(bomb(BOMB_MIN_SIZE + 1, 1, true).is_some());
        let c = (BOMB_MIN_SIZE * 2).div_ceil(BOMB_MAX_RATIO);
        assert_eq!(
            bomb(BOMB_MIN_SIZE * 2, c, true),
            None,
            "at the ratio, not above"
        );
        assert!(bomb(BOMB_MIN_SIZE * 2, c - 1, true).is_some());
        // Exactly at the ratio, past the size: not a bomb.
        let c = BOMB_MIN_SIZE / BOMB_MAX_RATIO + 1;
        assert_eq!(bomb(c * BOMB_MAX_RATIO, c, true), None);
        assert!(bomb(c * BOMB_MAX_RATIO + 1, c, true).is_some());
        assert_eq!(
            bomb(u64::MAX, 1, false),
            None,
            "a plain tar inflates nothing"
        );
    }

    #[test]
    fn a_gzip_bomb_is_stopped_past_its_limit() {
        // One entry declaring far more zeros than is kept on disk before the stop: a header
        // in one gzip member, then a member of 1 MB of zeros again and again (one stream to
        // a reader of several members, as `gzip` makes them).
        let size = BOMB_MIN_SIZE * 2;
        let mut h = tar::Header::new_gnu();
        h.set_path("zeros.jpg").unwrap();
        h.set_size(size);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        let mut gz = gzip(h.as_bytes());
        let zeros = gzip(&vec![0u8; 1 << 20]);
        for _ in 0..(size >> 20) {
            gz.extend_from_slice(&zeros);
        }
        let (r, pack) = read_bytes(&gz, Keep::All);
        assert!(r.items.is_empty());
        let d = r.damage.unwrap();
        assert!(d.reason.contains("gzip bomb"), "{}", d.reason);
        assert_eq!(d.lost.as_deref(), Some("zeros.jpg"));
        assert!((pack.len() as u64) < BOMB_MIN_SIZE + (2 << 20));
    }

    #[test]
    fn a_small_file_that_compresses_well_is_no_bomb() {
        // 8 MB of zeros (1000:1), below the size from which the ratio counts.
        let size = 8u64 << 20;
        let mut h = tar::Header::new_gnu();
        h.set_path("zeros.png").unwrap();
        h.set_size(size);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        let mut gz = gzip(h.as_bytes());
        let zeros = gzip(&vec![0u8; 1 << 20]);
        // The last MB of zeros is the tar's end.
        for _ in 0..(size >> 20) + 1 {
            gz.extend_from_slice(&zeros);
        }
        let (r, _) = read_bytes(&gz, Keep::All);
        assert_eq!(r.damage, None);
        assert_eq!(r.items.len(), 1);
        assert_eq!(r.items[0].size, size);
    }

    #[test]
    fn the_staging_folder_is_made_anew_and_removed_when_dropped() {
        let base =
            std::env::temp_dir().join(format!("gpbackup-staging-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let dir = base.join("staging");
        // What an interrupted run left there is removed.
        std::fs::create_dir_all(dir.join("old")).unwrap();
        std::fs::write(dir.join("0.pack"), b"old").unwrap();
        let staging = Staging::make(StagingPlace::At(&dir)).unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        assert_eq!(staging.pack(3), dir.join("3.pack"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}: the user's alone");
        }
        std::fs::write(staging.pack(3), b"x").unwrap();
        drop(staging);
        assert!(!dir.exists());
        // A folder not there yet is made.
        let fresh = base.join("fresh");
        let staging = Staging::make(StagingPlace::At(&fresh)).unwrap();
        assert!(fresh.is_dir());
        drop(staging);
        // A folder that cannot be made is an error, not a folder elsewhere.
        assert!(Staging::make(StagingPlace::At(&base.join("no/such/staging"))).is_err());
        // A temporary one is new and goes away too.
        let t = Staging::make(StagingPlace::Temporary).unwrap();
        let p = t.pack(0);
        assert!(p.parent().unwrap().is_dir());
        assert!(p.starts_with(std::env::temp_dir()));
        drop(t);
        assert!(!p.parent().unwrap().exists());
        std::fs::remove_dir_all(&base).unwrap();
    }

    /// Bytes pushed at positions land there; small files close together are written a
    /// buffer at a time, large reads straight, far apart ones each at its place.
    #[test]
    fn the_pack_writes_each_entry_at_its_position_in_few_writes() {
        let dir = std::env::temp_dir().join(format!("gpbackup-pack-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("0.pack");
        let mut pack = Pack {
            file: File::create(&path).unwrap(),
            buf: Vec::new(),
            at: 0,
            writes: 0,
        };
        let big: Vec<u8> = (0..300_000u64).map(|i| (i % 253) as u8).collect();
        // (position, bytes): 100 small files a header apart, one far away, then a large file
        // right after a small one and one whose reads go straight to the pack.
        let mut at = 512u64;
        let mut want: Vec<(u64, Vec<u8>)> = Vec::new();
        for k in 0..100u8 {
            want.push((at, vec![k; 700]));
            at += 1024 + 512;
        }
        want.push((at + (10 << 20), b"far".to_vec()));
        at += (10 << 20) + 1024;
        want.push((at, big.clone()));
        at += 300_000 + 512;
        for (pos, bytes) in &want {
            pack.seek(*pos).unwrap();
            pack.push(bytes).unwrap();
        }
        // A read straight to the pack: nothing buffered, 64 KB or more.
        pack.flush().unwrap();
        let writes = pack.writes;
        pack.seek(at).unwrap();
        pack.push(&big).unwrap();
        assert_eq!(pack.writes, writes + 1, "straight, not buffered");
        want.push((at, big.clone()));
        pack.flush().unwrap();
        // The 100 small files in one write, the far one and the large one after it in a
        // second, the last one straight: three.
        assert_eq!(pack.writes, 3);
        let bytes = std::fs::read(&path).unwrap();
        for (pos, data) in &want {
            let pos = *pos as usize;
            assert_eq!(&bytes[pos..pos + data.len()], &data[..], "at {pos}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The progress is told every 4 MB or so, and what it is told adds up to the part's size.
    #[test]
    fn the_progress_adds_up_to_the_part() {
        let data = vec![5u8; 10 << 20];
        let tar = tar_of(&[("a.mp4", &data), ("a.mp4.json", b"{}")]);
        let told = std::sync::Mutex::new(Vec::new());
        let progress = |n: u64| told.lock().unwrap().push(n);
        let opts = TarOptions {
            progress: Some(&progress),
            ..TarOptions::default()
        };
        read_with(&tar, &opts);
        let told = told.into_inner().unwrap();
        assert_eq!(told.iter().sum::<u64>(), tar.len() as u64, "{told:?}");
        assert!(told.len() >= 2, "{told:?}");
        let (last, steps) = told.split_last().unwrap();
        assert!(steps.iter().all(|&n| n >= 4 << 20), "{told:?}");
        assert!(*last > 0, "{told:?}");
    }

    /// What follows the tar's end is read up to 1 MB (a Takeout pads a few KB): a stream of
    /// zeros after it is not inflated to its end.
    #[test]
    fn what_follows_the_end_of_the_tar_is_read_only_so_far() {
        let tar = tar_of(&[("a.jpg", b"AAAA")]);
        let mut gz = gzip(&tar);
        let zeros = gzip(&vec![0u8; 1 << 20]);
        for _ in 0..20 {
            gz.extend_from_slice(&zeros);
        }
        let told = std::sync::Mutex::new(0u64);
        let progress = |n: u64| *told.lock().unwrap() += n;
        let opts = TarOptions {
            progress: Some(&progress),
            ..TarOptions::default()
        };
        let (r, _) = read_with(&gz, &opts);
        assert_eq!(r.damage, None);
        assert_eq!(r.items.len(), 1);
        let read_bytes = told.into_inner().unwrap();
        assert!(
            read_bytes < gz.len() as u64 * 3 / 4,
            "{read_bytes} of {} bytes read",
            gz.len()
        );
    }

    /// GNU tar pads an archive to a record of 10 KB after its end: a cut or a bad checksum
    /// found while that padding is read is damage too, with every entry kept.
    #[test]
    fn damage_after_the_end_of_the_tar_keeps_every_entry() {
        let mut tar = tar_of(&[("one.jpg", b"1111")]);
        tar.resize(tar.len().div_ceil(10240) * 10240 + 10240, 0);
        let gz = gzip(&tar);
        let (r, _) = read_bytes(&gz[..gz.len() - 4], Keep::All);
        assert_eq!(r.items.len(), 1);
        let d = r.damage.unwrap();
        assert_eq!(d.lost, None);
        assert!(d.ends_early, "{d:?}");
        assert!(
            d.reason.contains("ends before its last bytes"),
            "{}",
            d.reason
        );
        let mut bad = gz.clone();
        let n = bad.len();
        bad[n - 8] ^= 0xff;
        let (r, _) = read_bytes(&bad, Keep::All);
        assert!(r.items.is_empty());
        let d = r.damage.unwrap();
        assert!(!d.ends_early, "{d:?}");
        assert!(d.reason.contains("checksum does not match"), "{}", d.reason);
    }

    /// A long name declared larger than any name (the tar crate reads it whole into memory)
    /// stops the part at 16 MB, named as damaged.
    #[test]
    fn a_huge_long_name_is_not_read_whole() {
        let size = 40u64 << 20;
        let mut h = tar::Header::new_gnu();
        h.set_path("././@LongLink").unwrap();
        h.set_size(size);
        h.set_entry_type(tar::EntryType::GNULongName);
        h.set_cksum();
        let mut tar = h.as_bytes().to_vec();
        tar.resize(tar.len() + size as usize, b'a');
        tar.extend(tar_of(&[("after.jpg", b"1")]));
        let (r, _) = read_bytes(&tar, Keep::All);
        assert!(r.items.is_empty());
        let d = r.damage.unwrap();
        assert!(!d.ends_early, "{d:?}");
        assert!(
            d.reason.contains("of headers between two files"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn the_temporary_folders_of_runs_that_are_gone_are_removed() {
        assert_eq!(orphan_pid("gpbackup-123-456"), Some(123));
        for other in [
            "gpbackup-bench",
            "gpbackup-1-x",
            "gpbackup--1-2",
            "gpbackup-0-1",
            "x-1-2",
        ] {
            assert_eq!(orphan_pid(other), None, "{other}");
        }
        #[cfg(unix)]
        {
            let temp =
                std::env::temp_dir().join(format!("gpbackup-orphans-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&temp);
            std::fs::create_dir_all(&temp).unwrap();
            // No process has an id above the kernel's limit (4,194,304 at most).
            let gone = temp.join("gpbackup-4194999-1");
            let ours = temp.join(format!("gpbackup-{}-2", std::process::id()));
            let other = temp.join("gpbackup-bench");
            for d in [&gone, &ours, &other] {
                std::fs::create_dir_all(d.join("x")).unwrap();
            }
            remove_orphans(&temp);
            assert!(!gone.exists());
            assert!(ours.exists() && other.exists());
            std::fs::remove_dir_all(&temp).unwrap();
        }
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff_bytes(&[0x1f, 0x8b, 8]), Sniffed::Gzip);
        assert_eq!(sniff_bytes(&tar_of(&[("a", b"a")])), Sniffed::Tar);
        assert_eq!(sniff_bytes(b"PK\x03\x04"), Sniffed::Other);
        assert_eq!(sniff_bytes(b""), Sniffed::Other);
    }
}
