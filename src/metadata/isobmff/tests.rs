use super::*;
use crate::metadata::fixture;

fn tags() -> Tags {
    crate::metadata::paris_tags(Some(35.2))
}

fn top(buf: &[u8]) -> Vec<BoxRef> {
    children(buf, 0, buf.len())
}

/// (offset, first bytes) of every chunk, resolved through stco/co64.
fn chunk_bytes(buf: &[u8]) -> Vec<Vec<u8>> {
    let moov = *top(buf).iter().find(|b| &b.kind == b"moov").unwrap();
    let mut stco = Vec::new();
    find_all(buf, moov, b"stco", &mut stco).unwrap();
    let b = stco[0];
    let count = u32::from_be_bytes(buf[b.body + 4..b.body + 8].try_into().unwrap()) as usize;
    (0..count)
        .map(|i| {
            let at = b.body + 8 + i * 4;
            let off = u32::from_be_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
            buf[off..off + 16].to_vec()
        })
        .collect()
}

fn rewrite_vec(src: &[u8], t: &Tags) -> (Vec<u8>, Written) {
    let mut out = Vec::new();
    let zone = TimeZoneChoice::parse("Europe/Paris").unwrap();
    let w = rewrite(&mut &src[..], &mut out, t, &zone).unwrap();
    (out, w)
}

#[test]
fn times_and_location_with_moov_before_mdat() {
    let src = fixture("clip.mp4");
    let (out, w) = rewrite_vec(&src, &tags());
    assert!(w.changed, "{:?}", w.notes);
    let moov = *top(&out).iter().find(|b| &b.kind == b"moov").unwrap();
    let mvhd = children(&out, moov.body, moov.end)[0];
    let (created, at, width) = time_fields(&out, mvhd).unwrap();
    assert_eq!(created as i64 - EPOCH_1904, 1562253012);
    assert_eq!(width, 4);
    assert_eq!(
        u32::from_be_bytes(out[at + 4..at + 8].try_into().unwrap()) as u64,
        created
    );
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("+48.8584+002.2945+35.200/"),
        "ISO 6709 location"
    );
    // Chunks still point at the same media bytes after moov grew.
    assert_eq!(chunk_bytes(&out), chunk_bytes(&src));
    // mdat itself is untouched.
    let mdat = |b: &[u8]| {
        let m = *top(b).iter().find(|x| &x.kind == b"mdat").unwrap();
        b[m.start..m.end].to_vec()
    };
    assert_eq!(mdat(&out), mdat(&src));
}

#[test]
fn moov_after_mdat_needs_no_shift() {
    let src = fixture("live.mov");
    let (out, w) = rewrite_vec(&src, &tags());
    assert!(w.changed);
    assert_eq!(chunk_bytes(&out), chunk_bytes(&src));
    assert_eq!(
        &out[..1337],
        &src[..1337],
        "everything before moov is unchanged"
    );
    // The new atom went into the existing udta, after ©swr.
    let find = |pat: &[u8]| out.windows(4).position(|w| w == pat).unwrap();
    assert!(find(b"\xa9xyz") > find(b"\xa9swr"));
    let keys = keys_of(&out);
    let keys_len = 8
        + 33
        + 16
        + 8 * 2
        + KEY_LOCATION.len()
        + KEY_CREATION.len()
        + 8
        + keys.iter().map(|(_, v)| 24 + v.len()).sum::<usize>();
    assert_eq!(
        out.len(),
        src.len() + 12 + "+48.8584+002.2945+35.200/".len() + keys_len
    );
}

