//! The application side of a Socket.IO connection's task: the engine's server events
//! become handler runs (one at a time, in arrival order), commands from socket handles
//! become calls on the engine's `Connection`, and the server-wide state is kept in step
//! (the driver loop of `halyard_engine::socketio::server`).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytestring::ByteString;
use futures_channel::oneshot;
use halyard_engine::socketio::server::{
    AckRoute, Broadcast, ConnectError, Connection, Delivery, EmitToOptions, Error as EngineError,
    RecoveryToken, ServerEvent,
};
use halyard_protocol::socketio::{Args, Event, RawJson};

use super::handshake::{ConnInfo, Handshake};
use super::namespace::NspHandlers;
use super::server::ServerInner;
use super::socket::AckSender;
use super::{DisconnectReason, Error, Socket};
use crate::adapter::BoxFuture;
use crate::driver::Application;

/// Where the answer to a per-socket emit with an ack goes.
pub(crate) type AckReply = oneshot::Sender<Result<Args, Error>>;

/// What socket handles (and the server) ask of a connection's task.
pub(crate) enum Command {
    /// Accept the pending CONNECT for `nsp` (its middlewares passed).
    Accept {
        nsp: String,
        token: Option<RecoveryToken>,
        handshake: Handshake,
        reply: oneshot::Sender<Option<Socket>>,
    },
    /// Refuse the pending CONNECT for `nsp`.
    Refuse { nsp: String, error: ConnectError },
    /// A per-socket emit, made by the namespace here (ack id, recovery offset).
    Emit {
        nsp: String,
        sid: String,
        event: Event,
        opts: EmitToOptions,
        reply: Option<AckReply>,
    },
    /// A packet made already (a broadcast, or an emit waiting for room).
    Send {
        nsp: String,
        packet: Arc<Broadcast>,
        reply: Option<AckReply>,
    },
    /// Answer the client's event `ack_id`.
    Ack {
        nsp: String,
        ack_id: u64,
        args: Args,
    },
    /// `socket.disconnect()`.
    Disconnect { nsp: String },
    /// `socket.disconnect(true)`.
    Close,
    /// `socket.conn.close()`, `io.close()`.
    CloseTransport,
}

/// Work for the handlers, in arrival order.
enum Job {
    Connect {
        nsp: String,
        auth: RawJson,
        token: Option<RecoveryToken>,
        hooks: Arc<NspHandlers>,
        skip_middlewares: bool,
    },
    Event {
        nsp: ByteString,
        event: Event,
        ack_id: Option<u64>,
    },
    Leave {
        socket: Socket,
        reason: DisconnectReason,
    },
}

/// Handler runs: the one running, and the jobs waiting for it.
#[derive(Default)]
struct Work {
    jobs: VecDeque<Job>,
    current: Option<BoxFuture<'static, ()>>,
}

/// The application side of one Socket.IO connection's driver.
pub(crate) struct SioApp {
    server: Arc<ServerInner>,
    commands: crate::driver::CommandSender<Command>,
    info: Arc<ConnInfo>,
    /// The connected sockets (one per namespace; usually one, so a boxed slice sized to
    /// fit rather than a map).
    sockets: Box<[Socket]>,
    /// The handlers' work: boxed, and `None` while there is none (an idle connection).
    work: Option<Box<Work>>,
    /// Per-socket emits waiting for their ack, by (namespace, ack id); boxed and `None`
    /// while there are none (an idle connection has none).
    #[allow(clippy::box_collection)] // 8 B in every driver task instead of 48
    waiters: Option<Box<HashMap<(String, u64), AckReply>>>,
    closed: bool,
}

impl SioApp {
    pub(crate) fn new(
        server: Arc<ServerInner>,
        commands: crate::driver::CommandSender<Command>,
        info: Arc<ConnInfo>,
    ) -> Self {
        Self {
            server,
            commands,
            info,
            sockets: Box::default(),
            work: None,
            waiters: None,
            closed: false,
        }
    }

    /// The per-socket emit waiting for the ack `ack_id` on `nsp`, taken out.
    fn take_waiter(&mut self, nsp: &str, ack_id: u64) -> Option<AckReply> {
        let waiters = self.waiters.as_mut()?;
        let reply = waiters.remove(&(nsp.to_owned(), ack_id));
        if waiters.is_empty() {
            self.waiters = None;
        }
        reply
    }

    /// Queues `job` for the handlers.
    fn push_job(&mut self, job: Job) {
        self.work.get_or_insert_default().jobs.push_back(job);
    }

