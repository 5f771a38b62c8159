//! The Socket.IO packet type.

use bytestring::ByteString;

use super::args::{Args, Event, RawJson};

/// The seven Socket.IO packet types, with their wire digit as discriminant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// `0`: join a namespace (client) or accept the join (server).
    Connect = b'0',
    /// `1`: leave a namespace.
    Disconnect = b'1',
    /// `2`: an event without binary attachments.
    Event = b'2',
    /// `3`: an acknowledgement without binary attachments.
    Ack = b'3',
    /// `4`: the server refuses a namespace join.
    ConnectError = b'4',
    /// `5`: an event with binary attachments.
    BinaryEvent = b'5',
    /// `6`: an acknowledgement with binary attachments.
    BinaryAck = b'6',
}

impl PacketType {
    /// The packet type for a wire digit, if it is one.
    pub fn from_digit(digit: u8) -> Option<Self> {
        Some(match digit {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::ConnectError,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    /// The wire digit of this packet type.
    pub fn digit(self) -> u8 {
        self as u8
    }

    /// Whether packets of this type carry binary attachments.
    pub fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }
}

/// One Socket.IO packet.
///
/// `nsp` is the full namespace name, `/` for the main namespace (omitted on the wire).
/// Events and acks with binary attachments are the same variants as those without; the
/// wire type (`5`/`6` instead of `2`/`3`) follows from their [`Args`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0`: from a client, a request to join `nsp` with optional auth data (a JSON
    /// object); from a server, the acceptance with `{"sid":…}` (and `"pid"` with recovery).
    Connect {
        /// The namespace.
        nsp: ByteString,
        /// The auth payload or the server's answer; always a JSON object when present.
        data: Option<RawJson>,
    },
    /// `1`: leave `nsp` (the Engine.IO session stays up).
    Disconnect {
        /// The namespace.
        nsp: ByteString,
    },
    /// `2`/`5`: an event, asking for an acknowledgement when `ack_id` is set.
    Event {
        /// The namespace.
        nsp: ByteString,
        /// The id the acknowledgement must carry, if one is wanted.
        ack_id: Option<u64>,
        /// The event name and its arguments.
        event: Event,
    },
    /// `3`/`6`: the acknowledgement of the event that carried `ack_id`.
    Ack {
        /// The namespace.
        nsp: ByteString,
        /// The id of the acknowledged event.
        ack_id: u64,
        /// The acknowledgement's arguments.
        args: Args,
    },
    /// `4`: the server refuses to let the client join `nsp`; `data` is a JSON object
    /// (`{"message":…,"data":…}` from socket.io servers) or a string.
    ConnectError {
        /// The namespace.
        nsp: ByteString,
        /// Why.
        data: RawJson,
    },
}

impl Packet {
    /// An event packet.
    pub fn event(nsp: impl Into<ByteString>, ack_id: Option<u64>, event: Event) -> Self {
        Packet::Event {
            nsp: nsp.into(),
            ack_id,
            event,
        }
    }

    /// An acknowledgement packet.
    pub fn ack(nsp: impl Into<ByteString>, ack_id: u64, args: Args) -> Self {
        Packet::Ack {
            nsp: nsp.into(),
            ack_id,
            args,
        }
    }

    /// The packet's namespace.
    pub fn nsp(&self) -> &ByteString {
        match self {
            Packet::Connect { nsp, .. }
            | Packet::Disconnect { nsp }
            | Packet::Event { nsp, .. }
            | Packet::Ack { nsp, .. }
            | Packet::ConnectError { nsp, .. } => nsp,
        }
    }

    /// The wire type of this packet.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect { .. } => PacketType::Connect,
            Packet::Disconnect { .. } => PacketType::Disconnect,
            Packet::Event { event, .. } if event.data().has_attachments() => {
                PacketType::BinaryEvent
            }
            Packet::Event { .. } => PacketType::Event,
            Packet::Ack { args, .. } if args.has_attachments() => PacketType::BinaryAck,
            Packet::Ack { .. } => PacketType::Ack,
            Packet::ConnectError { .. } => PacketType::ConnectError,
        }
    }

    /// The ack id, for events that ask for one and for acks.
    pub fn ack_id(&self) -> Option<u64> {
        match self {
            Packet::Event { ack_id, .. } => *ack_id,
            Packet::Ack { ack_id, .. } => Some(*ack_id),
            _ => None,
        }
    }
}
