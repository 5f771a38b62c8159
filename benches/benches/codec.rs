//! Criterion benchmarks of the Engine.IO and Socket.IO codecs.
//!
//! Every group measures the codec and, in the same run, a bare `serde_json` baseline on
//! exactly the same JSON text, so the report can state ratios that hold on any machine:
//!
//! - `decode/<case>`: `halyard` decodes the Socket.IO text (and attachments) as a server
//!   receives them; `json_validate` is `serde_json::from_slice::<IgnoredAny>` of the
//!   packet's JSON part. Both closures take their input from prebuilt shared buffers:
//!   the decoder gets a clone of the text `ByteString` (and of each attachment), a
//!   reference-count bump that is inside the measurement for every case. Dropping the
//!   decoded packet is measured too. `halyard_owned_input` measures the decode work
//!   alone: the owned input is made, and the packet dropped, outside the measurement.
//! - `encode/<case>`: `raw` is `Packet::encode()` of a decoded packet (raw arguments:
//!   the forward and broadcast path); `typed` is `Event::new(name, &args)` then
//!   `Packet::encode()` (the emit path); `json_to_vec` is `serde_json::to_vec` of the
//!   typed `(name, args…)` tuple, which writes the same JSON text as the event body.
//!
//! Run with `cargo bench -p halyard-benches`; see `benches/README.md`.

use std::hint::black_box;

use bytestring::ByteString;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use halyard_benches::{Payload, Sample};
use halyard_protocol::Binary;
use halyard_protocol::engineio::{self, Frame};
use halyard_protocol::socketio::{Decoder, Encoded, Event, Packet};
use serde::Serialize;
use serde::de::IgnoredAny;

fn validate(json: &ByteString) -> IgnoredAny {
    serde_json::from_slice::<IgnoredAny>(json.as_bytes()).expect("valid JSON")
}

/// The emit path: typed arguments into an event, then into its frame.
fn encode_typed<T: Serialize + ?Sized>(
    nsp: &ByteString,
    ack_id: Option<u64>,
    name: &str,
    args: &T,
) -> Encoded {
    let event = Event::new(name, args).expect("not reserved");
    Packet::event(nsp.clone(), ack_id, event)
        .encode()
        .expect("valid packet")
}

fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("serialisable")
}

