//! How long a value is fresh, stale and kept for errors, and how fills coordinate.

use std::time::{Duration, SystemTime};

/// Windows are measured from a value's `as_of` (when it was computed), so every
/// replica that holds a copy of the value agrees on its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    /// Until `as_of + fresh_for` the value is served as [`Freshness::Fresh`].
    pub fresh_for: Duration,
    /// Until `as_of + stale_for` the value is served as [`Freshness::Stale`] at once
    /// while one background refresh per key and process runs.
    pub stale_for: Duration,
    /// Until `as_of + error_for` the value is served as [`Freshness::StaleOnError`],
    /// but only when a fill fails; after that it is gone.
    pub error_for: Duration,
    /// After a failed fill, serve stale-on-error without retrying for this long, so a
    /// sick warehouse is not hammered by every request. With Redis the pause is
    /// cluster-wide (a failure marker that lives at least 1 s, so replicas waiting on
    /// the failed fill's lock see it).
    pub error_retry_after: Duration,
    /// Lifetime of the cluster-wide fill lock (Redis `SET NX PX`); also the upper bound
    /// of one fill, since a fill that outlives its lock would race another replica's.
    pub fill_lock_ttl: Duration,
    /// How long a replica waits for another replica's fill before filling itself.
    pub fill_lock_wait: Duration,
    /// Capacity of the in-process layer, in entries.
    pub max_entries: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            fresh_for: Duration::from_secs(30),
            stale_for: Duration::from_secs(5 * 60),
            error_for: Duration::from_secs(60 * 60),
            error_retry_after: Duration::from_secs(5),
            fill_lock_ttl: Duration::from_secs(30),
            fill_lock_wait: Duration::from_secs(5),
            max_entries: 10_000,
        }
    }
}

impl CacheSettings {
    /// Puts the windows in order (`fresh_for <= stale_for <= error_for`) instead of
    /// failing: a shorter later window would only mean "no such phase".
    pub(crate) fn normalized(mut self) -> Self {
        self.stale_for = self.stale_for.max(self.fresh_for);
        self.error_for = self.error_for.max(self.stale_for);
        self.max_entries = self.max_entries.max(1);
        // A zero lock lifetime is rejected by Redis (`PX 0`).
        self.fill_lock_ttl = self.fill_lock_ttl.max(Duration::from_millis(1));
        self
    }

    /// Where a value computed at `as_of` stands at `now`.
    pub(crate) fn phase(&self, as_of: SystemTime, now: SystemTime) -> Phase {
        // A value from a replica whose clock runs ahead counts as just computed.
        let age = now.duration_since(as_of).unwrap_or_default();
        if age < self.fresh_for {
            Phase::Fresh
        } else if age < self.stale_for {
            Phase::Stale
        } else if age < self.error_for {
            Phase::ErrorWindow
        } else {
            Phase::Expired
        }
    }

    /// How much of the error window a value computed at `as_of` has left.
    pub(crate) fn remaining_life(&self, as_of: SystemTime, now: SystemTime) -> Duration {
        let age = now.duration_since(as_of).unwrap_or_default();
        self.error_for.saturating_sub(age)
    }
}

/// How fresh a served value is; every response carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Freshness {
    /// Within `fresh_for`.
    Fresh,
    /// Within `stale_for`; a background refresh is running or was just tried.
    Stale,
    /// Past `stale_for`, served only because fills are failing.
    StaleOnError,
}

impl Freshness {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::Stale => "stale",
            Self::StaleOnError => "stale_on_error",
        }
    }
}

/// A value's phase at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Fresh,
    Stale,
    /// Past `stale_for`: usable only as a fallback for a failed fill.
    ErrorWindow,
    Expired,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_follow_the_windows() {
        let settings = CacheSettings {
            fresh_for: Duration::from_secs(1),
            stale_for: Duration::from_secs(2),
            error_for: Duration::from_secs(3),
            ..CacheSettings::default()
        };
        let as_of = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let at = |secs: f64| as_of + Duration::from_secs_f64(secs);
        assert_eq!(settings.phase(as_of, at(0.5)), Phase::Fresh);
        assert_eq!(settings.phase(as_of, at(1.5)), Phase::Stale);
        assert_eq!(settings.phase(as_of, at(2.5)), Phase::ErrorWindow);
        assert_eq!(settings.phase(as_of, at(3.5)), Phase::Expired);
        // Clock skew: a value from the future is fresh.
        assert_eq!(settings.phase(at(10.0), as_of), Phase::Fresh);
        assert_eq!(
            settings.remaining_life(as_of, at(2.5)),
            Duration::from_millis(500)
        );
    }

    #[test]
    fn normalizing_orders_the_windows() {
        let settings = CacheSettings {
            fresh_for: Duration::from_secs(10),
            stale_for: Duration::from_secs(5),
            error_for: Duration::from_secs(1),
            max_entries: 0,
            ..CacheSettings::default()
        }
        .normalized();
        assert_eq!(settings.stale_for, Duration::from_secs(10));
        assert_eq!(settings.error_for, Duration::from_secs(10));
        assert_eq!(settings.max_entries, 1);
    }
}
