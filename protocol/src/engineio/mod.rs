//! Engine.IO v4: packets, WebSocket frames and long-polling payloads.
//!
//! A [`Packet`] is what the protocol means; a [`Frame`] is how one packet travels on a
//! WebSocket (a text or a binary message). Long-polling joins frames into one HTTP body
//! with [`polling`].

mod packet;
pub mod polling;

pub use packet::{DecodeError, Frame, OpenPacket, PROBE, Packet, PacketType};

/// The Engine.IO protocol revision this crate speaks (the `EIO` query parameter).
pub const PROTOCOL_VERSION: u8 = 4;

#[cfg(test)]
mod tests;
