//! Misuse errors of the client role.

use halyard_protocol::socketio::EncodeError;

/// A call the [`Manager`](super::Manager) refuses. Peer errors are never reported here:
/// they are events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The [`SocketId`](super::SocketId) does not name a socket of this manager.
    #[error("no such socket")]
    UnknownSocket,
    /// A namespace must start with `/` and contain no `,`.
    #[error("invalid namespace {0:?}")]
    InvalidNamespace(String),
    /// Auth data must be a JSON object.
    #[error("auth must be a JSON object")]
    InvalidAuth,
    /// The packet could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The Engine.IO connection refused a transport input (for example a response to a
    /// request it never sent).
    #[error(transparent)]
    Engine(#[from] crate::engineio::Error),
}
