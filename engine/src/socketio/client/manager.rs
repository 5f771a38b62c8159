//! The [`Manager`]: one Engine.IO connection, reconnection, and the namespace sockets on it.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;
use halyard_protocol::socketio::{Args, Decoder, Encoded, Event as SocketIoEvent, Packet, RawJson};

use super::backoff::Backoff;
use super::config::{EmitOptions, ManagerConfig, SocketOptions};
use super::error::Error;
use super::event::{AckError, AckId, ConnectError, ConnectionId, Event, SocketId, Transmit};
use super::socket::{
    AckKind, Buffered, PendingAck, Queued, Socket, connect_answer, connect_error, is_object,
    last_string,
};
use crate::engineio::client::ClientConnection;
use crate::engineio::{self, CloseReason, Frame, RequestId, SeededRng};
use crate::socketio::DisconnectReason;

/// socket.io-client's `readyState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ready {
    Closed,
    Opening,
    Open,
}

/// A Socket.IO client: socket.io-client's `Manager` and the namespace `Socket`s it
/// multiplexes on one Engine.IO connection, as one sans-IO state machine.
///
/// # Driving contract
///
/// The manager owns its [`ClientConnection`] (and creates a fresh one for every
/// reconnection), so a driver deals with this one object:
///
/// - **Commands** from the application: [`socket`](Self::socket) (create a namespace
///   socket, connecting it when [`ManagerConfig::auto_connect`]), [`connect`](Self::connect),
///   [`disconnect`](Self::disconnect), [`emit`](Self::emit), [`ack`](Self::ack),
///   [`set_auth`](Self::set_auth), [`open`](Self::open), [`close`](Self::close).
/// - **Transport inputs**, each under the [`ConnectionId`] of the [`Transmit`] that asked
///   for the work: [`handle_get_response`](Self::handle_get_response),
///   [`handle_post_response`](Self::handle_post_response),
///   [`handle_request_failed`](Self::handle_request_failed),
///   [`handle_ws_opened`](Self::handle_ws_opened), [`handle_ws_frame`](Self::handle_ws_frame),
///   [`handle_ws_closed`](Self::handle_ws_closed), [`handle_ws_error`](Self::handle_ws_error),
///   and [`handle_timeout`](Self::handle_timeout) when [`poll_timeout`](Self::poll_timeout)
///   passes. Inputs for a connection that is gone are ignored, so the driver never has
///   to sort out stale answers.
/// - **After every input or command, drain every output**: [`poll_transmit`](Self::poll_transmit)
///   until `None` (HTTP requests, WebSocket actions, aborts, each tagged with its
///   connection), then [`poll_event`](Self::poll_event) until `None`, then re-arm the
///   single timer from [`poll_timeout`](Self::poll_timeout).
///
/// Every input that depends on time takes `now`; the manager never reads a clock and
/// draws reconnection jitter from a [`SeededRng`] seeded at construction, so a run
/// replays exactly.
///
/// # socket.io concepts
///
/// | socket.io-client | here |
/// |---|---|
/// | `Manager` (`io.Manager`, one per origin) | [`Manager`] |
/// | `manager.socket(nsp, { auth })` | [`socket`](Self::socket) → [`SocketId`] |
/// | `socket.emit(ev, …args)` / `.volatile` / `.timeout(ms)` / ack callback | [`emit`](Self::emit) with [`EmitOptions`] → `Option<`[`AckId`]`>` |
/// | the ack callback `(err, …args)` | [`Event::AckReceived`] / [`Event::AckFailed`] |
/// | answering a server `emitWithAck` | [`Event::Received`]'s `ack_id` → [`ack`](Self::ack) |
/// | `retries` + `ackTimeout` | [`SocketOptions`]; resends are internal |
/// | `socket.active`, `.connected`, `.id`, `.recovered` | [`active`](Self::active), [`connected`](Self::connected), [`id`](Self::id), [`recovered`](Self::recovered) |
/// | reconnection (`reconnectionDelay`, …) | [`ManagerConfig`]; [`Event::ReconnectAttempt`] … [`Event::ReconnectFailed`] |
/// | connection state recovery (`pid`, offset) | tracked per socket; [`Event::Connect`]`{ recovered }` |
///
/// # Auth
///
/// socket.io-client accepts an auth object or a function called before every CONNECT.
/// Here auth is data ([`SocketOptions::auth`]), sent with every CONNECT, the first and each
/// one after a reconnection. A driver that computes auth per attempt replaces it with
/// [`set_auth`](Self::set_auth) when it sees [`Event::ReconnectAttempt`]: CONNECT goes
/// out only after the new Engine.IO handshake completes, which is a later input.
///
/// # Deliberate differences from socket.io-client 4.8
///
/// - A socket that never connected gets no [`Event::Disconnect`] when the connection
///   closes (socket.io-client emits `disconnect` to every active socket).
/// - Every pending ack is reported on disconnect, also those without a timeout (a
///   plain callback is silently forgotten by socket.io-client).
/// - A volatile emit is dropped when its socket is not connected (socket.io-client
///   buffers it when the transport happens to be writable); a dropped emit's ack fails
///   at once with [`AckError::Dropped`].
/// - [`connect`](Self::connect) on a socket already waiting for its CONNECT answer does
///   not send a second CONNECT.
/// - A queued emit (retries) takes its [`AckId`] from the socket's ack counter when it is
///   queued and uses it as the wire id of its first try; each resend takes a fresh id
///   (socket.io-client numbers only the tries). Wire ids stay unique per socket.
/// - A CONNECT_ERROR for a namespace that is already joined also disconnects the socket
///   (`io server disconnect`), so `connected` never outlives `active`.
/// - Backoff overflow yields `delayMax` rather than JavaScript's `NaN | 0 = 0`.
#[derive(Debug)]
pub struct Manager {
    config: ManagerConfig,
    rng: SeededRng,
    backoff: Backoff,
    /// The time of the latest input.
    now: Option<Instant>,
    ready: Ready,
    conn: Option<(ConnectionId, ClientConnection)>,
    /// Closed or closing connections whose last transmits still go out.
    retiring: Vec<(ConnectionId, ClientConnection)>,
    next_conn: u64,
    skip_reconnect: bool,
    reconnecting: bool,
    /// The current open is a reconnection attempt (socket.io-client's `open(fn)`).
    attempt_open: bool,
    reconnect_at: Option<Instant>,
    decoder: Decoder,
    sockets: Vec<Socket>,
    ack_deadlines: BTreeSet<(Instant, SocketId, u64)>,
    events: VecDeque<Event>,
}

