//! The tower layer in an axum app: the app's own routes keep working beside it, and npm's
//! socket.io-client 4.8 runs the shared interop scenarios through axum (polling,
//! WebSocket, and polling upgraded to WebSocket, the upgrade going through axum's
//! `OnUpgrade` extension), the peer address reaching the handshake through axum's
//! `ConnectInfo`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use halyard::HttpServer;
use halyard::test_support::Harness;
use halyard_tokio::{LayerExt, TokioRuntime};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const INTEROP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../interop");

/// The tokio harness, serving each server as a layer of an axum app with a `/hello` route.
struct Axum(tokio::runtime::Runtime);

fn app<S: HttpServer>(server: &S) -> axum::Router {
    axum::Router::new()
        .route("/hello", axum::routing::get(|| async { "hello from axum" }))
        .layer(server.layer())
}

impl Harness for Axum {
    type Runtime = TokioRuntime;
    type Io = TokioIo<tokio::net::TcpStream>;

    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        Self(rt)
    }

    fn runtime(&self) -> TokioRuntime {
        TokioRuntime::from_handle(self.0.handle().clone())
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.0.block_on(future)
    }

    async fn listen<S: HttpServer>(&self, server: S) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = app(&server);
        // With the peer's address, which the layer hands to the handshake.
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        self.0
            .spawn(async move { axum::serve(listener, service).await });
        addr
    }

    async fn connect(addr: SocketAddr) -> io::Result<Self::Io> {
        Ok(TokioIo::new(tokio::net::TcpStream::connect(addr).await?))
    }
}

/// One HTTP/1.1 GET, answered as the raw response text.
async fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[test]
fn app_routes_fall_through_and_socketio_is_served() {
    let h = Axum::new();
    h.block_on(async {
        let server = halyard::socketio::test_support::app(false);
        let addr = h.listen(server).await;
        let hello = get(addr, "/hello").await;
        assert!(hello.starts_with("HTTP/1.1 200"), "{hello}");
        assert!(hello.ends_with("hello from axum"), "{hello}");
        let missing = get(addr, "/nowhere").await;
        assert!(
            missing.starts_with("HTTP/1.1 404"),
            "axum's fallback: {missing}"
        );
        let handshake = get(addr, "/socket.io/?EIO=4&transport=polling").await;
        assert!(handshake.starts_with("HTTP/1.1 200"), "{handshake}");
        assert!(handshake.contains("\"sid\""), "{handshake}");
    });
}

#[test]
fn client_bundle_through_axum() {
    halyard::socketio::test_support::client_bundle::<Axum>(INTEROP);
}

halyard::socketio_scenario!(Axum, INTEROP, namespaces);
halyard::socketio_scenario!(Axum, INTEROP, server);
halyard::socketio_scenario!(Axum, INTEROP, acks);
halyard::socketio_scenario!(Axum, INTEROP, rooms);
halyard::socketio_scenario!(Axum, INTEROP, binary);
