//! The server closes a session while the client is upgrading from polling to WebSocket:
//! every interleaving of the network, with the server's close at every point of it, and
//! the client must learn of the close from the network alone (no ping timeout), the
//! server must end without a timer, and no request may stay held.
//!
//! Two clients are checked: Halyard's `ClientConnection`, and a model of npm's
//! engine.io-client 6.6 (`build/cjs/socket.js` and `transports/polling.js`), which is the
//! stricter peer: once it has the probe's `3probe` it pauses polling until its poll (and
//! POST) come back, and if the probe WebSocket closes meanwhile it drops the probe but
//! never resumes polling, so only a ping timeout ends it. The server must therefore not
//! close the probe while such a client may be paused waiting for it; engine.io 6.6
//! (`build/socket.js`) keeps the probe open while closing, completes the upgrade if `5`
//! arrives and then closes the WebSocket, and closes the probe only once the session has
//! ended (the close packet went out with a poll).
//!
//! The network: the WebSocket is one ordered lane each way; every HTTP request and every
//! answer travels on its own, in any order relative to everything else.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use halyard_engine::engineio::client::{ClientConnection, ClientTransmit};
use halyard_engine::engineio::server::{
    Decision, Endpoint, Request, ServerSession, ServerTransmit,
};
use halyard_engine::engineio::{
    ClientConfig, CloseReason, Event, Frame, HttpResponse, Method, Packet, RequestId, ServerConfig,
    TransportKind,
};
use halyard_protocol::engineio::polling::{decode_payload, encode_payload};

// ----- the network -------------------------------------------------------------------------

/// Client → server.
#[derive(Debug, Clone)]
enum Up {
    Get(RequestId, String),
    Post(RequestId, Bytes),
    Abort(RequestId),
    WsOpen(#[allow(dead_code)] String),
    WsFrame(Frame),
    WsClose,
}

/// Server → client.
#[derive(Debug, Clone)]
enum Down {
    Get(RequestId, HttpResponse),
    Post(RequestId, HttpResponse),
    WsOpened,
    WsRefused,
    WsFrame(Frame),
    WsClose,
}

/// A client under test.
trait Client: Sized + std::fmt::Debug {
    const NAME: &'static str;
    fn start(now: Instant) -> Self;
    fn deliver(&mut self, now: Instant, down: Down);
    /// What the client sends, in order.
    fn outputs(&mut self) -> Vec<Up>;
    /// Why the connection ended, as the client reports it; `None` while it is open.
    fn closed(&self) -> Option<String>;
    /// What a client reports when the server closes the connection.
    const TRANSPORT_CLOSE: &'static str;
    /// Where the client's upgrade is, for the coverage check.
    fn stage(&self) -> String;
}

#[derive(Debug, Clone, Copy)]
enum Action {
    ServerClose,
    WsUp,
    WsDown,
    Http(usize),
}

#[derive(Debug)]
enum Http {
    Request(Up),
    Answer(Down),
}

/// One run: a client, a server session, the messages in flight.
struct World<C> {
    now: Instant,
    endpoint: Endpoint,
    server: Option<ServerSession>,
    client: C,
    ws_up: VecDeque<Up>,
    ws_down: VecDeque<Down>,
    /// The server is done with the WebSocket (closed or refused it): it reads no more.
    server_ws_done: bool,
    /// The client is done with the WebSocket: it reads no more.
    client_ws_done: bool,
    http: Vec<Http>,
    /// Server request id → (client request id, is a GET).
    held: HashMap<RequestId, (RequestId, bool)>,
    closed_by_server: bool,
    /// Polls the server got since the last WebSocket delivery: the network is fair, so
    /// after a few the WebSocket goes first (a client that polls while `3probe` waits
    /// would otherwise poll for ever, each poll answered `6`).
    polls_since_ws: usize,
    server_events: Vec<Event>,
    trace: Vec<String>,
    /// Where both sides were when the server closed.
    closed_at: Option<String>,
}

/// How many polls the HTTP side may run ahead of a waiting WebSocket message.
const FAIRNESS: usize = 3;

impl<C: Client> World<C> {
    fn new(now: Instant) -> Self {
        let mut world = World {
            now,
            endpoint: Endpoint::new(ServerConfig::default(), 3),
            server: None,
            client: C::start(now),
            ws_up: VecDeque::new(),
            ws_down: VecDeque::new(),
            server_ws_done: false,
            client_ws_done: false,
            http: Vec::new(),
            held: HashMap::new(),
            closed_by_server: false,
            polls_since_ws: 0,
            closed_at: None,
            server_events: Vec::new(),
            trace: Vec::new(),
        };
        world.collect();
        world
    }

