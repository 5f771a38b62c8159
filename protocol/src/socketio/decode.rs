//! The Socket.IO decoder: text frames, then the binary attachments they announce.

use bytes::Bytes;
use bytestring::ByteString;

use super::args::{Args, Event, Name, RawJson};
use super::error::DecodeError;
use super::packet::{Packet, PacketType};
use super::scan::{Kind, scan_event, scan_value};

/// The attachment limit of the reference parser (socket.io-parser's `maxAttachments`).
pub const DEFAULT_MAX_ATTACHMENTS: usize = 10;

/// Decodes Socket.IO packets from the Engine.IO messages of one connection.
///
/// Feed each text message (the text after the Engine.IO `4`) to
/// [`decode_text`](Self::decode_text) and each binary message to
/// [`decode_binary`](Self::decode_binary). A packet without attachments comes out at
/// once; a binary packet comes out with the last of its announced attachments, its
/// placeholders checked against them. After an error the decoder is empty again, but
/// the connection should be closed: the peer is not speaking the protocol.
///
/// ```
/// use halyard_protocol::{Binary, Bytes, socketio::{Decoder, Packet}};
///
/// let mut decoder = Decoder::new();
/// let text = r#"51-["upload",{"_placeholder":true,"num":0}]"#;
/// assert!(decoder.decode_text(text.into()).unwrap().is_none());
/// let packet = decoder.decode_binary(Bytes::from_static(&[1, 2, 3])).unwrap().unwrap();
/// let Packet::Event { event, .. } = packet else { unreachable!() };
/// let (file,): (Binary,) = event.args().unwrap();
/// assert_eq!(&file[..], &[1, 2, 3]);
/// ```
#[derive(Debug)]
pub struct Decoder {
    max_attachments: usize,
    partial: Option<Partial>,
}

/// A binary event or ack waiting for its attachments.
#[derive(Debug)]
struct Partial {
    nsp: ByteString,
    ack_id: Option<u64>,
    /// The event name, for an event; `None` for an ack.
    name: Option<Name>,
    args: Args,
    expected: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder accepting up to [`DEFAULT_MAX_ATTACHMENTS`] attachments per packet.
    pub fn new() -> Self {
        Self::with_max_attachments(DEFAULT_MAX_ATTACHMENTS)
    }

    /// A decoder accepting up to `max_attachments` attachments per packet.
    pub fn with_max_attachments(max_attachments: usize) -> Self {
        Self {
            max_attachments,
            partial: None,
        }
    }

    /// How many attachments the packet being reassembled still waits for (0 when none is).
    pub fn missing_attachments(&self) -> usize {
        self.partial
            .as_ref()
            .map_or(0, |p| p.expected - p.args.attachments().len())
    }

    /// Drops a packet being reassembled.
    pub fn reset(&mut self) {
        self.partial = None;
    }

    /// Decodes a text frame. Returns `Ok(None)` when the packet waits for attachments.
    ///
    /// Events and acks keep `text` itself (moved, not copied or re-counted) and read their
    /// JSON from it.
    pub fn decode_text(&mut self, text: ByteString) -> Result<Option<Packet>, DecodeError> {
        if let Some(partial) = self.partial.take() {
            let missing = partial.expected - partial.args.attachments().len();
            return Err(DecodeError::UnexpectedText { missing });
        }
        let Header {
            kind,
            attachments,
            nsp,
            ack_id,
            data,
        } = Header::parse(&text, self.max_attachments)?;
        let no_ack_id = || match ack_id {
            None => Ok(()),
            Some(_) => Err(DecodeError::InvalidAckId),
        };
        let start = data.ok_or(DecodeError::InvalidPayload(kind));
        let raw = |start: usize| text.slice_ref(&text[start..]);
        let binary = kind.is_binary().then_some(attachments);
        let packet = match kind {
            PacketType::Connect => {
                no_ack_id()?;
                let data = match data {
                    Some(start) => Some(expect_kind(raw(start), kind, &[Kind::Object])?),
                    None => None,
                };
                Packet::Connect { nsp, data }
            }
            PacketType::Disconnect => {
                no_ack_id()?;
                if data.is_some() {
                    return Err(DecodeError::InvalidPayload(kind));
                }
                Packet::Disconnect { nsp }
            }
            PacketType::ConnectError => {
                no_ack_id()?;
                let data = expect_kind(raw(start?), kind, &[Kind::Object, Kind::String])?;
                Packet::ConnectError { nsp, data }
            }
            PacketType::Event | PacketType::BinaryEvent => {
                let start = start?;
                let name = scan_event(&text[start..], binary, kind)?;
                if let Some(expected) = binary {
                    let args = Args::trusted_in(text, start, Vec::with_capacity(expected));
                    return self.wait(Partial {
                        nsp,
                        ack_id,
                        name: Some(name),
                        args,
                        expected,
                    });
                }
                let args = Args::trusted_in(text, start, Vec::new());
                return Ok(Some(Packet::Event {
                    nsp,
                    ack_id,
                    event: Event::trusted(name, args),
                }));
            }
            PacketType::Ack | PacketType::BinaryAck => {
                let ack_id = ack_id.ok_or(DecodeError::InvalidAckId)?;
                let start = start?;
                if scan_value(&text[start..], binary, kind)? != Kind::Array {
                    return Err(DecodeError::InvalidPayload(kind));
                }
                if let Some(expected) = binary {
                    let args = Args::trusted_in(text, start, Vec::with_capacity(expected));
                    return self.wait(Partial {
                        nsp,
                        ack_id: Some(ack_id),
                        name: None,
                        args,
                        expected,
                    });
                }
                Packet::Ack {
                    nsp,
                    ack_id,
                    args: Args::trusted_in(text, start, Vec::new()),
                }
            }
        };
        Ok(Some(packet))
    }

