//! The smol [`Harness`] of the shared tests (`halyard::test_support`).

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use halyard::HttpServer;
use halyard::test_support::Harness;
use halyard_smol::SmolRuntime;
use smol_hyper::rt::FuturesIo;

pub(crate) struct Smol;

impl Harness for Smol {
    type Runtime = SmolRuntime;
    type Io = FuturesIo<async_net::TcpStream>;

    fn new() -> Self {
        Smol
    }

    fn runtime(&self) -> SmolRuntime {
        SmolRuntime
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        smol::block_on(future)
    }

    async fn listen<S: HttpServer>(&self, server: S) -> SocketAddr {
        let listener = async_net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        smol::spawn(halyard_smol::serve(listener, server)).detach();
        addr
    }

    async fn connect(addr: SocketAddr) -> io::Result<Self::Io> {
        Ok(FuturesIo::new(async_net::TcpStream::connect(addr).await?))
    }
}
