//! The raw Engine.IO client (npm's `engine.io-client`): one connection, text and binary
//! messages, over long-polling, WebSocket, or polling upgraded to WebSocket.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use bytestring::ByteString;
use futures_channel::{mpsc, oneshot};
use futures_core::Stream;
use halyard_engine::engineio::client::ClientConnection;
use halyard_engine::engineio::{
    ClientConfig, CloseReason, Error as EngineError, Event, Frame, TransportKind,
};
use halyard_protocol::engineio::Packet;
use http::HeaderMap;

use super::Error;
#[cfg(feature = "tls")]
use super::TlsConfig;
use super::executor::{Executor, INPUT_CAPACITY, Input, TransportSettings};
use super::socket::lock;
use super::target::Target;
use super::transport::Connector;
use crate::Message;
use crate::runtime::Runtime;

/// Builds an [`EngineIoClient`]. The defaults are engine.io-client 6's: path
/// `/engine.io/`, polling then upgrade to WebSocket, a 20 s handshake timeout.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until connect is called"]
pub struct EngineIoClientBuilder<R> {
    rt: R,
    url: String,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    transports: Vec<TransportKind>,
    upgrade: bool,
    config: ClientConfig,
    max_payload: usize,
    #[cfg(feature = "tls")]
    tls: Option<TlsConfig>,
}

impl<R: Runtime> EngineIoClientBuilder<R> {
    /// A client of `url` (`http(s)://` or `ws(s)://`; its query goes with every
    /// request), running on `rt`.
    pub fn new(rt: R, url: impl Into<String>) -> Self {
        Self {
            rt,
            url: url.into(),
            path: "/engine.io/".to_owned(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            transports: vec![TransportKind::Polling, TransportKind::WebSocket],
            upgrade: true,
            config: ClientConfig::default(),
            max_payload: 16 * 1024 * 1024,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The server's Engine.IO path (default `/engine.io/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let mut path = path.into();
        if !path.ends_with('/') {
            path.push('/');
        }
        self.path = path;
        self
    }

    /// The transports, in the order tried (default polling then WebSocket).
    pub fn transports(mut self, transports: impl IntoIterator<Item = TransportKind>) -> Self {
        self.transports = transports.into_iter().collect();
        self
    }

    /// Whether to upgrade from polling to WebSocket (default true).
    pub fn upgrade(mut self, upgrade: bool) -> Self {
        self.upgrade = upgrade;
        self
    }

    /// Adds a query parameter to every request.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Adds a header to every request and WebSocket handshake.
    pub fn extra_header(mut self, name: &str, value: &str) -> Result<Self, Error> {
        let (name, value) = super::options::header(name, value)?;
        self.headers.append(name, value);
        Ok(self)
    }

    /// How long the handshake may take (default 20 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }

    /// The largest polling response body accepted (default 16 MiB).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.max_payload = bytes;
        self
    }

    /// The TLS settings for `https://` and `wss://` (default: the Mozilla roots).
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: TlsConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// Connects: resolves once the handshake is done, or with why it failed
    /// ([`Error::Connection`]).
    pub async fn connect(self) -> Result<EngineIoClient, Error> {
        let target = Target::parse(&self.url)?;
        // The Socket.IO client's options decide the transports and the query the same way.
        let mut options = super::options::Options {
            transports: self.transports,
            upgrade: self.upgrade,
            query: self.query,
            ..Default::default()
        };
        options.manager.engine = self.config;
        let config = options.engine_config()?;
        let settings = TransportSettings {
            path: self.path,
            query: options.query_string(&target.query),
            headers: self.headers,
            ws_config: WebSocketConfig::default(),
        };
        let connector = Connector::new(
            self.rt.clone(),
            Arc::new(target),
            #[cfg(feature = "tls")]
            self.tls,
        );
        let (inputs_tx, inputs_rx) = mpsc::channel(INPUT_CAPACITY);
        let executor = Executor::new(
            self.rt.clone(),
            connector,
            settings,
            self.max_payload,
            inputs_tx,
        );
        let (commands_tx, commands_rx) = async_channel::bounded(MESSAGE_CAPACITY);
        let (messages_tx, messages_rx) = async_channel::bounded(MESSAGE_CAPACITY);
        let (opened_tx, opened_rx) = oneshot::channel();
        let state = Arc::new(Mutex::new(State::default()));
        let connection = ClientConnection::new(config, self.rt.now());
        let driver = EngineDriver {
            rt: self.rt.clone(),
            connection,
            executor,
            inputs: inputs_rx,
            commands: Box::pin(commands_rx),
            messages: messages_tx,
            received: VecDeque::new(),
            stalled: None,
            opened: Some(opened_tx),
            state: state.clone(),
            sleep: None,
            armed: None,
        };
        self.rt.spawn(driver.run());
        match opened_rx.await {
            Ok(Ok(())) => Ok(EngineIoClient {
                commands: commands_tx,
                messages: messages_rx,
                state,
            }),
            Ok(Err(reason)) => Err(Error::Connection(reason)),
            Err(_) => Err(Error::Closed),
        }
    }
}

/// Messages waiting each way.
const MESSAGE_CAPACITY: usize = 64;

#[derive(Debug, Default)]
struct State {
    sid: String,
    transport: Option<TransportKind>,
    closed: Option<CloseReason>,
}

enum Command {
    Send(Message),
    Close,
}

/// A connected raw Engine.IO client (npm's `engine.io-client` `Socket`): send and
/// receive text and binary messages; the transport (and its upgrade) is hidden.
/// Dropping it closes the connection.
#[derive(Debug)]
pub struct EngineIoClient {
    commands: async_channel::Sender<Command>,
    messages: async_channel::Receiver<Message>,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Send(message) => f.debug_tuple("Send").field(message).finish(),
            Command::Close => f.write_str("Close"),
        }
    }
}

