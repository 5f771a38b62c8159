//! The MessagePack codec of npm's `socket.io-msgpack-parser` (feature `msgpack`).
//!
//! With this parser a packet is one MessagePack map `{type, nsp, data, id}` sent as one
//! binary Engine.IO message. There are no attachments: byte buffers are MessagePack `bin`
//! values inside `data`, and the packet types are only 0–4 (an event or ack with binary
//! data is still type 2 or 3).
//!
//! Decoded packets are the same [`Packet`] the JSON codec yields, so everything above the
//! codec works unchanged: `data` is converted to the validated JSON text that [`Args`] and
//! [`RawJson`] hold, each `bin` value becoming an attachment placeholder
//! (`{"_placeholder":true,"num":N}`) with its bytes as attachment `N` (a slice of the
//! received frame, not a copy), so typed access and [`Binary`](crate::Binary) read them
//! as they read a JSON packet's attachments. [`encode`] converts back: placeholders
//! become `bin` values again. Numbers follow JavaScript: integers are written in their
//! smallest MessagePack form, other numbers as float 64, as `notepack.io` (the parser's
//! MessagePack library) writes them, so a packet decoded from a JavaScript peer
//! re-encodes to the same bytes.
//!
//! Validation is as strict as the JSON decoder's, with the same payload rules (an event's
//! data is an array starting with a name that is not reserved, CONNECT data an object,
//! and so on), plus these, where the npm parser is more lenient:
//! - the frame is exactly one map with string keys; `type` is an integer 0–4, `nsp` a
//!   string starting with `/` and without `,` (as the JSON encoding requires), `id` a non-negative integer (not on CONNECT, DISCONNECT or
//!   CONNECT_ERROR, required on ACK); each appears at most once; other keys (socket.io
//!   clients also send `options`) are checked and ignored;
//! - map keys are strings, strings are UTF-8, floats are finite, nesting is at most 128
//!   levels; JavaScript's `undefined` (`fixext 1` type 0) reads as an absent field or
//!   map entry and as `null` in an array (as `JSON.stringify` has it); other extension
//!   types (Dates) are refused;
//! - a map that repeats a key is refused (JavaScript would keep the last one);
//! - a map with a `_placeholder` key inside `data` is refused, as it would read as an
//!   attachment; `bin` values are refused in CONNECT and CONNECT_ERROR data, which are
//!   plain JSON ([`RawJson`]) in a [`Packet`].
//!
//! ```
//! use halyard_protocol::{Binary, socketio::{Event, Packet, msgpack}};
//!
//! let event = Event::new("file", &("a.bin", Binary::from(vec![1u8, 2]))).unwrap();
//! let frame = msgpack::encode(&Packet::event("/", Some(3), event.clone())).unwrap();
//! let Packet::Event { ack_id, event: decoded, .. } = msgpack::decode(frame).unwrap() else {
//!     unreachable!()
//! };
//! assert_eq!((ack_id, decoded.name()), (Some(3), "file"));
//! let (name, file): (String, Binary) = decoded.args().unwrap();
//! assert_eq!((name.as_str(), &file[..]), ("a.bin", &[1u8, 2][..]));
//! assert_eq!(decoded, event);
//! ```

use bytes::Bytes;
use bytestring::ByteString;
use serde_json::Value;

use super::args::{Args, Event, RawJson};
use super::error::{DecodeError, EncodeError};
use super::json::{self, MAX_DEPTH};
use super::packet::{Packet, PacketType};
use super::scan::{Kind, scan_event, scan_value};

// ---------------------------------------------------------------------------------------
// Decoding

