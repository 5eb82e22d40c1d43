//! Tokens one gateway holds for one Redis counter, so a busy principal pays one script
//! round trip per lease instead of one per call (token leasing, as in CockroachDB's tenant
//! cost control or Kong's synced counters, but charged up front).
//!
//! Redis charges a lease when it grants it, so all replicas together never admit more than
//! the shared budget at the time of the grant. A lease is only ever a fraction of what is
//! left (the script grants at most an eighth), so near the limit every call is counted in
//! Redis one by one and a principal gets its burst as Redis counts it. A grant of several
//! tokens is spent at most [`LEASE_TTL`] after it, soonest to lapse first: its slack
//! against counting each call when it runs is the refill of that time (about one call at
//! 300 per minute). Unspent tokens then lapse; those whose charge still stands go back to
//! Redis. Each grant lapses on its own, so a principal whose refills keep coming never
//! finds its lease empty.
//!
//! Every call asks for at least one token beyond itself, so a principal that calls now and
//! then (a member of staff every few seconds) finds one waiting and its call makes no round
//! trip: the next token is asked for in the background. A grant of a single token keeps
//! for [`ONE_TOKEN_TTL`]; its slack is that one call, however long it waits: after a pause
//! long enough for Redis to forget its charge, a burst gets one call more from each
//! gateway holding such a token.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{Decision, Tier};

/// How long a grant of several tokens may be spent.
pub(super) const LEASE_TTL: Duration = Duration::from_millis(250);
/// How long a grant of a single token may be spent: longer than a principal calling now
/// and then waits between calls, as holding one token lets through at most one call more.
const ONE_TOKEN_TTL: Duration = Duration::from_secs(10);
/// The window in which calls are counted to size the next lease.
const WINDOW: Duration = Duration::from_millis(100);
/// Most tokens asked for beyond the call at hand.
const MAX_LEASE: u32 = 1024;

/// What Redis granted: `granted` tokens (the call at hand first), and its view after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Grant {
    pub granted: u32,
    pub remaining: u32,
    pub reset_after: Duration,
    pub retry_after: Duration,
}

/// The outcome of [`Lease::take`].
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Take {
    /// Admitted from the lease; in the background, ask Redis for `refill` more tokens
    /// and give `back` lapsed ones.
    Spent {
        decision: Decision,
        refill: Option<u32>,
        back: u32,
    },
    /// Ask Redis for the call and `want` tokens more, giving `back` unspent ones.
    Ask { want: u32, back: u32 },
}

/// The unspent tokens of one grant.
#[derive(Debug)]
struct Batch {
    tokens: u32,
    /// [`LEASE_TTL`] after the grant, or [`ONE_TOKEN_TTL`] for a single token.
    expires: Instant,
}

#[derive(Debug)]
pub(super) struct Lease {
    pub tier: Tier,
    /// Unspent tokens by grant, soonest to lapse first; none is empty.
    batches: VecDeque<Batch>,
    /// Their sum.
    tokens: u32,
    /// Redis's theoretical arrival time after the last grant, when its burst is whole
    /// again: charges above `now` still stand, so only those may be given back (time has
    /// already forgiven the rest).
    charged_until: Instant,
    /// Tokens of the last grant, to refill when half of them are spent.
    last_grant: u32,
    /// Redis's count of calls left after the last grant.
    remaining: u32,
    /// A request asking for more tokens is on its way; others ask only for their call.
    refilling: bool,
    window_start: Instant,
    this_window: u32,
    last_window: u32,
}

impl Lease {
    pub fn new(tier: Tier, now: Instant) -> Self {
        Self {
            tier,
            batches: VecDeque::new(),
            tokens: 0,
            charged_until: now,
            last_grant: 0,
            remaining: 0,
            refilling: false,
            window_start: now,
            this_window: 0,
            last_window: 0,
        }
    }

    /// One call: spends a leased token when there is one, or says what to ask Redis for.
    pub fn take(&mut self, now: Instant) -> Take {
        self.count(now);
        let back = self.lapse(now);
        if let Some(soonest) = self.batches.front_mut() {
            soonest.tokens -= 1;
            if soonest.tokens == 0 {
                self.batches.pop_front();
            }
            self.tokens -= 1;
            let refill =
                (self.tokens * 2 <= self.last_grant && !self.refilling).then(|| self.want());
            self.refilling |= refill.is_some();
            let decision = Decision {
                allowed: true,
                tier: self.tier,
                remaining: self.remaining.saturating_add(self.tokens),
                reset_after: self.charged_until.saturating_duration_since(now),
                retry_after: Duration::ZERO,
            };
            return Take::Spent {
                decision,
                refill,
                back,
            };
        }
        let want = if self.refilling { 0 } else { self.want() };
        self.refilling |= want > 0;
        Take::Ask { want, back }
    }

