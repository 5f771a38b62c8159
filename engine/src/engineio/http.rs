//! HTTP facts: request ids, methods, responses and engine.io's error codes.

use bytes::Bytes;

/// Identifies one HTTP request a state machine is holding or has sent.
///
/// A server session gives every polling request it receives an id; the driver keeps the
/// real request under that id and writes the [`HttpResponse`] that `poll_transmit` later
/// returns for it. Every request handed to a session gets exactly one response (unless
/// the driver reports it aborted first). A client gives an id to every request it asks
/// the driver to send, and the driver hands the id back with the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// The HTTP method of an Engine.IO request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`: a handshake or a poll.
    Get,
    /// `POST`: data from the client.
    Post,
    /// Anything else.
    Other,
}

/// engine.io's handshake error codes, with their HTTP status and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `0` "Transport unknown".
    UnknownTransport = 0,
    /// `1` "Session ID unknown".
    UnknownSid = 1,
    /// `2` "Bad handshake method".
    BadHandshakeMethod = 2,
    /// `3` "Bad request".
    BadRequest = 3,
    /// `4` "Forbidden" (HTTP 403).
    Forbidden = 4,
    /// `5` "Unsupported protocol version".
    UnsupportedProtocolVersion = 5,
}

impl ErrorCode {
    /// The numeric code of the JSON body.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The message of the JSON body.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::UnknownTransport => "Transport unknown",
            ErrorCode::UnknownSid => "Session ID unknown",
            ErrorCode::BadHandshakeMethod => "Bad handshake method",
            ErrorCode::BadRequest => "Bad request",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The HTTP status: 403 for `Forbidden`, 400 for the others.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::Forbidden => 403,
            _ => 400,
        }
    }
}

/// An HTTP response for the driver to write.
///
/// Polling payloads also need `Cache-Control: no-store` (and CORS headers when
/// configured); those are the driver's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// The body.
    pub body: Bytes,
}

impl HttpResponse {
    /// `200` with a polling payload.
    pub fn payload(body: Bytes) -> Self {
        Self {
            status: 200,
            content_type: "text/plain; charset=UTF-8",
            body,
        }
    }

    /// `200 ok`, the answer to an accepted POST.
    pub fn ok() -> Self {
        Self {
            status: 200,
            content_type: "text/html",
            body: Bytes::from_static(b"ok"),
        }
    }

    /// The JSON error real servers answer: `{"code":N,"message":"…"}`.
    pub fn error(code: ErrorCode) -> Self {
        Self::error_with_message(code, code.message())
    }

    /// An error with a custom message (engine.io passes `allowRequest`'s message on
    /// `Forbidden`). The message is escaped as a JSON string.
    pub fn error_with_message(code: ErrorCode, message: &str) -> Self {
        let mut body = format!("{{\"code\":{},\"message\":\"", code.code());
        for c in message.chars() {
            match c {
                '"' => body.push_str("\\\""),
                '\\' => body.push_str("\\\\"),
                c if u32::from(c) < 0x20 => body.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => body.push(c),
            }
        }
        body.push_str("\"}");
        Self {
            status: code.status(),
            content_type: "application/json",
            body: Bytes::from(body),
        }
    }

    /// `413 Payload Too Large`, for a POST body over `maxPayload`.
    pub fn payload_too_large() -> Self {
        Self {
            status: 413,
            content_type: "text/plain; charset=UTF-8",
            body: Bytes::new(),
        }
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_match_engine_io() {
        let r = HttpResponse::error(ErrorCode::UnknownSid);
        assert_eq!((r.status, r.content_type), (400, "application/json"));
        assert_eq!(&r.body[..], br#"{"code":1,"message":"Session ID unknown"}"#);
        let r = HttpResponse::error_with_message(ErrorCode::Forbidden, "no \"way\"");
        assert_eq!(r.status, 403);
        assert_eq!(&r.body[..], br#"{"code":4,"message":"no \"way\""}"#);
    }
}
