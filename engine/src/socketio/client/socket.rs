//! The state of one namespace socket, and the little JSON it reads and writes itself.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use bytestring::ByteString;
use halyard_protocol::socketio::{Args, Encoded, Event as SocketIoEvent, RawJson};
use serde::Deserialize;
use serde::de::{IgnoredAny, SeqAccess, Visitor};

use super::config::SocketOptions;
use super::event::ConnectionId;

/// One namespace socket (socket.io-client's `Socket`).
#[derive(Debug)]
pub(crate) struct Socket {
    pub(crate) nsp: ByteString,
    pub(crate) auth: Option<RawJson>,
    pub(crate) retries: u32,
    pub(crate) ack_timeout: Option<Duration>,
    /// Subscribed to the manager: it (re)connects with it (`socket.active`).
    pub(crate) active: bool,
    pub(crate) connected: bool,
    /// A CONNECT went out on the current Engine.IO connection and awaits its answer.
    pub(crate) connect_sent: bool,
    pub(crate) sid: Option<ByteString>,
    pub(crate) pid: Option<ByteString>,
    pub(crate) last_offset: Option<ByteString>,
    pub(crate) recovered: bool,
    /// The next ack id (`ids`).
    pub(crate) next_id: u64,
    /// Acks awaited, by wire id (ascending, like JavaScript's integer keys).
    pub(crate) acks: BTreeMap<u64, PendingAck>,
    /// Emits waiting for the connection (`sendBuffer`).
    pub(crate) send_buffer: VecDeque<Buffered>,
    /// Events that arrived before the CONNECT answer (`receiveBuffer`), with the
    /// connection they came on.
    pub(crate) receive_buffer: VecDeque<(SocketIoEvent, Option<u64>, ConnectionId)>,
    /// The connection the socket joined on, while connected.
    pub(crate) connection: Option<ConnectionId>,
    /// The retries queue (`_queue`).
    pub(crate) queue: VecDeque<Queued>,
}

#[derive(Debug)]
pub(crate) struct PendingAck {
    pub(crate) deadline: Option<Instant>,
    pub(crate) kind: AckKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckKind {
    /// A plain emit: the wire id is the user's [`AckId`](super::AckId).
    Direct,
    /// A try of the queued packet with this handle.
    Queue { handle: u64 },
}

#[derive(Debug)]
pub(crate) struct Buffered {
    pub(crate) encoded: Encoded,
    pub(crate) ack_id: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct Queued {
    pub(crate) handle: u64,
    pub(crate) event: SocketIoEvent,
    pub(crate) tries: u32,
    pub(crate) pending: bool,
    pub(crate) wants_ack: bool,
    pub(crate) timeout: Option<Duration>,
}

impl Socket {
    pub(crate) fn new(nsp: ByteString, options: SocketOptions) -> Self {
        Self {
            nsp,
            auth: options.auth,
            retries: options.retries.unwrap_or(0),
            ack_timeout: options.ack_timeout,
            active: false,
            connected: false,
            connect_sent: false,
            sid: None,
            pid: None,
            last_offset: None,
            recovered: false,
            next_id: 0,
            acks: BTreeMap::new(),
            send_buffer: VecDeque::new(),
            receive_buffer: VecDeque::new(),
            connection: None,
            queue: VecDeque::new(),
        }
    }

    pub(crate) fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The CONNECT payload: the auth, preceded by `pid` and `offset` once the server
    /// offered recovery (`Object.assign({ pid, offset }, auth)`: a key of the auth wins).
    pub(crate) fn connect_data(&self) -> Option<RawJson> {
        let Some(pid) = &self.pid else {
            return self.auth.clone();
        };
        let mut text = String::with_capacity(64);
        text.push_str("{\"pid\":");
        push_json_string(&mut text, pid);
        if let Some(offset) = &self.last_offset {
            text.push_str(",\"offset\":");
            push_json_string(&mut text, offset);
        }
        let rest = self
            .auth
            .as_ref()
            .map(|auth| auth.as_str().trim()[1..].trim_start())
            .unwrap_or("}");
        if !rest.starts_with('}') {
            text.push(',');
        }
        text.push_str(rest);
        RawJson::new(text).ok()
    }
}

fn push_json_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("a string serialises"));
}

/// Whether `json` is a JSON object.
pub(crate) fn is_object(json: &RawJson) -> bool {
    json.as_str().trim_start().starts_with('{')
}

/// The server's CONNECT answer: `(sid, pid)`; `sid` is `None` unless a non-empty string.
pub(crate) fn connect_answer(data: Option<&RawJson>) -> (Option<ByteString>, Option<ByteString>) {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        sid: Option<StringOrOther>,
        #[serde(default)]
        pid: Option<StringOrOther>,
    }
    let Some(answer) = data.and_then(|d| d.deserialize::<Answer>().ok()) else {
        return (None, None);
    };
    let string = |v: Option<StringOrOther>| match v {
        Some(StringOrOther(Some(s))) if !s.is_empty() => Some(ByteString::from(s)),
        _ => None,
    };
    (string(answer.sid), string(answer.pid))
}

