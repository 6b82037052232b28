//! Guided mode: `gpbackup` started without arguments on a terminal (or by a double-click,
//! which opens one) asks where the Takeout is and where the library goes, shows what it
//! found, and asks before anything is written. The binary then runs `gpbackup process
//! INPUTS -o DIR` with what was chosen, as if it had been typed.
//!
//! The conversation reads lines from any `BufRead` and writes to any `Write`, so that it is
//! tested as text (here) and through a real pseudo-terminal (tests/it/guide.rs).

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use crate::library::fs::free_space;
use crate::process::policy::plain_size;
use crate::takeout::parts;

/// What the user chose: the inputs and the output folder of `gpbackup process`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub inputs: Vec<PathBuf>,
    pub output: PathBuf,
}

/// The name of the library folder offered beside the Takeout.
pub const DEFAULT_FOLDER: &str = "Google Photos library";

/// What was found where the user said the Takeout is.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Found {
    /// Takeout parts, .zip, .tgz, .tar.gz or .tar (or any such file given by name), sorted.
    pub zips: Vec<PathBuf>,
    /// An extracted Takeout folder, when no part is there.
    pub folder: Option<PathBuf>,
    /// Their total size in bytes.
    pub size: u64,
}

impl Found {
    /// The inputs to give `process`.
    pub fn inputs(&self) -> Vec<PathBuf> {
        match &self.folder {
            Some(f) => vec![f.clone()],
            None => self.zips.clone(),
        }
    }

    /// The folder holding the Takeout: where the library is offered to go.
    fn home(&self) -> Option<PathBuf> {
        match &self.folder {
            Some(f) => f.parent().map(Path::to_path_buf),
            None => self.zips.first()?.parent().map(Path::to_path_buf),
        }
    }
}

/// A path as typed or dropped on a terminal: spaces around it and quotes around it removed,
/// a shell's backslash escapes undone (Unix terminals escape a dropped path's spaces), `~`
/// for the home folder.
pub fn typed_path(line: &str) -> Option<PathBuf> {
    let mut s = line.trim();
    for q in ['\'', '"'] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            s = &s[1..s.len() - 1];
        }
    }
    let mut text = s.to_string();
    if cfg!(unix) && !(line.trim().starts_with('\'') || line.trim().starts_with('"')) {
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.extend(chars.next()),
                c => out.push(c),
            }
        }
        text = out;
    }
    if text.is_empty() {
        return None;
    }
    if let Some(rest) = text
        .strip_prefix("~/")
        .or(if text == "~" { Some("") } else { None })
    {
        if let Some(home) = std::env::var_os("HOME") {
            return Some(PathBuf::from(home).join(rest));
        }
    }
    Some(PathBuf::from(text))
}

/// What is at `path`: the zips of a folder (not its subfolders), or the zip named and the
/// other parts of its export beside it, or an extracted Takeout folder.
pub fn find(path: &Path) -> io::Result<Found> {
    let meta = std::fs::metadata(path)?;
    let mut found = Found::default();
    let is_part = |name: &str| {
        let lower = name.to_ascii_lowercase();
        [".zip", ".tgz", ".tar.gz", ".tar"]
            .iter()
            .any(|e| lower.ends_with(e))
    };
    let (dir, only_export) = if meta.is_dir() {
        (path.to_path_buf(), None)
    } else {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        match parts::part_of(&name) {
            Some((export, _, _)) => (
                path.parent().unwrap_or(Path::new(".")).to_path_buf(),
                Some(export),
            ),
            None => {
                found.zips.push(path.to_path_buf());
                found.size = meta.len();
                return Ok(found);
            }
        }
    };
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let m = match entry.metadata() {
            Ok(m) if m.is_file() => m,
            _ => continue,
        };
        if let Some(export) = &only_export {
            if parts::part_of(&name).is_none_or(|(e, _, _)| &e != export) {
                continue;
            }
        }
        if is_part(&name) {
            found.zips.push(entry.path());
            found.size += m.len();
        }
    }
    found.zips.sort();
    if found.zips.is_empty() && meta.is_dir() && is_extracted(path) {
        found.folder = Some(path.to_path_buf());
        found.size = walkdir::WalkDir::new(path)
            .into_iter()
            .filter_map(|e| e.ok()?.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum();
    }
    Ok(found)
}

/// True when `dir` looks like an extracted Takeout: a `Takeout` or `Google Photos` folder
/// in it, or it is one.
fn is_extracted(dir: &Path) -> bool {
    let named = |p: &Path| {
        p.file_name()
            .is_some_and(|n| n.eq_ignore_ascii_case("Takeout") || n == "Google Photos")
    };
    named(dir)
        || ["Takeout", "Google Photos"]
            .iter()
            .any(|n| dir.join(n).is_dir())
}

