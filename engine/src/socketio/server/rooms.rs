//! The in-memory rooms index of one namespace.

use std::collections::{BTreeMap, BTreeSet};
use std::iter::Peekable;
use std::ops::Bound;

use super::broadcast::BroadcastOptions;

/// Which sockets of one namespace are in which rooms (socket.io's in-memory adapter
/// `rooms` and `sids` maps).
///
/// A socket is in the index from its CONNECT acceptance (when it joins the room named
/// by its own sid) until it disconnects ([`leave_all`](Self::leave_all)). Rooms exist
/// while they have members. Sockets and rooms are plain strings, so the same operations
/// can be carried to other servers by a cluster adapter.
///
/// Iteration orders are sorted (a `BTreeMap`), so runs replay exactly.
///
/// A socket's membership of the room named by its own id (every socket has one) is a
/// flag on the socket, not an entry of the rooms map: an idle socket costs one map entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rooms {
    /// The members of each room, except a socket in the room of its own id (`own`).
    rooms: BTreeMap<String, BTreeSet<String>>,
    /// Keyed by `Box<str>`: a leaf node of this map (one per ~8 sockets) is a third
    /// smaller than with `String` keys.
    sids: BTreeMap<Box<str>, SocketRooms>,
}

/// The rooms of one socket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct SocketRooms {
    /// In the room named by its own id.
    own: bool,
    /// Its other rooms.
    others: BTreeSet<String>,
}

/// The members of a sorted set without `key`, with `own` (`key`, stored elsewhere) put
/// in its place when given.
fn with_key<'a>(
    set: Option<&'a BTreeSet<String>>,
    key: &str,
    own: Option<&'a str>,
) -> impl Iterator<Item = &'a str> + 'a {
    let below = set.map(|s| s.range::<str, _>((Bound::Unbounded, Bound::Excluded(key))));
    let above = set.map(|s| s.range::<str, _>((Bound::Excluded(key), Bound::Unbounded)));
    below
        .into_iter()
        .flatten()
        .map(String::as_str)
        .chain(own)
        .chain(above.into_iter().flatten().map(String::as_str))
}

/// Two sorted iterators merged, without duplicates.
fn merge<'a>(
    a: impl Iterator<Item = &'a str>,
    b: impl Iterator<Item = &'a str>,
) -> impl Iterator<Item = &'a str> {
    fn next<'a>(
        a: &mut Peekable<impl Iterator<Item = &'a str>>,
        b: &mut Peekable<impl Iterator<Item = &'a str>>,
    ) -> Option<&'a str> {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x < y => a.next(),
            (Some(x), Some(y)) if x > y => b.next(),
            (Some(_), Some(_)) => {
                b.next();
                a.next()
            }
            (Some(_), None) => a.next(),
            (None, _) => b.next(),
        }
    }
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || next(&mut a, &mut b))
}

impl Rooms {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `sid` in each of `rooms` (socket.io's `addAll`). A socket with no room yet
    /// becomes known to the index even when `rooms` is empty.
    pub fn join_all<'a>(&mut self, sid: &str, rooms: impl IntoIterator<Item = &'a str>) {
        let entry = match self.sids.get_mut(sid) {
            Some(entry) => entry,
            None => self.sids.entry(sid.into()).or_default(),
        };
        for room in rooms {
            if room == sid {
                entry.own = true;
            } else if entry.others.insert(room.to_owned()) {
                self.rooms
                    .entry(room.to_owned())
                    .or_default()
                    .insert(sid.to_owned());
            }
        }
    }

    /// Puts `sid` in `room`.
    pub fn join(&mut self, sid: &str, room: &str) {
        self.join_all(sid, [room]);
    }

    /// Takes `sid` out of `room` (socket.io's `del`). The room goes when it empties.
    pub fn leave(&mut self, sid: &str, room: &str) {
        if room == sid {
            if let Some(entry) = self.sids.get_mut(sid) {
                entry.own = false;
            }
            return;
        }
        if let Some(entry) = self.sids.get_mut(sid) {
            entry.others.remove(room);
        }
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(sid);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
    }

    /// Takes `sid` out of every room and out of the index (socket.io's `delAll`, on
    /// disconnect).
    pub fn leave_all(&mut self, sid: &str) {
        let Some(entry) = self.sids.remove(sid) else {
            return;
        };
        for room in entry.others {
            if let Some(members) = self.rooms.get_mut(&room) {
                members.remove(sid);
                if members.is_empty() {
                    self.rooms.remove(&room);
                }
            }
        }
    }

