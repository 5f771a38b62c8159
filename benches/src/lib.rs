//! Sample packets shared by the codec benchmarks (`benches/codec.rs`) and the
//! allocation tests (`tests/allocations.rs`).
//!
//! Every sample exists in three forms: the Socket.IO text (and attachments) a server
//! receives, the decoded [`Packet`] whose arguments are raw JSON (what a server forwards
//! or broadcasts), and typed Rust values (what an application emits). The JSON body of
//! each form is the same text, so the benchmarks can compare the codec with bare
//! `serde_json` work on exactly that text.
//!
//! Texts are built at run time and already shared (cloned once), as a frame is after
//! the Engine.IO layer has sliced it: cloning one is a reference-count bump, never an
//! allocation.

use bytes::Bytes;
use bytestring::ByteString;
use halyard_protocol::Binary;
use halyard_protocol::engineio::{self, Frame};
use halyard_protocol::socketio::{Decoder, Event, Packet};
use serde::{Deserialize, Serialize};

/// The size of each attachment of [`binary_event`].
pub const ATTACHMENT_LEN: usize = 1024;

/// How many packets [`polling_payload`] holds.
pub const POLLING_PACKETS: usize = 10;

/// The limit given to the polling payload decoder (Engine.IO's default `maxHttpBufferSize`).
pub const MAX_PAYLOAD: usize = 1_000_000;

/// A chat message: the arguments of the small events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    /// Who wrote it.
    pub user: String,
    /// What they wrote.
    pub text: String,
}

/// One message of the [`Feed`] in [`large_event`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedItem {
    /// Message id.
    pub id: u64,
    /// Author.
    pub user: String,
    /// Body.
    pub text: String,
    /// Milliseconds since the epoch.
    pub ts: u64,
    /// Labels.
    pub tags: Vec<String>,
    /// Whether it was edited.
    pub edited: bool,
}

/// A room's history: the argument of the 40 KB event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feed {
    /// The room.
    pub room: String,
    /// Its messages.
    pub messages: Vec<FeedItem>,
}

/// What the JSON of a `Binary` argument becomes on the wire, for the encode baseline of
/// [`binary_event`] (serde_json alone would write a `Binary` as an array of numbers).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Placeholder {
    /// Always `true`.
    #[serde(rename = "_placeholder")]
    pub placeholder: bool,
    /// The attachment index.
    pub num: usize,
}

/// One benchmark case.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The benchmark name of the case.
    pub id: &'static str,
    /// The Socket.IO text as the decoder receives it (the text after the Engine.IO `4`).
    pub text: ByteString,
    /// The binary attachments that follow the text.
    pub attachments: Vec<Bytes>,
    /// The JSON part of `text`, which the baselines validate.
    pub json: ByteString,
    /// `text` decoded: raw arguments sharing `text`, ready to forward.
    pub packet: Packet,
}

impl Sample {
    fn new(id: &'static str, text: String, attachments: Vec<Bytes>) -> Self {
        let text = shared(text);
        let start = text.find('[').expect("every sample is an event");
        let json = text.slice_ref(&text[start..]);
        let mut decoder = Decoder::new();
        let packet = decode(&mut decoder, &text, &attachments).expect("samples are valid");
        Sample {
            id,
            text,
            attachments,
            json,
            packet,
        }
    }

    /// Decodes the sample as a server does: its text, then its attachments.
    pub fn decode(&self, decoder: &mut Decoder) -> Packet {
        decode(decoder, &self.text, &self.attachments).expect("samples are valid")
    }

    /// The Engine.IO text frame the packet encodes to (`4` + the Socket.IO text).
    pub fn frame(&self) -> String {
        format!("4{}", &*self.text)
    }
}

/// Clones of `text` (a reference-count bump) and of each attachment go into the decoder,
/// as a server hands it the frames it received.
fn decode(decoder: &mut Decoder, text: &ByteString, attachments: &[Bytes]) -> Option<Packet> {
    let mut packet = decoder.decode_text(text.clone()).ok()?;
    for attachment in attachments {
        packet = decoder.decode_binary(attachment.clone()).ok()?;
    }
    packet
}

/// A `ByteString` that owns its text and has already been shared once, like a frame the
/// Engine.IO layer has sliced: further clones only bump a reference count.
pub fn shared(text: String) -> ByteString {
    let text = ByteString::from(text);
    drop(text.clone());
    text
}

/// The arguments of the small events.
pub fn chat() -> Chat {
    Chat {
        user: "ana".into(),
        text: "hello".into(),
    }
}

/// `42["chat",{"user":"ana","text":"hello"}]`.
pub fn small_event() -> Sample {
    Sample::new(
        "small_event",
        r#"2["chat",{"user":"ana","text":"hello"}]"#.into(),
        Vec::new(),
    )
}

/// The small event in the namespace `/chat`, asking for an acknowledgement.
pub fn nsp_ack_event() -> Sample {
    Sample::new(
        "nsp_ack_event",
        r#"2/chat,17["chat",{"user":"ana","text":"hello"}]"#.into(),
        Vec::new(),
    )
}

