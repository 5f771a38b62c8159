//! Raw-JSON payloads: [`Args`] (an event's or ack's arguments), [`Event`], [`RawJson`].
//!
//! Payloads keep the JSON text they arrived as (sharing the frame's memory), already
//! validated, and deserialise into user types only when asked.
//!
//! Typed arguments follow one rule, on both sides: a Rust tuple is a list of arguments,
//! `()` is no argument, and any other value is one argument. So `("ana", 3)` sends two
//! arguments, `vec![1, 2]` sends one array, and `args::<(String, u32)>()` reads two.

use std::fmt;

use bytes::Bytes;
use bytestring::ByteString;
use serde::de::{DeserializeSeed, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::error::EncodeError;
use super::is_reserved_event;
use super::json;
use super::scan::{Shape, shape_of};
use crate::binary;

/// A validated JSON value, kept as its text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawJson(ByteString);

impl RawJson {
    /// Validates `text` as one JSON value.
    pub fn new(text: impl Into<ByteString>) -> Result<Self, serde_json::Error> {
        let text = text.into();
        serde_json::from_str::<IgnoredAny>(&text)?;
        Ok(RawJson(text))
    }

    /// Serialises `value` to JSON.
    pub fn from_value<T: Serialize + ?Sized>(value: &T) -> Result<Self, EncodeError> {
        let mut out = Vec::with_capacity(64);
        json::to_writer(&mut out, value).map_err(|e| EncodeError::Serialize(e.to_string()))?;
        let text = String::from_utf8(out).expect("serde_json writes UTF-8");
        Ok(RawJson(text.into()))
    }

    /// Wraps text this crate has already validated.
    pub(crate) fn trusted(text: ByteString) -> Self {
        RawJson(text)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The JSON text, shared.
    pub fn text(&self) -> &ByteString {
        &self.0
    }

    /// Deserialises the value.
    pub fn deserialize<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0)
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawJson({})", &*self.0)
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The arguments of an acknowledgement (or, with the name first, of an event): a JSON
/// array kept as text, plus the binary attachments its placeholders refer to.
///
/// A decoded `Args` keeps the whole received packet text and the offset where its JSON
/// starts, so decoding moves the frame's memory in without touching its reference count.
#[derive(Clone)]
pub struct Args {
    /// Holds the JSON array from `start` to its end.
    text: ByteString,
    start: u32,
    attachments: Vec<Bytes>,
}

impl PartialEq for Args {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json() && self.attachments == other.attachments
    }
}

impl Eq for Args {}

impl Args {
    /// No argument: `[]`.
    pub fn empty() -> Self {
        Args::trusted(ByteString::from_static("[]"), Vec::new())
    }

    /// Serialises `args` (a tuple for several arguments, `()` for none, any other value
    /// for one). [`Binary`](crate::Binary) values inside become attachments.
    pub fn new<T: Serialize + ?Sized>(args: &T) -> Result<Self, EncodeError> {
        build_array(None, args)
    }

    /// Validated parts, as the decoder or an encoder of this crate produced them.
    pub(crate) fn trusted(json: ByteString, attachments: Vec<Bytes>) -> Self {
        Args::trusted_in(json, 0, attachments)
    }

    /// Validated parts: `text[start..]` is the JSON array (`start` is a char boundary
    /// below 4 GiB; the codec's texts are far smaller).
    pub(crate) fn trusted_in(text: ByteString, start: usize, attachments: Vec<Bytes>) -> Self {
        let start = u32::try_from(start).expect("packet text under 4 GiB");
        Args {
            text,
            start,
            attachments,
        }
    }

    /// These arguments with `value` appended as one more last argument. `value` may hold
    /// [`Binary`](crate::Binary) values: their attachments are numbered after the ones
    /// already there.
    pub fn with_appended<T: Serialize + ?Sized>(&self, value: &T) -> Result<Self, EncodeError> {
        let ser_err = |e: serde_json::Error| EncodeError::Serialize(e.to_string());
        // The array is validated JSON, so its last non-space byte is its `]`.
        let body = self.json().trim_end();
        let body = &body[..body.len() - 1];
        let is_empty = body.trim_end().ends_with('[');
        let (result, mut extra) = binary::collect_attachments_after(self.attachments.len(), || {
            let mut out = Vec::with_capacity(body.len() + 32);
            out.extend_from_slice(body.as_bytes());
            if !is_empty {
                out.push(b',');
            }
            json::to_writer(&mut out, value).map_err(ser_err)?;
            out.push(b']');
            Ok::<_, EncodeError>(out)
        });
        let out = result?;
        let json = String::from_utf8(out).expect("serde_json writes UTF-8");
        let mut attachments = self.attachments.clone();
        attachments.append(&mut extra);
        Ok(Args::trusted(json.into(), attachments))
    }

    /// Adds the next attachment (the decoder, as binary frames arrive).
    pub(crate) fn push_attachment(&mut self, bytes: Bytes) {
        self.attachments.push(bytes);
    }

    /// The JSON array, with `{"_placeholder":true,"num":N}` where attachments go.
    pub fn json(&self) -> &str {
        &self.text[self.start as usize..]
    }

    /// The JSON array as shared memory (a reference-counted slice of the packet text).
    pub fn json_text(&self) -> ByteString {
        self.text.slice_ref(self.json())
    }

    /// The binary attachments, in placeholder order.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// Whether there are binary attachments (the packet is then a binary event or ack).
    pub fn has_attachments(&self) -> bool {
        !self.attachments.is_empty()
    }

    /// Deserialises the arguments as a tuple (`(A,)` for one argument, `(A, B)` for two,
    /// `Vec<serde_json::Value>` for any number). Extra arguments are ignored, as a
    /// JavaScript handler ignores them.
    pub fn deserialize<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        self.deserialize_from(0)
    }

    /// Deserialises the arguments after the first `skip` elements of the array.
    fn deserialize_from<'a, T: Deserialize<'a>>(
        &'a self,
        skip: usize,
    ) -> Result<T, serde_json::Error> {
        binary::with_attachments(&self.attachments, || {
            let mut de = serde_json::Deserializer::from_str(self.json());
            let value = SkipThen::<T> {
                skip,
                then: std::marker::PhantomData,
            }
            .deserialize(&mut de)?;
            de.end()?;
            Ok(value)
        })
    }
}

impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Args({}", self.json())?;
        if !self.attachments.is_empty() {
            write!(f, " + {} attachment(s)", self.attachments.len())?;
        }
        f.write_str(")")
    }
}

/// An event: its name and arguments, kept as the raw array `["name", arg…]`.
#[derive(Clone)]
pub struct Event {
    name: Name,
    data: Args,
}

/// Where an event's name is: inside the JSON array when it is written there without
/// escapes (the usual case, costing nothing), or unescaped on its own.
#[derive(Clone, Debug)]
pub(crate) enum Name {
    /// `data.json()[start..end]`.
    InJson { start: u32, end: u32 },
    /// The unescaped name. A `Box<str>` (16 bytes) rather than a `ByteString` (32) keeps
    /// every `Packet` at 128 bytes instead of 144; escaped names are rare, so the
    /// allocation a clone of one makes does not matter.
    Owned(Box<str>),
}

impl Name {
    /// A name found at `range` of the JSON.
    pub(crate) fn in_json(range: std::ops::Range<usize>) -> Self {
        let to_u32 = |n: usize| u32::try_from(n).expect("packet text under 4 GiB");
        Name::InJson {
            start: to_u32(range.start),
            end: to_u32(range.end),
        }
    }
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name() && self.data == other.data
    }
}

impl Eq for Event {}

