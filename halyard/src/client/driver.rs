//! The task of one client manager: it owns the sans-IO [`EngineManager`], takes the
//! handles' commands, runs the transport through the [`Executor`], fires the timer, and
//! runs the sockets' handlers one at a time in arrival order.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_channel::mpsc;
use futures_core::Stream;
use halyard_engine::socketio::client::{
    AckError, AckId, ConnectionId, Event as EngineEvent, Manager as EngineManager, SocketId,
    SocketOptions as EngineSocketOptions,
};
use halyard_protocol::socketio::Args;

use super::executor::{Executor, Input};
use super::manager::{Command, Link, ManagerShared, Reply};
use super::socket::{AckSender, Socket, SocketShared, lock};
use super::{Error, ManagerEvent};
use crate::adapter::BoxFuture;
use crate::runtime::Runtime;

/// Handler runs waiting before the task stops reading from the server.
const MAX_PENDING_RUNS: usize = 256;
/// How long a client whose handles are all gone keeps going to close its connection.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Rounds of work in one poll before yielding to other tasks.
const BUDGET: usize = 64;

type AckWaiter = futures_channel::oneshot::Sender<Result<Args, Error>>;

pub(crate) struct Driver<R: Runtime> {
    rt: R,
    manager: EngineManager,
    link: Weak<Link>,
    shared: Arc<ManagerShared>,
    executor: Executor<R, ConnectionId>,
    control: Pin<Box<async_channel::Receiver<Command>>>,
    emits: Pin<Box<async_channel::Receiver<Command>>>,
    inputs: mpsc::Receiver<Input<ConnectionId>>,
    max_buffered: usize,
    acks: HashMap<(SocketId, AckId), AckWaiter>,
    runs: VecDeque<BoxFuture<'static, ()>>,
    current: Option<BoxFuture<'static, ()>>,
    sleep: Option<Pin<Box<R::Sleep>>>,
    armed: Option<Instant>,
    /// Every handle is gone: the connection is closing, and the task ends by then.
    shutdown_at: Option<Instant>,
}

