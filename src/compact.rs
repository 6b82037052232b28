//! The compact collections: maps from 128-bit keys built once and then only read
//! ([`IdMap`], over [`Buckets`]), and many strings kept in one ([`Strings`], each found by
//! its [`Span`]). A run holds one item of them per Takeout entry or library file, a million
//! at a time, so each costs a few bytes where a hash table's slot or a `String` of its own
//! costs tens.

use std::ops::Deref;

/// A 128-bit key as an [`IdMap`] stores it: two `u64`s, aligned to 8 bytes (a `u128` is
/// aligned to 16, which pads a key and a `u32` to 32 bytes).
pub type Id = [u64; 2];

/// The [`Id`] of a 128-bit key.
pub fn id(key: u128) -> Id {
    [(key >> 64) as u64, key as u64]
}

/// The 128-bit key of an [`Id`].
pub fn from_id([hi, lo]: Id) -> u128 {
    (u128::from(hi) << 64) | u128::from(lo)
}

/// A map from 128-bit keys (content hashes, entry ids: evenly spread) to small values, built
/// once and then only read: one sorted vector and a table of where each key prefix starts.
/// A hash table of half a million keys has room for a million (it doubles past seven eighths
/// full) and pads `u128` keys; this holds 16 bytes a key and its value, and a lookup reads
/// about four neighbours (a binary search over all of them misses the cache at every step).
#[derive(Debug, Clone)]
pub struct IdMap<V> {
    items: Vec<(Id, V)>,
    buckets: Buckets,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap {
            items: Vec::new(),
            buckets: Buckets::default(),
        }
    }
}

/// Where the items of a list sorted by a hash begin, by the hash's first bits (and, last, the
/// end): a lookup searches the handful of items of one bucket, about four, not all of them (a
/// binary search over all misses the cache at every step). Used by [`IdMap`] and the
/// matcher's key indexes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Buckets {
    starts: Vec<u32>,
    bits: u32,
}

impl Buckets {
    /// The buckets of `n` items sorted by `top(i)`, the first 64 bits of item `i`'s hash:
    /// about four items a bucket, `2^max_bits` buckets at most.
    pub(crate) fn of(n: usize, max_bits: u32, top: impl Fn(usize) -> u64) -> Buckets {
        u32::try_from(n).expect("under 4 billion keys");
        let bits = (n / 4).max(1).ilog2().min(max_bits);
        let mut starts = Vec::with_capacity((1 << bits) + 1);
        let mut at = 0;
        for b in 0..1usize << bits {
            while at < n && prefix(top(at), bits) < b {
                at += 1;
            }
            starts.push(at as u32);
        }
        starts.push(n as u32);
        Buckets { starts, bits }
    }

    /// The items whose hash starts like `top` does (none before [`Buckets::of`]).
    pub(crate) fn range(&self, top: u64) -> std::ops::Range<usize> {
        let b = prefix(top, self.bits);
        match (self.starts.get(b), self.starts.get(b + 1)) {
            (Some(&from), Some(&to)) => from as usize..to as usize,
            _ => 0..0,
        }
    }

    /// How many buckets there are, and the items of each.
    #[cfg(test)]
    pub(crate) fn sizes(&self) -> (usize, Vec<usize>) {
        let sizes = self.starts.windows(2).map(|w| (w[1] - w[0]) as usize);
        (1 << self.bits, sizes.collect())
    }
}

impl IdMap<()> {
    /// The set of `keys` (look them up with [`IdMap::contains_key`]).
    pub fn set_of(keys: impl IntoIterator<Item = u128>) -> IdMap<()> {
        IdMap::build(keys.into_iter().map(|k| (id(k), ())).collect(), false)
    }
}

impl<V: Copy> IdMap<V> {
    /// The map of `items`; of items with the same key, the last one given wins when
    /// `last_wins`, the first otherwise.
    pub fn build(mut items: Vec<(Id, V)>, last_wins: bool) -> IdMap<V> {
        if last_wins {
            items.reverse();
        }
        // Stable: of equal keys, the one that wins comes first, and `dedup` keeps it.
        items.sort_by_key(|item| item.0);
        items.dedup_by_key(|item| item.0);
        Self::indexed(items)
    }

