//! Typed errors of the Socket.IO codec.

use super::packet::PacketType;

/// Why a Socket.IO frame, or a sequence of frames, is not a valid packet.
///
/// Any of these ends the Engine.IO session of the peer that sent it (socket.io closes
/// with the reason `parse error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The text frame was empty.
    #[error("empty packet")]
    Empty,
    /// The first character is not a packet type digit.
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    /// A binary packet whose attachment count is missing, zero, not a number or not followed by `-`.
    #[error("illegal attachment count")]
    InvalidAttachmentCount,
    /// A binary packet announcing more attachments than the decoder accepts.
    #[error("too many attachments (at most {max})")]
    TooManyAttachments {
        /// The decoder's limit.
        max: usize,
    },
    /// An ack id that does not fit in 64 bits, is missing on an ACK, or appears where none may.
    #[error("invalid ack id")]
    InvalidAckId,
    /// The data after the header is not valid JSON.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// Valid JSON of the wrong shape for the packet type.
    #[error("invalid payload for a {0:?} packet")]
    InvalidPayload(PacketType),
    /// An event whose name is one the library reserves.
    #[error("reserved event name {0:?}")]
    ReservedEventName(String),
    /// A placeholder that names an attachment the packet does not have.
    #[error("placeholder refers to attachment {num} of {attachments}")]
    PlaceholderOutOfRange {
        /// The placeholder's `num` (or `u64::MAX` when it is not a non-negative integer).
        num: u64,
        /// How many attachments the packet announced.
        attachments: usize,
    },
    /// A text frame arrived while the attachments of a binary packet were still expected.
    #[error("text frame while waiting for {missing} binary attachment(s)")]
    UnexpectedText {
        /// How many attachments were still missing.
        missing: usize,
    },
    /// A binary frame arrived when no binary packet was waiting for attachments.
    #[error("binary frame without a binary packet waiting for it")]
    UnexpectedBinary,
    /// MessagePack codec: the frame is not one well-formed MessagePack value of the kinds
    /// the codec reads (see [`msgpack`](super::msgpack)).
    #[cfg(feature = "msgpack")]
    #[error("invalid MessagePack: {0}")]
    InvalidMsgpack(String),
    /// MessagePack codec: the frame is not a map, or its `type` or `nsp` field is
    /// missing, repeated or invalid (a repeated `id` or `data` is also reported here).
    #[cfg(feature = "msgpack")]
    #[error("missing, repeated or invalid packet field `{0}`")]
    InvalidField(&'static str),
}

/// Why a packet or payload cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A namespace that is not `/` or `/name` without a comma.
    #[error("invalid namespace {0:?}: it must start with '/' and contain no ','")]
    InvalidNamespace(String),
    /// An event name the library reserves.
    #[error("reserved event name {0:?}")]
    ReservedEventName(String),
    /// A payload of the wrong JSON kind for the packet type (CONNECT data must be an
    /// object, CONNECT_ERROR data an object or a string).
    #[error("invalid payload for a {0:?} packet")]
    InvalidPayload(PacketType),
    /// The value could not be serialised as JSON of the required shape.
    #[error("cannot serialise: {0}")]
    Serialize(String),
}