/// Decodes one binary frame (a whole packet).
pub fn decode(frame: Bytes) -> Result<Packet, DecodeError> {
    let mut reader = Reader {
        frame: &frame,
        pos: 0,
    };
    let len = match reader.u8()? {
        m @ 0x80..=0x8f => usize::from(m & 0x0f),
        0xde => usize::from(reader.u16()?),
        0xdf => reader.u32()?,
        _ => return Err(DecodeError::InvalidField("packet (not a map)")),
    };
    let (mut kind, mut nsp, mut id, mut data) = (None, None, None, None);
    let mut seen = [false; 4];
    let mut attachments = Vec::new();
    for _ in 0..len {
        let key = reader.str()?;
        const FIELDS: [&str; 4] = ["type", "nsp", "id", "data"];
        let field = FIELDS.iter().position(|k| *k == key);
        if let Some(field) = field
            && std::mem::replace(&mut seen[field], true)
        {
            return Err(DecodeError::InvalidField(FIELDS[field]));
        }
        match field {
            Some(0) => kind = Some(reader.packet_type()?),
            Some(1) => nsp = Some(reader.nsp()?),
            Some(2) => id = reader.ack_id()?,
            Some(3) => {
                let mut out = Vec::new();
                if reader.value(&mut out, &mut attachments, 0)? {
                    data = Some(out);
                }
            }
            _ => {
                reader.value(&mut Vec::new(), &mut Vec::new(), 0)?;
            }
        }
    }
    if reader.pos != frame.len() {
        return Err(DecodeError::InvalidMsgpack("trailing bytes".into()));
    }
    let kind = kind.ok_or(DecodeError::InvalidField("type"))?;
    let nsp = nsp.ok_or(DecodeError::InvalidField("nsp"))?;
    let no_id = || match id {
        None => Ok(()),
        Some(_) => Err(DecodeError::InvalidAckId),
    };
    // The converter writes UTF-8 (strings were checked) and JSON that the scans validate.
    let text = match data {
        Some(out) => Some(ByteString::from(
            String::from_utf8(out).map_err(|_| DecodeError::InvalidMsgpack("UTF-8".into()))?,
        )),
        None => None,
    };
    let binary = (!attachments.is_empty()).then_some(attachments.len());
    let expect = |allowed: &[Kind]| -> Result<RawJson, DecodeError> {
        let text = text.clone().ok_or(DecodeError::InvalidPayload(kind))?;
        if allowed.contains(&scan_value(&text, None, kind)?) {
            Ok(RawJson::trusted(text))
        } else {
            Err(DecodeError::InvalidPayload(kind))
        }
    };
    Ok(match kind {
        PacketType::Connect => {
            no_id()?;
            let data = match text {
                Some(_) => Some(expect(&[Kind::Object])?),
                None => None,
            };
            if binary.is_some() {
                return Err(DecodeError::InvalidPayload(kind));
            }
            Packet::Connect { nsp, data }
        }
        PacketType::Disconnect => {
            no_id()?;
            if text.is_some() {
                return Err(DecodeError::InvalidPayload(kind));
            }
            Packet::Disconnect { nsp }
        }
        PacketType::ConnectError => {
            no_id()?;
            let data = expect(&[Kind::Object, Kind::String])?;
            if binary.is_some() {
                return Err(DecodeError::InvalidPayload(kind));
            }
            Packet::ConnectError { nsp, data }
        }
        PacketType::Event => {
            let text = text.ok_or(DecodeError::InvalidPayload(kind))?;
            let name = scan_event(&text, binary, kind)?;
            Packet::Event {
                nsp,
                ack_id: id,
                event: Event::trusted(name, Args::trusted(text, attachments)),
            }
        }
        PacketType::Ack => {
            let ack_id = id.ok_or(DecodeError::InvalidAckId)?;
            let text = text.ok_or(DecodeError::InvalidPayload(kind))?;
            if scan_value(&text, binary, kind)? != Kind::Array {
                return Err(DecodeError::InvalidPayload(kind));
            }
            Packet::Ack {
                nsp,
                ack_id,
                args: Args::trusted(text, attachments),
            }
        }
        PacketType::BinaryEvent | PacketType::BinaryAck => {
            unreachable!("packet_type() yields types 0-4 only")
        }
    })
}

/// A cursor over the frame.
struct Reader<'a> {
    frame: &'a Bytes,
    pos: usize,
}

