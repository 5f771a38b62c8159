//! The Socket.IO fixture server the Rust client's interop tests run against: the same
//! behaviour as `interop/socketio-server.js` (npm's socket.io 4.8), on Halyard. The
//! client's test matrix runs once against each; `interop/fixture-check.js` checks that
//! both behave alike (`node interop/fixture-check.js http://127.0.0.1:PORT`).
//!
//! Options: connection state recovery (60 s, middlewares skipped on recovery), a ping
//! every 1000 ms answered within 2000 ms, the path `/socket.io/`, both transports
//! unless [`fixture_server_with_transports`] restricts them.
//!
//! Namespaces `/` and `/custom` have the same handlers; `/custom` admits a CONNECT whose
//! auth has `"token": "secret"`, and refuses any other with the message `not authorized`
//! and the data `{"reason":"bad token"}`.
//!
//! On connection (a recovered one too) each socket emits `welcome` with one object:
//! `id` (the socket id), `nsp`, `recovered`, `auth` (the CONNECT's auth, `{}` when
//! none), `query` (the handshake query without `EIO`, `transport`, `t`, `sid`, `j`,
//! `b64`; a repeated key gives an array, as Node's `querystring` does), `header` (the
//! `x-test` request header or `null`), `engine` (the Engine.IO session id) and
//! `transport` (`polling` or `websocket`, the transport of the connection's first
//! request).
//!
//! Events:
//!
//! | event | effect |
//! |---|---|
//! | `echo(...args)` | emits `echo` with the same arguments (binary stays binary) |
//! | `echo_ack(...args, ack)` | acks with the same arguments |
//! | `ask(question)` | asks the client `question(question)` with a 2 s timeout, then emits `answer(answer)`, or `answer_error(message)` (`operation has timed out`) |
//! | `join(room, ack)` | joins `room`, acks with no arguments |
//! | `to_room(room, msg, ack)` | `socket.to(room).emit("room_msg", msg)` (sender excluded), acks |
//! | `broadcast_except(room, except, msg, ack)` | `io.of(nsp).to(room).except(except).emit("room_msg", msg)`, acks |
//! | `no_ack(...args, ack)` | never answers |
//! | `kill()` | closes the Engine.IO connection from the server as a lost transport ([`Socket::close_connection`]; socket.io-client reports `transport close` and reconnects, and the session is kept for recovery) |
//! | `server_disconnect()` | [`Socket::disconnect`] (the client sees `io server disconnect`) |
//! | `kill_then_broadcast(room, n)` | joins `room`, closes as `kill` does, and 100 ms later emits `missed(i)` to `room` on the namespace for `i` in `0..n` (replayed by recovery) |
//! | `binary()` | emits `binary` with a 4-byte buffer `[1,2,3,4]` and `{"nested": <buffer [5,6]>}` |
//!
//! The waits (the answer to `ask`, the 100 ms before the `missed` broadcast) do not
//! hold up the connection's other events, as in Node: they run on a thread of their own,
//! which drives the runtime-neutral emit futures, so the fixture works on any runtime.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures_core::Stream;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};

use crate::Runtime;
use crate::socketio::{
    AckSender, Binary, ConnectError, Handshake, RawJson, RecoveryConfig, Server, Socket,
};
use halyard_engine::engineio::TransportKind;

/// The handshake query keys that belong to Engine.IO and its transports.
const TRANSPORT_QUERY_KEYS: [&str; 6] = ["EIO", "transport", "t", "sid", "j", "b64"];

/// The fixture server with every handler, both transports allowed. Serve it on any
/// runtime: `halyard_tokio::serve(listener, fixture_server())`,
/// `halyard_smol::serve(listener, fixture_server())`, or [`serve_fixture`].
pub fn fixture_server() -> Server {
    fixture_server_with_transports(&[TransportKind::Polling, TransportKind::WebSocket])
}