    fn actions(&self) -> Vec<Action> {
        let mut actions = Vec::new();
        // The server closes once it has the client's first message (as the fixture's
        // `kill` event does), so no POST of the client's races the close.
        let told = self
            .server_events
            .iter()
            .any(|e| matches!(e, Event::Message(_)));
        if told && !self.closed_by_server && self.server.as_ref().is_some_and(|s| !s.is_closed()) {
            actions.push(Action::ServerClose);
        }
        if !self.ws_up.is_empty() {
            actions.push(Action::WsUp);
        }
        if !self.ws_down.is_empty() {
            actions.push(Action::WsDown);
        }
        let ws_waits = !self.ws_up.is_empty() || !self.ws_down.is_empty();
        if !ws_waits || self.polls_since_ws < FAIRNESS {
            actions.extend((0..self.http.len()).map(Action::Http));
        }
        actions
    }

    fn act(&mut self, action: Action) {
        let now = self.now;
        match action {
            Action::ServerClose => {
                self.trace.push("server closes".into());
                self.closed_by_server = true;
                let server = self.server();
                let stage = match (server.transport(), server.is_upgrading()) {
                    (TransportKind::WebSocket, _) => "server upgraded",
                    (_, true) => "server probing",
                    (_, false) => "server polling",
                };
                self.closed_at = Some(format!("{stage}, client {}", self.client.stage()));
                self.server().close(now, CloseReason::ForcedClose);
            }
            Action::WsUp => {
                self.polls_since_ws = 0;
                let up = self.ws_up.pop_front().expect("enabled");
                self.deliver_to_server(up);
            }
            Action::WsDown => {
                self.polls_since_ws = 0;
                let down = self.ws_down.pop_front().expect("enabled");
                self.deliver_to_client(down);
            }
            Action::Http(i) => match self.http.remove(i) {
                Http::Request(up) => self.deliver_to_server(up),
                Http::Answer(down) => self.deliver_to_client(down),
            },
        }
        self.collect();
    }

    fn server(&mut self) -> &mut ServerSession {
        self.server.as_mut().expect("no session yet")
    }

    fn deliver_to_client(&mut self, down: Down) {
        self.trace.push(format!("client <- {down:?}"));
        self.client.deliver(self.now, down);
    }

    fn deliver_to_server(&mut self, up: Up) {
        self.trace.push(format!("server <- {up:?}"));
        let now = self.now;
        match up {
            Up::Get(creq, query) => {
                self.polls_since_ws += 1;
                if self.server.is_none() {
                    let request = Request::from_query(Method::Get, &query, false);
                    let Decision::Open {
                        session,
                        request: Some(sreq),
                    } = self.endpoint.handle_request(now, &request)
                    else {
                        panic!("no session")
                    };
                    self.server = Some(*session);
                    self.held.insert(sreq, (creq, true));
                } else {
                    let sreq = self.server().handle_poll(now);
                    self.held.insert(sreq, (creq, true));
                }
            }
            Up::Post(creq, body) => {
                let sreq = self.server().handle_post(now, body);
                self.held.insert(sreq, (creq, false));
            }
            Up::Abort(creq) => {
                let sreq = self.held.iter().find(|(_, (c, _))| *c == creq);
                if let Some((&sreq, _)) = sreq {
                    self.held.remove(&sreq);
                    let _ = self.server().handle_request_aborted(now, sreq);
                }
            }
            Up::WsOpen(_) => {
                let opened = self.server().handle_ws_open(now).is_ok();
                if !opened {
                    self.server_ws_done = true;
                }
                self.push_down(if opened {
                    Down::WsOpened
                } else {
                    Down::WsRefused
                });
            }
            Up::WsFrame(frame) => self.server().handle_ws_frame(now, frame),
            Up::WsClose => self.server().handle_ws_closed(now),
        }
    }

