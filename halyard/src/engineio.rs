//! The raw Engine.IO server: the equivalent of npm's `engine.io`, for crates that build
//! on the transport alone.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use bytes::Bytes;
use bytestring::ByteString;
use futures_channel::mpsc;
use halyard_engine::engineio::server::{Endpoint, ServerSession};
use halyard_engine::engineio::{
    CloseReason, Error as EngineError, Event, Frame, OverflowPolicy, Packet, ServerConfig,
    TransportKind,
};

use crate::Error;
use crate::driver::{Application, Registry};
use crate::http::{Host, HttpServer, OpenRequest, Opened, ResponseFuture};
use crate::runtime::Runtime;

/// A message from an Engine.IO client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(ByteString),
    /// A binary message.
    Binary(Bytes),
}

/// A raw Engine.IO server: answers the Engine.IO protocol at its path (default
/// `/engine.io/`) and hands each new connection to the application as an
/// [`EngineIoSocket`] through [`accept`](Self::accept).
///
/// Cheap to clone (all clones are the same server). Serve it with a runtime crate
/// (`halyard_tokio::serve`, `halyard_smol::serve`) or [`serve_connection`](crate::serve_connection).
///
/// ```no_run
/// # async fn run(server: halyard::EngineIoServer) {
/// while let Some(mut socket) = server.accept().await {
///     // in a task of its own:
///     while let Some(message) = socket.recv().await {
///         let _ = socket.send(message).await; // echo
///     }
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct EngineIoServer {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for EngineIoServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineIoServer")
            .field("path", &self.inner.path)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) path: String,
    pub(crate) config: ServerConfig,
    pub(crate) ws_config: WebSocketConfig,
    pub(crate) command_buffer: usize,
    pub(crate) message_buffer: usize,
    endpoint: Mutex<Endpoint>,
    sessions: Mutex<HashMap<Box<str>, crate::driver::HttpSender<Command>>>,
    accept_tx: async_channel::Sender<EngineIoSocket>,
    accept_rx: async_channel::Receiver<EngineIoSocket>,
}

impl Default for EngineIoServer {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl EngineIoServer {
    /// A server with engine.io 6.6's defaults, at `/engine.io/`.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder, to change the path, heartbeat, limits and transports.
    pub fn builder() -> EngineIoServerBuilder {
        EngineIoServerBuilder::default()
    }

    /// The next new connection, in handshake order. `None` once the server is gone.
    ///
    /// Connections wait for the application in a bounded queue
    /// ([`EngineIoServerBuilder::accept_backlog`]); when it is full, handshakes wait.
    pub async fn accept(&self) -> Option<EngineIoSocket> {
        self.inner.accept_rx.recv().await.ok()
    }

    /// The path served (always with a trailing `/`).
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// The Engine.IO settings.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.inner.sessions().len()
    }
}

impl Inner {
    pub(crate) fn endpoint(&self) -> MutexGuard<'_, Endpoint> {
        self.endpoint.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn sessions(
        &self,
    ) -> MutexGuard<'_, HashMap<Box<str>, crate::driver::HttpSender<Command>>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The route to session `sid`, if it is open.
    pub(crate) fn session(&self, sid: &str) -> Option<crate::driver::HttpSender<Command>> {
        self.sessions().get(sid).cloned()
    }
}

impl Host for Inner {
    type App = EngineApp;

    fn path(&self) -> &str {
        &self.path
    }

    fn max_payload(&self) -> usize {
        self.config.max_payload
    }

    fn endpoint(&self) -> MutexGuard<'_, Endpoint> {
        Inner::endpoint(self)
    }

    fn route(&self, sid: &str) -> Option<crate::driver::HttpSender<Command>> {
        self.session(sid)
    }

    /// Registers a new session and builds the application side of its driver; the
    /// socket is queued for [`EngineIoServer::accept`].
    async fn open(
        self: &Arc<Self>,
        session: ServerSession,
        _request: OpenRequest,
    ) -> Option<Opened<EngineApp>> {
        let ((http_tx, http_rx), (command_tx, command_rx)) =
            crate::driver::inputs(self.command_buffer);
        let (inbox_tx, inbox_rx) = mpsc::channel(self.message_buffer);
        let shared = Arc::new(Shared {
            transport: AtomicU8::new(session.transport() as u8),
            closed: OnceLock::new(),
        });
        let socket = EngineIoSocket {
            id: session.sid().into(),
            commands: command_tx,
            inbox: inbox_rx,
            shared: shared.clone(),
        };
        self.sessions().insert(session.sid().into(), http_tx);
        if self.accept_tx.send(socket).await.is_err() {
            self.sessions().remove(session.sid());
            return None;
        }
        let app = EngineApp {
            inbox: Some(inbox_tx),
            pending: None,
            shared,
            done: false,
        };
        Some(Opened {
            session,
            app,
            http: http_rx,
            commands: command_rx,
        })
    }
}

