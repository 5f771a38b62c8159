//! A raw Engine.IO client on tokio: sends a text and a binary message to the
//! `engineio_echo` example and prints what comes back.
//!
//! ```sh
//! cargo run -p halyard-tokio --example engineio_echo        # the server, in another terminal
//! cargo run -p halyard-tokio --example engineio_client      # http://127.0.0.1:3000
//! cargo run -p halyard-tokio --example engineio_client -- http://127.0.0.1:8080
//! ```
#![allow(clippy::print_stdout)]

use halyard_tokio::client;
use halyard_tokio::{Bytes, Message};

#[tokio::main]
async fn main() -> Result<(), client::Error> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:3000".into());
    // Polling first, then an upgrade to WebSocket (engine.io-client's default).
    let engine = client::engine_io(url).connect().await?;
    println!("open: sid {} over {:?}", engine.sid(), engine.transport());

    engine.send(Message::Text("hello".into())).await?;
    engine
        .send(Message::Binary(Bytes::from_static(&[1, 2, 3])))
        .await?;
    for _ in 0..2 {
        match engine.recv().await {
            Some(Message::Text(text)) => println!("echo: text {text:?}"),
            Some(Message::Binary(bytes)) => println!("echo: binary {:?}", &bytes[..]),
            None => break,
        }
    }

    // Close, then read until the end: the close goes out before the process exits.
    engine.close().await;
    while engine.recv().await.is_some() {}
    println!("closed: {:?}", engine.close_reason());
    Ok(())
}
