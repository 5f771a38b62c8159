//! A sequence of Engine.IO messages fed to one Socket.IO decoder: a header text frame,
//! then text and binary frames in any order.
//!
//! Input format (hand-writable, see `halyard_fuzz::parse_messages`): frames separated by
//! the byte 0xFF; the first is text, a later frame starting with 0xFE is binary (the bytes
//! after the marker), any other is text.
//!
//! Properties, after every frame:
//! - the decoder never waits for more attachments than the last binary header announced,
//!   and waits for exactly that many right after the header;
//! - a text frame while attachments are missing is `UnexpectedText { missing }`, a binary
//!   frame while none are is `UnexpectedBinary`, and a binary frame a packet waits for is
//!   never an error: it completes the packet with the last announced attachment;
//! - after an error the decoder holds nothing;
//! - a completed binary packet carries exactly the binary frames received for it, in order;
//! - every completed packet round-trips: encoded, its text and attachments fed to a fresh
//!   decoder give an equal packet, and the encoding is stable.
#![no_main]

use halyard_fuzz::{Message, announced_attachments, attachments_of, check_socketio_round_trip};
use halyard_protocol::Bytes;
use halyard_protocol::socketio::{DecodeError, Decoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::new();
    // The attachment count of the binary packet being reassembled, and what came so far.
    let mut announced = 0;
    let mut received: Vec<Bytes> = Vec::new();
    for message in halyard_fuzz::parse_messages(data) {
        let waiting = decoder.missing_attachments();
        assert!(waiting <= announced, "{waiting} missing of {announced}");
        let result = match message {
            Message::Text(text) => {
                let result = decoder.decode_text(text.clone());
                if waiting > 0 {
                    assert_eq!(
                        result,
                        Err(DecodeError::UnexpectedText { missing: waiting })
                    );
                } else if let Ok(None) = result {
                    announced = announced_attachments(&text)
                        .unwrap_or_else(|| panic!("non-binary packet waits: {text:?}"));
                    received.clear();
                    assert!(announced > 0);
                    assert_eq!(decoder.missing_attachments(), announced, "{text:?}");
                } else if let Ok(Some(packet)) = &result {
                    assert!(!packet.packet_type().is_binary(), "{packet:?}");
                }
                result
            }
            Message::Binary(bytes) => {
                let result = decoder.decode_binary(bytes.clone());
                if waiting == 0 {
                    assert_eq!(result, Err(DecodeError::UnexpectedBinary));
                } else {
                    received.push(bytes);
                    match &result {
                        Ok(None) => assert_eq!(decoder.missing_attachments(), waiting - 1),
                        Ok(Some(packet)) => {
                            assert_eq!(waiting, 1, "completed with {waiting} missing");
                            assert!(packet.packet_type().is_binary(), "{packet:?}");
                            assert_eq!(attachments_of(packet), &received[..]);
                            assert_eq!(received.len(), announced);
                        }
                        Err(e) => panic!("an awaited attachment is refused: {e}"),
                    }
                }
                result
            }
        };
        match result {
            Err(_) => assert_eq!(decoder.missing_attachments(), 0),
            Ok(None) => assert!(decoder.missing_attachments() > 0),
            Ok(Some(packet)) => {
                assert_eq!(decoder.missing_attachments(), 0);
                check_socketio_round_trip(&packet);
            }
        }
        if decoder.missing_attachments() == 0 {
            announced = 0;
        }
    }
});
