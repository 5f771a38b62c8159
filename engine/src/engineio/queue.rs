//! The bounded outgoing queue of a session.

use std::collections::VecDeque;

use halyard_protocol::engineio::Frame;

use super::{Error, OverflowPolicy};

/// Frames waiting for a transport, bounded in count and bytes for application frames.
/// Control frames (ping, pong, noop) are tiny and bypass the bounds.
#[derive(Debug)]
pub(crate) struct SendQueue {
    frames: VecDeque<Frame>,
    app_frames: usize,
    app_bytes: usize,
    max_frames: usize,
    max_bytes: usize,
}

/// Whether a frame counts against the bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    App,
    Control,
}

impl SendQueue {
    pub(crate) fn new(max_frames: usize, max_bytes: usize) -> Self {
        Self {
            frames: VecDeque::new(),
            app_frames: 0,
            app_bytes: 0,
            max_frames,
            max_bytes,
        }
    }

    /// Whether `count` more application frames of `len` bytes in all fit.
    pub(crate) fn fits_all(&self, count: usize, len: usize) -> bool {
        self.app_frames.saturating_add(count) <= self.max_frames
            && self.app_bytes.saturating_add(len) <= self.max_bytes
    }

    /// Queues every frame of `frames` if they are all messages, the session accepts sends
    /// (`open`) and they all fit; else queues none and says why.
    pub(crate) fn try_push_all<I>(&mut self, frames: I, open: bool) -> Result<(), Error>
    where
        I: IntoIterator<Item = Frame>,
        I::IntoIter: Clone,
    {
        let frames = frames.into_iter();
        let (mut count, mut len) = (0usize, 0usize);
        for frame in frames.clone() {
            if !is_message(&frame) {
                return Err(Error::NotAMessage);
            }
            count += 1;
            len = len.saturating_add(frame.len());
        }
        if !open {
            return Err(Error::Closed);
        }
        if !self.fits_all(count, len) {
            return Err(Error::Full);
        }
        frames.for_each(|frame| self.push_app(frame));
        Ok(())
    }

    pub(crate) fn push_app(&mut self, frame: Frame) {
        self.app_frames += 1;
        self.app_bytes += frame.len();
        self.frames.push_back(frame);
    }

    pub(crate) fn push_control(&mut self, frame: Frame) {
        self.frames.push_back(frame);
    }

    pub(crate) fn pop(&mut self) -> Option<Frame> {
        let frame = self.frames.pop_front()?;
        if self.frames.is_empty() {
            // An idle session holds no buffer.
            self.frames = VecDeque::new();
        }
        if kind(&frame) == Kind::App {
            self.app_frames -= 1;
            self.app_bytes -= frame.len();
        }
        Some(frame)
    }

    pub(crate) fn peek(&self) -> Option<&Frame> {
        self.frames.front()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.frames.len()
    }

    pub(crate) fn clear(&mut self) {
        self.frames.clear();
        self.app_frames = 0;
        self.app_bytes = 0;
    }

    /// Removes every frame, in order.
    pub(crate) fn drain_all(&mut self) -> Vec<Frame> {
        self.app_frames = 0;
        self.app_bytes = 0;
        Vec::from(std::mem::take(&mut self.frames))
    }
}

/// Application frames are messages: binary frames and `4…` text frames.
fn kind(frame: &Frame) -> Kind {
    if is_message(frame) {
        Kind::App
    } else {
        Kind::Control
    }
}

/// Whether `frame` is an Engine.IO message (what the layer above may send).
pub(crate) fn is_message(frame: &Frame) -> bool {
    match frame {
        Frame::Binary(_) => true,
        Frame::Text(text) => text.as_bytes().first() == Some(&b'4'),
    }
}

/// What a blocking-style send does with a full queue: under
/// [`OverflowPolicy::CloseSession`] it closes the session (through `close`) and reports
/// it closed; under [`OverflowPolicy::Reject`] it passes the refusal on.
pub(crate) fn apply_overflow_policy(
    result: Result<(), Error>,
    policy: OverflowPolicy,
    close: impl FnOnce(),
) -> Result<(), Error> {
    match result {
        Err(Error::Full) if policy == OverflowPolicy::CloseSession => {
            close();
            Err(Error::Closed)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_count_only_messages() {
        let mut q = SendQueue::new(2, 10);
        q.push_control(Frame::Text("2".into()));
        assert!(q.fits_all(1, 5));
        q.push_app(Frame::Text("4abcd".into()));
        assert!(!q.fits_all(1, 6));
        assert!(q.fits_all(1, 5));
        q.push_app(Frame::Text("4a".into()));
        assert!(!q.fits_all(1, 1));
        assert_eq!(q.pop(), Some(Frame::Text("2".into())));
        assert!(!q.fits_all(1, 1));
        q.pop();
        assert!(q.fits_all(1, 5));
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn frames_that_travel_together_are_queued_all_or_none() {
        let packet = || {
            [
                Frame::Text("451-[\"f\",{\"_placeholder\":true,\"num\":0}]".into()),
                Frame::Binary(bytes::Bytes::from_static(&[1, 2, 3])),
            ]
        };
        let mut q = SendQueue::new(3, 1000);
        assert_eq!(q.try_push_all(packet(), true), Ok(()));
        assert_eq!(q.len(), 2);
        // One frame of room left: the two-frame packet is refused whole.
        assert_eq!(q.try_push_all(packet(), true), Err(Error::Full));
        assert_eq!(q.len(), 2);
        assert_eq!(
            q.try_push_all([Frame::Text("2".into())], true),
            Err(Error::NotAMessage)
        );
        q.pop();
        q.pop();
        assert_eq!(q.try_push_all(packet(), true), Ok(()));
        assert_eq!(q.pop(), Some(packet()[0].clone()));
    }
}
