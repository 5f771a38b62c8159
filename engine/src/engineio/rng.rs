//! A small seedable generator (splitmix64) and session ids.

/// A deterministic pseudo-random generator: the same seed gives the same session ids.
#[derive(Debug, Clone)]
pub struct SeededRng {
    state: u64,
}

const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl SeededRng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A 20-character URL-safe session id (120 random bits), the shape engine.io uses.
    pub fn session_id(&mut self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        let bits = (u128::from(a) << 64) | u128::from(b);
        (0..20)
            .map(|i| char::from(URL_SAFE[((bits >> (i * 6)) & 63) as usize]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_ids() {
        let (mut a, mut b) = (SeededRng::new(7), SeededRng::new(7));
        let id = a.session_id();
        assert_eq!(id, b.session_id());
        assert_eq!(id.len(), 20);
        assert_ne!(id, a.session_id());
        assert!(id.bytes().all(|c| URL_SAFE.contains(&c)));
    }
}
