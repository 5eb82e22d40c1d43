//! The global limiter: GCRA in one Lua script on Redis (its clock), so every gateway
//! replica counts against the same budget.
//!
//! Checks that arrive while others are on their way to Redis are sent together: one
//! script call counts a whole batch, key by key, in arrival order. An idle gateway sends
//! batches of one (no added wait); a busy one pays one round trip per batch instead of
//! per call. A principal calling many times a second is admitted from tokens leased in
//! advance (`lease.rs`), and one calling now and then from the token held for its next
//! call, so most calls make no round trip at all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use fred::types::Value;
use fred::types::scripts::Script;
use tokio::sync::{Semaphore, mpsc, oneshot};
use vibe_redis::{Breaker, Redis};

use super::lease::{Grant, LEASE_TTL, Lease, Take};
use super::{Decision, Tier};

/// KEYS[i] = a counter (its theoretical arrival time, µs); ARGV[5i-4 .. 5i] = its interval
/// in µs (>= 1), burst, need (1: a call waits for this answer, 0: tokens for a lease only),
/// want (tokens more for a lease) and back (unspent leased tokens given back). Grants the
/// call first, then at most an eighth of what is left after it. Returns 4 numbers per key:
/// granted, remaining, reset_after µs, retry_after µs.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[5 * i - 4])
  local burst = tonumber(ARGV[5 * i - 3])
  local need = tonumber(ARGV[5 * i - 2])
  local want = tonumber(ARGV[5 * i - 1])
  local back = tonumber(ARGV[5 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now) - back * interval
  if tat < now then tat = now end
  local free = math.floor((now + burst * interval - tat) / interval)
  local granted = 0
  if free >= need then
    granted = need + math.min(want, math.floor((free - need) / 8))
  end
  local new_tat = tat + granted * interval
  if granted > 0 or back > 0 then
    redis.call('SET', KEYS[i], string.format('%d', new_tat), 'PX', math.max(1, math.ceil((new_tat - now) / 1000)))
  end
  out[#out + 1] = granted
  if granted < need then
    out[#out + 1] = 0; out[#out + 1] = tat - now; out[#out + 1] = tat + interval - burst * interval - now
  else
    out[#out + 1] = free - granted; out[#out + 1] = new_tat - now; out[#out + 1] = 0
  end
end
return out
";

/// Most checks in one script call.
const MAX_BATCH: usize = 128;
/// Script calls in flight at once (a batch waits while all are out). One: checks that
/// arrive during a round trip share the next call, so principals that call seldom (one
/// check each) make about half the script calls they did with two in flight.
const IN_FLIGHT: usize = 1;
/// Checks waiting for a batch.
const QUEUE: usize = 4096;

/// One counter's question to Redis; `reply` may be gone (a lease given back).
struct Pending {
    tier: Tier,
    key: String,
    need: bool,
    want: u32,
    back: u32,
    reply: oneshot::Sender<Option<Grant>>,
}

type Leases = Mutex<HashMap<String, Lease>>;

pub(super) struct RedisLimiter {
    queue: mpsc::Sender<Pending>,
    shared: Arc<Shared>,
    leases: Arc<Leases>,
    /// Calls admitted from a lease, without a round trip.
    leased: metrics::Counter,
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
        let leases = Arc::new(Mutex::new(HashMap::new()));
        tokio::spawn(batch_checks(shared.clone(), pending));
        tokio::spawn(give_back_lapsed(Arc::downgrade(&leases), queue.downgrade()));
        Self {
            queue,
            shared,
            leases,
            leased: metrics::counter!("gateway_rate_limit_leased_total"),
        }
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
        let now = Instant::now();
        let take = with_lease(&self.leases, &key, tier, now, |lease| lease.take(now));
        let (want, back) = match take {
            Take::Spent {
                decision,
                refill,
                back,
            } => {
                self.leased.increment(1);
                if refill.is_some() || back > 0 {
                    self.refill(tier, key, refill.unwrap_or(0), back);
                }
                return Some(decision);
            }
            Take::Ask { want, back } => (want, back),
        };
        // A call dropped while it waits (client gone, deadline) must not leave the lease
        // thinking a refill is on its way.
        let mut pending_refill = PendingRefill {
            leases: &self.leases,
            key: &key,
            armed: want > 0,
        };
        let grant = ask(&self.queue, tier, key.clone(), true, want, back).await;
        let now = Instant::now();
        let decision = grant.map(|grant| {
            pending_refill.armed = false;
            with_lease(&self.leases, &key, tier, now, |lease| {
                lease.granted(grant, want, true, now)
            })
        });
        drop(pending_refill);
        if decision.is_none() {
            metrics::counter!("gateway_rate_limit_fallback_total").increment(1);
        }
        decision
    }

    /// Asks for `want` tokens for the lease in the background, giving `back` lapsed ones.
    fn refill(&self, tier: Tier, key: String, want: u32, back: u32) {
        let (queue, leases) = (self.queue.clone(), self.leases.clone());
        tokio::spawn(async move {
            let grant = ask(&queue, tier, key.clone(), false, want, back).await;
            let now = Instant::now();
            with_lease(&leases, &key, tier, now, |lease| match grant {
                Some(grant) => {
                    lease.granted(grant, want, false, now);
                }
                // Only a request that asked for tokens holds the refill flag.
                None if want > 0 => lease.refill_failed(),
                None => {}
            });
        });
    }
}

/// Clears the lease's refill flag when its request ends without an answer.
struct PendingRefill<'a> {
    leases: &'a Leases,
    key: &'a str,
    armed: bool,
}

impl Drop for PendingRefill<'_> {
    fn drop(&mut self) {
        if self.armed
            && let Some(lease) = self
                .leases
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_mut(self.key)
        {
            lease.refill_failed();
        }
    }
}

fn with_lease<T>(
    leases: &Leases,
    key: &str,
    tier: Tier,
    now: Instant,
    f: impl FnOnce(&mut Lease) -> T,
) -> T {
    let mut leases = leases.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(lease) = leases.get_mut(key) {
        return f(lease);
    }
    f(leases
        .entry(key.to_owned())
        .or_insert_with(|| Lease::new(tier, now)))
}

/// Queues one question for the batcher; `None` when the queue is full or Redis failed.
async fn ask(
    queue: &mpsc::Sender<Pending>,
    tier: Tier,
    key: String,
    need: bool,
    want: u32,
    back: u32,
) -> Option<Grant> {
    let (reply, grant) = oneshot::channel();
    let pending = Pending {
        tier,
        key,
        need,
        want,
        back,
        reply,
    };
    queue.try_send(pending).ok()?;
    grant.await.ok().flatten()
}

/// Every [`LEASE_TTL`], gives Redis back the leased tokens whose time is up and forgets
/// idle counters; ends with the limiter.
async fn give_back_lapsed(leases: Weak<Leases>, queue: mpsc::WeakSender<Pending>) {
    let mut tick = tokio::time::interval(LEASE_TTL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (Some(leases), Some(queue)) = (leases.upgrade(), queue.upgrade()) else {
            return;
        };
        let now = Instant::now();
        let mut lapsed = Vec::new();
        leases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|key, lease| {
                let back = lease.lapse(now);
                if back > 0 {
                    lapsed.push((lease.tier, key.clone(), back));
                }
                !lease.idle(now)
            });
        for (tier, key, back) in lapsed {
            let (reply, _) = oneshot::channel();
            let pending = Pending {
                tier,
                key,
                need: false,
                want: 0,
                back,
                reply,
            };
            // A full queue loses the give-back: the tokens come back as the burst refills.
            let _ = queue.try_send(pending);
        }
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
    /// `EVALSHA` (loading the script when Redis has forgotten it), written at most once:
    /// fred replays commands that were in flight when a connection dropped, and a replayed
    /// give-back would refund tokens twice.
    async fn run_script(&self, command: Vec<Value>) -> Result<Vec<i64>, fred::error::Error> {
        use fred::interfaces::ClientLike as _;
        let client = self.redis.pool().next();
        let once = client.with_options(&fred::types::config::Options {
            max_attempts: Some(1),
            ..Default::default()
        });
        // The first key (after the hash and the key count) picks the cluster slot.
        let evalsha = fred::types::CustomCommand::new_static(
            "EVALSHA",
            fred::types::ClusterHash::Offset(2),
            false,
        );
        // Kept for the rare retry: the strings are shared buffers, the numbers copies.
        let retry = command.clone();
        match once.custom(evalsha.clone(), command).await {
            Err(error) if error.details().starts_with("NOSCRIPT") => {
                self.script.load(client).await?;
                once.custom(evalsha, retry).await
            }
            reply => reply,
        }
    }

    async fn send(&self, mut checks: Vec<Pending>) {
        // EVALSHA's arguments: the hash, the key count, the keys (moved: only the replies
        // are needed after this), then five numbers a key.
        let mut command = Vec::with_capacity(2 + checks.len() * 6);
        command.push(Value::from(self.script.sha1().clone()));
        command.push(Value::Integer(
            i64::try_from(checks.len()).unwrap_or(i64::MAX),
        ));
        command.extend(
            checks
                .iter_mut()
                .map(|check| Value::from(std::mem::take(&mut check.key))),
        );
        for check in &checks {
            let interval = i64::try_from(check.tier.quota.interval().as_micros())
                .unwrap_or(i64::MAX)
                .max(1);
            command.extend([
                Value::Integer(interval),
                Value::from(check.tier.quota.burst),
                Value::Integer(i64::from(check.need)),
                Value::from(check.want),
                Value::from(check.back),
            ]);
        }
        let reply = self.run_script(command).await;
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
            let grant = values.get(index * 4..index * 4 + 4).map(|v| Grant {
                granted: u32::try_from(v[0]).unwrap_or(0),
                remaining: u32::try_from(v[1]).unwrap_or(0),
                reset_after: micros(v[2]),
                retry_after: micros(v[3]),
            });
            let _ = check.reply.send(grant);
        }
    }
}
