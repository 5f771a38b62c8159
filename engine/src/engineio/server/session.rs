//! One server-side Engine.IO session.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use bytestring::ByteString;
use halyard_protocol::engineio::polling::{PayloadDecoder, encode_payload};
use halyard_protocol::engineio::{Frame, OpenPacket, Packet};

use crate::engineio::queue::{SendQueue, apply_overflow_policy};
use crate::engineio::timers::Timers;
use crate::engineio::{
    CloseReason, Error, ErrorCode, Event, HttpResponse, RequestId, ServerConfig, TransportKind,
};

/// Something the driver must write for a [`ServerSession`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerTransmit {
    /// Answer the held HTTP request `request` with `response` (then forget the request).
    Http {
        /// Which request.
        request: RequestId,
        /// What to answer.
        response: HttpResponse,
    },
    /// Write this frame on the session's WebSocket (during an upgrade: the probing one).
    WebSocket(Frame),
    /// Close the session's WebSocket (during an upgrade: the probing one).
    CloseWebSocket,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// A graceful close is flushing the queue.
    Closing(CloseReason),
    Closed,
}

/// Timer slots.
const PING: usize = 0;
const PONG: usize = 1;
const UPGRADE: usize = 2;
const CLOSE: usize = 3;

#[derive(Debug)]
struct PendingPost {
    id: RequestId,
    decoder: PayloadDecoder,
}

/// A server-side Engine.IO session: handshake answer, heartbeat, long-polling, the
/// polling → WebSocket upgrade, close, and a bounded outgoing queue.
///
/// # Driving contract
///
/// Created by [`Endpoint::handle_request`](super::Endpoint::handle_request). The driver
/// (or the Socket.IO layer that owns it, one session per connection) then:
///
/// - **feeds inputs**: a poll GET with [`handle_poll`](Self::handle_poll), a POST with
///   [`handle_post`](Self::handle_post) (or streamed: `handle_post_start`,
///   `handle_post_data`, `handle_post_end`), a client that gave up on a request with
///   [`handle_request_aborted`](Self::handle_request_aborted), a WebSocket for this sid
///   with [`handle_ws_open`](Self::handle_ws_open), its frames with
///   [`handle_ws_frame`](Self::handle_ws_frame) and its end with
///   [`handle_ws_closed`](Self::handle_ws_closed), the passing of time with
///   [`handle_timeout`](Self::handle_timeout), application data with
///   [`send`](Self::send) / [`try_send`](Self::try_send) (encoded message frames, shared
///   between recipients), and [`close`](Self::close);
/// - **after every input, drains every output**: [`poll_transmit`](Self::poll_transmit)
///   until `None` (HTTP responses for the request ids the `handle_*` calls returned,
///   WebSocket frames, WebSocket close), then [`poll_event`](Self::poll_event) until
///   `None`, then re-arms its timer from [`poll_timeout`](Self::poll_timeout).
///
/// Each HTTP request handed in gets exactly one [`ServerTransmit::Http`] answer, possibly
/// much later (a GET with nothing to send is held), unless the driver reported it aborted.
/// A GET is answered as late as possible, so everything queued by then goes in one body.
/// [`Event::Closed`] is the last event; after it, every output is empty and the driver
/// drops the session.
///
/// # Heartbeat and upgrade
///
/// The first ping is queued `pingInterval` after creation; after each pong the next one
/// is `pingInterval` later; a missing pong closes the session `pingTimeout` after its
/// ping was queued (any other packet while waiting extends that once, as engine.io
/// does). An upgrade does not restart the schedule: like engine.io 6.6, no extra ping is
/// sent when it completes. During the upgrade, `2probe` on the new WebSocket is answered
/// `3probe` and the held GET (and any later empty GET) is answered `6`; `5` switches the
/// session to WebSocket, answers a still-held GET `6`, and flushes the queue there. A
/// [`close`](Self::close) does not cut a probe short (see there).
///
/// # Outgoing queue
///
/// At most [`ServerConfig::max_queued_frames`] message frames and
/// [`ServerConfig::max_queued_bytes`] bytes wait for the transport. When full, `send`
/// applies [`ServerConfig::overflow`]; `try_send` only reports [`Error::Full`].
#[derive(Debug)]
pub struct ServerSession {
    sid: Box<str>,
    config: Arc<ServerConfig>,
    state: State,
    transport: TransportKind,
    /// `Some(probed)` while a WebSocket is probing for an upgrade.
    upgrade: Option<bool>,
    /// The peer closed the main WebSocket: do not ask to close it again.
    ws_gone: bool,
    get: Option<RequestId>,
    /// Boxed: only while a polling POST is being received.
    post: Option<Box<PendingPost>>,
    next_request: u64,
    queue: SendQueue,
    transmits: VecDeque<ServerTransmit>,
    events: VecDeque<Event>,
    timers: Timers<4>,
    pong_refreshed: bool,
}

