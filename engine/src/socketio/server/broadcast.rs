//! Broadcast targeting, the encoded packet handed to every target, and the collector of
//! acknowledgements for a broadcast with acks.

use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;
use halyard_protocol::socketio::{Args, Encoded};

use crate::engineio::Frame;

/// Who a broadcast reaches and how (socket.io's `BroadcastOptions`: `{rooms, except,
/// flags}`), in a plain, serialisable-friendly shape.
///
/// - `io.emit(…)`: [`BroadcastOptions::all`];
/// - `io.to("a").to("b").emit(…)` / `io.in(…)`: [`to`](Self::to) / [`and_to`](Self::and_to),
///   the union of the rooms;
/// - `.except("c")`: [`except`](Self::except), minus the members of those rooms;
/// - `socket.broadcast.emit(…)`, `socket.to(…).emit(…)`: [`from_socket`](Self::from_socket)
///   (the broadcast flag: the sender is excluded);
/// - `.volatile`, `.local`, `.timeout(ms)`: [`BroadcastFlags`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// Target rooms; empty means every socket of the namespace.
    pub rooms: Vec<String>,
    /// Rooms whose members are excluded (a socket id is a room too).
    pub except: Vec<String>,
    /// Delivery flags.
    pub flags: BroadcastFlags,
}

/// Flags of a broadcast.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BroadcastFlags {
    /// Drop the packet for a target whose transport is not writable instead of queueing
    /// it (see [`Connection::send`](super::Connection::send)). Volatile packets get no
    /// recovery offset and are not kept for replay.
    pub volatile: bool,
    /// Only this server's sockets (meaningful to cluster adapters; the in-memory index
    /// ignores it).
    pub local: bool,
    /// For a broadcast with acks: how long to wait for the answers.
    pub timeout: Option<Duration>,
}

impl BroadcastOptions {
    /// Every socket of the namespace.
    pub fn all() -> Self {
        Self::default()
    }

    /// The members of `room`.
    pub fn to(room: impl Into<String>) -> Self {
        Self::all().and_to(room)
    }

    /// The broadcast flag: every target but the socket `sid` (socket.io's
    /// `socket.broadcast` and `socket.to(…)`).
    pub fn from_socket(sid: impl Into<String>) -> Self {
        Self::all().except(sid)
    }

    /// Adds `room` to the targets (union).
    pub fn and_to(mut self, room: impl Into<String>) -> Self {
        self.rooms.push(room.into());
        self
    }

    /// Excludes the members of `room`.
    pub fn except(mut self, room: impl Into<String>) -> Self {
        self.except.push(room.into());
        self
    }

    /// Sets the volatile flag.
    pub fn volatile(mut self) -> Self {
        self.flags.volatile = true;
        self
    }

    /// Sets the local flag.
    pub fn local(mut self) -> Self {
        self.flags.local = true;
        self
    }

    /// Sets the ack timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.flags.timeout = Some(timeout);
        self
    }

    /// Whether a socket with these rooms was a target (socket.io's
    /// `shouldIncludePacket`, used when replaying missed packets).
    pub fn includes(&self, socket_rooms: &[String]) -> bool {
        let included = self.rooms.is_empty() || socket_rooms.iter().any(|r| self.rooms.contains(r));
        let excluded = socket_rooms.iter().any(|r| self.except.contains(r));
        included && !excluded
    }
}

/// A packet encoded once for any number of targets: the Engine.IO text frame and its
/// binary attachments (clones share memory), with how to deliver it.
///
/// Made by [`Namespace::broadcast`](super::Namespace::broadcast) and friends (or
/// [`Broadcast::from_encoded`]); handed to every target with
/// [`Connection::send`](super::Connection::send).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broadcast {
    frame: ByteString,
    attachments: Vec<Bytes>,
    /// The sockets to deliver to (filled by the namespace; empty when made by hand).
    pub targets: Vec<String>,
    /// Drop instead of queueing for a target that is not writable.
    pub volatile: bool,
    /// The ack id every target must answer with, for a broadcast with acks. Each target
    /// connection registers it when sending, so the answers come back as
    /// [`ServerEvent::Ack`](super::ServerEvent::Ack).
    pub ack_id: Option<u64>,
    /// The recovery offset appended as the last argument, if any.
    pub offset: Option<String>,
    /// With an [`ack_id`](Self::ack_id): how long each target connection waits for the
    /// answer before [`ServerEvent::AckTimeout`](super::ServerEvent::AckTimeout). Set by
    /// [`Namespace::emit_to`](super::Namespace::emit_to); `None` for a broadcast with
    /// acks, whose [`BroadcastAck`] collector holds the deadline.
    pub ack_timeout: Option<Duration>,
}

