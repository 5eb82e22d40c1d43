//! Deterministic randomness. Every random choice comes from a ChaCha8 stream keyed by
//! (seed, date, purpose), so a day can be regenerated alone and a change to one purpose
//! (say, how line counts are drawn) never shifts the values another purpose sees.
//!
//! Values are derived from raw `u64`s here rather than through `rand`'s distributions,
//! whose exact outputs may change between `rand` releases; demo data must not.

use chrono::{Datelike, NaiveDate};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// What a stream is used for; part of the key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose {
    /// The catalog's attributes (keyed with no date).
    Catalog = 1,
    /// A day's noise in the count plan.
    DayWeight = 2,
    /// The number of line items of each order of a day.
    LineCounts = 3,
    /// Everything else about a day's sales.
    Sales = 4,
}

pub(crate) struct Rng(ChaCha8Rng);

impl Rng {
    pub(crate) fn new(seed: u64, date: Option<NaiveDate>, purpose: Purpose) -> Self {
        let day = date.map_or(i64::MIN, |date| i64::from(date.num_days_from_ce()));
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&day.to_le_bytes());
        key[16..24].copy_from_slice(&(purpose as u64).to_le_bytes());
        key[24..].copy_from_slice(b"vibedemo");
        Self(ChaCha8Rng::from_seed(key))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (0 when `n` is 0); the multiply-shift bias is below 2^-32 for
    /// every `n` used here.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `per_mille / 1000`.
    pub(crate) fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// Uniform in `low..=high`.
    pub(crate) fn between(&mut self, low: i64, high: i64) -> i64 {
        low + self.below(high.abs_diff(low) + 1) as i64
    }
}

/// Picks an index with probability proportional to integer weights, by binary search over
/// the running sums.
#[derive(Debug, Clone)]
pub(crate) struct Weighted {
    cumulative: Vec<u64>,
}

impl Weighted {
    pub(crate) fn new(weights: impl IntoIterator<Item = u64>) -> Self {
        let mut total = 0u64;
        let cumulative = weights
            .into_iter()
            .map(|weight| {
                total += weight;
                total
            })
            .collect();
        Self { cumulative }
    }

    pub(crate) fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// The picked index; 0 when every weight is zero.
    pub(crate) fn pick(&self, rng: &mut Rng) -> usize {
        let target = rng.below(self.total());
        self.cumulative
            .partition_point(|&sum| sum <= target)
            .min(self.cumulative.len().saturating_sub(1))
    }
}
