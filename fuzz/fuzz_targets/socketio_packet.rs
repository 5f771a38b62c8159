//! One Socket.IO text frame (the packet text after the Engine.IO `4`).
//!
//! Input: raw bytes; non-UTF-8 inputs are skipped (a WebSocket text frame is UTF-8).
//!
//! Properties:
//! - a complete packet comes out only for non-binary types, with the input's type digit,
//!   and round-trips: it encodes, re-decodes to an equal packet, and re-encodes to the same
//!   frame (see `check_socketio_round_trip`);
//! - a binary packet header waits for exactly the attachments it announced;
//! - after an error the decoder holds nothing.
#![no_main]

use halyard_fuzz::{announced_attachments, check_socketio_round_trip};
use halyard_protocol::ByteString;
use halyard_protocol::socketio::Decoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut decoder = Decoder::new();
    match decoder.decode_text(ByteString::from(text)) {
        Err(_) => assert_eq!(decoder.missing_attachments(), 0),
        Ok(None) => {
            let announced = announced_attachments(text)
                .unwrap_or_else(|| panic!("a non-binary packet waits for attachments: {text:?}"));
            assert!(announced > 0);
            assert_eq!(decoder.missing_attachments(), announced, "{text:?}");
        }
        Ok(Some(packet)) => {
            assert_eq!(decoder.missing_attachments(), 0);
            assert!(!packet.packet_type().is_binary(), "{packet:?}");
            assert_eq!(packet.packet_type().digit(), data[0], "{text:?}");
            check_socketio_round_trip(&packet);
        }
    }
});