fn bench_decode(c: &mut Criterion, sample: &Sample) {
    let mut group = c.benchmark_group(format!("decode/{}", sample.id));
    let mut decoder = Decoder::new();
    // The result goes to criterion's `black_box` as it is (the sample is known valid),
    // so no glue copies the packet around.
    group.bench_function("halyard", |b| {
        b.iter(|| {
            let sample = black_box(sample);
            let mut packet = decoder.decode_text(sample.text.clone());
            for attachment in &sample.attachments {
                packet = decoder.decode_binary(attachment.clone());
            }
            packet
        })
    });
    // The decode work alone: the driver hands over an owned text, and the packet goes to
    // the application; making the input (a reference-count bump) and dropping the packet
    // happen outside the measurement, as the baseline's input is a borrowed slice.
    group.bench_function("halyard_owned_input", |b| {
        b.iter_batched(
            || (sample.text.clone(), sample.attachments.clone()),
            |(text, attachments)| {
                let mut packet = decoder.decode_text(text);
                for attachment in attachments {
                    packet = decoder.decode_binary(attachment);
                }
                packet
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("json_validate", |b| {
        b.iter(|| validate(black_box(&sample.json)))
    });
    if sample.attachments.is_empty() {
        // The whole WebSocket path: Engine.IO frame, then Socket.IO text.
        let frame = halyard_benches::shared(sample.frame());
        group.bench_function("halyard_with_engineio", |b| {
            b.iter(|| {
                let packet = engineio::Packet::decode(Frame::Text(black_box(&frame).clone()))
                    .expect("valid frame");
                let engineio::Packet::Message(text) = packet else {
                    unreachable!("a message")
                };
                decoder.decode_text(text)
            })
        });
    }
    group.finish();
}

fn bench_encode<T: Serialize + ?Sized, B: Serialize + ?Sized>(
    c: &mut Criterion,
    sample: &Sample,
    typed: &T,
    baseline: &B,
) {
    let Packet::Event { nsp, ack_id, event } = &sample.packet else {
        unreachable!("every sample is an event")
    };
    let expected = sample.frame();
    assert_eq!(&sample.packet.encode().unwrap().frame()[..], expected);
    assert_eq!(
        &encode_typed(nsp, *ack_id, event.name(), typed).frame()[..],
        expected
    );
    assert_eq!(to_vec(baseline), sample.json[..].as_bytes());

    let mut group = c.benchmark_group(format!("encode/{}", sample.id));
    group.bench_function("raw", |b| {
        b.iter(|| black_box(&sample.packet).encode().expect("valid packet"))
    });
    group.bench_function("typed", |b| {
        b.iter(|| encode_typed(nsp, *ack_id, event.name(), black_box(typed)))
    });
    group.bench_function("json_to_vec", |b| b.iter(|| to_vec(black_box(baseline))));
    group.finish();
}

fn socketio(c: &mut Criterion) {
    let small = halyard_benches::small_event();
    let nsp_ack = halyard_benches::nsp_ack_event();
    let binary = halyard_benches::binary_event();
    let large = halyard_benches::large_event();
    for sample in [&small, &nsp_ack, &binary, &large] {
        bench_decode(c, sample);
    }

    let chat = halyard_benches::chat();
    bench_encode(c, &small, &chat, &("chat", &chat));
    bench_encode(c, &nsp_ack, &chat, &("chat", &chat));
    let [a, b] = halyard_benches::attachments();
    let files: (Binary, Binary) = (a, b);
    bench_encode(c, &binary, &files, &halyard_benches::binary_baseline());
    let feed = halyard_benches::feed();
    bench_encode(c, &large, &feed, &("history", &feed));
}

fn polling(c: &mut Criterion) {
    let payload = halyard_benches::polling_payload();
    let Payload {
        body,
        jsons,
        packets,
        frames,
    } = &payload;
    let id = format!("polling_{}_packets", packets.len());

    let mut group = c.benchmark_group(format!("decode/{id}"));
    let mut decoder = Decoder::new();
    group.bench_function("halyard", |b| {
        b.iter(|| {
            let packets = engineio::polling::decode_payload(
                black_box(body).clone(),
                halyard_benches::MAX_PAYLOAD,
            )
            .expect("valid payload");
            for packet in packets {
                let engineio::Packet::Message(text) = packet else {
                    unreachable!("only messages")
                };
                black_box(decoder.decode_text(text).expect("valid packet"));
            }
        })
    });
    group.bench_function("engineio_only", |b| {
        b.iter(|| {
            engineio::polling::decode_payload(black_box(body).clone(), halyard_benches::MAX_PAYLOAD)
                .expect("valid payload")
        })
    });
    group.bench_function("json_validate", |b| {
        b.iter(|| {
            for json in black_box(jsons) {
                black_box(validate(json));
            }
        })
    });
    group.finish();

    let chats = halyard_benches::chats();
    let root = ByteString::from_static("/");
    let mut group = c.benchmark_group(format!("encode/{id}"));
    group.bench_function("raw", |b| {
        b.iter(|| {
            let frames: Vec<Frame> = black_box(packets)
                .iter()
                .map(|packet| Frame::Text(packet.encode().expect("valid").frame().clone()))
                .collect();
            engineio::polling::encode_payload(&frames)
        })
    });
    group.bench_function("payload_only", |b| {
        b.iter(|| engineio::polling::encode_payload(black_box(frames)))
    });
    group.bench_function("typed", |b| {
        b.iter(|| {
            let frames: Vec<Frame> = black_box(&chats)
                .iter()
                .map(|chat| Frame::Text(encode_typed(&root, None, "chat", chat).frame().clone()))
                .collect();
            engineio::polling::encode_payload(&frames)
        })
    });
    group.bench_function("json_to_vec", |b| {
        b.iter(|| {
            for chat in black_box(&chats) {
                black_box(to_vec(&("chat", chat)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, socketio, polling);
criterion_main!(benches);
