//! [`Namespace`]: connect middlewares, connection handlers and namespace-wide
//! operations.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use halyard_engine::socketio::server::{BroadcastOptions, ConnectError};
use halyard_protocol::socketio::RawJson;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::handshake::Handshake;
use super::operator::{BroadcastOperator, NspTarget};
use super::server::ServerInner;
use super::{Error, Socket};
use crate::adapter::BoxFuture;

pub(crate) trait Middleware: Send + Sync + 'static {
    fn call(
        &self,
        handshake: Handshake,
        auth: RawJson,
    ) -> BoxFuture<'static, Result<(), ConnectError>>;
}

pub(crate) trait ConnectionHandler: Send + Sync + 'static {
    fn call(&self, socket: Socket) -> BoxFuture<'static, ()>;
}

struct MiddlewareFn<F>(F);
struct ConnectionFn<F>(F);

impl<F, Fut> Middleware for MiddlewareFn<F>
where
    F: Fn(Handshake, RawJson) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
{
    fn call(
        &self,
        handshake: Handshake,
        auth: RawJson,
    ) -> BoxFuture<'static, Result<(), ConnectError>> {
        Box::pin((self.0)(handshake, auth))
    }
}

impl<F, Fut> ConnectionHandler for ConnectionFn<F>
where
    F: Fn(Socket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, socket: Socket) -> BoxFuture<'static, ()> {
        Box::pin((self.0)(socket))
    }
}

/// The hooks of a namespace (or of a dynamic matcher, shared by its children).
#[derive(Default)]
pub(crate) struct NspHandlers {
    middlewares: Mutex<Vec<Arc<dyn Middleware>>>,
    connection: Mutex<Vec<Arc<dyn ConnectionHandler>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl NspHandlers {
    pub(crate) fn middlewares(&self) -> Vec<Arc<dyn Middleware>> {
        lock(&self.middlewares).clone()
    }

    pub(crate) fn connection(&self) -> Vec<Arc<dyn ConnectionHandler>> {
        lock(&self.connection).clone()
    }
}

/// A namespace of the server (socket.io's `io.of(name)`), or the parent of dynamic
/// namespaces (`io.of(predicate)`), whose hooks apply to each child it creates. Cheap
/// to clone.
///
/// ```no_run
/// use halyard::socketio::{ConnectError, Handshake, RawJson, Server, Socket};
///
/// let io = Server::new();
/// let admin = io.of("/admin");
/// admin.use_(|_handshake: Handshake, auth: RawJson| async move {
///     match auth.as_str().contains("\"token\":\"secret\"") {
///         true => Ok(()),
///         false => Err(ConnectError::new("unauthorized")),
///     }
/// });
/// admin.on_connection(|socket: Socket| async move {
///     let _ = socket.emit("welcome", "admin").await;
/// });
/// ```
#[derive(Clone)]
pub struct Namespace {
    server: Arc<ServerInner>,
    target: NspTarget,
    handlers: Arc<NspHandlers>,
}

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespace")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Namespace {
    pub(crate) fn new(
        server: Arc<ServerInner>,
        target: NspTarget,
        handlers: Arc<NspHandlers>,
    ) -> Self {
        Self {
            server,
            target,
            handlers,
        }
    }

    /// The name (`None` for the parent of dynamic namespaces).
    pub fn name(&self) -> Option<&str> {
        match &self.target {
            NspTarget::Named(name) => Some(name),
            NspTarget::Dynamic(_) => None,
        }
    }

