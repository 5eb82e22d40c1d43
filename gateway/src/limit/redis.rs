//! The global limiter: GCRA in one Lua script on Redis (its clock, one round trip), so
//! every gateway replica counts against the same budget.

use std::time::Duration;

use fred::types::scripts::Script;
use vibe_redis::{Breaker, Redis};

use super::{Decision, Tier};

/// KEYS[1] = the counter (the theoretical arrival time, µs); ARGV = interval µs (>= 1),
/// burst.
/// Returns {allowed 0|1, remaining, reset_after µs, retry_after µs}.
const GCRA: &str = r"
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  return {0, 0, tat - now, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.max(1, math.ceil((new_tat - now) / 1000)))
return {1, math.floor((now - allow_at) / interval), new_tat - now, 0}
";

pub(super) struct RedisLimiter {
    redis: Redis,
    /// Sent by hash (EVALSHA), loaded again when Redis has forgotten it.
    script: Script,
    breaker: Breaker,
}

impl RedisLimiter {
    pub fn new(redis: Redis) -> Self {
        Self {
            redis,
            script: Script::from_lua(GCRA),
            breaker: Breaker::new("rate_limit", "limiting in process"),
        }
    }

    pub fn healthy(&self) -> bool {
        self.breaker.healthy()
    }

    /// `None` when Redis is skipped or failed: the caller limits in process instead.
    pub async fn check(&self, tier: Tier, who: &str) -> Option<Decision> {
        if !self.breaker.allows() {
            metrics::counter!("gateway_rate_limit_fallback_total").increment(1);
            return None;
        }
        let interval = u64::try_from(tier.quota.interval().as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let key = format!("vibe:ratelimit:{}:{who}", tier.name);
        let reply: Result<Vec<i64>, _> = self
            .script
            .evalsha_with_reload(
                self.redis.pool().next(),
                vec![key],
                vec![interval.to_string(), tier.quota.burst.to_string()],
            )
            .await;
        let micros = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
        match reply.as_deref() {
            Ok([allowed, remaining, reset_after, retry_after]) => {
                self.breaker.succeeded();
                Some(Decision {
                    allowed: *allowed == 1,
                    tier,
                    remaining: u32::try_from(*remaining).unwrap_or(0),
                    reset_after: micros(*reset_after),
                    retry_after: micros(*retry_after),
                })
            }
            Ok(other) => {
                let error = fred::error::Error::new(
                    fred::error::ErrorKind::Parse,
                    format!("unexpected rate limit reply of {} values", other.len()),
                );
                self.breaker.failed("gcra", &error);
                metrics::counter!("gateway_rate_limit_fallback_total").increment(1);
                None
            }
            Err(error) => {
                self.breaker.failed("gcra", error);
                metrics::counter!("gateway_rate_limit_fallback_total").increment(1);
                None
            }
        }
    }
}
