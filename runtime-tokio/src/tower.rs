//! A tower [`Layer`]/[`Service`] that serves a Halyard server beside an application's own
//! routes (axum's `Router::layer`, or any tower stack on hyper): requests under the
//! server's path (`/socket.io/` by default, including the browser client at
//! `/socket.io/socket.io.js`) go to the server, every other request falls through to the
//! inner service.
//!
//! ```no_run
//! use halyard_tokio::socketio::{Server, Socket};
//! use halyard_tokio::LayerExt;
//!
//! # async fn run() -> std::io::Result<()> {
//! let io = Server::new();
//! io.on_connection(|socket: Socket| async move {
//!     socket.on("ping", |socket: Socket, (): ()| async move {
//!         let _ = socket.emit("pong", &()).await;
//!     });
//! });
//! let app = axum::Router::new()
//!     .route("/hello", axum::routing::get(|| async { "hello" }))
//!     .layer(io.layer());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! WebSocket upgrades work when the HTTP server keeps hyper's upgrade extension on the
//! request, as `axum::serve` and hyper's `serve_connection(..).with_upgrades()` do.
//!
//! The peer's address (`Handshake::address`) comes from the request's extensions: axum's
//! `ConnectInfo<SocketAddr>` with the `axum` feature, when the app is served with
//! `app.into_make_service_with_connect_info::<SocketAddr>()`, or a plain `SocketAddr`
//! extension that another layer put there. Without either it is `None`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use halyard::{HttpServer, RequestBody};
use http::{Request, Response};
use http_body_util::Either;
use tower_layer::Layer;
use tower_service::Service;

use crate::TokioRuntime;

/// Makes a [`SocketIoLayer`] of a server: `io.layer()`.
pub trait LayerExt: HttpServer {
    /// A tower layer serving this server in front of an application.
    fn layer(&self) -> SocketIoLayer<Self> {
        SocketIoLayer::new(self.clone())
    }
}

impl<S: HttpServer> LayerExt for S {}

/// A tower [`Layer`] serving a Socket.IO [`Server`](crate::socketio::Server) (or an
/// [`EngineIoServer`](crate::EngineIoServer)) in front of the inner service.
#[derive(Debug, Clone)]
pub struct SocketIoLayer<S> {
    server: S,
}

impl<S: HttpServer> SocketIoLayer<S> {
    /// The layer of `server`.
    pub fn new(server: S) -> Self {
        Self { server }
    }
}

impl<S: HttpServer, I> Layer<I> for SocketIoLayer<S> {
    type Service = SocketIoService<S, I>;

    fn layer(&self, inner: I) -> Self::Service {
        SocketIoService {
            server: self.server.clone(),
            inner,
        }
    }
}

/// The [`Service`] of a [`SocketIoLayer`]: the server's requests to the server, the rest
/// to `inner`. Its connection tasks run on the tokio runtime that calls it.
#[derive(Debug, Clone)]
pub struct SocketIoService<S, I> {
    server: S,
    inner: I,
}

/// The response body: the server's, or the inner service's.
pub type LayerBody<B> = Either<halyard::Body, B>;

impl<S, I, ReqBody, ResBody> Service<Request<ReqBody>> for SocketIoService<S, I>
where
    S: HttpServer,
    I: Service<Request<ReqBody>, Response = Response<ResBody>>,
    I::Future: Send + 'static,
    ReqBody: RequestBody,
{
    type Response = Response<LayerBody<ResBody>>;
    type Error = I::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, I::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if self.server.serves(request.uri().path()) {
            let remote = peer_address(&request);
            let answer = self
                .server
                .handle_request(TokioRuntime::current(), remote, request);
            Box::pin(async move { Ok(answer.await.map(Either::Left)) })
        } else {
            let answer = self.inner.call(request);
            Box::pin(async move { Ok(answer.await?.map(Either::Right)) })
        }
    }
}

/// The peer's address, when the HTTP server left it on the request (see the module
/// documentation).
fn peer_address<B>(request: &Request<B>) -> Option<SocketAddr> {
    let extensions = request.extensions();
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(addr)) =
        extensions.get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(*addr);
    }
    extensions.get::<SocketAddr>().copied()
}
