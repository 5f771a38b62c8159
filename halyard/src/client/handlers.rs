//! The listeners of one client socket: per event, catch-all (incoming and outgoing),
//! and the reserved `connect`, `connect_error` and `disconnect`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use halyard_protocol::socketio::Event;

use super::socket::{AckSender, Socket};
use super::{ConnectError, DisconnectReason};
use crate::adapter::BoxFuture;
use crate::handler::{Chain, HandlerId, HandlerResult, report};

/// A handler of one event, type-erased.
pub(crate) type EventHandler = dyn crate::handler::EventHandler<Socket>;

/// A catch-all handler of incoming events.
pub(crate) type AnyHandler = dyn crate::handler::AnyHandler<Socket>;

/// A catch-all listener of outgoing events (synchronous, in the emitting task).
pub(crate) trait OutgoingFn: Fn(&Socket, &Event) + Send + Sync + 'static {}
impl<F: Fn(&Socket, &Event) + Send + Sync + 'static> OutgoingFn for F {}

/// A handler of a reserved event: `connect`, `connect_error` (with the error) or
/// `disconnect` (with the reason).
pub(crate) trait LifecycleHandler<A>: Send + Sync + 'static {
    fn call(&self, socket: Socket, arg: A) -> BoxFuture<'static, ()>;
}

struct Listener<H: ?Sized> {
    id: HandlerId,
    once: bool,
    handler: Arc<H>,
}

impl<H: ?Sized> Clone for Listener<H> {
    fn clone(&self) -> Self {
        Self {
            id: self.id,
            once: self.once,
            handler: self.handler.clone(),
        }
    }
}

/// One list of listeners, in registration order.
pub(crate) struct Listeners<H: ?Sized>(Vec<Listener<H>>);

impl<H: ?Sized> Default for Listeners<H> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<H: ?Sized> Listeners<H> {
    fn add(&mut self, once: bool, handler: Arc<H>, first: bool) -> HandlerId {
        let id = HandlerId::next();
        let listener = Listener { id, once, handler };
        if first {
            self.0.insert(0, listener);
        } else {
            self.0.push(listener);
        }
        id
    }

    /// The handlers to run now; `once` ones are removed.
    fn take_run(&mut self) -> Vec<Arc<H>> {
        let run = self.0.iter().map(|l| l.handler.clone()).collect();
        self.0.retain(|l| !l.once);
        run
    }

    fn remove(&mut self, id: HandlerId) -> bool {
        let before = self.0.len();
        self.0.retain(|l| l.id != id);
        self.0.len() != before
    }

    fn ids(&self) -> Vec<HandlerId> {
        self.0.iter().map(|l| l.id).collect()
    }
}

/// Every listener of one socket.
#[derive(Default)]
pub(crate) struct Handlers {
    events: HashMap<String, Listeners<EventHandler>>,
    any: Listeners<AnyHandler>,
    any_outgoing: Listeners<dyn OutgoingFn>,
    connect: Listeners<dyn LifecycleHandler<()>>,
    connect_error: Listeners<dyn LifecycleHandler<ConnectError>>,
    disconnect: Listeners<dyn LifecycleHandler<DisconnectReason>>,
}

impl Handlers {
    pub(crate) fn on_event(
        &mut self,
        event: String,
        once: bool,
        handler: Arc<EventHandler>,
    ) -> HandlerId {
        self.events
            .entry(event)
            .or_default()
            .add(once, handler, false)
    }

    pub(crate) fn on_any(&mut self, handler: Arc<AnyHandler>, first: bool) -> HandlerId {
        self.any.add(false, handler, first)
    }

    pub(crate) fn on_any_outgoing(
        &mut self,
        handler: Arc<dyn OutgoingFn>,
        first: bool,
    ) -> HandlerId {
        self.any_outgoing.add(false, handler, first)
    }

    pub(crate) fn on_connect(&mut self, once: bool, h: Arc<dyn LifecycleHandler<()>>) -> HandlerId {
        self.connect.add(once, h, false)
    }

    pub(crate) fn on_connect_error(
        &mut self,
        once: bool,
        h: Arc<dyn LifecycleHandler<ConnectError>>,
    ) -> HandlerId {
        self.connect_error.add(once, h, false)
    }

    pub(crate) fn on_disconnect(
        &mut self,
        once: bool,
        h: Arc<dyn LifecycleHandler<DisconnectReason>>,
    ) -> HandlerId {
        self.disconnect.add(once, h, false)
    }

