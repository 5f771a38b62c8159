//! Cross-checks the codecs against the reference JavaScript parsers from npm
//! (socket.io-parser, engine.io-parser), byte for byte, in both directions.
//!
//! `interop/parser-vectors.js` runs the reference parsers under Node:
//! - Node → Rust: every vector the reference encoders produce must decode with our
//!   decoders to the packet the reference describes, and re-encode to identical bytes.
//! - Rust → Node: every packet our typed API builds must decode with the reference
//!   decoders to the packet we describe, and the reference must re-encode it to our bytes.
//!
//! Needs Node and `interop/node_modules` (`npm ci --prefix interop`; `test.sh` does it).

use std::fmt;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use halyard_protocol::engineio::{self, Frame, OpenPacket, polling};
use halyard_protocol::socketio::{self, Args, Event, Packet, RawJson};
use halyard_protocol::{Binary, ByteString, Bytes};
use serde::Serialize;
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------
// Running the reference

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("interop")
}

/// Runs `node interop/parser-vectors.js <mode>` with `input` on stdin; returns stdout.
fn run_reference(mode: &str, input: &str) -> String {
    let dir = interop_dir();
    let modules = dir.join("node_modules");
    for package in ["socket.io-parser", "engine.io-parser"] {
        assert!(
            modules.join(package).join("package.json").is_file(),
            "the reference parsers are not installed ({} is missing): \
             run `npm ci --prefix interop` from the repository root (test.sh does it)",
            modules.join(package).display()
        );
    }
    let mut child = Command::new("node")
        .arg(dir.join("parser-vectors.js"))
        .arg(mode)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `node` (Node.js 20+ is required): {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_owned();
    // Write from another thread so a full stdout pipe cannot deadlock us.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("node runs to the end");
    writer
        .join()
        .expect("stdin writer")
        .expect("writing to node's stdin");
    assert!(
        output.status.success(),
        "`node parser-vectors.js {mode}` failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("node prints UTF-8")
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("the reference printed invalid JSON ({e}): {line}"))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Frames as the vectors carry them

/// One frame: a text message or a binary message.
#[derive(Clone, PartialEq, Eq)]
enum Wire {
    Text(String),
    Binary(Vec<u8>),
}

impl fmt::Debug for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wire::Text(text) => write!(f, "text {text:?}"),
            Wire::Binary(bytes) => {
                f.write_str("binary <")?;
                for (i, b) in bytes.iter().take(32).enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{b:02x}")?;
                }
                if bytes.len() > 32 {
                    write!(f, " … ({} bytes)", bytes.len())?;
                }
                f.write_str(">")
            }
        }
    }
}

impl Wire {
    fn from_json(value: &Value) -> Wire {
        match (value.get("text"), value.get("binary")) {
            (Some(Value::String(text)), None) => Wire::Text(text.clone()),
            (None, Some(Value::String(b64))) => Wire::Binary(
                STANDARD
                    .decode(b64)
                    .unwrap_or_else(|e| panic!("bad base64 in {value}: {e}")),
            ),
            _ => panic!("not a frame: {value}"),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Wire::Text(text) => json!({ "text": text }),
            Wire::Binary(bytes) => json!({ "binary": STANDARD.encode(bytes) }),
        }
    }

    fn from_frame(frame: &Frame) -> Wire {
        match frame {
            Frame::Text(text) => Wire::Text(text.to_string()),
            Frame::Binary(bytes) => Wire::Binary(bytes.to_vec()),
        }
    }

    fn to_frame(&self) -> Frame {
        match self {
            Wire::Text(text) => Frame::Text(ByteString::from(text.as_str())),
            Wire::Binary(bytes) => Frame::Binary(Bytes::from(bytes.clone())),
        }
    }
}

fn frames_of(vector: &Value) -> Vec<Wire> {
    vector["frames"]
        .as_array()
        .unwrap_or_else(|| panic!("no frames in {vector}"))
        .iter()
        .map(Wire::from_json)
        .collect()
}

// ---------------------------------------------------------------------------------------
// Canonical descriptions (the same shape parser-vectors.js prints)

