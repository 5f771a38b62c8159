//! A Socket.IO server connection (which owns its Engine.IO session) driven by the same
//! transport ops as `engineio_server_session`, with POST bodies and WebSocket frames built
//! from Socket.IO packets (CONNECT with auth, events with and without ack ids, binary
//! events and acks with attachments, DISCONNECT, CONNECT_ERROR, lone binary headers) or
//! raw text, and application calls: accept / refuse, emit (ack, timeout, volatile), ack,
//! disconnect, close, shutdown, cancel_ack.
//!
//! Input format: `halyard_fuzz::ops`; the driver and its invariants:
//! `halyard_fuzz::drive::run_connection` (`Closed` at most once and last, after every
//! socket's `Disconnected`; `Disconnecting` before `Disconnected`; acks reported at most
//! once per emit; no events after `Closed`; the client can decode everything it gets…).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    halyard_fuzz::drive::run_connection(data);
});
