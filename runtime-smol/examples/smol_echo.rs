//! A Socket.IO server on smol: `echo` comes back to its sender (answered as an ack when
//! one is asked for), `join(room)` joins a room, and `say(room, text)` reaches everyone
//! else in that room.
//!
//! ```sh
//! cargo run -p halyard-smol --example smol_echo             # 127.0.0.1:3000
//! cargo run -p halyard-smol --example smol_echo -- 0.0.0.0:8080
//! ```
//!
//! Try it from Node (`npm ci --prefix interop` first):
//!
//! ```js
//! const { io } = require("./interop/node_modules/socket.io-client");
//! const socket = io("http://127.0.0.1:3000");
//! socket.on("said", (from, text) => console.log(from, "said", text));
//! socket.emitWithAck("echo", "hello").then(console.log);
//! socket.emit("join", "lobby");
//! socket.emit("say", "lobby", "hi all");
//! ```

use halyard_smol::socketio::{AckSender, Server, Socket};

fn main() -> std::io::Result<()> {
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
        socket.on_with_ack(
            "echo",
            |socket: Socket, (text,): (String,), ack: AckSender| async move {
                match ack.is_requested() {
                    true => ack.send(&text).await,
                    false => socket.emit("echo", &text).await,
                }
            },
        );
        socket.on("join", |socket: Socket, (room,): (String,)| async move {
            socket.join(&room);
        });
        socket.on(
            "say",
            |socket: Socket, (room, text): (String, String)| async move {
                let from = socket.id().to_owned();
                socket.to(room).emit("said", &(from, text)).await
            },
        );
        socket.on_disconnect(|socket: Socket, reason| async move {
            tracing::info!(id = socket.id(), %reason, "disconnected");
        });
    });

    smol::block_on(async {
        let listener = async_net::TcpListener::bind(&addr).await?;
        tracing::info!(
            "Socket.IO server on http://{}/socket.io/",
            listener.local_addr()?
        );
        halyard_smol::serve(listener, io).await
    })
}
