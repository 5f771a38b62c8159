//! One task per connection: it owns a sans-IO session and drives it.
//!
//! The [`Driver`] future is the whole connection: it takes HTTP requests routed to its
//! session (held polls are answered through oneshot channels, matched by
//! [`RequestId`]), reads and writes the session's WebSocket, takes commands from the
//! application's bounded channel, fires the session's timer, and after every input
//! drains the session's transmits and hands its events to the [`Application`]. It is
//! generic over the session type, so the Engine.IO server and the Socket.IO server share
//! it.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use async_tungstenite::tungstenite::{Message, Utf8Bytes};
use bytes::Bytes;
use bytestring::ByteString;
use futures_channel::oneshot;
use futures_core::Stream;
use futures_sink::Sink;
use halyard_engine::engineio::server::ServerTransmit;
use halyard_engine::engineio::{Frame, HttpResponse, RequestId};
use hyper::upgrade::{OnUpgrade, Upgraded};

use crate::io::HyperIo;
use crate::runtime::Runtime;
use crate::session::TransportSession;

/// The WebSocket of a session: tungstenite over an upgraded hyper connection.
pub(crate) type WsStream = WebSocketStream<HyperIo<Upgraded>>;

/// A request for a session, routed to its driver by the HTTP service.
pub(crate) enum HttpInput {
    /// A poll GET; answered through the sender.
    Poll(oneshot::Sender<HttpResponse>),
    /// A POST with its whole body (at most `maxPayload` + one chunk).
    Post(Bytes, oneshot::Sender<HttpResponse>),
    /// A WebSocket upgrade for an existing session (the 101 is already answered).
    WebSocket(OnUpgrade),
}

/// The HTTP inputs of a session's task, the first channel of its pair.
pub(crate) type HttpSender<C> = crate::channel::Sender<HttpInput, C, crate::channel::First>;
/// The receiving side of [`HttpSender`].
pub(crate) type HttpReceiver<C> = crate::channel::Receiver<HttpInput, C, crate::channel::First>;
/// The commands to a session's task, the second channel of its pair.
pub(crate) type CommandSender<C> = crate::channel::Sender<HttpInput, C, crate::channel::Second>;
/// The receiving side of [`CommandSender`].
pub(crate) type CommandReceiver<C> = crate::channel::Receiver<HttpInput, C, crate::channel::Second>;

/// The input channels of a new session's task, in one allocation: HTTP inputs (at most
/// 4 queued) and commands (at most `commands`).
#[allow(clippy::type_complexity)]
pub(crate) fn inputs<C>(
    commands: usize,
) -> (
    (HttpSender<C>, HttpReceiver<C>),
    (CommandSender<C>, CommandReceiver<C>),
) {
    crate::channel::pair(4, commands)
}

/// How a new session's driver starts.
pub(crate) enum Initial {
    /// A polling handshake: the session's first transmit answers this GET.
    Polling(RequestId, oneshot::Sender<HttpResponse>),
    /// A WebSocket handshake: this upgrade is the session's transport.
    WebSocket(OnUpgrade),
}

/// The application side of a driven connection: commands in, events out.
pub(crate) trait Application: Send + 'static {
    /// The session driven.
    type Session: TransportSession;
    /// What the application asks of its connection.
    type Command: Send + 'static;

    /// Applies a command. `Err` hands it back when the session has no room for it now:
    /// the driver retries it after the next input and takes no other command meanwhile.
    fn handle_command(
        &mut self,
        session: &mut Self::Session,
        now: Instant,
        command: Self::Command,
    ) -> Result<(), Self::Command>;

    /// Moves the session's events to the application. `Pending` means the application
    /// is not keeping up: the driver stops reading from the client until it is woken.
    fn poll_deliver(&mut self, session: &mut Self::Session, cx: &mut Context<'_>) -> Poll<()>;

    /// Every command sender is gone.
    fn handle_commands_closed(&mut self, session: &mut Self::Session, now: Instant);

    /// The session ended and the application has seen it: the driver stops.
    fn is_done(&self) -> bool;
}

/// The server side of a driver: its settings, and where it unregisters its session
/// when it ends.
pub(crate) trait Registry: Send + Sync + 'static {
    /// The session `sid` is gone.
    fn remove(&self, sid: &str);
    /// The WebSocket settings (read when a WebSocket opens, not copied into each task).
    fn ws_config(&self) -> WebSocketConfig;
}

/// The most WebSocket messages waiting to be written before the driver stops taking
/// commands (back-pressure for the application).
const WS_OUT_HIGH_WATER: usize = 64;
/// Rounds of work done in one poll before yielding to other tasks.
const BUDGET: usize = 64;
/// How long a WebSocket being closed may take to say goodbye.
const WS_CLOSE_GRACE: Duration = Duration::from_secs(5);

