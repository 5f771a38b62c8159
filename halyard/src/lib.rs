//! Halyard's runtime-neutral async layer: the Socket.IO server ([`socketio::Server`]) and
//! the raw Engine.IO server ([`EngineIoServer`]) over hyper 1.x HTTP and tungstenite
//! WebSockets, written once against the `futures` traits and a small [`Runtime`] trait
//! that each runtime crate (`halyard-tokio`, `halyard-smol`) implements.
//!
//! # Shape
//!
//! - One task per connection drives its sans-IO session from `halyard-engine` (an
//!   Engine.IO session, or a Socket.IO connection wrapping one): it takes the HTTP
//!   requests routed to that session, reads and writes its WebSocket, takes the
//!   application's commands from a bounded channel, fires the session's timer, and (for
//!   Socket.IO) runs the connection's handlers one at a time, in arrival order. After
//!   every input it drains the session's outputs. Sessions are found by id in one map;
//!   Socket.IO's server-wide state (namespaces, rooms, recovery, broadcast acks) is in
//!   the [`adapter`].
//! - Queues are bounded: a full queue of received messages stops reading from that
//!   client, a full outgoing queue makes sends wait (or closes the client, by policy).
//! - WebSocket buffers are small by default, so idle connections stay cheap.
//!
//! # The Socket.IO server
//!
//! See [`socketio`]: namespaces (static and dynamic) with connect middlewares,
//! sockets with typed event handlers and acks, rooms, broadcasts, connection state
//! recovery.
//!
//! # The raw Engine.IO server
//!
//! [`EngineIoServer`] is the equivalent of npm's `engine.io`: each connection reaches the
//! application as an [`EngineIoSocket`] (send and receive text and binary messages,
//! close), whatever its transport (long-polling, WebSocket, or polling upgraded to
//! WebSocket). [`Routed`] serves it at its own path beside the Socket.IO server, on one
//! listener: `serve(listener, Routed::new(io, eio))`.

pub mod adapter;
mod channel;
pub mod client;
mod cors;
mod driver;
mod engineio;
mod error;
#[cfg(feature = "test-support")]
pub mod fixture_server;
mod handler;
mod http;
mod io;
mod runtime;
mod session;
pub mod socketio;
#[cfg(feature = "test-support")]
pub mod test_support;

pub use bytes::Bytes;
pub use bytestring::ByteString;
pub use engineio::{EngineIoServer, EngineIoServerBuilder, EngineIoSocket, Message};
pub use error::Error;
pub use halyard_engine::engineio::{
    CloseReason, Frame, OverflowPolicy, ServerConfig, TransportKind,
};
pub use http::{
    Body, EngineIoService, HttpServer, HttpService, RequestBody, ResponseFuture, Routed, serve,
    serve_connection, serve_connection_from,
};
pub use io::HyperIo;
pub use runtime::Runtime;
pub use session::TransportSession;
