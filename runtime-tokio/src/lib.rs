//! Halyard on tokio: the [`Runtime`] for tokio, a TCP server loop, and
//! the runtime-neutral API of [`halyard`] re-exported. With the `tower` feature (on by
//! default), a tower [`SocketIoLayer`] serves Socket.IO beside an axum app's own routes.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let server = halyard_tokio::EngineIoServer::new();
//! let app = server.clone();
//! tokio::spawn(async move {
//!     while let Some(mut socket) = app.accept().await {
//!         tokio::spawn(async move {
//!             while let Some(message) = socket.recv().await {
//!                 let _ = socket.send(message).await;
//!             }
//!         });
//!     }
//! });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! halyard_tokio::serve(listener, server).await
//! # }
//! ```

#[cfg(feature = "tower")]
mod tower;

use std::future::Future;
use std::io;
use std::time::Instant;

pub use halyard::*;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::runtime::Handle;
#[cfg(feature = "tower")]
pub use tower::{LayerBody, LayerExt, SocketIoLayer, SocketIoService};

/// The tokio [`Runtime`]: spawns on a tokio runtime, sleeps with tokio's
/// timer.
#[derive(Debug, Clone)]
pub struct TokioRuntime {
    handle: Handle,
}

impl TokioRuntime {
    /// The runtime this is called from.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn current() -> Self {
        Self::from_handle(Handle::current())
    }

    /// The runtime behind `handle`.
    pub fn from_handle(handle: Handle) -> Self {
        Self { handle }
    }
}

impl halyard::Runtime for TokioRuntime {
    type Sleep = tokio::time::Sleep;
    type TcpStream = HyperIo<TokioIo<tokio::net::TcpStream>>;

    fn connect(
        &self,
        host: String,
        port: u16,
    ) -> impl Future<Output = io::Result<Self::TcpStream>> + Send + 'static + use<> {
        let handle = self.handle.clone();
        async move {
            // Spawned on the runtime: the caller may be polled from outside it.
            let connect = handle.spawn(async move {
                let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
                stream.set_nodelay(true)?;
                Ok::<_, io::Error>(stream)
            });
            let stream = connect.await.map_err(io::Error::other)??;
            Ok(HyperIo::new(TokioIo::new(stream)))
        }
    }

    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.handle.spawn(future));
    }

    fn sleep_until(&self, deadline: Instant) -> Self::Sleep {
        let _guard = self.handle.enter();
        tokio::time::sleep_until(deadline.into())
    }
}

/// Serves `server` (an [`EngineIoServer`] or a Socket.IO [`socketio::Server`]) on every
/// connection `listener` accepts, on the current tokio runtime. Runs until the task is
/// dropped.
pub async fn serve(listener: TcpListener, server: impl HttpServer) -> io::Result<()> {
    let incoming = futures_lite::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, remote)| {
            let _ = stream.set_nodelay(true);
            (TokioIo::new(stream), Some(remote))
        });
        Some((accepted, listener))
    });
    halyard::serve(TokioRuntime::current(), incoming, server).await
}

/// The Socket.IO and Engine.IO clients on tokio: [`io`](client::io) is socket.io-client's
/// `io(url)`, [`engine_io`](client::engine_io) engine.io-client's `new Socket(url)`.
///
/// ```no_run
/// # async fn run() -> Result<(), halyard::client::Error> {
/// use halyard_tokio::client::{self, Socket};
/// let socket = client::io("http://localhost:3000/").connect()?;
/// socket.on("chat", |_socket: Socket, (text,): (String,)| async move {
///     tracing::info!(%text, "chat");
/// });
/// let answer: (String,) = socket.emit_with_ack("hello", &("ana",)).await?;
/// # Ok(()) }
/// ```
pub mod client {
    pub use halyard::client::*;

    use super::TokioRuntime;

    /// A Socket.IO client of `url` on tokio (socket.io-client's `io(url, options)`):
    /// set options on the builder, then `connect()`.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn io(url: impl Into<String>) -> ClientBuilder<TokioRuntime> {
        ClientBuilder::new(TokioRuntime::current(), url)
    }

    /// A raw Engine.IO client of `url` on tokio (engine.io-client's `new Socket(url)`):
    /// set options on the builder, then `connect().await`.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn engine_io(url: impl Into<String>) -> EngineIoClientBuilder<TokioRuntime> {
        EngineIoClientBuilder::new(TokioRuntime::current(), url)
    }
}
