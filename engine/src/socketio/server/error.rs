//! Misuse errors of the Socket.IO server role.

use halyard_protocol::socketio::EncodeError;

/// A call the server state machines refuse. A peer's protocol errors are never reported
/// here: they close the connection with a [`ServerEvent::Closed`](super::ServerEvent::Closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection is closing or closed.
    #[error("the connection is closed")]
    Closed,
    /// The client's outgoing queue is full and the Engine.IO overflow policy is
    /// [`OverflowPolicy::Reject`](crate::engineio::OverflowPolicy::Reject): nothing was queued.
    #[error("the client's outgoing queue is full")]
    Full,
    /// No socket of this connection is connected to that namespace.
    #[error("no socket connected to namespace {0:?}")]
    NotConnected(String),
    /// No CONNECT for that namespace is waiting for an answer.
    #[error("no pending connect for namespace {0:?}")]
    NoPendingConnect(String),
    /// That ack id is already waiting for an answer on that namespace.
    #[error("ack id {0} is already pending")]
    DuplicateAckId(u64),
    /// With connection state recovery on, this emit (no ack, not volatile) needs a
    /// recovery offset, which only the namespace gives: emit through
    /// [`Namespace::emit_to`](super::Namespace::emit_to) and
    /// [`Connection::send`](super::Connection::send).
    #[error(
        "with connection state recovery on, emit through Namespace::emit_to so the event gets its offset"
    )]
    OffsetRequired,
    /// The packet could not be encoded (reserved name, bad namespace, bad payload).
    #[error(transparent)]
    Encode(#[from] EncodeError),
}
