//! Request guards of the Socket.IO server's HTTP side: CORS (socket.io's `cors` option,
//! npm's `cors` package behaviour) and `allowRequest` (engine.io's handshake hook).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use http_body_util::Full;

use crate::adapter::BoxFuture;
use crate::http::Body;

/// Which origins CORS allows (npm `cors`' `origin` option).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    /// Any origin: `Access-Control-Allow-Origin: *` (`origin: "*"`, the default).
    /// Browsers refuse `*` with credentials; use [`Mirror`](Self::Mirror) then.
    #[default]
    Any,
    /// Any origin, echoed back with `Vary: Origin` (`origin: true`).
    Mirror,
    /// These origins (such as `https://example.com`), echoed back when the request's
    /// `Origin` is one of them, with `Vary: Origin`; other origins get no
    /// `Access-Control-Allow-Origin` (the browser then blocks the response).
    List(Vec<String>),
}

/// CORS settings of the Socket.IO server (socket.io's `cors` option, which is npm's
/// `cors` middleware): added to every answer at the server's path (long-polling
/// requests and handshakes; a WebSocket upgrade needs none), and `OPTIONS` preflight
/// requests there are answered `204` with the allowed methods and headers.
#[derive(Debug, Clone)]
pub struct CorsOptions {
    /// The allowed origins.
    pub origins: CorsOrigins,
    /// Sends `Access-Control-Allow-Credentials: true` (cookies, such as a sticky-session
    /// cookie, with `withCredentials: true` on the client).
    pub credentials: bool,
    /// `Access-Control-Allow-Methods` of preflights (default npm `cors`':
    /// `GET,HEAD,PUT,PATCH,POST,DELETE`).
    pub methods: Vec<String>,
    /// `Access-Control-Allow-Headers` of preflights; `None` (the default) echoes the
    /// request's `Access-Control-Request-Headers`.
    pub allowed_headers: Option<Vec<String>>,
    /// `Access-Control-Expose-Headers` of answers (default none).
    pub exposed_headers: Vec<String>,
    /// `Access-Control-Max-Age` of preflights (default none).
    pub max_age: Option<Duration>,
}

impl Default for CorsOptions {
    fn default() -> Self {
        Self {
            origins: CorsOrigins::Any,
            credentials: false,
            methods: ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"]
                .map(str::to_owned)
                .to_vec(),
            allowed_headers: None,
            exposed_headers: Vec::new(),
            max_age: None,
        }
    }
}

fn value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text).ok()
}

impl CorsOptions {
    /// The headers every answer to a request from `origin` carries.
    fn common(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        match &self.origins {
            CorsOrigins::Any => {
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                );
            }
            CorsOrigins::Mirror => {
                if let Some(origin) = origin {
                    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                }
                headers.append(header::VARY, HeaderValue::from_static("Origin"));
            }
            CorsOrigins::List(list) => {
                if let Some(origin) = origin
                    && list.iter().any(|o| o.as_bytes() == origin.as_bytes())
                {
                    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                }
                headers.append(header::VARY, HeaderValue::from_static("Origin"));
            }
        }
        if self.credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }

    /// Adds the CORS headers of an answer (not a preflight) to `headers`.
    pub(crate) fn apply(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        self.common(origin, headers);
        if !self.exposed_headers.is_empty()
            && let Some(exposed) = value(&self.exposed_headers.join(","))
        {
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, exposed);
        }
    }

    /// The answer to a preflight `OPTIONS` request with `request` headers.
    pub(crate) fn preflight(&self, request: &HeaderMap) -> Response<Body> {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        self.common(request.get(header::ORIGIN), headers);
        if let Some(methods) = value(&self.methods.join(",")) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        match &self.allowed_headers {
            Some(allowed) => {
                if let Some(allowed) = value(&allowed.join(",")) {
                    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allowed);
                }
            }
            None => {
                if let Some(asked) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
                    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
                }
                headers.append(
                    header::VARY,
                    HeaderValue::from_static("Access-Control-Request-Headers"),
                );
            }
        }
        if let Some(max_age) = self.max_age {
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from(max_age.as_secs()),
            );
        }
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        response
    }
}

