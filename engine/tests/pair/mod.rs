//! The Socket.IO client engine and server engine wired to each other in memory, under a
//! virtual clock: the prototype of the async layer's driver, written once for tests.
//!
//! - The **network** is one FIFO of [`Wire`]s: polling GET/POST requests and their
//!   responses, WebSocket opens, frames and closes. Latency is zero; time only moves
//!   with [`World::advance`]. A client can be partitioned (everything to and from it is
//!   lost), stalled (its link is down but TCP keeps the data, delivered in order when it
//!   comes back) or cut (its transport is reset: both ends see the close at once).
//! - Each **client** is a `socketio::client::Manager`, driven by its documented rules:
//!   every transport input is reported under the [`ConnectionId`] of the transmit that
//!   asked for it; after every input, transmits, then events, are drained.
//! - The **server** is an Engine.IO `Endpoint`, one `socketio::server::Connection` per
//!   Engine.IO session (routed by Engine.IO sid), and the engine's server-wide plain
//!   data: `Namespaces`, a `SocketIndex` from sockets to connections and an `AckRouter`
//!   for broadcasts with acks; and a tiny application ([`Server`]'s handlers): a
//!   connect hook, `join`/`leave`/`echo`/`relay`/`ignore` events, and an ack echoing the
//!   event for every other event that asks for one. Namespaces `/` and `/admin` exist;
//!   any other is refused as "Invalid namespace".

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use halyard_engine::engineio::client::ClientTransmit;
use halyard_engine::engineio::server::{Decision, Endpoint, Request, ServerTransmit};
use halyard_engine::engineio::{
    ClientConfig, Frame, HttpResponse, Method, RequestId, ServerConfig, TransportKind,
};
use halyard_engine::socketio::DisconnectReason;
use halyard_engine::socketio::client::{
    ConnectionId, Event as ClientEvent, Manager, ManagerConfig, SocketId, SocketOptions,
};
use halyard_engine::socketio::server::{
    Accepted, AckRoute, AckRouter, Broadcast, BroadcastAckOutcome, BroadcastOptions, Config,
    ConnectError, ConnectRequest, Connection, Delivery, EmitToOptions, Namespaces, RecoveryConfig,
    ServerEvent, SocketIndex,
};
use halyard_protocol::socketio::{Args, Event, RawJson};

// ----- configuration ------------------------------------------------------------------------

/// Which transports the client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Long-polling only (no upgrade).
    Polling,
    /// WebSocket from the handshake on.
    WebSocket,
    /// Polling handshake, then the upgrade to WebSocket.
    Upgrade,
}

impl Transport {
    pub const ALL: [Transport; 3] = [Transport::Polling, Transport::WebSocket, Transport::Upgrade];

    pub fn engine(self) -> ClientConfig {
        let base = ClientConfig {
            handshake_timeout: ms(2000),
            ..ClientConfig::default()
        };
        match self {
            Transport::Polling => ClientConfig {
                upgrade: false,
                ..base
            },
            Transport::WebSocket => ClientConfig {
                first_transport: TransportKind::WebSocket,
                ..base
            },
            Transport::Upgrade => base,
        }
    }

    /// The transport the connection ends up on.
    pub fn settled(self) -> TransportKind {
        match self {
            Transport::Polling => TransportKind::Polling,
            _ => TransportKind::WebSocket,
        }
    }
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Server heartbeat: a ping every second, half a second to answer.
pub fn server_engine() -> ServerConfig {
    ServerConfig {
        ping_interval: ms(1000),
        ping_timeout: ms(500),
        upgrade_timeout: ms(2000),
        close_timeout: ms(2000),
        ..ServerConfig::default()
    }
}

/// socket.io-client's defaults (1 s first delay, 5 s cap, 0.5 jitter) over `transport`.
pub fn manager_config(transport: Transport) -> ManagerConfig {
    ManagerConfig {
        engine: transport.engine(),
        ..ManagerConfig::default()
    }
}

pub fn raw(s: &str) -> RawJson {
    RawJson::new(s.to_owned()).expect("valid JSON")
}

pub fn ev(name: &str, args: &(impl serde::Serialize + ?Sized)) -> Event {
    Event::new(name, args).expect("valid event")
}

pub fn with_auth(auth: &str) -> SocketOptions {
    SocketOptions {
        auth: Some(raw(auth)),
        ..SocketOptions::default()
    }
}

// ----- the network ----------------------------------------------------------------------------

/// Whether a held request is a GET or a POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Get,
    Post,
}

/// One thing in flight. Client → server items name the client and its Engine.IO
/// connection; server → client items name where the answer goes.
#[derive(Debug, Clone)]
pub enum Wire {
    Get(usize, ConnectionId, RequestId, String),
    Post(usize, ConnectionId, RequestId, String, Bytes),
    Abort(usize, ConnectionId, RequestId),
    WsOpen(usize, ConnectionId, String),
    WsToServer(usize, ConnectionId, Frame),
    WsCloseToServer(usize, ConnectionId),
    Response(usize, ConnectionId, RequestId, Kind, HttpResponse),
    WsOpened(usize, ConnectionId),
    WsRefused(usize, ConnectionId),
    WsToClient(usize, ConnectionId, Frame),
    WsCloseToClient(usize, ConnectionId),
}

