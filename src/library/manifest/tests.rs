use super::*;

/// The manifest as the tests open and inspect it.
impl Manifest {
    /// Loads `state_dir/manifest.jsonl` (if any) and opens it for appending (unless `dry_run`).
    /// Lines whose file is gone from `root` are ignored.
    pub fn open(root: &Path, state_dir: &Path, dry_run: bool) -> io::Result<Manifest> {
        Self::open_with(state_dir, dry_run, |p| root.join(p).is_file())
    }

    /// Like `open`, with `exists` telling whether an output path holds a file (the output
    /// folder's own listing: no disk access per line).
    pub fn open_with(
        state_dir: &Path,
        dry_run: bool,
        exists: impl Fn(&str) -> bool,
    ) -> io::Result<Manifest> {
        Ok(Self::load(state_dir, dry_run, exists, |_| false)?.0)
    }

    /// (content hash, output path) of every file the folder holds.
    pub fn entries(&self) -> impl Iterator<Item = (u128, &str)> {
        self.by_hash.iter().map(|(h, at)| (h, self.paths.get(at)))
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

/// Reads what earlier runs left to complete from the manifest in `state_dir` (every
/// sidecar record whole). `exists` tells whether an output path holds a file: a bare file
/// that is gone is not remembered.
pub fn remembered(state_dir: &Path, exists: impl Fn(&str) -> bool) -> io::Result<Remembered> {
    Ok(Manifest::load(state_dir, true, exists, |_| true)?.1)
}

/// How many of the manifest's lines in `state_dir` read as a file's line.
fn file_lines(state_dir: &Path) -> usize {
    let mut n = 0;
    let f = open_to_read(state_dir).unwrap().unwrap();
    each_line(f, |text| {
        n += usize::from(Kind::of(text) == Kind::File && LineView::parse(text).is_some());
    })
    .unwrap();
    n
}

#[test]
fn an_unreadable_manifest_is_an_error_not_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        current_outputs(dir.path()).unwrap().0.is_empty(),
        "none yet: empty"
    );
    // Something that is not a regular file where the manifest belongs: taking it as
    // empty would make the next run write every photo again.
    std::fs::create_dir(dir.path().join(FILE_NAME)).unwrap();
    assert!(current_outputs(dir.path()).is_err());
}

#[test]
fn an_unreadable_manifest_is_an_error_for_a_run_too() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".gpbackup");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(dir.path().join("elsewhere.jsonl"), b"").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path().join("elsewhere.jsonl"), state.join(FILE_NAME)).unwrap();
    assert!(
        Manifest::open(dir.path(), &state, true).is_err(),
        "a link is not followed"
    );
    assert!(remembered(&state, |_| true).is_err());
}

#[test]
fn content_hashes_and_entries_as_numbers() {
    let n: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
    assert_eq!(
        hash_id(&format!("{n:032x}")),
        n,
        "the content hash the writer computes"
    );
    assert_ne!(hash_id("ab"), 0xab, "a short hex text is no content hash");
    assert_eq!(hash_id("h1"), hash_id("h1"));
    assert_ne!(hash_id("h1"), hash_id("h2"));
    let a = source_id("T/x/a.jpg", 1, Some(7));
    for other in [
        source_id("T/x/b.jpg", 1, Some(7)),
        source_id("T/x/a.jpg", 2, Some(7)),
        source_id("T/x/a.jpg", 1, Some(8)),
        source_id("T/x/a.jpg", 1, None),
    ] {
        assert_ne!(a, other);
    }
    let key = SourceKey {
        entry: "T/x/a.jpg".into(),
        size: 1,
        crc32: Some(7),
    };
    assert_eq!(key.id(), a);
}

