//! The client role: one [`ClientConnection`] per Engine.IO session.

mod connection;

pub use connection::{ClientConnection, ClientTransmit};
