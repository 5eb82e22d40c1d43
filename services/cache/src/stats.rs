//! Counters behind `Cache::stats` and the Prometheus metrics, recorded together so the
//! two never disagree.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::Freshness;

/// A snapshot of one cache's counters since it was created (this process only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheStats {
    pub name: &'static str,
    pub since: SystemTime,
    /// Requests served a fresh value without waiting for a fill (from either layer).
    pub hits_fresh: u64,
    /// Requests served a stale value at once (a background refresh was started or running).
    pub hits_stale: u64,
    /// Requests served an old value because the fill failed.
    pub hits_stale_on_error: u64,
    /// Requests that waited for a fill (this replica's or another's) and got its value.
    pub misses: u64,
    /// Requests that got `CacheError::Unavailable`.
    pub unavailable: u64,
    /// Fill closures run by this replica (not the callers that waited for them).
    pub fills: u64,
    /// Callers that joined a fill already running in this process.
    pub coalesced_waits: u64,
    /// Fills that failed (the closure's error, a panic or the fill timeout).
    pub fill_errors: u64,
    pub fill_latency_mean: Duration,
    /// Approximate: the upper bound of the fixed histogram bucket holding the 95th
    /// percentile (see `LATENCY_BUCKETS`), capped by the maximum seen.
    pub fill_latency_p95: Duration,
    pub fill_latency_max: Duration,
    /// Entries in the in-process layer (moka's count, which lags by pending maintenance).
    pub entries: u64,
    /// `None` when the cache runs without Redis.
    pub redis: Option<RedisLayerStats>,
}

/// The shared layer's state as this replica sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisLayerStats {
    /// False while the breaker skips Redis after an error.
    pub healthy: bool,
    /// Failed or timed-out Redis commands.
    pub errors: u64,
    /// True while the invalidation channel is subscribed.
    pub subscribed: bool,
}

/// How a request was answered, for `vibe_cache_requests_total{result}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestResult {
    Hit(Freshness),
    Miss,
    Error,
}

impl RequestResult {
    const ALL: [Self; 5] = [
        Self::Hit(Freshness::Fresh),
        Self::Hit(Freshness::Stale),
        Self::Hit(Freshness::StaleOnError),
        Self::Miss,
        Self::Error,
    ];

    fn index(self) -> usize {
        match self {
            Self::Hit(Freshness::Fresh) => 0,
            Self::Hit(Freshness::Stale) => 1,
            Self::Hit(Freshness::StaleOnError) => 2,
            Self::Miss => 3,
            Self::Error => 4,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Hit(freshness) => freshness.as_str(),
            Self::Miss => "miss",
            Self::Error => "error",
        }
    }
}

/// Upper bounds of the fill latency buckets; the last bucket is open-ended.
const LATENCY_BUCKETS: [Duration; 16] = [
    Duration::from_millis(1),
    Duration::from_millis(2),
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_millis(2_500),
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(30),
    Duration::from_secs(60),
    Duration::MAX,
];

pub(crate) struct Stats {
    name: &'static str,
    /// `vibe_cache_requests_total` per result, registered once: a lookup by labels on
    /// every request would cost more than the cache hit it counts.
    requests: [metrics::Counter; RequestResult::ALL.len()],
    since: SystemTime,
    hits_fresh: AtomicU64,
    hits_stale: AtomicU64,
    hits_stale_on_error: AtomicU64,
    misses: AtomicU64,
    unavailable: AtomicU64,
    fills: AtomicU64,
    coalesced_waits: AtomicU64,
    fill_errors: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_sum_micros: AtomicU64,
    latency_count: AtomicU64,
    latency_max_micros: AtomicU64,
}

impl Stats {
    pub fn new(name: &'static str) -> Self {
        describe_metrics();
        Self {
            name,
            requests: RequestResult::ALL.map(|result| {
                metrics::counter!("vibe_cache_requests_total", "cache" => name, "result" => result.label())
            }),
            since: SystemTime::now(),
            hits_fresh: AtomicU64::new(0),
            hits_stale: AtomicU64::new(0),
            hits_stale_on_error: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            unavailable: AtomicU64::new(0),
            fills: AtomicU64::new(0),
            coalesced_waits: AtomicU64::new(0),
            fill_errors: AtomicU64::new(0),
            latency_buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_sum_micros: AtomicU64::new(0),
            latency_count: AtomicU64::new(0),
            latency_max_micros: AtomicU64::new(0),
        }
    }