#[test]
fn entries_retractions_and_albums_as_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".gpbackup");
    std::fs::create_dir_all(&state).unwrap();
    for p in ["a.jpg", "b.jpg", "c.jpg"] {
        std::fs::write(dir.path().join(p), b"x").unwrap();
    }
    let key = |e: &str| SourceKey {
        entry: e.into(),
        size: 1,
        crc32: Some(1),
    };
    let line = |hash: &str, path: &str, source: &str| Line {
        hash: hash.into(),
        path: path.into(),
        output_hash: Some(format!("o-{hash}")),
        sources: vec![key(source)],
        ..Line::default()
    };
    {
        let m = Manifest::open(dir.path(), &state, false).unwrap();
        m.append(&line("h1", "a.jpg", "T/a.jpg")).unwrap();
        m.append(&line("h2", "b.jpg", "T/b.jpg")).unwrap();
        // Another photo's retraction at a.jpg leaves h1's record alone.
        m.append(&Line {
            retracted: true,
            ..line("h9", "a.jpg", "T/z.jpg")
        })
        .unwrap();
        // h2's own retraction removes it.
        m.append(&Line {
            retracted: true,
            ..line("h2", "b.jpg", "T/b.jpg")
        })
        .unwrap();
        // A duplicate of h1 in an album.
        m.append(&Line {
            output_hash: None,
            albums: vec!["Trip".into()],
            ..line("h1", "a.jpg", "T/Trip/a.jpg")
        })
        .unwrap();
        m.append(&line("h3", "c.jpg", "T/c.jpg")).unwrap();
    }
    let m = Manifest::open(dir.path(), &state, true).unwrap();
    assert_eq!(m.path_for_id(hash_id("h1")), Some("a.jpg"));
    assert_eq!(m.path_for_id(hash_id("h2")), None);
    assert_eq!(m.path_for_id(hash_id("h3")), Some("c.jpg"));
    assert_eq!(m.path_for_source(key("T/a.jpg").id()), Some("a.jpg"));
    assert_eq!(m.path_for_source(key("T/Trip/a.jpg").id()), Some("a.jpg"));
    assert_eq!(m.path_for_source(key("T/c.jpg").id()), Some("c.jpg"));
    assert_eq!(m.path_for_source(key("T/b.jpg").id()), None);
    assert_eq!(m.path_for_source(key("T/z.jpg").id()), None);
    assert_eq!(m.len(), 2);
    let mut entries: Vec<(u128, &str)> = m.entries().collect();
    entries.sort_unstable_by_key(|e| e.1);
    assert_eq!(
        entries,
        [(hash_id("h1"), "a.jpg"), (hash_id("h3"), "c.jpg")]
    );
    assert_eq!(m.path_for_id(hash_id("h3")), Some("c.jpg"));
    assert_eq!(
        m.albums().get("Trip").map(|s| s.iter().collect::<Vec<_>>()),
        Some(vec![&"a.jpg".to_string()])
    );
}

#[test]
fn duplicates_without_a_sidecar_wait_for_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".gpbackup");
    std::fs::create_dir_all(&state).unwrap();
    for p in ["full.jpg", "bare.jpg"] {
        std::fs::write(dir.path().join(p), b"x").unwrap();
    }
    let key = |e: &str| SourceKey {
        entry: e.into(),
        size: 1,
        crc32: Some(1),
    };
    let written = |hash: &str, path: &str, no_sidecar: bool| Line {
        hash: hash.into(),
        path: path.into(),
        output_hash: Some(format!("o-{hash}")),
        sources: vec![key(&format!("T/{path}"))],
        no_sidecar,
        ..Line::default()
    };
    let dup = |hash: &str, entry: &str| Line {
        hash: hash.into(),
        path: "x".into(),
        sources: vec![key(entry)],
        no_sidecar: true,
        ..Line::default()
    };
    {
        let m = Manifest::open(dir.path(), &state, false).unwrap();
        m.append(&written("hf", "full.jpg", false)).unwrap();
        m.append(&written("hb", "bare.jpg", true)).unwrap();
        m.append(&dup("hf", "T/album/full.jpg")).unwrap();
        m.append(&dup("hf", "T/album/full.jpg")).unwrap();
        m.append(&dup("hb", "T/album/bare.jpg")).unwrap();
        m.append(&dup("gone", "T/album/gone.jpg")).unwrap();
        m.append(&Line {
            no_sidecar: false,
            ..dup("hf", "T/other/full.jpg")
        })
        .unwrap();
    }
    let r = remembered(&state, |p| dir.path().join(p).is_file()).unwrap();
    assert_eq!(
        r.waiting,
        [key("T/album/full.jpg")],
        "once, of a file there with its metadata"
    );
    assert_eq!(r.open_files.len(), 1);
    assert_eq!(
        r.open_files[0].sources,
        [key("T/bare.jpg"), key("T/album/bare.jpg")],
        "every entry of the bare file"
    );
}

