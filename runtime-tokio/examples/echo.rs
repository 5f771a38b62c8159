//! A Socket.IO echo server on tokio: every `echo` event comes back to its sender, with
//! the same JSON arguments; an `echo` sent with an ack is answered
//! with the same arguments instead.
//!
//! ```sh
//! cargo run -p halyard-tokio --example echo            # 127.0.0.1:3000
//! cargo run -p halyard-tokio --example echo -- 0.0.0.0:8080
//! ```
//!
//! Try it from Node (`npm ci --prefix interop` first):
//!
//! ```js
//! const { io } = require("./interop/node_modules/socket.io-client");
//! const socket = io("http://127.0.0.1:3000");
//! socket.on("echo", (...args) => console.log("echo", args));
//! socket.emit("echo", "hello", { n: 1 }, Buffer.from([1, 2, 3]));
//! socket.emitWithAck("echo", "with ack").then((answer) => console.log("ack", answer));
//! ```

use halyard_tokio::socketio::{AckSender, Server, Socket};
use serde_json::Value;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,halyard=debug".into()),
        )
        .init();
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());

    let io = Server::new();
    io.on_connection(|socket: Socket| async move {
        tracing::info!(id = socket.id(), "connected");
        // Any arguments: the raw JSON values (binary arrives as its placeholder object
        // here; use `Binary` in a typed tuple to get the bytes).
        socket.on_with_ack(
            "echo",
            |socket: Socket, args: Vec<Value>, ack: AckSender| async move {
                match ack.is_requested() {
                    true => ack.send(&Args(args)).await,
                    false => socket.emit("echo", &Args(args)).await,
                }
            },
        );
        socket.on_disconnect(|socket: Socket, reason| async move {
            tracing::info!(id = socket.id(), %reason, "disconnected");
        });
    });

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(
        "Socket.IO echo server on http://{}/socket.io/",
        listener.local_addr()?
    );
    halyard_tokio::serve(listener, io).await
}

/// A list of JSON values sent as that many arguments.
struct Args(Vec<Value>);

impl serde::Serialize for Args {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut tuple = s.serialize_tuple(self.0.len())?;
        for value in &self.0 {
            tuple.serialize_element(value)?;
        }
        tuple.end()
    }
}