    pub fn request(&self, result: RequestResult) {
        let counter = match result {
            RequestResult::Hit(Freshness::Fresh) => &self.hits_fresh,
            RequestResult::Hit(Freshness::Stale) => &self.hits_stale,
            RequestResult::Hit(Freshness::StaleOnError) => &self.hits_stale_on_error,
            RequestResult::Miss => &self.misses,
            RequestResult::Error => &self.unavailable,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.requests[result.index()].increment(1);
    }

    pub fn coalesced_wait(&self) {
        self.coalesced_waits.fetch_add(1, Ordering::Relaxed);
    }

    /// One fill ran for `took`; `ok` is false when it failed.
    pub fn fill(&self, took: Duration, ok: bool) {
        self.fills.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("vibe_cache_fills_total", "cache" => self.name).increment(1);
        if !ok {
            self.fill_errors.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("vibe_cache_fill_errors_total", "cache" => self.name).increment(1);
        }
        metrics::histogram!("vibe_cache_fill_seconds", "cache" => self.name)
            .record(took.as_secs_f64());
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|bound| took <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len() - 1);
        self.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_max_micros.fetch_max(micros, Ordering::Relaxed);
    }

    pub fn snapshot(&self, entries: u64, redis: Option<RedisLayerStats>) -> CacheStats {
        let count = self.latency_count.load(Ordering::Relaxed);
        let max = Duration::from_micros(self.latency_max_micros.load(Ordering::Relaxed));
        let mean = match count {
            0 => Duration::ZERO,
            n => Duration::from_micros(self.latency_sum_micros.load(Ordering::Relaxed) / n),
        };
        CacheStats {
            name: self.name,
            since: self.since,
            hits_fresh: self.hits_fresh.load(Ordering::Relaxed),
            hits_stale: self.hits_stale.load(Ordering::Relaxed),
            hits_stale_on_error: self.hits_stale_on_error.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            unavailable: self.unavailable.load(Ordering::Relaxed),
            fills: self.fills.load(Ordering::Relaxed),
            coalesced_waits: self.coalesced_waits.load(Ordering::Relaxed),
            fill_errors: self.fill_errors.load(Ordering::Relaxed),
            fill_latency_mean: mean,
            fill_latency_p95: self.p95(count).min(max),
            fill_latency_max: max,
            entries,
            redis,
        }
    }

    fn p95(&self, count: u64) -> Duration {
        if count == 0 {
            return Duration::ZERO;
        }
        // The smallest bucket bound with at least 95 % of the fills at or below it.
        let target = count.saturating_mul(95).div_ceil(100);
        let mut seen = 0;
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.latency_buckets) {
            seen += bucket.load(Ordering::Relaxed);
            if seen >= target {
                return *bound;
            }
        }
        Duration::MAX
    }
}

pub(crate) fn redis_error(cache: &'static str) {
    metrics::counter!("vibe_cache_redis_errors_total", "cache" => cache).increment(1);
}

fn describe_metrics() {
    metrics::describe_counter!(
        "vibe_cache_requests_total",
        "cache requests by result: fresh, stale, stale_on_error, miss (waited for a fill), error"
    );
    metrics::describe_counter!("vibe_cache_fills_total", "fill closures run");
    metrics::describe_counter!("vibe_cache_fill_errors_total", "fills that failed");
    metrics::describe_histogram!(
        "vibe_cache_fill_seconds",
        metrics::Unit::Seconds,
        "how long fills took"
    );
    metrics::describe_counter!(
        "vibe_cache_redis_errors_total",
        "redis commands of the cache's shared layer that failed or timed out"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_summary_is_bucketed() {
        let stats = Stats::new("test");
        for _ in 0..95 {
            stats.fill(Duration::from_millis(3), true);
        }
        for _ in 0..5 {
            stats.fill(Duration::from_millis(700), false);
        }
        let snapshot = stats.snapshot(0, None);
        assert_eq!(snapshot.fills, 100);
        assert_eq!(snapshot.fill_errors, 5);
        // 95 of 100 fills are in the (2 ms, 5 ms] bucket.
        assert_eq!(snapshot.fill_latency_p95, Duration::from_millis(5));
        assert_eq!(snapshot.fill_latency_max, Duration::from_millis(700));
        assert_eq!(snapshot.fill_latency_mean, Duration::from_micros(37_850));
    }

    #[test]
    fn p95_never_exceeds_the_maximum() {
        let stats = Stats::new("test");
        stats.fill(Duration::from_micros(1_500), true);
        assert_eq!(
            stats.snapshot(0, None).fill_latency_p95,
            Duration::from_micros(1_500)
        );
    }
}
