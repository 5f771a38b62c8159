//! Property: whatever a server sends (valid packets for known and unknown namespaces,
//! acks for unknown ids, binary frames out of place, garbage), interleaved with client
//! commands, time and network failures, the client manager never panics and keeps its
//! state consistent: a connected socket is active and its manager open.

mod socketio_client_common;

use std::time::Duration;

use bytes::Bytes;
use halyard_engine::socketio::client::{EmitOptions, ManagerConfig, SocketId, SocketOptions};
use halyard_protocol::socketio::{Args, Event as SioEvent};
use proptest::prelude::*;
use socketio_client_common::*;

#[derive(Debug, Clone)]
enum Op {
    ServerText(String),
    ServerBinary(Vec<u8>),
    Emit {
        socket: u8,
        ack: bool,
        volatile: bool,
        timeout: Option<u16>,
        binary: bool,
    },
    Ack(u8, u8),
    Connect(u8),
    Disconnect(u8),
    Advance(u16),
    Kill,
    Down(bool),
}

fn nsp() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(""), Just("/chat,"), Just("/other,"), Just("/chat")]
}

fn json() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(r#"{"sid":"abc"}"#.to_owned()),
        Just(r#"{"sid":"abc","pid":"p"}"#.to_owned()),
        Just(r#"{"message":"no","data":[1]}"#.to_owned()),
        Just(r#""text""#.to_owned()),
        Just(r#"["ev","a","off"]"#.to_owned()),
        Just(r#"["ev",{"_placeholder":true,"num":0}]"#.to_owned()),
        Just(r#"[{"_placeholder":true,"num":0}]"#.to_owned()),
        Just("[]".to_owned()),
        Just(r#"["connect"]"#.to_owned()),
        "[ -~]{0,12}",
    ]
}

fn server_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u8..7, prop::option::of(1u8..3), nsp(), prop::option::of(0u8..6), json()).prop_map(
            |(kind, attachments, nsp, id, json)| {
                let mut text = kind.to_string();
                if let Some(n) = attachments.filter(|_| kind == 5 || kind == 6) {
                    text.push_str(&format!("{n}-"));
                }
                text.push_str(nsp);
                if let Some(id) = id {
                    text.push_str(&id.to_string());
                }
                text.push_str(&json);
                text
            }
        ),
        1 => "[ -~]{0,16}",
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => server_text().prop_map(Op::ServerText),
        1 => prop::collection::vec(any::<u8>(), 0..4).prop_map(Op::ServerBinary),
        3 => (0u8..2, any::<bool>(), any::<bool>(), prop::option::of(1u16..3000), any::<bool>())
            .prop_map(|(socket, ack, volatile, timeout, binary)| Op::Emit {
                socket,
                ack,
                volatile,
                timeout,
                binary
            }),
        1 => (0u8..2, 0u8..6).prop_map(|(s, id)| Op::Ack(s, id)),
        1 => (0u8..2).prop_map(Op::Connect),
        1 => (0u8..2).prop_map(Op::Disconnect),
        3 => (0u16..8000).prop_map(Op::Advance),
        1 => Just(Op::Kill),
        1 => any::<bool>().prop_map(Op::Down),
    ]
}

fn check(world: &World, sockets: &[SocketId]) {
    for &socket in sockets {
        let m = &world.manager;
        if m.connected(socket).unwrap() {
            assert!(m.active(socket).unwrap(), "connected but inactive");
            assert!(m.is_open(), "connected without an open connection");
            assert!(m.id(socket).unwrap().is_some());
        }
    }
    if let Some(deadline) = world.manager.poll_timeout() {
        assert!(deadline > world.now, "an expired deadline was left behind");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_server_packets_and_commands_never_panic(
        seed in any::<u64>(),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let mut world = World::new(
            ManagerConfig {
                reconnection_attempts: Some(4),
                ..polling_config()
            },
            seed,
        );
        let main = world.socket("/", SocketOptions::default());
        let chat = world.socket(
            "/chat",
            SocketOptions {
                retries: Some(1),
                ack_timeout: Some(Duration::from_millis(700)),
                ..SocketOptions::default()
            },
        );
        let sockets = [main, chat];
        for op in ops {
            let now = world.now;
            match op {
                Op::ServerText(text) => {
                    if let Some(server) = world.server.as_mut() {
                        let _ = server.send_text(&text);
                    }
                }
                Op::ServerBinary(bytes) => {
                    if let Some(server) = world.server.as_mut() {
                        let _ = server.send_binary(Bytes::from(bytes));
                    }
                }
                Op::Emit { socket, ack, volatile, timeout, binary } => {
                    let event = if binary {
                        SioEvent::new("bin", &halyard_protocol::Binary::from(vec![1u8])).unwrap()
                    } else {
                        SioEvent::new("msg", &(1, "x")).unwrap()
                    };
                    let options = EmitOptions {
                        ack,
                        volatile,
                        timeout: timeout.map(|t| Duration::from_millis(u64::from(t))),
                    };
                    world.manager.emit(now, sockets[socket as usize], event, options).unwrap();
                }
                Op::Ack(socket, id) => {
                    world
                        .manager
                        .ack(now, sockets[socket as usize], u64::from(id), Args::empty())
                        .unwrap();
                }
                Op::Connect(socket) => world.manager.connect(now, sockets[socket as usize]).unwrap(),
                Op::Disconnect(socket) => {
                    world.manager.disconnect(now, sockets[socket as usize]).unwrap()
                }
                Op::Advance(ms) => world.advance(Duration::from_millis(u64::from(ms))),
                Op::Kill => world.kill(),
                Op::Down(down) => world.down = down,
            }
            world.run();
            check(&world, &sockets);
        }
        // Whatever happened, a reachable server and enough time bring an active socket back.
        world.down = false;
        world.policy = accept_all();
        if world.manager.active(main).unwrap() && world.manager.is_reconnecting() {
            world.advance(Duration::from_secs(30));
            check(&world, &sockets);
        }
    }
}