#[test]
fn round_trip_torn_lines_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".gpbackup");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(dir.path().join("a.jpg"), b"a").unwrap();
    let key = SourceKey {
        entry: "Takeout/x/a.jpg".into(),
        size: 1,
        crc32: Some(7),
    };
    {
        let m = Manifest::open(dir.path(), &state, false).unwrap();
        assert!(m.is_empty());
        m.append(&Line {
            hash: "h1".into(),
            path: "a.jpg".into(),
            output_hash: Some("o1".into()),
            sources: vec![key.clone()],
            ..Line::default()
        })
        .unwrap();
        m.append(&Line {
            hash: "h2".into(),
            path: "gone.jpg".into(),
            output_hash: Some("o2".into()),
            ..Line::default()
        })
        .unwrap();
        m.sync().unwrap();
    }
    let mut f = OpenOptions::new()
        .append(true)
        .open(state.join(FILE_NAME))
        .unwrap();
    f.write_all(b"{\"hash\":\"h3\",\"pa").unwrap();
    {
        // Appending after a torn line starts a new line.
        let m = Manifest::open(dir.path(), &state, false).unwrap();
        let mut l = Line {
            hash: "h1".into(),
            path: "a.jpg".into(),
            ..Line::default()
        };
        l.albums = vec!["Paris".into()];
        m.append(&l).unwrap();
    }
    let m = Manifest::open(dir.path(), &state, true).unwrap();
    assert_eq!(
        file_lines(&state),
        3,
        "torn line skipped, the rest readable"
    );
    assert_eq!(m.albums()["Paris"].iter().collect::<Vec<_>>(), ["a.jpg"]);
    assert_eq!(m.path_for_id(hash_id("h1")), Some("a.jpg"));
    assert_eq!(m.path_for_id(hash_id("h2")), None, "its file is missing");
    assert_eq!(m.path_for_source(key.id()), Some("a.jpg"));
    assert_eq!(m.len(), 1);
}

#[test]
fn a_path_line_is_48_bytes() {
    // One per manifest line that writes or takes back a file, all held until the current
    // ones are known.
    assert_eq!(std::mem::size_of::<PathLine>(), 48);
}

#[test]
fn a_retraction_removes_only_its_own_line() {
    let line = |hash: &str, path: &str, retracted: bool| Line {
        hash: hash.into(),
        path: path.into(),
        output_hash: Some(format!("o{hash}")),
        retracted,
        ..Line::default()
    };
    // Another photo's line for the same path, then a retraction of a different photo.
    let lines = vec![
        line("h1", "a.jpg", false),
        line("h2", "a.jpg", true),
        line("h3", "b.jpg", false),
        line("h3", "b.jpg", true),
    ];
    let mut path_lines = PathLines::default();
    for (n, l) in (0..).zip(&lines) {
        if l.retracted {
            path_lines.retract(&l.path, hash_id(&l.hash));
        } else {
            path_lines.write(&l.path, hash_id(&l.hash), n, l.output_size);
        }
    }
    let (current, text) = path_lines.current();
    let current: HashMap<&str, u32> = current.iter().map(|c| (c.path(&text), c.line)).collect();
    assert_eq!(current.get("a.jpg"), Some(&0), "h1's record survives");
    assert_eq!(current.get("b.jpg"), None, "h3's own line is retracted");
    assert_eq!(current.len(), 1);
}