    fn push_down(&mut self, down: Down) {
        if !self.client_ws_done {
            self.ws_down.push_back(down);
        }
    }

    /// Moves both sides' outputs onto the network; the server's application answers
    /// each message it gets with one (as Socket.IO answers a CONNECT).
    fn collect(&mut self) {
        for up in self.client.outputs() {
            match up {
                Up::Get(..) | Up::Post(..) | Up::Abort(_) => self.http.push(Http::Request(up)),
                Up::WsOpen(_) | Up::WsFrame(_) => {
                    if !self.server_ws_done {
                        self.ws_up.push_back(up);
                    }
                }
                Up::WsClose if self.client_ws_done => {}
                Up::WsClose => {
                    if !self.server_ws_done {
                        self.ws_up.push_back(up);
                    }
                    self.client_ws_done = true;
                    self.ws_down.clear();
                }
            }
        }
        let Some(server) = self.server.as_mut() else {
            return;
        };
        let mut transmits = Vec::new();
        let mut answer = false;
        loop {
            while let Some(t) = server.poll_transmit() {
                transmits.push(t);
            }
            let mut more = false;
            while let Some(event) = server.poll_event() {
                if matches!(event, Event::Message(_)) {
                    answer = true;
                }
                self.server_events.push(event);
            }
            if std::mem::take(&mut answer) && !server.is_closed() {
                let _ = server.send_text("answer");
                more = true;
            }
            if !more {
                break;
            }
        }
        for t in transmits {
            match t {
                ServerTransmit::Http { request, response } => {
                    let Some((creq, get)) = self.held.remove(&request) else {
                        continue; // aborted
                    };
                    let down = match get {
                        true => Down::Get(creq, response),
                        false => Down::Post(creq, response),
                    };
                    self.http.push(Http::Answer(down));
                }
                ServerTransmit::WebSocket(frame) => {
                    if !self.server_ws_done {
                        self.push_down(Down::WsFrame(frame));
                    }
                }
                ServerTransmit::CloseWebSocket => {
                    if !self.server_ws_done {
                        self.server_ws_done = true;
                        self.ws_up.clear();
                        self.push_down(Down::WsClose);
                    }
                }
            }
        }
    }

    /// The state, for recognising a run that reached it by another order (messages in
    /// flight over HTTP compare as a set; the trace is left out).
    fn fingerprint(&self) -> String {
        let mut http: Vec<String> = self.http.iter().map(|h| format!("{h:?}")).collect();
        http.sort();
        let mut held: Vec<_> = self.held.iter().collect();
        held.sort();
        format!(
            "{:?}|{:?}|{:?}|{:?}|{http:?}|{held:?}|{}{}{}{}|{:?}",
            self.server,
            self.client,
            self.ws_up,
            self.ws_down,
            self.server_ws_done,
            self.client_ws_done,
            self.closed_by_server,
            self.polls_since_ws,
            self.server_events,
        )
    }

