//! [`Server`] and its builder.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use bytes::Bytes;
use halyard_engine::engineio::server::{Endpoint, ServerSession};
use halyard_engine::engineio::{OverflowPolicy, ServerConfig, TransportKind};
use halyard_engine::socketio::server::{Config, Connection, NamespaceMatcher, RecoveryConfig};
use halyard_protocol::socketio::RawJson;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::conn::{Command, SioApp};
use super::handshake::ConnInfo;
use super::namespace::{Namespace, NspHandlers};
use super::operator::{BroadcastOperator, NspTarget};
use super::{Error, Socket};
use crate::adapter::{Adapter, InMemoryAdapter, Timer};
use crate::cors::{AllowFn, CorsOptions, Guards, Refused};
use crate::driver::Registry;
use crate::http::{Host, HttpServer, OpenRequest, Opened, ResponseFuture};
use crate::runtime::Runtime;

/// A Socket.IO server (socket.io's `Server`, `io`): namespaces, their handlers, and the
/// server-wide operations. Cheap to clone (all clones are the same server). Serve it
/// with a runtime crate (`halyard_tokio::serve(listener, io)`,
/// `halyard_smol::serve(listener, io)`) or [`serve_connection`](crate::serve_connection).
///
/// ```no_run
/// use std::time::Duration;
/// use halyard::socketio::{Server, Socket};
///
/// let io = Server::builder()
///     .ping_interval(Duration::from_secs(25))
///     .connection_state_recovery(Duration::from_secs(120))
///     .build();
/// io.on_connection(|socket: Socket| async move {
///     socket.on("echo", |socket: Socket, (text,): (String,)| async move {
///         socket.emit("echo", &text).await
///     });
/// });
/// ```
#[derive(Clone)]
pub struct Server {
    pub(crate) inner: Arc<ServerInner>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("path", &self.inner.path)
            .field("engine", &self.inner.engine)
            .finish_non_exhaustive()
    }
}

pub(crate) struct ServerInner {
    pub(crate) path: String,
    pub(crate) engine: ServerConfig,
    pub(crate) config: Config,
    pub(crate) ws_config: WebSocketConfig,
    pub(crate) command_buffer: usize,
    pub(crate) event_buffer: usize,
    seed: u64,
    endpoint: Mutex<Endpoint>,
    /// Engine.IO sid → the routes to its task (HTTP requests, commands).
    /// Keyed by an `Arc`: the sockets of the connection share that copy of the sid.
    sessions: Mutex<HashMap<Arc<str>, Route>>,
    pub(crate) local: Arc<InMemoryAdapter>,
    pub(crate) adapter: Arc<dyn Adapter>,
    statics: Mutex<HashMap<String, Arc<NspHandlers>>>,
    dynamics: Mutex<Vec<Arc<NspHandlers>>>,
    closed: AtomicBool,
    client_bundle: Option<PathBuf>,
    bundle: OnceLock<Option<Bytes>>,
    /// CORS and `allow_request`.
    guards: Guards,
}

#[derive(Clone)]
struct Route {
    http: crate::driver::HttpSender<Command>,
    commands: crate::driver::CommandSender<Command>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Default for Server {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl Server {
    /// A server with socket.io 4.8's defaults, at `/socket.io/`.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder, to change the path, heartbeat, limits, transports and recovery.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The path served (with a trailing `/`).
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// The namespace `name` (`/` is the main one), created on first use.
    pub fn of(&self, name: &str) -> Namespace {
        let name = match name.starts_with('/') {
            true => name.to_owned(),
            false => format!("/{name}"),
        };
        self.inner.local.state().namespaces.add(&name);
        let handlers = self.inner.handlers(&name);
        Namespace::new(self.inner.clone(), NspTarget::Named(name), handlers)
    }

    /// Dynamic namespaces (socket.io's `io.of(regex)` / `io.of(fn)`): a CONNECT to an
    /// unknown namespace whose name (and auth) `predicate` accepts creates it. The
    /// returned parent's middlewares and connection handlers apply to every child; its
    /// operations reach every child.
    pub fn of_dynamic(
        &self,
        predicate: impl Fn(&str, &RawJson) -> bool + Send + Sync + 'static,
    ) -> Namespace {
        let handlers = Arc::new(NspHandlers::default());
        let index = {
            let mut state = self.inner.local.state();
            let mut dynamics = lock(&self.inner.dynamics);
            let index = state
                .namespaces
                .add_dynamic(NamespaceMatcher::predicate(predicate));
            debug_assert_eq!(index, dynamics.len());
            dynamics.push(handlers.clone());
            index
        };
        Namespace::new(self.inner.clone(), NspTarget::Dynamic(index), handlers)
    }

    /// The main namespace's connection handler (`io.on("connection")`).
    pub fn on_connection<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.of("/").on_connection(handler);
    }

    /// The main namespace's connect middleware (`io.use`).
    pub fn use_<F, Fut>(&self, middleware: F)
    where
        F: Fn(super::Handshake, RawJson) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), super::ConnectError>> + Send + 'static,
    {
        self.of("/").use_(middleware);
    }

