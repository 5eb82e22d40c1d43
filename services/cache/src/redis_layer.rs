//! The shared layer in Redis: generation-scoped entries, the cluster-wide fill lock,
//! failure markers and the invalidation channel.
//!
//! Key layout for a cache named `dashboard` (the `{dashboard}` hash tag keeps one
//! cache's keys in one cluster slot, which the read script relies on):
//!
//! ```text
//! vibe:cache:{dashboard}:gen               INCR'd by invalidate_all
//! vibe:cache:{dashboard}:e:<gen>:<key>     JSON envelope, PX = rest of its error window
//! vibe:cache:{dashboard}:lock:<gen>:<key>  fill lock, random token, SET NX PX fill_lock_ttl
//! vibe:cache:{dashboard}:err:<gen>:<key>   "<token>\n<reason>", PX error_retry_after
//! vibe:cache:{dashboard}:invalidate        pub/sub channel: "<instance id> <gen>"
//! ```
//!
//! Every command is bounded by vibe-redis's command timeout. A failed command trips the
//! breaker and the caller carries on without Redis; nothing here fails a `get`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fred::bytes::Bytes;
use fred::prelude::*;
use vibe_redis::Redis;

use crate::stats::RedisLayerStats;
use vibe_redis::Breaker;

/// Reads the generation and, under it, the entry, the lock holder and the failure
/// marker of one key in one round trip (no window between reading the generation and
/// the entry). The keys embed the generation, so the script builds them.
const READ: &str = r"
local gen = redis.call('GET', KEYS[1]) or '0'
local suffix = ':' .. gen .. ':' .. ARGV[2]
return {
  gen,
  redis.call('GET', ARGV[1] .. ':e' .. suffix),
  redis.call('GET', ARGV[1] .. ':lock' .. suffix),
  redis.call('GET', ARGV[1] .. ':err' .. suffix),
}
";

/// Writes the entry, clears an older failure marker and releases the lock if we still
/// hold it, atomically: waiters never see the lock gone without the entry.
const STORE: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
if ARGV[3] ~= '' and redis.call('GET', KEYS[3]) == ARGV[3] then
  redis.call('DEL', KEYS[3])
end
return 1
";

/// Records a failed fill for the waiters and releases the lock if we still hold it.
const FAIL: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
end
return 1
";

/// Compare-and-delete: a lock that expired and was taken by another replica is not ours
/// to delete.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Marks `last_generation` as not yet seen.
const UNSEEN: u64 = u64::MAX;

/// One key as Redis holds it under the current generation.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub generation: u64,
    pub entry: Option<Bytes>,
    /// The token of the replica filling this key, if one is.
    pub lock_holder: Option<String>,
    pub failure: Option<FailureMarker>,
}

/// A failed fill, left for the replicas that waited on its lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FailureMarker {
    /// The lock token of the replica whose fill failed (empty if it held no lock).
    pub token: String,
    pub reason: String,
}

pub(crate) struct RedisLayer {
    cache: &'static str,
    redis: Redis,
    prefix: String,
    breaker: Breaker,
    /// The highest generation seen, to notice an invalidation whose pub/sub message
    /// was missed (e.g. while the subscriber reconnected).
    last_generation: AtomicU64,
}

impl RedisLayer {
    pub fn new(cache: &'static str, redis: Redis) -> Self {
        Self {
            cache,
            redis,
            prefix: format!("vibe:cache:{{{cache}}}"),
            breaker: Breaker::new(cache, "serving from the in-process cache layer"),
            last_generation: AtomicU64::new(UNSEEN),
        }
    }

    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    pub fn channel(&self) -> String {
        format!("{}:invalidate", self.prefix)
    }

    fn generation_key(&self) -> String {
        format!("{}:gen", self.prefix)
    }

    fn key(&self, kind: &str, generation: u64, key: &str) -> String {
        format!("{}:{kind}:{generation}:{key}", self.prefix)
    }

    /// Runs one command through the breaker; `None` means Redis is being skipped or
    /// failed (and is now skipped for a while). Commands are lazy futures, so a skipped
    /// one is never sent.
    async fn call<T>(
        &self,
        operation: &'static str,
        command: impl Future<Output = Result<T, fred::error::Error>>,
    ) -> Option<T> {
        if !self.breaker.allows() {
            return None;
        }
        self.call_always(operation, command).await
    }

    /// Like [`Self::call`], but tries even while the breaker skips Redis: for rare
    /// commands that matter more than their latency (invalidation).
    async fn call_always<T>(
        &self,
        operation: &'static str,
        command: impl Future<Output = Result<T, fred::error::Error>>,
    ) -> Option<T> {
        match command.await {
            Ok(value) => {
                self.breaker.succeeded();
                Some(value)
            }
            Err(error) => {
                crate::stats::redis_error(self.cache);
                self.breaker.failed(operation, &error);
                None
            }
        }
    }

