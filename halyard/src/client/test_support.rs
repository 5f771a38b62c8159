//! Runtime-neutral tests of the clients, instantiated by each runtime crate with
//! [`client_tests!`](crate::client_tests): our Socket.IO client against the fixture
//! server on npm's socket.io 4.8 (`interop/socketio-server.js`) and against the same
//! fixture on Halyard ([`fixture_server`](crate::fixture_server)), in each transport
//! mode; and the raw Engine.IO client against npm's engine.io and against ours.

#![allow(missing_docs, clippy::missing_panics_doc)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use bytes::Bytes;

use super::{
    AckSender, Auth, Binary, ClientBuilder, CloseReason, ConnectError, DisconnectReason,
    EngineIoClient, EngineIoClientBuilder, Error, Event, ManagerEvent, Socket, TransportKind,
};
use crate::Message;
use crate::fixture_server::fixture_server_with_transports;
use crate::runtime::Runtime;
use crate::test_support::{Harness, within};

/// Instantiates every client scenario for a [`Harness`]: one module per scenario, one
/// test per (server, transport mode): `rooms::node_websocket`, `rooms::halyard_upgrade`…
#[macro_export]
macro_rules! client_tests {
    ($harness:ty, $interop:expr) => {
        $crate::client_scenario!($harness, $interop, multiplex_query_and_headers);
        $crate::client_scenario!($harness, $interop, middleware_refusal);
        $crate::client_scenario!($harness, $interop, binary_both_ways);
        $crate::client_scenario!($harness, $interop, acks_both_ways);
        $crate::client_scenario!($harness, $interop, ack_timeout);
        $crate::client_scenario!($harness, $interop, rooms);
        $crate::client_scenario!($harness, $interop, reconnect_and_buffered_emits);
        $crate::client_scenario!($harness, $interop, server_disconnect);
        $crate::client_scenario!($harness, $interop, recovery);
        $crate::client_scenario!($harness, $interop, listeners);
        $crate::client_scenario!($harness, $interop, retries_in_order);
        $crate::client_scenario!($harness, $interop, auth_per_reconnection);
        $crate::client_scenario!($harness, $interop, manager_ping);
        $crate::client_scenario!($harness, $interop, engineio_echo);
        mod standalone {
            use super::*;
            #[test]
            fn reconnect_failed_after_attempts() {
                $crate::client::test_support::reconnect_failed_after_attempts::<$harness>();
            }
            #[test]
            fn dropping_every_handle_closes_the_connection() {
                $crate::client::test_support::dropping_every_handle_closes_the_connection::<$harness>();
            }
            #[test]
            fn halyard_fixture_passes_the_socket_io_client_checks() {
                $crate::client::test_support::halyard_fixture_passes_the_socket_io_client_checks::<$harness>($interop);
            }
            #[test]
            fn io_shares_managers_per_origin() {
                $crate::client::test_support::io_shares_managers_per_origin::<$harness>();
            }
            #[test]
            fn tls_polling() {
                $crate::client::test_support::tls::<$harness>(
                    $interop,
                    $crate::client::test_support::Mode::Polling,
                );
            }
            #[test]
            fn tls_websocket() {
                $crate::client::test_support::tls::<$harness>(
                    $interop,
                    $crate::client::test_support::Mode::WebSocket,
                );
            }
            #[test]
            fn tls_upgrade() {
                $crate::client::test_support::tls::<$harness>(
                    $interop,
                    $crate::client::test_support::Mode::Upgrade,
                );
            }
            #[test]
            fn tls_refuses_an_unknown_certificate() {
                $crate::client::test_support::tls_refuses_an_unknown_certificate::<$harness>(
                    $interop,
                );
            }
        }
    };
}

/// One scenario of [`client_tests!`](crate::client_tests) against both servers in the
/// three modes.
#[macro_export]
macro_rules! client_scenario {
    ($harness:ty, $interop:expr, $name:ident) => {
        mod $name {
            use super::*;
            use $crate::client::test_support::{Mode, Peer, scenario};
            #[test]
            fn node_polling() {
                scenario::<$harness>($interop, Peer::Node, Mode::Polling, stringify!($name));
            }
            #[test]
            fn node_websocket() {
                scenario::<$harness>($interop, Peer::Node, Mode::WebSocket, stringify!($name));
            }
            #[test]
            fn node_upgrade() {
                scenario::<$harness>($interop, Peer::Node, Mode::Upgrade, stringify!($name));
            }
            #[test]
            fn halyard_polling() {
                scenario::<$harness>($interop, Peer::Halyard, Mode::Polling, stringify!($name));
            }
            #[test]
            fn halyard_websocket() {
                scenario::<$harness>($interop, Peer::Halyard, Mode::WebSocket, stringify!($name));
            }
            #[test]
            fn halyard_upgrade() {
                scenario::<$harness>($interop, Peer::Halyard, Mode::Upgrade, stringify!($name));
            }
        }
    };
}

/// Which fixture server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// `interop/socketio-server.js`: npm's socket.io 4.8.
    Node,
    /// [`fixture_server`](crate::fixture_server): Halyard.
    Halyard,
}

/// How the client connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Long-polling only (the server allows polling only).
    Polling,
    /// WebSocket only (the server allows WebSocket only).
    WebSocket,
    /// Polling, then the upgrade to WebSocket.
    Upgrade,
}

impl Mode {
    fn transports(self) -> Vec<TransportKind> {
        match self {
            Mode::Polling => vec![TransportKind::Polling],
            Mode::WebSocket => vec![TransportKind::WebSocket],
            Mode::Upgrade => vec![TransportKind::Polling, TransportKind::WebSocket],
        }
    }
}

