//! JSON as JavaScript peers write and read it.
//!
//! - [`to_writer`] serialises like `JSON.stringify`: same as serde_json's compact output
//!   except numbers, which follow JavaScript's number-to-string rules (`1` for `1.0`,
//!   `0` for `-0.0`, `100000000000000000000` for `1e20`, `1e+21`, `0.000001`, `1e-7`).
//!   The reference parsers then re-encode our packets byte for byte.
//! - [`check_placeholders`] finds attachment placeholders in already validated JSON in one
//!   linear pass over the bytes. It never unescapes strings, so it accepts what
//!   JavaScript accepts, lone UTF-16 surrogates (`"\ud83d"`) included, which a serde
//!   visitor over `&str` would refuse.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

use super::error::DecodeError;

/// How deep [`check_placeholders`] follows nested objects and arrays (serde_json's own
/// limit for typed deserialisation, so nothing deeper could be read back anyway).
pub(crate) const MAX_DEPTH: usize = 128;

/// Serialises `value` as `JSON.stringify` would.
pub(crate) fn to_writer<W: io::Write, T: Serialize + ?Sized>(
    writer: W,
    value: &T,
) -> serde_json::Result<()> {
    value.serialize(&mut serde_json::Serializer::with_formatter(
        writer,
        JsFormatter,
    ))
}

/// serde_json's compact formatter with JavaScript's number formatting.
struct JsFormatter;

impl Formatter for JsFormatter {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        write_js_number(writer, format_args!("{value:e}"))
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        write_js_number(writer, format_args!("{value:e}"))
    }
}

/// Writes a finite number given as Rust's shortest scientific form (`1.5e-7`, `-2e20`)
/// in the layout of ECMAScript's `Number::toString`.
fn write_js_number<W: ?Sized + io::Write>(
    writer: &mut W,
    scientific: std::fmt::Arguments<'_>,
) -> io::Result<()> {
    let mut buf = StackText::default();
    std::fmt::write(&mut buf, scientific).map_err(|_| io::Error::other("number too long"))?;
    let text = buf.as_str();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = text.split_once('e').unwrap_or((text, "0"));
    let exponent: i32 = exponent
        .parse()
        .map_err(|_| io::Error::other("bad exponent"))?;
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int == "0" && frac.is_empty() {
        // Both zeros print as `0`.
        return writer.write_all(b"0");
    }
    if negative {
        writer.write_all(b"-")?;
    }
    // digits = int + frac (int is one digit), k of them; the value is 0.digits × 10^n.
    let k = (int.len() + frac.len()) as i32;
    let n = exponent + 1;
    let digit_at = |i: i32| {
        let i = i as usize;
        if i < int.len() {
            &int[i..=i]
        } else {
            &frac[i - int.len()..=i - int.len()]
        }
    };
    let write_digits = |writer: &mut W, from: i32, to: i32| -> io::Result<()> {
        (from..to).try_for_each(|i| writer.write_all(digit_at(i).as_bytes()))
    };
    if k <= n && n <= 21 {
        write_digits(writer, 0, k)?;
        (0..n - k).try_for_each(|_| writer.write_all(b"0"))
    } else if 0 < n && n <= 21 {
        write_digits(writer, 0, n)?;
        writer.write_all(b".")?;
        write_digits(writer, n, k)
    } else if -6 < n && n <= 0 {
        writer.write_all(b"0.")?;
        (0..-n).try_for_each(|_| writer.write_all(b"0"))?;
        write_digits(writer, 0, k)
    } else {
        write_digits(writer, 0, 1)?;
        if k > 1 {
            writer.write_all(b".")?;
            write_digits(writer, 1, k)?;
        }
        let e = n - 1;
        write!(
            writer,
            "e{}{}",
            if e > 0 { "+" } else { "-" },
            e.unsigned_abs()
        )
    }
}

/// A small stack buffer for one formatted number.
struct StackText {
    bytes: [u8; 48],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        StackText {
            bytes: [0; 48],
            len: 0,
        }
    }
}

