//! Allocation counts of the codecs, asserted exactly: they are deterministic, so a change
//! is a regression to look at (or an improvement: then lower the number here).
//!
//! A counting `#[global_allocator]` wraps the system allocator; a reallocation counts as
//! one allocation. The counter is global to the process, so each test holds a lock from
//! its start (setup included), and each count is the minimum over a few runs, which
//! filters out the odd allocation of a test-harness thread that happens to run meanwhile.

use std::alloc::System;
use std::sync::{Mutex, MutexGuard};

use bytestring::ByteString;
use halyard_benches::Sample;
use halyard_protocol::engineio::{self, Frame};
use halyard_protocol::socketio::{Decoder, Event, Packet};
use serde::de::IgnoredAny;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

static LOCK: Mutex<()> = Mutex::new(());

/// The allocations `run` makes on its input (made by `setup`, not counted); the output is
/// dropped after counting.
fn allocations_with<I, O>(mut setup: impl FnMut() -> I, mut run: impl FnMut(I) -> O) -> usize {
    // Once outside the count, for lazy initialisation.
    drop(run(setup()));
    (0..5)
        .map(|_| {
            let input = setup();
            let region = Region::new(GLOBAL);
            let output = run(input);
            let change = region.change();
            drop(output);
            change.allocations + change.reallocations
        })
        .min()
        .expect("runs")
}

/// Serialises the tests: every allocation of another test (its setup included) would be
/// counted too.
fn exclusive() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn allocations<O>(mut run: impl FnMut() -> O) -> usize {
    allocations_with(|| (), |()| run())
}

fn decode(sample: &Sample) -> usize {
    let mut decoder = Decoder::new();
    allocations(|| sample.decode(&mut decoder))
}

#[test]
fn encoding_a_text_packet_with_raw_args_allocates_once() {
    let _exclusive = exclusive();
    let payload = halyard_benches::polling_payload();
    let samples = [
        halyard_benches::small_event(),
        halyard_benches::nsp_ack_event(),
        halyard_benches::large_event(),
    ];
    let packets = samples
        .iter()
        .map(|s| &s.packet)
        .chain(payload.packets.iter());
    for packet in packets {
        // The frame text, allocated at its exact length, so turning the `String` into a
        // `ByteString` needs no second allocation. No attachment: the empty `Vec` is free.
        assert_eq!(allocations(|| packet.encode().unwrap()), 1, "{packet:?}");
    }
}

#[test]
fn encoding_a_binary_packet_with_raw_args_allocates_twice() {
    let _exclusive = exclusive();
    let sample = halyard_benches::binary_event();
    // The frame text, and the `Vec` of attachments (each attachment is a shared `Bytes`:
    // a reference-count bump).
    assert_eq!(allocations(|| sample.packet.encode().unwrap()), 2);
}

#[test]
fn sharing_an_encoded_frame_costs_one_more_allocation_the_first_time() {
    let _exclusive = exclusive();
    let sample = halyard_benches::small_event();
    // A broadcast clones the frame for each recipient. The frame's `Bytes` comes from a
    // `Vec` and is not shared yet: the first clone allocates its shared header (bytes'
    // promotion), later clones only bump the count. So encode + broadcast costs 2.
    let encoded = allocations(|| {
        let encoded = sample.packet.encode().unwrap();
        let recipients: [ByteString; 3] = std::array::from_fn(|_| encoded.frame().clone());
        (encoded, recipients)
    });
    assert_eq!(encoded, 2);
}

#[test]
fn decoding_text_events_allocates_no_more_than_bare_json_validation() {
    let _exclusive = exclusive();
    // The Socket.IO text is shared (as the Engine.IO layer leaves it): the namespace, the
    // JSON and the event name are slices of it (reference-count bumps), `/` is static,
    // the arguments' attachment `Vec` is empty, and the JSON scan borrows every string
    // (serde_json's scratch buffer is only used for strings with escapes, and skipped
    // values do not use it at all).
    assert_eq!(decode(&halyard_benches::small_event()), 0);
    assert_eq!(decode(&halyard_benches::nsp_ack_event()), 0);
    // 40 KB, with escaped strings (skipped as `IgnoredAny`, not unescaped): serde_json
    // skips nested values with a stack of enclosing brackets in its scratch buffer,
    // which allocates once the nesting is two levels deep inside a skipped value. The
    // bare validation baseline makes that same allocation.
    let large = halyard_benches::large_event();
    assert_eq!(decode(&large), 1);
    assert_eq!(allocations(|| validate(&large.json)), 1);
    // Even for the small event: the object inside the skipped top-level array is the
    // second level. The decoder walks the array itself and skips only its elements.
    let small = halyard_benches::small_event();
    assert_eq!(allocations(|| validate(&small.json)), 1);
}