    /// Adds a connect middleware (socket.io's `nsp.use`): each CONNECT to the namespace
    /// runs them in order, with the handshake and the CONNECT's auth payload; the first
    /// `Err` refuses the socket with a CONNECT_ERROR carrying its message and data (the
    /// client's `connect_error`). With connection state recovery, a resumed session
    /// skips them (`skip_middlewares`, on by default).
    pub fn use_<F, Fut>(&self, middleware: F) -> &Self
    where
        F: Fn(Handshake, RawJson) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        lock(&self.handlers.middlewares).push(Arc::new(MiddlewareFn(middleware)));
        self
    }

    /// Runs `handler(socket)` for every socket accepted on the namespace (socket.io's
    /// `nsp.on("connection")`). Register the socket's event handlers here: events the
    /// client sends meanwhile wait until the handler returns.
    pub fn on_connection<F, Fut>(&self, handler: F) -> &Self
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        lock(&self.handlers.connection).push(Arc::new(ConnectionFn(handler)));
        self
    }

    fn operator(&self) -> BroadcastOperator {
        BroadcastOperator::new(
            self.server.clone(),
            self.target.clone(),
            BroadcastOptions::all(),
        )
    }

    /// The members of `room`.
    pub fn to(&self, room: impl Into<String>) -> BroadcastOperator {
        self.operator().to(room)
    }

    /// Same as [`to`](Self::to).
    pub fn in_(&self, room: impl Into<String>) -> BroadcastOperator {
        self.to(room)
    }

    /// Every socket but the members of `room`.
    pub fn except(&self, room: impl Into<String>) -> BroadcastOperator {
        self.operator().except(room)
    }

    /// Every socket, volatile.
    pub fn volatile(&self) -> BroadcastOperator {
        self.operator().volatile()
    }

    /// Every socket of this server.
    pub fn local(&self) -> BroadcastOperator {
        self.operator().local()
    }

    /// Every socket, with an ack timeout.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.operator().timeout(timeout)
    }

    /// Emits to every socket of the namespace.
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        self.operator().emit(event, args)
    }

    /// Sends an event to the other servers of the cluster, not to clients (socket.io's
    /// `serverSideEmit`). Without a cluster adapter it does nothing and resolves `Ok`:
    /// there is no other server. Reserved event names are refused, as for `emit`.
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let io = halyard::socketio::Server::builder().build();
    /// io.of("/").server_side_emit("cache:invalidate", &("users", 42)).await.unwrap();
    /// io.server_side_emit("cache:invalidate", &()).await.unwrap();
    /// assert!(io.server_side_emit("disconnect", &()).await.is_err());
    /// # });
    /// ```
    pub fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        self.operator().server_side_emit(event, args)
    }

    /// Emits to every socket and collects their acks (see
    /// [`BroadcastOperator::emit_with_ack`]).
    pub fn emit_with_ack<T: Serialize + ?Sized, R: DeserializeOwned + Send + 'static>(
        &self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<Vec<R>, Error>> + Send + 'static {
        self.operator().emit_with_ack(event, args)
    }

    /// Every socket of the namespace.
    pub async fn fetch_sockets(&self) -> Result<Vec<Socket>, Error> {
        self.operator().fetch_sockets().await
    }

    /// Every socket joins `rooms`.
    pub async fn sockets_join<I, S>(&self, rooms: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.operator().sockets_join(rooms).await
    }

    /// Every socket leaves `rooms`.
    pub async fn sockets_leave<I, S>(&self, rooms: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.operator().sockets_leave(rooms).await
    }

    /// Makes the socket `sid` join `rooms`, without holding its [`Socket`] (Sails'
    /// `join(socketId, room)`): `nsp.in_(sid).sockets_join(rooms)`, as a socket's id is
    /// its own room. Resolves once the local part is done (the Rust form of Sails'
    /// callback); an unknown id does nothing.
    pub async fn socket_join<I, S>(&self, sid: &str, rooms: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.in_(sid).sockets_join(rooms).await
    }

    /// Makes the socket `sid` leave `rooms`, without holding its [`Socket`] (Sails'
    /// `leave(socketId, room, cb)`): `nsp.in_(sid).sockets_leave(rooms)`. Resolves once
    /// the local part is done; an unknown id does nothing.
    pub async fn socket_leave<I, S>(&self, sid: &str, rooms: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.in_(sid).sockets_leave(rooms).await
    }

    /// The socket `sid` of this namespace, if it is connected to this server.
    pub async fn socket(&self, sid: &str) -> Result<Option<Socket>, Error> {
        let sockets = self.in_(sid).local().fetch_sockets().await?;
        Ok(sockets.into_iter().find(|s| s.id() == sid))
    }

    /// Every socket of the namespace leaves every room but its own.
    pub async fn sockets_leave_all(&self) -> Result<(), Error> {
        self.operator().sockets_leave_all().await
    }

    /// socket.io's `compress(flag)`: accepted and ignored (Halyard does not compress
    /// frames; permessage-deflate is not negotiated).
    pub fn compress(&self, compress: bool) -> BroadcastOperator {
        self.operator().compress(compress)
    }

    /// Disconnects every socket of the namespace.
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), Error> {
        self.operator().disconnect_sockets(close).await
    }
}