    fn main(&self) -> BroadcastOperator {
        BroadcastOperator::new(
            self.inner.clone(),
            NspTarget::Named("/".to_owned()),
            Default::default(),
        )
    }

    /// Emits to every socket of the main namespace (`io.emit`).
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        self.main().emit(event, args)
    }

    /// Sends an event to the other servers of the cluster from the main namespace, not to
    /// clients (socket.io's `io.serverSideEmit`); a no-op without a cluster adapter. See
    /// [`Namespace::server_side_emit`](super::Namespace::server_side_emit).
    pub fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        self.main().server_side_emit(event, args)
    }

    /// Emits to every socket of the main namespace and collects the acks.
    pub fn emit_with_ack<T: Serialize + ?Sized, R: DeserializeOwned + Send + 'static>(
        &self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<Vec<R>, Error>> + Send + 'static {
        self.main().emit_with_ack(event, args)
    }

    /// The members of `room` in the main namespace (`io.to`).
    pub fn to(&self, room: impl Into<String>) -> BroadcastOperator {
        self.main().to(room)
    }

    /// Same as [`to`](Self::to).
    pub fn in_(&self, room: impl Into<String>) -> BroadcastOperator {
        self.main().to(room)
    }

    /// Every socket of the main namespace but the members of `room`.
    pub fn except(&self, room: impl Into<String>) -> BroadcastOperator {
        self.main().except(room)
    }

    /// Volatile emits to the main namespace.
    pub fn volatile(&self) -> BroadcastOperator {
        self.main().volatile()
    }

    /// Only this server's sockets of the main namespace.
    pub fn local(&self) -> BroadcastOperator {
        self.main().local()
    }

    /// A broadcast with acks on the main namespace, waiting at most `timeout`.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.main().timeout(timeout)
    }

    /// socket.io's `io.compress(flag)`: accepted and ignored (Halyard does not compress
    /// frames; permessage-deflate is not negotiated).
    pub fn compress(&self, compress: bool) -> BroadcastOperator {
        self.main().compress(compress)
    }

    /// Every socket of the main namespace (`io.fetchSockets()`).
    pub async fn fetch_sockets(&self) -> Result<Vec<Socket>, Error> {
        self.main().fetch_sockets().await
    }

    /// Every socket of the main namespace joins `rooms` (`io.socketsJoin`).
    pub async fn sockets_join<I, S>(&self, rooms: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.main().sockets_join(rooms).await
    }

    /// Every socket of the main namespace leaves `rooms` (`io.socketsLeave`).
    pub async fn sockets_leave<I, S>(&self, rooms: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.main().sockets_leave(rooms).await
    }

    /// Disconnects every socket of the main namespace (`io.disconnectSockets`).
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), Error> {
        self.main().disconnect_sockets(close).await
    }

    /// How many Engine.IO connections are open.
    pub fn connection_count(&self) -> usize {
        lock(&self.inner.sessions).len()
    }

    /// Closes the server (socket.io's `io.close()`): new connections are refused and
    /// every connection closes, its sockets with `server shutting down`. Resolves once
    /// every connection has been told.
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let routes: Vec<Route> = lock(&self.inner.sessions).values().cloned().collect();
        for route in routes {
            let _ = route.commands.send(Command::CloseTransport).await;
        }
    }
}