impl HttpServer for EngineIoServer {
    fn handle_request<R: Runtime, B: crate::http::RequestBody>(
        &self,
        rt: R,
        remote: Option<SocketAddr>,
        request: http::Request<B>,
    ) -> ResponseFuture {
        Box::pin(crate::http::handle(rt, self.inner.clone(), remote, request))
    }

    fn path(&self) -> &str {
        EngineIoServer::path(self)
    }
}

impl Registry for Inner {
    fn remove(&self, sid: &str) {
        self.sessions().remove(sid);
        tracing::debug!(sid, "session removed");
    }

    fn ws_config(&self) -> WebSocketConfig {
        self.ws_config
    }
}

/// Builds an [`EngineIoServer`].
#[derive(Debug, Clone)]
pub struct EngineIoServerBuilder {
    path: String,
    config: ServerConfig,
    seed: Option<u64>,
    accept_backlog: usize,
    command_buffer: usize,
    message_buffer: usize,
    ws_read_buffer: usize,
}

impl Default for EngineIoServerBuilder {
    fn default() -> Self {
        Self {
            path: "/engine.io/".to_owned(),
            config: ServerConfig {
                overflow: OverflowPolicy::Reject,
                ..ServerConfig::default()
            },
            seed: None,
            accept_backlog: 128,
            command_buffer: 16,
            message_buffer: 16,
            ws_read_buffer: 512,
        }
    }
}

impl EngineIoServerBuilder {
    /// The path served (default `/engine.io/`; a trailing `/` is added if missing).
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
        self.config.ping_interval = interval;
        self
    }

    /// Time the client has to answer a ping (default 20 s).
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.config.ping_timeout = timeout;
        self
    }

    /// Time a client has to complete an upgrade to WebSocket (default 10 s).
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.config.upgrade_timeout = timeout;
        self
    }

    /// The largest POST body or WebSocket message accepted (default 1 MB).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.config.max_payload = bytes;
        self
    }

    /// The transports clients may use (default polling and WebSocket).
    pub fn transports(mut self, transports: &[TransportKind]) -> Self {
        self.config.transports = transports.to_vec();
        self
    }

    /// Every Engine.IO setting at once. Its [`OverflowPolicy`] decides what a send does
    /// when the session's outgoing queue is full: `Reject` (this builder's default)
    /// makes `send` wait for room (back-pressure), `CloseSession` disconnects the slow
    /// client.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// The seed of session ids (default: random). Fixed seeds replay ids in tests.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// How many new connections wait for [`EngineIoServer::accept`] (default 128).
    pub fn accept_backlog(mut self, connections: usize) -> Self {
        self.accept_backlog = connections.max(1);
        self
    }

    /// How many received messages wait for [`EngineIoSocket::recv`] before the server
    /// stops reading from that client (default 16).
    pub fn message_buffer(mut self, messages: usize) -> Self {
        self.message_buffer = messages;
        self
    }

    /// How many sends wait for a connection's task (default 16).
    pub fn command_buffer(mut self, commands: usize) -> Self {
        self.command_buffer = commands.max(1);
        self
    }

    /// The read buffer of each WebSocket (default 512 B, allocated per connection and
    /// kept: idle connections stay small; larger messages take several reads).
    pub fn websocket_read_buffer(mut self, bytes: usize) -> Self {
        self.ws_read_buffer = bytes;
        self
    }

    /// The server.
    pub fn build(self) -> EngineIoServer {
        let seed = self
            .seed
            .unwrap_or_else(|| RandomState::new().hash_one(Instant::now()));
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(self.ws_read_buffer)
            .write_buffer_size(0)
            .max_message_size(Some(self.config.max_payload))
            .max_frame_size(Some(self.config.max_payload));
        let (accept_tx, accept_rx) = async_channel::bounded(self.accept_backlog);
        EngineIoServer {
            inner: Arc::new(Inner {
                path: self.path,
                endpoint: Mutex::new(Endpoint::new(self.config.clone(), seed)),
                config: self.config,
                ws_config,
                command_buffer: self.command_buffer,
                message_buffer: self.message_buffer,
                sessions: Mutex::new(HashMap::new()),
                accept_tx,
                accept_rx,
            }),
        }
    }
}

/// What a socket handle asks of its connection's task.
#[derive(Debug)]
pub(crate) enum Command {
    Send(Frame),
    Close,
}

struct Shared {
    transport: AtomicU8,
    closed: OnceLock<CloseReason>,
}

