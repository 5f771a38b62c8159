//! The tokio [`Harness`] of the shared tests (`halyard::test_support`).

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use halyard::HttpServer;
use halyard::test_support::Harness;
use halyard_tokio::TokioRuntime;
use hyper_util::rt::TokioIo;

pub(crate) struct Tokio(tokio::runtime::Runtime);

impl Harness for Tokio {
    type Runtime = TokioRuntime;
    type Io = TokioIo<tokio::net::TcpStream>;

    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        Self(rt)
    }

    fn runtime(&self) -> TokioRuntime {
        TokioRuntime::from_handle(self.0.handle().clone())
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.0.block_on(future)
    }

    async fn listen<S: HttpServer>(&self, server: S) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        self.0.spawn(halyard_tokio::serve(listener, server));
        addr
    }

    async fn connect(addr: SocketAddr) -> io::Result<Self::Io> {
        Ok(TokioIo::new(tokio::net::TcpStream::connect(addr).await?))
    }
}
