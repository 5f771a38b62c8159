//! The few JSON facts the server writes or reads itself: escaping a string, reading a
//! top-level string field of an already validated object, and appending an argument
//! to an encoded event frame. Everything else stays raw JSON handled by the codec.

use std::borrow::Cow;

/// Appends `s` as a JSON string literal (quotes included) to `out`.
pub(crate) fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The value of the top-level field `key` of the JSON object `obj` when it is a string.
///
/// `obj` must be valid JSON (the codec validated it); anything unexpected gives `None`.
pub(crate) fn top_level_string<'a>(obj: &'a str, key: &str) -> Option<Cow<'a, str>> {
    let mut s = Scanner {
        b: obj.as_bytes(),
        text: obj,
        i: 0,
    };
    s.ws();
    s.eat(b'{')?;
    loop {
        s.ws();
        if s.eat(b'}').is_some() {
            return None;
        }
        let name = s.string()?;
        s.ws();
        s.eat(b':')?;
        s.ws();
        if s.peek()? == b'"' {
            let value = s.string()?;
            if name == key {
                return Some(value);
            }
        } else {
            s.skip_value()?;
        }
        s.ws();
        s.eat(b',')?;
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    text: &'a str,
    i: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// A string literal, unescaped.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.i;
        loop {
            match self.peek()? {
                b'"' => {
                    let raw = self.text.get(start..self.i)?;
                    self.i += 1;
                    return Some(Cow::Borrowed(raw));
                }
                b'\\' => break,
                _ => self.i += 1,
            }
        }
        // Escapes: decode the rest the slow way.
        let mut out = String::from(self.text.get(start..self.i)?);
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(Cow::Owned(out));
                }
                b'\\' => {
                    self.i += 1;
                    let c = self.peek()?;
                    self.i += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                self.eat(b'\\')?;
                                self.eat(b'u')?;
                                let lo = self.hex4()?;
                                0x10000 + ((hi - 0xD800) << 10) + (lo.checked_sub(0xDC00)?)
                            } else {
                                hi
                            };
                            out.push(char::from_u32(code)?);
                        }
                        _ => return None,
                    }
                }
                _ => {
                    // Copy one UTF-8 character.
                    let rest = self.text.get(self.i..)?;
                    let c = rest.chars().next()?;
                    out.push(c);
                    self.i += c.len_utf8();
                }
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.i..self.i + 4)?;
        self.i += 4;
        u32::from_str_radix(digits, 16).ok()
    }

    /// Skips any non-string value (strings inside are skipped as strings).
    fn skip_value(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match self.peek()? {
                b'"' => {
                    self.string()?;
                }
                b'{' | b'[' => {
                    depth += 1;
                    self.i += 1;
                }
                b'}' | b']' if depth > 0 => {
                    depth -= 1;
                    self.i += 1;
                }
                b',' | b'}' | b']' if depth == 0 => return Some(()),
                _ => self.i += 1,
            }
            if depth == 0 && matches!(self.peek(), Some(b',' | b'}')) {
                return Some(());
            }
        }
    }
}

/// Encodes `n` in yeast's alphabet (what socket.io's in-memory adapter uses for offsets).
pub(crate) fn yeast(mut n: u64) -> String {
    const ALPHABET: &[u8; 64] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";
    let mut digits = Vec::with_capacity(11);
    loop {
        digits.push(ALPHABET[(n % 64) as usize]);
        n /= 64;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).expect("alphabet is ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_top_level_strings_only() {
        let obj = r#"{"a":{"pid":"nested"},"n":[1,{"x":"]"}],"pid":"p\"1\u00e9","offset":"o1"}"#;
        assert_eq!(top_level_string(obj, "pid").as_deref(), Some("p\"1é"));
        assert_eq!(top_level_string(obj, "offset").as_deref(), Some("o1"));
        assert_eq!(top_level_string(obj, "a"), None);
        assert_eq!(top_level_string(r#"{"pid":3}"#, "pid"), None);
        assert_eq!(top_level_string("{}", "pid"), None);
        assert_eq!(
            top_level_string(r#" { "pid" : "x" } "#, "pid").as_deref(),
            Some("x")
        );
    }

    #[test]
    fn escapes_and_yeast() {
        let mut out = String::new();
        push_string(&mut out, "a\"b\\c\n\u{1}");
        assert_eq!(out, r#""a\"b\\c\n\u0001""#);
        assert_eq!(yeast(0), "0");
        assert_eq!(yeast(64), "10");
        assert_eq!(yeast(63), "_");
    }
}
