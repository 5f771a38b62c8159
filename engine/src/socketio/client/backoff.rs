//! socket.io-client's reconnection backoff (`contrib/backo2.js`), with jitter drawn from
//! the engine's seedable generator.

use std::time::Duration;

use crate::engineio::SeededRng;

/// The delay before each reconnection attempt.
///
/// Attempt `k` (0-based) waits `ms = delay * 2^k`; with `r` uniform in `[0, 1)` drawn once,
/// `dev = floor(r * factor * ms)` and `ms = ms - dev` when `floor(r * 10)` is even, else
/// `ms + dev`; the result is `min(ms, delay_max)`, truncated to whole milliseconds. A
/// factor outside `(0, 1]` means no jitter (and no random number drawn), as in backo2.
///
/// One deliberate difference: when `delay * 2^k` overflows to infinity, JavaScript
/// computes `Infinity - Infinity = NaN` half of the time and `NaN | 0 = 0`, a zero delay;
/// here the result is `delay_max`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min_ms: f64,
    max_ms: f64,
    jitter: f64,
    attempts: u32,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration, factor: f64) -> Self {
        Self {
            min_ms: min.as_secs_f64() * 1000.0,
            max_ms: max.as_secs_f64() * 1000.0,
            jitter: if factor > 0.0 && factor <= 1.0 {
                factor
            } else {
                0.0
            },
            attempts: 0,
        }
    }

    /// Attempts made since the last reset.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    pub(crate) fn reset(&mut self) {
        self.attempts = 0;
    }

    /// The next delay; counts one attempt.
    pub(crate) fn duration(&mut self, rng: &mut SeededRng) -> Duration {
        let exponent = i32::try_from(self.attempts).unwrap_or(i32::MAX);
        self.attempts = self.attempts.saturating_add(1);
        let mut ms = self.min_ms * 2f64.powi(exponent);
        if self.jitter > 0.0 {
            let r = unit(rng);
            let deviation = (r * self.jitter * ms).floor();
            ms = if ((r * 10.0).floor() as u64) & 1 == 0 {
                ms - deviation
            } else {
                ms + deviation
            };
        }
        // `f64::min` returns the other operand when one is NaN.
        let ms = ms.min(self.max_ms).max(0.0);
        Duration::from_millis(ms as u64)
    }
}

/// A uniform number in `[0, 1)` from the top 53 bits of the generator.
pub(crate) fn unit(rng: &mut SeededRng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_jitter_doubles_up_to_the_cap() {
        let mut rng = SeededRng::new(1);
        let mut backoff = Backoff::new(
            Duration::from_millis(1000),
            Duration::from_millis(5000),
            0.0,
        );
        let delays: Vec<u64> = (0..5)
            .map(|_| backoff.duration(&mut rng).as_millis() as u64)
            .collect();
        assert_eq!(delays, [1000, 2000, 4000, 5000, 5000]);
        // No jitter: no random number was drawn.
        assert_eq!(rng.next_u64(), SeededRng::new(1).next_u64());
        backoff.reset();
        assert_eq!(backoff.duration(&mut rng), Duration::from_millis(1000));
    }

    #[test]
    fn jitter_uses_one_draw_for_deviation_and_direction() {
        let mut rng = SeededRng::new(9);
        let mut copy = SeededRng::new(9);
        let mut backoff = Backoff::new(
            Duration::from_millis(1000),
            Duration::from_millis(5000),
            0.5,
        );
        for k in 0..8 {
            let r = unit(&mut copy);
            let ms = 1000.0 * 2f64.powi(k);
            let dev = (r * 0.5 * ms).floor();
            let ms = if ((r * 10.0).floor() as u64) & 1 == 0 {
                ms - dev
            } else {
                ms + dev
            };
            let expected = ms.min(5000.0) as u64;
            assert_eq!(backoff.duration(&mut rng).as_millis() as u64, expected);
        }
    }

    #[test]
    fn overflow_gives_the_cap() {
        let mut rng = SeededRng::new(3);
        let mut backoff = Backoff::new(
            Duration::from_millis(1000),
            Duration::from_millis(5000),
            1.0,
        );
        backoff.attempts = 5000;
        for _ in 0..64 {
            assert_eq!(backoff.duration(&mut rng), Duration::from_millis(5000));
        }
    }
}
