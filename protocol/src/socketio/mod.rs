//! Socket.IO v5: packets, their text encoding, and binary attachments.
//!
//! A packet's text is `<type>[<attachments>-][<nsp>,][<ack id>][<JSON>]` and travels as
//! one Engine.IO message; a packet with binary attachments is followed by that many
//! binary Engine.IO messages. [`Packet::encode`] produces the Engine.IO text frame
//! (the `4` message prefix included) and the attachments; [`Decoder`] takes frames one
//! at a time and yields each packet once it is complete.
//!
//! Payloads stay raw JSON ([`Args`], [`RawJson`]), validated on decode and deserialised
//! into user types only on demand.
//!
//! With the `msgpack` feature, [`msgpack`] is the codec of npm's `socket.io-msgpack-parser`
//! (a packet as one MessagePack binary frame), decoding to and encoding from the same
//! [`Packet`].

mod args;
mod decode;
mod encode;
mod error;
mod json;
#[cfg(feature = "msgpack")]
pub mod msgpack;
mod packet;
mod scan;

pub use args::{Args, Event, RawJson};
pub use decode::{DEFAULT_MAX_ATTACHMENTS, Decoder};
pub use encode::Encoded;
pub use error::{DecodeError, EncodeError};
pub use packet::{Packet, PacketType};

/// Event names the library uses itself; they cannot be emitted by applications, and a
/// peer's event carrying one is invalid.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Whether `name` is one of the [`RESERVED_EVENTS`].
pub fn is_reserved_event(name: &str) -> bool {
    RESERVED_EVENTS.contains(&name)
}

#[cfg(test)]
mod tests;
