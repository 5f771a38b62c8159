//! Runtime-neutral integration and interop tests, written once and instantiated by each
//! runtime crate with [`engineio_tests!`](crate::engineio_tests) and a [`Harness`].
//!
//! Everything runs over loopback: a plain HTTP client (hyper) for long-polling, a
//! tungstenite client for WebSockets, and npm's `engine.io-client` (from `interop/`)
//! driven by `interop/engineio-client-echo.js`.

#![allow(missing_docs, clippy::missing_panics_doc, clippy::print_stderr)]

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use async_tungstenite::tungstenite::Message as WsMessage;
use bytes::Bytes;
use futures_lite::StreamExt;
use halyard_protocol::engineio::Packet;
use halyard_protocol::engineio::polling::decode_payload;
use http_body_util::{BodyExt, Full};

use crate::{CloseReason, EngineIoServer, HttpServer, HyperIo, Message, Runtime, TransportKind};

/// What a runtime crate provides to run the shared tests.
pub trait Harness: Sized + 'static {
    /// The runtime under test.
    type Runtime: Runtime;
    /// A client TCP connection, as hyper IO.
    type Io: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static;

    /// A fresh runtime whose spawned tasks keep running while the test thread blocks.
    fn new() -> Self;
    /// The runtime.
    fn runtime(&self) -> Self::Runtime;
    /// Runs `future` to completion on the test thread.
    fn block_on<F: Future>(&self, future: F) -> F::Output;
    /// Binds `127.0.0.1:0` and serves `server` (Engine.IO or Socket.IO) in the
    /// background.
    fn listen<S: HttpServer>(&self, server: S) -> impl Future<Output = SocketAddr>;
    /// Connects to `addr`.
    fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Io>> + Send;
}

/// Instantiates every shared Engine.IO test for a [`Harness`]; `$interop` is the path of
/// the `interop/` folder (with `node_modules` installed by `npm ci --prefix interop`).
#[macro_export]
macro_rules! engineio_tests {
    ($harness:ty, $interop:expr) => {
        #[test]
        fn polling_handshake_and_echo() {
            $crate::test_support::polling_handshake_and_echo::<$harness>();
        }
        #[test]
        fn polling_errors_match_engine_io() {
            $crate::test_support::polling_errors_match_engine_io::<$harness>();
        }
        #[test]
        fn polling_server_close() {
            $crate::test_support::polling_server_close::<$harness>();
        }
        #[test]
        fn polling_aborted_poll_closes_session() {
            $crate::test_support::polling_aborted_poll_closes_session::<$harness>();
        }
        #[test]
        fn websocket_echo() {
            $crate::test_support::websocket_echo::<$harness>();
        }
        #[test]
        fn polling_upgrade_to_websocket() {
            $crate::test_support::polling_upgrade_to_websocket::<$harness>();
        }
        #[test]
        fn dropping_the_socket_closes_the_connection() {
            $crate::test_support::dropping_the_socket_closes_the_connection::<$harness>();
        }
        #[test]
        fn websocket_heartbeat_and_ping_timeout() {
            $crate::test_support::websocket_heartbeat_and_ping_timeout::<$harness>();
        }
        #[test]
        fn interop_engineio_client_polling() {
            $crate::test_support::interop::<$harness>($interop, "polling");
        }
        #[test]
        fn interop_engineio_client_websocket() {
            $crate::test_support::interop::<$harness>($interop, "websocket");
        }
        #[test]
        fn interop_engineio_client_upgrade() {
            $crate::test_support::interop::<$harness>($interop, "upgrade");
        }
    };
}

