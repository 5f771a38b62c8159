//! The server role: an [`Endpoint`] that answers handshakes and creates
//! [`ServerSession`]s, and the session state machine itself.

mod endpoint;
mod session;

pub use endpoint::{Decision, Endpoint, Request};
pub use session::{ServerSession, ServerTransmit};
