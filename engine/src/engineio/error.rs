//! Misuse errors of the Engine.IO state machines.

/// A call the state machine refuses. Peer errors are never reported here: they end the
/// session with [`Event::Closed`](crate::engineio::Event::Closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The session is closing or closed; nothing more can be sent.
    #[error("the session is closed")]
    Closed,
    /// The outgoing queue is full (see [`OverflowPolicy`](crate::engineio::OverflowPolicy)).
    #[error("the outgoing queue is full")]
    Full,
    /// Only message frames (`4…` text or binary) may be sent by the layer above.
    #[error("only message frames can be sent")]
    NotAMessage,
    /// The request id does not name a request this session is holding.
    #[error("no such pending request")]
    UnknownRequest,
    /// A WebSocket for this session cannot be accepted now (already upgraded, an upgrade
    /// already in progress, WebSocket not allowed, or the session is closed). The driver
    /// closes that WebSocket.
    #[error("upgrade refused")]
    UpgradeRefused,
    /// The call does not fit the current state (for example a response for a request the
    /// client never sent).
    #[error("invalid call in the current state")]
    InvalidState,
}
