//! One client-side Engine.IO connection.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;
use halyard_protocol::engineio::polling::{decode_payload, encode_payload, encoded_len};
use halyard_protocol::engineio::{Frame, OpenPacket, PROBE, Packet};

use crate::engineio::queue::{SendQueue, apply_overflow_policy};
use crate::engineio::timers::Timers;
use crate::engineio::{ClientConfig, CloseReason, Error, Event, RequestId, TransportKind};

/// Something the driver must do for a [`ClientConnection`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientTransmit {
    /// Send `GET <path>?<query>`, then report the answer with
    /// [`ClientConnection::handle_get_response`] (or
    /// [`ClientConnection::handle_request_failed`]) under `request`.
    Get {
        /// Which request.
        request: RequestId,
        /// The query string (without `?`), e.g. `EIO=4&transport=polling&sid=…`.
        query: String,
    },
    /// Send `POST <path>?<query>` with `body` (`Content-Type: text/plain;charset=UTF-8`),
    /// then report with [`ClientConnection::handle_post_response`].
    Post {
        /// Which request.
        request: RequestId,
        /// The query string (without `?`).
        query: String,
        /// The polling payload.
        body: Bytes,
    },
    /// Give up on the request `request` (the connection is over): abort it, and do not
    /// report its answer.
    Abort(RequestId),
    /// Open a WebSocket to `<path>?<query>`; report [`ClientConnection::handle_ws_opened`]
    /// or [`ClientConnection::handle_ws_error`].
    OpenWebSocket {
        /// The query string (without `?`).
        query: String,
    },
    /// Write this frame on the WebSocket (the probing one during an upgrade).
    WebSocket(Frame),
    /// Close the WebSocket.
    CloseWebSocket,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the open packet.
    Opening,
    Open,
    /// `close()` was called: the queue and a close packet are being flushed.
    Closing,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// The WebSocket is being opened.
    Connecting,
    /// `2probe` sent, waiting for `3probe`.
    Probing,
    /// `3probe` received: polling pauses; `5` goes out once no request is in flight.
    Pausing,
}

/// The dead-server deadline.
const SERVER_SILENT: usize = 0;
/// The handshake deadline.
const HANDSHAKE: usize = 1;

/// A client-side Engine.IO connection: handshake (polling or WebSocket first), pong
/// answers, dead-server detection, POST batching within `maxPayload`, the WebSocket
/// upgrade probe, and close.
///
/// # Driving contract
///
/// [`new`](Self::new) queues the handshake. The driver then:
///
/// - **performs what [`poll_transmit`](Self::poll_transmit) asks**, in order: HTTP GETs and
///   POSTs (each with a [`RequestId`] to report the answer under), aborts, opening a
///   WebSocket, writing frames on it, closing it;
/// - **feeds back what happens**: [`handle_get_response`](Self::handle_get_response),
///   [`handle_post_response`](Self::handle_post_response),
///   [`handle_request_failed`](Self::handle_request_failed),
///   [`handle_ws_opened`](Self::handle_ws_opened), [`handle_ws_frame`](Self::handle_ws_frame),
///   [`handle_ws_closed`](Self::handle_ws_closed), [`handle_ws_error`](Self::handle_ws_error),
///   [`handle_timeout`](Self::handle_timeout); the layer above calls
///   [`send`](Self::send) and [`close`](Self::close);
/// - **after every input, drains every output**: `poll_transmit` until `None`, then
///   [`poll_event`](Self::poll_event) until `None`, then re-arms its timer from
///   [`poll_timeout`](Self::poll_timeout).
///
/// At most one GET and one POST are in flight. During an upgrade, polling pauses once the
/// server has answered the probe; frames sent meanwhile wait and go out, in order, on the
/// WebSocket. [`Event::Closed`] is the last event.
#[derive(Debug)]
pub struct ClientConnection {
    config: ClientConfig,
    state: State,
    transport: TransportKind,
    handshake: Option<OpenPacket>,
    probe: Option<Probe>,
    /// The main WebSocket was closed by the peer (no close to ask for).
    ws_gone: bool,
    get: Option<RequestId>,
    post: Option<RequestId>,
    next_request: u64,
    queue: SendQueue,
    transmits: VecDeque<ClientTransmit>,
    events: VecDeque<Event>,
    timers: Timers<2>,
    /// Server pings answered since the last [`take_pings`](Self::take_pings).
    pings: u32,
}