    /// The map of `items` keeping every value of a key, in the order given (see
    /// [`IdMap::get_all`]; [`IdMap::get`] gives the first).
    pub fn build_all(mut items: Vec<(Id, V)>) -> IdMap<V> {
        items.sort_by_key(|item| item.0);
        Self::indexed(items)
    }

    /// The map of `items`, sorted by key.
    fn indexed(mut items: Vec<(Id, V)>) -> IdMap<V> {
        items.shrink_to_fit();
        let buckets = Buckets::of(items.len(), 24, |i| items[i].0[0]);
        IdMap { items, buckets }
    }

    pub fn get(&self, key: u128) -> Option<V> {
        self.get_all(key).first().map(|item| item.1)
    }

    /// Every value of `key`, in the order given (one at most unless built with
    /// [`IdMap::build_all`]).
    pub fn get_all(&self, key: u128) -> &[(Id, V)] {
        let key = id(key);
        let bucket = &self.items[self.buckets.range(key[0])];
        let start = bucket.partition_point(|item| item.0 < key);
        let end = start + bucket[start..].partition_point(|item| item.0 == key);
        &bucket[start..end]
    }

    pub fn contains_key(&self, key: u128) -> bool {
        self.get(key).is_some()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Every (key, value), by key.
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (u128, V)> + '_ {
        self.items.iter().map(|(k, v)| (from_id(*k), *v))
    }
}

/// The first `bits` bits of a hash's first 64.
fn prefix(top: u64, bits: u32) -> usize {
    top.checked_shr(64 - bits).unwrap_or(0) as usize
}

/// Where a string is in a [`Strings`]: its start and its length, in bytes (8 bytes, aligned
/// to 4, so that it packs beside a `u32` in the structs a million entries hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    at: u32,
    len: u32,
}

/// Many strings one after the other in one: how a million names or paths are kept, instead
/// of a `String` each (16 to 24 bytes of pointer and an allocation apiece). [`Strings::push`]
/// appends one and gives its [`Span`], [`Strings::get`] reads it back. `S` is the text:
/// a `String` while strings are added, a `Box<str>` once they all are
/// ([`Strings::into_boxed`] drops the spare room, and 8 bytes of the holder).
#[derive(Debug, Clone, Default)]
pub(crate) struct Strings<S = String> {
    text: S,
}

impl Strings {
    /// Appends `s` and returns its [`Span`]. All of the text stays under 4 GB, so that the
    /// span's end fits a `u32` as well.
    pub(crate) fn push(&mut self, s: &str) -> Span {
        let fits = |n: usize| u32::try_from(n).expect("under 4 GB of names in one string");
        let span = Span {
            at: fits(self.text.len()),
            len: fits(s.len()),
        };
        fits(self.text.len() + s.len());
        self.text.push_str(s);
        span
    }

    /// The same strings in a text of their exact size, which no more are added to.
    pub(crate) fn into_boxed(self) -> Strings<Box<str>> {
        Strings {
            text: self.text.into_boxed_str(),
        }
    }
}

impl<S: Deref<Target = str>> Strings<S> {
    /// The string at `span`, as [`Strings::push`] gave it.
    pub(crate) fn get(&self, span: Span) -> &str {
        &self.text[span.at as usize..span.at as usize + span.len as usize]
    }

