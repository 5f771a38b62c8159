//! A tiny table of named deadlines.

use std::time::Instant;

/// Deadlines indexed by a small enum (`T as usize`), `N` of them.
#[derive(Debug, Clone)]
pub(crate) struct Timers<const N: usize> {
    at: [Option<Instant>; N],
}

impl<const N: usize> Timers<N> {
    pub(crate) fn new() -> Self {
        Self { at: [None; N] }
    }

    pub(crate) fn set(&mut self, timer: usize, at: Instant) {
        self.at[timer] = Some(at);
    }

    pub(crate) fn clear(&mut self, timer: usize) {
        self.at[timer] = None;
    }

    pub(crate) fn get(&self, timer: usize) -> Option<Instant> {
        self.at[timer]
    }

    pub(crate) fn clear_all(&mut self) {
        self.at = [None; N];
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }

    /// The earliest deadline at or before `now`, removed from the table.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Option<usize> {
        let (index, _) = self
            .at
            .iter()
            .enumerate()
            .filter_map(|(i, at)| at.filter(|at| *at <= now).map(|at| (i, at)))
            .min_by_key(|(_, at)| *at)?;
        self.at[index] = None;
        Some(index)
    }
}
