//! The fields of a manifest line read in place, for the common line: one with no escape
//! and no whitespace between its tokens, which is every line gpbackup writes for names
//! without quotes, backslashes or control characters.
//!
//! Written by hand for speed where a whole manifest is read to answer one question
//! (`verify --against`): serde_json's derive reads such a line at about 500 MB/s, handing
//! each skipped field to a visitor and each borrowed string through a `Cow`; this walks
//! the bytes once. It is strict: whatever it is not sure of (an escape, whitespace, a number
//! serde would take as a float, a key given twice, a line cut short) makes the caller's
//! read give `None`, and the line goes to serde_json, which stays the judge of every line
//! this does not read. What it does read, it reads as serde_json would (tested against it).

/// A position in one line.
pub(crate) struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
    depth: u32,
}

/// Deeper nesting than this is left to serde_json (whose own limit is 128).
const MAX_DEPTH: u32 = 32;

impl<'a> Cursor<'a> {
    /// A cursor at the start of `line`, or `None` for a line with an escape in it.
    pub(crate) fn new(line: &'a [u8]) -> Option<Cursor<'a>> {
        (!line.contains(&b'\\')).then_some(Cursor {
            b: line,
            i: 0,
            depth: 0,
        })
    }

    /// Whether the whole line has been read.
    pub(crate) fn at_end(&self) -> bool {
        self.i == self.b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn eat_word(&mut self, w: &[u8]) -> bool {
        let hit = self.b[self.i..].starts_with(w);
        if hit {
            self.i += w.len();
        }
        hit
    }

    /// An object: `field` is called with each key and must read its value.
    pub(crate) fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        self.nest()?;
        if self.eat(b'}').is_none() {
            loop {
                let key = self.str()?;
                self.eat(b':')?;
                field(self, key)?;
                match self.peek()? {
                    b',' => self.i += 1,
                    b'}' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// An array: `item` is called for each element and must read it.
    pub(crate) fn array(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        self.nest()?;
        if self.eat(b']').is_none() {
            loop {
                item(self)?;
                match self.peek()? {
                    b',' => self.i += 1,
                    b']' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    fn nest(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// A string (valid UTF-8, no control character: as serde_json requires).
    pub(crate) fn str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let len = self.b[self.i..].iter().position(|&c| c == b'"')?;
        let bytes = &self.b[self.i..self.i + len];
        if bytes.iter().any(|&c| c < 0x20) {
            return None;
        }
        let s = std::str::from_utf8(bytes).ok()?;
        self.i += len + 1;
        Some(s)
    }

    /// `null`, if that is what comes next (then read).
    pub(crate) fn null(&mut self) -> bool {
        self.eat_word(b"null")
    }

    pub(crate) fn bool(&mut self) -> Option<bool> {
        if self.eat_word(b"true") {
            Some(true)
        } else if self.eat_word(b"false") {
            Some(false)
        } else {
            None
        }
    }

    /// A number's text, by JSON's grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Option<&'a str> {
        let start = self.i;
        let digits = |c: &mut Self| {
            let from = c.i;
            while c.peek().is_some_and(|d| d.is_ascii_digit()) {
                c.i += 1;
            }
            c.i > from
        };
        self.eat_word(b"-");
        // One zero, or digits that do not start with one.
        let whole = self.eat_word(b"0") || (self.peek().is_some_and(|d| d != b'0') && digits(self));
        if !whole {
            return None;
        }
        if self.eat_word(b".") && !digits(self) {
            return None;
        }
        if self.eat_word(b"e") || self.eat_word(b"E") {
            if !self.eat_word(b"+") {
                self.eat_word(b"-");
            }
            if !digits(self) {
                return None;
            }
        }
        // Numbers are ASCII.
        std::str::from_utf8(&self.b[start..self.i]).ok()
    }

    /// An integer serde_json would give a `u64` field (no sign, fraction or exponent).
    pub(crate) fn u64(&mut self) -> Option<u64> {
        let n = self.number()?;
        if n.bytes().all(|c| c.is_ascii_digit()) {
            n.parse().ok()
        } else {
            None
        }
    }

    /// An integer serde_json would give an `i64` field (it takes `-0` for a float).
    pub(crate) fn i64(&mut self) -> Option<i64> {
        let n = self.number()?;
        let digits = n.strip_prefix('-').unwrap_or(n);
        if n == "-0" || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        n.parse().ok()
    }

    /// Any value, read and thrown away.
    pub(crate) fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(|c, _| c.skip()),
            b'[' => self.array(Self::skip),
            b'"' => self.str().map(drop),
            b't' | b'f' => self.bool().map(drop),
            b'n' => self.null().then_some(()),
            _ => self.number().map(drop),
        }
    }
}

/// Remembers which of a few fields were read, to refuse a line that gives one twice (as
/// serde_json's derive does).
#[derive(Default)]
pub(crate) struct Seen(u32);

impl Seen {
    /// Marks field `k` (below 32); `None` if it was already read.
    pub(crate) fn once(&mut self, k: u32) -> Option<()> {
        let bit = 1 << k;
        let fresh = self.0 & bit == 0;
        self.0 |= bit;
        fresh.then_some(())
    }

    pub(crate) fn has(&self, k: u32) -> bool {
        self.0 & (1 << k) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Option<()> {
        let mut c = Cursor::new(text.as_bytes())?;
        c.skip()?;
        c.at_end().then_some(())
    }

    #[test]
    fn values_are_read_by_jsons_grammar() {
        for ok in [
            "0",
            "-0",
            "12",
            "-3.25e+10",
            "2.5e-3",
            "1E5",
            "0.5",
            "true",
            "null",
            "\"é ☕\"",
            "{}",
            "[]",
            "{\"a\":[1,{\"b\":null}],\"c\":\"\"}",
        ] {
            assert_eq!(value(ok), Some(()), "{ok}");
            assert!(serde_json::from_str::<serde_json::Value>(ok).is_ok());
        }
        for bad in [
            "01",
            "-",
            "1.",
            ".5",
            "1e",
            "+1",
            "tru",
            "nul",
            "\"a",
            "{",
            "[1,]",
            "{\"a\"}",
            "{\"a\":1,}",
            "[1 ]",
            "\"a\u{1}\"",
            "{1:2}",
        ] {
            assert_eq!(value(bad), None, "{bad}");
        }
        // Escapes and spaces are serde_json's to read.
        assert!(Cursor::new(b"\"a\\\"b\"").is_none());
        assert_eq!(value("[1, 2]"), None);
        // Nesting deeper than the limit.
        let deep = "[".repeat(40) + &"]".repeat(40);
        assert_eq!(value(&deep), None);
        assert_eq!(value(&("[".repeat(30) + &"]".repeat(30))), Some(()));
        // Many values side by side are not deep.
        let wide = format!("[{}{{}}]", "[],{\"a\":[]},".repeat(40));
        assert_eq!(value(&wide), Some(()));
    }

    #[test]
    fn integers_are_read_as_serde_json_reads_them() {
        let u = |t: &str| Cursor::new(t.as_bytes()).and_then(|mut c| c.u64());
        let i = |t: &str| Cursor::new(t.as_bytes()).and_then(|mut c| c.i64());
        assert_eq!(u("18446744073709551615"), Some(u64::MAX));
        assert_eq!(u("18446744073709551616"), None);
        assert_eq!(u("-1"), None);
        assert_eq!(u("1.0"), None);
        assert_eq!(u("1e3"), None);
        assert_eq!(i("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(i("9223372036854775808"), None);
        assert_eq!(i("-5"), Some(-5));
        assert_eq!(i("-5.5"), None);
        assert_eq!((i("-0"), i("0"), u("0")), (None, Some(0), Some(0)));
        assert!(serde_json::from_str::<i64>("-0").is_err());
        assert_eq!(serde_json::from_str::<i64>("0").ok(), Some(0));
        for t in ["18446744073709551616", "-1", "1.0", "1e3"] {
            assert!(serde_json::from_str::<u64>(t).is_err(), "{t}");
        }
        assert!(serde_json::from_str::<i64>("9223372036854775808").is_err());
    }

    #[test]
    fn a_field_read_twice_is_refused() {
        let mut seen = Seen::default();
        assert_eq!(seen.once(3), Some(()));
        assert!(seen.has(3) && !seen.has(2));
        assert_eq!(seen.once(3), None);
    }
}