type PendingWs = Pin<Box<dyn Future<Output = Option<WsStream>> + Send>>;

pin_project_lite::pin_project! {
    /// The task of one connection (see the module documentation).
    pub(crate) struct Driver<R: Runtime, A: Application> {
        core: Core<R, A>,
        #[pin]
        http: HttpReceiver<A::Command>,
        #[pin]
        commands: CommandReceiver<A::Command>,
        #[pin]
        sleep: Option<R::Sleep>,
    }
}

struct Core<R: Runtime, A: Application> {
    rt: R,
    session: A::Session,
    app: A,
    registry: Arc<dyn Registry>,
    /// Held polls and pending upgrades: boxed, as an idle WebSocket connection has none
    /// (`None` whenever both are empty).
    cold: Option<Box<Cold>>,
    ws: Option<WsStream>,
    ws_out: VecDeque<Message>,
    ws_unflushed: bool,
    /// Boxed: rare, and a command is large (it would sit in every driver task).
    stalled: Option<Box<A::Command>>,
    commands_closed: bool,
    deadline: Option<Instant>,
}

/// The parts of a driver that an idle WebSocket connection does not use.
#[derive(Default)]
struct Cold {
    held: Vec<(RequestId, oneshot::Sender<HttpResponse>)>,
    /// Upgrades answered 101 whose connection is not handed over yet (`true`: the
    /// session's own transport from a WebSocket handshake).
    upgrades: Vec<(bool, PendingWs)>,
}

impl<R: Runtime, A: Application> Driver<R, A> {
    /// A driver for a session that has just been opened.
    pub(crate) fn new(
        rt: R,
        session: A::Session,
        app: A,
        initial: Initial,
        http: HttpReceiver<A::Command>,
        commands: CommandReceiver<A::Command>,
        registry: Arc<dyn Registry>,
    ) -> Self {
        let mut core = Core {
            rt,
            session,
            app,
            registry,
            cold: None,
            ws: None,
            ws_out: VecDeque::new(),
            ws_unflushed: false,
            stalled: None,
            commands_closed: false,
            deadline: None,
        };
        match initial {
            Initial::Polling(id, reply) => core.cold().held.push((id, reply)),
            Initial::WebSocket(upgrade) => {
                let pending = core.websocket(upgrade);
                core.cold().upgrades.push((true, pending));
            }
        }
        core.drain_transmits();
        Self {
            core,
            http,
            commands,
            sleep: None,
        }
    }
}