#[test]
fn current_outputs_are_the_current_line_of_each_path() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".gpbackup");
    std::fs::create_dir_all(&state).unwrap();
    let hex = |n: u128| format!("{n:032x}");
    let line = |h: u128, path: &str, size: Option<u64>, retracted: bool| Line {
        hash: hex(h),
        path: path.into(),
        output_hash: Some(hex(h + 100)),
        output_size: size,
        retracted,
        ..Line::default()
    };
    let lines = vec![
        line(1, "a.jpg", Some(10), false),
        line(2, "a.jpg", Some(20), true), // another photo's retraction: a.jpg stays 1
        line(3, "b.jpg", Some(30), false),
        line(3, "b.jpg", Some(30), true), // its own: b.jpg holds nothing
        line(4, "c.jpg", Some(40), false),
        line(5, "c.jpg", Some(50), false), // written again: the later line
        Line {
            xmp: Some("d.jpg.xmp".into()),
            ..line(6, "d.jpg", None, false) // an old line: no size, presence only
        },
        Line {
            output_hash: None, // a duplicate's line: no file of its own
            ..line(7, "e.jpg", Some(70), false)
        },
        line(8, "f.jpg", Some(80), true),  // a retraction of nothing
        line(3, "b.jpg", Some(31), false), // b.jpg written again after its retraction
    ];
    let mut text = String::new();
    for (k, l) in lines.iter().enumerate() {
        text.push_str(&serde_json::to_string(l).unwrap());
        text.push('\n');
        if k == 3 {
            text.push_str("{\"sidecar\":{\"source\":{\"entry\":\"x.json\",\"size\":1}}}\n");
            text.push_str("not json\n");
        }
    }
    std::fs::write(state.join(FILE_NAME), text).unwrap();
    let (got, unfinished) = current_outputs(&state).unwrap();
    assert!(unfinished.is_empty());
    let paths: Vec<&str> = got.iter().map(|o| o.path.as_str()).collect();
    assert_eq!(paths, ["a.jpg", "c.jpg", "d.jpg", "b.jpg"], "in line order");
    let output = |path: &str, content, xmp: Option<&str>| Output {
        path: path.into(),
        content,
        xmp: xmp.map(Into::into),
    };
    assert_eq!(
        got,
        [
            output("a.jpg", Some((101, 10)), None),
            output("c.jpg", Some((105, 50)), None),
            output("d.jpg", None, Some("d.jpg.xmp")),
            output("b.jpg", Some((103, 31)), None),
        ]
    );
    assert!(
        current_outputs(dir.path()).unwrap().0.is_empty(),
        "no manifest"
    );
}