    /// What is wrong with a run the network has nothing more to deliver in.
    fn verdict(&self) -> Option<String> {
        let mut wrong = Vec::new();
        match self.client.closed() {
            Some(reason) if reason == C::TRANSPORT_CLOSE => {}
            Some(reason) => wrong.push(format!("the client closed with {reason}")),
            None => wrong.push("the client is still open (it waits for a ping timeout)".into()),
        }
        if !self.server.as_ref().is_some_and(|s| s.is_closed()) {
            wrong.push("the server session has not ended (it waits for a timer)".into());
        }
        if !self.held.is_empty() {
            wrong.push(format!("requests left unanswered: {:?}", self.held));
        }
        (!wrong.is_empty()).then(|| wrong.join("; "))
    }
}

/// Every interleaving, by replaying each schedule from the start (the state machines
/// are not `Clone`); a state already reached by another order is not explored again.
/// Returns where the server closed in the runs (server stage, client stage), or the
/// first failing run.
fn explore<C: Client>() -> Result<BTreeSet<String>, String> {
    let start = Instant::now();
    let mut seen = HashSet::new();
    let mut closed_at = BTreeSet::new();
    let mut stack: Vec<Vec<usize>> = vec![Vec::new()];
    while let Some(schedule) = stack.pop() {
        assert!(schedule.len() < 200, "a run that never settles");
        let mut world = World::<C>::new(start);
        for &choice in &schedule {
            let action = world.actions()[choice];
            world.act(action);
        }
        // Recorded before the shortcut: a close reaching a known state has the same
        // future as the run that got there first.
        closed_at.extend(world.closed_at.clone());
        if !seen.insert(world.fingerprint()) {
            continue;
        }
        let n = world.actions().len();
        if n > 0 {
            stack.extend((0..n).rev().map(|i| {
                let mut next = schedule.clone();
                next.push(i);
                next
            }));
            continue;
        }
        if let Some(wrong) = world.verdict() {
            return Err(format!(
                "{}: {wrong}, after:\n  {}",
                C::NAME,
                world.trace.join("\n  ")
            ));
        }
    }
    assert!(seen.len() > 100, "{} states", seen.len());
    Ok(closed_at)
}

// ----- Halyard's client --------------------------------------------------------------------

#[derive(Debug)]
struct Halyard {
    conn: ClientConnection,
    closed: Option<CloseReason>,
    said_hello: bool,
}

impl Client for Halyard {
    const NAME: &'static str = "Halyard's ClientConnection";
    const TRANSPORT_CLOSE: &'static str = "TransportClose";

    fn start(now: Instant) -> Self {
        Halyard {
            conn: ClientConnection::new(ClientConfig::default(), now),
            closed: None,
            said_hello: false,
        }
    }

    fn deliver(&mut self, now: Instant, down: Down) {
        let c = &mut self.conn;
        let _ = match down {
            Down::Get(id, r) => c.handle_get_response(now, id, r.status, r.body),
            Down::Post(id, r) => c.handle_post_response(now, id, r.status),
            Down::WsOpened => c.handle_ws_opened(now),
            Down::WsRefused => {
                c.handle_ws_error(now);
                Ok(())
            }
            Down::WsFrame(frame) => {
                c.handle_ws_frame(now, frame);
                Ok(())
            }
            Down::WsClose => {
                c.handle_ws_closed(now);
                Ok(())
            }
        };
    }

    fn outputs(&mut self) -> Vec<Up> {
        let mut out = Vec::new();
        loop {
            while let Some(t) = self.conn.poll_transmit() {
                out.push(match t {
                    ClientTransmit::Get { request, query } => Up::Get(request, query),
                    ClientTransmit::Post { request, body, .. } => Up::Post(request, body),
                    ClientTransmit::Abort(request) => Up::Abort(request),
                    ClientTransmit::OpenWebSocket { query } => Up::WsOpen(query),
                    ClientTransmit::WebSocket(frame) => Up::WsFrame(frame),
                    ClientTransmit::CloseWebSocket => Up::WsClose,
                });
            }
            let mut more = false;
            while let Some(event) = self.conn.poll_event() {
                match event {
                    Event::Opened(_) if !self.said_hello => {
                        // What Socket.IO sends first: its CONNECT.
                        self.said_hello = true;
                        self.conn.send_text("0").unwrap();
                        more = true;
                    }
                    Event::Closed(reason) => self.closed = Some(reason),
                    _ => {}
                }
            }
            if !more {
                return out;
            }
        }
    }

    fn closed(&self) -> Option<String> {
        self.closed.map(|r| format!("{r:?}"))
    }

    fn stage(&self) -> String {
        format!(
            "{:?}{}",
            self.conn.transport(),
            if self.conn.is_upgrading() {
                " probing"
            } else {
                ""
            }
        )
    }
}

// ----- a model of engine.io-client 6.6 ------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ready {
    Opening,
    Open,
    Closed,
}

/// The polling transport's `readyState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Polling {
    Opening,
    Open,
    Pausing,
    Paused,
    Closed,
}

/// Where `_probe("websocket")` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    None,
    /// `transport.open()` called.
    Opening,
    /// `2probe` sent; waiting for the first packet.
    Sent,
    /// `3probe` received: `upgrading`, the polling transport pausing.
    Pong,
    /// `freezeTransport()`: `failed`, listeners gone.
    Failed,
    /// `setTransport(websocket)` done, `5` sent.
    Upgraded,
}