/// A Node process, killed when dropped.
pub struct NodeProcess(Child);

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `script` with `args` in `interop`, and reads the port from its
/// `listening <port>` line.
pub fn start_node(interop: &str, script: &str, args: &[&str]) -> (NodeProcess, u16) {
    let mut child = Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(interop)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node (run `npm ci --prefix interop` first)");
    let stdout = child.stdout.take().expect("piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the fixture's first line");
    let port = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (NodeProcess(child), port)
}

/// What a scenario runs with.
pub struct Ctx<'a, H: Harness> {
    pub h: &'a H,
    pub url: String,
    pub mode: Mode,
    pub peer: Peer,
}

impl<H: Harness> Ctx<'_, H> {
    /// A builder for `path` (a namespace) with the mode's transports, short
    /// reconnection delays without jitter, and a connection of its own.
    pub fn client(&self, nsp: &str) -> ClientBuilder<H::Runtime> {
        ClientBuilder::new(self.h.runtime(), format!("{}{nsp}", self.url))
            .transports(self.mode.transports())
            .reconnection_delay(Duration::from_millis(300))
            .reconnection_delay_max(Duration::from_millis(1000))
            .randomization_factor(0.0)
            .force_new(true)
    }

    /// Connects the socket `builder` makes, with a [`Recorder`] attached before it
    /// connects (so nothing is missed).
    pub fn open(&self, builder: ClientBuilder<H::Runtime>) -> (Socket, Recorder) {
        let socket = builder.auto_connect(false).connect().unwrap();
        let recorder = Recorder::attach(&socket);
        socket.connect();
        (socket, recorder)
    }

    /// Waits at most 10 s for `future`.
    pub async fn wait<T>(&self, what: &str, future: impl Future<Output = T>) -> T {
        match within(self.h, Duration::from_secs(10), future).await {
            Some(value) => value,
            None => panic!(
                "timed out waiting for {what} ({:?}, {:?})",
                self.peer, self.mode
            ),
        }
    }

    pub async fn sleep(&self, duration: Duration) {
        let rt = self.h.runtime();
        rt.sleep_until(rt.now() + duration).await;
    }
}

/// Every incoming event of a socket, as `(name, arguments as JSON)`, and its lifecycle.
pub struct Recorder {
    rx: async_channel::Receiver<(String, Value)>,
}

impl Recorder {
    /// Records `socket`'s events (`on_any`), connects, disconnects and connect errors
    /// (as `"@connect"`, `"@disconnect"` with the reason, `"@connect_error"` with the
    /// message).
    pub fn attach(socket: &Socket) -> Self {
        let (tx, rx) = async_channel::unbounded();
        let t = tx.clone();
        socket.on_any(move |_s: Socket, event: Event| {
            let t = t.clone();
            async move {
                // The arguments after the name (with the recovery offset the server
                // appends, as socket.io-client's listeners see it).
                let args = Value::Array(event.args::<Vec<Value>>().unwrap_or_default());
                let _ = t.send((event.name().to_owned(), args)).await;
            }
        });
        let t = tx.clone();
        socket.on_connect(move |s: Socket, ()| {
            let t = t.clone();
            async move {
                let _ = t
                    .send(("@connect".into(), json!({"recovered": s.recovered()})))
                    .await;
            }
        });
        let t = tx.clone();
        socket.on_disconnect(move |_s: Socket, reason: DisconnectReason| {
            let t = t.clone();
            async move {
                let _ = t.send(("@disconnect".into(), json!(reason.as_str()))).await;
            }
        });
        socket.on_connect_error(move |s: Socket, error: ConnectError| {
            let t = tx.clone();
            async move {
                let detail = match &error {
                    ConnectError::Refused { message, data } => json!({
                        "message": message,
                        "data": data.as_ref().map(|d| serde_json::from_str::<Value>(d.as_str()).unwrap()),
                        "active": s.active(),
                    }),
                    other => json!({ "transport": format!("{other:?}"), "active": s.active() }),
                };
                let _ = t.send(("@connect_error".into(), detail)).await;
            }
        });
        Self { rx }
    }

    /// The next record named `name` (others before it are skipped).
    pub async fn next_named(&self, name: &str) -> Value {
        loop {
            let (n, args) = self.rx.recv().await.expect("recorder closed");
            if n == name {
                return args;
            }
        }
    }

    /// The next record, whatever it is.
    pub async fn next(&self) -> (String, Value) {
        self.rx.recv().await.expect("recorder closed")
    }
}

