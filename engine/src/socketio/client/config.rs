//! Settings of the [`Manager`](super::Manager), of each namespace socket and of one emit.

use std::time::Duration;

use halyard_protocol::socketio::RawJson;

use crate::engineio::ClientConfig;

/// Manager settings; the defaults are socket.io-client 4.8's.
///
/// The connect `timeout` (default 20 s) is [`ClientConfig::handshake_timeout`] of
/// [`engine`](Self::engine): an Engine.IO handshake that does not complete in time fails
/// the attempt with [`CloseReason::HandshakeTimeout`](crate::engineio::CloseReason::HandshakeTimeout)
/// (socket.io-client's `new Error("timeout")`).
#[derive(Debug, Clone, PartialEq)]
pub struct ManagerConfig {
    /// The Engine.IO connection settings, used for every (re)connection.
    pub engine: ClientConfig,
    /// Whether to reconnect after a lost connection or a failed first attempt
    /// (`reconnection`, default true).
    pub reconnection: bool,
    /// How many reconnection attempts before giving up with
    /// [`Event::ReconnectFailed`](super::Event::ReconnectFailed)
    /// (`reconnectionAttempts`, default `None`: forever).
    pub reconnection_attempts: Option<u32>,
    /// The first delay (`reconnectionDelay`, default 1000 ms).
    pub reconnection_delay: Duration,
    /// The largest delay (`reconnectionDelayMax`, default 5000 ms).
    pub reconnection_delay_max: Duration,
    /// The jitter factor (`randomizationFactor`, default 0.5; outside `(0, 1]` means none).
    pub randomization_factor: f64,
    /// Whether [`Manager::socket`](super::Manager::socket) connects the new socket at once
    /// (`autoConnect`, default true).
    pub auto_connect: bool,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        Self {
            engine: ClientConfig::default(),
            reconnection: true,
            reconnection_attempts: None,
            reconnection_delay: Duration::from_millis(1000),
            reconnection_delay_max: Duration::from_millis(5000),
            randomization_factor: 0.5,
            auto_connect: true,
        }
    }
}

/// Settings of one namespace socket (socket.io-client's `SocketOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketOptions {
    /// The auth payload (a JSON object) sent with every CONNECT, the first and each one
    /// after a reconnection. Replace it any time with
    /// [`Manager::set_auth`](super::Manager::set_auth); see there for the "auth function"
    /// of socket.io-client.
    pub auth: Option<RawJson>,
    /// With `retries > 0`, every non-volatile emit goes through the delivery queue: it
    /// carries an ack id, one packet is in flight at a time, in order, and it is resent
    /// after an ack timeout (or a reconnection) until acknowledged or tried
    /// `retries + 1` times (`retries`, default none).
    pub retries: Option<u32>,
    /// The default ack timeout of every emit that asks for an ack, and of the retries
    /// queue (`ackTimeout`, default none).
    pub ack_timeout: Option<Duration>,
}

/// How to send one event (socket.io-client's `volatile`, `timeout(ms)` and an ack callback).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmitOptions {
    /// Ask the server for an acknowledgement; its outcome arrives as
    /// [`Event::AckReceived`](super::Event::AckReceived) or
    /// [`Event::AckFailed`](super::Event::AckFailed) under the returned
    /// [`AckId`](super::AckId).
    pub ack: bool,
    /// Drop the packet instead of buffering it when the socket is not connected (or the
    /// Engine.IO queue is full).
    pub volatile: bool,
    /// Fail the ack with [`AckError::Timeout`](super::AckError::Timeout) after this long
    /// (overrides [`SocketOptions::ack_timeout`]).
    pub timeout: Option<Duration>,
}

impl EmitOptions {
    /// An emit asking for an acknowledgement.
    pub fn with_ack() -> Self {
        Self {
            ack: true,
            ..Self::default()
        }
    }

    /// The same options, volatile.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// The same options, with an ack timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}