impl Broadcast {
    /// Wraps an encoded packet (for example one encoded by the application), without
    /// targets. This bypasses the namespace: such a packet gets no recovery offset and is
    /// never replayed; use [`Namespace::emit_to`](super::Namespace::emit_to) or
    /// [`Namespace::broadcast`](super::Namespace::broadcast) for events that recovery
    /// must cover.
    pub fn from_encoded(encoded: &Encoded, volatile: bool) -> Self {
        Self {
            frame: encoded.frame().clone(),
            attachments: encoded.attachments().to_vec(),
            targets: Vec::new(),
            volatile,
            ack_id: None,
            offset: None,
            ack_timeout: None,
        }
    }

    /// The Engine.IO text frame (`4` + the Socket.IO packet text).
    pub fn frame(&self) -> &ByteString {
        &self.frame
    }

    /// The binary attachments.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// Every Engine.IO frame, in sending order.
    pub fn frames(&self) -> impl Iterator<Item = Frame> + Clone + '_ {
        std::iter::once(Frame::Text(self.frame.clone()))
            .chain(self.attachments.iter().cloned().map(Frame::Binary))
    }
}

/// Collects the answers to one broadcast with acks: one per target, until all have
/// answered or the deadline passes (socket.io's `io.timeout(ms).emit(…, cb)`).
///
/// The driver routes every [`ServerEvent::Ack`](super::ServerEvent::Ack) whose namespace
/// and ack id match to [`handle_ack`](Self::handle_ack) with the answering socket's sid,
/// arms a timer on [`poll_timeout`](Self::poll_timeout), and takes the
/// [`outcome`](Self::outcome) when [`is_done`](Self::is_done). On a timeout it should
/// also [`cancel_ack`](super::Connection::cancel_ack) on the targets that did not answer,
/// as socket.io forgets the ack on every socket.
#[derive(Debug, Clone)]
pub struct BroadcastAck {
    ack_id: u64,
    expected: Vec<String>,
    responses: Vec<(String, Args)>,
    deadline: Instant,
    timed_out: bool,
}

/// What a broadcast with acks got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastAckOutcome {
    /// The answers, in arrival order, with the sid that sent each.
    pub responses: Vec<(String, Args)>,
    /// The targets that did not answer (empty unless timed out).
    pub missing: Vec<String>,
    /// Whether the deadline passed first (socket.io's "operation has timed out").
    pub timed_out: bool,
}

impl BroadcastAck {
    /// A collector for `ack_id` sent to `targets`, giving up at `deadline`.
    pub fn new(ack_id: u64, targets: Vec<String>, deadline: Instant) -> Self {
        Self {
            ack_id,
            expected: targets,
            responses: Vec::new(),
            deadline,
            timed_out: false,
        }
    }

    /// The ack id the targets answer with.
    pub fn ack_id(&self) -> u64 {
        self.ack_id
    }

    /// Adds targets reached elsewhere (a cluster adapter counting remote clients).
    pub fn add_targets(&mut self, sids: impl IntoIterator<Item = String>) {
        self.expected.extend(sids);
    }

    /// The answer of `sid`. Returns whether it counted: a socket that was not a target,
    /// one that already answered, or an answer after the deadline is ignored.
    pub fn handle_ack(&mut self, sid: &str, args: Args) -> bool {
        if self.timed_out
            || !self.expected.iter().any(|s| s == sid)
            || self.responses.iter().any(|(s, _)| s == sid)
        {
            return false;
        }
        self.responses.push((sid.to_owned(), args));
        true
    }

    /// The deadline (whether or not still waiting).
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The deadline, while still waiting.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.is_done()).then_some(self.deadline)
    }

    /// Passes time: at the deadline, the collection ends as timed out.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.is_done() && now >= self.deadline {
            self.timed_out = true;
        }
    }

    /// Whether every target answered or the deadline passed.
    pub fn is_done(&self) -> bool {
        self.timed_out || self.responses.len() >= self.expected.len()
    }

    /// The targets that have not answered.
    pub fn missing(&self) -> Vec<String> {
        self.expected
            .iter()
            .filter(|sid| !self.responses.iter().any(|(s, _)| s == *sid))
            .cloned()
            .collect()
    }

    /// The result so far (final once [`is_done`](Self::is_done)).
    pub fn outcome(self) -> BroadcastAckOutcome {
        let missing = self.missing();
        BroadcastAckOutcome {
            responses: self.responses,
            missing,
            timed_out: self.timed_out,
        }
    }
}
