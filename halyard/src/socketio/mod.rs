//! The Socket.IO server: socket.io's API, in Rust.
//!
//! ```no_run
//! use std::time::Duration;
//! use halyard::socketio::{Server, Socket};
//!
//! # async fn run() {
//! let io = Server::builder().ping_interval(Duration::from_secs(25)).build();
//! io.of("/").on_connection(|socket: Socket| async move {
//!     // `(String,)`: one argument (a tuple is the argument list)
//!     socket.on("chat", |socket: Socket, (room, text): (String, String)| async move {
//!         socket.to(room.as_str()).emit("chat", &text).await
//!     });
//!     socket.join("lobby");
//! });
//! // then: halyard_tokio::serve(listener, io).await, or halyard_smol::serve(…)
//! # }
//! ```
//!
//! # How it runs
//!
//! One task per Engine.IO connection drives the engine's
//! `socketio::server::Connection` (the same driver as the raw Engine.IO server) and
//! runs that connection's handlers **one at a time, in arrival order**: the connect
//! middlewares and `on_connection` handlers of a CONNECT, then each event's handler,
//! then `on_disconnecting`/`on_disconnect`. A handler that awaits delays the next
//! events of its connection (never other connections). Acks are not handlers: an
//! answer to `emit_with_ack` resolves its future at once, even while a handler of the
//! same connection is waiting for it. Received packets wait in a bounded queue
//! ([`ServerBuilder::event_buffer`]); when it is full the connection stops reading from
//! its client.
//!
//! Emits go to the connection's task through a bounded command channel: `emit(…).await`
//! waits for room (back-pressure from a slow client) and fails with [`Error::Closed`]
//! once the socket is gone. Server-wide state (namespaces, rooms, recovery, broadcast
//! acks) lives in the [`Adapter`](crate::adapter::Adapter).
//!
//! # Arguments
//!
//! Arguments follow the protocol crate's tuple rule both ways: a Rust tuple is a list
//! of arguments, `()` is none, any other value is one argument. A handler's argument
//! type is read with `Event::args::<T>()`, so it is a tuple: `(A,)` for one argument,
//! `(A, B)` for two. Bytes travel as [`Binary`].

pub(crate) mod conn;
mod handshake;
mod namespace;
mod operator;
mod server;
mod socket;
#[cfg(feature = "test-support")]
pub mod test_support;

use halyard_protocol::socketio::EncodeError;

pub use halyard_engine::socketio::DisconnectReason;
pub use halyard_engine::socketio::server::{BroadcastAckOutcome, ConnectError, RecoveryConfig};
pub use halyard_protocol::Binary;
pub use halyard_protocol::socketio::{Args, Event, RawJson};
pub use handshake::Handshake;
pub use namespace::Namespace;
pub use operator::BroadcastOperator;
pub use server::{Server, ServerBuilder};
pub use socket::{AckSender, HandlerResult, Socket, SocketEmitter};

/// What a Socket.IO operation can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The socket (or its connection, or the server) is gone.
    #[error("the socket is disconnected")]
    Closed,
    /// The event or its arguments could not be encoded (a reserved event name, a value
    /// serde cannot write).
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// No answer came in time (socket.io's "operation has timed out").
    #[error("operation has timed out")]
    Timeout,
    /// The socket disconnected before answering.
    #[error("the socket disconnected before answering")]
    Disconnected,
    /// The answer's arguments do not deserialize into the requested type.
    #[error("unexpected ack arguments: {0}")]
    Args(String),
}

impl From<halyard_engine::socketio::server::Error> for Error {
    fn from(error: halyard_engine::socketio::server::Error) -> Self {
        use halyard_engine::socketio::server::Error as E;
        match error {
            E::Encode(error) => Error::Encode(error),
            _ => Error::Closed,
        }
    }
}