fn binary_json(bytes: &[u8]) -> Value {
    json!({ "$binary": STANDARD.encode(bytes) })
}

/// Parses JSON text this crate produced or accepted.
fn parse(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("cannot parse {text:?} as JSON: {e}"))
}

/// Puts the attachments back in place of their placeholders, as socket.io-parser's
/// `reconstructPacket` does (only for packets that have attachments).
fn restore(value: Value, attachments: &[Bytes]) -> Result<Value, String> {
    Ok(match value {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| restore(item, attachments))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => {
            let num = map.get("num").and_then(Value::as_u64);
            match num.and_then(|n| attachments.get(usize::try_from(n).ok()?)) {
                Some(bytes) => binary_json(bytes),
                None => return Err(format!("placeholder {map:?} names no attachment")),
            }
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| Ok((k, restore(v, attachments)?)))
                .collect::<Result<Map<_, _>, String>>()?,
        ),
        other => other,
    })
}

fn args_json(args: &Args) -> Result<Value, String> {
    let value = parse(args.json())?;
    if args.has_attachments() {
        restore(value, args.attachments())
    } else {
        Ok(value)
    }
}

/// `{"type", "nsp", "id"?, "data"?}` with type 2/3 for binary events/acks too.
fn describe_socketio(packet: &Packet) -> Result<Value, String> {
    let mut out = Map::new();
    let (kind, data) = match packet {
        Packet::Connect { data, .. } => (0, data.as_ref().map(|d| parse(d.as_str())).transpose()?),
        Packet::Disconnect { .. } => (1, None),
        Packet::Event { event, .. } => {
            let data = args_json(event.data())?;
            let expected_name = match &data[0] {
                Value::String(name) => name.clone(),
                other => other.to_string(),
            };
            if event.name() != expected_name {
                return Err(format!(
                    "event name {:?} is not the payload's first element {}",
                    event.name(),
                    data[0]
                ));
            }
            (2, Some(data))
        }
        Packet::Ack { args, .. } => (3, Some(args_json(args)?)),
        Packet::ConnectError { data, .. } => (4, Some(parse(data.as_str())?)),
    };
    out.insert("type".into(), json!(kind));
    out.insert("nsp".into(), json!(&packet.nsp()[..]));
    if let Some(id) = packet.ack_id() {
        out.insert("id".into(), json!(id));
    }
    if let Some(data) = data {
        out.insert("data".into(), data);
    }
    Ok(Value::Object(out))
}

/// `{"type": "open"|…, "data"?}`: the handshake parsed, binary as `{"$binary"}`, and no
/// `data` for an empty text (engine.io-parser reports none).
fn describe_engineio(packet: &engineio::Packet) -> Value {
    use engineio::Packet as P;
    let text = |kind: &str, data: &str| {
        if data.is_empty() {
            json!({ "type": kind })
        } else {
            json!({ "type": kind, "data": data })
        }
    };
    match packet {
        P::Open(open) => json!({ "type": "open", "data": serde_json::to_value(open).unwrap() }),
        P::Close => json!({ "type": "close" }),
        P::Ping(data) => text("ping", data),
        P::Pong(data) => text("pong", data),
        P::Message(data) => text("message", data),
        P::Binary(bytes) => json!({ "type": "message", "data": binary_json(bytes) }),
        P::Upgrade => json!({ "type": "upgrade" }),
        P::Noop => json!({ "type": "noop" }),
    }
}

/// JavaScript has one number type: compare numbers by value, whatever their spelling.
fn normalize(value: &Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64().expect("JSON numbers are finite")),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())
        }
        other => other.clone(),
    }
}

// ---------------------------------------------------------------------------------------
// Our side of a round trip

