//! Codec vectors from PROTOCOL.md, malformed input, and round-trip properties.

use bytes::Bytes;
use bytestring::ByteString;
use proptest::prelude::*;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, SerializeTuple, Serializer};

use super::*;
use crate::Binary;

/// Decodes an Engine.IO frame text (`4…`) and its attachments into one packet.
fn decode_frames(frame: &str, attachments: &[&[u8]]) -> Result<Packet, DecodeError> {
    let text = frame
        .strip_prefix('4')
        .expect("vectors are Engine.IO message frames");
    let mut decoder = Decoder::new();
    let mut packet = decoder.decode_text(ByteString::from(text))?;
    for (i, bytes) in attachments.iter().enumerate() {
        assert!(packet.is_none(), "packet complete before attachment {i}");
        packet = decoder.decode_binary(Bytes::copy_from_slice(bytes))?;
    }
    Ok(packet.expect("packet incomplete after its attachments"))
}

fn raw(json: &str) -> RawJson {
    RawJson::new(json.to_owned()).unwrap()
}

fn event_json(packet: &Packet) -> (&str, &str) {
    let Packet::Event { event, .. } = packet else {
        panic!("not an event: {packet:?}")
    };
    (event.name(), event.data().json())
}

#[test]
fn protocol_md_vectors_decode_and_encode_byte_identically() {
    let bin: &[&[u8]] = &[&[1, 2, 3, 4]];
    let cases: Vec<(&str, &[&[u8]])> = vec![
        ("40", &[]),
        (r#"40/admin,{"token":"123"}"#, &[]),
        (r#"40/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#, &[]),
        (r#"44/random,{"message":"Invalid namespace"}"#, &[]),
        (r#"42["foo"]"#, &[]),
        (r#"42/admin,["bar"]"#, &[]),
        (r#"4212["foo"]"#, &[]),
        (r#"43/admin,13["bar"]"#, &[]),
        ("41/admin,", &[]),
        (r#"451-["baz",{"_placeholder":true,"num":0}]"#, bin),
        (r#"461-15["bar",{"_placeholder":true,"num":0}]"#, bin),
    ];
    for (frame, attachments) in cases {
        let packet = decode_frames(frame, attachments).unwrap_or_else(|e| panic!("{frame}: {e}"));
        let encoded = packet.encode().unwrap();
        assert_eq!(&encoded.frame()[..], frame);
        assert_eq!(
            encoded.attachments(),
            attachments
                .iter()
                .map(|a| Bytes::copy_from_slice(a))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn protocol_md_vectors_decode_to_the_right_packets() {
    let nsp = |s: &'static str| ByteString::from_static(s);
    assert_eq!(
        decode_frames("40", &[]).unwrap(),
        Packet::Connect {
            nsp: nsp("/"),
            data: None
        }
    );
    assert_eq!(
        decode_frames(r#"40/admin,{"token":"123"}"#, &[]).unwrap(),
        Packet::Connect {
            nsp: nsp("/admin"),
            data: Some(raw(r#"{"token":"123"}"#))
        }
    );
    assert_eq!(
        decode_frames(r#"44/random,{"message":"Invalid namespace"}"#, &[]).unwrap(),
        Packet::ConnectError {
            nsp: nsp("/random"),
            data: raw(r#"{"message":"Invalid namespace"}"#)
        }
    );
    let ack_event = decode_frames(r#"4212["foo"]"#, &[]).unwrap();
    assert_eq!(
        (ack_event.nsp().as_ref(), ack_event.ack_id()),
        ("/", Some(12))
    );
    assert_eq!(event_json(&ack_event), ("foo", r#"["foo"]"#));
    let admin = decode_frames(r#"42/admin,["bar"]"#, &[]).unwrap();
    assert_eq!(
        (admin.nsp().as_ref(), admin.ack_id(), event_json(&admin).0),
        ("/admin", None, "bar")
    );
    let ack = decode_frames(r#"43/admin,13["bar"]"#, &[]).unwrap();
    assert_eq!(
        ack,
        Packet::ack("/admin", 13, Args::new(&("bar",)).unwrap())
    );
    assert_eq!(
        decode_frames("41/admin,", &[]).unwrap(),
        Packet::Disconnect { nsp: nsp("/admin") }
    );
    // A namespace without the comma is accepted too (re-encoded with it).
    assert_eq!(
        decode_frames("40/custom", &[]).unwrap(),
        Packet::Connect {
            nsp: nsp("/custom"),
            data: None
        }
    );

    let binary_ack = decode_frames(
        r#"461-15["bar",{"_placeholder":true,"num":0}]"#,
        &[&[1, 2, 3, 4]],
    )
    .unwrap();
    assert_eq!(binary_ack.packet_type(), PacketType::BinaryAck);
    let Packet::Ack {
        ack_id: 15, args, ..
    } = binary_ack
    else {
        panic!("{binary_ack:?}")
    };
    let (bar, buffer): (String, Binary) = args.deserialize().unwrap();
    assert_eq!((bar.as_str(), &buffer[..]), ("bar", &[1u8, 2, 3, 4][..]));
}

#[test]
fn typed_packets_encode_like_the_reference() {
    let event = Event::new("chat", &serde_json::json!({"user": "ana", "text": "hello"})).unwrap();
    let encoded = Packet::event("/", None, event).encode().unwrap();
    assert_eq!(
        &encoded.frame()[..],
        r#"42["chat",{"user":"ana","text":"hello"}]"#
    );
    assert_eq!(
        &encoded.text()[..],
        r#"2["chat",{"user":"ana","text":"hello"}]"#
    );

    let files = (
        Binary::from(vec![1u8]),
        serde_json::json!({"n": 1}),
        [Binary::from(vec![2u8])],
    );
    let encoded = Packet::event("/up", Some(3), Event::new("files", &files).unwrap())
        .encode()
        .unwrap();
    assert_eq!(
        &encoded.frame()[..],
        r#"452-/up,3["files",{"_placeholder":true,"num":0},{"n":1},[{"_placeholder":true,"num":1}]]"#
    );
    let frames: Vec<_> = encoded.frames().collect();
    assert_eq!(frames.len(), 3);

    let refused = Packet::ConnectError {
        nsp: "/".into(),
        data: RawJson::from_value(&serde_json::json!({"message": "nope", "data": {"code": 1}}))
            .unwrap(),
    };
    assert_eq!(
        &refused.encode().unwrap().frame()[..],
        r#"44{"message":"nope","data":{"code":1}}"#
    );
}

#[test]
fn invalid_packets_are_refused_on_encode() {
    let event = || Event::new("e", &()).unwrap();
    for nsp in ["", "admin", "/a,b"] {
        assert_eq!(
            Packet::event(nsp, None, event()).encode(),
            Err(EncodeError::InvalidNamespace(nsp.into()))
        );
    }
    let connect = Packet::Connect {
        nsp: "/".into(),
        data: Some(raw("[1]")),
    };
    assert_eq!(
        connect.encode(),
        Err(EncodeError::InvalidPayload(PacketType::Connect))
    );
    let refused = Packet::ConnectError {
        nsp: "/".into(),
        data: raw("12"),
    };
    assert_eq!(
        refused.encode(),
        Err(EncodeError::InvalidPayload(PacketType::ConnectError))
    );
}

#[test]
fn malformed_text_is_a_typed_error() {
    use DecodeError::*;
    let cases: Vec<(&str, DecodeError)> = vec![
        ("", Empty),
        ("7", UnknownType('7')),
        ("x[]", UnknownType('x')),
        (r#"5-["a",{}]"#, InvalidAttachmentCount),
        (r#"50-["a"]"#, InvalidAttachmentCount),
        (r#"5x-["a"]"#, InvalidAttachmentCount),
        (r#"51["a"]"#, InvalidAttachmentCount),
        (r#"511-["a"]"#, TooManyAttachments { max: 10 }),
        (
            r#"599999999999999999999999-["a"]"#,
            TooManyAttachments { max: 10 },
        ),
        (r#"299999999999999999999["a"]"#, InvalidAckId),
        (r#"3["a"]"#, InvalidAckId),
        (r#"012{}"#, InvalidAckId),
        ("1{}", InvalidPayload(PacketType::Disconnect)),
        ("0[]", InvalidPayload(PacketType::Connect)),
        ("0\"x\"", InvalidPayload(PacketType::Connect)),
        ("4", InvalidPayload(PacketType::ConnectError)),
        ("4[1]", InvalidPayload(PacketType::ConnectError)),
        ("2", InvalidPayload(PacketType::Event)),
        (r#"2{"a":1}"#, InvalidPayload(PacketType::Event)),
        ("2[]", InvalidPayload(PacketType::Event)),
        ("2[{}]", InvalidPayload(PacketType::Event)),
        ("2[null]", InvalidPayload(PacketType::Event)),
        (r#"31{"a":1}"#, InvalidPayload(PacketType::Ack)),
        (r#"2["connect"]"#, ReservedEventName("connect".into())),
        (
            r#"2["disconnecting",1]"#,
            ReservedEventName("disconnecting".into()),
        ),
        (
            r#"51-["a",{"_placeholder":true,"num":1}]"#,
            PlaceholderOutOfRange {
                num: 1,
                attachments: 1,
            },
        ),
        (
            r#"61-1[{"_placeholder":true}]"#,
            PlaceholderOutOfRange {
                num: u64::MAX,
                attachments: 1,
            },
        ),
    ];
    for (text, expected) in cases {
        let result = Decoder::new().decode_text(ByteString::from(text));
        assert_eq!(result, Err(expected), "{text:?}");
    }
    for garbage in [r#"2["a"]x"#, r#"2["a""#, "2[\"a\",]", "0{", "2\u{1e}"] {
        let result = Decoder::new().decode_text(ByteString::from(garbage));
        assert!(
            matches!(result, Err(DecodeError::InvalidJson(_))),
            "{garbage:?}: {result:?}"
        );
    }
}

#[test]
fn numeric_event_names_are_accepted_like_the_reference() {
    let packet = Decoder::new()
        .decode_text("2[42,\"x\"]".into())
        .unwrap()
        .unwrap();
    assert_eq!(event_json(&packet), ("42", "[42,\"x\"]"));
}

#[test]
fn frames_out_of_order_are_errors_and_reset_the_decoder() {
    let mut decoder = Decoder::new();
    assert_eq!(
        decoder.decode_binary(Bytes::from_static(b"x")),
        Err(DecodeError::UnexpectedBinary)
    );
    let header = r#"52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    assert_eq!(decoder.decode_text(header.into()), Ok(None));
    assert_eq!(decoder.missing_attachments(), 2);
    assert_eq!(decoder.decode_binary(Bytes::from_static(b"1")), Ok(None));
    assert_eq!(decoder.missing_attachments(), 1);
    assert_eq!(
        decoder.decode_text(r#"2["b"]"#.into()),
        Err(DecodeError::UnexpectedText { missing: 1 })
    );
    assert_eq!(decoder.missing_attachments(), 0);
    assert!(decoder.decode_text(r#"2["b"]"#.into()).unwrap().is_some());
}

#[test]
fn max_attachments_is_configurable() {
    let text = r#"512-["a"]"#;
    assert_eq!(
        Decoder::new().decode_text(text.into()),
        Err(DecodeError::TooManyAttachments { max: 10 })
    );
    assert_eq!(
        Decoder::with_max_attachments(12).decode_text(text.into()),
        Ok(None)
    );
}

// ---------------------------------------------------------------------------------------
// Properties.

/// A JSON-like value that may hold binary buffers at any depth.
#[derive(Debug, Clone)]
enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bin(Vec<u8>),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Str(text) => s.serialize_str(text),
            Value::Bin(bytes) => Binary::from(bytes.clone()).serialize(s),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                items
                    .iter()
                    .try_for_each(|item| seq.serialize_element(item))?;
                seq.end()
            }
            Value::Object(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                entries
                    .iter()
                    .try_for_each(|(k, v)| map.serialize_entry(k, v))?;
                map.end()
            }
        }
    }
}

/// Serialises as a tuple, so each value becomes one argument.
#[derive(Debug, Clone)]
struct ArgList(Vec<Value>);

impl Serialize for ArgList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut tuple = s.serialize_tuple(self.0.len())?;
        self.0.iter().try_for_each(|v| tuple.serialize_element(v))?;
        tuple.end()
    }
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
        ".{0,12}".prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(Value::Bin),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(("[a-z_]{0,6}", inner), 0..4).prop_map(Value::Object),
        ]
    })
}

fn namespace() -> impl Strategy<Value = String> {
    prop_oneof![Just("/".to_owned()), "/[^,]{1,10}"]
}

fn event_name() -> impl Strategy<Value = String> {
    ".{0,10}".prop_filter("not reserved", |name| !is_reserved_event(name))
}

fn packet() -> impl Strategy<Value = Packet> {
    let args = || proptest::collection::vec(value(), 0..4).prop_map(ArgList);
    prop_oneof![
        (namespace(), proptest::option::of(value())).prop_map(|(nsp, auth)| Packet::Connect {
            nsp: nsp.into(),
            data: auth
                .map(|v| RawJson::from_value(&Value::Object(vec![("auth".into(), v)])).unwrap()),
        }),
        namespace().prop_map(|nsp| Packet::Disconnect { nsp: nsp.into() }),
        (
            namespace(),
            proptest::option::of(any::<u64>()),
            event_name(),
            args()
        )
            .prop_map(|(nsp, ack_id, name, args)| Packet::event(
                nsp,
                ack_id,
                Event::new(&name, &args).unwrap()
            )),
        (namespace(), any::<u64>(), args()).prop_map(|(nsp, ack_id, args)| Packet::ack(
            nsp,
            ack_id,
            Args::new(&args).unwrap()
        )),
        (namespace(), ".{0,12}").prop_map(|(nsp, message)| Packet::ConnectError {
            nsp: nsp.into(),
            data: RawJson::from_value(&serde_json::json!({ "message": message })).unwrap(),
        }),
    ]
}

proptest! {
    #[test]
    fn decode_of_encode_is_identity(packet in packet()) {
        let encoded = packet.encode().unwrap();
        // Allow any attachment count the packet has.
        let mut decoder = Decoder::with_max_attachments(usize::MAX);
        let mut decoded = decoder.decode_text(encoded.text()).unwrap();
        for attachment in encoded.attachments() {
            prop_assert!(decoded.is_none());
            decoded = decoder.decode_binary(attachment.clone()).unwrap();
        }
        prop_assert_eq!(decoded.as_ref(), Some(&packet));
        prop_assert_eq!(decoded.unwrap().encode().unwrap(), encoded);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,40}", prefix in "[0-6]{0,2}[-/,0-9]{0,4}") {
        let mut decoder = Decoder::new();
        let _ = decoder.decode_text(ByteString::from(format!("{prefix}{text}")));
    }

    #[test]
    fn arbitrary_frame_sequences_never_panic(
        frames in proptest::collection::vec(
            prop_oneof![
                "[0-6]{1}[0-9]{0,2}-?(/a,)?[0-9]{0,2}\\[.{0,8}\\]".prop_map(Ok),
                r#"5[1-3]-\["x",\{"_placeholder":true,"num":[0-3]\}\]"#.prop_map(Ok),
                proptest::collection::vec(any::<u8>(), 0..8).prop_map(Err),
            ],
            0..12,
        )
    ) {
        let mut decoder = Decoder::new();
        for frame in frames {
            let result = match frame {
                Ok(text) => decoder.decode_text(ByteString::from(text)),
                Err(bytes) => decoder.decode_binary(Bytes::from(bytes)),
            };
            if let Ok(Some(packet)) = result {
                // Whatever decodes re-encodes.
                prop_assert!(packet.encode().is_ok());
            }
        }
    }
}
