//! Deterministic scenarios for the Socket.IO client role: a `Manager` against a scripted
//! server over an in-memory network with a virtual clock.

mod socketio_client_common;

use std::time::Duration;

use halyard_engine::engineio::CloseReason;
use halyard_engine::socketio::DisconnectReason;
use halyard_engine::socketio::client::{
    AckError, AckId, ConnectError, ConnectionId, EmitOptions, Event, ManagerConfig, SocketId,
    SocketOptions,
};
use halyard_protocol::Binary;
use halyard_protocol::socketio::{Args, Event as SioEvent, Packet, RawJson};
use socketio_client_common::*;

fn c(n: u64) -> ConnectionId {
    ConnectionId(n)
}

fn raw(s: &str) -> RawJson {
    RawJson::new(s.to_owned()).unwrap()
}

fn auth(s: &str) -> SocketOptions {
    SocketOptions {
        auth: Some(raw(s)),
        ..SocketOptions::default()
    }
}

fn ev(name: &str, args: &(impl serde::Serialize + ?Sized)) -> SioEvent {
    SioEvent::new(name, args).unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A world with one connected socket on `/`.
fn connected(options: SocketOptions) -> (World, SocketId) {
    let mut world = World::new(polling_config(), 42);
    let socket = world.socket("/", options);
    assert!(world.manager.connected(socket).unwrap());
    world.take_events();
    world.take_received();
    (world, socket)
}

fn reconnect_attempts(events: &[Event]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ReconnectAttempt(n) => Some(*n),
            _ => None,
        })
        .collect()
}

// ----- connecting --------------------------------------------------------------------------