    /// Decodes a binary frame: the next attachment of the packet being reassembled.
    pub fn decode_binary(&mut self, bytes: Bytes) -> Result<Option<Packet>, DecodeError> {
        let partial = self.partial.as_mut().ok_or(DecodeError::UnexpectedBinary)?;
        partial.args.push_attachment(bytes);
        if partial.args.attachments().len() < partial.expected {
            return Ok(None);
        }
        Ok(self.partial.take().map(Partial::complete))
    }

    fn wait(&mut self, partial: Partial) -> Result<Option<Packet>, DecodeError> {
        self.partial = Some(partial);
        Ok(None)
    }
}

impl Partial {
    /// The packet, once every attachment is in.
    fn complete(self) -> Packet {
        let Partial {
            nsp,
            ack_id,
            name,
            args,
            ..
        } = self;
        match (name, ack_id) {
            (Some(name), ack_id) => Packet::Event {
                nsp,
                ack_id,
                event: Event::trusted(name, args),
            },
            (None, Some(ack_id)) => Packet::Ack { nsp, ack_id, args },
            (None, None) => unreachable!("an ack is only built with its ack id"),
        }
    }
}

fn expect_kind(
    json: ByteString,
    packet: PacketType,
    allowed: &[Kind],
) -> Result<RawJson, DecodeError> {
    if allowed.contains(&scan_value(&json, None, packet)?) {
        Ok(RawJson::trusted(json))
    } else {
        Err(DecodeError::InvalidPayload(packet))
    }
}

/// The parts of a packet's text before its JSON.
struct Header {
    kind: PacketType,
    attachments: usize,
    nsp: ByteString,
    ack_id: Option<u64>,
    /// Where the JSON data starts, if there is any.
    data: Option<usize>,
}

impl Header {
    fn parse(text: &ByteString, max_attachments: usize) -> Result<Header, DecodeError> {
        let bytes = text.as_bytes();
        let first = *bytes.first().ok_or(DecodeError::Empty)?;
        let kind = PacketType::from_digit(first)
            .ok_or_else(|| DecodeError::UnknownType(text.chars().next().unwrap_or('\0')))?;
        // Every boundary below follows an ASCII byte, so slices stay on char boundaries.
        let mut i = 1;
        let mut attachments = 0;
        if kind.is_binary() {
            let dash =
                memchr::memchr(b'-', &bytes[i..]).ok_or(DecodeError::InvalidAttachmentCount)?;
            let digits = &bytes[i..i + dash];
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(DecodeError::InvalidAttachmentCount);
            }
            attachments = parse_u64(digits)
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
                .unwrap_or(usize::MAX);
            if attachments == 0 {
                return Err(DecodeError::InvalidAttachmentCount);
            }
            if attachments > max_attachments {
                return Err(DecodeError::TooManyAttachments {
                    max: max_attachments,
                });
            }
            i += dash + 1;
        }
        let nsp = if bytes.get(i) == Some(&b'/') {
            // A plain loop: namespaces are short, too short for memchr's vector set-up.
            let comma = bytes[i..].iter().position(|&b| b == b',');
            let end = comma.map_or(bytes.len(), |comma| i + comma);
            let nsp = text.slice_ref(&text[i..end]);
            i = (end + 1).min(bytes.len());
            nsp
        } else {
            ByteString::from_static("/")
        };
        let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let ack_id = if digits > 0 {
            let id = parse_u64(&bytes[i..i + digits]).ok_or(DecodeError::InvalidAckId)?;
            i += digits;
            Some(id)
        } else {
            None
        };
        let data = (i < bytes.len()).then_some(i);
        Ok(Header {
            kind,
            attachments,
            nsp,
            ack_id,
            data,
        })
    }
}

/// Parses ASCII digits, `None` on overflow.
fn parse_u64(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}
