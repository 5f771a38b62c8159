//! Carries out a sans-IO client connection's transmits: HTTP requests and WebSockets run
//! in tasks of their own and report back through one bounded channel of [`Input`]s.
//!
//! Both clients use it: the raw Engine.IO client (one connection, tag `()`) and the
//! Socket.IO manager (a connection per (re)connection, tagged with its
//! [`ConnectionId`](halyard_engine::socketio::client::ConnectionId)), so late answers
//! of an old connection are told apart.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::tungstenite::{Message, Utf8Bytes};
use bytes::Bytes;
use bytestring::ByteString;
use futures_channel::{mpsc, oneshot};
use futures_core::Stream as _;
use futures_sink::Sink;
use halyard_engine::engineio::client::ClientTransmit;
use halyard_engine::engineio::{Frame, RequestId};
use http::HeaderMap;

use super::transport::{ClientWs, Connector, HttpClient, open_websocket};
use crate::runtime::Runtime;

/// What happened to a transmit, reported to the connection tagged `tag`.
#[derive(Debug)]
pub(crate) enum Input<T> {
    /// A GET was answered (or failed: `None`).
    Get(T, RequestId, Option<(u16, Bytes)>),
    /// A POST was answered (or failed: `None`).
    Post(T, RequestId, Option<u16>),
    /// The WebSocket is open.
    WsOpened(T, mpsc::Sender<Message>),
    /// A frame arrived on the WebSocket.
    WsFrame(T, Frame),
    /// The server closed the WebSocket.
    WsClosed(T),
    /// The WebSocket failed, or could not be opened.
    WsError(T),
}

/// Capacity of the channel of inputs (tasks wait for room: back-pressure on reading).
pub(crate) const INPUT_CAPACITY: usize = 64;
/// Capacity of a WebSocket's channel of frames to write.
const WS_OUT_CAPACITY: usize = 64;

/// The client's HTTP and WebSocket settings.
pub(crate) struct TransportSettings {
    /// The Engine.IO path, ending in `/`.
    pub(crate) path: String,
    /// Query parameters added to every request (`k=v&…`, may be empty).
    pub(crate) query: String,
    /// Headers sent with every request and WebSocket handshake.
    pub(crate) headers: HeaderMap,
    /// The WebSocket settings.
    pub(crate) ws_config: WebSocketConfig,
}

/// Runs transmits (see the module documentation).
pub(crate) struct Executor<R: Runtime, T> {
    rt: R,
    connector: Connector<R>,
    http: Arc<HttpClient<R>>,
    settings: Arc<TransportSettings>,
    inputs: mpsc::Sender<Input<T>>,
    /// Requests and WebSocket openings in flight: sending on one cancels its task.
    cancels: HashMap<(T, Option<RequestId>), oneshot::Sender<()>>,
    /// Open WebSockets' writers.
    writers: HashMap<T, mpsc::Sender<Message>>,
    /// Frames waiting for room in their WebSocket's writer; `None` closes it.
    backlog: VecDeque<(T, Option<Message>)>,
}

