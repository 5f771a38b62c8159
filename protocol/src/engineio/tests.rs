//! Round-trip and robustness properties of the Engine.IO codec.

use bytes::Bytes;
use bytestring::ByteString;
use proptest::prelude::*;

use super::polling::{PayloadDecoder, decode_payload, encode_payload};
use super::*;

/// Text that may appear in a packet (the record separator splits polling payloads, so
/// no peer sends it inside a packet).
fn text() -> impl Strategy<Value = String> {
    "[^\u{1e}]{0,16}"
}

fn packet() -> impl Strategy<Value = Packet> {
    prop_oneof![
        (
            text(),
            proptest::collection::vec("[a-z]{1,9}", 0..3),
            any::<u32>(),
            any::<u32>(),
            any::<u32>()
        )
            .prop_map(
                |(sid, upgrades, interval, timeout, max)| Packet::Open(OpenPacket {
                    sid,
                    upgrades,
                    ping_interval: interval.into(),
                    ping_timeout: timeout.into(),
                    max_payload: max.into(),
                })
            ),
        Just(Packet::Close),
        prop_oneof![Just(String::new()), Just(PROBE.to_owned()), text()]
            .prop_map(|data| Packet::Ping(data.into())),
        prop_oneof![Just(String::new()), Just(PROBE.to_owned())]
            .prop_map(|data| Packet::Pong(data.into())),
        text().prop_map(|data| Packet::Message(data.into())),
        proptest::collection::vec(any::<u8>(), 0..32).prop_map(|b| Packet::Binary(b.into())),
        Just(Packet::Upgrade),
        Just(Packet::Noop),
    ]
}

proptest! {
    #[test]
    fn frame_round_trip(packet in packet()) {
        prop_assert_eq!(Packet::decode(packet.encode()).unwrap(), packet);
    }

    #[test]
    fn payload_round_trip(packets in proptest::collection::vec(packet(), 1..8)) {
        let frames: Vec<Frame> = packets.iter().map(Packet::encode).collect();
        let body = encode_payload(&frames);
        prop_assert_eq!(
            body.len(),
            frames.iter().map(polling::encoded_len).sum::<usize>() + frames.len() - 1
        );
        prop_assert_eq!(decode_payload(body.clone(), body.len()).unwrap(), packets);
        if !body.is_empty() {
            let too_small = decode_payload(body.clone(), body.len() - 1);
            prop_assert_eq!(too_small, Err(DecodeError::TooLarge { max: body.len() - 1 }));
        }
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..64), cut in 0usize..64) {
        let one_shot = decode_payload(Bytes::from(body.clone()), 48);
        let mut chunked = PayloadDecoder::new(48);
        let cut = cut.min(body.len());
        let streamed = chunked.push(&body[..cut]).and_then(|()| chunked.push(&body[cut..]));
        match streamed {
            Ok(()) => prop_assert_eq!(chunked.finish(), one_shot),
            Err(error) => prop_assert_eq!(Err(error), one_shot),
        }
    }

    #[test]
    fn arbitrary_text_frames_never_panic(text in ".{0,32}") {
        let _ = Packet::decode(Frame::Text(ByteString::from(text)));
    }
}