/// What was found, in plain words: the parts, the numbers missing between them, the size.
pub fn describe(found: &Found) -> String {
    let mut s = String::new();
    let n = found.zips.len();
    if let Some(f) = &found.folder {
        s.push_str(&format!(
            "Found an extracted Takeout folder, {}: {}\n",
            plain_size(found.size),
            f.display()
        ));
    } else if n > 0 {
        let first = found.zips[0].file_name().unwrap_or_default();
        let last = found.zips[n - 1].file_name().unwrap_or_default();
        let (first, last) = (first.to_string_lossy(), last.to_string_lossy());
        // "zips" when they are, "parts" when some are .tgz.
        let zip =
            if (found.zips.iter()).all(|p| p.to_string_lossy().to_lowercase().ends_with(".zip")) {
                "zip"
            } else {
                "part"
            };
        let (zips, names) = if n == 1 {
            (format!("1 {zip}"), first.to_string())
        } else {
            (format!("{n} {zip}s"), format!("{first} … {last}"))
        };
        s.push_str(&format!(
            "Found {zips}, {} in all:\n  {names}\n",
            plain_size(found.size)
        ));
        for m in parts::missing(&found.zips, &[]) {
            let numbers = m.missing.join(", ");
            let (part, its, it) = if m.missing.len() == 1 {
                ("part", "Its", "it")
            } else {
                ("parts", "Their", "them")
            };
            s.push_str(&format!(
                "Not here: {part} {numbers} of {} (parts up to {} are).\n\
                 {its} photos would be missing: download {it} from takeout.google.com into\n\
                 the same folder first, or add {it} later by running gpbackup again.\n",
                m.export, m.last_given,
            ));
        }
    }
    s
}

/// Asks `question` until an answer comes; `None` at the end of the input.
fn ask(
    input: &mut impl BufRead,
    out: &mut impl Write,
    question: &str,
) -> io::Result<Option<String>> {
    write!(out, "{question}")?;
    out.flush()?;
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        writeln!(out)?;
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\n', '\r']).to_string()))
}

/// The conversation: where the Takeout is, where the library goes, and a yes before anything
/// is written. `None` when the user says no or the input ends: nothing is to be done.
pub fn converse(input: &mut impl BufRead, out: &mut impl Write) -> io::Result<Option<Choice>> {
    converse_with(input, out, free_space)
}

/// [`converse`], with the free space at a folder told by `free` (tests).
fn converse_with(
    input: &mut impl BufRead,
    out: &mut impl Write,
    free: impl Fn(&Path) -> Option<u64>,
) -> io::Result<Option<Choice>> {
    writeln!(
        out,
        "gpbackup turns a Google Photos Takeout into a folder of photos and videos,\n\
         each with its date and place written into it.\n\
         Nothing is written before you say yes; Ctrl-C stops at any time.\n"
    )?;
    let found = loop {
        let Some(line) = ask(
            input,
            out,
            "Where is your Takeout? Type or drag here the folder holding\n\
             the takeout-….zip files (or one of them), then press Enter:\n> ",
        )?
        else {
            return Ok(None);
        };
        let Some(path) = typed_path(&line).map(absolute) else {
            continue;
        };
        match find(&path) {
            Ok(found) if found.zips.is_empty() && found.folder.is_none() => {
                write!(out, "{}", describe(&found))?;
                writeln!(
                    out,
                    "No Takeout .zip or .tgz file is in {}.\n\
                     Takeout's files are named like takeout-20240101T000000Z-001.zip.\n",
                    path.display()
                )?;
            }
            Ok(found) => break found,
            Err(e) => writeln!(
                out,
                "Cannot open {}: {}.\n",
                path.display(),
                plain_error(&e)
            )?,
        }
    };
    write!(out, "{}", describe(&found))?;
    let default = found
        .home()
        .map(|h| h.join(DEFAULT_FOLDER))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_FOLDER));
    let output = loop {
        let Some(line) = ask(
            input,
            out,
            &format!(
                "\nWhere should the library go? Type or drag a folder (it is made if\n\
                 missing), or press Enter for\n  {}\n> ",
                default.display()
            ),
        )?
        else {
            return Ok(None);
        };
        let output = typed_path(&line).map_or_else(|| default.clone(), absolute);
        if output.is_file() {
            writeln!(out, "{} is a file, not a folder.", output.display())?;
            continue;
        }
        break output;
    };
    match free(&output) {
        Some(free) => {
            writeln!(
                out,
                "Free space there: {}; the Takeout is {}, and the library needs\n\
                 about as much.",
                plain_size(free),
                plain_size(found.size)
            )?;
            if free < found.size {
                writeln!(
                    out,
                    "That may not be enough: gpbackup works out exactly what it needs\n\
                     before it writes anything, and stops then if it is short."
                )?;
            }
        }
        None => writeln!(out, "(The free space there cannot be told on this system.)")?,
    }
    let Some(answer) = ask(
        input,
        out,
        &format!("Write the library to {}? [y/N] ", output.display()),
    )?
    else {
        return Ok(None);
    };
    if !matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
        writeln!(out, "Nothing was written.")?;
        return Ok(None);
    }
    writeln!(out)?;
    Ok(Some(Choice {
        inputs: found.inputs(),
        output,
    }))
}