impl ServerSession {
    /// A new session that has just received its handshake on `transport`. Returns the id
    /// of the handshake GET for polling.
    pub(crate) fn new(
        sid: String,
        config: Arc<ServerConfig>,
        transport: TransportKind,
        now: Instant,
    ) -> (Self, Option<RequestId>) {
        let open = OpenPacket {
            sid: sid.clone(),
            upgrades: config.upgrades_from(transport),
            ping_interval: millis(config.ping_interval),
            ping_timeout: millis(config.ping_timeout),
            max_payload: config.max_payload as u64,
        };
        let frame = Packet::Open(open.clone()).encode();
        let mut session = Self {
            sid: sid.into_boxed_str(),
            queue: SendQueue::new(config.max_queued_frames, config.max_queued_bytes),
            state: State::Open,
            transport,
            upgrade: None,
            ws_gone: false,
            get: None,
            post: None,
            next_request: 0,
            transmits: VecDeque::new(),
            events: VecDeque::from([Event::Opened(open)]),
            timers: Timers::new(),
            pong_refreshed: false,
            config,
        };
        session.timers.set(PING, now + session.config.ping_interval);
        let request = match transport {
            TransportKind::Polling => {
                let id = session.new_request();
                session.respond(id, HttpResponse::payload(encode_payload([&frame])));
                Some(id)
            }
            TransportKind::WebSocket => {
                session
                    .transmits
                    .push_back(ServerTransmit::WebSocket(frame));
                None
            }
        };
        (session, request)
    }

    /// The session id.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The transport the session currently runs on.
    pub fn transport(&self) -> TransportKind {
        self.transport
    }

    /// Whether a WebSocket is probing for an upgrade.
    pub fn is_upgrading(&self) -> bool {
        self.upgrade.is_some()
    }

    /// Whether the session has ended ([`Event::Closed`] was queued).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The poll GET held for lack of data, if any.
    pub fn pending_poll(&self) -> Option<RequestId> {
        self.get
    }

    /// The POST being received, if any.
    pub fn pending_post(&self) -> Option<RequestId> {
        self.post.as_ref().map(|p| p.id)
    }

    /// The number of frames waiting for a transport.
    pub fn queued_frames(&self) -> usize {
        self.queue.len()
    }

    // ----- inputs: polling -------------------------------------------------------------

    /// A poll GET for this session arrived. Returns the id under which the driver holds
    /// it until `poll_transmit` answers it.
    ///
    /// After an upgrade (or on a WebSocket session) the GET is refused with 400; a second
    /// GET while one is held ends the session (the held one gets a close packet, the new
    /// one 400, reason [`CloseReason::TransportError`]).
    pub fn handle_poll(&mut self, now: Instant) -> RequestId {
        let _ = now;
        let id = self.new_request();
        if let Some(refusal) = self.refuse_polling() {
            self.respond(id, refusal);
        } else if self.get.is_some() {
            self.fail(CloseReason::TransportError);
            self.respond(id, HttpResponse::error(ErrorCode::BadRequest));
        } else {
            self.get = Some(id);
        }
        id
    }

    /// A whole POST body arrived: decodes it (at most `maxPayload` bytes) and answers it.
    pub fn handle_post(&mut self, now: Instant, body: Bytes) -> RequestId {
        let id = self.handle_post_start(now);
        if self.pending_post() == Some(id) {
            let streamed = self
                .post
                .as_mut()
                .map(|post| post.decoder.push_bytes(body))
                .expect("checked above");
            match streamed {
                Ok(()) => {
                    let _ = self.handle_post_end(now, id);
                }
                Err(_) => self.post_too_large(),
            }
        }
        id
    }

    /// A POST started; its body will come with [`handle_post_data`](Self::handle_post_data).
    /// A second POST while one is in progress ends the session, like a duplicate GET.
    pub fn handle_post_start(&mut self, now: Instant) -> RequestId {
        let _ = now;
        let id = self.new_request();
        if let Some(refusal) = self.refuse_polling() {
            self.respond(id, refusal);
        } else if self.post.is_some() {
            self.fail(CloseReason::TransportError);
            self.respond(id, HttpResponse::error(ErrorCode::BadRequest));
        } else {
            let decoder = PayloadDecoder::new(self.config.max_payload);
            self.post = Some(Box::new(PendingPost { id, decoder }));
        }
        id
    }

