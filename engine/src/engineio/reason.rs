//! Why a session ended.

/// Why an Engine.IO session closed, with the strings engine.io and socket.io use.
///
/// The Socket.IO layer maps these to its disconnect reasons: `TransportClose`,
/// `TransportError`, `PingTimeout` and `ParseError` keep their names;
/// `ForcedClose` is `io client disconnect` on a client and `io server disconnect` (or
/// the reason the server layer gave) on a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed the transport or sent a close packet.
    TransportClose,
    /// The transport failed: an aborted request, an overlapping poll, an HTTP error, a
    /// WebSocket error, an oversize POST.
    TransportError,
    /// Heartbeat lost: no pong in time (server) or no ping in time (client).
    PingTimeout,
    /// The peer sent something that is not Engine.IO.
    ParseError,
    /// This side closed the session on purpose.
    ForcedClose,
    /// The server is going down.
    ServerShuttingDown,
    /// The peer reads too slowly: the outgoing queue overflowed.
    TransportFull,
    /// The client got no open packet in time (socket.io-client's connect `timeout`).
    HandshakeTimeout,
}

impl CloseReason {
    /// The reason string real peers report.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ServerShuttingDown => "server shutting down",
            CloseReason::TransportFull => "transport full",
            CloseReason::HandshakeTimeout => "timeout",
        }
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
