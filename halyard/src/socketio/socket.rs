//! [`Socket`]: one client's connection to one namespace, with its handlers.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_channel::oneshot;
use halyard_engine::socketio::server::{BroadcastOptions, EmitToOptions};
use halyard_protocol::socketio::{Args, Event};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::conn::{AckReply, Command};
use super::handshake::Handshake;
use super::operator::{BroadcastOperator, NspTarget};
use super::server::ServerInner;
use super::{DisconnectReason, Error};
use crate::adapter::BoxFuture;
use crate::handler::{
    AnyFn, AnyHandler, Chain, EventHandler, HandlerId, HandlerResult, HandlerSocket, Plain, WithAck,
};

/// One client's socket on one namespace (socket.io's server-side `Socket`). Cheap to
/// clone; every clone is the same socket.
///
/// Handlers registered with [`on`](Self::on) run in the task of the socket's
/// connection, one at a time, in the order the events arrived.
///
/// ```no_run
/// # use halyard::socketio::{AckSender, Socket};
/// # fn f(socket: Socket) {
/// socket.on("ping", |socket: Socket, (n,): (u32,)| async move {
///     socket.emit("pong", &n).await
/// });
/// socket.on_with_ack("sum", |_s: Socket, (a, b): (i64, i64), ack: AckSender| async move {
///     ack.send(&(a + b)).await
/// });
/// socket.on_disconnect(|socket: Socket, reason| async move {
///     tracing::info!(id = socket.id(), %reason, "gone");
/// });
/// # }
/// ```
#[derive(Clone)]
pub struct Socket {
    inner: Arc<SocketInner>,
}

pub(crate) struct SocketInner {
    /// The id, the namespace, then the private id if any, in one buffer.
    names: Box<str>,
    id_end: u32,
    nsp_end: u32,
    has_pid: bool,
    pub(crate) recovered: bool,
    pub(crate) connected: AtomicBool,
    pub(crate) handshake: Handshake,
    pub(crate) eio: Arc<str>,
    pub(crate) commands: crate::driver::CommandSender<Command>,
    pub(crate) server: Arc<ServerInner>,
    /// Every handler of the socket (events, catch-alls, disconnect), in one list: a
    /// socket usually has a few, and an idle connection keeps them for its whole life.
    handlers: Mutex<Vec<Listener>>,
    data: Mutex<http::Extensions>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.inner.id())
            .field("nsp", &self.inner.nsp())
            .field("connected", &self.connected())
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) type ErasedHandler = dyn EventHandler<Socket>;
pub(crate) type ErasedAny = dyn AnyHandler<Socket>;

trait OutgoingFn: Fn(&Socket, &Event) + Send + Sync + 'static {}
impl<F: Fn(&Socket, &Event) + Send + Sync + 'static> OutgoingFn for F {}

/// A registered handler, with its id. Handlers of one kind (and one event) keep their
/// registration order in the socket's list.
struct Listener {
    id: HandlerId,
    kind: Kind,
}

/// What a [`Listener`] handles.
enum Kind {
    /// The event `name` (removed after its first run if `once`).
    Event {
        name: Box<str>,
        once: bool,
        handler: Arc<ErasedHandler>,
    },
    /// Every incoming event (`on_any`, `prepend_any`).
    Any(Arc<ErasedAny>),
    /// Every outgoing event (`on_any_outgoing`).
    Outgoing(Arc<dyn OutgoingFn>),
    /// `on_disconnecting`.
    Disconnecting(Arc<dyn ErasedDisconnect>),
    /// `on_disconnect`.
    Disconnect(Arc<dyn ErasedDisconnect>),
}

impl Kind {
    fn is_any(&self) -> bool {
        matches!(self, Kind::Any(_))
    }

    fn is_outgoing(&self) -> bool {
        matches!(self, Kind::Outgoing(_))
    }
}

/// Adds `listener` at `index`, growing the list by one slot at a time while it is short
/// (a socket's handlers are registered once and kept as long as it lives).
fn insert(list: &mut Vec<Listener>, index: usize, listener: Listener) {
    if list.len() == list.capacity() && list.len() < 8 {
        list.reserve_exact(1);
    }
    list.insert(index, listener);
}

