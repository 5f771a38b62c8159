//! One Socket.IO packet in the msgpack encoding (npm's socket.io-msgpack-parser; feature
//! `msgpack` of halyard-protocol): a whole binary frame.
//!
//! Input: raw bytes.
//!
//! Properties: decoding never panics; a packet that decodes encodes, decodes again to an
//! equal packet, and re-encodes to the same bytes.
#![no_main]

use halyard_protocol::Bytes;
use halyard_protocol::socketio::msgpack;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = msgpack::decode(Bytes::copy_from_slice(data)) else {
        return;
    };
    let encoded = msgpack::encode(&packet)
        .unwrap_or_else(|e| panic!("a decoded packet encodes: {packet:?}: {e}"));
    let again = msgpack::decode(encoded.clone())
        .unwrap_or_else(|e| panic!("our encoding decodes: {packet:?}: {e}"));
    assert_eq!(again, packet);
    assert_eq!(
        msgpack::encode(&again).expect("encodes"),
        encoded,
        "re-encoding is stable"
    );
});
