//! [`Socket`]: the client's socket on one namespace (socket.io-client's `Socket`).

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_channel::oneshot;
use halyard_engine::socketio::client::EmitOptions;
use halyard_protocol::socketio::{Args, Event};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::handlers::{Handlers, Lifecycle};
use super::manager::{Command, Link, Manager, Reply};
use super::options::Auth;
use super::{ConnectError, DisconnectReason, Error};
use crate::adapter::BoxFuture;
use crate::handler::{AnyFn, HandlerId, HandlerResult, HandlerSocket, Plain, WithAck};

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the application can read of a socket at any time.
#[derive(Debug, Clone, Default)]
pub(crate) struct SocketState {
    pub(crate) active: bool,
    pub(crate) connected: bool,
    pub(crate) id: Option<String>,
    pub(crate) recovered: bool,
}

/// The part of a socket shared by its handles and the manager's task.
pub(crate) struct SocketShared {
    pub(crate) nsp: String,
    pub(crate) auth: Auth,
    pub(crate) state: Mutex<SocketState>,
    pub(crate) handlers: Mutex<Handlers>,
}

/// A client socket on one namespace (socket.io-client's `Socket`). Cheap to clone;
/// every clone is the same socket. Create one with a runtime crate's `io(url)…connect()`
/// or with [`Manager::socket`].
///
/// Handlers ([`on`](Self::on) and the others) run in the manager's task, one at a
/// time, in the order the events arrived; they may emit and await acks. A handler is
/// given the socket: use that one rather than capturing a clone, since a socket captured
/// by its own handler keeps the connection's task alive until [`Manager::close`] (as a
/// socket in JavaScript lives until it is closed).
///
/// ```no_run
/// # async fn f(socket: halyard::client::Socket) -> Result<(), halyard::client::Error> {
/// use halyard::client::Socket;
/// socket.on("chat", |_socket: Socket, (user, text): (String, String)| async move {
///     tracing::info!(%user, %text, "chat");
/// });
/// socket.on_connect(|socket: Socket, ()| async move {
///     tracing::info!(id = ?socket.id(), "connected");
/// });
/// socket.emit("chat", &("ana", "hello")).await?;
/// let sum: (i64,) = socket.timeout(std::time::Duration::from_secs(5))
///     .emit_with_ack("sum", &(1, 2))
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Socket {
    pub(crate) shared: Arc<SocketShared>,
    pub(crate) link: Arc<Link>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock(&self.shared.state);
        f.debug_struct("Socket")
            .field("nsp", &self.shared.nsp)
            .field("id", &state.id)
            .field("connected", &state.connected)
            .finish_non_exhaustive()
    }
}

impl Socket {
    /// The namespace.
    pub fn nsp(&self) -> &str {
        &self.shared.nsp
    }

    /// The Socket.IO id the server gave, while connected (`socket.id`).
    pub fn id(&self) -> Option<String> {
        lock(&self.shared.state).id.clone()
    }

    /// Whether the socket is connected to its namespace (`socket.connected`).
    pub fn connected(&self) -> bool {
        lock(&self.shared.state).connected
    }

    /// Whether the socket is not connected (`socket.disconnected`).
    pub fn disconnected(&self) -> bool {
        !self.connected()
    }

    /// Whether the socket takes part in (re)connections (`socket.active`): from
    /// [`connect`](Self::connect) until [`disconnect`](Self::disconnect), a server
    /// disconnect or a refusal. A lost connection leaves it active: it reconnects.
    pub fn active(&self) -> bool {
        lock(&self.shared.state).active
    }

    /// Whether the last connection restored the previous session (connection state
    /// recovery; `socket.recovered`): same id, and the missed events were delivered.
    pub fn recovered(&self) -> bool {
        lock(&self.shared.state).recovered
    }

    /// The manager this socket is multiplexed on (`socket.io`).
    pub fn manager(&self) -> Manager {
        Manager {
            link: self.link.clone(),
        }
    }

    /// Connects the socket (`socket.connect()` / `socket.open()`); the manager opens if
    /// needed. Without `auto_connect(false)` a new socket connects by itself.
    pub fn connect(&self) {
        self.link.control(Command::Connect {
            nsp: self.shared.nsp.clone(),
        });
    }

    /// The same as [`connect`](Self::connect) (`socket.open()`).
    pub fn open(&self) {
        self.connect();
    }

