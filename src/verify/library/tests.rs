use super::*;
use crate::library::manifest::{Line, SourceKey};

fn line(hash: &str, path: &str, entry: &str, crc: Option<u32>) -> Line {
    Line {
        hash: hash.into(),
        path: path.into(),
        output_hash: Some(format!("{:032x}", hash_id(hash) ^ 1)),
        output_size: Some(3),
        taken: Some(0),
        sources: vec![SourceKey {
            entry: entry.into(),
            size: 3,
            crc32: crc,
        }],
        ..Line::default()
    }
}

#[test]
fn a_file_looked_up_in_its_folder_has_the_metadata_of_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.jpg"), b"12345").unwrap();
    let old = filetime::FileTime::from_unix_time(1_262_304_000, 0);
    filetime::set_file_mtime(d.join("a.jpg"), old).unwrap();
    std::fs::write(d.join("b c.jpg"), b"").unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(d.join("a.jpg"), d.join("link.jpg")).unwrap();
    let folder = Folder::open(d).unwrap();
    let a = folder.meta("a.jpg").unwrap();
    assert_eq!(
        a,
        Meta {
            is_file: true,
            len: 5,
            mtime: 1_262_304_000
        }
    );
    for name in ["a.jpg", "b c.jpg", "sub", "link.jpg"] {
        let Ok(by_path) = std::fs::symlink_metadata(d.join(name)) else {
            continue;
        };
        assert_eq!(folder.meta(name).unwrap(), Meta::of(&by_path), "{name}");
    }
    // A link is not followed, a folder is not a file.
    #[cfg(unix)]
    assert!(!folder.meta("link.jpg").unwrap().is_file);
    assert!(!folder.meta("sub").unwrap().is_file);
    let gone = folder.meta("gone.jpg").unwrap_err();
    assert_eq!(gone.kind(), io::ErrorKind::NotFound);
    assert_ne!(
        folder.meta("a\0b").unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    assert!(Folder::open(&d.join("missing")).is_none());
    // A file, or a FIFO, where the folder should be: none (and no wait on the FIFO).
    assert!(Folder::open(&d.join("a.jpg")).is_none());
    #[cfg(unix)]
    {
        let fifo =
            std::ffi::CString::new(d.join("fifo").into_os_string().into_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(Folder::open(&d.join("fifo")).is_none());
    }
}

fn entry(path: &str, crc32: Option<u32>) -> Entry {
    let file = crate::takeout::Locator::File { symlink: false };
    Entry::new(0, file, path, 3, crc32)
}

fn load(lines: &[String]) -> Library {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(STATE_DIR);
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join(FILE_NAME), lines.join("\n") + "\n").unwrap();
    load_library(dir.path()).unwrap()
}

const A: &str = "0123456789abcdef0123456789abcdef";
const B: &str = "fedcba9876543210fedcba9876543210";

#[test]
fn lines_are_read_once_in_order_with_retractions_and_unwritten_records() {
    let json = |l: &Line| serde_json::to_string(l).unwrap();
    let mut retract = line(B, "b.jpg", "T/b.jpg", Some(2));
    retract.retracted = true;
    retract.sources.clear();
    let unwritten = serde_json::json!({"unwritten": {
        "source": {"entry": "T/c.jpg", "size": 3, "crc32": 3},
        "status": "failed", "reason": "broken"}})
    .to_string();
    let sidecar = r#"{"sidecar": {"source": {"entry": "T/a.jpg.json", "size": 9}}}"#;
    let lib = load(&[
        json(&line(A, "a.jpg", "T/a.jpg", Some(1))),
        sidecar.to_string(),
        json(&line(B, "b.jpg", "T/b.jpg", Some(2))),
        unwritten,
        json(&retract),
        json(&line(A, "../out.jpg", "T/x.jpg", Some(4))),
        "{\"hash\": \"torn".to_string(),
    ]);
    assert_eq!(lib.files.len(), 1);
    assert_eq!(lib.path(0), "a.jpg");
    assert_eq!(lib.file_of_source(&entry("T/a.jpg", Some(1))), Some(0));
    // The same content named by another entry (a duplicate) is there too.
    assert_eq!(lib.file_of_source(&entry("T/x.jpg", Some(4))), Some(0));
    // Retracted: its entry is not in the library.
    assert_eq!(lib.file_of_source(&entry("T/b.jpg", Some(2))), None);
    assert_eq!(lib.file_of_source(&entry("T/a.jpg", Some(9))), None);
    // An extracted folder's entry (no CRC-32) by name and size.
    assert_eq!(lib.file_of_source(&entry("T/a.jpg", None)), Some(0));
    assert_eq!(lib.invalid, vec!["../out.jpg".to_string()]);
    let u = lib.unwritten_of(&entry("T/c.jpg", Some(3))).unwrap();
    assert_eq!((u.status.as_str(), u.reason.as_str()), ("failed", "broken"));
    assert!(lib.unwritten_of(&entry("T/a.jpg", Some(1))).is_none());
}

