//! [`ClientBuilder`]: socket.io-client's `io(url, options)`.

use std::sync::Arc;
use std::time::Duration;

use halyard_engine::engineio::{ClientConfig, TransportKind};
use halyard_engine::socketio::client::ManagerConfig;
use halyard_protocol::socketio::RawJson;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;

#[cfg(feature = "tls")]
use super::TlsConfig;
use super::manager::Manager;
use super::socket::Socket;
use super::{Error, cache};
use crate::runtime::Runtime;

/// The auth payload of a socket's CONNECT packets (socket.io-client's `auth` option).
#[derive(Clone, Default)]
pub enum Auth {
    /// No auth payload.
    #[default]
    None,
    /// The same JSON object every time.
    Value(RawJson),
    /// A function called before every CONNECT, the first and each one after a
    /// reconnection (socket.io-client's `auth: (cb) => cb({...})`), returning a JSON object.
    With(Arc<dyn Fn() -> Result<RawJson, Error> + Send + Sync>),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Value(value) => f.debug_tuple("Value").field(value).finish(),
            Auth::With(_) => f.write_str("With(..)"),
        }
    }
}

impl Auth {
    /// `value`, serialised now (it must serialise to a JSON object).
    pub fn value<T: Serialize + ?Sized>(value: &T) -> Result<Self, Error> {
        Ok(Auth::Value(object(value)?))
    }

    /// A function evaluated before every CONNECT; what it returns must serialise to a
    /// JSON object.
    pub fn with<T: Serialize, F: Fn() -> T + Send + Sync + 'static>(f: F) -> Self {
        Auth::With(Arc::new(move || object(&f())))
    }

    /// The payload for the next CONNECT.
    pub(crate) fn current(&self) -> Result<Option<RawJson>, Error> {
        match self {
            Auth::None => Ok(None),
            Auth::Value(value) => Ok(Some(value.clone())),
            Auth::With(f) => f().map(Some),
        }
    }
}

fn object<T: Serialize + ?Sized>(value: &T) -> Result<RawJson, Error> {
    let json = RawJson::from_value(value)?;
    if !json.as_str().starts_with('{') {
        return Err(Error::InvalidAuth);
    }
    Ok(json)
}

/// Settings of one namespace socket (socket.io-client's `SocketOptions`).
#[derive(Debug, Clone, Default)]
pub struct SocketOptions {
    /// The auth payload sent with every CONNECT.
    pub auth: Auth,
    /// Retry every non-volatile emit until acknowledged, at most this many times more,
    /// one at a time, in order (`retries`: at-least-once delivery).
    pub retries: Option<u32>,
    /// The acknowledgement timeout of every emit that waits for one, and of the retries
    /// (`ackTimeout`).
    pub ack_timeout: Option<Duration>,
}

/// Everything a manager is built from.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) path: String,
    pub(crate) transports: Vec<TransportKind>,
    pub(crate) upgrade: bool,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) socket: SocketOptions,
    pub(crate) manager: ManagerConfig,
    pub(crate) force_new: bool,
    pub(crate) multiplex: bool,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<TlsConfig>,
    pub(crate) max_buffered: usize,
    pub(crate) max_payload: usize,
    pub(crate) seed: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            path: "/socket.io/".to_owned(),
            transports: vec![TransportKind::Polling, TransportKind::WebSocket],
            upgrade: true,
            query: Vec::new(),
            headers: HeaderMap::new(),
            socket: SocketOptions::default(),
            manager: ManagerConfig::default(),
            force_new: false,
            multiplex: true,
            #[cfg(feature = "tls")]
            tls: None,
            max_buffered: 1024,
            max_payload: 16 * 1024 * 1024,
            seed: None,
        }
    }
}

impl Options {
    /// The Engine.IO settings these options imply.
    pub(crate) fn engine_config(&self) -> Result<ClientConfig, Error> {
        let first = *self
            .transports
            .first()
            .ok_or_else(|| Error::InvalidOption("transports must not be empty".into()))?;
        let mut config = self.manager.engine.clone();
        config.first_transport = first;
        config.upgrade = self.upgrade
            && first == TransportKind::Polling
            && self.transports.contains(&TransportKind::WebSocket);
        Ok(config)
    }

