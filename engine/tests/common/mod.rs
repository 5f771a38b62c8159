//! An in-memory network and virtual clock wiring a `ClientConnection` to a
//! `ServerSession`, so scenarios read like stories.

#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use halyard_engine::engineio::client::{ClientConnection, ClientTransmit};
use halyard_engine::engineio::server::{
    Decision, Endpoint, Request, ServerSession, ServerTransmit,
};
use halyard_engine::engineio::{
    ClientConfig, Event, Frame, HttpResponse, Method, RequestId, ServerConfig,
};

/// Whether a held request is a GET or a POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Get,
    Post,
}

/// One thing travelling on the in-memory network.
#[derive(Debug, Clone)]
pub enum Wire {
    Get(RequestId, String),
    Post(RequestId, String, Bytes),
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

/// A client and a server session joined by a FIFO network, with a virtual clock.
pub struct Pair {
    pub now: Instant,
    pub endpoint: Endpoint,
    pub server: Option<ServerSession>,
    pub client: ClientConnection,
    pub net: VecDeque<Wire>,
    /// Server request id → (client request id, kind).
    held: HashMap<RequestId, (RequestId, Kind)>,
    pub server_events: Vec<Event>,
    pub client_events: Vec<Event>,
    /// Everything the client asked the network to carry, for assertions.
    pub client_log: Vec<Wire>,
    /// When set, the network loses everything (the peer has disappeared).
    pub partitioned: bool,
    /// When set, WebSocket opens wait in `parked` until `release_ws`.
    pub park_ws: bool,
    parked: Vec<Wire>,
}

impl Pair {
    pub fn new(server: ServerConfig, client: ClientConfig) -> Self {
        let now = Instant::now();
        let mut pair = Pair {
            now,
            endpoint: Endpoint::new(server, 7),
            server: None,
            client: ClientConnection::new(client, now),
            net: VecDeque::new(),
            held: HashMap::new(),
            server_events: Vec::new(),
            client_events: Vec::new(),
            client_log: Vec::new(),
            partitioned: false,
            park_ws: false,
            parked: Vec::new(),
        };
        pair.collect();
        pair
    }

    /// A pair with default settings, opened and idle.
    pub fn open(server: ServerConfig, client: ClientConfig) -> Self {
        let mut pair = Self::new(server, client);
        pair.run();
        pair
    }

    pub fn server(&mut self) -> &mut ServerSession {
        self.server.as_mut().expect("no server session yet")
    }

    pub fn elapsed(&self, since: Instant) -> Duration {
        self.now - since
    }

    fn push(&mut self, wire: Wire) {
        if !self.partitioned {
            self.net.push_back(wire);
        }
    }

    /// Pulls every output of both sides onto the network and into the event logs.
    pub fn collect(&mut self) {
        while let Some(t) = self.client.poll_transmit() {
            let wire = match t {
                ClientTransmit::Get { request, query } => Wire::Get(request, query),
                ClientTransmit::Post {
                    request,
                    query,
                    body,
                } => Wire::Post(request, query, body),
                ClientTransmit::Abort(request) => Wire::Abort(request),
                ClientTransmit::OpenWebSocket { query } => Wire::WsOpen(query),
                ClientTransmit::WebSocket(frame) => Wire::WsFrameToServer(frame),
                ClientTransmit::CloseWebSocket => Wire::WsCloseToServer,
            };
            self.client_log.push(wire.clone());
            if self.park_ws && matches!(wire, Wire::WsOpen(_)) {
                self.parked.push(wire);
            } else {
                self.push(wire);
            }
        }
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
        }
        if let Some(server) = self.server.as_mut() {
            let mut out = Vec::new();
            while let Some(t) = server.poll_transmit() {
                out.push(t);
            }
            while let Some(e) = server.poll_event() {
                self.server_events.push(e);
            }
            for t in out {
                let wire = match t {
                    ServerTransmit::Http { request, response } => {
                        let Some((creq, kind)) = self.held.remove(&request) else {
                            continue;
                        };
                        Wire::Response(creq, kind, response)
                    }
                    ServerTransmit::WebSocket(frame) => Wire::WsFrameToClient(frame),
                    ServerTransmit::CloseWebSocket => Wire::WsCloseToClient,
                };
                self.push(wire);
            }
        }
    }

    /// Lets a parked WebSocket open go through.
    pub fn release_ws(&mut self) {
        self.park_ws = false;
        for wire in std::mem::take(&mut self.parked) {
            self.push(wire);
        }
    }

    /// Delivers the oldest thing on the network. Returns false when it is empty.
    pub fn step(&mut self) -> bool {
        self.collect();
        let Some(wire) = self.net.pop_front() else {
            return false;
        };
        if !self.partitioned {
            self.deliver(wire);
        }
        self.collect();
        true
    }

    /// Delivers until nothing moves.
    pub fn run(&mut self) {
        self.run_with(|_| {});
    }

