//! Engine.IO packets and their WebSocket frame form.

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;
use serde::{Deserialize, Serialize};

/// The payload that ping and pong packets carry during a WebSocket upgrade probe.
pub const PROBE: &str = "probe";

/// The seven Engine.IO packet types, with their wire digit as discriminant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// `0`: the handshake, sent by the server.
    Open = b'0',
    /// `1`: the session ends.
    Close = b'1',
    /// `2`: heartbeat request (server to client in v4) or upgrade probe (client to server).
    Ping = b'2',
    /// `3`: heartbeat answer.
    Pong = b'3',
    /// `4`: application data.
    Message = b'4',
    /// `5`: the client switches to the probed transport.
    Upgrade = b'5',
    /// `6`: nothing; used to close a pending poll during an upgrade.
    Noop = b'6',
}

impl PacketType {
    /// The packet type for a wire digit, if it is one.
    pub fn from_digit(digit: u8) -> Option<Self> {
        Some(match digit {
            b'0' => Self::Open,
            b'1' => Self::Close,
            b'2' => Self::Ping,
            b'3' => Self::Pong,
            b'4' => Self::Message,
            b'5' => Self::Upgrade,
            b'6' => Self::Noop,
            _ => return None,
        })
    }

    /// The wire digit of this packet type.
    pub fn digit(self) -> u8 {
        self as u8
    }
}

/// The handshake data of an open packet.
///
/// Serialises with exactly the keys and key order real servers send:
/// `{"sid":…,"upgrades":[…],"pingInterval":…,"pingTimeout":…,"maxPayload":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenPacket {
    /// The Engine.IO session id.
    pub sid: String,
    /// Transports the current one may upgrade to (`["websocket"]` over polling, `[]` over WebSocket).
    pub upgrades: Vec<String>,
    /// Milliseconds between two server pings.
    pub ping_interval: u64,
    /// Milliseconds the server waits for a pong before it closes the session.
    pub ping_timeout: u64,
    /// The largest payload, in bytes, the server accepts in one message or POST body.
    pub max_payload: u64,
}

/// One Engine.IO packet.
///
/// Ping and pong carry their data as text: empty for a heartbeat, [`PROBE`] during an
/// upgrade probe. Messages are text or binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0{…}`: the handshake.
    Open(OpenPacket),
    /// `1`: close the session.
    Close,
    /// `2` or `2probe`.
    Ping(ByteString),
    /// `3` or `3probe`.
    Pong(ByteString),
    /// `4…`: a text message (the text after the `4`).
    Message(ByteString),
    /// A binary message: a binary WebSocket frame, or `b<base64>` in a polling payload.
    Binary(Bytes),
    /// `5`: the client has switched transports.
    Upgrade,
    /// `6`: nothing.
    Noop,
}

/// One packet as it travels in one WebSocket message.
///
/// Frames are cheap to clone (they share their memory), so one encoded broadcast can be
/// queued to many sessions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Frame {
    /// A text frame: the packet type digit followed by the packet's text.
    Text(ByteString),
    /// A binary frame: the raw bytes of a binary message.
    Binary(Bytes),
}

impl Frame {
    /// The number of bytes of this frame on a WebSocket.
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(text) => text.len(),
            Frame::Binary(bytes) => bytes.len(),
        }
    }

    /// Whether the frame carries no byte at all (never true for a valid packet).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a frame is not a valid Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame or payload segment was empty.
    #[error("empty packet")]
    Empty,
    /// The first character is not a packet type digit.
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    /// An open packet whose JSON is not a valid handshake.
    #[error("invalid open packet: {0}")]
    InvalidOpen(String),
    /// A close, upgrade or noop packet followed by data.
    #[error("unexpected data after a {0:?} packet")]
    TrailingData(PacketType),
    /// A `b`-prefixed polling packet whose base64 is invalid.
    #[error("invalid base64 in a binary packet")]
    InvalidBase64,
    /// A polling body that is not valid UTF-8.
    #[error("polling payload is not valid UTF-8")]
    InvalidUtf8,
    /// The payload exceeds the configured maximum.
    #[error("payload of more than {max} bytes")]
    TooLarge {
        /// The configured maximum, in bytes.
        max: usize,
    },
}

impl Packet {
    /// A plain heartbeat ping.
    pub fn ping() -> Self {
        Packet::Ping(ByteString::new())
    }

    /// A plain heartbeat pong.
    pub fn pong() -> Self {
        Packet::Pong(ByteString::new())
    }

    /// The `2probe` ping a client sends on a new WebSocket during an upgrade.
    pub fn ping_probe() -> Self {
        Packet::Ping(ByteString::from_static(PROBE))
    }

    /// The `3probe` pong a server answers an upgrade probe with.
    pub fn pong_probe() -> Self {
        Packet::Pong(ByteString::from_static(PROBE))
    }

