//! [`BroadcastOperator`]: `to`/`in`/`except`/`volatile`/`timeout`, then an emit or a
//! selection-wide operation.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use halyard_engine::socketio::server::BroadcastOptions;
use halyard_protocol::socketio::Event;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::server::ServerInner;
use super::{Error, Socket};

/// How long a broadcast with acks waits without [`BroadcastOperator::timeout`].
const DEFAULT_BROADCAST_ACK_TIMEOUT: Duration = Duration::from_secs(3600);

/// Which namespace(s) an operator works on.
#[derive(Debug, Clone)]
pub(crate) enum NspTarget {
    /// One namespace, by name.
    Named(String),
    /// Every child namespace of a dynamic matcher.
    Dynamic(usize),
}

/// A selection of sockets of a namespace (socket.io's `BroadcastOperator`): made by
/// `io.to(…)`, `nsp.except(…)`, `socket.to(…)`, `socket.broadcast()`… and chained.
///
/// ```no_run
/// # async fn f(io: halyard::socketio::Server) -> Result<(), halyard::socketio::Error> {
/// io.to("room1").to("room2").except("muted").emit("news", &("title", 3)).await?;
/// let answers: Vec<(String,)> = io
///     .timeout(std::time::Duration::from_secs(1))
///     .emit_with_ack("status?", &())
///     .await?;
/// io.in_("room1").sockets_join(["room3"]).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use = "an operator does nothing until emit (or another operation) is called"]
pub struct BroadcastOperator {
    server: Arc<ServerInner>,
    nsp: NspTarget,
    opts: BroadcastOptions,
}

impl std::fmt::Debug for BroadcastOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BroadcastOperator")
            .field("nsp", &self.nsp)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl BroadcastOperator {
    pub(crate) fn new(server: Arc<ServerInner>, nsp: NspTarget, opts: BroadcastOptions) -> Self {
        Self { server, nsp, opts }
    }

    /// Adds the members of `room` to the targets (union with the other rooms).
    pub fn to(mut self, room: impl Into<String>) -> Self {
        self.opts.rooms.push(room.into());
        self
    }

    /// Same as [`to`](Self::to).
    pub fn in_(self, room: impl Into<String>) -> Self {
        self.to(room)
    }

    /// Excludes the members of `room` (a socket id excludes that socket).
    pub fn except(mut self, room: impl Into<String>) -> Self {
        self.opts.except.push(room.into());
        self
    }

    /// Drops the packet for targets whose transport is not writable now.
    pub fn volatile(mut self) -> Self {
        self.opts.flags.volatile = true;
        self
    }

    /// socket.io's `compress(flag)`: accepted and ignored, as Halyard does not compress
    /// frames (permessage-deflate is not negotiated); kept for API parity.
    pub fn compress(self, _compress: bool) -> Self {
        self
    }

    /// Only this server's sockets (meaningful with a cluster adapter).
    pub fn local(mut self) -> Self {
        self.opts.flags.local = true;
        self
    }

    /// How long [`emit_with_ack`](Self::emit_with_ack) waits for the answers.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.opts.flags.timeout = Some(timeout);
        self
    }

    fn namespaces(&self) -> Vec<String> {
        match &self.nsp {
            NspTarget::Named(name) => vec![name.clone()],
            NspTarget::Dynamic(index) => {
                let state = self.server.local.state();
                state
                    .namespaces
                    .iter()
                    .filter(|n| n.parent() == Some(*index))
                    .map(|n| n.name().to_owned())
                    .collect()
            }
        }
    }

    /// Emits `event` with `args` (tuple rule) to every target, encoded once.
    pub fn emit<T: Serialize + ?Sized>(
        self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let event = Event::new(event, args);
        async move {
            let event = event?;
            for nsp in self.namespaces() {
                self.server
                    .adapter
                    .broadcast(&nsp, event.clone(), self.opts.clone())
                    .await?;
            }
            Ok(())
        }
    }

    /// Hands an event to the adapter for the other servers of the cluster, once per
    /// namespace of this operator (see [`Namespace::server_side_emit`](super::Namespace::server_side_emit)).
    pub(crate) fn server_side_emit<T: Serialize + ?Sized>(
        self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let event = Event::new(event, args);
        async move {
            let event = event?;
            for nsp in self.namespaces() {
                self.server
                    .adapter
                    .server_side_emit(&nsp, event.clone())
                    .await?;
            }
            Ok(())
        }
    }

    /// Emits `event` to every target and collects their acks, each read as `R` (tuple
    /// rule), in arrival order. Fails with [`Error::Timeout`] if some target did not
    /// answer within [`timeout`](Self::timeout) (without one, waits up to an hour).
    pub fn emit_with_ack<T: Serialize + ?Sized, R: DeserializeOwned + Send + 'static>(
        self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<Vec<R>, Error>> + Send + 'static {
        let event = Event::new(event, args);
        async move {
            let event = event?;
            let timeout = self
                .opts
                .flags
                .timeout
                .unwrap_or(DEFAULT_BROADCAST_ACK_TIMEOUT);
            let mut answers = Vec::new();
            for nsp in self.namespaces() {
                let outcome = self
                    .server
                    .adapter
                    .broadcast_with_ack(&nsp, event.clone(), self.opts.clone(), timeout)
                    .await?;
                if outcome.timed_out {
                    return Err(Error::Timeout);
                }
                for (_, args) in outcome.responses {
                    let answer = args
                        .deserialize::<R>()
                        .map_err(|error| Error::Args(error.to_string()))?;
                    answers.push(answer);
                }
            }
            Ok(answers)
        }
    }

    /// The targets (socket.io's `fetchSockets`).
    pub async fn fetch_sockets(self) -> Result<Vec<Socket>, Error> {
        let mut sockets = Vec::new();
        for nsp in self.namespaces() {
            let found = self
                .server
                .adapter
                .fetch_sockets(&nsp, self.opts.clone())
                .await?;
            sockets.extend(found);
        }
        Ok(sockets)
    }

    /// Makes every target join `rooms` (socket.io's `socketsJoin`).
    pub async fn sockets_join<I, S>(self, rooms: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let rooms: Vec<String> = rooms.into_iter().map(Into::into).collect();
        for nsp in self.namespaces() {
            self.server
                .adapter
                .add_sockets(&nsp, self.opts.clone(), rooms.clone())
                .await?;
        }
        Ok(())
    }

    /// Makes every target leave `rooms` (socket.io's `socketsLeave`).
    pub async fn sockets_leave<I, S>(self, rooms: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let rooms: Vec<String> = rooms.into_iter().map(Into::into).collect();
        for nsp in self.namespaces() {
            self.server
                .adapter
                .del_sockets(&nsp, self.opts.clone(), rooms.clone())
                .await?;
        }
        Ok(())
    }

    /// Makes every target leave every room but its own (Sails' `leaveAll(room)` is
    /// `io.in_(room).sockets_leave_all()`). Resolves once this server's sockets have
    /// left; a socket another server holds (cluster adapter) is left as it is.
    pub async fn sockets_leave_all(self) -> Result<(), Error> {
        for socket in self.fetch_sockets().await? {
            socket.leave_all();
        }
        Ok(())
    }

    /// Disconnects every target (socket.io's `disconnectSockets(close)`).
    pub async fn disconnect_sockets(self, close: bool) -> Result<(), Error> {
        for nsp in self.namespaces() {
            self.server
                .adapter
                .disconnect_sockets(&nsp, self.opts.clone(), close)
                .await?;
        }
        Ok(())
    }
}
