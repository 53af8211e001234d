//! A small, lock-free source of randomness for jitter (SplitMix64), so retries of many
//! clients do not fall into step. Not for anything secret: it only spreads out waits.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// SplitMix64's increment (the golden ratio in 64 bits).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A SplitMix64 generator shared by the tasks of one session. Each draw is one atomic add,
/// so concurrent draws never see the same state.
#[derive(Debug)]
pub(crate) struct Jitter {
    state: AtomicU64,
}

impl Jitter {
    /// A generator seeded from the standard library's per-process random hasher keys (every
    /// `RandomState` differs), so two sessions do not draw the same sequence.
    pub(crate) fn from_entropy() -> Self {
        Self::seeded(RandomState::new().hash_one(GAMMA))
    }

    /// A generator that draws the same sequence for the same seed (tests).
    pub(crate) fn seeded(seed: u64) -> Self {
        Jitter {
            state: AtomicU64::new(seed),
        }
    }

    /// Start the sequence of `seed` again.
    pub(crate) fn reseed(&self, seed: u64) {
        self.state.store(seed, Ordering::Relaxed);
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&self) -> u64 {
        let z = self
            .state
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA);
        let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A duration drawn evenly from `0..=max` (at nanosecond resolution).
    pub(crate) fn up_to(&self, max: Duration) -> Duration {
        let max = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        // Multiply-shift maps 64 random bits onto 0..=max without a modulo's bias towards
        // small values (beyond 1 in 2^64).
        let span = u128::from(max) + 1;
        let n = (u128::from(self.next_u64()) * span) >> 64;
        Duration::from_nanos(u64::try_from(n).unwrap_or(max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_sequence() {
        let a = Jitter::seeded(7);
        let b = Jitter::seeded(7);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        b.reseed(7);
        assert_eq!(b.next_u64(), xs[0]);
        // SplitMix64's published first output for seed 0.
        assert_eq!(Jitter::seeded(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn draws_stay_in_range_and_spread_out() {
        let j = Jitter::seeded(42);
        let max = Duration::from_millis(400);
        let draws: Vec<Duration> = (0..10_000).map(|_| j.up_to(max)).collect();
        assert!(draws.iter().all(|d| *d <= max));
        let low = draws.iter().filter(|d| **d < max / 2).count();
        // Evenly spread: about half below the middle (a broken mix is far off).
        assert!((4_500..=5_500).contains(&low), "{low}");
        assert_eq!(j.up_to(Duration::ZERO), Duration::ZERO);
        assert!(j.up_to(Duration::MAX) <= Duration::MAX);
    }

    #[test]
    fn sessions_seeded_from_entropy_differ() {
        let a = Jitter::from_entropy().next_u64();
        let b = Jitter::from_entropy().next_u64();
        assert_ne!(a, b);
    }
}