/// Runs scenario `name` against `peer` in `mode`.
pub fn scenario<H: Harness>(interop: &str, peer: Peer, mode: Mode, name: &str) {
    let h = H::new();
    let transports = match mode {
        Mode::Polling => "polling",
        Mode::WebSocket => "websocket",
        Mode::Upgrade => "polling,websocket",
    };
    let engineio = name == "engineio_echo";
    let (_node, port) = match peer {
        Peer::Node => {
            let script = if engineio {
                "engineio-server.js"
            } else {
                "socketio-server.js"
            };
            let (node, port) = start_node(
                interop,
                script,
                &["--port", "0", "--transports", transports],
            );
            (Some(node), port)
        }
        Peer::Halyard if engineio => {
            let server = crate::EngineIoServer::builder()
                .transports(&mode.transports())
                .build();
            crate::test_support::spawn_echo(&h, &server);
            let addr: SocketAddr = h.block_on(h.listen(server));
            (None, addr.port())
        }
        Peer::Halyard => {
            let server = fixture_server_with_transports(&mode.transports());
            let addr: SocketAddr = h.block_on(h.listen(server));
            (None, addr.port())
        }
    };
    // `ws://` for WebSocket only, `http://` otherwise: both schemes reach the same
    // server.
    let scheme = if mode == Mode::WebSocket {
        "ws"
    } else {
        "http"
    };
    let ctx = Ctx {
        h: &h,
        url: format!("{scheme}://127.0.0.1:{port}"),
        mode,
        peer,
    };
    h.block_on(async {
        match name {
            "multiplex_query_and_headers" => multiplex_query_and_headers(&ctx).await,
            "middleware_refusal" => middleware_refusal(&ctx).await,
            "binary_both_ways" => binary_both_ways(&ctx).await,
            "acks_both_ways" => acks_both_ways(&ctx).await,
            "ack_timeout" => ack_timeout(&ctx).await,
            "rooms" => rooms(&ctx).await,
            "reconnect_and_buffered_emits" => reconnect_and_buffered_emits(&ctx).await,
            "server_disconnect" => server_disconnect(&ctx).await,
            "recovery" => recovery(&ctx).await,
            "listeners" => listeners(&ctx).await,
            "retries_in_order" => retries_in_order(&ctx).await,
            "auth_per_reconnection" => auth_per_reconnection(&ctx).await,
            "manager_ping" => manager_ping(&ctx).await,
            "engineio_echo" => engineio_echo(&ctx).await,
            other => panic!("no scenario {other}"),
        }
    });
}

fn secret() -> Auth {
    Auth::value(&json!({"token": "secret"})).unwrap()
}

/// `/` and `/custom` on one connection (same Engine.IO id), the auth, the query and the
/// extra header as the server saw them, and the transport of the first request.
pub async fn multiplex_query_and_headers<H: Harness>(ctx: &Ctx<'_, H>) {
    let (main, main_rec) = ctx.open(
        ctx.client("/")
            .query("room", "a b")
            .extra_header("x-test", "hello")
            .unwrap(),
    );
    let welcome = ctx
        .wait("welcome on /", main_rec.next_named("welcome"))
        .await;
    let custom = main
        .manager()
        .socket_with(
            "/custom",
            super::SocketOptions {
                auth: secret(),
                ..Default::default()
            },
        )
        .unwrap();
    let custom_rec = Recorder::attach(&custom);
    custom.connect();
    let custom_welcome = ctx
        .wait("welcome on /custom", custom_rec.next_named("welcome"))
        .await;
    let (w, c) = (&welcome[0], &custom_welcome[0]);
    assert_eq!(w["nsp"], "/");
    assert_eq!(c["nsp"], "/custom");
    assert_eq!(
        w["engine"], c["engine"],
        "both namespaces share the connection"
    );
    assert_ne!(w["id"], c["id"]);
    assert_eq!(c["auth"], json!({"token": "secret"}));
    assert_eq!(w["auth"], json!({}));
    assert_eq!(w["query"], json!({"room": "a b"}));
    assert_eq!(w["header"], "hello");
    let first = if ctx.mode == Mode::WebSocket {
        "websocket"
    } else {
        "polling"
    };
    assert_eq!(w["transport"], first);
    assert!(main.connected() && custom.connected());
    assert_eq!(main.id().as_deref(), w["id"].as_str());
    assert_eq!(custom.id().as_deref(), c["id"].as_str());
    // A second socket() of a namespace is the same socket.
    let again = main.manager().socket("/custom").unwrap();
    assert_eq!(again.id(), custom.id());
    main.manager().close();
}

/// A refused CONNECT: `connect_error` with the middleware's message and data, and the
/// socket gives up (inactive); the same client connects with the right auth.
pub async fn middleware_refusal<H: Harness>(ctx: &Ctx<'_, H>) {
    let (refused, rec) = ctx.open(
        ctx.client("/custom")
            .auth(Auth::value(&json!({"token": "wrong"})).unwrap()),
    );
    let error = ctx
        .wait("connect_error", rec.next_named("@connect_error"))
        .await;
    assert_eq!(
        error,
        json!({"message": "not authorized", "data": {"reason": "bad token"}, "active": false})
    );
    assert!(!refused.active() && !refused.connected());
    // An auth function is evaluated on every connect.
    let tries = Arc::new(Mutex::new(0));
    let counter = tries.clone();
    let (socket, rec) = ctx.open(ctx.client("/custom").auth(Auth::with(move || {
        *counter.lock().unwrap() += 1;
        json!({"token": "secret"})
    })));
    ctx.wait("connect", rec.next_named("@connect")).await;
    assert!(socket.active() && socket.connected());
    assert!(*tries.lock().unwrap() >= 1);
    refused.manager().close();
    socket.manager().close();
}

/// Binary attachments both ways, nested too.
pub async fn binary_both_ways<H: Harness>(ctx: &Ctx<'_, H>) {
    let (socket, rec) = ctx.open(ctx.client("/"));
    let (tx, rx) = async_channel::unbounded();
    socket.on(
        "echo",
        move |_s: Socket, (data, nested): (Binary, Value)| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((data, nested)).await;
            }
        },
    );
    let (btx, brx) = async_channel::unbounded();
    #[derive(serde::Deserialize)]
    struct Nested {
        nested: Binary,
    }
    socket.on(
        "binary",
        move |_s: Socket, (data, nested): (Binary, Nested)| {
            let btx = btx.clone();
            async move {
                let _ = btx.send((data, nested.nested)).await;
            }
        },
    );
    ctx.wait("welcome", rec.next_named("welcome")).await;
    let payload = Binary::from(vec![0u8, 1, 2, 255]);
    socket
        .emit("echo", &(payload.clone(), json!({"text": "é"})))
        .await
        .unwrap();
    let (data, nested) = ctx.wait("echo", rx.recv()).await.unwrap();
    assert_eq!(data, payload);
    assert_eq!(nested, json!({"text": "é"}));
    socket.emit("binary", &()).await.unwrap();
    let (a, b) = ctx.wait("binary", brx.recv()).await.unwrap();
    assert_eq!(&a[..], &[1, 2, 3, 4]);
    assert_eq!(&b[..], &[5, 6]);
    socket.manager().close();
}