/// engine.io-client 6.6's `Socket` with its polling transport and a WebSocket probe,
/// reduced to what a server close during an upgrade touches (no timers: the ping
/// timeout is what must not be needed).
#[derive(Debug)]
struct JsClient {
    next_id: u64,
    sid: String,
    ready: Ready,
    reason: Option<&'static str>,
    /// The socket's transport is the WebSocket (after the upgrade).
    on_ws: bool,
    polling: Polling,
    /// The GET in flight (`_polling`).
    get: Option<RequestId>,
    /// The POST in flight (`!writable`).
    post: Option<RequestId>,
    /// `pause()` waits for `pollComplete` / `drain`.
    pause_waits_poll: bool,
    pause_waits_drain: bool,
    probe: Probe,
    upgrading: bool,
    write_buffer: Vec<Frame>,
    out: Vec<Up>,
}

impl JsClient {
    fn request_id(&mut self) -> RequestId {
        self.next_id += 1;
        RequestId(self.next_id)
    }

    fn query(&self, transport: &str) -> String {
        match self.sid.is_empty() {
            true => format!("EIO=4&transport={transport}"),
            false => format!("EIO=4&transport={transport}&sid={}", self.sid),
        }
    }

    /// `Polling._poll()`.
    fn poll(&mut self) {
        let id = self.request_id();
        self.get = Some(id);
        let query = self.query("polling");
        self.out.push(Up::Get(id, query));
    }

    /// `Socket._onPacket()` (only while the transport's listeners are attached).
    fn on_socket_packet(&mut self, packet: Packet) {
        if self.ready == Ready::Closed {
            return;
        }
        match packet {
            Packet::Open(open) => {
                // onHandshake → onOpen: flush, then the probes.
                self.sid = open.sid.clone();
                self.ready = Ready::Open;
                self.write_buffer.push(Frame::Text("40".into())); // socket.io's CONNECT
                self.flush();
                if open.upgrades.iter().any(|u| u == "websocket") {
                    self.probe = Probe::Opening;
                    let query = self.query("websocket");
                    self.out.push(Up::WsOpen(query));
                }
            }
            Packet::Ping(_) => self.write_buffer.push(Packet::pong().encode()),
            // "close" is not a case of the switch: only the transports close.
            _ => {}
        }
    }

    /// `Socket.flush()`.
    fn flush(&mut self) {
        if self.ready == Ready::Closed || self.upgrading || self.write_buffer.is_empty() {
            return;
        }
        let frames = std::mem::take(&mut self.write_buffer);
        if self.on_ws {
            self.out.extend(frames.into_iter().map(Up::WsFrame));
        } else if self.post.is_none() && self.polling == Polling::Open {
            let id = self.request_id();
            self.post = Some(id);
            self.out.push(Up::Post(id, encode_payload(&frames)));
        } else {
            self.write_buffer = frames;
        }
    }

    /// `Socket._onClose(reason)`.
    fn on_socket_close(&mut self, reason: &'static str) {
        if self.ready == Ready::Closed {
            return;
        }
        // `this.transport.close()`.
        if self.on_ws {
            self.out.push(Up::WsClose);
        } else if matches!(self.polling, Polling::Opening | Polling::Open) {
            if self.polling == Polling::Open {
                let id = self.request_id();
                self.out
                    .push(Up::Post(id, encode_payload([&Packet::Close.encode()])));
            }
            self.polling = Polling::Closed;
        }
        self.ready = Ready::Closed;
        self.reason = Some(reason);
        // The probe's `onclose` ("socket closed").
        self.freeze_probe();
    }

    /// `freezeTransport()`.
    fn freeze_probe(&mut self) {
        if matches!(self.probe, Probe::Opening | Probe::Sent | Probe::Pong) {
            self.probe = Probe::Failed;
            self.out.push(Up::WsClose);
        }
    }

    /// The probe's transport `close` or `error`: `onerror` → `freezeTransport()`. The
    /// polling transport stays as it is, paused if it was.
    fn probe_lost(&mut self) {
        if matches!(self.probe, Probe::Opening | Probe::Sent | Probe::Pong) {
            self.probe = Probe::Failed;
        }
    }