/// (name, value) of every Apple key in the file.
fn keys_of(buf: &[u8]) -> Vec<(String, String)> {
    let moov = *top(buf).iter().find(|b| &b.kind == b"moov").unwrap();
    let meta = *children(buf, moov.body, moov.end)
        .iter()
        .find(|b| &b.kind == b"meta")
        .unwrap();
    let k = KeyedMeta::parse(buf, meta).unwrap().unwrap();
    (0..k.names.len())
        .map(|i| (k.names[i].clone(), k.value(buf, i as u32 + 1).unwrap()))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn apple_keys_with_the_local_offset() {
    let (out, w) = rewrite_vec(&fixture("clip.mp4"), &tags());
    assert!(w.changed && !w.incomplete, "{:?}", w.notes);
    assert_eq!(
        keys_of(&out),
        pairs(&[
            (KEY_LOCATION, "+48.8584+002.2945+35.200/"),
            (KEY_CREATION, "2019-07-04T17:10:12+0200"),
        ])
    );
    assert_eq!(
        w.written_date.unwrap().to_rfc3339(),
        "2019-07-04T17:10:12+02:00"
    );
}

#[test]
fn keys_are_merged_and_never_duplicated() {
    let date_only = Tags {
        geo: None,
        ..tags()
    };
    let (once, _) = rewrite_vec(&fixture("clip.mp4"), &date_only);
    assert_eq!(
        keys_of(&once),
        pairs(&[(KEY_CREATION, "2019-07-04T17:10:12+0200")])
    );
    let (twice, w) = rewrite_vec(&once, &tags());
    assert!(w.changed);
    let (d, off) = w.existing_date.unwrap();
    assert_eq!(d.to_string(), "2019-07-04 17:10:12", "read from the key");
    assert_eq!(off.unwrap().local_minus_utc(), 7200);
    assert_eq!(
        keys_of(&twice),
        pairs(&[
            (KEY_CREATION, "2019-07-04T17:10:12+0200"),
            (KEY_LOCATION, "+48.8584+002.2945+35.200/"),
        ])
    );
    let over = Tags {
        taken: Some(1600000000),
        overwrite_dates: true,
        ..tags()
    };
    let (thrice, _) = rewrite_vec(&twice, &over);
    assert_eq!(
        keys_of(&thrice),
        pairs(&[
            (KEY_CREATION, "2020-09-13T14:26:40+0200"),
            (KEY_LOCATION, "+48.8584+002.2945+35.200/"),
        ])
    );
    assert_eq!(chunk_bytes(&thrice), chunk_bytes(&fixture("clip.mp4")));
}

#[test]
fn a_shorter_replaced_value_leaves_free_space() {
    let zone = TimeZoneChoice::parse("UTC").unwrap();
    let first = Tags {
        geo: None,
        ..tags()
    };
    let mut once = Vec::new();
    rewrite(&mut &fixture("clip.mp4")[..], &mut once, &first, &zone).unwrap();
    // Make the stored value longer than any date we write (as fractional seconds do).
    let at = once
        .windows(24)
        .position(|w| w == b"2019-07-04T15:10:12+0000")
        .unwrap();
    let mut long = once[..at].to_vec();
    long.extend_from_slice(b"2019-07-04T15:10:12.123456789+0000");
    long.extend_from_slice(&once[at + 24..]);
    // Every atom around the value grows by 10: moov, meta, ilst, the item, its data atom.
    let find = |kind: &[u8]| long[..at].windows(4).rposition(|w| w == kind).unwrap() - 4;
    let data = find(b"data");
    for p in [find(b"moov"), find(b"meta"), find(b"ilst"), data - 8, data] {
        let size = u32::from_be_bytes(long[p..p + 4].try_into().unwrap()) + 10;
        long[p..p + 4].copy_from_slice(&size.to_be_bytes());
    }
    let moov = *top(&long).iter().find(|b| &b.kind == b"moov").unwrap();
    let mut m = long[moov.start..moov.end].to_vec();
    let mb = children(&m, 0, m.len())[0];
    shift_chunk_offsets(&mut m, mb, 0, 10).unwrap();
    long.splice(moov.start..moov.end, m);
    assert_eq!(chunk_bytes(&long), chunk_bytes(&once));
    let over = Tags {
        overwrite_dates: true,
        ..first
    };
    let (out, w) = rewrite_vec(&long, &over);
    assert!(w.changed, "{:?}", w.notes);
    assert_eq!(out.len(), long.len(), "moov keeps its size");
    assert_eq!(chunk_bytes(&out), chunk_bytes(&long));
    assert_eq!(keys_of(&out)[0].1, "2019-07-04T17:10:12+0200");
}

/// clip.mp4 (moov before mdat) with `n` bytes of free space: a `free` atom right after
/// moov, or as moov's last child; chunk offsets shifted to match.
fn with_free(n: usize, inside: bool) -> Vec<u8> {
    let src = fixture("clip.mp4");
    let moov = *top(&src).iter().find(|b| &b.kind == b"moov").unwrap();
    let mut m = src[moov.start..moov.end].to_vec();
    let mb = children(&m, 0, m.len())[0];
    shift_chunk_offsets(&mut m, mb, 0, n as u64).unwrap();
    if inside {
        m.extend_from_slice(&free_atom(n as u64).unwrap());
        let len = m.len() as u64;
        set_size(&mut m, 8, len).unwrap();
    } else {
        m.extend_from_slice(&free_atom(n as u64).unwrap());
    }
    let mut out = src[..moov.start].to_vec();
    out.extend_from_slice(&m);
    out.extend_from_slice(&src[moov.end..]);
    assert_eq!(chunk_bytes(&out), chunk_bytes(&src));
    out
}

fn mdat_at(buf: &[u8]) -> usize {
    top(buf).iter().find(|b| &b.kind == b"mdat").unwrap().start
}

#[test]
fn free_space_takes_the_growth_and_media_stays_put() {
    for inside in [false, true] {
        let src = with_free(400, inside);
        let (out, w) = rewrite_vec(&src, &tags());
        assert!(w.changed, "{:?}", w.notes);
        assert_eq!(out.len(), src.len(), "inside: {inside}");
        assert_eq!(mdat_at(&out), mdat_at(&src));
        assert!(
            out[mdat_at(&src)..] == src[mdat_at(&src)..],
            "media untouched"
        );
        assert_eq!(chunk_bytes(&out), chunk_bytes(&src));
        assert_eq!(keys_of(&out).len(), 2);
    }
    // Too little room: moov grows, the chunk offsets follow, the free atom stays.
    let src = with_free(16, false);
    let (out, w) = rewrite_vec(&src, &tags());
    assert!(w.changed);
    assert!(mdat_at(&out) > mdat_at(&src));
    assert_eq!(chunk_bytes(&out), chunk_bytes(&src));
    assert!(top(&out)
        .iter()
        .any(|b| &b.kind == b"free" && b.end - b.start == 16));
}

#[test]
fn dates_before_1904_leave_the_movie_times() {
    let old = Tags {
        taken: Some(-2_100_000_000), // 1903-06-15
        ..tags()
    };
    let src = fixture("clip.mp4");
    let (out, w) = rewrite_vec(&src, &old);
    assert!(w.incomplete && w.notes[0].contains("1904"), "{:?}", w.notes);
    let moov = *top(&out).iter().find(|b| &b.kind == b"moov").unwrap();
    let mvhd = children(&out, moov.body, moov.end)[0];
    assert_eq!(time_fields(&out, mvhd).unwrap().0, 0, "mvhd left as it was");
    // Paris kept local mean time (+00:09:21) until 1911.
    assert!(keys_of(&out)[1].1.starts_with("1903-06-16T10:49:"));
    // Far-future and far-past sidecar times never overflow.
    for t in [i64::MIN, i64::MAX, -EPOCH_1904 - 1, u32::MAX as i64] {
        let (_, w) = rewrite_vec(
            &src,
            &Tags {
                taken: Some(t),
                ..tags()
            },
        );
        assert!(!w.notes.is_empty() || w.changed, "{t}");
    }
}

#[test]
fn chunk_offsets_that_would_overflow_are_refused() {
    let mut co64 = vec![0, 0, 0, 0, 0, 0, 0, 1];
    co64.extend_from_slice(&(u64::MAX - 3).to_be_bytes());
    let stbl = atom(b"stbl", &atom(b"co64", &co64).unwrap()).unwrap();
    let moov = atom(
        b"moov",
        &atom(
            b"trak",
            &atom(b"mdia", &atom(b"minf", &stbl).unwrap()).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let mut buf = moov.clone();
    let b = children(&buf, 0, buf.len())[0];
    assert!(shift_chunk_offsets(&mut buf, b, 0, 100).is_err());
    assert!(shift_chunk_offsets(&mut buf, b, 0, 3).is_ok());
}

#[test]
fn existing_times_and_location_are_kept() {
    let (once, _) = rewrite_vec(&fixture("clip.mp4"), &tags());
    // A year later: kept when asked to keep cameras' dates.
    let later = Tags {
        taken: Some(1600000000),
        keep_camera_dates: true,
        ..tags()
    };
    let (twice, w) = rewrite_vec(&once, &later);
    assert!(!w.changed);
    assert_eq!(twice, once);
    // Within the 14 hours any zone could explain: kept too.
    let hours = Tags {
        taken: Some(1562253012 + 13 * 3600),
        ..tags()
    };
    let (same, w) = rewrite_vec(&once, &hours);
    assert!(!w.changed && w.camera_date.is_none());
    assert_eq!(same, once);
    // A year off, by default: a corrected date, written, the video's own named.
    let corrected = Tags {
        keep_camera_dates: false,
        ..later.clone()
    };
    let (fixed, w) = rewrite_vec(&once, &corrected);
    assert!(w.changed);
    assert!(w.camera_date.is_some(), "{:?}", w.notes);
    assert_eq!(fixed.len(), once.len());
    // The file's own date, from Apple's key (local time and offset).
    let (d, off) = w.existing_date.unwrap();
    assert_eq!(d.and_utc().timestamp(), 1562253012 + 7200);
    assert_eq!(off.unwrap().local_minus_utc(), 7200);
    let over = Tags {
        overwrite_dates: true,
        ..later
    };
    let (thrice, w) = rewrite_vec(&once, &over);
    assert!(w.changed);
    assert_eq!(thrice.len(), once.len(), "the location is not added twice");
}

#[test]
fn garbage_and_truncation_never_lose_bytes() {
    let src = fixture("clip.mp4");
    // Cut anywhere before the end of moov (at 940): copied unchanged.
    for cut in [0, 3, 8, 20, 40, 500, 939] {
        let part = &src[..cut];
        let (out, w) = rewrite_vec(part, &tags());
        assert_eq!(out, part, "cut at {cut}");
        assert!(!w.changed);
    }
    // Cut inside mdat: moov is edited, every byte that was there is still there.
    let (out, _) = rewrite_vec(&src[..1000], &tags());
    let (full, _) = rewrite_vec(&src, &tags());
    assert_eq!(out, full[..out.len()]);
    assert_eq!(out.len(), 1000 + full.len() - src.len());
    let junk = b"\x00\x00\x00\x05junkjunkjunk".to_vec();
    assert_eq!(rewrite_vec(&junk, &tags()).0, junk);
}

#[test]
fn iso6709_format() {
    assert_eq!(
        iso6709(Geo {
            lat: -33.8688,
            lon: 151.2093,
            alt: None
        }),
        "-33.8688+151.2093/"
    );
    assert_eq!(
        iso6709(Geo {
            lat: 40.7484,
            lon: -73.9857,
            alt: Some(-3.5)
        }),
        "+40.7484-073.9857-3.500/"
    );
}

#[test]
fn random_mutations_never_panic() {
    let mut next = crate::metadata::fuzzing::xorshift(0x2545_F491_4F6C_DD1Du64);
    let zone = TimeZoneChoice::parse("Asia/Tokyo").unwrap();
    let (written, _) = rewrite_vec(&fixture("clip.mp4"), &tags());
    for name in ["clip.mp4", "live.mov", "reserved.mp4", "written"] {
        let src = if name == "written" {
            written.clone()
        } else {
            fixture(name)
        };
        for _ in 0..300 {
            let mut m = src.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % m.len();
                m[at] = match next() % 3 {
                    0 => next() as u8,
                    1 => m[at] ^ (1 << (next() % 8)),
                    _ => [0, 1, 0xFF, 0x7F, 0x80][next() as usize % 5],
                };
            }
            let t = Tags {
                overwrite_dates: next().is_multiple_of(2),
                ..tags()
            };
            let mut out = Vec::new();
            let w = rewrite(&mut &m[..], &mut out, &t, &zone).unwrap();
            if !w.changed {
                assert!(out == m, "{name}: unchanged output differs");
            }
        }
    }
}

// Hostile inputs of issue 26, built from clip.mp4.

/// Every chunk offset of every `stco`/`co64` in `buf`, found by a walk of its own (strict sizes),
/// with the 16 bytes each points at: what a player reads.
fn all_chunks(buf: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let moov = *top(buf).iter().find(|b| &b.kind == b"moov").unwrap();
    let tables = sample_tables(&buf[moov.start..moov.end]).unwrap();
    tables
        .iter()
        .flatten()
        .map(|&(o, _)| (o, buf[o as usize..o as usize + 16].to_vec()))
        .collect()
}

/// clip.mp4 with `extra` (top-level boxes) put between ftyp and moov, chunk offsets moved to
/// match.
fn with_before_moov(extra: &[u8]) -> Vec<u8> {
    let src = fixture("clip.mp4");
    let moov = *top(&src).iter().find(|b| &b.kind == b"moov").unwrap();
    let mut m = src[moov.start..moov.end].to_vec();
    let mb = children(&m, 0, m.len())[0];
    shift_chunk_offsets(&mut m, mb, 0, extra.len() as u64).unwrap();
    let mut out = src[..moov.start].to_vec();
    out.extend_from_slice(extra);
    out.extend_from_slice(&m);
    out.extend_from_slice(&src[moov.end..]);
    out
}

#[test]
fn media_after_moov_moves_with_it_even_after_an_earlier_mdat() {
    // FAILS before issue 26: once an mdat was seen, moov grew and no chunk offset moved.
    let src = with_before_moov(&atom(b"mdat", b"earlier media").unwrap());
    let before = all_chunks(&src);
    assert!(before.iter().all(|(_, b)| b.len() == 16));
    let (out, w) = rewrite_vec(&src, &tags());
    assert!(w.changed && !w.incomplete, "{:?}", w.notes);
    assert!(out.len() > src.len(), "moov grew");
    let after: Vec<Vec<u8>> = all_chunks(&out).into_iter().map(|c| c.1).collect();
    let before: Vec<Vec<u8>> = before.into_iter().map(|c| c.1).collect();
    assert_eq!(after, before, "every chunk reads the same bytes");
}

/// clip.mp4 whose `trak/edts` claims 0x7FFFFFFF bytes (players clamp it to its parent and
/// read on).
fn with_huge_edts() -> Vec<u8> {
    let mut src = fixture("clip.mp4");
    assert_eq!(&src[252..256], b"edts");
    src[248..252].copy_from_slice(&0x7FFF_FFFFu32.to_be_bytes());
    src
}

#[test]
fn moov_does_not_grow_when_a_track_s_tables_are_out_of_reach() {
    // FAILS before issue 26: moov grew, the unreached stco was not shifted.
    let src = with_huge_edts();
    let (out, w) = rewrite_vec(&src, &tags());
    assert_eq!(out.len(), src.len(), "moov keeps its size: {:?}", w.notes);
    assert!(out[940..] == src[940..], "media untouched");
    // The stco box (at 822 in clip.mp4) is as it was.
    assert_eq!(out[822..842], src[822..842]);
    assert!(w.incomplete, "{:?}", w.notes);
    assert!(
        w.notes.iter().any(|n| n.contains("location not embedded")),
        "{:?}",
        w.notes
    );
}

/// clip.mp4 with `depth` boxes nested in one another as moov's last child.
fn deeply_nested(depth: usize) -> Vec<u8> {
    let mut chain = Vec::with_capacity(depth * 8);
    for i in 0..depth {
        chain.extend_from_slice(&(((depth - i) * 8) as u32).to_be_bytes());
        chain.extend_from_slice(b"trak");
    }
    let src = fixture("clip.mp4");
    let moov = *top(&src).iter().find(|b| &b.kind == b"moov").unwrap();
    let mut m = src[moov.start..moov.end].to_vec();
    let mb = children(&m, 0, m.len())[0];
    shift_chunk_offsets(&mut m, mb, 0, chain.len() as u64).unwrap();
    m.extend_from_slice(&chain);
    let len = m.len() as u64;
    set_size(&mut m, 8, len).unwrap();
    let mut out = src[..moov.start].to_vec();
    out.extend_from_slice(&m);
    out.extend_from_slice(&src[moov.end..]);
    out
}

#[test]
fn deep_nesting_is_refused_without_recursion() {
    // FAILS before issue 26 (a stack overflow aborts the process): run on a small stack.
    let src = deeply_nested(200_000);
    let (out, w) = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let r = rewrite_vec(&src, &tags());
            (r, src)
        })
        .unwrap()
        .join()
        .map(|((out, w), src)| {
            assert!(out == src, "copied unchanged");
            (out, w)
        })
        .unwrap();
    assert!(
        !w.changed && w.incomplete && !out.is_empty(),
        "{:?}",
        w.notes
    );
    assert!(
        w.notes.iter().any(|n| n.contains("nested")),
        "{:?}",
        w.notes
    );
}

