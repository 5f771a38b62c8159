//! Server-wide Socket.IO state and the [`Adapter`] trait: what a Socket.IO server does
//! across all of its connections (broadcasts, room changes by selection, fetching and
//! disconnecting sockets).
//!
//! The state itself is the engine's plain data (`Namespaces`, the rooms index,
//! `SocketIndex`, `AckRouter`), held by [`InMemoryAdapter`] behind a
//! [`std::sync::Mutex`] that is never held across an `await`. Connection tasks use it
//! synchronously for what is local by nature (accepting a socket, joining a room,
//! per-socket emits); everything that reaches "every socket that matches" goes through
//! the [`Adapter`] trait, whose methods are async and resolve once the local part is
//! done. A cluster adapter (Redis) wraps an [`InMemoryAdapter`] for the local part and
//! publishes the operation to the other servers.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use futures_channel::oneshot;
use halyard_engine::socketio::server::{
    AckRouter, Broadcast, BroadcastAckOutcome, BroadcastOptions, Namespaces, RecoveryConfig,
    SocketIndex,
};
use halyard_protocol::socketio::Event;

use crate::socketio::conn::Command;
use crate::socketio::{Error, Socket};

/// A boxed, `Send` future (what [`Adapter`] methods return, so the trait stays
/// object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The server-wide operations of a Socket.IO server (socket.io's adapter).
///
/// Every method is async and resolves when the **local** part is done (this server's
/// sockets have been handed the packet, or have joined the rooms); a cluster adapter
/// publishes the operation to the other servers and does not wait for them, as
/// `@socket.io/redis-adapter` does. The targets are chosen by [`BroadcastOptions`]
/// (rooms, except, flags) within the namespace `nsp`.
pub trait Adapter: Send + Sync + 'static {
    /// Sends `event` to every target (socket.io's `adapter.broadcast`).
    fn broadcast<'a>(
        &'a self,
        nsp: &'a str,
        event: Event,
        opts: BroadcastOptions,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Sends `event` to every target, asking each for an ack, and collects the answers
    /// until all have answered or `timeout` passes (socket.io's `broadcastWithAck`).
    fn broadcast_with_ack<'a>(
        &'a self,
        nsp: &'a str,
        event: Event,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<BroadcastAckOutcome, Error>>;

    /// Makes every target join `rooms` (socket.io's `addSockets`, `socketsJoin`).
    fn add_sockets<'a>(
        &'a self,
        nsp: &'a str,
        opts: BroadcastOptions,
        rooms: Vec<String>,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Makes every target leave `rooms` (socket.io's `delSockets`, `socketsLeave`).
    fn del_sockets<'a>(
        &'a self,
        nsp: &'a str,
        opts: BroadcastOptions,
        rooms: Vec<String>,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Disconnects every target (socket.io's `disconnectSockets`); with `close`, their
    /// whole connections.
    fn disconnect_sockets<'a>(
        &'a self,
        nsp: &'a str,
        opts: BroadcastOptions,
        close: bool,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// The targets (socket.io's `fetchSockets`; this server's sockets only for now).
    fn fetch_sockets<'a>(
        &'a self,
        nsp: &'a str,
        opts: BroadcastOptions,
    ) -> BoxFuture<'a, Result<Vec<Socket>, Error>>;

    /// Sends `event` to the other servers of the cluster, not to any client (socket.io's
    /// `serverSideEmit`). This server's own sockets never see it. The default, which the
    /// in-memory adapter keeps, does nothing: a single server has no other server to
    /// reach.
    fn server_side_emit<'a>(
        &'a self,
        nsp: &'a str,
        event: Event,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let _ = (nsp, event);
        Box::pin(std::future::ready(Ok(())))
    }
}

/// A timer over the runtime the server is served on (set when the first request
/// arrives), for broadcast-ack deadlines.
pub(crate) trait Timer: Send + Sync + 'static {
    fn now(&self) -> Instant;
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()>;
}

impl<R: crate::Runtime> Timer for R {
    fn now(&self) -> Instant {
        crate::Runtime::now(self)
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        Box::pin(crate::Runtime::sleep_until(self, deadline))
    }
}

/// The plain data behind the lock.
pub(crate) struct State {
    pub(crate) namespaces: Namespaces,
    pub(crate) index: SocketIndex<Socket>,
    pub(crate) router: AckRouter,
    /// Callers of broadcasts with acks, by (namespace, ack id).
    pub(crate) waiters: HashMap<(String, u64), oneshot::Sender<BroadcastAckOutcome>>,
}

