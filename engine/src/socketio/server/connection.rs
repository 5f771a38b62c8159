//! The per-connection state machine of the Socket.IO server (socket.io's `Client`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;
use halyard_protocol::socketio::{Args, Decoder, EncodeError, Event, Packet, RawJson};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::broadcast::Broadcast;
use super::config::Config;
use super::error::Error;
use super::recovery::{RecoveryToken, RestoredSession};
use crate::engineio::server::{ServerSession, ServerTransmit};
use crate::engineio::{
    CloseReason, Error as EioError, Event as EioEvent, Frame, RequestId, SeededRng, TransportKind,
};
use crate::socketio::DisconnectReason;

/// A client asks to join a namespace (a CONNECT packet). The application answers with
/// [`Connection::accept`] or [`Connection::refuse`]; until then the namespace has no
/// socket, and the client must not use it (socket.io closes a connection that sends
/// events to a namespace it has not joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    /// The namespace (`/` for the main one).
    pub nsp: ByteString,
    /// The auth payload, a JSON object (`{}` when the client sent none).
    pub auth: RawJson,
    /// With recovery on: the `pid` and `offset` the client sent to resume a session
    /// (look it up with [`Namespace::restore`](super::Namespace::restore)).
    pub recovery: Option<RecoveryToken>,
}

/// Why the application refuses a CONNECT: sent as `44<nsp>,{"message":…,"data":…}`
/// (socket.io's middleware error, `next(err)` with `err.data`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    /// The message (`err.message`).
    pub message: String,
    /// Extra data (`err.data`), omitted when `None`.
    pub data: Option<RawJson>,
}

impl ConnectError {
    /// A refusal with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            data: None,
        }
    }

    /// Adds data.
    pub fn with_data(mut self, data: RawJson) -> Self {
        self.data = Some(data);
        self
    }

    /// socket.io's refusal for a namespace that does not exist: `{"message":"Invalid namespace"}`.
    pub fn invalid_namespace() -> Self {
        Self::new("Invalid namespace")
    }

    fn to_json(&self) -> Result<RawJson, EncodeError> {
        #[derive(Serialize)]
        struct Body<'a> {
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            data: Option<&'a RawValue>,
        }
        let data = match &self.data {
            Some(data) => Some(
                serde_json::from_str::<&RawValue>(data.as_str())
                    .map_err(|e| EncodeError::Serialize(e.to_string()))?,
            ),
            None => None,
        };
        RawJson::from_value(&Body {
            message: &self.message,
            data,
        })
    }
}

/// What [`Connection::accept`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The socket's id (a Socket.IO sid, not the Engine.IO one): join it to its own room
    /// with [`Namespace::add_socket`](super::Namespace::add_socket).
    pub sid: String,
    /// The private session id (recovery on).
    pub pid: Option<String>,
    /// Whether the socket resumed a saved session (socket.io's `socket.recovered`).
    pub recovered: bool,
}

/// An ack a socket emit waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckRequest {
    /// The ack id, from [`Namespace::next_ack_id`](super::Namespace::next_ack_id).
    pub id: u64,
    /// How long to wait (socket.io's `socket.timeout(ms)`); `None` waits as long as the
    /// socket lives.
    pub timeout: Option<Duration>,
}

/// How to send one socket emit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmitOptions {
    /// Ask for an acknowledgement.
    pub ack: Option<AckRequest>,
    /// Drop the packet if the transport is not writable (socket.io's `volatile`).
    pub volatile: bool,
}

/// Whether a packet went into the transport queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued for the client.
    Queued,
    /// Dropped: a volatile packet and a transport that was not writable.
    Dropped,
}