    /// Disconnects the socket (`socket.disconnect()` / `socket.close()`): `disconnect`
    /// with `io client disconnect`, no reconnection. The manager closes when no socket
    /// is active any more.
    pub fn disconnect(&self) {
        self.link.control(Command::Disconnect {
            nsp: self.shared.nsp.clone(),
        });
    }

    /// The same as [`disconnect`](Self::disconnect) (`socket.close()`).
    pub fn close(&self) {
        self.disconnect();
    }

    // ----- listeners -----------------------------------------------------------------------

    fn handlers(&self) -> MutexGuard<'_, Handlers> {
        lock(&self.shared.handlers)
    }

    /// Handles the server's `event`: `handler(socket, args)`, `args: T` read with the
    /// tuple rule (`(A,)` for one argument, `()` for none). Handlers add up and run in
    /// registration order. Arguments that do not fit `T` are logged and, when the server
    /// waits for an ack, answered with `{"error": "…"}`.
    pub fn on<T, F, Fut>(&self, event: impl Into<String>, handler: F) -> HandlerId
    where
        F: Fn(Socket, T) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerResult,
        T: DeserializeOwned + Send + 'static,
    {
        self.handlers()
            .on_event(event.into(), false, Arc::new(Plain::new(handler)))
    }

    /// Like [`on`](Self::on), for the next `event` only (`socket.once`).
    pub fn once<T, F, Fut>(&self, event: impl Into<String>, handler: F) -> HandlerId
    where
        F: Fn(Socket, T) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerResult,
        T: DeserializeOwned + Send + 'static,
    {
        self.handlers()
            .on_event(event.into(), true, Arc::new(Plain::new(handler)))
    }

    /// Handles `event` with an ack responder, answering a server's `emitWithAck` (or an
    /// emit with a callback): `handler(socket, args, ack)`, then [`AckSender::send`]. With
    /// several handlers of one event, the first registered gets the ack.
    pub fn on_with_ack<T, F, Fut>(&self, event: impl Into<String>, handler: F) -> HandlerId
    where
        F: Fn(Socket, T, AckSender) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerResult,
        T: DeserializeOwned + Send + 'static,
    {
        self.handlers()
            .on_event(event.into(), false, Arc::new(WithAck::new(handler)))
    }

    /// Runs `handler(socket, ())` on every `connect` (the first and each reconnection).
    pub fn on_connect<F, Fut>(&self, handler: F) -> HandlerId
    where
        F: Fn(Socket, ()) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerResult,
    {
        self.handlers()
            .on_connect(false, Arc::new(Lifecycle(handler)))
    }

    /// Runs `handler(socket, error)` on every `connect_error`: a refusal by the server's
    /// middleware (with its message and data; the socket is then inactive) or a failed
    /// connection attempt (the manager retries: [`active`](Self::active) stays true).
    pub fn on_connect_error<F, Fut>(&self, handler: F) -> HandlerId
    where
        F: Fn(Socket, ConnectError) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerResult,
    {
        self.handlers()
            .on_connect_error(false, Arc::new(Lifecycle(handler)))
    }

    /// Runs `handler(socket, reason)` on every `disconnect`, with socket.io's reasons
    /// (`io server disconnect`, `io client disconnect`, `transport close`, `ping
    /// timeout`, …).
    pub fn on_disconnect<F, Fut>(&self, handler: F) -> HandlerId
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerResult,
    {
        self.handlers()
            .on_disconnect(false, Arc::new(Lifecycle(handler)))
    }

    /// Removes every listener of `event` (`socket.off(event)`); `"connect"`,
    /// `"connect_error"` and `"disconnect"` name the lifecycle listeners.
    pub fn off(&self, event: &str) {
        self.handlers().off_event(event);
    }

    /// Removes the one listener `id`, whatever it listens to
    /// (`socket.off(event, listener)`); `false` if it is not registered (any more).
    pub fn off_handler(&self, id: HandlerId) -> bool {
        self.handlers().off(id)
    }

    /// Removes every listener of every event, the catch-all ones included
    /// (`socket.off()`).
    pub fn off_all(&self) {
        *self.handlers() = Handlers::default();
    }

    /// The listeners of `event`, in the order they run (`socket.listeners(event)`).
    pub fn listeners(&self, event: &str) -> Vec<HandlerId> {
        self.handlers().listeners(event)
    }

    /// Runs `handler(socket, event)` for every incoming event, before the event's own
    /// handlers (`socket.onAny`). Read the arguments with [`Event::args`].
    pub fn on_any<F, Fut>(&self, handler: F) -> HandlerId
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerResult,
    {
        self.handlers().on_any(Arc::new(AnyFn::new(handler)), false)
    }

    /// Like [`on_any`](Self::on_any), before the catch-all handlers already registered
    /// (`socket.prependAny`).
    pub fn prepend_any<F, Fut>(&self, handler: F) -> HandlerId
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerResult,
    {
        self.handlers().on_any(Arc::new(AnyFn::new(handler)), true)
    }

    /// Removes the catch-all handler `id`, or all of them with `None` (`socket.offAny`).
    pub fn off_any(&self, id: Option<HandlerId>) -> bool {
        self.handlers().off_any(id)
    }

    /// The catch-all handlers, in order (`socket.listenersAny()`).
    pub fn listeners_any(&self) -> Vec<HandlerId> {
        self.handlers().listeners_any()
    }

    /// Calls `listener(socket, event)` for every event this socket emits, just before it
    /// is sent or buffered (`socket.onAnyOutgoing`). It runs in the emitting task and
    /// must not block.
    pub fn on_any_outgoing<F>(&self, listener: F) -> HandlerId
    where
        F: Fn(&Socket, &Event) + Send + Sync + 'static,
    {
        self.handlers().on_any_outgoing(Arc::new(listener), false)
    }

    /// Like [`on_any_outgoing`](Self::on_any_outgoing), before the ones already
    /// registered (`socket.prependAnyOutgoing`).
    pub fn prepend_any_outgoing<F>(&self, listener: F) -> HandlerId
    where
        F: Fn(&Socket, &Event) + Send + Sync + 'static,
    {
        self.handlers().on_any_outgoing(Arc::new(listener), true)
    }

    /// Removes the outgoing catch-all listener `id`, or all of them with `None`
    /// (`socket.offAnyOutgoing`).
    pub fn off_any_outgoing(&self, id: Option<HandlerId>) -> bool {
        self.handlers().off_any_outgoing(id)
    }

    /// The outgoing catch-all listeners, in order (`socket.listenersAnyOutgoing()`).
    pub fn listeners_any_outgoing(&self) -> Vec<HandlerId> {
        self.handlers().listeners_any_outgoing()
    }

    // ----- emitting ------------------------------------------------------------------------

    fn emitter(&self) -> SocketEmitter {
        SocketEmitter {
            socket: self.clone(),
            options: EmitOptions::default(),
        }
    }

    /// Emits `event` with `args` (tuple rule: a tuple for several arguments, `()` for
    /// none; [`Binary`](crate::socketio::Args) values travel as binary attachments).
    /// While the socket is not connected the event waits in the send buffer and goes out,
    /// in order, right after the next connection. Resolves once the manager has taken it;
    /// fails with [`Error::BufferFull`] when the buffer is full.
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static + use<T> {
        self.emitter().emit(event, args)
    }

    /// Emits `event` and waits for the server's acknowledgement, read as `R` (tuple
    /// rule: `(A,)` for one argument). Without a [`timeout`](Self::timeout) (or the
    /// client's `ack_timeout`) it waits until the acknowledgement comes or the socket
    /// disconnects ([`Error::Disconnected`]).
    pub fn emit_with_ack<T: Serialize + ?Sized, R: DeserializeOwned + Send + 'static>(
        &self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<R, Error>> + Send + 'static + use<T, R> {
        self.emitter().emit_with_ack(event, args)
    }

    /// `emit("message", args)` (`socket.send`).
    pub fn send<T: Serialize + ?Sized>(
        &self,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static + use<T> {
        self.emit("message", args)
    }

    /// An emitter whose acknowledgements fail with [`Error::Timeout`] after `timeout`
    /// (`socket.timeout(ms)`).
    pub fn timeout(&self, timeout: Duration) -> SocketEmitter {
        self.emitter().timeout(timeout)
    }

    /// An emitter whose events are dropped, not buffered, when the socket is not
    /// connected (`socket.volatile`).
    pub fn volatile(&self) -> SocketEmitter {
        self.emitter().volatile()
    }

    /// `socket.compress(flag)`: accepted and ignored (permessage-deflate is not
    /// negotiated).
    pub fn compress(&self, compress: bool) -> SocketEmitter {
        self.emitter().compress(compress)
    }

    pub(crate) fn notify_outgoing(&self, event: &Event) {
        let listeners = self.handlers().outgoing();
        for listener in listeners {
            listener(self, event);
        }
    }
}

