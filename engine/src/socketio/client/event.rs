//! What the [`Manager`](super::Manager) reports and asks for.

use bytestring::ByteString;
use halyard_protocol::socketio::{Args, Event as SocketIoEvent, RawJson};

use crate::engineio::CloseReason;
use crate::engineio::client::ClientTransmit;
use crate::socketio::DisconnectReason;

/// A namespace socket of a [`Manager`](super::Manager) (socket.io-client's `Socket`,
/// `manager.socket(nsp)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub(crate) u32);

impl SocketId {
    /// The socket's index in its manager (creation order, from 0).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One acknowledgement this client waits for: returned by
/// [`Manager::emit`](super::Manager::emit) and carried by the ack outcome events.
///
/// For a plain emit it is the ack id on the wire. For an emit through the retries queue
/// it is stable across the resends, each of which carries a fresh wire id (as
/// socket.io-client 4.8 does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AckId(pub u64);

/// One Engine.IO connection of a manager (the first one, then one per reconnection).
///
/// Every [`Transmit`] names its connection and every transport input is reported under
/// it, so a late answer to a request of a previous connection is simply ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// Something the driver must do on the transport of one Engine.IO connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The connection it belongs to; report the outcome under the same id.
    pub connection: ConnectionId,
    /// What to do (an HTTP request, a WebSocket action, an abort).
    pub action: ClientTransmit,
}

/// Why a namespace socket could not connect (socket.io-client's `connect_error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// The server refused the CONNECT (a middleware error): `CONNECT_ERROR` with
    /// `{"message":…,"data":…}`. The socket is no longer active and will not retry.
    Refused {
        /// The error message (`err.message`), when the payload had one.
        message: Option<String>,
        /// The extra data (`err.data`), when the payload had some.
        data: Option<RawJson>,
    },
    /// The Engine.IO connection failed (`timeout` for the connect timeout); the manager
    /// retries per its reconnection settings and the socket stays active.
    Transport(CloseReason),
    /// The server answered CONNECT without a `sid` (a Socket.IO v2 server).
    InvalidAnswer,
}

/// Why an acknowledgement will never come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AckError {
    /// The ack timeout passed (`operation has timed out`).
    Timeout,
    /// The socket disconnected while the packet was on the wire
    /// (`socket has been disconnected`).
    Disconnected,
    /// A volatile emit was dropped because the socket was not connected. (socket.io-client
    /// keeps such a callback until its timeout or the next disconnect; reporting it at
    /// once keeps nothing pending for a packet that was never sent.)
    Dropped,
}

impl AckError {
    /// The error message socket.io-client gives.
    pub fn as_str(self) -> &'static str {
        match self {
            AckError::Timeout => "operation has timed out",
            AckError::Disconnected => "socket has been disconnected",
            AckError::Dropped => "volatile packet dropped",
        }
    }
}

impl std::fmt::Display for AckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the layer above must see, pulled with [`Manager::poll_event`](super::Manager::poll_event).
///
/// The first group is socket.io-client's Manager events; the rest are per-socket events,
/// in the order socket.io-client emits them.
///
/// Events that come from one Engine.IO connection name its [`ConnectionId`]: `Open`, a
/// socket's `Connect` and `Disconnect`, `Received` and `AckReceived`. The others are
/// about the manager's life across connections (`Error`, `Close` and the reconnection
/// events follow the `Open` of the connection they concern, or a failed attempt that
/// never opened) or about time (`AckFailed` on a timeout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The Engine.IO connection is open (`open`); active sockets send CONNECT now.
    Open {
        /// The connection that opened (every later socket event names it too).
        connection: ConnectionId,
    },
    /// The Engine.IO connection failed (`error`): before the handshake completed, or with
    /// a transport error after.
    Error(CloseReason),
    /// The server's heartbeat ping arrived (and was answered) (`ping`).
    Ping,
    /// A reconnection attempt starts (`reconnect_attempt`, numbered from 1). To refresh
    /// the auth of a socket for this attempt, call [`Manager::set_auth`](super::Manager::set_auth) now.
    ReconnectAttempt(u32),
    /// A reconnection attempt failed (`reconnect_error`).
    ReconnectError(CloseReason),
    /// A reconnection attempt succeeded, after this many attempts (`reconnect`).
    Reconnect(u32),
    /// The last allowed attempt failed (`reconnect_failed`); the manager stays closed.
    ReconnectFailed,
    /// The Engine.IO connection closed (`close`).
    Close(DisconnectReason),
    /// A socket joined its namespace (`connect`).
    Connect {
        /// Which socket.
        socket: SocketId,
        /// The Engine.IO connection it joined on.
        connection: ConnectionId,
        /// Its Socket.IO id, as the server gave it.
        sid: ByteString,
        /// Whether the server restored the previous session (connection state recovery):
        /// it answered with the same `pid` as before; missed events follow.
        recovered: bool,
    },
    /// A socket could not join (`connect_error`).
    ConnectError {
        /// Which socket.
        socket: SocketId,
        /// Why.
        error: ConnectError,
        /// Whether the socket still tries ([`Manager::active`](super::Manager::active)).
        active: bool,
    },
    /// A connected socket left its namespace (`disconnect`).
    Disconnect {
        /// Which socket.
        socket: SocketId,
        /// The Engine.IO connection it was joined on.
        connection: ConnectionId,
        /// Why (`io server disconnect`, `io client disconnect`, `forced close`, or a
        /// transport reason).
        reason: DisconnectReason,
    },
    /// An event from the server.
    Received {
        /// The socket it arrived on.
        socket: SocketId,
        /// The Engine.IO connection it arrived on.
        connection: ConnectionId,
        /// Its name and arguments.
        event: SocketIoEvent,
        /// When set, the server waits for an answer: call
        /// [`Manager::ack`](super::Manager::ack) with this id (once).
        ack_id: Option<u64>,
    },
    /// The server acknowledged an emit.
    AckReceived {
        /// The socket.
        socket: SocketId,
        /// The Engine.IO connection the acknowledgement arrived on.
        connection: ConnectionId,
        /// The emit, as [`Manager::emit`](super::Manager::emit) returned it.
        ack: AckId,
        /// The acknowledgement's arguments.
        args: Args,
    },
    /// An emit's acknowledgement will never come.
    AckFailed {
        /// The socket.
        socket: SocketId,
        /// The emit.
        ack: AckId,
        /// Why.
        error: AckError,
    },
}