    /// The connected socket on `nsp`.
    fn socket(&self, nsp: &str) -> Option<&Socket> {
        self.sockets.iter().find(|s| s.inner().nsp() == &*nsp)
    }

    /// Takes one engine event: acks at once, the rest queued for the handlers.
    fn on_event(&mut self, conn: &mut Connection, event: ServerEvent) {
        let now = Instant::now();
        match event {
            ServerEvent::Connect(request) => {
                let nsp = request.nsp.to_string();
                let mut state = self.server.local.state();
                state.expire(now);
                let Some(resolution) = state.namespaces.resolve(&nsp, &request.auth) else {
                    drop(state);
                    tracing::debug!(eio = conn.eio_sid(), nsp, "CONNECT to an unknown namespace");
                    if let Err(error) = conn.refuse(now, &nsp, &ConnectError::invalid_namespace()) {
                        tracing::debug!(%error, "refusing failed");
                    }
                    return;
                };
                let dynamic = match resolution {
                    halyard_engine::socketio::server::Resolution::Dynamic(i) => Some(i),
                    _ => None,
                };
                let namespace = state.namespaces.get(&nsp);
                let resumable = match (&request.recovery, namespace) {
                    (Some(token), Some(namespace)) => namespace.find_session(now, token).is_some(),
                    _ => false,
                };
                let skip = resumable
                    && namespace
                        .and_then(|n| n.recovery())
                        .is_some_and(|r| r.config().skip_middlewares);
                drop(state);
                let hooks = self.server.hooks(&nsp, dynamic);
                self.push_job(Job::Connect {
                    nsp,
                    auth: request.auth,
                    token: request.recovery,
                    hooks,
                    skip_middlewares: skip,
                });
            }
            ServerEvent::Event {
                nsp, event, ack_id, ..
            } => self.push_job(Job::Event { nsp, event, ack_id }),
            ServerEvent::Ack {
                nsp,
                sid,
                ack_id,
                args,
            } => {
                let mut state = self.server.local.state();
                match state.router.handle_ack(&nsp, &sid, ack_id, args) {
                    AckRoute::Socket(args) => {
                        drop(state);
                        if let Some(reply) = self.take_waiter(&nsp, ack_id) {
                            let _ = reply.send(Ok(args));
                        }
                    }
                    AckRoute::Broadcast => state.finish_broadcast_acks(),
                }
            }
            ServerEvent::AckTimeout { nsp, ack_id, .. } => {
                if let Some(reply) = self.take_waiter(&nsp, ack_id) {
                    let _ = reply.send(Err(Error::Timeout));
                }
            }
            ServerEvent::Disconnecting { nsp, reason, .. } => {
                if let Some(index) = self.sockets.iter().position(|s| s.inner().nsp() == &*nsp) {
                    let mut sockets = std::mem::take(&mut self.sockets).into_vec();
                    let socket = sockets.swap_remove(index);
                    self.sockets = sockets.into_boxed_slice();
                    socket.set_disconnected();
                    // Out of the server's view of its sockets at once (socket.io's
                    // `nsp._remove`, in the same tick as the DISCONNECT): when a command
                    // disconnected it, this runs before the DISCONNECT is transmitted, so
                    // no client that saw it go can still find it (`fetch_sockets`,
                    // `nsp.socket(id)`, broadcast targets). Its rooms stay until its
                    // `on_disconnecting` handlers ran (see `Job::Leave`).
                    {
                        let inner = socket.inner();
                        self.server
                            .local
                            .state()
                            .index
                            .remove_if(inner.nsp(), inner.id(), |s| s.same_connection(&inner.eio));
                    }
                    self.push_job(Job::Leave { socket, reason });
                }
            }
            ServerEvent::Disconnected {
                nsp, pending_acks, ..
            } => {
                for ack_id in pending_acks {
                    if let Some(reply) = self.take_waiter(&nsp, ack_id) {
                        let _ = reply.send(Err(Error::Disconnected));
                    }
                }
            }
            ServerEvent::Upgraded => tracing::debug!(eio = conn.eio_sid(), "upgraded to WebSocket"),
            ServerEvent::Closed { reason } => {
                tracing::debug!(eio = conn.eio_sid(), %reason, "connection closed");
                self.closed = true;
                for (_, reply) in self.waiters.take().into_iter().flat_map(|w| *w) {
                    let _ = reply.send(Err(Error::Disconnected));
                }
            }
        }
    }

