//! Runtime-neutral Socket.IO interop tests, written once and instantiated by each
//! runtime crate with [`socketio_tests!`](crate::socketio_tests): npm's
//! socket.io-client 4.8 (`interop/socketio-client-scenarios.js`) against [`app`], in
//! each transport mode.

#![allow(missing_docs, clippy::missing_panics_doc)]

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AckSender, Binary, ConnectError, Handshake, RawJson, Server, Socket};
use crate::test_support::{Harness, request};

/// Instantiates every Socket.IO interop scenario for a [`Harness`], as modules named
/// after the scenarios with one test per transport mode (`rooms::websocket`…).
#[macro_export]
macro_rules! socketio_tests {
    ($harness:ty, $interop:expr) => {
        $crate::socketio_scenario!($harness, $interop, namespaces);
        $crate::socketio_scenario!($harness, $interop, middleware);
        $crate::socketio_scenario!($harness, $interop, binary);
        $crate::socketio_scenario!($harness, $interop, acks);
        $crate::socketio_scenario!($harness, $interop, rooms);
        $crate::socketio_scenario!($harness, $interop, disconnect);
        $crate::socketio_scenario!($harness, $interop, reconnect);
        $crate::socketio_scenario!($harness, $interop, server);
        $crate::socketio_scenario!($harness, $interop, recovery);
        #[test]
        fn client_bundle() {
            $crate::socketio::test_support::client_bundle::<$harness>($interop);
        }
    };
}

/// One scenario of [`socketio_tests!`](crate::socketio_tests) in the three modes.
#[macro_export]
macro_rules! socketio_scenario {
    ($harness:ty, $interop:expr, $name:ident) => {
        mod $name {
            use super::*;
            #[test]
            fn polling() {
                $crate::socketio::test_support::interop::<$harness>(
                    $interop,
                    stringify!($name),
                    "polling",
                );
            }
            #[test]
            fn websocket() {
                $crate::socketio::test_support::interop::<$harness>(
                    $interop,
                    stringify!($name),
                    "websocket",
                );
            }
            #[test]
            fn upgrade() {
                $crate::socketio::test_support::interop::<$harness>(
                    $interop,
                    stringify!($name),
                    "upgrade",
                );
            }
        }
    };
}

#[derive(Deserialize)]
struct Auth {
    token: Option<String>,
}

#[derive(Serialize)]
struct Nested {
    inner: Inner,
}

#[derive(Serialize)]
struct Inner {
    label: &'static str,
    bytes: Binary,
}

