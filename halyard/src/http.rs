//! The HTTP side, written once with hyper 1.x: the service that routes Engine.IO
//! requests to sessions, one connection's server, and the accept loop. Both the raw
//! Engine.IO server and the Socket.IO server are served by it (the [`HttpServer`]
//! trait), each through its [`Host`]: the path, the endpoint, the session map, and how a
//! new session's driver is made.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use async_tungstenite::tungstenite::handshake::derive_accept_key;
use bytes::{Bytes, BytesMut};
use futures_channel::oneshot;
use futures_core::Stream;
use halyard_engine::engineio::server::{Decision, Endpoint, Request as EioRequest, ServerSession};
use halyard_engine::engineio::{HttpResponse, Method};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use crate::driver::{Application, Driver, HttpInput, Initial, Registry};
use crate::runtime::{HyperTimer, Runtime};

/// The response body of every answer.
pub type Body = Full<Bytes>;

/// A boxed future answering one HTTP request.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

/// A server the HTTP layer can serve: the raw [`EngineIoServer`](crate::EngineIoServer)
/// or the Socket.IO [`Server`](crate::socketio::Server). Runtime crates' `serve`
/// functions take any of them.
pub trait HttpServer: Clone + Send + Sync + 'static {
    /// Answers one request, spawning connection tasks on `rt`. `remote` is the peer's
    /// address when the accept loop knows it. The request body may be hyper's
    /// [`Incoming`] or any other body (such as axum's), and a WebSocket upgrade works
    /// whenever the request carries hyper's `OnUpgrade` extension.
    fn handle_request<R: Runtime, B: RequestBody>(
        &self,
        rt: R,
        remote: Option<SocketAddr>,
        request: Request<B>,
    ) -> ResponseFuture;

    /// The path served, with a trailing `/` (`/socket.io/` or `/engine.io/` by default).
    fn path(&self) -> &str;

    /// Whether a request for `path` is this server's: it is under [`path`](Self::path)
    /// (which includes the browser client at `<path>socket.io.js`). Middlewares (such as
    /// `halyard-tokio`'s tower layer) pass every other request on to the application.
    fn serves(&self, path: &str) -> bool {
        path.starts_with(self.path())
    }
}

/// A request body the servers accept: hyper's [`Incoming`], axum's body, or any other
/// [`hyper::body::Body`] of [`Bytes`] that can move between threads.
pub trait RequestBody:
    hyper::body::Body<Data = Bytes, Error: std::fmt::Display> + Send + 'static
{
}

impl<B> RequestBody for B where
    B: hyper::body::Body<Data = Bytes, Error: std::fmt::Display> + Send + 'static
{
}

/// What the HTTP handler learnt about the request that opened a session.
#[derive(Debug, Clone)]
pub(crate) struct OpenRequest {
    pub(crate) headers: http::HeaderMap,
    pub(crate) uri: http::Uri,
    pub(crate) remote: Option<SocketAddr>,
}

impl OpenRequest {
    /// The handshake request's facts, copied: hyper parses headers and the URI as slices
    /// of its connection read buffer (8 KiB), and a session that kept those slices would
    /// keep that buffer alive as long as it lives.
    fn owned<B>(request: &Request<B>, remote: Option<SocketAddr>) -> Self {
        let mut headers = http::HeaderMap::with_capacity(request.headers().len());
        for (name, value) in request.headers() {
            let name = http::HeaderName::from_bytes(name.as_str().as_bytes());
            let value = HeaderValue::from_bytes(value.as_bytes());
            if let (Ok(name), Ok(value)) = (name, value) {
                headers.append(name, value);
            }
        }
        let uri = request.uri().to_string().parse().unwrap_or_default();
        OpenRequest {
            headers,
            uri,
            remote,
        }
    }
}

/// A new session's driver parts, made by [`Host::open`].
pub(crate) struct Opened<A: Application> {
    pub(crate) session: A::Session,
    pub(crate) app: A,
    pub(crate) http: crate::driver::HttpReceiver<A::Command>,
    pub(crate) commands: crate::driver::CommandReceiver<A::Command>,
}

