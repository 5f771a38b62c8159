//! A loop over one codec operation, to profile under `valgrind --tool=callgrind` or
//! `perf record` (criterion's own machinery would dominate such a profile).
//!
//! ```text
//! cargo build --profile bench -p halyard-benches --example profile
//! valgrind --tool=callgrind target/release/examples/profile decode small_event 100000
//! ```
//!
//! Operations: `decode`, `validate` (the baseline), `encode` (raw args); cases: the ids
//! of `halyard_benches::samples()`.

use std::hint::black_box;

use halyard_protocol::socketio::Decoder;
use serde::de::IgnoredAny;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [op, case, iterations] = args.as_slice() else {
        panic!("usage: profile <decode|validate|encode> <case> <iterations>");
    };
    let iterations: u64 = iterations.parse().expect("a number of iterations");
    let sample = halyard_benches::samples()
        .into_iter()
        .find(|s| s.id == case)
        .expect("a case id");
    let mut decoder = Decoder::new();
    for _ in 0..iterations {
        match op.as_str() {
            "decode" => {
                let sample = black_box(&sample);
                let mut packet = decoder.decode_text(sample.text.clone());
                for attachment in &sample.attachments {
                    packet = decoder.decode_binary(attachment.clone());
                }
                drop(black_box(packet));
            }
            "validate" => drop(black_box(
                serde_json::from_slice::<IgnoredAny>(black_box(&sample.json[..]).as_bytes())
                    .expect("valid JSON"),
            )),
            "encode" => drop(black_box(black_box(&sample.packet).encode())),
            _ => panic!("unknown operation {op}"),
        }
    }
}