/// Our acks (several arguments, binary) and the server's `emitWithAck` answered from a
/// client handler.
pub async fn acks_both_ways<H: Harness>(ctx: &Ctx<'_, H>) {
    let (socket, rec) = ctx.open(ctx.client("/"));
    socket.on_with_ack(
        "question",
        |_s: Socket, (q,): (String,), ack: AckSender| async move {
            assert!(ack.is_requested());
            ack.send(&(format!("{q}? 42"),)).await
        },
    );
    ctx.wait("welcome", rec.next_named("welcome")).await;
    let (a, b, bin): (u32, String, Binary) = ctx
        .wait(
            "ack",
            socket.emit_with_ack("echo_ack", &(7, "seven", Binary::from(vec![9u8]))),
        )
        .await
        .unwrap();
    assert_eq!((a, b.as_str(), &bin[..]), (7, "seven", &[9u8][..]));
    socket.emit("ask", &("meaning",)).await.unwrap();
    let answer = ctx.wait("answer", rec.next_named("answer")).await;
    assert_eq!(answer[0], "meaning? 42");
    socket.manager().close();
}

/// `timeout(d)` fails an unanswered ack with `Timeout`, and a disconnect fails a
/// pending one with `Disconnected`.
pub async fn ack_timeout<H: Harness>(ctx: &Ctx<'_, H>) {
    let (socket, rec) = ctx.open(ctx.client("/"));
    ctx.wait("welcome", rec.next_named("welcome")).await;
    let start = Instant::now();
    let result: Result<(), Error> = ctx
        .wait(
            "timeout",
            socket
                .timeout(Duration::from_millis(300))
                .emit_with_ack("no_ack", &()),
        )
        .await;
    assert_eq!(result, Err(Error::Timeout));
    assert!(start.elapsed() >= Duration::from_millis(300));
    let pending = socket.emit_with_ack::<_, ()>("no_ack", &());
    let s = socket.clone();
    let (result, ()) = futures_lite::future::zip(pending, async move {
        ctx.sleep(Duration::from_millis(100)).await;
        s.disconnect();
    })
    .await;
    assert_eq!(result, Err(Error::Disconnected));
    assert!(!socket.active());
}

/// `to(room)` excludes the sender; `to(room).except(other)` excludes a room.
pub async fn rooms<H: Harness>(ctx: &Ctx<'_, H>) {
    let (a, ra) = ctx.open(ctx.client("/"));
    let (b, rb) = ctx.open(ctx.client("/"));
    let (c, rc) = ctx.open(ctx.client("/"));
    for rec in [&ra, &rb, &rc] {
        ctx.wait("welcome", rec.next_named("welcome")).await;
    }
    let _: () = ctx
        .wait("join", a.emit_with_ack("join", &("r",)))
        .await
        .unwrap();
    let _: () = ctx
        .wait("join", b.emit_with_ack("join", &("r",)))
        .await
        .unwrap();
    let _: () = ctx
        .wait("join", b.emit_with_ack("join", &("x",)))
        .await
        .unwrap();
    let _: () = ctx
        .wait("to_room", a.emit_with_ack("to_room", &("r", "from a")))
        .await
        .unwrap();
    assert_eq!(
        ctx.wait("room_msg", rb.next_named("room_msg")).await[0],
        "from a"
    );
    let _: () = ctx
        .wait(
            "broadcast_except",
            c.emit_with_ack("broadcast_except", &("r", "x", "not b")),
        )
        .await
        .unwrap();
    assert_eq!(
        ctx.wait("room_msg", ra.next_named("room_msg")).await[0],
        "not b"
    );
    // b got nothing more, a nothing else: the next thing each sees is this echo.
    for (socket, rec) in [(&a, &ra), (&b, &rb)] {
        socket.emit("echo", &("mark",)).await.unwrap();
        let (name, args) = ctx.wait("echo", rec.next()).await;
        assert_eq!((name.as_str(), &args[0]), ("echo", &json!("mark")));
    }
    for s in [a, b, c] {
        s.manager().close();
    }
}