impl ServerInner {
    fn handlers(&self, name: &str) -> Arc<NspHandlers> {
        lock(&self.statics)
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    /// The hooks of the namespace `name`, resolved as `Namespaces::resolve` did.
    pub(crate) fn hooks(&self, name: &str, dynamic: Option<usize>) -> Arc<NspHandlers> {
        match dynamic {
            Some(index) => lock(&self.dynamics).get(index).cloned().unwrap_or_default(),
            None => self.handlers(name),
        }
    }
}

impl ServerInner {
    /// The answer to `GET <path>socket.io.js` when the builder named a client bundle
    /// (read once, on first request).
    fn client_bundle_response<B>(
        &self,
        request: &http::Request<B>,
    ) -> Option<Response<crate::Body>> {
        let file = self.client_bundle.as_ref()?;
        let wanted = request.method() == http::Method::GET
            && request.uri().path().strip_prefix(self.path.as_str()) == Some("socket.io.js");
        if !wanted {
            return None;
        }
        let bundle = self.bundle.get_or_init(|| match std::fs::read(file) {
            Ok(bytes) => Some(Bytes::from(bytes)),
            Err(error) => {
                tracing::error!(file = %file.display(), %error, "cannot read the client bundle");
                None
            }
        });
        let mut response = match bundle {
            Some(bytes) => {
                let mut response = Response::new(Full::new(bytes.clone()));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/javascript; charset=utf-8"),
                );
                response
            }
            None => {
                let mut response = Response::new(Full::new(Bytes::from_static(b"Not Found")));
                *response.status_mut() = StatusCode::NOT_FOUND;
                response
            }
        };
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=0"),
        );
        Some(response)
    }
}

impl ServerInner {
    /// The Engine.IO sid `sid`, shared with the sessions map (a copy if not there).
    pub(crate) fn eio_sid(&self, sid: &str) -> Arc<str> {
        lock(&self.sessions)
            .get_key_value(sid)
            .map_or_else(|| sid.into(), |(sid, _)| sid.clone())
    }
}

impl Registry for ServerInner {
    fn remove(&self, sid: &str) {
        lock(&self.sessions).remove(sid);
        tracing::debug!(sid, "connection removed");
    }

    fn ws_config(&self) -> WebSocketConfig {
        self.ws_config
    }
}

impl Host for ServerInner {
    type App = SioApp;

    fn path(&self) -> &str {
        &self.path
    }

    fn max_payload(&self) -> usize {
        self.engine.max_payload
    }

    fn endpoint(&self) -> MutexGuard<'_, Endpoint> {
        lock(&self.endpoint)
    }

    fn route(&self, sid: &str) -> Option<crate::driver::HttpSender<Command>> {
        lock(&self.sessions).get(sid).map(|r| r.http.clone())
    }

    async fn open(
        self: &Arc<Self>,
        session: ServerSession,
        request: OpenRequest,
    ) -> Option<Opened<SioApp>> {
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        let ((http_tx, http_rx), (command_tx, command_rx)) =
            crate::driver::inputs(self.command_buffer);
        let eio: Arc<str> = session.sid().into();
        let connection = Connection::new(session, &self.config, self.seed, Instant::now());
        lock(&self.sessions).insert(
            eio,
            Route {
                http: http_tx,
                commands: command_tx.clone(),
            },
        );
        let info = Arc::new(ConnInfo {
            request: super::handshake::Request::new(&request.uri, &request.headers),
            address: request.remote,
            issued: SystemTime::now(),
        });
        let app = SioApp::new(self.clone(), command_tx, info);
        Some(Opened {
            session: connection,
            app,
            http: http_rx,
            commands: command_rx,
        })
    }
}

impl HttpServer for Server {
    fn handle_request<R: Runtime, B: crate::http::RequestBody>(
        &self,
        rt: R,
        remote: Option<SocketAddr>,
        request: http::Request<B>,
    ) -> ResponseFuture {
        if let Some(answer) = self.inner.client_bundle_response(&request) {
            return Box::pin(async move { answer });
        }
        let timer_rt = rt.clone();
        self.inner
            .local
            .set_timer(move || Arc::new(timer_rt) as Arc<dyn Timer>);
        let guards = &self.inner.guards;
        if !guards.is_empty() && request.uri().path().starts_with(self.path()) {
            let inner = self.inner.clone();
            return guards.run(request, move |request| {
                Box::pin(crate::http::handle(rt, inner, remote, request))
            });
        }
        Box::pin(crate::http::handle(rt, self.inner.clone(), remote, request))
    }

