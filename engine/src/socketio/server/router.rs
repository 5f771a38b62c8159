//! Server-wide plumbing a driver would otherwise write itself: the broadcast-ack
//! collectors keyed by namespace and ack id ([`AckRouter`]), and the index from a socket
//! to the connection that carries it ([`SocketIndex`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use halyard_protocol::socketio::Args;

use super::broadcast::{BroadcastAck, BroadcastAckOutcome};

/// Where [`AckRouter::handle_ack`] put an acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckRoute {
    /// A broadcast with acks was waiting for this ack id: the answer went to its
    /// collector (counted, or ignored if the socket was not a target or already
    /// answered). When the broadcast completes, [`AckRouter::poll_finished`] has it.
    Broadcast,
    /// No broadcast waits for this ack id: it answers a per-socket emit. Here are the
    /// arguments back, for the application's callback.
    Socket(Args),
}

/// A broadcast with acks that completed, pulled with [`AckRouter::poll_finished`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedBroadcastAck {
    /// The namespace.
    pub nsp: String,
    /// The ack id the targets answered with.
    pub ack_id: u64,
    /// The answers and, when it timed out, the silent targets. Each silent target's
    /// connection should forget the ack ([`Connection::cancel_ack`](super::Connection::cancel_ack)
    /// with `nsp` and `ack_id`), as socket.io does, so that a late answer is dropped
    /// there.
    pub outcome: BroadcastAckOutcome,
}

/// The broadcasts with acks in flight on a server (socket.io's `io.timeout(ms).emit(…,
/// cb)` callbacks), keyed by namespace and ack id: plain data, no lock.
///
/// The driver [`insert`](Self::insert)s the [`BroadcastAck`] that
/// [`Namespace::broadcast_with_ack`](super::Namespace::broadcast_with_ack) made, routes
/// every [`ServerEvent::Ack`](super::ServerEvent::Ack) through
/// [`handle_ack`](Self::handle_ack) (the event names the answering socket), arms its
/// server-level timer on [`poll_timeout`](Self::poll_timeout) (with
/// [`Namespaces::poll_timeout`](super::Namespaces::poll_timeout): the only timers
/// outside the connections), calls [`handle_timeout`](Self::handle_timeout) when it
/// passes, and after each of these inputs pulls [`poll_finished`](Self::poll_finished)
/// until `None`.
///
/// Ack ids never collide within a namespace: per-socket emits and broadcasts take them
/// from the same counter ([`Namespace::next_ack_id`](super::Namespace::next_ack_id)).
#[derive(Debug, Default)]
pub struct AckRouter {
    collectors: BTreeMap<String, BTreeMap<u64, BroadcastAck>>,
    deadlines: BTreeSet<(Instant, String, u64)>,
    finished: VecDeque<FinishedBroadcastAck>,
}

impl AckRouter {
    /// No broadcast in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts routing answers with `collector`'s ack id on `nsp` to it. A broadcast that
    /// reached nobody is finished at once (socket.io calls back with no responses). A
    /// collector already there under the same key is replaced.
    pub fn insert(&mut self, nsp: &str, collector: BroadcastAck) {
        let ack_id = collector.ack_id();
        self.remove(nsp, ack_id);
        if collector.is_done() {
            self.finished.push_back(FinishedBroadcastAck {
                nsp: nsp.to_owned(),
                ack_id,
                outcome: collector.outcome(),
            });
            return;
        }
        if let Some(at) = collector.poll_timeout() {
            self.deadlines.insert((at, nsp.to_owned(), ack_id));
        }
        self.collectors
            .entry(nsp.to_owned())
            .or_default()
            .insert(ack_id, collector);
    }

    /// The answer of socket `sid` on `nsp` to `ack_id` (from
    /// [`ServerEvent::Ack`](super::ServerEvent::Ack)).
    pub fn handle_ack(&mut self, nsp: &str, sid: &str, ack_id: u64, args: Args) -> AckRoute {
        let Some(collector) = self
            .collectors
            .get_mut(nsp)
            .and_then(|by_id| by_id.get_mut(&ack_id))
        else {
            return AckRoute::Socket(args);
        };
        collector.handle_ack(sid, args);
        if collector.is_done() {
            self.finish(nsp, ack_id);
        }
        AckRoute::Broadcast
    }

    /// The collector waiting for `ack_id` on `nsp`, to add targets reached elsewhere (a
    /// cluster adapter counting remote clients, [`BroadcastAck::add_targets`]).
    pub fn get_mut(&mut self, nsp: &str, ack_id: u64) -> Option<&mut BroadcastAck> {
        self.collectors.get_mut(nsp)?.get_mut(&ack_id)
    }

    /// The collector waiting for `ack_id` on `nsp`.
    pub fn get(&self, nsp: &str, ack_id: u64) -> Option<&BroadcastAck> {
        self.collectors.get(nsp)?.get(&ack_id)
    }

    /// The number of broadcasts still waiting.
    pub fn len(&self) -> usize {
        self.collectors.values().map(BTreeMap::len).sum()
    }

    /// Whether no broadcast is waiting.
    pub fn is_empty(&self) -> bool {
        self.collectors.is_empty()
    }