/// [`fixture_server`] accepting only `transports` (the JavaScript fixture's
/// `--transports`).
pub fn fixture_server_with_transports(transports: &[TransportKind]) -> Server {
    let recovery = RecoveryConfig {
        max_disconnection_duration: Duration::from_secs(60),
        skip_middlewares: true,
        ..RecoveryConfig::default()
    };
    let io = Server::builder()
        .ping_interval(Duration::from_millis(1000))
        .ping_timeout(Duration::from_millis(2000))
        .transports(transports)
        .recovery(recovery)
        .build();

    io.of("/custom")
        .use_(|_: Handshake, auth: RawJson| async move {
            let token = auth
                .deserialize::<serde_json::Value>()
                .ok()
                .and_then(|auth| auth.get("token").cloned());
            match token {
                Some(serde_json::Value::String(token)) if token == "secret" => Ok(()),
                _ => Err(ConnectError::new("not authorized")
                    .with_data(RawJson::new(r#"{"reason":"bad token"}"#).expect("valid JSON"))),
            }
        });
    for name in ["/", "/custom"] {
        let app = io.clone();
        io.of(name).on_connection(move |socket: Socket| {
            let io = app.clone();
            async move {
                handlers(&io, &socket);
                let _ = socket.emit("welcome", &welcome(&socket)).await;
            }
        });
    }
    io
}

/// Serves [`fixture_server`] on every connection of `incoming`, as [`crate::serve`]
/// does (the same `incoming`: accepted connections with the peer's address), until the
/// stream ends. To restrict the transports, serve
/// [`fixture_server_with_transports`] with [`crate::serve`] instead; on tokio or smol,
/// `halyard_tokio::serve(listener, fixture_server())` does the accept loop.
pub async fn serve_fixture<R, T, I>(rt: R, incoming: T) -> io::Result<()>
where
    R: Runtime,
    T: Stream<Item = io::Result<(I, Option<SocketAddr>)>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    crate::serve(rt, incoming, fixture_server()).await
}

/// The `welcome` object of `socket`.
fn welcome(socket: &Socket) -> serde_json::Value {
    let handshake = socket.handshake();
    let auth = handshake
        .auth()
        .deserialize::<serde_json::Value>()
        .unwrap_or_else(|_| serde_json::json!({}));
    let transport = query_pairs(handshake.query())
        .find(|(key, _)| key == "transport")
        .map(|(_, value)| value);
    serde_json::json!({
        "id": socket.id(),
        "nsp": socket.nsp(),
        "recovered": socket.recovered(),
        "auth": auth,
        "query": application_query(handshake.query()),
        "header": handshake.header("x-test"),
        "engine": &*socket.inner().eio,
        "transport": transport,
    })
}

/// The handshake query as Node's `querystring.parse` reads it (a repeated key gives an
/// array), without Engine.IO's keys.
fn application_query(query: &str) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::Value as Json;
    let mut map = serde_json::Map::new();
    for (key, value) in query_pairs(query) {
        if TRANSPORT_QUERY_KEYS.contains(&key.as_str()) {
            continue;
        }
        match map.get_mut(&key) {
            Some(Json::Array(values)) => values.push(Json::String(value)),
            Some(first) => *first = Json::Array(vec![first.take(), Json::String(value)]),
            None => {
                map.insert(key, Json::String(value));
            }
        }
    }
    map
}

/// The `key=value` pairs of a query, percent-decoded (`+` as a space).
fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
}

