//! A raw Engine.IO echo server on smol: every message comes back to its sender.
//!
//! ```sh
//! cargo run -p halyard-smol --example smol_engineio_echo             # 127.0.0.1:3000
//! cargo run -p halyard-smol --example smol_engineio_echo -- 0.0.0.0:8080
//! ```
//!
//! Try it with npm's client: `node interop/engineio-client-echo.js http://127.0.0.1:3000 upgrade`.

use halyard_smol::EngineIoServer;

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

    smol::block_on(async {
        let server = EngineIoServer::new();
        let app = server.clone();
        smol::spawn(async move {
            while let Some(mut socket) = app.accept().await {
                smol::spawn(async move {
                    tracing::info!(id = socket.id(), transport = ?socket.transport(), "connected");
                    while let Some(message) = socket.recv().await {
                        if socket.send(message).await.is_err() {
                            break;
                        }
                    }
                    tracing::info!(id = socket.id(), reason = ?socket.close_reason(), "disconnected");
                })
                .detach();
            }
        })
        .detach();

        let listener = async_net::TcpListener::bind(&addr).await?;
        tracing::info!(
            "Engine.IO echo server on http://{}/engine.io/",
            listener.local_addr()?
        );
        halyard_smol::serve(listener, server).await
    })
}
