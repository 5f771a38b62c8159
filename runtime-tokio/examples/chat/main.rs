//! A chat with rooms: a small page served beside Socket.IO by axum and the tower layer,
//! the browser client being socket.io-client's own bundle served at
//! `/socket.io/socket.io.js`. Open http://localhost:3000 in two tabs and chat.
//!
//! ```sh
//! ./demo.sh                                   # npm ci if needed, then this example
//! npm ci --prefix interop && cargo run --release -p halyard-tokio --example chat
//! PORT=8080 HOST=0.0.0.0 ./demo.sh            # another port, reachable from other machines
//! ```

mod app;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    if !app::client_bundle().is_file() {
        tracing::error!(
            "{} is missing: run `npm ci --prefix interop` (./demo.sh does)",
            app::client_bundle().display()
        );
        std::process::exit(1);
    }
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("{host}:{port}")).await?;
    let addr = listener.local_addr()?;
    let shown = if addr.ip().is_unspecified() || addr.ip().is_loopback() {
        format!("http://localhost:{}", addr.port())
    } else {
        format!("http://{addr}")
    };
    tracing::info!("chat on {shown} (open it in two tabs; Ctrl-C stops)");
    axum::serve(listener, app::router())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