/// What the application must see, pulled with [`Connection::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// A CONNECT to decide on (socket.io's namespace middlewares).
    Connect(ConnectRequest),
    /// An event from the socket on `nsp` (binary attachments already put back). With an
    /// `ack_id`, answer with [`Connection::ack`].
    Event {
        /// The namespace.
        nsp: ByteString,
        /// The socket that sent it.
        sid: String,
        /// The event.
        event: Event,
        /// The ack id the client waits for, if any.
        ack_id: Option<u64>,
    },
    /// The client answered the emit (or broadcast) with this ack id. For a broadcast
    /// with acks, hand it to [`AckRouter::handle_ack`](super::AckRouter::handle_ack).
    Ack {
        /// The namespace.
        nsp: ByteString,
        /// The socket that answered.
        sid: String,
        /// The ack id.
        ack_id: u64,
        /// The answer.
        args: Args,
    },
    /// An emit's ack did not come in time ("operation has timed out"); a late answer is
    /// ignored.
    AckTimeout {
        /// The namespace.
        nsp: ByteString,
        /// The socket that did not answer.
        sid: String,
        /// The ack id.
        ack_id: u64,
    },
    /// The socket is leaving; its rooms are still in the rooms index (socket.io's
    /// `disconnecting`). Always followed by `Disconnected`.
    Disconnecting {
        /// The namespace.
        nsp: ByteString,
        /// The socket id.
        sid: String,
        /// Why.
        reason: DisconnectReason,
    },
    /// The socket is gone (socket.io's `disconnect`): call
    /// [`Namespace::remove_socket`](super::Namespace::remove_socket), and
    /// [`SocketIndex::remove`](super::SocketIndex::remove) with this connection's key.
    Disconnected {
        /// The namespace.
        nsp: ByteString,
        /// The socket id.
        sid: String,
        /// The private session id (recovery on).
        pid: Option<String>,
        /// Why.
        reason: DisconnectReason,
        /// Acks the socket was still waiting for; they will never come.
        pending_acks: Vec<u64>,
    },
    /// The transport was upgraded from polling to WebSocket.
    Upgraded,
    /// The connection is over (always the last event); every socket got its
    /// `Disconnected` before. Drop the connection.
    Closed {
        /// Why.
        reason: DisconnectReason,
    },
}

#[derive(Debug)]
struct Socket {
    nsp: ByteString,
    sid: Box<str>,
    pid: Option<Box<str>>,
}

/// Appends `item` to a boxed slice (reallocated to fit: these lists are short and
/// change rarely).
fn push<T>(slot: &mut Box<[T]>, item: T) {
    let mut items = std::mem::take(slot).into_vec();
    items.reserve_exact(1);
    items.push(item);
    *slot = items.into_boxed_slice();
}

/// Removes the item at `index` of a boxed slice, keeping the order of the others.
fn remove<T>(slot: &mut Box<[T]>, index: usize) -> T {
    let mut items = std::mem::take(slot).into_vec();
    let item = items.remove(index);
    *slot = items.into_boxed_slice();
    item
}

#[derive(Debug)]
struct PendingAck {
    nsp: ByteString,
    id: u64,
    deadline: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Closing(DisconnectReason),
    Closed,
}

/// One client connection of a Socket.IO server: its Engine.IO session and the Socket.IO
/// state on top (socket.io's `Client`): the packet decoder, one socket per joined
/// namespace, CONNECTs waiting for the application, pending acks with their deadlines,
/// and the connect timeout.
///
/// # Driving contract
///
/// The driver runs one task per connection and owns this value. Created with
/// [`Connection::new`] from the session an [`Endpoint`](crate::engineio::server::Endpoint)
/// opened, it is then fed:
///
/// - **transport inputs**, forwarded to the session: [`handle_poll`](Self::handle_poll),
///   [`handle_post`](Self::handle_post) (or `handle_post_start`/`_data`/`_end`),
///   [`handle_request_aborted`](Self::handle_request_aborted),
///   [`handle_ws_open`](Self::handle_ws_open), [`handle_ws_frame`](Self::handle_ws_frame),
///   [`handle_ws_closed`](Self::handle_ws_closed);
/// - **time**: [`handle_timeout`](Self::handle_timeout) once [`poll_timeout`](Self::poll_timeout)
///   has passed (heartbeats, connect timeout, ack timeouts);
/// - **application calls**: [`accept`](Self::accept)/[`refuse`](Self::refuse) a
///   [`ServerEvent::Connect`], [`emit`](Self::emit), [`ack`](Self::ack),
///   [`send`](Self::send) a [`Broadcast`] encoded once for many connections,
///   [`disconnect`](Self::disconnect) a socket, [`close`](Self::close) or
///   [`shutdown`](Self::shutdown) the connection.
///
/// After **every** input the driver drains every output: [`poll_transmit`](Self::poll_transmit)
/// until `None` (HTTP answers and WebSocket frames, exactly as the Engine.IO session's),
/// then [`poll_event`](Self::poll_event) until `None`, then re-arms its timer from
/// [`poll_timeout`](Self::poll_timeout). [`ServerEvent::Closed`] is the last event.
///
/// Server-wide state is not here: rooms, ack ids, broadcasts and recovery belong to the
/// [`Namespace`](super::Namespace) of the [`Namespaces`](super::Namespaces) registry,
/// which the driver keeps beside its connections (behind its adapter) and updates on
/// `Connect` (resolve, find and restore a session), after `accept` (`add_socket`) and
/// on `Disconnected` (`remove_socket`). Server emits are made there too
/// ([`Namespace::emit_to`](super::Namespace::emit_to),
/// [`Namespace::broadcast`](super::Namespace::broadcast)) and handed to
/// [`send`](Self::send); the module documentation lists the driver's whole loop.
///
/// A peer that breaks the protocol (bad packet, packet for a namespace it has not
/// joined, CONNECT twice) gets its connection closed; nothing panics.
#[derive(Debug)]
pub struct Connection {
    session: Box<ServerSession>,
    recovery: bool,
    rng: SeededRng,
    /// A decoder only while a binary packet waits for its attachments (most of a
    /// connection's life it is `None`: an idle connection holds no decoder).
    decoder: Option<Box<Decoder>>,
    max_attachments: u32,
    /// Boxed slices sized to fit (usually one socket and no pending CONNECT): 8 B less
    /// each than a `Vec` in every connection's task.
    sockets: Box<[Socket]>,
    pending: Box<[ByteString]>,
    acks: Vec<PendingAck>,
    events: VecDeque<ServerEvent>,
    connect_deadline: Option<Instant>,
    state: State,
    /// The time of the latest input, for work done while outputs are pulled.
    now: Instant,
}