/// A CONNECT_ERROR payload: `(message, data)`.
pub(crate) fn connect_error(data: &RawJson) -> (Option<String>, Option<RawJson>) {
    let Ok(serde_json::Value::Object(map)) = data.deserialize::<serde_json::Value>() else {
        return (None, None);
    };
    let message = match map.get("message") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let data = map
        .get("data")
        .filter(|v| !v.is_null())
        .and_then(|v| RawJson::from_value(v).ok());
    (message, data)
}

/// The last element of an event's array (name included), when it is a string: the
/// recovery offset (`typeof args[args.length - 1] === "string"`).
pub(crate) fn last_string(args: &Args) -> Option<ByteString> {
    args.deserialize::<LastString>()
        .ok()?
        .0
        .map(ByteString::from)
}

/// Any JSON value; keeps it only when it is a string.
struct StringOrOther(Option<String>);

impl<'de> Deserialize<'de> for StringOrOther {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringOrOther;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StringOrOther, E> {
                Ok(StringOrOther(Some(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<StringOrOther, E> {
                Ok(StringOrOther(Some(v)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<StringOrOther, E> {
                Ok(StringOrOther(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<StringOrOther, E> {
                Ok(StringOrOther(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<StringOrOther, E> {
                Ok(StringOrOther(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<StringOrOther, E> {
                Ok(StringOrOther(None))
            }
            fn visit_unit<E>(self) -> Result<StringOrOther, E> {
                Ok(StringOrOther(None))
            }
            fn visit_none<E>(self) -> Result<StringOrOther, E> {
                Ok(StringOrOther(None))
            }
            fn visit_some<D: serde::Deserializer<'de>>(
                self,
                de: D,
            ) -> Result<StringOrOther, D::Error> {
                de.deserialize_any(self)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringOrOther, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(StringOrOther(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<StringOrOther, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(StringOrOther(None))
            }
        }
        de.deserialize_any(V)
    }
}

/// The last element of a sequence, when it is a string.
struct LastString(Option<String>);

impl<'de> Deserialize<'de> for LastString {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LastString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LastString, A::Error> {
                let mut last = None;
                while let Some(StringOrOther(value)) = seq.next_element()? {
                    last = value;
                }
                Ok(LastString(last))
            }
        }
        de.deserialize_seq(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_data_puts_pid_and_offset_before_the_auth() {
        let mut socket = Socket::new("/".into(), SocketOptions::default());
        assert_eq!(socket.connect_data(), None);
        socket.auth = Some(RawJson::new(r#"{"token":"a"}"#).unwrap());
        assert_eq!(socket.connect_data().unwrap().as_str(), r#"{"token":"a"}"#);
        socket.pid = Some("p\"1".into());
        assert_eq!(
            socket.connect_data().unwrap().as_str(),
            r#"{"pid":"p\"1","token":"a"}"#
        );
        socket.last_offset = Some("o-9".into());
        assert_eq!(
            socket.connect_data().unwrap().as_str(),
            r#"{"pid":"p\"1","offset":"o-9","token":"a"}"#
        );
        socket.auth = Some(RawJson::new(" { } ").unwrap());
        assert_eq!(
            socket.connect_data().unwrap().as_str(),
            r#"{"pid":"p\"1","offset":"o-9"}"#
        );
        socket.auth = None;
        assert_eq!(
            socket.connect_data().unwrap().as_str(),
            r#"{"pid":"p\"1","offset":"o-9"}"#
        );
    }

    #[test]
    fn answers_and_offsets_are_read_leniently() {
        let raw = |s: &str| RawJson::new(s.to_owned()).unwrap();
        assert_eq!(
            connect_answer(Some(&raw(r#"{"sid":"a","pid":"b","x":[1]}"#))),
            (Some("a".into()), Some("b".into()))
        );
        assert_eq!(connect_answer(Some(&raw(r#"{"sid":""}"#))), (None, None));
        assert_eq!(connect_answer(Some(&raw(r#"{"sid":5}"#))), (None, None));
        assert_eq!(connect_answer(None), (None, None));
        let args = Args::new(&("x", 1, "offset-1")).unwrap();
        assert_eq!(last_string(&args), Some("offset-1".into()));
        assert_eq!(last_string(&Args::new(&("x", 1)).unwrap()), None);
        assert_eq!(
            connect_error(&raw(r#"{"message":"no","data":{"a":1}}"#)),
            (Some("no".into()), Some(raw(r#"{"a":1}"#)))
        );
        assert_eq!(connect_error(&raw(r#""old""#)), (None, None));
    }
}
