//! Socket.IO beside an axum app's own routes: the tower layer serves `/socket.io/`, every
//! other request falls through to the router.
//!
//! ```sh
//! npm ci --prefix interop                           # for the browser client bundle
//! cargo run -p halyard-tokio --example axum         # http://127.0.0.1:3000/hello
//! ```
//!
//! Then, from Node: `io("http://127.0.0.1:3000").emitWithAck("echo", "hi")`.

use halyard_tokio::LayerExt;
use halyard_tokio::socketio::{AckSender, Server, Socket};
use serde_json::Value;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    let bundle = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../interop/node_modules/socket.io-client/dist/socket.io.js"
    );
    let io = Server::builder().client_bundle(bundle).build();
    io.on_connection(|socket: Socket| async move {
        socket.on_with_ack(
            "echo",
            |_: Socket, message: Value, ack: AckSender| async move { ack.send(&message).await },
        );
    });

    let app = axum::Router::new()
        .route("/hello", axum::routing::get(|| async { "hello from axum" }))
        .layer(io.layer());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    tracing::info!("axum + Socket.IO on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