/// The server kills the transport: `disconnect` with `transport close`, the
/// reconnection events on the backoff schedule, `connect` again; emits made while
/// disconnected go out in order after the reconnection; volatile ones are dropped.
pub async fn reconnect_and_buffered_emits<H: Harness>(ctx: &Ctx<'_, H>) {
    let (socket, rec) = ctx.open(ctx.client("/"));
    let (etx, erx) = async_channel::unbounded();
    socket.manager().on_event(move |event| {
        let _ = etx.try_send((Instant::now(), event.clone()));
    });
    ctx.wait("welcome", rec.next_named("welcome")).await;
    socket.emit("kill", &()).await.unwrap();
    let reason = ctx.wait("disconnect", rec.next_named("@disconnect")).await;
    let lost = Instant::now();
    assert_eq!(reason, json!("transport close"));
    assert!(socket.active() && !socket.connected());
    for i in 0..5 {
        socket.emit("echo", &(i,)).await.unwrap();
    }
    socket
        .volatile()
        .emit("echo", &("volatile",))
        .await
        .unwrap();
    assert!(matches!(
        socket
            .volatile()
            .emit_with_ack::<_, ()>("echo_ack", &())
            .await,
        Err(Error::Dropped)
    ));
    let connect = ctx.wait("reconnect", rec.next_named("@connect")).await;
    let _ = connect;
    for i in 0..5 {
        let (name, args) = ctx.wait("echo", rec.next()).await;
        if name == "welcome" {
            // The welcome of the new connection may come first.
            let (name, args) = ctx.wait("echo", rec.next()).await;
            assert_eq!((name.as_str(), &args[0]), ("echo", &json!(i)));
            continue;
        }
        assert_eq!((name.as_str(), &args[0]), ("echo", &json!(i)));
    }
    let mut attempt_at = None;
    let mut saw = Vec::new();
    while let Ok((at, event)) = erx.try_recv() {
        if matches!(event, ManagerEvent::ReconnectAttempt(1)) {
            attempt_at = Some(at);
        }
        if !matches!(event, ManagerEvent::Ping) {
            saw.push(event);
        }
    }
    assert!(
        saw.contains(&ManagerEvent::ReconnectAttempt(1))
            && saw.contains(&ManagerEvent::Reconnect(1)),
        "{saw:?}"
    );
    // The first attempt waits reconnection_delay (300 ms, no jitter).
    let waited = attempt_at.unwrap().duration_since(lost);
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    socket.manager().close();
}

/// The server disconnects the socket: `io server disconnect`, and no reconnection.
pub async fn server_disconnect<H: Harness>(ctx: &Ctx<'_, H>) {
    let (socket, rec) = ctx.open(ctx.client("/"));
    ctx.wait("welcome", rec.next_named("welcome")).await;
    socket.emit("server_disconnect", &()).await.unwrap();
    let reason = ctx.wait("disconnect", rec.next_named("@disconnect")).await;
    assert_eq!(reason, json!("io server disconnect"));
    assert!(!socket.active() && !socket.connected());
    ctx.sleep(Duration::from_millis(600)).await;
    assert!(
        !socket.connected(),
        "no reconnection after a server disconnect"
    );
    // connect() joins again.
    socket.connect();
    ctx.wait("connect", rec.next_named("@connect")).await;
    assert!(socket.connected());
    socket.manager().close();
}

/// Connection state recovery: the transport is lost, the server broadcasts to the
/// socket's room meanwhile, and the reconnected socket is `recovered` with the missed
/// events, in order.
pub async fn recovery<H: Harness>(ctx: &Ctx<'_, H>) {
    let (socket, rec) = ctx.open(ctx.client("/"));
    let first = ctx.wait("welcome", rec.next_named("welcome")).await;
    assert_eq!(first[0]["recovered"], false);
    let id = socket.id().unwrap();
    socket.emit("kill_then_broadcast", &("r", 3)).await.unwrap();
    ctx.wait("disconnect", rec.next_named("@disconnect")).await;
    // As socket.io-client does, the events replayed before the CONNECT answer are
    // delivered first, then `connect`.
    let mut missed = Vec::new();
    let connect = loop {
        let (name, args) = ctx.wait("connect", rec.next()).await;
        match name.as_str() {
            "missed" => missed.push(args[0].clone()),
            "@connect" => break args,
            _ => {}
        }
    };
    assert_eq!(connect, json!({"recovered": true}));
    assert_eq!(missed, vec![json!(0), json!(1), json!(2)]);
    assert!(socket.recovered());
    assert_eq!(socket.id().unwrap(), id, "a recovered socket keeps its id");
    socket.manager().close();
}

/// `once`, `off`, `off_handler`, `listeners`, the catch-alls both ways, and a handler
/// whose arguments do not fit.
pub async fn listeners<H: Harness>(ctx: &Ctx<'_, H>) {
    let (socket, rec) = ctx.open(ctx.client("/"));
    let (tx, rx) = async_channel::unbounded::<String>();
    let t = tx.clone();
    let once = socket.once("echo", move |_s: Socket, (v,): (String,)| {
        let t = t.clone();
        async move {
            let _ = t.send(format!("once {v}")).await;
        }
    });
    let t = tx.clone();
    let on = socket.on("echo", move |_s: Socket, (v,): (String,)| {
        let t = t.clone();
        async move {
            let _ = t.send(format!("on {v}")).await;
        }
    });
    assert_eq!(socket.listeners("echo"), vec![once, on]);
    let outgoing = Arc::new(Mutex::new(Vec::new()));
    let out = outgoing.clone();
    let out_id =
        socket.on_any_outgoing(move |_s, event| out.lock().unwrap().push(event.name().to_owned()));
    assert_eq!(socket.listeners_any_outgoing(), vec![out_id]);
    ctx.wait("welcome", rec.next_named("welcome")).await;
    socket.emit("echo", &("1",)).await.unwrap();
    assert_eq!(ctx.wait("once", rx.recv()).await.unwrap(), "once 1");
    assert_eq!(ctx.wait("on", rx.recv()).await.unwrap(), "on 1");
    assert_eq!(socket.listeners("echo"), vec![on]);
    socket.emit("echo", &("2",)).await.unwrap();
    assert_eq!(ctx.wait("on", rx.recv()).await.unwrap(), "on 2");
    assert!(socket.off_handler(on));
    assert!(!socket.off_handler(on));
    socket.emit("echo", &("3",)).await.unwrap();
    ctx.wait("echo 3", rec.next_named("echo")).await;
    ctx.wait("echo 3", rec.next_named("echo")).await;
    ctx.wait("echo 3", rec.next_named("echo")).await;
    assert!(rx.try_recv().is_err(), "no handler left for echo");
    assert_eq!(*outgoing.lock().unwrap(), vec!["echo", "echo", "echo"]);
    assert!(socket.off_any_outgoing(Some(out_id)));
    // Arguments that do not fit: the server's ack gets an error object.
    socket.on_with_ack("question", |_s: Socket, (_n,): (u64,), ack: AckSender| async move {
        ack.send(&("unreachable",)).await
    });
    socket.emit("ask", &("not a number",)).await.unwrap();
    let answer = ctx.wait("answer", rec.next_named("answer")).await;
    assert!(
        answer[0]["error"]
            .as_str()
            .unwrap()
            .contains("invalid arguments"),
        "{answer}"
    );
    socket.off_all();
    assert!(socket.listeners("echo").is_empty() && socket.listeners_any().is_empty());
    socket.manager().close();
}