impl ClientConnection {
    /// A connection that starts its handshake at once (see [`ClientConfig`]).
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        let transport = config.first_transport;
        let mut connection = Self {
            queue: SendQueue::new(config.max_queued_frames, config.max_queued_bytes),
            config,
            state: State::Opening,
            transport,
            handshake: None,
            probe: None,
            ws_gone: false,
            get: None,
            post: None,
            next_request: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            timers: Timers::new(),
            pings: 0,
        };
        connection
            .timers
            .set(HANDSHAKE, now + connection.config.handshake_timeout);
        match transport {
            TransportKind::Polling => connection.send_get(),
            TransportKind::WebSocket => {
                let query = connection.query(TransportKind::WebSocket);
                connection
                    .transmits
                    .push_back(ClientTransmit::OpenWebSocket { query });
            }
        }
        connection
    }

    /// How many server pings were received (and answered) since the last call:
    /// engine.io-client's `ping` event, which the heartbeat does not otherwise surface.
    pub fn take_pings(&mut self) -> u32 {
        std::mem::take(&mut self.pings)
    }

    /// The session id, once open.
    pub fn sid(&self) -> Option<&str> {
        self.handshake.as_ref().map(|h| h.sid.as_str())
    }

    /// The server's handshake, once open.
    pub fn handshake(&self) -> Option<&OpenPacket> {
        self.handshake.as_ref()
    }

    /// The transport in use.
    pub fn transport(&self) -> TransportKind {
        self.transport
    }

    /// Whether the connection has ended ([`Event::Closed`] was queued).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether the handshake is done and the connection is not closing.
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// Whether a WebSocket upgrade is in progress.
    pub fn is_upgrading(&self) -> bool {
        self.probe.is_some()
    }

    // ----- inputs ------------------------------------------------------------------------

    /// The answer to the GET `id`.
    pub fn handle_get_response(
        &mut self,
        now: Instant,
        id: RequestId,
        status: u16,
        body: Bytes,
    ) -> Result<(), Error> {
        if self.get != Some(id) {
            return Err(Error::UnknownRequest);
        }
        self.get = None;
        if !matches!(self.state, State::Opening | State::Open) {
            return Ok(());
        }
        if status != 200 {
            self.fail(CloseReason::TransportError);
            return Ok(());
        }
        match decode_payload(body, usize::MAX) {
            Ok(packets) => {
                for packet in packets {
                    self.on_packet(now, packet);
                }
            }
            Err(_) => self.fail(CloseReason::ParseError),
        }
        Ok(())
    }

    /// The answer to the POST `id` (`200 ok` expected).
    pub fn handle_post_response(
        &mut self,
        now: Instant,
        id: RequestId,
        status: u16,
    ) -> Result<(), Error> {
        let _ = now;
        if self.post != Some(id) {
            return Err(Error::UnknownRequest);
        }
        self.post = None;
        if status != 200 {
            self.fail(CloseReason::TransportError);
        }
        Ok(())
    }

    /// The request `id` failed without an answer (network error, reset).
    pub fn handle_request_failed(&mut self, now: Instant, id: RequestId) -> Result<(), Error> {
        let _ = now;
        if self.get == Some(id) {
            self.get = None;
        } else if self.post == Some(id) {
            self.post = None;
        } else {
            return Err(Error::UnknownRequest);
        }
        self.fail(CloseReason::TransportError);
        Ok(())
    }

    /// The WebSocket asked for with [`ClientTransmit::OpenWebSocket`] is open.
    pub fn handle_ws_opened(&mut self, now: Instant) -> Result<(), Error> {
        let _ = now;
        match (self.transport, self.probe) {
            (_, _) if self.state == State::Closed => Ok(()),
            (TransportKind::WebSocket, _) => Ok(()),
            (TransportKind::Polling, Some(Probe::Connecting)) => {
                self.probe = Some(Probe::Probing);
                let frame = Packet::ping_probe().encode();
                self.transmits.push_back(ClientTransmit::WebSocket(frame));
                Ok(())
            }
            _ => Err(Error::InvalidState),
        }
    }

    /// A frame arrived on the WebSocket.
    pub fn handle_ws_frame(&mut self, now: Instant, frame: Frame) {
        if !matches!(self.state, State::Opening | State::Open) {
            return;
        }
        let packet = Packet::decode(frame);
        if self.transport == TransportKind::WebSocket {
            match packet {
                Ok(packet) => self.on_packet(now, packet),
                Err(_) => self.fail(CloseReason::ParseError),
            }
            return;
        }
        match (self.probe, packet) {
            (None, _) => {}
            (Some(Probe::Probing), Ok(Packet::Pong(data))) if data == PROBE => {
                self.probe = Some(Probe::Pausing);
            }
            // "probe error": forget the WebSocket, keep polling.
            (Some(_), _) => self.abort_probe(),
        }
    }

    /// The WebSocket closed. On the main transport this ends the connection
    /// ([`CloseReason::TransportClose`]); during an upgrade, polling simply goes on.
    pub fn handle_ws_closed(&mut self, now: Instant) {
        self.ws_ended(now, CloseReason::TransportClose);
    }

    /// The WebSocket failed (or could not be opened). On the main transport this ends
    /// the connection ([`CloseReason::TransportError`]); during an upgrade, polling goes on.
    pub fn handle_ws_error(&mut self, now: Instant) {
        self.ws_ended(now, CloseReason::TransportError);
    }

    /// Runs the deadlines: no ping for `pingInterval + pingTimeout` ends the connection
    /// with [`CloseReason::PingTimeout`]; no open packet within
    /// [`ClientConfig::handshake_timeout`] with [`CloseReason::HandshakeTimeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.take_expired(now) {
            match timer {
                SERVER_SILENT => self.fail(CloseReason::PingTimeout),
                _ => self.fail(CloseReason::HandshakeTimeout),
            }
        }
    }

    /// Queues an encoded message frame (`4…` text or binary); before the handshake
    /// completes it waits. When the queue is full, the [`OverflowPolicy`](crate::engineio::OverflowPolicy) applies.
    pub fn send(&mut self, frame: Frame) -> Result<(), Error> {
        self.send_all([frame])
    }

    /// Queues an encoded message frame, or reports [`Error::Full`] without touching the
    /// session (for volatile sends, which are dropped when the peer is not keeping up).
    pub fn try_send(&mut self, frame: Frame) -> Result<(), Error> {
        self.try_send_all([frame])
    }

    /// Queues several encoded message frames that must travel together (a Socket.IO
    /// packet and its binary attachments): all of them, or none when they do not fit, in
    /// which case the [`OverflowPolicy`](crate::engineio::OverflowPolicy) applies as for [`send`](Self::send).
    pub fn send_all<I>(&mut self, frames: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = Frame>,
        I::IntoIter: Clone,
    {
        let result = self.try_send_all(frames);
        apply_overflow_policy(result, self.config.overflow, || {
            self.fail(CloseReason::TransportFull)
        })
    }

    /// Queues several frames that must travel together, all or none; reports
    /// [`Error::Full`] without touching the session when they do not fit.
    pub fn try_send_all<I>(&mut self, frames: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = Frame>,
        I::IntoIter: Clone,
    {
        let open = matches!(self.state, State::Opening | State::Open);
        self.queue.try_push_all(frames, open)
    }

    /// Queues a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send(Packet::Message(ByteString::from(text)).encode())
    }

    /// Queues a binary message.
    pub fn send_binary(&mut self, data: Bytes) -> Result<(), Error> {
        self.send(Frame::Binary(data))
    }

    /// Closes the connection: what is queued is still sent, followed by a close packet;
    /// then [`Event::Closed`] with [`CloseReason::ForcedClose`] (socket.io's
    /// `io client disconnect`). Before the handshake completes, closes at once.
    pub fn close(&mut self, now: Instant) {
        let _ = now;
        match self.state {
            State::Opening => self.fail(CloseReason::ForcedClose),
            State::Open => {
                self.abort_probe();
                self.queue.push_control(Packet::Close.encode());
                self.state = State::Closing;
            }
            State::Closing | State::Closed => {}
        }
    }

    // ----- outputs -----------------------------------------------------------------------

    /// The next thing for the driver to do. Call until `None` after every input.
    pub fn poll_transmit(&mut self) -> Option<ClientTransmit> {
        if self.transmits.is_empty() {
            self.flush();
        }
        self.transmits.pop_front()
    }

    /// The next event for the layer above. Call until `None` after every input.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next deadline: call [`handle_timeout`](Self::handle_timeout) when it passes.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ----- internals ---------------------------------------------------------------------

    fn query(&self, transport: TransportKind) -> String {
        let mut query = format!("EIO=4&transport={}", transport.as_str());
        if let Some(sid) = self.sid() {
            query.push_str("&sid=");
            query.push_str(sid);
        }
        query
    }

    fn new_request(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    fn send_get(&mut self) {
        let request = self.new_request();
        self.get = Some(request);
        let query = self.query(TransportKind::Polling);
        self.transmits
            .push_back(ClientTransmit::Get { request, query });
    }

    fn on_packet(&mut self, now: Instant, packet: Packet) {
        match (self.state, packet) {
            (State::Opening, Packet::Open(open)) => self.on_open(now, open),
            (State::Opening, _) => self.fail(CloseReason::ParseError),
            (State::Open, Packet::Ping(_)) => {
                self.pings = self.pings.saturating_add(1);
                self.arm_silence_deadline(now);
                self.queue.push_control(Packet::pong().encode());
            }
            (State::Open, Packet::Message(text)) => self.events.push_back(Event::Message(text)),
            (State::Open, Packet::Binary(data)) => self.events.push_back(Event::Binary(data)),
            (State::Open, Packet::Close) => self.fail(CloseReason::TransportClose),
            _ => {}
        }
    }

    fn on_open(&mut self, now: Instant, open: OpenPacket) {
        let offers_ws = open
            .upgrades
            .iter()
            .any(|u| u == TransportKind::WebSocket.as_str());
        self.handshake = Some(open.clone());
        self.state = State::Open;
        self.timers.clear(HANDSHAKE);
        self.arm_silence_deadline(now);
        self.events.push_back(Event::Opened(open));
        if self.transport == TransportKind::Polling && self.config.upgrade && offers_ws {
            self.probe = Some(Probe::Connecting);
            let query = self.query(TransportKind::WebSocket);
            self.transmits
                .push_back(ClientTransmit::OpenWebSocket { query });
        }
    }

    fn arm_silence_deadline(&mut self, now: Instant) {
        if let Some(open) = &self.handshake {
            let silence =
                Duration::from_millis(open.ping_interval.saturating_add(open.ping_timeout));
            self.timers.set(SERVER_SILENT, now + silence);
        }
    }

    fn ws_ended(&mut self, now: Instant, reason: CloseReason) {
        let _ = now;
        if self.state == State::Closed {
            return;
        }
        if self.transport == TransportKind::WebSocket {
            self.ws_gone = true;
            self.fail(reason);
        } else {
            // The probe is gone; polling resumes (if it was paused).
            self.probe = None;
        }
    }

    fn abort_probe(&mut self) {
        if self.probe.take().is_some() {
            self.transmits.push_back(ClientTransmit::CloseWebSocket);
        }
    }

    /// Moves queued frames to the transport and keeps a poll going.
    fn flush(&mut self) {
        if !matches!(self.state, State::Open | State::Closing) {
            return;
        }
        if self.probe == Some(Probe::Pausing) && self.get.is_none() && self.post.is_none() {
            // Polling is paused: switch.
            self.probe = None;
            self.transport = TransportKind::WebSocket;
            self.transmits
                .push_back(ClientTransmit::WebSocket(Packet::Upgrade.encode()));
            self.events.push_back(Event::Upgraded);
        }
        match self.transport {
            TransportKind::WebSocket => {
                while let Some(frame) = self.queue.pop() {
                    let last = frame == Packet::Close.encode();
                    self.transmits.push_back(ClientTransmit::WebSocket(frame));
                    if last {
                        self.finish(CloseReason::ForcedClose);
                        return;
                    }
                }
            }
            TransportKind::Polling => {
                let paused = self.probe == Some(Probe::Pausing);
                if self.post.is_none() && !self.queue.is_empty() && !paused {
                    self.send_post();
                }
                if self.state == State::Open && self.get.is_none() && !paused {
                    self.send_get();
                }
            }
        }
    }

    /// One POST with as many queued frames as fit in the server's `maxPayload` (at
    /// least one).
    fn send_post(&mut self) {
        let max = self.handshake.as_ref().map_or(usize::MAX, |h| {
            usize::try_from(h.max_payload).unwrap_or(usize::MAX)
        });
        let mut frames = Vec::new();
        let mut size = 0usize;
        let mut closing = false;
        while let Some(len) = self.queue.peek().map(encoded_len) {
            let extra = len + usize::from(!frames.is_empty());
            if !frames.is_empty() && size + extra > max {
                break;
            }
            size += extra;
            let frame = self.queue.pop().expect("peeked");
            closing = frame == Packet::Close.encode();
            frames.push(frame);
            if closing {
                break;
            }
        }
        let request = self.new_request();
        self.post = Some(request);
        let query = self.query(TransportKind::Polling);
        let body = encode_payload(&frames);
        self.transmits.push_back(ClientTransmit::Post {
            request,
            query,
            body,
        });
        if closing {
            // The held poll is not aborted: the server answers it once it reads the close
            // packet (as engine.io-client leaves it). Aborting it could reach the server
            // first and turn the clean close into a transport error.
            self.get = None;
            self.finish(CloseReason::ForcedClose);
        }
    }

    fn fail(&mut self, reason: CloseReason) {
        if self.state != State::Closed {
            self.queue.clear();
            self.finish(reason);
        }
    }

    fn finish(&mut self, reason: CloseReason) {
        self.state = State::Closed;
        self.timers.clear_all();
        self.queue.clear();
        if let Some(get) = self.get {
            self.transmits.push_back(ClientTransmit::Abort(get));
        }
        self.abort_probe();
        if self.transport == TransportKind::WebSocket && !self.ws_gone {
            self.transmits.push_back(ClientTransmit::CloseWebSocket);
        }
        self.events.push_back(Event::Closed(reason));
    }
}