    /// Records Redis's answer to a request that asked for `want` more tokens, the first
    /// one of them for the call at hand when `for_call`; returns that call's decision.
    pub fn granted(&mut self, grant: Grant, want: u32, for_call: bool, now: Instant) -> Decision {
        if want > 0 {
            self.refilling = false;
        }
        let for_lease = grant.granted.saturating_sub(u32::from(for_call));
        if for_lease > 0 {
            let ttl = if for_lease == 1 {
                ONE_TOKEN_TTL
            } else {
                LEASE_TTL
            };
            let expires = now + ttl;
            // Grants arrive in expiry order today (one refill at a time; a single token's
            // refill waits until it is spent); sorting keeps `lapse` right if that changes.
            let at = self
                .batches
                .partition_point(|batch| batch.expires <= expires);
            self.batches.insert(
                at,
                Batch {
                    tokens: for_lease,
                    expires,
                },
            );
            self.tokens = self.tokens.saturating_add(for_lease);
            self.last_grant = for_lease;
        }
        self.charged_until = now + grant.reset_after;
        self.remaining = grant.remaining;
        Decision {
            allowed: grant.granted > 0,
            tier: self.tier,
            remaining: grant.remaining.saturating_add(self.tokens),
            reset_after: grant.reset_after,
            retry_after: grant.retry_after,
        }
    }

    /// A request for more tokens failed: let the next call ask again.
    pub fn refill_failed(&mut self) {
        self.refilling = false;
    }

    /// Takes back the tokens whose time is up; returns how many to give back to Redis:
    /// only those whose charge still stands.
    pub fn lapse(&mut self, now: Instant) -> u32 {
        let mut lapsed = 0u32;
        while let Some(soonest) = self.batches.front()
            && soonest.expires <= now
        {
            lapsed = lapsed.saturating_add(soonest.tokens);
            self.batches.pop_front();
        }
        if lapsed == 0 {
            return 0;
        }
        self.tokens -= lapsed;
        let interval = self.tier.quota.interval().max(Duration::from_micros(1));
        let standing = self
            .charged_until
            .saturating_duration_since(now)
            .as_micros()
            / interval.as_micros();
        let back = lapsed.min(u32::try_from(standing).unwrap_or(u32::MAX));
        // Redis's arrival time moves back by what is given back: a later lapse must not
        // count those charges as standing again.
        self.charged_until = self
            .charged_until
            .checked_sub(interval * back)
            .unwrap_or(now);
        back
    }

    /// Nothing held, nothing asked, no call for a while: the entry can go.
    pub fn idle(&self, now: Instant) -> bool {
        self.tokens == 0
            && !self.refilling
            && now.saturating_duration_since(self.window_start) > WINDOW * 2
    }

    fn count(&mut self, now: Instant) {
        let since = now.saturating_duration_since(self.window_start);
        if since >= WINDOW {
            self.last_window = if since < WINDOW * 2 {
                self.this_window
            } else {
                0
            };
            self.this_window = 0;
            self.window_start = now;
        }
        self.this_window = self.this_window.saturating_add(1);
    }

