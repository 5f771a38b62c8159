//! Socket.IO v5 state machines, layered beside the Engine.IO sessions of
//! [`crate::engineio`].
//!
//! A Socket.IO state machine never owns a transport. Its driver pumps between the two
//! layers of one connection: each Engine.IO `Message`/`Binary` event goes into the
//! Socket.IO machine (`handle_text`/`handle_binary`), each frame the Socket.IO machine
//! wants to send goes out through the Engine.IO session's `send` (or `try_send` for
//! volatile packets), and the Engine.IO `Closed` event becomes the Socket.IO disconnect
//! reason ([`DisconnectReason`] implements `From<CloseReason>`).
//!
//! The mapping from socket.io concepts to types is documented on the server and client
//! modules.

pub mod client;
mod reason;
pub mod server;

pub use reason::DisconnectReason;