impl Event {
    /// An event named `name` with `args` (a tuple for several arguments, `()` for none,
    /// any other value for one). Reserved names are refused.
    pub fn new<T: Serialize + ?Sized>(name: &str, args: &T) -> Result<Self, EncodeError> {
        if is_reserved_event(name) {
            return Err(EncodeError::ReservedEventName(name.to_owned()));
        }
        let data = build_array(Some(name), args)?;
        // `["name"…`: the name sits unescaped at 2.. unless JSON had to escape it.
        let escaped = name.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20);
        let name = match escaped {
            false => Name::in_json(2..2 + name.len()),
            true => Name::Owned(name.into()),
        };
        Ok(Event { name, data })
    }

    /// Validated parts, as the decoder produced them.
    pub(crate) fn trusted(name: Name, data: Args) -> Self {
        Event { name, data }
    }

    /// The event name (a numeric name, which JavaScript peers may send, as its JSON text).
    pub fn name(&self) -> &str {
        match &self.name {
            Name::InJson { start, end } => &self.data.json()[*start as usize..*end as usize],
            Name::Owned(name) => name,
        }
    }

    /// The whole payload: the array whose first element is the name.
    pub fn data(&self) -> &Args {
        &self.data
    }

    /// This event with `value` appended as one more last argument (how connection state
    /// recovery adds its offset). The arguments already there are copied as they are.
    pub fn with_appended_arg<T: Serialize + ?Sized>(&self, value: &T) -> Result<Self, EncodeError> {
        Ok(Event {
            name: self.name.clone(),
            data: self.data.with_appended(value)?,
        })
    }

    /// Deserialises the arguments after the name, as a tuple; see [`Args::deserialize`].
    pub fn args<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        self.data.deserialize_from(1)
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Event({:?}, {:?})", self.name(), self.data)
    }
}

/// Writes `[` `"name",`? `args…` `]`, collecting attachments.
fn build_array<T: Serialize + ?Sized>(name: Option<&str>, args: &T) -> Result<Args, EncodeError> {
    let ser_err = |e: serde_json::Error| EncodeError::Serialize(e.to_string());
    // Outside the collector: the probe may start serialising a `Binary`.
    let shape = shape_of(args);
    let (result, attachments) = binary::collect_attachments(|| {
        let mut out = Vec::with_capacity(64);
        out.push(b'[');
        if let Some(name) = name {
            json::to_writer(&mut out, name).map_err(ser_err)?;
        }
        match shape {
            Shape::Unit => out.push(b']'),
            Shape::Tuple if name.is_none() => {
                // The tuple writes the whole array itself.
                out.clear();
                json::to_writer(&mut out, args).map_err(ser_err)?;
            }
            Shape::Tuple => {
                // The tuple writes `[a,b]` after `["name"`: its `[` becomes the separator.
                let start = out.len();
                json::to_writer(&mut out, args).map_err(ser_err)?;
                if out.len() - start == 2 {
                    out.truncate(start);
                    out.push(b']');
                } else {
                    out[start] = b',';
                }
            }
            Shape::Single => {
                if name.is_some() {
                    out.push(b',');
                }
                json::to_writer(&mut out, args).map_err(ser_err)?;
                out.push(b']');
            }
        }
        Ok::<_, EncodeError>(out)
    });
    let out = result?;
    let json = String::from_utf8(out).expect("serde_json writes UTF-8");
    Ok(Args::trusted(json.into(), attachments))
}

/// Skips `skip` elements of a JSON array, deserialises `T` from the following ones (as a
/// sequence), then skips whatever is left.
struct SkipThen<T> {
    skip: usize,
    then: std::marker::PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for SkipThen<T> {
    type Value = T;

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<T, D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for SkipThen<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of arguments")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        for _ in 0..self.skip {
            seq.next_element::<IgnoredAny>()?;
        }
        let value = T::deserialize(Rest(&mut seq))?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(value)
    }
}

/// The arguments left in the array, as one sequence: `()` (a unit or unit struct) reads
/// as "no argument" (what is left is skipped, as for any shorter tuple), anything else
/// reads the sequence.
struct Rest<A>(A);