impl Manager {
    /// A closed manager; it opens with the first [`socket`](Self::socket) (or
    /// [`open`](Self::open)). `seed` seeds the reconnection jitter.
    pub fn new(config: ManagerConfig, seed: u64) -> Self {
        let backoff = Backoff::new(
            config.reconnection_delay,
            config.reconnection_delay_max,
            config.randomization_factor,
        );
        Self {
            config,
            rng: SeededRng::new(seed),
            backoff,
            now: None,
            ready: Ready::Closed,
            conn: None,
            retiring: Vec::new(),
            next_conn: 0,
            skip_reconnect: false,
            reconnecting: false,
            attempt_open: false,
            reconnect_at: None,
            decoder: Decoder::new(),
            sockets: Vec::new(),
            ack_deadlines: BTreeSet::new(),
            events: VecDeque::new(),
        }
    }

    // ----- queries -------------------------------------------------------------------------

    /// The settings.
    pub fn config(&self) -> &ManagerConfig {
        &self.config
    }

    /// Whether the Engine.IO connection is open (`readyState === "open"`).
    pub fn is_open(&self) -> bool {
        self.ready == Ready::Open
    }

    /// Whether nothing is left on the wire: no connection, none still closing, no
    /// reconnection scheduled. A driver shutting down after [`close`](Self::close) runs
    /// until this holds, so the last packets (DISCONNECT, the close packet) go out.
    pub fn is_idle(&self) -> bool {
        self.conn.is_none() && self.retiring.is_empty() && self.reconnect_at.is_none()
    }

    /// Whether a reconnection is scheduled or being attempted.
    pub fn is_reconnecting(&self) -> bool {
        self.reconnecting
    }

    /// The current Engine.IO connection, if any.
    pub fn connection(&self) -> Option<(ConnectionId, &ClientConnection)> {
        self.conn.as_ref().map(|(id, conn)| (*id, conn))
    }

    /// The socket of namespace `nsp`, if one was created.
    pub fn socket_of(&self, nsp: &str) -> Option<SocketId> {
        self.sockets
            .iter()
            .position(|s| &s.nsp[..] == nsp)
            .map(|i| SocketId(i as u32))
    }

    /// The namespace of `socket`.
    pub fn nsp(&self, socket: SocketId) -> Result<&str, Error> {
        Ok(&self.get(socket)?.nsp)
    }

    /// Whether `socket` takes part in (re)connections: true from
    /// [`connect`](Self::connect) until [`disconnect`](Self::disconnect), a server
    /// DISCONNECT or a CONNECT_ERROR (`socket.active`). A transport failure leaves it active.
    pub fn active(&self, socket: SocketId) -> Result<bool, Error> {
        Ok(self.get(socket)?.active)
    }

    /// Whether `socket` has joined its namespace (`socket.connected`).
    pub fn connected(&self, socket: SocketId) -> Result<bool, Error> {
        Ok(self.get(socket)?.connected)
    }

