use super::*;

#[cfg(unix)]
#[test]
fn a_report_path_that_is_not_a_plain_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    assert!(check_report_file(&p.join("new.json")).is_ok());
    fs::write(p.join("empty.json"), b"").unwrap();
    assert!(check_report_file(&p.join("empty.json")).is_ok());
    fs::create_dir(p.join("folder")).unwrap();
    let why = check_report_file(&p.join("folder")).unwrap_err();
    assert!(why.contains("is a folder"), "{why}");
    std::os::unix::fs::symlink(p.join("empty.json"), p.join("link.json")).unwrap();
    let why = check_report_file(&p.join("link.json")).unwrap_err();
    assert!(why.contains("symbolic link"), "{why}");
    let fifo = std::ffi::CString::new(p.join("fifo").as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo reads the NUL-terminated path we own.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let why = check_report_file(&p.join("fifo")).unwrap_err();
    assert!(why.contains("not a regular file"), "{why}");
}

#[test]
fn names_reserved_exactly_and_given_back() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("old.jpg"), b"x").unwrap();
    let out = OutputDir::open(dir.path(), false, false).unwrap();
    assert!(out.was_present("old.jpg") && !out.was_present("new.jpg"));
    assert!(out.reserve_exact("a.jpg.xmp"));
    assert!(!out.reserve_exact("A.JPG.xmp"), "taken, whatever the case");
    out.release("a.jpg.xmp");
    assert!(out.reserve_exact("a.jpg.xmp"), "free again once given back");
    assert!(!out.reserve_exact("old.jpg"), "names on disk are taken");
}

#[test]
fn the_next_free_name_drops_a_counter_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = OutputDir::open(dir.path(), false, false).unwrap();
    for taken in ["a.jpg", "a (2).jpg", "b (x).jpg", "c ().jpg"] {
        assert!(out.reserve_exact(taken));
    }
    assert_eq!(out.next_free("a (2).jpg"), "a (3).jpg");
    assert_eq!(out.next_free("a.jpg"), "a (4).jpg");
    // Not a counter: part of the name.
    assert_eq!(out.next_free("b (x).jpg"), "b (x) (2).jpg");
    assert_eq!(out.next_free("c ().jpg"), "c () (2).jpg");
    assert_eq!(out.next_free("2019/d (7).jpg"), "2019/d.jpg");
}

#[test]
fn own_positions_at_the_top_of_the_output() {
    for own in [
        ".gpbackup",
        "albums",
        "albums.json",
        "undated",
        "2019",
        "2019/07",
        "1826/12",
    ] {
        assert!(is_own_position(own), "{own}");
    }
    for theirs in [
        "IMG_1.jpg",
        "201",
        "2019/7",
        "2019/07/IMG_1.jpg",
        "19x9",
        "2019/ab",
        "x/07",
    ] {
        assert!(!is_own_position(theirs), "{theirs}");
    }
}

#[test]
fn verify_takes_the_lock_of_a_writable_folder() {
    let dir = tempfile::tempdir().unwrap();
    let held = OutputLock::acquire_for_reading(dir.path()).unwrap();
    assert!(held.is_some());
    let Err(again) = OutputLock::acquire(dir.path()) else {
        panic!("a second lock was granted");
    };
    assert!(matches!(
        SafetyError::of(&again),
        Some(SafetyError::Locked { .. })
    ));
    drop(held);
    assert!(OutputLock::acquire(dir.path()).is_ok());
}

#[test]
fn collisions_get_numbered_case_insensitively() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("IMG_0001.jpg"), b"x").unwrap();
    let out = OutputDir::open(dir.path(), false, false).unwrap();
    assert_eq!(out.reserve("", "img_0001.JPG"), "img_0001 (2).JPG");
    assert_eq!(out.reserve("", "IMG_0001.jpg"), "IMG_0001 (3).jpg");
    assert_eq!(out.reserve("", "new.png"), "new.png");
    assert_eq!(out.reserve("", ".gpbackup"), ".gpbackup (2)");
    assert_eq!(out.reserve("", "../../etc/passwd"), ".._.._etc_passwd");
    assert_eq!(out.reserve("2019/07", "new.png"), "2019/07/new.png");
    assert_eq!(out.reserve("2019/07", "NEW.png"), "2019/07/NEW (2).png");
    assert_eq!(out.reserve("", "albums"), "albums (2)");
}