#[test]
fn new_line_kinds_are_skipped_by_old_readers_and_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".gpbackup");
    std::fs::create_dir_all(&state).unwrap();
    let key = |e: &str| SourceKey {
        entry: e.into(),
        size: 1,
        crc32: Some(1),
    };
    let stored = StoredSidecar {
        title: Some("b.jpg".into()),
        taken: Some(-1_000),
        geo: Some((
            "0.30000000000000004".into(),
            "-122.4194155".into(),
            Some("1e-7".into()),
        )),
        people: vec!["Ann".into()],
        favorited: true,
        ..StoredSidecar::default()
    };
    // A line of an older version (no `no_sidecar`), then the new kinds.
    let old = r#"{"hash":"h0","path":"old.jpg","output_hash":"h0","output_size":1}"#;
    std::fs::write(state.join(FILE_NAME), format!("{old}\n")).unwrap();
    for p in ["old.jpg", "a.jpg"] {
        std::fs::write(dir.path().join(p), b"x").unwrap();
    }
    {
        let m = Manifest::open(dir.path(), &state, false).unwrap();
        let bare = Line {
            hash: "h1".into(),
            path: "a.jpg".into(),
            output_hash: Some("h1".into()),
            sources: vec![key("T/x/a.jpg")],
            no_sidecar: true,
            ..Line::default()
        };
        m.append(&bare).unwrap();
        let dup = Line {
            hash: "h1".into(),
            path: "a.jpg".into(),
            sources: vec![key("T/album/a.jpg")],
            ..Line::default()
        };
        m.append(&dup).unwrap();
        let record = |claimed| SidecarRecord {
            source: key("T/x/b.jpg.json"),
            from: "z.zip:T/x/b.jpg.json".into(),
            export: Some(20240101000000),
            data: stored.clone(),
            claimed,
        };
        m.append_sidecars(&[record(false)]).unwrap();
        m.append_sidecars(&[record(true)]).unwrap();
        m.append_unwritten(&Unwritten {
            source: key("T/x/c.jpg"),
            status: "failed".into(),
            reason: "corrupt".into(),
        })
        .unwrap();
    }
    let text = std::fs::read_to_string(state.join(FILE_NAME)).unwrap();
    assert!(text
        .lines()
        .any(|l| l.starts_with(r#"{"unwritten":{"source""#)));
    let old_reader = |l: &str| serde_json::from_str::<Line>(l).is_ok();
    assert_eq!(
        text.lines().filter(|l| old_reader(l)).count(),
        3,
        "only the file lines"
    );
    assert_eq!(file_lines(&state), 3);
    let m = Manifest::open(dir.path(), &state, true).unwrap();
    assert_eq!(m.len(), 2);
    let r = remembered(&state, |p| dir.path().join(p).is_file()).unwrap();
    assert_eq!(r.open_files.len(), 1, "the old line has no no_sidecar");
    assert_eq!(r.open_files[0].line.path, "a.jpg");
    assert_eq!(
        r.open_files[0].sources,
        [key("T/x/a.jpg"), key("T/album/a.jpg")]
    );
    assert_eq!(r.sidecars.len(), 1, "the later record supersedes");
    assert!(r.sidecars[0].claimed);
    assert_eq!(r.sidecars[0].data, stored, "read back as written");
    // A bare file that is gone is not remembered.
    std::fs::remove_file(dir.path().join("a.jpg")).unwrap();
    let r = remembered(&state, |p| dir.path().join(p).is_file()).unwrap();
    assert!(r.open_files.is_empty());
}

#[test]
fn album_parts_and_removed_files_as_later_runs_read_them() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".gpbackup");
    std::fs::create_dir_all(&state).unwrap();
    let record = |folder: &str, title: &str| AlbumRecord {
        folder: folder.into(),
        title: title.into(),
        description: None,
    };
    let source = |entry: &str| SourceKey {
        entry: entry.into(),
        size: 1,
        crc32: Some(1),
    };
    let file = |hash: &str, path: &str, entry: &str| Line {
        hash: hash.into(),
        path: path.into(),
        output_hash: Some(hash.into()),
        output_size: Some(1),
        sources: vec![source(entry)],
        ..Line::default()
    };
    for p in ["kept.jpg", "also.jpg"] {
        std::fs::write(dir.path().join(p), b"x").unwrap();
    }
    {
        let m = Manifest::open(dir.path(), &state, false).unwrap();
        m.append(&file("h1", "kept.jpg", "T/Rome 2019/a.jpg"))
            .unwrap();
        m.append(&file("h2", "gone.jpg", "T/Rome 2019/b.jpg"))
            .unwrap();
        // The same content at another path that is there: not removed.
        m.append(&file("h3", "gone too.jpg", "T/x/c.jpg")).unwrap();
        m.append(&file("h3", "also.jpg", "T/y/c.jpg")).unwrap();
        m.append_albums(&[record("gp/trip", "Trip"), record("gp/rome", "Rome")])
            .unwrap();
        m.append_albums(&[record("gp/trip", "Trip, renamed")])
            .unwrap();
        m.append_parts(&["takeout-a-001.zip".into()]).unwrap();
        m.append_parts(&[]).unwrap();
        m.append_parts(&["takeout-a-002.zip".into(), "takeout-a-001.zip".into()])
            .unwrap();
    }
    let text = std::fs::read_to_string(state.join(FILE_NAME)).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("{\"parts\"")).count(),
        2
    );
    let (m, r) = Manifest::load(&state, true, |p| dir.path().join(p).is_file(), |_| true).unwrap();
    assert_eq!(
        r.albums,
        [
            record("gp/rome", "Rome"),
            record("gp/trip", "Trip, renamed")
        ],
        "a later record of a folder supersedes"
    );
    assert_eq!(r.parts, ["takeout-a-001.zip", "takeout-a-002.zip"]);
    let id = |entry: &str| source(entry).id();
    assert!(m.was_removed(id("T/Rome 2019/b.jpg")));
    assert!(!m.was_removed(id("T/Rome 2019/a.jpg")));
    assert!(
        !m.was_removed(id("T/x/c.jpg")),
        "its content is at also.jpg"
    );
    assert!(m.holds_files());
    // The second pass finds the files of a folder, by their entries.
    let picked = sources_picked(&state, |entry| entry.contains("Rome 2019").then_some(7)).unwrap();
    assert_eq!(picked, [(hash_id("h1"), 7), (hash_id("h2"), 7)]);
    // Older readers skip the new kinds: none of them reads as a file's line.
    let as_lines = (text.lines())
        .filter(|l| serde_json::from_str::<Line>(l).is_ok())
        .count();
    assert_eq!((file_lines(&state), as_lines), (4, 4));
}