/// An emit with options (`socket.timeout(ms)`, `socket.volatile`).
#[derive(Debug, Clone)]
#[must_use = "an emitter does nothing until emit is called"]
pub struct SocketEmitter {
    socket: Socket,
    options: EmitOptions,
}

impl SocketEmitter {
    /// Fails the acknowledgement with [`Error::Timeout`] after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Drops the event instead of buffering it while the socket is not connected.
    pub fn volatile(mut self) -> Self {
        self.options.volatile = true;
        self
    }

    /// Accepted and ignored (see [`Socket::compress`]).
    pub fn compress(self, _compress: bool) -> Self {
        self
    }

    /// Emits `event` with `args` (see [`Socket::emit`]).
    pub fn emit<T: Serialize + ?Sized>(
        self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static + use<T> {
        let event = Event::new(event, args);
        async move {
            let event = event?;
            self.socket.notify_outgoing(&event);
            let (tx, rx) = oneshot::channel();
            let command = Command::Emit {
                nsp: self.socket.shared.nsp.clone(),
                event,
                options: self.options,
                reply: Reply::Sent(tx),
            };
            self.socket.link.send(command).await?;
            rx.await.map_err(|_| Error::Closed)?
        }
    }

    /// Emits `event` and waits for the acknowledgement (see [`Socket::emit_with_ack`]).
    pub fn emit_with_ack<T: Serialize + ?Sized, R: DeserializeOwned + Send + 'static>(
        mut self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<R, Error>> + Send + 'static + use<T, R> {
        let event = Event::new(event, args);
        self.options.ack = true;
        async move {
            let event = event?;
            self.socket.notify_outgoing(&event);
            let (tx, rx) = oneshot::channel();
            let command = Command::Emit {
                nsp: self.socket.shared.nsp.clone(),
                event,
                options: self.options,
                reply: Reply::Acked(tx),
            };
            self.socket.link.send(command).await?;
            let args = rx.await.map_err(|_| Error::Closed)??;
            args.deserialize::<R>()
                .map_err(|error| Error::Args(error.to_string()))
        }
    }
}