/// The server-specific side of the HTTP handler.
pub(crate) trait Host: Registry + Sized {
    /// The application side of the drivers of this server.
    type App: Application;

    /// The path served (with a trailing `/`).
    fn path(&self) -> &str;
    /// The largest POST body accepted.
    fn max_payload(&self) -> usize;
    /// The Engine.IO endpoint (handshakes).
    fn endpoint(&self) -> MutexGuard<'_, Endpoint>;
    /// The route to session `sid`, if it is open.
    fn route(
        &self,
        sid: &str,
    ) -> Option<crate::driver::HttpSender<<Self::App as Application>::Command>>;
    /// Registers a session just opened and makes its driver's parts; `None` refuses it.
    fn open(
        self: &Arc<Self>,
        session: ServerSession,
        request: OpenRequest,
    ) -> impl Future<Output = Option<Opened<Self::App>>> + Send;
}

/// The hyper [`Service`](hyper::service::Service) of a server on a runtime: answers the
/// Engine.IO requests at the server's path, `404` elsewhere.
#[derive(Debug, Clone)]
pub struct HttpService<R, S> {
    rt: R,
    server: S,
    remote: Option<SocketAddr>,
}

/// The service of an [`EngineIoServer`](crate::EngineIoServer).
pub type EngineIoService<R> = HttpService<R, crate::EngineIoServer>;

impl<R: Runtime, S: HttpServer> HttpService<R, S> {
    /// The service of `server`, spawning its connection tasks on `rt`.
    pub fn new(rt: R, server: S) -> Self {
        Self {
            rt,
            server,
            remote: None,
        }
    }

    /// The same service for a connection from `remote` (the Socket.IO handshake's
    /// address).
    pub fn with_remote(mut self, remote: Option<SocketAddr>) -> Self {
        self.remote = remote;
        self
    }
}

impl<R: Runtime, S: HttpServer> hyper::service::Service<Request<Incoming>> for HttpService<R, S> {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let answer = self
            .server
            .handle_request(self.rt.clone(), self.remote, request);
        Box::pin(async move { Ok(answer.await) })
    }
}

/// Serves one client connection (any IO hyper can run on) until it closes, with
/// WebSocket upgrades. Runtime crates call it for each accepted connection.
pub async fn serve_connection<R, I, S>(rt: R, io: I, server: S)
where
    R: Runtime,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: HttpServer,
{
    serve_connection_from(rt, io, None, server).await;
}

/// [`serve_connection`] for a connection from `remote`.
pub async fn serve_connection_from<R, I, S>(rt: R, io: I, remote: Option<SocketAddr>, server: S)
where
    R: Runtime,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: HttpServer,
{
    let service = HttpService::new(rt.clone(), server).with_remote(remote);
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(HyperTimer(rt))
        .serve_connection(io, service)
        .with_upgrades();
    if let Err(error) = connection.await {
        tracing::debug!(%error, "HTTP connection ended with an error");
    }
}

