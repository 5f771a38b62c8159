//! Socket.IO server scenarios under a virtual clock: server `Connection`s driven like the
//! async layer will drive them, against scripted clients (Engine.IO client + codec).

mod socketio_common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use halyard_engine::engineio::server::{Decision, Endpoint, Request, ServerTransmit};
use halyard_engine::engineio::{Method, ServerConfig};
use halyard_engine::socketio::DisconnectReason;
use halyard_engine::socketio::server::{
    AckRequest, AckRoute, AckRouter, BroadcastAck, BroadcastOptions, Config, ConnectError,
    Connection, Delivery, EmitOptions, EmitToOptions, Error, NamespaceMatcher, RecoveryConfig,
    Resolution, ServerEvent, SocketIndex,
};
use halyard_protocol::Binary;
use halyard_protocol::socketio::{Args, Event, Packet, RawJson};
use socketio_common::*;

fn ev(name: &str) -> Event {
    Event::new(name, &()).unwrap()
}

fn text(b: &halyard_engine::socketio::server::Broadcast) -> String {
    b.frame()[1..].to_owned()
}

fn recovery_config() -> Config {
    Config {
        recovery: Some(RecoveryConfig::default()),
        ..Config::default()
    }
}

// ----- connecting -------------------------------------------------------------------------

