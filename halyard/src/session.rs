//! The transport side of a sans-IO server session, as the connection driver sees it.

use std::time::Instant;

use bytes::Bytes;
use halyard_engine::engineio::server::{ServerSession, ServerTransmit};
use halyard_engine::engineio::{Error as EngineError, Frame, RequestId};
use halyard_engine::socketio::server::Connection;

/// The transport inputs and outputs of a sans-IO server session: what the connection
/// driver feeds and drains, whatever the session is.
///
/// Implemented by the Engine.IO [`ServerSession`]; the Socket.IO connection (which wraps
/// one) exposes the same methods, so one driver serves both. The methods mean exactly
/// what they mean on [`ServerSession`]; the driver calls them from the one task that
/// owns the session and, after every input, drains [`poll_transmit`](Self::poll_transmit)
/// and the session's events, then re-arms its timer from
/// [`poll_timeout`](Self::poll_timeout).
pub trait TransportSession: Send + 'static {
    /// The session id requests are routed by.
    fn sid(&self) -> &str;
    /// A poll GET arrived; answer it when `poll_transmit` names the returned id.
    fn handle_poll(&mut self, now: Instant) -> RequestId;
    /// A whole POST body arrived; answer it when `poll_transmit` names the returned id.
    fn handle_post(&mut self, now: Instant, body: Bytes) -> RequestId;
    /// The client went away from a held request.
    fn handle_request_aborted(&mut self, now: Instant, id: RequestId) -> Result<(), EngineError>;
    /// A WebSocket for this session was accepted (an upgrade); `Err`: close it at once.
    fn handle_ws_open(&mut self, now: Instant) -> Result<(), EngineError>;
    /// A frame arrived on the session's WebSocket.
    fn handle_ws_frame(&mut self, now: Instant, frame: Frame);
    /// The session's WebSocket closed or failed.
    fn handle_ws_closed(&mut self, now: Instant);
    /// The deadline from `poll_timeout` passed.
    fn handle_timeout(&mut self, now: Instant);
    /// The next thing to write.
    fn poll_transmit(&mut self) -> Option<ServerTransmit>;
    /// The next deadline.
    fn poll_timeout(&self) -> Option<Instant>;
}

impl TransportSession for ServerSession {
    fn sid(&self) -> &str {
        ServerSession::sid(self)
    }
    fn handle_poll(&mut self, now: Instant) -> RequestId {
        ServerSession::handle_poll(self, now)
    }
    fn handle_post(&mut self, now: Instant, body: Bytes) -> RequestId {
        ServerSession::handle_post(self, now, body)
    }
    fn handle_request_aborted(&mut self, now: Instant, id: RequestId) -> Result<(), EngineError> {
        ServerSession::handle_request_aborted(self, now, id)
    }
    fn handle_ws_open(&mut self, now: Instant) -> Result<(), EngineError> {
        ServerSession::handle_ws_open(self, now)
    }
    fn handle_ws_frame(&mut self, now: Instant, frame: Frame) {
        ServerSession::handle_ws_frame(self, now, frame)
    }
    fn handle_ws_closed(&mut self, now: Instant) {
        ServerSession::handle_ws_closed(self, now)
    }
    fn handle_timeout(&mut self, now: Instant) {
        ServerSession::handle_timeout(self, now)
    }
    fn poll_transmit(&mut self) -> Option<ServerTransmit> {
        ServerSession::poll_transmit(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        ServerSession::poll_timeout(self)
    }
}

impl TransportSession for Connection {
    fn sid(&self) -> &str {
        Connection::eio_sid(self)
    }
    fn handle_poll(&mut self, now: Instant) -> RequestId {
        Connection::handle_poll(self, now)
    }
    fn handle_post(&mut self, now: Instant, body: Bytes) -> RequestId {
        Connection::handle_post(self, now, body)
    }
    fn handle_request_aborted(&mut self, now: Instant, id: RequestId) -> Result<(), EngineError> {
        Connection::handle_request_aborted(self, now, id)
    }
    fn handle_ws_open(&mut self, now: Instant) -> Result<(), EngineError> {
        Connection::handle_ws_open(self, now)
    }
    fn handle_ws_frame(&mut self, now: Instant, frame: Frame) {
        Connection::handle_ws_frame(self, now, frame)
    }
    fn handle_ws_closed(&mut self, now: Instant) {
        Connection::handle_ws_closed(self, now)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Connection::handle_timeout(self, now)
    }
    fn poll_transmit(&mut self) -> Option<ServerTransmit> {
        Connection::poll_transmit(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Connection::poll_timeout(self)
    }
}
