//! A raw Engine.IO echo server on tokio: every message comes back to its sender.
//!
//! ```sh
//! cargo run -p halyard-tokio --example engineio_echo            # 127.0.0.1:3000
//! cargo run -p halyard-tokio --example engineio_echo -- 0.0.0.0:8080
//! ```
//!
//! Try it with npm's client: `node interop/engineio-client-echo.js http://127.0.0.1:3000 upgrade`.

use halyard_tokio::EngineIoServer;

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

    let server = EngineIoServer::new();
    let app = server.clone();
    tokio::spawn(async move {
        while let Some(mut socket) = app.accept().await {
            tokio::spawn(async move {
                tracing::info!(id = socket.id(), transport = ?socket.transport(), "connected");
                while let Some(message) = socket.recv().await {
                    if socket.send(message).await.is_err() {
                        break;
                    }
                }
                tracing::info!(id = socket.id(), reason = ?socket.close_reason(), "disconnected");
            });
        }
    });

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(
        "Engine.IO echo server on http://{}/engine.io/",
        listener.local_addr()?
    );
    halyard_tokio::serve(listener, server).await
}
