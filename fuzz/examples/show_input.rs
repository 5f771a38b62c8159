//! Prints the ops of an engine-target input, then runs it through the same driver and
//! checks as the fuzz target:
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example show_input -- socketio_server_connection artifacts/socketio_server_connection/crash-…
//! ```
#![allow(clippy::print_stdout)]

use halyard_fuzz::drive::{run_connection, run_session, server_config, socketio_config};
use halyard_fuzz::ops::{Target, decode};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(target), Some(path)) = (args.next(), args.next()) else {
        eprintln!("usage: show_input <engineio_server_session|socketio_server_connection> <file>");
        std::process::exit(2);
    };
    let target = match target.as_str() {
        "engineio_server_session" => Target::Session,
        "socketio_server_connection" => Target::Connection,
        other => {
            eprintln!("not an engine target: {other}");
            std::process::exit(2);
        }
    };
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (header, ops) = decode(&data, target);
    println!("header {:?}", header.0);
    println!("{:#?}", server_config(&header));
    if target == Target::Connection {
        println!("{:#?}", socketio_config(&header));
    }
    for (i, op) in ops.iter().enumerate() {
        println!("{i:3} {op:?}");
    }
    let stats = match target {
        Target::Session => run_session(&data),
        Target::Connection => run_connection(&data),
    };
    println!("{stats:?}");
}
