//! Drivers of the engine targets: they run a decoded op list (see [`crate::ops`]) against
//! a `ServerSession` or a Socket.IO `Connection`, following the crate's driving contract
//! (after every input: transmits until `None`, then events until `None`, then the
//! deadline), and check invariants on the way. A broken invariant is a panic.
//!
//! Transport invariants (both targets), checked on every output:
//!
//! - every request id the session returns is new; each gets at most one
//!   `ServerTransmit::Http` answer, never one after it was reported aborted, and never
//!   one for an id it did not give out; after every drain the requests given out, not
//!   answered and not aborted are exactly the held ones (`pending_poll`, `pending_post`);
//! - `handle_post_data`/`_end` succeed exactly for the pending POST, and
//!   `handle_request_aborted` exactly for a held request;
//! - WebSocket frames and `CloseWebSocket` only go to a WebSocket that is open (the
//!   handshake one, or one `handle_ws_open` accepted, until the driver reported it closed
//!   or the session asked to close it); `handle_ws_open` never accepts a second one;
//! - every polling payload (200, `text/plain`) and WebSocket frame decodes; the server only
//!   sends open (first, once), ping, `3probe`, noop, close and messages;
//! - after `Closed` was drained: no WebSocket output, and every new request is refused;
//!   once closed, `poll_timeout()` is `None`, nothing is held or queued;
//! - draining events never makes a new transmit (a driver that follows the contract would
//!   not see it until the next input);
//! - `poll_timeout()` is never before the latest `now`; a deadline at `now` (possible only
//!   with zero durations) is fired at once by `handle_timeout(now)`, and a few rounds of
//!   that move the deadline past `now`: time always makes progress.
//!
//! Target-specific invariants are documented on [`run_session`] and [`run_connection`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use halyard_engine::engineio::server::{
    Decision, Endpoint, Request, ServerSession, ServerTransmit,
};
use halyard_engine::engineio::{
    CloseReason, Error as EioError, Event as EioEvent, Frame, Method, OverflowPolicy, Packet,
    RequestId, ServerConfig, TransportKind,
};
use halyard_engine::socketio::server::{
    AckRequest, Config, ConnectError, Connection, Delivery, EmitOptions, Error as SioError,
    RecoveryConfig, ServerEvent,
};
use halyard_protocol::engineio::polling::{decode_payload, encode_payload};
use halyard_protocol::socketio::{self, Args, Decoder, Event, RawJson};
use halyard_protocol::{Binary, ByteString, Bytes};
use serde_json::json;

use crate::ops::{self, ClientFrame, Header, Op, OutFrame, Payload, Target, flags};

/// What a run reached (for the seed tests: do the seeds reach deep states?).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Ops run.
    pub ops: usize,
    /// The session opened (the handshake was accepted).
    pub opened: bool,
    /// The session upgraded to WebSocket.
    pub upgraded: bool,
    /// Client messages the application received (session target).
    pub received: usize,
    /// Application messages the client received.
    pub delivered: usize,
    /// HTTP answers.
    pub answers: usize,
    /// Socket.IO CONNECT requests seen.
    pub connects: usize,
    /// Sockets accepted.
    pub accepted: usize,
    /// Socket.IO events the application received.
    pub events: usize,
    /// Acks the application received.
    pub acks: usize,
    /// Ack timeouts.
    pub ack_timeouts: usize,
    /// Sockets disconnected.
    pub disconnected: usize,
    /// Why the session or connection closed.
    pub closed: Option<String>,
}

/// The transport inputs both targets share.
pub trait Machine {
    /// `handle_poll`.
    fn handle_poll(&mut self, now: Instant) -> RequestId;
    /// `handle_post`.
    fn handle_post(&mut self, now: Instant, body: Bytes) -> RequestId;
    /// `handle_post_start`.
    fn handle_post_start(&mut self, now: Instant) -> RequestId;
    /// `handle_post_data`.
    fn handle_post_data(&mut self, now: Instant, id: RequestId, c: &[u8]) -> Result<(), EioError>;
    /// `handle_post_end`.
    fn handle_post_end(&mut self, now: Instant, id: RequestId) -> Result<(), EioError>;
    /// `handle_request_aborted`.
    fn handle_request_aborted(&mut self, now: Instant, id: RequestId) -> Result<(), EioError>;
    /// `handle_ws_open`.
    fn handle_ws_open(&mut self, now: Instant) -> Result<(), EioError>;
    /// `handle_ws_frame`.
    fn handle_ws_frame(&mut self, now: Instant, frame: Frame);
    /// `handle_ws_closed`.
    fn handle_ws_closed(&mut self, now: Instant);
    /// `handle_timeout`.
    fn handle_timeout(&mut self, now: Instant);
    /// `poll_transmit`.
    fn poll_transmit(&mut self) -> Option<ServerTransmit>;
    /// `poll_timeout`.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The Engine.IO session.
    fn eio(&self) -> &ServerSession;
}