impl<R: Runtime, T: Copy + Eq + Hash + Send + Sync + 'static> Executor<R, T> {
    /// An executor for `connector`'s target, reporting into `inputs`.
    pub(crate) fn new(
        rt: R,
        connector: Connector<R>,
        settings: TransportSettings,
        max_body: usize,
        inputs: mpsc::Sender<Input<T>>,
    ) -> Self {
        let http = Arc::new(HttpClient::new(
            connector.clone(),
            settings.headers.clone(),
            max_body,
        ));
        Self {
            rt,
            connector,
            http,
            settings: Arc::new(settings),
            inputs,
            cancels: HashMap::new(),
            writers: HashMap::new(),
            backlog: VecDeque::new(),
        }
    }

    fn path_and_query(&self, query: &str) -> String {
        let extra = &self.settings.query;
        let sep = if extra.is_empty() { "" } else { "&" };
        format!("{}?{extra}{sep}{query}", self.settings.path)
    }

    /// Starts `action` for connection `tag`.
    pub(crate) fn execute(&mut self, tag: T, action: ClientTransmit) {
        match action {
            ClientTransmit::Get { request, query } => {
                let http = self.http.clone();
                let pq = self.path_and_query(&query);
                self.spawn_cancellable(tag, Some(request), async move {
                    let answer = http.get(&pq).await;
                    if let Err(error) = &answer {
                        tracing::debug!(%error, "poll GET failed");
                    }
                    Input::Get(tag, request, answer.ok())
                });
            }
            ClientTransmit::Post {
                request,
                query,
                body,
            } => {
                let http = self.http.clone();
                let pq = self.path_and_query(&query);
                self.spawn_cancellable(tag, Some(request), async move {
                    let answer = http.post(&pq, body).await;
                    if let Err(error) = &answer {
                        tracing::debug!(%error, "POST failed");
                    }
                    Input::Post(tag, request, answer.ok())
                });
            }
            ClientTransmit::Abort(request) => {
                if let Some(cancel) = self.cancels.remove(&(tag, Some(request))) {
                    let _ = cancel.send(());
                }
            }
            ClientTransmit::OpenWebSocket { query } => self.open_websocket(tag, &query),
            ClientTransmit::WebSocket(frame) => {
                self.backlog.push_back((tag, Some(message(frame))));
            }
            ClientTransmit::CloseWebSocket => {
                // An opening WebSocket is abandoned; an open one is closed after the
                // frames already waiting (a close packet, say) are written.
                if let Some(cancel) = self.cancels.remove(&(tag, None)) {
                    let _ = cancel.send(());
                }
                self.backlog.push_back((tag, None));
            }
        }
    }

    /// Forgets `tag`'s finished request or its WebSocket, as `input` reports.
    pub(crate) fn note(&mut self, input: &Input<T>) {
        match input {
            Input::Get(tag, request, _) | Input::Post(tag, request, _) => {
                self.cancels.remove(&(*tag, Some(*request)));
            }
            Input::WsOpened(tag, writer) => {
                self.cancels.remove(&(*tag, None));
                self.writers.insert(*tag, writer.clone());
            }
            Input::WsClosed(tag) | Input::WsError(tag) => {
                self.cancels.remove(&(*tag, None));
                self.writers.remove(tag);
            }
            Input::WsFrame(..) => {}
        }
    }

    /// Hands waiting frames to their WebSockets; `Ready` once none waits (take more
    /// transmits only then, so what waits to be written stays bounded).
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while let Some((tag, _)) = self.backlog.front() {
            let Some(writer) = self.writers.get_mut(tag) else {
                // The WebSocket is gone: its frames go nowhere.
                self.backlog.pop_front();
                continue;
            };
            if self.backlog.front().is_some_and(|(_, m)| m.is_none()) {
                // Dropping the writer makes the WebSocket task close the WebSocket.
                let (tag, _) = self.backlog.pop_front().expect("checked");
                self.writers.remove(&tag);
                continue;
            }
            match writer.poll_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) => {
                    let (tag, message) = self.backlog.pop_front().expect("checked");
                    let message = message.expect("checked");
                    if writer.start_send(message).is_err() {
                        self.writers.remove(&tag);
                    }
                }
                Poll::Ready(Err(_)) => {
                    let tag = *tag;
                    self.writers.remove(&tag);
                }
            }
        }
        Poll::Ready(())
    }

    fn spawn_cancellable(
        &mut self,
        tag: T,
        request: Option<RequestId>,
        work: impl Future<Output = Input<T>> + Send + 'static,
    ) {
        let (cancel_tx, cancel_rx) = oneshot::channel::<()>();
        self.cancels.insert((tag, request), cancel_tx);
        let mut inputs = self.inputs.clone();
        self.rt.spawn(async move {
            let work = async move { Some(work.await) };
            let cancelled = cancelled(cancel_rx);
            if let Some(input) = futures_lite::future::or(work, cancelled).await {
                let _ = send(&mut inputs, input).await;
            }
        });
    }

    fn open_websocket(&mut self, tag: T, query: &str) {
        let connector = self.connector.clone();
        let settings = self.settings.clone();
        let pq = self.path_and_query(query);
        let inputs = self.inputs.clone();
        let (cancel_tx, cancel_rx) = oneshot::channel::<()>();
        self.cancels.insert((tag, None), cancel_tx);
        self.rt.spawn(async move {
            let open = open_websocket(connector, pq, settings.headers.clone(), settings.ws_config);
            let opened =
                futures_lite::future::or(async { Some(open.await) }, cancelled(cancel_rx)).await;
            let mut inputs = inputs;
            match opened {
                None => {}
                Some(Err(error)) => {
                    tracing::debug!(%error, "WebSocket failed to open");
                    let _ = send(&mut inputs, Input::WsError(tag)).await;
                }
                Some(Ok(ws)) => {
                    let (writer, outgoing) = mpsc::channel(WS_OUT_CAPACITY);
                    if send(&mut inputs, Input::WsOpened(tag, writer))
                        .await
                        .is_ok()
                    {
                        run_websocket(tag, ws, outgoing, inputs).await;
                    }
                }
            }
        });
    }
}

