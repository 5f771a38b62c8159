//! Halyard on smol: the [`Runtime`] for smol, a TCP server loop over
//! `async-net`, and the runtime-neutral API of [`halyard`] re-exported.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! smol::block_on(async {
//!     let server = halyard_smol::EngineIoServer::new();
//!     let app = server.clone();
//!     smol::spawn(async move {
//!         while let Some(mut socket) = app.accept().await {
//!             smol::spawn(async move {
//!                 while let Some(message) = socket.recv().await {
//!                     let _ = socket.send(message).await;
//!                 }
//!             })
//!             .detach();
//!         }
//!     })
//!     .detach();
//!     let listener = async_net::TcpListener::bind("127.0.0.1:3000").await?;
//!     halyard_smol::serve(listener, server).await
//! })
//! # }
//! ```

use std::future::Future;
use std::io;
use std::time::Instant;

use async_net::TcpListener;
pub use halyard::*;
use smol_hyper::rt::FuturesIo;

/// The smol [`Runtime`]: spawns on smol's global executor, sleeps with
/// `async-io`'s timers.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmolRuntime;

impl halyard::Runtime for SmolRuntime {
    type Sleep = SmolSleep;
    type TcpStream = async_net::TcpStream;

    fn connect(
        &self,
        host: String,
        port: u16,
    ) -> impl Future<Output = io::Result<Self::TcpStream>> + Send + 'static + use<> {
        async move {
            let stream = async_net::TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            Ok(stream)
        }
    }

    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        smol::spawn(future).detach();
    }

    fn sleep_until(&self, deadline: Instant) -> SmolSleep {
        SmolSleep(async_io::Timer::at(deadline))
    }
}

/// [`SmolRuntime`]'s sleep: an `async-io` timer.
#[derive(Debug)]
pub struct SmolSleep(async_io::Timer);

impl Future for SmolSleep {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(drop)
    }
}

/// Serves `server` (an [`EngineIoServer`] or a Socket.IO [`socketio::Server`]) on every
/// connection `listener` accepts, spawning on smol's global executor. Runs until the
/// future is dropped.
pub async fn serve(listener: TcpListener, server: impl HttpServer) -> io::Result<()> {
    let incoming = futures_lite::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, remote)| {
            let _ = stream.set_nodelay(true);
            (FuturesIo::new(stream), Some(remote))
        });
        Some((accepted, listener))
    });
    halyard::serve(SmolRuntime, incoming, server).await
}

/// The Socket.IO and Engine.IO clients on smol: [`io`](client::io) is socket.io-client's
/// `io(url)`, [`engine_io`](client::engine_io) engine.io-client's `new Socket(url)`.
///
/// ```no_run
/// # async fn run() -> Result<(), halyard::client::Error> {
/// use halyard_smol::client::{self, Socket};
/// let socket = client::io("http://localhost:3000/").connect()?;
/// socket.on("chat", |_socket: Socket, (text,): (String,)| async move {
///     tracing::info!(%text, "chat");
/// });
/// let answer: (String,) = socket.emit_with_ack("hello", &("ana",)).await?;
/// # Ok(()) }
/// ```
pub mod client {
    pub use halyard::client::*;

    use super::SmolRuntime;

    /// A Socket.IO client of `url` on smol (socket.io-client's `io(url, options)`):
    /// set options on the builder, then `connect()`.
    pub fn io(url: impl Into<String>) -> ClientBuilder<SmolRuntime> {
        ClientBuilder::new(SmolRuntime, url)
    }

    /// A raw Engine.IO client of `url` on smol (engine.io-client's `new Socket(url)`):
    /// set options on the builder, then `connect().await`.
    pub fn engine_io(url: impl Into<String>) -> EngineIoClientBuilder<SmolRuntime> {
        EngineIoClientBuilder::new(SmolRuntime, url)
    }
}
