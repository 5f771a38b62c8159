//! The two bounded MPSC channels of a connection's task (HTTP requests routed to its
//! session, commands from its socket handles), in one allocation.
//!
//! It exists for idle memory: one allocation of about 150 B per connection for both
//! channels, no slot preallocated, no cache-padded heads (`async_channel::bounded`
//! costs ~770 B of `Arc` plus its slots per channel). Messages sit in `VecDeque`s that
//! are released whenever the receiver empties them, so an idle connection's channels
//! hold nothing but their `Arc`. Back-pressure as `async_channel`'s, for each channel
//! alone: [`Sender::send`] waits while `capacity` messages are queued,
//! [`Sender::try_send`] fails. Both receivers are polled by the same task, so they
//! share one waker slot (a message on either channel wakes that task).

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;

/// Two bounded channels, of `A`s (at most `first` queued, at least 1) and of `B`s (at
/// most `second`), whose receivers are polled by one task.
#[allow(clippy::type_complexity)]
pub(crate) fn pair<A, B>(
    first: usize,
    second: usize,
) -> (
    (Sender<A, B, First>, Receiver<A, B, First>),
    (Sender<A, B, Second>, Receiver<A, B, Second>),
) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            first: Queue::new(first),
            second: Queue::new(second),
            receiver_waker: None,
            waiting: Vec::new(),
            next_waiter: 0,
        }),
    });
    (
        (Sender::new(shared.clone()), Receiver::new(shared.clone())),
        (Sender::new(shared.clone()), Receiver::new(shared)),
    )
}

struct Shared<A, B> {
    state: Mutex<State<A, B>>,
}

/// The state of both channels.
pub(crate) struct State<A, B> {
    first: Queue<A>,
    second: Queue<B>,
    /// The task of the receivers.
    receiver_waker: Option<Waker>,
    /// Sends waiting for room, by waiter id, with the channel they wait on (`true`:
    /// the second).
    waiting: Vec<(u64, bool, Waker)>,
    next_waiter: u64,
}

/// One channel's queue.
pub(crate) struct Queue<T> {
    queue: VecDeque<T>,
    capacity: u32,
    senders: u32,
    receiver: bool,
}

impl<T> Queue<T> {
    fn new(capacity: usize) -> Self {
        Self {
            queue: VecDeque::new(),
            capacity: u32::try_from(capacity).unwrap_or(u32::MAX).max(1),
            senders: 1,
            receiver: true,
        }
    }

    fn is_full(&self) -> bool {
        self.queue.len() >= self.capacity as usize
    }
}

/// Which channel of a [`pair`] a handle is for.
pub(crate) trait Side<A, B>: 'static {
    /// What the channel carries.
    type Item;
    /// Whether it is the second channel.
    const SECOND: bool;
    /// Its queue.
    fn queue(state: &mut State<A, B>) -> &mut Queue<Self::Item>;
}

/// The first channel of a [`pair`].
pub(crate) struct First;
/// The second channel of a [`pair`].
pub(crate) struct Second;

impl<A, B> Side<A, B> for First {
    type Item = A;
    const SECOND: bool = false;
    fn queue(state: &mut State<A, B>) -> &mut Queue<A> {
        &mut state.first
    }
}

impl<A, B> Side<A, B> for Second {
    type Item = B;
    const SECOND: bool = true;
    fn queue(state: &mut State<A, B>) -> &mut Queue<B> {
        &mut state.second
    }
}