#[test]
fn an_entry_recorded_again_with_content_now_gone_keeps_its_file() {
    let json = |l: &Line| serde_json::to_string(l).unwrap();
    // The entry is written as A, then a later line names it with B whose file was
    // retracted: the entry is still A's file.
    let mut retract = line(B, "b.jpg", "T/a.jpg", Some(1));
    retract.retracted = true;
    let lib = load(&[
        json(&line(A, "a.jpg", "T/a.jpg", Some(1))),
        json(&line(B, "b.jpg", "T/a.jpg", Some(1))),
        json(&retract),
    ]);
    assert_eq!(lib.file_of_source(&entry("T/a.jpg", Some(1))), Some(0));
    assert_eq!(lib.path(0), "a.jpg");
}

#[test]
fn a_manifest_larger_than_the_read_buffer_is_read_whole() {
    // Lines across buffer boundaries, one of them longer than the buffer.
    let json = |l: &Line| serde_json::to_string(l).unwrap();
    let n = BLOCK / 150 + 1000;
    let mut lines: Vec<String> = (0..n)
        .map(|i| {
            let h = format!("{i:032x}");
            json(&line(
                &h,
                &format!("{i}.jpg"),
                &format!("T/{i}.jpg"),
                Some(i as u32),
            ))
        })
        .collect();
    let mut long = line(A, "long.jpg", "T/long.jpg", Some(7));
    long.albums = vec!["x".repeat(BLOCK + 10)];
    lines.insert(n / 2, json(&long));
    let lib = load(&lines);
    assert_eq!(lib.files.len(), n + 1);
    for i in [0, n / 2, n - 1] {
        let e = entry(&format!("T/{i}.jpg"), Some(i as u32));
        let f = lib.file_of_source(&e).unwrap();
        assert_eq!(lib.path(f), format!("{i}.jpg"));
    }
    assert!(lib.file_of_source(&entry("T/long.jpg", Some(7))).is_some());
}

/// A reader that gives at most 5 bytes a read.
struct Trickle<'a>(&'a [u8]);

impl io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(5).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn lines_are_parsed_a_block_at_a_time_and_applied_in_order() {
    let json = |l: &Line| serde_json::to_string(l).unwrap();
    let mut text = String::new();
    let mut want = Vec::new();
    for i in 0..40u32 {
        let mut l = line(&format!("{i:032x}"), &format!("{i}.jpg"), "e", Some(i));
        if i == 17 {
            l.albums = vec!["y".repeat(300)]; // longer than a block
        }
        text += &json(&l);
        want.push(i);
        text += if i == 9 { "\n\n" } else { "\n" };
        if i == 30 {
            text += "{\"sidecar\":{}}\n";
        }
    }
    text.pop(); // the last line without its newline
    for block in [64, 100, 4096] {
        let mut got = Vec::new();
        let mut others = 0;
        each_parsed(Trickle(text.as_bytes()), block, |p| match p {
            Parsed::File { taken, hash, .. } => {
                assert_eq!(taken, Some(0));
                got.push(hash);
            }
            _ => others += 1,
        })
        .unwrap();
        let want: Vec<u128> = want.iter().map(|i| hash_id(&format!("{i:032x}"))).collect();
        assert_eq!(got, want, "block {block}");
        assert_eq!(others, 1);
    }
    // A line far longer than a block is read in blocks that double (a few reads, not
    // one per block's worth).
    let mut long = line(A, "long.jpg", "e", Some(1));
    long.albums = vec!["z".repeat(1 << 20)];
    let text = json(&long) + "\n";
    let mut n = 0;
    each_parsed(text.as_bytes(), 64, |_| n += 1).unwrap();
    assert_eq!(n, 1);
}

/// A library in `dir` of the files `(path, content)`, written with `taken` as their
/// time, and its manifest.
fn library_with(dir: &Path, files: &[(&str, &[u8])]) -> Library {
    let taken = 1_500_000_000;
    let mut lines = Vec::new();
    for (i, (path, content)) in files.iter().enumerate() {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, content).unwrap();
        filetime::set_file_mtime(&file, filetime::FileTime::from_unix_time(taken, 0)).unwrap();
        let (h, _) = crate::hash::hash_stream(*content).unwrap();
        let l = Line {
            hash: format!("{i:032x}"),
            path: path.to_string(),
            output_hash: Some(crate::hash::hex(h)),
            output_size: Some(content.len() as u64),
            taken: Some(taken),
            ..Line::default()
        };
        lines.push(serde_json::to_string(&l).unwrap());
    }
    let state = dir.join(STATE_DIR);
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join(FILE_NAME), lines.join("\n") + "\n").unwrap();
    load_library(dir).unwrap()
}