    /// All of the strings, one after the other.
    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_map_finds_what_it_was_given() {
        assert_eq!(IdMap::<u32>::build(Vec::new(), false).get(7), None);
        assert!(IdMap::<u32>::default().is_empty());
        // Keys at both ends of the range, in the middle, and many sharing a prefix.
        let mut keys: Vec<u128> = vec![0, 1, u128::MAX, u128::MAX - 1, 1 << 64, (1 << 64) - 1];
        keys.extend((0..5000u128).map(|i| xxhash_rust::xxh3::xxh3_128(&i.to_le_bytes())));
        keys.extend((0..100u128).map(|i| (7 << 120) | i));
        let items: Vec<(Id, u32)> = (0u32..).zip(&keys).map(|(v, k)| (id(*k), v)).collect();
        let map = IdMap::build(items, false);
        assert_eq!(map.len(), keys.len());
        for (v, k) in (0u32..).zip(&keys) {
            assert_eq!(map.get(*k), Some(v), "{k:x}");
        }
        for absent in [2, u128::MAX - 2, (7 << 120) | 100, 1 << 127] {
            assert!(!map.contains_key(absent), "{absent:x}");
        }
        let mut all: Vec<(u128, u32)> = map.iter().collect();
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "by key");
        all.sort_by_key(|&(_, v)| v);
        assert_eq!(all.iter().map(|&(k, _)| k).collect::<Vec<_>>(), keys);
        assert!(!map.is_empty());
        // About four keys a bucket: few enough to scan, not so few that the table is large.
        let (count, sizes) = map.buckets.sizes();
        assert_eq!(sizes.len(), count);
        assert_eq!(sizes.iter().sum::<usize>(), keys.len());
        let per_bucket = keys.len() / count;
        assert!((2..=8).contains(&per_bucket), "{count} buckets");
        // The buckets split the keys by their top bits: about half start with a 1.
        let half: usize = sizes[..count / 2].iter().sum();
        assert!(
            (keys.len() / 4..keys.len() * 3 / 4).contains(&half),
            "{half} of {} keys before the middle bucket",
            keys.len()
        );
    }

    #[test]
    fn a_prefix_is_the_top_bits() {
        assert_eq!(prefix(u64::MAX, 4), 15);
        assert_eq!(prefix(1 << 60, 4), 1);
        assert_eq!(prefix((1 << 60) - 1, 4), 0);
        assert_eq!(prefix(u64::MAX, 0), 0);
        assert_eq!(prefix(u64::MAX, 24), (1 << 24) - 1);
        assert_eq!(
            Buckets::default().range(7),
            0..0,
            "none before they are made"
        );
    }

    #[test]
    fn of_equal_keys_the_first_or_the_last_wins() {
        let items = vec![(id(5), 'a'), (id(9), 'x'), (id(5), 'b'), (id(5), 'c')];
        let first = IdMap::build(items.clone(), false);
        let last = IdMap::build(items, true);
        assert_eq!((first.get(5), last.get(5)), (Some('a'), Some('c')));
        assert_eq!((first.get(9), last.get(9)), (Some('x'), Some('x')));
        assert_eq!((first.len(), last.len()), (2, 2));
        let set = IdMap::set_of([3, 1, 3]);
        assert_eq!(set.len(), 2);
        assert!(set.contains_key(1) && set.contains_key(3) && !set.contains_key(2));
        let items = vec![(id(5), 'a'), (id(9), 'x'), (id(5), 'b'), (id(5), 'c')];
        let all = IdMap::build_all(items);
        let values = |k| all.get_all(k).iter().map(|i| i.1).collect::<String>();
        assert_eq!(
            (values(5), values(9), values(7)),
            ("abc".into(), "x".into(), "".into())
        );
        assert_eq!(all.get(5), Some('a'));
        assert_eq!(all.len(), 4);
    }

    #[test]
    fn strings_in_one_read_back_by_their_spans() {
        assert_eq!(std::mem::size_of::<Span>(), 8);
        let mut strings: Strings = Strings::default();
        let spans: Vec<Span> = ["a.jpg", "", "été.mp4"]
            .iter()
            .map(|n| strings.push(n))
            .collect();
        let at_len: Vec<(u32, u32)> = spans.iter().map(|s| (s.at, s.len)).collect();
        assert_eq!(at_len, [(0, 5), (5, 0), (5, 9)], "lengths in bytes");
        assert_eq!(strings.as_str(), "a.jpgété.mp4");
        let back: Vec<&str> = spans.iter().map(|&s| strings.get(s)).collect();
        assert_eq!(back, ["a.jpg", "", "été.mp4"]);
        let boxed = strings.into_boxed();
        let back: Vec<&str> = spans.iter().map(|&s| boxed.get(s)).collect();
        assert_eq!(back, ["a.jpg", "", "été.mp4"]);
        assert_eq!(boxed.as_str(), "a.jpgété.mp4");
    }
}
