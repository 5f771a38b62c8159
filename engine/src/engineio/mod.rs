//! Engine.IO v4 session state machines: the server [`server::ServerSession`] (created by a
//! [`server::Endpoint`]) and the client [`client::ClientConnection`].
//!
//! Both follow the crate's driving contract (see the crate documentation). The types
//! shared by both roles live here: configuration, events, close reasons, errors and the
//! identifiers of held HTTP requests.

pub mod client;
mod config;
mod error;
mod event;
mod http;
mod queue;
mod reason;
mod rng;
pub mod server;
mod timers;

pub use config::{ClientConfig, OverflowPolicy, ServerConfig, TransportKind};
pub use error::Error;
pub use event::Event;
pub use halyard_protocol::engineio::{Frame, OpenPacket, Packet};
pub use http::{ErrorCode, HttpResponse, Method, RequestId};
pub use reason::CloseReason;
pub use rng::SeededRng;