    /// The future that runs `job`'s handlers, if there is anything to run.
    fn start(&mut self, job: Job) -> Option<BoxFuture<'static, ()>> {
        match job {
            Job::Connect {
                nsp,
                auth,
                token,
                hooks,
                skip_middlewares,
            } => {
                let commands = self.commands.clone();
                let handshake = Handshake::new(self.info.clone(), auth.clone());
                Some(Box::pin(async move {
                    if !skip_middlewares {
                        for middleware in hooks.middlewares() {
                            if let Err(error) =
                                middleware.call(handshake.clone(), auth.clone()).await
                            {
                                let _ = commands.send(Command::Refuse { nsp, error }).await;
                                return;
                            }
                        }
                    }
                    let (reply, accepted) = oneshot::channel();
                    let accept = Command::Accept {
                        nsp,
                        token,
                        handshake,
                        reply,
                    };
                    if commands.send(accept).await.is_err() {
                        return;
                    }
                    let Ok(Some(socket)) = accepted.await else {
                        return;
                    };
                    for handler in hooks.connection() {
                        handler.call(socket.clone()).await;
                    }
                }))
            }
            Job::Event { nsp, event, ack_id } => {
                let socket = self.socket(&nsp)?.clone();
                match socket.handler(event.name()) {
                    Some(handler) => {
                        let ack = ack_id.map(|id| AckSender::new(socket.clone(), id));
                        Some(handler.call(socket, event, ack))
                    }
                    None => {
                        tracing::debug!(
                            sid = socket.id(),
                            nsp = &*nsp,
                            event = event.name(),
                            "no handler for event"
                        );
                        None
                    }
                }
            }
            Job::Leave { socket, reason } => {
                let server = self.server.clone();
                Some(Box::pin(async move {
                    for handler in socket.disconnecting_handlers() {
                        handler.call(socket.clone(), reason).await;
                    }
                    {
                        // (It left the socket index when the engine reported it.)
                        let now = Instant::now();
                        let mut state = server.local.state();
                        let inner = socket.inner();
                        if let Some(namespace) = state.namespaces.get_mut(inner.nsp()) {
                            namespace.remove_socket(now, inner.id(), inner.pid(), reason, None);
                        }
                    }
                    for handler in socket.disconnect_handlers() {
                        handler.call(socket.clone(), reason).await;
                    }
                }))
            }
        }
    }

    fn accept(
        &mut self,
        conn: &mut Connection,
        now: Instant,
        nsp: String,
        token: Option<RecoveryToken>,
        handshake: Handshake,
    ) -> Option<Socket> {
        // Before the state lock: the sessions map has its own.
        let eio = self.server.eio_sid(conn.eio_sid());
        let mut state = self.server.local.state();
        let state = &mut *state;
        let namespace = state.namespaces.get_mut(&nsp)?;
        let restored = token.and_then(|t| namespace.restore(now, &t));
        let accepted = match conn.accept(now, &nsp, restored.as_ref()) {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(eio = conn.eio_sid(), nsp, %error, "accepting a socket failed");
                return None;
            }
        };
        namespace.add_socket(&accepted.sid, restored.as_ref());
        let socket = Socket::new(
            &accepted.sid,
            &nsp,
            accepted.pid.as_deref(),
            accepted.recovered,
            handshake,
            eio,
            self.commands.clone(),
            self.server.clone(),
        );
        state.index.insert(&nsp, &accepted.sid, socket.clone());
        tracing::debug!(
            eio = conn.eio_sid(),
            nsp,
            sid = accepted.sid,
            recovered = accepted.recovered,
            "socket connected"
        );
        let mut sockets = std::mem::take(&mut self.sockets).into_vec();
        sockets.reserve_exact(1);
        sockets.push(socket.clone());
        self.sockets = sockets.into_boxed_slice();
        Some(socket)
    }

    /// Queues `packet` on the socket of `nsp`. `Err` hands the command back when the
    /// connection's queue is full.
    #[allow(clippy::result_large_err)]
    fn send(
        &mut self,
        conn: &mut Connection,
        now: Instant,
        nsp: String,
        packet: Arc<Broadcast>,
        reply: Option<AckReply>,
    ) -> Result<(), Command> {
        match conn.send(now, &nsp, &packet) {
            Ok(Delivery::Queued) => {
                if let (Some(ack_id), Some(reply)) = (packet.ack_id, reply) {
                    self.waiters
                        .get_or_insert_default()
                        .insert((nsp, ack_id), reply);
                }
                Ok(())
            }
            Ok(Delivery::Dropped) => Ok(()),
            Err(EngineError::Full) => Err(Command::Send { nsp, packet, reply }),
            Err(error) => {
                tracing::trace!(eio = conn.eio_sid(), nsp, %error, "packet not sent");
                if let Some(reply) = reply {
                    let _ = reply.send(Err(Error::Closed));
                }
                Ok(())
            }
        }
    }

    /// Carries out one command (see `handle_command`). `Err` hands it back when the
    /// connection's queue is full.
    #[allow(clippy::result_large_err)]
    fn command(
        &mut self,
        conn: &mut Connection,
        now: Instant,
        command: Command,
    ) -> Result<(), Command> {
        match command {
            Command::Accept {
                nsp,
                token,
                handshake,
                reply,
            } => {
                let socket = self.accept(conn, now, nsp, token, handshake);
                let _ = reply.send(socket);
            }
            Command::Refuse { nsp, error } => match conn.refuse(now, &nsp, &error) {
                Err(EngineError::Full) => return Err(Command::Refuse { nsp, error }),
                Err(error) => tracing::debug!(%error, "refusing failed"),
                Ok(()) => {}
            },
            Command::Emit {
                nsp,
                sid,
                event,
                opts,
                reply,
            } => {
                if conn.socket_id(&nsp) != Some(sid.as_str()) {
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(Error::Closed));
                    }
                    return Ok(());
                }
                let packet = {
                    let mut state = self.server.local.state();
                    match state.namespaces.get_mut(&nsp) {
                        Some(namespace) => namespace.emit_to(now, &sid, event, opts),
                        None => return Ok(()),
                    }
                };
                match packet {
                    Ok(packet) => return self.send(conn, now, nsp, Arc::new(packet), reply),
                    Err(error) => {
                        if let Some(reply) = reply {
                            let _ = reply.send(Err(error.into()));
                        }
                    }
                }
            }
            Command::Send { nsp, packet, reply } => {
                return self.send(conn, now, nsp, packet, reply);
            }
            Command::Ack { nsp, ack_id, args } => match conn.ack(now, &nsp, ack_id, args.clone()) {
                Err(EngineError::Full) => return Err(Command::Ack { nsp, ack_id, args }),
                Err(error) => tracing::debug!(%error, "ack not sent"),
                Ok(()) => {}
            },
            Command::Disconnect { nsp } => {
                if let Err(error) = conn.disconnect(now, &nsp) {
                    tracing::debug!(%error, "disconnect failed");
                }
            }
            Command::Close => conn.close(now),
            Command::CloseTransport => conn.shutdown(now),
        }
        Ok(())
    }
}