#[test]
fn unconfirmed_rewrites_are_read_as_such_until_a_line_confirms_them() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".gpbackup");
    std::fs::create_dir_all(&state).unwrap();
    let hex = |n: u128| format!("{n:032x}");
    let written = |path: &str, hash: u128, out: u128| Line {
        hash: hex(hash),
        path: path.into(),
        output_hash: Some(hex(out)),
        output_size: Some(10),
        ..Line::default()
    };
    // a.jpg rewritten in place, unconfirmed; b.jpg moved to c.jpg, unconfirmed; d.jpg
    // rewritten in place and confirmed; e.jpg moved to f.jpg, whose file never appeared.
    let a2 = Line {
        replacing: Some(Prior {
            output_hash: hex(11),
            output_size: 10,
        }),
        ..written("a.jpg", 1, 12)
    };
    let moved = |from: &str, out: u128| {
        Some(Moved {
            path: from.into(),
            output_hash: hex(out),
            xmp: None,
        })
    };
    let c = Line {
        moved_from: moved("b.jpg", 21),
        ..written("c.jpg", 2, 22)
    };
    let d2 = Line {
        replacing: Some(Prior {
            output_hash: hex(31),
            output_size: 10,
        }),
        ..written("d.jpg", 3, 32)
    };
    let f = Line {
        moved_from: moved("e.jpg", 41),
        ..written("f.jpg", 4, 42)
    };
    let lines = [
        written("a.jpg", 1, 11),
        a2.clone(),
        written("b.jpg", 2, 21),
        c.clone(),
        written("d.jpg", 3, 31),
        d2.clone(),
        d2.confirmed(),
        written("e.jpg", 4, 41),
        f,
    ];
    let text: String = lines
        .iter()
        .map(|l| serde_json::to_string(l).unwrap() + "\n")
        .collect();
    std::fs::write(state.join(FILE_NAME), text).unwrap();
    let (got, unconfirmed) = current_outputs(&state).unwrap();
    let unfinished: Vec<(&str, Option<Unfinished>)> = got
        .iter()
        .map(|o| (o.path.as_str(), unconfirmed.get(&o.path).cloned()))
        .collect();
    assert_eq!(
        unfinished,
        [
            ("a.jpg", Some(Unfinished::Replacing((11, 10)))),
            ("b.jpg", None),
            ("c.jpg", Some(Unfinished::MovedFrom("b.jpg".into()))),
            ("d.jpg", None),
            ("e.jpg", None),
            ("f.jpg", Some(Unfinished::MovedFrom("e.jpg".into()))),
        ]
    );
    // A run: every file there but f.jpg. The move to c.jpg is to finish (b.jpg is left
    // out of the maps), the one to f.jpg never happened; a.jpg is open (to rewrite again).
    let there = ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"];
    let (m, remembered) = Manifest::load(&state, true, |p| there.contains(&p), |_| true).unwrap();
    assert_eq!(remembered.interrupted_moves, [c]);
    assert_eq!(m.path_for_id(2), Some("c.jpg"));
    assert_eq!(m.path_for_id(4), Some("e.jpg"));
    let open: Vec<&str> = (remembered.open_files.iter())
        .map(|f| f.line.path.as_str())
        .collect();
    assert_eq!(open, ["a.jpg", "c.jpg"]);
    assert_eq!(remembered.open_files[0].line, a2);
}

