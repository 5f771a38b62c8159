//! Deterministic codecs for Engine.IO v4 and Socket.IO v5.
//!
//! This crate holds no state beyond a decoder's partial packet, performs no IO and
//! depends on no runtime. It is the bottom layer of Halyard:
//!
//! - [`engineio`]: Engine.IO v4 packets, WebSocket frames and long-polling payloads.
//! - [`socketio`]: Socket.IO v5 packets, their text encoding, and the binary-attachment
//!   decoder that reassembles a packet from its text frame and the binary frames after it.
//! - `socketio::msgpack` (feature `msgpack`): the Socket.IO packet codec of npm's
//!   `socket.io-msgpack-parser`, one MessagePack map per packet in one binary frame,
//!   decoding to the same `Packet` (binary values become attachments, so typed access
//!   and [`Binary`] work unchanged).
//! - [`Binary`]: a byte buffer that travels as a binary attachment when it appears in the
//!   arguments of an event or an acknowledgement.
//!
//! Payloads stay raw: a decoded event keeps its arguments as validated JSON text that
//! shares the received frame's memory, so a server can route and forward it without
//! building a `serde_json::Value`. Typed access goes through serde on demand.
//!
//! ```
//! use halyard_protocol::socketio::{Decoder, Packet};
//!
//! let mut decoder = Decoder::new();
//! let packet = decoder
//!     .decode_text(r#"2/chat,7["message",{"text":"hi"}]"#.into())
//!     .unwrap()
//!     .expect("a text packet without attachments is complete at once");
//! let Packet::Event { nsp, ack_id, event } = &packet else { unreachable!() };
//! assert_eq!((&nsp[..], *ack_id, event.name()), ("/chat", Some(7), "message"));
//! #[derive(serde::Deserialize)]
//! struct Msg { text: String }
//! let (msg,): (Msg,) = event.args().unwrap();
//! assert_eq!(msg.text, "hi");
//! // Encoding yields the Engine.IO frame ("4" + Socket.IO text) ready to share.
//! assert_eq!(&packet.encode().unwrap().frame()[..], r#"42/chat,7["message",{"text":"hi"}]"#);
//! ```

pub mod binary;
pub mod engineio;
pub mod socketio;

pub use binary::Binary;
pub use bytes::Bytes;
pub use bytestring::ByteString;
