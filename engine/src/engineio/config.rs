//! Configuration of both roles.

use std::time::Duration;

/// The two Engine.IO transports this crate drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// HTTP long-polling (`transport=polling`).
    Polling,
    /// WebSocket (`transport=websocket`).
    WebSocket,
}

impl TransportKind {
    /// The name used in the `transport` query parameter and in `upgrades` lists.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
        }
    }

    /// Parses a `transport` query value.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "polling" => Some(TransportKind::Polling),
            "websocket" => Some(TransportKind::WebSocket),
            _ => None,
        }
    }
}

/// What a session does when its outgoing queue is full and [`send`] is called.
///
/// [`try_send`] never applies the policy: it reports [`Error::Full`] and leaves the
/// session alone, which is what volatile emits want.
///
/// [`send`]: crate::engineio::server::ServerSession::send
/// [`try_send`]: crate::engineio::server::ServerSession::try_send
/// [`Error::Full`]: crate::engineio::Error::Full
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverflowPolicy {
    /// Close the session with [`CloseReason::TransportFull`] (a slow consumer must not
    /// grow memory without bound). `send` returns [`Error::Closed`].
    ///
    /// [`CloseReason::TransportFull`]: crate::engineio::CloseReason::TransportFull
    /// [`Error::Closed`]: crate::engineio::Error::Closed
    #[default]
    CloseSession,
    /// Refuse the frame with [`Error::Full`] and keep the session.
    ///
    /// [`Error::Full`]: crate::engineio::Error::Full
    Reject,
}

/// Server settings; the defaults are engine.io 6.6's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Time between two server pings (`pingInterval`, default 25 s).
    pub ping_interval: Duration,
    /// Time the client has to answer a ping (`pingTimeout`, default 20 s).
    pub ping_timeout: Duration,
    /// Time a client has to complete a polling → WebSocket upgrade (default 10 s).
    pub upgrade_timeout: Duration,
    /// How long a graceful close over polling waits for the client's next GET to deliver
    /// the close packet (default 30 s, engine.io's `closeTimeout`).
    pub close_timeout: Duration,
    /// The largest POST body or WebSocket message accepted (`maxPayload`, default 1 MB).
    pub max_payload: usize,
    /// Transports clients may use (default both).
    pub transports: Vec<TransportKind>,
    /// At most this many application frames wait in a session's outgoing queue.
    pub max_queued_frames: usize,
    /// At most this many bytes of application frames wait in a session's outgoing queue.
    pub max_queued_bytes: usize,
    /// What `send` does when the queue is full.
    pub overflow: OverflowPolicy,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            close_timeout: Duration::from_millis(30_000),
            max_payload: 1_000_000,
            transports: vec![TransportKind::Polling, TransportKind::WebSocket],
            max_queued_frames: 1024,
            max_queued_bytes: 16 * 1024 * 1024,
            overflow: OverflowPolicy::CloseSession,
        }
    }
}

impl ServerConfig {
    pub(crate) fn allows(&self, transport: TransportKind) -> bool {
        self.transports.contains(&transport)
    }

    /// The `upgrades` list of an open packet sent over `transport`.
    pub fn upgrades_from(&self, transport: TransportKind) -> Vec<String> {
        match transport {
            TransportKind::Polling if self.allows(TransportKind::WebSocket) => {
                vec![TransportKind::WebSocket.as_str().to_owned()]
            }
            _ => Vec::new(),
        }
    }
}

/// Client settings; the defaults are engine.io-client 6.6's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The transport of the handshake (default polling).
    pub first_transport: TransportKind,
    /// Whether to probe and upgrade to WebSocket when the server offers it (default true).
    pub upgrade: bool,
    /// How long to wait for the open packet before giving up with
    /// [`CloseReason::HandshakeTimeout`] (default 20 s, socket.io-client's `timeout`).
    ///
    /// [`CloseReason::HandshakeTimeout`]: crate::engineio::CloseReason::HandshakeTimeout
    pub handshake_timeout: Duration,
    /// At most this many application frames wait to be sent.
    pub max_queued_frames: usize,
    /// At most this many bytes of application frames wait to be sent.
    pub max_queued_bytes: usize,
    /// What `send` does when the queue is full.
    pub overflow: OverflowPolicy,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            first_transport: TransportKind::Polling,
            upgrade: true,
            handshake_timeout: Duration::from_millis(20_000),
            max_queued_frames: 1024,
            max_queued_bytes: 16 * 1024 * 1024,
            overflow: OverflowPolicy::CloseSession,
        }
    }
}