    /// The Socket.IO id of `socket` while connected (`socket.id`).
    pub fn id(&self, socket: SocketId) -> Result<Option<&str>, Error> {
        Ok(self.get(socket)?.sid.as_deref())
    }

    /// Whether the last connect of `socket` restored its previous session (`socket.recovered`).
    pub fn recovered(&self, socket: SocketId) -> Result<bool, Error> {
        Ok(self.get(socket)?.recovered)
    }

    /// The recovery session of `socket`: the private id and the last offset seen, once the
    /// server offered connection state recovery.
    pub fn recovery_state(&self, socket: SocketId) -> Result<Option<(&str, Option<&str>)>, Error> {
        let s = self.get(socket)?;
        Ok(s.pid.as_deref().map(|pid| (pid, s.last_offset.as_deref())))
    }

    /// Emits buffered while `socket` is not connected.
    pub fn buffered(&self, socket: SocketId) -> Result<usize, Error> {
        Ok(self.get(socket)?.send_buffer.len())
    }

    /// Emits in the retries queue of `socket`, the one in flight included.
    pub fn queued(&self, socket: SocketId) -> Result<usize, Error> {
        Ok(self.get(socket)?.queue.len())
    }

    // ----- commands --------------------------------------------------------------------------

    /// The socket for namespace `nsp` (`manager.socket(nsp, opts)`): created with `options`
    /// and, with [`ManagerConfig::auto_connect`], connected (which opens the manager). An
    /// existing socket is returned as it is (its options unchanged), reconnected when
    /// auto-connecting and inactive.
    pub fn socket(
        &mut self,
        now: Instant,
        nsp: &str,
        options: SocketOptions,
    ) -> Result<SocketId, Error> {
        self.now = Some(now);
        if let Some(id) = self.socket_of(nsp) {
            if self.config.auto_connect && !self.sockets[id.index()].active {
                self.connect(now, id)?;
            }
            return Ok(id);
        }
        if !nsp.starts_with('/') || nsp.contains(',') {
            return Err(Error::InvalidNamespace(nsp.to_owned()));
        }
        if options.auth.as_ref().is_some_and(|a| !is_object(a)) {
            return Err(Error::InvalidAuth);
        }
        let id = SocketId(u32::try_from(self.sockets.len()).expect("fewer than 2^32 sockets"));
        self.sockets
            .push(Socket::new(ByteString::from(nsp), options));
        if self.config.auto_connect {
            self.connect(now, id)?;
        }
        Ok(id)
    }

    /// Replaces the auth payload (a JSON object) that the next CONNECT of `socket` carries.
    pub fn set_auth(&mut self, socket: SocketId, auth: Option<RawJson>) -> Result<(), Error> {
        if auth.as_ref().is_some_and(|a| !is_object(a)) {
            return Err(Error::InvalidAuth);
        }
        self.get_mut(socket)?.auth = auth;
        Ok(())
    }

    /// Connects `socket` (`socket.connect()`): it becomes active, the manager opens if it
    /// is closed and not waiting to reconnect, and CONNECT goes out once the Engine.IO
    /// connection is open.
    pub fn connect(&mut self, now: Instant, socket: SocketId) -> Result<(), Error> {
        self.now = Some(now);
        let i = self.index(socket)?;
        if self.sockets[i].connected {
            return Ok(());
        }
        self.sockets[i].active = true;
        if !self.reconnecting {
            self.open_engine(now, false);
        }
        if self.ready == Ready::Open {
            self.socket_onopen(i);
        }
        self.pump();
        Ok(())
    }

    /// Disconnects `socket` (`socket.disconnect()`): DISCONNECT goes out if it was
    /// connected ([`Event::Disconnect`] with `io client disconnect`), it becomes inactive,
    /// and the manager closes when no socket is active any more. Its send buffer and
    /// retries queue are kept for a later [`connect`](Self::connect).
    pub fn disconnect(&mut self, now: Instant, socket: SocketId) -> Result<(), Error> {
        self.now = Some(now);
        let i = self.index(socket)?;
        let connected = self.sockets[i].connected;
        if connected {
            let nsp = self.sockets[i].nsp.clone();
            self.send_packet(&Packet::Disconnect { nsp });
        }
        self.destroy(i);
        if connected {
            self.socket_onclose(i, DisconnectReason::IoClientDisconnect);
        }
        self.pump();
        Ok(())
    }

    /// Opens the Engine.IO connection if it is closed (`manager.open()`).
    pub fn open(&mut self, now: Instant) {
        self.now = Some(now);
        self.open_engine(now, false);
        self.pump();
    }

    /// Closes the Engine.IO connection for good (`manager.disconnect()`): no reconnection;
    /// [`Event::Close`] with `forced close`, and [`Event::Disconnect`] to every connected
    /// socket.
    pub fn close(&mut self, now: Instant) {
        self.now = Some(now);
        self.force_close();
        self.pump();
    }