    pub async fn read(&self, key: &str) -> Option<Snapshot> {
        let reply: Vec<Value> = self
            .call(
                "read",
                self.redis.pool().eval(
                    READ,
                    vec![self.generation_key()],
                    vec![self.prefix.clone(), key.to_owned()],
                ),
            )
            .await?;
        let mut fields = reply.into_iter();
        let generation = fields
            .next()
            .and_then(|value| value.as_string())
            .and_then(|text| text.parse::<u64>().ok())
            .unwrap_or(0);
        let entry = fields.next().and_then(Value::into_bytes);
        let lock_holder = fields.next().and_then(|value| value.as_string());
        let failure = fields
            .next()
            .and_then(|value| value.as_string())
            .map(|text| {
                let (token, reason) = text.split_once('\n').unwrap_or(("", text.as_str()));
                FailureMarker {
                    token: token.to_owned(),
                    reason: reason.to_owned(),
                }
            });
        Some(Snapshot {
            generation,
            entry,
            lock_holder,
            failure,
        })
    }

    /// Takes the fill lock: `Some(true)` if we hold it now.
    pub async fn try_lock(
        &self,
        generation: u64,
        key: &str,
        token: &str,
        ttl: Duration,
    ) -> Option<bool> {
        let reply: Option<String> = self
            .call(
                "lock",
                self.redis.pool().set(
                    self.key("lock", generation, key),
                    token,
                    Some(Expiration::PX(millis(ttl))),
                    Some(SetOptions::NX),
                    false,
                ),
            )
            .await?;
        Some(reply.is_some())
    }

    /// Writes an entry (and releases our lock, if `token` is one).
    pub async fn store(
        &self,
        generation: u64,
        key: &str,
        payload: Vec<u8>,
        ttl: Duration,
        token: &str,
    ) {
        let keys = vec![
            self.key("e", generation, key),
            self.key("err", generation, key),
            self.key("lock", generation, key),
        ];
        let args: Vec<Value> = vec![
            Value::Bytes(Bytes::from(payload)),
            Value::Integer(millis(ttl)),
            Value::from(token),
        ];
        let _: Option<i64> = self
            .call("store", self.redis.pool().eval(STORE, keys, args))
            .await;
    }

    /// Leaves a failure marker for the waiters (and releases our lock).
    pub async fn fail(&self, generation: u64, key: &str, reason: &str, ttl: Duration, token: &str) {
        let keys = vec![
            self.key("err", generation, key),
            self.key("lock", generation, key),
        ];
        let args: Vec<Value> = vec![
            Value::from(format!("{token}\n{reason}")),
            Value::Integer(millis(ttl)),
            Value::from(token),
        ];
        let _: Option<i64> = self
            .call("fail", self.redis.pool().eval(FAIL, keys, args))
            .await;
    }

    pub async fn release(&self, generation: u64, key: &str, token: &str) {
        let _: Option<i64> = self
            .call(
                "release",
                self.redis.pool().eval(
                    RELEASE,
                    vec![self.key("lock", generation, key)],
                    vec![token.to_owned()],
                ),
            )
            .await;
    }

    /// Starts a new generation, so every entry written so far becomes unreachable
    /// (and expires by its PX) without `KEYS` or `SCAN`.
    pub async fn next_generation(&self) -> Option<u64> {
        let generation: u64 = self
            .call_always("invalidate", self.redis.pool().incr(self.generation_key()))
            .await?;
        self.last_generation
            .fetch_max(generation, Ordering::Relaxed);
        Some(generation)
    }

    /// Tells the other replicas to drop their in-process layer.
    pub async fn announce(&self, instance: &str, generation: u64) {
        let _: Option<i64> = self
            .call_always(
                "publish",
                // The pool has no pub/sub interface; any one connection will do.
                self.redis
                    .pool()
                    .next()
                    .publish(self.channel(), format!("{instance} {generation}")),
            )
            .await;
    }

    /// Records a generation read from Redis; true when it is newer than any seen
    /// before, i.e. another replica invalidated and we may hold old entries.
    pub fn observe_generation(&self, generation: u64) -> bool {
        let previous =
            self.last_generation
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |seen| {
                    (seen == UNSEEN || generation > seen).then_some(generation)
                });
        matches!(previous, Ok(seen) if seen != UNSEEN)
    }

    pub fn stats(&self, subscribed: bool) -> RedisLayerStats {
        RedisLayerStats {
            healthy: self.breaker.healthy(),
            errors: self.breaker.errors(),
            subscribed,
        }
    }
}

/// Milliseconds for `PX`, at least 1 (Redis rejects `PX 0`).
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis())
        .unwrap_or(i64::MAX)
        .max(1)
}