    /// This packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Open(_) => PacketType::Open,
            Packet::Close => PacketType::Close,
            Packet::Ping(_) => PacketType::Ping,
            Packet::Pong(_) => PacketType::Pong,
            Packet::Message(_) | Packet::Binary(_) => PacketType::Message,
            Packet::Upgrade => PacketType::Upgrade,
            Packet::Noop => PacketType::Noop,
        }
    }

    /// Whether this is a ping or pong carrying the upgrade probe.
    pub fn is_probe(&self) -> bool {
        matches!(self, Packet::Ping(data) | Packet::Pong(data) if data == PROBE)
    }

    /// Encodes this packet as one WebSocket frame.
    pub fn encode(&self) -> Frame {
        let with_text = |kind: PacketType, text: &str| {
            let mut buf = BytesMut::with_capacity(1 + text.len());
            buf.put_u8(kind.digit());
            buf.put_slice(text.as_bytes());
            Frame::Text(utf8(buf.freeze()))
        };
        match self {
            Packet::Open(open) => {
                let json = serde_json::to_string(open).expect("a handshake always serialises");
                with_text(PacketType::Open, &json)
            }
            Packet::Ping(data) | Packet::Pong(data) | Packet::Message(data) => {
                with_text(self.packet_type(), data)
            }
            Packet::Binary(bytes) => Frame::Binary(bytes.clone()),
            Packet::Close | Packet::Upgrade | Packet::Noop => {
                Frame::Text(ByteString::from_static(match self {
                    Packet::Close => "1",
                    Packet::Upgrade => "5",
                    _ => "6",
                }))
            }
        }
    }

    /// Decodes one WebSocket frame. Text payloads share the frame's memory.
    pub fn decode(frame: Frame) -> Result<Packet, DecodeError> {
        match frame {
            Frame::Binary(bytes) => Ok(Packet::Binary(bytes)),
            Frame::Text(text) => Self::decode_text(text),
        }
    }

    /// Decodes a text packet (`<digit><data>`).
    pub fn decode_text(text: ByteString) -> Result<Packet, DecodeError> {
        let first = *text.as_bytes().first().ok_or(DecodeError::Empty)?;
        let kind = PacketType::from_digit(first)
            .ok_or_else(|| DecodeError::UnknownType(text.chars().next().unwrap_or('\0')))?;
        // The first byte is an ASCII digit, so slicing after it stays on a char boundary.
        let data = text.slice_ref(&text[1..]);
        let no_data = |packet: Packet| {
            if data.is_empty() {
                Ok(packet)
            } else {
                Err(DecodeError::TrailingData(kind))
            }
        };
        match kind {
            PacketType::Open => serde_json::from_str(&data)
                .map(Packet::Open)
                .map_err(|e| DecodeError::InvalidOpen(e.to_string())),
            PacketType::Close => no_data(Packet::Close),
            PacketType::Ping => Ok(Packet::Ping(data)),
            PacketType::Pong => Ok(Packet::Pong(data)),
            PacketType::Message => Ok(Packet::Message(data)),
            PacketType::Upgrade => no_data(Packet::Upgrade),
            PacketType::Noop => no_data(Packet::Noop),
        }
    }
}

/// Wraps bytes this crate wrote from `&str` pieces.
pub(crate) fn utf8(bytes: Bytes) -> ByteString {
    ByteString::try_from(bytes).expect("built from UTF-8 pieces")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &'static str) -> Frame {
        Frame::Text(ByteString::from_static(s))
    }

    #[test]
    fn open_packet_has_the_reference_key_order() {
        let open = Packet::Open(OpenPacket {
            sid: "lv_VI97HAXpY6yYWAAAC".into(),
            upgrades: vec!["websocket".into()],
            ping_interval: 25000,
            ping_timeout: 20000,
            max_payload: 1_000_000,
        });
        let expected = r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        assert_eq!(open.encode(), text(expected));
        assert_eq!(Packet::decode(text(expected)).unwrap(), open);
    }

    #[test]
    fn every_simple_packet_round_trips() {
        let cases = [
            ("1", Packet::Close),
            ("2", Packet::ping()),
            ("3", Packet::pong()),
            ("2probe", Packet::ping_probe()),
            ("3probe", Packet::pong_probe()),
            ("4hello", Packet::Message("hello".into())),
            ("4", Packet::Message("".into())),
            ("5", Packet::Upgrade),
            ("6", Packet::Noop),
        ];
        for (wire, packet) in cases {
            assert_eq!(Packet::decode(text(wire)).unwrap(), packet, "{wire}");
            assert_eq!(packet.encode(), text(wire), "{wire}");
        }
        assert!(Packet::ping_probe().is_probe());
        assert!(!Packet::ping().is_probe());
    }

    #[test]
    fn binary_frames_are_binary_messages() {
        let bytes = Bytes::from_static(&[1, 2, 3, 4]);
        let packet = Packet::decode(Frame::Binary(bytes.clone())).unwrap();
        assert_eq!(packet, Packet::Binary(bytes.clone()));
        assert_eq!(packet.encode(), Frame::Binary(bytes));
    }

    #[test]
    fn malformed_frames_are_errors() {
        assert_eq!(Packet::decode(text("")), Err(DecodeError::Empty));
        assert_eq!(
            Packet::decode(text("9")),
            Err(DecodeError::UnknownType('9'))
        );
        assert_eq!(
            Packet::decode(text("éa")),
            Err(DecodeError::UnknownType('é'))
        );
        assert_eq!(
            Packet::decode(text("1x")),
            Err(DecodeError::TrailingData(PacketType::Close))
        );
        assert!(matches!(
            Packet::decode(text("0{\"sid\":1}")),
            Err(DecodeError::InvalidOpen(_))
        ));
    }

    #[test]
    fn message_text_shares_the_frame_memory() {
        let frame = ByteString::from(String::from("4some text"));
        let start = frame.as_ptr() as usize;
        let Packet::Message(data) = Packet::decode_text(frame).unwrap() else {
            panic!("not a message")
        };
        assert_eq!(data.as_ptr() as usize, start + 1);
    }
}
