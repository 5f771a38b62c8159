//! [`Binary`]: a byte buffer that travels as a Socket.IO binary attachment.
//!
//! When a `Binary` is serialised inside the arguments of an event or an ack that this
//! crate encodes, it is written as the placeholder `{"_placeholder":true,"num":N}` and its
//! bytes become attachment `N`. When such arguments are deserialised from a decoded
//! packet, the placeholder is replaced by the attachment. Outside those two contexts
//! (say, `serde_json::to_string(&binary)`), a `Binary` serialises as plain bytes.
//!
//! The contexts are scoped to one synchronous (de)serialisation on the current thread,
//! which is how this crate always calls serde.

use std::cell::RefCell;
use std::fmt;

use bytes::Bytes;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A byte buffer sent as a binary attachment (a Node `Buffer`, a browser `ArrayBuffer`).
///
/// Cloning is cheap: it shares the bytes.
///
/// ```
/// use halyard_protocol::{Binary, socketio::{Event, Packet}};
///
/// let event = Event::new("file", &("a.bin", Binary::from(vec![1u8, 2, 3]))).unwrap();
/// let encoded = Packet::event("/", None, event).encode().unwrap();
/// assert_eq!(&encoded.frame()[..], r#"451-["file","a.bin",{"_placeholder":true,"num":0}]"#);
/// assert_eq!(&encoded.attachments()[0][..], &[1, 2, 3]);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Binary(pub Bytes);

impl Binary {
    /// The bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.0
    }

    /// The bytes, by value.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl fmt::Debug for Binary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Binary({} bytes)", self.0.len())
    }
}

impl std::ops::Deref for Binary {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Bytes> for Binary {
    fn from(bytes: Bytes) -> Self {
        Binary(bytes)
    }
}

impl From<Vec<u8>> for Binary {
    fn from(bytes: Vec<u8>) -> Self {
        Binary(bytes.into())
    }
}

impl From<&'static [u8]> for Binary {
    fn from(bytes: &'static [u8]) -> Self {
        Binary(Bytes::from_static(bytes))
    }
}

impl From<Binary> for Bytes {
    fn from(binary: Binary) -> Self {
        binary.0
    }
}

thread_local! {
    /// Attachments collected while encoding arguments, when an encoder asked for them,
    /// with the number the first of them takes.
    static OUTGOING: RefCell<Option<(usize, Vec<Bytes>)>> = const { RefCell::new(None) };
    /// Attachments of the packet whose arguments are being decoded.
    static INCOMING: RefCell<Option<Vec<Bytes>>> = const { RefCell::new(None) };
}

/// Runs `f` (a serialisation) and returns the attachments that `Binary` values pushed.
pub(crate) fn collect_attachments<R>(f: impl FnOnce() -> R) -> (R, Vec<Bytes>) {
    collect_attachments_after(0, f)
}

/// Like [`collect_attachments`], numbering placeholders from `first` (for arguments
/// appended after `first` existing attachments).
pub(crate) fn collect_attachments_after<R>(first: usize, f: impl FnOnce() -> R) -> (R, Vec<Bytes>) {
    let previous = OUTGOING.with(|cell| cell.replace(Some((first, Vec::new()))));
    let result = f();
    let collected = OUTGOING.with(|cell| cell.replace(previous));
    (
        result,
        collected.map(|(_, buffers)| buffers).unwrap_or_default(),
    )
}

/// Runs `f` (a deserialisation) with `attachments` available to placeholders.
pub(crate) fn with_attachments<R>(attachments: &[Bytes], f: impl FnOnce() -> R) -> R {
    if attachments.is_empty() {
        return f();
    }
    let previous = INCOMING.with(|cell| cell.replace(Some(attachments.to_vec())));
    let result = f();
    INCOMING.with(|cell| cell.replace(previous));
    result
}

impl Serialize for Binary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let num = OUTGOING.with(|cell| {
            cell.borrow_mut().as_mut().map(|(first, buffers)| {
                buffers.push(self.0.clone());
                *first + buffers.len() - 1
            })
        });
        match num {
            Some(num) => {
                let mut placeholder = serializer.serialize_struct("Placeholder", 2)?;
                placeholder.serialize_field("_placeholder", &true)?;
                placeholder.serialize_field("num", &num)?;
                placeholder.end()
            }
            None => serializer.serialize_bytes(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Binary {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BinaryVisitor)
    }
}

struct BinaryVisitor;

impl<'de> Visitor<'de> for BinaryVisitor {
    type Value = Binary;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a binary attachment placeholder or bytes")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Binary, E> {
        Ok(Binary(Bytes::copy_from_slice(v)))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Binary, E> {
        Ok(Binary(v.into()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Binary, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(byte) = seq.next_element::<u8>()? {
            bytes.push(byte);
        }
        Ok(Binary(bytes.into()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Binary, A::Error> {
        let mut is_placeholder = false;
        let mut num = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match &*key {
                "_placeholder" => is_placeholder = map.next_value::<bool>()?,
                "num" => num = Some(map.next_value::<usize>()?),
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        let num = match (is_placeholder, num) {
            (true, Some(num)) => num,
            _ => {
                return Err(de::Error::custom(
                    "expected a binary attachment placeholder",
                ));
            }
        };
        INCOMING
            .with(|cell| {
                cell.borrow()
                    .as_ref()
                    .and_then(|buffers| buffers.get(num).cloned())
            })
            .map(Binary)
            .ok_or_else(|| de::Error::custom(format_args!("binary attachment {num} is missing")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_a_placeholder_only_inside_an_encoder() {
        let value = (Binary::from(vec![1u8]), "x", Binary::from(vec![2u8, 3]));
        let (json, attachments) = collect_attachments(|| serde_json::to_string(&value).unwrap());
        assert_eq!(
            json,
            r#"[{"_placeholder":true,"num":0},"x",{"_placeholder":true,"num":1}]"#
        );
        assert_eq!(
            attachments,
            vec![Bytes::from_static(&[1]), Bytes::from_static(&[2, 3])]
        );
        assert_eq!(
            serde_json::to_string(&Binary::from(vec![7u8])).unwrap(),
            "[7]"
        );
    }

    #[test]
    fn placeholders_deserialise_from_the_packet_attachments() {
        let attachments = [Bytes::from_static(b"ab"), Bytes::from_static(b"cd")];
        let json = r#"[{"num":1,"_placeholder":true},{"_placeholder":true,"num":0}]"#;
        let parsed: (Binary, Binary) =
            with_attachments(&attachments, || serde_json::from_str(json).unwrap());
        assert_eq!((&parsed.0[..], &parsed.1[..]), (&b"cd"[..], &b"ab"[..]));
    }

    #[test]
    fn missing_attachments_and_non_placeholders_are_errors() {
        let outside: Result<Binary, _> = serde_json::from_str(r#"{"_placeholder":true,"num":0}"#);
        assert!(
            outside
                .unwrap_err()
                .to_string()
                .contains("attachment 0 is missing")
        );
        let not_placeholder: Result<Binary, _> = serde_json::from_str(r#"{"num":0}"#);
        assert!(not_placeholder.is_err());
        let bytes: Binary = serde_json::from_str("[1,2]").unwrap();
        assert_eq!(&bytes[..], &[1, 2]);
    }
}
