//! The only source of randomness in a simulation: SplitMix64, seeded per run, so a seed
//! replays exactly (no OS entropy, no hasher keys, no thread scheduling).

#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

/// SplitMix64's output function, to spread a seed or a key over all 64 bits.
pub use cairn_common::entropy::finalize as mix;

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: mix(seed) }
    }

    /// An independent stream for one purpose, so adding draws to one stream does not shift
    /// another (the workload must not change when the fault plan does).
    pub fn fork(&mut self, purpose: u64) -> Rng {
        Rng::new(self.next_u64() ^ mix(purpose))
    }

    pub fn next_u64(&mut self) -> u64 {
        cairn_common::entropy::splitmix64_next(&mut self.state)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// Uniform in `low..=high`.
    pub fn range(&mut self, low: i64, high: i64) -> i64 {
        let span = u64::try_from(high.saturating_sub(low)).unwrap_or(0);
        low + i64::try_from(self.below(span.saturating_add(1))).unwrap_or(0)
    }

    /// True with probability `per_mille` / 1000.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        per_mille > 0 && self.below(1000) < u64::from(per_mille)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let index = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        &items[index]
    }
}
