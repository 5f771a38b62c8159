//! The Socket.IO client role, sans-IO: socket.io-client 4.8's `Manager` and namespace
//! `Socket`s as one state machine, [`Manager`].
//!
//! # Mapping socket.io-client to this module
//!
//! - **Manager** (one Engine.IO connection per origin, shared by the namespaces):
//!   [`Manager`], configured by [`ManagerConfig`]. It owns the current
//!   [`ClientConnection`](crate::engineio::client::ClientConnection) and replaces it on
//!   every reconnection; transport work comes out as [`Transmit`]s tagged with a
//!   [`ConnectionId`], and the events that come from one connection name it
//!   ([`Event::Open`], [`Event::Connect`], [`Event::Disconnect`], [`Event::Received`],
//!   [`Event::AckReceived`]).
//! - **Socket** (one namespace): addressed by a [`SocketId`] from [`Manager::socket`],
//!   configured by [`SocketOptions`] (auth, `retries`, `ackTimeout`). `active`,
//!   `connected`, `id` and `recovered` are queries on the manager.
//! - **Emit and ack**: [`Manager::emit`] with [`EmitOptions`] (ack, `volatile`,
//!   `timeout`) returns an [`AckId`]; the outcome is [`Event::AckReceived`] or
//!   [`Event::AckFailed`] ([`AckError`]). A server event that wants an answer arrives as
//!   [`Event::Received`] with an `ack_id` for [`Manager::ack`].
//! - **Reconnection**: socket.io-client's exact backoff (`delay * 2^k`, one random draw for
//!   jitter amount and sign, capped at `delayMax`) with jitter from the manager's seeded
//!   generator; [`Event::ReconnectAttempt`], [`Event::ReconnectError`],
//!   [`Event::Reconnect`], [`Event::ReconnectFailed`]. A server CONNECT_ERROR makes the
//!   socket inactive: no retry.
//! - **Connection state recovery**: when the CONNECT answer carries a `pid`, the socket
//!   tracks the last string argument of events without ack id (the offset) and sends
//!   `{"pid","offset",…auth}` with its next CONNECT; [`Event::Connect`]'s `recovered` is
//!   true when the server answers with the same `pid`.
//!
//! See [`Manager`] for the driving contract.

mod backoff;
mod config;
mod error;
mod event;
mod manager;
mod socket;

pub use config::{EmitOptions, ManagerConfig, SocketOptions};
pub use error::Error;
pub use event::{AckError, AckId, ConnectError, ConnectionId, Event, SocketId, Transmit};
pub use manager::Manager;
