//! The Socket.IO server role, sans-IO.
//!
//! Split by ownership, because the async layer runs one task per connection and keeps
//! server-wide state behind its adapter:
//!
//! - [`Connection`] is one client connection (socket.io's `Client`). It owns the
//!   Engine.IO [`ServerSession`](crate::engineio::server::ServerSession) and the Socket.IO
//!   state of that connection, takes the transport inputs and application calls, and
//!   produces transmits, [`ServerEvent`]s and one deadline. Its documentation states the
//!   driving contract.
//! - [`Namespaces`] and [`Namespace`] are server-wide plain data (no locks): the
//!   namespace registry with dynamic matchers, and per namespace the [`Rooms`] index,
//!   the ack id counter, broadcast encoding and targeting, and the [`RecoveryStore`].
//!
//! # socket.io concepts and their types
//!
//! | socket.io | Halyard |
//! |---|---|
//! | `Client` (one per Engine.IO connection) | [`Connection`] |
//! | `io.of("/name")`, `io.of(/regex/)` / `io.of(fn)` | [`Namespaces::add`], [`Namespaces::add_dynamic`] with a [`NamespaceMatcher`] |
//! | namespace middleware (`nsp.use`), `next(err)` with `err.data` | [`ServerEvent::Connect`] answered by [`Connection::accept`] / [`Connection::refuse`] with a [`ConnectError`] |
//! | unknown namespace | [`Namespaces::resolve`] returns `None`; refuse with [`ConnectError::invalid_namespace`] |
//! | `socket.id` (not the Engine.IO id) | [`Accepted::sid`], [`Connection::socket_id`] |
//! | `socket.on(event, (…args, ack) => …)` | [`ServerEvent::Event`] with `ack_id`, answered by [`Connection::ack`] |
//! | `socket.timeout(ms).emit(…, cb)` | [`Connection::emit`] with an [`AckRequest`] (id from [`Namespace::next_ack_id`]); [`ServerEvent::Ack`] or [`ServerEvent::AckTimeout`] |
//! | `socket.disconnect()`, `socket.disconnect(true)`, `io.close()` | [`Connection::disconnect`], [`Connection::close`], [`Connection::shutdown`] |
//! | `disconnecting` / `disconnect` events with reasons | [`ServerEvent::Disconnecting`] / [`ServerEvent::Disconnected`] with a [`DisconnectReason`](crate::socketio::DisconnectReason) |
//! | `socket.join` / `leave` / `rooms`, `adapter.rooms` | [`Rooms`] via [`Namespace::rooms_mut`] (by socket id) |
//! | `io.in(a).socketsJoin(b)` / `socketsLeave`; Sails' `addRoomMembersToRooms` / `removeRoomMembersFromRooms` | [`Rooms::add_sockets`] / [`Rooms::del_sockets`]; [`Rooms::add_room_members_to_rooms`] / [`Rooms::remove_room_members_from_rooms`] |
//! | `io.to(r).except(x).volatile.local.emit(…)`, `socket.broadcast` | [`BroadcastOptions`] → [`Namespace::broadcast`] → [`Broadcast`] (encoded once) → [`Connection::send`] per target |
//! | `io.timeout(ms).emit(…, (err, responses) => …)` | [`Namespace::broadcast_with_ack`] → [`BroadcastAck`] → [`BroadcastAckOutcome`] |
//! | `connectionStateRecovery` (`pid`, offsets, `socket.recovered`) | [`RecoveryConfig`], [`RecoveryToken`], [`Namespace::find_session`] → [`SavedSession`] (look, decide), [`Namespace::restore`] → [`RestoredSession`] (take, once accepted), [`Accepted::recovered`] |
//!
//! # A driver's loop, in short
//!
//! 1. On an Engine.IO `Decision::Open`, make a [`Connection`]; route later requests of
//!    that sid to its `handle_*` methods.
//! 2. On [`ServerEvent::Connect`]: [`Namespaces::resolve`] (refuse with "Invalid
//!    namespace" on `None`); with a recovery token, [`Namespace::find_session`] (which
//!    does not take the session); let the application decide (skipped for a resumable
//!    session when [`RecoveryConfig::skip_middlewares`]); on yes, [`Namespace::restore`]
//!    (which takes it), [`Connection::accept`] and [`Namespace::add_socket`]; on no,
//!    [`Connection::refuse`], and the session stays saved for a later attempt.
//! 3. To broadcast: [`Namespace::broadcast`] once, then [`Connection::send`] on the
//!    connection of each target sid.
//! 4. On [`ServerEvent::Disconnected`]: [`Namespace::remove_socket`] (which saves the
//!    session for recovery when the reason allows it).

mod broadcast;
mod config;
mod connection;
mod error;
mod namespace;
mod recovery;
mod rooms;
mod router;

pub use broadcast::{
    Broadcast, BroadcastAck, BroadcastAckOutcome, BroadcastFlags, BroadcastOptions,
};
pub use config::{Config, RecoveryConfig};
pub use connection::{
    Accepted, AckRequest, ConnectError, ConnectRequest, Connection, Delivery, EmitOptions,
    ServerEvent,
};
pub use error::Error;
pub use namespace::{
    EmitToOptions, Namespace, NamespaceMatcher, NamespacePredicate, Namespaces, Resolution,
};
pub use recovery::{RecoveryStore, RecoveryToken, RestoredSession, SavedSession};
pub use rooms::Rooms;
pub use router::{AckRoute, AckRouter, FinishedBroadcastAck, SocketIndex};