    /// Whether `sid` is in `room`.
    fn is_in(&self, sid: &str, room: &str) -> bool {
        match room == sid {
            true => self.sids.get(sid).is_some_and(|e| e.own),
            false => self.rooms.get(room).is_some_and(|m| m.contains(sid)),
        }
    }

    /// Whether `sid` is in the index.
    pub fn contains_socket(&self, sid: &str) -> bool {
        self.sids.contains_key(sid)
    }

    /// The rooms of `sid` (socket.io's `socket.rooms`), its own room included.
    pub fn rooms_of(&self, sid: &str) -> impl Iterator<Item = &str> + '_ {
        let entry = self.sids.get_key_value(sid);
        let own = entry.filter(|(_, e)| e.own).map(|(sid, _)| &**sid);
        with_key(entry.map(|(_, e)| &e.others), sid, own)
    }

    /// The members of `room`.
    pub fn members(&self, room: &str) -> impl Iterator<Item = &str> + '_ {
        let own = self
            .sids
            .get_key_value(room)
            .filter(|(_, e)| e.own)
            .map(|(sid, _)| &**sid);
        with_key(self.rooms.get(room), room, own)
    }

    /// Every room with at least one member (socket.io's `adapter.rooms` keys).
    pub fn rooms(&self) -> impl Iterator<Item = &str> + '_ {
        let own = self
            .sids
            .iter()
            .filter(|(_, e)| e.own)
            .map(|(sid, _)| &**sid);
        merge(self.rooms.keys().map(String::as_str), own)
    }

    /// Every socket in the index.
    pub fn sockets(&self) -> impl Iterator<Item = &str> + '_ {
        self.sids.keys().map(|sid| &**sid)
    }

    /// The number of sockets in the index.
    pub fn socket_count(&self) -> usize {
        self.sids.len()
    }

    /// The sockets a broadcast with `opts` reaches (socket.io's `adapter.apply`): the
    /// union of the members of `opts.rooms` (every socket when it is empty), minus the
    /// members of `opts.except` rooms. Sorted, without duplicates. The `local` and
    /// `volatile` flags do not change the targets.
    pub fn resolve(&self, opts: &BroadcastOptions) -> Vec<String> {
        let excluded = |sid: &str| opts.except.iter().any(|room| self.is_in(sid, room));
        let mut out: Vec<String> = if opts.rooms.is_empty() {
            self.sids
                .keys()
                .filter(|sid| !excluded(sid))
                .map(|sid| sid.to_string())
                .collect()
        } else {
            let mut set = BTreeSet::new();
            for room in &opts.rooms {
                for sid in self.members(room) {
                    if !excluded(sid) {
                        set.insert(sid);
                    }
                }
            }
            set.into_iter().map(str::to_owned).collect()
        };
        out.dedup();
        out
    }

    /// Makes every socket `opts` reaches join `rooms` (socket.io's `socketsJoin`, the
    /// adapter's `addSockets`). Returns the sockets concerned.
    pub fn add_sockets(&mut self, opts: &BroadcastOptions, rooms: &[&str]) -> Vec<String> {
        let targets = self.resolve(opts);
        for sid in &targets {
            self.join_all(sid, rooms.iter().copied());
        }
        targets
    }

    /// Makes every socket `opts` reaches leave `rooms` (socket.io's `socketsLeave`, the
    /// adapter's `delSockets`). Returns the sockets concerned.
    pub fn del_sockets(&mut self, opts: &BroadcastOptions, rooms: &[&str]) -> Vec<String> {
        let targets = self.resolve(opts);
        for sid in &targets {
            for room in rooms {
                self.leave(sid, room);
            }
        }
        targets
    }

    /// Sails' `addRoomMembersToRooms`: everyone in `source` also joins each of `rooms`.
    pub fn add_room_members_to_rooms(&mut self, source: &str, rooms: &[&str]) -> Vec<String> {
        self.add_sockets(&BroadcastOptions::to(source), rooms)
    }

    /// Sails' `removeRoomMembersFromRooms`: everyone in `source` leaves each of `rooms`.
    pub fn remove_room_members_from_rooms(&mut self, source: &str, rooms: &[&str]) -> Vec<String> {
        self.del_sockets(&BroadcastOptions::to(source), rooms)
    }
}
