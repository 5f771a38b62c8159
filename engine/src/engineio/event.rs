//! Events for the layer above.

use bytes::Bytes;
use bytestring::ByteString;
use halyard_protocol::engineio::OpenPacket;

use super::CloseReason;

/// What the layer above a session must see, pulled with `poll_event()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The session is open, with these handshake values (always the first event).
    Opened(OpenPacket),
    /// A text message from the peer (the text after the `4`).
    Message(ByteString),
    /// A binary message from the peer.
    Binary(Bytes),
    /// The session now runs over WebSocket.
    Upgraded,
    /// The session is over (always the last event).
    Closed(CloseReason),
}