    /// The query string added to every request.
    pub(crate) fn query_string(&self, url_query: &str) -> String {
        let mut out = url_query.to_owned();
        for (key, value) in &self.query {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(&encode(key));
            out.push('=');
            out.push_str(&encode(value));
        }
        out
    }
}

/// A header given as text, checked.
pub(crate) fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), Error> {
    let name = HeaderName::try_from(name)
        .map_err(|_| Error::InvalidOption(format!("header name {name:?}")))?;
    let value = HeaderValue::try_from(value)
        .map_err(|_| Error::InvalidOption(format!("header value {value:?}")))?;
    Ok((name, value))
}

/// Percent-encodes a query component as `encodeURIComponent` does.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Builds a client: socket.io-client's `io(url, options)`, with its option names.
/// Get one from a runtime crate (`halyard_tokio::client::io(url)`,
/// `halyard_smol::client::io(url)`) or with [`new`](Self::new); finish with
/// [`connect`](Self::connect) (the socket of the URL's namespace) or
/// [`manager`](Self::manager).
///
/// The defaults are socket.io-client 4.8's: polling then upgrade to WebSocket, path
/// `/socket.io/`, reconnection forever with delays from 1 s to 5 s and jitter 0.5, a
/// 20 s connect timeout, auto-connect, one shared connection per origin.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until connect or manager is called"]
pub struct ClientBuilder<R> {
    rt: R,
    url: String,
    options: Options,
}

impl<R: Runtime> ClientBuilder<R> {
    /// A client of `url` (`http://`, `https://`, `ws://` or `wss://`; its path is the
    /// namespace, its query goes with every request), running on `rt`.
    pub fn new(rt: R, url: impl Into<String>) -> Self {
        Self {
            rt,
            url: url.into(),
            options: Options::default(),
        }
    }

