//! A small bounded MPSC channel for the inputs of a connection's task (HTTP requests
//! routed to a session, commands from its socket handles).
//!
//! It exists for idle memory: one allocation of about 130 B per channel, no slot
//! preallocated, no cache-padded heads (`async_channel::bounded` costs ~770 B of
//! `Arc` plus its slots per channel). Messages sit in a `VecDeque` that is released
//! whenever the receiver empties it, so an idle channel holds nothing but its `Arc`.
//! Back-pressure as `async_channel`'s: [`Sender::send`] waits while `capacity`
//! messages are queued, [`Sender::try_send`] fails.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;

/// A bounded channel holding at most `capacity` (at least 1) messages.
pub(crate) fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            capacity: capacity.max(1),
            senders: 1,
            receiver: true,
            receiver_waker: None,
            waiting: Vec::new(),
            next_waiter: 0,
        }),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

struct Shared<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    queue: VecDeque<T>,
    capacity: usize,
    senders: usize,
    receiver: bool,
    receiver_waker: Option<Waker>,
    /// Sends waiting for room, by waiter id.
    waiting: Vec<(u64, Waker)>,
    next_waiter: u64,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The message could not be sent: the receiver is gone.
pub(crate) struct SendError<T>(pub(crate) T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

/// Why [`Sender::try_send`] failed; the message is handed back.
pub(crate) enum TrySendError<T> {
    /// The channel is full.
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

/// The sending side; clone it for more senders.
pub(crate) struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sender { .. }")
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.shared.lock();
            state.senders -= 1;
            match state.senders {
                0 => state.receiver_waker.take(),
                _ => None,
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the channel is full; `Err` once the receiver is gone.
    pub(crate) fn send(&self, value: T) -> SendFuture<'_, T> {
        SendFuture {
            sender: self,
            value: Some(value),
            waiter: None,
        }
    }

    /// Sends `value` if there is room now.
    pub(crate) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut state = self.shared.lock();
        if !state.receiver {
            return Err(TrySendError::Closed(value));
        }
        if state.queue.len() >= state.capacity {
            return Err(TrySendError::Full(value));
        }
        state.queue.push_back(value);
        let waker = state.receiver_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }
}

/// The future of [`Sender::send`].
#[must_use = "futures do nothing unless polled"]
pub(crate) struct SendFuture<'a, T> {
    sender: &'a Sender<T>,
    value: Option<T>,
    /// Our entry in `State::waiting`, while registered.
    waiter: Option<u64>,
}

// `value` is never pinned.
impl<T> Unpin for SendFuture<'_, T> {}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let value = this
            .value
            .take()
            .expect("SendFuture polled after completion");
        let mut state = this.sender.shared.lock();
        if !state.receiver || state.queue.len() < state.capacity {
            if let Some(id) = this.waiter.take() {
                state.waiting.retain(|(w, _)| *w != id);
            }
            if !state.receiver {
                return Poll::Ready(Err(SendError(value)));
            }
            state.queue.push_back(value);
            let waker = state.receiver_waker.take();
            drop(state);
            if let Some(waker) = waker {
                waker.wake();
            }
            return Poll::Ready(Ok(()));
        }
        this.value = Some(value);
        let registered = this
            .waiter
            .and_then(|id| state.waiting.iter_mut().find(|(w, _)| *w == id));
        match registered {
            Some((_, waker)) => waker.clone_from(cx.waker()),
            None => {
                let id = state.next_waiter;
                state.next_waiter += 1;
                state.waiting.push((id, cx.waker().clone()));
                this.waiter = Some(id);
            }
        }
        Poll::Pending
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        if let Some(id) = self.waiter {
            let mut state = self.sender.shared.lock();
            state.waiting.retain(|(w, _)| *w != id);
            if state.waiting.is_empty() {
                state.waiting = Vec::new();
            }
        }
    }
}

/// The receiving side: a [`Stream`] that ends once every sender is gone and the queue
/// is empty.
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receiver { .. }")
    }
}

impl<T> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = self.shared.lock();
        let was_full = state.queue.len() >= state.capacity;
        match state.queue.pop_front() {
            Some(value) => {
                if state.queue.is_empty() {
                    // Idle channels hold no buffer.
                    state.queue = VecDeque::new();
                }
                let waiting = match was_full {
                    true => std::mem::take(&mut state.waiting),
                    false => Vec::new(),
                };
                drop(state);
                for (_, waker) in waiting {
                    waker.wake();
                }
                Poll::Ready(Some(value))
            }
            None if state.senders == 0 => Poll::Ready(None),
            None => {
                match &mut state.receiver_waker {
                    Some(waker) => waker.clone_from(cx.waker()),
                    slot @ None => *slot = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let (queue, waiting) = {
            let mut state = self.shared.lock();
            state.receiver = false;
            state.receiver_waker = None;
            (
                std::mem::take(&mut state.queue),
                std::mem::take(&mut state.waiting),
            )
        };
        // Outside the lock: a message may own a sender of this channel.
        drop(queue);
        for (_, waker) in waiting {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::StreamExt;
    use futures_lite::future::block_on;

    #[test]
    fn order_capacity_and_close() {
        let (tx, mut rx) = bounded(2);
        tx.try_send(1).unwrap();
        block_on(tx.send(2)).unwrap();
        assert!(matches!(tx.try_send(3), Err(TrySendError::Full(3))));
        let tx2 = tx.clone();
        let mut pending = Box::pin(tx2.send(3));
        assert!(
            futures_lite::future::block_on(futures_lite::future::poll_once(&mut pending)).is_none()
        );
        assert_eq!(block_on(rx.next()), Some(1));
        block_on(pending).unwrap();
        assert_eq!(block_on(rx.next()), Some(2));
        assert_eq!(block_on(rx.next()), Some(3));
        drop(tx);
        drop(tx2);
        assert_eq!(block_on(rx.next()), None);
    }

    #[test]
    fn receiver_gone() {
        let (tx, rx) = bounded(1);
        tx.try_send(1).unwrap();
        let mut pending = Box::pin(tx.send(2));
        assert!(block_on(futures_lite::future::poll_once(&mut pending)).is_none());
        drop(rx);
        assert!(block_on(pending).is_err());
        assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
    }
}