impl State {
    /// Hands every finished broadcast with acks to its caller.
    pub(crate) fn finish_broadcast_acks(&mut self) {
        while let Some(done) = self.router.poll_finished() {
            if let Some(waiter) = self.waiters.remove(&(done.nsp, done.ack_id)) {
                let _ = waiter.send(done.outcome);
            }
        }
    }

    /// Drops expired recovery state (done lazily, whenever the state is touched for a
    /// connection's lifecycle).
    pub(crate) fn expire(&mut self, now: Instant) {
        if self.namespaces.poll_timeout().is_some_and(|at| at <= now) {
            self.namespaces.handle_timeout(now);
        }
    }
}

/// The default adapter: this server's sockets only, the state in memory (socket.io's
/// in-memory adapter). Cluster adapters build on it for their local part.
pub struct InMemoryAdapter {
    state: Mutex<State>,
    timer: OnceLock<Arc<dyn Timer>>,
    /// Whether some socket ever had an outgoing catch-all handler: broadcasts then
    /// keep a copy of their event to show it to them.
    pub(crate) outgoing: AtomicBool,
}

impl std::fmt::Debug for InMemoryAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryAdapter").finish_non_exhaustive()
    }
}

impl InMemoryAdapter {
    pub(crate) fn new(recovery: Option<RecoveryConfig>) -> Self {
        Self {
            state: Mutex::new(State {
                namespaces: Namespaces::new(recovery),
                index: SocketIndex::new(),
                router: AckRouter::new(),
                waiters: HashMap::new(),
            }),
            timer: OnceLock::new(),
            outgoing: AtomicBool::new(false),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_timer(&self, timer: impl FnOnce() -> Arc<dyn Timer>) {
        let _ = self.timer.get_or_init(timer);
    }

    fn now(&self) -> Instant {
        self.timer.get().map_or_else(Instant::now, |t| t.now())
    }

    /// The sockets `opts` reaches in `nsp`.
    fn targets(&self, nsp: &str, opts: &BroadcastOptions) -> Vec<Socket> {
        let state = self.state();
        let Some(namespace) = state.namespaces.get(nsp) else {
            return Vec::new();
        };
        let sids = namespace.rooms().resolve(opts);
        state
            .index
            .targets(nsp, &sids)
            .map(|(_, socket)| socket.clone())
            .collect()
    }

    /// Hands `packet` to each target's connection: waits for room in each connection's
    /// queue, except for a volatile packet, which is dropped where there is none.
    /// `event`, when given, is shown to each target's outgoing catch-all handlers.
    async fn deliver(nsp: &str, mut packet: Broadcast, targets: Vec<Socket>, event: Option<Event>) {
        let volatile = packet.volatile;
        packet.targets = Vec::new();
        let packet = Arc::new(packet);
        for socket in targets {
            if let Some(event) = &event {
                socket.notify_outgoing(event);
            }
            let command = Command::Send {
                nsp: nsp.to_owned(),
                packet: packet.clone(),
                reply: None,
            };
            let sent = match volatile {
                true => socket.commands().try_send(command).is_ok(),
                false => socket.commands().send(command).await.is_ok(),
            };
            if !sent {
                tracing::trace!(sid = socket.id(), "broadcast target gone or busy");
            }
        }
    }

    /// See [`Adapter::broadcast`].
    pub async fn broadcast(
        &self,
        nsp: &str,
        event: Event,
        opts: BroadcastOptions,
    ) -> Result<(), Error> {
        let now = self.now();
        let copy = self.outgoing.load(Ordering::Relaxed).then(|| event.clone());
        let (packet, targets) = {
            let mut state = self.state();
            let state = &mut *state;
            let Some(namespace) = state.namespaces.get_mut(nsp) else {
                return Ok(());
            };
            let packet = namespace.broadcast(now, event, &opts)?;
            let targets: Vec<Socket> = state
                .index
                .targets(nsp, &packet.targets)
                .map(|(_, socket)| socket.clone())
                .collect();
            (packet, targets)
        };
        Self::deliver(nsp, packet, targets, copy).await;
        Ok(())
    }

    /// See [`Adapter::broadcast_with_ack`].
    pub async fn broadcast_with_ack(
        &self,
        nsp: &str,
        event: Event,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> Result<BroadcastAckOutcome, Error> {
        let now = self.now();
        let copy = self.outgoing.load(Ordering::Relaxed).then(|| event.clone());
        let (rx, packet, targets, deadline) = {
            let mut state = self.state();
            let state = &mut *state;
            let Some(namespace) = state.namespaces.get_mut(nsp) else {
                return Ok(BroadcastAckOutcome {
                    responses: Vec::new(),
                    missing: Vec::new(),
                    timed_out: false,
                });
            };
            let (packet, collector) = namespace.broadcast_with_ack(now, event, &opts, timeout)?;
            let (tx, rx) = oneshot::channel();
            state
                .waiters
                .insert((nsp.to_owned(), collector.ack_id()), tx);
            let deadline = collector.deadline();
            state.router.insert(nsp, collector);
            state.finish_broadcast_acks();
            let targets: Vec<Socket> = state
                .index
                .targets(nsp, &packet.targets)
                .map(|(_, socket)| socket.clone())
                .collect();
            (rx, packet, targets, deadline)
        };
        Self::deliver(nsp, packet, targets, copy).await;
        let mut rx = rx;
        if let Some(timer) = self.timer.get().cloned() {
            let answered = futures_lite::future::or(async { Some((&mut rx).await) }, async {
                timer.sleep_until(deadline).await;
                None
            })
            .await;
            if let Some(outcome) = answered {
                return outcome.map_err(|_| Error::Closed);
            }
            let mut state = self.state();
            state.router.handle_timeout(timer.now().max(deadline));
            state.finish_broadcast_acks();
        }
        rx.await.map_err(|_| Error::Closed)
    }

    /// See [`Adapter::add_sockets`].
    pub async fn add_sockets(
        &self,
        nsp: &str,
        opts: BroadcastOptions,
        rooms: Vec<String>,
    ) -> Result<(), Error> {
        let rooms: Vec<&str> = rooms.iter().map(String::as_str).collect();
        if let Some(namespace) = self.state().namespaces.get_mut(nsp) {
            namespace.rooms_mut().add_sockets(&opts, &rooms);
        }
        Ok(())
    }

    /// See [`Adapter::del_sockets`].
    pub async fn del_sockets(
        &self,
        nsp: &str,
        opts: BroadcastOptions,
        rooms: Vec<String>,
    ) -> Result<(), Error> {
        let rooms: Vec<&str> = rooms.iter().map(String::as_str).collect();
        if let Some(namespace) = self.state().namespaces.get_mut(nsp) {
            namespace.rooms_mut().del_sockets(&opts, &rooms);
        }
        Ok(())
    }

    /// See [`Adapter::disconnect_sockets`].
    pub async fn disconnect_sockets(
        &self,
        nsp: &str,
        opts: BroadcastOptions,
        close: bool,
    ) -> Result<(), Error> {
        for socket in self.targets(nsp, &opts) {
            // A socket already gone is fine.
            let _ = socket.disconnect(close).await;
        }
        Ok(())
    }

    /// See [`Adapter::fetch_sockets`].
    pub async fn fetch_sockets(
        &self,
        nsp: &str,
        opts: BroadcastOptions,
    ) -> Result<Vec<Socket>, Error> {
        Ok(self.targets(nsp, &opts))
    }
}

impl Adapter for InMemoryAdapter {
    fn broadcast<'a>(
        &'a self,
        nsp: &'a str,
        event: Event,
        opts: BroadcastOptions,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(InMemoryAdapter::broadcast(self, nsp, event, opts))
    }

    fn broadcast_with_ack<'a>(
        &'a self,
        nsp: &'a str,
        event: Event,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<BroadcastAckOutcome, Error>> {
        Box::pin(InMemoryAdapter::broadcast_with_ack(
            self, nsp, event, opts, timeout,
        ))
    }

    fn add_sockets<'a>(
        &'a self,
        nsp: &'a str,
        opts: BroadcastOptions,
        rooms: Vec<String>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(InMemoryAdapter::add_sockets(self, nsp, opts, rooms))
    }

    fn del_sockets<'a>(
        &'a self,
        nsp: &'a str,
        opts: BroadcastOptions,
        rooms: Vec<String>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(InMemoryAdapter::del_sockets(self, nsp, opts, rooms))
    }

    fn disconnect_sockets<'a>(
        &'a self,
        nsp: &'a str,
        opts: BroadcastOptions,
        close: bool,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(InMemoryAdapter::disconnect_sockets(self, nsp, opts, close))
    }

    fn fetch_sockets<'a>(
        &'a self,
        nsp: &'a str,
        opts: BroadcastOptions,
    ) -> BoxFuture<'a, Result<Vec<Socket>, Error>> {
        Box::pin(InMemoryAdapter::fetch_sockets(self, nsp, opts))
    }
}