/// Decodes `frames` with our decoders; returns the description and our re-encoding.
fn rust_round_trip(layer: &str, frames: &[Wire]) -> Result<(Value, Vec<Wire>), String> {
    match layer {
        "socketio" => {
            let packet = decode_socketio(frames)?;
            let encoded = packet
                .encode()
                .map_err(|e| format!("our encoder refused {packet:?}: {e}"))?;
            Ok((describe_socketio(&packet)?, socketio_wires(&encoded)))
        }
        "engineio" => {
            let [wire] = frames else {
                return Err(format!("{} frames for one Engine.IO packet", frames.len()));
            };
            let packet = engineio::Packet::decode(wire.to_frame())
                .map_err(|e| format!("our decoder refused it: {e}"))?;
            Ok((
                describe_engineio(&packet),
                vec![Wire::from_frame(&packet.encode())],
            ))
        }
        "payload" => {
            let [Wire::Text(body)] = frames else {
                return Err("a polling payload is one text frame".into());
            };
            let packets =
                polling::decode_payload(Bytes::from(body.clone().into_bytes()), usize::MAX)
                    .map_err(|e| format!("our payload decoder refused it: {e}"))?;
            let described = packets.iter().map(describe_engineio).collect();
            let frames: Vec<Frame> = packets.iter().map(engineio::Packet::encode).collect();
            let body = polling::encode_payload(&frames);
            let body = String::from_utf8(body.to_vec()).map_err(|e| e.to_string())?;
            Ok((Value::Array(described), vec![Wire::Text(body)]))
        }
        other => Err(format!("unknown layer {other:?}")),
    }
}

/// Decodes the frames of one Socket.IO packet with our decoder.
fn decode_socketio(frames: &[Wire]) -> Result<Packet, String> {
    let mut decoder = socketio::Decoder::new();
    let mut decoded = None;
    for (i, wire) in frames.iter().enumerate() {
        let result = match wire {
            Wire::Text(text) => decoder.decode_text(ByteString::from(text.as_str())),
            Wire::Binary(bytes) => decoder.decode_binary(Bytes::from(bytes.clone())),
        };
        let packet = result.map_err(|e| format!("our decoder refused frame {i}: {e}"))?;
        if let Some(packet) = packet {
            if i + 1 != frames.len() {
                return Err(format!("packet complete at frame {i} of {}", frames.len()));
            }
            decoded = Some(packet);
        }
    }
    decoded.ok_or_else(|| {
        format!(
            "packet incomplete: {} attachment(s) missing",
            decoder.missing_attachments()
        )
    })
}

/// The Socket.IO text (without the Engine.IO `4`) then the attachments.
fn socketio_wires(encoded: &socketio::Encoded) -> Vec<Wire> {
    assert_eq!(
        &encoded.frame()[..],
        format!("4{}", &encoded.text()[..]),
        "the Engine.IO frame is `4` + the Socket.IO text"
    );
    std::iter::once(Wire::Text(encoded.text().to_string()))
        .chain(
            encoded
                .attachments()
                .iter()
                .map(|b| Wire::Binary(b.to_vec())),
        )
        .collect()
}

// ---------------------------------------------------------------------------------------
// Node → Rust

