//! Server-wide namespace state: the registry (static and dynamic namespaces) and, per
//! namespace, the rooms index, the ack id counter and the recovery store.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use bytestring::ByteString;
use halyard_protocol::socketio::{EncodeError, Event, Packet, RawJson};

use super::broadcast::{Broadcast, BroadcastAck, BroadcastOptions};
use super::config::RecoveryConfig;
use super::recovery::{RecoveryStore, RecoveryToken, RestoredSession, SavedSession};
use super::rooms::Rooms;
use crate::socketio::DisconnectReason;

/// How a per-socket emit goes out through [`Namespace::emit_to`] (socket.io's
/// `socket.volatile.timeout(ms).emit(…, cb)`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmitToOptions {
    /// Ask for an acknowledgement (socket.io: a callback as last argument). The
    /// namespace takes the ack id from its counter; the answer comes back as
    /// [`ServerEvent::Ack`](super::ServerEvent::Ack). Such an emit never gets a recovery
    /// offset.
    pub ack: bool,
    /// With `ack`, how long to wait (`socket.timeout(ms)`); `None` waits as long as the
    /// socket lives. Ignored without `ack`, as socket.io ignores a timeout without a
    /// callback.
    pub timeout: Option<Duration>,
    /// Drop the packet if the transport is not writable (`socket.volatile`). A volatile
    /// emit never gets a recovery offset.
    pub volatile: bool,
}

impl EmitToOptions {
    /// A plain emit: no ack, not volatile.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks for an acknowledgement, waiting at most `timeout` (`None`: as long as the
    /// socket lives).
    pub fn with_ack(mut self, timeout: Option<Duration>) -> Self {
        self.ack = true;
        self.timeout = timeout;
        self
    }

    /// Sets the volatile flag.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }
}

/// The server-wide state of one namespace (socket.io's `Namespace` with its in-memory
/// adapter): the [`Rooms`] index, the ack id counter shared by every emit of the
/// namespace (`nsp._ids`), and, with recovery on, the [`RecoveryStore`].
///
/// Plain data and logic, no lock: the async layer keeps it behind its adapter.
#[derive(Debug, Clone)]
pub struct Namespace {
    name: ByteString,
    parent: Option<usize>,
    rooms: Rooms,
    next_ack_id: u64,
    recovery: Option<RecoveryStore>,
}

