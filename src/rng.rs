//! The node's one random generator for protocol choices: global's lock
//! back-off (`random_sleep/1`) and its random choices, dynamic names given
//! to peers. Seeded from [`NodeConfig::rng_seed`](crate::runtime::NodeConfig)
//! (as quinn's `EndpointConfig::rng_seed`), so that simulations and tests
//! can replay a run; from the OS otherwise.
//!
//! Values that must be unpredictable to a peer (handshake challenges,
//! cookies) and the node's `creation` come from the OS generator, never
//! from this one.

use std::sync::{Arc, Mutex};

/// splitmix64: small, fast, and good enough for back-offs and choices.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator that replays from `seed`.
    pub fn seeded(seed: u64) -> Self {
        Self(seed)
    }

    /// A generator seeded by the OS.
    pub fn from_os() -> Self {
        Self(rand::random::<u64>())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `rand:uniform(N)`: uniform in `1..=n` (`n` = 0 counts as 1).
    pub fn uniform(&mut self, n: u64) -> u64 {
        1 + self.next_u64() % n.max(1)
    }

    /// A seed for a component's own generator, drawn from this one.
    pub fn fork(&mut self) -> Self {
        Self(self.next_u64())
    }
}

/// A [`Rng`] shared by the tasks of one node.
#[derive(Debug, Clone)]
pub struct SharedRng(Arc<Mutex<Rng>>);

impl SharedRng {
    /// Shares `rng`.
    pub fn new(rng: Rng) -> Self {
        Self(Arc::new(Mutex::new(rng)))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Rng) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// [`Rng::next_u64`].
    pub fn next_u64(&self) -> u64 {
        self.with(Rng::next_u64)
    }

    /// [`Rng::uniform`].
    pub fn uniform(&self, n: u64) -> u64 {
        self.with(|r| r.uniform(n))
    }

    /// [`Rng::fork`].
    pub fn fork(&self) -> Rng {
        self.with(Rng::fork)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_and_uniform_stays_in_range() {
        let (mut a, mut b) = (Rng::seeded(42), Rng::seeded(42));
        for n in [1u64, 2, 7, 250, 8000] {
            let (x, y) = (a.uniform(n), b.uniform(n));
            assert_eq!(x, y);
            assert!((1..=n).contains(&x));
        }
        assert_eq!(Rng::seeded(1).uniform(0), 1);
        let shared = SharedRng::new(Rng::seeded(42));
        let mut c = Rng::seeded(42);
        assert_eq!(shared.next_u64(), c.next_u64());
        assert_eq!(shared.fork().next_u64(), c.fork().next_u64());
    }
}