#[test]
fn a_claim_names_its_sidecar_and_a_confirmed_line_drops_what_it_replaced() {
    let claim = Claim {
        sidecar: format!("{:032x}", 0xABCD_u128 << 64 | 7),
        rule: "exact".into(),
        export: None,
        meta: "0".repeat(16),
    };
    assert_eq!(claim.sidecar_id(), Some(0xABCD_u128 << 64 | 7));
    let bad = Claim {
        sidecar: "not hex".into(),
        ..claim.clone()
    };
    assert_eq!(bad.sidecar_id(), None);
    let line = Line {
        hash: "h".into(),
        path: "2019/a.jpg".into(),
        replacing: Some(Prior {
            output_hash: "o".into(),
            output_size: 1,
        }),
        moved_from: Some(Moved {
            path: "a.jpg".into(),
            output_hash: "o".into(),
            xmp: None,
        }),
        claim: Some(claim),
        ..Line::default()
    };
    let done = line.confirmed();
    assert_eq!(
        (done.replacing.clone(), done.moved_from.clone()),
        (None, None)
    );
    assert_eq!(
        Line {
            replacing: line.replacing.clone(),
            moved_from: line.moved_from.clone(),
            ..done
        },
        line
    );
}

#[test]
fn a_sidecars_digest_changes_with_what_it_says_but_not_its_problems() {
    let stored = StoredSidecar {
        title: Some("a.jpg".into()),
        taken: Some(1),
        ..StoredSidecar::default()
    };
    let d = stored.digest();
    assert_eq!(stored.clone().digest(), d);
    let with_problems = StoredSidecar {
        problems: vec!["odd".into()],
        ..stored.clone()
    };
    assert_eq!(with_problems.digest(), d);
    for other in [
        StoredSidecar {
            taken: Some(2),
            ..stored.clone()
        },
        StoredSidecar {
            description: Some("x".into()),
            ..stored.clone()
        },
        StoredSidecar {
            moved: true,
            ..stored.clone()
        },
    ] {
        assert_ne!(other.digest(), d, "{other:?}");
    }
}