pub(crate) trait ErasedDisconnect: Send + Sync + 'static {
    fn call(&self, socket: Socket, reason: DisconnectReason) -> BoxFuture<'static, ()>;
}

struct OnLeave<F>(F);

impl<F, Fut> ErasedDisconnect for OnLeave<F>
where
    F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, socket: Socket, reason: DisconnectReason) -> BoxFuture<'static, ()> {
        Box::pin((self.0)(socket, reason))
    }
}

impl SocketInner {
    /// The socket id.
    pub(crate) fn id(&self) -> &str {
        &self.names[..self.id_end as usize]
    }

    /// The namespace.
    pub(crate) fn nsp(&self) -> &str {
        &self.names[self.id_end as usize..self.nsp_end as usize]
    }

    /// The private id (connection state recovery).
    pub(crate) fn pid(&self) -> Option<&str> {
        self.has_pid.then(|| &self.names[self.nsp_end as usize..])
    }
}

impl Socket {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: &str,
        nsp: &str,
        pid: Option<&str>,
        recovered: bool,
        handshake: Handshake,
        eio: Arc<str>,
        commands: crate::driver::CommandSender<Command>,
        server: Arc<ServerInner>,
    ) -> Self {
        Self {
            inner: Arc::new(SocketInner {
                names: [id, nsp, pid.unwrap_or("")].concat().into_boxed_str(),
                // Socket ids and namespace names are short (ids are generated; a
                // namespace name comes in one packet of at most `maxPayload`).
                id_end: id.len() as u32,
                nsp_end: (id.len() + nsp.len()) as u32,
                has_pid: pid.is_some(),
                recovered,
                handshake,
                eio,
                commands,
                server,
                connected: AtomicBool::new(true),
                handlers: Mutex::new(Vec::new()),
                data: Mutex::new(http::Extensions::new()),
            }),
        }
    }

    pub(crate) fn inner(&self) -> &SocketInner {
        &self.inner
    }

    pub(crate) fn commands(&self) -> &crate::driver::CommandSender<Command> {
        &self.inner.commands
    }

    /// Whether both handles are the same socket on the same connection.
    pub(crate) fn same_connection(&self, eio: &str) -> bool {
        &*self.inner.eio == eio
    }

    /// What runs for an incoming `event`: its catch-all handlers then its own (the
    /// ones registered with [`once`](Self::once) are removed now), or `None`.
    pub(crate) fn handler(&self, event: &str) -> Option<Arc<ErasedHandler>> {
        let mut any: Vec<Arc<ErasedAny>> = Vec::new();
        let mut handlers: Vec<Arc<ErasedHandler>> = Vec::new();
        let mut once = false;
        {
            let mut list = lock(&self.inner.handlers);
            for listener in list.iter() {
                match &listener.kind {
                    Kind::Any(handler) => any.push(handler.clone()),
                    Kind::Event {
                        name,
                        once: o,
                        handler,
                    } if **name == *event => {
                        handlers.push(handler.clone());
                        once |= *o;
                    }
                    _ => {}
                }
            }
            if once {
                list.retain(|l| !matches!(&l.kind, Kind::Event { name, once: true, .. } if **name == *event));
            }
        }
        Chain { any, handlers }.into_handler()
    }

    /// Tells the outgoing catch-all handlers about `event`.
    pub(crate) fn notify_outgoing(&self, event: &Event) {
        let listeners: Vec<Arc<dyn OutgoingFn>> = lock(&self.inner.handlers)
            .iter()
            .filter_map(|l| match &l.kind {
                Kind::Outgoing(handler) => Some(handler.clone()),
                _ => None,
            })
            .collect();
        for listener in listeners {
            listener(self, event);
        }
    }

    /// Adds a handler at the end of the list (`front`: before every other one).
    fn push(&self, kind: Kind, front: bool) -> HandlerId {
        let id = HandlerId::next();
        let mut list = lock(&self.inner.handlers);
        let index = if front { 0 } else { list.len() };
        insert(&mut list, index, Listener { id, kind });
        id
    }

    fn add_handler(&self, event: String, once: bool, handler: Arc<ErasedHandler>) -> HandlerId {
        let name = event.into_boxed_str();
        self.push(
            Kind::Event {
                name,
                once,
                handler,
            },
            false,
        )
    }

    /// Removes the handlers `remove` picks; whether there were any.
    fn remove(&self, remove: impl Fn(&Listener) -> bool) -> bool {
        let mut list = lock(&self.inner.handlers);
        let before = list.len();
        list.retain(|l| !remove(l));
        if list.is_empty() {
            *list = Vec::new();
        }
        list.len() != before
    }

    pub(crate) fn disconnecting_handlers(&self) -> Vec<Arc<dyn ErasedDisconnect>> {
        lock(&self.inner.handlers)
            .iter()
            .filter_map(|l| match &l.kind {
                Kind::Disconnecting(handler) => Some(handler.clone()),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn disconnect_handlers(&self) -> Vec<Arc<dyn ErasedDisconnect>> {
        lock(&self.inner.handlers)
            .iter()
            .filter_map(|l| match &l.kind {
                Kind::Disconnect(handler) => Some(handler.clone()),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn set_disconnected(&self) {
        self.inner.connected.store(false, Ordering::Release);
    }

    /// The socket id (socket.io's `socket.id`; not the Engine.IO session id). A
    /// recovered socket keeps its id.
    pub fn id(&self) -> &str {
        self.inner.id()
    }

    /// The namespace.
    pub fn nsp(&self) -> &str {
        self.inner.nsp()
    }

    /// How the client connected (headers, query, address, auth).
    pub fn handshake(&self) -> &Handshake {
        &self.inner.handshake
    }

    /// Whether the socket resumed a session saved by connection state recovery
    /// (socket.io's `socket.recovered`): same id, same rooms, missed events replayed.
    pub fn recovered(&self) -> bool {
        self.inner.recovered
    }

    /// Whether the socket is still connected.
    pub fn connected(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }

    /// Handles the event `event`: `handler(socket, args)` where `args: T` is read with
    /// the tuple rule (`(A,)` for one argument). Handlers add up, as socket.io's
    /// listeners do: every handler of the event runs, in registration order, one after
    /// the other. Arguments that do not fit `T` are logged with `tracing::warn!` and, if
    /// the client asked for an ack, answered with `{"error": "…"}`. The returned
    /// [`HandlerId`] removes this handler alone with [`off_handler`](Self::off_handler).
    pub fn on<T, F, Fut>(&self, event: impl Into<String>, handler: F) -> HandlerId
    where
        F: Fn(Socket, T) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerResult,
        T: DeserializeOwned + Send + 'static,
    {
        self.add_handler(event.into(), false, Arc::new(Plain::new(handler)))
    }

    /// Like [`on`](Self::on), for the next `event` only (socket.io's `socket.once`):
    /// the handler is removed when that event arrives.
    pub fn once<T, F, Fut>(&self, event: impl Into<String>, handler: F) -> HandlerId
    where
        F: Fn(Socket, T) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerResult,
        T: DeserializeOwned + Send + 'static,
    {
        self.add_handler(event.into(), true, Arc::new(Plain::new(handler)))
    }

    /// Handles the event `event` with an ack responder: `handler(socket, args, ack)`;
    /// answer with [`AckSender::send`] (socket.io's callback as the last argument). With
    /// several handlers of one event, the first registered gets the ack; the others get
    /// an [`AckSender`] that sends nothing.
    pub fn on_with_ack<T, F, Fut>(&self, event: impl Into<String>, handler: F) -> HandlerId
    where
        F: Fn(Socket, T, AckSender) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerResult,
        T: DeserializeOwned + Send + 'static,
    {
        self.add_handler(event.into(), false, Arc::new(WithAck::new(handler)))
    }

    /// Removes every handler of `event` (socket.io's `socket.off(event)` /
    /// `removeAllListeners(event)`). Rooms are untouched: removing handlers never makes
    /// the socket leave a room (as Sails documents for `io.socket.off`).
    pub fn off(&self, event: &str) {
        self.remove(|l| matches!(&l.kind, Kind::Event { name, .. } if **name == *event));
    }

    /// Removes the one handler `id` (socket.io's `socket.off(event, listener)`),
    /// whichever event or catch-all it handles; `false` if it was not registered (or a
    /// [`once`](Self::once) handler already ran). Rooms are untouched.
    pub fn off_handler(&self, id: HandlerId) -> bool {
        // Disconnect handlers have no id to remove them by.
        self.remove(|l| {
            l.id == id
                && matches!(
                    l.kind,
                    Kind::Event { .. } | Kind::Any(_) | Kind::Outgoing(_)
                )
        })
    }

    /// Runs `handler(socket, event)` for every incoming event, before the event's own
    /// handlers, in the connection's task (socket.io's `socket.onAny`). Acks are not
    /// events and do not reach it. Read the arguments with [`Event::args`].
    pub fn on_any<F, Fut>(&self, handler: F) -> HandlerId
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerResult,
    {
        self.push(Kind::Any(Arc::new(AnyFn::new(handler))), false)
    }

    /// Like [`on_any`](Self::on_any), but runs before the catch-all handlers already
    /// registered (socket.io's `socket.prependAny`).
    pub fn prepend_any<F, Fut>(&self, handler: F) -> HandlerId
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerResult,
    {
        // Before every catch-all handler: at the front of the list (the relative order
        // of the other kinds does not change).
        self.push(Kind::Any(Arc::new(AnyFn::new(handler))), true)
    }

    /// Removes the catch-all handler `id` (socket.io's `socket.offAny(listener)`);
    /// `false` if it is not one.
    pub fn off_any(&self, id: HandlerId) -> bool {
        self.remove(|l| l.id == id && l.kind.is_any())
    }

    /// Removes every incoming catch-all handler (socket.io's `socket.offAny()`).
    pub fn off_any_all(&self) {
        self.remove(|l| l.kind.is_any());
    }

    /// Calls `listener(socket, event)` for every event emitted to this client through
    /// this socket ([`emit`](Self::emit), [`emit_with_ack`](Self::emit_with_ack) and
    /// their [`SocketEmitter`] forms), just before it is queued (socket.io's
    /// `socket.onAnyOutgoing`), and for every broadcast this server delivers to it
    /// (`io.emit`, `socket.to(room).emit`…). It runs in the emitting task and must not
    /// block. Ack answers are not events and do not reach it.
    pub fn on_any_outgoing<F>(&self, listener: F) -> HandlerId
    where
        F: Fn(&Socket, &Event) + Send + Sync + 'static,
    {
        self.inner
            .server
            .local
            .outgoing
            .store(true, Ordering::Relaxed);
        self.push(Kind::Outgoing(Arc::new(listener)), false)
    }

    /// Removes the outgoing catch-all handler `id` (socket.io's
    /// `socket.offAnyOutgoing(listener)`); `false` if it is not one.
    pub fn off_any_outgoing(&self, id: HandlerId) -> bool {
        self.remove(|l| l.id == id && l.kind.is_outgoing())
    }

    /// Removes every outgoing catch-all handler (socket.io's `socket.offAnyOutgoing()`).
    pub fn off_any_outgoing_all(&self) {
        self.remove(|l| l.kind.is_outgoing());
    }

    /// Stores `value` with the socket, one value per type (socket.io's `socket.data`,
    /// typed), returning the previous value of that type. It lives as long as the
    /// socket; a recovered socket starts empty.
    pub fn set_data<T: Clone + Send + Sync + 'static>(&self, value: T) -> Option<T> {
        lock(&self.inner.data).insert(value)
    }

    /// A copy of the value of type `T` stored with [`set_data`](Self::set_data).
    pub fn data<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        lock(&self.inner.data).get::<T>().cloned()
    }

    /// Removes and returns the value of type `T`.
    pub fn remove_data<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        lock(&self.inner.data).remove::<T>()
    }

    /// Runs `f` on the socket's whole extension map (to update a value in place). Do
    /// not call the socket's data methods from `f` (the map is locked meanwhile).
    pub fn with_data<R>(&self, f: impl FnOnce(&mut http::Extensions) -> R) -> R {
        f(&mut lock(&self.inner.data))
    }

    /// Runs `handler(socket, reason)` when the socket leaves, while its rooms are still
    /// there (socket.io's `disconnecting`).
    pub fn on_disconnecting<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.push(Kind::Disconnecting(Arc::new(OnLeave(handler))), false);
    }

    /// Runs `handler(socket, reason)` once the socket has left (socket.io's
    /// `disconnect`; `reason.as_str()` is socket.io's reason string).
    pub fn on_disconnect<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.push(Kind::Disconnect(Arc::new(OnLeave(handler))), false);
    }

    fn emitter(&self) -> SocketEmitter {
        SocketEmitter {
            socket: self.clone(),
            timeout: None,
            volatile: false,
        }
    }

    /// An emit with socket.io's `compress` flag. Halyard never compresses frames
    /// (permessage-deflate is not negotiated, and polling bodies go as they are), so the
    /// flag changes nothing; it is accepted for API parity with socket.io.
    pub fn compress(&self, compress: bool) -> SocketEmitter {
        self.emitter().compress(compress)
    }

    /// Emits `event` to this client with `args` (tuple rule). Waits for room in the
    /// connection's queue.
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        self.emitter().emit(event, args)
    }

    /// Emits `event` and waits for the client's ack, read as `R` (tuple rule). Without
    /// [`timeout`](Self::timeout) it waits as long as the socket lives.
    pub fn emit_with_ack<T: Serialize + ?Sized, R: DeserializeOwned + Send + 'static>(
        &self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<R, Error>> + Send + 'static {
        self.emitter().emit_with_ack(event, args)
    }

    /// An emit that waits at most `timeout` for its ack (socket.io's
    /// `socket.timeout(ms)`), failing with [`Error::Timeout`].
    pub fn timeout(&self, timeout: Duration) -> SocketEmitter {
        self.emitter().timeout(timeout)
    }

    /// An emit dropped if the transport is not writable now (socket.io's
    /// `socket.volatile`).
    pub fn volatile(&self) -> SocketEmitter {
        self.emitter().volatile()
    }

    /// Joins `room` (socket.io's `socket.join`; local, effective at once).
    pub fn join(&self, room: impl AsRef<str>) {
        self.join_all([room]);
    }

    /// Joins each of `rooms`.
    pub fn join_all<I: IntoIterator<Item = S>, S: AsRef<str>>(&self, rooms: I) {
        let mut state = self.inner.server.local.state();
        if let Some(namespace) = state.namespaces.get_mut(self.nsp())
            && namespace.rooms().contains_socket(self.id())
        {
            let rooms: Vec<S> = rooms.into_iter().collect();
            namespace
                .rooms_mut()
                .join_all(self.id(), rooms.iter().map(AsRef::as_ref));
        }
    }

    /// Leaves `room`.
    pub fn leave(&self, room: &str) {
        let mut state = self.inner.server.local.state();
        if let Some(namespace) = state.namespaces.get_mut(self.nsp()) {
            namespace.rooms_mut().leave(self.id(), room);
        }
    }

    /// Leaves every room but its own.
    pub fn leave_all(&self) {
        for room in self.rooms() {
            if room != self.id() {
                self.leave(&room);
            }
        }
    }

    /// The rooms of the socket, its own room (its id) included.
    pub fn rooms(&self) -> Vec<String> {
        let state = self.inner.server.local.state();
        state
            .namespaces
            .get(self.nsp())
            .map(|n| n.rooms().rooms_of(self.id()).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    fn operator(&self) -> BroadcastOperator {
        BroadcastOperator::new(
            self.inner.server.clone(),
            NspTarget::Named(self.inner.nsp().to_owned()),
            BroadcastOptions::from_socket(self.id()),
        )
    }

    /// A broadcast to the members of `room`, this socket excluded (socket.io's
    /// `socket.to(room)`).
    pub fn to(&self, room: impl Into<String>) -> BroadcastOperator {
        self.operator().to(room)
    }

    /// Same as [`to`](Self::to).
    pub fn in_(&self, room: impl Into<String>) -> BroadcastOperator {
        self.to(room)
    }

    /// A broadcast to every socket of the namespace but this one and the members of
    /// `room`.
    pub fn except(&self, room: impl Into<String>) -> BroadcastOperator {
        self.operator().except(room)
    }

    /// A broadcast to every socket of the namespace but this one (socket.io's
    /// `socket.broadcast`).
    pub fn broadcast(&self) -> BroadcastOperator {
        self.operator()
    }

    /// Disconnects the socket (socket.io's `socket.disconnect(close)`): the client gets
    /// `io server disconnect`; with `close`, the whole connection closes (every
    /// namespace of it).
    pub async fn disconnect(&self, close: bool) -> Result<(), Error> {
        let command = match close {
            true => Command::Close,
            false => Command::Disconnect {
                nsp: self.inner.nsp().to_owned(),
            },
        };
        self.send_command(command).await
    }

    /// Closes the underlying Engine.IO connection without a DISCONNECT packet
    /// (socket.io's `socket.conn.close()`): the client sees a transport close and
    /// reconnects, and with connection state recovery the session is kept for it.
    pub async fn close_connection(&self) -> Result<(), Error> {
        self.send_command(Command::CloseTransport).await
    }

    async fn send_command(&self, command: Command) -> Result<(), Error> {
        self.inner
            .commands
            .send(command)
            .await
            .map_err(|_| Error::Closed)
    }
}

/// A per-socket emit with options (socket.io's `socket.timeout(ms)`,
/// `socket.volatile`).
#[derive(Debug, Clone)]
#[must_use = "an emitter does nothing until emit is called"]
pub struct SocketEmitter {
    socket: Socket,
    timeout: Option<Duration>,
    volatile: bool,
}

impl SocketEmitter {
    /// Waits at most `timeout` for the ack.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Drops the packet if the transport is not writable now.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// socket.io's `compress(flag)`: accepted and ignored, as Halyard does not compress
    /// frames (permessage-deflate is not negotiated).
    pub fn compress(self, _compress: bool) -> Self {
        self
    }

    fn options(&self, ack: bool) -> EmitToOptions {
        EmitToOptions {
            ack,
            timeout: self.timeout,
            volatile: self.volatile,
        }
    }

    fn command(&self, event: Event, ack: bool, reply: Option<AckReply>) -> Command {
        Command::Emit {
            nsp: self.socket.inner.nsp().to_owned(),
            sid: self.socket.inner.id().to_owned(),
            event,
            opts: self.options(ack),
            reply,
        }
    }

    /// Emits `event` with `args` (tuple rule).
    pub fn emit<T: Serialize + ?Sized>(
        self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let event = Event::new(event, args);
        async move {
            if !self.socket.connected() {
                return Err(Error::Closed);
            }
            let event = event?;
            self.socket.notify_outgoing(&event);
            let command = self.command(event, false, None);
            self.socket.send_command(command).await
        }
    }

    /// Emits `event` and waits for the ack, read as `R` (tuple rule: `(A,)` for one
    /// argument).
    pub fn emit_with_ack<T: Serialize + ?Sized, R: DeserializeOwned + Send + 'static>(
        self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<R, Error>> + Send + 'static {
        let event = Event::new(event, args);
        async move {
            if !self.socket.connected() {
                return Err(Error::Closed);
            }
            let event = event?;
            self.socket.notify_outgoing(&event);
            let (tx, rx) = oneshot::channel();
            let command = self.command(event, true, Some(tx));
            self.socket.send_command(command).await?;
            let args = rx.await.map_err(|_| Error::Closed)??;
            args.deserialize::<R>()
                .map_err(|error| Error::Args(error.to_string()))
        }
    }
}

/// Answers one event's ack (socket.io's callback). Dropping it without sending leaves
/// the client waiting (until its own timeout).
#[derive(Debug)]
#[must_use = "the client waits for this ack"]
pub struct AckSender {
    socket: Socket,
    ack_id: Option<u64>,
}

impl HandlerSocket for Socket {
    type Ack = AckSender;

    fn nsp(&self) -> &str {
        self.inner.nsp()
    }

    fn log_id(&self) -> Option<String> {
        Some(self.inner.id().to_owned())
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

    fn none(socket: Socket) -> Self {
        Self {
            socket,
            ack_id: None,
        }
    }

    /// Whether the client asked for an ack.
    pub fn is_requested(&self) -> bool {
        self.ack_id.is_some()
    }

    /// Answers with `args` (tuple rule). Does nothing if the client did not ask.
    pub fn send<T: Serialize + ?Sized>(
        self,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let args = Args::new(args);
        async move {
            let Some(ack_id) = self.ack_id else {
                return Ok(());
            };
            self.socket
                .send_command(Command::Ack {
                    nsp: self.socket.inner.nsp().to_owned(),
                    ack_id,
                    args: args?,
                })
                .await
        }
    }
}
