//! Stored keys (`key_bytes.rs`'s self-describing encoding) rendered as Rust-like text, for
//! tools that show what a cache holds: `("cat.png", 64u32)`, `Point { x: 1i32, y: 2i32 }`.
//!
//! Reading is defensive — the bytes come from disk — and bounded: a malformed or truncated key
//! ends the text with `…`, and nesting deeper than [`MAX_DEPTH`] is cut the same way.

use std::fmt::Write as _;

/// Deepest nesting rendered.
const MAX_DEPTH: usize = 32;

/// `bytes` as text, at most about `max_chars` characters (then cut with `…`).
///
/// ```
/// use twat_cache::disk::describe_key;
///
/// // What `#[fcache]` stores for the arguments `("cat.png", 64u32)` (a 2-tuple of a string
/// // and a u32), written out by hand: tuple tag, length, string tag, length, bytes, u32 tag…
/// let mut key = vec![26, 2, 15, 7];
/// key.extend_from_slice(b"cat.png");
/// key.push(9);
/// key.extend_from_slice(&64u32.to_le_bytes());
/// assert_eq!(describe_key(&key, 80), r#"("cat.png", 64u32)"#);
/// ```
pub fn describe_key(bytes: &[u8], max_chars: usize) -> String {
    let mut reader = Reader {
        bytes,
        pos: 0,
        out: String::new(),
        max_chars,
    };
    let complete = reader.value(0).is_some() && reader.pos == bytes.len();
    let mut text = reader.out;
    if !complete || text.chars().count() > max_chars {
        text = text.chars().take(max_chars.saturating_sub(1)).collect();
        text.push('…');
    }
    text
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    out: String,
    max_chars: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(n)?;
        let slice = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(slice)
    }

    fn fixed<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn len(&mut self) -> Option<usize> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return usize::try_from(n).ok();
            }
        }
        None
    }

    fn text(&mut self) -> Option<String> {
        let n = self.len()?;
        Some(String::from_utf8_lossy(self.take(n)?).into_owned())
    }

    /// Whether the output is long enough that nothing more will be shown.
    fn full(&self) -> bool {
        self.out.len() > self.max_chars.saturating_mul(4)
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH || self.full() {
            return None;
        }
        let tag = self.byte()?;
        macro_rules! number {
            ($ty:ty, $suffix:literal) => {{
                let v = <$ty>::from_le_bytes(self.fixed()?);
                let _ = write!(self.out, "{v}{}", $suffix);
            }};
        }
        match tag {
            1 => {
                let v = self.byte()? != 0;
                let _ = write!(self.out, "{v}");
            }
            2 => number!(i8, "i8"),
            3 => number!(i16, "i16"),
            4 => number!(i32, "i32"),
            5 => number!(i64, "i64"),
            6 => number!(i128, "i128"),
            7 => number!(u8, "u8"),
            8 => number!(u16, "u16"),
            9 => number!(u32, "u32"),
            10 => number!(u64, "u64"),
            11 => number!(u128, "u128"),
            12 => number!(f32, "f32"),
            13 => number!(f64, "f64"),
            14 => {
                let c = char::from_u32(u32::from_le_bytes(self.fixed()?))?;
                let _ = write!(self.out, "{c:?}");
            }
            15 => {
                let s = self.text()?;
                let _ = write!(self.out, "{s:?}");
            }
            16 => {
                let n = self.len()?;
                let bytes = self.take(n)?.escape_ascii().to_string();
                let _ = write!(self.out, "b\"{bytes}\"");
            }
            17 => self.out.push_str("None"),
            18 => {
                self.out.push_str("Some(");
                self.value(depth + 1)?;
                self.out.push(')');
            }
            19 => self.out.push_str("()"),
            20 => {
                let name = self.text()?;
                self.out.push_str(&name);
            }
            21 => self.variant_name()?,
            22 => {
                let name = self.text()?;
                let _ = write!(self.out, "{name}(");
                self.value(depth + 1)?;
                self.out.push(')');
            }
            23 => {
                self.variant_name()?;
                self.out.push('(');
                self.value(depth + 1)?;
                self.out.push(')');
            }
            24 => {
                let n = self.len()?;
                self.elements(n, "[", "]", depth)?;
            }
            25 => self.until_end(false, depth)?,
            26 => {
                let n = self.len()?;
                self.elements(n, "(", if n == 1 { ",)" } else { ")" }, depth)?;
            }
            27 => {
                let name = self.text()?;
                let n = self.len()?;
                self.out.push_str(&name);
                self.elements(n, "(", ")", depth)?;
            }
            28 => {
                self.variant_name()?;
                let n = self.len()?;
                self.elements(n, "(", ")", depth)?;
            }
            29 => {
                let n = self.len()?;
                self.out.push('{');
                for i in 0..n {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.value(depth + 1)?;
                    self.out.push_str(": ");
                    self.value(depth + 1)?;
                }
                self.out.push('}');
            }
            30 => self.until_end(true, depth)?,
            31 => {
                let name = self.text()?;
                let n = self.len()?;
                self.out.push_str(&name);
                self.fields(n, depth)?;
            }
            32 => {
                self.variant_name()?;
                let n = self.len()?;
                self.fields(n, depth)?;
            }
            _ => return None,
        }
        Some(())
    }

    fn variant_name(&mut self) -> Option<()> {
        let name = self.text()?;
        let _index: [u8; 4] = self.fixed()?;
        let variant = self.text()?;
        let _ = write!(self.out, "{name}::{variant}");
        Some(())
    }

    fn elements(&mut self, n: usize, open: &str, close: &str, depth: usize) -> Option<()> {
        self.out.push_str(open);
        for i in 0..n {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.value(depth + 1)?;
        }
        self.out.push_str(close);
        Some(())
    }

    /// A sequence (or map, `pairs`) of unknown length, closed by the end tag (33).
    fn until_end(&mut self, pairs: bool, depth: usize) -> Option<()> {
        self.out.push(if pairs { '{' } else { '[' });
        let mut first = true;
        while *self.bytes.get(self.pos)? != 33 {
            if !first {
                self.out.push_str(", ");
            }
            first = false;
            self.value(depth + 1)?;
            if pairs {
                self.out.push_str(": ");
                self.value(depth + 1)?;
            }
        }
        self.pos += 1;
        self.out.push(if pairs { '}' } else { ']' });
        Some(())
    }

    /// `n` struct fields, each a field tag (34) with its name and value. Fields skipped by
    /// `skip_serializing_if` are not counted in `n` but leave a skipped-field tag (35) and their
    /// name wherever they were: passed over, before, between and after.
    fn fields(&mut self, n: usize, depth: usize) -> Option<()> {
        self.out.push_str(" { ");
        for i in 0..n {
            self.skipped_fields()?;
            if self.byte()? != 34 {
                return None;
            }
            let name = self.text()?;
            if i > 0 {
                self.out.push_str(", ");
            }
            let _ = write!(self.out, "{name}: ");
            self.value(depth + 1)?;
        }
        self.skipped_fields()?;
        self.out.push_str(" }");
        Some(())
    }

    fn skipped_fields(&mut self) -> Option<()> {
        while self.bytes.get(self.pos) == Some(&35) {
            self.pos += 1;
            self.text()?;
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::describe_key;
    use crate::disk::key_bytes::encode;

    #[derive(serde::Serialize)]
    struct Point {
        x: i32,
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    }

    #[derive(serde::Serialize)]
    enum Shape {
        Dot,
        Circle(u8),
        Rect { w: u16, h: u16 },
    }

    fn text<K: serde::Serialize + ?Sized>(key: &K) -> String {
        describe_key(&encode(key).unwrap(), 200)
    }

    #[test]
    fn keys_read_like_the_arguments() {
        assert_eq!(text(&("cat.png", 64u32)), r#"("cat.png", 64u32)"#);
        assert_eq!(text(&(7u64,)), "(7u64,)");
        assert_eq!(text(&()), "()");
        assert_eq!(
            text(&(Point { x: 1, label: None },)),
            "(Point { x: 1i32 },)"
        );
        assert_eq!(
            text(&Point {
                x: -2,
                label: Some("a".into())
            }),
            r#"Point { x: -2i32, label: Some("a") }"#
        );
        assert_eq!(
            text(&vec![
                Shape::Dot,
                Shape::Circle(3),
                Shape::Rect { w: 1, h: 2 }
            ]),
            "[Shape::Dot, Shape::Circle(3u8), Shape::Rect { w: 1u16, h: 2u16 }]"
        );
        let map: std::collections::BTreeMap<&str, bool> = [("k", true)].into();
        assert_eq!(text(&map), r#"{"k": true}"#);
        assert_eq!(text(&(Some('x'), 1.5f64)), "(Some('x'), 1.5f64)");
    }

    #[test]
    fn long_and_damaged_keys_are_cut() {
        let long = "x".repeat(500);
        let shown = describe_key(&encode(&(long.as_str(),)).unwrap(), 20);
        assert_eq!(shown.chars().count(), 20);
        assert!(shown.ends_with('…'));
        let bytes = encode(&("abc", 1u8)).unwrap();
        for cut in 0..bytes.len() {
            assert!(
                describe_key(&bytes[..cut], 50).ends_with('…'),
                "cut at {cut}"
            );
        }
        assert_eq!(describe_key(&[200, 1, 2], 10), "…");
    }
}
