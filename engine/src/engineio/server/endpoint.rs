//! Handshake routing: which request opens a session, which belongs to one, which fails.

use std::sync::Arc;
use std::time::Instant;

use super::session::ServerSession;
use crate::engineio::{
    ErrorCode, HttpResponse, Method, RequestId, SeededRng, ServerConfig, TransportKind,
};

/// The facts of an incoming Engine.IO HTTP request, already parsed by the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The HTTP method.
    pub method: Method,
    /// The `EIO` query parameter.
    pub eio: Option<&'a str>,
    /// The `transport` query parameter.
    pub transport: Option<&'a str>,
    /// The `sid` query parameter.
    pub sid: Option<&'a str>,
    /// Whether this is a WebSocket upgrade request (`Upgrade: websocket`).
    pub websocket: bool,
}

impl<'a> Request<'a> {
    /// Reads `EIO`, `transport` and `sid` from a raw query string (`a=1&b=2`, without
    /// `?`). Values are taken verbatim: Engine.IO values never need percent-decoding.
    pub fn from_query(method: Method, query: &'a str, websocket: bool) -> Self {
        let mut request = Request {
            method,
            eio: None,
            transport: None,
            sid: None,
            websocket,
        };
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "EIO" => request.eio = Some(value),
                "transport" => request.transport = Some(value),
                "sid" => request.sid = Some(value),
                _ => {}
            }
        }
        request
    }
}

/// What to do with a request.
#[derive(Debug)]
pub enum Decision {
    /// A new session. For a polling handshake, `request` is the id the session gave the
    /// handshake GET: its response (the open packet) is the session's first transmit.
    /// Over WebSocket, the driver accepts the upgrade and writes the session's frames.
    Open {
        /// The new session; the driver stores it under its sid.
        session: Box<ServerSession>,
        /// The handshake GET, for a polling handshake.
        request: Option<RequestId>,
    },
    /// The request belongs to the session `sid`. The driver looks it up (if it is gone,
    /// it answers [`Endpoint::unknown_sid`]) and calls `handle_poll` (GET), `handle_post`
    /// (POST) or `handle_ws_open` (WebSocket upgrade) on it.
    Existing {
        /// The session id from the query.
        sid: String,
    },
    /// Refuse the request with this response (for a WebSocket upgrade: refuse the
    /// upgrade with this status and body).
    Reject(HttpResponse),
}

/// Creates server sessions: checks handshake requests and generates session ids from a
/// seeded generator. It holds no session; the driver owns them (one per connection).
#[derive(Debug)]
pub struct Endpoint {
    /// Shared with every session it opens (not a copy per session).
    config: Arc<ServerConfig>,
    rng: SeededRng,
}