/// Answers one server event's acknowledgement request (the callback of the server's
/// `emit`, or its `emitWithAck`). Dropping it without sending leaves the server waiting
/// (until its own timeout).
#[derive(Debug)]
#[must_use = "the server waits for this ack"]
pub struct AckSender {
    socket: Socket,
    ack_id: Option<u64>,
}

impl HandlerSocket for Socket {
    type Ack = AckSender;

    fn nsp(&self) -> &str {
        &self.shared.nsp
    }

    fn log_id(&self) -> Option<String> {
        self.id()
    }

    fn no_ack(&self) -> AckSender {
        AckSender::none(self.clone())
    }

    fn ack_error(ack: AckSender, message: String) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let _ = ack.send(&serde_json::json!({ "error": message })).await;
        })
    }
}

impl AckSender {
    pub(crate) fn new(socket: Socket, ack_id: u64) -> Self {
        Self {
            socket,
            ack_id: Some(ack_id),
        }
    }

    pub(crate) fn none(socket: Socket) -> Self {
        Self {
            socket,
            ack_id: None,
        }
    }

    /// Whether the server asked for an acknowledgement.
    pub fn is_requested(&self) -> bool {
        self.ack_id.is_some()
    }

    /// Answers with `args` (tuple rule). Does nothing if the server did not ask. An
    /// answer while the connection is down is dropped (the server has forgotten the
    /// request).
    pub fn send<T: Serialize + ?Sized>(
        self,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static + use<T> {
        let args = Args::new(args);
        async move {
            let Some(ack_id) = self.ack_id else {
                return Ok(());
            };
            let command = Command::Ack {
                nsp: self.socket.shared.nsp.clone(),
                ack_id,
                args: args?,
            };
            self.socket.link.send(command).await
        }
    }
}