    /// Emits `event` on `socket`.
    ///
    /// Connected: it goes out now. Not connected: it waits in the send buffer and goes
    /// out, in order, right after the next CONNECT answer (unless `volatile`, then it is
    /// dropped). With [`SocketOptions::retries`], non-volatile emits go through the
    /// retries queue instead. Returns the [`AckId`] its outcome will be reported under
    /// when [`EmitOptions::ack`] is set.
    pub fn emit(
        &mut self,
        now: Instant,
        socket: SocketId,
        event: SocketIoEvent,
        options: EmitOptions,
    ) -> Result<Option<AckId>, Error> {
        self.now = Some(now);
        let i = self.index(socket)?;
        let result = if self.sockets[i].retries > 0 && !options.volatile {
            let s = &mut self.sockets[i];
            let handle = s.take_id();
            s.queue.push_back(Queued {
                handle,
                event,
                tries: 0,
                pending: false,
                wants_ack: options.ack,
                timeout: options.timeout,
            });
            self.drain_queue(i, false);
            Ok(options.ack.then_some(AckId(handle)))
        } else {
            let kind = options.ack.then_some(AckKind::Direct);
            self.emit_packet(i, event, kind, options.timeout, options.volatile)
                .map(|id| id.map(AckId))
        };
        self.pump();
        result
    }

    /// Answers the server event that carried `ack_id` (see [`Event::Received`]). Answer
    /// each at most once; an answer while the connection is down is dropped.
    pub fn ack(
        &mut self,
        now: Instant,
        socket: SocketId,
        ack_id: u64,
        args: Args,
    ) -> Result<(), Error> {
        self.now = Some(now);
        let nsp = self.get(socket)?.nsp.clone();
        let packet = Packet::Ack { nsp, ack_id, args };
        packet.encode()?;
        self.send_packet(&packet);
        self.pump();
        Ok(())
    }

    // ----- transport inputs -----------------------------------------------------------------

    /// The answer to the GET `request` of `connection`.
    pub fn handle_get_response(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        request: RequestId,
        status: u16,
        body: Bytes,
    ) -> Result<(), Error> {
        self.route(now, connection, |c| {
            c.handle_get_response(now, request, status, body)
        })
    }

    /// The answer to the POST `request` of `connection`.
    pub fn handle_post_response(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        request: RequestId,
        status: u16,
    ) -> Result<(), Error> {
        self.route(now, connection, |c| {
            c.handle_post_response(now, request, status)
        })
    }

    /// The request `request` of `connection` failed without an answer.
    pub fn handle_request_failed(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        request: RequestId,
    ) -> Result<(), Error> {
        self.route(now, connection, |c| c.handle_request_failed(now, request))
    }

    /// The WebSocket of `connection` is open.
    pub fn handle_ws_opened(
        &mut self,
        now: Instant,
        connection: ConnectionId,
    ) -> Result<(), Error> {
        self.route(now, connection, |c| c.handle_ws_opened(now))
    }

    /// A frame arrived on the WebSocket of `connection`.
    pub fn handle_ws_frame(&mut self, now: Instant, connection: ConnectionId, frame: Frame) {
        let _ = self.route(now, connection, |c| {
            c.handle_ws_frame(now, frame);
            Ok(())
        });
    }

    /// The WebSocket of `connection` closed.
    pub fn handle_ws_closed(&mut self, now: Instant, connection: ConnectionId) {
        let _ = self.route(now, connection, |c| {
            c.handle_ws_closed(now);
            Ok(())
        });
    }

    /// The WebSocket of `connection` failed or could not be opened.
    pub fn handle_ws_error(&mut self, now: Instant, connection: ConnectionId) {
        let _ = self.route(now, connection, |c| {
            c.handle_ws_error(now);
            Ok(())
        });
    }