impl Wire {
    fn client(&self) -> usize {
        match self {
            Wire::Get(c, ..)
            | Wire::Post(c, ..)
            | Wire::Abort(c, ..)
            | Wire::WsOpen(c, ..)
            | Wire::WsToServer(c, ..)
            | Wire::WsCloseToServer(c, ..)
            | Wire::Response(c, ..)
            | Wire::WsOpened(c, ..)
            | Wire::WsRefused(c, ..)
            | Wire::WsToClient(c, ..)
            | Wire::WsCloseToClient(c, ..) => *c,
        }
    }
}

// ----- clients --------------------------------------------------------------------------------

/// One client application: a manager, its event log, and how it answers server events.
pub struct Client {
    pub manager: Manager,
    /// Every event, with the virtual time it was pulled at.
    pub log: Vec<(Instant, ClientEvent)>,
    /// Lost from the network: nothing reaches it, nothing it sends arrives.
    pub partitioned: bool,
    /// Its link is down but TCP keeps the data: traffic waits in [`World::parked`] and
    /// goes on, in order, when the link comes back.
    pub stalled: bool,
    /// Answer every server event that asks for an ack with the event's own array
    /// (`["name", …args]`); when false the client application stays silent.
    pub answers: bool,
    /// Frames the server wrote to this client's WebSockets, in order.
    pub ws_frames: Vec<Frame>,
}

impl Client {
    /// Events (name and JSON payload) received on `socket`, in order.
    pub fn received(&self, socket: SocketId) -> Vec<Event> {
        self.log
            .iter()
            .filter_map(|(_, e)| match e {
                ClientEvent::Received {
                    socket: s, event, ..
                } if *s == socket => Some(event.clone()),
                _ => None,
            })
            .collect()
    }

    /// The JSON arrays (`["name",…]`) of the events received on `socket`.
    pub fn received_json(&self, socket: SocketId) -> Vec<String> {
        self.received(socket)
            .iter()
            .map(|e| e.data().json().to_string())
            .collect()
    }

    pub fn events(&self) -> Vec<ClientEvent> {
        self.log.iter().map(|(_, e)| e.clone()).collect()
    }

    pub fn events_since(&self, from: usize) -> Vec<ClientEvent> {
        self.log[from..].iter().map(|(_, e)| e.clone()).collect()
    }
}

// ----- the server -----------------------------------------------------------------------------

/// A held HTTP request: which client request it answers.
#[derive(Debug, Clone, Copy)]
struct Held {
    client: usize,
    conn: ConnectionId,
    request: RequestId,
    kind: Kind,
}

/// An event the server application received.
#[derive(Debug, Clone)]
pub struct Received {
    pub eio: String,
    pub nsp: String,
    pub sid: String,
    pub event: Event,
    pub ack_id: Option<u64>,
}

/// A socket that left, as the application saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Left {
    pub nsp: String,
    pub sid: String,
    pub reason: DisconnectReason,
    /// Its rooms at `Disconnecting` (still in the index then).
    pub rooms: Vec<String>,
    pub pending_acks: Vec<u64>,
    /// Whether `remove_socket` saved the session for recovery.
    pub saved: bool,
}

/// The connect decision of the application (socket.io's namespace middleware).
pub type ConnectHook = Box<dyn FnMut(&ConnectRequest) -> Result<(), ConnectError>>;

/// The server: Engine.IO endpoint, Socket.IO connections by Engine.IO sid, server-wide
/// namespace state, and the application's view of what happened.
pub struct Server {
    pub endpoint: Endpoint,
    pub config: Config,
    seed: u64,
    pub connections: BTreeMap<String, Connection>,
    pub namespaces: Namespaces,
    /// (namespace, socket id) → Engine.IO sid: how a broadcast target finds its
    /// connection.
    pub index: SocketIndex<String>,
    /// Engine.IO sid → the client connection it talks to.
    owner: BTreeMap<String, (usize, ConnectionId)>,
    /// (Engine.IO sid, server request id) → the client request it answers.
    held: BTreeMap<(String, RequestId), Held>,
    pub connect_hook: ConnectHook,
    /// Every server event, with the time and the Engine.IO sid.
    pub log: Vec<(Instant, String, ServerEvent)>,
    pub connects: Vec<ConnectRequest>,
    pub accepted: Vec<(String, Accepted)>,
    pub received: Vec<Received>,
    /// Answers to per-socket emits: (nsp, sid, ack id, args).
    pub acks: Vec<(String, String, u64, Args)>,
    pub ack_timeouts: Vec<(String, String, u64)>,
    pub left: Vec<Left>,
    pub closed: Vec<(String, DisconnectReason)>,
    pub upgraded: Vec<String>,
    router: AckRouter,
    pub outcomes: Vec<BroadcastAckOutcome>,
    /// Broadcasts the application made, as encoded once.
    pub broadcasts: Vec<Broadcast>,
}

