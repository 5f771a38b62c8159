//! A virtual-clock world for the Socket.IO server role: server `Connection`s driven the
//! way the async layer will drive them (namespace registry, rooms, broadcasts,
//! recovery), each wired over an in-memory network to a scripted client made of an
//! Engine.IO `ClientConnection` plus the Socket.IO codec.

#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use halyard_engine::engineio::client::{ClientConnection, ClientTransmit};
use halyard_engine::engineio::server::{Decision, Endpoint, Request, ServerTransmit};
use halyard_engine::engineio::{
    ClientConfig, CloseReason, Event as EioEvent, Frame, HttpResponse, Method, RequestId,
    ServerConfig, TransportKind,
};
use halyard_engine::socketio::DisconnectReason;
use halyard_engine::socketio::server::{
    AckRouter, Broadcast, BroadcastAckOutcome, BroadcastOptions, Config, ConnectError,
    ConnectRequest, Connection, Delivery, Namespaces, ServerEvent,
};
use halyard_protocol::socketio::{Decoder, Event, Packet, RawJson};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Get,
    Post,
}

#[derive(Debug, Clone)]
enum Wire {
    Get(RequestId, String),
    Post(RequestId, Bytes),
    Abort(RequestId),
    WsOpen(String),
    WsFrameToServer(Frame),
    WsCloseToServer,
    Response(RequestId, Kind, HttpResponse),
    WsOpened,
    WsRefused,
    WsFrameToClient(Frame),
    WsCloseToClient,
}

/// One client and its server connection.
pub struct Peer {
    pub client: ClientConnection,
    pub server: Option<Connection>,
    net: VecDeque<Wire>,
    held: HashMap<RequestId, (RequestId, Kind)>,
    decoder: Decoder,
    /// Socket.IO packets the client received, decoded.
    pub received: Vec<Packet>,
    /// Raw Socket.IO texts the client received (after the Engine.IO `4`), binary
    /// attachments as `<bin N bytes>`.
    pub wire: Vec<String>,
    /// Events the server connection produced, in order.
    pub events: Vec<ServerEvent>,
    pub client_closed: Option<CloseReason>,
    /// When set, the network loses everything.
    pub partitioned: bool,
    /// When set, the client's Socket.IO decoder failed.
    pub client_decode_error: bool,
}

impl Peer {
    pub fn conn(&mut self) -> &mut Connection {
        self.server.as_mut().expect("no server connection")
    }

    /// The texts received since `from`.
    pub fn wire_since(&self, from: usize) -> Vec<String> {
        self.wire[from..].to_vec()
    }

    /// The socket ids the client was given, per namespace (last CONNECT answers).
    pub fn sid(&self, nsp: &str) -> Option<String> {
        self.received.iter().rev().find_map(|p| match p {
            Packet::Connect {
                nsp: n,
                data: Some(data),
            } if n == nsp => field(data.as_str(), "sid"),
            _ => None,
        })
    }

    /// The pid from the last CONNECT answer for `nsp`.
    pub fn pid(&self, nsp: &str) -> Option<String> {
        self.received.iter().rev().find_map(|p| match p {
            Packet::Connect {
                nsp: n,
                data: Some(data),
            } if n == nsp => field(data.as_str(), "pid"),
            _ => None,
        })
    }

    /// The last string argument of the last event received on `nsp` (the offset, with
    /// recovery on).
    pub fn last_offset(&self, nsp: &str) -> Option<String> {
        self.received.iter().rev().find_map(|p| match p {
            Packet::Event { nsp: n, event, .. } if n == nsp => last_string(event.data().json()),
            _ => None,
        })
    }

    /// Events the server reported for this connection, rendered short for assertions.
    pub fn event_names(&self) -> Vec<String> {
        self.events.iter().map(short).collect()
    }