impl Namespace {
    /// A namespace named `name` (`/` or `/something`); `recovery` turns connection state
    /// recovery on for it.
    pub fn new(name: &str, recovery: Option<RecoveryConfig>) -> Self {
        Self {
            name: ByteString::from(name),
            parent: None,
            rooms: Rooms::new(),
            next_ack_id: 0,
            recovery: recovery.map(RecoveryStore::new),
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// For a child of a dynamic namespace, the index of the matcher that created it
    /// (its "parent namespace", whose connect hooks apply).
    pub fn parent(&self) -> Option<usize> {
        self.parent
    }

    /// The rooms index.
    pub fn rooms(&self) -> &Rooms {
        &self.rooms
    }

    /// The rooms index, to join or leave rooms (by socket id).
    pub fn rooms_mut(&mut self) -> &mut Rooms {
        &mut self.rooms
    }

    /// The recovery store, when recovery is on.
    pub fn recovery(&self) -> Option<&RecoveryStore> {
        self.recovery.as_ref()
    }

    /// The next ack id of the namespace (socket.io's `nsp._ids++`): use it for every
    /// emit with an ack on this namespace, per socket or broadcast, so ids never collide
    /// on a socket.
    pub fn next_ack_id(&mut self) -> u64 {
        let id = self.next_ack_id;
        self.next_ack_id += 1;
        id
    }

    /// A socket was accepted: it joins its own room, and with a restored session, the
    /// rooms it had (socket.io's `_onconnect` and `Socket` constructor).
    pub fn add_socket(&mut self, sid: &str, restored: Option<&RestoredSession>) {
        self.rooms.join(sid, sid);
        if let Some(restored) = restored {
            self.rooms
                .join_all(sid, restored.rooms.iter().map(String::as_str));
        }
    }

    /// A socket disconnected (call on [`ServerEvent::Disconnected`](super::ServerEvent::Disconnected),
    /// after the application saw `Disconnecting` with the rooms still in place): with
    /// recovery on, a pid and a recoverable `reason`, its session is saved with its rooms
    /// and `data`; then it leaves every room. Returns whether the session was saved.
    pub fn remove_socket(
        &mut self,
        now: Instant,
        sid: &str,
        pid: Option<&str>,
        reason: DisconnectReason,
        data: Option<RawJson>,
    ) -> bool {
        let mut saved = false;
        if let (Some(store), Some(pid)) = (self.recovery.as_mut(), pid)
            && reason.is_recoverable()
        {
            store.persist(SavedSession {
                sid: sid.to_owned(),
                pid: pid.to_owned(),
                rooms: self.rooms.rooms_of(sid).map(str::to_owned).collect(),
                data,
                disconnected_at: now,
            });
            saved = true;
        }
        self.rooms.leave_all(sid);
        saved
    }

    /// The saved session a reconnecting client names (see
    /// [`ConnectRequest::recovery`](super::ConnectRequest::recovery)), if it can be
    /// resumed now, **without taking it**: the application decides on the CONNECT with
    /// it in view (skipping its decision when
    /// [`RecoveryConfig::skip_middlewares`](super::RecoveryConfig::skip_middlewares)).
    /// A refused CONNECT leaves the session for a later attempt, until it expires.
    /// `None` (recovery off, unknown or expired pid, offset no longer buffered) means a
    /// plain new session.
    pub fn find_session(&self, now: Instant, token: &RecoveryToken) -> Option<&SavedSession> {
        self.recovery.as_ref()?.find(now, token)
    }

    /// Takes the session a reconnecting client names, with the packets it missed until
    /// `now`, **once the application accepted the CONNECT**: hand it to
    /// [`Connection::accept`](super::Connection::accept) and
    /// [`add_socket`](Self::add_socket). A pid resumes at most one socket. `None` (the
    /// session expired or was taken since [`find_session`](Self::find_session)) means a
    /// plain new session: if the application's decision was skipped because the session
    /// was there, decide now as for a new socket.
    pub fn restore(&mut self, now: Instant, token: &RecoveryToken) -> Option<RestoredSession> {
        self.recovery.as_mut()?.restore(now, token)
    }

    /// Encodes `event` once for the sockets `opts` reaches (socket.io's
    /// `adapter.broadcast`). With recovery on and a non-volatile broadcast, the packet
    /// gets an offset as its last argument and is kept for replay.
    pub fn broadcast(
        &mut self,
        now: Instant,
        event: Event,
        opts: &BroadcastOptions,
    ) -> Result<Broadcast, EncodeError> {
        let mut broadcast = self.encode(now, event, opts)?;
        broadcast.targets = self.rooms.resolve(opts);
        Ok(broadcast)
    }

    /// A per-socket emit (socket.io's `socket.emit`, `socket.volatile.emit`,
    /// `socket.timeout(ms).emit(…, cb)`): the packet for the socket `sid`, to hand to
    /// [`Connection::send`](super::Connection::send) on that socket's connection.
    ///
    /// This is the one emit path that is right in every configuration:
    ///
    /// - with [`EmitToOptions::ack`], the ack id comes from the namespace counter
    ///   ([`Broadcast::ack_id`]) and the connection waits for the answer, up to
    ///   [`EmitToOptions::timeout`] ([`ServerEvent::AckTimeout`](super::ServerEvent::AckTimeout));
    /// - with recovery on, an emit without ack and not volatile gets a recovery offset
    ///   as its last argument and is kept for replay, exactly as socket.io routes
    ///   `socket.emit` through its adapter; otherwise it gets none.
    ///
    /// The packet's [`targets`](Broadcast::targets) is `[sid]` while the socket is in the
    /// rooms index (empty otherwise; with recovery on the packet is still kept, so a
    /// socket that comes back with its session gets it).
    pub fn emit_to(
        &mut self,
        now: Instant,
        sid: &str,
        event: Event,
        opts: EmitToOptions,
    ) -> Result<Broadcast, EncodeError> {
        let mut targeting = BroadcastOptions::to(sid);
        targeting.flags.volatile = opts.volatile;
        let mut packet = if opts.ack {
            let ack_id = self.next_ack_id();
            let encoded = Packet::event(self.name.clone(), Some(ack_id), event).encode()?;
            let mut packet = Broadcast::from_encoded(&encoded, opts.volatile);
            packet.ack_id = Some(ack_id);
            packet.ack_timeout = opts.timeout;
            packet
        } else {
            self.encode(now, event, &targeting)?
        };
        packet.targets = self.rooms.resolve(&targeting);
        Ok(packet)
    }

    /// A broadcast with acks (socket.io's `broadcastWithAck`): one ack id from the
    /// namespace counter for every target, no recovery offset, and the collector that
    /// waits `timeout` for the answers.
    pub fn broadcast_with_ack(
        &mut self,
        now: Instant,
        event: Event,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> Result<(Broadcast, BroadcastAck), EncodeError> {
        let ack_id = self.next_ack_id();
        let encoded = Packet::event(self.name.clone(), Some(ack_id), event).encode()?;
        let mut broadcast = Broadcast::from_encoded(&encoded, opts.flags.volatile);
        broadcast.ack_id = Some(ack_id);
        broadcast.targets = self.rooms.resolve(opts);
        let collector = BroadcastAck::new(ack_id, broadcast.targets.clone(), now + timeout);
        Ok((broadcast, collector))
    }

    fn encode(
        &mut self,
        now: Instant,
        event: Event,
        opts: &BroadcastOptions,
    ) -> Result<Broadcast, EncodeError> {
        let volatile = opts.flags.volatile;
        let Some(store) = self.recovery.as_mut().filter(|_| !volatile) else {
            let encoded = Packet::event(self.name.clone(), None, event).encode()?;
            return Ok(Broadcast::from_encoded(&encoded, volatile));
        };
        // The offset goes in as the event's last argument.
        let offset = store.next_offset();
        let encoded =
            Packet::event(self.name.clone(), None, event.with_appended_arg(&offset)?).encode()?;
        let mut broadcast = Broadcast::from_encoded(&encoded, false);
        broadcast.offset = Some(offset.clone());
        store.keep(now, offset, opts, broadcast.clone());
        Ok(broadcast)
    }

    /// The next expiry of the recovery store.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.recovery.as_ref()?.poll_timeout()
    }

    /// Drops expired sessions and packets.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(store) = self.recovery.as_mut() {
            store.handle_timeout(now);
        }
    }
}

