//! The attempt limit: at most `max` age-verification attempts per customer in any rolling
//! `window`, counted on the server by the customer's key — in Redis when configured (one
//! script call: shared by every replica), in-process otherwise. A counter that cannot be
//! reached is an error the caller turns into UNAVAILABLE: never unlimited attempts.
//! Refused attempts are not counted, so they do not extend the window.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use fred::types::scripts::Script;
use vibe_redis::Redis;

use crate::error::ComplianceError;

fn unavailable(why: impl std::fmt::Display) -> ComplianceError {
    ComplianceError::Unavailable(format!("attempt counter unavailable: {why}"))
}

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
    Local(Mutex<LocalLog>),
    Redis { redis: Redis, script: Script },
}

/// Counted attempts per customer key, oldest first.
#[derive(Default)]
struct LocalLog {
    attempts: HashMap<String, VecDeque<DateTime<Utc>>>,
    pruned_at: Option<DateTime<Utc>>,
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
            store: Store::Local(Mutex::new(LocalLog::default())),
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

    /// Counts an attempt by `customer_key` at `now` if the customer has attempts left.
    pub async fn admit(
        &self,
        customer_key: &str,
        attempt_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Admission, ComplianceError> {
        self.check(customer_key, attempt_id, now, true).await
    }

    /// What [`Self::admit`] would answer, without counting anything.
    pub async fn peek(
        &self,
        customer_key: &str,
        now: DateTime<Utc>,
    ) -> Result<Admission, ComplianceError> {
        self.check(customer_key, "", now, false).await
    }

    async fn check(
        &self,
        customer_key: &str,
        attempt_id: &str,
        now: DateTime<Utc>,
        commit: bool,
    ) -> Result<Admission, ComplianceError> {
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
                // A connection still (re)connecting holds the command up to the pool's
                // command timeout: a Redis that is down costs that long, then UNAVAILABLE.
                let reply: Vec<i64> = script
                    .evalsha_with_reload(redis.pool().next(), vec![key], args)
                    .await
                    .map_err(unavailable)?;
                let [allowed, remaining, retry_ms] = reply[..] else {
                    return Err(unavailable(format!(
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
        log: &Mutex<LocalLog>,
        customer_key: &str,
        now: DateTime<Utc>,
        commit: bool,
    ) -> Admission {
        let window = chrono::Duration::from_std(self.limit.window).unwrap_or(chrono::Duration::MAX);
        let cutoff = now
            .checked_sub_signed(window)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        // A poisoned lock only means another thread panicked mid-update; the log of
        // instants is still well-formed.
        let mut log = log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Forget customers whose attempts all left the window, at most once a minute, so
        // the map holds about one window's customers.
        if log
            .pruned_at
            .is_none_or(|at| now - at > chrono::Duration::minutes(1))
        {
            log.attempts
                .retain(|_, times| times.back().is_some_and(|last| *last > cutoff));
            log.pruned_at = Some(now);
        }
        let live = |times: &VecDeque<DateTime<Utc>>| -> Vec<DateTime<Utc>> {
            times.iter().copied().filter(|t| *t > cutoff).collect()
        };
        let counted = log.attempts.get(customer_key).map(live).unwrap_or_default();
        let count = u32::try_from(counted.len()).unwrap_or(u32::MAX);
        if count >= self.limit.max {
            return Admission {
                allowed: false,
                remaining: 0,
                retry_at: counted.first().map(|first| *first + window),
            };
        }
        if commit {
            let mut times: VecDeque<DateTime<Utc>> = counted.into();
            times.push_back(now);
            log.attempts.insert(customer_key.to_owned(), times);
        }
        Admission {
            allowed: true,
            remaining: self.limit.max - count - u32::from(commit),
            retry_at: None,
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