impl EngineIoClient {
    /// The session id the server gave.
    pub fn sid(&self) -> String {
        lock(&self.state).sid.clone()
    }

    /// The transport in use now (WebSocket after an upgrade).
    pub fn transport(&self) -> TransportKind {
        lock(&self.state)
            .transport
            .unwrap_or(TransportKind::Polling)
    }

    /// Why the connection closed, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        lock(&self.state).closed
    }

    /// Sends a message; waits while the outgoing queue is full.
    pub async fn send(&self, message: Message) -> Result<(), Error> {
        self.commands
            .send(Command::Send(message))
            .await
            .map_err(|_| self.closed())
    }

    /// The next message, or `None` once the connection is closed and every message
    /// was read.
    pub async fn recv(&self) -> Option<Message> {
        self.messages.recv().await.ok()
    }

    /// Closes the connection (what is queued still goes out first).
    pub async fn close(&self) {
        let _ = self.commands.send(Command::Close).await;
    }

    fn closed(&self) -> Error {
        match self.close_reason() {
            Some(reason) => Error::Connection(reason),
            None => Error::Closed,
        }
    }
}

struct EngineDriver<R: Runtime> {
    rt: R,
    connection: ClientConnection,
    executor: Executor<R, ()>,
    inputs: mpsc::Receiver<Input<()>>,
    commands: Pin<Box<async_channel::Receiver<Command>>>,
    messages: async_channel::Sender<Message>,
    /// Received messages the application has not taken yet (at most
    /// `MESSAGE_CAPACITY` before the driver stops reading).
    received: VecDeque<Message>,
    /// A message that found the queue full.
    stalled: Option<Message>,
    opened: Option<oneshot::Sender<Result<(), CloseReason>>>,
    state: Arc<Mutex<State>>,
    sleep: Option<Pin<Box<R::Sleep>>>,
    armed: Option<Instant>,
}