impl Connection {
    /// Wraps a freshly opened Engine.IO session. `seed` (mixed with the Engine.IO sid)
    /// drives the socket ids and pids, so runs replay exactly. The connect timeout starts
    /// at `now`.
    pub fn new(
        session: impl Into<Box<ServerSession>>,
        config: &Config,
        seed: u64,
        now: Instant,
    ) -> Self {
        let session = session.into();
        let mixed = session
            .sid()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        let mut connection = Self {
            session,
            recovery: config.recovery.is_some(),
            rng: SeededRng::new(seed ^ mixed),
            decoder: None,
            max_attachments: u32::try_from(config.max_attachments).unwrap_or(u32::MAX),
            sockets: Box::default(),
            pending: Box::default(),
            acks: Vec::new(),
            events: VecDeque::new(),
            connect_deadline: Some(now + config.connect_timeout),
            state: State::Open,
            now,
        };
        connection.pump(now);
        connection
    }

    // ----- accessors ---------------------------------------------------------------------

    /// The Engine.IO session.
    pub fn session(&self) -> &ServerSession {
        &self.session
    }

    /// The Engine.IO session id (what the driver routes requests by).
    pub fn eio_sid(&self) -> &str {
        self.session.sid()
    }

    /// Whether the connection is over ([`ServerEvent::Closed`] was queued).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The socket id on `nsp`, if connected there.
    pub fn socket_id(&self, nsp: &str) -> Option<&str> {
        self.socket(nsp).map(|s| &*s.sid)
    }

    /// The private session id of the socket on `nsp` (recovery on).
    pub fn pid(&self, nsp: &str) -> Option<&str> {
        self.socket(nsp).and_then(|s| s.pid.as_deref())
    }

    /// The namespaces with a connected socket, with the socket ids.
    pub fn sockets(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.sockets.iter().map(|s| (&*s.nsp, &*s.sid))
    }

    /// Whether a CONNECT for `nsp` waits for the application.
    pub fn is_pending(&self, nsp: &str) -> bool {
        self.pending.iter().any(|p| p == nsp)
    }