impl<A, B> Shared<A, B> {
    fn lock(&self) -> MutexGuard<'_, State<A, B>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<A, B> State<A, B> {
    /// Takes the sends waiting on channel `second`.
    fn take_waiting(&mut self, second: bool) -> Vec<(u64, bool, Waker)> {
        if self.waiting.iter().all(|w| w.1 == second) {
            return std::mem::take(&mut self.waiting);
        }
        let (mine, others) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|w| w.1 == second);
        self.waiting = others;
        mine
    }

    /// Forgets the waiting send `id`.
    fn forget_waiter(&mut self, id: u64) {
        self.waiting.retain(|(w, _, _)| *w != id);
        if self.waiting.is_empty() {
            self.waiting = Vec::new();
        }
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

/// The sending side of one channel of a [`pair`]; clone it for more senders.
pub(crate) struct Sender<A, B, S: Side<A, B>> {
    shared: Arc<Shared<A, B>>,
    side: PhantomData<fn() -> S>,
}

impl<A, B, S: Side<A, B>> Sender<A, B, S> {
    fn new(shared: Arc<Shared<A, B>>) -> Self {
        Self {
            shared,
            side: PhantomData,
        }
    }
}

impl<A, B, S: Side<A, B>> fmt::Debug for Sender<A, B, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sender { .. }")
    }
}

impl<A, B, S: Side<A, B>> Clone for Sender<A, B, S> {
    fn clone(&self) -> Self {
        S::queue(&mut self.shared.lock()).senders += 1;
        Self::new(self.shared.clone())
    }
}

impl<A, B, S: Side<A, B>> Drop for Sender<A, B, S> {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.shared.lock();
            let queue = S::queue(&mut state);
            queue.senders -= 1;
            match queue.senders {
                0 => state.receiver_waker.take(),
                _ => None,
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<A, B, S: Side<A, B>> Sender<A, B, S> {
    /// Sends `value`, waiting while the channel is full; `Err` once the receiver is gone.
    pub(crate) fn send(&self, value: S::Item) -> SendFuture<'_, A, B, S> {
        SendFuture {
            sender: self,
            value: Some(value),
            waiter: None,
        }
    }

    /// Sends `value` if there is room now.
    pub(crate) fn try_send(&self, value: S::Item) -> Result<(), TrySendError<S::Item>> {
        let mut state = self.shared.lock();
        let queue = S::queue(&mut state);
        if !queue.receiver {
            return Err(TrySendError::Closed(value));
        }
        if queue.is_full() {
            return Err(TrySendError::Full(value));
        }
        queue.queue.push_back(value);
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
pub(crate) struct SendFuture<'a, A, B, S: Side<A, B>> {
    sender: &'a Sender<A, B, S>,
    value: Option<S::Item>,
    /// Our entry in `State::waiting`, while registered.
    waiter: Option<u64>,
}

// `value` is never pinned.
impl<A, B, S: Side<A, B>> Unpin for SendFuture<'_, A, B, S> {}

impl<A, B, S: Side<A, B>> Future for SendFuture<'_, A, B, S> {
    type Output = Result<(), SendError<S::Item>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let value = this
            .value
            .take()
            .expect("SendFuture polled after completion");
        let mut state = this.sender.shared.lock();
        let queue = S::queue(&mut state);
        if !queue.receiver || !queue.is_full() {
            let open = queue.receiver;
            let value = match open {
                true => {
                    queue.queue.push_back(value);
                    None
                }
                false => Some(value),
            };
            if let Some(id) = this.waiter.take() {
                state.waiting.retain(|(w, _, _)| *w != id);
            }
            if let Some(value) = value {
                return Poll::Ready(Err(SendError(value)));
            }
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
            .and_then(|id| state.waiting.iter_mut().find(|(w, _, _)| *w == id));
        match registered {
            Some((_, _, waker)) => waker.clone_from(cx.waker()),
            None => {
                let id = state.next_waiter;
                state.next_waiter += 1;
                state.waiting.push((id, S::SECOND, cx.waker().clone()));
                this.waiter = Some(id);
            }
        }
        Poll::Pending
    }
}

impl<A, B, S: Side<A, B>> Drop for SendFuture<'_, A, B, S> {
    fn drop(&mut self) {
        if let Some(id) = self.waiter {
            self.sender.shared.lock().forget_waiter(id);
        }
    }
}

