//! Runtime-neutral Socket.IO interop tests, written once and instantiated by each
//! runtime crate with [`socketio_tests!`](crate::socketio_tests): npm's
//! socket.io-client 4.8 (`interop/socketio-client-scenarios.js`) against [`app`], in
//! each transport mode.

#![allow(missing_docs, clippy::missing_panics_doc)]

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use std::sync::{Arc, Mutex};

use super::{
    AckSender, Binary, ConnectError, CorsOptions, CorsOrigins, HandlerId, Handshake, RawJson,
    Refused, Server, Socket,
};
use crate::test_support::{Answer, Harness, request};

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
        $crate::socketio_scenario!($harness, $interop, listeners);
        $crate::socketio_scenario!($harness, $interop, sails);
        $crate::socketio_scenario!($harness, $interop, refused);
        #[test]
        fn cors_headers_and_preflight() {
            $crate::socketio::test_support::cors_headers_and_preflight::<$harness>();
        }
        #[test]
        fn engineio_beside_socketio() {
            $crate::socketio::test_support::engineio_beside_socketio::<$harness>();
        }
        #[test]
        fn allow_request_refuses_handshakes() {
            $crate::socketio::test_support::allow_request_refuses_handshakes::<$harness>();
        }
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
/// - Handler management (`listeners`): `once` emits `once-fired` once; `multi` has two
///   handlers (`multi("first")`, `multi("second")`); `drop-second` removes the second
///   by its id; `drop-multi` removes both; `log` acks (and clears) what the catch-all
///   handlers saw (`pre:` from `prepend_any`, `any:` from `on_any`, `out:` from
///   `on_any_outgoing`); `off-any` removes the `on_any` and outgoing ones; `compress`
///   emits `compressed` with `compress(false)`.
/// - Sails' room operations (`sails`): `sails-join(sid, room)`, `sails-leave(sid,
///   room)`, `sails-leave-all(room)`, `sails-add(from, to)`, `sails-remove(from, to)`,
///   `sails-broadcast(room, event, data, omit)`, `sails-socket-broadcast(event, data)`,
///   `sails-blast(event, data, omit)`, and `rooms-of(sid)` acking that socket's rooms.
pub fn app(recovery: bool) -> Server {
    let mut builder = Server::builder()
        .ping_interval(Duration::from_millis(1000))
        .ping_timeout(Duration::from_millis(1000))
        // The `refused` scenario: a handshake with `refuse=1` in its query is refused.
        .allow_request(
            |parts| match parts.uri.query().unwrap_or("").contains("refuse=1") {
                true => Err(Refused::new("refused by allow_request")),
                false => Ok(()),
            },
        );
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

/// What the catch-all handlers of a socket saw (stored with `Socket::set_data`).
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, entry: String) {
        self.0.lock().expect("log").push(entry);
    }
}

/// The ids of the handlers `drop-second` and `off-any` remove.
#[derive(Clone, Copy)]
struct Ids {
    second: HandlerId,
    any: HandlerId,
    outgoing: HandlerId,
}

/// The handler-management handlers (`once`, `off`, catch-alls, `compress`, data).
fn listeners(socket: &Socket) {
    let log = Log::default();
    socket.set_data(log.clone());
    socket.once("once", |socket: Socket, (): ()| async move {
        socket.emit("once-fired", &()).await
    });
    socket.on("multi", |socket: Socket, (): ()| async move {
        socket.emit("multi", "first").await
    });
    let second = socket.on("multi", |socket: Socket, (): ()| async move {
        socket.emit("multi", "second").await
    });
    let seen = log.clone();
    let any = socket.on_any(move |_: Socket, event: super::Event| {
        seen.push(format!("any:{}", event.name()));
        async {}
    });
    let seen = log.clone();
    socket.prepend_any(move |_: Socket, event: super::Event| {
        seen.push(format!("pre:{}", event.name()));
        async {}
    });
    let seen = log;
    let outgoing = socket.on_any_outgoing(move |_: &Socket, event: &super::Event| {
        seen.push(format!("out:{}", event.name()));
    });
    socket.set_data(Ids {
        second,
        any,
        outgoing,
    });
    socket.on_with_ack(
        "drop-second",
        |socket: Socket, (): (), ack: AckSender| async move {
            let ids = socket.data::<Ids>().expect("ids");
            ack.send(&socket.off_handler(ids.second)).await
        },
    );
    socket.on_with_ack(
        "drop-multi",
        |socket: Socket, (): (), ack: AckSender| async move {
            socket.off("multi");
            ack.send(&()).await
        },
    );
    socket.on_with_ack("log", |socket: Socket, (): (), ack: AckSender| async move {
        let log = socket.data::<Log>().expect("log");
        let entries = std::mem::take(&mut *log.0.lock().expect("log"));
        ack.send(&entries).await
    });
    socket.on_with_ack(
        "off-any",
        |socket: Socket, (): (), ack: AckSender| async move {
            let ids = socket.data::<Ids>().expect("ids");
            let removed = socket.off_any(ids.any) && socket.off_any_outgoing(ids.outgoing);
            ack.send(&removed).await
        },
    );
    socket.on("compress", |socket: Socket, (): ()| async move {
        socket.compress(false).emit("compressed", &()).await
    });
}

