//! What a socket knows about how its client connected (socket.io's `socket.handshake`).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use halyard_protocol::socketio::RawJson;
use serde::Deserialize;

/// The request that opened the connection, and the auth payload of the namespace
/// CONNECT (socket.io's `socket.handshake`). Cheap to clone.
///
/// ```
/// # fn f(handshake: &halyard::socketio::Handshake) {
/// #[derive(serde::Deserialize)]
/// struct Auth { token: String }
/// let token = handshake.auth_as::<Auth>().map(|a| a.token).ok();
/// let lang = handshake.query_param("lang");
/// let agent = handshake.header("user-agent");
/// # }
/// ```
#[derive(Clone)]
pub struct Handshake {
    conn: Arc<ConnInfo>,
    auth: RawJson,
}

#[derive(Debug)]
pub(crate) struct ConnInfo {
    /// The URI and the headers.
    pub(crate) request: Request,
    pub(crate) address: Option<SocketAddr>,
    pub(crate) issued: SystemTime,
}

/// The handshake's URI and headers, compactly (a connection keeps them as long as it
/// lives): one buffer holding the URI, then `name:value\n` lines. The `Uri` and the
/// `HeaderMap` are only built when [`Handshake::url`] and [`Handshake::headers`] are
/// first called.
pub(crate) struct Request {
    raw: Box<[u8]>,
    /// Where the URI ends (the header lines follow).
    uri_end: u32,
    /// Where the URI's query starts.
    query_at: u32,
    uri: OnceLock<Box<http::Uri>>,
    map: OnceLock<Box<http::HeaderMap>>,
}

impl Request {
    /// A copy of `uri` and `map` (names are lowercase; values hold no `\n`).
    pub(crate) fn new(uri: &http::Uri, map: &http::HeaderMap) -> Self {
        let uri_text = uri.to_string();
        let query = uri.query().unwrap_or("");
        let size = uri_text.len()
            + map
                .iter()
                .map(|(name, value)| name.as_str().len() + value.len() + 2)
                .sum::<usize>();
        let mut raw = Vec::with_capacity(size);
        raw.extend_from_slice(uri_text.as_bytes());
        for (name, value) in map {
            raw.extend_from_slice(name.as_str().as_bytes());
            raw.push(b':');
            raw.extend_from_slice(value.as_bytes());
            raw.push(b'\n');
        }
        // An `http::Uri` is shorter than 64 KiB; its query ends its text (a request URI
        // has no fragment).
        let uri_end = uri_text.len() as u32;
        Self {
            raw: raw.into_boxed_slice(),
            uri_end,
            query_at: uri_end - query.len() as u32,
            uri: OnceLock::new(),
            map: OnceLock::new(),
        }
    }

    /// The URI's text.
    fn uri_text(&self) -> &str {
        std::str::from_utf8(&self.raw[..self.uri_end as usize]).unwrap_or("")
    }

    /// The URI, parsed on first use.
    pub(crate) fn uri(&self) -> &http::Uri {
        self.uri
            .get_or_init(|| Box::new(self.uri_text().parse().unwrap_or_default()))
    }

    /// The raw query string (empty when none).
    pub(crate) fn query(&self) -> &str {
        self.uri_text().get(self.query_at as usize..).unwrap_or("")
    }

    /// `(name, value)` in request order.
    fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.raw[self.uri_end as usize..]
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .filter_map(|line| {
                let colon = line.iter().position(|&b| b == b':')?;
                Some((&line[..colon], &line[colon + 1..]))
            })
    }

    /// The first value of `name` (any case), if it is text (as `HeaderValue::to_str`).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        let (_, value) = self
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))?;
        let visible = value.iter().all(|&b| b == b'\t' || (32..127).contains(&b));
        visible.then(|| std::str::from_utf8(value).ok()).flatten()
    }

    /// As a `HeaderMap`, built on first use.
    pub(crate) fn map(&self) -> &http::HeaderMap {
        self.map.get_or_init(|| {
            let mut map = http::HeaderMap::new();
            for (name, value) in self.iter() {
                let name = http::HeaderName::from_bytes(name);
                let value = http::HeaderValue::from_bytes(value);
                if let (Ok(name), Ok(value)) = (name, value) {
                    map.append(name, value);
                }
            }
            Box::new(map)
        })
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(n, v)| (String::from_utf8_lossy(n), String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshake")
            .field("url", self.conn.request.uri())
            .field("address", &self.conn.address)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Handshake {
    pub(crate) fn new(conn: Arc<ConnInfo>, auth: RawJson) -> Self {
        Self { conn, auth }
    }

    /// The headers of the first HTTP request of the connection.
    pub fn headers(&self) -> &http::HeaderMap {
        self.conn.request.map()
    }

    /// One header, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.conn.request.get(name)
    }

    /// The request URL (path and query) of the first request.
    pub fn url(&self) -> &http::Uri {
        self.conn.request.uri()
    }

    /// The raw query string of the first request (`EIO=4&transport=polling&…`).
    pub fn query(&self) -> &str {
        self.conn.request.query()
    }

    /// One query parameter, percent-decoded (`+` as a space).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query().split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key) == name).then(|| decode(value))
        })
    }

    /// The client's address, when the accept loop knows it.
    pub fn address(&self) -> Option<SocketAddr> {
        self.conn.address
    }

    /// When the connection was opened.
    pub fn issued(&self) -> SystemTime {
        self.conn.issued
    }

    /// The auth payload the client sent with its CONNECT (`{}` when none).
    pub fn auth(&self) -> &RawJson {
        &self.auth
    }

    /// The auth payload, deserialized.
    pub fn auth_as<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        self.auth.deserialize()
    }
}

/// Percent-decoding of a query component (invalid escapes are kept as they are).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() && text.is_char_boundary(i + 3) => {
                match u8::from_str_radix(&text[i + 1..i + 3], 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        let uri: http::Uri = "/socket.io/?EIO=4&name=a%20b+c&x=%zz&y".parse().unwrap();
        let conn = Arc::new(ConnInfo {
            request: Request::new(&uri, &http::HeaderMap::new()),
            address: None,
            issued: SystemTime::now(),
        });
        let h = Handshake::new(conn, RawJson::new("{}").unwrap());
        assert_eq!(h.query_param("name").as_deref(), Some("a b c"));
        assert_eq!(h.query_param("x").as_deref(), Some("%zz"));
        assert_eq!(h.query_param("y").as_deref(), Some(""));
        assert_eq!(h.query_param("EIO").as_deref(), Some("4"));
    }

    #[test]
    fn headers_are_kept_compactly() {
        let mut map = http::HeaderMap::new();
        map.insert("user-agent", "test agent".parse().unwrap());
        map.append("x-multi", "one".parse().unwrap());
        map.append("x-multi", "two:three".parse().unwrap());
        map.insert(
            "x-binary",
            http::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        );
        let uri: http::Uri = "/socket.io/?EIO=4".parse().unwrap();
        let conn = Arc::new(ConnInfo {
            request: Request::new(&uri, &map),
            address: None,
            issued: SystemTime::now(),
        });
        let h = Handshake::new(conn, RawJson::new("{}").unwrap());
        assert_eq!(h.header("User-Agent"), Some("test agent"));
        assert_eq!(h.header("x-multi"), Some("one"));
        assert_eq!(h.header("x-binary"), None);
        assert_eq!(h.header("missing"), None);
        assert_eq!(h.headers(), &map);
        let values: Vec<_> = h.headers().get_all("x-multi").iter().collect();
        assert_eq!(values, ["one", "two:three"]);
        assert_eq!(h.query_param("nope"), None);
    }
}
