//! Single-pass JSON checks behind the codec, built on serde visitors so nothing is
//! materialised: the shape of typed arguments (encode side), and on the decode side the
//! kind of a payload, an event's name, and the validity of attachment placeholders.

use std::cell::Cell;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, SeqAccess, Visitor};
use serde::ser::{self, Impossible, Serialize, Serializer};
use serde_json::value::RawValue;

use super::args;
use super::error::DecodeError;
use super::is_reserved_event;
use super::json::check_placeholders;
use super::packet::PacketType;

// ---------------------------------------------------------------------------------------
// Encode side: is a typed value an argument list (tuple), no argument (unit) or one value?

/// How a typed value maps to event arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `()`: no argument.
    Unit,
    /// A tuple: one argument per element.
    Tuple,
    /// Anything else: one argument.
    Single,
}

/// Finds the shape of `value` by starting to serialise it and stopping at the first call.
pub(crate) fn shape_of<T: Serialize + ?Sized>(value: &T) -> Shape {
    match value.serialize(ShapeProbe) {
        Ok(shape) | Err(ShapeFound(Some(shape))) => shape,
        Err(ShapeFound(None)) => Shape::Single,
    }
}

struct ShapeProbe;

/// Carries the answer out of the serializer calls that cannot return it.
#[derive(Debug)]
struct ShapeFound(Option<Shape>);

impl fmt::Display for ShapeFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for ShapeFound {}

impl ser::Error for ShapeFound {
    fn custom<T: fmt::Display>(_: T) -> Self {
        ShapeFound(None)
    }
}

macro_rules! single {
    ($($method:ident($($ty:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $ty),*) -> Result<Shape, ShapeFound> { Ok(Shape::Single) })*
    };
}

impl Serializer for ShapeProbe {
    type Ok = Shape;
    type Error = ShapeFound;
    type SerializeSeq = Impossible<Shape, ShapeFound>;
    type SerializeTuple = Impossible<Shape, ShapeFound>;
    type SerializeTupleStruct = Impossible<Shape, ShapeFound>;
    type SerializeTupleVariant = Impossible<Shape, ShapeFound>;
    type SerializeMap = Impossible<Shape, ShapeFound>;
    type SerializeStruct = Impossible<Shape, ShapeFound>;
    type SerializeStructVariant = Impossible<Shape, ShapeFound>;

