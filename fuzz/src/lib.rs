//! Shared oracles and input formats of the Halyard fuzz targets.
//!
//! The targets live in `fuzz_targets/`; this library holds what more than one of them
//! needs (the Socket.IO round-trip oracle) and the hand-parsable input formats, so that
//! committed seeds can be written by hand (see `gen_corpus.sh` and the README).
//!
//! The engine targets keep their input format in [`ops`], their drivers and invariants
//! in [`drive`] and their seeds in [`seeds`].

pub mod drive;
pub mod ops;
pub mod seeds;

use halyard_protocol::engineio::{self, Frame};
use halyard_protocol::socketio::{DecodeError, Decoder, Packet};
use halyard_protocol::{ByteString, Bytes};

/// Separates the frames of a `binary_attachments` input.
///
/// 0xFF never occurs in UTF-8, so it cannot collide with a text frame.
pub const FRAME_SEPARATOR: u8 = 0xFF;

/// Marks a `binary_attachments` frame as binary when it is the frame's first byte.
///
/// 0xFE never occurs in UTF-8 either.
pub const BINARY_MARKER: u8 = 0xFE;

/// One Engine.IO message as the Socket.IO decoder receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message: the Socket.IO packet text (after the Engine.IO `4`).
    Text(ByteString),
    /// A binary message: one attachment.
    Binary(Bytes),
}

/// Parses a `binary_attachments` input: frames separated by [`FRAME_SEPARATOR`].
///
/// The first frame is the header and always text. Every later frame that starts with
/// [`BINARY_MARKER`] is a binary frame holding the bytes after the marker (so attachment
/// bytes cannot contain 0xFF, which does not matter: the decoder never looks inside
/// them); any other frame is text. Text that is not valid UTF-8 is converted lossily.
///
/// `51-["a",{"_placeholder":true,"num":0}]` `FF FE 01 02` is a binary event followed by
/// its one attachment `01 02`.
pub fn parse_messages(data: &[u8]) -> Vec<Message> {
    data.split(|&b| b == FRAME_SEPARATOR)
        .enumerate()
        .map(|(i, segment)| match segment.split_first() {
            Some((&BINARY_MARKER, rest)) if i > 0 => Message::Binary(Bytes::copy_from_slice(rest)),
            _ => Message::Text(ByteString::from(
                String::from_utf8_lossy(segment).into_owned(),
            )),
        })
        .collect()
}

/// Writes messages in the format [`parse_messages`] reads (for seeds and tests).
///
/// Panics when a message cannot be represented: a first message that is binary, or
/// binary bytes containing [`FRAME_SEPARATOR`].
pub fn write_messages(messages: &[Message]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        if i > 0 {
            out.push(FRAME_SEPARATOR);
        }
        match message {
            Message::Text(text) => out.extend_from_slice(text.as_bytes()),
            Message::Binary(bytes) => {
                assert!(i > 0, "the header is always text");
                assert!(!bytes.contains(&FRAME_SEPARATOR), "0xFF is the separator");
                out.push(BINARY_MARKER);
                out.extend_from_slice(bytes);
            }
        }
    }
    out
}

/// The attachment count a binary packet's text announces (`5<n>-…` or `6<n>-…`), or
/// `None` when the text is not a well-formed binary packet header.
///
/// An independent oracle for the decoder: it does not check the limit or anything after
/// the `-`.
pub fn announced_attachments(text: &str) -> Option<usize> {
    let rest = text.strip_prefix(['5', '6'])?;
    let (digits, _) = rest.split_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(usize::MAX))
}

/// The binary attachments a packet carries.
pub fn attachments_of(packet: &Packet) -> &[Bytes] {
    match packet {
        Packet::Event { event, .. } => event.data().attachments(),
        Packet::Ack { args, .. } => args.attachments(),
        _ => &[],
    }
}

/// Decodes a text message and its attachments with a fresh decoder, checking on the way
/// that the packet completes exactly with its last attachment.
pub fn decode_fresh(text: ByteString, attachments: &[Bytes]) -> Result<Packet, DecodeError> {
    let mut decoder = Decoder::new();
    let mut packet = decoder.decode_text(text)?;
    for (i, attachment) in attachments.iter().enumerate() {
        assert!(
            packet.is_none(),
            "packet complete after {i} of {} attachments",
            attachments.len()
        );
        assert_eq!(decoder.missing_attachments(), attachments.len() - i);
        packet = decoder.decode_binary(attachment.clone())?;
    }
    assert_eq!(decoder.missing_attachments(), 0);
    Ok(packet.expect("a packet is complete once all its attachments arrived"))
}

/// Checks what must hold for every packet the Socket.IO decoder produced:
///
/// - it encodes (a decoded packet is always a valid packet);
/// - the frame is `4` + the text, and it decodes as an Engine.IO message of that text;
/// - the encoded attachments are the packet's, in order;
/// - decoding the encoded text and attachments with a fresh decoder gives an equal packet;
/// - encoding that packet again gives the same frame and attachments (the encoding is stable);
/// - its arguments are a JSON array that typed access can read, and an event's name is
///   its first element.
pub fn check_socketio_round_trip(packet: &Packet) {
    let encoded = packet
        .encode()
        .unwrap_or_else(|e| panic!("a decoded packet must encode: {packet:?}: {e}"));
    let frame = encoded.frame();
    assert_eq!(frame.as_bytes().first(), Some(&b'4'), "{frame:?}");
    assert_eq!(&frame[1..], &encoded.text()[..]);
    assert_eq!(
        engineio::Packet::decode(Frame::Text(frame.clone())),
        Ok(engineio::Packet::Message(encoded.text()))
    );
    assert_eq!(encoded.attachments(), attachments_of(packet));
    assert_eq!(
        encoded.text().as_bytes()[0],
        packet.packet_type().digit(),
        "{encoded:?}"
    );

    let again = decode_fresh(encoded.text(), encoded.attachments())
        .unwrap_or_else(|e| panic!("the encoding of {packet:?} does not decode: {encoded:?}: {e}"));
    assert_eq!(&again, packet, "round trip through {encoded:?}");
    let reencoded = again.encode().expect("an equal packet encodes");
    assert_eq!(reencoded, encoded, "unstable encoding of {packet:?}");

    check_typed_access(packet);
}