/// The attachments of [`binary_event`]: two distinct 1 KiB buffers.
pub fn attachments() -> [Binary; 2] {
    let make = |seed: u8| {
        let bytes: Vec<u8> = (0..ATTACHMENT_LEN)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect();
        let bytes = Bytes::from(bytes);
        // Shared once, like a received binary frame.
        drop(bytes.clone());
        Binary::from(bytes)
    };
    [make(1), make(2)]
}

/// An `upload` event with two 1 KiB attachments.
pub fn binary_event() -> Sample {
    let [a, b] = attachments();
    Sample::new(
        "binary_event_2x1KiB",
        r#"52-["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#.into(),
        vec![a.into_bytes(), b.into_bytes()],
    )
}

/// The JSON of [`binary_event`], as `serde_json` would write it.
pub fn binary_baseline() -> (&'static str, Placeholder, Placeholder) {
    let placeholder = |num| Placeholder {
        placeholder: true,
        num,
    };
    ("upload", placeholder(0), placeholder(1))
}

/// A room history of about 40 KB of JSON: plain ASCII mostly, with some escapes and
/// non-ASCII text, as chat logs have.
pub fn feed() -> Feed {
    const WORDS: [&str; 12] = [
        "hello", "socket", "room", "ack", "deploy", "olá", "merci", "later", "ok", "ship",
        "review", "lunch",
    ];
    const USERS: [&str; 5] = ["ana", "bruno", "chen", "dmitri", "eve"];
    let messages = (0..296u64)
        .map(|id| {
            let n = id as usize;
            let mut text: Vec<&str> = (0..8).map(|w| WORDS[(n * 7 + w * 5) % 12]).collect();
            if id % 10 == 0 {
                text.push("\"quoted\"\nnext line");
            }
            FeedItem {
                id: 1_000_000 + id,
                user: USERS[n % 5].to_owned(),
                text: text.join(" "),
                ts: 1_735_689_600_000 + id * 1_337,
                tags: (0..n % 3).map(|t| format!("tag{t}")).collect(),
                edited: id % 7 == 0,
            }
        })
        .collect();
    Feed {
        room: "general".into(),
        messages,
    }
}

/// A `history` event whose argument is [`feed`] (about 40 KB).
pub fn large_event() -> Sample {
    let json = serde_json::to_string(&("history", feed())).expect("serialisable");
    Sample::new("large_event_40KB", format!("2{json}"), Vec::new())
}

/// The arguments of the packets of [`polling_payload`].
pub fn chats() -> Vec<Chat> {
    (0..POLLING_PACKETS)
        .map(|i| Chat {
            user: ["ana", "bruno", "chen"][i % 3].into(),
            text: format!("message number {i} of the burst"),
        })
        .collect()
}

/// A long-polling body of [`POLLING_PACKETS`] chat events, in every form.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The HTTP body, as received.
    pub body: Bytes,
    /// The JSON part of each packet.
    pub jsons: Vec<ByteString>,
    /// The Socket.IO packets, decoded: raw arguments ready to forward.
    pub packets: Vec<Packet>,
    /// The Engine.IO frames of the packets, as a session queues them.
    pub frames: Vec<Frame>,
}

/// Ten `chat` events in one long-polling body.
pub fn polling_payload() -> Payload {
    let frames: Vec<Frame> = chats()
        .iter()
        .map(|chat| {
            let event = Event::new("chat", chat).expect("not reserved");
            let encoded = Packet::event("/", None, event).encode().expect("valid");
            Frame::Text(shared(encoded.frame().to_string()))
        })
        .collect();
    let body = engineio::polling::encode_payload(&frames);
    drop(body.clone());
    let mut decoder = Decoder::new();
    let packets: Vec<Packet> = decode_payload(&mut decoder, &body);
    let jsons = packets
        .iter()
        .map(|packet| match packet {
            Packet::Event { event, .. } => event.data().json_text(),
            _ => unreachable!("only events"),
        })
        .collect();
    Payload {
        body,
        jsons,
        packets,
        frames,
    }
}

/// Decodes a polling body down to Socket.IO packets, as a server does with a POST.
pub fn decode_payload(decoder: &mut Decoder, body: &Bytes) -> Vec<Packet> {
    engineio::polling::decode_payload(body.clone(), MAX_PAYLOAD)
        .expect("valid payload")
        .into_iter()
        .map(|packet| match packet {
            engineio::Packet::Message(text) => decoder
                .decode_text(text)
                .expect("valid packet")
                .expect("no attachments"),
            other => unreachable!("only messages, got {other:?}"),
        })
        .collect()
}

/// The samples with one text packet each, in benchmark order.
pub fn samples() -> Vec<Sample> {
    vec![
        small_event(),
        nsp_ack_event(),
        binary_event(),
        large_event(),
    ]
}
