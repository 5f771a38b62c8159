//! Connection state recovery: saved sessions and the replay buffer of one namespace.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use halyard_protocol::socketio::RawJson;

use super::broadcast::{Broadcast, BroadcastOptions};
use super::config::RecoveryConfig;

/// What a client sends to resume a session: the `pid` and `offset` fields of its
/// CONNECT auth payload (`40{"pid":"…","offset":"…",…}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecoveryToken {
    /// The private session id the server gave in the CONNECT answer.
    pub pid: String,
    /// The offset of the last event the client processed.
    pub offset: String,
}

/// The state of a socket kept after a recoverable disconnect (socket.io's
/// `SessionToPersist`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSession {
    /// The socket id the client gets back.
    pub sid: String,
    /// The private session id.
    pub pid: String,
    /// The rooms the socket was in (its own room included).
    pub rooms: Vec<String>,
    /// The application's data for the socket (`socket.data`), if it keeps any.
    pub data: Option<RawJson>,
    /// When the socket disconnected.
    pub disconnected_at: Instant,
}

/// A session found again: hand it to [`Connection::accept`](super::Connection::accept)
/// (which replays `missed` before the CONNECT answer, as socket.io does) and to
/// [`Namespace::add_socket`](super::Namespace::add_socket) (which restores the rooms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredSession {
    /// The socket id, as before.
    pub sid: String,
    /// The private session id, as before.
    pub pid: String,
    /// The rooms, as before.
    pub rooms: Vec<String>,
    /// The application's data, as saved.
    pub data: Option<RawJson>,
    /// The packets sent to the socket's rooms after the client's offset, in order,
    /// encoded exactly as they were sent (offset included).
    pub missed: Vec<Broadcast>,
}

#[derive(Debug, Clone)]
struct Kept {
    offset: String,
    at: Instant,
    rooms: Vec<String>,
    except: Vec<String>,
    packet: Broadcast,
}

/// Saved sessions (pid → session, until `max_disconnection_duration` after the
/// disconnect) and the replay buffer (offset → encoded packet with its targeting, kept
/// as long, at most `max_buffered_packets`), as socket.io's `SessionAwareAdapter`.
///
/// Looking a session up ([`find`](Self::find)) leaves it in place, so the application can
/// decide on the CONNECT first; it is taken out when restored
/// ([`restore`](Self::restore), once the CONNECT is accepted) or when it expires.
/// (socket.io keeps restored sessions until they expire; taking them out means a pid
/// resumes at most one socket.)
#[derive(Debug, Clone)]
pub struct RecoveryStore {
    config: RecoveryConfig,
    next_offset: u64,
    packets: VecDeque<Kept>,
    sessions: BTreeMap<String, SavedSession>,
    /// Disconnection order, for expiry (entries of restored sessions are skipped).
    expiry: VecDeque<(Instant, String)>,
}

impl RecoveryStore {
    /// An empty store.
    pub fn new(config: RecoveryConfig) -> Self {
        Self {
            config,
            next_offset: 0,
            packets: VecDeque::new(),
            sessions: BTreeMap::new(),
            expiry: VecDeque::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &RecoveryConfig {
        &self.config
    }

    /// A fresh offset (yeast-style, increasing).
    pub(crate) fn next_offset(&mut self) -> String {
        self.next_offset += 1;
        yeast(self.next_offset)
    }

    /// Keeps a sent packet (already carrying `offset`) for replay.
    pub(crate) fn keep(
        &mut self,
        now: Instant,
        offset: String,
        opts: &BroadcastOptions,
        packet: Broadcast,
    ) {
        if self.config.max_buffered_packets == 0 {
            return;
        }
        while self.packets.len() >= self.config.max_buffered_packets {
            self.packets.pop_front();
        }
        let mut packet = packet;
        packet.targets = Vec::new();
        self.packets.push_back(Kept {
            offset,
            at: now,
            rooms: opts.rooms.clone(),
            except: opts.except.clone(),
            packet,
        });
    }

    /// Saves a disconnected socket's session under its pid.
    pub fn persist(&mut self, session: SavedSession) {
        self.expiry
            .push_back((session.disconnected_at, session.pid.clone()));
        self.sessions.insert(session.pid.clone(), session);
    }

    /// The saved session `token` would resume now, without taking it: known, not
    /// expired, and its offset still in the replay buffer. Use it to decide (socket.io's
    /// middlewares see the restored socket); take it with [`restore`](Self::restore) only
    /// once the CONNECT is accepted, so a refused attempt leaves it for a later one.
    pub fn find(&self, now: Instant, token: &RecoveryToken) -> Option<&SavedSession> {
        let session = self.sessions.get(&token.pid)?;
        if session.disconnected_at + self.config.max_disconnection_duration <= now {
            return None;
        }
        let expired = |p: &Kept| p.at + self.config.max_disconnection_duration <= now;
        self.packets
            .iter()
            .any(|p| p.offset == token.offset && !expired(p))
            .then_some(session)
    }

    /// Takes the session for `token` out of the store, with the packets it missed until
    /// `now`, if it can still be resumed (see [`find`](Self::find)); `None` means the
    /// client gets a plain new session. Call it when the application has accepted the
    /// CONNECT: a pid resumes at most one socket.
    pub fn restore(&mut self, now: Instant, token: &RecoveryToken) -> Option<RestoredSession> {
        self.handle_timeout(now);
        self.find(now, token)?;
        let index = self.packets.iter().position(|p| p.offset == token.offset)?;
        let session = self.sessions.remove(&token.pid)?;
        let missed = self
            .packets
            .iter()
            .skip(index + 1)
            .filter(|p| {
                let opts = BroadcastOptions {
                    rooms: p.rooms.clone(),
                    except: p.except.clone(),
                    ..BroadcastOptions::default()
                };
                opts.includes(&session.rooms)
            })
            .map(|p| p.packet.clone())
            .collect();
        Some(RestoredSession {
            sid: session.sid,
            pid: session.pid,
            rooms: session.rooms,
            data: session.data,
            missed,
        })
    }

    /// The number of saved sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// The number of packets kept for replay.
    pub fn buffered_packets(&self) -> usize {
        self.packets.len()
    }

    /// The next expiry (of a packet or a session).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let max = self.config.max_disconnection_duration;
        let packet = self.packets.front().map(|p| p.at + max);
        let session = self.expiry.front().map(|(at, _)| *at + max);
        packet.into_iter().chain(session).min()
    }

    /// Drops what expired at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let max = self.config.max_disconnection_duration;
        while self.packets.front().is_some_and(|p| p.at + max <= now) {
            self.packets.pop_front();
        }
        while let Some((at, pid)) = self.expiry.front() {
            if *at + max > now {
                break;
            }
            if self
                .sessions
                .get(pid)
                .is_some_and(|s| s.disconnected_at == *at)
            {
                self.sessions.remove(pid);
            }
            self.expiry.pop_front();
        }
    }
}

/// Encodes `n` in yeast's alphabet (what socket.io's in-memory adapter uses for offsets).
pub(crate) fn yeast(mut n: u64) -> String {
    const ALPHABET: &[u8; 64] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";
    let mut digits = Vec::with_capacity(11);
    loop {
        digits.push(ALPHABET[(n % 64) as usize]);
        n /= 64;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).expect("alphabet is ASCII")
}
