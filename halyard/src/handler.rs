//! Typed event handlers behind one erased interface, shared by the server's sockets
//! ([`socketio::Socket`](crate::socketio::Socket)) and the client's
//! ([`client::Socket`](crate::client::Socket)): reading the arguments with serde (the
//! tuple rule), answering an ack, running the catch-all handlers first, and reporting
//! what goes wrong.

use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use halyard_protocol::socketio::Event;
use serde::de::DeserializeOwned;

use crate::adapter::BoxFuture;

/// What a handler's future may return: `()`, or a `Result` whose error is logged with
/// `tracing::warn!`.
pub trait HandlerResult: Send {
    /// The failure to log, if any.
    fn failure(self) -> Option<String>;
}

impl HandlerResult for () {
    fn failure(self) -> Option<String> {
        None
    }
}

impl<T: Send, E: Display + Send> HandlerResult for Result<T, E> {
    fn failure(self) -> Option<String> {
        self.err().map(|error| error.to_string())
    }
}

/// Identifies one registered handler, to remove it alone later (socket.io's
/// `socket.off(event, listener)`, where JavaScript compares functions). Ids are unique
/// in the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandlerId(u64);

impl HandlerId {
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A socket handlers are given: what the shared code needs of the server's and the
/// client's.
pub(crate) trait HandlerSocket: Clone + Send + Sync + 'static {
    /// How an event's acknowledgement is answered.
    type Ack: Send + 'static;

    /// The namespace (for logs).
    fn nsp(&self) -> &str;

    /// The socket id, when it has one (for logs).
    fn log_id(&self) -> Option<String>;

    /// An ack responder that sends nothing (the peer did not ask).
    fn no_ack(&self) -> Self::Ack;

    /// Answers `ack` with `{"error": message}`.
    fn ack_error(ack: Self::Ack, message: String) -> BoxFuture<'static, ()>;
}

/// A handler of one event.
pub(crate) trait EventHandler<S: HandlerSocket>: Send + Sync + 'static {
    fn call(&self, socket: S, event: Event, ack: Option<S::Ack>) -> BoxFuture<'static, ()>;
}

/// A catch-all handler of incoming events.
pub(crate) trait AnyHandler<S>: Send + Sync + 'static {
    fn call(&self, socket: S, event: Event) -> BoxFuture<'static, ()>;
}

/// `handler(socket, args)`.
pub(crate) struct Plain<F, T>(F, PhantomData<fn() -> T>);

/// `handler(socket, args, ack)`.
pub(crate) struct WithAck<F, T>(F, PhantomData<fn() -> T>);

/// `handler(socket, event)`, for every event.
pub(crate) struct AnyFn<F>(F);

impl<F, T> Plain<F, T> {
    pub(crate) fn new(handler: F) -> Self {
        Self(handler, PhantomData)
    }
}

impl<F, T> WithAck<F, T> {
    pub(crate) fn new(handler: F) -> Self {
        Self(handler, PhantomData)
    }
}

impl<F> AnyFn<F> {
    pub(crate) fn new(handler: F) -> Self {
        Self(handler)
    }
}

/// Logs a handler's failure.
pub(crate) fn report<S: HandlerSocket>(outcome: impl HandlerResult, socket: &S, event: &str) {
    if let Some(error) = outcome.failure() {
        let sid = socket.log_id();
        tracing::warn!(sid, nsp = socket.nsp(), event, %error, "handler failed");
    }
}

impl<S, F, T, Fut> EventHandler<S> for Plain<F, T>
where
    S: HandlerSocket,
    F: Fn(S, T) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerResult,
    T: DeserializeOwned + Send + 'static,
{
    fn call(&self, socket: S, event: Event, ack: Option<S::Ack>) -> BoxFuture<'static, ()> {
        match event.args::<T>() {
            Ok(args) => {
                let future = (self.0)(socket.clone(), args);
                let name = event.name().to_owned();
                Box::pin(async move { report(future.await, &socket, &name) })
            }
            Err(error) => bad_args(&socket, &event, &error, ack),
        }
    }
}

impl<S, F, T, Fut> EventHandler<S> for WithAck<F, T>
where
    S: HandlerSocket,
    F: Fn(S, T, S::Ack) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerResult,
    T: DeserializeOwned + Send + 'static,
{
    fn call(&self, socket: S, event: Event, ack: Option<S::Ack>) -> BoxFuture<'static, ()> {
        match event.args::<T>() {
            Ok(args) => {
                // An event sent without an ack still runs the handler; its answer goes
                // nowhere.
                let ack = ack.unwrap_or_else(|| socket.no_ack());
                let future = (self.0)(socket.clone(), args, ack);
                let name = event.name().to_owned();
                Box::pin(async move { report(future.await, &socket, &name) })
            }
            Err(error) => bad_args(&socket, &event, &error, ack),
        }
    }
}

impl<S, F, Fut> AnyHandler<S> for AnyFn<F>
where
    S: HandlerSocket,
    F: Fn(S, Event) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerResult,
{
    fn call(&self, socket: S, event: Event) -> BoxFuture<'static, ()> {
        let name = event.name().to_owned();
        let future = (self.0)(socket.clone(), event);
        Box::pin(async move { report(future.await, &socket, &name) })
    }
}

/// The handlers of one incoming event: the catch-all ones, then the event's own, in
/// order; the ack goes to the first of the event's own.
pub(crate) struct Chain<S: HandlerSocket> {
    pub(crate) any: Vec<Arc<dyn AnyHandler<S>>>,
    pub(crate) handlers: Vec<Arc<dyn EventHandler<S>>>,
}

impl<S: HandlerSocket> Chain<S> {
    /// What runs for `event`, or `None` when nothing handles it.
    pub(crate) fn into_handler(self) -> Option<Arc<dyn EventHandler<S>>> {
        match (self.any.is_empty(), self.handlers.len()) {
            (true, 0) => None,
            (true, 1) => self.handlers.into_iter().next(),
            _ => Some(Arc::new(self)),
        }
    }
}

impl<S: HandlerSocket> EventHandler<S> for Chain<S> {
    fn call(&self, socket: S, event: Event, ack: Option<S::Ack>) -> BoxFuture<'static, ()> {
        let any = self.any.clone();
        let handlers = self.handlers.clone();
        Box::pin(async move {
            for listener in any {
                listener.call(socket.clone(), event.clone()).await;
            }
            let mut ack = ack;
            for handler in handlers {
                handler
                    .call(socket.clone(), event.clone(), ack.take())
                    .await;
            }
        })
    }
}

/// Arguments that do not fit the handler: a warning, and when the peer waits for an
/// ack, an ack with `{"error": "…"}` as its one argument (never a silent drop).
fn bad_args<S: HandlerSocket>(
    socket: &S,
    event: &Event,
    error: &serde_json::Error,
    ack: Option<S::Ack>,
) -> BoxFuture<'static, ()> {
    let name = event.name().to_owned();
    tracing::warn!(
        sid = socket.log_id(),
        nsp = socket.nsp(),
        event = name,
        args = event.data().json(),
        %error,
        "event arguments do not match the handler"
    );
    let message = format!("invalid arguments for event {name:?}: {error}");
    match ack {
        Some(ack) => S::ack_error(ack, message),
        None => Box::pin(async {}),
    }
}