#[test]
fn commit_is_atomic_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = OutputDir::open(dir.path(), true, false).unwrap();
    let (tmp, mut f) = out.temp_file().unwrap();
    io::Write::write_all(&mut f, b"photo").unwrap();
    assert_eq!(
        out.commit(&tmp, f, "a.jpg", Some(1562253012)).unwrap(),
        "a.jpg"
    );
    let dest = dir.path().join("a.jpg");
    let (tmp2, f2) = out.temp_file().unwrap();
    let nested = out.commit(&tmp2, f2, "2019/07/b.jpg", None).unwrap();
    assert!(nested == "2019/07/b.jpg" && dir.path().join(&nested).is_file());
    // Existing nested files are known to a new run.
    let again = OutputDir::open(dir.path(), false, true).unwrap();
    assert_eq!(again.reserve("2019/07", "b.jpg"), "2019/07/b (2).jpg");
    assert_eq!(fs::read(&dest).unwrap(), b"photo");
    let mtime = filetime::FileTime::from_last_modification_time(&fs::metadata(&dest).unwrap());
    assert_eq!(mtime.unix_seconds(), 1562253012);
    assert!(!tmp.exists());
    // A name taken on disk: the next free name, or (exact) an error.
    let (tmp, mut f) = out.temp_file().unwrap();
    io::Write::write_all(&mut f, b"other").unwrap();
    assert_eq!(out.commit(&tmp, f, "a.jpg", None).unwrap(), "a (2).jpg");
    let (tmp, f) = out.temp_file().unwrap();
    let err = out.commit_exact(&tmp, f, "a.jpg", None).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    assert!(tmp.exists(), "left for the caller to remove");
    assert_eq!(fs::read(&dest).unwrap(), b"photo");
    assert_eq!(fs::read(dir.path().join("a (2).jpg")).unwrap(), b"other");
}

#[test]
fn leftover_temp_files_are_removed_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let out = OutputDir::open(dir.path(), false, false).unwrap();
    let (tmp, _f) = out.temp_file().unwrap();
    let tmp_dir = tmp.parent().unwrap().to_path_buf();
    fs::write(tmp_dir.join("notes.txt"), b"mine").unwrap();
    fs::create_dir(tmp_dir.join("12-3.part")).unwrap();
    drop(out);
    OutputDir::open(dir.path(), false, false).unwrap();
    assert!(!tmp.exists());
    assert!(tmp_dir.join("notes.txt").is_file());
    assert!(tmp_dir.join("12-3.part").is_dir());
    assert!(is_temp_name("123-0.part") && !is_temp_name("x-0.part"));
    assert!(!is_temp_name("1-2.part.jpg") && !is_temp_name("-2.part"));
}

#[test]
fn long_names_are_cut_before_the_counter() {
    let dir = tempfile::tempdir().unwrap();
    let out = OutputDir::open(dir.path(), false, false).unwrap();
    let a = format!("{}.jpg", "a".repeat(251));
    let b = format!("{}b.jpg", "a".repeat(250));
    assert_eq!(a.len(), 255);
    assert_eq!(out.reserve("", &a), a);
    let a2 = out.reserve("", &a);
    let a3 = out.reserve("", &a);
    assert_eq!(a2, format!("{} (2).jpg", "a".repeat(247)));
    assert_eq!(a3, format!("{} (3).jpg", "a".repeat(247)));
    assert_eq!(out.reserve("", &b), b);
    // Cut to the same 247 bytes as `a`'s numbered forms: the next number free for both.
    assert_eq!(out.reserve("", &b), format!("{} (4).jpg", "a".repeat(247)));
    // Multi-byte characters are cut on a boundary.
    let e = format!("{}.jpg", "é".repeat(125));
    out.reserve("", &e);
    let e2 = out.reserve("", &e);
    assert!(e2.len() <= 255 && e2.ends_with("é (2).jpg"), "{e2}");
}