/// Accepts connections from `incoming` (each with the peer's address when known) and
/// serves each in a task of its own, until the stream ends. Accept errors are logged;
/// after one that is not about a single connection (such as running out of file
/// descriptors) the loop pauses briefly.
pub async fn serve<R, T, I, S>(rt: R, incoming: T, server: S) -> io::Result<()>
where
    R: Runtime,
    T: Stream<Item = io::Result<(I, Option<SocketAddr>)>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: HttpServer,
{
    let mut incoming = std::pin::pin!(incoming);
    while let Some(accepted) = futures_lite::StreamExt::next(&mut incoming).await {
        match accepted {
            Ok((io, remote)) => {
                rt.spawn(serve_connection_from(
                    rt.clone(),
                    io,
                    remote,
                    server.clone(),
                ));
            }
            Err(error) if is_connection_error(&error) => {
                tracing::debug!(%error, "accept failed");
            }
            Err(error) => {
                tracing::error!(%error, "accept failed; pausing");
                rt.sleep_until(rt.now() + Duration::from_millis(100)).await;
            }
        }
    }
    Ok(())
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// Answers one request for the server `inner`.
pub(crate) async fn handle<R: Runtime, H: Host, B: RequestBody>(
    rt: R,
    inner: Arc<H>,
    remote: Option<SocketAddr>,
    mut request: Request<B>,
) -> Response<Body> {
    if !request.uri().path().starts_with(inner.path()) {
        return plain(StatusCode::NOT_FOUND, "Not Found");
    }
    let method = match *request.method() {
        http::Method::GET => Method::Get,
        http::Method::POST => Method::Post,
        _ => Method::Other,
    };
    let websocket = request
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let query = request.uri().query().unwrap_or("").to_owned();
    let eio = EioRequest::from_query(method, &query, websocket);
    let decision = inner.endpoint().handle_request(rt.now(), &eio);
    match decision {
        Decision::Reject(response) => to_response(response),
        Decision::Open {
            session,
            request: id,
        } => {
            let (initial, answer, accept) = match id {
                Some(id) => {
                    let (reply, answer) = oneshot::channel();
                    (Initial::Polling(id, reply), Some(answer), None)
                }
                None => match websocket_accept(&request) {
                    Ok(accept) => {
                        let upgrade = hyper::upgrade::on(&mut request);
                        (Initial::WebSocket(upgrade), None, Some(accept))
                    }
                    Err(response) => return response,
                },
            };
            let session = *session;
            tracing::debug!(sid = session.sid(), transport = ?session.transport(), "session opened");
            let open = OpenRequest::owned(&request, remote);
            let Some(opened) = inner.open(session, open).await else {
                return to_response(Endpoint::unknown_sid());
            };
            let registry: Arc<dyn Registry> = inner;
            let driver = Driver::new(
                rt.clone(),
                opened.session,
                opened.app,
                initial,
                opened.http,
                opened.commands,
                registry,
            );
            rt.spawn(driver);
            match (answer, accept) {
                (Some(answer), _) => answered(answer).await,
                (None, Some(accept)) => switching(accept),
                (None, None) => to_response(Endpoint::unknown_sid()),
            }
        }
        Decision::Existing { sid } => {
            let Some(route) = inner.route(&sid) else {
                return to_response(Endpoint::unknown_sid());
            };
            if websocket {
                let accept = match websocket_accept(&request) {
                    Ok(accept) => accept,
                    Err(response) => return response,
                };
                let upgrade = hyper::upgrade::on(&mut request);
                if route.send(HttpInput::WebSocket(upgrade)).await.is_err() {
                    return to_response(Endpoint::unknown_sid());
                }
                return switching(accept);
            }
            let (reply, answer) = oneshot::channel();
            let input = match method {
                Method::Post => {
                    let limit = inner.max_payload();
                    match read_body(request.into_body(), limit).await {
                        Ok(body) => HttpInput::Post(body, reply),
                        Err(error) => {
                            tracing::debug!(sid, %error, "POST body failed");
                            return plain(StatusCode::BAD_REQUEST, "Bad Request");
                        }
                    }
                }
                _ => HttpInput::Poll(reply),
            };
            if route.send(input).await.is_err() {
                return to_response(Endpoint::unknown_sid());
            }
            answered(answer).await
        }
    }
}

/// The answer a session's task sends for a held request.
async fn answered(answer: oneshot::Receiver<HttpResponse>) -> Response<Body> {
    match answer.await {
        Ok(response) => to_response(response),
        // The session ended without answering: it is gone.
        Err(_) => to_response(Endpoint::unknown_sid()),
    }
}

/// Reads a POST body, stopping once it exceeds `limit` (the session then refuses it
/// with 413): at most `limit` plus one chunk is held.
async fn read_body<B: RequestBody>(body: B, limit: usize) -> Result<Bytes, B::Error> {
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut buffer = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        match first.take() {
            None if buffer.is_empty() => first = Some(data),
            Some(previous) => {
                buffer.extend_from_slice(&previous);
                buffer.extend_from_slice(&data);
            }
            None => buffer.extend_from_slice(&data),
        }
        let len = first.as_ref().map_or(buffer.len(), Bytes::len);
        if len > limit {
            break;
        }
    }
    Ok(first.unwrap_or_else(|| buffer.freeze()))
}

