//! Property tests of the Socket.IO server role: the rooms index against a simple model,
//! and no panic (with the event-order invariants kept) on arbitrary peer input.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use halyard_engine::engineio::server::{Decision, Endpoint, Request};
use halyard_engine::engineio::{Frame, Method, ServerConfig};
use halyard_engine::socketio::server::{
    AckRequest, Broadcast, BroadcastOptions, Config, ConnectError, Connection, EmitOptions,
    EmitToOptions, Namespace, RecoveryConfig, Rooms, ServerEvent,
};
use halyard_protocol::socketio::Event;
use proptest::prelude::*;

// ----- rooms index against a model ------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Join(usize, usize),
    Leave(usize, usize),
    LeaveAll(usize),
    Broadcast(Vec<usize>, Vec<usize>),
    AddSockets(Vec<usize>, Vec<usize>, usize),
    DelSockets(Vec<usize>, Vec<usize>, usize),
}

const SIDS: [&str; 5] = ["s0", "s1", "s2", "s3", "s4"];
/// Rooms include two socket ids (a socket's own room is a room too).
const ROOMS: [&str; 6] = ["a", "b", "c", "d", "s0", "s1"];

fn op() -> impl Strategy<Value = Op> {
    let sid = 0..SIDS.len();
    let room = 0..ROOMS.len();
    let rooms = prop::collection::vec(0..ROOMS.len(), 0..3);
    prop_oneof![
        3 => (sid.clone(), room.clone()).prop_map(|(s, r)| Op::Join(s, r)),
        2 => (sid.clone(), room.clone()).prop_map(|(s, r)| Op::Leave(s, r)),
        1 => sid.prop_map(Op::LeaveAll),
        3 => (rooms.clone(), rooms.clone()).prop_map(|(r, e)| Op::Broadcast(r, e)),
        1 => (rooms.clone(), rooms.clone(), room.clone()).prop_map(|(r, e, t)| Op::AddSockets(r, e, t)),
        1 => (rooms.clone(), rooms, room).prop_map(|(r, e, t)| Op::DelSockets(r, e, t)),
    ]
}

/// The model: each known socket with its set of rooms.
type Model = BTreeMap<String, BTreeSet<String>>;

fn opts(rooms: &[usize], except: &[usize]) -> BroadcastOptions {
    let mut opts = BroadcastOptions::all();
    for &r in rooms {
        opts = opts.and_to(ROOMS[r]);
    }
    for &e in except {
        opts = opts.except(ROOMS[e]);
    }
    opts
}

fn model_resolve(model: &Model, rooms: &[usize], except: &[usize]) -> Vec<String> {
    model
        .iter()
        .filter(|(_, own)| rooms.is_empty() || rooms.iter().any(|&r| own.contains(ROOMS[r])))
        .filter(|(_, own)| !except.iter().any(|&e| own.contains(ROOMS[e])))
        .map(|(sid, _)| sid.clone())
        .collect()
}

fn check(index: &Rooms, model: &Model) -> Result<(), TestCaseError> {
    let sockets: Vec<&str> = index.sockets().collect();
    let expected: Vec<&str> = model.keys().map(String::as_str).collect();
    prop_assert_eq!(sockets, expected);
    for (sid, own) in model {
        let got: Vec<&str> = index.rooms_of(sid).collect();
        let want: Vec<&str> = own.iter().map(String::as_str).collect();
        prop_assert_eq!(got, want);
    }
    for room in ROOMS {
        let got: Vec<&str> = index.members(room).collect();
        let want: Vec<&str> = model
            .iter()
            .filter(|(_, own)| own.contains(room))
            .map(|(sid, _)| sid.as_str())
            .collect();
        prop_assert_eq!(got, want);
    }
    let rooms: Vec<&str> = index.rooms().collect();
    let want: BTreeSet<&str> = model.values().flatten().map(String::as_str).collect();
    prop_assert_eq!(rooms, want.into_iter().collect::<Vec<_>>());
    Ok(())
}