    /// Tokens to ask for beyond the call at hand: about one window's calls besides it, and
    /// at least one, for the next call of a principal calling now and then.
    fn want(&self) -> u32 {
        self.this_window
            .saturating_sub(1)
            .max(self.last_window)
            .clamp(1, MAX_LEASE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limit::Quota;

    const TIER: Tier = Tier {
        name: "staff",
        quota: Quota {
            per_minute: 6000,
            burst: 6000,
        },
    };

    fn grant(granted: u32, remaining: u32) -> Grant {
        Grant {
            granted,
            remaining,
            reset_after: Duration::from_secs(1),
            retry_after: Duration::ZERO,
        }
    }

    /// A lease after two calls in one window, the second asking for one token more.
    fn two_calls(now: Instant) -> Lease {
        let mut lease = Lease::new(TIER, now);
        lease.take(now);
        lease.take(now);
        lease
    }

    /// Spends a leased token: the remaining count reported and the refill asked for.
    fn spend(lease: &mut Lease, now: Instant) -> (u32, Option<u32>) {
        match lease.take(now) {
            Take::Spent {
                decision,
                refill,
                back: 0,
            } => (decision.remaining, refill),
            Take::Spent { back, .. } => panic!("{back} lapsed tokens to give back"),
            Take::Ask { .. } => panic!("no leased token"),
        }
    }

    #[test]
    fn a_principal_calling_now_and_then_finds_a_token_waiting_for_its_next_call() {
        let start = Instant::now();
        let mut lease = Lease::new(TIER, start);
        assert_eq!(lease.take(start), Take::Ask { want: 1, back: 0 });
        let decision = lease.granted(grant(2, 5998), 1, true, start);
        assert!(decision.allowed);
        assert_eq!(
            decision.remaining, 5999,
            "Redis's 5998 and the one held here"
        );
        let pause = Duration::from_secs(3);
        for i in 1..4 {
            let now = start + pause * i;
            assert_eq!(spend(&mut lease, now), (5998, Some(1)), "call {i}");
            lease.granted(grant(1, 5998), 1, false, now);
        }
        // Unspent for longer than a single token keeps: it lapses, its charge long forgiven.
        let later = start + pause * 3 + ONE_TOKEN_TTL;
        assert_eq!(lease.take(later), Take::Ask { want: 1, back: 0 });
    }

    #[test]
    fn the_tokens_soonest_to_lapse_are_spent_first() {
        let now = Instant::now();
        let mut lease = two_calls(now);
        lease.granted(grant(2, 100), 1, true, now);
        lease.granted(grant(3, 100), 1, false, now);
        assert_eq!(lease.tokens, 4);
        assert_eq!(spend(&mut lease, now).0, 103, "one of the three");
        // The other two lapse with their lease; the single token keeps.
        assert_eq!(lease.lapse(now + LEASE_TTL), 2);
        assert_eq!(lease.tokens, 1);
        assert_eq!(spend(&mut lease, now + LEASE_TTL).0, 100);
    }

    #[test]
    fn a_busy_principal_spends_a_lease_and_refills_it_before_it_runs_out() {
        let now = Instant::now();
        let mut lease = Lease::new(TIER, now);
        let ask = |want| Take::Ask { want, back: 0 };
        assert_eq!(lease.take(now), ask(1), "first: itself and the next call");
        assert_eq!(lease.take(now), ask(0), "one refill at a time");
        lease.granted(grant(2, 98), 1, true, now);
        let decision = lease.granted(grant(1, 97), 0, true, now);
        assert_eq!(decision.remaining, 98, "Redis's 97 and the one held here");

        assert_eq!(spend(&mut lease, now), (97, Some(2)), "all spent: refill");
        assert_eq!(lease.take(now), ask(0), "refill on its way");

        lease.granted(grant(8, 80), 2, false, now);
        for left in [7, 6, 5] {
            assert_eq!(spend(&mut lease, now), (80 + left, None));
        }
        let (remaining, refill) = spend(&mut lease, now);
        assert_eq!(
            (remaining, refill),
            (84, Some(7)),
            "half spent: a window's calls"
        );
    }

    #[test]
    fn unspent_tokens_lapse_and_go_back() {
        let now = Instant::now();
        let mut lease = two_calls(now);
        lease.granted(grant(4, 10), 1, true, now);
        let later = now + LEASE_TTL;
        assert_eq!(lease.take(later), Take::Ask { want: 1, back: 3 });
        assert_eq!(lease.lapse(later), 0, "given back once");
        lease.granted(grant(1, 10), 1, true, later);
        assert!(lease.idle(later + WINDOW * 3));
    }

    #[test]
    fn tokens_whose_charge_time_has_forgiven_are_not_given_back() {
        let now = Instant::now();
        let mut lease = two_calls(now);
        // The bucket refills 10 ms per call: 100 ms after the grant, nothing it charged stands.
        let charged = Grant {
            reset_after: Duration::from_millis(100),
            ..grant(4, 10)
        };
        lease.granted(charged, 1, true, now);
        assert_eq!(lease.take(now + LEASE_TTL), Take::Ask { want: 1, back: 0 });
    }

    #[test]
    fn each_grant_lapses_on_its_own() {
        let now = Instant::now();
        let mut lease = two_calls(now);
        lease.granted(grant(3, 10), 1, true, now);
        lease.granted(grant(5, 10), 5, false, now + LEASE_TTL / 2);
        assert_eq!(spend(&mut lease, now + LEASE_TTL / 2).0, 16, "oldest first");
        let Take::Spent { decision, back, .. } = lease.take(now + LEASE_TTL) else {
            panic!("the second grant's tokens are still held");
        };
        assert_eq!(back, 1, "the first grant's last token lapsed");
        assert_eq!(
            decision.remaining, 14,
            "Redis's 10 and the second grant's 4 left"
        );
        assert_eq!(
            lease.lapse(now + LEASE_TTL * 3 / 2),
            4,
            "the rest at their own time"
        );
        assert_eq!(lease.tokens, 0);
    }

    #[test]
    fn a_busy_principal_whose_refills_keep_coming_never_finds_its_lease_empty() {
        let start = Instant::now();
        let mut lease = Lease::new(TIER, start);
        let call = Duration::from_millis(1);
        let mut asked = 0;
        for n in 0..2_000u32 {
            let now = start + call * n;
            match lease.take(now) {
                Take::Spent { refill: None, .. } => {}
                // Redis answers within the same millisecond.
                Take::Spent {
                    refill: Some(want), ..
                } => {
                    lease.granted(grant(want, 5000), want, false, now);
                }
                Take::Ask { want, .. } => {
                    asked += 1;
                    lease.granted(grant(want + 1, 5000), want, true, now);
                }
            }
        }
        // The first calls of the first two windows size the lease; after that, none waits.
        assert!(asked <= 2, "{asked} calls waited for Redis");
    }

    #[test]
    fn a_refused_call_is_not_admitted_and_holds_nothing() {
        let now = Instant::now();
        let mut lease = Lease::new(TIER, now);
        lease.take(now);
        let refused = Grant {
            granted: 0,
            remaining: 0,
            reset_after: Duration::from_secs(60),
            retry_after: Duration::from_millis(10),
        };
        let decision = lease.granted(refused, 1, true, now);
        assert!(!decision.allowed);
        assert_eq!(decision.retry_after, Duration::from_millis(10));
        assert_eq!(lease.take(now), Take::Ask { want: 1, back: 0 });
    }
}