/// Percent-decoding of a query component; invalid escapes are kept as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                Some(byte) => {
                    out.push(byte);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs `future` to completion on a thread of its own (the fixture's waits, so that
/// they hold up neither the connection's events nor a runtime).
fn detach(future: impl Future<Output = ()> + Send + 'static) {
    let spawned = std::thread::Builder::new()
        .name("halyard-fixture".into())
        .spawn(move || futures_lite::future::block_on(future));
    if let Err(error) = spawned {
        tracing::error!(%error, "the fixture server cannot start a thread");
    }
}

/// Every event handler of the fixture, on `socket`.
fn handlers(io: &Server, socket: &Socket) {
    socket.on("echo", |socket: Socket, args: Vec<Value>| async move {
        socket.emit("echo", &ArgList(args)).await
    });
    socket.on_with_ack(
        "echo_ack",
        |_: Socket, args: Vec<Value>, ack: AckSender| async move { ack.send(&ArgList(args)).await },
    );
    socket.on("ask", |socket: Socket, args: Vec<Value>| async move {
        let question = args.into_iter().next().unwrap_or(Value::Null);
        detach(async move {
            let answer = socket
                .timeout(Duration::from_millis(2000))
                .emit_with_ack::<_, Vec<Value>>("question", &(question,))
                .await;
            let sent = match answer {
                Ok(answer) => {
                    let answer = answer.into_iter().next().unwrap_or(Value::Null);
                    socket.emit("answer", &(answer,)).await
                }
                Err(error) => socket.emit("answer_error", &error.to_string()).await,
            };
            if let Err(error) = sent {
                tracing::debug!(%error, "fixture: no answer sent for ask");
            }
        });
    });
    socket.on_with_ack(
        "join",
        |socket: Socket, (room,): (String,), ack: AckSender| async move {
            socket.join(&room);
            ack.send(&()).await
        },
    );
    socket.on_with_ack(
        "to_room",
        |socket: Socket, (room, msg): (String, Value), ack: AckSender| async move {
            socket.to(room).emit("room_msg", &(msg,)).await?;
            ack.send(&()).await
        },
    );
    let app = io.clone();
    socket.on_with_ack(
        "broadcast_except",
        move |socket: Socket, (room, except, msg): (String, String, Value), ack: AckSender| {
            let nsp = app.of(socket.nsp());
            async move {
                nsp.to(room)
                    .except(except)
                    .emit("room_msg", &(msg,))
                    .await?;
                ack.send(&()).await
            }
        },
    );
    // The client's ack is dropped unanswered.
    socket.on("no_ack", |_: Socket, _: Vec<Value>| async {});
    socket.on("kill", |socket: Socket, _: Vec<Value>| async move {
        socket.close_connection().await
    });
    socket.on(
        "server_disconnect",
        |socket: Socket, _: Vec<Value>| async move { socket.disconnect(false).await },
    );
    let app = io.clone();
    socket.on(
        "kill_then_broadcast",
        move |socket: Socket, (room, n): (String, u64)| {
            let nsp = app.of(socket.nsp());
            async move {
                socket.join(&room);
                socket.close_connection().await?;
                detach(async move {
                    std::thread::sleep(Duration::from_millis(100));
                    for i in 0..n {
                        if let Err(error) = nsp.to(room.as_str()).emit("missed", &i).await {
                            tracing::warn!(%error, "fixture: missed broadcast failed");
                        }
                    }
                });
                Ok::<(), crate::socketio::Error>(())
            }
        },
    );
    socket.on("binary", |socket: Socket, _: Vec<Value>| async move {
        #[derive(Serialize)]
        struct Nested {
            nested: Binary,
        }
        let nested = Nested {
            nested: Binary::from(vec![5u8, 6]),
        };
        socket
            .emit("binary", &(Binary::from(vec![1u8, 2, 3, 4]), nested))
            .await
    });
}

/// Any argument a JavaScript peer may send, binary attachments included (where
/// `serde_json::Value` would keep only their placeholders), with the keys of objects in
/// the order received.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Binary(Binary),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::Binary(b) => b.serialize(serializer),
            Value::Array(values) => {
                let mut seq = serializer.serialize_seq(Some(values.len()))?;
                for value in values {
                    seq.serialize_element(value)?;
                }
                seq.end()
            }
            Value::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value or binary attachment")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Deserialize::deserialize(deserializer)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Binary(Binary::from(v.to_vec())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(value) = seq.next_element()? {
            values.push(value);
        }
        Ok(Value::Array(values))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(String, Value)> = Vec::new();
        while let Some((key, value)) = map.next_entry()? {
            entries.push((key, value));
        }
        // `{"_placeholder":true,"num":N}`: attachment N of the packet being read. The
        // protocol crate's `Binary` resolves it while this deserialisation runs.
        if let [(a, first), (b, second)] = entries.as_slice() {
            let num = match (a.as_str(), first, b.as_str(), second) {
                ("_placeholder", Value::Bool(true), "num", Value::Number(num))
                | ("num", Value::Number(num), "_placeholder", Value::Bool(true)) => num.as_u64(),
                _ => None,
            };
            if let Some(num) = num {
                let placeholder = format!(r#"{{"_placeholder":true,"num":{num}}}"#);
                return serde_json::from_str::<Binary>(&placeholder)
                    .map(Value::Binary)
                    .map_err(de::Error::custom);
            }
        }
        Ok(Value::Object(entries))
    }
}

/// Values sent as that many arguments (the tuple rule: a tuple is the argument list).
struct ArgList(Vec<Value>);

impl Serialize for ArgList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for value in &self.0 {
            tuple.serialize_element(value)?;
        }
        tuple.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socketio::Event;

    #[test]
    fn values_keep_binary_attachments() {
        let sent = (
            "text",
            Binary::from(vec![1u8, 2]),
            serde_json::json!({"a": [1, null]}),
        );
        let event = Event::new("echo", &sent).expect("encodes");
        let args: Vec<Value> = event.args().expect("decodes");
        assert_eq!(args[1], Value::Binary(Binary::from(vec![1u8, 2])));
        let back = Event::new("echo", &ArgList(args)).expect("encodes");
        assert_eq!(back, event);
        let none = Event::new("echo", &ArgList(Vec::new())).expect("encodes");
        assert_eq!(none.data().json(), r#"["echo"]"#);
    }

    #[test]
    fn query_without_engine_keys() {
        let query = application_query("EIO=4&transport=polling&t=x&q=1&lang=fr%20%C3%A9&a=1&a=b+c");
        assert_eq!(
            serde_json::Value::Object(query),
            serde_json::json!({"q": "1", "lang": "fr é", "a": ["1", "b c"]})
        );
    }
}