    /// The acks waiting on `nsp`.
    pub fn pending_acks(&self, nsp: &str) -> impl Iterator<Item = u64> + '_ {
        let nsp = nsp.to_owned();
        self.acks.iter().filter(move |a| a.nsp == nsp).map(|a| a.id)
    }

    /// Whether a volatile packet would be queued now (socket.io's `transport.writable`):
    /// over WebSocket while open; over polling only while a poll GET is held (the packet
    /// would leave at once).
    pub fn is_writable(&self) -> bool {
        self.state == State::Open
            && match self.session.transport() {
                TransportKind::WebSocket => true,
                TransportKind::Polling => self.session.pending_poll().is_some(),
            }
    }

    // ----- transport inputs --------------------------------------------------------------

    /// A poll GET arrived (see [`ServerSession::handle_poll`]).
    pub fn handle_poll(&mut self, now: Instant) -> RequestId {
        let id = self.session.handle_poll(now);
        self.pump(now);
        id
    }

    /// A whole POST body arrived (see [`ServerSession::handle_post`]).
    pub fn handle_post(&mut self, now: Instant, body: Bytes) -> RequestId {
        let id = self.session.handle_post(now, body);
        self.pump(now);
        id
    }

    /// A streamed POST started (see [`ServerSession::handle_post_start`]).
    pub fn handle_post_start(&mut self, now: Instant) -> RequestId {
        let id = self.session.handle_post_start(now);
        self.pump(now);
        id
    }

    /// A chunk of a streamed POST (see [`ServerSession::handle_post_data`]).
    pub fn handle_post_data(
        &mut self,
        now: Instant,
        id: RequestId,
        chunk: &[u8],
    ) -> Result<(), EioError> {
        let result = self.session.handle_post_data(now, id, chunk);
        self.pump(now);
        result
    }

    /// The end of a streamed POST (see [`ServerSession::handle_post_end`]).
    pub fn handle_post_end(&mut self, now: Instant, id: RequestId) -> Result<(), EioError> {
        let result = self.session.handle_post_end(now, id);
        self.pump(now);
        result
    }

    /// The client gave up a held request (see [`ServerSession::handle_request_aborted`]).
    pub fn handle_request_aborted(&mut self, now: Instant, id: RequestId) -> Result<(), EioError> {
        let result = self.session.handle_request_aborted(now, id);
        self.pump(now);
        result
    }

    /// A WebSocket for this session was accepted (see [`ServerSession::handle_ws_open`]).
    pub fn handle_ws_open(&mut self, now: Instant) -> Result<(), EioError> {
        let result = self.session.handle_ws_open(now);
        self.pump(now);
        result
    }

    /// A WebSocket frame arrived (see [`ServerSession::handle_ws_frame`]).
    pub fn handle_ws_frame(&mut self, now: Instant, frame: Frame) {
        self.session.handle_ws_frame(now, frame);
        self.pump(now);
    }

    /// The WebSocket closed (see [`ServerSession::handle_ws_closed`]).
    pub fn handle_ws_closed(&mut self, now: Instant) {
        self.session.handle_ws_closed(now);
        self.pump(now);
    }

    /// Runs what is due at `now`: the session's timers, the connect timeout (no namespace
    /// joined yet: the connection closes, reason `forced server close`), ack deadlines
    /// ([`ServerEvent::AckTimeout`]).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.session.handle_timeout(now);
        self.pump(now);
        if self.state != State::Open {
            return;
        }
        if self.connect_deadline.is_some_and(|at| at <= now) {
            self.connect_deadline = None;
            if self.sockets.is_empty() {
                self.close_with(
                    now,
                    DisconnectReason::ForcedServerClose,
                    CloseReason::ForcedClose,
                );
                return;
            }
        }
        while let Some(index) = self
            .acks
            .iter()
            .enumerate()
            .filter(|(_, a)| a.deadline.is_some_and(|at| at <= now))
            .min_by_key(|(_, a)| a.deadline)
            .map(|(i, _)| i)
        {
            let ack = self.acks.remove(index);
            self.release_acks();
            // A pending ack belongs to a connected socket (detaching drops its acks).
            let sid = self.socket_id(&ack.nsp).unwrap_or_default().to_owned();
            self.events.push_back(ServerEvent::AckTimeout {
                nsp: ack.nsp,
                sid,
                ack_id: ack.id,
            });
        }
    }

    // ----- application inputs ------------------------------------------------------------

    /// Accepts the pending CONNECT for `nsp`: the socket gets its sid (or, with
    /// `restored`, its old sid and pid, and the missed packets are queued first, as
    /// socket.io sends them), and the client gets `40<nsp>,{"sid":…}` (`"pid"` too with
    /// recovery on). The connect timeout stops.
    pub fn accept(
        &mut self,
        now: Instant,
        nsp: &str,
        restored: Option<&RestoredSession>,
    ) -> Result<Accepted, Error> {
        self.check_open()?;
        let nsp = self.take_pending(nsp)?;
        let (sid, pid) = match restored {
            Some(r) => (r.sid.clone(), Some(r.pid.clone())),
            None => {
                let sid = self.rng.session_id();
                let pid = self.recovery.then(|| self.rng.session_id());
                (sid, pid)
            }
        };
        if let Some(restored) = restored {
            for packet in &restored.missed {
                self.send_frames(now, packet.frames(), false)?;
            }
        }
        #[derive(Serialize)]
        struct Answer<'a> {
            sid: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            pid: Option<&'a str>,
        }
        let data = RawJson::from_value(&Answer {
            sid: &sid,
            pid: pid.as_deref(),
        })?;
        let packet = Packet::Connect {
            nsp: nsp.clone(),
            data: Some(data),
        };
        let encoded = packet.encode()?;
        self.send_frames(now, encoded.frames(), false)?;
        push(
            &mut self.sockets,
            Socket {
                nsp,
                sid: sid.as_str().into(),
                pid: pid.as_deref().map(Box::from),
            },
        );
        self.connect_deadline = None;
        self.pump(now);
        Ok(Accepted {
            sid,
            pid,
            recovered: restored.is_some(),
        })
    }

    /// Refuses the pending CONNECT for `nsp` with a CONNECT_ERROR. The connection stays
    /// (the connect timeout keeps running if no namespace is joined).
    pub fn refuse(&mut self, now: Instant, nsp: &str, error: &ConnectError) -> Result<(), Error> {
        self.check_open()?;
        let data = error.to_json()?;
        let nsp = self.take_pending(nsp)?;
        let packet = Packet::ConnectError { nsp, data };
        let encoded = packet.encode()?;
        self.send_frames(now, encoded.frames(), false)?;
        self.pump(now);
        Ok(())
    }

    /// Emits `event` to the socket on `nsp` straight from this connection, without the
    /// namespace, asking for an ack when `opts.ack` is set: its answer comes as
    /// [`ServerEvent::Ack`], or [`ServerEvent::AckTimeout`] at the deadline.
    ///
    /// The usual path is [`Namespace::emit_to`](super::Namespace::emit_to) then
    /// [`send`](Self::send): it takes the ack id from the namespace and applies the
    /// recovery offset when socket.io would. This lower-level call is for a driver
    /// that needs no shared state for the emit; the ack id must still come from
    /// [`Namespace::next_ack_id`](super::Namespace::next_ack_id). With recovery on, an
    /// emit that socket.io would give an offset (no ack, not volatile) is refused with
    /// [`Error::OffsetRequired`] rather than sent unrecoverable.
    pub fn emit(
        &mut self,
        now: Instant,
        nsp: &str,
        event: Event,
        opts: EmitOptions,
    ) -> Result<Delivery, Error> {
        self.check_open()?;
        let nsp = self.connected(nsp)?;
        if self.recovery && opts.ack.is_none() && !opts.volatile {
            return Err(Error::OffsetRequired);
        }
        if let Some(ack) = opts.ack {
            self.check_ack_free(&nsp, ack.id)?;
        }
        let encoded = Packet::event(nsp.clone(), opts.ack.map(|a| a.id), event).encode()?;
        let delivery = self.send_frames(now, encoded.frames(), opts.volatile)?;
        if let (Delivery::Queued, Some(ack)) = (delivery, opts.ack) {
            self.acks.push(PendingAck {
                nsp,
                id: ack.id,
                deadline: ack.timeout.map(|t| now + t),
            });
        }
        self.pump(now);
        Ok(delivery)
    }

    /// Queues a packet made by the namespace to the socket on `nsp`: a per-socket emit
    /// from [`Namespace::emit_to`](super::Namespace::emit_to), or a broadcast encoded
    /// once for many connections (the in-memory adapter's `writeToEngine`). A volatile
    /// packet is dropped when the transport is not writable. A packet with an ack id
    /// registers it on this socket, with the deadline [`Broadcast::ack_timeout`] gives
    /// (none for a broadcast with acks: its [`BroadcastAck`](super::BroadcastAck)
    /// collector holds it).
    pub fn send(&mut self, now: Instant, nsp: &str, packet: &Broadcast) -> Result<Delivery, Error> {
        self.check_open()?;
        let nsp = self.connected(nsp)?;
        if let Some(id) = packet.ack_id {
            self.check_ack_free(&nsp, id)?;
        }
        let delivery = self.send_frames(now, packet.frames(), packet.volatile)?;
        if let (Delivery::Queued, Some(id)) = (delivery, packet.ack_id) {
            self.acks.push(PendingAck {
                nsp,
                id,
                deadline: packet.ack_timeout.map(|t| now + t),
            });
        }
        self.pump(now);
        Ok(delivery)
    }

    /// Answers the client's event `ack_id` on `nsp` (the ack callback socket.io hands to
    /// an event handler).
    pub fn ack(&mut self, now: Instant, nsp: &str, ack_id: u64, args: Args) -> Result<(), Error> {
        self.check_open()?;
        let nsp = self.connected(nsp)?;
        let encoded = Packet::ack(nsp, ack_id, args).encode()?;
        self.send_frames(now, encoded.frames(), false)?;
        self.pump(now);
        Ok(())
    }

    /// Forgets a pending ack (a broadcast with acks that timed out). Returns whether it
    /// was pending.
    pub fn cancel_ack(&mut self, nsp: &str, ack_id: u64) -> bool {
        let before = self.acks.len();
        self.acks.retain(|a| !(a.nsp == nsp && a.id == ack_id));
        self.acks.len() != before
    }

    /// Disconnects the socket on `nsp` (socket.io's `socket.disconnect()`): the client
    /// gets `41<nsp>,`, the socket `server namespace disconnect`. The connection stays.
    pub fn disconnect(&mut self, now: Instant, nsp: &str) -> Result<(), Error> {
        self.check_open()?;
        let index = self
            .sockets
            .iter()
            .position(|s| s.nsp == nsp)
            .ok_or_else(|| Error::NotConnected(nsp.to_owned()))?;
        self.remove_socket(
            now,
            index,
            DisconnectReason::ServerNamespaceDisconnect,
            true,
        );
        self.pump(now);
        Ok(())
    }

    /// Disconnects every socket and closes the connection (socket.io's
    /// `socket.disconnect(true)`): each socket gets `server namespace disconnect` (and the
    /// client a DISCONNECT for it), then the transport closes gracefully;
    /// [`ServerEvent::Closed`] says `forced server close`.
    pub fn close(&mut self, now: Instant) {
        if self.state != State::Open {
            return;
        }
        while !self.sockets.is_empty() {
            self.remove_socket(now, 0, DisconnectReason::ServerNamespaceDisconnect, true);
        }
        self.close_with(
            now,
            DisconnectReason::ForcedServerClose,
            CloseReason::ForcedClose,
        );
    }

    /// Closes the connection because the server is going down (socket.io's
    /// `io.close()`): every socket gets `server shutting down`.
    pub fn shutdown(&mut self, now: Instant) {
        if self.state != State::Open {
            return;
        }
        self.close_with(
            now,
            DisconnectReason::ServerShuttingDown,
            CloseReason::ServerShuttingDown,
        );
    }

    // ----- outputs -----------------------------------------------------------------------

    /// The next thing to write for the session. Call until `None` after every input.
    pub fn poll_transmit(&mut self) -> Option<ServerTransmit> {
        let transmit = self.session.poll_transmit();
        // Flushing may end a closing session: take its `Closed` now.
        self.pump(self.now);
        transmit
    }

    /// The next event for the application. Call until `None` after every input.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        if self.events.is_empty() {
            self.pump(self.now);
        }
        let event = self.events.pop_front();
        if self.events.is_empty() && self.events.capacity() > 0 {
            // An idle connection holds no buffer.
            self.events = VecDeque::new();
        }
        event
    }

    /// The next deadline: call [`handle_timeout`](Self::handle_timeout) when it passes.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let own = (self.state == State::Open)
            .then(|| {
                self.acks
                    .iter()
                    .filter_map(|a| a.deadline)
                    .chain(self.connect_deadline)
                    .min()
            })
            .flatten();
        own.into_iter().chain(self.session.poll_timeout()).min()
    }

    // ----- internals ---------------------------------------------------------------------

    fn socket(&self, nsp: &str) -> Option<&Socket> {
        self.sockets.iter().find(|s| s.nsp == nsp)
    }

    fn check_open(&self) -> Result<(), Error> {
        match self.state {
            State::Open => Ok(()),
            _ => Err(Error::Closed),
        }
    }

    /// The namespace name (shared) of the socket on `nsp`.
    fn connected(&self, nsp: &str) -> Result<ByteString, Error> {
        self.socket(nsp)
            .map(|s| s.nsp.clone())
            .ok_or_else(|| Error::NotConnected(nsp.to_owned()))
    }

    fn take_pending(&mut self, nsp: &str) -> Result<ByteString, Error> {
        let index = self
            .pending
            .iter()
            .position(|p| p == nsp)
            .ok_or_else(|| Error::NoPendingConnect(nsp.to_owned()))?;
        Ok(remove(&mut self.pending, index))
    }

    /// Gives back the acks' buffer once none is pending (an idle connection holds none).
    fn release_acks(&mut self) {
        if self.acks.is_empty() {
            self.acks = Vec::new();
        }
    }

    fn check_ack_free(&self, nsp: &str, id: u64) -> Result<(), Error> {
        match self.acks.iter().any(|a| a.nsp == nsp && a.id == id) {
            true => Err(Error::DuplicateAckId(id)),
            false => Ok(()),
        }
    }

    /// Queues the frames of one packet. A volatile packet is all-or-nothing at its first
    /// frame: dropped when the transport is not writable or the queue is full.
    fn send_frames<I>(&mut self, now: Instant, frames: I, volatile: bool) -> Result<Delivery, Error>
    where
        I: Iterator<Item = Frame> + Clone,
    {
        if volatile && !self.is_writable() {
            return Ok(Delivery::Dropped);
        }
        // A packet's text frame and its attachments are queued together or not at all.
        let result = match volatile {
            true => self.session.try_send_all(frames),
            false => self.session.send_all(frames),
        };
        match result {
            Ok(()) => Ok(Delivery::Queued),
            Err(EioError::Full) if volatile => Ok(Delivery::Dropped),
            Err(EioError::Full) => Err(Error::Full),
            Err(_) => {
                // Overflow closed the session (or it was closing): nothing was sent.
                self.pump(now);
                Err(Error::Closed)
            }
        }
    }

    /// Processes the session's events: decodes messages into packets.
    fn pump(&mut self, now: Instant) {
        self.now = self.now.max(now);
        while let Some(event) = self.session.poll_event() {
            match event {
                EioEvent::Opened(_) => {}
                EioEvent::Message(text) => {
                    if self.state == State::Open {
                        let decoded = self.decode(|d| d.decode_text(text));
                        self.on_decoded(now, decoded);
                    }
                }
                EioEvent::Binary(data) => {
                    if self.state == State::Open {
                        let decoded = self.decode(|d| d.decode_binary(data));
                        self.on_decoded(now, decoded);
                    }
                }
                EioEvent::Upgraded => self.events.push_back(ServerEvent::Upgraded),
                EioEvent::Closed(reason) => self.on_transport_closed(reason),
            }
        }
    }

    /// Decodes with the waiting decoder, or a fresh one, which is kept only if the
    /// packet waits for attachments.
    fn decode<T>(&mut self, f: impl FnOnce(&mut Decoder) -> T) -> T {
        match self.decoder.take() {
            Some(mut decoder) => {
                let out = f(&mut decoder);
                if decoder.missing_attachments() > 0 {
                    self.decoder = Some(decoder);
                }
                out
            }
            None => {
                let mut decoder = Decoder::with_max_attachments(self.max_attachments as usize);
                let out = f(&mut decoder);
                if decoder.missing_attachments() > 0 {
                    self.decoder = Some(Box::new(decoder));
                }
                out
            }
        }
    }

    fn on_decoded(
        &mut self,
        now: Instant,
        decoded: Result<Option<Packet>, halyard_protocol::socketio::DecodeError>,
    ) {
        match decoded {
            Ok(Some(packet)) => self.on_packet(now, packet),
            Ok(None) => {}
            Err(_) => self.close_with(now, DisconnectReason::ParseError, CloseReason::ParseError),
        }
    }

    fn on_packet(&mut self, now: Instant, packet: Packet) {
        let sid = self.socket(packet.nsp()).map(|s| s.sid.to_string());
        let connected = sid.is_some();
        match packet {
            Packet::Connect { nsp, data } if !connected => {
                if self.is_pending(&nsp) {
                    // A second CONNECT while the first waits for the application.
                    return;
                }
                // The auth lives as long as the socket's handshake: a copy of its own
                // (a slice would keep the whole received frame's buffer alive), and
                // `{}` without an allocation.
                let auth = match data {
                    Some(data) => RawJson::new(ByteString::from(data.as_str())).unwrap_or(data),
                    None => RawJson::new(ByteString::from_static("{}")).expect("valid JSON"),
                };
                let recovery = self.recovery.then(|| recovery_token(&auth)).flatten();
                push(&mut self.pending, nsp.clone());
                self.events.push_back(ServerEvent::Connect(ConnectRequest {
                    nsp,
                    auth,
                    recovery,
                }));
            }
            Packet::Disconnect { nsp } if connected => {
                let index = self.sockets.iter().position(|s| s.nsp == nsp);
                if let Some(index) = index {
                    self.remove_socket(
                        now,
                        index,
                        DisconnectReason::ClientNamespaceDisconnect,
                        false,
                    );
                }
            }
            Packet::Event { nsp, ack_id, event } if connected => {
                self.events.push_back(ServerEvent::Event {
                    nsp,
                    sid: sid.unwrap_or_default(),
                    event,
                    ack_id,
                });
            }
            Packet::Ack { nsp, ack_id, args } if connected => {
                let index = self
                    .acks
                    .iter()
                    .position(|a| a.nsp == nsp && a.id == ack_id);
                if let Some(index) = index {
                    self.acks.remove(index);
                    self.release_acks();
                    self.events.push_back(ServerEvent::Ack {
                        nsp,
                        sid: sid.unwrap_or_default(),
                        ack_id,
                        args,
                    });
                }
            }
            // socket.io's "invalid state": a CONNECT for a joined namespace, a
            // CONNECT_ERROR, or anything for a namespace without a socket.
            _ => self.close_with(
                now,
                DisconnectReason::ForcedServerClose,
                CloseReason::ForcedClose,
            ),
        }
    }

    /// Removes the socket at `index`: DISCONNECT to the client if asked, then
    /// `Disconnecting` and `Disconnected`.
    fn remove_socket(
        &mut self,
        now: Instant,
        index: usize,
        reason: DisconnectReason,
        notify: bool,
    ) {
        let nsp = self.sockets[index].nsp.clone();
        // Detach first: if the DISCONNECT below overflows the queue and the session
        // closes, closing detaches the remaining sockets, never this one a second time.
        self.detach(index, reason);
        if notify
            && self.state == State::Open
            && let Ok(encoded) = (Packet::Disconnect { nsp }).encode()
        {
            let _ = self.send_frames(now, encoded.frames(), false);
        }
    }

    /// Reports the socket at `index` gone: `Disconnecting`, then `Disconnected` with the
    /// acks it still waited for.
    fn detach(&mut self, index: usize, reason: DisconnectReason) {
        let socket = remove(&mut self.sockets, index);
        self.events.push_back(ServerEvent::Disconnecting {
            nsp: socket.nsp.clone(),
            sid: socket.sid.to_string(),
            reason,
        });
        let mut pending_acks = Vec::new();
        self.acks.retain(|a| {
            let mine = a.nsp == socket.nsp;
            if mine {
                pending_acks.push(a.id);
            }
            !mine
        });
        self.events.push_back(ServerEvent::Disconnected {
            nsp: socket.nsp,
            sid: socket.sid.into(),
            pid: socket.pid.map(String::from),
            reason,
            pending_acks,
        });
    }

    /// Ends the connection from this side: every socket leaves with `reason`, then the
    /// session closes gracefully; `Closed` follows when the session is done.
    fn close_with(&mut self, now: Instant, reason: DisconnectReason, engine: CloseReason) {
        if self.state != State::Open {
            return;
        }
        while !self.sockets.is_empty() {
            self.remove_socket(now, 0, reason, false);
        }
        self.state = State::Closing(reason);
        self.pending = Box::default();
        self.acks.clear();
        self.connect_deadline = None;
        self.decoder = None;
        self.session.close(now, engine);
        self.pump(now);
    }

    fn on_transport_closed(&mut self, reason: CloseReason) {
        let reason = match self.state {
            State::Closed => return,
            State::Closing(reason) => reason,
            State::Open => DisconnectReason::from(reason),
        };
        // The transport is gone: no DISCONNECT can be sent.
        while !self.sockets.is_empty() {
            self.detach(0, reason);
        }
        self.state = State::Closed;
        self.pending = Box::default();
        self.acks.clear();
        self.connect_deadline = None;
        self.decoder = None;
        self.events.push_back(ServerEvent::Closed { reason });
    }
}

/// The `pid` and `offset` strings of a CONNECT auth payload, when both are there.
fn recovery_token(auth: &RawJson) -> Option<RecoveryToken> {
    #[derive(Deserialize)]
    struct Token {
        pid: String,
        offset: String,
    }
    let Token { pid, offset } = auth.deserialize().ok()?;
    Some(RecoveryToken { pid, offset })
}