/// A dynamic namespace predicate: the namespace name and the CONNECT auth payload.
pub type NamespacePredicate = Box<dyn Fn(&str, &RawJson) -> bool + Send + Sync>;

/// How a dynamic namespace name is matched (socket.io's `io.of(regex)` or
/// `io.of((name, auth, next) => …)`).
pub enum NamespaceMatcher {
    /// Names starting with this prefix.
    Prefix(String),
    /// Names (and auth payloads) the predicate accepts.
    Predicate(NamespacePredicate),
}

impl NamespaceMatcher {
    /// A predicate matcher.
    pub fn predicate(f: impl Fn(&str, &RawJson) -> bool + Send + Sync + 'static) -> Self {
        Self::Predicate(Box::new(f))
    }

    /// Whether `name` (with `auth`) matches.
    pub fn matches(&self, name: &str, auth: &RawJson) -> bool {
        match self {
            Self::Prefix(prefix) => name.starts_with(prefix.as_str()),
            Self::Predicate(f) => f(name, auth),
        }
    }
}

impl fmt::Debug for NamespaceMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Prefix(prefix) => f.debug_tuple("Prefix").field(prefix).finish(),
            Self::Predicate(_) => f.write_str("Predicate(..)"),
        }
    }
}

/// How a CONNECT's namespace was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// A namespace registered by name.
    Static,
    /// A child of the dynamic matcher with this index (created on first match).
    Dynamic(usize),
}