proptest! {
    #[test]
    fn rooms_index_agrees_with_a_model(ops in prop::collection::vec(op(), 0..60)) {
        let mut index = Rooms::new();
        let mut model = Model::new();
        for op in ops {
            match op {
                Op::Join(s, r) => {
                    index.join(SIDS[s], ROOMS[r]);
                    model.entry(SIDS[s].to_owned()).or_default().insert(ROOMS[r].to_owned());
                }
                Op::Leave(s, r) => {
                    index.leave(SIDS[s], ROOMS[r]);
                    if let Some(own) = model.get_mut(SIDS[s]) {
                        own.remove(ROOMS[r]);
                    }
                }
                Op::LeaveAll(s) => {
                    index.leave_all(SIDS[s]);
                    model.remove(SIDS[s]);
                }
                Op::Broadcast(rooms, except) => {
                    let got = index.resolve(&opts(&rooms, &except));
                    prop_assert_eq!(got, model_resolve(&model, &rooms, &except));
                }
                Op::AddSockets(rooms, except, target) => {
                    let targets = model_resolve(&model, &rooms, &except);
                    let got = index.add_sockets(&opts(&rooms, &except), &[ROOMS[target]]);
                    prop_assert_eq!(&got, &targets);
                    for sid in targets {
                        model.get_mut(&sid).unwrap().insert(ROOMS[target].to_owned());
                    }
                }
                Op::DelSockets(rooms, except, target) => {
                    let targets = model_resolve(&model, &rooms, &except);
                    let got = index.del_sockets(&opts(&rooms, &except), &[ROOMS[target]]);
                    prop_assert_eq!(&got, &targets);
                    for sid in targets {
                        model.get_mut(&sid).unwrap().remove(ROOMS[target]);
                    }
                }
            }
            check(&index, &model)?;
        }
    }
}

#[test]
fn sails_room_operations_and_leaving_by_socket_id() {
    let mut rooms = Rooms::new();
    for (sid, room) in [("s1", "lobby"), ("s2", "lobby"), ("s3", "game")] {
        rooms.join(sid, sid);
        rooms.join(sid, room);
    }
    // addRoomMembersToRooms: everyone in "lobby" also joins "news" and "chat".
    let moved = rooms.add_room_members_to_rooms("lobby", &["news", "chat"]);
    assert_eq!(moved, vec!["s1", "s2"]);
    assert_eq!(rooms.members("news").collect::<Vec<_>>(), vec!["s1", "s2"]);
    assert_eq!(rooms.members("chat").collect::<Vec<_>>(), vec!["s1", "s2"]);
    // removeRoomMembersFromRooms: everyone in "lobby" leaves "chat".
    rooms.remove_room_members_from_rooms("lobby", &["chat"]);
    assert_eq!(rooms.members("chat").count(), 0);
    assert!(rooms.rooms().all(|r| r != "chat"), "empty rooms go away");
    // Leaving by socket id, and leaving everything.
    rooms.leave("s2", "news");
    assert_eq!(rooms.members("news").collect::<Vec<_>>(), vec!["s1"]);
    rooms.leave_all("s1");
    assert!(!rooms.contains_socket("s1"));
    assert_eq!(rooms.members("lobby").collect::<Vec<_>>(), vec!["s2"]);
    let targets = rooms.resolve(&BroadcastOptions::all().except("lobby"));
    assert_eq!(targets, vec!["s3"]);
}

// ----- arbitrary peer input ----------------------------------------------------------------

#[derive(Debug, Clone)]
enum Input {
    Text(String),
    Binary(Vec<u8>),
    Accept,
    Refuse,
    Emit(bool, bool),
    Broadcast(bool),
    Disconnect,
    Close,
    Advance(u64),
    WsClosed,
}

fn input() -> impl Strategy<Value = Input> {
    let fragments = prop::sample::select(vec![
        "40",
        "40/admin,",
        "40{\"token\":1}",
        "40{\"pid\":\"p\",\"offset\":\"o\"}",
        "41",
        "41/admin,",
        "42[\"a\"]",
        "42/admin,[\"b\",1]",
        "4213[\"c\"]",
        "430[]",
        "43/admin,1[\"x\"]",
        "451-[\"d\",{\"_placeholder\":true,\"num\":0}]",
        "461-0[{\"_placeholder\":true,\"num\":0}]",
        "44{\"message\":\"x\"}",
        "42[\"connect\"]",
        "4",
        "49",
        "2",
        "3",
        "1",
        "6",
    ]);
    prop_oneof![
        6 => fragments.prop_map(str::to_owned).prop_map(Input::Text),
        2 => "4[0-6][-/a-z0-9,\\[\\]\"{}:]{0,12}".prop_map(Input::Text),
        1 => prop::collection::vec(any::<u8>(), 0..4).prop_map(Input::Binary),
        2 => Just(Input::Accept),
        1 => Just(Input::Refuse),
        2 => (any::<bool>(), any::<bool>()).prop_map(|(a, v)| Input::Emit(a, v)),
        1 => any::<bool>().prop_map(Input::Broadcast),
        1 => Just(Input::Disconnect),
        1 => Just(Input::Close),
        2 => (0u64..3000).prop_map(Input::Advance),
        1 => Just(Input::WsClosed),
    ]
}

