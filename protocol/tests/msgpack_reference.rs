//! Cross-checks the MessagePack codec (feature `msgpack`) against npm's
//! socket.io-msgpack-parser, byte for byte, in both directions.
//!
//! `interop/msgpack-vectors.js` runs the reference parser under Node:
//! - Node → Rust: every frame the reference encoder produces must decode to the packet the
//!   reference describes and, when written in Halyard's form (key order, no `undefined`,
//!   no extra keys), re-encode to identical bytes;
//! - Rust → Node: every packet our typed API builds must decode with the reference to the
//!   packet we describe, and the reference must re-encode it to our bytes.
//!
//! Needs Node and `interop/node_modules` (`npm ci --prefix interop`; `test.sh` does it).
#![cfg(feature = "msgpack")]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use halyard_protocol::socketio::{Args, Event, Packet, RawJson, msgpack};
use halyard_protocol::{Binary, Bytes};
use serde_json::{Map, Value, json};

fn run_reference(mode: &str, input: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("interop");
    let package = dir.join("node_modules/socket.io-msgpack-parser/package.json");
    assert!(
        package.is_file(),
        "the reference parser is not installed ({} is missing): \
         run `npm ci --prefix interop` from the repository root (test.sh does it)",
        package.display()
    );
    let mut child = Command::new("node")
        .arg(dir.join("msgpack-vectors.js"))
        .arg(mode)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `node` (Node.js 20+ is required): {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("node runs to the end");
    writer
        .join()
        .expect("stdin writer")
        .expect("writing to node");
    assert!(
        output.status.success(),
        "`node msgpack-vectors.js {mode}` failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("node prints UTF-8")
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("the reference prints JSON lines"))
        .collect()
}

/// Puts `{"$binary": "<base64>"}` in place of each attachment placeholder.
fn restore(value: Value, attachments: &[Bytes]) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| restore(item, attachments))
                .collect(),
        ),
        Value::Object(map) if !attachments.is_empty() && map.contains_key("_placeholder") => {
            let num = map["num"].as_u64().expect("placeholder number") as usize;
            json!({ "$binary": STANDARD.encode(&attachments[num]) })
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, restore(v, attachments)))
                .collect::<Map<_, _>>(),
        ),
        other => other,
    }
}

/// The packet as msgpack-vectors.js describes one: {"type", "nsp", "id"?, "data"?}.
fn describe(packet: &Packet) -> Value {
    let parse = |text: &str| serde_json::from_str::<Value>(text).expect("valid JSON");
    let (kind, data) = match packet {
        Packet::Connect { data, .. } => (0, data.as_ref().map(|d| parse(d.as_str()))),
        Packet::Disconnect { .. } => (1, None),
        Packet::Event { event, .. } => (
            2,
            Some(restore(
                parse(event.data().json()),
                event.data().attachments(),
            )),
        ),
        Packet::Ack { args, .. } => (3, Some(restore(parse(args.json()), args.attachments()))),
        Packet::ConnectError { data, .. } => (4, Some(parse(data.as_str()))),
    };
    let mut out = json!({ "type": kind, "nsp": packet.nsp().to_string() });
    if let Some(id) = packet.ack_id() {
        out["id"] = json!(id);
    }
    if let Some(data) = data {
        out["data"] = data;
    }
    out
}

#[test]
fn frames_of_the_reference_decode_and_re_encode_identically() {
    let vectors = json_lines(&run_reference("encode", ""));
    assert!(vectors.len() >= 15, "too few vectors: {}", vectors.len());
    for vector in vectors {
        let name = vector["name"].as_str().expect("a name");
        let frame = STANDARD
            .decode(vector["frame"].as_str().expect("a frame"))
            .expect("base64");
        let packet = msgpack::decode(Bytes::from(frame.clone()))
            .unwrap_or_else(|e| panic!("{name}: the reference's frame is refused: {e}"));
        assert_eq!(
            describe(&packet),
            vector["packet"],
            "{name}: decoded packet"
        );
        let encoded = msgpack::encode(&packet).unwrap_or_else(|e| panic!("{name}: {e}"));
        if vector["canonical"] == json!(true) {
            assert!(encoded[..] == frame[..], "{name}: re-encoded bytes differ");
        } else {
            let again = msgpack::decode(encoded).expect("our own frame decodes");
            assert_eq!(again, packet, "{name}: our re-encoding");
        }
    }
}