    /// `Polling.pause()`.
    fn pause(&mut self) {
        self.polling = Polling::Pausing;
        self.pause_waits_poll = self.get.is_some();
        self.pause_waits_drain = self.post.is_some();
        if !self.pause_waits_poll && !self.pause_waits_drain {
            self.paused();
        }
    }

    /// `pause()`'s callback in `_probe`.
    fn paused(&mut self) {
        self.polling = Polling::Paused;
        if self.probe == Probe::Failed || self.ready == Ready::Closed {
            return;
        }
        self.probe = Probe::Upgraded;
        self.on_ws = true;
        self.out.push(Up::WsFrame(Packet::Upgrade.encode()));
        self.upgrading = false;
        self.flush();
    }

    /// The polling transport's `onError`: fatal while it is the socket's transport.
    fn polling_error(&mut self) {
        if !self.on_ws {
            self.on_socket_close("transport error");
        }
    }
}

impl Client for JsClient {
    const NAME: &'static str = "engine.io-client 6.6 (model)";
    const TRANSPORT_CLOSE: &'static str = "transport close";

    fn start(_now: Instant) -> Self {
        let mut client = JsClient {
            next_id: 0,
            sid: String::new(),
            ready: Ready::Opening,
            reason: None,
            on_ws: false,
            polling: Polling::Opening,
            get: None,
            post: None,
            pause_waits_poll: false,
            pause_waits_drain: false,
            probe: Probe::None,
            upgrading: false,
            write_buffer: Vec::new(),
            out: Vec::new(),
        };
        client.poll();
        client
    }

    fn deliver(&mut self, _now: Instant, down: Down) {
        match down {
            Down::Get(id, response) => {
                assert_eq!(self.get, Some(id), "one GET at a time");
                if self.polling == Polling::Closed {
                    return; // its listeners are gone
                }
                if response.status != 200 {
                    self.get = None;
                    return self.polling_error();
                }
                // `Polling.onData`.
                let packets = decode_payload(response.body, usize::MAX).expect("a payload");
                for packet in packets {
                    if self.polling == Polling::Closed {
                        break; // the socket's listeners are gone
                    }
                    if self.polling == Polling::Opening && matches!(packet, Packet::Open(_)) {
                        self.polling = Polling::Open;
                    }
                    if packet == Packet::Close {
                        // "transport closed by the server"
                        self.polling = Polling::Closed;
                        if !self.on_ws {
                            self.on_socket_close("transport close");
                        }
                        continue;
                    }
                    if !self.on_ws {
                        self.on_socket_packet(packet);
                    }
                }
                if self.polling != Polling::Closed {
                    self.get = None;
                    // "pollComplete"
                    if self.polling == Polling::Pausing && self.pause_waits_poll {
                        self.pause_waits_poll = false;
                        if !self.pause_waits_drain {
                            self.paused();
                        }
                    }
                    if self.polling == Polling::Open {
                        self.poll();
                    }
                }
            }
            Down::Post(id, response) => {
                assert_eq!(self.post, Some(id), "one POST at a time");
                self.post = None;
                if self.polling == Polling::Closed {
                    return;
                }
                if response.status != 200 {
                    return self.polling_error();
                }
                // "drain"
                if self.polling == Polling::Pausing && self.pause_waits_drain {
                    self.pause_waits_drain = false;
                    if !self.pause_waits_poll {
                        self.paused();
                    }
                }
                if !self.on_ws {
                    self.flush();
                }
            }
            Down::WsOpened => {
                if self.probe == Probe::Opening {
                    self.probe = Probe::Sent;
                    self.out.push(Up::WsFrame(Packet::ping_probe().encode()));
                }
            }
            Down::WsRefused => {
                if self.on_ws {
                    self.on_socket_close("transport error");
                } else {
                    self.probe_lost();
                }
            }
            Down::WsFrame(frame) => {
                let packet = Packet::decode(frame).expect("a packet");
                if self.on_ws {
                    self.on_socket_packet(packet);
                } else if self.probe == Probe::Sent {
                    // `transport.once("packet")`: the first one decides.
                    if packet == Packet::pong_probe() {
                        self.probe = Probe::Pong;
                        self.upgrading = true;
                        self.pause();
                    } else {
                        // "probe error" (upgradeError); the probe is left alone.
                        self.probe = Probe::Failed;
                    }
                }
            }
            Down::WsClose => {
                if self.on_ws {
                    self.on_socket_close("transport close");
                } else {
                    self.probe_lost();
                }
            }
        }
    }