impl<R: Runtime> Driver<R> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        rt: R,
        manager: EngineManager,
        link: Weak<Link>,
        shared: Arc<ManagerShared>,
        executor: Executor<R, ConnectionId>,
        control: async_channel::Receiver<Command>,
        emits: async_channel::Receiver<Command>,
        inputs: mpsc::Receiver<Input<ConnectionId>>,
        max_buffered: usize,
    ) -> Self {
        Self {
            rt,
            manager,
            link,
            shared,
            executor,
            control: Box::pin(control),
            emits: Box::pin(emits),
            inputs,
            max_buffered,
            acks: HashMap::new(),
            runs: VecDeque::new(),
            current: None,
            sleep: None,
            armed: None,
            shutdown_at: None,
        }
    }

    /// Runs until every handle is dropped, then closes the connection and runs until
    /// its last packets are out (at most [`SHUTDOWN_GRACE`]).
    pub(crate) async fn run(mut self) {
        std::future::poll_fn(|cx| self.poll(cx)).await;
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..BUDGET {
            let mut progressed = false;
            if self.shutdown_at.is_none() {
                progressed |= self.poll_commands(cx);
            }
            if let Some(at) = self.shutdown_at
                && (self.manager.is_idle() || self.rt.now() >= at)
            {
                return Poll::Ready(());
            }
            // What the transport reports, while the handlers keep up.
            while self.runs.len() < MAX_PENDING_RUNS {
                match Pin::new(&mut self.inputs).poll_next(cx) {
                    Poll::Ready(Some(input)) => {
                        self.input(input);
                        progressed = true;
                    }
                    Poll::Ready(None) | Poll::Pending => break,
                }
            }
            // The timer.
            if let Some(sleep) = self.sleep.as_mut()
                && sleep.as_mut().poll(cx).is_ready()
            {
                self.sleep = None;
                self.armed = None;
                let now = self.rt.now();
                self.manager.handle_timeout(now);
                progressed = true;
            }
            progressed |= self.drain_outputs(cx);
            progressed |= self.poll_handlers(cx);
            self.arm_timer();
            if self
                .sleep
                .as_mut()
                .is_some_and(|s| s.as_mut().poll(cx).is_ready())
            {
                continue;
            }
            if !progressed {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Applies the handles' commands; when every handle is gone, starts the shutdown.
    fn poll_commands(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progressed = false;
        while let Poll::Ready(Some(command)) = self.control.as_mut().poll_next(cx) {
            self.command(command);
            progressed = true;
        }
        while let Poll::Ready(item) = self.emits.as_mut().poll_next(cx) {
            progressed = true;
            match item {
                Some(command) => self.command(command),
                // The senders live in the handles' link: every handle is gone.
                None => {
                    let now = self.rt.now();
                    self.manager.close(now);
                    self.shutdown_at = Some(now + SHUTDOWN_GRACE);
                    break;
                }
            }
        }
        progressed
    }

    fn arm_timer(&mut self) {
        let deadline = match (self.manager.poll_timeout(), self.shutdown_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if deadline != self.armed {
            self.armed = deadline;
            self.sleep = deadline.map(|at| Box::pin(self.rt.sleep_until(at)));
        }
    }

    /// Moves the manager's transmits to the executor (while its WebSockets have room)
    /// and its events to the application. Whether anything moved.
    fn drain_outputs(&mut self, cx: &mut Context<'_>) -> bool {
        let mut moved = false;
        while self.executor.poll_flush(cx).is_ready() {
            let Some(transmit) = self.manager.poll_transmit() else {
                break;
            };
            self.executor.execute(transmit.connection, transmit.action);
            moved = true;
        }
        while let Some(event) = self.manager.poll_event() {
            self.event(event);
            moved = true;
        }
        moved
    }

    fn poll_handlers(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progressed = false;
        loop {
            if self.current.is_none() {
                self.current = self.runs.pop_front();
            }
            let Some(current) = self.current.as_mut() else {
                return progressed;
            };
            match current.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.current = None;
                    progressed = true;
                }
                Poll::Pending => return progressed,
            }
        }
    }

    // ----- commands ------------------------------------------------------------------------

    fn socket_id(&self, nsp: &str) -> Option<SocketId> {
        self.manager.socket_of(nsp)
    }

    fn shared_of(&self, socket: SocketId) -> Option<Arc<SocketShared>> {
        let nsp = self.manager.nsp(socket).ok()?;
        lock(&self.shared.sockets).get(nsp).cloned()
    }

    fn command(&mut self, command: Command) {
        let now = self.rt.now();
        match command {
            Command::Socket { nsp, options } => {
                let auth = match options.auth.current() {
                    Ok(auth) => auth,
                    Err(error) => {
                        tracing::warn!(nsp, %error, "auth function failed; connecting without auth");
                        None
                    }
                };
                let engine_options = EngineSocketOptions {
                    auth,
                    retries: options.retries,
                    ack_timeout: options.ack_timeout,
                };
                match self.manager.socket(now, &nsp, engine_options) {
                    Ok(id) => self.sync(id),
                    Err(error) => tracing::warn!(nsp, %error, "socket refused"),
                }
            }
            Command::Connect { nsp } => {
                if let Some(id) = self.socket_id(&nsp) {
                    self.refresh_auth(id);
                    let _ = self.manager.connect(now, id);
                    self.sync(id);
                }
            }
            Command::Disconnect { nsp } => {
                if let Some(id) = self.socket_id(&nsp) {
                    let _ = self.manager.disconnect(now, id);
                    self.sync(id);
                }
            }
            Command::Emit {
                nsp,
                event,
                options,
                reply,
            } => {
                let outcome = self.emit(now, &nsp, event, options);
                match (reply, outcome) {
                    (Reply::Sent(tx), outcome) => {
                        let _ = tx.send(outcome.map(drop));
                    }
                    (Reply::Acked(tx), Ok(Some(key))) => {
                        self.acks.insert(key, tx);
                    }
                    (Reply::Acked(tx), Ok(None)) => {
                        let _ = tx.send(Err(Error::Closed));
                    }
                    (Reply::Acked(tx), Err(error)) => {
                        let _ = tx.send(Err(error));
                    }
                }
            }
            Command::Ack { nsp, ack_id, args } => {
                if let Some(id) = self.socket_id(&nsp)
                    && let Err(error) = self.manager.ack(now, id, ack_id, args)
                {
                    tracing::warn!(nsp, %error, "ack not sent");
                }
            }
            Command::Open => self.manager.open(now),
            Command::Close => self.manager.close(now),
        }
    }

    fn emit(
        &mut self,
        now: Instant,
        nsp: &str,
        event: halyard_protocol::socketio::Event,
        options: halyard_engine::socketio::client::EmitOptions,
    ) -> Result<Option<(SocketId, AckId)>, Error> {
        let id = self.socket_id(nsp).ok_or(Error::Closed)?;
        let connected = self.manager.connected(id).unwrap_or(false);
        if !connected && !options.volatile {
            let waiting =
                self.manager.buffered(id).unwrap_or(0) + self.manager.queued(id).unwrap_or(0);
            if waiting >= self.max_buffered {
                return Err(Error::BufferFull);
            }
        }
        let ack = self.manager.emit(now, id, event, options)?;
        Ok(ack.map(|ack| (id, ack)))
    }

    /// Evaluates `socket`'s auth function again, for its next CONNECT.
    fn refresh_auth(&mut self, socket: SocketId) {
        let Some(shared) = self.shared_of(socket) else {
            return;
        };
        if let super::Auth::With(_) = shared.auth {
            match shared.auth.current() {
                Ok(auth) => {
                    let _ = self.manager.set_auth(socket, auth);
                }
                Err(error) => {
                    tracing::warn!(nsp = shared.nsp, %error, "auth function failed; keeping the previous auth")
                }
            }
        }
    }

    /// Copies what the engine knows of `socket` to what its handles read.
    fn sync(&self, socket: SocketId) {
        let Some(shared) = self.shared_of(socket) else {
            return;
        };
        let mut state = lock(&shared.state);
        state.active = self.manager.active(socket).unwrap_or(false);
        state.connected = self.manager.connected(socket).unwrap_or(false);
        state.id = self.manager.id(socket).ok().flatten().map(str::to_owned);
        state.recovered = self.manager.recovered(socket).unwrap_or(false);
    }

    // ----- transport -----------------------------------------------------------------------

    fn input(&mut self, input: Input<ConnectionId>) {
        self.executor.note(&input);
        let now = self.rt.now();
        let m = &mut self.manager;
        let result = match input {
            Input::Get(conn, request, Some((status, body))) => {
                m.handle_get_response(now, conn, request, status, body)
            }
            Input::Post(conn, request, Some(status)) => {
                m.handle_post_response(now, conn, request, status)
            }
            Input::Get(conn, request, None) | Input::Post(conn, request, None) => {
                m.handle_request_failed(now, conn, request)
            }
            Input::WsOpened(conn, _) => m.handle_ws_opened(now, conn),
            Input::WsFrame(conn, frame) => {
                m.handle_ws_frame(now, conn, frame);
                Ok(())
            }
            Input::WsClosed(conn) => {
                m.handle_ws_closed(now, conn);
                Ok(())
            }
            Input::WsError(conn) => {
                m.handle_ws_error(now, conn);
                Ok(())
            }
        };
        if let Err(error) = result {
            tracing::debug!(%error, "transport input refused");
        }
    }

    // ----- events --------------------------------------------------------------------------

    fn handle(&self, socket: SocketId) -> Option<Socket> {
        Some(Socket {
            shared: self.shared_of(socket)?,
            link: self.link.upgrade()?,
        })
    }

    fn manager_event(&self, event: ManagerEvent) {
        let listeners: Vec<_> = lock(&self.shared.listeners)
            .iter()
            .map(|(_, l)| l.clone())
            .collect();
        for listener in listeners {
            listener(&event);
        }
    }

    fn event(&mut self, event: EngineEvent) {
        match event {
            EngineEvent::Open { .. } => self.manager_event(ManagerEvent::Open),
            EngineEvent::Error(reason) => self.manager_event(ManagerEvent::Error(reason)),
            EngineEvent::Ping => self.manager_event(ManagerEvent::Ping),
            EngineEvent::ReconnectAttempt(n) => {
                for i in 0..self.manager_socket_count() {
                    if let Some(id) = self.nth_socket(i) {
                        self.refresh_auth(id);
                    }
                }
                self.manager_event(ManagerEvent::ReconnectAttempt(n));
            }
            EngineEvent::ReconnectError(reason) => {
                self.manager_event(ManagerEvent::ReconnectError(reason));
            }
            EngineEvent::Reconnect(n) => self.manager_event(ManagerEvent::Reconnect(n)),
            EngineEvent::ReconnectFailed => self.manager_event(ManagerEvent::ReconnectFailed),
            EngineEvent::Close(reason) => self.manager_event(ManagerEvent::Close(reason)),
            EngineEvent::Connect { socket, .. } => {
                self.sync(socket);
                if let Some(handle) = self.handle(socket) {
                    let run = lock(&handle.shared.handlers).connected(handle.clone());
                    self.runs.extend(run);
                }
            }
            EngineEvent::ConnectError { socket, error, .. } => {
                self.sync(socket);
                if let Some(handle) = self.handle(socket) {
                    let run = lock(&handle.shared.handlers).connect_failed(handle.clone(), error);
                    self.runs.extend(run);
                }
            }
            EngineEvent::Disconnect { socket, reason, .. } => {
                self.sync(socket);
                if let Some(handle) = self.handle(socket) {
                    let run = lock(&handle.shared.handlers).disconnected(handle.clone(), reason);
                    self.runs.extend(run);
                }
            }
            EngineEvent::Received {
                socket,
                event,
                ack_id,
                ..
            } => {
                if let Some(handle) = self.handle(socket) {
                    let ack = ack_id.map(|id| AckSender::new(handle.clone(), id));
                    let run = lock(&handle.shared.handlers).incoming(handle.clone(), event, ack);
                    self.runs.extend(run);
                }
            }
            EngineEvent::AckReceived {
                socket, ack, args, ..
            } => {
                if let Some(tx) = self.acks.remove(&(socket, ack)) {
                    let _ = tx.send(Ok(args));
                }
            }
            EngineEvent::AckFailed { socket, ack, error } => {
                if let Some(tx) = self.acks.remove(&(socket, ack)) {
                    let _ = tx.send(Err(match error {
                        AckError::Timeout => Error::Timeout,
                        AckError::Disconnected => Error::Disconnected,
                        _ => Error::Dropped,
                    }));
                }
            }
        }
    }

    fn manager_socket_count(&self) -> usize {
        lock(&self.shared.sockets).len()
    }

    fn nth_socket(&self, i: usize) -> Option<SocketId> {
        let nsp = lock(&self.shared.sockets).keys().nth(i).cloned()?;
        self.manager.socket_of(&nsp)
    }
}