impl Application for SioApp {
    type Session = Connection;
    type Command = Command;

    #[allow(clippy::result_large_err)]
    fn handle_command(
        &mut self,
        conn: &mut Connection,
        now: Instant,
        command: Command,
    ) -> Result<(), Command> {
        let result = self.command(conn, now, command);
        // The driver transmits what the command queued as soon as this returns; the
        // events it caused (a socket disconnecting) update the server-wide state first,
        // so a client never sees a DISCONNECT while the server still counts the socket.
        while let Some(event) = conn.poll_event() {
            self.on_event(conn, event);
        }
        result
    }

    fn poll_deliver(&mut self, conn: &mut Connection, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            while let Some(event) = conn.poll_event() {
                self.on_event(conn, event);
            }
            let Some(work) = self.work.as_mut() else {
                break;
            };
            if let Some(current) = work.current.as_mut() {
                // A panicking handler ends its own run, not the connection.
                let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    current.as_mut().poll(cx)
                }));
                match polled {
                    Ok(Poll::Ready(())) => work.current = None,
                    Ok(Poll::Pending) => break,
                    Err(_) => {
                        tracing::error!(eio = conn.eio_sid(), "a handler panicked");
                        work.current = None;
                    }
                }
            }
            match work.jobs.pop_front() {
                Some(job) => {
                    let current = self.start(job);
                    if let Some(work) = self.work.as_mut() {
                        work.current = current;
                    }
                }
                None => break,
            }
        }
        let queued = match self.work.as_mut() {
            None => 0,
            Some(work) if work.jobs.is_empty() => {
                // An idle connection holds no buffer.
                match work.current {
                    None => self.work = None,
                    Some(_) => work.jobs = VecDeque::new(),
                }
                0
            }
            Some(work) => work.jobs.len(),
        };
        match queued >= self.server.event_buffer {
            true => Poll::Pending,
            false => Poll::Ready(()),
        }
    }

    fn handle_commands_closed(&mut self, conn: &mut Connection, now: Instant) {
        conn.close(now);
    }

    fn is_done(&self) -> bool {
        self.closed
            && self
                .work
                .as_ref()
                .is_none_or(|w| w.current.is_none() && w.jobs.is_empty())
    }
}
