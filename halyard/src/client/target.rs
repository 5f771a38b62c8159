//! Where a client connects: the URL taken apart.

use super::Error;

/// A parsed client URL: `http://`, `https://`, `ws://` or `wss://`, a host, an optional
/// port, and a path that names the Socket.IO namespace (as with socket.io-client's
/// `io("http://host/chat")`). Its query string is added to every Engine.IO request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// TLS (`https`/`wss`).
    pub(crate) secure: bool,
    /// The host to connect to (an IPv6 address without its brackets).
    pub(crate) host: String,
    /// The port (80 or 443 unless given).
    pub(crate) port: u16,
    /// The `Host` header: the host as written, with the port when one was given.
    pub(crate) authority: String,
    /// The URL's path: the namespace for Socket.IO (`/` when empty).
    pub(crate) path: String,
    /// The URL's query string, without `?` (may be empty).
    pub(crate) query: String,
}

impl Target {
    /// Parses `url`.
    pub(crate) fn parse(url: &str) -> Result<Self, Error> {
        let invalid = |why: &str| Error::InvalidUrl(format!("{url}: {why}"));
        let uri: http::Uri = url.parse().map_err(|_| invalid("not a URL"))?;
        let secure = match uri.scheme_str() {
            Some("http" | "ws") => false,
            Some("https" | "wss") => true,
            Some(_) => return Err(invalid("the scheme must be http, https, ws or wss")),
            None => return Err(invalid("a scheme (http:// or ws://…) is required")),
        };
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("user information is not supported"));
        }
        let host = authority.host();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let path = match uri.path() {
            "" => "/".to_owned(),
            path => path.to_owned(),
        };
        Ok(Self {
            secure,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            authority: authority.as_str().to_owned(),
            path,
            query: uri.query().unwrap_or_default().to_owned(),
        })
    }

    /// The key socket.io-client shares managers under: the origin and the Engine.IO path.
    pub(crate) fn origin_key(&self, engine_path: &str) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}:{}{engine_path}", self.host, self.port)
    }

    /// The WebSocket URL of `path_and_query` on this host.
    pub(crate) fn ws_url(&self, path_and_query: &str) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        format!("{scheme}://{}{path_and_query}", self.authority)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_apart_every_scheme() {
        let t = Target::parse("http://localhost:3000/chat?token=a").unwrap();
        assert_eq!(
            t,
            Target {
                secure: false,
                host: "localhost".into(),
                port: 3000,
                authority: "localhost:3000".into(),
                path: "/chat".into(),
                query: "token=a".into(),
            }
        );
        let t = Target::parse("wss://example.com").unwrap();
        assert!(t.secure);
        assert_eq!((t.port, t.path.as_str(), t.query.as_str()), (443, "/", ""));
        let t = Target::parse("ws://[::1]:8080/").unwrap();
        assert_eq!(
            (t.host.as_str(), t.authority.as_str()),
            ("::1", "[::1]:8080")
        );
        assert_eq!(Target::parse("https://a.b").unwrap().port, 443);
        assert_eq!(Target::parse("http://a.b").unwrap().port, 80);
    }

    #[test]
    fn refuses_what_it_cannot_reach() {
        for url in [
            "localhost:3000",
            "ftp://a/",
            "/chat",
            "http://u:p@host/",
            "",
        ] {
            assert!(
                matches!(Target::parse(url), Err(Error::InvalidUrl(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn managers_are_shared_per_origin_and_path() {
        let a = Target::parse("http://h:1/a").unwrap();
        let b = Target::parse("ws://h:1/b?x=1").unwrap();
        assert_eq!(a.origin_key("/socket.io/"), b.origin_key("/socket.io/"));
        assert_ne!(a.origin_key("/socket.io/"), a.origin_key("/other/"));
        assert_eq!(a.ws_url("/socket.io/?EIO=4"), "ws://h:1/socket.io/?EIO=4");
    }
}
