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
