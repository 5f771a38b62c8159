//! One Engine.IO long-polling body.
//!
//! Input: byte 0 sets `max_payload` (4 × byte: 0 to 1020), byte 1 seeds how the body is
//! cut into chunks, the rest is the body.
//!
//! Properties:
//! - the one-shot decode fails with `TooLarge { max }` exactly when the body is longer than
//!   `max_payload`;
//! - pushing the body in chunks (a seeded mix of `push` and `push_bytes`, empty chunks
//!   included) fails at the first chunk that crosses the limit, with the same error, and
//!   otherwise `finish` gives the same result as the one-shot decode, error or packets;
//! - decoded packets, encoded to frames and joined with `encode_payload`, give back the
//!   input body byte for byte when no open packet is among them (an open packet's JSON is
//!   re-serialised), `encoded_len` predicts the length, and decoding that body again gives
//!   equal packets.
#![no_main]

use halyard_fuzz::{chunk_plan, parse_payload_input};
use halyard_protocol::Bytes;
use halyard_protocol::engineio::polling::{
    PayloadDecoder, decode_payload, encode_payload, encoded_len,
};
use halyard_protocol::engineio::{DecodeError, Frame, Packet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((max, seed, body)) = parse_payload_input(data) else {
        return;
    };
    let whole = decode_payload(Bytes::copy_from_slice(body), max);
    if body.len() > max {
        assert_eq!(whole, Err(DecodeError::TooLarge { max }));
    } else {
        assert_ne!(whole, Err(DecodeError::TooLarge { max }));
    }

    let mut decoder = PayloadDecoder::new(max);
    let mut offset = 0;
    let mut chunked = None;
    for (len, owned) in chunk_plan(seed, body.len()) {
        let chunk = &body[offset..offset + len];
        let pushed = if owned {
            decoder.push_bytes(Bytes::copy_from_slice(chunk))
        } else {
            decoder.push(chunk)
        };
        offset += len;
        if let Err(e) = pushed {
            assert_eq!(e, DecodeError::TooLarge { max });
            assert!(offset > max, "refused at {offset} bytes of at most {max}");
            chunked = Some(Err(e));
            break;
        }
        assert_eq!(decoder.len(), offset);
    }
    let chunked = chunked.unwrap_or_else(|| decoder.finish());
    assert_eq!(chunked, whole);

    let Ok(packets) = whole else {
        return;
    };
    assert!(!packets.is_empty());
    let frames: Vec<Frame> = packets.iter().map(Packet::encode).collect();
    let encoded = encode_payload(&frames);
    let predicted: usize = frames.iter().map(encoded_len).sum::<usize>() + frames.len() - 1;
    assert_eq!(encoded.len(), predicted);
    if !packets.iter().any(|p| matches!(p, Packet::Open(_))) {
        assert_eq!(&encoded[..], body);
    }
    assert_eq!(decode_payload(encoded, usize::MAX), Ok(packets));
});