    /// The earliest deadline of a waiting broadcast.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _, _)| *at)
    }

    /// Ends, as timed out, every broadcast whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((at, nsp, ack_id)) = self.deadlines.first().cloned() {
            if at > now {
                break;
            }
            if let Some(collector) = self.get_mut(&nsp, ack_id) {
                collector.handle_timeout(now);
            }
            self.finish(&nsp, ack_id);
        }
    }

    /// The next completed broadcast. Pull until `None` after every input.
    pub fn poll_finished(&mut self) -> Option<FinishedBroadcastAck> {
        self.finished.pop_front()
    }

    fn remove(&mut self, nsp: &str, ack_id: u64) -> Option<BroadcastAck> {
        let by_id = self.collectors.get_mut(nsp)?;
        let collector = by_id.remove(&ack_id)?;
        if by_id.is_empty() {
            self.collectors.remove(nsp);
        }
        self.deadlines
            .remove(&(collector.deadline(), nsp.to_owned(), ack_id));
        Some(collector)
    }

    fn finish(&mut self, nsp: &str, ack_id: u64) {
        if let Some(collector) = self.remove(nsp, ack_id) {
            self.finished.push_back(FinishedBroadcastAck {
                nsp: nsp.to_owned(),
                ack_id,
                outcome: collector.outcome(),
            });
        }
    }
}

/// Which connection carries each socket, by namespace and socket id: how a driver finds
/// the [`Connection`](super::Connection) of a broadcast target or of a per-socket emit.
/// `K` is the driver's connection key (an Engine.IO sid, a slab index, a channel…).
///
/// Keep it in step with the connections: [`insert`](Self::insert) after
/// [`Connection::accept`](super::Connection::accept), and on
/// [`ServerEvent::Disconnected`](super::ServerEvent::Disconnected)
/// [`remove`](Self::remove) *with the key of the connection that reported it*. With
/// connection state recovery the same socket id comes back on a new connection; if the
/// new connection was inserted before the old one's removal ran (its tasks are not
/// ordered with each other), the removal sees a different key and leaves the new entry
/// in place.
///
/// Plain data in sorted maps, so iteration replays exactly.
#[derive(Debug, Clone)]
pub struct SocketIndex<K> {
    /// Socket ids as `Box<str>`: smaller tree nodes than with `String` keys.
    nsps: BTreeMap<String, BTreeMap<Box<str>, K>>,
}

impl<K> Default for SocketIndex<K> {
    fn default() -> Self {
        Self {
            nsps: BTreeMap::new(),
        }
    }
}

impl<K> SocketIndex<K> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// The socket `sid` of `nsp` is on the connection `key` now. Returns the key it was
    /// on before, if any (a recovered socket moving to its new connection).
    pub fn insert(&mut self, nsp: &str, sid: &str, key: K) -> Option<K> {
        self.nsps
            .entry(nsp.to_owned())
            .or_default()
            .insert(sid.into(), key)
    }

    /// The connection of the socket `sid` of `nsp`.
    pub fn get(&self, nsp: &str, sid: &str) -> Option<&K> {
        self.nsps.get(nsp)?.get(sid)
    }

    /// Removes the socket `sid` of `nsp` if it is still on the connection `key`.
    /// Returns whether it was removed.
    pub fn remove(&mut self, nsp: &str, sid: &str, key: &K) -> bool
    where
        K: PartialEq,
    {
        self.remove_if(nsp, sid, |k| k == key).is_some()
    }

    /// Removes the socket `sid` of `nsp` if its key passes `is_mine` (for keys without
    /// `PartialEq`, such as channel senders compared by identity). Returns the key.
    pub fn remove_if(
        &mut self,
        nsp: &str,
        sid: &str,
        is_mine: impl FnOnce(&K) -> bool,
    ) -> Option<K> {
        let sockets = self.nsps.get_mut(nsp)?;
        if !sockets.get(sid).is_some_and(is_mine) {
            return None;
        }
        let key = sockets.remove(sid);
        if sockets.is_empty() {
            self.nsps.remove(nsp);
        }
        key
    }

    /// The connections of `sids` on `nsp` (a [`Broadcast::targets`](super::Broadcast::targets)
    /// list), in the order given, skipping sockets not in the index.
    pub fn targets<'a>(
        &'a self,
        nsp: &str,
        sids: &'a [String],
    ) -> impl Iterator<Item = (&'a str, &'a K)> + use<'a, K> {
        let sockets = self.nsps.get(nsp);
        sids.iter().filter_map(move |sid| {
            sockets?
                .get_key_value(sid.as_str())
                .map(|(sid, key)| (&**sid, key))
        })
    }

    /// Every socket of `nsp` with its connection, by socket id.
    pub fn sockets<'a>(&'a self, nsp: &str) -> impl Iterator<Item = (&'a str, &'a K)> + use<'a, K> {
        self.nsps
            .get(nsp)
            .into_iter()
            .flat_map(|sockets| sockets.iter().map(|(sid, key)| (&**sid, key)))
    }

    /// The number of sockets in the index.
    pub fn len(&self) -> usize {
        self.nsps.values().map(BTreeMap::len).sum()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.nsps.is_empty()
    }
}
