//! The Socket.IO client engine (`Manager`) and server engine (`Connection` +
//! `Namespaces`) wired to each other in memory under a virtual clock (see `pair/`):
//! issue 4's proof that the whole protocol is testable in milliseconds, without a
//! network. Most scenarios run over polling only, WebSocket only, and polling then
//! upgrade.

mod pair;

use std::time::{Duration, Instant};

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

use bytes::Bytes;
use halyard_engine::engineio::{Frame, TransportKind};
use halyard_engine::socketio::DisconnectReason;
use halyard_engine::socketio::client::{
    AckError, ConnectError as ClientConnectError, ConnectionId, EmitOptions, Event as ClientEvent,
    SocketId, SocketOptions,
};
use halyard_engine::socketio::server::{BroadcastOptions, ConnectError, RecoveryConfig};
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
                ..
            } => Some((*socket, sid.to_string(), *recovered)),
            _ => None,
        })
        .collect()
}

fn disconnects(events: &[ClientEvent]) -> Vec<(SocketId, DisconnectReason)> {
    events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Disconnect { socket, reason, .. } => Some((*socket, *reason)),
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
        assert_eq!(
            world.server.rooms_of("/", &main_sid),
            vec![main_sid.clone()]
        );
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
            assert_eq!(args.json(), r#"["poll","ready?"]"#);
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

// ----- drops and reconnection -------------------------------------------------------------

/// socket.io-client's backoff (backo2: `ms = delay * 2^k`; one draw `r`; `dev =
/// floor(r * factor * ms)`; minus when `floor(r * 10)` is even, else plus; `min(ms, max)`),
/// computed independently with the manager's documented generator (a `SeededRng` from
/// the manager's seed, `r` from its top 53 bits), for the default settings.
fn expected_backoff(seed: u64, n: usize) -> Vec<Duration> {
    let mut rng = halyard_engine::engineio::SeededRng::new(seed);
    (0..n)
        .map(|k| {
            let mut ms = 1000.0 * 2f64.powi(k as i32);
            let r = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let dev = (r * 0.5 * ms).floor();
            ms = if ((r * 10.0).floor() as u64) & 1 == 0 {
                ms - dev
            } else {
                ms + dev
            };
            Duration::from_millis(ms.min(5000.0) as u64)
        })
        .collect()
}

/// The delays the client actually waited: from the close (or the failed attempt) to the
/// next `reconnect_attempt`.
fn observed_backoff(log: &[(Instant, ClientEvent)]) -> Vec<Duration> {
    let mut out = Vec::new();
    let mut since = None;
    for (t, e) in log {
        match e {
            ClientEvent::Close(_) | ClientEvent::ReconnectError(_) => since = Some(*t),
            ClientEvent::ReconnectAttempt(_) => {
                out.push(*t - since.take().expect("an attempt follows a failure"));
            }
            _ => {}
        }
    }
    out
}

fn server_reason(world: &World, sid: &str) -> Option<DisconnectReason> {
    world
        .server
        .left
        .iter()
        .find(|l| l.sid == sid)
        .map(|l| l.reason)
}

#[test]
fn partition_is_a_ping_timeout_on_both_sides_and_the_client_reconnects_on_the_backoff_schedule() {
    for transport in Transport::ALL {
        let seed = 0x5eed;
        let mut world = World::new(transport, None, 12);
        let (c, s, sid) = world.connected_client("/", seed);
        world.advance(ms(2500));
        let from = world.clients[c].log.len();
        world.partition(c);
        world.advance(ms(2000));
        // Both sides noticed through the heartbeat.
        assert_eq!(
            server_reason(&world, &sid),
            Some(DisconnectReason::PingTimeout),
            "{transport:?}"
        );
        let events = world.clients[c].events_since(from);
        assert_eq!(
            disconnects(&events),
            [(s, DisconnectReason::PingTimeout)],
            "{transport:?}"
        );
        assert!(events.contains(&ClientEvent::Close(DisconnectReason::PingTimeout)));
        assert!(world.clients[c].manager.active(s).unwrap());
        // Long enough for the delays to reach the cap, then the network comes back.
        world.advance(ms(35_000));
        world.heal(c);
        assert!(
            world.advance_until(ms(10_000), |w| w.clients[c].manager.connected(s).unwrap()),
            "{transport:?}: never reconnected"
        );
        assert_transport(&world, c);

        let log = &world.clients[c].log[from..];
        let observed = observed_backoff(log);
        assert!(observed.len() >= 6, "{transport:?}: {observed:?}");
        assert_eq!(
            observed,
            expected_backoff(seed, observed.len()),
            "{transport:?}"
        );
        assert!(observed.iter().all(|d| *d <= ms(5000)));
        assert!(
            observed.contains(&ms(5000)),
            "capped at delayMax: {observed:?}"
        );
        let attempts: Vec<u32> = log
            .iter()
            .filter_map(|(_, e)| match e {
                ClientEvent::ReconnectAttempt(n) => Some(*n),
                _ => None,
            })
            .collect();
        let n = attempts.len() as u32;
        assert_eq!(attempts, (1..=n).collect::<Vec<_>>());
        let events = world.clients[c].events_since(from);
        assert!(events.contains(&ClientEvent::Reconnect(n)), "{events:?}");
        let errors = events
            .iter()
            .filter(|e| matches!(e, ClientEvent::ReconnectError(_)))
            .count() as u32;
        assert_eq!(errors, n - 1, "every attempt but the last failed");

        // Back in, with a new sid (no recovery) that the server knows.
        let new_sid = world.sid(c, s);
        assert_ne!(new_sid, sid);
        assert!(world.server.conn_of("/", &new_sid).is_some());
        world.emit(c, s, ev("echo", &"again"), EmitOptions::default());
        assert_eq!(
            world.clients[c].received_json(s),
            [r#"["echo","again"]"#],
            "{transport:?}"
        );
    }
}

#[test]
fn transport_reset_is_seen_on_both_sides_and_the_client_reconnects_after_the_first_delay() {
    for transport in Transport::ALL {
        let seed = 77;
        let mut world = World::new(transport, None, 13);
        let (c, s, sid) = world.connected_client("/", seed);
        world.advance(ms(1200));
        let from = world.clients[c].log.len();
        let cut_at = world.now;
        world.cut(c);
        // A reset WebSocket is a "transport close"; a failed polling request is a
        // "transport error" (engine.io: "poll connection closed prematurely").
        let expected = match transport.settled() {
            TransportKind::WebSocket => DisconnectReason::TransportClose,
            TransportKind::Polling => DisconnectReason::TransportError,
        };
        assert_eq!(server_reason(&world, &sid), Some(expected), "{transport:?}");
        assert_eq!(
            disconnects(&world.clients[c].events_since(from)),
            [(s, expected)],
            "{transport:?}"
        );
        world.advance_until(ms(10_000), |w| w.clients[c].manager.connected(s).unwrap());
        let log = &world.clients[c].log[from..];
        let attempt_at = log
            .iter()
            .find_map(|(t, e)| matches!(e, ClientEvent::ReconnectAttempt(1)).then_some(*t))
            .expect("one attempt");
        assert_eq!(
            attempt_at - cut_at,
            expected_backoff(seed, 1)[0],
            "{transport:?}"
        );
        assert!(
            world.clients[c]
                .events_since(from)
                .contains(&ClientEvent::Reconnect(1))
        );
        assert_ne!(world.sid(c, s), sid);
        assert_transport(&world, c);
    }
}

/// Advances until client `c` has noticed the drop and the server has too.
fn until_both_noticed(world: &mut World, c: usize, s: SocketId, sid: &str) {
    let sid = sid.to_owned();
    assert!(world.advance_until(ms(5000), |w| {
        !w.clients[c].manager.connected(s).unwrap() && server_reason(w, &sid).is_some()
    }));
}

fn seqs(world: &World, sid: &str, name: &str) -> Vec<u32> {
    world
        .server
        .received
        .iter()
        .filter(|r| r.sid == sid && r.event.name() == name)
        .map(|r| r.event.args::<(u32,)>().unwrap().0)
        .collect()
}

#[test]
fn emits_buffered_while_disconnected_are_flushed_in_order_and_volatile_ones_are_dropped() {
    for transport in Transport::ALL {
        let mut world = World::new(transport, None, 14);
        let (c, s, sid) = world.connected_client("/", 91);
        world.emit(c, s, ev("seq", &0), EmitOptions::default());
        world.partition(c);
        until_both_noticed(&mut world, c, s, &sid);

        world.emit(c, s, ev("seq", &1), EmitOptions::default());
        let volatile = world.emit(c, s, ev("seq", &100), EmitOptions::with_ack().volatile());
        world.emit(c, s, ev("seq", &2), EmitOptions::default());
        world.emit(c, s, ev("seq", &101), EmitOptions::default().volatile());
        world.emit(c, s, ev("seq", &3), EmitOptions::default());
        assert_eq!(world.clients[c].manager.buffered(s).unwrap(), 3);
        assert!(world.clients[c].events().contains(&ClientEvent::AckFailed {
            socket: s,
            ack: volatile.unwrap(),
            error: AckError::Dropped,
        }));

        world.heal(c);
        assert!(world.advance_until(ms(10_000), |w| w.clients[c].manager.connected(s).unwrap()));
        assert_eq!(world.clients[c].manager.buffered(s).unwrap(), 0);
        let new_sid = world.sid(c, s);
        assert_eq!(seqs(&world, &sid, "seq"), [0], "{transport:?}");
        assert_eq!(seqs(&world, &new_sid, "seq"), [1, 2, 3], "{transport:?}");
    }
}

fn acks_of(world: &World, c: usize, ack: halyard_engine::socketio::client::AckId) -> usize {
    world.clients[c]
        .events()
        .iter()
        .filter(|e| matches!(e, ClientEvent::AckReceived { ack: a, .. } if *a == ack))
        .count()
}

fn retrying() -> SocketOptions {
    SocketOptions {
        retries: Some(5),
        ack_timeout: Some(ms(3000)),
        ..SocketOptions::default()
    }
}

/// With `retries`, delivery is at least once: a packet lost in a drop is resent after the
/// reconnection, and the sender sees exactly one acknowledgement.
#[test]
fn retried_emit_lost_in_a_drop_is_resent_after_reconnection_and_acknowledged_once() {
    for transport in Transport::ALL {
        let mut world = World::new(transport, None, 15);
        let c = world.add_client(92);
        let s = world.socket(c, "/", retrying());
        let sid = world.sid(c, s);
        world.partition(c);
        // The client still believes it is connected: the packet goes out and is lost.
        let ack = world
            .emit(c, s, ev("work", &7), EmitOptions::with_ack())
            .unwrap();
        assert_eq!(world.clients[c].manager.queued(s).unwrap(), 1);
        until_both_noticed(&mut world, c, s, &sid);
        world.heal(c);
        assert!(world.advance_until(ms(10_000), |w| acks_of(w, c, ack) > 0));
        world.advance(ms(10_000));
        let new_sid = world.sid(c, s);
        assert_eq!(seqs(&world, &sid, "work"), Vec::<u32>::new());
        assert_eq!(seqs(&world, &new_sid, "work"), [7], "{transport:?}");
        assert_eq!(acks_of(&world, c, ack), 1, "{transport:?}");
        assert_eq!(world.clients[c].manager.queued(s).unwrap(), 0);
    }
}

/// The other half of at-least-once: the server handled the packet but its ack was lost
/// in the drop, so the resend reaches the server application a second time; the client
/// application still sees one acknowledgement.
#[test]
fn retried_emit_whose_ack_was_lost_reaches_the_server_twice_and_is_acknowledged_once() {
    for transport in Transport::ALL {
        let mut world = World::new(transport, None, 16);
        let c = world.add_client(93);
        let s = world.socket(c, "/", retrying());
        let sid = world.sid(c, s);
        let now = world.now;
        let ack = world
            .manager(c)
            .emit(now, s, ev("work", &8), EmitOptions::with_ack())
            .unwrap()
            .unwrap();
        // Deliver until the server application has the event (and has answered), then
        // lose everything in flight: the answer never arrives.
        assert!(world.run_until(|w| !w.server.received.is_empty()));
        world.partition(c);
        until_both_noticed(&mut world, c, s, &sid);
        assert_eq!(acks_of(&world, c, ack), 0);
        world.heal(c);
        assert!(world.advance_until(ms(10_000), |w| acks_of(w, c, ack) > 0));
        world.advance(ms(10_000));
        let new_sid = world.sid(c, s);
        assert_eq!(seqs(&world, &sid, "work"), [8], "{transport:?}");
        assert_eq!(seqs(&world, &new_sid, "work"), [8], "{transport:?}");
        assert_eq!(acks_of(&world, c, ack), 1, "{transport:?}");
    }
}

// ----- connection state recovery ----------------------------------------------------------

fn recovery(max: Duration) -> Option<RecoveryConfig> {
    Some(RecoveryConfig {
        max_disconnection_duration: max,
        ..RecoveryConfig::default()
    })
}

/// The names and first arguments of events received on `socket` since `from` (log
/// index), offsets left out.
fn news_since(world: &World, c: usize, s: SocketId, from: usize) -> Vec<String> {
    world.clients[c].log[from..]
        .iter()
        .filter_map(|(_, e)| match e {
            ClientEvent::Received { socket, event, .. } if *socket == s => {
                let (first,): (String,) = event.args().unwrap();
                Some(format!("{}:{first}", event.name()))
            }
            _ => None,
        })
        .collect()
}

/// A recovery-on world with one client in room "news" that has seen one broadcast, then
/// dropped (both sides noticed), and three broadcasts to "news" plus one to a room it
/// is not in made meanwhile. Returns (world, client, socket, sid, log index, hook calls).
fn dropped_while_news_went_out(
    transport: Transport,
    max: Duration,
) -> (World, usize, SocketId, String, usize, Rc<Cell<u32>>) {
    let mut world = World::new(transport, recovery(max), 17);
    let hook_calls = Rc::new(Cell::new(0));
    let calls = hook_calls.clone();
    world.server.connect_hook = Box::new(move |_| {
        calls.set(calls.get() + 1);
        Ok(())
    });
    let (c, s, sid) = world.connected_client("/", 94);
    let (_, _, other_sid) = world.connected_client("/", 95);
    assert!(
        world.clients[c]
            .manager
            .recovery_state(s)
            .unwrap()
            .is_some()
    );
    world.emit(c, s, ev("join", &"news"), EmitOptions::default());
    let now = world.now;
    let opts = BroadcastOptions::to("news");
    world.server.broadcast(now, "/", ev("n", &"before"), &opts);
    world.run();
    assert_eq!(news_since(&world, c, s, 0), ["n:before"]);
    let (_, offset) = world.clients[c].manager.recovery_state(s).unwrap().unwrap();
    assert!(offset.is_some(), "the client tracked the offset");

    world.partition(c);
    until_both_noticed(&mut world, c, s, &sid);
    assert!(world.server.left.iter().any(|l| l.sid == sid && l.saved));
    let from = world.clients[c].log.len();
    let now = world.now;
    for text in ["one", "two", "three"] {
        world.server.broadcast(now, "/", ev("n", &text), &opts);
    }
    world.server.broadcast(
        now,
        "/",
        ev("n", &"not for news"),
        &BroadcastOptions::to(other_sid),
    );
    world.run();
    (world, c, s, sid, from, hook_calls)
}

#[test]
fn recovery_within_the_duration_restores_sid_rooms_and_exactly_the_missed_events() {
    for transport in Transport::ALL {
        let (mut world, c, s, sid, from, hook_calls) =
            dropped_while_news_went_out(transport, ms(10_000));
        let dropped_at = world.now;
        world.heal(c);
        assert!(
            world.advance_until(ms(10_000), |w| w.clients[c].manager.connected(s).unwrap()),
            "{transport:?}"
        );
        assert!(world.now - dropped_at < ms(10_000));
        assert_transport(&world, c);
        let events = world.clients[c].events_since(from);
        assert_eq!(connects(&events), [(s, sid.clone(), true)], "{transport:?}");
        assert!(world.clients[c].manager.recovered(s).unwrap());
        assert_eq!(world.sid(c, s), sid);
        let mut rooms = vec![sid.clone(), "news".to_owned()];
        rooms.sort();
        assert_eq!(world.server.rooms_of("/", &sid), rooms, "{transport:?}");
        assert_eq!(
            news_since(&world, c, s, from),
            ["n:one", "n:two", "n:three"],
            "{transport:?}"
        );
        // skipMiddlewares: the restored socket did not go through the connect hook again.
        assert_eq!(
            hook_calls.get(),
            2,
            "two first connects only ({transport:?})"
        );
        let accepted = world.server.accepted.last().unwrap();
        assert!(accepted.1.recovered);

        // It is a live member of "news" again.
        let now = world.now;
        world
            .server
            .broadcast(now, "/", ev("n", &"after"), &BroadcastOptions::to("news"));
        world.run();
        assert_eq!(
            news_since(&world, c, s, from),
            ["n:one", "n:two", "n:three", "n:after"],
            "{transport:?}"
        );
    }
}

#[test]
fn recovery_after_the_duration_gives_a_new_session_without_replay() {
    for transport in Transport::ALL {
        let (mut world, c, s, sid, from, hook_calls) =
            dropped_while_news_went_out(transport, ms(5_000));
        world.advance(ms(8_000));
        assert_eq!(
            world
                .server
                .namespaces
                .get("/")
                .unwrap()
                .recovery()
                .unwrap()
                .session_count(),
            0,
            "the saved session expired"
        );
        world.heal(c);
        assert!(
            world.advance_until(ms(10_000), |w| w.clients[c].manager.connected(s).unwrap()),
            "{transport:?}"
        );
        let events = world.clients[c].events_since(from);
        let got = connects(&events);
        assert_eq!(got.len(), 1, "{transport:?}");
        assert!(!got[0].2, "not recovered ({transport:?})");
        assert_ne!(got[0].1, sid);
        assert!(!world.clients[c].manager.recovered(s).unwrap());
        assert_eq!(news_since(&world, c, s, from), Vec::<String>::new());
        assert_eq!(
            world.server.rooms_of("/", &got[0].1),
            vec![got[0].1.clone()]
        );
        assert_eq!(hook_calls.get(), 3, "a new session goes through the hook");
        // The reconnect did ask for recovery (pid and offset in the auth).
        let last = world.server.connects.last().unwrap();
        assert!(last.recovery.is_some(), "{transport:?}");
    }
}

#[test]
fn per_socket_emits_lost_in_a_drop_are_replayed_on_recovery() {
    for transport in Transport::ALL {
        let mut world = World::new(transport, recovery(ms(10_000)), 29);
        let (c, s, sid) = world.connected_client("/", 41);
        let now = world.now;
        world
            .server
            .emit(now, "/", &sid, ev("p", &"before"), None, false);
        world.run();
        assert_eq!(news_since(&world, c, s, 0), ["p:before"]);

        // The link dies; the server still thinks the socket is there and emits to it.
        world.partition(c);
        let from = world.clients[c].log.len();
        let now = world.now;
        for text in ["lost-1", "lost-2"] {
            world
                .server
                .emit(now, "/", &sid, ev("p", &text), None, false);
        }
        // Not covered by recovery, as in socket.io: volatile and with-ack emits.
        world
            .server
            .emit(now, "/", &sid, ev("p", &"volatile"), None, true);
        world
            .server
            .emit(now, "/", &sid, ev("p", &"with-ack"), Some(None), false);
        until_both_noticed(&mut world, c, s, &sid);
        world.heal(c);
        assert!(
            world.advance_until(ms(10_000), |w| w.clients[c].manager.connected(s).unwrap()),
            "{transport:?}"
        );
        assert!(
            world.clients[c].manager.recovered(s).unwrap(),
            "{transport:?}"
        );
        assert_eq!(world.sid(c, s), sid);
        assert_eq!(
            news_since(&world, c, s, from),
            ["p:lost-1", "p:lost-2"],
            "{transport:?}"
        );

        // And per-socket emits go on, with offsets, on the recovered socket.
        let now = world.now;
        world
            .server
            .emit(now, "/", &sid, ev("p", &"after"), None, false);
        world.run();
        assert_eq!(
            news_since(&world, c, s, from),
            ["p:lost-1", "p:lost-2", "p:after"]
        );
        let (_, offset) = world.clients[c].manager.recovery_state(s).unwrap().unwrap();
        let last = world.clients[c].received(s).last().unwrap().clone();
        assert_eq!(last.args::<(String, String)>().unwrap().1, offset.unwrap());
    }
}

#[test]
fn a_refused_recovery_can_be_retried_and_still_resumes() {
    for transport in Transport::ALL {
        let config = RecoveryConfig {
            max_disconnection_duration: ms(10_000),
            skip_middlewares: false,
            ..RecoveryConfig::default()
        };
        let mut world = World::new(transport, Some(config), 23);
        let refuse = Rc::new(Cell::new(false));
        let refusing = refuse.clone();
        world.server.connect_hook = Box::new(move |req| match refusing.get() {
            true if req.recovery.is_some() => Err(ConnectError::new("later")),
            _ => Ok(()),
        });
        let (c, s, sid) = world.connected_client("/", 31);
        world.emit(c, s, ev("join", &"news"), EmitOptions::default());
        let opts = BroadcastOptions::to("news");
        let now = world.now;
        world.server.broadcast(now, "/", ev("n", &"before"), &opts);
        world.run();
        world.partition(c);
        until_both_noticed(&mut world, c, s, &sid);
        let from = world.clients[c].log.len();
        let now = world.now;
        world.server.broadcast(now, "/", ev("n", &"one"), &opts);

        // The hook refuses the recovering CONNECT: the socket gives up (no retry)...
        refuse.set(true);
        world.heal(c);
        assert!(
            world.advance_until(ms(10_000), |w| !w.clients[c].manager.active(s).unwrap()),
            "{transport:?}"
        );
        assert!(
            world.clients[c].events_since(from).iter().any(|e| matches!(
                e,
                ClientEvent::ConnectError {
                    error: ClientConnectError::Refused { .. },
                    ..
                }
            )),
            "{transport:?}"
        );
        // ...but the session is still saved.
        let sessions = |w: &World| {
            w.server
                .namespaces
                .get("/")
                .unwrap()
                .recovery()
                .unwrap()
                .session_count()
        };
        assert_eq!(sessions(&world), 1, "{transport:?}");

        // The application connects again, the hook accepts: same sid, rooms, missed events.
        refuse.set(false);
        let now = world.now;
        world.server.broadcast(now, "/", ev("n", &"two"), &opts);
        world.manager(c).connect(now, s).unwrap();
        world.run();
        assert!(
            world.clients[c].manager.connected(s).unwrap(),
            "{transport:?}"
        );
        assert!(
            world.clients[c].manager.recovered(s).unwrap(),
            "{transport:?}"
        );
        assert_eq!(world.sid(c, s), sid);
        assert_eq!(news_since(&world, c, s, from), ["n:one", "n:two"]);
        assert_eq!(sessions(&world), 0);
        // Client events name the Engine.IO connection they came on: the replayed events
        // and the CONNECT answer came on the current connection (where the refused
        // attempt was made too), not the one the socket first joined on.
        let current = world.clients[c].manager.connection().unwrap().0;
        let on: Vec<(&'static str, ConnectionId)> = world.clients[c]
            .log
            .iter()
            .filter_map(|(_, e)| match e {
                ClientEvent::Open { connection } => Some(("open", *connection)),
                ClientEvent::Connect { connection, .. } => Some(("connect", *connection)),
                ClientEvent::Disconnect { connection, .. } => Some(("disconnect", *connection)),
                ClientEvent::Received { connection, .. } => Some(("received", *connection)),
                _ => None,
            })
            .collect();
        let first = on[0].1;
        assert_ne!(first, current, "{transport:?}");
        assert_eq!(
            on[..2],
            [("open", first), ("connect", first)],
            "{transport:?}"
        );
        assert!(on.contains(&("disconnect", first)), "{transport:?}");
        assert!(on.contains(&("open", current)), "{transport:?}");
        assert_eq!(
            on[on.len() - 3..],
            [
                ("received", current),
                ("received", current),
                ("connect", current)
            ],
            "{transport:?}"
        );
    }
}

// ----- random interleavings -----------------------------------------------------------------

mod interleavings {
    use super::*;
    use proptest::prelude::*;

    const CLIENTS: usize = 3;

    #[derive(Debug, Clone)]
    enum Op {
        /// Client `c` emits its next sequence number.
        Emit(usize),
        /// The server broadcasts its next sequence number to every socket of `/`.
        Broadcast,
        /// Deliver up to this many things in flight.
        Step(usize),
        /// The client's link goes down (data waits) / comes back.
        Stall(usize),
        Unstall(usize),
        /// The client's transport is reset.
        Cut(usize),
        /// Time passes (milliseconds).
        Advance(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..CLIENTS).prop_map(Op::Emit),
            3 => Just(Op::Broadcast),
            4 => (1..6usize).prop_map(Op::Step),
            1 => (0..CLIENTS).prop_map(Op::Stall),
            1 => (0..CLIENTS).prop_map(Op::Unstall),
            1 => (0..CLIENTS).prop_map(Op::Cut),
            3 => (0..4000u64).prop_map(Op::Advance),
        ]
    }

    fn transport() -> impl Strategy<Value = Transport> {
        prop_oneof![
            Just(Transport::Polling),
            Just(Transport::WebSocket),
            Just(Transport::Upgrade)
        ]
    }

    /// Disconnects client `c` has seen so far.
    fn drops(world: &World, c: usize) -> usize {
        world.clients[c]
            .log
            .iter()
            .filter(|(_, e)| matches!(e, ClientEvent::Disconnect { .. }))
            .count()
    }

    fn assert_increasing(seqs: &[u32], what: &str) {
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "{what} out of order or duplicated: {seqs:?}"
        );
    }

    /// What must arrive: the sequence number, the socket id that must receive or send
    /// it, and the drop count of the client when it was sent. It must arrive exactly
    /// once if, at the end, the client is still on that socket id and has not dropped
    /// since (the connection that carried it lived).
    struct Sent {
        client: usize,
        seq: u32,
        sid: Option<String>,
        drops: usize,
    }

    fn run(transport: Transport, recovery_on: bool, seed: u64, ops: Vec<Op>) {
        let recovery = recovery_on.then(|| recovery(ms(10_000))).flatten();
        let mut world = World::new(transport, recovery, seed);
        let mut sockets = Vec::new();
        for c in 0..CLIENTS {
            let client = world.add_client(seed.wrapping_add(c as u64));
            let now = world.now;
            let s = world.clients[client]
                .manager
                .socket(now, "/", SocketOptions::default())
                .unwrap();
            sockets.push(s);
        }
        world.collect();
        let (mut emitted, mut broadcast) = (Vec::new(), Vec::new());
        let mut next = [0u32; CLIENTS];
        let mut next_broadcast = 0u32;
        for op in ops {
            let now = world.now;
            match op {
                Op::Emit(c) => {
                    let seq = next[c];
                    next[c] += 1;
                    world.clients[c]
                        .manager
                        .emit(now, sockets[c], ev("c", &seq), EmitOptions::default())
                        .unwrap();
                    // Sent on the live connection (its socket id), or buffered for the
                    // next one (whatever id that gets).
                    let sid = world.clients[c]
                        .manager
                        .id(sockets[c])
                        .unwrap()
                        .map(str::to_owned);
                    emitted.push(Sent {
                        client: c,
                        seq,
                        sid,
                        drops: drops(&world, c),
                    });
                }
                Op::Broadcast => {
                    let seq = next_broadcast;
                    next_broadcast += 1;
                    let (packet, _) =
                        world
                            .server
                            .broadcast(now, "/", ev("b", &seq), &BroadcastOptions::all());
                    for sid in packet.targets {
                        let c = world.client_of("/", &sid).expect("targets are indexed");
                        broadcast.push(Sent {
                            client: c,
                            seq,
                            sid: Some(sid),
                            drops: drops(&world, c),
                        });
                    }
                }
                Op::Step(n) => {
                    for _ in 0..n {
                        world.step();
                    }
                }
                Op::Stall(c) => world.stall(c),
                Op::Unstall(c) => world.unstall(c),
                Op::Cut(c) => world.cut(c),
                Op::Advance(by) => world.advance(ms(by)),
            }
            world.collect();
        }
        for c in 0..CLIENTS {
            world.unstall(c);
        }
        world.advance(ms(30_000));

        for (c, &s) in sockets.iter().enumerate() {
            // Liveness: every socket is active, so every client got back in.
            assert!(
                world.clients[c].manager.connected(s).unwrap(),
                "client {c} never reconnected"
            );
            let end_sid = world.sid(c, s);
            let end_drops = drops(&world, c);
            // Client → server: per server socket, in order and at most once.
            let mut by_sid: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
            for r in world
                .server
                .received
                .iter()
                .filter(|r| r.event.name() == "c")
            {
                if world.client_of("/", &r.sid) == Some(c) || r.sid == end_sid {
                    by_sid
                        .entry(r.sid.as_str())
                        .or_default()
                        .push(r.event.args::<(u32,)>().unwrap().0);
                }
            }
            for (sid, seqs) in &by_sid {
                assert_increasing(seqs, &format!("client {c}'s events on {sid}"));
            }
            // Server → client: in order and at most once over the client's whole life
            // (stale connections' traffic is ignored by the manager).
            let got: Vec<u32> = world.clients[c]
                .received(s)
                .iter()
                .filter(|e| e.name() == "b")
                .map(|e| e.args::<(u32,)>().unwrap().0)
                .collect();
            assert_increasing(&got, &format!("broadcasts to client {c}"));

            // Exactly once while the connection lives.
            let server_got = |seq: u32| {
                world
                    .server
                    .received
                    .iter()
                    .filter(|r| {
                        r.sid == end_sid
                            && r.event.name() == "c"
                            && r.event.args::<(u32,)>().unwrap().0 == seq
                    })
                    .count()
            };
            for sent in emitted.iter().filter(|e| e.client == c) {
                let lived =
                    sent.drops == end_drops && sent.sid.as_deref().is_none_or(|sid| sid == end_sid);
                if lived {
                    assert_eq!(
                        server_got(sent.seq),
                        1,
                        "client {c}'s event {} (sent on {:?}) did not arrive once on {end_sid}",
                        sent.seq,
                        sent.sid
                    );
                }
            }
            for sent in broadcast.iter().filter(|b| b.client == c) {
                if sent.drops == end_drops && sent.sid.as_deref() == Some(end_sid.as_str()) {
                    let n = got.iter().filter(|g| **g == sent.seq).count();
                    assert_eq!(n, 1, "broadcast {} did not reach client {c} once", sent.seq);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 64,
            // Deterministic: the same cases every run (PROPTEST_RNG_SEED explores others).
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x4a11_7a2d),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn random_interleavings_never_panic_and_deliver_in_order_exactly_once_while_connected(
            transport in transport(),
            recovery_on in any::<bool>(),
            seed in any::<u64>(),
            ops in proptest::collection::vec(op(), 1..48),
        ) {
            run(transport, recovery_on, seed, ops);
        }
    }
}

/// `socket.disconnect(true)` ends every namespace with `io server disconnect` (no
/// reconnection); `io.close()` looks like a lost transport to the client, which comes
/// back with both namespaces on one new connection.
#[test]
fn server_close_ends_every_namespace_and_shutdown_lets_the_client_come_back() {
    for transport in Transport::ALL {
        for shutdown in [false, true] {
            let mut world = World::new(transport, None, 18);
            let c = world.add_client(96);
            let main = world.socket(c, "/", SocketOptions::default());
            let admin = world.socket(c, "/admin", SocketOptions::default());
            let from = world.clients[c].log.len();
            let now = world.now;
            let eio = world.server.connections.keys().next().unwrap().clone();
            let conn = world.server.connections.get_mut(&eio).unwrap();
            match shutdown {
                true => conn.shutdown(now),
                false => conn.close(now),
            }
            world.run();
            let (client_reason, server_reason, closed) = match shutdown {
                true => (
                    DisconnectReason::TransportClose,
                    DisconnectReason::ServerShuttingDown,
                    DisconnectReason::ServerShuttingDown,
                ),
                false => (
                    DisconnectReason::IoServerDisconnect,
                    DisconnectReason::ServerNamespaceDisconnect,
                    DisconnectReason::ForcedServerClose,
                ),
            };
            let label = format!("{transport:?} shutdown={shutdown}");
            assert_eq!(
                disconnects(&world.clients[c].events_since(from)),
                [(main, client_reason), (admin, client_reason)],
                "{label}"
            );
            let reasons: Vec<DisconnectReason> =
                world.server.left.iter().map(|l| l.reason).collect();
            assert_eq!(reasons, [server_reason, server_reason], "{label}");
            if !shutdown {
                // Over polling the DISCONNECTs and the close go in separate poll answers
                // (as engine.io drains before closing); the client stops polling once
                // its sockets are gone, so the server's close timer ends the session.
                world.advance(server_engine().close_timeout);
            }
            assert_eq!(world.server.closed, [(eio, closed)], "{label}");
            assert!(world.server.connections.is_empty(), "{label}");

            world.advance(ms(10_000));
            let m = &world.clients[c].manager;
            assert_eq!(m.connected(main).unwrap(), shutdown, "{label}");
            assert_eq!(m.connected(admin).unwrap(), shutdown, "{label}");
            assert_eq!(
                world.server.connections.len(),
                usize::from(shutdown),
                "{label}"
            );
        }
    }
}