fn validate(json: &ByteString) -> IgnoredAny {
    serde_json::from_slice(json[..].as_bytes()).unwrap()
}

#[test]
fn decoding_a_binary_event_allocates_once() {
    let _exclusive = exclusive();
    // The packet's `Vec::with_capacity(2)` for the attachments; the attachments
    // themselves are shared `Bytes`, and the placeholder pass keeps its stack of open
    // brackets on the stack.
    assert_eq!(decode(&halyard_benches::binary_event()), 1);
}

#[test]
fn decoding_a_fresh_websocket_frame_allocates_once_in_engineio() {
    let _exclusive = exclusive();
    let sample = halyard_benches::small_event();
    let frame = sample.frame();
    let mut decoder = Decoder::new();
    // A frame just received owns a `Vec` that nothing shares yet. Engine.IO slices the
    // text after the `4` out of it: that first share allocates bytes' shared header.
    // The Socket.IO decode after it allocates nothing (see above).
    let count = allocations_with(
        // `String::clone` allocates exactly its length: a `Vec`-backed, unshared `Bytes`.
        || Frame::Text(ByteString::from(frame.clone())),
        |frame| {
            let Ok(engineio::Packet::Message(text)) = engineio::Packet::decode(frame) else {
                unreachable!("a message")
            };
            decoder.decode_text(text).unwrap().unwrap()
        },
    );
    assert_eq!(count, 1);
}

#[test]
fn polling_payloads() {
    let _exclusive = exclusive();
    let payload = halyard_benches::polling_payload();
    let mut decoder = Decoder::new();
    // The `Vec` of Engine.IO packets, sized from a count of the separators. Messages are
    // slices of the body, and their Socket.IO decode allocates nothing.
    assert_eq!(
        allocations(|| halyard_benches::decode_payload(&mut decoder, &payload.body)),
        1 + 1, // + the `Vec` this helper collects the Socket.IO packets into
    );
    // One buffer, sized in advance.
    assert_eq!(
        allocations(|| engineio::polling::encode_payload(&payload.frames)),
        1
    );
}

#[test]
fn the_typed_emit_path() {
    let _exclusive = exclusive();
    let root = ByteString::from_static("/");
    let emit = |event: &dyn Fn() -> Event| {
        allocations(|| Packet::event(root.clone(), None, event()).encode().unwrap())
    };
    let chat = halyard_benches::chat();
    let [a, b] = halyard_benches::attachments();
    let files = (a, b);
    let feed = halyard_benches::feed();
    // Small: `Event::new` allocates the JSON buffer (`Vec::with_capacity(64)`) and the
    // shared header `ByteString` needs because that buffer is not full (the name stays a
    // range of the JSON); `encode` then allocates the frame and copies the JSON into it.
    // (`serde_json::to_vec` of the same JSON: 1.)
    assert_eq!(emit(&|| Event::new("chat", &chat).unwrap()), 3);
    // Binary: the same 3, plus the JSON buffer growing past 64 bytes, the `Vec` the
    // attachments are collected into, and the packet's copy of that `Vec` in `encode`.
    assert_eq!(emit(&|| Event::new("upload", &files).unwrap()), 6);
    // 40 KB: the same 3, plus ten reallocations while the JSON buffer doubles from 64
    // bytes. (`serde_json::to_vec`: 10, doubling from 128.)
    assert_eq!(emit(&|| Event::new("history", &feed).unwrap()), 13);
    assert_eq!(
        allocations(|| serde_json::to_vec(&("history", &feed)).unwrap()),
        10
    );
}

#[test]
fn samples_are_what_they_claim() {
    let _exclusive = exclusive();
    let sample = halyard_benches::small_event();
    assert_eq!(
        &sample.frame(),
        r#"42["chat",{"user":"ana","text":"hello"}]"#
    );
    let large = halyard_benches::large_event();
    assert!(
        (39_000..41_000).contains(&large.json.len()),
        "{}",
        large.json.len()
    );
    let binary = halyard_benches::binary_event();
    assert_eq!(binary.attachments.len(), 2);
    assert!(binary.attachments.iter().all(|a| a.len() == 1024));
    assert_eq!(halyard_benches::polling_payload().packets.len(), 10);
}