#[test]
fn a_video_cut_short_after_moov_is_told_as_it_is() {
    // FAILS before issue 26: the note said "copied unchanged" of an edited file.
    let src = fixture("clip.mp4");
    let (out, w) = rewrite_vec(&src[..1000], &tags());
    assert!(w.changed);
    assert!(out.len() > 1000);
    assert!(
        w.notes.iter().all(|n| !n.contains("unchanged")),
        "{:?}",
        w.notes
    );
    assert!(
        w.notes.iter().any(|n| n.contains("cut short")),
        "{:?}",
        w.notes
    );
}

#[test]
fn a_free_box_after_moov_that_fits_the_growth_exactly_goes_whole() {
    let (grown, _) = rewrite_vec(&fixture("clip.mp4"), &tags());
    let growth = grown.len() - fixture("clip.mp4").len();
    for n in [growth, growth + 8, growth + 9] {
        let src = with_free(n, false);
        let (out, w) = rewrite_vec(&src, &tags());
        assert!(w.changed, "{n}: {:?}", w.notes);
        assert_eq!(out.len(), src.len(), "{n}");
        assert_eq!(all_chunks(&out), all_chunks(&src), "{n}");
        assert!(out[mdat_at(&src)..] == src[mdat_at(&src)..], "{n}");
    }
}

#[test]
fn nesting_up_to_the_limit_is_walked() {
    let nested = |n| {
        let (_, w) = rewrite_vec(&deeply_nested(n), &tags());
        w.notes.iter().any(|n| n.contains("nested"))
    };
    assert!(
        !nested(MAX_DEPTH),
        "{MAX_DEPTH} levels below moov are walked"
    );
    assert!(nested(MAX_DEPTH + 1));
}