#[test]
fn connect_main_namespace_with_auth_gives_a_socket_id_distinct_from_the_engine_io_sid() {
    let mut w = World::new(Config::default());
    w.auto_connect = false;
    let c = w.add_client(false);
    w.connect(c, "/", Some(r#"{"token":"abc"}"#));
    let req = match &w.peers[c].events[..] {
        [ServerEvent::Connect(req)] => req.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!((&*req.nsp, req.auth.as_str()), ("/", r#"{"token":"abc"}"#));
    assert_eq!(req.recovery, None);
    assert!(
        w.peers[c].wire.is_empty(),
        "nothing is sent before the decision"
    );
    w.decide(c, &req);
    w.run();
    let sid = w.peers[c].sid("/").unwrap();
    assert_eq!(sid.len(), 20);
    assert_ne!(sid, w.peers[c].conn().eio_sid());
    assert_eq!(w.peers[c].wire, vec![format!(r#"0{{"sid":"{sid}"}}"#)]);
    assert_eq!(w.peers[c].conn().socket_id("/"), Some(sid.as_str()));
    let rooms: Vec<&str> = w
        .namespaces
        .get("/")
        .unwrap()
        .rooms()
        .rooms_of(&sid)
        .collect();
    assert_eq!(rooms, vec![sid.as_str()], "a socket is in its own room");

    // Without auth, the application sees `{}`.
    let d = w.add_client(false);
    w.connect(d, "/", None);
    match w.peers[d].events.last() {
        Some(ServerEvent::Connect(req)) => assert_eq!(req.auth.as_str(), "{}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn connect_custom_namespace_with_auth_checked_by_the_hook() {
    let mut w = World::new(Config::default());
    w.namespaces.add("/admin");
    w.hook = Box::new(|req| match req.auth.as_str().contains(r#""token":"123""#) {
        true => Ok(()),
        false => Err(ConnectError::new("bad token")),
    });
    let c = w.add_client(false);
    w.connect(c, "/admin", Some(r#"{"token":"123"}"#));
    let sid = w.peers[c].sid("/admin").unwrap();
    assert_eq!(
        w.peers[c].wire,
        vec![format!(r#"0/admin,{{"sid":"{sid}"}}"#)]
    );
    assert_eq!(
        w.peers[c].conn().socket_id("/"),
        None,
        "only /admin was joined"
    );
    // Main and custom namespaces on one connection get distinct socket ids.
    w.connect(c, "/", Some(r#"{"token":"123"}"#));
    let main = w.peers[c].sid("/").unwrap();
    assert_ne!(main, sid);
    let joined: Vec<_> = w.peers[c]
        .conn()
        .sockets()
        .map(|(n, _)| n.to_owned())
        .collect();
    assert_eq!(joined, vec!["/admin", "/"]);
}

#[test]
fn refused_connect_sends_connect_error_with_message_and_data() {
    let mut w = World::new(Config::default());
    w.namespaces.add("/admin");
    w.hook = Box::new(|_| {
        Err(ConnectError::new("not \"authorized\"")
            .with_data(RawJson::new(r#"{"code":42}"#).unwrap()))
    });
    let c = w.add_client(false);
    w.connect(c, "/admin", Some(r#"{"token":"nope"}"#));
    assert_eq!(
        w.peers[c].wire,
        vec![r#"4/admin,{"message":"not \"authorized\"","data":{"code":42}}"#.to_owned()]
    );
    assert_eq!(w.peers[c].conn().socket_id("/admin"), None);
    assert!(
        !w.peers[c].conn().is_closed(),
        "a refusal keeps the connection"
    );
    // A later attempt may succeed.
    w.hook = Box::new(|_| Ok(()));
    w.connect(c, "/admin", None);
    assert!(w.peers[c].sid("/admin").is_some());
    // Answering a CONNECT that is not pending is misuse.
    let now = w.now;
    assert_eq!(
        w.peers[c].conn().accept(now, "/admin", None),
        Err(Error::NoPendingConnect("/admin".into()))
    );
}

#[test]
fn unknown_namespace_is_refused_with_invalid_namespace() {
    let mut w = World::new(Config::default());
    let c = w.add_client(false);
    w.connect(c, "/nope", None);
    assert_eq!(
        w.peers[c].wire,
        vec![r#"4/nope,{"message":"Invalid namespace"}"#.to_owned()]
    );
    assert!(w.namespaces.get("/nope").is_none());
}

#[test]
fn dynamic_namespaces_match_by_prefix_or_predicate_with_auth() {
    let mut w = World::new(Config::default());
    let prefix = w
        .namespaces
        .add_dynamic(NamespaceMatcher::Prefix("/dyn-".into()));
    let teams = w
        .namespaces
        .add_dynamic(NamespaceMatcher::predicate(|name, auth| {
            name.starts_with("/team-") && auth.as_str().contains("member")
        }));
    let c = w.add_client(false);
    w.connect(c, "/dyn-1", None);
    assert!(w.peers[c].sid("/dyn-1").is_some());
    assert_eq!(w.namespaces.get("/dyn-1").unwrap().parent(), Some(prefix));
    w.connect(c, "/team-a", Some(r#"{"member":true}"#));
    assert!(w.peers[c].sid("/team-a").is_some());
    assert_eq!(w.namespaces.get("/team-a").unwrap().parent(), Some(teams));
    w.connect(c, "/team-b", Some("{}"));
    assert_eq!(
        w.peers[c].wire.last().unwrap(),
        r#"4/team-b,{"message":"Invalid namespace"}"#
    );
    // A child, once created, resolves directly.
    let auth = RawJson::new("{}").unwrap();
    assert_eq!(
        w.namespaces.resolve("/dyn-1", &auth),
        Some(Resolution::Dynamic(prefix))
    );
    assert_eq!(w.namespaces.resolve("/", &auth), Some(Resolution::Static));
}

#[test]
fn connect_timeout_closes_a_connection_that_joins_nothing() {
    let mut w = World::new(Config {
        connect_timeout: Duration::from_secs(45),
        ..Config::default()
    });
    let idle = w.add_client(false);
    let joined = w.connected_client("/");
    w.advance(Duration::from_millis(44_999));
    assert_eq!(w.peers[idle].closed_reason(), None);
    w.advance(Duration::from_millis(1));
    assert_eq!(
        w.peers[idle].closed_reason(),
        Some(DisconnectReason::ForcedServerClose)
    );
    assert!(
        w.peers[idle].client_closed.is_some(),
        "the client saw the close"
    );
    w.advance(Duration::from_secs(60));
    assert_eq!(w.peers[joined].closed_reason(), None);
}

#[test]
fn packets_for_a_namespace_not_joined_close_the_connection() {
    let mut w = World::new(Config::default());
    w.namespaces.add("/admin");
    w.auto_connect = false;
    let c = w.add_client(false);
    w.connect(c, "/admin", None);
    assert!(w.peers[c].conn().is_pending("/admin"));
    // A second CONNECT while the first waits is ignored.
    w.connect(c, "/admin", None);
    assert_eq!(w.peers[c].events.len(), 1);
    // An event before the CONNECT is accepted: socket.io's "invalid state".
    w.client_emit(c, "/admin", None, ev("early"));
    assert_eq!(
        w.peers[c].event_names(),
        vec![
            "connect /admin {}".to_owned(),
            "closed forced server close".to_owned()
        ]
    );
    let now = w.now;
    assert_eq!(
        w.peers[c].conn().accept(now, "/admin", None),
        Err(Error::Closed)
    );
}

// ----- events and acks ----------------------------------------------------------------------

#[test]
fn client_events_text_and_binary_with_acks_answered_by_the_server() {
    let mut w = World::new(Config::default());
    let c = w.connected_client("/");
    w.peers[c].events.clear();
    w.client_emit(c, "/", None, Event::new("hello", &("world", 1)).unwrap());
    w.client_emit(c, "/", Some(12), ev("question"));
    assert_eq!(
        w.peers[c].event_names(),
        vec![
            r#"event / ["hello","world",1] None"#.to_owned(),
            r#"event / ["question"] Some(12)"#.to_owned(),
        ]
    );
    let now = w.now;
    w.peers[c]
        .conn()
        .ack(now, "/", 12, Args::new(&("answer", 42)).unwrap())
        .unwrap();
    w.run();
    assert_eq!(w.peers[c].wire.last().unwrap(), r#"312["answer",42]"#);

    // Binary: the attachments are put back before the application sees the event.
    let upload = Event::new("upload", &("f.bin", Binary::from(vec![1u8, 2, 3]))).unwrap();
    w.client_emit(c, "/", Some(13), upload);
    let Some(ServerEvent::Event {
        sid,
        event,
        ack_id: Some(13),
        ..
    }) = w.peers[c].events.last()
    else {
        panic!("{:?}", w.peers[c].events.last())
    };
    assert_eq!(sid, &w.sid(c, "/"), "the event names its socket");
    let (name, file): (String, Binary) = event.args().unwrap();
    assert_eq!((name.as_str(), &file[..]), ("f.bin", &[1u8, 2, 3][..]));
    let from = w.peers[c].wire.len();
    let now = w.now;
    w.peers[c]
        .conn()
        .ack(
            now,
            "/",
            13,
            Args::new(&(Binary::from(vec![9u8, 9]),)).unwrap(),
        )
        .unwrap();
    w.run();
    assert_eq!(
        w.peers[c].wire_since(from),
        vec![
            r#"61-13[{"_placeholder":true,"num":0}]"#.to_owned(),
            "<bin 2 bytes>".to_owned()
        ]
    );
    let Some(Packet::Ack {
        ack_id: 13, args, ..
    }) = w.peers[c].received.last()
    else {
        panic!()
    };
    assert_eq!(&args.attachments()[0][..], &[9, 9]);
}

#[test]
fn server_emits_with_acks_text_and_binary_routed_back() {
    let mut w = World::new(Config::default());
    w.namespaces.add("/admin");
    let c = w.connected_client("/admin");
    w.peers[c].events.clear();
    let now = w.now;
    let id = w.namespaces.get_mut("/admin").unwrap().next_ack_id();
    let ack = |id| EmitOptions {
        ack: Some(AckRequest { id, timeout: None }),
        volatile: false,
    };
    let sent = w.peers[c]
        .conn()
        .emit(now, "/admin", Event::new("ping", &(1,)).unwrap(), ack(id))
        .unwrap();
    assert_eq!(sent, Delivery::Queued);
    w.run();
    assert_eq!(w.peers[c].wire.last().unwrap(), r#"2/admin,0["ping",1]"#);
    w.client_send(
        c,
        &Packet::ack("/admin", id, Args::new(&("pong",)).unwrap()),
    );
    assert_eq!(
        w.peers[c].event_names(),
        vec![r#"ack /admin 0 ["pong"]"#.to_owned()]
    );

    // Binary emit and binary answer.
    let id = w.namespaces.get_mut("/admin").unwrap().next_ack_id();
    assert_eq!(id, 1, "ack ids come from the namespace counter");
    let from = w.peers[c].wire.len();
    let file = Event::new("file", &(Binary::from(vec![1u8, 2]),)).unwrap();
    w.peers[c]
        .conn()
        .emit(now, "/admin", file, ack(id))
        .unwrap();
    w.run();
    assert_eq!(
        w.peers[c].wire_since(from),
        vec![
            r#"51-/admin,1["file",{"_placeholder":true,"num":0}]"#.to_owned(),
            "<bin 2 bytes>".to_owned()
        ]
    );
    let answer = Args::new(&(Binary::from(vec![7u8, 7, 7]),)).unwrap();
    w.client_send(c, &Packet::ack("/admin", id, answer));
    let Some(ServerEvent::Ack {
        ack_id: 1, args, ..
    }) = w.peers[c].events.last()
    else {
        panic!()
    };
    let (bytes,): (Binary,) = args.deserialize().unwrap();
    assert_eq!(&bytes[..], &[7, 7, 7]);

    // An answer nobody waits for is ignored; the same id cannot wait twice.
    let before = w.peers[c].events.len();
    w.client_send(c, &Packet::ack("/admin", 99, Args::empty()));
    assert_eq!(w.peers[c].events.len(), before);
    assert!(!w.peers[c].conn().is_closed());
    w.peers[c]
        .conn()
        .emit(now, "/admin", ev("x"), ack(5))
        .unwrap();
    assert_eq!(
        w.peers[c].conn().emit(now, "/admin", ev("x"), ack(5)),
        Err(Error::DuplicateAckId(5))
    );
    assert_eq!(
        w.peers[c]
            .conn()
            .emit(now, "/other", ev("x"), EmitOptions::default()),
        Err(Error::NotConnected("/other".into()))
    );
}

#[test]
fn ack_timeout_is_a_deadline_reported_by_poll_timeout() {
    let mut w = World::with_engine(
        Config::default(),
        ServerConfig {
            ping_interval: Duration::from_secs(25),
            ..ServerConfig::default()
        },
    );
    let c = w.connected_client("/");
    w.peers[c].events.clear();
    let now = w.now;
    let opts = EmitOptions {
        ack: Some(AckRequest {
            id: 0,
            timeout: Some(Duration::from_secs(2)),
        }),
        volatile: false,
    };
    w.peers[c].conn().emit(now, "/", ev("slow"), opts).unwrap();
    assert_eq!(
        w.peers[c].conn().poll_timeout(),
        Some(now + Duration::from_secs(2))
    );
    w.advance(Duration::from_millis(1999));
    assert!(w.peers[c].events.is_empty());
    w.advance(Duration::from_millis(1));
    assert_eq!(w.peers[c].event_names(), vec!["ack-timeout / 0".to_owned()]);
    // The late answer is ignored.
    w.client_send(c, &Packet::ack("/", 0, Args::empty()));
    assert_eq!(w.peers[c].events.len(), 1);
}

// ----- rooms and broadcasts -------------------------------------------------------------------

#[test]
fn broadcast_to_rooms_with_except_encodes_once_for_every_target() {
    let mut w = World::new(Config::default());
    let clients: Vec<usize> = (0..4).map(|_| w.connected_client("/")).collect();
    let sids: Vec<String> = clients.iter().map(|&c| w.sid(c, "/")).collect();
    let rooms = w.namespaces.get_mut("/").unwrap().rooms_mut();
    rooms.join(&sids[0], "red");
    rooms.join(&sids[1], "red");
    rooms.join(&sids[1], "blue");
    rooms.join(&sids[2], "blue");
    rooms.join(&sids[2], "vip");
    let froms: Vec<usize> = clients.iter().map(|&c| w.peers[c].wire.len()).collect();
    let opts = BroadcastOptions::to("red").and_to("blue").except("vip");
    let (b, deliveries) = w.broadcast("/", Event::new("news", "hi").unwrap(), &opts);
    let mut expected = vec![sids[0].clone(), sids[1].clone()];
    expected.sort();
    assert_eq!(b.targets, expected, "union of red and blue, minus vip");
    assert!(deliveries.iter().all(|(_, d)| *d == Delivery::Queued));
    let got: Vec<Vec<String>> = clients
        .iter()
        .map(|&c| w.peers[c].wire_since(froms[c]))
        .collect();
    let news = vec![r#"2["news","hi"]"#.to_owned()];
    assert_eq!(got, vec![news.clone(), news, vec![], vec![]]);

    // The broadcast flag: everyone but the sender.
    let (b, _) = w.broadcast(
        "/",
        ev("all-but-0"),
        &BroadcastOptions::from_socket(&sids[0]),
    );
    let mut rest = sids[1..].to_vec();
    rest.sort();
    assert_eq!(b.targets, rest);
    // Except by socket id, and a socket's own room.
    let (b, _) = w.broadcast("/", ev("x"), &BroadcastOptions::all().except(&sids[3]));
    assert_eq!(b.targets.len(), 3);
    let (b, _) = w.broadcast("/", ev("x"), &BroadcastOptions::to(&sids[3]).local());
    assert_eq!(b.targets, vec![sids[3].clone()]);
}

#[test]
fn volatile_packets_are_dropped_when_the_transport_is_not_writable() {
    // Polling without a held GET is not writable (socket.io's `transport.writable`).
    let now = Instant::now();
    let mut endpoint = Endpoint::new(ServerConfig::default(), 3);
    let request = Request::from_query(Method::Get, "EIO=4&transport=polling", false);
    let Decision::Open { session, .. } = endpoint.handle_request(now, &request) else {
        panic!()
    };
    let mut conn = Connection::new(session, &Config::default(), 1, now);
    let drain = |conn: &mut Connection| {
        let mut bodies = Vec::new();
        while let Some(t) = conn.poll_transmit() {
            if let ServerTransmit::Http { response, .. } = t {
                bodies.push(String::from_utf8(response.body.to_vec()).unwrap());
            }
        }
        bodies
    };
    drain(&mut conn);
    conn.handle_post(now, Bytes::from_static(b"40"));
    let Some(ServerEvent::Connect(req)) = conn.poll_event() else {
        panic!()
    };
    conn.accept(now, &req.nsp, None).unwrap();
    drain(&mut conn);
    assert!(!conn.is_writable());
    let volatile = EmitOptions {
        volatile: true,
        ..EmitOptions::default()
    };
    assert_eq!(
        conn.emit(now, "/", ev("lost"), volatile),
        Ok(Delivery::Dropped)
    );
    conn.handle_poll(now);
    let bodies = drain(&mut conn);
    assert!(bodies[0].starts_with("40{\"sid\""), "{bodies:?}");
    assert!(!bodies[0].contains("lost"));
    conn.handle_poll(now);
    assert!(conn.is_writable(), "a held GET makes polling writable");
    assert_eq!(
        conn.emit(now, "/", ev("kept"), volatile),
        Ok(Delivery::Queued)
    );
    assert_eq!(drain(&mut conn), vec![r#"42["kept"]"#.to_owned()]);
}

#[test]
fn broadcast_acks_collect_one_answer_per_target_and_report_the_silent_socket() {
    let mut w = World::new(Config::default());
    let clients: Vec<usize> = (0..3).map(|_| w.connected_client("/")).collect();
    let b = w.broadcast_with_ack(
        "/",
        ev("vote"),
        &BroadcastOptions::all(),
        Duration::from_secs(5),
    );
    let id = b.ack_id.unwrap();
    for &c in &clients {
        assert_eq!(
            w.peers[c].wire.last().unwrap(),
            &format!(r#"2{id}["vote"]"#)
        );
    }
    w.client_send(
        clients[0],
        &Packet::ack("/", id, Args::new(&("yes",)).unwrap()),
    );
    w.client_send(
        clients[1],
        &Packet::ack("/", id, Args::new(&("no",)).unwrap()),
    );
    assert!(w.outcomes.is_empty());
    w.advance(Duration::from_secs(5));
    let (oid, outcome) = w.outcomes.pop().unwrap();
    assert_eq!(oid, id);
    assert!(outcome.timed_out);
    let answered: Vec<(String, String)> = outcome
        .responses
        .iter()
        .map(|(sid, args)| (sid.clone(), args.json().to_string()))
        .collect();
    assert_eq!(
        answered,
        vec![
            (w.sid(clients[0], "/"), r#"["yes"]"#.to_owned()),
            (w.sid(clients[1], "/"), r#"["no"]"#.to_owned()),
        ]
    );
    assert_eq!(outcome.missing, vec![w.sid(clients[2], "/")]);
    // The silent socket's ack was forgotten: a late answer is ignored.
    assert_eq!(w.peers[clients[2]].conn().pending_acks("/").count(), 0);
    let before = w.peers[clients[2]].events.len();
    w.client_send(clients[2], &Packet::ack("/", id, Args::empty()));
    assert_eq!(w.peers[clients[2]].events.len(), before);

    // When everyone answers, the outcome comes at once, with the same id for all.
    let b = w.broadcast_with_ack(
        "/",
        ev("again"),
        &BroadcastOptions::all(),
        Duration::from_secs(5),
    );
    let id = b.ack_id.unwrap();
    for &c in &clients {
        w.client_send(c, &Packet::ack("/", id, Args::empty()));
    }
    let (_, outcome) = w.outcomes.pop().unwrap();
    assert!(!outcome.timed_out);
    assert_eq!(outcome.responses.len(), 3);
    assert!(outcome.missing.is_empty());
}

// ----- disconnection ----------------------------------------------------------------------------

fn admin_world() -> (World, usize) {
    let mut w = World::new(Config::default());
    w.namespaces.add("/admin");
    let c = w.connected_client("/admin");
    w.connect(c, "/", None);
    w.peers[c].events.clear();
    (w, c)
}

#[test]
fn client_namespace_disconnect_keeps_the_connection() {
    let (mut w, c) = admin_world();
    w.client_send(
        c,
        &Packet::Disconnect {
            nsp: "/admin".into(),
        },
    );
    assert_eq!(
        w.peers[c].event_names(),
        vec![
            "disconnecting /admin client namespace disconnect".to_owned(),
            "disconnected /admin client namespace disconnect".to_owned(),
        ]
    );
    assert_eq!(w.peers[c].conn().socket_id("/admin"), None);
    assert!(w.peers[c].conn().socket_id("/").is_some());
    assert!(!w.peers[c].conn().is_closed());
}

#[test]
fn server_namespace_disconnect_tells_the_client() {
    let (mut w, c) = admin_world();
    let now = w.now;
    w.peers[c].conn().disconnect(now, "/admin").unwrap();
    w.run();
    assert_eq!(w.peers[c].wire.last().unwrap(), "1/admin,");
    assert_eq!(
        w.peers[c].event_names(),
        vec![
            "disconnecting /admin server namespace disconnect".to_owned(),
            "disconnected /admin server namespace disconnect".to_owned(),
        ]
    );
    assert!(!w.peers[c].conn().is_closed());
}

#[test]
fn transport_close_disconnects_every_socket() {
    let (mut w, c) = admin_world();
    w.drop_transport(c);
    assert_eq!(
        w.peers[c].event_names(),
        vec![
            "disconnecting /admin transport close".to_owned(),
            "disconnected /admin transport close".to_owned(),
            "disconnecting / transport close".to_owned(),
            "disconnected / transport close".to_owned(),
            "closed transport close".to_owned(),
        ]
    );
}

#[test]
fn ping_timeout_disconnects_every_socket() {
    let (mut w, c) = admin_world();
    w.peers[c].partitioned = true;
    w.advance(Duration::from_secs(3));
    assert_eq!(
        w.peers[c].closed_reason(),
        Some(DisconnectReason::PingTimeout)
    );
    assert!(
        w.peers[c]
            .event_names()
            .contains(&"disconnected /admin ping timeout".to_owned())
    );
}

#[test]
fn server_close_and_shutdown_use_socket_io_reasons() {
    let (mut w, c) = admin_world();
    let now = w.now;
    w.peers[c].conn().close(now);
    w.run();
    assert_eq!(
        w.peers[c].event_names(),
        vec![
            "disconnecting /admin server namespace disconnect".to_owned(),
            "disconnected /admin server namespace disconnect".to_owned(),
            "disconnecting / server namespace disconnect".to_owned(),
            "disconnected / server namespace disconnect".to_owned(),
            "closed forced server close".to_owned(),
        ]
    );
    let wire = &w.peers[c].wire;
    assert_eq!(&wire[wire.len() - 2..], ["1/admin,", "1"]);
    assert!(w.peers[c].client_closed.is_some());

    let (mut w, c) = admin_world();
    let now = w.now;
    w.peers[c].conn().shutdown(now);
    w.run();
    assert_eq!(
        w.peers[c].closed_reason(),
        Some(DisconnectReason::ServerShuttingDown)
    );
    assert!(
        w.peers[c]
            .event_names()
            .contains(&"disconnected / server shutting down".to_owned())
    );
}

#[test]
fn a_malformed_packet_is_a_parse_error() {
    let (mut w, c) = admin_world();
    w.client_send_text(c, "2[\"unterminated\"");
    assert_eq!(
        w.peers[c].closed_reason(),
        Some(DisconnectReason::ParseError)
    );
    assert!(
        w.peers[c]
            .event_names()
            .contains(&"disconnected /admin parse error".to_owned())
    );
    // A binary frame nobody announced, too.
    let (mut w, c) = admin_world();
    w.client_send_binary(c, &[1, 2, 3]);
    assert_eq!(
        w.peers[c].closed_reason(),
        Some(DisconnectReason::ParseError)
    );
}

#[test]
fn disconnecting_then_disconnect_with_rooms_visible_during_disconnecting() {
    let mut w = World::new(Config::default());
    let c = w.connected_client("/");
    let sid = w.sid(c, "/");
    w.namespaces
        .get_mut("/")
        .unwrap()
        .rooms_mut()
        .join(&sid, "room1");
    let now = w.now;
    let opts = EmitOptions {
        ack: Some(AckRequest {
            id: 7,
            timeout: None,
        }),
        volatile: false,
    };
    w.peers[c].conn().emit(now, "/", ev("q"), opts).unwrap();
    w.client_send(c, &Packet::Disconnect { nsp: "/".into() });
    let mut rooms = vec!["room1".to_owned(), sid.clone()];
    rooms.sort();
    assert_eq!(w.disconnecting_rooms, vec![(sid.clone(), rooms)]);
    assert_eq!(w.disconnected_rooms, vec![(sid.clone(), vec![])]);
    let tail: Vec<&ServerEvent> = w.peers[c].events.iter().rev().take(2).collect();
    match (tail[1], tail[0]) {
        (
            ServerEvent::Disconnecting { sid: a, .. },
            ServerEvent::Disconnected {
                sid: b,
                pending_acks,
                ..
            },
        ) => {
            assert_eq!((a, b), (&sid, &sid));
            assert_eq!(pending_acks, &vec![7], "the unanswered ack is reported");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        w.namespaces
            .get("/")
            .unwrap()
            .rooms()
            .rooms()
            .next()
            .is_none()
    );
}

// ----- connection state recovery -----------------------------------------------------------

#[test]
fn recovery_replays_exactly_the_missed_events_and_restores_sid_and_rooms() {
    let mut w = World::new(recovery_config());
    let a = w.connected_client("/");
    let other = w.connected_client("/");
    let sid = w.sid(a, "/");
    let pid = w.peers[a].pid("/").unwrap();
    assert_eq!(
        w.peers[a].wire,
        vec![format!(r#"0{{"sid":"{sid}","pid":"{pid}"}}"#)]
    );
    let other_sid = w.sid(other, "/");
    w.namespaces
        .get_mut("/")
        .unwrap()
        .rooms_mut()
        .join(&sid, "red");

    let (m1, _) = w.broadcast("/", ev("m1"), &BroadcastOptions::all());
    let offset = w.peers[a].last_offset("/").unwrap();
    assert_eq!(Some(&offset), m1.offset.as_ref());
    assert_eq!(
        w.peers[a].wire.last().unwrap(),
        &format!(r#"2["m1","{offset}"]"#)
    );

    w.drop_transport(a);
    assert_eq!(
        w.namespaces
            .get("/")
            .unwrap()
            .recovery()
            .unwrap()
            .session_count(),
        1
    );
    w.advance(Duration::from_secs(10));
    let (m2, _) = w.broadcast(
        "/",
        Event::new("m2", &(1, "x")).unwrap(),
        &BroadcastOptions::to("red"),
    );
    let (_m3, _) = w.broadcast("/", ev("m3"), &BroadcastOptions::to(&other_sid));
    let (m4, _) = w.broadcast("/", ev("m4"), &BroadcastOptions::all());
    let (_m5, _) = w.broadcast("/", ev("m5"), &BroadcastOptions::all().except("red"));
    let (_m6, _) = w.broadcast("/", ev("m6"), &BroadcastOptions::all().volatile());
    let m7 = w
        .namespaces
        .get_mut("/")
        .unwrap()
        .emit_to(
            w.now,
            &sid,
            Event::new("m7", &(Binary::from(vec![5u8]),)).unwrap(),
            EmitToOptions::new(),
        )
        .unwrap();

    let r = w.add_client(false);
    w.connect(
        r,
        "/",
        Some(&format!(r#"{{"pid":"{pid}","offset":"{offset}","x":1}}"#)),
    );
    assert_eq!(
        w.peers[r].wire,
        vec![
            text(&m2),
            text(&m4),
            text(&m7),
            "<bin 1 bytes>".to_owned(),
            format!(r#"0{{"sid":"{sid}","pid":"{pid}"}}"#),
        ]
    );
    assert!(text(&m2).starts_with(r#"2["m2",1,"x",""#));
    assert_eq!(w.sid(r, "/"), sid, "same socket id");
    let rooms: Vec<&str> = w
        .namespaces
        .get("/")
        .unwrap()
        .rooms()
        .rooms_of(&sid)
        .collect();
    let mut expected = vec!["red", sid.as_str()];
    expected.sort();
    assert_eq!(rooms, expected, "rooms restored");
    // The restored socket gets new broadcasts to its rooms as before.
    let (m8, _) = w.broadcast("/", ev("m8"), &BroadcastOptions::to("red"));
    assert_eq!(m8.targets, vec![sid.clone()]);
    assert_eq!(w.peers[r].wire.last().unwrap(), &text(&m8));
    // A pid resumes one socket once.
    assert_eq!(
        w.namespaces
            .get("/")
            .unwrap()
            .recovery()
            .unwrap()
            .session_count(),
        0
    );
}

#[test]
fn recovery_refuses_an_expired_session_or_an_unknown_offset() {
    let mut w = World::new(recovery_config());
    let a = w.connected_client("/");
    let sid = w.sid(a, "/");
    let pid = w.peers[a].pid("/").unwrap();
    w.broadcast("/", ev("m1"), &BroadcastOptions::all());
    let offset = w.peers[a].last_offset("/").unwrap();
    w.drop_transport(a);

    // Unknown offset: a plain new session (the saved one stays for a valid offset).
    let r = w.add_client(false);
    w.connect(
        r,
        "/",
        Some(&format!(r#"{{"pid":"{pid}","offset":"nope"}}"#)),
    );
    let fresh = w.sid(r, "/");
    assert_ne!(fresh, sid);
    assert_eq!(w.peers[r].wire.len(), 1);

    // Past maxDisconnectionDuration the session is gone.
    w.advance(Duration::from_secs(120));
    w.broadcast("/", ev("missed"), &BroadcastOptions::all());
    let late = w.add_client(false);
    w.connect(
        late,
        "/",
        Some(&format!(r#"{{"pid":"{pid}","offset":"{offset}"}}"#)),
    );
    let new_sid = w.sid(late, "/");
    let new_pid = w.peers[late].pid("/").unwrap();
    assert_ne!(new_sid, sid);
    assert_ne!(new_pid, pid);
    assert_eq!(
        w.peers[late].wire,
        vec![format!(r#"0{{"sid":"{new_sid}","pid":"{new_pid}"}}"#)],
        "no replay"
    );
}

#[test]
fn recovery_offsets_only_on_events_without_ack_and_not_volatile() {
    let mut w = World::new(recovery_config());
    let c = w.connected_client("/");
    let sid = w.sid(c, "/");
    let now = w.now;
    let kept = |w: &World| {
        w.namespaces
            .get("/")
            .unwrap()
            .recovery()
            .unwrap()
            .buffered_packets()
    };
    let before = kept(&w);
    let emit_to = |w: &mut World, name: &str, opts: EmitToOptions| {
        let b = w
            .namespaces
            .get_mut("/")
            .unwrap()
            .emit_to(now, &sid, ev(name), opts)
            .unwrap();
        assert_eq!(b.targets, vec![sid.clone()]);
        w.deliver_broadcast("/", &b);
        b
    };
    // socket.emit with an ack: the id from the namespace counter, no offset, not kept.
    let b = emit_to(&mut w, "with-ack", EmitToOptions::new().with_ack(None));
    assert_eq!((b.ack_id, b.offset.as_ref()), (Some(0), None));
    assert_eq!(w.peers[c].wire.last().unwrap(), r#"20["with-ack"]"#);
    // socket.volatile.emit: no offset, not kept.
    let b = emit_to(&mut w, "v", EmitToOptions::new().volatile());
    assert_eq!(b.offset, None);
    assert_eq!(w.peers[c].wire.last().unwrap(), r#"2["v"]"#);
    assert_eq!(kept(&w), before);
    // Volatile broadcast: no offset, not kept.
    w.broadcast("/", ev("volatile"), &BroadcastOptions::all().volatile());
    assert_eq!(w.peers[c].wire.last().unwrap(), r#"2["volatile"]"#);
    assert_eq!(kept(&w), before);
    // Broadcast with acks: no offset.
    w.broadcast_with_ack(
        "/",
        ev("ba"),
        &BroadcastOptions::all(),
        Duration::from_secs(1),
    );
    assert_eq!(w.peers[c].wire.last().unwrap(), r#"21["ba"]"#);
    // A plain socket emit: offset, kept.
    let b = emit_to(&mut w, "plain", EmitToOptions::new());
    let offset = b.offset.clone().unwrap();
    assert_eq!(
        w.peers[c].wire.last().unwrap(),
        &format!(r#"2["plain","{offset}"]"#)
    );
    assert_eq!(kept(&w), before + 1);
}

#[test]
fn with_recovery_on_the_connection_refuses_an_emit_that_needs_an_offset() {
    let mut w = World::new(recovery_config());
    let c = w.connected_client("/");
    let now = w.now;
    let plain = EmitOptions::default();
    assert_eq!(
        w.peers[c].conn().emit(now, "/", ev("plain"), plain),
        Err(Error::OffsetRequired),
        "a plain emit without the namespace would never be replayed"
    );
    w.run();
    assert_eq!(
        w.peers[c].wire.len(),
        1,
        "nothing went out but the CONNECT answer"
    );
    // What socket.io sends without an offset may still go straight out.
    let volatile = EmitOptions {
        volatile: true,
        ..EmitOptions::default()
    };
    assert!(w.peers[c].conn().emit(now, "/", ev("v"), volatile).is_ok());
    let id = w.namespaces.get_mut("/").unwrap().next_ack_id();
    let ack = EmitOptions {
        ack: Some(AckRequest { id, timeout: None }),
        volatile: false,
    };
    assert!(w.peers[c].conn().emit(now, "/", ev("a"), ack).is_ok());
    // Without recovery, the connection's own emit is fine.
    let mut w = World::new(Config::default());
    let c = w.connected_client("/");
    assert!(w.peers[c].conn().emit(now, "/", ev("plain"), plain).is_ok());
}

#[test]
fn a_socket_emit_with_ack_and_timeout_goes_through_the_namespace() {
    let mut w = World::new(Config::default());
    let c = w.connected_client("/");
    let sid = w.sid(c, "/");
    w.peers[c].events.clear();
    let now = w.now;
    let opts = EmitToOptions::new().with_ack(Some(Duration::from_millis(300)));
    let first = w
        .namespaces
        .get_mut("/")
        .unwrap()
        .emit_to(now, &sid, ev("q1"), opts)
        .unwrap();
    let second = w
        .namespaces
        .get_mut("/")
        .unwrap()
        .emit_to(now, &sid, ev("q2"), opts)
        .unwrap();
    assert_eq!((first.ack_id, second.ack_id), (Some(0), Some(1)));
    assert_eq!(first.ack_timeout, Some(Duration::from_millis(300)));
    w.deliver_broadcast("/", &first);
    w.deliver_broadcast("/", &second);
    assert_eq!(
        w.peers[c].wire_since(1),
        vec![r#"20["q1"]"#.to_owned(), r#"21["q2"]"#.to_owned()]
    );
    w.client_send(c, &Packet::ack("/", 1, Args::new(&("r",)).unwrap()));
    w.advance(Duration::from_millis(300));
    assert_eq!(
        w.peers[c].event_names(),
        vec![r#"ack / 1 ["r"]"#.to_owned(), "ack-timeout / 0".to_owned()]
    );
    // Both name the socket they concern.
    for event in &w.peers[c].events {
        match event {
            ServerEvent::Ack { sid: s, .. } | ServerEvent::AckTimeout { sid: s, .. } => {
                assert_eq!(s, &sid)
            }
            other => panic!("{other:?}"),
        }
    }
    // A plain emit without recovery carries no offset.
    let b = w
        .namespaces
        .get_mut("/")
        .unwrap()
        .emit_to(now, &sid, ev("p"), EmitToOptions::new())
        .unwrap();
    assert_eq!((b.ack_id, b.offset), (None, None));
}

#[test]
fn recovery_skips_the_hook_for_a_restored_socket_by_default() {
    let mut w = World::new(recovery_config());
    let a = w.connected_client("/");
    let pid = w.peers[a].pid("/").unwrap();
    w.broadcast("/", ev("m1"), &BroadcastOptions::all());
    let offset = w.peers[a].last_offset("/").unwrap();
    w.drop_transport(a);
    w.hook = Box::new(|_| Err(ConnectError::new("no new sockets")));
    let r = w.add_client(false);
    w.connect(
        r,
        "/",
        Some(&format!(r#"{{"pid":"{pid}","offset":"{offset}"}}"#)),
    );
    let Some(ServerEvent::Connect(req)) = w.peers[r].events.first() else {
        panic!()
    };
    assert_eq!(
        req.recovery.as_ref().map(|t| t.pid.as_str()),
        Some(pid.as_str())
    );
    assert!(
        w.peers[r].sid("/").is_some(),
        "restored without asking the hook"
    );
    let fresh = w.add_client(false);
    w.connect(fresh, "/", None);
    assert_eq!(
        w.peers[fresh].wire,
        vec![r#"4{"message":"no new sockets"}"#.to_owned()]
    );
}

#[test]
fn a_refused_recovery_leaves_the_session_for_a_later_attempt() {
    let mut w = World::new(Config {
        recovery: Some(RecoveryConfig {
            skip_middlewares: false,
            ..RecoveryConfig::default()
        }),
        ..Config::default()
    });
    let a = w.connected_client("/");
    let sid = w.sid(a, "/");
    let pid = w.peers[a].pid("/").unwrap();
    w.broadcast("/", ev("m1"), &BroadcastOptions::all());
    let offset = w.peers[a].last_offset("/").unwrap();
    w.drop_transport(a);
    let (m2, _) = w.broadcast("/", ev("m2"), &BroadcastOptions::all());
    let sessions = |w: &World| {
        w.namespaces
            .get("/")
            .unwrap()
            .recovery()
            .unwrap()
            .session_count()
    };
    assert_eq!(sessions(&w), 1);
    let token = format!(r#"{{"pid":"{pid}","offset":"{offset}"}}"#);

    // The hook refuses the first attempt: the looked-up session stays saved.
    w.hook = Box::new(|_| Err(ConnectError::new("not now")));
    let r1 = w.add_client(false);
    w.connect(r1, "/", Some(&token));
    assert_eq!(
        w.peers[r1].wire,
        vec![r#"4{"message":"not now"}"#.to_owned()]
    );
    assert_eq!(
        sessions(&w),
        1,
        "a refused CONNECT does not consume the session"
    );

    // A later attempt that the hook accepts resumes it, with what it missed meanwhile.
    w.hook = Box::new(|_| Ok(()));
    let (m3, _) = w.broadcast("/", ev("m3"), &BroadcastOptions::all());
    let r2 = w.add_client(false);
    w.connect(r2, "/", Some(&token));
    assert_eq!(w.sid(r2, "/"), sid, "same socket id");
    assert_eq!(
        w.peers[r2].wire,
        vec![
            text(&m2),
            text(&m3),
            format!(r#"0{{"sid":"{sid}","pid":"{pid}"}}"#),
        ]
    );
    assert_eq!(sessions(&w), 0, "accepted: the session is taken");

    // Looking up does not take; only restore does, once.
    let token = halyard_engine::socketio::server::RecoveryToken {
        pid: pid.clone(),
        offset,
    };
    let nsp = w.namespaces.get_mut("/").unwrap();
    assert!(nsp.find_session(w.now, &token).is_none());
    assert!(nsp.restore(w.now, &token).is_none());
}

#[test]
fn a_saved_session_found_but_never_accepted_expires() {
    let mut w = World::new(Config {
        recovery: Some(RecoveryConfig {
            skip_middlewares: false,
            ..RecoveryConfig::default()
        }),
        ..Config::default()
    });
    let a = w.connected_client("/");
    let pid = w.peers[a].pid("/").unwrap();
    w.broadcast("/", ev("m1"), &BroadcastOptions::all());
    let offset = w.peers[a].last_offset("/").unwrap();
    w.drop_transport(a);
    let token = halyard_engine::socketio::server::RecoveryToken { pid, offset };
    let found = w
        .namespaces
        .get("/")
        .unwrap()
        .find_session(w.now, &token)
        .cloned();
    assert!(found.is_some());
    assert!(
        w.namespaces
            .get("/")
            .unwrap()
            .find_session(w.now, &token)
            .is_some(),
        "finding twice still finds"
    );
    w.advance(RecoveryConfig::default().max_disconnection_duration);
    let nsp = w.namespaces.get_mut("/").unwrap();
    assert!(nsp.find_session(w.now, &token).is_none(), "expired");
    assert_eq!(nsp.recovery().unwrap().session_count(), 0);
}

#[test]
fn memory_of_an_idle_connection_stays_small() {
    // The Socket.IO part of a connection adds little to the Engine.IO session.
    let size = std::mem::size_of::<Connection>();
    assert!(size <= 512, "Connection is {size} bytes");
}

// ----- server-wide plumbing: ack routing and the socket index ------------------------------

#[test]
fn the_ack_router_sends_broadcast_answers_to_their_collector_and_gives_back_the_rest() {
    let t0 = Instant::now();
    let mut router = AckRouter::new();
    let targets = vec!["a".to_owned(), "b".to_owned()];
    router.insert(
        "/",
        BroadcastAck::new(5, targets, t0 + Duration::from_secs(1)),
    );
    assert_eq!(router.len(), 1);
    let yes = Args::new(&("yes",)).unwrap();
    assert_eq!(
        router.handle_ack("/", "a", 5, yes.clone()),
        AckRoute::Broadcast
    );
    // Same id on another namespace, or another id: a per-socket emit's answer.
    assert_eq!(
        router.handle_ack("/admin", "a", 5, yes.clone()),
        AckRoute::Socket(yes.clone())
    );
    assert_eq!(
        router.handle_ack("/", "a", 6, yes.clone()),
        AckRoute::Socket(yes.clone())
    );
    // A second answer of the same socket is not counted.
    assert_eq!(
        router.handle_ack("/", "a", 5, Args::empty()),
        AckRoute::Broadcast
    );
    assert_eq!(router.poll_finished(), None);
    assert_eq!(
        router.handle_ack("/", "b", 5, Args::empty()),
        AckRoute::Broadcast
    );
    let done = router.poll_finished().unwrap();
    assert_eq!((done.nsp.as_str(), done.ack_id), ("/", 5));
    assert!(!done.outcome.timed_out);
    assert_eq!(
        done.outcome.responses,
        vec![("a".to_owned(), yes), ("b".to_owned(), Args::empty())]
    );
    assert!(router.is_empty());
    assert_eq!(router.poll_timeout(), None);
}

#[test]
fn the_ack_router_times_out_broadcasts_in_deadline_order_and_finishes_empty_ones_at_once() {
    let t0 = Instant::now();
    let mut router = AckRouter::new();
    // Reaching nobody: done at once, as socket.io calls back with no responses.
    router.insert("/", BroadcastAck::new(1, Vec::new(), t0));
    let done = router.poll_finished().unwrap();
    assert_eq!(done.ack_id, 1);
    assert!(done.outcome.responses.is_empty() && !done.outcome.timed_out);

    let ab = vec!["a".to_owned(), "b".to_owned()];
    router.insert(
        "/",
        BroadcastAck::new(3, ab.clone(), t0 + Duration::from_secs(2)),
    );
    router.insert("/x", BroadcastAck::new(2, ab, t0 + Duration::from_secs(1)));
    router.handle_ack("/x", "b", 2, Args::empty());
    assert_eq!(router.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    router.handle_timeout(t0 + Duration::from_millis(999));
    assert_eq!(router.poll_finished(), None);
    router.handle_timeout(t0 + Duration::from_secs(1));
    let done = router.poll_finished().unwrap();
    assert_eq!((done.nsp.as_str(), done.ack_id), ("/x", 2));
    assert!(done.outcome.timed_out);
    assert_eq!(done.outcome.missing, vec!["a".to_owned()], "to cancel_ack");
    assert_eq!(router.poll_finished(), None);
    assert_eq!(router.poll_timeout(), Some(t0 + Duration::from_secs(2)));
    // A cluster adapter adds remote targets to a waiting collector.
    router
        .get_mut("/", 3)
        .unwrap()
        .add_targets(["remote".to_owned()]);
    router.handle_timeout(t0 + Duration::from_secs(5));
    let done = router.poll_finished().unwrap();
    assert_eq!(done.outcome.missing.len(), 3);
    assert!(router.is_empty());
}

#[test]
fn the_socket_index_keeps_a_recovered_sid_on_its_new_connection() {
    let mut index: SocketIndex<u32> = SocketIndex::new();
    assert_eq!(index.insert("/", "s1", 1), None);
    index.insert("/", "s2", 1);
    index.insert("/admin", "s1", 7);
    // s1 resumes on connection 2 before connection 1 reported it gone.
    assert_eq!(index.insert("/", "s1", 2), Some(1));
    assert!(
        !index.remove("/", "s1", &1),
        "not connection 1's entry any more"
    );
    assert_eq!(index.get("/", "s1"), Some(&2));
    // Broadcast targets: in the order given, unknown sockets skipped.
    let targets = vec!["s2".to_owned(), "gone".to_owned(), "s1".to_owned()];
    let found: Vec<(&str, u32)> = index.targets("/", &targets).map(|(s, k)| (s, *k)).collect();
    assert_eq!(found, vec![("s2", 1), ("s1", 2)]);
    assert_eq!(index.targets("/none", &targets).count(), 0);
    let all: Vec<&str> = index.sockets("/").map(|(s, _)| s).collect();
    assert_eq!(all, vec!["s1", "s2"]);
    assert_eq!(index.len(), 3);
    assert!(index.remove("/", "s1", &2));
    assert_eq!(index.remove_if("/", "s2", |k| *k == 1), Some(1));
    assert_eq!(index.remove_if("/admin", "s1", |k| *k == 1), None);
    assert!(index.remove("/admin", "s1", &7));
    assert!(index.is_empty());
}
