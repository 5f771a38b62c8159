//! An Engine.IO server session driven by arbitrary request sequences: handshake (polling
//! or WebSocket), polls, whole and streamed POSTs, aborted requests, the WebSocket
//! upgrade, frames, application sends, close, and a virtual clock that only moves forward;
//! plus arbitrary requests to the endpoint.
//!
//! Input format: `halyard_fuzz::ops` (a header, then ops); the driver and its invariants:
//! `halyard_fuzz::drive::run_session` (request ids answered at most once and never after
//! an abort, held requests exactly the unanswered ones, `Opened` first and `Closed` last,
//! WebSocket output only to an open WebSocket, deadlines never in the past and always
//! making progress, delivered messages a prefix of the accepted ones…).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    halyard_fuzz::drive::run_session(data);
});