/// Sails' room operations, each as its Halyard call (see the table in the crate docs).
fn sails(io: &Server, socket: &Socket) {
    let nsp = io.of(socket.nsp());
    let n = nsp.clone();
    socket.on_with_ack(
        "sails-join",
        move |_: Socket, (sid, room): (String, String), ack: AckSender| {
            let nsp = n.clone();
            async move {
                nsp.socket_join(&sid, [room]).await?;
                ack.send(&()).await
            }
        },
    );
    let n = nsp.clone();
    socket.on_with_ack(
        "sails-leave",
        move |_: Socket, (sid, room): (String, String), ack: AckSender| {
            let nsp = n.clone();
            async move {
                nsp.socket_leave(&sid, [room]).await?;
                ack.send(&()).await
            }
        },
    );
    let n = nsp.clone();
    socket.on_with_ack(
        "sails-leave-all",
        move |_: Socket, (room,): (String,), ack: AckSender| {
            let nsp = n.clone();
            async move {
                nsp.in_(room).sockets_leave_all().await?;
                ack.send(&()).await
            }
        },
    );
    let n = nsp.clone();
    socket.on_with_ack(
        "sails-add",
        move |_: Socket, (from, to): (String, String), ack: AckSender| {
            let nsp = n.clone();
            async move {
                nsp.in_(from).sockets_join([to]).await?;
                ack.send(&()).await
            }
        },
    );
    let n = nsp.clone();
    socket.on_with_ack(
        "sails-remove",
        move |_: Socket, (from, to): (String, String), ack: AckSender| {
            let nsp = n.clone();
            async move {
                nsp.in_(from).sockets_leave([to]).await?;
                ack.send(&()).await
            }
        },
    );
    let n = nsp.clone();
    socket.on_with_ack(
        "sails-broadcast",
        move |_: Socket,
              (room, event, data, omit): (String, String, Value, String),
              ack: AckSender| {
            let nsp = n.clone();
            async move {
                nsp.to(room).except(omit).emit(&event, &data).await?;
                ack.send(&()).await
            }
        },
    );
    socket.on_with_ack(
        "sails-socket-broadcast",
        |socket: Socket, (event, data): (String, Value), ack: AckSender| async move {
            socket.broadcast().emit(&event, &data).await?;
            ack.send(&()).await
        },
    );
    let n = nsp.clone();
    socket.on_with_ack(
        "sails-blast",
        move |_: Socket, (event, data, omit): (String, Value, String), ack: AckSender| {
            let nsp = n.clone();
            async move {
                match omit.is_empty() {
                    true => nsp.emit(&event, &data).await?,
                    false => nsp.except(omit).emit(&event, &data).await?,
                }
                ack.send(&()).await
            }
        },
    );
    socket.on_with_ack(
        "rooms-of",
        move |_: Socket, (sid,): (String,), ack: AckSender| {
            let nsp = nsp.clone();
            async move {
                let rooms = nsp.socket(&sid).await?.map(|socket| {
                    let mut rooms = socket.rooms();
                    rooms.sort();
                    rooms
                });
                ack.send(&(rooms,)).await
            }
        },
    );
}

fn panics() {
    panic!("a handler panics (on purpose)")
}