impl<'de, A: SeqAccess<'de>> serde::Deserializer<'de> for Rest<A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_seq(self.0)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Binary;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Msg {
        user: String,
        text: String,
    }

    #[test]
    fn unit_reads_no_argument() {
        let event = Event::new("ping", &()).unwrap();
        event.args::<()>().unwrap();
        let event = Event::new("ping", &(1, "x")).unwrap();
        event.args::<()>().unwrap();
        assert_eq!(event.args::<(u8,)>().unwrap(), (1,));
        #[derive(Deserialize)]
        struct Nothing;
        let Nothing = event.args::<Nothing>().unwrap();
        Args::empty().deserialize::<()>().unwrap();
    }

    #[test]
    fn tuples_are_argument_lists_and_other_values_one_argument() {
        let msg = Msg {
            user: "ana".into(),
            text: "hello".into(),
        };
        let cases: [(Event, &str); 6] = [
            (
                Event::new("chat", &msg).unwrap(),
                r#"["chat",{"user":"ana","text":"hello"}]"#,
            ),
            (Event::new("chat", &("a", 1)).unwrap(), r#"["chat","a",1]"#),
            (Event::new("chat", &(7,)).unwrap(), r#"["chat",7]"#),
            (Event::new("chat", &()).unwrap(), r#"["chat"]"#),
            (
                Event::new("chat", &vec![1, 2]).unwrap(),
                r#"["chat",[1,2]]"#,
            ),
            (Event::new("a\"b", "x").unwrap(), r#"["a\"b","x"]"#),
        ];
        for (event, json) in cases {
            assert_eq!(event.data().json(), json);
        }
        assert_eq!(Args::new(&("a", 1)).unwrap().json(), r#"["a",1]"#);
        assert_eq!(Args::new(&()).unwrap().json(), "[]");
        assert_eq!(
            Args::new(&msg).unwrap().json(),
            r#"[{"user":"ana","text":"hello"}]"#
        );
    }

    #[test]
    fn typed_access_reads_arguments_after_the_name() {
        let event = Event::new(
            "chat",
            &(
                "ana",
                Msg {
                    user: "b".into(),
                    text: "t".into(),
                },
            ),
        )
        .unwrap();
        let (who, msg): (String, Msg) = event.args().unwrap();
        assert_eq!((who.as_str(), msg.text.as_str()), ("ana", "t"));
        // Extra arguments are ignored; too few is an error.
        let (first,): (&str,) = event.args().unwrap();
        assert_eq!(first, "ana");
        assert!(event.args::<(String, Msg, u8)>().is_err());
        let all: Vec<serde_json::Value> = event.args().unwrap();
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn binary_arguments_become_attachments_and_come_back() {
        let args = Args::new(&(
            Binary::from(vec![1u8, 2]),
            "x",
            vec![Binary::from(vec![3u8])],
        ))
        .unwrap();
        assert_eq!(
            args.json(),
            r#"[{"_placeholder":true,"num":0},"x",[{"_placeholder":true,"num":1}]]"#
        );
        assert_eq!(args.attachments().len(), 2);
        let (a, x, rest): (Binary, String, Vec<Binary>) = args.deserialize().unwrap();
        assert_eq!(
            (&a[..], x.as_str(), &rest[0][..]),
            (&[1u8, 2][..], "x", &[3u8][..])
        );
    }

    #[test]
    fn appended_arguments_go_last_and_number_their_attachments_after_the_others() {
        let event = Event::new("e", &(1, Binary::from(vec![1u8]))).unwrap();
        let more = event
            .with_appended_arg(&("offset", Binary::from(vec![2u8])))
            .unwrap();
        assert_eq!(
            more.data().json(),
            r#"["e",1,{"_placeholder":true,"num":0},["offset",{"_placeholder":true,"num":1}]]"#
        );
        assert_eq!(more.data().attachments().len(), 2);
        assert_eq!(&more.data().attachments()[1][..], &[2]);
        let bare = Event::new("e", &())
            .unwrap()
            .with_appended_arg("x")
            .unwrap();
        assert_eq!(bare.data().json(), r#"["e","x"]"#);
        assert_eq!(Args::empty().with_appended(&7).unwrap().json(), "[7]");
        let spaced = Args::trusted(ByteString::from_static("[ 1 ] "), Vec::new());
        assert_eq!(spaced.with_appended("o").unwrap().json(), r#"[ 1 ,"o"]"#);
        let empty_spaced = Args::trusted(ByteString::from_static("[ ]"), Vec::new());
        assert_eq!(empty_spaced.with_appended("o").unwrap().json(), r#"[ "o"]"#);
    }

    #[test]
    fn reserved_names_are_refused() {
        for name in super::super::RESERVED_EVENTS {
            assert_eq!(
                Event::new(name, &()).unwrap_err(),
                EncodeError::ReservedEventName(name.into())
            );
        }
    }

    #[test]
    fn raw_json_validates() {
        assert!(RawJson::new(r#"{"a":1}"#).is_ok());
        assert!(RawJson::new(r#"{"a":1} x"#).is_err());
        assert_eq!(
            RawJson::from_value(&serde_json::json!({"t": 1}))
                .unwrap()
                .as_str(),
            r#"{"t":1}"#
        );
    }
}
