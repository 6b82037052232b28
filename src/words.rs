//! Errors of the system in plain words, with what to do about them: what a person reads in
//! the summary, the report and the messages, in place of `os error 28`.

use std::io;

/// True when `err` says the disk is full (ENOSPC, error 28, as the system reports it or as
/// gpbackup's own writes word it).
pub fn disk_full(err: &io::Error) -> bool {
    err.raw_os_error() == Some(28) || err.kind() == io::ErrorKind::StorageFull
}

/// What went wrong, for the error kinds and codes a person meets (a full disk, a read-only
/// one, no permission, a failing disk, a file too large for the disk's format), in a sentence
/// that says what to do; any other error as the system words it.
pub fn io_error(err: &io::Error) -> String {
    use io::ErrorKind as K;
    let plain = match err.kind() {
        K::StorageFull => {
            "the disk is full: free some space on it, then run the same command again"
        }
        K::QuotaExceeded => {
            "your disk quota is used up: free some space, then run the same command again"
        }
        K::ReadOnlyFilesystem => {
            "the disk is read-only (write-protected, or mounted read-only): make it writable or \
             choose another output folder, then run the same command again"
        }
        K::PermissionDenied => {
            "permission denied: your user may not use this file or folder; change its \
             permissions or choose another folder, then run the same command again"
        }
        K::FileTooLarge => {
            "the file is too large for this disk's format (a FAT32 disk holds files up to \
             4 GB): write to a disk formatted as exFAT, NTFS, APFS or ext4"
        }
        K::NotFound => {
            "not found: the file or folder is gone (moved, deleted, or its disk unplugged)"
        }
        K::UnexpectedEof => {
            "the file ends early: it is damaged or was cut off (an interrupted download?)"
        }
        _ if is_io_failure(err) => {
            "the disk could not read or write its data (an input/output error): the disk, card \
             or cable may be failing; copy the file to another disk and try again"
        }
        _ => return err.to_string(),
    };
    plain.to_string()
}

/// EIO: the device failed (it has no `ErrorKind` of its own).
fn is_io_failure(err: &io::Error) -> bool {
    #[cfg(unix)]
    {
        err.raw_os_error() == Some(libc::EIO)
    }
    #[cfg(not(unix))]
    {
        let _ = err;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // (The codes are Linux's.)
    #[cfg(target_os = "linux")]
    #[test]
    fn system_errors_are_said_in_plain_words_with_what_to_do() {
        let os = io::Error::from_raw_os_error;
        let kind = io::Error::from;
        let table: Vec<(io::Error, &str)> = vec![
            (
                os(28),
                "the disk is full: free some space on it, then run the same command again",
            ),
            (kind(io::ErrorKind::StorageFull), "the disk is full"),
            (os(122), "your disk quota is used up"),
            (
                os(30),
                "the disk is read-only (write-protected, or mounted read-only)",
            ),
            (
                os(13),
                "permission denied: your user may not use this file or folder",
            ),
            (os(1), "permission denied"),
            (
                os(5),
                "the disk could not read or write its data (an input/output error)",
            ),
            (os(27), "a FAT32 disk holds files up to 4 GB"),
            (os(2), "not found: the file or folder is gone"),
            (kind(io::ErrorKind::UnexpectedEof), "the file ends early"),
            (
                io::Error::new(io::ErrorKind::InvalidData, "bad CRC-32"),
                "bad CRC-32",
            ),
        ];
        for (err, want) in table {
            let said = io_error(&err);
            assert!(said.contains(want), "{err:?}: {said}");
            assert!(!said.contains("os error"), "{said}");
        }
    }
}

/// `text` with each line broken between words to fit `width` columns (a word longer than
/// that, a path say, keeps a line of its own): a summary read in a narrow terminal is not
/// cut in the middle of words. A line's leading spaces are kept on its continuation lines.
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / width.max(1));
    for (k, line) in text.split('\n').enumerate() {
        if k > 0 {
            out.push('\n');
        }
        let indent = &line[..line.len() - line.trim_start_matches(' ').len()];
        let mut col = 0;
        for word in line[indent.len()..].split(' ') {
            let w = word.chars().count();
            if col == 0 {
                out.push_str(indent);
                col = indent.chars().count();
            } else if col + 1 + w > width {
                out.push('\n');
                out.push_str(indent);
                col = indent.chars().count();
            } else {
                out.push(' ');
                col += 1;
            }
            out.push_str(word);
            col += w;
        }
    }
    out
}

/// The width of the terminal on stderr, when it is one.
pub fn stderr_width() -> Option<usize> {
    terminal_size::terminal_size_of(std::io::stderr()).map(|(w, _)| usize::from(w.0))
}

/// `text` wrapped to the terminal on stderr (see [`wrap`]), as it is when that is not one.
pub fn for_stderr(text: &str) -> String {
    match stderr_width() {
        Some(width) if width >= 20 => wrap(text, width),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod wrap_tests {
    use super::wrap;

    #[test]
    fn lines_break_between_words() {
        for (text, width, want) in [
            ("a bb ccc", 4, "a bb\nccc"),
            ("a bb ccc", 8, "a bb ccc"),
            ("a bb ccc", 7, "a bb\nccc"),
            // A word longer than the line keeps a line of its own.
            (
                "see /a/very/long/path now",
                6,
                "see\n/a/very/long/path\nnow",
            ),
            // Lines stay lines; an empty one too.
            ("one\n\ntwo three", 5, "one\n\ntwo\nthree"),
            // Continuation lines keep the line's indent.
            ("  failed: x y z", 11, "  failed: x\n  y z"),
            ("", 10, ""),
            ("wörd wörd", 4, "wörd\nwörd"),
        ] {
            assert_eq!(wrap(text, width), want, "{text:?} at {width}");
        }
    }
}
