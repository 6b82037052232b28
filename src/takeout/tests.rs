use super::*;

/// Where the entries of these tests are: a zip, deflated.
const ZIP: Locator = Locator::Zip {
    method: 8,
    symlink: false,
};

#[test]
fn an_entry_is_56_bytes() {
    // A million of them live through the whole run (issue 14's memory goal).
    assert!(std::mem::size_of::<Entry>() <= 56);
    assert!(std::mem::size_of::<Locator>() <= 4);
}

#[test]
fn an_entry_path_splits_after_its_last_slash_and_joins_back() {
    let zip = ZIP;
    // (path, folder, name, dir)
    let cases = [
        (
            "Takeout/Google Photos/2019/a.jpg",
            "Takeout/Google Photos/2019/",
            "a.jpg",
            "Google Photos/2019",
        ),
        ("a.jpg", "", "a.jpg", ""),
        ("/a.jpg", "/", "a.jpg", ""),
        ("x//a.jpg", "x//", "a.jpg", "x/"),
        ("Takeout/a.jpg", "Takeout/", "a.jpg", ""),
        ("x/", "x/", "", "x"),
    ];
    for (path, folder, name, dir) in cases {
        let e = Entry::new(0, zip, path, 5, Some(7));
        assert_eq!(e.path_parts(), (folder, name), "{path}");
        assert_eq!(e.path(), path);
        assert_eq!(e.name(), name, "{path}");
        assert_eq!(e.dir(), dir, "{path}");
        let joined = crate::hash::entry_id(5, Some(7), &[path]);
        assert_eq!(e.id(Some(7)), joined, "{path}");
        assert_ne!(e.id(None), joined, "{path}");
    }
}

#[test]
fn entries_of_one_folder_share_its_string() {
    let zip = ZIP;
    let mut folders = Folders::default();
    folders.add(0, zip, "T/x/a.jpg", 1, 1, None, 0);
    folders.add(0, zip, "T/y/a.jpg", 1, 1, None, 2);
    folders.add(0, zip, "T/x/b.jpg", 1, 1, None, 1);
    folders.add(0, zip, "top.jpg", 1, 1, None, 3);
    let mut entries = Vec::new();
    folders.finish(&mut entries);
    let [a, c, b, top] = entries
        .clone()
        .try_into()
        .unwrap_or_else(|e: Vec<Entry>| panic!("four entries: {e:?}"));
    assert!(Arc::ptr_eq(&a.names, &b.names));
    assert!(!Arc::ptr_eq(&a.names, &c.names));
    assert_eq!(
        (a.name(), b.name(), top.name()),
        ("a.jpg", "b.jpg", "top.jpg")
    );
    assert_eq!(top.path_parts(), ("", "top.jpg"));
    assert_eq!(a.names.text.as_str(), "a.jpgb.jpg");
    // The next input's entries start afresh.
    folders.add(1, zip, "T/x/c.jpg", 1, 1, None, 0);
    folders.finish(&mut entries);
    assert_eq!(entries.len(), 5);
    assert_eq!(entries[4].path(), "T/x/c.jpg");
    assert!(!Arc::ptr_eq(&entries[4].names, &a.names));
    assert_eq!(
        (b.path(), c.path()),
        ("T/x/b.jpg".into(), "T/y/a.jpg".into())
    );
    assert_eq!((b.order, c.compressed), (1, 1));
}

#[test]
fn entries_of_one_zip_with_one_path_are_numbered_in_their_order() {
    let zip = ZIP;
    let mut folders = Folders::default();
    let mut entries = Vec::new();
    folders.add(0, zip, "T/a.jpg", 1, 1, None, 0);
    folders.add(0, zip, "T/b.jpg", 1, 1, None, 1);
    folders.finish(&mut entries);
    // The second zip: b.jpg three times, and names that differ only by their folder.
    for (order, path) in [
        "T/b.jpg", "T/a.jpg", "T/b.jpg", "U/b.jpg", "T/b.jpg", "Tb.jpg",
    ]
    .into_iter()
    .enumerate()
    {
        folders.add(1, zip, path, 1, 1, None, order as u64);
    }
    folders.finish(&mut entries);
    let mut catalog = Catalog {
        entries,
        ..Catalog::default()
    };
    catalog.number_copies(1);
    let mut copies: Vec<_> = catalog.copies.iter().map(|(k, v)| (*k, *v)).collect();
    copies.sort_unstable();
    assert_eq!(
        copies,
        [((1, 0), (1, 3)), ((1, 2), (2, 3)), ((1, 4), (3, 3))]
    );
    assert_eq!(catalog.entry_notes.len(), 1);
    assert_eq!(catalog.entry_notes[0].source, ":T/b.jpg");
    // The first zip's own names are its own: once each.
    catalog.copies.clear();
    catalog.entries.truncate(2);
    catalog.number_copies(0);
    assert!(catalog.copies.is_empty());
}