macro_rules! forward {
    ($ty:ty, $this:ident => $session:expr) => {
        impl Machine for $ty {
            fn handle_poll(&mut self, now: Instant) -> RequestId {
                <$ty>::handle_poll(self, now)
            }
            fn handle_post(&mut self, now: Instant, body: Bytes) -> RequestId {
                <$ty>::handle_post(self, now, body)
            }
            fn handle_post_start(&mut self, now: Instant) -> RequestId {
                <$ty>::handle_post_start(self, now)
            }
            fn handle_post_data(
                &mut self,
                now: Instant,
                id: RequestId,
                c: &[u8],
            ) -> Result<(), EioError> {
                <$ty>::handle_post_data(self, now, id, c)
            }
            fn handle_post_end(&mut self, now: Instant, id: RequestId) -> Result<(), EioError> {
                <$ty>::handle_post_end(self, now, id)
            }
            fn handle_request_aborted(
                &mut self,
                now: Instant,
                id: RequestId,
            ) -> Result<(), EioError> {
                <$ty>::handle_request_aborted(self, now, id)
            }
            fn handle_ws_open(&mut self, now: Instant) -> Result<(), EioError> {
                <$ty>::handle_ws_open(self, now)
            }
            fn handle_ws_frame(&mut self, now: Instant, frame: Frame) {
                <$ty>::handle_ws_frame(self, now, frame)
            }
            fn handle_ws_closed(&mut self, now: Instant) {
                <$ty>::handle_ws_closed(self, now)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$ty>::handle_timeout(self, now)
            }
            fn poll_transmit(&mut self) -> Option<ServerTransmit> {
                <$ty>::poll_transmit(self)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$ty>::poll_timeout(self)
            }
            fn eio(&self) -> &ServerSession {
                let $this = self;
                $session
            }
        }
    };
}

forward!(ServerSession, this => this);
forward!(Connection, this => this.session());

/// The most outputs one drain may produce before it counts as an endless loop.
const MAX_OUTPUTS: usize = 100_000;

fn duration(header: &Header, byte: usize, scale: u64) -> Duration {
    let floor = u64::from(header.0[0] & flags::ZERO_DURATIONS == 0);
    Duration::from_millis(u64::from(header.0[byte]) * scale + floor)
}

/// The Engine.IO configuration a header describes.
pub fn server_config(header: &Header) -> ServerConfig {
    let h = &header.0;
    ServerConfig {
        ping_interval: duration(header, 1, 4),
        ping_timeout: duration(header, 2, 4),
        upgrade_timeout: duration(header, 3, 4),
        close_timeout: duration(header, 4, 4),
        max_payload: 8 + 8 * usize::from(h[5]),
        transports: match h[0] & flags::POLLING_ONLY {
            0 => vec![TransportKind::Polling, TransportKind::WebSocket],
            _ => vec![TransportKind::Polling],
        },
        max_queued_frames: usize::from(h[6] % 32),
        max_queued_bytes: 16 * usize::from(h[7]),
        overflow: match h[0] & flags::REJECT {
            0 => OverflowPolicy::CloseSession,
            _ => OverflowPolicy::Reject,
        },
    }
}

/// The Socket.IO configuration a header describes.
pub fn socketio_config(header: &Header) -> Config {
    Config {
        connect_timeout: duration(header, 8, 16),
        max_attachments: usize::from(header.0[9] % 12),
        recovery: (header.0[0] & flags::RECOVERY != 0).then(RecoveryConfig::default),
    }
}

fn text(bytes: &[u8]) -> ByteString {
    ByteString::from(String::from_utf8_lossy(bytes).into_owned())
}

/// Text for a message the server sends: without the polling separator, which a text
/// frame must not contain (documented on `encode_payload`; JSON never has it raw).
fn out_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\u{1e}', "")
}

/// The frame an `out` spec describes.
pub fn out_frame(frame: &OutFrame) -> Frame {
    match frame {
        OutFrame::Message(b) => Frame::Text(format!("4{}", out_text(b)).into()),
        OutFrame::Binary(b) => Frame::Binary(Bytes::copy_from_slice(b)),
        OutFrame::Raw(b) => Frame::Text(out_text(b).into()),
    }
}

fn event_of(p: &Payload) -> Event {
    let name = ["msg", "chat", "x", "ev"][usize::from(p.name % 4)];
    let bins: Vec<Binary> = p
        .attachments
        .iter()
        .map(|a| Binary(Bytes::copy_from_slice(a)))
        .collect();
    let arg = match p.arg % 4 {
        0 => Some(json!(p.arg / 4)),
        1 => Some(json!("s")),
        2 => Some(json!({ "k": p.arg })),
        _ => None,
    };
    match (arg, bins.is_empty()) {
        (Some(a), true) => Event::new(name, &(a,)),
        (Some(a), false) => Event::new(name, &(a, bins)),
        (None, true) => Event::new(name, &()),
        (None, false) => Event::new(name, &(bins,)),
    }
    .expect("a valid event")
}

fn args_of(p: &Payload) -> Args {
    let event = event_of(p);
    // The same arguments without the name.
    let bins: Vec<Binary> = event
        .data()
        .attachments()
        .iter()
        .cloned()
        .map(Binary)
        .collect();
    let arg = match p.arg % 4 {
        0 => Some(json!(p.arg / 4)),
        1 => Some(json!("s")),
        2 => Some(json!({ "k": p.arg })),
        _ => None,
    };
    match (arg, bins.is_empty()) {
        (Some(a), true) => Args::new(&(a,)),
        (Some(a), false) => Args::new(&(a, bins)),
        (None, true) => Args::new(&()),
        (None, false) => Args::new(&(bins,)),
    }
    .expect("valid args")
}

fn ack_id(b: u8) -> Option<u64> {
    b.checked_sub(1).map(u64::from)
}

fn sio_frames(packet: socketio::Packet) -> Vec<Frame> {
    let encoded = packet.encode().expect("a valid packet encodes");
    encoded.frames().collect()
}

