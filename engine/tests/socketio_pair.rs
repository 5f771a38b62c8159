//! The Socket.IO client engine (`Manager`) and server engine (`Connection` +
//! `Namespaces`) wired to each other in memory under a virtual clock (see `pair/`):
//! issue 4's proof that the whole protocol is testable in milliseconds, without a
//! network. Most scenarios run over polling only, WebSocket only, and polling then
//! upgrade.

mod pair;

use bytes::Bytes;
use halyard_engine::engineio::{Frame, TransportKind};
use halyard_engine::socketio::DisconnectReason;
use halyard_engine::socketio::client::{
    AckError, ConnectError as ClientConnectError, EmitOptions, Event as ClientEvent, SocketId,
    SocketOptions,
};
use halyard_engine::socketio::server::{BroadcastOptions, ConnectError};
use halyard_protocol::Binary;
use pair::*;
use serde::Deserialize;

fn connects(events: &[ClientEvent]) -> Vec<(SocketId, String, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Connect {
                socket,
                sid,
                recovered,
            } => Some((*socket, sid.to_string(), *recovered)),
            _ => None,
        })
        .collect()
}

fn disconnects(events: &[ClientEvent]) -> Vec<(SocketId, DisconnectReason)> {
    events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Disconnect { socket, reason } => Some((*socket, *reason)),
            _ => None,
        })
        .collect()
}

/// Checks the connection settled on the transport the scenario is about.
fn assert_transport(world: &World, c: usize) {
    let (_, conn) = world.clients[c]
        .manager
        .connection()
        .expect("client has a connection");
    assert_eq!(
        conn.transport(),
        world.transport.settled(),
        "client {c} is on the wrong transport"
    );
    if world.transport == Transport::Upgrade {
        assert!(
            !world.server.upgraded.is_empty(),
            "the server never saw the upgrade"
        );
    }
}

// ----- connecting -----------------------------------------------------------------------------