    pub fn closed_reason(&self) -> Option<DisconnectReason> {
        self.events.iter().find_map(|e| match e {
            ServerEvent::Closed { reason } => Some(*reason),
            _ => None,
        })
    }
}

/// A compact rendering of a server event.
pub fn short(event: &ServerEvent) -> String {
    match event {
        ServerEvent::Connect(req) => format!("connect {} {}", req.nsp, req.auth),
        ServerEvent::Event {
            nsp, event, ack_id, ..
        } => {
            format!("event {nsp} {} {:?}", event.data().json(), ack_id)
        }
        ServerEvent::Ack {
            nsp, ack_id, args, ..
        } => {
            format!("ack {nsp} {ack_id} {}", args.json())
        }
        ServerEvent::AckTimeout { nsp, ack_id, .. } => format!("ack-timeout {nsp} {ack_id}"),
        ServerEvent::Disconnecting { nsp, reason, .. } => format!("disconnecting {nsp} {reason}"),
        ServerEvent::Disconnected { nsp, reason, .. } => format!("disconnected {nsp} {reason}"),
        ServerEvent::Upgraded => "upgraded".to_owned(),
        ServerEvent::Closed { reason } => format!("closed {reason}"),
    }
}

/// The application's verdict on a CONNECT.
pub type Hook = Box<dyn FnMut(&ConnectRequest) -> Result<(), ConnectError>>;

/// A server (endpoint, namespaces, connections) and its clients under one virtual clock.
pub struct World {
    pub now: Instant,
    pub start: Instant,
    pub endpoint: Endpoint,
    pub config: Config,
    pub namespaces: Namespaces,
    pub peers: Vec<Peer>,
    /// Decides CONNECTs (default: accept everything).
    pub hook: Hook,
    /// When false, CONNECT events are left for the test to answer.
    pub auto_connect: bool,
    /// Rooms seen by the "disconnecting" handler: (sid, rooms).
    pub disconnecting_rooms: Vec<(String, Vec<String>)>,
    /// Rooms seen by the "disconnect" handler (after the socket left them).
    pub disconnected_rooms: Vec<(String, Vec<String>)>,
    /// Broadcasts with acks in flight.
    pub acks: AckRouter,
    /// Finished broadcasts with acks.
    pub outcomes: Vec<(u64, BroadcastAckOutcome)>,
    seed: u64,
}

impl World {
    pub fn new(config: Config) -> Self {
        Self::with_engine(config, fast_engine())
    }

    pub fn with_engine(config: Config, engine: ServerConfig) -> Self {
        let now = Instant::now();
        World {
            now,
            start: now,
            endpoint: Endpoint::new(engine, 11),
            namespaces: Namespaces::new(config.recovery.clone()),
            config,
            peers: Vec::new(),
            hook: Box::new(|_| Ok(())),
            auto_connect: true,
            disconnecting_rooms: Vec::new(),
            disconnected_rooms: Vec::new(),
            acks: AckRouter::new(),
            outcomes: Vec::new(),
            seed: 100,
        }
    }

    /// A new client (over WebSocket unless `polling`), opened. Returns its index.
    pub fn add_client(&mut self, polling: bool) -> usize {
        let config = if polling {
            ClientConfig {
                upgrade: false,
                ..ClientConfig::default()
            }
        } else {
            ClientConfig {
                first_transport: TransportKind::WebSocket,
                ..ClientConfig::default()
            }
        };
        self.peers.push(Peer {
            client: ClientConnection::new(config, self.now),
            server: None,
            net: VecDeque::new(),
            held: HashMap::new(),
            decoder: Decoder::new(),
            received: Vec::new(),
            wire: Vec::new(),
            events: Vec::new(),
            client_closed: None,
            partitioned: false,
            client_decode_error: false,
        });
        self.run();
        self.peers.len() - 1
    }