/// `path` from the root (as the command line printed at the end can be typed anywhere), or
/// as it is when the current folder cannot be told.
fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

/// An I/O error in plain words.
fn plain_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "there is nothing there".into(),
        io::ErrorKind::PermissionDenied => "you are not allowed to read it".into(),
        _ => e.to_string(),
    }
}

/// The command a choice stands for, for the user to type next time.
pub fn command_line(choice: &Choice) -> String {
    let quote = |p: &Path| {
        let s = p.display().to_string();
        if s.chars()
            .all(|c| c.is_alphanumeric() || "/._-~".contains(c))
        {
            s
        } else {
            format!("\"{s}\"")
        }
    };
    let mut line = String::from("gpbackup process");
    for i in &choice.inputs {
        line.push(' ');
        line.push_str(&quote(i));
    }
    line.push_str(" -o ");
    line.push_str(&quote(&choice.output));
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path, len: usize) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, vec![0u8; len]).unwrap();
    }

    #[test]
    fn typed_and_dropped_paths_are_read_as_paths() {
        for (line, path) in [
            ("  /a/b  \n", "/a/b"),
            ("'/a b/c'", "/a b/c"),
            ("\"/a b/c\"", "/a b/c"),
            (
                "C:\\Users\\me",
                if cfg!(unix) {
                    "C:Usersme"
                } else {
                    "C:\\Users\\me"
                },
            ),
            ("'C:\\Users\\me'", "C:\\Users\\me"),
        ] {
            assert_eq!(typed_path(line), Some(PathBuf::from(path)), "{line}");
        }
        if cfg!(unix) {
            assert_eq!(
                typed_path("/a\\ b/c\\(1\\)"),
                Some(PathBuf::from("/a b/c(1)"))
            );
        }
        assert_eq!(typed_path("'"), Some(PathBuf::from("'")));
        assert_eq!(typed_path("   "), None);
        assert_eq!(typed_path("''"), None);
    }

    #[test]
    fn a_folder_of_parts_is_found_with_its_gaps() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for n in [1, 2, 4] {
            touch(&d.join(format!("takeout-20240101T000000Z-00{n}.zip")), 1000);
        }
        touch(&d.join("notes.txt"), 5);
        // A folder named like a zip is not one.
        std::fs::create_dir_all(d.join("takeout-20240101T000000Z-005.zip")).unwrap();
        touch(&d.join("sub/takeout-20240101T000000Z-003.zip"), 5);
        let f = find(d).unwrap();
        assert_eq!(f.zips.len(), 3);
        assert_eq!(f.size, 3000);
        let s = describe(&f);
        assert!(
            s.contains("Found 3 zips, 3.0 KB in all:\n  takeout-20240101T000000Z-001.zip … takeout-20240101T000000Z-004.zip\n"),
            "{s}"
        );
        assert!(
            s.contains(
                "Not here: part 003 of takeout-20240101T000000Z (parts up to 004 are).\nIts photos"
            ),
            "{s}"
        );
        // One part named: the others of its export beside it, not another export's.
        touch(&d.join("takeout-20230101T000000Z-001.zip"), 7);
        let one = find(&d.join("takeout-20240101T000000Z-002.zip")).unwrap();
        assert_eq!(one.zips.len(), 3);
        assert_eq!(one.inputs(), one.zips);
        assert_eq!(one.home().as_deref(), Some(d));
    }

    #[test]
    fn an_extracted_folder_and_tgz_parts_are_found() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("export");
        touch(&d.join("Takeout/Google Photos/Photos from 2019/a.jpg"), 10);
        let f = find(&d).unwrap();
        assert_eq!(f.folder.as_deref(), Some(d.as_path()));
        assert_eq!(f.inputs(), vec![d.clone()]);
        assert_eq!(f.size, 10);
        assert!(describe(&f).starts_with("Found an extracted Takeout folder"));
        let t = tmp.path().join("tars");
        touch(&t.join("takeout-20240101T000000Z-001.tgz"), 10);
        touch(&t.join("takeout-20240101T000000Z-002.tgz"), 20);
        touch(&t.join("takeout-20240101T000000Z-003.zip"), 30);
        let f = find(&t).unwrap();
        assert_eq!(f.zips.len(), 3, "{f:?}");
        assert_eq!(f.size, 60);
        assert!(
            describe(&f).starts_with("Found 3 parts, 60 bytes in all:"),
            "{}",
            describe(&f)
        );
        // The Takeout folder itself.
        let inner = d.join("Takeout");
        assert_eq!(
            find(&inner).unwrap().folder.as_deref(),
            Some(inner.as_path())
        );
        let photos = inner.join("Google Photos");
        assert_eq!(
            find(&photos).unwrap().folder.as_deref(),
            Some(photos.as_path())
        );
        assert!(find(&tmp.path().join("nothing")).is_err());
    }

    fn talk(lines: &str) -> (Option<Choice>, String) {
        talk_free(lines, Some(1 << 40))
    }

    fn talk_free(lines: &str, free: Option<u64>) -> (Option<Choice>, String) {
        let mut out = Vec::new();
        let got =
            converse_with(&mut io::Cursor::new(lines.as_bytes()), &mut out, |_| free).unwrap();
        (got, String::from_utf8(out).unwrap())
    }

    #[test]
    fn the_free_space_is_said_and_a_shortage_foreseen() {
        let tmp = tempfile::tempdir().unwrap();
        let dl = tmp.path().join("dl");
        touch(&dl.join("takeout-20240101T000000Z-001.zip"), 2000);
        let lines = format!("{}\n\nn\n", dl.display());
        for (free, short) in [(1999, true), (2000, false), (2001, false)] {
            let (_, said) = talk_free(&lines, Some(free));
            assert!(
                said.contains(&format!(
                    "Free space there: {}; the Takeout is 2.0 KB",
                    plain_size(free)
                )),
                "{said}"
            );
            assert_eq!(
                said.contains("That may not be enough"),
                short,
                "{free}: {said}"
            );
        }
        let (_, said) = talk_free(&lines, None);
        assert!(said.contains("cannot be told on this system"), "{said}");
    }

    #[test]
    fn errors_are_said_in_plain_words() {
        use io::ErrorKind::*;
        assert_eq!(plain_error(&NotFound.into()), "there is nothing there");
        assert_eq!(
            plain_error(&PermissionDenied.into()),
            "you are not allowed to read it"
        );
    }

    #[test]
    fn the_conversation_asks_before_writing() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        touch(&d.join("dl/takeout-20240101T000000Z-001.zip"), 100);
        let dl = d.join("dl");
        // A wrong folder first, then the right one; the default library; yes.
        let (got, said) = talk(&format!(
            "{}\n{}\n\ny\n",
            d.join("none").display(),
            dl.display()
        ));
        assert!(said.contains("Cannot open"), "{said}");
        assert!(said.contains("there is nothing there"), "{said}");
        assert!(
            said.contains("Found 1 zip, 100 bytes in all:\n  takeout-20240101T000000Z-001.zip\n"),
            "{said}"
        );
        assert!(said.contains("Free space there: "), "{said}");
        let out = dl.join(DEFAULT_FOLDER);
        assert!(
            said.contains(&format!("Write the library to {}? [y/N] ", out.display())),
            "{said}"
        );
        assert_eq!(
            got,
            Some(Choice {
                inputs: vec![dl.join("takeout-20240101T000000Z-001.zip")],
                output: out,
            })
        );
        // Anything but yes writes nothing; so does the end of the input.
        for answers in ["\n\nn\n", "\n\n\n", "\n/x\n"] {
            let (got, said) = talk(&format!("{}{answers}", dl.display()));
            assert_eq!(got, None, "{answers:?}: {said}");
        }
        let (_, said) = talk(&format!("{}\n\nno\n", dl.display()));
        assert!(said.ends_with("Nothing was written.\n"), "{said}");
        // A folder without zips is said to be one.
        let (got, said) = talk(&format!("{}\n", d.display()));
        assert_eq!(got, None);
        assert!(
            said.contains("No Takeout .zip or .tgz file is in"),
            "{said}"
        );
    }

    #[test]
    fn the_command_line_of_a_choice_can_be_typed_again() {
        let c = Choice {
            inputs: vec![
                PathBuf::from("/dl/takeout-1.zip"),
                PathBuf::from("/my dl/t.zip"),
            ],
            output: PathBuf::from("/mnt/photos"),
        };
        assert_eq!(
            command_line(&c),
            "gpbackup process /dl/takeout-1.zip \"/my dl/t.zip\" -o /mnt/photos"
        );
    }
}