#[test]
fn every_way_of_checking_finds_deleted_and_changed_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let files: Vec<(String, Vec<u8>)> = (0..40)
        .map(|i| {
            let folder = ["", "2019/07/", "2019/08/", "albums/Paris/"][i % 4];
            (format!("{folder}IMG_{i}.jpg"), vec![i as u8; 100 + i])
        })
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect();
    let lib = library_with(root, &refs);
    let file = |k: usize| root.join(&files[k].0);
    // Deleted.
    std::fs::remove_file(file(1)).unwrap();
    std::fs::remove_file(file(6)).unwrap();
    // One byte more.
    std::fs::write(file(2), [files[2].1.clone(), vec![0]].concat()).unwrap();
    // Same size, another byte, its time kept (the content is not compared)...
    let mut bytes = files[3].1.clone();
    bytes[0] ^= 1;
    std::fs::write(file(3), &bytes).unwrap();
    let mtime = filetime::FileTime::from_unix_time(1_500_000_000, 0);
    filetime::set_file_mtime(file(3), mtime).unwrap();
    // ... and with a new time (compared: changed).
    let mut bytes = files[5].1.clone();
    bytes[7] ^= 1;
    std::fs::write(file(5), &bytes).unwrap();
    // A new time only (compared: intact).
    filetime::set_file_mtime(file(9), filetime::FileTime::from_unix_time(7, 0)).unwrap();
    // A folder where the file was, and a link to another file.
    std::fs::remove_file(file(10)).unwrap();
    std::fs::create_dir(file(10)).unwrap();
    #[cfg(unix)]
    {
        std::fs::remove_file(file(11)).unwrap();
        std::os::unix::fs::symlink(file(15), file(11)).unwrap();
    }
    let mut want: Vec<FileState> = vec![FileState::Intact; files.len()];
    for k in [1, 6, 10] {
        want[k] = FileState::Missing;
    }
    #[cfg(unix)]
    {
        want[11] = FileState::Missing;
    }
    want[2] = FileState::Changed;
    want[5] = FileState::Changed;
    // Files are numbered by their manifest line here.
    assert!((0..files.len()).all(|k| lib.path(k) == files[k].0));
    let all: Vec<usize> = (0..files.len()).collect();
    let by_path: Vec<FileState> = all.iter().map(|&f| lib.check(root, f, false)).collect();
    assert_eq!(by_path, want);
    let mut listed = lib.check_listed(root, &all);
    listed.sort_by_key(|(f, _)| *f);
    assert_eq!(listed.iter().map(|(_, s)| *s).collect::<Vec<_>>(), want);
    let ahead = lib.check_ahead(root, || true);
    for (k, state) in ahead.iter().enumerate() {
        // Settled from the metadata, or left for a content comparison.
        match k {
            5 | 9 => assert_eq!(*state, None, "{k}"),
            _ => assert_eq!(*state, Some(want[k]), "{k}"),
        }
    }
    // Full: every byte compared (3 is changed after all).
    want[3] = FileState::Changed;
    let full: Vec<FileState> = all.iter().map(|&f| lib.check(root, f, true)).collect();
    assert_eq!(full, want);
    // A subset, from the listings of their folders only.
    let some = [1, 2, 4, 8, 9];
    let mut listed = lib.check_listed(root, &some);
    listed.sort_by_key(|(f, _)| *f);
    let got: Vec<(usize, FileState)> = listed;
    let want_some: Vec<(usize, FileState)> = some
        .iter()
        .map(|&f| {
            (
                f,
                if f == 2 {
                    FileState::Changed
                } else if f == 1 {
                    FileState::Missing
                } else {
                    FileState::Intact
                },
            )
        })
        .collect();
    assert_eq!(got, want_some);
    // A folder gone: each of its files is missing.
    std::fs::remove_dir_all(root.join("albums/Paris")).unwrap();
    let mut listed = lib.check_listed(root, &[7, 0, 3]);
    listed.sort_by_key(|(f, _)| *f);
    let want_gone = [
        (0, FileState::Intact),
        (3, FileState::Missing),
        (7, FileState::Missing),
    ];
    assert_eq!(listed, want_gone);
}

#[test]
fn checking_ahead_stops_when_no_longer_busy() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<(String, Vec<u8>)> =
        (0..10).map(|i| (format!("{i}.jpg"), vec![1; 10])).collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect();
    let lib = library_with(dir.path(), &refs);
    let calls = std::cell::Cell::new(0);
    let ahead = lib.check_ahead(dir.path(), || {
        calls.set(calls.get() + 1);
        calls.get() <= 3
    });
    assert_eq!(ahead.iter().filter(|s| s.is_some()).count(), 3);
    assert!(ahead[..3].iter().all(|s| *s == Some(FileState::Intact)));
    assert!(lib
        .check_ahead(dir.path(), || false)
        .iter()
        .all(Option::is_none));
}