#[test]
fn reference_encodings_decode_to_the_same_packets_and_reencode_identically() {
    let vectors = json_lines(&run_reference("encode", ""));
    assert!(
        vectors.len() >= 60,
        "only {} vectors from the reference",
        vectors.len()
    );
    let mut failures = Vec::new();
    for vector in &vectors {
        let name = vector["name"].as_str().expect("a name");
        let layer = vector["layer"].as_str().expect("a layer");
        let frames = frames_of(vector);
        match rust_round_trip(layer, &frames) {
            Err(e) => failures.push(format!("{name}: {e}\n    reference frames: {frames:?}")),
            Ok((described, ours)) => {
                if normalize(&described) != normalize(&vector["packet"]) {
                    failures.push(format!(
                        "{name}: decoded packets differ\n    reference: {}\n    ours:      {described}",
                        vector["packet"]
                    ));
                }
                if ours != frames {
                    failures.push(format!(
                        "{name}: re-encoding differs\n    reference: {frames:?}\n    ours:      {ours:?}"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s) over {} reference vectors:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}

#[test]
fn reference_vectors_include_every_protocol_md_example() {
    let vectors = json_lines(&run_reference("encode", ""));
    let socketio: Vec<Vec<Wire>> = vectors
        .iter()
        .filter(|v| v["layer"] == "socketio")
        .map(frames_of)
        .collect();
    let text = |s: &str| vec![Wire::Text(s.into())];
    let with_1234 = |s: &str| vec![Wire::Text(s.into()), Wire::Binary(vec![1, 2, 3, 4])];
    let examples = [
        text("0"),
        text(r#"0/admin,{"token":"123"}"#),
        text(r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#),
        text(r#"4/random,{"message":"Invalid namespace"}"#),
        text(r#"2["foo"]"#),
        text(r#"2/admin,["bar"]"#),
        text(r#"212["foo"]"#),
        text(r#"3/admin,13["bar"]"#),
        text("1/admin,"),
        with_1234(r#"51-["baz",{"_placeholder":true,"num":0}]"#),
        with_1234(r#"61-15["bar",{"_placeholder":true,"num":0}]"#),
    ];
    for example in examples {
        assert!(
            socketio.contains(&example),
            "the reference encoders did not produce PROTOCOL.md's {example:?}"
        );
    }
    let payloads: Vec<Vec<Wire>> = vectors
        .iter()
        .filter(|v| v["layer"] == "payload")
        .map(frames_of)
        .collect();
    assert!(payloads.contains(&text("4hello\u{1e}2\u{1e}4world")));
    assert!(payloads.contains(&text("bAQIDBA==")));
}

// ---------------------------------------------------------------------------------------
// Rust → Node

struct Ours {
    name: String,
    layer: &'static str,
    frames: Vec<Wire>,
    described: Value,
}

#[derive(Serialize)]
struct File {
    name: String,
    data: Binary,
    missing: Option<Binary>,
}

#[derive(Serialize)]
struct Meta {
    thumb: Binary,
    sizes: Vec<u32>,
    by_name: std::collections::BTreeMap<String, Binary>,
}

#[derive(Serialize)]
struct Upload {
    files: Vec<File>,
    meta: Meta,
}

fn bin(bytes: &[u8]) -> Binary {
    Binary::from(bytes.to_vec())
}

fn all_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 256) as u8).collect()
}

fn event(name: &str, args: &(impl Serialize + ?Sized)) -> Event {
    Event::new(name, args).unwrap_or_else(|e| panic!("Event::new({name:?}): {e}"))
}

fn args(args: &(impl Serialize + ?Sized)) -> Args {
    Args::new(args).unwrap_or_else(|e| panic!("Args::new: {e}"))
}

fn raw(text: &str) -> RawJson {
    RawJson::new(text).unwrap_or_else(|e| panic!("RawJson::new({text:?}): {e}"))
}

fn socketio_packets() -> Vec<(&'static str, Packet)> {
    let connect = |nsp: &str, data: Option<RawJson>| Packet::Connect {
        nsp: nsp.into(),
        data,
    };
    let upload = Upload {
        files: vec![
            File {
                name: "a.bin".into(),
                data: bin(&[1, 2]),
                missing: None,
            },
            File {
                name: "empty".into(),
                data: bin(&[]),
                missing: Some(bin(&[7])),
            },
        ],
        meta: Meta {
            thumb: bin(&[255]),
            sizes: vec![2, 0],
            by_name: [("x".to_owned(), bin(b"xx")), ("y".to_owned(), bin(b"yy"))]
                .into_iter()
                .collect(),
        },
    };
    vec![
        // PROTOCOL.md's examples.
        ("md-connect", connect("/", None)),
        (
            "md-connect-admin-token",
            connect("/admin", Some(raw(r#"{"token":"123"}"#))),
        ),
        (
            "md-connect-admin-sid",
            connect(
                "/admin",
                Some(RawJson::from_value(&json!({"sid": "oSO0OpakMV_3jnilAAAA"})).unwrap()),
            ),
        ),
        (
            "md-connect-error-random",
            Packet::ConnectError {
                nsp: "/random".into(),
                data: raw(r#"{"message":"Invalid namespace"}"#),
            },
        ),
        ("md-event-foo", Packet::event("/", None, event("foo", &()))),
        (
            "md-event-admin-bar",
            Packet::event("/admin", None, event("bar", &())),
        ),
        (
            "md-event-ack-12",
            Packet::event("/", Some(12), event("foo", &())),
        ),
        (
            "md-ack-admin-13",
            Packet::ack("/admin", 13, args(&("bar",))),
        ),
        (
            "md-disconnect-admin",
            Packet::Disconnect {
                nsp: "/admin".into(),
            },
        ),
        (
            "md-binary-event-baz",
            Packet::event("/", None, event("baz", &(bin(&[1, 2, 3, 4]),))),
        ),
        (
            "md-binary-ack-15",
            Packet::ack("/", 15, args(&("bar", bin(&[1, 2, 3, 4])))),
        ),
        // Connect, disconnect, connect error.
        (
            "connect-auth-main",
            connect(
                "/",
                Some(raw(r#"{"token":"abc","n":1,"nested":{"ok":true}}"#)),
            ),
        ),
        ("connect-empty-auth", connect("/custom", Some(raw("{}")))),
        ("disconnect-main", Packet::Disconnect { nsp: "/".into() }),
        (
            "connect-error-with-data",
            Packet::ConnectError {
                nsp: "/".into(),
                data: RawJson::from_value(&json!({
                    "message": "Not authorized",
                    "data": {"content": "Please retry later", "code": 401}
                }))
                .unwrap(),
            },
        ),
        (
            "connect-error-string",
            Packet::ConnectError {
                nsp: "/admin".into(),
                data: raw(r#""some error""#),
            },
        ),
        // Events and acks.
        (
            "event-unicode",
            Packet::event(
                "/",
                None,
                event(
                    "héllo wörld ✓ 💥",
                    &(
                        "日本語",
                        "emoji 🎉🏳️‍🌈",
                        "e\u{301}",
                        "\u{2028}\u{2029}",
                        "\u{feff}",
                    ),
                ),
            ),
        ),
        (
            "event-escapes",
            Packet::event(
                "/",
                None,
                event(
                    "na\"me\\\n\u{0}é",
                    &(
                        "quote \" backslash \\ slash /",
                        "ctl \n\t\r\u{8}\u{c} \u{0} \u{1} \u{1f} \u{7f} \u{80}",
                        "<script>&amp;</script>",
                        "",
                    ),
                ),
            ),
        ),
        (
            "event-unicode-nsp-ack",
            Packet::event("/ünï-cødé", Some(3), event("x", &())),
        ),
        (
            "event-nested",
            Packet::event(
                "/",
                None,
                event(
                    "nested",
                    &(
                        json!({"a": {"b": {"c": [1, 2, {"d": null}]}}, "e": true, "f": false}),
                        json!([[], [[]], {}]),
                        (),
                    ),
                ),
            ),
        ),
        (
            "event-multi-args",
            Packet::event(
                "/chat",
                Some(1),
                event(
                    "multi",
                    &(
                        1,
                        "two",
                        json!({"three": 3}),
                        vec![4],
                        true,
                        false,
                        None::<u8>,
                    ),
                ),
            ),
        ),
        (
            "event-one-array-arg",
            Packet::event("/", None, event("list", &vec![1, 2, 3])),
        ),
        (
            "event-integers",
            Packet::event(
                "/",
                None,
                event(
                    "ints",
                    &(
                        0,
                        -1,
                        42u8,
                        -42i64,
                        9_007_199_254_740_991u64,
                        -9_007_199_254_740_991i64,
                        u32::MAX,
                        i32::MIN,
                    ),
                ),
            ),
        ),
        (
            // Floats that serde_json and JSON.stringify spell the same.
            "event-floats",
            Packet::event(
                "/",
                None,
                event(
                    "floats",
                    &(
                        1.5,
                        -2.25,
                        0.1,
                        0.1 + 0.2,
                        123_456_789.123,
                        1e-7,
                        1.5e-10,
                        5e-324,
                    ),
                ),
            ),
        ),
        ("float-one-point-zero", float_event(1.0)),
        ("float-minus-zero", float_event(-0.0)),
        ("float-1e20", float_event(1e20)),
        ("float-1e21", float_event(1e21)),
        ("float-1.5e300", float_event(1.5e300)),
        ("float-max", float_event(f64::MAX)),
        ("float-0.000001", float_event(0.000_001)),
        ("ack-empty", Packet::ack("/", 1, Args::empty())),
        ("ack-unit", Packet::ack("/admin", 2, args(&()))),
        ("ack-id-zero", Packet::ack("/", 0, args(&("zero",)))),
        (
            "ack-multi-nsp",
            Packet::ack("/admin", 77, args(&((), json!({"ok": true}), "done"))),
        ),
        (
            "event-ack-id-2^32",
            Packet::event("/", Some(4_294_967_296), event("big", &())),
        ),
        (
            "ack-max-safe-id",
            Packet::ack("/big", 9_007_199_254_740_991, args(&("max",))),
        ),
        // Binary attachments.
        (
            "binary-deep",
            Packet::event(
                "/",
                None,
                event(
                    "upload",
                    &(
                        &upload,
                        (bin(&all_bytes(256)), vec![bin(&[9, 8, 7])]),
                        "tail",
                    ),
                ),
            ),
        ),
        (
            "binary-ack-nsp-deep",
            Packet::ack(
                "/admin",
                7,
                args(&(bin(&[0]), json!({"x": 1}), vec![vec![bin(&[1, 1])]])),
            ),
        ),
        (
            "binary-event-nsp-ack",
            Packet::event(
                "/files",
                Some(99),
                event("chunk", &(bin(&all_bytes(1000)),)),
            ),
        ),
        (
            "binary-ten",
            Packet::event(
                "/",
                None,
                event("ten", &(0u8..10).map(|i| bin(&[i])).collect::<Vec<_>>()),
            ),
        ),
        (
            "binary-unicode",
            Packet::event(
                "/ü",
                Some(5),
                event(
                    "fïlé 💾",
                    &[("blob", bin(&[0xde, 0xad, 0xbe, 0xef]))]
                        .into_iter()
                        .collect::<std::collections::BTreeMap<_, _>>(),
                ),
            ),
        ),
        // One argument that is itself a Binary (not inside a tuple).
        (
            "binary-single-arg-event",
            Packet::event("/", None, event("baz", &bin(&[1, 2, 3, 4]))),
        ),
        (
            "binary-single-arg-ack",
            Packet::ack("/", 3, args(&bin(b"only"))),
        ),
    ]
}

fn float_event(value: f64) -> Packet {
    Packet::event("/", None, event("float", &value))
}

fn open_packet(upgrades: &[&str]) -> OpenPacket {
    OpenPacket {
        sid: "lv_VI97HAXpY6yYWAAAC".into(),
        upgrades: upgrades.iter().map(|s| (*s).to_owned()).collect(),
        ping_interval: 25000,
        ping_timeout: 20000,
        max_payload: 1_000_000,
    }
}

fn engineio_packets() -> Vec<(&'static str, engineio::Packet)> {
    use engineio::Packet as P;
    vec![
        ("open", P::Open(open_packet(&["websocket"]))),
        ("open-websocket", P::Open(open_packet(&[]))),
        ("close", P::Close),
        ("ping", P::ping()),
        ("pong", P::pong()),
        ("ping-probe", P::ping_probe()),
        ("pong-probe", P::pong_probe()),
        ("message", P::Message("hello".into())),
        ("message-empty", P::Message("".into())),
        (
            "message-unicode",
            P::Message("héllo 💥 \u{0} \u{1e}".into()),
        ),
        (
            "message-socketio",
            P::Message(r#"2/admin,12["foo",{"a":1}]"#.into()),
        ),
        ("binary", P::Binary(Bytes::from_static(&[1, 2, 3, 4]))),
        ("binary-empty", P::Binary(Bytes::new())),
        ("binary-all-bytes", P::Binary(Bytes::from(all_bytes(256)))),
        ("upgrade", P::Upgrade),
        ("noop", P::Noop),
    ]
}

fn payloads() -> Vec<(&'static str, Vec<Frame>)> {
    use engineio::Packet as P;
    let frames = |packets: &[P]| packets.iter().map(P::encode).collect::<Vec<_>>();
    let baz_event = Packet::event("/", None, event("baz", &(bin(&[1, 2, 3, 4]),)))
        .encode()
        .unwrap();
    let deep = Packet::ack(
        "/admin",
        9,
        args(&(bin(&[1]), json!({"k": 1}), bin(&[2, 2]))),
    )
    .encode()
    .unwrap();
    let mut mixed: Vec<Frame> = baz_event.frames().collect();
    mixed.extend(frames(&[
        P::Message(r#"2["x"]"#.into()),
        P::ping(),
        P::Binary(Bytes::from_static(&[1])),
        P::Binary(Bytes::from_static(&[1, 2])),
        P::Binary(Bytes::from_static(&[1, 2, 3])),
        P::Binary(Bytes::new()),
        P::pong_probe(),
    ]));
    mixed.extend(deep.frames());
    mixed.push(P::Close.encode());
    vec![
        (
            "md-text",
            frames(&[
                P::Message("hello".into()),
                P::ping(),
                P::Message("world".into()),
            ]),
        ),
        (
            "md-binary",
            frames(&[P::Binary(Bytes::from_static(&[1, 2, 3, 4]))]),
        ),
        ("open", frames(&[P::Open(open_packet(&["websocket"]))])),
        ("noop", frames(&[P::Noop])),
        ("close", frames(&[P::Close])),
        ("mixed-socketio-binary", mixed),
        (
            "unicode-and-all-bytes",
            frames(&[
                P::Message("héllo 💥".into()),
                P::Binary(Bytes::from(all_bytes(256))),
                P::Message("".into()),
                P::Upgrade,
            ]),
        ),
    ]
}

/// Every packet we build, encoded by us and described by us.
fn our_vectors() -> Vec<Ours> {
    let mut out = Vec::new();
    for (name, packet) in socketio_packets() {
        let encoded = packet
            .encode()
            .unwrap_or_else(|e| panic!("sio/{name}: our encoder refused it: {e}"));
        out.push(Ours {
            name: format!("sio/{name}"),
            layer: "socketio",
            frames: socketio_wires(&encoded),
            described: describe_socketio(&packet)
                .unwrap_or_else(|e| panic!("sio/{name}: cannot describe it: {e}")),
        });
    }
    for (name, packet) in engineio_packets() {
        out.push(Ours {
            name: format!("eio/{name}"),
            layer: "engineio",
            frames: vec![Wire::from_frame(&packet.encode())],
            described: describe_engineio(&packet),
        });
    }
    for (name, frames) in payloads() {
        let body = polling::encode_payload(&frames);
        let described = frames
            .iter()
            .map(|f| describe_engineio(&engineio::Packet::decode(f.clone()).unwrap()))
            .collect();
        out.push(Ours {
            name: format!("payload/{name}"),
            layer: "payload",
            frames: vec![Wire::Text(String::from_utf8(body.to_vec()).unwrap())],
            described: Value::Array(described),
        });
    }
    out
}

#[test]
fn our_encodings_decode_in_the_reference_and_reencode_identically() {
    let ours = our_vectors();
    let mut failures = Vec::new();
    // Our own decoders must agree with our encoders first.
    for vector in &ours {
        match rust_round_trip(vector.layer, &vector.frames) {
            Ok((described, frames)) => {
                if described != vector.described || frames != vector.frames {
                    failures.push(format!(
                        "{}: our own round trip differs: {described} {frames:?}",
                        vector.name
                    ));
                }
            }
            Err(e) => failures.push(format!("{}: our own decoder: {e}", vector.name)),
        }
    }
    let input: String = ours
        .iter()
        .map(|v| {
            let frames: Vec<Value> = v.frames.iter().map(Wire::to_json).collect();
            format!(
                "{}\n",
                json!({ "name": v.name, "layer": v.layer, "frames": frames })
            )
        })
        .collect();
    let answers = json_lines(&run_reference("decode", &input));
    assert_eq!(
        answers.len(),
        ours.len(),
        "the reference answered {} of {} vectors",
        answers.len(),
        ours.len()
    );
    for (vector, answer) in ours.iter().zip(&answers) {
        let name = &vector.name;
        assert_eq!(answer["name"], json!(name), "answers out of order");
        if answer["ok"] != json!(true) {
            failures.push(format!(
                "{name}: the reference refused it: {}\n    our frames: {:?}",
                answer["error"], vector.frames
            ));
            continue;
        }
        if normalize(&answer["packet"]) != normalize(&vector.described) {
            failures.push(format!(
                "{name}: decoded packets differ\n    reference: {}\n    ours:      {}",
                answer["packet"], vector.described
            ));
        }
        let theirs = frames_of(answer);
        if theirs != vector.frames {
            failures.push(format!(
                "{name}: the reference re-encodes it differently\n    reference: {theirs:?}\n    ours:      {:?}",
                vector.frames
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s) over {} of our vectors:\n{}",
        failures.len(),
        ours.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Lone surrogates

/// One line of `parser-vectors.js decode`, read without building a `serde_json::Value`
/// of the packet (which cannot hold a lone surrogate).
#[derive(serde::Deserialize)]
struct Answer {
    name: String,
    ok: bool,
    #[serde(default)]
    frames: Vec<Value>,
    #[serde(default)]
    error: Option<String>,
}

/// JavaScript strings are UTF-16 and may hold a lone surrogate (a string cut in the middle
/// of an emoji); `JSON.stringify` writes it as a `\uXXXX` escape and socket.io-parser
/// accepts it anywhere. Each case is in the reference's own encoding (it re-encodes it
/// unchanged); our decoder must accept it and re-encode it unchanged too.
#[test]
fn lone_surrogates_from_javascript_are_accepted() {
    let text = |s: &str| Wire::Text(s.into());
    let placeholder = r#"{"_placeholder":true,"num":0}"#;
    let cases = [
        ("sio/lone-surrogate-arg", vec![text(r#"2["x","\ud83d"]"#)]),
        (
            "sio/lone-surrogate-nested",
            vec![text(r#"2/chat,5["x",{"k":["\udc00"]}]"#)],
        ),
        ("sio/lone-surrogate-ack", vec![text(r#"37["a\udc00b"]"#)]),
        (
            "sio/lone-surrogate-connect",
            vec![text(r#"0{"token":"\ud800"}"#)],
        ),
        (
            "sio/lone-surrogate-connect-error",
            vec![text(r#"4{"message":"\ud800"}"#)],
        ),
        (
            "sio/lone-surrogate-event-name",
            vec![text(r#"2["\ud83d"]"#)],
        ),
        (
            "sio/lone-surrogate-binary-event",
            vec![
                text(&format!(r#"51-["x","\ud83d",{placeholder}]"#)),
                Wire::Binary(vec![1]),
            ],
        ),
        (
            "sio/lone-surrogate-binary-ack",
            vec![
                text(&format!(r#"61-2[{{"k":"\udfff"}},{placeholder}]"#)),
                Wire::Binary(vec![2]),
            ],
        ),
    ];
    let input: String = cases
        .iter()
        .map(|(name, frames)| {
            let frames: Vec<Value> = frames.iter().map(Wire::to_json).collect();
            format!(
                "{}\n",
                json!({ "name": name, "layer": "socketio", "frames": frames })
            )
        })
        .collect();
    let answers: Vec<Answer> = run_reference("decode", &input)
        .lines()
        .map(|line| serde_json::from_str(line).expect("an answer line"))
        .collect();
    assert_eq!(answers.len(), cases.len());
    let mut failures = Vec::new();
    for ((name, frames), answer) in cases.iter().zip(&answers) {
        assert_eq!(&answer.name, name, "answers out of order");
        let theirs: Vec<Wire> = answer.frames.iter().map(Wire::from_json).collect();
        assert!(
            answer.ok && &theirs == frames,
            "{name}: not the reference's own encoding: {:?} {theirs:?}",
            answer.error
        );
        let ours = decode_socketio(frames).and_then(|packet| {
            packet
                .encode()
                .map(|encoded| socketio_wires(&encoded))
                .map_err(|e| format!("our encoder refused {packet:?}: {e}"))
        });
        match ours {
            Ok(ours) if &ours == frames => {}
            Ok(ours) => failures.push(format!(
                "{name}: re-encoding differs\n    reference: {frames:?}\n    ours:      {ours:?}"
            )),
            Err(e) => failures.push(format!("{name}: {e}\n    reference frames: {frames:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} lone-surrogate cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
