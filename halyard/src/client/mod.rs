//! The Socket.IO client (socket.io-client 4.8's feature set) and the raw Engine.IO
//! client, runtime-neutral: a runtime crate gives the entry points
//! (`halyard_tokio::client::io(url)`, `halyard_smol::client::io(url)`), the code above
//! them is the same on both.
//!
//! ```no_run
//! # async fn run(builder: halyard::client::ClientBuilder<impl halyard::Runtime>) -> Result<(), halyard::client::Error> {
//! use halyard::client::{Auth, Socket};
//! let socket = builder // halyard_tokio::client::io("http://localhost:3000/chat")
//!     .auth(Auth::value(&serde_json::json!({ "token": "secret" }))?)
//!     .connect()?;
//! socket.on("message", |_socket: Socket, (text,): (String,)| async move {
//!     tracing::info!(%text, "message");
//! });
//! socket.emit("message", &("hello",)).await?;
//! # Ok(()) }
//! ```
//!
//! # socket.io-client concepts
//!
//! | socket.io-client | here |
//! |---|---|
//! | `io(url, options)` | a runtime crate's `client::io(url)` → [`ClientBuilder`] → [`ClientBuilder::connect`] |
//! | `new Manager(url, options)`, `manager.socket(nsp)` | [`ClientBuilder::manager`], [`Manager::socket`] |
//! | `forceNew`, `multiplex` | [`ClientBuilder::force_new`], [`ClientBuilder::multiplex`] |
//! | `socket.on(ev, fn)`, `once`, `off` | [`Socket::on`], [`Socket::once`], [`Socket::off`] / [`Socket::off_handler`] / [`Socket::off_all`], [`Socket::listeners`] |
//! | `socket.on("connect" / "connect_error" / "disconnect")` | [`Socket::on_connect`], [`Socket::on_connect_error`], [`Socket::on_disconnect`] |
//! | a listener with a callback (server `emitWithAck`) | [`Socket::on_with_ack`] + [`AckSender`] |
//! | `onAny`, `prependAny`, `offAny`, `listenersAny` and the outgoing twins | [`Socket::on_any`] … [`Socket::listeners_any_outgoing`] |
//! | `emit`, `emitWithAck`, `timeout(ms)`, `volatile`, `compress`, `send` | [`Socket::emit`], [`Socket::emit_with_ack`], [`Socket::timeout`], [`Socket::volatile`], [`Socket::compress`], [`Socket::send`] |
//! | `active`, `connected`, `disconnected`, `id`, `recovered` | methods of [`Socket`] |
//! | `connect()`/`open()`, `disconnect()`/`close()` | the same methods of [`Socket`] |
//! | manager events `error`, `ping`, `reconnect_attempt`, `reconnect`, `reconnect_error`, `reconnect_failed` | [`Manager::on_event`] with [`ManagerEvent`] |
//!
//! Emits while disconnected wait in a bounded buffer ([`ClientBuilder::max_buffered`])
//! and go out in order on (re)connection; volatile emits are dropped instead; with
//! [`ClientBuilder::retries`] delivery is at-least-once, in order. The behaviour
//! follows socket.io-client 4.8 except where the engine's
//! [`Manager`](halyard_engine::socketio::client::Manager) documents a deliberate
//! difference.

mod cache;
mod driver;
mod engineio;
mod executor;
mod handlers;
mod manager;
mod options;
mod socket;
mod target;
#[cfg(feature = "test-support")]
pub mod test_support;
mod transport;

pub use engineio::{EngineIoClient, EngineIoClientBuilder};
#[cfg(feature = "tls")]
pub use futures_rustls::rustls;
pub use halyard_engine::engineio::{CloseReason, TransportKind};
pub use halyard_engine::socketio::DisconnectReason;
pub use halyard_engine::socketio::client::ConnectError;
pub use halyard_protocol::Binary;
pub use halyard_protocol::socketio::{Args, Event, RawJson};
pub use manager::Manager;
pub use options::{Auth, ClientBuilder, SocketOptions};
pub use socket::{AckSender, Socket, SocketEmitter};
#[cfg(feature = "tls")]
pub use transport::TlsConfig;

pub use crate::handler::{HandlerId, HandlerResult};

/// A manager event (socket.io-client's `Manager` events), given to
/// [`Manager::on_event`] listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManagerEvent {
    /// The Engine.IO connection is open (`open`).
    Open,
    /// The connection failed (`error`).
    Error(CloseReason),
    /// The server's heartbeat arrived (`ping`).
    Ping,
    /// A reconnection attempt starts, numbered from 1 (`reconnect_attempt`).
    ReconnectAttempt(u32),
    /// A reconnection attempt failed (`reconnect_error`).
    ReconnectError(CloseReason),
    /// Reconnected after this many attempts (`reconnect`).
    Reconnect(u32),
    /// The last allowed attempt failed (`reconnect_failed`).
    ReconnectFailed,
    /// The connection closed (`close`).
    Close(DisconnectReason),
}

/// What can go wrong with a client call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL cannot be connected to.
    #[error("invalid URL {0}")]
    InvalidUrl(String),
    /// An option is invalid.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// A namespace must start with `/` and contain no `,`.
    #[error("invalid namespace {0:?}")]
    InvalidNamespace(String),
    /// Auth must be a JSON object.
    #[error("auth must be a JSON object")]
    InvalidAuth,
    /// The arguments could not be encoded.
    #[error(transparent)]
    Encode(#[from] halyard_protocol::socketio::EncodeError),
    /// The acknowledgement's arguments do not fit the type asked for.
    #[error("unexpected acknowledgement arguments: {0}")]
    Args(String),
    /// The send buffer of a disconnected socket is full.
    #[error("the send buffer is full")]
    BufferFull,
    /// The acknowledgement did not come in time (`operation has timed out`).
    #[error("operation has timed out")]
    Timeout,
    /// The socket disconnected before the acknowledgement came.
    #[error("socket has been disconnected")]
    Disconnected,
    /// A volatile emit was dropped: the socket was not connected.
    #[error("volatile packet dropped")]
    Dropped,
    /// The client is gone (its task ended), or the socket is not known to it.
    #[error("the client is closed")]
    Closed,
    /// The raw Engine.IO client's connection failed or closed.
    #[error("connection closed: {0}")]
    Connection(CloseReason),
}

impl From<halyard_engine::socketio::client::Error> for Error {
    fn from(error: halyard_engine::socketio::client::Error) -> Self {
        use halyard_engine::socketio::client::Error as E;
        match error {
            E::InvalidNamespace(nsp) => Error::InvalidNamespace(nsp),
            E::InvalidAuth => Error::InvalidAuth,
            E::Encode(error) => Error::Encode(error),
            _ => Error::Closed,
        }
    }
}