/// With `retries`, emits are delivered at least once, in order, one at a time: also
/// those made while the transport is down.
pub async fn retries_in_order<H: Harness>(ctx: &Ctx<'_, H>) {
    let (socket, rec) = ctx.open(
        ctx.client("/")
            .retries(3)
            .ack_timeout(Duration::from_millis(1500)),
    );
    ctx.wait("welcome", rec.next_named("welcome")).await;
    let acks: Vec<_> = (0..5)
        .map(|i| socket.emit_with_ack::<_, (u32,)>("echo_ack", &(i,)))
        .collect();
    for (i, ack) in acks.into_iter().enumerate() {
        assert_eq!(ctx.wait("ack", ack).await, Ok((i as u32,)));
    }
    // Emits queued while the transport is down go out after the reconnection.
    socket.emit("kill", &()).await.unwrap();
    ctx.wait("disconnect", rec.next_named("@disconnect")).await;
    let acks: Vec<_> = (10..13)
        .map(|i| socket.emit_with_ack::<_, (u32,)>("echo_ack", &(i,)))
        .collect();
    for (i, ack) in (10..).zip(acks) {
        assert_eq!(ctx.wait("ack after reconnection", ack).await, Ok((i,)));
    }
    // An emit whose ack never comes is tried retries + 1 times, then fails.
    let result = ctx
        .wait(
            "retries exhausted",
            socket
                .timeout(Duration::from_millis(200))
                .emit_with_ack::<_, ()>("no_ack", &()),
        )
        .await;
    assert_eq!(result, Err(Error::Timeout));
    socket.manager().close();
}

/// An auth function is evaluated again for the CONNECT after every reconnection.
pub async fn auth_per_reconnection<H: Harness>(ctx: &Ctx<'_, H>) {
    let calls = Arc::new(Mutex::new(0u32));
    let counter = calls.clone();
    let (socket, rec) = ctx.open(ctx.client("/custom").auth(Auth::with(move || {
        let mut n = counter.lock().unwrap();
        *n += 1;
        json!({"token": "secret", "n": *n})
    })));
    let first = ctx.wait("welcome", rec.next_named("welcome")).await;
    let n1 = first[0]["auth"]["n"].as_u64().unwrap();
    socket.emit("kill", &()).await.unwrap();
    ctx.wait("disconnect", rec.next_named("@disconnect")).await;
    let second = ctx.wait("welcome again", rec.next_named("welcome")).await;
    let n2 = second[0]["auth"]["n"].as_u64().unwrap();
    assert!(n2 > n1, "auth evaluated again: {n1} then {n2}");
    assert_eq!(second[0]["auth"]["token"], "secret");
    socket.manager().close();
}

/// The manager reports the server's heartbeat (`ping`), and `open`.
pub async fn manager_ping<H: Harness>(ctx: &Ctx<'_, H>) {
    let socket = ctx.client("/").auto_connect(false).connect().unwrap();
    let (tx, rx) = async_channel::unbounded();
    socket.manager().on_event(move |event| {
        let _ = tx.try_send(event.clone());
    });
    socket.connect();
    assert_eq!(
        ctx.wait("open", rx.recv()).await.unwrap(),
        ManagerEvent::Open
    );
    // The fixtures ping every second.
    loop {
        if ctx.wait("ping", rx.recv()).await.unwrap() == ManagerEvent::Ping {
            break;
        }
    }
    socket.manager().close();
    loop {
        if let ManagerEvent::Close(reason) = ctx.wait("close", rx.recv()).await.unwrap() {
            assert_eq!(reason, DisconnectReason::ForcedClose);
            break;
        }
    }
}