/// A refusal from an [`allow_request`](crate::socketio::ServerBuilder::allow_request)
/// hook: the handshake is answered `403` with `{"code":4,"message":…}`, the message
/// being `Forbidden` unless one is given (engine.io's `allowRequest` refusal).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refused {
    /// The message of the answer (`Forbidden` when `None`).
    pub message: Option<String>,
}

impl Refused {
    /// A refusal with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: Some(message.into()),
        }
    }

    /// The `403` answer.
    pub(crate) fn response(&self) -> Response<Body> {
        let message = self.message.as_deref().unwrap_or("Forbidden");
        let body = serde_json::json!({ "code": 4, "message": message }).to_string();
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = StatusCode::FORBIDDEN;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

impl From<String> for Refused {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl From<&str> for Refused {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

/// An `allow_request` hook, sync or async, erased.
pub(crate) trait AllowRequest: Send + Sync + 'static {
    fn check(&self, parts: &http::request::Parts) -> BoxFuture<'static, Result<(), Refused>>;
}

pub(crate) struct AllowFn<F>(pub(crate) F);

impl<F, Fut> AllowRequest for AllowFn<F>
where
    F: Fn(&http::request::Parts) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Refused>> + Send + 'static,
{
    fn check(&self, parts: &http::request::Parts) -> BoxFuture<'static, Result<(), Refused>> {
        Box::pin((self.0)(parts))
    }
}

/// The guards of one server.
#[derive(Clone, Default)]
pub(crate) struct Guards {
    pub(crate) cors: Option<Arc<CorsOptions>>,
    pub(crate) allow_request: Option<Arc<dyn AllowRequest>>,
}

/// Whether `query` opens a session (a handshake: a `transport` and no `sid`).
fn is_handshake(query: &str) -> bool {
    let mut transport = false;
    for pair in query.split('&') {
        let key = pair.split('=').next().unwrap_or("");
        match key {
            "sid" => return false,
            "transport" => transport = true,
            _ => {}
        }
    }
    transport
}

impl Guards {
    /// Whether there is nothing to do.
    pub(crate) fn is_empty(&self) -> bool {
        self.cors.is_none() && self.allow_request.is_none()
    }

    /// Answers a request at the server's path: a preflight, a refused handshake, or
    /// what `inner` answers, with the CORS headers.
    pub(crate) fn run<B, F>(
        &self,
        request: http::Request<B>,
        inner: F,
    ) -> BoxFuture<'static, Response<Body>>
    where
        B: Send + 'static,
        F: FnOnce(http::Request<B>) -> BoxFuture<'static, Response<Body>> + Send + 'static,
    {
        let cors = self.cors.clone();
        if let Some(cors) = &cors
            && request.method() == Method::OPTIONS
        {
            let answer = cors.preflight(request.headers());
            return Box::pin(async move { answer });
        }
        let origin = request.headers().get(header::ORIGIN).cloned();
        let with_cors = move |mut response: Response<Body>| {
            if let Some(cors) = &cors
                && response.status() != StatusCode::SWITCHING_PROTOCOLS
            {
                cors.apply(origin.as_ref(), response.headers_mut());
            }
            response
        };
        let handshake = is_handshake(request.uri().query().unwrap_or(""));
        match &self.allow_request {
            Some(allow) if handshake => {
                let (parts, body) = request.into_parts();
                let check = allow.check(&parts);
                Box::pin(async move {
                    if let Err(refused) = check.await {
                        tracing::debug!(message = ?refused.message, "handshake refused by allow_request");
                        return with_cors(refused.response());
                    }
                    with_cors(inner(http::Request::from_parts(parts, body)).await)
                })
            }
            _ => {
                let answer = inner(request);
                Box::pin(async move { with_cors(answer.await) })
            }
        }
    }
}