#[test]
fn frames_we_encode_decode_in_the_reference_and_re_encode_identically() {
    let event = |name: &str, args: &dyn erased::Args| args.event(name);
    let packets: Vec<(&str, Packet)> = vec![
        (
            "connect",
            Packet::Connect {
                nsp: "/".into(),
                data: None,
            },
        ),
        (
            "connect with auth",
            Packet::Connect {
                nsp: "/admin".into(),
                data: Some(RawJson::from_value(&json!({"token": "t", "n": [1, 2.5]})).unwrap()),
            },
        ),
        (
            "disconnect",
            Packet::Disconnect {
                nsp: "/chat".into(),
            },
        ),
        (
            "event",
            Packet::event("/", None, event("message", &json!({"text": "hé 🎉"}))),
        ),
        (
            "event with numbers",
            Packet::event(
                "/n",
                Some(u64::from(u32::MAX) + 1),
                event(
                    "nums",
                    &(
                        0,
                        -1,
                        -33,
                        300,
                        70000,
                        1.5,
                        0.1,
                        -2.5e-300,
                        5e-324,
                        9_007_199_254_740_991_u64,
                        -9_007_199_254_740_991_i64,
                        1e19,
                    ),
                ),
            ),
        ),
        (
            "event with strings",
            Packet::event(
                "/",
                Some(0),
                event(
                    "s\"q",
                    &(
                        "",
                        "x".repeat(31),
                        "x".repeat(32),
                        "y".repeat(300),
                        "z".repeat(70000),
                    ),
                ),
            ),
        ),
        (
            "event with buffers",
            Packet::event(
                "/",
                Some(1),
                event(
                    "upload",
                    &(
                        Binary::from(vec![1u8, 2, 3]),
                        json!({"k": 1}),
                        vec![Binary::from(vec![]), Binary::from(vec![7u8; 300])],
                        Binary::from(vec![9u8; 70000]),
                    ),
                ),
            ),
        ),
        (
            "event with large containers",
            Packet::event(
                "/",
                None,
                event(
                    "bulk",
                    &(
                        (0..20).collect::<Vec<u32>>(),
                        (0..20)
                            .map(|i| (format!("k{i}"), i))
                            .collect::<std::collections::BTreeMap<_, _>>(),
                    ),
                ),
            ),
        ),
        ("ack", Packet::ack("/", 5, Args::empty())),
        (
            "ack with a buffer",
            Packet::ack(
                "/files",
                9,
                Args::new(&(None::<u8>, Binary::from(b"ok".to_vec()))).unwrap(),
            ),
        ),
        (
            "connect_error",
            Packet::ConnectError {
                nsp: "/".into(),
                data: RawJson::new(r#"{"message":"Not authorized","data":{"code":1}}"#).unwrap(),
            },
        ),
        (
            "connect_error string",
            Packet::ConnectError {
                nsp: "/admin".into(),
                data: RawJson::new(r#""Invalid namespace""#).unwrap(),
            },
        ),
    ];
    let mut input = String::new();
    let mut ours = Vec::new();
    for (name, packet) in &packets {
        let frame = msgpack::encode(packet).unwrap_or_else(|e| panic!("{name}: {e}"));
        input.push_str(&json!({ "name": name, "frame": STANDARD.encode(&frame) }).to_string());
        input.push('\n');
        ours.push((name, frame, describe(packet)));
    }
    let results = json_lines(&run_reference("decode", &input));
    assert_eq!(results.len(), ours.len());
    for ((name, frame, expected), result) in ours.into_iter().zip(results) {
        assert_eq!(result["ok"], json!(true), "{name}: refused: {result}");
        assert_eq!(
            result["packet"], expected,
            "{name}: decoded by the reference"
        );
        assert_eq!(
            result["frame"].as_str(),
            Some(STANDARD.encode(&frame).as_str()),
            "{name}: re-encoded by the reference"
        );
    }
}

/// Builds events from differently typed arguments in one list.
mod erased {
    use super::Event;

    pub(crate) trait Args {
        fn event(&self, name: &str) -> Event;
    }

    impl<T: serde::Serialize> Args for T {
        fn event(&self, name: &str) -> Event {
            Event::new(name, self).unwrap()
        }
    }
}