    single!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_unit(self) -> Result<Shape, ShapeFound> {
        Ok(Shape::Unit)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Shape, ShapeFound> {
        Ok(Shape::Single)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Shape, ShapeFound> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Shape, ShapeFound> {
        Ok(Shape::Single)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, ShapeFound> {
        Err(ShapeFound(Some(Shape::Tuple)))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, ShapeFound> {
        Err(ShapeFound(Some(Shape::Single)))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, ShapeFound> {
        Err(ShapeFound(Some(Shape::Single)))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, ShapeFound> {
        Err(ShapeFound(Some(Shape::Single)))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, ShapeFound> {
        Err(ShapeFound(Some(Shape::Single)))
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, ShapeFound> {
        Err(ShapeFound(Some(Shape::Single)))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, ShapeFound> {
        Err(ShapeFound(Some(Shape::Single)))
    }
}

// ---------------------------------------------------------------------------------------
// Decode side. Strings are never unescaped here (serde_json's ignore path only checks
// them), so lone UTF-16 surrogates, which JavaScript peers may send, are accepted.

/// The top-level kind of a JSON value, as the payload rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Array,
    String,
    Other,
}

/// Validates `json` as one JSON value and returns its kind. When `attachments` is set,
/// every placeholder object inside must name an attachment below that count.
pub(crate) fn scan_value(
    json: &str,
    attachments: Option<usize>,
    packet: PacketType,
) -> Result<Kind, DecodeError> {
    let problem = Cell::new(None);
    run(json, packet, &problem, |de| IgnoredAny::deserialize(de))?;
    if let Some(attachments) = attachments {
        check_placeholders(json.as_bytes(), attachments)?;
    }
    Ok(match json.trim_start().as_bytes().first() {
        Some(b'{') => Kind::Object,
        Some(b'[') => Kind::Array,
        Some(b'"') => Kind::String,
        _ => Kind::Other,
    })
}

/// Validates an event payload (a non-empty array whose first element is a string that is
/// not reserved, or a number) and returns where its name is: a range of `json` when it
/// has no escapes, else the unescaped name.
pub(crate) fn scan_event(
    json: &str,
    attachments: Option<usize>,
    packet: PacketType,
) -> Result<args::Name, DecodeError> {
    let name = match plain_event(json) {
        Some(range) => {
            let name = &json[range.clone()];
            if is_reserved_event(name) {
                return Err(DecodeError::ReservedEventName(name.to_owned()));
            }
            args::Name::in_json(range)
        }
        None => general_event(json, packet)?,
    };
    if let Some(attachments) = attachments {
        check_placeholders(json.as_bytes(), attachments)?;
    }
    Ok(name)
}

/// The fast path of [`scan_event`], for the usual event: a valid JSON array whose first
/// element is a string without escapes. Returns the name's range in `json`.
///
/// The array's own punctuation (`[`, `,`, `]`, whitespace) and the name are read here;
/// each further element is validated by serde_json (`IgnoredAny`, the routine the
/// general path runs on them too). Anything else, valid or not (an escaped or numeric
/// name, an empty array, invalid JSON), gives `None`, and the general path decides, so
/// what is accepted or refused, and why, is exactly what the general path says.
fn plain_event(json: &str) -> Option<std::ops::Range<usize>> {
    let bytes = json.as_bytes();
    let mut i = skip_whitespace(bytes, 0);
    if bytes.get(i) != Some(&b'[') {
        return None;
    }
    i = skip_whitespace(bytes, i + 1);
    if bytes.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    // JSON strings hold no control characters; a backslash is an escape.
    let len = bytes[start..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    let end = start + len;
    if bytes[end] != b'"' {
        return None;
    }
    i = skip_whitespace(bytes, end + 1);
    while bytes.get(i) == Some(&b',') {
        // One element (what follows it is checked here, not by serde_json).
        let mut element =
            serde_json::Deserializer::from_str(&json[i + 1..]).into_iter::<IgnoredAny>();
        element.next()?.ok()?;
        i = skip_whitespace(bytes, i + 1 + element.byte_offset());
    }
    if bytes.get(i) != Some(&b']') {
        return None;
    }
    (skip_whitespace(bytes, i + 1) == bytes.len()).then_some(start..end)
}

/// The index of the first byte at or after `i` that is not JSON whitespace.
fn skip_whitespace(bytes: &[u8], i: usize) -> usize {
    let blank = |b: &u8| matches!(b, b' ' | b'\n' | b'\t' | b'\r');
    i + bytes[i..].iter().take_while(|b| blank(b)).count()
}

/// Validates an event payload, whatever its name looks like (the general path of
/// [`scan_event`]).
fn general_event(json: &str, packet: PacketType) -> Result<args::Name, DecodeError> {
    let problem = Cell::new(None);
    let name = run(json, packet, &problem, |de| {
        EventScan {
            problem: &problem,
            packet,
        }
        .deserialize(de)
    })?;
    Ok(match name {
        Name::Borrowed(name) => {
            let start = name.as_ptr() as usize - json.as_ptr() as usize;
            args::Name::in_json(start..start + name.len())
        }
        Name::Owned(name) => args::Name::Owned(name.into_boxed_str()),
    })
}

fn run<'de, T>(
    json: &'de str,
    packet: PacketType,
    problem: &Cell<Option<DecodeError>>,
    scan: impl FnOnce(
        &mut serde_json::Deserializer<serde_json::de::StrRead<'de>>,
    ) -> Result<T, serde_json::Error>,
) -> Result<T, DecodeError> {
    let mut de = serde_json::Deserializer::from_str(json);
    let result = scan(&mut de).and_then(|value| de.end().map(|()| value));
    result.map_err(|error| match problem.take() {
        Some(problem) => problem,
        None if error.is_data() => DecodeError::InvalidPayload(packet),
        None => DecodeError::InvalidJson(error.to_string()),
    })
}

/// Aborts a scan with a specific decode error.
fn fail<E: de::Error>(problem: &Cell<Option<DecodeError>>, error: DecodeError) -> E {
    let message = error.to_string();
    problem.set(Some(error));
    E::custom(message)
}

enum Name<'de> {
    Borrowed(&'de str),
    Owned(String),
}

struct EventScan<'p> {
    problem: &'p Cell<Option<DecodeError>>,
    packet: PacketType,
}

impl<'de> DeserializeSeed<'de> for EventScan<'_> {
    type Value = Name<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<Name<'de>, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EventScan<'_> {
    type Value = Name<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array starting with the event name")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Name<'de>, A::Error> {
        let invalid = || fail(self.problem, DecodeError::InvalidPayload(self.packet));
        let first: &'de RawValue = seq.next_element()?.ok_or_else(invalid)?;
        let name = event_name(first.get()).ok_or_else(invalid)?;
        let text = match &name {
            Name::Borrowed(s) => s,
            Name::Owned(s) => s.as_str(),
        };
        if is_reserved_event(text) {
            return Err(fail(
                self.problem,
                DecodeError::ReservedEventName(text.to_owned()),
            ));
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(name)
    }
}

/// The event name in the raw first element: a string (unescaped only when it has
/// escapes; lone surrogates become U+FFFD) or a number (its JSON text).
fn event_name(raw: &str) -> Option<Name<'_>> {
    match raw.as_bytes().first()? {
        b'"' => {
            let inner = &raw[1..raw.len() - 1];
            if !inner.bytes().any(|b| b == b'\\') {
                return Some(Name::Borrowed(inner));
            }
            let unescaped = serde_json::from_str::<String>(raw).unwrap_or_else(|_| {
                let mut de = serde_json::Deserializer::from_str(raw);
                let wtf8 = de::Deserializer::deserialize_byte_buf(&mut de, BytesVisitor)
                    .unwrap_or_default();
                String::from_utf8_lossy(&wtf8).into_owned()
            });
            Some(Name::Owned(unescaped))
        }
        b'-' | b'0'..=b'9' => Some(Name::Owned(raw.to_owned())),
        _ => None,
    }
}

/// Reads a JSON string as bytes (serde_json then keeps lone surrogates, as WTF-8).
struct BytesVisitor;

impl Visitor<'_> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(shape_of(&()), Shape::Unit);
        assert_eq!(shape_of(&(1, 2)), Shape::Tuple);
        assert_eq!(shape_of(&(1,)), Shape::Tuple);
        assert_eq!(shape_of(&vec![1]), Shape::Single);
        assert_eq!(shape_of("x"), Shape::Single);
        assert_eq!(shape_of(&serde_json::json!([1, 2])), Shape::Single);
    }

    fn name_of(json: &str) -> String {
        match scan_event(json, None, PacketType::Event).unwrap() {
            args::Name::InJson { start, end } => json[start as usize..end as usize].to_owned(),
            args::Name::Owned(name) => format!("owned:{}", &*name),
        }
    }

    #[test]
    fn event_names_are_ranges_unless_escaped() {
        assert_eq!(name_of(r#"["chat",1]"#), "chat");
        assert_eq!(name_of(r#" [ "chat" ,1]"#), "chat");
        assert_eq!(name_of(r#"["a\nb"]"#), "owned:a\nb");
        assert_eq!(name_of("[12]"), "owned:12");
    }

    /// What a scan answered, comparable.
    fn outcome(json: &str, result: Result<args::Name, DecodeError>) -> Result<String, DecodeError> {
        result.map(|name| match name {
            args::Name::InJson { start, end } => json[start as usize..end as usize].to_owned(),
            args::Name::Owned(name) => format!("owned:{}", &*name),
        })
    }

    /// The fast path changes nothing: `scan_event` answers what the general path alone
    /// answers (same name, same error).
    fn assert_same_as_general(json: &str) {
        assert_eq!(
            outcome(json, scan_event(json, None, PacketType::Event)),
            outcome(json, general_event(json, PacketType::Event)),
            "{json:?}"
        );
    }

    #[test]
    fn the_fast_path_takes_plain_names_and_agrees_with_the_general_path() {
        let plain = [
            r#"["chat",{"user":"ana","text":"hello"}]"#,
            r#"["e"]"#,
            r#"[""]"#,
            " \t[ \"é ü\" ,1 , \"x\",[1,{\"a\":[]}] ,true,null,-0.5e3 ]\r\n",
            r#"["connect",1]"#,
            r#"["disconnect"]"#,
        ];
        for json in plain {
            assert!(plain_event(json).is_some(), "{json:?}");
            assert_same_as_general(json);
        }
        let other = [
            "",
            "[",
            "[]",
            "[ ]",
            r#"{"a":1}"#,
            r#""chat""#,
            r#"[12,"x"]"#,
            r#"["a\"b",1]"#,
            r#"["\ud83d",1]"#,
            "[\"a\u{1}\"]",
            r#"["a""#,
            r#"["a",]"#,
            r#"["a",,1]"#,
            r#"["a" 1]"#,
            r#"["a",1 2]"#,
            r#"["a",1x]"#,
            r#"["a",01]"#,
            r#"["a",1.]"#,
            r#"["a",tru]"#,
            r#"["a",{"k"1}]"#,
            r#"["a",1]x"#,
            r#"["a",1]]"#,
            r#"["a",1"#,
            r#"["a","#,
            "[\"a\",1]\u{b}",
            r#"["connect",]"#,
        ];
        for json in other {
            assert!(plain_event(json).is_none(), "{json:?}");
            assert_same_as_general(json);
        }
    }

    /// Pieces of JSON, valid and not, for the properties below.
    const TOKENS: &[&str] = &[
        "[",
        "]",
        ",",
        ":",
        "{",
        "}",
        " ",
        "\t",
        "\n",
        "\r",
        "\u{b}",
        "x",
        "\"",
        "\"chat\"",
        "\"\"",
        "\"é\"",
        "\"connect\"",
        "\"a\\\"b\"",
        "\"\\u00e9\"",
        "\"\\ud83d\"",
        "\"\u{1}\"",
        "\"\u{7f}\"",
        "1",
        "-0",
        "01",
        "1.5e3",
        "1.",
        "-",
        "true",
        "tru",
        "null",
        "{}",
        "{\"k\":[1,{}]}",
        "{\"k\"1}",
        "[1,2]",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Events as peers write them (any whitespace, any first element), some with one
        /// token inserted somewhere.
        #[test]
        fn the_fast_path_agrees_with_the_general_path_on_near_valid_events(
            name in proptest::sample::select(&[
                "\"chat\"", "\"\"", "\"é\"", "\"connect\"", "\"a\\\"b\"", "\"\\u00e9\"",
                "\"a\u{1}\"", "12", "-1.5", "null", "{}",
            ][..]),
            elements in proptest::collection::vec(proptest::sample::select(&[
                "1", "-0.5e3", "\"x\"", "\"\\n\"", "true", "null", "{}", "[]",
                "{\"a\":[1,{\"b\":\"c\"}]}", "[[[]]]",
            ][..]), 0..4),
            blanks in proptest::collection::vec(
                proptest::sample::select(&["", " ", "\n\t ", "\r"][..]), 8),
            insert in proptest::option::of((
                proptest::sample::select(TOKENS),
                proptest::prelude::any::<proptest::sample::Index>(),
            )),
        ) {
            let mut blank = blanks.iter().cycle();
            let mut json = format!("{}[{}{name}", blank.next().unwrap(), blank.next().unwrap());
            for element in elements {
                let (a, b) = (blank.next().unwrap(), blank.next().unwrap());
                json.push_str(&format!("{a},{b}{element}"));
            }
            json.push_str(&format!("{}]{}", blank.next().unwrap(), blank.next().unwrap()));
            if let Some((token, at)) = insert {
                let mut at = at.index(json.len() + 1);
                while !json.is_char_boundary(at) {
                    at -= 1;
                }
                json.insert_str(at, token);
            }
            assert_same_as_general(&json);
        }

        #[test]
        fn the_fast_path_agrees_with_the_general_path_on_token_soup(
            plain_start in proptest::prelude::any::<bool>(),
            close in proptest::prelude::any::<bool>(),
            tokens in proptest::collection::vec(proptest::sample::select(TOKENS), 0..10),
        ) {
            let prefix = if plain_start { r#"["e","# } else { "" };
            let suffix = if close { "]" } else { "" };
            assert_same_as_general(&format!("{prefix}{}{suffix}", tokens.concat()));
        }
    }

    #[test]
    fn lone_surrogates_are_accepted_like_javascript_does() {
        assert_eq!(name_of(r#"["\ud83d",1]"#), "owned:\u{fffd}\u{fffd}\u{fffd}");
        let binary = r#"["x","\ud83d",{"_placeholder":true,"num":0}]"#;
        assert_eq!(
            scan_value(binary, Some(1), PacketType::BinaryEvent),
            Ok(Kind::Array)
        );
        assert_eq!(
            scan_value(r#""\udfff""#, None, PacketType::ConnectError),
            Ok(Kind::String)
        );
    }
}
