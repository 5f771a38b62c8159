//! The bounded outgoing queue of a session.

use std::collections::VecDeque;

use halyard_protocol::engineio::Frame;

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

    /// Whether one more application frame of `len` bytes fits.
    pub(crate) fn fits(&self, len: usize) -> bool {
        self.app_frames < self.max_frames && self.app_bytes.saturating_add(len) <= self.max_bytes
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
        self.frames.drain(..).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_count_only_messages() {
        let mut q = SendQueue::new(2, 10);
        q.push_control(Frame::Text("2".into()));
        assert!(q.fits(5));
        q.push_app(Frame::Text("4abcd".into()));
        assert!(!q.fits(6));
        assert!(q.fits(5));
        q.push_app(Frame::Text("4a".into()));
        assert!(!q.fits(1));
        assert_eq!(q.pop(), Some(Frame::Text("2".into())));
        assert!(!q.fits(1));
        q.pop();
        assert!(q.fits(5));
        assert_eq!(q.len(), 1);
    }
}