fn handlers(io: &Server, socket: &Socket) {
    listeners(socket);
    sails(io, socket);
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

/// One HTTP/1.1 request with extra `headers`, on a fresh connection.
pub async fn request_with<H: Harness>(
    h: &H,
    addr: std::net::SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
) -> Answer {
    use http_body_util::{BodyExt, Full};
    let io = H::connect(addr).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .expect("HTTP handshake");
    crate::Runtime::spawn(&h.runtime(), async move {
        let _ = connection.await;
    });
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path_and_query)
        .header(http::header::HOST, addr.to_string());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(Full::new(bytes::Bytes::new()))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

const HANDSHAKE: &str = "/socket.io/?EIO=4&transport=polling";

/// The sid in a polling handshake's `0{…}` body.
fn sid_of(answer: &Answer) -> String {
    let open: Value = serde_json::from_str(&answer.text()[1..]).expect("OPEN packet");
    open["sid"].as_str().expect("sid").to_owned()
}

/// `cors(…)`: the CORS headers on polling answers (listed origins echoed, others
/// not), `OPTIONS` preflights answered `204`; `*` for any origin; none without it.
pub fn cors_headers_and_preflight<H: Harness>() {
    let h = H::new();
    h.block_on(async {
        let listed = h
            .listen(
                Server::builder()
                    // a poll of an idle session is answered by the next ping
                    .ping_interval(Duration::from_millis(100))
                    .cors(CorsOptions {
                        origins: CorsOrigins::List(vec!["http://ok.example".into()]),
                        credentials: true,
                        exposed_headers: vec!["x-served-by".into()],
                        max_age: Some(Duration::from_secs(600)),
                        ..CorsOptions::default()
                    })
                    .build(),
            )
            .await;
        let ok = [("origin", "http://ok.example")];
        let preflight = request_with(
            &h,
            listed,
            "OPTIONS",
            HANDSHAKE,
            &[
                ("origin", "http://ok.example"),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type"),
            ],
        )
        .await;
        assert_eq!(preflight.status, 204);
        assert_eq!(
            preflight.header("access-control-allow-origin"),
            Some("http://ok.example")
        );
        assert_eq!(
            preflight.header("access-control-allow-credentials"),
            Some("true")
        );
        assert_eq!(
            preflight.header("access-control-allow-methods"),
            Some("GET,HEAD,PUT,PATCH,POST,DELETE")
        );
        assert_eq!(
            preflight.header("access-control-allow-headers"),
            Some("content-type")
        );
        assert_eq!(preflight.header("access-control-max-age"), Some("600"));
        let open = request_with(&h, listed, "GET", HANDSHAKE, &ok).await;
        assert_eq!(open.status, 200, "{}", open.text());
        assert_eq!(
            open.header("access-control-allow-origin"),
            Some("http://ok.example")
        );
        assert_eq!(
            open.header("access-control-allow-credentials"),
            Some("true")
        );
        assert_eq!(
            open.header("access-control-expose-headers"),
            Some("x-served-by")
        );
        assert_eq!(open.header("vary"), Some("Origin"));
        // The session's own requests carry them too.
        let sid = sid_of(&open);
        let poll_path = format!("{HANDSHAKE}&sid={sid}");
        let poll = request_with(&h, listed, "GET", &poll_path, &ok).await;
        assert_eq!(poll.status, 200, "{}", poll.text());
        assert_eq!(
            poll.header("access-control-allow-origin"),
            Some("http://ok.example")
        );
        // Another origin gets no Access-Control-Allow-Origin.
        let evil = [("origin", "http://evil.example")];
        let other = request_with(&h, listed, "GET", HANDSHAKE, &evil).await;
        assert_eq!(other.header("access-control-allow-origin"), None);
        let other = request_with(&h, listed, "OPTIONS", HANDSHAKE, &evil).await;
        assert_eq!(other.status, 204);
        assert_eq!(other.header("access-control-allow-origin"), None);

        let any = h
            .listen(Server::builder().cors(CorsOptions::default()).build())
            .await;
        let open = request_with(&h, any, "GET", HANDSHAKE, &evil).await;
        assert_eq!(open.status, 200);
        assert_eq!(open.header("access-control-allow-origin"), Some("*"));
        assert_eq!(open.header("access-control-allow-credentials"), None);
        // Not under the path: not ours, no CORS.
        let elsewhere = request_with(&h, any, "OPTIONS", "/other", &evil).await;
        assert_eq!(elsewhere.status, 404);

        let plain = h.listen(Server::new()).await;
        let open = request_with(&h, plain, "GET", HANDSHAKE, &ok).await;
        assert_eq!(open.status, 200);
        assert_eq!(open.header("access-control-allow-origin"), None);
        let preflight = request_with(&h, plain, "OPTIONS", HANDSHAKE, &ok).await;
        assert_ne!(preflight.status, 204, "no preflight answers without cors");
    });
}

/// `allow_request`/`allow_request_async`: a refused handshake gets `403` with
/// `{"code":4,"message":…}` and no session; an accepted one opens a session whose
/// later requests are not checked again.
pub fn allow_request_refuses_handshakes<H: Harness>() {
    let h = H::new();
    h.block_on(async {
        let io = Server::builder()
            .allow_request(|parts| match parts.headers.contains_key("x-token") {
                true => Ok(()),
                false => Err(Refused::default()),
            })
            .cors(CorsOptions::default())
            .build();
        let addr = h.listen(io.clone()).await;
        let refused = request(&h, addr, "GET", HANDSHAKE, "").await;
        assert_eq!(refused.status, 403);
        assert_eq!(refused.text(), r#"{"code":4,"message":"Forbidden"}"#);
        assert_eq!(refused.header("content-type"), Some("application/json"));
        assert_eq!(
            refused.header("access-control-allow-origin"),
            Some("*"),
            "a refusal carries the CORS headers (the browser can read it)"
        );
        assert_eq!(
            io.connection_count(),
            0,
            "no session for a refused handshake"
        );
        let open = request_with(&h, addr, "GET", HANDSHAKE, &[("x-token", "1")]).await;
        assert_eq!(open.status, 200, "{}", open.text());
        let sid = sid_of(&open);
        let poll = request(&h, addr, "POST", &format!("{HANDSHAKE}&sid={sid}"), "40").await;
        assert_eq!(
            poll.status, 200,
            "an open session's requests are not checked"
        );

        let io = Server::builder()
            .allow_request_async(|parts| {
                let query = parts.uri.query().unwrap_or("").to_owned();
                async move {
                    match query.contains("pass=yes") {
                        true => Ok(()),
                        false => Err(Refused::new("go away")),
                    }
                }
            })
            .build();
        let addr = h.listen(io).await;
        let refused = request(&h, addr, "GET", HANDSHAKE, "").await;
        assert_eq!(refused.status, 403);
        assert_eq!(refused.text(), r#"{"code":4,"message":"go away"}"#);
        let open = request(&h, addr, "GET", &format!("{HANDSHAKE}&pass=yes"), "").await;
        assert_eq!(open.status, 200, "{}", open.text());
    });
}

/// [`Routed`](crate::Routed): a raw Engine.IO server (an echo) at `/engine.io/` and the
/// Socket.IO server at `/socket.io/` on one listener; `404` elsewhere.
pub fn engineio_beside_socketio<H: Harness>() {
    let h = H::new();
    h.block_on(async {
        let io = Server::new();
        io.on_connection(|socket: Socket| async move {
            let _ = socket.emit("hi", &()).await;
        });
        let eio = crate::EngineIoServer::builder().build();
        let _closed = crate::test_support::spawn_echo(&h, &eio);
        let addr = h.listen(crate::Routed::new(io.clone(), eio.clone())).await;

        let sid = crate::test_support::handshake(&h, addr).await;
        let url = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        let post = request(&h, addr, "POST", &url, "4hello").await;
        assert_eq!((post.status, post.text()), (200, "ok"));
        let get = request(&h, addr, "GET", &url, "").await;
        assert_eq!(
            (get.status, get.text()),
            (200, "4hello"),
            "the Engine.IO echo"
        );
        assert_eq!(eio.session_count(), 1);

        let open = request(&h, addr, "GET", HANDSHAKE, "").await;
        assert_eq!(open.status, 200, "{}", open.text());
        let sid = sid_of(&open);
        let url = format!("{HANDSHAKE}&sid={sid}");
        let post = request(&h, addr, "POST", &url, "40").await;
        assert_eq!((post.status, post.text()), (200, "ok"));
        let mut got = String::new();
        while !got.contains("42[\"hi\"]") {
            let get = request(&h, addr, "GET", &url, "").await;
            assert_eq!(get.status, 200, "{}", get.text());
            got.push_str(get.text());
        }
        assert!(got.starts_with("40{\"sid\":"), "{got}");
        assert_eq!(io.connection_count(), 1);
        assert_eq!(eio.session_count(), 1, "each server has its own sessions");

        let elsewhere = request(&h, addr, "GET", "/other/?EIO=4&transport=polling", "").await;
        assert_eq!(elsewhere.status, 404);
    });
}
