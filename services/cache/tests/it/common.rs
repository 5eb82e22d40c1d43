//! Helpers shared by the cache's tests: a counting, failable, gateable fill and polling
//! with a generous bound.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::Semaphore;
use vibe_cache::{CacheSettings, FillError};
use vibe_redis::{Redis, RedisSettings};
use vibe_test_harness::RedisServer;

/// Only keeps a broken build from hanging; never a claim about speed.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub type FillFuture = Pin<Box<dyn Future<Output = Result<u64, FillError>> + Send>>;

/// A stand-in for the warehouse: each call returns its ordinal (1, 2, ...), so a value
/// tells which fill computed it.
#[derive(Clone)]
pub struct Warehouse {
    calls: Arc<AtomicU64>,
    failing: Arc<AtomicBool>,
    /// Calls with an ordinal above `gate_after` wait for a permit.
    gate_after: Arc<AtomicU64>,
    gate: Arc<Semaphore>,
}

impl Warehouse {
    pub fn new() -> Self {
        Self {
            calls: Arc::new(AtomicU64::new(0)),
            failing: Arc::new(AtomicBool::new(false)),
            gate_after: Arc::new(AtomicU64::new(u64::MAX)),
            gate: Arc::new(Semaphore::new(0)),
        }
    }

    /// Holds every call after the first `after` until [`Warehouse::open_gate`].
    pub fn gate_after(&self, after: u64) {
        self.gate_after.store(after, Ordering::SeqCst);
    }

    pub fn open_gate(&self) {
        self.gate_after.store(u64::MAX, Ordering::SeqCst);
        self.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    }

    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn fill(&self) -> impl FnOnce() -> FillFuture + Send + 'static {
        let warehouse = self.clone();
        move || {
            Box::pin(async move {
                let call = warehouse.calls.fetch_add(1, Ordering::SeqCst) + 1;
                if call > warehouse.gate_after.load(Ordering::SeqCst) {
                    warehouse.gate.acquire().await.unwrap().forget();
                }
                if warehouse.failing.load(Ordering::SeqCst) {
                    return Err("warehouse is down".into());
                }
                Ok(call)
            })
        }
    }
}

/// Polls `check` until it returns `Some`, failing the test after [`PATIENCE`].
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Windows short enough for a test; the fill lock wait stays generous.
pub fn quick_settings() -> CacheSettings {
    CacheSettings {
        fresh_for: Duration::from_secs(60),
        stale_for: Duration::from_secs(120),
        error_for: Duration::from_secs(180),
        error_retry_after: Duration::from_millis(50),
        fill_lock_ttl: Duration::from_secs(10),
        fill_lock_wait: Duration::from_secs(10),
        max_entries: 1_000,
    }
}

pub async fn connect(server: &RedisServer) -> Redis {
    let redis = Redis::connect(&RedisSettings {
        url: SecretString::from(server.url()),
        pool_size: 2,
        command_timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(300),
    })
    .await
    .unwrap();
    eventually("redis to answer", async || redis.ping().await.ok()).await;
    redis
}

/// An independent client: `redis-cli` (shipped with redis-server) against the test's
/// server. `None` if the server does not answer.
pub async fn redis_cli(server: &RedisServer, args: &[&str]) -> Option<String> {
    let output = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::process::Command::new("redis-cli")
            .args(["-p", &server.port().to_string(), "--raw"])
            .args(args)
            .output(),
    )
    .await
    .ok()?
    .expect("redis-cli runs (it ships with redis-server)");
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (output.status.success() && !text.starts_with("Could not connect")).then_some(text)
}

/// Keys of one cache's entries, as an independent client sees them.
pub async fn entry_keys(server: &RedisServer, cache: &str) -> Vec<String> {
    let pattern = format!("vibe:cache:{{{cache}}}:e:*");
    redis_cli(server, &["KEYS", &pattern])
        .await
        .map(|text| {
            text.lines()
                .filter(|line| !line.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