impl Server {
    fn new(engine: ServerConfig, recovery: Option<RecoveryConfig>, seed: u64) -> Self {
        let config = Config {
            recovery: recovery.clone(),
            ..Config::default()
        };
        let mut namespaces = Namespaces::new(recovery);
        namespaces.add("/admin");
        Server {
            endpoint: Endpoint::new(engine, seed),
            config,
            seed,
            connections: BTreeMap::new(),
            namespaces,
            index: SocketIndex::new(),
            owner: BTreeMap::new(),
            held: BTreeMap::new(),
            connect_hook: Box::new(|_| Ok(())),
            log: Vec::new(),
            connects: Vec::new(),
            accepted: Vec::new(),
            received: Vec::new(),
            acks: Vec::new(),
            ack_timeouts: Vec::new(),
            left: Vec::new(),
            closed: Vec::new(),
            upgraded: Vec::new(),
            router: AckRouter::new(),
            outcomes: Vec::new(),
            broadcasts: Vec::new(),
        }
    }

    /// The connection of the socket `sid` on `nsp`.
    pub fn conn_of(&mut self, nsp: &str, sid: &str) -> Option<&mut Connection> {
        let eio = self.index.get(nsp, sid)?;
        self.connections.get_mut(eio)
    }

    /// The rooms of `sid` on `nsp`.
    pub fn rooms_of(&self, nsp: &str, sid: &str) -> Vec<String> {
        self.namespaces
            .get(nsp)
            .map(|n| n.rooms().rooms_of(sid).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// The events the application received on `nsp` (any socket), as JSON arrays.
    pub fn received_json(&self, nsp: &str) -> Vec<String> {
        self.received
            .iter()
            .filter(|r| r.nsp == nsp)
            .map(|r| r.event.data().json().to_string())
            .collect()
    }

    /// The socket `sid` joins `room` (socket.io's `socket.join`).
    pub fn join(&mut self, nsp: &str, sid: &str, room: &str) {
        self.namespaces
            .get_mut(nsp)
            .expect("namespace")
            .rooms_mut()
            .join(sid, room);
    }

    /// socket.io's `socket.emit(…)` / `socket.timeout(t).emit(…, cb)` /
    /// `socket.volatile.emit(…)`: the namespace makes the packet (ack id, recovery
    /// offset when due), the socket's connection sends it. Returns the ack id.
    pub fn emit(
        &mut self,
        now: Instant,
        nsp: &str,
        sid: &str,
        event: Event,
        ack: Option<Option<Duration>>,
        volatile: bool,
    ) -> Option<u64> {
        let mut opts = EmitToOptions::new();
        if let Some(timeout) = ack {
            opts = opts.with_ack(timeout);
        }
        if volatile {
            opts = opts.volatile();
        }
        let packet = self
            .namespaces
            .get_mut(nsp)
            .expect("namespace")
            .emit_to(now, sid, event, opts)
            .expect("encode");
        assert_eq!(packet.targets, [sid], "the socket is connected");
        self.deliver_broadcast(now, nsp, &packet);
        packet.ack_id
    }

    /// socket.io's `io.of(nsp).to(…).except(…).emit(…)`: encoded once, sent to every
    /// target's connection. Returns the broadcast and what each target got.
    pub fn broadcast(
        &mut self,
        now: Instant,
        nsp: &str,
        event: Event,
        opts: &BroadcastOptions,
    ) -> (Broadcast, Vec<(String, Delivery)>) {
        let packet = self
            .namespaces
            .get_mut(nsp)
            .expect("namespace")
            .broadcast(now, event, opts)
            .expect("encode");
        let deliveries = self.deliver_broadcast(now, nsp, &packet);
        self.broadcasts.push(packet.clone());
        (packet, deliveries)
    }

    /// socket.io's `io.timeout(t).emit(…, (err, responses) => …)`: the outcome lands in
    /// [`Server::outcomes`].
    pub fn broadcast_with_ack(
        &mut self,
        now: Instant,
        nsp: &str,
        event: Event,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> Broadcast {
        let (packet, collector) = self
            .namespaces
            .get_mut(nsp)
            .expect("namespace")
            .broadcast_with_ack(now, event, opts, timeout)
            .expect("encode");
        self.deliver_broadcast(now, nsp, &packet);
        self.router.insert(nsp, collector);
        self.finish_collectors();
        self.broadcasts.push(packet.clone());
        packet
    }

    /// Hands a packet the namespace made to the connection of each of its targets.
    fn deliver_broadcast(
        &mut self,
        now: Instant,
        nsp: &str,
        packet: &Broadcast,
    ) -> Vec<(String, Delivery)> {
        let targets = self.index.targets(nsp, &packet.targets);
        targets
            .filter_map(|(sid, eio)| {
                let conn = self.connections.get_mut(eio).expect("indexed connection");
                let delivery = conn.send(now, nsp, packet).ok()?;
                Some((sid.to_owned(), delivery))
            })
            .collect()
    }

    /// Finished broadcasts with acks: on a timeout the silent targets forget the ack
    /// (`cancel_ack`), as socket.io does.
    fn finish_collectors(&mut self) {
        while let Some(done) = self.router.poll_finished() {
            for (_, eio) in self.index.targets(&done.nsp, &done.outcome.missing) {
                if let Some(conn) = self.connections.get_mut(eio) {
                    conn.cancel_ack(&done.nsp, done.ack_id);
                }
            }
            self.outcomes.push(done.outcome);
        }
    }

    /// The socket `sid` leaves `nsp` (socket.io's `socket.disconnect()`).
    pub fn disconnect(&mut self, now: Instant, nsp: &str, sid: &str) {
        self.conn_of(nsp, sid)
            .expect("connected")
            .disconnect(now, nsp)
            .expect("disconnect");
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.connections
            .values()
            .filter_map(Connection::poll_timeout)
            .chain(self.namespaces.poll_timeout())
            .chain(self.router.poll_timeout())
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        for conn in self.connections.values_mut() {
            if conn.poll_timeout().is_some_and(|at| at <= now) {
                conn.handle_timeout(now);
            }
        }
        if self.namespaces.poll_timeout().is_some_and(|at| at <= now) {
            self.namespaces.handle_timeout(now);
        }
        self.router.handle_timeout(now);
        self.finish_collectors();
    }

    /// Drains every connection (transmits, then events, handled by the application)
    /// until nothing moves. Returns the wires to put on the network and whether anything
    /// happened.
    fn drain(&mut self, now: Instant, out: &mut Vec<Wire>) -> bool {
        let mut moved = false;
        loop {
            let mut progress = false;
            let sids: Vec<String> = self.connections.keys().cloned().collect();
            for eio in sids {
                let mut events = Vec::new();
                {
                    let Some(conn) = self.connections.get_mut(&eio) else {
                        continue;
                    };
                    while let Some(t) = conn.poll_transmit() {
                        progress = true;
                        let Some(&(client, cid)) = self.owner.get(&eio) else {
                            continue;
                        };
                        match t {
                            ServerTransmit::Http { request, response } => {
                                if let Some(h) = self.held.remove(&(eio.clone(), request)) {
                                    out.push(Wire::Response(
                                        h.client, h.conn, h.request, h.kind, response,
                                    ));
                                }
                            }
                            ServerTransmit::WebSocket(frame) => {
                                out.push(Wire::WsToClient(client, cid, frame));
                            }
                            ServerTransmit::CloseWebSocket => {
                                out.push(Wire::WsCloseToClient(client, cid));
                            }
                        }
                    }
                    while let Some(e) = conn.poll_event() {
                        events.push(e);
                    }
                }
                for e in events {
                    progress = true;
                    self.log.push((now, eio.clone(), e.clone()));
                    self.on_event(now, &eio, e);
                }
                if self
                    .connections
                    .get(&eio)
                    .is_some_and(Connection::is_closed)
                {
                    // Closed is the last event; its transmits were drained above, and
                    // a closed session transmits nothing more.
                    let mut conn = self.connections.remove(&eio).expect("present");
                    assert!(
                        conn.poll_transmit().is_none(),
                        "a closed connection still had something to transmit"
                    );
                    self.held.retain(|(e, _), _| *e != eio);
                    self.owner.remove(&eio);
                }
            }
            moved |= progress;
            if !progress {
                return moved;
            }
        }
    }

    /// The application.
    fn on_event(&mut self, now: Instant, eio: &str, event: ServerEvent) {
        match event {
            ServerEvent::Connect(req) => {
                self.connects.push(req.clone());
                let nsp = req.nsp.to_string();
                let conn = self.connections.get_mut(eio).expect("connection");
                if self.namespaces.resolve(&nsp, &req.auth).is_none() {
                    conn.refuse(now, &nsp, &ConnectError::invalid_namespace())
                        .expect("refuse");
                    return;
                }
                let namespace = self.namespaces.get_mut(&nsp).expect("resolved");
                // Look the session up without taking it; take it only once accepted.
                let token = req.recovery.as_ref();
                let resumable = token.is_some_and(|t| namespace.find_session(now, t).is_some());
                let skip = namespace
                    .recovery()
                    .is_some_and(|r| r.config().skip_middlewares);
                let decision = match resumable && skip {
                    true => Ok(()),
                    false => (self.connect_hook)(&req),
                };
                match decision {
                    Ok(()) => {
                        let restored = token.and_then(|t| namespace.restore(now, t));
                        let accepted = conn.accept(now, &nsp, restored.as_ref()).expect("accept");
                        namespace.add_socket(&accepted.sid, restored.as_ref());
                        self.index.insert(&nsp, &accepted.sid, eio.to_owned());
                        self.accepted.push((nsp, accepted));
                    }
                    Err(error) => conn.refuse(now, &nsp, &error).expect("refuse"),
                }
            }
            ServerEvent::Event {
                nsp,
                sid,
                event,
                ack_id,
            } => {
                let nsp = nsp.to_string();
                self.received.push(Received {
                    eio: eio.to_owned(),
                    nsp: nsp.clone(),
                    sid: sid.clone(),
                    event: event.clone(),
                    ack_id,
                });
                match event.name() {
                    "join" => {
                        let (room,): (String,) = event.args().expect("join(room)");
                        self.join(&nsp, &sid, &room);
                    }
                    "leave" => {
                        let (room,): (String,) = event.args().expect("leave(room)");
                        self.namespaces
                            .get_mut(&nsp)
                            .expect("namespace")
                            .rooms_mut()
                            .leave(&sid, &room);
                    }
                    "echo" => {
                        self.emit(now, &nsp, &sid, event.clone(), None, false);
                    }
                    "relay" => {
                        // socket.broadcast.emit(…): everyone but the sender.
                        let opts = BroadcastOptions::from_socket(sid.clone());
                        self.broadcast(now, &nsp, event.clone(), &opts);
                    }
                    _ => {}
                }
                if let Some(id) = ack_id
                    && event.name() != "ignore"
                    && let Some(conn) = self.connections.get_mut(eio)
                {
                    conn.ack(now, &nsp, id, event.data().clone()).expect("ack");
                }
            }
            ServerEvent::Ack {
                nsp,
                sid,
                ack_id,
                args,
            } => match self.router.handle_ack(&nsp, &sid, ack_id, args) {
                AckRoute::Socket(args) => self.acks.push((nsp.to_string(), sid, ack_id, args)),
                AckRoute::Broadcast => self.finish_collectors(),
            },
            ServerEvent::AckTimeout { nsp, sid, ack_id } => {
                self.ack_timeouts.push((nsp.to_string(), sid, ack_id));
            }
            ServerEvent::Disconnecting { nsp, sid, reason } => {
                let rooms = self.rooms_of(&nsp, &sid);
                self.left.push(Left {
                    nsp: nsp.to_string(),
                    sid,
                    reason,
                    rooms,
                    pending_acks: Vec::new(),
                    saved: false,
                });
            }
            ServerEvent::Disconnected {
                nsp,
                sid,
                pid,
                reason,
                pending_acks,
            } => {
                let nsp = nsp.to_string();
                let saved = self
                    .namespaces
                    .get_mut(&nsp)
                    .expect("namespace")
                    .remove_socket(now, &sid, pid.as_deref(), reason, None);
                // Only this connection's entry: a recovered sid may be on a new one.
                self.index.remove_if(&nsp, &sid, |e| e == eio);
                let left = self
                    .left
                    .iter_mut()
                    .rev()
                    .find(|l| l.nsp == nsp && l.sid == sid)
                    .expect("Disconnecting comes first");
                assert_eq!(left.reason, reason);
                left.pending_acks = pending_acks;
                left.saved = saved;
            }
            ServerEvent::Upgraded => self.upgraded.push(eio.to_owned()),
            ServerEvent::Closed { reason } => self.closed.push((eio.to_owned(), reason)),
        }
    }

    /// A request or WebSocket arrived from a client.
    fn deliver(&mut self, now: Instant, wire: Wire, out: &mut Vec<Wire>) {
        match wire {
            Wire::Get(client, cid, creq, query) => {
                let request = Request::from_query(Method::Get, &query, false);
                match self.endpoint.handle_request(now, &request) {
                    Decision::Open {
                        session,
                        request: Some(sreq),
                    } => {
                        let eio = self.open(now, session, client, cid);
                        self.held.insert(
                            (eio, sreq),
                            Held {
                                client,
                                conn: cid,
                                request: creq,
                                kind: Kind::Get,
                            },
                        );
                    }
                    Decision::Existing { sid } => match self.connections.get_mut(&sid) {
                        Some(conn) => {
                            let sreq = conn.handle_poll(now);
                            self.held.insert(
                                (sid, sreq),
                                Held {
                                    client,
                                    conn: cid,
                                    request: creq,
                                    kind: Kind::Get,
                                },
                            );
                        }
                        None => {
                            out.push(Wire::Response(
                                client,
                                cid,
                                creq,
                                Kind::Get,
                                Endpoint::unknown_sid(),
                            ));
                        }
                    },
                    Decision::Reject(response) => {
                        out.push(Wire::Response(client, cid, creq, Kind::Get, response));
                    }
                    Decision::Open { request: None, .. } => panic!("a polling open holds its GET"),
                }
            }
            Wire::Post(client, cid, creq, query, body) => {
                let request = Request::from_query(Method::Post, &query, false);
                match self.endpoint.handle_request(now, &request) {
                    Decision::Existing { sid } => match self.connections.get_mut(&sid) {
                        Some(conn) => {
                            let sreq = conn.handle_post(now, body);
                            self.held.insert(
                                (sid, sreq),
                                Held {
                                    client,
                                    conn: cid,
                                    request: creq,
                                    kind: Kind::Post,
                                },
                            );
                        }
                        None => out.push(Wire::Response(
                            client,
                            cid,
                            creq,
                            Kind::Post,
                            Endpoint::unknown_sid(),
                        )),
                    },
                    Decision::Reject(response) => {
                        out.push(Wire::Response(client, cid, creq, Kind::Post, response));
                    }
                    Decision::Open { .. } => panic!("a POST never opens a session"),
                }
            }
            Wire::Abort(client, cid, creq) => {
                let found = self
                    .held
                    .iter()
                    .find(|(_, h)| h.client == client && h.conn == cid && h.request == creq)
                    .map(|(k, _)| k.clone());
                if let Some((eio, sreq)) = found {
                    self.held.remove(&(eio.clone(), sreq));
                    if let Some(conn) = self.connections.get_mut(&eio) {
                        let _ = conn.handle_request_aborted(now, sreq);
                    }
                }
            }
            Wire::WsOpen(client, cid, query) => {
                let request = Request::from_query(Method::Get, &query, true);
                match self.endpoint.handle_request(now, &request) {
                    Decision::Open {
                        session,
                        request: None,
                    } => {
                        self.open(now, session, client, cid);
                        out.push(Wire::WsOpened(client, cid));
                    }
                    Decision::Existing { sid } => {
                        let opened = self
                            .connections
                            .get_mut(&sid)
                            .is_some_and(|conn| conn.handle_ws_open(now).is_ok());
                        out.push(match opened {
                            true => Wire::WsOpened(client, cid),
                            false => Wire::WsRefused(client, cid),
                        });
                    }
                    _ => out.push(Wire::WsRefused(client, cid)),
                }
            }
            Wire::WsToServer(client, cid, frame) => {
                if let Some(conn) = self.ws_conn(client, cid) {
                    conn.handle_ws_frame(now, frame);
                }
            }
            Wire::WsCloseToServer(client, cid) => {
                if let Some(conn) = self.ws_conn(client, cid) {
                    conn.handle_ws_closed(now);
                }
            }
            other => panic!("not for the server: {other:?}"),
        }
    }

    /// The connection whose WebSocket is the one `client` opened on `cid`.
    fn ws_conn(&mut self, client: usize, cid: ConnectionId) -> Option<&mut Connection> {
        let eio = self
            .owner
            .iter()
            .find(|(_, o)| **o == (client, cid))
            .map(|(e, _)| e.clone())?;
        self.connections.get_mut(&eio)
    }

    fn open(
        &mut self,
        now: Instant,
        session: Box<halyard_engine::engineio::server::ServerSession>,
        client: usize,
        cid: ConnectionId,
    ) -> String {
        let conn = Connection::new(session, &self.config, self.seed, now);
        let eio = conn.eio_sid().to_owned();
        self.owner.insert(eio.clone(), (client, cid));
        self.connections.insert(eio.clone(), conn);
        eio
    }
}

// ----- the world ------------------------------------------------------------------------------

/// N clients, one server, one network, one clock.
pub struct World {
    pub now: Instant,
    pub start: Instant,
    pub net: VecDeque<Wire>,
    /// Traffic of stalled clients, in order.
    pub parked: VecDeque<Wire>,
    pub clients: Vec<Client>,
    pub server: Server,
    pub transport: Transport,
}

impl World {
    pub fn new(transport: Transport, recovery: Option<RecoveryConfig>, seed: u64) -> Self {
        let now = Instant::now();
        World {
            now,
            start: now,
            net: VecDeque::new(),
            parked: VecDeque::new(),
            clients: Vec::new(),
            server: Server::new(server_engine(), recovery, seed),
            transport,
        }
    }

    /// Adds a client with socket.io-client's defaults over the world's transport; its
    /// manager's jitter is seeded with `seed`.
    pub fn add_client(&mut self, seed: u64) -> usize {
        self.add_client_with(manager_config(self.transport), seed)
    }

    pub fn add_client_with(&mut self, config: ManagerConfig, seed: u64) -> usize {
        self.clients.push(Client {
            manager: Manager::new(config, seed),
            log: Vec::new(),
            partitioned: false,
            stalled: false,
            answers: true,
            ws_frames: Vec::new(),
        });
        self.clients.len() - 1
    }

    /// `manager.socket(nsp, options)` on client `c`, then the network settles.
    pub fn socket(&mut self, c: usize, nsp: &str, options: SocketOptions) -> SocketId {
        let now = self.now;
        let id = self.clients[c]
            .manager
            .socket(now, nsp, options)
            .expect("socket");
        self.run();
        id
    }

    /// A client with one socket on `nsp`, connected; returns it and the socket's sid.
    pub fn connected_client(&mut self, nsp: &str, seed: u64) -> (usize, SocketId, String) {
        let c = self.add_client(seed);
        let s = self.socket(c, nsp, SocketOptions::default());
        let sid = self.sid(c, s);
        (c, s, sid)
    }

    pub fn sid(&self, c: usize, s: SocketId) -> String {
        self.clients[c]
            .manager
            .id(s)
            .expect("socket")
            .unwrap_or_else(|| panic!("client {c} socket {s:?} is not connected"))
            .to_owned()
    }

    pub fn manager(&mut self, c: usize) -> &mut Manager {
        &mut self.clients[c].manager
    }

    /// Client `c` emits.
    pub fn emit(
        &mut self,
        c: usize,
        s: SocketId,
        event: Event,
        options: halyard_engine::socketio::client::EmitOptions,
    ) -> Option<halyard_engine::socketio::client::AckId> {
        let now = self.now;
        let ack = self.clients[c]
            .manager
            .emit(now, s, event, options)
            .expect("emit");
        self.run();
        ack
    }

    fn push(&mut self, wire: Wire) {
        let c = wire.client();
        if let Wire::WsToClient(_, _, frame) = &wire {
            self.clients[c].ws_frames.push(frame.clone());
        }
        if self.clients[c].partitioned {
            return;
        }
        match self.clients[c].stalled {
            true => self.parked.push_back(wire),
            false => self.net.push_back(wire),
        }
    }

    /// Drains every output of every engine (clients, then server) until nothing moves.
    pub fn collect(&mut self) {
        loop {
            let mut progress = false;
            for c in 0..self.clients.len() {
                progress |= self.drain_client(c);
            }
            let mut out = Vec::new();
            progress |= self.server.drain(self.now, &mut out);
            for wire in out {
                self.push(wire);
            }
            if !progress {
                return;
            }
        }
    }

    /// Drains client `c`: transmits, then events (the application answers server events
    /// that ask for an ack, which is one more input, so drain again).
    fn drain_client(&mut self, c: usize) -> bool {
        let now = self.now;
        let mut moved = false;
        loop {
            let mut progress = false;
            while let Some(t) = self.clients[c].manager.poll_transmit() {
                progress = true;
                let cid = t.connection;
                let wire = match t.action {
                    ClientTransmit::Get { request, query } => Wire::Get(c, cid, request, query),
                    ClientTransmit::Post {
                        request,
                        query,
                        body,
                    } => Wire::Post(c, cid, request, query, body),
                    ClientTransmit::Abort(request) => Wire::Abort(c, cid, request),
                    ClientTransmit::OpenWebSocket { query } => Wire::WsOpen(c, cid, query),
                    ClientTransmit::WebSocket(frame) => Wire::WsToServer(c, cid, frame),
                    ClientTransmit::CloseWebSocket => Wire::WsCloseToServer(c, cid),
                };
                self.push(wire);
            }
            let mut answers = Vec::new();
            while let Some(e) = self.clients[c].manager.poll_event() {
                progress = true;
                if let ClientEvent::Received {
                    socket,
                    event,
                    ack_id: Some(id),
                    ..
                } = &e
                    && self.clients[c].answers
                {
                    answers.push((*socket, *id, event.data().clone()));
                }
                self.clients[c].log.push((now, e));
            }
            for (socket, id, args) in answers {
                self.clients[c]
                    .manager
                    .ack(now, socket, id, args)
                    .expect("ack");
            }
            moved |= progress;
            if !progress {
                return moved;
            }
        }
    }

    /// Delivers the oldest thing on the network. Returns false when it is empty.
    pub fn step(&mut self) -> bool {
        self.collect();
        let Some(wire) = self.net.pop_front() else {
            return false;
        };
        let c = wire.client();
        if self.clients[c].stalled {
            self.parked.push_back(wire);
        } else if !self.clients[c].partitioned {
            self.deliver(wire);
        }
        self.collect();
        true
    }

    /// Delivers until the network is idle.
    pub fn run(&mut self) {
        for _ in 0..1_000_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the network never went idle");
    }

    /// Delivers until `done` holds (checked before each delivery); false if the network
    /// went idle first.
    pub fn run_until(&mut self, mut done: impl FnMut(&World) -> bool) -> bool {
        for _ in 0..1_000_000 {
            self.collect();
            if done(self) {
                return true;
            }
            if !self.step() {
                return done(self);
            }
        }
        panic!("the network never went idle");
    }

    fn deliver(&mut self, wire: Wire) {
        let now = self.now;
        let mut out = Vec::new();
        match wire {
            Wire::Response(c, cid, creq, kind, response) => {
                let manager = &mut self.clients[c].manager;
                // An answer for a connection the manager retired is ignored by it; an
                // answer it no longer waits for is its business too.
                let _ = match kind {
                    Kind::Get => {
                        manager.handle_get_response(now, cid, creq, response.status, response.body)
                    }
                    Kind::Post => manager.handle_post_response(now, cid, creq, response.status),
                };
            }
            Wire::WsOpened(c, cid) => {
                let _ = self.clients[c].manager.handle_ws_opened(now, cid);
            }
            Wire::WsRefused(c, cid) => self.clients[c].manager.handle_ws_error(now, cid),
            Wire::WsToClient(c, cid, frame) => {
                self.clients[c].manager.handle_ws_frame(now, cid, frame);
            }
            Wire::WsCloseToClient(c, cid) => self.clients[c].manager.handle_ws_closed(now, cid),
            to_server => self.server.deliver(now, to_server, &mut out),
        }
        for wire in out {
            self.push(wire);
        }
    }

    /// The next deadline of any engine.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.clients
            .iter()
            .filter_map(|c| c.manager.poll_timeout())
            .chain(self.server.poll_timeout())
            .min()
    }

    /// Advances the virtual clock by `by`, firing every deadline at its exact instant and
    /// letting the network settle after each.
    pub fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        while let Some(at) = self.next_deadline().filter(|at| *at <= target) {
            self.now = self.now.max(at);
            let now = self.now;
            for c in &mut self.clients {
                if c.manager.poll_timeout().is_some_and(|t| t <= now) {
                    c.manager.handle_timeout(now);
                }
            }
            self.server.handle_timeout(now);
            self.run();
        }
        self.now = target;
        self.run();
    }

    /// Advances until `done` holds, deadline by deadline, at most `limit`.
    pub fn advance_until(&mut self, limit: Duration, mut done: impl FnMut(&World) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            if done(self) {
                return true;
            }
            match self.next_deadline() {
                Some(at) if at <= end => {
                    let by = at.saturating_duration_since(self.now);
                    self.advance(by);
                }
                _ => {
                    self.advance(end.saturating_duration_since(self.now));
                    return done(self);
                }
            }
        }
    }