impl StackText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// What the scanner knows about the object it is inside.
#[derive(Default, Clone, Copy)]
struct ObjectState {
    expecting_key: bool,
    key: Key,
    is_placeholder: bool,
    /// `Some(Some(n))` for `"num": n`, `Some(None)` for a `num` that is not a
    /// non-negative integer.
    num: Option<Option<u64>>,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Key {
    #[default]
    Other,
    Placeholder,
    Num,
}

/// Checks that every `{"_placeholder":true,"num":N}` object in `json` (valid JSON) names
/// an attachment below `attachments`, as the reference parser requires. Objects count as
/// placeholders when their last `_placeholder` key holds `true`, whatever else they hold.
pub(crate) fn check_placeholders(json: &[u8], attachments: usize) -> Result<(), DecodeError> {
    // `None` for an array, `Some(state)` for an object; on the stack, no allocation.
    let mut stack = Stack {
        levels: [None; MAX_DEPTH],
        depth: 0,
    };
    let mut i = 0;
    while i < json.len() {
        let byte = json[i];
        // A value starts here: record it for the key it belongs to.
        let starts_value = matches!(byte, b'{' | b'[' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9')
            || (byte == b'"' && !matches!(stack.last(), Some(Some(obj)) if obj.expecting_key));
        if starts_value && let Some(Some(obj)) = stack.last_mut() {
            match obj.key {
                Key::Placeholder => obj.is_placeholder = byte == b't',
                Key::Num => obj.num = Some(integer_at(json, i)),
                Key::Other => {}
            }
            obj.key = Key::Other;
        }
        match byte {
            b'"' => {
                let end = string_end(json, i);
                if let Some(Some(obj)) = stack.last_mut()
                    && obj.expecting_key
                {
                    obj.expecting_key = false;
                    obj.key = match &json[i..end] {
                        b"\"_placeholder\"" => Key::Placeholder,
                        b"\"num\"" => Key::Num,
                        _ => Key::Other,
                    };
                }
                i = end;
                continue;
            }
            b'{' | b'[' => {
                let object = byte == b'{';
                let level = object.then(|| ObjectState {
                    expecting_key: true,
                    ..Default::default()
                });
                if !stack.push(level) {
                    return Err(DecodeError::InvalidJson("recursion limit exceeded".into()));
                }
            }
            b',' => {
                if let Some(Some(obj)) = stack.last_mut() {
                    obj.expecting_key = true;
                }
            }
            b'}' => {
                if let Some(Some(obj)) = stack.pop()
                    && obj.is_placeholder
                {
                    match obj.num {
                        Some(Some(n)) if n < attachments as u64 => {}
                        num => {
                            let num = num.flatten().unwrap_or(u64::MAX);
                            return Err(DecodeError::PlaceholderOutOfRange { num, attachments });
                        }
                    }
                }
            }
            b']' => {
                stack.pop();
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The open objects and arrays, innermost last.
struct Stack {
    levels: [Option<ObjectState>; MAX_DEPTH],
    depth: usize,
}

impl Stack {
    /// Opens a level; `false` when [`MAX_DEPTH`] levels are already open.
    fn push(&mut self, level: Option<ObjectState>) -> bool {
        let Some(slot) = self.levels.get_mut(self.depth) else {
            return false;
        };
        *slot = level;
        self.depth += 1;
        true
    }

    fn pop(&mut self) -> Option<Option<ObjectState>> {
        self.depth = self.depth.checked_sub(1)?;
        Some(self.levels[self.depth])
    }

    fn last(&self) -> Option<&Option<ObjectState>> {
        self.levels.get(self.depth.checked_sub(1)?)
    }

    fn last_mut(&mut self) -> Option<&mut Option<ObjectState>> {
        let top = self.depth.checked_sub(1)?;
        self.levels.get_mut(top)
    }
}

/// The index just after the string starting at `start` (a `"`), in valid JSON.
fn string_end(json: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while let Some(offset) = memchr::memchr2(b'"', b'\\', &json[i..]) {
        i += offset;
        if json[i] == b'\\' {
            i += 2;
        } else {
            return i + 1;
        }
    }
    json.len()
}

/// The non-negative integer token at `start`, if the token there is one.
fn integer_at(json: &[u8], start: usize) -> Option<u64> {
    let token_len = json[start..]
        .iter()
        .take_while(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
        .count();
    let token = &json[start..start + token_len];
    if token.is_empty() || !token.iter().all(u8::is_ascii_digit) {
        return None;
    }
    token.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(value: f64) -> String {
        let mut out = Vec::new();
        to_writer(&mut out, &value).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn numbers_print_like_javascript() {
        let cases = [
            (1.0, "1"),
            (-0.0, "0"),
            (0.0, "0"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (123.456, "123.456"),
            (-2.5e-10, "-2.5e-10"),
            (1.5e300, "1.5e+300"),
            (0.1, "0.1"),
            (-12.0, "-12"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (f64::NAN, "null"),
        ];
        for (value, expected) in cases {
            assert_eq!(js(value), expected, "{value:e}");
        }
        let mut out = Vec::new();
        to_writer(&mut out, &1.1f32).unwrap();
        assert_eq!(out, b"1.1");
    }

    #[test]
    fn placeholders_are_checked_without_unescaping() {
        let ok = br#"["\ud83d",{"k":"\"}{[","a":[{"_placeholder":true,"num":1}]},{"num":0,"_placeholder":true}]"#;
        assert_eq!(check_placeholders(ok, 2), Ok(()));
        assert_eq!(
            check_placeholders(ok, 1),
            Err(DecodeError::PlaceholderOutOfRange {
                num: 1,
                attachments: 1
            })
        );
        let cases: [(&[u8], Result<(), DecodeError>); 6] = [
            (
                br#"[{"_placeholder":true}]"#,
                Err(DecodeError::PlaceholderOutOfRange {
                    num: u64::MAX,
                    attachments: 1,
                }),
            ),
            (
                br#"[{"_placeholder":true,"num":-1}]"#,
                Err(DecodeError::PlaceholderOutOfRange {
                    num: u64::MAX,
                    attachments: 1,
                }),
            ),
            (
                br#"[{"_placeholder":true,"num":0.5}]"#,
                Err(DecodeError::PlaceholderOutOfRange {
                    num: u64::MAX,
                    attachments: 1,
                }),
            ),
            (br#"[{"_placeholder":1,"num":9}]"#, Ok(())),
            (
                br#"[{"_placeholder":true,"_placeholder":false,"num":9}]"#,
                Ok(()),
            ),
            (
                br#"[{"_placeholder":{"x":true},"num":9},"_placeholder"]"#,
                Ok(()),
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(
                check_placeholders(json, 1),
                expected,
                "{}",
                String::from_utf8_lossy(json)
            );
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(matches!(
            check_placeholders(deep.as_bytes(), 1),
            Err(DecodeError::InvalidJson(_))
        ));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(check_placeholders(ok.as_bytes(), 1), Ok(()));
    }
}