    /// A client joined to `nsp` (auth `{}`), accepted. Returns its index.
    pub fn connected_client(&mut self, nsp: &str) -> usize {
        let i = self.add_client(false);
        self.connect(i, nsp, None);
        assert!(
            self.peers[i].sid(nsp).is_some(),
            "client {i} not connected to {nsp}"
        );
        i
    }

    pub fn peer(&mut self, i: usize) -> &mut Peer {
        &mut self.peers[i]
    }

    // ----- the scripted client ------------------------------------------------------------

    /// The client sends a packet.
    pub fn client_send(&mut self, i: usize, packet: &Packet) {
        let encoded = packet.encode().expect("encodable");
        for frame in encoded.frames() {
            let _ = self.peers[i].client.send(frame);
        }
        self.run();
    }

    /// The client sends raw Socket.IO text (after the Engine.IO `4`).
    pub fn client_send_text(&mut self, i: usize, text: &str) {
        let _ = self.peers[i].client.send_text(text);
        self.run();
    }

    /// The client sends a raw binary message.
    pub fn client_send_binary(&mut self, i: usize, data: &'static [u8]) {
        let _ = self.peers[i].client.send_binary(Bytes::from_static(data));
        self.run();
    }

    /// The client joins `nsp` with this auth JSON.
    pub fn connect(&mut self, i: usize, nsp: &str, auth: Option<&str>) {
        let data = auth.map(|a| RawJson::new(a.to_owned()).expect("auth JSON"));
        self.client_send(
            i,
            &Packet::Connect {
                nsp: nsp.into(),
                data,
            },
        );
    }

    /// The client emits an event.
    pub fn client_emit(&mut self, i: usize, nsp: &str, ack_id: Option<u64>, event: Event) {
        self.client_send(i, &Packet::event(nsp, ack_id, event));
    }

    // ----- the server side ---------------------------------------------------------------

    /// Broadcasts on `nsp` and hands the packet to every target's connection.
    pub fn broadcast(
        &mut self,
        nsp: &str,
        event: Event,
        opts: &BroadcastOptions,
    ) -> (Broadcast, Vec<(String, Delivery)>) {
        let now = self.now;
        let b = self
            .namespaces
            .get_mut(nsp)
            .expect("namespace")
            .broadcast(now, event, opts)
            .expect("encodable");
        let deliveries = self.deliver_broadcast(nsp, &b);
        (b, deliveries)
    }