/// The frames a `frame` spec describes (a Socket.IO packet: its text frame, then one
/// binary frame per attachment).
pub fn client_frames(frame: &ClientFrame) -> Vec<Frame> {
    use socketio::Packet as P;
    let n = |b: &u8| ByteString::from_static(ops::nsp(*b));
    match frame {
        ClientFrame::Pong => vec![Packet::pong().encode()],
        ClientFrame::PingProbe => vec![Packet::ping_probe().encode()],
        ClientFrame::Upgrade => vec![Packet::Upgrade.encode()],
        ClientFrame::Noop => vec![Packet::Noop.encode()],
        ClientFrame::Close => vec![Packet::Close.encode()],
        ClientFrame::Ping => vec![Packet::ping().encode()],
        ClientFrame::PongProbe => vec![Packet::pong_probe().encode()],
        ClientFrame::Text(b) => vec![Packet::Message(text(b)).encode()],
        ClientFrame::Binary(b) => vec![Frame::Binary(Bytes::copy_from_slice(b))],
        ClientFrame::Connect { nsp, auth } => {
            let data = match auth % 4 {
                0 => None,
                1 => Some(r#"{"token":"t"}"#),
                2 => Some(r#"{"pid":"p","offset":"o"}"#),
                _ => Some("{}"),
            };
            let data = data.map(|d| RawJson::new(d).expect("valid JSON"));
            sio_frames(P::Connect { nsp: n(nsp), data })
        }
        ClientFrame::Disconnect { nsp } => sio_frames(P::Disconnect { nsp: n(nsp) }),
        ClientFrame::Event { nsp, ack, payload } => {
            sio_frames(P::event(n(nsp), ack_id(*ack), event_of(payload)))
        }
        ClientFrame::Ack { nsp, id, payload } => {
            sio_frames(P::ack(n(nsp), u64::from(*id), args_of(payload)))
        }
        ClientFrame::ConnectError { nsp } => sio_frames(P::ConnectError {
            nsp: n(nsp),
            data: RawJson::new(r#"{"message":"no"}"#).expect("valid JSON"),
        }),
        ClientFrame::LoneBinaryHeader { nsp, count } => {
            let payload = Payload {
                name: 0,
                arg: 3,
                attachments: vec![vec![]; usize::from(count % 4) + 1],
            };
            let mut frames = sio_frames(P::event(n(nsp), None, event_of(&payload)));
            frames.truncate(1);
            frames
        }
        ClientFrame::RawFrame(b) => vec![Frame::Text(text(b))],
    }
}

/// Engine.IO messages (text and binary) among `packets`.
fn messages(packets: impl IntoIterator<Item = Packet>) -> impl Iterator<Item = Packet> {
    packets
        .into_iter()
        .filter(|p| matches!(p, Packet::Message(_) | Packet::Binary(_)))
}

/// The transport side of a run: the virtual clock, the endpoint, the request ids and the
/// WebSocket, what the client sent and what the server delivered.
pub struct Driver {
    now: Instant,
    endpoint: Endpoint,
    sid: String,
    polling_handshake: bool,
    issued: Vec<RequestId>,
    answered: BTreeSet<RequestId>,
    aborted: BTreeSet<RequestId>,
    /// Bodies of streamed POSTs, as the client sent them.
    streams: BTreeMap<RequestId, Vec<u8>>,
    /// A WebSocket of the session is open.
    ws: bool,
    /// `Closed` was drained.
    closed: bool,
    /// Engine.IO messages the client sent, in order.
    client_sent: Vec<Packet>,
    /// Server packets seen (for the open packet check).
    server_packets: usize,
    /// Engine.IO messages the server delivered, in order.
    server_sent: Vec<Packet>,
    /// A deadline may fall on `now`: zero durations configured, or an ack timeout of 0.
    zero_durations_possible: bool,
    /// Statistics.
    pub stats: Stats,
}

impl Driver {
    /// Makes the endpoint and runs the handshake. `None` when the handshake is refused
    /// (a WebSocket handshake with WebSocket not allowed).
    fn open(header: &Header) -> Option<(Self, Box<ServerSession>)> {
        let config = server_config(header);
        let mut endpoint = Endpoint::new(config.clone(), 0x5eed);
        let now = Instant::now();
        let websocket = header.0[0] & flags::WEBSOCKET != 0;
        let query = match websocket {
            true => "EIO=4&transport=websocket",
            false => "EIO=4&transport=polling",
        };
        let request = Request::from_query(Method::Get, query, websocket);
        let (session, request) = match endpoint.handle_request(now, &request) {
            Decision::Open { session, request } => (session, request),
            Decision::Reject(response) => {
                assert!(websocket && !config.transports.contains(&TransportKind::WebSocket));
                assert_eq!(response.status, 400);
                return None;
            }
            other => panic!("handshake: {other:?}"),
        };
        assert_eq!(request.is_none(), websocket);
        let mut driver = Driver {
            now,
            endpoint,
            sid: session.sid().to_owned(),
            polling_handshake: !websocket,
            issued: Vec::new(),
            answered: BTreeSet::new(),
            aborted: BTreeSet::new(),
            streams: BTreeMap::new(),
            ws: websocket,
            closed: false,
            client_sent: Vec::new(),
            server_packets: 0,
            server_sent: Vec::new(),
            zero_durations_possible: header.0[0] & flags::ZERO_DURATIONS != 0,
            stats: Stats::default(),
        };
        driver.issued.extend(request);
        Some((driver, session))
    }

    fn issue(&mut self, id: RequestId) {
        assert!(
            !self.issued.contains(&id),
            "request id {id:?} given out twice"
        );
        self.issued.push(id);
    }

    /// The request id a `req` byte names.
    fn pick(&self, b: u8) -> RequestId {
        match self.issued.len() {
            0 => RequestId(1_000_000 + u64::from(b)),
            _ if b == 255 => RequestId(1_000_000 + u64::from(b)),
            n => self.issued[n - 1 - usize::from(b) % n],
        }
    }

    fn record_body(&mut self, body: &[u8]) {
        if let Ok(packets) = decode_payload(Bytes::copy_from_slice(body), usize::MAX) {
            self.client_sent.extend(messages(packets));
        }
    }

    fn record_frame(&mut self, frame: &Frame) {
        if let Ok(packet) = Packet::decode(frame.clone()) {
            self.client_sent.extend(messages([packet]));
        }
    }

    /// Runs a transport or time op; `false` when `op` is an application op.
    fn transport_op<M: Machine + ?Sized>(&mut self, m: &mut M, op: &Op) -> bool {
        let now = self.now;
        match op {
            Op::Poll => {
                let id = m.handle_poll(now);
                self.issue(id);
            }
            Op::Post(frames) => {
                let frames: Vec<Frame> = frames.iter().flat_map(client_frames).collect();
                let body = encode_payload(&frames);
                self.record_body(&body);
                let id = m.handle_post(now, body);
                self.issue(id);
            }
            Op::PostRaw(body) => {
                self.record_body(body);
                let id = m.handle_post(now, Bytes::copy_from_slice(body));
                self.issue(id);
            }
            Op::PostStart => {
                let id = m.handle_post_start(now);
                self.issue(id);
                self.streams.insert(id, Vec::new());
            }
            Op::PostData(req, chunk) => {
                let id = self.pick(*req);
                let held = m.eio().pending_post() == Some(id);
                let result = m.handle_post_data(now, id, chunk);
                assert_eq!(result.is_ok(), held, "post data for {id:?}: {result:?}");
                if held && let Some(stream) = self.streams.get_mut(&id) {
                    stream.extend_from_slice(chunk);
                }
            }
            Op::PostEnd(req) => {
                let id = self.pick(*req);
                let held = m.eio().pending_post() == Some(id);
                if held && let Some(body) = self.streams.remove(&id) {
                    self.record_body(&body);
                }
                let result = m.handle_post_end(now, id);
                assert_eq!(result.is_ok(), held, "post end for {id:?}: {result:?}");
            }
            Op::Abort(req) => {
                let id = self.pick(*req);
                let held = m.eio().pending_poll() == Some(id) || m.eio().pending_post() == Some(id);
                let result = m.handle_request_aborted(now, id);
                assert_eq!(result.is_ok(), held, "abort of {id:?}: {result:?}");
                if held {
                    self.aborted.insert(id);
                }
            }
            Op::WsOpen => {
                if m.handle_ws_open(now).is_ok() {
                    assert!(!self.ws, "a second WebSocket accepted");
                    self.ws = true;
                }
            }
            Op::WsFrames(frames) => {
                for frame in frames.iter().flat_map(client_frames) {
                    self.record_frame(&frame);
                    m.handle_ws_frame(now, frame);
                }
            }
            Op::WsText(b) => {
                let frame = Frame::Text(text(b));
                self.record_frame(&frame);
                m.handle_ws_frame(now, frame);
            }
            Op::WsBinary(b) => {
                let frame = Frame::Binary(Bytes::copy_from_slice(b));
                self.record_frame(&frame);
                m.handle_ws_frame(now, frame);
            }
            Op::WsClosed => {
                m.handle_ws_closed(now);
                self.ws = false;
            }
            Op::Advance(ms) => {
                self.now += Duration::from_millis(u64::from(*ms));
                m.handle_timeout(self.now);
            }
            Op::AdvanceToDeadline => {
                let next = m.poll_timeout().unwrap_or(now + Duration::from_millis(1));
                self.now = self.now.max(next);
                m.handle_timeout(self.now);
            }
            Op::Endpoint {
                method,
                websocket,
                query,
            } => self.endpoint_op(*method, *websocket, query),
            _ => return false,
        }
        true
    }

    /// Any request to the endpoint gets a decision that agrees with the request.
    fn endpoint_op(&mut self, method: u8, websocket: bool, query: &[u8]) {
        let method = [Method::Get, Method::Post, Method::Other][usize::from(method % 3)];
        let query = String::from_utf8_lossy(query);
        let request = Request::from_query(method, &query, websocket);
        match self.endpoint.handle_request(self.now, &request) {
            Decision::Open {
                mut session,
                request: id,
            } => {
                assert_eq!(method, Method::Get);
                assert_eq!((request.sid, request.eio), (None, Some("4")));
                assert_eq!(id.is_none(), websocket);
                assert_eq!(session.sid().len(), 20);
                assert_ne!(session.sid(), self.sid, "session id reused");
                let first = session.poll_transmit();
                let open = match (first, id) {
                    (Some(ServerTransmit::Http { request, response }), Some(id)) => {
                        assert_eq!((request, response.status), (id, 200));
                        let packets = decode_payload(response.body, usize::MAX).expect("open");
                        assert_eq!(packets.len(), 1);
                        packets.into_iter().next()
                    }
                    (Some(ServerTransmit::WebSocket(frame)), None) => Packet::decode(frame).ok(),
                    other => panic!("first transmit of a new session: {other:?}"),
                };
                let Some(Packet::Open(open)) = open else {
                    panic!("not an open packet: {open:?}");
                };
                assert_eq!(open.sid, session.sid());
                assert_eq!(session.poll_event(), Some(EioEvent::Opened(open)));
            }
            Decision::Existing { sid } => assert_eq!(Some(sid.as_str()), request.sid),
            Decision::Reject(response) => {
                assert!(matches!(response.status, 400 | 403), "{response:?}");
                let body: serde_json::Value =
                    serde_json::from_slice(&response.body).expect("a JSON error body");
                assert!(
                    body["code"].is_u64() && body["message"].is_string(),
                    "{body}"
                );
            }
        }
    }

    fn on_transmit(&mut self, transmit: ServerTransmit) {
        match transmit {
            ServerTransmit::Http { request, response } => {
                self.stats.answers += 1;
                assert!(
                    self.issued.contains(&request),
                    "answer to {request:?}, never given out"
                );
                assert!(
                    !self.aborted.contains(&request),
                    "answer to {request:?} after it was aborted"
                );
                assert!(
                    self.answered.insert(request),
                    "second answer to {request:?}: {response:?}"
                );
                if self.closed {
                    assert!(!response.is_success(), "after Closed: {response:?}");
                }
                if response.status == 200 && response.content_type.starts_with("text/plain") {
                    let packets = decode_payload(response.body.clone(), usize::MAX)
                        .unwrap_or_else(|e| panic!("server payload {response:?}: {e}"));
                    assert!(!packets.is_empty());
                    for packet in packets {
                        self.on_server_packet(packet);
                    }
                }
            }
            ServerTransmit::WebSocket(frame) => {
                assert!(
                    self.ws && !self.closed,
                    "frame without a WebSocket: {frame:?}"
                );
                let packet = Packet::decode(frame.clone())
                    .unwrap_or_else(|e| panic!("server frame {frame:?}: {e}"));
                self.on_server_packet(packet);
            }
            ServerTransmit::CloseWebSocket => {
                assert!(
                    self.ws && !self.closed,
                    "CloseWebSocket without a WebSocket"
                );
                self.ws = false;
            }
        }
    }

    fn on_server_packet(&mut self, packet: Packet) {
        self.server_packets += 1;
        match &packet {
            Packet::Open(_) => assert_eq!(self.server_packets, 1, "open packet not first"),
            Packet::Ping(data) => assert!(data.is_empty(), "{packet:?}"),
            Packet::Pong(data) => assert_eq!(&data[..], "probe"),
            Packet::Noop | Packet::Close => {}
            Packet::Message(_) | Packet::Binary(_) => {
                self.stats.delivered += 1;
                self.server_sent.push(packet);
            }
            Packet::Upgrade => panic!("the server sent {packet:?}"),
        }
    }

    fn drain_transmits<M: Machine + ?Sized>(&mut self, m: &mut M) {
        for _ in 0..MAX_OUTPUTS {
            match m.poll_transmit() {
                Some(t) => self.on_transmit(t),
                None => return,
            }
        }
        panic!("poll_transmit never returns None");
    }

    /// After draining events: nothing new to transmit, and the held requests are exactly
    /// the ones given out and not answered or aborted.
    fn check_after_drain<M: Machine + ?Sized>(&mut self, m: &mut M) {
        if let Some(t) = m.poll_transmit() {
            panic!("draining events made a new transmit: {t:?}");
        }
        let session = m.eio();
        let open: BTreeSet<RequestId> = self
            .issued
            .iter()
            .copied()
            .filter(|id| !self.answered.contains(id) && !self.aborted.contains(id))
            .collect();
        let held: BTreeSet<RequestId> = [session.pending_poll(), session.pending_post()]
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(open, held, "unanswered requests vs held requests");
        if session.is_closed() {
            assert!(held.is_empty());
            assert_eq!(session.queued_frames(), 0);
            assert_eq!(session.poll_timeout(), None);
            assert!(!session.is_upgrading());
        }
        if self.closed {
            assert_eq!(m.poll_timeout(), None, "a deadline after Closed");
        }
    }

    /// The timer check after an op: the deadline is never before `now`. One at `now` (only
    /// possible with zero durations) is fired at once with `handle_timeout(now)`, as a
    /// driver would; that must make progress: after a few rounds the deadline is later
    /// than `now` (one round is not always enough: a connect timeout that closes the
    /// connection arms a zero `close_timeout` at `now`). Returns whether it fired.
    fn deadline_due<M: Machine + ?Sized>(&mut self, m: &mut M, rounds: usize) -> bool {
        match m.poll_timeout() {
            Some(at) if at <= self.now => {
                assert!(at == self.now, "deadline {:?} before now", self.now - at);
                assert!(
                    self.zero_durations_possible,
                    "a deadline at now without zero durations"
                );
                assert!(
                    rounds < MAX_TIMEOUT_ROUNDS,
                    "handle_timeout(now) keeps a deadline at now: no progress"
                );
                m.handle_timeout(self.now);
                true
            }
            _ => false,
        }
    }
}

/// How many times in a row `handle_timeout(now)` may leave a deadline at `now`.
const MAX_TIMEOUT_ROUNDS: usize = 8;

/// Drains events with `on_event`, then checks the drain and the deadline; fires a deadline
/// due at `now` (and drains again).
fn settle<M: Machine + ?Sized>(
    d: &mut Driver,
    m: &mut M,
    mut drain_events: impl FnMut(&mut Driver, &mut M),
) {
    for rounds in 0.. {
        d.drain_transmits(m);
        drain_events(d, m);
        d.check_after_drain(m);
        if !d.deadline_due(m, rounds) {
            return;
        }
    }
}

/// Runs an `engineio_server_session` input (see [`crate::ops`]).
///
/// Besides the transport invariants: `Opened` is the first event and comes once;
/// `Closed` comes at most once, last, exactly when `is_closed()`; `Upgraded` at most once,
/// only for a polling session; the client messages the application receives are, in
/// order, a subsequence of those the client sent; the messages the client receives are, in
/// order, a prefix of those `send`/`try_send`/`send_all` accepted (nothing lost in the
/// middle, nothing duplicated or reordered); `send` of a non-message is refused.
pub fn run_session(data: &[u8]) -> Stats {
    let (header, ops) = ops::decode(data, Target::Session);
    let Some((mut d, mut session)) = Driver::open(&header) else {
        return Stats::default();
    };
    let mut model = SessionModel::default();
    let on_events = |d: &mut Driver, s: &mut ServerSession| model.drain(d, s);
    settle(&mut d, &mut *session, on_events);
    for op in &ops {
        d.stats.ops += 1;
        if !d.transport_op(&mut *session, op) {
            model.app_op(&mut d, &mut session, op);
        }
        settle(&mut d, &mut *session, |d, s| model.drain(d, s));
        let sent = &d.server_sent;
        assert!(
            sent.len() <= model.accepted.len() && sent[..] == model.accepted[..sent.len()],
            "delivered messages are not a prefix of the accepted ones:\n{sent:?}\n{:?}",
            model.accepted
        );
    }
    d.stats
}

#[derive(Default)]
struct SessionModel {
    opened: bool,
    closed: bool,
    upgraded: bool,
    /// Position in `client_sent` of the next message the application may receive.
    received: usize,
    /// Messages accepted by `send` and friends, as the client will decode them.
    accepted: Vec<Packet>,
}

impl SessionModel {
    fn accept(&mut self, frame: &Frame) {
        let packet = Packet::decode(frame.clone()).expect("an accepted frame decodes");
        assert!(matches!(packet, Packet::Message(_) | Packet::Binary(_)));
        self.accepted.push(packet);
    }

    fn app_op(&mut self, d: &mut Driver, s: &mut ServerSession, op: &Op) {
        let is_message = |f: &Frame| match f {
            Frame::Binary(_) => true,
            Frame::Text(t) => t.starts_with('4'),
        };
        match op {
            Op::Send(f) | Op::TrySend(f) => {
                let frame = out_frame(f);
                let result = match op {
                    Op::Send(_) => s.send(frame.clone()),
                    _ => s.try_send(frame.clone()),
                };
                match result {
                    Ok(()) => self.accept(&frame),
                    Err(EioError::NotAMessage) => assert!(!is_message(&frame)),
                    Err(_) => assert!(is_message(&frame), "{frame:?}: {result:?}"),
                }
            }
            Op::SendAll(frames) => {
                let frames: Vec<Frame> = frames.iter().map(out_frame).collect();
                if s.send_all(frames.iter().cloned()).is_ok() {
                    frames.iter().for_each(|f| self.accept(f));
                }
            }
            Op::Close(reason) => {
                let reasons = [
                    CloseReason::TransportClose,
                    CloseReason::TransportError,
                    CloseReason::PingTimeout,
                    CloseReason::ParseError,
                    CloseReason::ForcedClose,
                    CloseReason::ServerShuttingDown,
                    CloseReason::TransportFull,
                    CloseReason::HandshakeTimeout,
                ];
                s.close(d.now, reasons[usize::from(reason % 8)]);
            }
            other => panic!("not a session op: {other:?}"),
        }
    }

    fn drain(&mut self, d: &mut Driver, s: &mut ServerSession) {
        for _ in 0..MAX_OUTPUTS {
            let Some(event) = s.poll_event() else {
                assert_eq!(
                    s.is_closed(),
                    self.closed,
                    "is_closed() and Closed disagree"
                );
                return;
            };
            assert!(!self.closed, "an event after Closed: {event:?}");
            assert!(
                self.opened || matches!(event, EioEvent::Opened(_)),
                "{event:?} before Opened"
            );
            match event {
                EioEvent::Opened(open) => {
                    assert!(!self.opened, "Opened twice");
                    assert_eq!(open.sid, d.sid);
                    self.opened = true;
                    d.stats.opened = true;
                }
                EioEvent::Message(_) | EioEvent::Binary(_) => {
                    let packet = match event {
                        EioEvent::Message(t) => Packet::Message(t),
                        EioEvent::Binary(b) => Packet::Binary(b),
                        _ => unreachable!(),
                    };
                    let at = d.client_sent[self.received..]
                        .iter()
                        .position(|p| *p == packet)
                        .unwrap_or_else(|| panic!("received {packet:?}, not sent (in order)"));
                    self.received += at + 1;
                    d.stats.received += 1;
                }
                EioEvent::Upgraded => {
                    assert!(!self.upgraded && d.polling_handshake, "Upgraded twice");
                    assert_eq!(s.transport(), TransportKind::WebSocket);
                    self.upgraded = true;
                    d.stats.upgraded = true;
                }
                EioEvent::Closed(reason) => {
                    self.closed = true;
                    d.closed = true;
                    d.stats.closed = Some(reason.to_string());
                }
            }
        }
        panic!("poll_event never returns None");
    }
}

/// Runs a `socketio_server_connection` input (see [`crate::ops`]).
///
/// Besides the transport invariants: `Closed` comes at most once and last, exactly when
/// `is_closed()`, after every socket got its `Disconnected`; a socket's `Disconnecting`
/// comes before its `Disconnected`, both once, for a socket `accept` made, in the same
/// drain; `Disconnected` lists exactly the acks the socket still waited for; `Ack` and
/// `AckTimeout` come at most once per emit with an ack (`AckTimeout` not before its
/// deadline), never for an ack cancelled or already reported; `cancel_ack` reports
/// exactly the pending ones; `Connect` never repeats a namespace that is pending or
/// joined; `Event` only comes for a joined namespace; `Upgraded` at most once;
/// `sockets()` and `pending_acks()` agree with the events; `emit`/`accept` errors agree
/// with the model; everything the client receives is a valid Socket.IO packet stream
/// (text frames and their attachments).
pub fn run_connection(data: &[u8]) -> Stats {
    let (header, ops) = ops::decode(data, Target::Connection);
    let Some((mut d, session)) = Driver::open(&header) else {
        return Stats::default();
    };
    let config = socketio_config(&header);
    let mut conn = Connection::new(session, &config, 7, d.now);
    let mut model = ConnectionModel::default();
    settle(&mut d, &mut conn, |d, c| model.drain(d, c));
    for op in &ops {
        d.stats.ops += 1;
        if !d.transport_op(&mut conn, op) {
            model.app_op(&mut d, &mut conn, op);
        }
        settle(&mut d, &mut conn, |d, c| model.drain(d, c));
    }
    d.stats
}

#[derive(Default)]
struct ConnectionModel {
    closed: bool,
    upgraded: bool,
    /// Joined namespaces and their socket ids.
    sockets: BTreeMap<String, String>,
    /// CONNECTs reported and not answered yet.
    pending: BTreeSet<String>,
    /// Pending acks and their deadlines.
    acks: BTreeMap<(String, u64), Option<Instant>>,
    /// Sockets between `Disconnecting` and `Disconnected`.
    disconnecting: BTreeSet<(String, String)>,
    /// The client's decoder of what the server sent, and how far it read.
    client: Decoder,
    read: usize,
}

impl ConnectionModel {
    fn app_op(&mut self, d: &mut Driver, c: &mut Connection, op: &Op) {
        let now = d.now;
        match op {
            Op::Accept(n) => {
                let nsp = ops::nsp(*n);
                let was_pending = c.is_pending(nsp);
                assert!(
                    !was_pending || self.pending.contains(nsp),
                    "unreported CONNECT"
                );
                let result = c.accept(now, nsp, None);
                self.pending.remove(nsp);
                match result {
                    Ok(accepted) => {
                        assert!(was_pending, "accepted without a pending CONNECT");
                        assert!(!accepted.sid.is_empty() && !accepted.recovered);
                        assert_eq!(c.socket_id(nsp), Some(accepted.sid.as_str()));
                        let old = self.sockets.insert(nsp.to_owned(), accepted.sid);
                        assert_eq!(old, None, "accepted twice on {nsp}");
                        d.stats.accepted += 1;
                    }
                    Err(SioError::NoPendingConnect(_)) => assert!(!was_pending),
                    Err(_) => {}
                }
            }
            Op::Refuse(n, with_data) => {
                let nsp = ops::nsp(*n);
                let mut error = ConnectError::new("refused");
                if *with_data {
                    error = error.with_data(RawJson::new(r#"{"code":7}"#).expect("JSON"));
                }
                let was_pending = c.is_pending(nsp);
                let result = c.refuse(now, nsp, &error);
                self.pending.remove(nsp);
                assert!(result.is_err() || was_pending, "refused without a CONNECT");
            }
            Op::Emit {
                nsp: n,
                payload,
                ack,
                timeout,
                volatile,
            } => {
                let nsp = ops::nsp(*n);
                let timeout = timeout
                    .checked_sub(1)
                    .map(|t| Duration::from_millis(4 * u64::from(t)));
                if timeout == Some(Duration::ZERO) {
                    d.zero_durations_possible = true;
                }
                let ack = ack_id(*ack).map(|id| AckRequest { id, timeout });
                let opts = EmitOptions {
                    ack,
                    volatile: *volatile,
                };
                let key = |id| (nsp.to_owned(), id);
                let result = c.emit(now, nsp, event_of(payload), opts);
                match result {
                    Ok(delivery) => {
                        assert!(self.sockets.contains_key(nsp), "emit to {nsp}, not joined");
                        if let (Delivery::Queued, Some(ack)) = (delivery, ack) {
                            let deadline = ack.timeout.map(|t| now + t);
                            let old = self.acks.insert(key(ack.id), deadline);
                            assert_eq!(old, None, "ack id {} pending twice", ack.id);
                        }
                    }
                    Err(SioError::NotConnected(_)) => {
                        assert!(!self.sockets.contains_key(nsp), "NotConnected on {nsp}")
                    }
                    Err(SioError::DuplicateAckId(id)) => {
                        assert!(self.acks.contains_key(&key(id)), "DuplicateAckId({id})")
                    }
                    Err(_) => {}
                }
            }
            Op::Ack {
                nsp: n,
                id,
                payload,
            } => {
                let nsp = ops::nsp(*n);
                if c.ack(now, nsp, u64::from(*id), args_of(payload)).is_ok() {
                    assert!(self.sockets.contains_key(nsp), "ack on {nsp}, not joined");
                }
            }
            Op::Disconnect(n) => {
                let nsp = ops::nsp(*n);
                if c.disconnect(now, nsp).is_ok() {
                    assert!(
                        self.sockets.contains_key(nsp),
                        "disconnect {nsp}, not joined"
                    );
                }
            }
            Op::CloseConnection => c.close(now),
            Op::Shutdown => c.shutdown(now),
            Op::CancelAck(n, id) => {
                let nsp = ops::nsp(*n);
                let was = self
                    .acks
                    .remove(&(nsp.to_owned(), u64::from(*id)))
                    .is_some();
                assert_eq!(
                    c.cancel_ack(nsp, u64::from(*id)),
                    was,
                    "cancel_ack({nsp}, {id})"
                );
            }
            other => panic!("not a connection op: {other:?}"),
        }
    }

    fn drain(&mut self, d: &mut Driver, c: &mut Connection) {
        for _ in 0..MAX_OUTPUTS {
            let Some(event) = c.poll_event() else {
                self.check(d, c);
                return;
            };
            assert!(!self.closed, "an event after Closed: {event:?}");
            self.on_event(d, event);
        }
        panic!("poll_event never returns None");
    }

    fn on_event(&mut self, d: &mut Driver, event: ServerEvent) {
        match event {
            ServerEvent::Connect(request) => {
                let nsp = request.nsp.to_string();
                assert!(!self.sockets.contains_key(&nsp), "CONNECT on joined {nsp}");
                assert!(self.pending.insert(nsp), "CONNECT twice while pending");
                assert!(request.auth.as_str().trim_start().starts_with('{'));
                d.stats.connects += 1;
            }
            ServerEvent::Event { nsp, .. } => {
                assert!(
                    self.sockets.contains_key(&*nsp),
                    "event on {nsp}, not joined"
                );
                d.stats.events += 1;
            }
            ServerEvent::Ack { nsp, ack_id, .. } => {
                let pending = self.acks.remove(&(nsp.to_string(), ack_id));
                assert!(pending.is_some(), "Ack {nsp} {ack_id}: not pending");
                d.stats.acks += 1;
            }
            ServerEvent::AckTimeout { nsp, ack_id, .. } => {
                let pending = self.acks.remove(&(nsp.to_string(), ack_id));
                let Some(Some(deadline)) = pending else {
                    panic!("AckTimeout {nsp} {ack_id}: not pending with a deadline");
                };
                assert!(deadline <= d.now, "AckTimeout before its deadline");
                d.stats.ack_timeouts += 1;
            }
            ServerEvent::Disconnecting { nsp, sid, .. } => {
                assert_eq!(self.sockets.get(&*nsp), Some(&sid), "Disconnecting {nsp}");
                let fresh = self.disconnecting.insert((nsp.to_string(), sid));
                assert!(fresh, "Disconnecting twice");
            }
            ServerEvent::Disconnected {
                nsp,
                sid,
                pending_acks,
                ..
            } => {
                let nsp = nsp.to_string();
                let was = self.disconnecting.remove(&(nsp.clone(), sid.clone()));
                assert!(was, "Disconnected {nsp} {sid} without Disconnecting");
                assert_eq!(self.sockets.remove(&nsp), Some(sid));
                let listed: BTreeSet<u64> = pending_acks.iter().copied().collect();
                assert_eq!(listed.len(), pending_acks.len(), "{pending_acks:?}");
                let mine: BTreeSet<u64> = self
                    .acks
                    .keys()
                    .filter(|(n, _)| *n == nsp)
                    .map(|(_, id)| *id)
                    .collect();
                assert_eq!(listed, mine, "pending acks of {nsp}");
                self.acks.retain(|(n, _), _| *n != nsp);
                d.stats.disconnected += 1;
            }
            ServerEvent::Upgraded => {
                assert!(!self.upgraded && d.polling_handshake, "Upgraded twice");
                self.upgraded = true;
                d.stats.upgraded = true;
            }
            ServerEvent::Closed { reason } => {
                assert!(
                    self.sockets.is_empty(),
                    "Closed before {:?} left",
                    self.sockets
                );
                assert!(self.disconnecting.is_empty());
                assert!(
                    self.acks.is_empty(),
                    "acks {:?} outlive the sockets",
                    self.acks
                );
                self.closed = true;
                self.pending.clear();
                d.closed = true;
                d.stats.closed = Some(reason.to_string());
            }
        }
    }

    fn check(&mut self, d: &mut Driver, c: &mut Connection) {
        d.stats.opened = true;
        assert_eq!(
            c.is_closed(),
            self.closed,
            "is_closed() and Closed disagree"
        );
        assert!(
            self.disconnecting.is_empty(),
            "Disconnecting without Disconnected"
        );
        let sockets: BTreeMap<String, String> = c
            .sockets()
            .map(|(n, s)| (n.to_owned(), s.to_owned()))
            .collect();
        assert_eq!(sockets, self.sockets, "sockets() vs events");
        for nsp in ops::NAMESPACES {
            let actual: BTreeSet<u64> = c.pending_acks(nsp).collect();
            let model: BTreeSet<u64> = self
                .acks
                .keys()
                .filter(|(n, _)| n == nsp)
                .map(|(_, id)| *id)
                .collect();
            assert_eq!(actual, model, "pending_acks({nsp})");
            if c.is_pending(nsp) {
                assert!(
                    self.pending.contains(nsp),
                    "pending CONNECT {nsp} unreported"
                );
            }
        }
        // What the client received decodes as Socket.IO packets.
        for packet in &d.server_sent[self.read..] {
            let result = match packet {
                Packet::Message(text) => self.client.decode_text(text.clone()),
                Packet::Binary(bytes) => self.client.decode_binary(bytes.clone()),
                _ => unreachable!(),
            };
            if let Err(e) = result {
                panic!("the client cannot decode {packet:?}: {e}");
            }
        }
        self.read = d.server_sent.len();
    }
}
