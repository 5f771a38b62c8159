//! One Engine.IO WebSocket frame.
//!
//! Input: raw bytes, decoded as a binary frame, and also as a text frame when UTF-8.
//!
//! Properties:
//! - a binary frame is always the binary message of exactly those bytes, and encodes back
//!   to the same frame;
//! - a text frame's errors match the frame: `Empty` only for an empty frame, `UnknownType`
//!   (with the first character) only when it does not start with a type digit `0`-`6`,
//!   `TrailingData` only after `1`, `5` or `6`, `InvalidOpen` only after `0`; no other error;
//! - a decoded text packet encodes to exactly the input frame, except an open packet, whose
//!   JSON is re-serialised; re-decoding the encoding gives an equal packet and re-encoding
//!   it gives the same frame;
//! - the same packet alone in a polling payload decodes to itself (when its text has no
//!   record separator, which the polling framing cannot carry).
#![no_main]

use halyard_protocol::engineio::polling::{SEPARATOR, decode_payload, encode_payload};
use halyard_protocol::engineio::{DecodeError, Frame, Packet};
use halyard_protocol::{ByteString, Bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    let packet = Packet::decode(Frame::Binary(bytes.clone()));
    assert_eq!(packet, Ok(Packet::Binary(bytes.clone())));
    assert_eq!(Packet::Binary(bytes.clone()).encode(), Frame::Binary(bytes));

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let frame = Frame::Text(ByteString::from(text));
    let first = data.first().copied();
    match Packet::decode(frame.clone()) {
        Err(DecodeError::Empty) => assert!(data.is_empty()),
        Err(DecodeError::UnknownType(c)) => {
            assert_eq!(text.chars().next(), Some(c));
            assert!(!(b'0'..=b'6').contains(&data[0]), "{text:?}");
        }
        Err(DecodeError::TrailingData(kind)) => {
            assert!(data.len() > 1);
            assert_eq!(Some(kind.digit()), first);
            assert!(matches!(first, Some(b'1' | b'5' | b'6')), "{text:?}");
        }
        Err(DecodeError::InvalidOpen(_)) => assert_eq!(first, Some(b'0')),
        Err(other) => panic!("unexpected error {other:?} for the frame {text:?}"),
        Ok(packet) => {
            assert!(!matches!(packet, Packet::Binary(_)));
            assert_eq!(Some(packet.packet_type().digit()), first);
            let encoded = packet.encode();
            if !matches!(packet, Packet::Open(_)) {
                assert_eq!(encoded, frame, "{packet:?}");
            }
            let again = Packet::decode(encoded.clone())
                .unwrap_or_else(|e| panic!("{encoded:?} from {packet:?} does not decode: {e}"));
            assert_eq!(again, packet);
            assert_eq!(again.encode(), encoded);

            let Frame::Text(encoded_text) = &encoded else {
                panic!("a text packet encodes to a binary frame: {packet:?}");
            };
            if !encoded_text.as_bytes().contains(&SEPARATOR) {
                let body = encode_payload([&encoded]);
                assert_eq!(decode_payload(body, usize::MAX), Ok(vec![packet]));
            }
        }
    }
});
