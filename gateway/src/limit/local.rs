//! The in-process limiter: governor's keyed GCRA, one limiter per tier.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;

use super::{Decision, LimitSettings, Quota, Tier};

type Keyed = governor::RateLimiter<
    String,
    DefaultKeyedStateStore<String>,
    DefaultClock,
    StateInformationMiddleware,
>;

pub(super) struct LocalLimiter {
    tiers: HashMap<Quota, Keyed>,
    clock: DefaultClock,
}

impl LocalLimiter {
    pub fn new(settings: &LimitSettings) -> Self {
        let mut tiers = HashMap::new();
        for Tier { quota, .. } in settings.tiers() {
            tiers.entry(quota).or_insert_with(|| keyed(quota));
        }
        Self {
            tiers,
            clock: DefaultClock::default(),
        }
    }

    pub fn check(&self, tier: Tier, who: &str) -> Decision {
        let interval = tier.quota.interval();
        let key = format!("{}:{who}", tier.name);
        let Some(limiter) = self.tiers.get(&tier.quota) else {
            // Every tier's quota is registered in `new`; refuse rather than not limit.
            return refused(tier, interval);
        };
        match limiter.check_key(&key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Decision {
                    allowed: true,
                    tier,
                    remaining,
                    reset_after: interval * (tier.quota.burst.saturating_sub(remaining)),
                    retry_after: Duration::ZERO,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Decision {
                    reset_after: interval * tier.quota.burst,
                    ..refused(tier, wait)
                }
            }
        }
    }

    pub fn forget_idle(&self) {
        for limiter in self.tiers.values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

fn keyed(quota: Quota) -> Keyed {
    let burst = NonZeroU32::new(quota.burst.max(1)).unwrap_or(NonZeroU32::MIN);
    let gcra = governor::Quota::with_period(quota.interval())
        .unwrap_or_else(|| governor::Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst);
    governor::RateLimiter::keyed(gcra).with_middleware::<StateInformationMiddleware>()
}

fn refused(tier: Tier, retry_after: Duration) -> Decision {
    Decision {
        allowed: false,
        tier,
        remaining: 0,
        reset_after: retry_after,
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_burst_then_a_wait() {
        let settings = LimitSettings::default();
        let limiter = LocalLimiter::new(&settings);
        let tier = Tier {
            name: "staff",
            quota: settings.staff,
        };
        for left in (0..300).rev() {
            let decision = limiter.check(tier, "sub:ana");
            assert!(decision.allowed);
            assert_eq!(decision.remaining, left);
        }
        let refused = limiter.check(tier, "sub:ana");
        assert!(!refused.allowed);
        assert!(
            refused.retry_after > Duration::ZERO
                && refused.retry_after <= Duration::from_millis(200)
        );
        assert!(
            limiter.check(tier, "sub:bo").allowed,
            "each principal has its own budget"
        );
    }
}
