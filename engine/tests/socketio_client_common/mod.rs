//! A virtual-clock world for the Socket.IO client role: a `Manager` wired over an
//! in-memory polling network to a scripted server made of an Engine.IO `ServerSession`
//! plus the Socket.IO codec. The server answers CONNECTs through a replaceable policy,
//! records every packet it receives, and can be taken down or made unreachable.

#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use halyard_engine::engineio::client::ClientTransmit;
use halyard_engine::engineio::server::{
    Decision, Endpoint, Request, ServerSession, ServerTransmit,
};
use halyard_engine::engineio::{
    ClientConfig, CloseReason, Event as EioEvent, HttpResponse, Method, RequestId, ServerConfig,
};
use halyard_engine::socketio::client::{
    ConnectionId, Event, Manager, ManagerConfig, SocketId, SocketOptions, Transmit,
};
use halyard_protocol::socketio::{Decoder, Packet, RawJson};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Get,
    Post,
}

#[derive(Debug, Clone)]
enum Wire {
    Get(ConnectionId, RequestId, String),
    Post(ConnectionId, RequestId, Bytes),
    Abort(ConnectionId, RequestId),
    Response(ConnectionId, RequestId, Kind, HttpResponse),
    Failed(ConnectionId, RequestId),
}

/// What the scripted server answers to a packet (the default accepts every CONNECT).
pub type Policy = Box<dyn FnMut(&Packet) -> Vec<Packet>>;

pub struct World {
    pub now: Instant,
    pub manager: Manager,
    endpoint: Endpoint,
    pub server: Option<ServerSession>,
    server_conn: Option<ConnectionId>,
    net: VecDeque<Wire>,
    held: HashMap<RequestId, (ConnectionId, RequestId, Kind)>,
    /// Every manager event with the time it was seen.
    pub events: Vec<(Instant, Event)>,
    /// Every transmit the manager asked for.
    pub transmits: Vec<(Instant, Transmit)>,
    decoder: Decoder,
    /// Socket.IO packets the server received, across sessions.
    pub received: Vec<Packet>,
    /// Engine.IO sessions the server opened.
    pub sessions: usize,
    /// When set, every request fails (the server is unreachable).
    pub down: bool,
    pub policy: Policy,
}

/// The default policy: accept every CONNECT with `sid-<nsp>-<n>`.
pub fn accept_all() -> Policy {
    let mut n = 0;
    Box::new(move |packet| match packet {
        Packet::Connect { nsp, .. } => {
            n += 1;
            vec![connect_ok(nsp, &format!("sid{n}"), None)]
        }
        _ => vec![],
    })
}