impl Endpoint {
    /// An endpoint with this configuration; `seed` makes session ids reproducible.
    pub fn new(config: ServerConfig, seed: u64) -> Self {
        Self {
            config: Arc::new(config),
            rng: SeededRng::new(seed),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Decides what `request` is, in engine.io's order of checks: transport, then (with a
    /// sid) the protocol revision, else method, WebSocket-ness and protocol revision of a
    /// handshake.
    pub fn handle_request(&mut self, now: Instant, request: &Request<'_>) -> Decision {
        let reject = |code| Decision::Reject(HttpResponse::error(code));
        let Some(transport) = request
            .transport
            .and_then(TransportKind::parse)
            .filter(|t| self.config.allows(*t))
        else {
            return reject(ErrorCode::UnknownTransport);
        };
        if let Some(sid) = request.sid {
            if request.eio != Some("4") {
                return reject(ErrorCode::BadRequest);
            }
            let ws_ok = !request.websocket || transport == TransportKind::WebSocket;
            let method_ok = request.websocket || request.method != Method::Other;
            if !ws_ok || !method_ok {
                return reject(ErrorCode::BadRequest);
            }
            return Decision::Existing {
                sid: sid.to_owned(),
            };
        }
        if request.method != Method::Get {
            return reject(ErrorCode::BadHandshakeMethod);
        }
        if transport == TransportKind::WebSocket && !request.websocket {
            return reject(ErrorCode::BadRequest);
        }
        if request.eio != Some("4") {
            return reject(ErrorCode::UnsupportedProtocolVersion);
        }
        let transport = if request.websocket {
            TransportKind::WebSocket
        } else {
            transport
        };
        let sid = self.rng.session_id();
        let (session, request) = ServerSession::new(sid, self.config.clone(), transport, now);
        Decision::Open {
            session: Box::new(session),
            request,
        }
    }

    /// The response for a request whose sid names no live session.
    pub fn unknown_sid() -> HttpResponse {
        HttpResponse::error(ErrorCode::UnknownSid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(method: Method, query: &str, ws: bool) -> Decision {
        let mut endpoint = Endpoint::new(ServerConfig::default(), 1);
        endpoint.handle_request(Instant::now(), &Request::from_query(method, query, ws))
    }

    fn rejected(decision: Decision) -> (u16, String) {
        match decision {
            Decision::Reject(r) => (r.status, String::from_utf8(r.body.to_vec()).unwrap()),
            other => panic!("not rejected: {other:?}"),
        }
    }

    #[test]
    fn handshake_errors_match_engine_io() {
        let cases = [
            (
                Method::Get,
                "EIO=4&transport=flash",
                false,
                r#"{"code":0,"message":"Transport unknown"}"#,
            ),
            (
                Method::Get,
                "EIO=4",
                false,
                r#"{"code":0,"message":"Transport unknown"}"#,
            ),
            (
                Method::Post,
                "EIO=4&transport=polling",
                false,
                r#"{"code":2,"message":"Bad handshake method"}"#,
            ),
            (
                Method::Get,
                "EIO=4&transport=websocket",
                false,
                r#"{"code":3,"message":"Bad request"}"#,
            ),
            (
                Method::Get,
                "EIO=3&transport=polling",
                false,
                r#"{"code":5,"message":"Unsupported protocol version"}"#,
            ),
            (
                Method::Get,
                "transport=polling",
                false,
                r#"{"code":5,"message":"Unsupported protocol version"}"#,
            ),
            (
                Method::Get,
                "EIO=3&transport=polling&sid=abc",
                false,
                r#"{"code":3,"message":"Bad request"}"#,
            ),
        ];
        for (method, query, ws, body) in cases {
            assert_eq!(
                rejected(decide(method, query, ws)),
                (400, body.to_owned()),
                "{query}"
            );
        }
        let unknown = Endpoint::unknown_sid();
        assert_eq!(unknown.status, 400);
        assert_eq!(
            &unknown.body[..],
            br#"{"code":1,"message":"Session ID unknown"}"#
        );
    }

    #[test]
    fn routes_existing_sessions_and_opens_new_ones() {
        match decide(Method::Post, "EIO=4&transport=polling&sid=abc&t=1", false) {
            Decision::Existing { sid } => assert_eq!(sid, "abc"),
            other => panic!("{other:?}"),
        }
        match decide(Method::Get, "EIO=4&transport=polling", false) {
            Decision::Open { session, request } => {
                assert!(request.is_some());
                assert_eq!(session.transport(), TransportKind::Polling);
                assert_eq!(session.sid().len(), 20);
            }
            other => panic!("{other:?}"),
        }
        match decide(Method::Get, "EIO=4&transport=websocket", true) {
            Decision::Open { session, request } => {
                assert!(request.is_none());
                assert_eq!(session.transport(), TransportKind::WebSocket);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn seeds_replay_session_ids() {
        let open = |seed| {
            let mut e = Endpoint::new(ServerConfig::default(), seed);
            let req = Request::from_query(Method::Get, "EIO=4&transport=polling", false);
            match e.handle_request(Instant::now(), &req) {
                Decision::Open { session, .. } => session.sid().to_owned(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(open(42), open(42));
        assert_ne!(open(42), open(43));
    }
}
