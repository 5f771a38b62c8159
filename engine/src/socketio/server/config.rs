//! Settings of the Socket.IO server role.

use std::time::Duration;

use halyard_protocol::socketio::DEFAULT_MAX_ATTACHMENTS;

/// Per-connection settings of the Socket.IO server; the defaults are socket.io 4.8's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How long a new connection may stay without any namespace joined before it is
    /// closed (`connectTimeout`, default 45 s). The timer stops at the first accepted
    /// CONNECT.
    pub connect_timeout: Duration,
    /// The most binary attachments one incoming packet may announce (default 10, as
    /// socket.io-parser).
    pub max_attachments: usize,
    /// Connection state recovery; `None` (the default) turns it off, as in socket.io.
    /// Must agree with the [`Namespaces`](super::Namespaces) the driver uses.
    pub recovery: Option<RecoveryConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_millis(45_000),
            max_attachments: DEFAULT_MAX_ATTACHMENTS,
            recovery: None,
        }
    }
}

/// Connection state recovery settings (socket.io's `connectionStateRecovery` option).
///
/// With recovery on, every socket gets a private id (`pid`) sent in the CONNECT answer,
/// eligible server → client events carry an offset as their last argument, and the
/// namespace keeps what it sent for [`max_disconnection_duration`](Self::max_disconnection_duration)
/// so that a client coming back with `{"pid":…,"offset":…}` gets its sid, its rooms and
/// the packets it missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long a disconnected socket's session and the sent packets are kept (default
    /// 2 minutes).
    pub max_disconnection_duration: Duration,
    /// Whether a recovered socket skips the application's connect decision (socket.io's
    /// `skipMiddlewares`, default `true`). The engine does not decide; the driver reads
    /// this flag when a [`ConnectRequest`](super::ConnectRequest) can be restored.
    pub skip_middlewares: bool,
    /// The most packets one namespace keeps for replay (Halyard's bound; socket.io keeps
    /// everything for the duration). When it overflows, the oldest packets go, and a
    /// client whose offset went with them gets a new session instead.
    pub max_buffered_packets: usize,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            max_disconnection_duration: Duration::from_millis(2 * 60 * 1000),
            skip_middlewares: true,
            max_buffered_packets: 10_000,
        }
    }
}