    /// A chunk of the POST `id`. A body growing past `maxPayload` is answered 413 at once
    /// and ends the session ([`CloseReason::TransportError`]); stop feeding it then.
    pub fn handle_post_data(
        &mut self,
        now: Instant,
        id: RequestId,
        chunk: &[u8],
    ) -> Result<(), Error> {
        let _ = now;
        let post = self
            .post
            .as_mut()
            .filter(|p| p.id == id)
            .ok_or(Error::UnknownRequest)?;
        if post.decoder.push(chunk).is_err() {
            self.post_too_large();
        }
        Ok(())
    }

    /// The POST `id` is complete: its packets are processed in order, and it is answered
    /// `200 ok`. An undecodable body ends the session with [`CloseReason::ParseError`].
    pub fn handle_post_end(&mut self, now: Instant, id: RequestId) -> Result<(), Error> {
        if self.post.as_ref().is_none_or(|p| p.id != id) {
            return Err(Error::UnknownRequest);
        }
        let post = *self.post.take().expect("checked above");
        match post.decoder.finish() {
            Ok(packets) => {
                for packet in packets {
                    self.on_packet(now, packet);
                }
            }
            Err(_) => self.fail(CloseReason::ParseError),
        }
        self.respond(id, HttpResponse::ok());
        Ok(())
    }

    /// The client went away from the held request `id` (connection closed before the
    /// answer). A client that aborts a poll or a POST has closed the session
    /// ([`CloseReason::TransportError`]). No answer is transmitted for `id`.
    pub fn handle_request_aborted(&mut self, now: Instant, id: RequestId) -> Result<(), Error> {
        let _ = now;
        if self.get == Some(id) {
            self.get = None;
        } else if self.pending_post() == Some(id) {
            self.post = None;
        } else {
            return Err(Error::UnknownRequest);
        }
        self.fail(CloseReason::TransportError);
        Ok(())
    }

    // ----- inputs: WebSocket -----------------------------------------------------------

    /// A WebSocket for this session's sid was accepted (an upgrade attempt). `Err` means
    /// the driver must close that WebSocket at once: the session is already on WebSocket,
    /// already probing, closing, or WebSocket is not allowed.
    pub fn handle_ws_open(&mut self, now: Instant) -> Result<(), Error> {
        let allowed = self.config.allows(TransportKind::WebSocket);
        if self.state != State::Open
            || self.transport != TransportKind::Polling
            || self.upgrade.is_some()
            || !allowed
        {
            return Err(Error::UpgradeRefused);
        }
        self.upgrade = Some(false);
        self.timers.set(UPGRADE, now + self.config.upgrade_timeout);
        Ok(())
    }

    /// A frame arrived on the session's WebSocket (the probing one during an upgrade).
    pub fn handle_ws_frame(&mut self, now: Instant, frame: Frame) {
        if self.state == State::Closed {
            return;
        }
        let probing = self.transport == TransportKind::Polling;
        if probing && self.upgrade.is_none() {
            return;
        }
        let packet = match frame.len() <= self.config.max_payload {
            true => Packet::decode(frame).map_err(|_| CloseReason::ParseError),
            false => Err(CloseReason::TransportError),
        };
        match (probing, packet) {
            (true, Ok(Packet::Ping(data))) if data == halyard_protocol::engineio::PROBE => {
                self.transmits
                    .push_back(ServerTransmit::WebSocket(Packet::pong_probe().encode()));
                self.upgrade = Some(true);
                if let Some(get) = self.get.take() {
                    self.respond(get, noop_payload());
                }
            }
            (true, Ok(Packet::Upgrade)) => self.complete_upgrade(),
            (true, _) => self.abort_upgrade(),
            (false, Ok(packet)) => self.on_packet(now, packet),
            (false, Err(reason)) => self.fail(reason),
        }
    }

    /// The session's WebSocket closed or failed. During an upgrade this abandons the
    /// upgrade (the session stays on polling); otherwise the session ends with
    /// [`CloseReason::TransportClose`].
    pub fn handle_ws_closed(&mut self, now: Instant) {
        let _ = now;
        if self.state == State::Closed {
            return;
        }
        if self.transport == TransportKind::Polling {
            if self.upgrade.take().is_some() {
                self.timers.clear(UPGRADE);
            }
            return;
        }
        self.ws_gone = true;
        match self.state {
            State::Closing(reason) => self.finish_close(reason),
            _ => self.fail(CloseReason::TransportClose),
        }
    }

