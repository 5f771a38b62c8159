//! Why a Socket.IO socket disconnected, with the strings socket.io 4.8 reports.

use crate::engineio::CloseReason;

/// Why a socket left its namespace, as socket.io 4.8 names it.
///
/// Server-side sockets see the first group; client-side sockets see
/// `IoServerDisconnect`, `IoClientDisconnect` and the transport reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// Client side: the server disconnected the socket (`socket.disconnect()` on the server).
    IoServerDisconnect,
    /// Client side: the application called `disconnect()`.
    IoClientDisconnect,
    /// Server side: the application called `socket.disconnect()`.
    ServerNamespaceDisconnect,
    /// Server side: the client sent a DISCONNECT for the namespace.
    ClientNamespaceDisconnect,
    /// Server side: the whole connection was closed on purpose (`disconnect(true)`).
    ForcedClose,
    /// Server side: the server closed every connection without shutting down.
    ForcedServerClose,
    /// Server side: the server is shutting down.
    ServerShuttingDown,
    /// Heartbeat lost.
    PingTimeout,
    /// The transport was closed (the peer went away, or the connection was lost).
    TransportClose,
    /// The transport failed.
    TransportError,
    /// The peer sent something that is not the protocol.
    ParseError,
    /// The peer read too slowly and its outgoing queue overflowed (Halyard's own reason;
    /// socket.io has no bounded queue).
    TransportFull,
}

impl DisconnectReason {
    /// The reason string socket.io uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IoServerDisconnect => "io server disconnect",
            Self::IoClientDisconnect => "io client disconnect",
            Self::ServerNamespaceDisconnect => "server namespace disconnect",
            Self::ClientNamespaceDisconnect => "client namespace disconnect",
            Self::ForcedClose => "forced close",
            Self::ForcedServerClose => "forced server close",
            Self::ServerShuttingDown => "server shutting down",
            Self::PingTimeout => "ping timeout",
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::ParseError => "parse error",
            Self::TransportFull => "transport full",
        }
    }

    /// Whether a server keeps the socket's state for connection state recovery after this
    /// reason (socket.io's `RECOVERABLE_DISCONNECT_REASONS`).
    pub fn is_recoverable(self) -> bool {
        matches!(
            self,
            Self::TransportError
                | Self::TransportClose
                | Self::ForcedClose
                | Self::PingTimeout
                | Self::ServerShuttingDown
                | Self::ForcedServerClose
        )
    }

    /// Whether a client reconnects on its own after this reason (everything but an
    /// explicit disconnect from either side).
    pub fn should_reconnect(self) -> bool {
        !matches!(self, Self::IoServerDisconnect | Self::IoClientDisconnect)
    }
}

impl From<CloseReason> for DisconnectReason {
    fn from(reason: CloseReason) -> Self {
        match reason {
            CloseReason::TransportClose => Self::TransportClose,
            CloseReason::TransportError => Self::TransportError,
            CloseReason::PingTimeout => Self::PingTimeout,
            CloseReason::ParseError => Self::ParseError,
            CloseReason::ForcedClose => Self::ForcedClose,
            CloseReason::ServerShuttingDown => Self::ServerShuttingDown,
            CloseReason::TransportFull => Self::TransportFull,
            // CloseReason is non-exhaustive; a new transport reason is a transport error
            // until it gets a name of its own here.
            #[allow(unreachable_patterns)]
            _ => Self::TransportError,
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_reasons_keep_their_names() {
        for reason in [
            CloseReason::TransportClose,
            CloseReason::TransportError,
            CloseReason::PingTimeout,
            CloseReason::ParseError,
            CloseReason::ForcedClose,
            CloseReason::ServerShuttingDown,
            CloseReason::TransportFull,
        ] {
            assert_eq!(DisconnectReason::from(reason).as_str(), reason.as_str());
        }
    }

    #[test]
    fn recovery_and_reconnection_follow_socket_io() {
        assert!(DisconnectReason::PingTimeout.is_recoverable());
        assert!(!DisconnectReason::ClientNamespaceDisconnect.is_recoverable());
        assert!(!DisconnectReason::ServerNamespaceDisconnect.is_recoverable());
        assert!(DisconnectReason::TransportClose.should_reconnect());
        assert!(!DisconnectReason::IoServerDisconnect.should_reconnect());
        assert!(!DisconnectReason::IoClientDisconnect.should_reconnect());
    }
}
