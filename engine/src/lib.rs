//! Sans-IO protocol engines for Halyard: Engine.IO (and, later, Socket.IO) state machines
//! for both the server and the client role.
//!
//! Nothing in this crate touches a socket, a clock, a thread or a lock. Every state
//! machine follows the same driving contract, in the style of `quinn-proto`:
//!
//! 1. **Inputs** are `handle_*` methods (`handle_poll`, `handle_post`, `handle_ws_frame`,
//!    `handle_timeout`…). Each takes `now: Instant` when time matters; the engine never
//!    reads a clock itself, so tests drive it with a virtual clock.
//! 2. **Outputs** are pulled until they return `None`:
//!    - `poll_transmit()`: what to write, and on which transport (a response to one
//!      held HTTP request, identified by the [`engineio::RequestId`] the engine gave it
//!      when the request came in, or a WebSocket frame);
//!    - `poll_event()`: what the layer above must see ([`engineio::Event`]: opened,
//!      message, upgraded, closed with a [`engineio::CloseReason`]);
//!    - `poll_timeout()`: the single next deadline; call `handle_timeout(now)` when it
//!      passes.
//! 3. **After every input, drain every output** (transmits, then events, then re-arm the
//!    timer from `poll_timeout`). Sending application data (`send`) is an input too.
//! 4. Misuse by the caller returns a `Result`; a protocol error by the peer is never a
//!    panic, it ends the session with an [`engineio::Event::Closed`] carrying the reason.
//! 5. Randomness (session ids) comes from a seedable generator owned by the engine
//!    ([`engineio::server::Endpoint::new`] takes the seed), so runs replay exactly.
//!
//! Outgoing application data is accepted as encoded [`engineio::Frame`]s: a broadcast is
//! encoded once and the same frame (sharing its memory) is queued to every session.

pub mod engineio;
pub mod socketio;