#[test]
fn entries_wait_to_be_built_sixty_thousand_at_most() {
    let zip = ZIP;
    let mut folders = Folders::default();
    for k in 0..(1u64 << 16) - 1 {
        folders.add(0, zip, "T/x/a.jpg", 1, 1, None, k);
    }
    assert!(!folders.is_full());
    folders.add(0, zip, "T/x/b.jpg", 1, 1, None, 1 << 16);
    assert!(folders.is_full());
    let mut entries = Vec::new();
    folders.finish(&mut entries);
    assert!(!folders.is_full());
    assert_eq!(entries.len(), 1 << 16);
    assert_eq!(entries[(1 << 16) - 1].name(), "b.jpg");
}

#[test]
fn dir_keys_start_below_takeout() {
    assert_eq!(
        strip_takeout_prefix("Takeout/Google Photos/Photos from 2019"),
        "Google Photos/Photos from 2019"
    );
    assert_eq!(
        strip_takeout_prefix("x/Takeout/Google Fotos/Album"),
        "Google Fotos/Album"
    );
    assert_eq!(
        strip_takeout_prefix("Google Photos/Album"),
        "Google Photos/Album"
    );
    assert_eq!(strip_takeout_prefix("Takeout"), "");
    assert_eq!(strip_takeout_prefix(""), "");
}

#[test]
fn a_refill_reads_what_the_entry_needs_and_more_when_read_in_order() {
    const CAP: usize = 256 * 1024;
    // (pos, until, last refill (end, length), bytes read)
    let cases = [
        // A tiny entry: its bytes, up to the page they end in.
        (0, 1500, None, 4096),
        (4000, 5600, None, 4096 + 4096 - 4000),
        (8192, 8193, None, 4096),
        // Its end already passed (a hint too short): a page.
        (10_000, 9_000, None, 4096),
        (4096, 0, None, 4096),
        // A large one: the whole buffer, never more.
        (0, 10 << 20, None, CAP),
        (100, u64::MAX, None, CAP),
        // Where the last refill ended: twice its length, up to the buffer.
        (8192, 9000, Some((8192, 4096)), 8192),
        (8192, 9000, Some((8192, 200_000)), CAP),
        (
            8192,
            100_000,
            Some((8192, 4096)),
            100_000usize.div_ceil(4096) * 4096 - 8192,
        ),
        // Elsewhere than where it ended: the entry alone.
        (8192, 9000, Some((4096, 4096)), 4096),
    ];
    for (pos, until, last, want) in cases {
        assert_eq!(
            refill_len(pos, until, CAP, last),
            want,
            "{pos} {until} {last:?}"
        );
    }
    // A buffer smaller than a page is filled whole.
    assert_eq!(refill_len(0, 10, 64, None), 64);
    assert_eq!(refill_len(0, 1 << 20, 8192, Some((0, 8192))), 8192);
}

#[test]
fn entries_read_in_any_order_through_one_reader_give_their_bytes() {
    use ::zip::write::SimpleFileOptions;
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("takeout-001.zip");
    let mut w = ::zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    // Tiny entries, one larger than the large buffer, stored and deflated, some with an
    // extra field longer than a reader expects.
    let mut contents = Vec::new();
    for i in 0..60u32 {
        let len = match i % 7 {
            0 => 300_000 + i as usize,
            1 => 5000,
            _ => 200 + 37 * i as usize,
        };
        let data: Vec<u8> = (0..len)
            .map(|k| (k as u32 * 7 + i * 13 + (k as u32 >> 9)) as u8)
            .collect();
        let method = if i % 2 == 0 {
            ::zip::CompressionMethod::Deflated
        } else {
            ::zip::CompressionMethod::Stored
        };
        let mut opts = SimpleFileOptions::default().compression_method(method);
        if i % 5 == 0 {
            opts = opts.with_alignment(4096);
        }
        w.start_file(format!("Takeout/Google Photos/a/IMG_{i}.jpg"), opts)
            .unwrap();
        w.write_all(&data).unwrap();
        contents.push(data);
    }
    w.finish().unwrap();
    let catalog = Catalog::open(&[path], None).unwrap();
    let by_name = |e: &Entry| -> usize {
        let n = e.name().trim_start_matches("IMG_").trim_end_matches(".jpg");
        n.parse().unwrap()
    };
    let n = catalog.entries.len();
    assert_eq!(n, contents.len());
    let in_order: Vec<usize> = (0..n).collect();
    let reversed: Vec<usize> = (0..n).rev().collect();
    let scattered: Vec<usize> = (0..n).map(|k| (k * 17) % n).collect();
    for buffer in [SMALL_BUFFER, LARGE_BUFFER] {
        let mut reader = catalog.reader(buffer);
        for order in [&in_order, &reversed, &scattered, &in_order] {
            for &k in order {
                let e = &catalog.entries[k];
                let mut got = Vec::new();
                reader.open(e).unwrap().read_to_end(&mut got).unwrap();
                assert!(got == contents[by_name(e)], "entry {k}, buffer {buffer}");
            }
        }
    }
}