fn check_typed_access(packet: &Packet) {
    use serde::de::IgnoredAny;
    use serde_json::value::RawValue;
    // IgnoredAny and RawValue rather than Value or String: the decoder accepts what
    // JavaScript's JSON.parse accepts, and numbers beyond f64 range (`1e400`, Infinity in
    // JavaScript) or lone surrogates (`"\ud800"`) are valid JSON that serde_json refuses
    // to hold in a Value or a String.
    match packet {
        Packet::Event { event, .. } => {
            assert!(!halyard_protocol::socketio::is_reserved_event(event.name()));
            let all: Vec<IgnoredAny> = event
                .data()
                .deserialize()
                .unwrap_or_else(|e| panic!("event data of {packet:?} is not an array: {e}"));
            // The name is the first element: a string, unescaped (a lone surrogate escape
            // such as `"\ud800"`, which JavaScript allows, becomes U+FFFD), or a
            // number, as its JSON text.
            let (first,): (Box<RawValue>,) = event
                .data()
                .deserialize()
                .unwrap_or_else(|e| panic!("event name of {packet:?}: {e}"));
            let first = first.get();
            match first.as_bytes()[0] {
                b'"' => match serde_json::from_str::<String>(first) {
                    Ok(name) => assert_eq!(name, event.name(), "{packet:?}"),
                    Err(_) => assert!(event.name().contains('\u{fffd}'), "{packet:?}"),
                },
                b'-' | b'0'..=b'9' => assert_eq!(first, event.name(), "{packet:?}"),
                _ => panic!("event name {first} in {packet:?}"),
            }
            let rest: Vec<IgnoredAny> = event
                .args()
                .unwrap_or_else(|e| panic!("event args of {packet:?}: {e}"));
            assert_eq!(rest.len(), all.len() - 1);
        }
        Packet::Ack { args, .. } => {
            let _: Vec<IgnoredAny> = args
                .deserialize()
                .unwrap_or_else(|e| panic!("ack args of {packet:?} are not an array: {e}"));
        }
        Packet::Connect {
            data: Some(data), ..
        } => {
            let _: IgnoredAny = data.deserialize().expect("validated JSON");
            assert!(json_starts_with(data.as_str(), b"{"), "{packet:?}");
        }
        Packet::ConnectError { data, .. } => {
            let _: IgnoredAny = data.deserialize().expect("validated JSON");
            assert!(json_starts_with(data.as_str(), b"{\""), "{packet:?}");
        }
        _ => {}
    }
}

/// Whether a JSON text's first non-whitespace byte is one of `first` (the value's kind).
fn json_starts_with(json: &str, first: &[u8]) -> bool {
    let value = json.trim_start_matches([' ', '\t', '\n', '\r']);
    value.bytes().next().is_some_and(|b| first.contains(&b))
}

/// Parses an `engineio_payload` input: byte 0 sets the maximum payload size
/// (`4 * byte`, so 0 to 1020), byte 1 seeds the chunk pattern, the rest is the body.
pub fn parse_payload_input(data: &[u8]) -> Option<(usize, u8, &[u8])> {
    match data {
        [max, seed, body @ ..] => Some((usize::from(*max) * 4, *seed, body)),
        _ => None,
    }
}

/// How to cut a body into chunks: a deterministic sequence of (length, owned?) pairs
/// drawn from `seed`. Lengths are 0 to 16 bytes; `owned` selects `push_bytes` over `push`.
pub fn chunk_plan(seed: u8, body_len: usize) -> Vec<(usize, bool)> {
    // xorshift32; a zero seed would stay zero, so fold it into a non-zero state.
    let mut state = 0x9E37_79B9u32 ^ u32::from(seed);
    let mut plan = Vec::new();
    let mut covered = 0;
    while covered < body_len {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let len = (state % 17) as usize;
        let owned = state & 0x100 != 0;
        plan.push((len.min(body_len - covered), owned));
        covered += len;
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_the_input_format() {
        let messages = vec![
            Message::Text(r#"52-["a",{"_placeholder":true,"num":0}]"#.into()),
            Message::Binary(Bytes::from_static(&[1, 2, 0xFE])),
            Message::Binary(Bytes::new()),
            Message::Text("".into()),
            Message::Text("2[\"é\"]".into()),
        ];
        assert_eq!(parse_messages(&write_messages(&messages)), messages);
        assert_eq!(
            parse_messages(b"\xfe1"),
            vec![Message::Text("\u{fffd}1".into())]
        );
    }

    #[test]
    fn announced_attachments_reads_binary_headers_only() {
        assert_eq!(announced_attachments("51-[]"), Some(1));
        assert_eq!(announced_attachments("612-/a,1[]"), Some(12));
        assert_eq!(announced_attachments("5-[]"), None);
        assert_eq!(announced_attachments("2[]"), None);
        assert_eq!(
            announced_attachments("599999999999999999999999-"),
            Some(usize::MAX)
        );
    }

    #[test]
    fn chunk_plans_cover_the_body() {
        for seed in 0..=255 {
            for len in [0, 1, 5, 100] {
                let plan = chunk_plan(seed, len);
                assert_eq!(plan.iter().map(|(n, _)| n).sum::<usize>(), len);
            }
        }
    }
}