#[test]
fn namespaces_multiplex_on_one_engineio_connection_with_auth_and_distinct_sids() {
    for transport in Transport::ALL {
        let mut world = World::new(transport, None, 1);
        let c = world.add_client(11);
        let main = world.socket(c, "/", with_auth(r#"{"token":"a"}"#));
        let admin = world.socket(c, "/admin", with_auth(r#"{"token":"b"}"#));
        assert_transport(&world, c);

        let auths: Vec<(String, String)> = world
            .server
            .connects
            .iter()
            .map(|r| (r.nsp.to_string(), r.auth.as_str().to_owned()))
            .collect();
        assert_eq!(
            auths,
            [
                ("/".to_owned(), r#"{"token":"a"}"#.to_owned()),
                ("/admin".to_owned(), r#"{"token":"b"}"#.to_owned())
            ],
            "{transport:?}"
        );
        assert_eq!(
            world.server.connections.len(),
            1,
            "one Engine.IO connection carries both namespaces ({transport:?})"
        );
        let eio = world.server.connections.keys().next().unwrap().clone();
        let main_sid = world.sid(c, main);
        let admin_sid = world.sid(c, admin);
        assert_ne!(main_sid, admin_sid, "{transport:?}");
        assert_ne!(main_sid, eio, "{transport:?}");
        assert_ne!(admin_sid, eio, "{transport:?}");
        let client_eio = world.clients[c].manager.connection().unwrap().1.sid();
        assert_eq!(client_eio, Some(eio.as_str()), "{transport:?}");
        // The server's view agrees with the client's.
        let conn = &world.server.connections[&eio];
        assert_eq!(conn.socket_id("/"), Some(main_sid.as_str()));
        assert_eq!(conn.socket_id("/admin"), Some(admin_sid.as_str()));
        assert_eq!(
            connects(&world.clients[c].events()),
            [
                (main, main_sid.clone(), false),
                (admin, admin_sid.clone(), false)
            ],
            "{transport:?}"
        );
        // Each socket is in its own room, in its own namespace.
        assert_eq!(world.server.rooms_of("/", &main_sid), vec![main_sid.clone()]);
        assert_eq!(world.server.rooms_of("/admin", &admin_sid), [admin_sid]);
        // And it stays up through heartbeats.
        world.advance(ms(10_000));
        assert!(world.clients[c].manager.connected(main).unwrap());
        assert!(world.clients[c].manager.connected(admin).unwrap());
        assert!(world.server.closed.is_empty(), "{transport:?}");
    }
}

#[test]
fn refused_connect_reaches_the_client_with_its_data_and_is_not_retried() {
    for transport in Transport::ALL {
        let mut world = World::new(transport, None, 2);
        world.server.connect_hook = Box::new(|req| match &*req.nsp {
            "/admin" => Err(ConnectError::new("not authorized").with_data(raw(r#"{"code":42}"#))),
            _ => Ok(()),
        });
        let c = world.add_client(12);
        let main = world.socket(c, "/", SocketOptions::default());
        let admin = world.socket(c, "/admin", with_auth(r#"{"token":"bad"}"#));
        let events = world.clients[c].events();
        let refusal = events
            .iter()
            .find_map(|e| match e {
                ClientEvent::ConnectError {
                    socket,
                    error,
                    active,
                } if *socket == admin => Some((error.clone(), *active)),
                _ => None,
            })
            .expect("connect_error on /admin");
        assert_eq!(
            refusal,
            (
                ClientConnectError::Refused {
                    message: Some("not authorized".into()),
                    data: Some(raw(r#"{"code":42}"#)),
                },
                false
            ),
            "{transport:?}"
        );
        let m = &world.clients[c].manager;
        assert!(!m.active(admin).unwrap());
        assert!(!m.connected(admin).unwrap());
        assert!(
            m.connected(main).unwrap(),
            "the main namespace is unaffected"
        );

        // No retry: a long time passes and the server never sees another CONNECT.
        world.advance(ms(30_000));
        let admin_connects = world
            .server
            .connects
            .iter()
            .filter(|r| r.nsp == "/admin")
            .count();
        assert_eq!(admin_connects, 1, "{transport:?}");
        assert!(world.clients[c].manager.connected(main).unwrap());
    }
}

#[test]
fn unknown_namespace_is_refused_with_invalid_namespace_and_the_manager_closes() {
    for transport in Transport::ALL {
        let mut world = World::new(transport, None, 3);
        let c = world.add_client(13);
        let s = world.socket(c, "/nope", SocketOptions::default());
        let events = world.clients[c].events();
        assert!(
            events.contains(&ClientEvent::ConnectError {
                socket: s,
                error: ClientConnectError::Refused {
                    message: Some("Invalid namespace".into()),
                    data: None
                },
                active: false,
            }),
            "{transport:?}: {events:?}"
        );
        assert!(world.server.namespaces.get("/nope").is_none());
        // Its only socket is inactive, so the manager closed for good: no reconnection.
        world.advance(ms(30_000));
        assert!(!world.clients[c].manager.is_open());
        assert!(!world.clients[c].manager.is_reconnecting());
        assert_eq!(world.server.connects.len(), 1, "{transport:?}");
        assert!(
            world.server.connections.is_empty(),
            "the server connection ended with the client's close ({transport:?})"
        );
    }
}

// ----- events and acks --------------------------------------------------------------------

#[derive(Debug, Deserialize, PartialEq)]
struct Deep {
    a: (u32, Inner),
}

#[derive(Debug, Deserialize, PartialEq)]
struct Inner {
    b: Binary,
    c: String,
}

#[test]
fn events_and_acks_flow_both_ways_text_and_binary() {
    #[derive(serde::Serialize)]
    struct DeepOut {
        a: (u32, InnerOut),
    }
    #[derive(serde::Serialize)]
    struct InnerOut {
        b: Binary,
        c: String,
    }
    for transport in Transport::ALL {
        let mut world = World::new(transport, None, 4);
        let (c, s, sid) = world.connected_client("/", 14);
        assert_transport(&world, c);

        // Client → server text event, echoed back by the server application.
        world.emit(c, s, ev("echo", &("hello", 1)), EmitOptions::default());
        assert_eq!(world.server.received_json("/"), [r#"["echo","hello",1]"#]);
        assert_eq!(
            world.clients[c].received_json(s),
            [r#"["echo","hello",1]"#],
            "{transport:?}"
        );

        // Client → server binary event at depth, with an ack: the server acks with the
        // event itself, attachments included.
        let payload = DeepOut {
            a: (
                7,
                InnerOut {
                    b: Binary::from(vec![1u8, 2, 3]),
                    c: "x".into(),
                },
            ),
        };
        let ack = world
            .emit(c, s, ev("store", &payload), EmitOptions::with_ack())
            .expect("ack id");
        let got = world.server.received.last().unwrap().clone();
        assert_eq!(got.event.name(), "store");
        assert_eq!(got.sid, sid);
        let (deep,): (Deep,) = got.event.args().unwrap();
        assert_eq!(&deep.a.1.b[..], &[1, 2, 3], "{transport:?}");
        assert_eq!(deep.a.1.c, "x");
        let answer = world.clients[c]
            .events()
            .into_iter()
            .find_map(|e| match e {
                ClientEvent::AckReceived { ack: a, args, .. } if a == ack => Some(args),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no ack ({transport:?})"));
        let (name, deep): (String, Deep) = answer.deserialize().unwrap();
        assert_eq!(name, "store");
        assert_eq!(&deep.a.1.b[..], &[1, 2, 3], "{transport:?}");

        // Server → client binary emitWithAck, answered by the client handler.
        let now = world.now;
        let blob = Binary::from(vec![9u8; 300]);
        let id = world
            .server
            .emit(
                now,
                "/",
                &sid,
                ev("ask", &(1, (blob.clone(), "deep"))),
                Some(None),
                false,
            )
            .unwrap();
        world.run();
        let received = world.clients[c].received(s);
        let last = received.last().unwrap();
        assert_eq!(last.name(), "ask");
        let (n, (b, tag)): (u32, (Binary, String)) = last.args().unwrap();
        assert_eq!((n, &b[..], tag.as_str()), (1, &[9u8; 300][..], "deep"));
        let (nsp, from, ack_id, args) = world.server.acks.last().expect("client answered");
        assert_eq!(
            (nsp.as_str(), from.as_str(), *ack_id),
            ("/", sid.as_str(), id)
        );
        let (name, n, (b, _)): (String, u32, (Binary, String)) = args.deserialize().unwrap();
        assert_eq!((name.as_str(), n, b), ("ask", 1, blob), "{transport:?}");
        assert!(world.server.ack_timeouts.is_empty());
    }
}

#[test]
fn client_ack_timeout_fires_at_its_deadline_when_the_server_stays_silent() {
    for transport in Transport::ALL {
        let mut world = World::new(transport, None, 5);
        let (c, s, _) = world.connected_client("/", 15);
        let sent_at = world.now;
        // The server application never answers "ignore".
        let ack = world
            .emit(
                c,
                s,
                ev("ignore", &()),
                EmitOptions::with_ack().timeout(ms(1500)),
            )
            .unwrap();
        assert_eq!(world.server.received.len(), 1, "the event arrived");
        world.advance(ms(5000));
        let failed: Vec<_> = world.clients[c]
            .log
            .iter()
            .filter_map(|(t, e)| match e {
                ClientEvent::AckFailed { ack: a, error, .. } if *a == ack => {
                    Some((*t - sent_at, *error))
                }
                _ => None,
            })
            .collect();
        assert_eq!(failed, [(ms(1500), AckError::Timeout)], "{transport:?}");
        assert!(world.clients[c].manager.connected(s).unwrap());
    }
}

#[test]
fn server_ack_timeout_fires_at_its_deadline_when_the_client_stays_silent() {
    for transport in Transport::ALL {
        let mut world = World::new(transport, None, 6);
        let (c, s, sid) = world.connected_client("/", 16);
        world.clients[c].answers = false;
        let now = world.now;
        let id = world
            .server
            .emit(now, "/", &sid, ev("ask", &()), Some(Some(ms(2000))), false)
            .unwrap();
        world.run();
        assert_eq!(world.clients[c].received(s).len(), 1, "the event arrived");
        world.advance(ms(1999));
        assert!(world.server.ack_timeouts.is_empty());
        world.advance(ms(1));
        assert_eq!(
            world.server.ack_timeouts,
            [("/".to_owned(), sid.clone(), id)],
            "{transport:?}"
        );
        let at = world
            .server
            .log
            .iter()
            .find_map(|(t, _, e)| {
                matches!(
                    e,
                    halyard_engine::socketio::server::ServerEvent::AckTimeout { .. }
                )
                .then_some(*t)
            })
            .unwrap();
        assert_eq!(at - now, ms(2000));
        // A late answer is ignored.
        let events = world.clients[c].events();
        let ack_id = events
            .iter()
            .find_map(|e| match e {
                ClientEvent::Received { ack_id, .. } => *ack_id,
                _ => None,
            })
            .unwrap();
        let now = world.now;
        world
            .manager(c)
            .ack(now, s, ack_id, halyard_protocol::socketio::Args::empty())
            .unwrap();
        world.run();
        assert!(world.server.acks.is_empty(), "{transport:?}");
        assert!(world.server.closed.is_empty(), "a late ack is not an error");
    }
}

// ----- broadcasts ---------------------------------------------------------------------------

/// The text frames the server wrote to client `c` over WebSocket.
fn ws_texts(world: &World, c: usize) -> Vec<Frame> {
    world.clients[c]
        .ws_frames
        .iter()
        .filter(|f| matches!(f, Frame::Text(t) if t.starts_with("42") || t.starts_with("45")))
        .cloned()
        .collect()
}

#[test]
fn broadcast_to_rooms_with_except_reaches_exactly_the_targets_with_one_encoded_frame() {
    for transport in Transport::ALL {
        let mut world = World::new(transport, None, 7);
        let (a, sa, sid_a) = world.connected_client("/", 21);
        let (b, sb, sid_b) = world.connected_client("/", 22);
        let (c, sc, sid_c) = world.connected_client("/", 23);
        world.emit(a, sa, ev("join", &"red"), EmitOptions::default());
        world.emit(b, sb, ev("join", &"red"), EmitOptions::default());
        world.emit(b, sb, ev("join", &"vip"), EmitOptions::default());
        world.emit(c, sc, ev("join", &"blue"), EmitOptions::default());
        assert_eq!(world.server.rooms_of("/", &sid_b), {
            let mut v = vec![sid_b.clone(), "red".to_owned(), "vip".to_owned()];
            v.sort();
            v
        });

        // to("red").to("blue").except("vip"): a and c, not b.
        let now = world.now;
        let opts = BroadcastOptions::to("red").and_to("blue").except("vip");
        let (packet, deliveries) = world.server.broadcast(
            now,
            "/",
            ev("news", &("hi", Binary::from(vec![7u8]))),
            &opts,
        );
        let mut expected = vec![sid_a.clone(), sid_c.clone()];
        expected.sort();
        assert_eq!(packet.targets, expected);
        assert_eq!(deliveries.len(), 2);
        world.run();
        let news = |world: &World, c: usize, s: SocketId| -> Vec<String> {
            world.clients[c]
                .received(s)
                .iter()
                .filter(|e| e.name() == "news")
                .map(|e| {
                    let (text, bin): (String, Binary) = e.args().unwrap();
                    format!("{text}:{:?}", &bin[..])
                })
                .collect()
        };
        assert_eq!(news(&world, a, sa), ["hi:[7]"], "{transport:?}");
        assert_eq!(news(&world, b, sb), Vec::<String>::new(), "{transport:?}");
        assert_eq!(news(&world, c, sc), ["hi:[7]"], "{transport:?}");

        // The same encoded frame (the same memory) went to every target's WebSocket; over
        // polling it is part of each body, byte for byte the same.
        if transport.settled() == TransportKind::WebSocket {
            let fa = ws_texts(&world, a);
            let fc = ws_texts(&world, c);
            let (Frame::Text(fa), Frame::Text(fc)) = (fa.last().unwrap(), fc.last().unwrap())
            else {
                unreachable!()
            };
            assert_eq!(fa.as_ptr(), packet.frame().as_ptr(), "{transport:?}");
            assert_eq!(fc.as_ptr(), packet.frame().as_ptr(), "{transport:?}");
            let bins = |c: usize| -> Vec<Bytes> {
                world.clients[c]
                    .ws_frames
                    .iter()
                    .filter_map(|f| match f {
                        Frame::Binary(b) => Some(b.clone()),
                        _ => None,
                    })
                    .collect()
            };
            let (ba, bc) = (bins(a), bins(c));
            assert_eq!(
                ba.last().unwrap().as_ptr(),
                packet.attachments()[0].as_ptr()
            );
            assert_eq!(
                bc.last().unwrap().as_ptr(),
                packet.attachments()[0].as_ptr()
            );
        } else {
            let text = |c: usize, s: SocketId| world.clients[c].received(s).last().cloned();
            assert_eq!(text(a, sa), text(c, sc));
        }
    }
}

#[test]
fn socket_broadcast_reaches_everyone_but_the_sender() {
    for transport in Transport::ALL {
        let mut world = World::new(transport, None, 8);
        let (a, sa, _) = world.connected_client("/", 31);
        let (b, sb, _) = world.connected_client("/", 32);
        let (c, sc, _) = world.connected_client("/", 33);
        world.emit(b, sb, ev("relay", &"from b"), EmitOptions::default());
        let got = |c: usize, s: SocketId| world.clients[c].received_json(s);
        assert_eq!(got(a, sa), [r#"["relay","from b"]"#], "{transport:?}");
        assert_eq!(got(b, sb), Vec::<String>::new(), "{transport:?}");
        assert_eq!(got(c, sc), [r#"["relay","from b"]"#], "{transport:?}");
    }
}

#[test]
fn broadcast_with_acks_reports_the_silent_socket_when_it_times_out() {
    for transport in Transport::ALL {
        let mut world = World::new(transport, None, 9);
        let (_, _, sid_a) = world.connected_client("/", 41);
        let (b, _, sid_b) = world.connected_client("/", 42);
        let (_, _, sid_c) = world.connected_client("/", 43);
        world.clients[b].answers = false;
        let now = world.now;
        let packet = world.server.broadcast_with_ack(
            now,
            "/",
            ev("poll", &"ready?"),
            &BroadcastOptions::all(),
            ms(3000),
        );
        world.run();
        assert!(world.server.outcomes.is_empty(), "b has not answered yet");
        let ack_id = packet.ack_id.unwrap();
        // Every target registered the ack.
        for sid in [&sid_a, &sid_b, &sid_c] {
            let pending: Vec<u64> = world
                .server
                .conn_of("/", sid)
                .unwrap()
                .pending_acks("/")
                .collect();
            let expect: Vec<u64> = if *sid == sid_b { vec![ack_id] } else { vec![] };
            assert_eq!(pending, expect, "{transport:?}");
        }
        world.advance(ms(3000));
        let outcome = world
            .server
            .outcomes
            .pop()
            .expect("outcome at the deadline");
        assert!(outcome.timed_out);
        assert_eq!(outcome.missing, vec![sid_b.clone()], "{transport:?}");
        let mut answered: Vec<&str> = outcome.responses.iter().map(|(s, _)| s.as_str()).collect();
        answered.sort();
        let mut expect = vec![sid_a.as_str(), sid_c.as_str()];
        expect.sort();
        assert_eq!(answered, expect);
        for (_, args) in &outcome.responses {
            assert_eq!(args.json().as_ref() as &str, r#"["poll","ready?"]"#);
        }
        // The silent socket forgot the ack (cancel_ack): nothing stays pending.
        let pending = world
            .server
            .conn_of("/", &sid_b)
            .unwrap()
            .pending_acks("/")
            .count();
        assert_eq!(pending, 0, "{transport:?}");
    }
}

// ----- disconnections ------------------------------------------------------------------------

#[test]
fn client_disconnect_is_client_namespace_disconnect_on_the_server() {
    for transport in Transport::ALL {
        let mut world = World::new(transport, None, 10);
        let c = world.add_client(51);
        let main = world.socket(c, "/", SocketOptions::default());
        let admin = world.socket(c, "/admin", SocketOptions::default());
        let admin_sid = world.sid(c, admin);
        world.emit(c, admin, ev("join", &"ops"), EmitOptions::default());
        let now = world.now;
        world.manager(c).disconnect(now, admin).unwrap();
        world.run();
        assert_eq!(
            disconnects(&world.clients[c].events()),
            [(admin, DisconnectReason::IoClientDisconnect)]
        );
        let mut rooms = vec![admin_sid.clone(), "ops".to_owned()];
        rooms.sort();
        assert_eq!(
            world.server.left,
            [Left {
                nsp: "/admin".into(),
                sid: admin_sid.clone(),
                reason: DisconnectReason::ClientNamespaceDisconnect,
                rooms,
                pending_acks: vec![],
                saved: false,
            }],
            "{transport:?}"
        );
        assert!(world.server.rooms_of("/admin", &admin_sid).is_empty());
        // The connection and the main namespace stay.
        assert!(world.clients[c].manager.connected(main).unwrap());
        assert_eq!(world.server.connections.len(), 1);
        world.advance(ms(10_000));
        assert!(world.clients[c].manager.connected(main).unwrap());
        assert!(world.server.closed.is_empty(), "{transport:?}");
    }
}

#[test]
fn server_disconnect_is_io_server_disconnect_and_the_client_does_not_reconnect() {
    for transport in Transport::ALL {
        let mut world = World::new(transport, None, 11);
        let (c, s, sid) = world.connected_client("/", 52);
        let now = world.now;
        world.server.disconnect(now, "/", &sid);
        world.run();
        let events = world.clients[c].events();
        assert_eq!(
            disconnects(&events),
            [(s, DisconnectReason::IoServerDisconnect)],
            "{transport:?}"
        );
        assert_eq!(world.server.left.len(), 1);
        assert_eq!(
            world.server.left[0].reason,
            DisconnectReason::ServerNamespaceDisconnect
        );
        assert!(!world.clients[c].manager.active(s).unwrap());
        world.advance(ms(60_000));
        let events = world.clients[c].events();
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, ClientEvent::ReconnectAttempt(_))),
            "{transport:?}: {events:?}"
        );
        assert_eq!(world.server.connects.len(), 1, "{transport:?}");
        assert!(!world.clients[c].manager.is_open());
    }
}