    /// Client `c` vanishes from the network: in-flight traffic is lost, and so is
    /// everything sent to or by it until [`heal`](Self::heal).
    pub fn partition(&mut self, c: usize) {
        self.clients[c].partitioned = true;
        self.net.retain(|w| w.client() != c);
    }

    pub fn heal(&mut self, c: usize) {
        self.clients[c].partitioned = false;
    }

    /// Client `c`'s link goes down without losing data (TCP retransmits): its traffic,
    /// in flight or new, waits until [`unstall`](Self::unstall).
    pub fn stall(&mut self, c: usize) {
        self.clients[c].stalled = true;
        let (mine, rest): (VecDeque<Wire>, VecDeque<Wire>) =
            self.net.drain(..).partition(|w| w.client() == c);
        self.net = rest;
        self.parked.extend(mine);
    }

    /// Client `c`'s link is back: what waited is delivered, in order, after what is in
    /// flight.
    pub fn unstall(&mut self, c: usize) {
        self.clients[c].stalled = false;
        let (mine, rest): (VecDeque<Wire>, VecDeque<Wire>) =
            self.parked.drain(..).partition(|w| w.client() == c);
        self.parked = rest;
        self.net.extend(mine);
    }

    /// The client whose Engine.IO connection carries the socket `sid` of `nsp`.
    pub fn client_of(&self, nsp: &str, sid: &str) -> Option<usize> {
        let eio = self.server.index.get(nsp, sid)?;
        self.server.owner.get(eio).map(|(c, _)| *c)
    }