fn truncated() -> DecodeError {
    DecodeError::InvalidMsgpack("truncated".into())
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<std::ops::Range<usize>, DecodeError> {
        let end = self.pos.checked_add(n).ok_or_else(truncated)?;
        if end > self.frame.len() {
            return Err(truncated());
        }
        let range = self.pos..end;
        self.pos = end;
        Ok(range)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let range = self.take(N)?;
        let mut out = [0; N];
        out.copy_from_slice(&self.frame[range]);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<usize, DecodeError> {
        let n = u32::from_be_bytes(self.array()?);
        usize::try_from(n).map_err(|_| truncated())
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A string of `len` bytes, checked as UTF-8.
    fn utf8(&mut self, len: usize) -> Result<&str, DecodeError> {
        let range = self.take(len)?;
        std::str::from_utf8(&self.frame[range])
            .map_err(|_| DecodeError::InvalidMsgpack("a string is not UTF-8".into()))
    }

    /// A string value (a map key).
    fn str(&mut self) -> Result<&str, DecodeError> {
        let len = match self.u8()? {
            m @ 0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => usize::from(self.u8()?),
            0xda => usize::from(self.u16()?),
            0xdb => self.u32()?,
            _ => {
                return Err(DecodeError::InvalidMsgpack(
                    "a map key is not a string".into(),
                ));
            }
        };
        self.utf8(len)
    }

    /// An unsigned integer in any MessagePack integer form, `None` for any other value
    /// (read to its end only when it is an integer).
    fn uint(&mut self) -> Result<Option<u64>, DecodeError> {
        Ok(match self.u8()? {
            m @ 0x00..=0x7f => Some(u64::from(m)),
            0xcc => Some(u64::from(self.u8()?)),
            0xcd => Some(u64::from(self.u16()?)),
            0xce => Some(self.u32()? as u64),
            0xcf => Some(self.u64()?),
            0xd0 => u64::try_from(i8::from_be_bytes(self.array()?)).ok(),
            0xd1 => u64::try_from(i16::from_be_bytes(self.array()?)).ok(),
            0xd2 => u64::try_from(i32::from_be_bytes(self.array()?)).ok(),
            0xd3 => u64::try_from(i64::from_be_bytes(self.array()?)).ok(),
            _ => None,
        })
    }

    fn packet_type(&mut self) -> Result<PacketType, DecodeError> {
        let kind = self.uint()?.filter(|&n| n <= 4);
        let kind = kind.and_then(|n| PacketType::from_digit(b'0' + n as u8));
        kind.ok_or(DecodeError::InvalidField("type"))
    }

    fn nsp(&mut self) -> Result<ByteString, DecodeError> {
        let nsp = self.str().map_err(|_| DecodeError::InvalidField("nsp"))?;
        // No `,`: the JSON encoding ends the namespace there, so such a namespace could
        // not be forwarded or answered on a JSON connection.
        if !nsp.starts_with('/') || nsp.contains(',') {
            return Err(DecodeError::InvalidField("nsp"));
        }
        Ok(ByteString::from(nsp))
    }

    /// The ack id; `None` for `undefined`.
    fn ack_id(&mut self) -> Result<Option<u64>, DecodeError> {
        if self.frame.get(self.pos..self.pos + 3) == Some(&[0xd4, 0, 0][..]) {
            self.pos += 3;
            return Ok(None);
        }
        self.uint()?.map(Some).ok_or(DecodeError::InvalidAckId)
    }

    /// Converts one value to JSON into `out`, `bin` values to placeholders (their bytes
    /// pushed to `attachments`). Returns `false` for `undefined`, which writes nothing.
    fn value(
        &mut self,
        out: &mut Vec<u8>,
        attachments: &mut Vec<Bytes>,
        depth: usize,
    ) -> Result<bool, DecodeError> {
        if depth >= MAX_DEPTH {
            return Err(DecodeError::InvalidMsgpack("nested too deeply".into()));
        }
        let marker = self.u8()?;
        let (array, map, str, bin) = match marker {
            0x00..=0x7f => return number(out, u64::from(marker)),
            0x80..=0x8f => (None, Some(usize::from(marker & 0x0f)), None, None),
            0x90..=0x9f => (Some(usize::from(marker & 0x0f)), None, None, None),
            0xa0..=0xbf => (None, None, Some(usize::from(marker & 0x1f)), None),
            0xc0 => return write(out, b"null"),
            0xc2 => return write(out, b"false"),
            0xc3 => return write(out, b"true"),
            0xc4 => (None, None, None, Some(usize::from(self.u8()?))),
            0xc5 => (None, None, None, Some(usize::from(self.u16()?))),
            0xc6 => (None, None, None, Some(self.u32()?)),
            0xca => return float(out, f64::from(f32::from_be_bytes(self.array()?))),
            0xcb => return float(out, f64::from_be_bytes(self.array()?)),
            0xcc => return number(out, self.u8()?),
            0xcd => return number(out, self.u16()?),
            0xce => return number(out, self.u32()?),
            0xcf => return number(out, self.u64()?),
            0xd0 => return number(out, i8::from_be_bytes(self.array()?)),
            0xd1 => return number(out, i16::from_be_bytes(self.array()?)),
            0xd2 => return number(out, i32::from_be_bytes(self.array()?)),
            0xd3 => return number(out, i64::from_be_bytes(self.array()?)),
            0xd4 if self.array::<2>()? == [0, 0] => return Ok(false),
            0xd9 => (None, None, Some(usize::from(self.u8()?)), None),
            0xda => (None, None, Some(usize::from(self.u16()?)), None),
            0xdb => (None, None, Some(self.u32()?), None),
            0xdc => (Some(usize::from(self.u16()?)), None, None, None),
            0xdd => (Some(self.u32()?), None, None, None),
            0xde => (None, Some(usize::from(self.u16()?)), None, None),
            0xdf => (None, Some(self.u32()?), None, None),
            0xc1 => return Err(DecodeError::InvalidMsgpack("reserved byte 0xc1".into())),
            0xe0..=0xff => return number(out, marker as i8),
            _ => {
                return Err(DecodeError::InvalidMsgpack(
                    "unsupported extension type".into(),
                ));
            }
        };
        if let Some(len) = str {
            let text = self.utf8(len)?;
            json::to_writer(&mut *out, text).map_err(json_error)?;
        } else if let Some(len) = bin {
            let range = self.take(len)?;
            attachments.push(self.frame.slice(range));
            let num = attachments.len() - 1;
            write(out, b"{\"_placeholder\":true,\"num\":")?;
            number(out, num as u64)?;
            write(out, b"}")?;
        } else if let Some(len) = array {
            out.push(b'[');
            for i in 0..len {
                if i > 0 {
                    out.push(b',');
                }
                if !self.value(out, attachments, depth + 1)? {
                    write(out, b"null")?;
                }
            }
            out.push(b']');
        } else if let Some(len) = map {
            out.push(b'{');
            let mut first = true;
            // JavaScript keeps the last of repeated keys (and drops what the others held,
            // binaries included); refusing them keeps decode and encode exact inverses.
            let mut keys = std::collections::HashSet::new();
            for _ in 0..len {
                let mark = out.len();
                if !first {
                    out.push(b',');
                }
                let key = self.str()?;
                if key == "_placeholder" {
                    return Err(DecodeError::InvalidMsgpack(
                        "a map with a `_placeholder` key".into(),
                    ));
                }
                if len > 1 && !keys.insert(key.to_owned()) {
                    return Err(DecodeError::InvalidMsgpack("a map repeats a key".into()));
                }
                json::to_writer(&mut *out, key).map_err(json_error)?;
                out.push(b':');
                if self.value(out, attachments, depth + 1)? {
                    first = false;
                } else {
                    out.truncate(mark);
                }
            }
            out.push(b'}');
        }
        Ok(true)
    }
}

fn json_error(e: serde_json::Error) -> DecodeError {
    DecodeError::InvalidJson(e.to_string())
}

fn write(out: &mut Vec<u8>, bytes: &[u8]) -> Result<bool, DecodeError> {
    out.extend_from_slice(bytes);
    Ok(true)
}

fn number(out: &mut Vec<u8>, n: impl itoa::Integer) -> Result<bool, DecodeError> {
    write(out, itoa::Buffer::new().format(n).as_bytes())
}

fn float(out: &mut Vec<u8>, f: f64) -> Result<bool, DecodeError> {
    if !f.is_finite() {
        return Err(DecodeError::InvalidMsgpack("a float is not finite".into()));
    }
    json::to_writer(&mut *out, &f).map_err(json_error)?;
    Ok(true)
}

// ---------------------------------------------------------------------------------------
// Encoding

/// Encodes a packet as one binary frame.
///
/// The map's keys come in the order `type`, `nsp`, `data`, `id` (absent ones left out);
/// attachments go back in place of their placeholders as `bin` values.
pub fn encode(packet: &Packet) -> Result<Bytes, EncodeError> {
    let nsp = packet.nsp();
    if !nsp.starts_with('/') || nsp.contains(',') {
        return Err(EncodeError::InvalidNamespace(nsp.to_string()));
    }
    let (kind, data, attachments): (u8, Option<&str>, &[Bytes]) = match packet {
        Packet::Connect { data, .. } => (0, data.as_ref().map(RawJson::as_str), &[]),
        Packet::Disconnect { .. } => (1, None, &[]),
        Packet::Event { event, .. } => (2, Some(event.data().json()), event.data().attachments()),
        Packet::Ack { args, .. } => (3, Some(args.json()), args.attachments()),
        Packet::ConnectError { data, .. } => (4, Some(data.as_str()), &[]),
    };
    let data = data
        .map(serde_json::from_str::<Value>)
        .transpose()
        .map_err(|e| EncodeError::Serialize(e.to_string()))?;
    let wrong_kind = match (packet, &data) {
        (Packet::Connect { .. }, Some(data)) => !data.is_object(),
        (Packet::ConnectError { .. }, Some(data)) => !(data.is_object() || data.is_string()),
        (Packet::Event { .. } | Packet::Ack { .. }, Some(data)) => !data.is_array(),
        _ => false,
    };
    if wrong_kind {
        return Err(EncodeError::InvalidPayload(packet.packet_type()));
    }
    let id = packet.ack_id();
    let mut out = Vec::with_capacity(64);
    let fields = 2 + u32::from(data.is_some()) + u32::from(id.is_some());
    ok(rmp::encode::write_map_len(&mut out, fields))?;
    ok(rmp::encode::write_str(&mut out, "type"))?;
    ok(rmp::encode::write_uint(&mut out, u64::from(kind)))?;
    ok(rmp::encode::write_str(&mut out, "nsp"))?;
    ok(rmp::encode::write_str(&mut out, nsp))?;
    if let Some(data) = &data {
        ok(rmp::encode::write_str(&mut out, "data"))?;
        write_value(&mut out, data, attachments)?;
    }
    if let Some(id) = id {
        ok(rmp::encode::write_str(&mut out, "id"))?;
        ok(rmp::encode::write_uint(&mut out, id))?;
    }
    Ok(Bytes::from(out))
}

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, EncodeError> {
    result.map_err(|e| EncodeError::Serialize(e.to_string()))
}

fn len(n: usize) -> Result<u32, EncodeError> {
    u32::try_from(n).map_err(|_| EncodeError::Serialize("too large for MessagePack".into()))
}

fn write_value(out: &mut Vec<u8>, value: &Value, attachments: &[Bytes]) -> Result<(), EncodeError> {
    match value {
        Value::Null => ok(rmp::encode::write_nil(out)),
        Value::Bool(b) => ok(rmp::encode::write_bool(out, *b)),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                ok(rmp::encode::write_uint(out, u)).map(drop)
            } else if let Some(i) = n.as_i64() {
                ok(rmp::encode::write_sint(out, i)).map(drop)
            } else {
                write_float(out, n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => ok(rmp::encode::write_str(out, s)),
        Value::Array(items) => {
            ok(rmp::encode::write_array_len(out, len(items.len())?))?;
            items
                .iter()
                .try_for_each(|item| write_value(out, item, attachments))
        }
        Value::Object(map) => {
            if !attachments.is_empty() && map.get("_placeholder") == Some(&Value::Bool(true)) {
                let bytes = map
                    .get("num")
                    .and_then(Value::as_u64)
                    .and_then(|n| attachments.get(usize::try_from(n).ok()?))
                    .ok_or_else(|| {
                        EncodeError::Serialize("a placeholder names no attachment".into())
                    })?;
                return ok(rmp::encode::write_bin(out, bytes));
            }
            ok(rmp::encode::write_map_len(out, len(map.len())?))?;
            map.iter().try_for_each(|(key, value)| {
                ok(rmp::encode::write_str(out, key))?;
                write_value(out, value, attachments)
            })
        }
    }
}

/// A JavaScript number as notepack.io writes it: integers in their smallest integer form,
/// anything else as float 64.
fn write_float(out: &mut Vec<u8>, f: f64) -> Result<(), EncodeError> {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f.fract() == 0.0 && (0.0..2.0 * TWO_63).contains(&f) {
        ok(rmp::encode::write_uint(out, f as u64)).map(drop)
    } else if f.fract() == 0.0 && (-TWO_63..0.0).contains(&f) {
        ok(rmp::encode::write_sint(out, f as i64)).map(drop)
    } else {
        ok(rmp::encode::write_f64(out, f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Binary;
    use proptest::prelude::*;

    fn hex(s: &str) -> Bytes {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>()
            .into()
    }

    #[test]
    fn an_event_with_a_buffer_is_one_map_and_reads_back() {
        let event = Event::new("up", &(1, Binary::from(vec![9u8]))).unwrap();
        let frame = encode(&Packet::event("/", Some(5), event)).unwrap();
        // {type: 2, nsp: "/", data: ["up", 1, <bin 09>], id: 5}
        let expected =
            hex("84 a4 74797065 02 a3 6e7370 a1 2f a4 64617461 93 a2 7570 01 c4 01 09 a2 6964 05");
        assert_eq!(frame, expected);
        let Packet::Event { event, ack_id, .. } = decode(frame).unwrap() else {
            panic!("not an event")
        };
        assert_eq!(ack_id, Some(5));
        assert_eq!(
            event.data().json(),
            r#"["up",1,{"_placeholder":true,"num":0}]"#
        );
        let (n, bin): (u8, Binary) = event.args().unwrap();
        assert_eq!((n, &bin[..]), (1, &[9u8][..]));
    }

    #[test]
    fn numbers_are_written_as_javascript_numbers() {
        let args = Args::new(&(1.0f64, -1, -33, 300, 1.5, u64::MAX, -0.0f64)).unwrap();
        let frame = encode(&Packet::ack("/", 0, args)).unwrap();
        let data = hex("97 01 ff d0 df cd 012c cb 3ff8000000000000 cf ffffffffffffffff 00");
        assert!(frame.windows(data.len()).any(|w| w == &data[..]));
        let Packet::Ack { args, .. } = decode(frame).unwrap() else {
            panic!("not an ack")
        };
        assert_eq!(args.json(), "[1,-1,-33,300,1.5,18446744073709551615,0]");
    }

    #[test]
    fn floats_read_back_exactly() {
        // serde_json's default float parser is off by one ulp here (the `msgpack` feature
        // turns on its `float_roundtrip`).
        let args = Args::new(&(-5.378875812459974e-264,)).unwrap();
        let packet = Packet::ack("/", 1, args);
        let frame = encode(&packet).unwrap();
        assert_eq!(decode(frame.clone()).unwrap(), packet);
        assert_eq!(
            &frame[frame.len() - 12..frame.len() - 4],
            &(-5.378875812459974e-264f64).to_be_bytes()
        );
    }

    #[test]
    fn undefined_is_an_absent_field_or_entry_and_null_in_arrays() {
        // {type: 2, nsp: "/", data: ["e", undefined, {a: undefined, b: 1}], id: undefined}
        let frame = hex(
            "84 a4 74797065 02 a3 6e7370 a1 2f a4 64617461 93 a1 65 d40000 82 a1 61 d40000 a1 62 01 a2 6964 d40000",
        );
        let Packet::Event { event, ack_id, .. } = decode(frame).unwrap() else {
            panic!("not an event")
        };
        assert_eq!(
            (ack_id, event.data().json()),
            (None, r#"["e",null,{"b":1}]"#)
        );
    }

    #[test]
    fn invalid_packets_are_typed_errors() {
        use DecodeError as E;
        let head = "a4 74797065";
        let cases: Vec<(String, DecodeError)> = vec![
            ("".into(), E::InvalidMsgpack("truncated".into())),
            ("93 01 02 03".into(), E::InvalidField("packet (not a map)")),
            (format!("81 {head} 05"), E::InvalidField("type")),
            (format!("81 {head} 01"), E::InvalidField("nsp")),
            (
                format!("82 {head} 01 a3 6e7370 a1 78"),
                E::InvalidField("nsp"),
            ),
            // "/,a": a comma ends a namespace in the JSON encoding (found by fuzzing).
            (
                format!("82 {head} 01 a3 6e7370 a3 2f2c61"),
                E::InvalidField("nsp"),
            ),
            (format!("82 {head} 01 {head} 01"), E::InvalidField("type")),
            (
                format!("82 {head} 01 a3 6e7370 a1 2f c0"),
                E::InvalidMsgpack("trailing bytes".into()),
            ),
            (
                format!("83 {head} 01 a3 6e7370 a1 2f a2 6964 01"),
                E::InvalidAckId,
            ),
            (
                format!("83 {head} 03 a3 6e7370 a1 2f a4 64617461 90"),
                E::InvalidAckId,
            ),
            (
                format!("83 {head} 03 a3 6e7370 a1 2f a2 6964 ff"),
                E::InvalidAckId,
            ),
            (
                format!("83 {head} 02 a3 6e7370 a1 2f a4 64617461 91 a7 636f6e6e656374"),
                E::ReservedEventName("connect".into()),
            ),
            (
                format!("83 {head} 02 a3 6e7370 a1 2f a4 64617461 80"),
                E::InvalidPayload(PacketType::Event),
            ),
            (
                format!("83 {head} 00 a3 6e7370 a1 2f a4 64617461 a1 78"),
                E::InvalidPayload(PacketType::Connect),
            ),
            (
                format!("83 {head} 01 a3 6e7370 a1 2f a4 64617461 80"),
                E::InvalidPayload(PacketType::Disconnect),
            ),
            (
                format!("83 {head} 02 a3 6e7370 a1 2f a4 64617461 92 a1 65 cb 7ff0000000000000"),
                E::InvalidMsgpack("a float is not finite".into()),
            ),
            (
                format!("83 {head} 02 a3 6e7370 a1 2f a4 64617461 92 a1 65 81 01 02"),
                E::InvalidMsgpack("a map key is not a string".into()),
            ),
            (
                format!("83 {head} 02 a3 6e7370 a1 2f a4 64617461 92 a1 65 a1 ff"),
                E::InvalidMsgpack("a string is not UTF-8".into()),
            ),
            (
                format!("83 {head} 02 a3 6e7370 a1 2f a4 64617461 92 a1 65 d7 00 0000000000000000"),
                E::InvalidMsgpack("unsupported extension type".into()),
            ),
            (
                format!(
                    "83 {head} 02 a3 6e7370 a1 2f a4 64617461 92 a1 65 81 ac 5f706c616365686f6c646572 c3"
                ),
                E::InvalidMsgpack("a map with a `_placeholder` key".into()),
            ),
            // ["e", {"a": 1, "a": 2}] (found by fuzzing: the repeat was lost on re-encode)
            (
                format!("83 {head} 02 a3 6e7370 a1 2f a4 64617461 92 a1 65 82 a1 61 01 a1 61 02"),
                E::InvalidMsgpack("a map repeats a key".into()),
            ),
            (
                format!("83 {head} 00 a3 6e7370 a1 2f a4 64617461 81 a1 62 c4 00"),
                E::InvalidPayload(PacketType::Connect),
            ),
            (
                format!("83 {head} 02 a3 6e7370 a1 2f a4 64617461 dd ffffffff"),
                E::InvalidMsgpack("truncated".into()),
            ),
        ];
        for (bytes, error) in cases {
            assert_eq!(decode(hex(&bytes)), Err(error), "{bytes}");
        }
        let deep = format!(
            "83 {head} 02 a3 6e7370 a1 2f a4 64617461 {}",
            "91 ".repeat(100_000)
        );
        assert_eq!(
            decode(hex(&deep)),
            Err(E::InvalidMsgpack("nested too deeply".into()))
        );
    }

    #[test]
    fn other_keys_are_ignored_and_every_packet_kind_round_trips() {
        // {type: 2, data: ["e"], options: {compress: true}, nsp: "/a"} (socket.io-client's order)
        let frame = hex(
            "84 a4 74797065 02 a4 64617461 91 a1 65 a7 6f7074696f6e73 81 a8 636f6d7072657373 c3 a3 6e7370 a2 2f61",
        );
        let packet = decode(frame).unwrap();
        assert_eq!(
            packet,
            Packet::event("/a", None, Event::new("e", &()).unwrap())
        );
        let packets = [
            Packet::Connect {
                nsp: "/".into(),
                data: None,
            },
            Packet::Connect {
                nsp: "/x".into(),
                data: Some(RawJson::new(r#"{"token":"t"}"#).unwrap()),
            },
            Packet::Disconnect { nsp: "/x".into() },
            Packet::ConnectError {
                nsp: "/".into(),
                data: RawJson::new(r#"{"message":"no"}"#).unwrap(),
            },
            Packet::ConnectError {
                nsp: "/".into(),
                data: RawJson::new(r#""no""#).unwrap(),
            },
            Packet::ack("/", 0, Args::empty()),
            packet,
        ];
        for packet in packets {
            let frame = encode(&packet).unwrap();
            assert_eq!(decode(frame.clone()).unwrap(), packet);
        }
    }

    #[test]
    fn encoding_checks_namespaces_and_payload_kinds() {
        let bad_nsp = Packet::Disconnect { nsp: "x".into() };
        assert!(matches!(
            encode(&bad_nsp),
            Err(EncodeError::InvalidNamespace(_))
        ));
        let bad_data = Packet::Connect {
            nsp: "/".into(),
            data: Some(RawJson::new("[1]").unwrap()),
        };
        assert_eq!(
            encode(&bad_data),
            Err(EncodeError::InvalidPayload(PacketType::Connect))
        );
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        "[a-z_]{0,6}".prop_filter("", |k| k != "_placeholder"),
                        inner
                    ),
                    0..6
                )
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    /// An argument: a JSON value or a buffer.
    #[derive(Debug, Clone, serde::Serialize)]
    #[serde(untagged)]
    enum Arg {
        Json(Value),
        Bytes(Binary),
    }

    fn arg() -> impl Strategy<Value = Arg> {
        prop_oneof![
            3 => json_value().prop_map(Arg::Json),
            1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(|b| Arg::Bytes(b.into())),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(bytes.clone().into());
            // Also behind a valid packet head, to reach the data converter.
            let mut framed = hex("83 a4 74797065 02 a3 6e7370 a1 2f a4 64617461").to_vec();
            framed.extend_from_slice(&bytes);
            let _ = decode(framed.into());
        }

        #[test]
        fn events_and_acks_round_trip_byte_for_byte(
            name in "[a-zA-Z0-9 \"\\\\é]{1,12}",
            args in prop::collection::vec(arg(), 0..5),
            nsp in "/[a-z]{0,5}",
            id in proptest::option::of(any::<u64>()),
        ) {
            prop_assume!(!crate::socketio::is_reserved_event(&name));
            let event = Event::new(&name, &args).unwrap();
            let packets = [
                Packet::event(nsp.as_str(), id, event),
                Packet::ack(nsp.as_str(), id.unwrap_or(0), Args::new(&args).unwrap()),
            ];
            for packet in packets {
                let frame = encode(&packet).unwrap();
                let decoded = decode(frame.clone()).unwrap();
                prop_assert_eq!(&decoded, &packet);
                prop_assert_eq!(encode(&decoded).unwrap(), frame);
            }
        }
    }
}