/// One Engine.IO connection, as the application sees it.
///
/// Dropping it closes the connection.
pub struct EngineIoSocket {
    id: Box<str>,
    commands: crate::driver::CommandSender<Command>,
    inbox: mpsc::Receiver<Message>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for EngineIoSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineIoSocket")
            .field("id", &self.id)
            .field("transport", &self.transport())
            .field("close_reason", &self.close_reason())
            .finish_non_exhaustive()
    }
}

impl EngineIoSocket {
    /// The session id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The transport the connection runs on now.
    pub fn transport(&self) -> TransportKind {
        match self.shared.transport.load(Ordering::Relaxed) {
            t if t == TransportKind::WebSocket as u8 => TransportKind::WebSocket,
            _ => TransportKind::Polling,
        }
    }

    /// The next message from the client, in order; `None` once the connection is closed
    /// (then [`close_reason`](Self::close_reason) says why).
    pub async fn recv(&mut self) -> Option<Message> {
        futures_lite::StreamExt::next(&mut self.inbox).await
    }

    /// Sends a text message. Waits while the connection's queue is full; `Err(Closed)`
    /// once the connection is gone.
    pub async fn send_text(&self, text: impl Into<ByteString>) -> Result<(), Error> {
        self.send_frame(Packet::Message(text.into()).encode()).await
    }

    /// Sends a binary message (see [`send_text`](Self::send_text)).
    pub async fn send_binary(&self, data: impl Into<Bytes>) -> Result<(), Error> {
        self.send_frame(Frame::Binary(data.into())).await
    }

    /// Sends a message (see [`send_text`](Self::send_text)).
    pub async fn send(&self, message: Message) -> Result<(), Error> {
        match message {
            Message::Text(text) => self.send_text(text).await,
            Message::Binary(data) => self.send_binary(data).await,
        }
    }

    /// Sends an encoded message frame (`4…` text or binary): encode once, send the same
    /// frame to many sockets.
    pub async fn send_frame(&self, frame: Frame) -> Result<(), Error> {
        if matches!(&frame, Frame::Text(text) if !text.starts_with('4')) {
            return Err(Error::NotAMessage);
        }
        self.commands
            .send(Command::Send(frame))
            .await
            .map_err(|_| Error::Closed)
    }

    /// Closes the connection gracefully: what was sent before is still delivered.
    pub async fn close(&self) {
        let _ = self.commands.send(Command::Close).await;
    }

    /// Why the connection closed, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.shared.closed.get().copied()
    }

    /// Whether the connection has closed.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.get().is_some()
    }
}

/// The application side of an Engine.IO connection's driver.
pub(crate) struct EngineApp {
    inbox: Option<mpsc::Sender<Message>>,
    pending: Option<Message>,
    shared: Arc<Shared>,
    done: bool,
}

impl Application for EngineApp {
    type Session = ServerSession;
    type Command = Command;

    fn handle_command(
        &mut self,
        session: &mut ServerSession,
        now: Instant,
        command: Command,
    ) -> Result<(), Command> {
        match command {
            Command::Send(frame) => match session.send(frame.clone()) {
                Err(EngineError::Full) => Err(Command::Send(frame)),
                Ok(()) | Err(_) => Ok(()),
            },
            Command::Close => {
                session.close(now, CloseReason::ForcedClose);
                Ok(())
            }
        }
    }

    fn poll_deliver(&mut self, session: &mut ServerSession, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let message = match self.pending.take() {
                Some(message) => message,
                None => match session.poll_event() {
                    None => return Poll::Ready(()),
                    Some(Event::Message(text)) => Message::Text(text),
                    Some(Event::Binary(data)) => Message::Binary(data),
                    Some(Event::Opened(_)) => continue,
                    Some(Event::Upgraded) => {
                        let ws = TransportKind::WebSocket as u8;
                        self.shared.transport.store(ws, Ordering::Relaxed);
                        continue;
                    }
                    Some(Event::Closed(reason)) => {
                        tracing::debug!(sid = session.sid(), %reason, "closed");
                        let _ = self.shared.closed.set(reason);
                        self.inbox = None;
                        self.done = true;
                        continue;
                    }
                },
            };
            let Some(inbox) = self.inbox.as_mut() else {
                continue; // nobody listens any more
            };
            match inbox.poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    let _ = inbox.start_send(message);
                }
                Poll::Ready(Err(_)) => self.inbox = None,
                Poll::Pending => {
                    self.pending = Some(message);
                    return Poll::Pending;
                }
            }
        }
    }

    fn handle_commands_closed(&mut self, session: &mut ServerSession, now: Instant) {
        session.close(now, CloseReason::ForcedClose);
    }

    fn is_done(&self) -> bool {
        self.done
    }
}
