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

//!
//! # Handlers
//!
//! [`Socket::on`] handlers add up like socket.io's listeners (every handler of an event
//! runs, in order); [`Socket::once`] runs once; each registration returns a
//! [`HandlerId`] for [`Socket::off_handler`], and [`Socket::off`] removes every handler of
//! an event. Removing handlers never makes a socket leave a room (as Sails documents for
//! `io.socket.off`). [`Socket::on_any`]/[`Socket::prepend_any`]/[`Socket::off_any`] see
//! every incoming event, [`Socket::on_any_outgoing`]/[`Socket::off_any_outgoing`] every
//! event sent to the client (its own emits and this server's broadcasts). [`Socket::set_data`]/[`Socket::data`] keep typed
//! per-socket values (socket.io's `socket.data`). `compress(bool)` exists on emits for
//! API parity and does nothing: Halyard never compresses frames (permessage-deflate is
//! not negotiated).
//!
//! # Sails' room operations
//!
//! Every `sails.sockets.*` room operation has one Halyard call (`io` a [`Server`],
//! `nsp = io.of("/")` a [`Namespace`]). Sails takes a callback; the Rust form is an
//! `async fn` that resolves once the local part is done (with a cluster adapter, the
//! other servers are asked and not waited for). A socket id is also the room of that
//! socket, so "by id" operations go through the namespace without holding the
//! [`Socket`]. Each row is exercised by the `sails` interop scenario (npm's
//! socket.io-client, both runtimes, every transport).
//!
//! | Sails | Halyard |
//! |---|---|
//! | `join(socket, room)` | `socket.join(room)` |
//! | `join(socketId, room, cb)` | `nsp.socket_join(sid, [room]).await` (= `nsp.in_(sid).sockets_join([room])`) |
//! | `leave(socket, room)` | `socket.leave(room)` |
//! | `leave(socketId, room, cb)` | `nsp.socket_leave(sid, [room]).await` (= `nsp.in_(sid).sockets_leave([room])`) |
//! | `leaveAll(room, cb)` | `nsp.in_(room).sockets_leave_all().await` (each member leaves every room but its own) |
//! | `addRoomMembersToRooms(from, to, cb)` | `nsp.in_(from).sockets_join(to).await` |
//! | `removeRoomMembersFromRooms(from, to, cb)` | `nsp.in_(from).sockets_leave(to).await` |
//! | `broadcast(rooms, event, data, socketToOmit)` | `nsp.to(room)…except(sid).emit(event, &data).await`, or `socket.to(room).emit(…)` to omit the sender |
//! | `broadcast` from a socket to everyone else | `socket.broadcast().emit(event, &data).await` |
//! | `blast(event, data, socketToOmit)` | `io.emit(event, &data).await` / `io.except(sid).emit(…)` |
//! | `getId(socket)` | `socket.id()` |
//! | `io.socket.off(event)` (rooms kept) | `socket.off(event)` / `socket.off_handler(id)` |

pub(crate) mod conn;
mod handshake;
mod namespace;
mod operator;
mod server;
mod socket;
#[cfg(feature = "test-support")]
pub mod test_support;

use halyard_protocol::socketio::EncodeError;

pub use crate::cors::{CorsOptions, CorsOrigins, Refused};
pub use crate::handler::{HandlerId, HandlerResult};
pub use halyard_engine::socketio::DisconnectReason;
pub use halyard_engine::socketio::server::{BroadcastAckOutcome, ConnectError, RecoveryConfig};
pub use halyard_protocol::Binary;
pub use halyard_protocol::socketio::{Args, Event, RawJson};
pub use handshake::Handshake;
pub use namespace::Namespace;
pub use operator::BroadcastOperator;
pub use server::{Server, ServerBuilder};
pub use socket::{AckSender, Socket, SocketEmitter};

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
