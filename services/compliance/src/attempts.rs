//! The attempt limit: at most `max` age-verification attempts per customer in any rolling
//! `window`, counted on the server by the customer's key — in Redis when configured (one
//! script call: shared by every replica), in-process otherwise. A counter that cannot be
//! reached is an error the caller turns into UNAVAILABLE: never unlimited attempts.
//! Refused attempts are not counted, so they do not extend the window.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use fred::interfaces::ClientLike;
use fred::types::scripts::Script;
use vibe_redis::Redis;

/// How many attempts a customer gets, and over what rolling window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimit {
    pub max: u32,
    pub window: Duration,
}

impl Default for AttemptLimit {
    /// Three attempts in any 24 hours (the old system's rule).
    fn default() -> Self {
        Self {
            max: 3,
            window: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// The counter's answer for one customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// This attempt may go ahead (and was counted, for [`AttemptCounter::admit`]).
    pub allowed: bool,
    /// Attempts left in the window after this one.
    pub remaining: u32,
    /// When the oldest counted attempt leaves the window; set when none are left.
    pub retry_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
#[error("attempt counter unavailable: {0}")]
pub struct CounterUnavailable(pub String);

/// Sliding-window log in a sorted set: drop attempts older than the window, count, and add
/// this one only when under the limit. ARGV: now (ms), window (ms), max, member, commit.
const SLIDING_WINDOW: &str = r"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < max then
  if ARGV[5] == '1' then
    redis.call('ZADD', KEYS[1], now, ARGV[4])
    redis.call('PEXPIRE', KEYS[1], window)
    return {1, max - count - 1, 0}
  end
  return {1, max - count, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, 0, tonumber(oldest[2]) + window}
";

/// Where attempts are counted.
pub struct AttemptCounter {
    limit: AttemptLimit,
    store: Store,
}

enum Store {
    Local(Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>),
    Redis { redis: Redis, script: Script },
}

impl std::fmt::Debug for AttemptCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let store = match self.store {
            Store::Local(_) => "local",
            Store::Redis { .. } => "redis",
        };
        f.debug_struct("AttemptCounter")
            .field("limit", &self.limit)
            .field("store", &store)
            .finish()
    }
}

impl AttemptCounter {
    /// Counts in this process: right for one replica (`vibe up`), per replica otherwise.
    pub fn local(limit: AttemptLimit) -> Self {
        Self {
            limit,
            store: Store::Local(Mutex::new(HashMap::new())),
        }
    }

    /// Counts in Redis, shared by every replica.
    pub fn redis(limit: AttemptLimit, redis: Redis) -> Self {
        Self {
            limit,
            store: Store::Redis {
                redis,
                script: Script::from_lua(SLIDING_WINDOW),
            },
        }
    }

    pub fn limit(&self) -> AttemptLimit {
        self.limit
    }

    /// Counts an attempt by `customer_key` at `now` if the customer has attempts left.
    pub async fn admit(
        &self,
        customer_key: &str,
        attempt_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Admission, CounterUnavailable> {
        self.check(customer_key, attempt_id, now, true).await
    }

    /// What [`Self::admit`] would answer, without counting anything.
    pub async fn peek(
        &self,
        customer_key: &str,
        now: DateTime<Utc>,
    ) -> Result<Admission, CounterUnavailable> {
        self.check(customer_key, "", now, false).await
    }

    async fn check(
        &self,
        customer_key: &str,
        attempt_id: &str,
        now: DateTime<Utc>,
        commit: bool,
    ) -> Result<Admission, CounterUnavailable> {
        match &self.store {
            Store::Local(attempts) => Ok(self.check_local(attempts, customer_key, now, commit)),
            Store::Redis { redis, script } => {
                let window = i64::try_from(self.limit.window.as_millis()).unwrap_or(i64::MAX);
                let args = vec![
                    now.timestamp_millis().to_string(),
                    window.to_string(),
                    self.limit.max.to_string(),
                    attempt_id.to_owned(),
                    if commit { "1" } else { "0" }.to_owned(),
                ];
                let key = format!("vibe:compliance:age-attempts:{customer_key}");
                let client = redis.pool().next();
                if !client.is_connected() {
                    return Err(CounterUnavailable("redis is not connected".to_owned()));
                }
                let reply: Vec<i64> = script
                    .evalsha_with_reload(client, vec![key], args)
                    .await
                    .map_err(|error| CounterUnavailable(error.to_string()))?;
                let [allowed, remaining, retry_ms] = reply[..] else {
                    return Err(CounterUnavailable(format!(
                        "redis answered {} values, expected 3",
                        reply.len()
                    )));
                };
                Ok(Admission {
                    allowed: allowed == 1,
                    remaining: u32::try_from(remaining).unwrap_or(0),
                    retry_at: (allowed != 1)
                        .then(|| DateTime::from_timestamp_millis(retry_ms))
                        .flatten(),
                })
            }
        }
    }

    fn check_local(
        &self,
        attempts: &Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
        customer_key: &str,
        now: DateTime<Utc>,
        commit: bool,
    ) -> Admission {
        let window = chrono::Duration::from_std(self.limit.window).unwrap_or(chrono::Duration::MAX);
        // A poisoned lock only means another thread panicked mid-update; the log of
        // instants is still well-formed.
        let mut attempts = attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Forget customers whose attempts all left the window, so the map stays bounded by
        // the customers of one window.
        if commit && attempts.len() > 10_000 {
            attempts.retain(|_, log| log.back().is_some_and(|last| *last > now - window));
        }
        let log = attempts.entry(customer_key.to_owned()).or_default();
        while log.front().is_some_and(|first| *first <= now - window) {
            log.pop_front();
        }
        let count = u32::try_from(log.len()).unwrap_or(u32::MAX);
        if count < self.limit.max {
            if commit {
                log.push_back(now);
            }
            let used = count + u32::from(commit);
            return Admission {
                allowed: true,
                remaining: self.limit.max - used,
                retry_at: None,
            };
        }
        Admission {
            allowed: false,
            remaining: 0,
            retry_at: log.front().map(|first| *first + window),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, hour, minute, 0)
            .single()
            .expect("valid instant")
    }

    #[tokio::test]
    async fn three_attempts_per_rolling_day_and_refusals_do_not_extend_it() {
        let counter = AttemptCounter::local(AttemptLimit::default());
        for (i, minute) in [0, 10, 20].into_iter().enumerate() {
            let admission = counter.admit("c", "a", at(8, minute)).await.expect("local");
            assert!(admission.allowed);
            assert_eq!(admission.remaining, 2 - u32::try_from(i).expect("small"));
        }
        let refused = counter.admit("c", "a", at(9, 0)).await.expect("local");
        assert!(!refused.allowed);
        assert_eq!(refused.retry_at, Some(at(8, 0) + chrono::Duration::days(1)));
        // Another customer is unaffected.
        assert!(
            counter
                .admit("d", "a", at(9, 0))
                .await
                .expect("local")
                .allowed
        );
        // The first attempt leaves the window exactly 24 h later; refused attempts were
        // not counted, so one attempt is free again.
        let next_day = at(8, 0) + chrono::Duration::days(1);
        let peek = counter.peek("c", next_day).await.expect("local");
        assert_eq!((peek.allowed, peek.remaining), (true, 1));
        assert!(
            counter
                .admit("c", "a", next_day)
                .await
                .expect("local")
                .allowed
        );
        assert!(
            !counter
                .admit("c", "a", next_day)
                .await
                .expect("local")
                .allowed
        );
    }
}