    // ----- inputs: time and the layer above --------------------------------------------

    /// Runs the timers due at `now`: pings, pong deadline, upgrade and close timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.take_expired(now) {
            match timer {
                PING => {
                    self.queue.push_control(Packet::ping().encode());
                    self.timers.set(PONG, now + self.config.ping_timeout);
                    self.pong_refreshed = false;
                }
                PONG => self.fail(CloseReason::PingTimeout),
                UPGRADE => self.abort_upgrade(),
                _ => {
                    if let State::Closing(reason) = self.state {
                        self.finish_close(reason);
                    }
                }
            }
        }
    }

    /// Queues an encoded message frame (`4…` text or binary). When the queue is full the
    /// configured [`OverflowPolicy`](crate::engineio::OverflowPolicy) applies: the session closes (`Err(Closed)`) or the
    /// frame is refused (`Err(Full)`).
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
        let open = self.state == State::Open;
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

    /// Closes the session gracefully: queued frames are still delivered, then the close
    /// packet (over polling, with the next GET, waiting at most `close_timeout`) or the
    /// WebSocket close. [`Event::Closed`] carries `reason` (engine.io uses
    /// [`CloseReason::ForcedClose`]). Does nothing if already closing.
    ///
    /// During an upgrade the probing WebSocket stays open, as in engine.io: `5` on it
    /// still completes the upgrade ([`Event::Upgraded`]), and the queue and the close go
    /// on the WebSocket; otherwise it is closed when the session ends (the close packet
    /// went with a poll) or at `upgrade_timeout`.
    pub fn close(&mut self, now: Instant, reason: CloseReason) {
        if self.state != State::Open {
            return;
        }
        self.state = State::Closing(reason);
        self.timers.clear(PING);
        self.timers.clear(PONG);
        // A probing WebSocket stays open, as engine.io 6.6 keeps it: a client that has
        // its `3probe` pauses polling until its poll returns, then sends `5` on the
        // probe; closing the probe under it strands engine.io-client (its poll never
        // resumes, so only a ping timeout ends it). `5` completes the upgrade and the
        // WebSocket close follows; otherwise the probe closes when the session ends.
        if self.transport == TransportKind::Polling {
            self.timers.set(CLOSE, now + self.config.close_timeout);
        }
    }

    // ----- outputs -----------------------------------------------------------------------

    /// The next thing to write. Call until `None` after every input.
    pub fn poll_transmit(&mut self) -> Option<ServerTransmit> {
        if self.transmits.is_empty() {
            self.flush();
        }
        let transmit = self.transmits.pop_front();
        release_if_empty(&mut self.transmits);
        transmit
    }

    /// The next event for the layer above. Call until `None` after every input.
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        release_if_empty(&mut self.events);
        event
    }

    /// The next deadline: call [`handle_timeout`](Self::handle_timeout) when it passes.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ----- internals ---------------------------------------------------------------------

    fn new_request(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    fn respond(&mut self, request: RequestId, response: HttpResponse) {
        self.transmits
            .push_back(ServerTransmit::Http { request, response });
    }

    /// Why a new polling request cannot be taken, if it cannot.
    fn refuse_polling(&self) -> Option<HttpResponse> {
        if self.state == State::Closed {
            Some(HttpResponse::error(ErrorCode::UnknownSid))
        } else if self.transport != TransportKind::Polling {
            Some(HttpResponse::error(ErrorCode::BadRequest))
        } else {
            None
        }
    }

    fn post_too_large(&mut self) {
        if let Some(post) = self.post.take() {
            self.respond(post.id, HttpResponse::payload_too_large());
        }
        self.fail(CloseReason::TransportError);
    }

    /// A packet from the client on the current transport.
    fn on_packet(&mut self, now: Instant, packet: Packet) {
        if self.state != State::Open {
            return;
        }
        if self.timers.get(PONG).is_some()
            && !self.pong_refreshed
            && !matches!(packet, Packet::Pong(_))
        {
            // engine.io: any packet while waiting for a pong proves the client alive once.
            self.timers.set(PONG, now + self.config.ping_timeout);
            self.pong_refreshed = true;
        }
        match packet {
            Packet::Message(text) => self.events.push_back(Event::Message(text)),
            Packet::Binary(data) => self.events.push_back(Event::Binary(data)),
            Packet::Pong(_) => {
                if self.timers.get(PONG).is_some() {
                    self.timers.clear(PONG);
                    self.timers.set(PING, now + self.config.ping_interval);
                }
            }
            // v4 heartbeats go server → client only ("invalid heartbeat direction").
            Packet::Ping(_) => self.fail(CloseReason::TransportError),
            Packet::Close => self.fail(CloseReason::TransportClose),
            Packet::Open(_) | Packet::Upgrade | Packet::Noop => {}
        }
    }

    /// Moves queued frames to the transport, if it can take them.
    fn flush(&mut self) {
        let closing = match self.state {
            State::Closed => return,
            State::Closing(reason) => Some(reason),
            State::Open => None,
        };
        match self.transport {
            TransportKind::WebSocket => {
                while let Some(frame) = self.queue.pop() {
                    self.transmits.push_back(ServerTransmit::WebSocket(frame));
                }
                if let Some(reason) = closing {
                    self.finish_close(reason);
                }
            }
            TransportKind::Polling => {
                let Some(get) = self.get else { return };
                if closing.is_some() && !self.queue.is_empty() {
                    // What is queued goes first, and the close with the next poll, as
                    // engine.io drains its write buffer before closing: socket.io-client
                    // handles decoded packets a tick later than a close in the same
                    // payload, so a DISCONNECT sent with the close would be reported as
                    // "transport close" (the close timer still bounds the wait).
                    let frames = self.queue.drain_all();
                    self.get = None;
                    self.respond(get, HttpResponse::payload(encode_payload(&frames)));
                } else if let Some(reason) = closing {
                    let frames = [Packet::Close.encode()];
                    self.get = None;
                    self.respond(get, HttpResponse::payload(encode_payload(&frames)));
                    self.finish_close(reason);
                } else if !self.queue.is_empty() {
                    let frames = self.queue.drain_all();
                    self.get = None;
                    self.respond(get, HttpResponse::payload(encode_payload(&frames)));
                } else if self.upgrade == Some(true) {
                    // Probed: let the client's poll return so it can pause and send `5`.
                    self.get = None;
                    self.respond(get, noop_payload());
                }
            }
        }
    }

    fn complete_upgrade(&mut self) {
        self.upgrade = None;
        self.timers.clear(UPGRADE);
        self.transport = TransportKind::WebSocket;
        if let Some(get) = self.get.take() {
            self.respond(get, noop_payload());
        }
        self.events.push_back(Event::Upgraded);
    }

    fn abort_upgrade(&mut self) {
        if self.upgrade.take().is_some() {
            self.timers.clear(UPGRADE);
            self.transmits.push_back(ServerTransmit::CloseWebSocket);
        }
    }

    /// Ends the session now, dropping what is queued.
    fn fail(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        self.queue.clear();
        if let Some(get) = self.get.take() {
            // A client's own close answers its pending poll with a noop; anything else
            // tells the client with a close packet.
            let body = match reason {
                CloseReason::TransportClose => noop_payload(),
                _ => HttpResponse::payload(encode_payload([&Packet::Close.encode()])),
            };
            self.respond(get, body);
        }
        self.finish_close(reason);
    }

    /// The last step of every close: answers what is still held, emits `Closed`.
    fn finish_close(&mut self, reason: CloseReason) {
        self.state = State::Closed;
        self.timers.clear_all();
        self.queue.clear();
        if let Some(get) = self.get.take() {
            self.respond(
                get,
                HttpResponse::payload(encode_payload([&Packet::Close.encode()])),
            );
        }
        if let Some(post) = self.post.take() {
            self.respond(post.id, HttpResponse::error(ErrorCode::BadRequest));
        }
        let ws_open = self.transport == TransportKind::WebSocket && !self.ws_gone;
        if ws_open || self.upgrade.take().is_some() {
            self.transmits.push_back(ServerTransmit::CloseWebSocket);
        }
        self.events.push_back(Event::Closed(reason));
    }
}

fn noop_payload() -> HttpResponse {
    HttpResponse::payload(Bytes::from_static(b"6"))
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Frees the buffer of a drained queue: an idle session holds none (a few hundred bytes
/// per connection otherwise, kept at the size of the last burst).
fn release_if_empty<T>(queue: &mut VecDeque<T>) {
    if queue.is_empty() && queue.capacity() > 0 {
        *queue = VecDeque::new();
    }
}
