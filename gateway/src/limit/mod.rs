//! Rate limiting (GCRA) per principal — or client IP for anonymous callers — and rate
//! class. Counted globally in Redis when configured (one script, one round trip; most
//! calls from tokens leased in advance, `lease.rs`) and in process otherwise; when Redis
//! fails, the in-process limiter takes over, so a call is never unlimited.

mod lease;
mod local;
mod redis;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use tokio_util::sync::CancellationToken;

use crate::auth::Principal;
use crate::policy::{RateClass, Role};
use local::LocalLimiter;
use redis::RedisLimiter;

/// A limit: `per_minute` calls on average, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    pub per_minute: u32,
    pub burst: u32,
}

impl Quota {
    /// Time between two calls at the sustained rate (GCRA's emission interval).
    pub fn interval(self) -> Duration {
        Duration::from_secs(60) / self.per_minute.max(1)
    }
}

/// The limit of each tier.
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    pub anonymous: Quota,
    pub customer: Quota,
    pub staff: Quota,
    pub admin: Quota,
    /// The reasoning class, whatever the role.
    pub reasoning: Quota,
}

impl Default for LimitSettings {
    /// The old system's limits.
    fn default() -> Self {
        let quota = |per_minute| Quota {
            per_minute,
            burst: per_minute,
        };
        Self {
            anonymous: quota(100),
            customer: quota(300),
            staff: quota(300),
            admin: quota(1000),
            reasoning: quota(10),
        }
    }
}

impl LimitSettings {
    /// Every tier under its `RateLimit-Policy` name: anonymous, customer, staff, admin,
    /// reasoning.
    fn tiers(&self) -> [Tier; 5] {
        let tier = |name, quota| Tier { name, quota };
        [
            tier("anonymous", self.anonymous),
            tier("customer", self.customer),
            tier("staff", self.staff),
            tier("admin", self.admin),
            tier("reasoning", self.reasoning),
        ]
    }
}

/// A named limit, as in the `RateLimit-Policy` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tier {
    pub name: &'static str,
    pub quota: Quota,
}

impl Tier {
    /// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers): `"name";q=burst;w=window`.
    fn policy(self) -> String {
        let window = self.quota.interval() * self.quota.burst;
        format!(
            "\"{}\";q={};w={}",
            self.name,
            self.quota.burst,
            window.as_secs().max(1)
        )
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub tier: Tier,
    /// Calls left in the burst after this one.
    pub remaining: u32,
    /// Until the burst is whole again.
    pub reset_after: Duration,
    /// For a refused call: when the next call would be allowed.
    pub retry_after: Duration,
}

/// Where the counts live. Cheap to clone.
#[derive(Clone)]
pub struct RateLimiter {
    settings: LimitSettings,
    /// Each tier's `RateLimit-Policy` value: it never changes, so it is rendered once.
    policies: Arc<[(Tier, HeaderValue)]>,
    local: Arc<LocalLimiter>,
    redis: Option<Arc<RedisLimiter>>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("settings", &self.settings)
            .field("redis", &self.redis.is_some())
            .finish()
    }
}

impl RateLimiter {
    pub fn new(settings: LimitSettings, redis: Option<vibe_redis::Redis>) -> Self {
        let policies = settings
            .tiers()
            .into_iter()
            .filter_map(|tier| Some((tier, HeaderValue::from_str(&tier.policy()).ok()?)))
            .collect();
        Self {
            settings,
            policies,
            local: Arc::new(LocalLimiter::new(&settings)),
            redis: redis.map(|redis| Arc::new(RedisLimiter::new(redis))),
        }
    }

    /// The tier a call counts against; `None` when it is not limited per principal
    /// (internal RPCs and service principals).
    pub fn tier(&self, principal: &Principal, class: RateClass) -> Option<Tier> {
        if class == RateClass::Internal || principal.roles.contains(&Role::Service) {
            return None;
        }
        let [anonymous, customer, staff, admin, reasoning] = self.settings.tiers();
        Some(match (class, principal.primary_role()) {
            (RateClass::Reasoning, _) => reasoning,
            (_, Role::Admin) => admin,
            (_, Role::Staff) => staff,
            (_, Role::Customer) => customer,
            _ => anonymous,
        })
    }

    /// The `RateLimit-Policy` header of `tier`.
    pub fn policy_header(&self, tier: Tier) -> Option<&HeaderValue> {
        self.policies
            .iter()
            .find(|(known, _)| *known == tier)
            .map(|(_, value)| value)
    }

    /// Counts one call of `principal` (or of `client_ip` when anonymous) in `tier`.
    pub async fn check(
        &self,
        tier: Tier,
        principal: &Principal,
        client_ip: Option<IpAddr>,
    ) -> Decision {
        let address;
        let who = match (principal.is_anonymous(), client_ip) {
            (false, _) => principal.limit_key.as_str(),
            (true, Some(ip)) => {
                address = format!("ip:{ip}");
                address.as_str()
            }
            (true, None) => "ip:unknown",
        };
        if let Some(redis) = &self.redis
            && let Some(decision) = redis.check(tier, who).await
        {
            return decision;
        }
        self.local.check(tier, who)
    }

    /// Whether the global (Redis) counter is in use right now; false in-process only
    /// or while Redis is skipped after an error.
    pub fn global(&self) -> bool {
        self.redis.as_ref().is_some_and(|redis| redis.healthy())
    }

    /// Forgets idle in-process counters every minute until `stop`.
    pub async fn run_maintenance(self, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(60)) => self.local.forget_idle(),
            }
        }
    }
}
