//! The global limiter: GCRA in one Lua script on Redis (its clock), so every gateway
//! replica counts against the same budget.
//!
//! Checks that arrive while others are on their way to Redis are sent together: one
//! script call counts a whole batch, key by key, in arrival order. An idle gateway sends
//! batches of one (no added wait); a busy one pays one round trip per batch instead of
//! per call — the round trip, not the counting, is what a check costs.

use std::sync::Arc;
use std::time::Duration;

use fred::types::scripts::Script;
use tokio::sync::{Semaphore, mpsc, oneshot};
use vibe_redis::{Breaker, Redis};

use super::{Decision, Tier};

/// KEYS[i] = a counter (its theoretical arrival time, µs); ARGV[2i-1], ARGV[2i] = its
/// interval in µs (>= 1) and burst. Returns 4 numbers per key: allowed 0|1, remaining,
/// reset_after µs, retry_after µs.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - burst * interval
  if now < allow_at then
    out[#out + 1] = 0; out[#out + 1] = 0; out[#out + 1] = tat - now; out[#out + 1] = allow_at - now
  else
    redis.call('SET', KEYS[i], string.format('%d', new_tat), 'PX', math.max(1, math.ceil((new_tat - now) / 1000)))
    out[#out + 1] = 1; out[#out + 1] = math.floor((now - allow_at) / interval)
    out[#out + 1] = new_tat - now; out[#out + 1] = 0
  end
end
return out
";

/// Most checks in one script call.
const MAX_BATCH: usize = 128;
/// Script calls in flight at once (a batch waits while all are out).
const IN_FLIGHT: usize = 2;
/// Checks waiting for a batch.
const QUEUE: usize = 4096;

struct Pending {
    tier: Tier,
    key: String,
    reply: oneshot::Sender<Option<Decision>>,
}

pub(super) struct RedisLimiter {
    queue: mpsc::Sender<Pending>,
    shared: Arc<Shared>,
}

struct Shared {
    redis: Redis,
    /// Sent by hash (EVALSHA), loaded again when Redis has forgotten it.
    script: Script,
    breaker: Breaker,
}

impl RedisLimiter {
    pub fn new(redis: Redis) -> Self {
        let shared = Arc::new(Shared {
            redis,
            script: Script::from_lua(GCRA),
            breaker: Breaker::new("rate_limit", "limiting in process"),
        });
        let (queue, pending) = mpsc::channel(QUEUE);
        tokio::spawn(batch_checks(shared.clone(), pending));
        Self { queue, shared }
    }

    pub fn healthy(&self) -> bool {
        self.shared.breaker.healthy()
    }

    /// `None` when Redis is skipped or failed: the caller limits in process instead.
    pub async fn check(&self, tier: Tier, who: &str) -> Option<Decision> {
        if !self.shared.breaker.allows() {
            metrics::counter!("gateway_rate_limit_fallback_total").increment(1);
            return None;
        }
        // One hash tag: a batch's keys share a slot, as a cluster requires of a script.
        let key = format!("vibe:ratelimit:{{rl}}:{}:{who}", tier.name);
        let (reply, decision) = oneshot::channel();
        let queued = self.queue.try_send(Pending { tier, key, reply }).is_ok();
        let decision = if queued {
            decision.await.ok().flatten()
        } else {
            None
        };
        if decision.is_none() {
            metrics::counter!("gateway_rate_limit_fallback_total").increment(1);
        }
        decision
    }
}

/// Gathers queued checks into batches and sends each as one script call.
async fn batch_checks(shared: Arc<Shared>, mut pending: mpsc::Receiver<Pending>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        // Whatever queued up while the previous batches were out goes together.
        if pending.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let shared = shared.clone();
        let checks = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
        tokio::spawn(async move {
            shared.send(checks).await;
            drop(slot);
        });
    }
}

impl Shared {
    async fn send(&self, checks: Vec<Pending>) {
        let mut keys = Vec::with_capacity(checks.len());
        let mut args = Vec::with_capacity(checks.len() * 2);
        for check in &checks {
            let interval = u64::try_from(check.tier.quota.interval().as_micros())
                .unwrap_or(u64::MAX)
                .max(1);
            keys.push(check.key.clone());
            args.push(interval.to_string());
            args.push(check.tier.quota.burst.to_string());
        }
        let reply: Result<Vec<i64>, _> = self
            .script
            .evalsha_with_reload(self.redis.pool().next(), keys, args)
            .await;
        let values = match reply {
            Ok(values) if values.len() == checks.len() * 4 => {
                self.breaker.succeeded();
                values
            }
            Ok(values) => {
                let error = fred::error::Error::new(
                    fred::error::ErrorKind::Parse,
                    format!(
                        "{} rate limit values for {} checks",
                        values.len(),
                        checks.len()
                    ),
                );
                self.breaker.failed("gcra", &error);
                Vec::new()
            }
            Err(error) => {
                self.breaker.failed("gcra", &error);
                Vec::new()
            }
        };
        let micros = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
        for (index, check) in checks.into_iter().enumerate() {
            let decision = values.get(index * 4..index * 4 + 4).map(|v| Decision {
                allowed: v[0] == 1,
                tier: check.tier,
                remaining: u32::try_from(v[1]).unwrap_or(0),
                reset_after: micros(v[2]),
                retry_after: micros(v[3]),
            });
            let _ = check.reply.send(decision);
        }
    }
}