    /// The Engine.IO path on the server (`path`, default `/socket.io/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let mut path = path.into();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        if !path.ends_with('/') {
            path.push('/');
        }
        self.options.path = path;
        self
    }

    /// The transports, in the order tried (`transports`, default polling then
    /// WebSocket). `[TransportKind::WebSocket]` connects over WebSocket only;
    /// `[TransportKind::Polling]` never upgrades.
    pub fn transports(mut self, transports: impl IntoIterator<Item = TransportKind>) -> Self {
        self.options.transports = transports.into_iter().collect();
        self
    }

    /// Whether to upgrade from polling to WebSocket (`upgrade`, default true).
    pub fn upgrade(mut self, upgrade: bool) -> Self {
        self.options.upgrade = upgrade;
        self
    }

    /// Adds a query parameter to every request (`query`).
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.query.push((key.into(), value.into()));
        self
    }

    /// Adds a header to every HTTP request and WebSocket handshake (`extraHeaders`).
    pub fn extra_header(mut self, name: &str, value: &str) -> Result<Self, Error> {
        let (name, value) = header(name, value)?;
        self.options.headers.append(name, value);
        Ok(self)
    }

    /// The auth payload of the socket's CONNECT (`auth`); see [`Auth`] for a function
    /// evaluated on every (re)connection.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.options.socket.auth = auth;
        self
    }

    /// Whether to reconnect after a lost connection (`reconnection`, default true).
    pub fn reconnection(mut self, reconnection: bool) -> Self {
        self.options.manager.reconnection = reconnection;
        self
    }

    /// How many attempts before giving up (`reconnectionAttempts`, default forever).
    pub fn reconnection_attempts(mut self, attempts: u32) -> Self {
        self.options.manager.reconnection_attempts = Some(attempts);
        self
    }

    /// The first reconnection delay (`reconnectionDelay`, default 1 s).
    pub fn reconnection_delay(mut self, delay: Duration) -> Self {
        self.options.manager.reconnection_delay = delay;
        self
    }

    /// The largest reconnection delay (`reconnectionDelayMax`, default 5 s).
    pub fn reconnection_delay_max(mut self, delay: Duration) -> Self {
        self.options.manager.reconnection_delay_max = delay;
        self
    }

    /// The jitter of the delays (`randomizationFactor`, default 0.5; 0 for none).
    pub fn randomization_factor(mut self, factor: f64) -> Self {
        self.options.manager.randomization_factor = factor;
        self
    }

    /// How long a connection attempt may take (`timeout`, default 20 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.manager.engine.handshake_timeout = timeout;
        self
    }

    /// Whether sockets connect as soon as they are created (`autoConnect`, default
    /// true); otherwise call [`Socket::connect`].
    pub fn auto_connect(mut self, auto_connect: bool) -> Self {
        self.options.manager.auto_connect = auto_connect;
        self
    }

    /// The default acknowledgement timeout (`ackTimeout`).
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.options.socket.ack_timeout = Some(timeout);
        self
    }

    /// Retries of every non-volatile emit until acknowledged (`retries`).
    pub fn retries(mut self, retries: u32) -> Self {
        self.options.socket.retries = Some(retries);
        self
    }

    /// A connection of its own instead of the one shared per origin (`forceNew`).
    pub fn force_new(mut self, force_new: bool) -> Self {
        self.options.force_new = force_new;
        self
    }

    /// Whether to share the connection per origin (`multiplex`, default true).
    pub fn multiplex(mut self, multiplex: bool) -> Self {
        self.options.multiplex = multiplex;
        self
    }

    /// The TLS settings for `https://` and `wss://` (default: the Mozilla roots).
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: TlsConfig) -> Self {
        self.options.tls = Some(config);
        self
    }

    /// At most this many events wait in a socket's send buffer while it is not
    /// connected (default 1024); an emit beyond fails with [`Error::BufferFull`].
    pub fn max_buffered(mut self, events: usize) -> Self {
        self.options.max_buffered = events;
        self
    }

    /// The largest polling response body accepted (default 16 MiB).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.options.max_payload = bytes;
        self
    }

    /// Seeds the reconnection jitter (for reproducible runs; random by default).
    pub fn seed(mut self, seed: u64) -> Self {
        self.options.seed = Some(seed);
        self
    }

    /// The socket of the URL's namespace (`io(url, options)`). It connects at once
    /// unless `auto_connect(false)`. Sockets of one origin share one connection unless
    /// [`force_new`](Self::force_new) or `multiplex(false)`; the options of a shared
    /// connection are those of the client that opened it.
    pub fn connect(self) -> Result<Socket, Error> {
        let target = super::target::Target::parse(&self.url)?;
        let nsp = target.path.clone();
        let options = self.options.socket.clone();
        let manager = if self.options.force_new || !self.options.multiplex {
            Manager::start(self.rt, target, self.options)?
        } else {
            let key = target.origin_key(&self.options.path);
            cache::manager(&key, || Manager::start(self.rt, target, self.options))?
        };
        manager.socket_with(&nsp, options)
    }

    /// A new manager of the URL's origin, with no socket yet (`new Manager(url,
    /// options)`); never shared.
    pub fn manager(self) -> Result<Manager, Error> {
        let target = super::target::Target::parse(&self.url)?;
        Manager::start(self.rt, target, self.options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_components_are_encoded_like_encode_uri_component() {
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode("A-z_0.!~*'()"), "A-z_0.!~*'()");
        let options = Options {
            query: vec![("token".into(), "x y".into())],
            ..Options::default()
        };
        assert_eq!(options.query_string(""), "token=x%20y");
        assert_eq!(options.query_string("a=1"), "a=1&token=x%20y");
    }

    #[test]
    fn transports_decide_the_first_transport_and_the_upgrade() {
        let mut options = Options::default();
        let config = options.engine_config().unwrap();
        assert_eq!(
            (config.first_transport, config.upgrade),
            (TransportKind::Polling, true)
        );
        options.transports = vec![TransportKind::WebSocket];
        let config = options.engine_config().unwrap();
        assert_eq!(
            (config.first_transport, config.upgrade),
            (TransportKind::WebSocket, false)
        );
        options.transports = vec![TransportKind::Polling];
        assert!(!options.engine_config().unwrap().upgrade);
        options.transports.clear();
        assert!(options.engine_config().is_err());
    }

    #[test]
    fn auth_must_be_an_object() {
        assert!(matches!(Auth::value(&[1, 2]), Err(Error::InvalidAuth)));
        let auth = Auth::value(&serde_json::json!({"token": "a"})).unwrap();
        assert_eq!(
            auth.current().unwrap().unwrap().as_str(),
            r#"{"token":"a"}"#
        );
        let auth = Auth::with(|| "nope");
        assert!(matches!(auth.current(), Err(Error::InvalidAuth)));
    }
}