/// The namespace registry of a server (socket.io's `server._nsps` and
/// `parentNsps`): namespaces registered by name, and matchers that create child
/// namespaces on demand. The main namespace `/` always exists.
///
/// On a [`ServerEvent::Connect`](super::ServerEvent::Connect) the driver calls
/// [`resolve`](Self::resolve); `None` means the CONNECT is refused with
/// [`ConnectError::invalid_namespace`](super::ConnectError::invalid_namespace)
/// (`44<nsp>,{"message":"Invalid namespace"}`).
#[derive(Debug)]
pub struct Namespaces {
    recovery: Option<RecoveryConfig>,
    namespaces: BTreeMap<String, Namespace>,
    dynamic: Vec<NamespaceMatcher>,
}

impl Namespaces {
    /// A registry with the main namespace; `recovery` applies to every namespace (it must
    /// agree with [`Config::recovery`](super::Config::recovery)).
    pub fn new(recovery: Option<RecoveryConfig>) -> Self {
        let mut namespaces = BTreeMap::new();
        namespaces.insert("/".to_owned(), Namespace::new("/", recovery.clone()));
        Self {
            recovery,
            namespaces,
            dynamic: Vec::new(),
        }
    }

    /// Registers the namespace `name` (`io.of("/name")`); does nothing if it exists.
    pub fn add(&mut self, name: &str) -> &mut Namespace {
        let recovery = &self.recovery;
        self.namespaces
            .entry(name.to_owned())
            .or_insert_with(|| Namespace::new(name, recovery.clone()))
    }

    /// Registers a dynamic matcher; returns its index.
    pub fn add_dynamic(&mut self, matcher: NamespaceMatcher) -> usize {
        self.dynamic.push(matcher);
        self.dynamic.len() - 1
    }

    /// Finds the namespace a client asks for: an existing one, or a new child of the
    /// first dynamic matcher that accepts `name` and `auth`. `None`: invalid namespace.
    pub fn resolve(&mut self, name: &str, auth: &RawJson) -> Option<Resolution> {
        if let Some(nsp) = self.namespaces.get(name) {
            return Some(nsp.parent.map_or(Resolution::Static, Resolution::Dynamic));
        }
        let index = self.dynamic.iter().position(|m| m.matches(name, auth))?;
        let mut nsp = Namespace::new(name, self.recovery.clone());
        nsp.parent = Some(index);
        self.namespaces.insert(name.to_owned(), nsp);
        Some(Resolution::Dynamic(index))
    }

    /// The namespace `name`.
    pub fn get(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.get(name)
    }

    /// The namespace `name`, mutably.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Namespace> {
        self.namespaces.get_mut(name)
    }

    /// Removes a namespace (socket.io's `cleanupEmptyChildNamespaces`); the main one stays.
    pub fn remove(&mut self, name: &str) -> Option<Namespace> {
        if name == "/" {
            return None;
        }
        self.namespaces.remove(name)
    }

    /// Every namespace, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Namespace> + '_ {
        self.namespaces.values()
    }

    /// The next expiry of any recovery store.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.namespaces
            .values()
            .filter_map(Namespace::poll_timeout)
            .min()
    }

    /// Drops expired recovery state in every namespace.
    pub fn handle_timeout(&mut self, now: Instant) {
        for nsp in self.namespaces.values_mut() {
            nsp.handle_timeout(now);
        }
    }
}