/// The `Sec-WebSocket-Accept` value for a WebSocket handshake, or the refusal.
#[allow(clippy::result_large_err)]
fn websocket_accept<B>(request: &Request<B>) -> Result<HeaderValue, Response<Body>> {
    let headers = request.headers();
    let version_ok = headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v == "13");
    match headers.get(header::SEC_WEBSOCKET_KEY) {
        Some(key) if version_ok && request.method() == http::Method::GET => {
            let accept = derive_accept_key(key.as_bytes());
            HeaderValue::from_str(&accept)
                .map_err(|_| plain(StatusCode::BAD_REQUEST, "Bad Request"))
        }
        _ => Err(plain(StatusCode::BAD_REQUEST, "Bad Request")),
    }
}

fn switching(accept: HeaderValue) -> Response<Body> {
    let mut response = Response::new(Body::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}

/// An engine answer as an HTTP response. Successful polling answers carry
/// `Cache-Control: no-store`, as engine.io's do; CORS headers, when the Socket.IO
/// server has `cors(…)`, are added around this handler (`crate::cors`).
fn to_response(response: HttpResponse) -> Response<Body> {
    let success = response.is_success();
    let mut http = Response::new(Full::new(response.body));
    *http.status_mut() = StatusCode::from_u16(response.status).unwrap_or(StatusCode::BAD_REQUEST);
    let headers = http.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(response.content_type),
    );
    if success {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    http
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    response
}

/// Two servers on one listener, each at its own path (the issue's "a raw Engine.IO
/// server … served at its own path" beside the Socket.IO server): a request goes to
/// `first` when [`first.serves`](HttpServer::serves) its path, else to `second` (which
/// answers `404` outside its own path). Nest them for more. Give the two servers
/// different paths: [`EngineIoServer`](crate::EngineIoServer)'s default is
/// `/engine.io/`, the Socket.IO server's `/socket.io/`.
///
/// ```no_run
/// use halyard::{EngineIoServer, Routed, socketio::Server};
///
/// let io = Server::new();
/// let eio = EngineIoServer::builder().build();
/// let both = Routed::new(io, eio);
/// // halyard_tokio::serve(listener, both).await
/// ```
#[derive(Debug, Clone)]
pub struct Routed<A, B> {
    first: A,
    second: B,
}

impl<A: HttpServer, B: HttpServer> Routed<A, B> {
    /// `first` at its path, `second` for every other request.
    pub fn new(first: A, second: B) -> Self {
        Self { first, second }
    }

    /// The first server.
    pub fn first(&self) -> &A {
        &self.first
    }

    /// The second server.
    pub fn second(&self) -> &B {
        &self.second
    }
}

impl<A: HttpServer, B: HttpServer> HttpServer for Routed<A, B> {
    fn handle_request<R: Runtime, Body: RequestBody>(
        &self,
        rt: R,
        remote: Option<SocketAddr>,
        request: Request<Body>,
    ) -> ResponseFuture {
        match self.first.serves(request.uri().path()) {
            true => self.first.handle_request(rt, remote, request),
            false => self.second.handle_request(rt, remote, request),
        }
    }

    /// The first server's path (see [`serves`](Self::serves) for both).
    fn path(&self) -> &str {
        self.first.path()
    }

    /// Whether either server serves `path`.
    fn serves(&self, path: &str) -> bool {
        self.first.serves(path) || self.second.serves(path)
    }
}