#[test]
fn revisit_finds_the_files_of_a_folder_or_of_a_sidecar_but_not_those_open() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".gpbackup");
    std::fs::create_dir_all(&state).unwrap();
    let hex = |n: u128| format!("{n:032x}");
    let key = |e: &str| SourceKey {
        entry: e.into(),
        size: 1,
        crc32: Some(1),
    };
    let line = |path: &str, hash: u128, entry: &str, claim: Option<u128>| Line {
        hash: hex(hash),
        path: path.into(),
        output_hash: Some(hex(hash + 100)),
        output_size: Some(1),
        sources: vec![key(entry)],
        claim: claim.map(|c| Claim {
            sidecar: hex(c),
            rule: "title-elsewhere".into(),
            export: None,
            meta: "0".repeat(16),
        }),
        ..Line::default()
    };
    let lines = [
        line("a.jpg", 1, "T/Photos from 2015/a.jpg", None),
        line("b.jpg", 2, "T/Photos from 2018/b.jpg", Some(77)),
        line("c.jpg", 3, "T/Photos from 2018/c.jpg", None),
        // A duplicate's line adds an entry in the wanted folder to c.jpg's content.
        Line {
            hash: hex(3),
            path: "c.jpg".into(),
            sources: vec![key("T/Trip/c.jpg")],
            ..Line::default()
        },
        // d.jpg was moved: its current line is the second.
        line("d0.jpg", 4, "T/Photos from 2018/d.jpg", None),
        Line {
            retracted: true,
            ..line("d0.jpg", 4, "T/Photos from 2018/d.jpg", None)
        },
        line("d.jpg", 4, "T/Photos from 2018/d.jpg", None),
        // A later line of d.jpg's content at a path whose file is gone: not its current one.
        line("gone.jpg", 4, "T/Photos from 2018/d.jpg", None),
        // e.jpg's file is gone: never looked at.
        line("e.jpg", 5, "T/Trip/e.jpg", None),
    ];
    let text: String = lines
        .iter()
        .map(|l| serde_json::to_string(l).unwrap() + "\n")
        .collect();
    std::fs::write(state.join(FILE_NAME), text).unwrap();
    let there = ["a.jpg", "b.jpg", "c.jpg", "d.jpg"];
    let (m, _) = Manifest::load(&state, true, |p| there.contains(&p), |_| true).unwrap();
    let found = |wants: &dyn Fn(&str) -> bool, sidecars: &[u128], skip: &[u128]| {
        let sidecars: HashSet<u128> = sidecars.iter().copied().collect();
        let skip: HashSet<u128> = skip.iter().copied().collect();
        let files = m.revisit(|e, _| wants(e), &sidecars, &skip).unwrap();
        files
            .iter()
            .map(|f| {
                let mut entries: Vec<String> = f.sources.iter().map(|s| s.entry.clone()).collect();
                entries.sort();
                (f.line.path.clone(), entries)
            })
            .collect::<Vec<_>>()
    };
    let in_trip = |e: &str| e.starts_with("T/Trip/");
    assert_eq!(
        found(&in_trip, &[], &[]),
        [(
            "c.jpg".to_string(),
            vec![
                "T/Photos from 2018/c.jpg".to_string(),
                "T/Trip/c.jpg".to_string()
            ]
        )]
    );
    let none = |_: &str| false;
    assert_eq!(
        found(&none, &[77], &[]),
        [(
            "b.jpg".to_string(),
            vec!["T/Photos from 2018/b.jpg".to_string()]
        )]
    );
    assert_eq!(found(&none, &[78], &[]), []);
    let in_2018 = |e: &str| e.contains("2018");
    let paths: Vec<String> = found(&in_2018, &[], &[2])
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(paths, ["c.jpg", "d.jpg"]);
    assert_eq!(found(&in_2018, &[77], &[2, 3, 4]), []);
}

#[test]
fn a_date_with_a_fraction_is_read_as_its_second_by_every_reader() {
    let text = br#"{"hash":"00000000000000000000000000000001","path":"a.jpg","output_hash":"00000000000000000000000000000002","output_size":3,"taken":1212126961.5,"sources":[]}"#;
    let view = LineView::parse(text).expect("read");
    assert_eq!(view.taken, Some(1_212_126_961));
    let line: Line = serde_json::from_slice(text).unwrap();
    assert_eq!(line.taken, Some(1_212_126_961));
    for (taken, want) in [
        ("-0.5", Some(-1)),
        ("1212126961", Some(1_212_126_961)),
        ("null", None),
        ("-9223372036854775808", Some(i64::MIN)),
    ] {
        let t = format!(r#"{{"hash":"1","path":"a","taken":{taken}}}"#);
        assert_eq!(
            LineView::parse(t.as_bytes()).map(|l| l.taken),
            Some(want),
            "{taken}"
        );
    }
    // Out of range: the line is unreadable alike for every reader.
    for taken in ["1e300", "9223372036854775808", "18446744073709551615"] {
        let t = format!(r#"{{"hash":"1","path":"a","taken":{taken}}}"#);
        assert!(LineView::parse(t.as_bytes()).is_none(), "{taken}");
        assert!(serde_json::from_str::<Line>(&t).is_err(), "{taken}");
    }
    let s: StoredSidecar = serde_json::from_str(r#"{"taken":5.9,"created":-2.5}"#).unwrap();
    assert_eq!((s.taken, s.created), (Some(5), Some(-3)));
}