#[test]
fn racing_commits_for_one_name_get_two_names() {
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let out = OutputDir::open(dir.path(), false, false).unwrap();
        let barrier = std::sync::Barrier::new(2);
        let names: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = [b"one".as_slice(), b"two".as_slice()]
                .into_iter()
                .map(|bytes| {
                    let (out, barrier) = (&out, &barrier);
                    s.spawn(move || {
                        let (tmp, mut f) = out.temp_file().unwrap();
                        io::Write::write_all(&mut f, bytes).unwrap();
                        barrier.wait();
                        out.commit(&tmp, f, "2019/07/same.jpg", None).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(sorted, ["2019/07/same (2).jpg", "2019/07/same.jpg"]);
        let mut contents: Vec<Vec<u8>> = names
            .iter()
            .map(|n| fs::read(dir.path().join(n)).unwrap())
            .collect();
        contents.sort();
        assert_eq!(contents, [b"one".to_vec(), b"two".to_vec()]);
    }
}

#[test]
fn a_second_lock_names_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let _held = OutputDir::open(dir.path(), false, false).unwrap();
    let err = OutputDir::open(dir.path(), false, false)
        .err()
        .expect("locked");
    let pid = std::process::id().to_string();
    assert!(
        matches!(SafetyError::of(&err), Some(SafetyError::Locked { pid: p }) if *p == pid),
        "{err}"
    );
    assert!(err.to_string().contains(&format!("pid {pid}")), "{err}");
    let lock = format!("holding {STATE_DIR}/{LOCK_FILE})");
    assert!(err.to_string().contains(&lock), "{err}");
    // A dry run writes nothing and takes no lock.
    OutputDir::open(dir.path(), false, true).unwrap();
    drop(_held);
    OutputLock::acquire(dir.path()).unwrap();
}

#[cfg(unix)]
#[test]
fn links_where_gpbackup_keeps_its_own_are_refused() {
    use std::os::unix::fs::symlink;
    let elsewhere = tempfile::tempdir().unwrap();
    fs::write(elsewhere.path().join("keep.txt"), b"keep").unwrap();
    for link in [
        ".gpbackup",
        ".gpbackup/tmp",
        ".gpbackup/manifest.jsonl",
        ".gpbackup/lock",
        "2019",
        "2019/07",
        "undated",
        "albums",
        "albums/Paris",
        "albums.json",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(link);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        symlink(elsewhere.path(), &path).unwrap();
        let err = OutputDir::open(dir.path(), false, false)
            .err()
            .unwrap_or_else(|| panic!("{link}: accepted"));
        assert!(
            matches!(SafetyError::of(&err), Some(SafetyError::Link { .. })),
            "{link}: {err}"
        );
        assert_eq!(
            fs::read_dir(elsewhere.path()).unwrap().count(),
            1,
            "{link}: nothing written through the link"
        );
    }
    // A user's own link elsewhere in the folder is just a taken name.
    let dir = tempfile::tempdir().unwrap();
    symlink(elsewhere.path(), dir.path().join("holiday")).unwrap();
    let out = OutputDir::open(dir.path(), false, false).unwrap();
    assert_eq!(out.reserve("", "holiday"), "holiday (2)");
    // A link made after the start is refused when a file goes there.
    symlink(elsewhere.path(), dir.path().join("2020")).unwrap();
    let (tmp, f) = out.temp_file().unwrap();
    let err = out.commit(&tmp, f, "2020/01/x.jpg", None).unwrap_err();
    assert!(matches!(
        SafetyError::of(&err),
        Some(SafetyError::Link { .. })
    ));
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 1);
}

#[test]
fn report_paths_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("takeout.zip");
    fs::write(&input, b"PK").unwrap();
    let folder = dir.path().join("Takeout");
    fs::create_dir(&folder).unwrap();
    let out = dir.path().join("photos");
    let inputs = [input.clone(), folder.clone()];
    let check = |report: &Path| check_paths(&out, &inputs, Some(report));
    assert!(matches!(check(&input), Err(SafetyError::Report { .. })));
    assert!(matches!(
        check(&folder.join("r.json")),
        Err(SafetyError::Report { .. })
    ));
    let theirs = dir.path().join("notes.json");
    fs::write(&theirs, b"{\"mine\": 1}").unwrap();
    assert!(matches!(check(&theirs), Err(SafetyError::Report { .. })));
    let ours = dir.path().join("ours.json");
    fs::write(
        &ours,
        b"{\n  \"generator\": \"gpbackup\",\n  \"media\": []}",
    )
    .unwrap();
    check(&ours).unwrap();
    check(&dir.path().join("new.json")).unwrap();
    fs::write(dir.path().join("empty.json"), b"").unwrap();
    check(&dir.path().join("empty.json")).unwrap();
    assert!(check(&out).is_ok(), "a folder that does not exist yet");
    let err = check_paths(&folder.join("out"), &inputs, None).unwrap_err();
    assert!(matches!(err, SafetyError::OutputInInput { .. }) && err.is_usage());
    let err = check_paths(&folder, &inputs, None).unwrap_err();
    assert!(matches!(err, SafetyError::OutputInInput { .. }));
    check_paths(&out, &inputs, None).unwrap();
}