proptest! {
    #[test]
    fn arbitrary_peer_input_never_panics_and_events_stay_ordered(
        inputs in prop::collection::vec(input(), 0..40),
        recovery in any::<bool>(),
    ) {
        let mut now = Instant::now();
        let engine = ServerConfig {
            ping_interval: Duration::from_millis(1000),
            ping_timeout: Duration::from_millis(500),
            ..ServerConfig::default()
        };
        let mut endpoint = Endpoint::new(engine, 5);
        let config = Config {
            connect_timeout: Duration::from_millis(4000),
            recovery: recovery.then(RecoveryConfig::default),
            ..Config::default()
        };
        let mut nsp = Namespace::new("/", config.recovery.clone());
        let request = Request::from_query(Method::Get, "EIO=4&transport=websocket", true);
        let Decision::Open { session, .. } = endpoint.handle_request(now, &request) else {
            panic!("no session")
        };
        let mut conn = Connection::new(session, &config, 9, now);
        let mut events = Vec::new();
        let mut pending = Vec::new();
        for input in inputs {
            match input {
                Input::Text(text) => conn.handle_ws_frame(now, Frame::Text(text.into())),
                Input::Binary(data) => conn.handle_ws_frame(now, Frame::Binary(Bytes::from(data))),
                Input::Accept => {
                    if let Some(name) = pending.pop() {
                        let name: String = name;
                        if let Ok(accepted) = conn.accept(now, &name, None)
                            && name == "/"
                        {
                            nsp.add_socket(&accepted.sid, None);
                        }
                    }
                }
                Input::Refuse => {
                    if let Some(name) = pending.pop() {
                        let _ = conn.refuse(now, &name, &ConnectError::new("no"));
                    }
                }
                Input::Emit(ack, volatile) => {
                    let event = Event::new("e", &(1,)).unwrap();
                    match conn.socket_id("/").map(str::to_owned) {
                        // The usual path: the namespace makes the packet.
                        Some(sid) if !volatile || ack => {
                            let mut opts = EmitToOptions::new();
                            if ack {
                                opts = opts.with_ack(Some(Duration::from_millis(700)));
                            }
                            if volatile {
                                opts = opts.volatile();
                            }
                            let packet = nsp.emit_to(now, &sid, event, opts).unwrap();
                            let _ = conn.send(now, "/", &packet);
                        }
                        // The connection's own emit (also refused when not connected).
                        _ => {
                            let ack = ack.then(|| AckRequest { id: nsp.next_ack_id(), timeout: Some(Duration::from_millis(700)) });
                            let _ = conn.emit(now, "/", event, EmitOptions { ack, volatile });
                        }
                    }
                }
                Input::Broadcast(with_ack) => {
                    let event = Event::new("b", &()).unwrap();
                    let b: Broadcast = if with_ack {
                        nsp.broadcast_with_ack(now, event, &BroadcastOptions::all(), Duration::from_secs(1)).unwrap().0
                    } else {
                        nsp.broadcast(now, event, &BroadcastOptions::all()).unwrap()
                    };
                    let _ = conn.send(now, "/", &b);
                }
                Input::Disconnect => { let _ = conn.disconnect(now, "/"); }
                Input::Close => conn.close(now),
                Input::Advance(ms) => {
                    let target = now + Duration::from_millis(ms);
                    while let Some(at) = conn.poll_timeout().filter(|at| *at <= target) {
                        now = now.max(at);
                        conn.handle_timeout(now);
                        while conn.poll_transmit().is_some() {}
                        drain(&mut conn, &mut events, &mut pending, &mut nsp, now);
                    }
                    now = target;
                    nsp.handle_timeout(now);
                }
                Input::WsClosed => conn.handle_ws_closed(now),
            }
            while conn.poll_transmit().is_some() {}
            drain(&mut conn, &mut events, &mut pending, &mut nsp, now);
        }
        // Invariants: `Closed` at most once and last; each `Disconnected` right after
        // its `Disconnecting`.
        let closed: Vec<usize> = events.iter().enumerate()
            .filter(|(_, e)| matches!(e, ServerEvent::Closed { .. }))
            .map(|(i, _)| i)
            .collect();
        prop_assert!(closed.len() <= 1);
        if let Some(&i) = closed.first() {
            prop_assert_eq!(i, events.len() - 1);
            prop_assert!(conn.is_closed());
        }
        for (i, e) in events.iter().enumerate() {
            if let ServerEvent::Disconnected { sid, .. } = e {
                let ok = matches!(
                    events.get(i.wrapping_sub(1)),
                    Some(ServerEvent::Disconnecting { sid: s, .. }) if s == sid
                );
                prop_assert!(ok, "Disconnected without Disconnecting: {:?}", events);
            }
        }
    }
}

fn drain(
    conn: &mut Connection,
    events: &mut Vec<ServerEvent>,
    pending: &mut Vec<String>,
    nsp: &mut Namespace,
    now: Instant,
) {
    while let Some(event) = conn.poll_event() {
        match &event {
            ServerEvent::Connect(req) => pending.push(req.nsp.to_string()),
            ServerEvent::Disconnected {
                nsp: n,
                sid,
                pid,
                reason,
                ..
            } if n == "/" => {
                nsp.remove_socket(now, sid, pid.as_deref(), *reason, None);
            }
            _ => {}
        }
        events.push(event);
    }
}
