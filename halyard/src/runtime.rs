//! The small trait each runtime crate implements, and hyper's runtime traits over it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// What Halyard needs from an async runtime: spawning, timers, a clock, and (for the
/// clients) outgoing TCP connections.
///
/// Implemented by `halyard-tokio` and `halyard-smol`; everything else in Halyard is
/// written once against this trait and the `futures` traits.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// A future that completes at a deadline.
    type Sleep: Future<Output = ()> + Send + Sync + 'static;

    /// An outgoing TCP connection, as `futures-io` byte streams.
    type TcpStream: futures_io::AsyncRead + futures_io::AsyncWrite + Send + Unpin + 'static;

    /// Opens a TCP connection to `host:port` (a name is resolved by the runtime), with
    /// `TCP_NODELAY` set.
    fn connect(
        &self,
        host: String,
        port: u16,
    ) -> impl Future<Output = io::Result<Self::TcpStream>> + Send + 'static + use<Self>;

    /// Runs `future` in the background until it completes (its output is dropped).
    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// A future that completes at (or just after) `deadline`.
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep;

    /// The current time, as the runtime's timers see it.
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// hyper's [`Timer`](hyper::rt::Timer) over a [`Runtime`].
#[derive(Debug, Clone)]
pub(crate) struct HyperTimer<R>(pub(crate) R);

pin_project_lite::pin_project! {
    /// A [`Runtime::Sleep`] as a hyper [`Sleep`](hyper::rt::Sleep).
    struct HyperSleep<S> {
        #[pin]
        inner: S,
    }
}

impl<S: Future<Output = ()>> Future for HyperSleep<S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.project().inner.poll(cx)
    }
}

impl<S: Future<Output = ()> + Send + Sync> hyper::rt::Sleep for HyperSleep<S> {}

impl<R: Runtime> hyper::rt::Timer for HyperTimer<R> {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(self.0.now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep {
            inner: self.0.sleep_until(deadline),
        })
    }
}