    fn outputs(&mut self) -> Vec<Up> {
        std::mem::take(&mut self.out)
    }

    fn closed(&self) -> Option<String> {
        self.reason.map(str::to_owned)
    }

    fn stage(&self) -> String {
        format!("probe {:?}, polling {:?}", self.probe, self.polling)
    }
}

// ----- the checks ----------------------------------------------------------------------------

#[test]
fn server_close_at_any_point_of_an_upgrade_reaches_halyards_client() {
    let closed_at = explore::<Halyard>().unwrap_or_else(|e| panic!("{e}"));
    for stage in [
        "server polling, client Polling probing",
        "server probing, client Polling probing",
        "server upgraded, client WebSocket",
    ] {
        assert!(closed_at.contains(stage), "{stage} not in {closed_at:#?}");
    }
}

#[test]
fn server_close_at_any_point_of_an_upgrade_reaches_engine_io_client() {
    let closed_at = explore::<JsClient>().unwrap_or_else(|e| panic!("{e}"));
    // The stages of the upgrade: the probe asked for, opened (`2probe` on its way),
    // answered (`3probe`: pausing, waiting for the poll), paused (`5` on its way), done.
    for stage in [
        "server polling, client probe Opening, polling Open",
        "server probing, client probe Opening, polling Open",
        "server probing, client probe Sent, polling Open",
        "server probing, client probe Pong, polling Pausing",
        "server probing, client probe Upgraded, polling Paused",
        "server upgraded, client probe Upgraded, polling Paused",
    ] {
        assert!(closed_at.contains(stage), "{stage} not in {closed_at:#?}");
    }
}

/// The model itself: without a close it upgrades as engine.io-client does, and it does
/// stay paused for good when its probe closes while it waits for its poll (the client
/// behaviour that makes the server's order matter).
#[test]
fn the_engine_io_client_model_upgrades_and_can_be_stranded() {
    let mut world = World::<JsClient>::new(Instant::now());
    while let Some(&action) = world
        .actions()
        .iter()
        .find(|a| !matches!(a, Action::ServerClose))
    {
        world.act(action);
    }
    assert!(world.client.on_ws, "upgraded: {:?}", world.trace);
    assert_eq!(world.client.reason, None);
    assert!(world.server_events.contains(&Event::Upgraded));
    assert_eq!(
        world
            .server_events
            .iter()
            .filter(|e| matches!(e, Event::Message(_)))
            .count(),
        1
    );

    let mut client = JsClient::start(Instant::now());
    let Some(Up::Get(handshake, _)) = client.outputs().pop() else {
        panic!()
    };
    let open = br#"0{"sid":"s","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":100}"#;
    let now = Instant::now();
    client.deliver(
        now,
        Down::Get(handshake, HttpResponse::payload(Bytes::from_static(open))),
    );
    let out = client.outputs();
    let (Some(Up::Post(post, _)), Some(Up::Get(poll, _))) = (
        out.iter().find(|u| matches!(u, Up::Post(..))).cloned(),
        out.iter().find(|u| matches!(u, Up::Get(..))).cloned(),
    ) else {
        panic!("{out:?}")
    };
    client.deliver(now, Down::Post(post, HttpResponse::ok()));
    client.deliver(now, Down::WsOpened);
    client.deliver(now, Down::WsFrame(Packet::pong_probe().encode()));
    client.deliver(now, Down::WsClose);
    client.deliver(
        now,
        Down::Get(poll, HttpResponse::payload(Bytes::from_static(b"6"))),
    );
    assert_eq!(client.polling, Polling::Paused);
    assert_eq!(client.reason, None);
    assert!(
        client.outputs().iter().all(|u| !matches!(u, Up::Get(..))),
        "no poll after the pause"
    );
}