/// The raw Engine.IO client against an echo server (npm's engine.io, or ours): text and
/// binary messages both ways, the transport (upgraded when allowed), and a close by the
/// server.
pub async fn engineio_echo<H: Harness>(ctx: &Ctx<'_, H>) {
    let client = ctx
        .wait(
            "handshake",
            EngineIoClientBuilder::new(ctx.h.runtime(), ctx.url.clone())
                .transports(ctx.mode.transports())
                .connect(),
        )
        .await
        .unwrap();
    assert!(!client.sid().is_empty());
    echo_round(ctx, &client).await;
    if ctx.mode == Mode::Upgrade {
        let rt = ctx.h.runtime();
        let deadline = rt.now() + Duration::from_secs(5);
        while client.transport() != TransportKind::WebSocket && rt.now() < deadline {
            ctx.sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(client.transport(), TransportKind::WebSocket, "upgraded");
        echo_round(ctx, &client).await;
    } else {
        assert_eq!(client.transport(), ctx.mode.transports()[0]);
    }
    client.send(Message::Text("close".into())).await.unwrap();
    assert_eq!(ctx.wait("close", client.recv()).await, None);
    assert_eq!(client.close_reason(), Some(CloseReason::TransportClose));
}

async fn echo_round<H: Harness>(ctx: &Ctx<'_, H>, client: &EngineIoClient) {
    let text = Message::Text("hello é 🦀".into());
    let binary = Message::Binary(Bytes::from_static(&[0, 1, 2, 255]));
    client.send(text.clone()).await.unwrap();
    client.send(binary.clone()).await.unwrap();
    assert_eq!(ctx.wait("text echo", client.recv()).await, Some(text));
    assert_eq!(ctx.wait("binary echo", client.recv()).await, Some(binary));
}

/// Nothing listens: `connect_error` for the failed attempt, then the reconnection events
/// up to `reconnect_failed`, and the socket stays disconnected.
pub fn reconnect_failed_after_attempts<H: Harness>() {
    let h = H::new();
    h.block_on(async {
        // A port nothing listens on: bind one, note it, close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let socket = ClientBuilder::new(h.runtime(), format!("http://127.0.0.1:{port}/"))
            .reconnection_attempts(2)
            .reconnection_delay(Duration::from_millis(50))
            .randomization_factor(0.0)
            .auto_connect(false)
            .connect()
            .unwrap();
        let rec = Recorder::attach(&socket);
        let (tx, rx) = async_channel::unbounded();
        socket.manager().on_event(move |event| {
            let _ = tx.try_send(event.clone());
        });
        socket.connect();
        let error = within(
            &h,
            Duration::from_secs(10),
            rec.next_named("@connect_error"),
        )
        .await
        .expect("connect_error");
        assert_eq!(error["active"], true, "{error}");
        // socket.io-client 4.8's order, checked against it: each failed attempt gives
        // `error` then `reconnect_error`, and the last one `reconnect_failed` in between.
        let reason = CloseReason::TransportError;
        let expected = vec![
            ManagerEvent::Error(reason),
            ManagerEvent::ReconnectAttempt(1),
            ManagerEvent::Error(reason),
            ManagerEvent::ReconnectError(reason),
            ManagerEvent::ReconnectAttempt(2),
            ManagerEvent::Error(reason),
            ManagerEvent::ReconnectFailed,
            ManagerEvent::ReconnectError(reason),
        ];
        let mut seen = Vec::new();
        while seen.len() < expected.len() {
            let event = within(&h, Duration::from_secs(10), rx.recv())
                .await
                .expect("manager events")
                .unwrap();
            seen.push(event);
        }
        assert_eq!(seen, expected);
        // One `connect_error` per attempt, the socket still active (as in JavaScript).
        for _ in 0..2 {
            let error = within(
                &h,
                Duration::from_secs(10),
                rec.next_named("@connect_error"),
            )
            .await
            .expect("connect_error");
            assert_eq!(error["active"], true, "{error}");
        }
        assert!(!socket.connected());
    });
}

/// `io(url)` shares one manager per origin and path, unless `force_new` or
/// `multiplex(false)`; misuse is refused; a socket that is not connected buffers at most
/// `max_buffered` emits and drops volatile ones.
pub fn io_shares_managers_per_origin<H: Harness>() {
    let h = H::new();
    h.block_on(async {
        let io = |url: &str| {
            ClientBuilder::new(h.runtime(), url.to_owned())
                .auto_connect(false)
                .reconnection(false)
        };
        let a = io("http://127.0.0.1:9/").connect().unwrap();
        let b = io("http://127.0.0.1:9/chat").connect().unwrap();
        let c = io("http://127.0.0.1:9/").force_new(true).connect().unwrap();
        let d = io("http://127.0.0.1:9/")
            .multiplex(false)
            .connect()
            .unwrap();
        let e = io("http://127.0.0.1:9/").path("/other").connect().unwrap();
        assert!(a.manager().same(&b.manager()));
        assert!(!a.manager().same(&c.manager()));
        assert!(!a.manager().same(&d.manager()));
        assert!(!a.manager().same(&e.manager()));
        assert_eq!((a.nsp(), b.nsp()), ("/", "/chat"));
        assert!(matches!(
            io("localhost:9").connect(),
            Err(Error::InvalidUrl(_))
        ));
        assert!(matches!(
            a.manager().socket("chat"),
            Err(Error::InvalidNamespace(_))
        ));
        // A socket that is not connected buffers emits, up to max_buffered.
        let f = io("http://127.0.0.1:9/")
            .force_new(true)
            .max_buffered(3)
            .connect()
            .unwrap();
        for i in 0..3 {
            assert_eq!(f.emit("n", &(i,)).await, Ok(()));
        }
        assert_eq!(f.emit("n", &(3,)).await, Err(Error::BufferFull));
        assert_eq!(
            f.emit_with_ack::<_, ()>("n", &(4,)).await,
            Err(Error::BufferFull)
        );
        // Volatile emits are dropped, not buffered: the buffer being full does not matter.
        assert_eq!(f.volatile().emit("n", &(5,)).await, Ok(()));
        assert_eq!(
            f.volatile().emit_with_ack::<_, ()>("n", &(6,)).await,
            Err(Error::Dropped)
        );
        // Reserved names are refused before anything is sent.
        assert!(matches!(
            f.emit("connect", &()).await,
            Err(Error::Encode(_))
        ));
    });
}

#[cfg(feature = "tls")]
fn test_roots(interop: &str) -> super::TlsConfig {
    use futures_rustls::pki_types::CertificateDer;
    use futures_rustls::pki_types::pem::PemObject;
    use futures_rustls::rustls;
    let cert = CertificateDer::from_pem_file(format!("{interop}/tls/cert.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// `https://` (polling) and `wss://` through rustls, against npm's engine.io serving
/// HTTPS with the test certificate (`interop/tls/`).
#[cfg(feature = "tls")]
pub fn tls<H: Harness>(interop: &str, mode: Mode) {
    let h = H::new();
    let transports = match mode {
        Mode::Polling => "polling",
        Mode::WebSocket => "websocket",
        Mode::Upgrade => "polling,websocket",
    };
    let (_node, port) = start_node(
        interop,
        "engineio-server.js",
        &["--port", "0", "--transports", transports, "--tls"],
    );
    let ctx = Ctx {
        h: &h,
        url: format!(
            "{}://localhost:{port}",
            if mode == Mode::WebSocket {
                "wss"
            } else {
                "https"
            }
        ),
        mode,
        peer: Peer::Node,
    };
    h.block_on(async {
        let client = ctx
            .wait(
                "TLS handshake",
                EngineIoClientBuilder::new(h.runtime(), ctx.url.clone())
                    .transports(mode.transports())
                    .tls_config(test_roots(interop))
                    .connect(),
            )
            .await
            .unwrap();
        echo_round(&ctx, &client).await;
        if mode == Mode::Upgrade {
            let rt = h.runtime();
            let deadline = rt.now() + Duration::from_secs(5);
            while client.transport() != TransportKind::WebSocket && rt.now() < deadline {
                ctx.sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(client.transport(), TransportKind::WebSocket);
            echo_round(&ctx, &client).await;
        }
    });
}

/// The default roots (Mozilla's) do not trust the self-signed test certificate: the
/// handshake fails instead of going on unverified.
#[cfg(feature = "tls")]
pub fn tls_refuses_an_unknown_certificate<H: Harness>(interop: &str) {
    let h = H::new();
    let (_node, port) = start_node(interop, "engineio-server.js", &["--port", "0", "--tls"]);
    h.block_on(async {
        let result = within(
            &h,
            Duration::from_secs(10),
            EngineIoClientBuilder::new(h.runtime(), format!("https://localhost:{port}")).connect(),
        )
        .await
        .expect("the attempt ends");
        assert_eq!(
            result.err(),
            Some(Error::Connection(CloseReason::TransportError))
        );
    });
}

/// When every handle of a client is gone (its sockets, its manager, and the raw
/// Engine.IO client), its task closes the connection: the server sees the disconnect.
pub fn dropping_every_handle_closes_the_connection<H: Harness>() {
    let h = H::new();
    let io = crate::socketio::Server::builder().build();
    let (tx, rx) = async_channel::unbounded();
    io.on_connection(move |socket: crate::socketio::Socket| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(format!("connect {}", socket.nsp())).await;
            socket.on_disconnect(move |_s, reason| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(format!("disconnect {reason}")).await;
                }
            });
        }
    });
    let eio = crate::EngineIoServer::builder().build();
    let (etx, erx) = async_channel::unbounded();
    let server = eio.clone();
    h.runtime().spawn(async move {
        while let Some(mut socket) = server.accept().await {
            let etx = etx.clone();
            let _ = etx.send("open").await;
            while socket.recv().await.is_some() {}
            let _ = etx.send("closed").await;
        }
    });
    let addr: SocketAddr = h.block_on(h.listen(crate::Routed::new(io, eio)));
    h.block_on(async {
        let socket = ClientBuilder::new(h.runtime(), format!("http://{addr}/"))
            .force_new(true)
            .connect()
            .unwrap();
        let seen = within(&h, Duration::from_secs(10), rx.recv()).await;
        assert_eq!(seen, Some(Ok("connect /".to_owned())));
        drop(socket);
        let seen = within(&h, Duration::from_secs(10), rx.recv()).await;
        assert_eq!(seen, Some(Ok("disconnect transport close".to_owned())));

        let client = EngineIoClientBuilder::new(h.runtime(), format!("http://{addr}"))
            .connect()
            .await
            .unwrap();
        assert_eq!(
            within(&h, Duration::from_secs(10), erx.recv()).await,
            Some(Ok("open"))
        );
        drop(client);
        assert_eq!(
            within(&h, Duration::from_secs(10), erx.recv()).await,
            Some(Ok("closed"))
        );
    });
}

/// The Halyard fixture behaves as the Node one, as npm's socket.io-client 4.8 sees it:
/// `interop/fixture-check.js` (which passes against `socketio-server.js`) in the three
/// transport modes. This is what makes the matrix against both servers one matrix.
pub fn halyard_fixture_passes_the_socket_io_client_checks<H: Harness>(interop: &str) {
    let h = H::new();
    let addr: SocketAddr = h.block_on(h.listen(crate::fixture_server::fixture_server()));
    // The server runs on the runtime's threads while this one waits for node.
    let output = Command::new("node")
        .arg("fixture-check.js")
        .arg(format!("http://{addr}"))
        .current_dir(interop)
        .output()
        .expect("node (run `npm ci --prefix interop` first)");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "fixture-check.js failed against the Halyard fixture:\n{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        report.lines().filter(|l| l.starts_with("ok ")).count() >= 60,
        "{report}"
    );
}