#[test]
fn connects_to_main_and_custom_namespaces_with_auth() {
    let mut world = World::new(polling_config(), 1);
    let main = world.socket("/", auth(r#"{"token":"a"}"#));
    let admin = world.socket("/admin", auth(r#"{"token":"b"}"#));
    assert_eq!(
        world.take_received_text(),
        [r#"0{"token":"a"}"#, r#"0/admin,{"token":"b"}"#]
    );
    assert_eq!(
        world.take_events(),
        [
            Event::Open { connection: c(1) },
            Event::Connect {
                socket: main,
                connection: c(1),
                sid: "sid1".into(),
                recovered: false
            },
            Event::Connect {
                socket: admin,
                connection: c(1),
                sid: "sid2".into(),
                recovered: false
            },
        ]
    );
    let m = &world.manager;
    assert_eq!(m.id(main).unwrap(), Some("sid1"));
    assert_eq!(m.id(admin).unwrap(), Some("sid2"));
    assert!(m.connected(admin).unwrap() && m.active(admin).unwrap());
    assert_eq!(m.socket_of("/admin"), Some(admin));
    assert_eq!(m.nsp(admin).unwrap(), "/admin");
    // Both namespaces share one Engine.IO session.
    assert_eq!(world.sessions, 1);
    // Asking again for a namespace returns the same socket.
    assert_eq!(
        world
            .manager
            .socket(world.now, "/admin", SocketOptions::default())
            .unwrap(),
        admin
    );
}

#[test]
fn a_connect_without_auth_and_invalid_input_are_refused_as_misuse() {
    let mut world = World::new(polling_config(), 1);
    world.socket("/", SocketOptions::default());
    assert_eq!(world.take_received_text(), ["0"]);
    let now = world.now;
    assert!(
        world
            .manager
            .socket(now, "nope", SocketOptions::default())
            .is_err()
    );
    assert!(
        world
            .manager
            .socket(now, "/a,b", SocketOptions::default())
            .is_err()
    );
    assert!(
        world
            .manager
            .socket(now, "/x", auth(r#"["not an object"]"#))
            .is_err()
    );
    assert!(
        world
            .manager
            .connected(SocketId::from_index_for_tests())
            .is_err()
    );
}

trait ForTests {
    fn from_index_for_tests() -> SocketId;
}

impl ForTests for SocketId {
    fn from_index_for_tests() -> SocketId {
        // A manager with many sockets hands out high indexes; this one has one.
        let mut world = World::new(polling_config(), 1);
        for nsp in ["/a", "/b", "/c"] {
            world
                .manager
                .socket(world.now, nsp, SocketOptions::default())
                .unwrap();
        }
        world.manager.socket_of("/c").unwrap()
    }
}

#[test]
fn refused_connect_makes_the_socket_inactive_and_never_retries() {
    let mut world = World::new(polling_config(), 1);
    world.policy = Box::new(|packet| match packet {
        Packet::Connect { nsp, .. } => vec![Packet::ConnectError {
            nsp: nsp.clone(),
            data: raw(r#"{"message":"not authorized","data":{"code":4}}"#),
        }],
        _ => vec![],
    });
    let socket = world.socket("/admin", auth(r#"{"token":"bad"}"#));
    assert_eq!(
        world.take_events(),
        [
            Event::Open { connection: c(1) },
            // The last active socket went away: the manager closes on purpose...
            Event::Close(DisconnectReason::ForcedClose),
            Event::ConnectError {
                socket,
                error: ConnectError::Refused {
                    message: Some("not authorized".into()),
                    data: Some(raw(r#"{"code":4}"#)),
                },
                active: false,
            },
        ]
    );
    assert!(!world.manager.active(socket).unwrap());
    assert!(!world.manager.is_open());
    // ...and never reconnects.
    world.advance(Duration::from_secs(600));
    assert_eq!(world.sessions, 1);
    assert!(world.take_events().is_empty());
    // connect() tries again, on a fresh connection.
    world.manager.connect(world.now, socket).unwrap();
    world.run();
    assert_eq!(world.sessions, 2);
}

#[test]
fn a_connect_answer_without_sid_is_a_connect_error() {
    let mut world = World::new(polling_config(), 1);
    world.policy = Box::new(|packet| match packet {
        Packet::Connect { nsp, .. } => vec![Packet::Connect {
            nsp: nsp.clone(),
            data: None,
        }],
        _ => vec![],
    });
    let socket = world.socket("/", SocketOptions::default());
    assert_eq!(
        world.take_events(),
        [
            Event::Open { connection: c(1) },
            Event::ConnectError {
                socket,
                error: ConnectError::InvalidAnswer,
                active: true
            }
        ]
    );
}

// ----- events and acks ---------------------------------------------------------------------

#[test]
fn events_and_acks_both_ways_text_and_binary() {
    let (mut world, socket) = connected(SocketOptions::default());
    let now = world.now;
    // Client → server, with an ack, text then binary.
    let a = world
        .manager
        .emit(now, socket, ev("hello", &("x", 1)), EmitOptions::with_ack())
        .unwrap()
        .unwrap();
    let b = world
        .manager
        .emit(
            now,
            socket,
            ev("upload", &Binary::from(vec![1u8, 2, 3])),
            EmitOptions::with_ack(),
        )
        .unwrap()
        .unwrap();
    let plain = world
        .manager
        .emit(now, socket, ev("fire", &()), EmitOptions::default())
        .unwrap();
    assert_eq!((a, b, plain), (AckId(0), AckId(1), None));
    world.run();
    let received = world.take_received();
    assert_eq!(
        received
            .iter()
            .map(|p| p.encode().unwrap().text().to_string())
            .collect::<Vec<_>>(),
        [
            r#"20["hello","x",1]"#,
            r#"51-1["upload",{"_placeholder":true,"num":0}]"#,
            r#"2["fire"]"#
        ]
    );
    let Packet::Event { event, .. } = &received[1] else {
        panic!()
    };
    let (bytes,): (Binary,) = event.args().unwrap();
    assert_eq!(&bytes[..], &[1, 2, 3]);

    // Server acks: text for the first, binary for the second (in the other order).
    world.server_send(&Packet::ack(
        "/",
        1,
        Args::new(&Binary::from(vec![9u8])).unwrap(),
    ));
    world.server_send(&Packet::ack("/", 0, Args::new(&("ok",)).unwrap()));
    world.run();
    let events = world.take_events();
    let [
        Event::AckReceived {
            ack: first,
            args: binary_args,
            ..
        },
        Event::AckReceived {
            ack: second,
            args: text_args,
            ..
        },
    ] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!((*first, *second), (b, a));
    let (nine,): (Binary,) = binary_args.deserialize().unwrap();
    assert_eq!(&nine[..], &[9]);
    assert_eq!(text_args.json(), r#"["ok"]"#);

    // Server → client: an event wanting an answer, and a binary one.
    world.server_send(&Packet::event("/", Some(7), ev("question", &("why",))));
    world.server_send(&Packet::event(
        "/",
        None,
        ev("file", &Binary::from(vec![4u8])),
    ));
    world.run();
    let events = world.take_events();
    let [
        Event::Received {
            event: question,
            ack_id: Some(7),
            ..
        },
        Event::Received {
            event: file,
            ack_id: None,
            ..
        },
    ] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!(question.name(), "question");
    let (four,): (Binary,) = file.args().unwrap();
    assert_eq!(&four[..], &[4]);
    // The client answers, once with text and (for another question) with binary.
    world
        .manager
        .ack(world.now, socket, 7, Args::new(&("because",)).unwrap())
        .unwrap();
    world
        .manager
        .ack(
            world.now,
            socket,
            8,
            Args::new(&Binary::from(vec![5u8])).unwrap(),
        )
        .unwrap();
    world.run();
    assert_eq!(
        world.take_received_text(),
        [r#"37["because"]"#, r#"61-8[{"_placeholder":true,"num":0}]"#]
    );
    // An ack for an unknown id is ignored.
    world.server_send(&Packet::ack("/", 99, Args::empty()));
    world.run();
    assert!(world.take_events().is_empty());
}

#[test]
fn ack_timeout_fails_the_ack_and_a_late_answer_is_ignored() {
    let (mut world, socket) = connected(SocketOptions {
        ack_timeout: Some(ms(5000)),
        ..SocketOptions::default()
    });
    let now = world.now;
    let per_emit = world
        .manager
        .emit(
            now,
            socket,
            ev("slow", &()),
            EmitOptions::with_ack().timeout(ms(1000)),
        )
        .unwrap()
        .unwrap();
    let default = world
        .manager
        .emit(now, socket, ev("slower", &()), EmitOptions::with_ack())
        .unwrap()
        .unwrap();
    world.run();
    assert_eq!(world.manager.poll_timeout(), Some(now + ms(1000)));
    world.advance(ms(999));
    assert!(world.take_events().is_empty());
    world.advance(ms(1));
    assert_eq!(
        world.take_events(),
        [Event::AckFailed {
            socket,
            ack: per_emit,
            error: AckError::Timeout
        }]
    );
    world.server_send(&Packet::ack("/", per_emit.0, Args::empty()));
    world.run();
    assert!(world.take_events().is_empty());
    world.advance(ms(4000));
    assert_eq!(
        world.take_events(),
        [Event::AckFailed {
            socket,
            ack: default,
            error: AckError::Timeout
        }]
    );
    assert_eq!(AckError::Timeout.to_string(), "operation has timed out");
}

#[test]
fn a_buffered_emit_that_times_out_is_never_sent() {
    let mut world = World::new(polling_config(), 1);
    world.down = true;
    let socket = world.socket("/", SocketOptions::default());
    let ack = world
        .manager
        .emit(
            world.now,
            socket,
            ev("late", &()),
            EmitOptions::with_ack().timeout(ms(500)),
        )
        .unwrap()
        .unwrap();
    assert_eq!(world.manager.buffered(socket).unwrap(), 1);
    world.advance(ms(500));
    assert!(world.take_events().contains(&Event::AckFailed {
        socket,
        ack,
        error: AckError::Timeout
    }));
    assert_eq!(world.manager.buffered(socket).unwrap(), 0);
    world.down = false;
    world.advance(Duration::from_secs(10));
    assert!(world.manager.connected(socket).unwrap());
    assert_eq!(world.take_received_text(), ["0"]);
}

// ----- disconnections -------------------------------------------------------------------------

#[test]
fn server_disconnect_is_final_for_the_socket() {
    let mut world = World::new(polling_config(), 1);
    let main = world.socket("/", SocketOptions::default());
    let chat = world.socket("/chat", SocketOptions::default());
    world.take_events();
    let now = world.now;
    let pending = world
        .manager
        .emit(now, chat, ev("q", &()), EmitOptions::with_ack())
        .unwrap()
        .unwrap();
    world.run();
    world.server_send(&Packet::Disconnect {
        nsp: "/chat".into(),
    });
    world.run();
    assert_eq!(
        world.take_events(),
        [
            Event::Disconnect {
                socket: chat,
                connection: c(1),
                reason: DisconnectReason::IoServerDisconnect
            },
            Event::AckFailed {
                socket: chat,
                ack: pending,
                error: AckError::Disconnected
            },
        ]
    );
    assert!(!world.manager.active(chat).unwrap());
    // The other namespace and the connection stay up.
    assert!(world.manager.connected(main).unwrap() && world.manager.is_open());
    // The server closing the last namespace closes the manager, without reconnection.
    world.server_send(&Packet::Disconnect { nsp: "/".into() });
    world.run();
    assert_eq!(
        world.take_events(),
        [
            Event::Close(DisconnectReason::ForcedClose),
            Event::Disconnect {
                socket: main,
                connection: c(1),
                reason: DisconnectReason::IoServerDisconnect
            },
        ]
    );
    world.advance(Duration::from_secs(60));
    assert_eq!(world.sessions, 1);
}

#[test]
fn client_disconnect_sends_disconnect_and_closes_the_manager() {
    let mut world = World::new(polling_config(), 1);
    let main = world.socket("/", SocketOptions::default());
    let chat = world.socket("/chat", SocketOptions::default());
    world.take_events();
    world.take_received();
    world.manager.disconnect(world.now, chat).unwrap();
    world.run();
    assert_eq!(world.take_received_text(), ["1/chat,"]);
    assert_eq!(
        world.take_events(),
        [Event::Disconnect {
            socket: chat,
            connection: c(1),
            reason: DisconnectReason::IoClientDisconnect
        }]
    );
    assert!(world.manager.is_open());
    world.manager.disconnect(world.now, main).unwrap();
    world.run();
    assert_eq!(world.take_received_text(), ["1"]);
    assert_eq!(
        world.take_events(),
        [
            Event::Close(DisconnectReason::ForcedClose),
            Event::Disconnect {
                socket: main,
                connection: c(1),
                reason: DisconnectReason::IoClientDisconnect
            },
        ]
    );
    // The close packet reached the server.
    assert!(world.server.as_ref().is_none_or(|s| s.is_closed()));
    world.advance(Duration::from_secs(60));
    assert_eq!(world.sessions, 1);
}

#[test]
fn transport_loss_reports_the_transport_reason_and_keeps_the_socket_active() {
    let (mut world, socket) = connected(SocketOptions::default());
    world.kill();
    let events = world.take_events();
    assert_eq!(
        events,
        [
            Event::Error(CloseReason::TransportError),
            Event::Close(DisconnectReason::TransportError),
            Event::Disconnect {
                socket,
                connection: c(1),
                reason: DisconnectReason::TransportError
            },
        ]
    );
    assert!(world.manager.active(socket).unwrap());
    assert!(!world.manager.connected(socket).unwrap());
    assert!(world.manager.is_reconnecting());
    world.advance(Duration::from_secs(5));
    assert!(world.manager.connected(socket).unwrap());
}

#[test]
fn server_close_is_transport_close_and_silence_is_ping_timeout() {
    let (mut world, socket) = connected(SocketOptions::default());
    let now = world.now;
    world
        .server
        .as_mut()
        .unwrap()
        .close(now, CloseReason::TransportClose);
    world.run();
    assert_eq!(
        world.take_events(),
        [
            Event::Close(DisconnectReason::TransportClose),
            Event::Disconnect {
                socket,
                connection: c(1),
                reason: DisconnectReason::TransportClose
            },
        ]
    );
    world.advance(Duration::from_secs(5));
    assert!(world.manager.connected(socket).unwrap());
    world.take_events();
    // The server vanishes without a word: no ping for pingInterval + pingTimeout.
    world.server = None;
    world.advance(Duration::from_secs(45));
    let events = world.take_events();
    assert_eq!(
        &events[..2],
        [
            Event::Close(DisconnectReason::PingTimeout),
            Event::Disconnect {
                socket,
                connection: c(2),
                reason: DisconnectReason::PingTimeout
            },
        ]
    );
}

#[test]
fn a_parse_error_closes_and_reconnects() {
    let (mut world, socket) = connected(SocketOptions::default());
    world
        .server
        .as_mut()
        .unwrap()
        .send_text("9garbage")
        .unwrap();
    world.run();
    assert_eq!(
        world.take_events(),
        [
            Event::Close(DisconnectReason::ParseError),
            Event::Disconnect {
                socket,
                connection: c(1),
                reason: DisconnectReason::ParseError
            },
        ]
    );
    world.advance(Duration::from_secs(5));
    assert!(world.manager.connected(socket).unwrap());
}

#[test]
fn manager_close_is_forced_close_without_reconnection() {
    let (mut world, socket) = connected(SocketOptions::default());
    world.manager.close(world.now);
    world.run();
    assert_eq!(
        world.take_events(),
        [
            Event::Close(DisconnectReason::ForcedClose),
            Event::Disconnect {
                socket,
                connection: c(1),
                reason: DisconnectReason::ForcedClose
            },
        ]
    );
    // The socket is still active (socket.io-client: only socket.disconnect() deactivates).
    assert!(world.manager.active(socket).unwrap());
    world.advance(Duration::from_secs(60));
    assert_eq!(world.sessions, 1);
}

// ----- reconnection --------------------------------------------------------------------------

#[test]
fn reconnection_schedule_is_exact_for_a_seed_and_capped_at_delay_max() {
    // socket.io-client's backo2.js, fed the same random numbers (splitmix64 seed 42),
    // gives these delays for 1000 ms, factor 0.5, max 5000 ms.
    const EXPECTED: [u64; 6] = [1370, 2159, 3443, 5000, 5000, 5000];
    let mut world = World::new(
        ManagerConfig {
            reconnection_attempts: Some(6),
            ..polling_config()
        },
        42,
    );
    world.down = true;
    let start = world.now;
    let socket = world.socket("/", SocketOptions::default());
    world.advance(Duration::from_secs(120));
    let attempts: Vec<_> = world
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::ReconnectAttempt(_)))
        .map(|(at, _)| *at)
        .collect();
    // Every attempt fails at once, so each delay runs from the previous failure.
    let mut previous = start;
    let delays: Vec<u64> = attempts
        .iter()
        .map(|at| {
            let delay = (*at - previous).as_millis() as u64;
            previous = *at;
            delay
        })
        .collect();
    assert_eq!(delays, EXPECTED);
    let events = world.take_events();
    assert_eq!(reconnect_attempts(&events), [1, 2, 3, 4, 5, 6]);
    // The first failure, then one attempt: error, connect_error, reconnect_error.
    assert_eq!(
        &events[..5],
        [
            Event::Error(CloseReason::TransportError),
            Event::ConnectError {
                socket,
                error: ConnectError::Transport(CloseReason::TransportError),
                active: true
            },
            Event::ReconnectAttempt(1),
            Event::Error(CloseReason::TransportError),
            Event::ConnectError {
                socket,
                error: ConnectError::Transport(CloseReason::TransportError),
                active: true
            },
        ]
    );
    assert_eq!(
        events[5],
        Event::ReconnectError(CloseReason::TransportError)
    );
    // After the sixth attempt: reconnect_failed, then that attempt's reconnect_error
    // (socket.io-client's order), and nothing more.
    assert_eq!(
        &events[events.len() - 2..],
        [
            Event::ReconnectFailed,
            Event::ReconnectError(CloseReason::TransportError)
        ]
    );
    assert!(!world.manager.is_reconnecting() && world.manager.poll_timeout().is_none());
    assert!(world.manager.active(socket).unwrap());
    assert!(!world.manager.connected(socket).unwrap());
}

#[test]
fn a_successful_reconnection_reports_the_attempt_count_and_resets_the_backoff() {
    let (mut world, socket) = connected(auth(r#"{"token":"t1"}"#));
    world.down = true;
    world.kill();
    world.advance(Duration::from_secs(3)); // attempts 1 (1370 ms) fails, 2 waits 2159 ms
    world.down = false;
    world.take_events();
    world.advance(Duration::from_secs(10));
    let events = world.take_events();
    assert_eq!(
        events,
        [
            Event::ReconnectAttempt(2),
            Event::Open { connection: c(3) },
            Event::Reconnect(2),
            Event::Connect {
                socket,
                connection: c(3),
                sid: "sid2".into(),
                recovered: false
            },
        ]
    );
    // The backoff starts over: the next loss waits the first delay again.
    world.kill();
    let lost = world.now;
    world.advance(Duration::from_secs(10));
    let first = world
        .events
        .iter()
        .find(|(_, e)| matches!(e, Event::ReconnectAttempt(1)))
        .map(|(at, _)| *at - lost)
        .unwrap();
    assert!(first <= ms(1500), "{first:?}");
}

#[test]
fn the_connect_timeout_fails_an_attempt() {
    let mut config = polling_config();
    config.engine.handshake_timeout = ms(3000);
    config.reconnection = false;
    let mut world = World::new(config, 1);
    world.down = true;
    // Requests vanish instead of failing: stop delivering anything.
    let socket = world
        .manager
        .socket(world.now, "/", SocketOptions::default())
        .unwrap();
    while world.manager.poll_transmit().is_some() {}
    world.manager.handle_timeout(world.now + ms(3000));
    let mut events = Vec::new();
    while let Some(e) = world.manager.poll_event() {
        events.push(e);
    }
    assert_eq!(
        events,
        [
            Event::Error(CloseReason::HandshakeTimeout),
            Event::ConnectError {
                socket,
                error: ConnectError::Transport(CloseReason::HandshakeTimeout),
                active: true
            },
        ]
    );
    // No reconnection configured: nothing more is scheduled.
    assert_eq!(world.manager.poll_timeout(), None);
}

#[test]
fn auth_is_resent_on_every_reconnection_and_can_be_refreshed() {
    let (mut world, socket) = connected(auth(r#"{"token":"t1"}"#));
    world.kill();
    world.advance(Duration::from_secs(5));
    assert_eq!(world.take_received_text(), [r#"0{"token":"t1"}"#]);
    // A driver computing auth per attempt swaps it when the attempt starts.
    world.kill();
    world.down = true;
    world.advance(ms(1));
    world.down = false;
    loop {
        world.advance(ms(100));
        if world
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::ReconnectAttempt(_)))
        {
            break;
        }
    }
    world
        .manager
        .set_auth(socket, Some(raw(r#"{"token":"t2"}"#)))
        .unwrap();
    world.advance(Duration::from_secs(10));
    let texts = world.take_received_text();
    assert_eq!(texts.last().unwrap(), r#"0{"token":"t2"}"#);
    assert!(world.manager.set_auth(socket, Some(raw("1"))).is_err());
}

#[test]
fn responses_of_a_previous_connection_are_ignored() {
    let (mut world, _socket) = connected(SocketOptions::default());
    let (first, _) = world.manager.connection().unwrap();
    world.kill();
    world.advance(Duration::from_secs(5));
    let (second, _) = world.manager.connection().unwrap();
    assert_ne!(first, second);
    world.take_events();
    let now = world.now;
    world
        .manager
        .handle_get_response(
            now,
            first,
            halyard_engine::engineio::RequestId(1),
            200,
            bytes::Bytes::from_static(b"6"),
        )
        .unwrap();
    world
        .manager
        .handle_request_failed(now, first, halyard_engine::engineio::RequestId(2))
        .unwrap();
    world.run();
    assert!(
        world
            .take_events()
            .iter()
            .all(|e| !matches!(e, Event::Close(_)))
    );
    assert!(world.manager.is_open());
}

// ----- buffers -------------------------------------------------------------------------------

#[test]
fn emits_while_disconnected_are_flushed_in_order_after_reconnect_and_volatile_ones_dropped() {
    let (mut world, socket) = connected(SocketOptions::default());
    world.kill();
    world.take_events();
    let now = world.now;
    for n in 1..=3 {
        world
            .manager
            .emit(now, socket, ev("msg", &(n,)), EmitOptions::default())
            .unwrap();
    }
    let dropped = world
        .manager
        .emit(
            now,
            socket,
            ev("volatile", &()),
            EmitOptions::with_ack().volatile(),
        )
        .unwrap()
        .unwrap();
    world
        .manager
        .emit(
            now,
            socket,
            ev("volatile", &()),
            EmitOptions::default().volatile(),
        )
        .unwrap();
    assert_eq!(world.manager.buffered(socket).unwrap(), 3);
    world.run();
    assert_eq!(
        world.take_events(),
        [Event::AckFailed {
            socket,
            ack: dropped,
            error: AckError::Dropped
        }]
    );
    world.advance(Duration::from_secs(5));
    assert_eq!(
        world.take_received_text(),
        ["0", r#"2["msg",1]"#, r#"2["msg",2]"#, r#"2["msg",3]"#]
    );
    // A volatile emit while connected goes out.
    world
        .manager
        .emit(
            world.now,
            socket,
            ev("volatile", &()),
            EmitOptions::default().volatile(),
        )
        .unwrap();
    world.run();
    assert_eq!(world.take_received_text(), [r#"2["volatile"]"#]);
}

#[test]
fn emits_before_the_first_connect_wait_for_it() {
    let mut world = World::new(
        ManagerConfig {
            auto_connect: false,
            ..polling_config()
        },
        1,
    );
    let socket = world
        .manager
        .socket(world.now, "/", SocketOptions::default())
        .unwrap();
    assert!(!world.manager.active(socket).unwrap());
    let ack = world
        .manager
        .emit(world.now, socket, ev("early", &()), EmitOptions::with_ack())
        .unwrap()
        .unwrap();
    world.run();
    assert_eq!(world.sessions, 0);
    world.manager.connect(world.now, socket).unwrap();
    assert!(world.manager.active(socket).unwrap());
    world.run();
    assert_eq!(world.take_received_text(), ["0", r#"20["early"]"#]);
    world.server_send(&Packet::ack("/", ack.0, Args::empty()));
    world.run();
    assert!(world.take_events().contains(&Event::AckReceived {
        socket,
        connection: c(1),
        ack,
        args: Args::empty()
    }));
}

#[test]
fn events_before_the_connect_answer_are_delivered_before_connect() {
    let mut world = World::new(polling_config(), 1);
    world.policy = Box::new(|packet| match packet {
        Packet::Connect { nsp, .. } => vec![
            Packet::event(nsp.clone(), None, SioEvent::new("early", &(1,)).unwrap()),
            Packet::event(nsp.clone(), Some(3), SioEvent::new("asks", &()).unwrap()),
            connect_ok(nsp, "abc", None),
        ],
        _ => vec![],
    });
    let socket = world.socket("/", SocketOptions::default());
    let events = world.take_events();
    let names: Vec<String> = events
        .iter()
        .map(|e| match e {
            Event::Received { event, ack_id, .. } => format!("{}:{ack_id:?}", event.name()),
            Event::Connect { sid, .. } => format!("connect:{sid}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        [
            "Open { connection: ConnectionId(1) }",
            "early:None",
            "asks:Some(3)",
            "connect:abc"
        ]
    );
    assert!(world.manager.connected(socket).unwrap());
}

// ----- the retries queue ---------------------------------------------------------------------

fn retrying() -> SocketOptions {
    SocketOptions {
        retries: Some(2),
        ack_timeout: Some(ms(1000)),
        ..SocketOptions::default()
    }
}

#[test]
fn retries_keep_one_packet_in_flight_in_order_and_give_up_after_the_last_try() {
    let (mut world, socket) = connected(retrying());
    let now = world.now;
    let first = world
        .manager
        .emit(now, socket, ev("a", &()), EmitOptions::with_ack())
        .unwrap()
        .unwrap();
    let second = world
        .manager
        .emit(now, socket, ev("b", &()), EmitOptions::default())
        .unwrap();
    assert_eq!(second, None);
    world.run();
    // Only the first is on the wire, with an ack id even for an emit without callback.
    assert_eq!(world.take_received_text(), [r#"20["a"]"#]);
    assert_eq!(world.manager.queued(socket).unwrap(), 2);
    world.advance(ms(1000));
    // Resent with a fresh ack id.
    assert_eq!(world.take_received_text(), [r#"22["a"]"#]);
    world.advance(ms(1000));
    assert_eq!(world.take_received_text(), [r#"23["a"]"#]);
    assert!(world.take_events().is_empty());
    // The third try times out: retries (2) exhausted, the ack fails, "b" goes.
    world.advance(ms(1000));
    assert_eq!(
        world.take_events(),
        [Event::AckFailed {
            socket,
            ack: first,
            error: AckError::Timeout
        }]
    );
    assert_eq!(world.take_received_text(), [r#"21["b"]"#]);
    // An ack for an earlier try of a finished packet changes nothing.
    world.server_send(&Packet::ack("/", 2, Args::empty()));
    world.run();
    assert_eq!(world.manager.queued(socket).unwrap(), 1);
    world.server_send(&Packet::ack("/", 1, Args::new(&("done",)).unwrap()));
    world.run();
    assert_eq!(world.manager.queued(socket).unwrap(), 0);
    // "b" had no callback: nothing to report.
    assert!(world.take_events().is_empty());
}

#[test]
fn retries_resend_after_a_drop_until_acknowledged() {
    let (mut world, socket) = connected(retrying());
    let now = world.now;
    let ack = world
        .manager
        .emit(now, socket, ev("important", &(1,)), EmitOptions::with_ack())
        .unwrap()
        .unwrap();
    world
        .manager
        .emit(now, socket, ev("next", &()), EmitOptions::default())
        .unwrap();
    world.run();
    assert_eq!(world.take_received_text(), [r#"20["important",1]"#]);
    // The connection drops before the ack: that try failed; the packet waits.
    world.kill();
    world.advance(ms(1500)); // the first reconnection delay for seed 42 is 1370 ms
    // After the reconnection the same packet goes again, first, with a fresh id.
    assert_eq!(world.take_received_text(), ["0", r#"22["important",1]"#]);
    world.server_send(&Packet::ack("/", 2, Args::new(&("ok",)).unwrap()));
    world.run();
    assert!(world.take_events().contains(&Event::AckReceived {
        socket,
        connection: c(2),
        ack,
        args: Args::new(&("ok",)).unwrap()
    }));
    assert_eq!(world.take_received_text(), [r#"21["next"]"#]);
}

#[test]
fn retries_without_ack_timeout_resend_on_reconnect() {
    let (mut world, socket) = connected(SocketOptions {
        retries: Some(1),
        ..SocketOptions::default()
    });
    world
        .manager
        .emit(world.now, socket, ev("x", &()), EmitOptions::default())
        .unwrap();
    world.run();
    assert_eq!(world.take_received_text(), [r#"20["x"]"#]);
    world.advance(Duration::from_secs(60));
    assert!(world.take_received().is_empty(), "no timer, no resend");
    world.kill();
    world.advance(Duration::from_secs(5));
    assert_eq!(world.take_received_text(), ["0", r#"21["x"]"#]);
}

// ----- connection state recovery -------------------------------------------------------------

#[test]
fn recovery_tracks_the_offset_sends_it_on_reconnect_and_reports_recovered() {
    let mut world = World::new(polling_config(), 1);
    let pid = std::rc::Rc::new(std::cell::Cell::new("p1"));
    let answer_pid = pid.clone();
    world.policy = Box::new(move |packet| match packet {
        Packet::Connect { nsp, .. } => vec![connect_ok(nsp, "s", Some(answer_pid.get()))],
        _ => vec![],
    });
    let socket = world.socket("/", auth(r#"{"token":"t"}"#));
    assert_eq!(world.take_received_text(), [r#"0{"token":"t"}"#]);
    assert_eq!(
        world.manager.recovery_state(socket).unwrap(),
        Some(("p1", None))
    );
    assert!(!world.manager.recovered(socket).unwrap());
    // Events without ack id carry the offset last; an event with an ack id does not count.
    world.server_send(&Packet::event("/", None, ev("news", &("a", "off-1"))));
    world.server_send(&Packet::event("/", None, ev("news", &("b", "off-2"))));
    world.server_send(&Packet::event("/", Some(1), ev("ask", &("not-an-offset",))));
    world.server_send(&Packet::event("/", None, ev("count", &(3,))));
    world.run();
    assert_eq!(
        world.manager.recovery_state(socket).unwrap(),
        Some(("p1", Some("off-2")))
    );
    world.take_events();
    world.kill();
    world.advance(Duration::from_secs(5));
    assert_eq!(
        world.take_received_text(),
        [r#"0{"pid":"p1","offset":"off-2","token":"t"}"#]
    );
    let connect = world
        .take_events()
        .into_iter()
        .find(|e| matches!(e, Event::Connect { .. }))
        .unwrap();
    assert_eq!(
        connect,
        Event::Connect {
            socket,
            connection: c(2),
            sid: "s".into(),
            recovered: true
        }
    );
    assert!(world.manager.recovered(socket).unwrap());
    // The server lost the session: a new pid, not recovered.
    pid.set("p2");
    world.kill();
    world.advance(Duration::from_secs(5));
    assert!(world.take_events().contains(&Event::Connect {
        socket,
        connection: c(3),
        sid: "s".into(),
        recovered: false
    }));
    assert!(!world.manager.recovered(socket).unwrap());
    assert_eq!(
        world.manager.recovery_state(socket).unwrap().unwrap().0,
        "p2"
    );
}

#[test]
fn offsets_of_events_received_before_connect_are_tracked_when_delivered() {
    let mut world = World::new(polling_config(), 1);
    world.policy = Box::new(|packet| match packet {
        Packet::Connect { nsp, data } => {
            let mut out = vec![connect_ok(nsp, "s", Some("p"))];
            if data.is_some() {
                // On recovery the server replays missed packets after the CONNECT answer.
                out.push(Packet::event(
                    nsp.clone(),
                    None,
                    SioEvent::new("missed", &("o-7",)).unwrap(),
                ));
            }
            out
        }
        _ => vec![],
    });
    let socket = world.socket("/", SocketOptions::default());
    world.kill();
    world.advance(Duration::from_secs(5));
    assert_eq!(
        world.take_received_text().last().unwrap(),
        r#"0{"pid":"p"}"#
    );
    assert_eq!(
        world.manager.recovery_state(socket).unwrap(),
        Some(("p", Some("o-7")))
    );
}

#[test]
fn every_server_ping_is_reported_once() {
    let (mut world, _socket) = connected(SocketOptions::default());
    world.take_events();
    // The server pings every 25 s (its default pingInterval): three pings in 80 s.
    world.advance(Duration::from_secs(80));
    let events = world.take_events();
    assert_eq!(events, [Event::Ping, Event::Ping, Event::Ping]);
}
