//! The client's network side: TCP (and TLS) connections, HTTP requests for long-polling
//! over a small pool of keep-alive connections, and WebSocket connections.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use smol_hyper::rt::FuturesIo;

use super::target::Target;
use crate::runtime::Runtime;

/// A TCP connection, or a TLS session over one.
pub(crate) enum Stream<S> {
    /// `http://`, `ws://`.
    Plain(S),
    /// `https://`, `wss://`.
    #[cfg(feature = "tls")]
    Tls(Box<futures_rustls::client::TlsStream<S>>),
}

impl<S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin> futures_io::AsyncRead
    for Stream<S>
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl<S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin> futures_io::AsyncWrite
    for Stream<S>
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_close(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s).poll_close(cx),
        }
    }
}

/// The TLS settings of a client (with the `tls` feature): a rustls `ClientConfig`.
#[cfg(feature = "tls")]
pub type TlsConfig = Arc<futures_rustls::rustls::ClientConfig>;

/// rustls with the ring provider and the Mozilla root certificates (webpki-roots).
#[cfg(feature = "tls")]
pub(crate) fn default_tls_config() -> TlsConfig {
    use futures_rustls::rustls;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// Opens connections to one [`Target`].
#[derive(Clone)]
pub(crate) struct Connector<R> {
    rt: R,
    target: Arc<Target>,
    #[cfg(feature = "tls")]
    tls: Option<TlsConfig>,
}

impl<R: Runtime> Connector<R> {
    /// A connector for `target`; `tls` is used for `https`/`wss` (the default roots
    /// when `None`).
    pub(crate) fn new(
        rt: R,
        target: Arc<Target>,
        #[cfg(feature = "tls")] tls: Option<TlsConfig>,
    ) -> Self {
        Self {
            rt,
            target,
            #[cfg(feature = "tls")]
            tls,
        }
    }

    /// The target.
    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    /// A new connection to the target, TLS included when the URL asks for it.
    pub(crate) fn connect(
        &self,
    ) -> impl Future<Output = io::Result<Stream<R::TcpStream>>> + Send + 'static + use<R> {
        let tcp = self.rt.connect(self.target.host.clone(), self.target.port);
        let secure = self.target.secure;
        #[cfg(feature = "tls")]
        let tls = secure.then(|| {
            let config = self.tls.clone().unwrap_or_else(default_tls_config);
            (config, self.target.host.clone())
        });
        async move {
            let tcp = tcp.await?;
            if !secure {
                return Ok(Stream::Plain(tcp));
            }
            #[cfg(feature = "tls")]
            {
                let (config, host) = tls.expect("set for secure targets");
                let name = futures_rustls::pki_types::ServerName::try_from(host)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                let tls = futures_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await?;
                Ok(Stream::Tls(Box::new(tls)))
            }
            #[cfg(not(feature = "tls"))]
            {
                drop(tcp);
                Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "https:// and wss:// need halyard's `tls` feature",
                ))
            }
        }
    }
}

type Sender = SendRequest<Full<Bytes>>;

/// HTTP/1.1 requests to one target over keep-alive connections (long-polling keeps at
/// most one GET and one POST in flight, so the pool stays at two or so).
pub(crate) struct HttpClient<R> {
    connector: Connector<R>,
    headers: HeaderMap,
    max_body: usize,
    idle: Mutex<Vec<Sender>>,
}

/// The most idle connections kept.
const MAX_IDLE: usize = 4;

impl<R: Runtime> HttpClient<R> {
    /// A client sending `headers` with every request, refusing response bodies longer
    /// than `max_body`.
    pub(crate) fn new(connector: Connector<R>, headers: HeaderMap, max_body: usize) -> Self {
        Self {
            connector,
            headers,
            max_body,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// `GET path_and_query`: the status and the body.
    pub(crate) async fn get(&self, path_and_query: &str) -> io::Result<(u16, Bytes)> {
        self.request(Method::GET, path_and_query, Bytes::new())
            .await
    }

    /// `POST path_and_query` with a text body: the status.
    pub(crate) async fn post(&self, path_and_query: &str, body: Bytes) -> io::Result<u16> {
        Ok(self.request(Method::POST, path_and_query, body).await?.0)
    }

    async fn request(
        &self,
        method: Method,
        path_and_query: &str,
        body: Bytes,
    ) -> io::Result<(u16, Bytes)> {
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(path_and_query)
            .header(HOST, &self.connector.target().authority);
        if method == Method::POST {
            builder = builder.header(CONTENT_TYPE, "text/plain;charset=UTF-8");
        }
        let mut request = builder.body(Full::new(body)).map_err(io::Error::other)?;
        for (name, value) in &self.headers {
            request.headers_mut().append(name, value.clone());
        }
        let mut sender = self.checkout().await?;
        let response = sender
            .send_request(request)
            .await
            .map_err(io::Error::other)?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), self.max_body)
            .collect()
            .await
            .map_err(io::Error::other)?
            .to_bytes();
        self.checkin(sender);
        Ok((status, body))
    }

    /// An idle connection that is still usable, or a new one.
    async fn checkout(&self) -> io::Result<Sender> {
        loop {
            let idle = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let Some(mut sender) = idle else { break };
            if sender.is_closed() {
                continue;
            }
            if sender.ready().await.is_ok() {
                return Ok(sender);
            }
        }
        let stream = self.connector.connect().await?;
        let (sender, connection) = hyper::client::conn::http1::handshake(FuturesIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        self.connector.rt.spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "HTTP connection ended");
            }
        });
        Ok(sender)
    }

    fn checkin(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }
}

/// A client WebSocket.
pub(crate) type ClientWs<S> = WebSocketStream<Stream<S>>;

/// Opens a WebSocket to `path_and_query` on the target, with `headers`.
pub(crate) async fn open_websocket<R: Runtime>(
    connector: Connector<R>,
    path_and_query: String,
    headers: HeaderMap,
    config: WebSocketConfig,
) -> io::Result<ClientWs<R::TcpStream>> {
    let url = connector.target().ws_url(&path_and_query);
    let mut request = url.into_client_request().map_err(io::Error::other)?;
    for (name, value) in &headers {
        request.headers_mut().append(name, value.clone());
    }
    let stream = connector.connect().await?;
    let (ws, _response) =
        async_tungstenite::client_async_with_config(request, stream, Some(config))
            .await
            .map_err(io::Error::other)?;
    Ok(ws)
}