impl<R: Runtime, A: Application> Future for Driver<R, A> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let core = this.core;
        for _ in 0..BUDGET {
            let now = core.rt.now();
            let mut progress = false;

            // Time.
            match core.session.poll_timeout() {
                None => {
                    core.deadline = None;
                    this.sleep.set(None);
                }
                Some(deadline) if deadline <= now => {
                    core.session.handle_timeout(now);
                    core.drain_transmits();
                    progress = true;
                }
                Some(deadline) => {
                    if core.deadline != Some(deadline) {
                        core.deadline = Some(deadline);
                        this.sleep.set(Some(core.rt.sleep_until(deadline)));
                    }
                    if let Some(sleep) = this.sleep.as_mut().as_pin_mut()
                        && sleep.poll(cx).is_ready()
                    {
                        core.deadline = None;
                        this.sleep.set(None);
                        core.session.handle_timeout(now.max(deadline));
                        core.drain_transmits();
                        progress = true;
                    }
                }
            }

            // Held requests whose client went away.
            progress |= core.poll_aborted(now, cx);

            // Events to the application; while it is not keeping up, read nothing more.
            let app_ready = core.app.poll_deliver(&mut core.session, cx).is_ready();
            if app_ready {
                if let Poll::Ready(Some(input)) = this.http.as_mut().poll_next(cx) {
                    core.handle_http(now, input);
                    progress = true;
                }
                progress |= core.poll_ws_read(now, cx);
            }
            progress |= core.poll_upgrades(now, cx);

            // Commands from the application, unless the transport is backed up.
            if let Some(command) = core.stalled.take() {
                core.command(now, *command);
                progress |= core.stalled.is_none();
            }
            if core.stalled.is_none()
                && !core.commands_closed
                && core.ws_out.len() < WS_OUT_HIGH_WATER
            {
                match this.commands.as_mut().poll_next(cx) {
                    Poll::Ready(Some(command)) => {
                        core.command(now, command);
                        progress = true;
                    }
                    Poll::Ready(None) => {
                        core.commands_closed = true;
                        core.app.handle_commands_closed(&mut core.session, now);
                        core.drain_transmits();
                        progress = true;
                    }
                    Poll::Pending => {}
                }
            }

            progress |= core.poll_ws_write(now, cx);

            if core.app.is_done() {
                return Poll::Ready(());
            }
            if !progress {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<R: Runtime, A: Application> Core<R, A> {
    /// The cold parts, allocated if they were not.
    fn cold(&mut self) -> &mut Cold {
        self.cold.get_or_insert_with(Box::default)
    }

    /// Frees the cold parts once nothing is held or pending.
    fn release_cold(&mut self) {
        if self
            .cold
            .as_ref()
            .is_some_and(|c| c.held.is_empty() && c.upgrades.is_empty())
        {
            self.cold = None;
        }
    }

    /// Writes what the session transmits: HTTP answers to held requests, WebSocket
    /// frames to the outgoing queue, WebSocket closes.
    fn drain_transmits(&mut self) {
        while let Some(transmit) = self.session.poll_transmit() {
            match transmit {
                ServerTransmit::Http { request, response } => {
                    let held = self.cold.as_mut().and_then(|cold| {
                        let i = cold.held.iter().position(|(id, _)| *id == request)?;
                        let (_, reply) = cold.held.swap_remove(i);
                        if cold.held.is_empty() {
                            cold.held = Vec::new();
                        }
                        Some(reply)
                    });
                    match held {
                        Some(reply) => {
                            self.release_cold();
                            let _ = reply.send(response);
                        }
                        None => tracing::trace!(?request, "answer for a request no longer held"),
                    }
                }
                ServerTransmit::WebSocket(frame) => self.ws_out.push_back(message(frame)),
                ServerTransmit::CloseWebSocket => self.close_ws(),
            }
        }
    }

    fn command(&mut self, now: Instant, command: A::Command) {
        if let Err(command) = self.app.handle_command(&mut self.session, now, command) {
            self.stalled = Some(Box::new(command));
        }
        self.drain_transmits();
    }

    fn handle_http(&mut self, now: Instant, input: HttpInput) {
        match input {
            HttpInput::Poll(reply) => {
                let id = self.session.handle_poll(now);
                self.cold().held.push((id, reply));
            }
            HttpInput::Post(body, reply) => {
                let id = self.session.handle_post(now, body);
                self.cold().held.push((id, reply));
            }
            HttpInput::WebSocket(upgrade) => {
                let pending = self.websocket(upgrade);
                self.cold().upgrades.push((false, pending));
            }
        }
        self.drain_transmits();
    }

    fn poll_aborted(&mut self, now: Instant, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        let mut i = 0;
        while let Some(cold) = self.cold.as_mut()
            && i < cold.held.len()
        {
            if cold.held[i].1.poll_canceled(cx).is_ready() {
                let (id, _) = cold.held.swap_remove(i);
                self.release_cold();
                tracing::debug!(
                    sid = self.session.sid(),
                    ?id,
                    "request aborted by the client"
                );
                let _ = self.session.handle_request_aborted(now, id);
                self.drain_transmits();
                progress = true;
            } else {
                i += 1;
            }
        }
        progress
    }

    /// The WebSocket over an upgrade, once hyper hands the connection over.
    fn websocket(&self, upgrade: OnUpgrade) -> PendingWs {
        let config = self.registry.ws_config();
        Box::pin(async move {
            match upgrade.await {
                Ok(upgraded) => Some(
                    WebSocketStream::from_raw_socket(
                        HyperIo::new(upgraded),
                        Role::Server,
                        Some(config),
                    )
                    .await,
                ),
                Err(error) => {
                    tracing::debug!(%error, "WebSocket upgrade failed");
                    None
                }
            }
        })
    }

    fn poll_upgrades(&mut self, now: Instant, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        let mut i = 0;
        while let Some(cold) = self.cold.as_mut()
            && i < cold.upgrades.len()
        {
            let Poll::Ready(ws) = cold.upgrades[i].1.as_mut().poll(cx) else {
                i += 1;
                continue;
            };
            let (initial, _) = cold.upgrades.swap_remove(i);
            if cold.upgrades.is_empty() {
                cold.upgrades = Vec::new();
            }
            self.release_cold();
            progress = true;
            match (initial, ws) {
                (true, Some(ws)) => self.ws = Some(ws),
                (true, None) => self.session.handle_ws_closed(now),
                (false, Some(ws)) => match self.session.handle_ws_open(now) {
                    Ok(()) => {
                        if let Some(old) = self.ws.replace(ws) {
                            self.spawn_close(old, VecDeque::new());
                        }
                    }
                    Err(error) => {
                        tracing::debug!(sid = self.session.sid(), %error, "WebSocket refused");
                        self.spawn_close(ws, VecDeque::new());
                    }
                },
                (false, None) => {}
            }
            self.drain_transmits();
        }
        progress
    }

    fn poll_ws_read(&mut self, now: Instant, cx: &mut Context<'_>) -> bool {
        let Some(ws) = self.ws.as_mut() else {
            return false;
        };
        let frame = match Pin::new(ws).poll_next(cx) {
            Poll::Pending => return false,
            Poll::Ready(Some(Ok(message))) => match message {
                Message::Text(text) => {
                    match ByteString::try_from(Bytes::from(text)) {
                        Ok(text) => Some(Frame::Text(text)),
                        Err(_) => None, // tungstenite checked UTF-8 already
                    }
                }
                Message::Binary(data) => Some(Frame::Binary(data)),
                // Control frames are tungstenite's business.
                Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => {
                    return true;
                }
            },
            Poll::Ready(Some(Err(error))) => {
                tracing::debug!(sid = self.session.sid(), %error, "WebSocket error");
                None
            }
            Poll::Ready(None) => None,
        };
        match frame {
            Some(frame) => self.session.handle_ws_frame(now, frame),
            None => self.ws_gone(now),
        }
        self.drain_transmits();
        true
    }

    fn poll_ws_write(&mut self, now: Instant, cx: &mut Context<'_>) -> bool {
        let Some(ws) = self.ws.as_mut() else {
            return false;
        };
        let mut ws = Pin::new(ws);
        let mut failed = None;
        while !self.ws_out.is_empty() {
            match ws.as_mut().poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    let message = self.ws_out.pop_front().expect("not empty");
                    self.ws_unflushed = true;
                    if let Err(error) = ws.as_mut().start_send(message) {
                        failed = Some(error);
                        break;
                    }
                }
                Poll::Ready(Err(error)) => {
                    failed = Some(error);
                    break;
                }
                Poll::Pending => break,
            }
        }
        if self.ws_out.is_empty() && self.ws_out.capacity() > 0 {
            // An idle connection holds no buffer.
            self.ws_out = VecDeque::new();
        }
        if failed.is_none() && self.ws_unflushed {
            match ws.as_mut().poll_flush(cx) {
                Poll::Ready(Ok(())) => self.ws_unflushed = false,
                Poll::Ready(Err(error)) => failed = Some(error),
                Poll::Pending => {}
            }
        }
        match failed {
            None => false,
            Some(error) => {
                tracing::debug!(sid = self.session.sid(), %error, "WebSocket write failed");
                self.ws_gone(now);
                self.drain_transmits();
                true
            }
        }
    }

    /// The WebSocket closed or failed: forget it and tell the session.
    fn ws_gone(&mut self, now: Instant) {
        self.ws = None;
        self.ws_out.clear();
        self.ws_unflushed = false;
        self.session.handle_ws_closed(now);
    }

    /// The session closes its WebSocket: what it still has to say, then a close
    /// handshake, in a task of its own, bounded in time.
    fn close_ws(&mut self) {
        let frames = std::mem::take(&mut self.ws_out);
        self.ws_unflushed = false;
        match self.ws.take() {
            Some(ws) => self.spawn_close(ws, frames),
            None => tracing::trace!("no WebSocket to close"),
        }
    }

    fn spawn_close(&self, mut ws: WsStream, frames: VecDeque<Message>) {
        let deadline = self.rt.now() + WS_CLOSE_GRACE;
        let sleep = self.rt.sleep_until(deadline);
        self.rt.spawn(async move {
            let goodbye = async move {
                for message in frames {
                    if ws.send(message).await.is_err() {
                        return;
                    }
                }
                if ws.close(None).await.is_ok() {
                    // Wait for the client's close frame (or the end of the connection).
                    while let Some(Ok(_)) = futures_lite::StreamExt::next(&mut ws).await {}
                }
            };
            futures_lite::future::or(goodbye, sleep).await;
        });
    }
}

impl<R: Runtime, A: Application> Drop for Core<R, A> {
    fn drop(&mut self) {
        self.registry.remove(self.session.sid());
    }
}

/// An encoded Engine.IO frame as a WebSocket message.
fn message(frame: Frame) -> Message {
    match frame {
        Frame::Text(text) => {
            Message::Text(Utf8Bytes::try_from(text.into_bytes()).expect("ByteString is UTF-8"))
        }
        Frame::Binary(data) => Message::Binary(data),
    }
}