    /// Delivers until nothing moves, calling `between` before every delivery.
    pub fn run_with(&mut self, mut between: impl FnMut(&mut Pair)) {
        for _ in 0..100_000 {
            between(self);
            if !self.step() {
                return;
            }
        }
        panic!("the network never went idle");
    }

    fn deliver(&mut self, wire: Wire) {
        let now = self.now;
        match wire {
            Wire::Get(creq, query) => {
                let request = Request::from_query(Method::Get, &query, false);
                if request.sid.is_none() {
                    match self.endpoint.handle_request(now, &request) {
                        Decision::Open {
                            session,
                            request: Some(sreq),
                        } => {
                            self.server = Some(*session);
                            self.held.insert(sreq, (creq, Kind::Get));
                        }
                        Decision::Reject(response) => {
                            self.push(Wire::Response(creq, Kind::Get, response))
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                } else {
                    let sreq = self.server().handle_poll(now);
                    self.held.insert(sreq, (creq, Kind::Get));
                }
            }
            Wire::Post(creq, _query, body) => {
                let sreq = self.server().handle_post(now, body);
                self.held.insert(sreq, (creq, Kind::Post));
            }
            Wire::Abort(creq) => {
                let sreq = self
                    .held
                    .iter()
                    .find(|(_, (c, k))| *c == creq && *k == Kind::Get);
                if let Some((&sreq, _)) = sreq {
                    self.held.remove(&sreq);
                    let _ = self.server().handle_request_aborted(now, sreq);
                }
            }
            Wire::WsOpen(query) => {
                let request = Request::from_query(Method::Get, &query, true);
                if request.sid.is_none() {
                    match self.endpoint.handle_request(now, &request) {
                        Decision::Open {
                            session,
                            request: None,
                        } => {
                            self.server = Some(*session);
                            self.push(Wire::WsOpened);
                        }
                        _ => self.push(Wire::WsRefused),
                    }
                } else {
                    match self.server().handle_ws_open(now) {
                        Ok(()) => self.push(Wire::WsOpened),
                        Err(_) => self.push(Wire::WsRefused),
                    }
                }
            }
            Wire::WsFrameToServer(frame) => self.server().handle_ws_frame(now, frame),
            Wire::WsCloseToServer => self.server().handle_ws_closed(now),
            Wire::Response(creq, Kind::Get, response) => {
                let _ = self
                    .client
                    .handle_get_response(now, creq, response.status, response.body);
            }
            Wire::Response(creq, Kind::Post, response) => {
                let _ = self.client.handle_post_response(now, creq, response.status);
            }
            Wire::WsOpened => {
                let _ = self.client.handle_ws_opened(now);
            }
            Wire::WsRefused => self.client.handle_ws_error(now),
            Wire::WsFrameToClient(frame) => self.client.handle_ws_frame(now, frame),
            Wire::WsCloseToClient => self.client.handle_ws_closed(now),
        }
    }

    /// Advances the virtual clock by `by`, firing every deadline on the way (at its exact
    /// instant) and letting the network settle after each.
    pub fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        loop {
            let next = [
                self.client.poll_timeout(),
                self.server.as_ref().and_then(|s| s.poll_timeout()),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(at) if at <= target => {
                    self.now = self.now.max(at);
                    let now = self.now;
                    self.client.handle_timeout(now);
                    if let Some(server) = self.server.as_mut() {
                        server.handle_timeout(now);
                    }
                    self.run();
                }
                _ => break,
            }
        }
        self.now = target;
        self.run();
    }

    /// Text messages the server layer received, in order.
    pub fn server_messages(&self) -> Vec<String> {
        messages(&self.server_events)
    }

    /// Text messages the client layer received, in order.
    pub fn client_messages(&self) -> Vec<String> {
        messages(&self.client_events)
    }

    pub fn server_closed(&self) -> Option<halyard_engine::engineio::CloseReason> {
        closed(&self.server_events)
    }

    pub fn client_closed(&self) -> Option<halyard_engine::engineio::CloseReason> {
        closed(&self.client_events)
    }
}

pub fn messages(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(text) => Some(text.to_string()),
            Event::Binary(data) => Some(format!("bin:{data:?}")),
            _ => None,
        })
        .collect()
}

pub fn closed(events: &[Event]) -> Option<halyard_engine::engineio::CloseReason> {
    events.iter().find_map(|e| match e {
        Event::Closed(reason) => Some(*reason),
        _ => None,
    })
}

/// Fast heartbeat settings for tests.
pub fn fast_server() -> ServerConfig {
    ServerConfig {
        ping_interval: Duration::from_millis(1000),
        ping_timeout: Duration::from_millis(500),
        upgrade_timeout: Duration::from_millis(2000),
        ..ServerConfig::default()
    }
}

pub fn polling_only() -> ClientConfig {
    ClientConfig {
        upgrade: false,
        ..ClientConfig::default()
    }
}

pub fn websocket_first() -> ClientConfig {
    ClientConfig {
        first_transport: halyard_engine::engineio::TransportKind::WebSocket,
        ..ClientConfig::default()
    }
}