    /// Client `c`'s transport is reset (TCP RST): in-flight traffic is lost; both ends of
    /// its WebSockets see the close, and its held polling requests fail on the client and
    /// are aborted on the server.
    pub fn cut(&mut self, c: usize) {
        let now = self.now;
        self.net.retain(|w| w.client() != c);
        self.parked.retain(|w| w.client() != c);
        let ws: Vec<(String, ConnectionId)> = self
            .server
            .owner
            .iter()
            .filter(|(_, (client, _))| *client == c)
            .map(|(e, (_, cid))| (e.clone(), *cid))
            .collect();
        for (eio, cid) in ws {
            let Some(conn) = self.server.connections.get_mut(&eio) else {
                continue;
            };
            if conn.session().transport() == TransportKind::WebSocket
                || conn.session().is_upgrading()
            {
                conn.handle_ws_closed(now);
                self.clients[c].manager.handle_ws_closed(now, cid);
            }
            let held: Vec<((String, RequestId), Held)> = self
                .server
                .held
                .iter()
                .filter(|((e, _), _)| *e == eio)
                .map(|(k, h)| (k.clone(), *h))
                .collect();
            for ((e, sreq), h) in held {
                self.server.held.remove(&(e.clone(), sreq));
                if let Some(conn) = self.server.connections.get_mut(&e) {
                    let _ = conn.handle_request_aborted(now, sreq);
                }
                let _ = self.clients[c]
                    .manager
                    .handle_request_failed(now, h.conn, h.request);
            }
        }
        self.run();
    }

    /// Milliseconds since the world started.
    pub fn at(&self, t: Instant) -> u64 {
        (t - self.start).as_millis() as u64
    }
}