    fn path(&self) -> &str {
        Server::path(self)
    }
}

/// Builds a [`Server`]; the defaults are socket.io 4.8's.
#[must_use]
pub struct ServerBuilder {
    path: String,
    engine: ServerConfig,
    config: Config,
    seed: Option<u64>,
    command_buffer: usize,
    event_buffer: usize,
    ws_read_buffer: usize,
    adapter: Option<AdapterFactory>,
    client_bundle: Option<PathBuf>,
    guards: Guards,
}

type AdapterFactory = Box<dyn FnOnce(Arc<InMemoryAdapter>) -> Arc<dyn Adapter> + Send>;

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("path", &self.path)
            .field("engine", &self.engine)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            path: "/socket.io/".to_owned(),
            engine: ServerConfig {
                overflow: OverflowPolicy::Reject,
                ..ServerConfig::default()
            },
            config: Config::default(),
            seed: None,
            command_buffer: 16,
            event_buffer: 32,
            ws_read_buffer: 512,
            adapter: None,
            client_bundle: None,
            guards: Guards::default(),
        }
    }
}

impl ServerBuilder {
    /// The path served (default `/socket.io/`; a trailing `/` is added if missing).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let mut path = path.into();
        if !path.ends_with('/') {
            path.push('/');
        }
        self.path = path;
        self
    }

    /// Time between two server pings (default 25 s).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.engine.ping_interval = interval;
        self
    }

    /// Time the client has to answer a ping (default 20 s).
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.engine.ping_timeout = timeout;
        self
    }

    /// The largest POST body or WebSocket message accepted (default 1 MB).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.engine.max_payload = bytes;
        self
    }

    /// Time a client has to complete an upgrade to WebSocket (default 10 s).
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.engine.upgrade_timeout = timeout;
        self
    }

    /// Time a new connection has to join a namespace before it is closed (default 45 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// The transports clients may use (default polling and WebSocket).
    pub fn transports(mut self, transports: &[TransportKind]) -> Self {
        self.engine.transports = transports.to_vec();
        self
    }

    /// Turns connection state recovery on (socket.io's `connectionStateRecovery`),
    /// keeping a disconnected socket's session and missed packets for
    /// `max_disconnection_duration`; the other settings are socket.io's defaults.
    pub fn connection_state_recovery(self, max_disconnection_duration: Duration) -> Self {
        self.recovery(RecoveryConfig {
            max_disconnection_duration,
            ..RecoveryConfig::default()
        })
    }

    /// Connection state recovery with every setting.
    pub fn recovery(mut self, recovery: RecoveryConfig) -> Self {
        self.config.recovery = Some(recovery);
        self
    }

    /// Every Engine.IO setting at once (see
    /// [`EngineIoServerBuilder::config`](crate::EngineIoServerBuilder::config)).
    pub fn engine_config(mut self, config: ServerConfig) -> Self {
        self.engine = config;
        self
    }

    /// The seed of session and socket ids (default: random). Fixed seeds replay ids.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// How many commands (emits, acks) wait for a connection's task before a sender
    /// waits for room (default 16; the queue takes memory only while it holds commands).
    pub fn command_buffer(mut self, commands: usize) -> Self {
        self.command_buffer = commands.max(1);
        self
    }

    /// How many received packets wait for a connection's handlers before the server
    /// stops reading from that client (default 32).
    pub fn event_buffer(mut self, packets: usize) -> Self {
        self.event_buffer = packets.max(1);
        self
    }

    /// The read buffer of each WebSocket (default 512 B, allocated per connection and
    /// kept; larger messages take several reads).
    pub fn websocket_read_buffer(mut self, bytes: usize) -> Self {
        self.ws_read_buffer = bytes;
        self
    }

    /// Serves the browser client at `<path>socket.io.js` (socket.io's `serveClient`)
    /// from `file`, typically npm's `socket.io-client/dist/socket.io.js` (for example
    /// `interop/node_modules/socket.io-client/dist/socket.io.js` in this repository). It
    /// is read once, on the first request. Off by default.
    pub fn client_bundle(mut self, file: impl Into<PathBuf>) -> Self {
        self.client_bundle = Some(file.into());
        self
    }

    /// Answers cross-origin requests as socket.io's `cors` option does (npm's `cors`
    /// middleware): the CORS headers on every answer at the server's path, and `204`
    /// to `OPTIONS` preflights there. Off by default (no CORS headers: browsers then
    /// allow only same-origin long-polling; WebSocket is not subject to CORS).
    ///
    /// ```no_run
    /// use halyard::socketio::{CorsOptions, CorsOrigins, Server};
    /// let io = Server::builder()
    ///     .cors(CorsOptions {
    ///         origins: CorsOrigins::List(vec!["https://example.com".into()]),
    ///         credentials: true,
    ///         ..CorsOptions::default()
    ///     })
    ///     .build();
    /// ```
    pub fn cors(mut self, options: CorsOptions) -> Self {
        self.guards.cors = Some(Arc::new(options));
        self
    }

    /// Checks each handshake (a request opening an Engine.IO session, by long-polling
    /// or WebSocket) before the session is made (engine.io's `allowRequest`): `Err`
    /// answers `403` with `{"code":4,"message":"Forbidden"}` (or the [`Refused`]
    /// message), and the client gets `connect_error`. Requests of open sessions are not
    /// checked.
    ///
    /// ```no_run
    /// use halyard::socketio::{Refused, Server};
    /// let io = Server::builder()
    ///     .allow_request(|parts| match parts.headers.contains_key("x-token") {
    ///         true => Ok(()),
    ///         false => Err(Refused::new("no token")),
    ///     })
    ///     .build();
    /// ```
    pub fn allow_request<F>(mut self, check: F) -> Self
    where
        F: Fn(&http::request::Parts) -> Result<(), Refused> + Send + Sync + 'static,
    {
        let check = move |parts: &http::request::Parts| std::future::ready(check(parts));
        self.guards.allow_request = Some(Arc::new(AllowFn(check)));
        self
    }

    /// [`allow_request`](Self::allow_request) with an async check. The closure gets the
    /// request's head and returns a `'static` future: copy what it needs first.
    ///
    /// ```no_run
    /// use halyard::socketio::{Refused, Server};
    /// let io = Server::builder()
    ///     .allow_request_async(|parts| {
    ///         let cookie = parts.headers.get("cookie").cloned();
    ///         async move { cookie.map(|_| ()).ok_or_else(Refused::default) }
    ///     })
    ///     .build();
    /// ```
    pub fn allow_request_async<F, Fut>(mut self, check: F) -> Self
    where
        F: Fn(&http::request::Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Refused>> + Send + 'static,
    {
        self.guards.allow_request = Some(Arc::new(AllowFn(check)));
        self
    }

    /// A custom adapter built over the in-memory one (which holds this server's local
    /// state): a cluster adapter does the local part through it.
    pub fn adapter<A: Adapter>(
        mut self,
        make: impl FnOnce(Arc<InMemoryAdapter>) -> A + Send + 'static,
    ) -> Self {
        self.adapter = Some(Box::new(move |local| Arc::new(make(local))));
        self
    }

    /// The server.
    pub fn build(self) -> Server {
        let seed = self
            .seed
            .unwrap_or_else(|| RandomState::new().hash_one(Instant::now()));
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(self.ws_read_buffer)
            .write_buffer_size(0)
            .max_message_size(Some(self.engine.max_payload))
            .max_frame_size(Some(self.engine.max_payload));
        let local = Arc::new(InMemoryAdapter::new(self.config.recovery.clone()));
        let adapter: Arc<dyn Adapter> = match self.adapter {
            Some(make) => make(local.clone()),
            None => local.clone(),
        };
        Server {
            inner: Arc::new(ServerInner {
                path: self.path,
                endpoint: Mutex::new(Endpoint::new(self.engine.clone(), seed)),
                engine: self.engine,
                config: self.config,
                ws_config,
                command_buffer: self.command_buffer,
                event_buffer: self.event_buffer,
                seed,
                sessions: Mutex::new(HashMap::new()),
                local,
                adapter,
                statics: Mutex::new(HashMap::new()),
                dynamics: Mutex::new(Vec::new()),
                closed: AtomicBool::new(false),
                client_bundle: self.client_bundle,
                bundle: OnceLock::new(),
                guards: self.guards,
            }),
        }
    }
}