pub fn connect_ok(nsp: &str, sid: &str, pid: Option<&str>) -> Packet {
    let data = match pid {
        Some(pid) => format!(r#"{{"sid":"{sid}","pid":"{pid}"}}"#),
        None => format!(r#"{{"sid":"{sid}"}}"#),
    };
    Packet::Connect {
        nsp: nsp.into(),
        data: Some(RawJson::new(data).unwrap()),
    }
}

pub fn fast_server() -> ServerConfig {
    ServerConfig {
        ping_interval: Duration::from_millis(25_000),
        ping_timeout: Duration::from_millis(20_000),
        ..ServerConfig::default()
    }
}

pub fn polling_config() -> ManagerConfig {
    ManagerConfig {
        engine: ClientConfig {
            upgrade: false,
            ..ClientConfig::default()
        },
        ..ManagerConfig::default()
    }
}

impl World {
    pub fn new(config: ManagerConfig, seed: u64) -> Self {
        World {
            now: Instant::now(),
            manager: Manager::new(config, seed),
            endpoint: Endpoint::new(fast_server(), 7),
            server: None,
            server_conn: None,
            net: VecDeque::new(),
            held: HashMap::new(),
            events: Vec::new(),
            transmits: Vec::new(),
            decoder: Decoder::new(),
            received: Vec::new(),
            sessions: 0,
            down: false,
            policy: accept_all(),
        }
    }

    /// Creates a socket (auto-connecting per the config) and lets the network settle.
    pub fn socket(&mut self, nsp: &str, options: SocketOptions) -> SocketId {
        let id = self.manager.socket(self.now, nsp, options).unwrap();
        self.run();
        id
    }

    /// Pulls every output of both sides onto the network and into the logs.
    pub fn collect(&mut self) {
        while let Some(t) = self.manager.poll_transmit() {
            self.transmits.push((self.now, t.clone()));
            let conn = t.connection;
            let wire = match t.action {
                ClientTransmit::Get { request, query } => Wire::Get(conn, request, query),
                ClientTransmit::Post { request, body, .. } => Wire::Post(conn, request, body),
                ClientTransmit::Abort(request) => Wire::Abort(conn, request),
                other => panic!("polling only, got {other:?}"),
            };
            self.net.push_back(wire);
        }
        while let Some(e) = self.manager.poll_event() {
            self.events.push((self.now, e));
        }
        let now = self.now;
        let Some(server) = self.server.as_mut() else {
            return;
        };
        let mut out = Vec::new();
        while let Some(t) = server.poll_transmit() {
            out.push(t);
        }
        let mut incoming = Vec::new();
        while let Some(e) = server.poll_event() {
            incoming.push(e);
        }
        for t in out {
            if let ServerTransmit::Http { request, response } = t
                && let Some((conn, creq, kind)) = self.held.remove(&request)
            {
                self.net
                    .push_back(Wire::Response(conn, creq, kind, response));
            }
        }
        for e in incoming {
            let decoded = match e {
                EioEvent::Message(text) => self.decoder.decode_text(text),
                EioEvent::Binary(data) => self.decoder.decode_binary(data),
                _ => continue,
            };
            if let Some(packet) = decoded.expect("the client speaks Socket.IO") {
                let answers = (self.policy)(&packet);
                self.received.push(packet);
                for answer in answers {
                    self.server_send(&answer);
                }
            }
        }
        let _ = now;
    }

    /// Sends a packet from the server.
    pub fn server_send(&mut self, packet: &Packet) {
        let server = self.server.as_mut().expect("a server session");
        for frame in packet.encode().unwrap().frames() {
            server.send(frame).unwrap();
        }
    }

    /// Delivers the oldest thing on the network.
    pub fn step(&mut self) -> bool {
        self.collect();
        let Some(wire) = self.net.pop_front() else {
            return false;
        };
        self.deliver(wire);
        self.collect();
        true
    }

    pub fn run(&mut self) {
        for _ in 0..100_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the network never went idle");
    }

    fn session_for(&mut self, conn: ConnectionId) -> Option<&mut ServerSession> {
        if self.server_conn == Some(conn) {
            self.server.as_mut().filter(|s| !s.is_closed())
        } else {
            None
        }
    }

    fn deliver(&mut self, wire: Wire) {
        let now = self.now;
        match wire {
            Wire::Get(conn, creq, _) | Wire::Post(conn, creq, _) if self.down => {
                self.net.push_back(Wire::Failed(conn, creq));
            }
            Wire::Get(conn, creq, query) => {
                let request = Request::from_query(Method::Get, &query, false);
                if request.sid.is_none() {
                    match self.endpoint.handle_request(now, &request) {
                        Decision::Open {
                            session,
                            request: Some(sreq),
                        } => {
                            self.server = Some(*session);
                            self.server_conn = Some(conn);
                            self.sessions += 1;
                            self.decoder = Decoder::new();
                            self.held.clear();
                            self.held.insert(sreq, (conn, creq, Kind::Get));
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                } else if let Some(server) = self.session_for(conn) {
                    let sreq = server.handle_poll(now);
                    self.held.insert(sreq, (conn, creq, Kind::Get));
                } else {
                    self.net.push_back(Wire::Response(
                        conn,
                        creq,
                        Kind::Get,
                        Endpoint::unknown_sid(),
                    ));
                }
            }
            Wire::Post(conn, creq, body) => {
                if let Some(server) = self.session_for(conn) {
                    let sreq = server.handle_post(now, body);
                    self.held.insert(sreq, (conn, creq, Kind::Post));
                } else {
                    self.net.push_back(Wire::Response(
                        conn,
                        creq,
                        Kind::Post,
                        Endpoint::unknown_sid(),
                    ));
                }
            }
            Wire::Abort(conn, creq) => {
                let found = self
                    .held
                    .iter()
                    .find(|(_, (c, r, _))| *c == conn && *r == creq)
                    .map(|(s, _)| *s);
                if let Some(sreq) = found {
                    self.held.remove(&sreq);
                    if let Some(server) = self.session_for(conn) {
                        let _ = server.handle_request_aborted(now, sreq);
                    }
                }
            }
            Wire::Response(conn, creq, Kind::Get, response) => {
                let _ = self.manager.handle_get_response(
                    now,
                    conn,
                    creq,
                    response.status,
                    response.body,
                );
            }
            Wire::Response(conn, creq, Kind::Post, response) => {
                let _ = self
                    .manager
                    .handle_post_response(now, conn, creq, response.status);
            }
            Wire::Failed(conn, creq) => {
                let _ = self.manager.handle_request_failed(now, conn, creq);
            }
        }
    }

    /// The network drops: every held request of the server fails on the client side and
    /// the server session is gone.
    pub fn kill(&mut self) {
        for (_, (conn, creq, _)) in self.held.drain() {
            self.net.push_back(Wire::Failed(conn, creq));
        }
        if let Some(server) = self.server.as_mut() {
            server.close(self.now, CloseReason::TransportClose);
        }
        self.server = None;
        self.server_conn = None;
        self.run();
    }

    /// Advances the virtual clock by `by`, firing every deadline at its instant.
    pub fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        loop {
            let next = [
                self.manager.poll_timeout(),
                self.server.as_ref().and_then(|s| s.poll_timeout()),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(at) if at <= target => {
                    self.now = self.now.max(at);
                    let now = self.now;
                    self.manager.handle_timeout(now);
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

    /// The events seen so far, forgetting them.
    pub fn take_events(&mut self) -> Vec<Event> {
        self.events.drain(..).map(|(_, e)| e).collect()
    }

    /// The packets the server received so far, forgetting them.
    pub fn take_received(&mut self) -> Vec<Packet> {
        std::mem::take(&mut self.received)
    }

    /// The Socket.IO text of each packet the server received (without the `4`), forgetting them.
    pub fn take_received_text(&mut self) -> Vec<String> {
        self.take_received()
            .iter()
            .map(|p| p.encode().unwrap().text().to_string())
            .collect()
    }
}
