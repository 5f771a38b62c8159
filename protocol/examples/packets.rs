//! Decodes and encodes the packets of a real socket.io 4.8 session, layer by layer.
//!
//! The bytes below are what a socket.io-client 4.8 and a socket.io 4.8 server exchange
//! over long-polling when the client joins `/chat`, sends a chat message asking for an
//! acknowledgement, uploads a file, and receives the acknowledgement.
//!
//! Run it with `cargo run -p halyard-protocol --example packets`.
#![allow(clippy::print_stdout)]

use halyard_protocol::engineio::{self, polling};
use halyard_protocol::socketio::{self, Args, Event, Packet};
use halyard_protocol::{Binary, ByteString, Bytes};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct ChatMessage {
    room: String,
    text: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. The server's answer to `GET /socket.io/?EIO=4&transport=polling`.
    let handshake = Bytes::from_static(
        br#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
    );
    for packet in polling::decode_payload(handshake, 1_000_000)? {
        if let engineio::Packet::Open(open) = packet {
            println!(
                "server opened session {} (ping every {} ms)",
                open.sid, open.ping_interval
            );
        }
    }

    // 2. One POST body from the client: join /chat, a chat message with ack id 1, and a
    //    binary upload whose attachment travels base64-encoded in the same body.
    let body = Bytes::from_static(
        b"40/chat,{\"token\":\"s3cr3t\"}\x1e42/chat,1[\"message\",{\"room\":\"lobby\",\"text\":\"hi all\"}]\x1e451-/chat,[\"upload\",\"notes.txt\",{\"_placeholder\":true,\"num\":0}]\x1ebaGVsbG8gd29ybGQ=",
    );
    let mut decoder = socketio::Decoder::new();
    for packet in polling::decode_payload(body, 1_000_000)? {
        let complete = match packet {
            engineio::Packet::Message(text) => decoder.decode_text(text)?,
            engineio::Packet::Binary(bytes) => decoder.decode_binary(bytes)?,
            other => {
                println!("engine.io packet {other:?}");
                continue;
            }
        };
        let Some(packet) = complete else {
            println!(
                "binary packet waiting for {} attachment(s)",
                decoder.missing_attachments()
            );
            continue;
        };
        describe(&packet)?;
    }

    // 3. The server acknowledges message 1 and broadcasts it to the room: one encoding,
    //    whose frame could be queued to any number of sockets.
    let ack = Packet::ack("/chat", 1, Args::new(&("delivered", 3))?);
    println!("server sends {}", ack.encode()?.frame());
    let message = ChatMessage {
        room: "lobby".into(),
        text: "hi all".into(),
    };
    let broadcast = Packet::event("/chat", None, Event::new("message", &message)?).encode()?;
    println!("broadcast frame {}", broadcast.frame());

    // 4. A binary event: the buffer becomes a placeholder plus an attachment, and the
    //    polling body carries it as base64.
    let download = Event::new(
        "download",
        &("notes.txt", Binary::from(b"hello world".to_vec())),
    )?;
    let encoded = Packet::event("/chat", None, download).encode()?;
    let frames: Vec<engineio::Frame> = encoded.frames().collect();
    let body = polling::encode_payload(&frames);
    println!("polling body {:?}", ByteString::try_from(body)?);
    Ok(())
}

fn describe(packet: &Packet) -> Result<(), Box<dyn std::error::Error>> {
    match packet {
        Packet::Connect { nsp, data } => {
            println!(
                "client joins {nsp} with auth {}",
                data.as_ref().map_or("{}", |d| d.as_str())
            );
        }
        Packet::Event { nsp, ack_id, event } if event.name() == "message" => {
            let (msg,): (ChatMessage,) = event.args()?;
            println!("{nsp}: message {msg:?}, ack id {ack_id:?}");
        }
        Packet::Event { nsp, event, .. } if event.name() == "upload" => {
            let (name, file): (String, Binary) = event.args()?;
            println!(
                "{nsp}: upload of {name}: {:?}",
                String::from_utf8_lossy(&file)
            );
        }
        other => println!("{other:?}"),
    }
    Ok(())
}