/// Completes (with `None`) when the work is cancelled with an explicit `send(())`. A
/// dropped sender (the executor is gone: the client is shutting down) cancels nothing,
/// so the last requests, such as the POST of a close packet, still go out.
async fn cancelled<T>(cancel: oneshot::Receiver<()>) -> Option<T> {
    if cancel.await.is_err() {
        std::future::pending::<()>().await;
    }
    None
}

async fn send<T>(inputs: &mut mpsc::Sender<T>, input: T) -> Result<(), mpsc::SendError> {
    std::future::poll_fn(|cx| inputs.poll_ready(cx)).await?;
    inputs.start_send(input)
}

/// The task of one open WebSocket: writes what comes from `outgoing`, reports what it
/// reads. A closed `outgoing` (the client dropped the writer) closes the WebSocket
/// without a report; a close by the server is reported.
async fn run_websocket<S, T>(
    tag: T,
    mut ws: ClientWs<S>,
    mut outgoing: mpsc::Receiver<Message>,
    mut inputs: mpsc::Sender<Input<T>>,
) where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
    T: Copy,
{
    use std::pin::Pin;
    enum End {
        Local,
        Remote,
        Failed,
    }
    let mut unflushed = false;
    let mut closing = false;
    let end = std::future::poll_fn(|cx| {
        loop {
            let mut progressed = false;
            // Write what is waiting.
            while !closing {
                match Pin::new(&mut ws).poll_ready(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(_)) => return Poll::Ready(End::Failed),
                    Poll::Pending => break,
                }
                match Pin::new(&mut outgoing).poll_next(cx) {
                    Poll::Ready(Some(message)) => {
                        if Pin::new(&mut ws).start_send(message).is_err() {
                            return Poll::Ready(End::Failed);
                        }
                        unflushed = true;
                        progressed = true;
                    }
                    Poll::Ready(None) => closing = true,
                    Poll::Pending => break,
                }
            }
            if closing {
                return match Pin::new(&mut ws).poll_close(cx) {
                    Poll::Ready(_) => Poll::Ready(End::Local),
                    Poll::Pending => Poll::Pending,
                };
            }
            if unflushed {
                match Pin::new(&mut ws).poll_flush(cx) {
                    Poll::Ready(Ok(())) => unflushed = false,
                    Poll::Ready(Err(_)) => return Poll::Ready(End::Failed),
                    Poll::Pending => {}
                }
            }
            // Read while the client has room for what is read.
            match inputs.poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(End::Local),
                Poll::Pending => {
                    if progressed {
                        continue;
                    }
                    return Poll::Pending;
                }
            }
            match Pin::new(&mut ws).poll_next(cx) {
                Poll::Ready(Some(Ok(message))) => {
                    progressed = true;
                    let frame = match message {
                        // tungstenite checked UTF-8 already.
                        Message::Text(text) => ByteString::try_from(Bytes::from(text))
                            .ok()
                            .map(Frame::Text),
                        Message::Binary(data) => Some(Frame::Binary(data)),
                        Message::Close(_) => return Poll::Ready(End::Remote),
                        // Pings and pongs are tungstenite's business.
                        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => None,
                    };
                    if let Some(frame) = frame
                        && inputs.start_send(Input::WsFrame(tag, frame)).is_err()
                    {
                        return Poll::Ready(End::Local);
                    }
                }
                Poll::Ready(Some(Err(_))) => return Poll::Ready(End::Failed),
                Poll::Ready(None) => return Poll::Ready(End::Remote),
                Poll::Pending => {}
            }
            if !progressed {
                return Poll::Pending;
            }
        }
    })
    .await;
    let report = match end {
        End::Local => None,
        End::Remote => Some(Input::WsClosed(tag)),
        End::Failed => Some(Input::WsError(tag)),
    };
    if let Some(input) = report {
        let _ = send(&mut inputs, input).await;
    }
}

/// A frame as a WebSocket message.
fn message(frame: Frame) -> Message {
    match frame {
        Frame::Text(text) => {
            Message::Text(Utf8Bytes::try_from(text.into_bytes()).expect("ByteString is UTF-8"))
        }
        Frame::Binary(data) => Message::Binary(data),
    }
}