    /// Broadcasts with acks; the collector is driven by the world.
    pub fn broadcast_with_ack(
        &mut self,
        nsp: &str,
        event: Event,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> Broadcast {
        let now = self.now;
        let (b, collector) = self
            .namespaces
            .get_mut(nsp)
            .expect("namespace")
            .broadcast_with_ack(now, event, opts, timeout)
            .expect("encodable");
        self.acks.insert(nsp, collector);
        self.deliver_broadcast(nsp, &b);
        self.finish_collectors();
        b
    }

    /// Hands an encoded packet to the connection of each target.
    pub fn deliver_broadcast(&mut self, nsp: &str, b: &Broadcast) -> Vec<(String, Delivery)> {
        let now = self.now;
        let mut out = Vec::new();
        for sid in &b.targets {
            let peer = self.peers.iter_mut().find(|p| {
                p.server
                    .as_ref()
                    .is_some_and(|c| c.socket_id(nsp) == Some(sid.as_str()))
            });
            if let Some(peer) = peer {
                let delivery = peer.conn().send(now, nsp, b).expect("send");
                out.push((sid.clone(), delivery));
            }
        }
        self.run();
        out
    }

    /// The index of the peer whose socket on `nsp` is `sid`.
    pub fn peer_of(&self, nsp: &str, sid: &str) -> Option<usize> {
        self.peers.iter().position(|p| {
            p.server
                .as_ref()
                .is_some_and(|c| c.socket_id(nsp) == Some(sid))
        })
    }

    /// The server sid of client `i` on `nsp`.
    pub fn sid(&self, i: usize, nsp: &str) -> String {
        self.peers[i]
            .server
            .as_ref()
            .and_then(|c| c.socket_id(nsp))
            .expect("connected")
            .to_owned()
    }

    /// Answers a pending CONNECT by hand (when `auto_connect` is off).
    pub fn decide(&mut self, i: usize, req: &ConnectRequest) {
        let now = self.now;
        let Some(_) = self.namespaces.resolve(&req.nsp, &req.auth) else {
            let _ = self.peers[i]
                .conn()
                .refuse(now, &req.nsp, &ConnectError::invalid_namespace());
            return;
        };
        let skip = self
            .config
            .recovery
            .as_ref()
            .is_some_and(|r| r.skip_middlewares);
        let nsp = self.namespaces.get_mut(&req.nsp).expect("resolved");
        // Look the session up without taking it: a refusal leaves it for a later try.
        let resumable = req
            .recovery
            .as_ref()
            .is_some_and(|t| nsp.find_session(now, t).is_some());
        let verdict = match (resumable, skip) {
            (true, true) => Ok(()),
            _ => (self.hook)(req),
        };
        let conn = self.peers[i].conn();
        match verdict {
            Ok(()) => {
                let restored = req.recovery.as_ref().and_then(|t| nsp.restore(now, t));
                let accepted = conn
                    .accept(now, &req.nsp, restored.as_ref())
                    .expect("accept");
                self.namespaces
                    .get_mut(&req.nsp)
                    .expect("resolved")
                    .add_socket(&accepted.sid, restored.as_ref());
            }
            Err(error) => conn.refuse(now, &req.nsp, &error).expect("refuse"),
        }
    }

    fn process_events(&mut self, i: usize) {
        loop {
            let Some(event) = self.peers[i].server.as_mut().and_then(|c| c.poll_event()) else {
                return;
            };
            let now = self.now;
            match &event {
                ServerEvent::Connect(req) if self.auto_connect => {
                    let req = req.clone();
                    self.decide(i, &req);
                }
                ServerEvent::Disconnecting { nsp, sid, .. } => {
                    let rooms = self
                        .namespaces
                        .get(nsp)
                        .map(|n| n.rooms().rooms_of(sid).map(str::to_owned).collect())
                        .unwrap_or_default();
                    self.disconnecting_rooms.push((sid.clone(), rooms));
                }
                ServerEvent::Disconnected {
                    nsp,
                    sid,
                    pid,
                    reason,
                    ..
                } => {
                    if let Some(n) = self.namespaces.get_mut(nsp) {
                        n.remove_socket(now, sid, pid.as_deref(), *reason, None);
                        let rooms = n.rooms().rooms_of(sid).map(str::to_owned).collect();
                        self.disconnected_rooms.push((sid.clone(), rooms));
                    }
                }
                ServerEvent::Ack {
                    nsp,
                    sid,
                    ack_id,
                    args,
                } => {
                    self.acks.handle_ack(nsp, sid, *ack_id, args.clone());
                }
                _ => {}
            }
            self.peers[i].events.push(event);
        }
    }

    /// Finished broadcasts with acks: their silent targets forget the ack.
    fn finish_collectors(&mut self) {
        while let Some(done) = self.acks.poll_finished() {
            for sid in &done.outcome.missing {
                if let Some(p) = self.peer_of(&done.nsp, sid) {
                    self.peers[p].conn().cancel_ack(&done.nsp, done.ack_id);
                }
            }
            self.outcomes.push((done.ack_id, done.outcome));
        }
    }

    // ----- the network -------------------------------------------------------------------

    fn collect(&mut self, i: usize) {
        let peer = &mut self.peers[i];
        while let Some(t) = peer.client.poll_transmit() {
            let wire = match t {
                ClientTransmit::Get { request, query } => Wire::Get(request, query),
                ClientTransmit::Post { request, body, .. } => Wire::Post(request, body),
                ClientTransmit::Abort(request) => Wire::Abort(request),
                ClientTransmit::OpenWebSocket { query } => Wire::WsOpen(query),
                ClientTransmit::WebSocket(frame) => Wire::WsFrameToServer(frame),
                ClientTransmit::CloseWebSocket => Wire::WsCloseToServer,
            };
            if !peer.partitioned {
                peer.net.push_back(wire);
            }
        }
        while let Some(e) = peer.client.poll_event() {
            let decoded = match e {
                EioEvent::Message(text) => {
                    peer.wire.push(text.to_string());
                    peer.decoder.decode_text(text)
                }
                EioEvent::Binary(data) => {
                    peer.wire.push(format!("<bin {} bytes>", data.len()));
                    peer.decoder.decode_binary(data)
                }
                EioEvent::Closed(reason) => {
                    peer.client_closed = Some(reason);
                    continue;
                }
                _ => continue,
            };
            match decoded {
                Ok(Some(packet)) => peer.received.push(packet),
                Ok(None) => {}
                Err(_) => peer.client_decode_error = true,
            }
        }
        if let Some(server) = peer.server.as_mut() {
            while let Some(t) = server.poll_transmit() {
                let wire = match t {
                    ServerTransmit::Http { request, response } => {
                        let Some((creq, kind)) = peer.held.remove(&request) else {
                            continue;
                        };
                        Wire::Response(creq, kind, response)
                    }
                    ServerTransmit::WebSocket(frame) => Wire::WsFrameToClient(frame),
                    ServerTransmit::CloseWebSocket => Wire::WsCloseToClient,
                };
                if !peer.partitioned {
                    peer.net.push_back(wire);
                }
            }
        }
        self.process_events(i);
    }

    fn step(&mut self) -> bool {
        let mut moved = false;
        for i in 0..self.peers.len() {
            self.collect(i);
            if let Some(wire) = self.peers[i].net.pop_front() {
                moved = true;
                self.deliver(i, wire);
                self.collect(i);
            }
            // Collect again: deciding a CONNECT may have queued more.
            self.collect(i);
        }
        self.finish_collectors();
        moved
    }

    /// Delivers until nothing moves.
    pub fn run(&mut self) {
        for _ in 0..100_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the network never went idle");
    }

    fn deliver(&mut self, i: usize, wire: Wire) {
        let now = self.now;
        let seed = self.seed;
        let config = self.config.clone();
        let endpoint = &mut self.endpoint;
        let peer = &mut self.peers[i];
        if peer.partitioned {
            return;
        }
        match wire {
            Wire::Get(creq, query) => {
                let request = Request::from_query(Method::Get, &query, false);
                if request.sid.is_none() {
                    match endpoint.handle_request(now, &request) {
                        Decision::Open {
                            session,
                            request: Some(sreq),
                        } => {
                            peer.server = Some(Connection::new(session, &config, seed, now));
                            peer.held.insert(sreq, (creq, Kind::Get));
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                } else if let Some(server) = peer.server.as_mut() {
                    let sreq = server.handle_poll(now);
                    peer.held.insert(sreq, (creq, Kind::Get));
                }
            }
            Wire::Post(creq, body) => {
                if let Some(server) = peer.server.as_mut() {
                    let sreq = server.handle_post(now, body);
                    peer.held.insert(sreq, (creq, Kind::Post));
                }
            }
            Wire::Abort(creq) => {
                let sreq = peer
                    .held
                    .iter()
                    .find(|(_, (c, k))| *c == creq && *k == Kind::Get)
                    .map(|(s, _)| *s);
                if let Some(sreq) = sreq {
                    peer.held.remove(&sreq);
                    if let Some(server) = peer.server.as_mut() {
                        let _ = server.handle_request_aborted(now, sreq);
                    }
                }
            }
            Wire::WsOpen(query) => {
                let request = Request::from_query(Method::Get, &query, true);
                if request.sid.is_none() {
                    match endpoint.handle_request(now, &request) {
                        Decision::Open {
                            session,
                            request: None,
                        } => {
                            peer.server = Some(Connection::new(session, &config, seed, now));
                            peer.net.push_back(Wire::WsOpened);
                        }
                        _ => peer.net.push_back(Wire::WsRefused),
                    }
                } else {
                    match peer.server.as_mut().map(|s| s.handle_ws_open(now)) {
                        Some(Ok(())) => peer.net.push_back(Wire::WsOpened),
                        _ => peer.net.push_back(Wire::WsRefused),
                    }
                }
            }
            Wire::WsFrameToServer(frame) => {
                if let Some(server) = peer.server.as_mut() {
                    server.handle_ws_frame(now, frame);
                }
            }
            Wire::WsCloseToServer => {
                if let Some(server) = peer.server.as_mut() {
                    server.handle_ws_closed(now);
                }
            }
            Wire::Response(creq, Kind::Get, response) => {
                let _ = peer
                    .client
                    .handle_get_response(now, creq, response.status, response.body);
            }
            Wire::Response(creq, Kind::Post, response) => {
                let _ = peer.client.handle_post_response(now, creq, response.status);
            }
            Wire::WsOpened => {
                let _ = peer.client.handle_ws_opened(now);
            }
            Wire::WsRefused => peer.client.handle_ws_error(now),
            Wire::WsFrameToClient(frame) => peer.client.handle_ws_frame(now, frame),
            Wire::WsCloseToClient => peer.client.handle_ws_closed(now),
        }
        self.seed += 1;
    }

    /// The transport of client `i` drops (both ends see the WebSocket close).
    pub fn drop_transport(&mut self, i: usize) {
        let now = self.now;
        let peer = &mut self.peers[i];
        peer.partitioned = true;
        peer.net.clear();
        if let Some(server) = peer.server.as_mut() {
            server.handle_ws_closed(now);
        }
        peer.client.handle_ws_closed(now);
        self.run();
    }

    /// Advances the virtual clock by `by`, firing every deadline at its instant.
    pub fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        loop {
            let mut next: Option<Instant> = self.namespaces.poll_timeout();
            for p in &self.peers {
                for t in [
                    p.client.poll_timeout(),
                    p.server.as_ref().and_then(|s| s.poll_timeout()),
                ]
                .into_iter()
                .flatten()
                {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
            }
            if let Some(t) = self.acks.poll_timeout() {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
            match next {
                Some(at) if at <= target => {
                    self.now = self.now.max(at);
                    let now = self.now;
                    self.namespaces.handle_timeout(now);
                    for p in &mut self.peers {
                        p.client.handle_timeout(now);
                        if let Some(server) = p.server.as_mut() {
                            server.handle_timeout(now);
                        }
                    }
                    self.acks.handle_timeout(now);
                    self.finish_collectors();
                    self.run();
                }
                _ => break,
            }
        }
        self.now = target;
        self.run();
    }
}

/// Fast heartbeats, so that ping timeouts are quick to reach.
pub fn fast_engine() -> ServerConfig {
    ServerConfig {
        ping_interval: Duration::from_millis(1000),
        ping_timeout: Duration::from_millis(500),
        ..ServerConfig::default()
    }
}

/// The string value of `"key":"…"` in a flat JSON object of plain strings.
pub fn field(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let len = json[start..].find('"')?;
    Some(json[start..start + len].to_owned())
}

/// The last element of a JSON array when it is a plain string (`…,"x"]`).
pub fn last_string(json: &str) -> Option<String> {
    let body = json.strip_suffix("\"]")?;
    let start = body.rfind('"')? + 1;
    let before = body[..start - 1].trim_end();
    (before.ends_with(',') || before.ends_with('[')).then(|| body[start..].to_owned())
}
