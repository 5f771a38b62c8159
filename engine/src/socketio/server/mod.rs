//! The Socket.IO server role, sans-IO.
//!
//! Split by ownership, because the async layer runs one task per connection and keeps
//! server-wide state behind its adapter:
//!
//! - [`Connection`] is one client connection (socket.io's `Client`). It owns the
//!   Engine.IO [`ServerSession`](crate::engineio::server::ServerSession) and the Socket.IO
//!   state of that connection, takes the transport inputs and application calls, and
//!   produces transmits, [`ServerEvent`]s (each naming the namespace and, where one is
//!   concerned, the socket id) and one deadline. Its documentation states the driving
//!   contract.
//! - [`Namespaces`] and [`Namespace`] are server-wide plain data (no locks): the
//!   namespace registry with dynamic matchers, and per namespace the [`Rooms`] index,
//!   the ack id counter, the encoding of every server emit (per socket and broadcast)
//!   with its recovery offset, and the [`RecoveryStore`].
//! - [`SocketIndex`] and [`AckRouter`] are the rest of the server-wide plumbing, also
//!   plain data: which connection carries each socket, and the broadcasts with acks
//!   waiting for answers.
//!
//! # socket.io concepts and their types
//!
//! | socket.io | Halyard |
//! |---|---|
//! | `Client` (one per Engine.IO connection) | [`Connection`] |
//! | `io.of("/name")`, `io.of(/regex/)` / `io.of(fn)` | [`Namespaces::add`], [`Namespaces::add_dynamic`] with a [`NamespaceMatcher`] |
//! | namespace middleware (`nsp.use`), `next(err)` with `err.data` | [`ServerEvent::Connect`] answered by [`Connection::accept`] / [`Connection::refuse`] with a [`ConnectError`] |
//! | unknown namespace | [`Namespaces::resolve`] returns `None`; refuse with [`ConnectError::invalid_namespace`] |
//! | `socket.id` (not the Engine.IO id) | [`Accepted::sid`], [`Connection::socket_id`], the `sid` of [`ServerEvent`]s |
//! | `nsp.sockets` (socket id → socket), the adapter finding a socket's client | [`SocketIndex`] (namespace, socket id → the driver's connection key) |
//! | `socket.on(event, (…args, ack) => …)` | [`ServerEvent::Event`] (with `sid`, `ack_id`), answered by [`Connection::ack`] |
//! | `socket.emit(…)`, `socket.volatile.emit(…)`, `socket.timeout(ms).emit(…, cb)` | [`Namespace::emit_to`] with [`EmitToOptions`] → [`Broadcast`] → [`Connection::send`]; the answer is [`ServerEvent::Ack`] or [`ServerEvent::AckTimeout`] |
//! | (lower level, no shared state) | [`Connection::emit`] with [`EmitOptions`] / [`AckRequest`] (id from [`Namespace::next_ack_id`]); refused with [`Error::OffsetRequired`] when recovery needs an offset |
//! | `socket.disconnect()`, `socket.disconnect(true)`, `io.close()` | [`Connection::disconnect`], [`Connection::close`], [`Connection::shutdown`] |
//! | `disconnecting` / `disconnect` events with reasons | [`ServerEvent::Disconnecting`] / [`ServerEvent::Disconnected`] with a [`DisconnectReason`](crate::socketio::DisconnectReason) |
//! | `socket.join` / `leave` / `rooms`, `adapter.rooms` | [`Rooms`] via [`Namespace::rooms_mut`] (by socket id) |
//! | `io.in(a).socketsJoin(b)` / `socketsLeave`; Sails' `addRoomMembersToRooms` / `removeRoomMembersFromRooms` | [`Rooms::add_sockets`] / [`Rooms::del_sockets`]; [`Rooms::add_room_members_to_rooms`] / [`Rooms::remove_room_members_from_rooms`] |
//! | `io.to(r).except(x).volatile.local.emit(…)`, `socket.broadcast` | [`BroadcastOptions`] → [`Namespace::broadcast`] → [`Broadcast`] (encoded once) → [`Connection::send`] per target ([`SocketIndex::targets`]) |
//! | `io.timeout(ms).emit(…, (err, responses) => …)` | [`Namespace::broadcast_with_ack`] → [`BroadcastAck`] into the [`AckRouter`] → [`FinishedBroadcastAck`] with a [`BroadcastAckOutcome`] |
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
//!    (which takes it), [`Connection::accept`], [`Namespace::add_socket`] and
//!    [`SocketIndex::insert`]; on no, [`Connection::refuse`], and the session stays
//!    saved for a later attempt.
//! 3. To emit to one socket: [`Namespace::emit_to`], then [`Connection::send`] on the
//!    connection [`SocketIndex::get`] names. To broadcast: [`Namespace::broadcast`]
//!    (or [`Namespace::broadcast_with_ack`], its collector into [`AckRouter::insert`])
//!    once, then [`Connection::send`] on each connection of [`SocketIndex::targets`].
//! 4. On [`ServerEvent::Ack`]: [`AckRouter::handle_ack`] with the event's `sid`; an
//!    [`AckRoute::Socket`] answer is the per-socket emit's callback.
//! 5. On [`ServerEvent::Disconnected`]: [`Namespace::remove_socket`] (which saves the
//!    session for recovery when the reason allows it) and [`SocketIndex::remove`] with
//!    this connection's key.
//! 6. Besides one timer per connection, one server-level timer for what lives in
//!    shared state: the earliest of [`Namespaces::poll_timeout`] (recovery expiry) and
//!    [`AckRouter::poll_timeout`] (broadcast-ack deadlines), fed back through their
//!    `handle_timeout`. After any [`AckRouter`] input, pull
//!    [`AckRouter::poll_finished`] until `None`; a timed-out broadcast's silent targets
//!    get [`Connection::cancel_ack`].
//!
//! # Ack ids
//!
//! Every emit that waits for an ack, per socket or broadcast, takes its id from its
//! namespace's counter ([`Namespace::next_ack_id`], socket.io's `nsp._ids++`), which
//! [`Namespace::emit_to`] and [`Namespace::broadcast_with_ack`] do for the driver. The
//! trade-off, kept for fidelity with socket.io: an emit with an ack needs the shared
//! namespace state (a per-connection counter would not), but an id is then unique across
//! the namespace, so a broadcast's answers and a socket's own acks can never be confused
//! on a connection, and [`AckRouter`] can key collectors by (namespace, ack id) alone.
//! The counter is a `u64`: it does not wrap in practice.
//!
//! # Connection state recovery
//!
//! With recovery on, socket.io routes every eligible emit (no ack, not volatile) through
//! its adapter so it gets an offset and is kept for replay. Here that is
//! [`Namespace::emit_to`] and [`Namespace::broadcast`]; [`Connection::emit`] refuses
//! such an emit ([`Error::OffsetRequired`]) rather than send it unrecoverable, and
//! [`Broadcast::from_encoded`] is documented as bypassing recovery.

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