impl<R: Runtime> EngineDriver<R> {
    async fn run(mut self) {
        std::future::poll_fn(|cx| self.poll(cx)).await;
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..64 {
            let mut progressed = false;
            let now = self.rt.now();
            // Hand received messages over.
            while let Some(message) = self.received.pop_front() {
                match self.messages.try_send(message) {
                    Ok(()) => progressed = true,
                    Err(async_channel::TrySendError::Full(message)) => {
                        self.received.push_front(message);
                        break;
                    }
                    Err(async_channel::TrySendError::Closed(_)) => {}
                }
            }
            // Commands, while the queue takes them.
            if let Some(message) = self.stalled.take() {
                progressed |= self.send(message);
            }
            while self.stalled.is_none() && !self.connection.is_closed() {
                match self.commands.as_mut().poll_next(cx) {
                    Poll::Ready(Some(Command::Send(message))) => progressed |= self.send(message),
                    Poll::Ready(Some(Command::Close)) | Poll::Ready(None) => {
                        self.connection.close(now);
                        progressed = true;
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            while self.received.len() < MESSAGE_CAPACITY {
                match Pin::new(&mut self.inputs).poll_next(cx) {
                    Poll::Ready(Some(input)) => {
                        self.input(now, input);
                        progressed = true;
                    }
                    Poll::Ready(None) | Poll::Pending => break,
                }
            }
            if let Some(sleep) = self.sleep.as_mut()
                && sleep.as_mut().poll(cx).is_ready()
            {
                self.sleep = None;
                self.armed = None;
                self.connection.handle_timeout(now);
                progressed = true;
            }
            while self.executor.poll_flush(cx).is_ready() {
                let Some(action) = self.connection.poll_transmit() else {
                    break;
                };
                self.executor.execute((), action);
                progressed = true;
            }
            while let Some(event) = self.connection.poll_event() {
                progressed = true;
                match event {
                    Event::Opened(open) => {
                        let mut state = lock(&self.state);
                        state.sid = open.sid.to_string();
                        state.transport = Some(self.connection.transport());
                        drop(state);
                        if let Some(opened) = self.opened.take() {
                            let _ = opened.send(Ok(()));
                        }
                    }
                    Event::Message(text) => self.received.push_back(Message::Text(text)),
                    Event::Binary(data) => self.received.push_back(Message::Binary(data)),
                    Event::Upgraded => {
                        lock(&self.state).transport = Some(TransportKind::WebSocket);
                    }
                    Event::Closed(reason) => {
                        lock(&self.state).closed = Some(reason);
                        if let Some(opened) = self.opened.take() {
                            let _ = opened.send(Err(reason));
                        }
                    }
                }
            }
            if self.connection.is_closed() && self.received.is_empty() {
                // Let the last transmits (a close packet) go, then end.
                self.messages.close();
                return Poll::Ready(());
            }
            let deadline = self.connection.poll_timeout();
            if deadline != self.armed {
                self.armed = deadline;
                self.sleep = deadline.map(|at| Box::pin(self.rt.sleep_until(at)));
                progressed = true;
            }
            if !progressed {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Queues `message`; `false` (and the message kept) when the queue is full.
    fn send(&mut self, message: Message) -> bool {
        let frame = match &message {
            Message::Text(text) => Packet::Message(ByteString::clone(text)).encode(),
            Message::Binary(data) => Frame::Binary(data.clone()),
        };
        match self.connection.try_send(frame) {
            Ok(()) => true,
            Err(EngineError::Full) => {
                self.stalled = Some(message);
                false
            }
            Err(_) => true,
        }
    }

    fn input(&mut self, now: Instant, input: Input<()>) {
        self.executor.note(&input);
        let c = &mut self.connection;
        let result = match input {
            Input::Get((), request, Some((status, body))) => {
                c.handle_get_response(now, request, status, body)
            }
            Input::Post((), request, Some(status)) => c.handle_post_response(now, request, status),
            Input::Get((), request, None) | Input::Post((), request, None) => {
                c.handle_request_failed(now, request)
            }
            Input::WsOpened((), _) => c.handle_ws_opened(now),
            Input::WsFrame((), frame) => {
                c.handle_ws_frame(now, frame);
                Ok(())
            }
            Input::WsClosed(()) => {
                c.handle_ws_closed(now);
                Ok(())
            }
            Input::WsError(()) => {
                c.handle_ws_error(now);
                Ok(())
            }
        };
        if let Err(error) = result {
            tracing::debug!(%error, "transport input refused");
        }
    }
}