/// Starts an echo application on `server`: every message comes back as it was sent; the
/// text `close` makes the server close the connection. Close reasons are reported on
/// the returned channel.
pub fn spawn_echo<H: Harness>(
    h: &H,
    server: &EngineIoServer,
) -> async_channel::Receiver<(String, Option<CloseReason>)> {
    let (closed_tx, closed_rx) = async_channel::unbounded();
    let rt = h.runtime();
    let server = server.clone();
    h.runtime().spawn(async move {
        while let Some(mut socket) = server.accept().await {
            let closed = closed_tx.clone();
            rt.spawn(async move {
                while let Some(message) = socket.recv().await {
                    if message == Message::Text("close".into()) {
                        socket.close().await;
                    } else if socket.send(message).await.is_err() {
                        break;
                    }
                }
                let _ = closed
                    .send((socket.id().to_owned(), socket.close_reason()))
                    .await;
            });
        }
    });
    closed_rx
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One HTTP/1.1 request on a fresh connection.
pub async fn request<H: Harness>(
    h: &H,
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    body: &str,
) -> Answer {
    let io = H::connect(addr).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .expect("HTTP handshake");
    h.runtime().spawn(async move {
        let _ = connection.await;
    });
    let request = http::Request::builder()
        .method(method)
        .uri(path_and_query)
        .header(http::header::HOST, addr.to_string())
        .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
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

/// A polling handshake: the session id.
pub async fn handshake<H: Harness>(h: &H, addr: SocketAddr) -> String {
    let answer = request(h, addr, "GET", "/engine.io/?EIO=4&transport=polling", "").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    match decode_payload(answer.body.clone(), usize::MAX)
        .expect("open payload")
        .as_slice()
    {
        [Packet::Open(open)] => open.sid.clone(),
        other => panic!("not an open packet: {other:?}"),
    }
}

fn server(ping: Duration) -> EngineIoServer {
    EngineIoServer::builder()
        .ping_interval(ping)
        .ping_timeout(ping)
        .build()
}

pub fn polling_handshake_and_echo<H: Harness>() {
    let h = H::new();
    h.block_on(async {
        let server = server(Duration::from_secs(20));
        let _closed = spawn_echo(&h, &server);
        let addr = h.listen(server.clone()).await;

        let open = request(&h, addr, "GET", "/engine.io/?EIO=4&transport=polling", "").await;
        assert_eq!(open.status, 200);
        assert_eq!(
            open.header("content-type"),
            Some("text/plain; charset=UTF-8")
        );
        assert_eq!(open.header("cache-control"), Some("no-store"));
        assert_eq!(
            open.header("access-control-allow-origin"),
            None,
            "CORS is off"
        );
        let text = open.text();
        assert!(text.starts_with("0{\"sid\":\""), "{text}");
        assert!(text.contains("\"upgrades\":[\"websocket\"]"), "{text}");
        assert!(text.contains("\"pingInterval\":20000"), "{text}");
        assert!(text.contains("\"maxPayload\":1000000"), "{text}");
        let sid = match decode_payload(open.body.clone(), usize::MAX)
            .unwrap()
            .as_slice()
        {
            [Packet::Open(open)] => open.sid.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(server.session_count(), 1);

        let url = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        let post = request(&h, addr, "POST", &url, "4hello\u{1e}bAQID").await;
        assert_eq!((post.status, post.text()), (200, "ok"));
        assert_eq!(post.header("content-type"), Some("text/html"));
        assert_eq!(post.header("cache-control"), Some("no-store"));

        let mut echoed = String::new();
        while echoed.split('\u{1e}').count() < 2 {
            let get = request(&h, addr, "GET", &url, "").await;
            assert_eq!(get.status, 200, "{}", get.text());
            assert_eq!(
                get.header("content-type"),
                Some("text/plain; charset=UTF-8")
            );
            if !echoed.is_empty() {
                echoed.push('\u{1e}');
            }
            echoed.push_str(get.text());
        }
        assert_eq!(echoed, "4hello\u{1e}bAQID");
    });
}

pub fn polling_errors_match_engine_io<H: Harness>() {
    let h = H::new();
    h.block_on(async {
        let server = server(Duration::from_secs(20));
        let _closed = spawn_echo(&h, &server);
        let addr = h.listen(server).await;
        let cases = [
            (
                "GET",
                "/engine.io/?EIO=4&transport=polling&sid=nope",
                400,
                r#"{"code":1,"message":"Session ID unknown"}"#,
            ),
            (
                "GET",
                "/engine.io/?EIO=4&transport=carrier-pigeon",
                400,
                r#"{"code":0,"message":"Transport unknown"}"#,
            ),
            (
                "POST",
                "/engine.io/?EIO=4&transport=polling",
                400,
                r#"{"code":2,"message":"Bad handshake method"}"#,
            ),
            (
                "GET",
                "/engine.io/?EIO=3&transport=polling",
                400,
                r#"{"code":5,"message":"Unsupported protocol version"}"#,
            ),
        ];
        for (method, url, status, body) in cases {
            let answer = request(&h, addr, method, url, "").await;
            assert_eq!((answer.status, answer.text()), (status, body), "{url}");
            assert_eq!(answer.header("content-type"), Some("application/json"));
        }
        let elsewhere = request(&h, addr, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
        assert_eq!(elsewhere.status, 404);
    });
}

pub fn polling_server_close<H: Harness>() {
    let h = H::new();
    h.block_on(async {
        let server = server(Duration::from_secs(20));
        let closed = spawn_echo(&h, &server);
        let addr = h.listen(server.clone()).await;
        let sid = handshake(&h, addr).await;
        let url = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        let post = request(&h, addr, "POST", &url, "4bye\u{1e}4close").await;
        assert_eq!(post.status, 200);
        // The echo, then the close packet.
        let mut bodies = Vec::new();
        while bodies.last().is_none_or(|b: &String| !b.ends_with('1')) {
            let get = request(&h, addr, "GET", &url, "").await;
            assert_eq!(get.status, 200, "{}", get.text());
            bodies.push(get.text().to_owned());
        }
        assert_eq!(bodies.join("\u{1e}"), "4bye\u{1e}1");
        let (id, reason) = closed.recv().await.unwrap();
        assert_eq!((id, reason), (sid.clone(), Some(CloseReason::ForcedClose)));
        let gone = request(&h, addr, "GET", &url, "").await;
        assert_eq!(gone.status, 400);
        assert_eq!(server.session_count(), 0);
    });
}

/// Waits for `future`, at most `limit`.
pub async fn within<H: Harness, T>(
    h: &H,
    limit: Duration,
    future: impl Future<Output = T>,
) -> Option<T> {
    let rt = h.runtime();
    let deadline = rt.now() + limit;
    futures_lite::future::or(async { Some(future.await) }, async {
        rt.sleep_until(deadline).await;
        None
    })
    .await
}

pub fn polling_aborted_poll_closes_session<H: Harness>() {
    let h = H::new();
    h.block_on(async {
        let server = server(Duration::from_secs(20));
        let closed = spawn_echo(&h, &server);
        let addr = h.listen(server.clone()).await;
        let sid = handshake(&h, addr).await;
        // A poll is held (nothing to send), then the client goes away.
        let mut io = HyperIo::new(H::connect(addr).await.expect("connect"));
        let get = format!(
            "GET /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: {addr}\r\n\r\n"
        );
        futures_lite::AsyncWriteExt::write_all(&mut io, get.as_bytes())
            .await
            .unwrap();
        let rt = h.runtime();
        rt.sleep_until(rt.now() + Duration::from_millis(50)).await;
        drop(io);
        let (id, reason) = within(&h, Duration::from_secs(5), closed.recv())
            .await
            .expect("the session ends when its held poll is aborted")
            .unwrap();
        assert_eq!((id, reason), (sid, Some(CloseReason::TransportError)));
    });
}

type ClientWs<H> = async_tungstenite::WebSocketStream<HyperIo<<H as Harness>::Io>>;

async fn ws_connect<H: Harness>(addr: SocketAddr, query: &str) -> ClientWs<H> {
    let io = H::connect(addr).await.expect("connect");
    let url = format!("ws://{addr}/engine.io/?{query}");
    let (ws, response) = async_tungstenite::client_async(url, HyperIo::new(io))
        .await
        .expect("WebSocket handshake");
    assert_eq!(response.status(), 101);
    ws
}

async fn ws_next<H: Harness>(ws: &mut ClientWs<H>) -> WsMessage {
    loop {
        match ws.next().await {
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
            Some(Ok(message)) => return message,
            other => panic!("WebSocket ended: {other:?}"),
        }
    }
}

pub fn websocket_echo<H: Harness>() {
    let h = H::new();
    h.block_on(async {
        let server = server(Duration::from_secs(20));
        let closed = spawn_echo(&h, &server);
        let addr = h.listen(server.clone()).await;
        let mut ws = ws_connect::<H>(addr, "EIO=4&transport=websocket").await;
        let open = ws_next::<H>(&mut ws).await;
        let text = open.to_text().unwrap().to_owned();
        assert!(text.starts_with("0{\"sid\":\""), "{text}");
        assert!(text.contains("\"upgrades\":[]"), "{text}");

        ws.send(WsMessage::text("4héllo")).await.unwrap();
        assert_eq!(ws_next::<H>(&mut ws).await, WsMessage::text("4héllo"));
        ws.send(WsMessage::binary(vec![1u8, 2, 3])).await.unwrap();
        assert_eq!(
            ws_next::<H>(&mut ws).await,
            WsMessage::binary(vec![1u8, 2, 3])
        );

        // The client goes away: the session ends with "transport close".
        ws.close(None).await.unwrap();
        let (_, reason) = closed.recv().await.unwrap();
        assert_eq!(reason, Some(CloseReason::TransportClose));
    });
}

pub fn polling_upgrade_to_websocket<H: Harness>() {
    let h = H::new();
    h.block_on(async {
        let server = server(Duration::from_secs(20));
        let (sockets_tx, sockets_rx) = async_channel::unbounded();
        let app = server.clone();
        h.runtime().spawn(async move {
            while let Some(socket) = app.accept().await {
                let _ = sockets_tx.send(socket).await;
            }
        });
        let addr = h.listen(server.clone()).await;
        let sid = handshake(&h, addr).await;
        let mut socket = sockets_rx.recv().await.unwrap();
        assert_eq!(socket.transport(), TransportKind::Polling);

        let url = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        let mut ws = ws_connect::<H>(addr, &format!("EIO=4&transport=websocket&sid={sid}")).await;
        ws.send(WsMessage::text("2probe")).await.unwrap();
        assert_eq!(ws_next::<H>(&mut ws).await, WsMessage::text("3probe"));
        // A poll during the upgrade is answered with a noop.
        let get = request(&h, addr, "GET", &url, "").await;
        assert_eq!((get.status, get.text()), (200, "6"));
        ws.send(WsMessage::text("5")).await.unwrap();
        ws.send(WsMessage::text("4over ws")).await.unwrap();
        assert_eq!(socket.recv().await, Some(Message::Text("over ws".into())));
        assert_eq!(socket.transport(), TransportKind::WebSocket);
        socket.send_binary(vec![9u8]).await.unwrap();
        assert_eq!(ws_next::<H>(&mut ws).await, WsMessage::binary(vec![9u8]));
        // Polling is over for this session.
        let get = request(&h, addr, "GET", &url, "").await;
        assert_eq!(get.status, 400);

        socket.close().await;
        assert!(matches!(
            ws.next().await,
            Some(Ok(WsMessage::Close(_))) | None
        ));
        assert_eq!(socket.recv().await, None);
        assert_eq!(socket.close_reason(), Some(CloseReason::ForcedClose));
    });
}

pub fn dropping_the_socket_closes_the_connection<H: Harness>() {
    let h = H::new();
    h.block_on(async {
        let server = server(Duration::from_secs(20));
        let addr = h.listen(server.clone()).await;
        let mut ws = ws_connect::<H>(addr, "EIO=4&transport=websocket").await;
        assert!(
            ws_next::<H>(&mut ws)
                .await
                .to_text()
                .unwrap()
                .starts_with('0')
        );
        let socket = server.accept().await.unwrap();
        socket.send_text("last words").await.unwrap();
        drop(socket);
        assert_eq!(ws_next::<H>(&mut ws).await, WsMessage::text("4last words"));
        assert!(matches!(
            ws.next().await,
            Some(Ok(WsMessage::Close(_))) | None
        ));
        let rt = h.runtime();
        while server.session_count() > 0 {
            rt.sleep_until(rt.now() + Duration::from_millis(5)).await;
        }
    });
}

pub fn websocket_heartbeat_and_ping_timeout<H: Harness>() {
    let h = H::new();
    h.block_on(async {
        let server = server(Duration::from_millis(50));
        let closed = spawn_echo(&h, &server);
        let addr = h.listen(server.clone()).await;
        let mut ws = ws_connect::<H>(addr, "EIO=4&transport=websocket").await;
        let open = ws_next::<H>(&mut ws).await;
        assert!(open.to_text().unwrap().contains("\"pingInterval\":50"));
        for _ in 0..2 {
            assert_eq!(ws_next::<H>(&mut ws).await, WsMessage::text("2"));
            ws.send(WsMessage::text("3")).await.unwrap();
        }
        // No pong: the server gives up after pingTimeout.
        assert_eq!(ws_next::<H>(&mut ws).await, WsMessage::text("2"));
        let (_, reason) = closed.recv().await.unwrap();
        assert_eq!(reason, Some(CloseReason::PingTimeout));
        assert!(matches!(
            ws.next().await,
            Some(Ok(WsMessage::Close(_))) | None
        ));
    });
}

/// Runs `interop/engineio-client-echo.js` (npm's `engine.io-client`) against an echo
/// server on this runtime, in one transport mode: `polling`, `websocket` or `upgrade`.
pub fn interop<H: Harness>(interop_dir: &str, mode: &str) {
    let dir = Path::new(interop_dir);
    assert!(
        dir.join("node_modules/engine.io-client").is_dir(),
        "interop/node_modules is missing: run `npm ci --prefix interop` first (looked in {})",
        dir.display()
    );
    let h = H::new();
    let server = server(Duration::from_secs(20));
    let _closed = spawn_echo(&h, &server);
    let addr = h.block_on(h.listen(server));
    let output = std::process::Command::new("node")
        .arg(dir.join("engineio-client-echo.js"))
        .arg(format!("http://{addr}"))
        .arg(mode)
        .output()
        .expect("node must be installed to run the interop tests");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "engine.io-client ({mode}) failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
}