    /// Removes every listener of `event` (a reserved name removes that lifecycle's).
    pub(crate) fn off_event(&mut self, event: &str) {
        match event {
            "connect" => self.connect = Listeners::default(),
            "connect_error" => self.connect_error = Listeners::default(),
            "disconnect" => self.disconnect = Listeners::default(),
            _ => {
                self.events.remove(event);
            }
        }
    }

    /// Removes the one listener `id`, wherever it is.
    pub(crate) fn off(&mut self, id: HandlerId) -> bool {
        let mut removed = false;
        self.events.retain(|_, list| {
            removed |= list.remove(id);
            !list.0.is_empty()
        });
        removed
            || self.any.remove(id)
            || self.any_outgoing.remove(id)
            || self.connect.remove(id)
            || self.connect_error.remove(id)
            || self.disconnect.remove(id)
    }

    pub(crate) fn off_any(&mut self, id: Option<HandlerId>) -> bool {
        match id {
            Some(id) => self.any.remove(id),
            None => std::mem::take(&mut self.any.0).into_iter().next().is_some(),
        }
    }

    pub(crate) fn off_any_outgoing(&mut self, id: Option<HandlerId>) -> bool {
        match id {
            Some(id) => self.any_outgoing.remove(id),
            None => std::mem::take(&mut self.any_outgoing.0)
                .into_iter()
                .next()
                .is_some(),
        }
    }

    /// The listeners of `event`, in order (`listeners(event)`).
    pub(crate) fn listeners(&self, event: &str) -> Vec<HandlerId> {
        match event {
            "connect" => self.connect.ids(),
            "connect_error" => self.connect_error.ids(),
            "disconnect" => self.disconnect.ids(),
            _ => self
                .events
                .get(event)
                .map(Listeners::ids)
                .unwrap_or_default(),
        }
    }

    pub(crate) fn listeners_any(&self) -> Vec<HandlerId> {
        self.any.ids()
    }

    pub(crate) fn listeners_any_outgoing(&self) -> Vec<HandlerId> {
        self.any_outgoing.ids()
    }

    /// What runs for the incoming `event`: the catch-all handlers, then the event's own
    /// (the first of which gets the ack).
    pub(crate) fn incoming(
        &mut self,
        socket: Socket,
        event: Event,
        ack: Option<AckSender>,
    ) -> Option<BoxFuture<'static, ()>> {
        let any = self.any.take_run();
        let own = match self.events.get_mut(event.name()) {
            Some(list) => {
                let run = list.take_run();
                if list.0.is_empty() {
                    self.events.remove(event.name());
                }
                run
            }
            None => Vec::new(),
        };
        let Some(handler) = Chain { any, handlers: own }.into_handler() else {
            if ack.is_some() {
                tracing::debug!(
                    event = event.name(),
                    "no handler for an event that asks for an ack"
                );
            }
            return None;
        };
        Some(handler.call(socket, event, ack))
    }

    /// The outgoing listeners, to call with an event about to be sent.
    pub(crate) fn outgoing(&self) -> Vec<Arc<dyn OutgoingFn>> {
        self.any_outgoing
            .0
            .iter()
            .map(|l| l.handler.clone())
            .collect()
    }

    pub(crate) fn connected(&mut self, socket: Socket) -> Option<BoxFuture<'static, ()>> {
        lifecycle(self.connect.take_run(), socket, ())
    }

    pub(crate) fn connect_failed(
        &mut self,
        socket: Socket,
        error: ConnectError,
    ) -> Option<BoxFuture<'static, ()>> {
        lifecycle(self.connect_error.take_run(), socket, error)
    }

    pub(crate) fn disconnected(
        &mut self,
        socket: Socket,
        reason: DisconnectReason,
    ) -> Option<BoxFuture<'static, ()>> {
        lifecycle(self.disconnect.take_run(), socket, reason)
    }
}

fn lifecycle<A: Clone + Send + 'static>(
    run: Vec<Arc<dyn LifecycleHandler<A>>>,
    socket: Socket,
    arg: A,
) -> Option<BoxFuture<'static, ()>> {
    if run.is_empty() {
        return None;
    }
    Some(Box::pin(async move {
        for handler in run {
            handler.call(socket.clone(), arg.clone()).await;
        }
    }))
}

pub(crate) struct Lifecycle<F>(pub(crate) F);

impl<F, A, Fut> LifecycleHandler<A> for Lifecycle<F>
where
    F: Fn(Socket, A) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: HandlerResult,
    A: Send + 'static,
{
    fn call(&self, socket: Socket, arg: A) -> BoxFuture<'static, ()> {
        let future = (self.0)(socket.clone(), arg);
        Box::pin(async move { report(future.await, &socket, "(lifecycle)") })
    }
}