/// The server the scenarios run against. `recovery` turns connection state recovery on.
///
/// - `/`: every handler below; `/admin`: a middleware wanting `{"token":"secret"}`
///   (else `unauthorized` with data `{"code":401,"reason":"bad token"}`), a `welcome`
///   with the namespace and auth, then the handlers; `/dyn-*`: dynamic, `welcome`.
/// - Events: `sum(a, b)` acks `a + b`; `bin(name, bytes)` acks the length and emits
///   `bin-back(name, reversed, {inner: {label, bytes}})`; `bin-ack(bytes)` acks the
///   bytes; `ask` asks the client `question("life")` and emits `answer-was(answer)`,
///   then `no-answer` with a 200 ms timeout and emits `timed-out(error)`; `poll-all`
///   broadcasts `poll` with acks and acks the answers; `join(room)`; `shout(room,
///   except, msg)` to the room but the sender and `except`; `announce(room, msg)` to
///   the room; `gather(room, except, to)` makes `room` minus `except` join `to`;
///   `count` acks the number of sockets; `kick(close)`; `drop` closes the transport;
///   `drop-and-emit(room)` closes it then emits `missed` to the room; `whoami` acks
///   the handshake's `lang` query parameter, `x-halyard` header, whether the address is
///   known, and `recovered`; `io-emit(text)` emits `everyone(text)` to all;
///   `disconnect-room(room)` disconnects the room's sockets; `shutdown` closes the
///   server; `my-rooms` acks the socket's rooms; `leave(room)`; `scatter(room)` makes
///   everyone leave the room; `panic` panics. Every socket leaving is reported to the
///   room `observers` as `leaving(sid, rooms)` (on disconnecting, rooms still there)
///   then `left(sid, reason)`.
pub fn app(recovery: bool) -> Server {
    let mut builder = Server::builder()
        .ping_interval(Duration::from_millis(1000))
        .ping_timeout(Duration::from_millis(1000));
    if recovery {
        builder = builder.connection_state_recovery(Duration::from_secs(10));
    }
    let io = builder.build();

    let app = io.clone();
    io.of("/").on_connection(move |socket: Socket| {
        let io = app.clone();
        async move {
            let _ = socket.emit("welcome", "/").await;
            handlers(&io, &socket);
        }
    });

    let admin = io.of("/admin");
    admin.use_(|_: Handshake, auth: RawJson| async move {
        match auth.deserialize::<Auth>() {
            Ok(Auth {
                token: Some(token), ..
            }) if token == "secret" => Ok(()),
            _ => Err(ConnectError::new("unauthorized")
                .with_data(RawJson::new(r#"{"code":401,"reason":"bad token"}"#).expect("JSON"))),
        }
    });
    let app = io.clone();
    admin.on_connection(move |socket: Socket| {
        let io = app.clone();
        async move {
            let auth: Value = socket.handshake().auth_as().unwrap_or(Value::Null);
            let _ = socket.emit("welcome", &("/admin", auth)).await;
            handlers(&io, &socket);
        }
    });

    let app = io.clone();
    let dynamic = io.of_dynamic(|name, _| name.starts_with("/dyn-"));
    let parent = dynamic.clone();
    dynamic.on_connection(move |socket: Socket| {
        let io = app.clone();
        let parent = parent.clone();
        async move {
            let _ = socket.emit("welcome", socket.nsp()).await;
            handlers(&io, &socket);
            // A broadcast on the parent reaches every child namespace.
            socket.on_with_ack(
                "dyn-broadcast",
                move |_: Socket, (text,): (String,), ack: AckSender| {
                    let parent = parent.clone();
                    async move {
                        parent.emit("all-dyn", &text).await?;
                        ack.send(&()).await
                    }
                },
            );
        }
    });
    io
}

fn panics() {
    panic!("a handler panics (on purpose)")
}

fn handlers(io: &Server, socket: &Socket) {
    socket.on_with_ack(
        "sum",
        |_: Socket, (a, b): (i64, i64), ack: AckSender| async move { ack.send(&(a + b)).await },
    );
    socket.on_with_ack(
        "bin",
        |socket: Socket, (name, bytes): (String, Binary), ack: AckSender| async move {
            ack.send(&(bytes.len(),)).await?;
            let reversed: Vec<u8> = bytes.iter().rev().copied().collect();
            let nested = Nested {
                inner: Inner {
                    label: "orig",
                    bytes,
                },
            };
            socket
                .emit("bin-back", &(name, Binary::from(reversed), nested))
                .await
        },
    );
    socket.on_with_ack(
        "bin-ack",
        |_: Socket, (bytes,): (Binary,), ack: AckSender| async move { ack.send(&bytes).await },
    );
    socket.on("ask", |socket: Socket, (): ()| async move {
        let (answer,): (String,) = socket.emit_with_ack("question", "life").await?;
        socket.emit("answer-was", &answer).await?;
        let late = socket
            .timeout(Duration::from_millis(200))
            .emit_with_ack::<_, Value>("no-answer", &())
            .await;
        let error = late.expect_err("the client never answers").to_string();
        socket.emit("timed-out", &error).await
    });
    let app = io.clone();
    socket.on_with_ack("poll-all", move |_: Socket, (): (), ack: AckSender| {
        let io = app.clone();
        async move {
            let answers: Vec<(String,)> = io
                .timeout(Duration::from_secs(2))
                .emit_with_ack("poll", &())
                .await?;
            let answers: Vec<String> = answers.into_iter().map(|(a,)| a).collect();
            ack.send(&answers).await
        }
    });
    socket.on_with_ack(
        "join",
        |socket: Socket, (room,): (String,), ack: AckSender| async move {
            socket.join(&room);
            ack.send(&()).await
        },
    );
    socket.on_with_ack(
        "shout",
        |socket: Socket, (room, except, msg): (String, String, String), ack: AckSender| async move {
            socket.to(room).except(except).emit("shout", &msg).await?;
            ack.send(&()).await
        },
    );
    let app = io.clone();
    socket.on_with_ack(
        "announce",
        move |_: Socket, (room, msg): (String, String), ack: AckSender| {
            let io = app.clone();
            async move {
                io.to(room).emit("announce", &msg).await?;
                ack.send(&()).await
            }
        },
    );
    let app = io.clone();
    socket.on_with_ack(
        "gather",
        move |_: Socket, (room, except, to): (String, String, String), ack: AckSender| {
            let io = app.clone();
            async move {
                io.in_(room).except(except).sockets_join([to]).await?;
                ack.send(&()).await
            }
        },
    );
    let app = io.clone();
    socket.on_with_ack("count", move |_: Socket, (): (), ack: AckSender| {
        let io = app.clone();
        async move {
            let sockets = io.fetch_sockets().await?;
            ack.send(&sockets.len()).await
        }
    });
    socket.on("kick", |socket: Socket, (close,): (bool,)| async move {
        socket.disconnect(close).await
    });
    socket.on("drop", |socket: Socket, (): ()| async move {
        socket.close_connection().await
    });
    let app = io.clone();
    socket.on(
        "drop-and-emit",
        move |socket: Socket, (room,): (String,)| {
            let io = app.clone();
            async move {
                socket.close_connection().await?;
                io.to(room).emit("missed", "while away").await
            }
        },
    );
    socket.on_with_ack(
        "whoami",
        |socket: Socket, (): (), ack: AckSender| async move {
            let handshake = socket.handshake();
            let who = serde_json::json!({
                "lang": handshake.query_param("lang"),
                "header": handshake.header("x-halyard"),
                "address": handshake.address().is_some(),
                "recovered": socket.recovered(),
            });
            ack.send(&who).await
        },
    );
    let app = io.clone();
    socket.on_with_ack(
        "io-emit",
        move |_: Socket, (text,): (String,), ack: AckSender| {
            let io = app.clone();
            async move {
                io.emit("everyone", &text).await?;
                ack.send(&()).await
            }
        },
    );
    let app = io.clone();
    socket.on_with_ack(
        "disconnect-room",
        move |_: Socket, (room,): (String,), ack: AckSender| {
            let io = app.clone();
            async move {
                io.in_(room).disconnect_sockets(false).await?;
                ack.send(&()).await
            }
        },
    );
    socket.on_with_ack(
        "my-rooms",
        |socket: Socket, (): (), ack: AckSender| async move {
            let mut rooms = socket.rooms();
            rooms.sort();
            ack.send(&rooms).await
        },
    );
    socket.on_with_ack(
        "leave",
        |socket: Socket, (room,): (String,), ack: AckSender| async move {
            socket.leave(&room);
            ack.send(&()).await
        },
    );
    let app = io.clone();
    socket.on_with_ack(
        "scatter",
        move |_: Socket, (room,): (String,), ack: AckSender| {
            let io = app.clone();
            async move {
                io.sockets_leave([room]).await?;
                ack.send(&()).await
            }
        },
    );
    socket.on("panic", |_: Socket, (): ()| async move { panics() });
    let app = io.clone();
    socket.on_disconnecting(move |socket: Socket, _| {
        let io = app.clone();
        async move {
            let mut rooms = socket.rooms();
            rooms.sort();
            let _ = io
                .to("observers")
                .emit("leaving", &(socket.id(), rooms))
                .await;
        }
    });
    socket.on_with_ack(
        "volatile",
        |socket: Socket, (n,): (u32,), ack: AckSender| async move {
            for i in 0..n {
                socket.volatile().emit("v", &i).await?;
            }
            ack.send(&()).await
        },
    );
    let app = io.clone();
    socket.on("shutdown", move |_: Socket, (): ()| {
        let io = app.clone();
        async move { io.close().await }
    });
    let app = io.clone();
    socket.on_disconnect(move |socket: Socket, reason| {
        let io = app.clone();
        async move {
            let _ = io
                .to("observers")
                .emit("left", &(socket.id(), reason.as_str()))
                .await;
        }
    });
}

/// Runs `interop/socketio-client-scenarios.js` (npm's socket.io-client 4.8) for
/// `scenario` in `mode` (`polling`, `websocket`, `upgrade`) against [`app`] served on
/// this runtime.
pub fn interop<H: Harness>(interop_dir: &str, scenario: &str, mode: &str) {
    let dir = Path::new(interop_dir);
    assert!(
        dir.join("node_modules/socket.io-client").is_dir(),
        "interop/node_modules is missing: run `npm ci --prefix interop` first (looked in {})",
        dir.display()
    );
    let h = H::new();
    let server = app(scenario == "recovery");
    let addr = h.block_on(h.listen(server));
    let output = std::process::Command::new("node")
        .arg(dir.join("socketio-client-scenarios.js"))
        .arg(format!("http://{addr}"))
        .arg(mode)
        .arg(scenario)
        .output()
        .expect("node must be installed to run the interop tests");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "socket.io-client ({scenario}, {mode}) failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
}

/// `GET /socket.io/socket.io.js` serves the bundle the builder names, and nothing
/// without one.
pub fn client_bundle<H: Harness>(interop_dir: &str) {
    let file = Path::new(interop_dir).join("node_modules/socket.io-client/dist/socket.io.js");
    let expected = std::fs::read(&file).unwrap_or_else(|error| {
        panic!(
            "{}: {error} (run `npm ci --prefix interop` first)",
            file.display()
        )
    });
    let h = H::new();
    h.block_on(async {
        let served = h
            .listen(Server::builder().client_bundle(&file).build())
            .await;
        let answer = request(&h, served, "GET", "/socket.io/socket.io.js", "").await;
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.header("content-type"),
            Some("application/javascript; charset=utf-8")
        );
        assert_eq!(answer.body, expected);
        let plain = h.listen(Server::new()).await;
        let answer = request(&h, plain, "GET", "/socket.io/socket.io.js", "").await;
        assert_ne!(answer.status, 200, "no bundle unless asked for");
    });
}