    /// Runs every deadline at or before `now`: the Engine.IO timers (heartbeat, connect
    /// timeout), ack timeouts (and retries), and the reconnection delay.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = Some(now);
        for (_, conn) in &mut self.retiring {
            conn.handle_timeout(now);
        }
        if let Some((_, conn)) = &mut self.conn {
            conn.handle_timeout(now);
        }
        self.pump();
        while let Some(&(at, socket, id)) = self.ack_deadlines.first() {
            if at > now {
                break;
            }
            self.ack_deadlines.pop_first();
            self.ack_timed_out(socket.index(), id);
        }
        if self.reconnect_at.is_some_and(|at| at <= now) {
            self.reconnect_at = None;
            if !self.skip_reconnect {
                self.events
                    .push_back(Event::ReconnectAttempt(self.backoff.attempts()));
                self.open_engine(now, true);
            }
        }
        self.pump();
    }

    // ----- outputs ---------------------------------------------------------------------------

    /// The next transport action. Call until `None` after every input.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let mut k = 0;
        while k < self.retiring.len() {
            let (id, conn) = &mut self.retiring[k];
            if let Some(action) = conn.poll_transmit() {
                return Some(Transmit {
                    connection: *id,
                    action,
                });
            }
            while conn.poll_event().is_some() {}
            if conn.is_closed() {
                self.retiring.remove(k);
            } else {
                k += 1;
            }
        }
        let (id, conn) = self.conn.as_mut()?;
        if let Some(action) = conn.poll_transmit() {
            return Some(Transmit {
                connection: *id,
                action,
            });
        }
        // Flushing may have ended the connection (a queue overflow): handle its events;
        // a retired connection still has its aborts to send.
        self.pump();
        if self.conn.is_none() && !self.retiring.is_empty() {
            return self.poll_transmit();
        }
        None
    }

    /// The next event for the application. Call until `None` after every input.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next deadline: call [`handle_timeout`](Self::handle_timeout) when it passes.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let conns = self
            .conn
            .iter()
            .chain(&self.retiring)
            .filter_map(|(_, c)| c.poll_timeout());
        conns
            .chain(self.reconnect_at)
            .chain(self.ack_deadlines.first().map(|(at, _, _)| *at))
            .min()
    }

    // ----- internals: the connection --------------------------------------------------------

    fn get(&self, socket: SocketId) -> Result<&Socket, Error> {
        self.sockets.get(socket.index()).ok_or(Error::UnknownSocket)
    }

    fn get_mut(&mut self, socket: SocketId) -> Result<&mut Socket, Error> {
        self.sockets
            .get_mut(socket.index())
            .ok_or(Error::UnknownSocket)
    }

    fn index(&self, socket: SocketId) -> Result<usize, Error> {
        self.get(socket).map(|_| socket.index())
    }

    /// The latest Engine.IO connection: the one every packet comes from (a retired
    /// connection's input is never decoded).
    fn latest(&self) -> ConnectionId {
        ConnectionId(self.next_conn)
    }

    fn now(&self) -> Instant {
        self.now.expect("every input records its time first")
    }

    fn route(
        &mut self,
        now: Instant,
        connection: ConnectionId,
        f: impl FnOnce(&mut ClientConnection) -> Result<(), engineio::Error>,
    ) -> Result<(), Error> {
        self.now = Some(now);
        match &mut self.conn {
            Some((id, conn)) if *id == connection => {
                let result = f(conn);
                self.pump();
                result.map_err(Error::from)
            }
            _ => {
                if let Some((_, conn)) = self.retiring.iter_mut().find(|(id, _)| *id == connection)
                {
                    let _ = f(conn);
                    while conn.poll_event().is_some() {}
                }
                Ok(())
            }
        }
    }

    /// Handles the current connection's events.
    fn pump(&mut self) {
        loop {
            let Some((_, conn)) = &mut self.conn else {
                return;
            };
            for _ in 0..conn.take_pings() {
                self.events.push_back(Event::Ping);
            }
            let Some((_, conn)) = &mut self.conn else {
                return;
            };
            let Some(event) = conn.poll_event() else {
                return;
            };
            match event {
                engineio::Event::Opened(_) => self.onopen(),
                engineio::Event::Message(text) => {
                    let decoded = self.decoder.decode_text(text);
                    self.ondecoded(decoded);
                }
                engineio::Event::Binary(data) => {
                    let decoded = self.decoder.decode_binary(data);
                    self.ondecoded(decoded);
                }
                engineio::Event::Upgraded => {}
                engineio::Event::Closed(reason) => {
                    self.retire();
                    if self.ready == Ready::Opening {
                        self.open_error(reason);
                    } else {
                        if reason == CloseReason::TransportError {
                            self.emit_error(reason);
                        }
                        self.onclose(DisconnectReason::from(reason));
                    }
                }
            }
        }
    }

    /// Moves the current connection to the retiring list, closing it if it is still up.
    fn retire(&mut self) {
        if let Some((id, mut conn)) = self.conn.take() {
            if !conn.is_closed() {
                conn.close(self.now());
            }
            while conn.poll_event().is_some() {}
            self.retiring.push((id, conn));
        }
    }

    /// `open(fn)`: a new Engine.IO connection, unless one is open or opening.
    fn open_engine(&mut self, now: Instant, attempt: bool) {
        if self.ready != Ready::Closed {
            return;
        }
        self.next_conn += 1;
        let id = ConnectionId(self.next_conn);
        self.conn = Some((id, ClientConnection::new(self.config.engine.clone(), now)));
        self.ready = Ready::Opening;
        self.skip_reconnect = false;
        self.attempt_open = attempt;
    }

    fn cleanup(&mut self) {
        self.reconnect_at = None;
        self.decoder.reset();
    }

    fn onopen(&mut self) {
        self.cleanup();
        self.ready = Ready::Open;
        let connection = self.latest();
        self.events.push_back(Event::Open { connection });
        for i in 0..self.sockets.len() {
            if self.sockets[i].active {
                self.socket_onopen(i);
            }
        }
        if std::mem::take(&mut self.attempt_open) {
            let attempts = self.backoff.attempts();
            self.reconnecting = false;
            self.backoff.reset();
            self.events.push_back(Event::Reconnect(attempts));
        }
    }

    /// The Engine.IO connection failed before opening.
    fn open_error(&mut self, reason: CloseReason) {
        self.cleanup();
        self.ready = Ready::Closed;
        self.emit_error(reason);
        if std::mem::take(&mut self.attempt_open) {
            self.reconnecting = false;
            self.reconnect();
            self.events.push_back(Event::ReconnectError(reason));
        } else if !self.reconnecting && self.config.reconnection && self.backoff.attempts() == 0 {
            self.reconnect();
        }
    }

    /// The manager's `error` event, seen by every active socket not yet connected.
    fn emit_error(&mut self, reason: CloseReason) {
        self.events.push_back(Event::Error(reason));
        for (i, s) in self.sockets.iter().enumerate() {
            if s.active && !s.connected {
                self.events.push_back(Event::ConnectError {
                    socket: SocketId(i as u32),
                    error: ConnectError::Transport(reason),
                    active: true,
                });
            }
        }
    }

    /// `onclose(reason)`.
    fn onclose(&mut self, reason: DisconnectReason) {
        self.cleanup();
        self.attempt_open = false;
        self.retire();
        self.backoff.reset();
        self.ready = Ready::Closed;
        self.events.push_back(Event::Close(reason));
        for i in 0..self.sockets.len() {
            if self.sockets[i].active {
                self.socket_onclose(i, reason);
            }
        }
        if self.config.reconnection && !self.skip_reconnect {
            self.reconnect();
        }
    }

    fn reconnect(&mut self) {
        if self.reconnecting || self.skip_reconnect {
            return;
        }
        let exhausted = self
            .config
            .reconnection_attempts
            .is_some_and(|max| self.backoff.attempts() >= max);
        if exhausted {
            self.backoff.reset();
            self.events.push_back(Event::ReconnectFailed);
            self.reconnecting = false;
        } else {
            let delay = self.backoff.duration(&mut self.rng);
            self.reconnecting = true;
            self.reconnect_at = Some(self.now() + delay);
        }
    }

    /// `_close()`.
    fn force_close(&mut self) {
        self.skip_reconnect = true;
        self.reconnecting = false;
        self.onclose(DisconnectReason::ForcedClose);
    }

    fn ondecoded(
        &mut self,
        decoded: Result<Option<Packet>, halyard_protocol::socketio::DecodeError>,
    ) {
        match decoded {
            Ok(Some(packet)) => self.onpacket(packet),
            Ok(None) => {}
            Err(_) => self.onclose(DisconnectReason::ParseError),
        }
    }

    /// Sends a packet on the current connection (dropped when there is none).
    fn send_packet(&mut self, packet: &Packet) {
        if let Ok(encoded) = packet.encode() {
            self.send_encoded(&encoded, false);
        }
    }

    /// Queues a packet and its attachments, all or none; returns whether they were
    /// queued. A volatile packet that does not fit is dropped; otherwise the Engine.IO
    /// overflow policy applies.
    fn send_encoded(&mut self, encoded: &Encoded, volatile: bool) -> bool {
        let Some((_, conn)) = &mut self.conn else {
            return false;
        };
        if volatile {
            conn.try_send_all(encoded.frames()).is_ok()
        } else {
            conn.send_all(encoded.frames()).is_ok()
        }
    }

    // ----- internals: sockets ---------------------------------------------------------------

    /// `socket.onopen()`: send CONNECT.
    fn socket_onopen(&mut self, i: usize) {
        let s = &mut self.sockets[i];
        if s.connect_sent {
            return;
        }
        s.connect_sent = true;
        let packet = Packet::Connect {
            nsp: s.nsp.clone(),
            data: s.connect_data(),
        };
        self.send_packet(&packet);
    }

    /// `socket.destroy()`: unsubscribe; the manager closes when no socket is active.
    fn destroy(&mut self, i: usize) {
        self.sockets[i].active = false;
        self.sockets[i].connect_sent = false;
        if !self.sockets.iter().any(|s| s.active) {
            self.force_close();
        }
    }

    /// `socket.onclose(reason)`.
    fn socket_onclose(&mut self, i: usize, reason: DisconnectReason) {
        let s = &mut self.sockets[i];
        let was_connected = std::mem::replace(&mut s.connected, false);
        s.sid = None;
        s.connect_sent = false;
        let connection = s.connection.take();
        if was_connected {
            self.events.push_back(Event::Disconnect {
                socket: SocketId(i as u32),
                connection: connection.unwrap_or_else(|| self.latest()),
                reason,
            });
        }
        self.clear_acks(i);
    }

    /// `_clearAcks()`: every ack whose packet already left fails.
    fn clear_acks(&mut self, i: usize) {
        let s = &mut self.sockets[i];
        let ids: Vec<u64> = s
            .acks
            .keys()
            .copied()
            .filter(|id| !s.send_buffer.iter().any(|b| b.ack_id == Some(*id)))
            .collect();
        for id in ids {
            let Some(ack) = self.sockets[i].acks.remove(&id) else {
                continue;
            };
            if let Some(at) = ack.deadline {
                self.ack_deadlines.remove(&(at, SocketId(i as u32), id));
            }
            match ack.kind {
                AckKind::Direct => self.events.push_back(Event::AckFailed {
                    socket: SocketId(i as u32),
                    ack: AckId(id),
                    error: AckError::Disconnected,
                }),
                // A queued try without a timer is forgotten; the packet is resent on the
                // next connect (socket.io-client calls only error-aware callbacks here).
                AckKind::Queue { .. } if ack.deadline.is_none() => {}
                AckKind::Queue { handle } => {
                    self.queue_outcome(i, handle, Err(AckError::Disconnected));
                }
            }
        }
    }

    fn onpacket(&mut self, packet: Packet) {
        let Some(i) = self
            .sockets
            .iter()
            .position(|s| s.active && s.nsp == *packet.nsp())
        else {
            return;
        };
        match packet {
            Packet::Connect { data, .. } => match connect_answer(data.as_ref()) {
                (Some(sid), pid) => self.onconnect(i, sid, pid),
                (None, _) => self.events.push_back(Event::ConnectError {
                    socket: SocketId(i as u32),
                    error: ConnectError::InvalidAnswer,
                    active: true,
                }),
            },
            Packet::Event { ack_id, event, .. } => {
                if self.sockets[i].connected {
                    let connection = self.latest();
                    self.emit_event(i, event, ack_id, connection);
                } else {
                    let connection = self.latest();
                    self.sockets[i]
                        .receive_buffer
                        .push_back((event, ack_id, connection));
                }
            }
            Packet::Ack { ack_id, args, .. } => self.onack(i, ack_id, args),
            Packet::Disconnect { .. } => {
                self.destroy(i);
                self.socket_onclose(i, DisconnectReason::IoServerDisconnect);
            }
            Packet::ConnectError { data, .. } => {
                self.destroy(i);
                if self.sockets[i].connected {
                    // Only a misbehaving server refuses a joined namespace; leave it.
                    self.socket_onclose(i, DisconnectReason::IoServerDisconnect);
                }
                let (message, data) = connect_error(&data);
                self.events.push_back(Event::ConnectError {
                    socket: SocketId(i as u32),
                    error: ConnectError::Refused { message, data },
                    active: false,
                });
            }
        }
    }

    fn onconnect(&mut self, i: usize, sid: ByteString, pid: Option<ByteString>) {
        let s = &mut self.sockets[i];
        s.recovered = pid.is_some() && s.pid == pid;
        s.sid = Some(sid.clone());
        s.pid = pid;
        s.connected = true;
        s.connect_sent = false;
        let connection = ConnectionId(self.next_conn);
        s.connection = Some(connection);
        // emitBuffered(): received events first, then the emits that waited.
        while let Some((event, ack_id, came_on)) = self.sockets[i].receive_buffer.pop_front() {
            self.emit_event(i, event, ack_id, came_on);
        }
        while let Some(buffered) = self.sockets[i].send_buffer.pop_front() {
            self.send_encoded(&buffered.encoded, false);
        }
        self.drain_queue(i, true);
        let recovered = self.sockets[i].recovered;
        self.events.push_back(Event::Connect {
            socket: SocketId(i as u32),
            connection,
            sid,
            recovered,
        });
    }

    /// `emitEvent(args)`: deliver, then track the recovery offset.
    fn emit_event(
        &mut self,
        i: usize,
        event: SocketIoEvent,
        ack_id: Option<u64>,
        connection: ConnectionId,
    ) {
        let s = &mut self.sockets[i];
        if s.pid.is_some()
            && ack_id.is_none()
            && let Some(offset) = last_string(event.data())
        {
            s.last_offset = Some(offset);
        }
        self.events.push_back(Event::Received {
            socket: SocketId(i as u32),
            connection,
            event,
            ack_id,
        });
    }

    fn onack(&mut self, i: usize, id: u64, args: Args) {
        let Some(ack) = self.sockets[i].acks.remove(&id) else {
            return;
        };
        let socket = SocketId(i as u32);
        if let Some(at) = ack.deadline {
            self.ack_deadlines.remove(&(at, socket, id));
        }
        match ack.kind {
            AckKind::Direct => self.events.push_back(Event::AckReceived {
                socket,
                connection: self.latest(),
                ack: AckId(id),
                args,
            }),
            AckKind::Queue { handle } => self.queue_outcome(i, handle, Ok(args)),
        }
    }

    fn ack_timed_out(&mut self, i: usize, id: u64) {
        let s = &mut self.sockets[i];
        let Some(ack) = s.acks.remove(&id) else {
            return;
        };
        s.send_buffer.retain(|b| b.ack_id != Some(id));
        match ack.kind {
            AckKind::Direct => self.events.push_back(Event::AckFailed {
                socket: SocketId(i as u32),
                ack: AckId(id),
                error: AckError::Timeout,
            }),
            AckKind::Queue { handle } => self.queue_outcome(i, handle, Err(AckError::Timeout)),
        }
    }

    /// Sends (or buffers, or drops) one event; returns its wire ack id.
    fn emit_packet(
        &mut self,
        i: usize,
        event: SocketIoEvent,
        ack: Option<AckKind>,
        timeout: Option<Duration>,
        volatile: bool,
    ) -> Result<Option<u64>, Error> {
        let now = self.now();
        let s = &mut self.sockets[i];
        let ack_id = ack.map(|kind| {
            let id = match kind {
                AckKind::Queue { handle }
                    if s.queue
                        .front()
                        .is_some_and(|q| q.handle == handle && q.tries == 1) =>
                {
                    handle
                }
                _ => s.take_id(),
            };
            (id, kind)
        });
        let packet = Packet::Event {
            nsp: s.nsp.clone(),
            ack_id: ack_id.map(|(id, _)| id),
            event,
        };
        let encoded = packet.encode()?;
        if let Some((id, kind)) = ack_id {
            let deadline = timeout.or(s.ack_timeout).map(|t| now + t);
            s.acks.insert(id, PendingAck { deadline, kind });
            if let Some(at) = deadline {
                self.ack_deadlines.insert((at, SocketId(i as u32), id));
            }
        }
        let s = &mut self.sockets[i];
        let connected = s.connected && self.conn.as_ref().is_some_and(|(_, c)| c.is_open());
        if volatile {
            if !(connected && self.send_encoded(&encoded, true))
                && let Some((id, kind)) = ack_id
            {
                self.drop_ack(i, id, kind);
            }
        } else if connected {
            self.send_encoded(&encoded, false);
        } else {
            s.send_buffer.push_back(Buffered {
                encoded,
                ack_id: ack_id.map(|(id, _)| id),
            });
        }
        Ok(ack_id.map(|(id, _)| id))
    }

    fn drop_ack(&mut self, i: usize, id: u64, kind: AckKind) {
        if let Some(ack) = self.sockets[i].acks.remove(&id)
            && let Some(at) = ack.deadline
        {
            self.ack_deadlines.remove(&(at, SocketId(i as u32), id));
        }
        if kind == AckKind::Direct {
            self.events.push_back(Event::AckFailed {
                socket: SocketId(i as u32),
                ack: AckId(id),
                error: AckError::Dropped,
            });
        }
    }

    /// `_drainQueue(force)`: (re)send the head of the retries queue.
    fn drain_queue(&mut self, i: usize, force: bool) {
        let s = &mut self.sockets[i];
        if !s.connected {
            return;
        }
        let Some(head) = s.queue.front_mut() else {
            return;
        };
        if head.pending && !force {
            return;
        }
        head.pending = true;
        head.tries += 1;
        let (handle, event, timeout) = (head.handle, head.event.clone(), head.timeout);
        // The packet was validated when it was queued; encoding cannot fail now.
        let _ = self.emit_packet(i, event, Some(AckKind::Queue { handle }), timeout, false);
    }

    /// The queued packet `handle` was acknowledged or its try failed.
    fn queue_outcome(&mut self, i: usize, handle: u64, outcome: Result<Args, AckError>) {
        let s = &mut self.sockets[i];
        let Some(head) = s.queue.front_mut() else {
            return;
        };
        if head.handle != handle {
            return;
        }
        let socket = SocketId(i as u32);
        let done = match outcome {
            Ok(args) => Some(Event::AckReceived {
                socket,
                // An answer arrives on the latest connection.
                connection: ConnectionId(self.next_conn),
                ack: AckId(handle),
                args,
            }),
            Err(error) if head.tries > s.retries => Some(Event::AckFailed {
                socket,
                ack: AckId(handle),
                error,
            }),
            Err(_) => None,
        };
        match done {
            Some(event) => {
                let head = s.queue.pop_front().expect("checked above");
                if head.wants_ack {
                    self.events.push_back(event);
                }
            }
            None => head.pending = false,
        }
        self.drain_queue(i, false);
    }
}