/// The receiving side of one channel of a [`pair`]: a [`Stream`] that ends once every
/// sender is gone and the queue is empty.
pub(crate) struct Receiver<A, B, S: Side<A, B>> {
    shared: Arc<Shared<A, B>>,
    side: PhantomData<fn() -> S>,
}

impl<A, B, S: Side<A, B>> Receiver<A, B, S> {
    fn new(shared: Arc<Shared<A, B>>) -> Self {
        Self {
            shared,
            side: PhantomData,
        }
    }
}

impl<A, B, S: Side<A, B>> fmt::Debug for Receiver<A, B, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receiver { .. }")
    }
}

impl<A, B, S: Side<A, B>> Stream for Receiver<A, B, S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let mut state = self.shared.lock();
        let queue = S::queue(&mut state);
        let was_full = queue.is_full();
        match queue.queue.pop_front() {
            Some(value) => {
                if queue.queue.is_empty() {
                    // Idle channels hold no buffer.
                    queue.queue = VecDeque::new();
                }
                let waiting = match was_full {
                    true => state.take_waiting(S::SECOND),
                    false => Vec::new(),
                };
                drop(state);
                for (_, _, waker) in waiting {
                    waker.wake();
                }
                Poll::Ready(Some(value))
            }
            None if queue.senders == 0 => Poll::Ready(None),
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

impl<A, B, S: Side<A, B>> Drop for Receiver<A, B, S> {
    fn drop(&mut self) {
        let (queue, waiting) = {
            let mut state = self.shared.lock();
            let queue = S::queue(&mut state);
            queue.receiver = false;
            let queued = std::mem::take(&mut queue.queue);
            if !state.first.receiver && !state.second.receiver {
                state.receiver_waker = None;
            }
            (queued, state.take_waiting(S::SECOND))
        };
        // Outside the lock: a message may own a sender of this channel.
        drop(queue);
        for (_, _, waker) in waiting {
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
        let ((tx, mut rx), _other) = pair::<i32, ()>(2, 1);
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
        let (_other, (tx, rx)) = pair::<(), i32>(1, 1);
        tx.try_send(1).unwrap();
        let mut pending = Box::pin(tx.send(2));
        assert!(block_on(futures_lite::future::poll_once(&mut pending)).is_none());
        drop(rx);
        assert!(block_on(pending).is_err());
        assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
    }

    #[test]
    fn the_channels_are_independent() {
        let ((tx_a, mut rx_a), (tx_b, mut rx_b)) = pair::<i32, &str>(1, 1);
        tx_a.try_send(1).unwrap();
        // A full first channel does not hold the second back.
        assert!(matches!(tx_a.try_send(2), Err(TrySendError::Full(2))));
        tx_b.try_send("b").unwrap();
        let mut waiting_a = Box::pin(tx_a.send(2));
        let mut waiting_b = Box::pin(tx_b.send("c"));
        assert!(block_on(futures_lite::future::poll_once(&mut waiting_a)).is_none());
        assert!(block_on(futures_lite::future::poll_once(&mut waiting_b)).is_none());
        // Room on the second channel wakes its send only.
        assert_eq!(block_on(rx_b.next()), Some("b"));
        block_on(waiting_b).unwrap();
        assert!(block_on(futures_lite::future::poll_once(&mut waiting_a)).is_none());
        assert_eq!(block_on(rx_a.next()), Some(1));
        block_on(waiting_a).unwrap();
        assert_eq!(block_on(rx_a.next()), Some(2));
        assert_eq!(block_on(rx_b.next()), Some("c"));
        // Every sender of one channel gone ends that stream alone.
        drop(tx_a);
        assert_eq!(block_on(rx_a.next()), None);
        tx_b.try_send("d").unwrap();
        assert_eq!(block_on(rx_b.next()), Some("d"));
    }
}
