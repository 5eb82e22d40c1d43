//! A small circuit breaker for callers that can carry on without Redis (the cache's shared
//! layer, the global rate limiter): after an error, skip Redis for a while instead of
//! making every request pay the command timeout.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long Redis is skipped after an error. Short: a recovered Redis should be used
/// again within a second or two.
pub const SKIP_AFTER_ERROR: Duration = Duration::from_secs(1);

/// Skips Redis for [`SKIP_AFTER_ERROR`] after a failed command; logs each change of state
/// once, naming the user and what it does meanwhile.
pub struct Breaker {
    user: &'static str,
    fallback: &'static str,
    state: Mutex<State>,
    errors: AtomicU64,
}

struct State {
    healthy: bool,
    skip_until: Option<Instant>,
}

impl Breaker {
    /// `user` names the caller in logs (e.g. `cache:dashboard`); `fallback` says what it
    /// does while Redis is skipped (e.g. "serving from the in-process layer").
    pub fn new(user: &'static str, fallback: &'static str) -> Self {
        Self {
            user,
            fallback,
            state: Mutex::new(State {
                healthy: true,
                skip_until: None,
            }),
            errors: AtomicU64::new(0),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is two plain fields; a panic elsewhere cannot leave it torn.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a command may be sent now. Once the skip period is over, one caller
    /// probes (half-open) while the others keep skipping until its result is known,
    /// so a still-dead Redis costs one command timeout per period, not one per request.
    pub fn allows(&self) -> bool {
        let mut state = self.state();
        match state.skip_until {
            None => true,
            Some(until) => {
                let now = Instant::now();
                if now < until {
                    return false;
                }
                state.skip_until = Some(now + SKIP_AFTER_ERROR);
                true
            }
        }
    }

    pub fn succeeded(&self) {
        let mut state = self.state();
        state.skip_until = None;
        if !state.healthy {
            state.healthy = true;
            tracing::info!(user = self.user, "redis is available again");
        }
    }

    pub fn failed(&self, operation: &'static str, error: &fred::error::Error) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut state = self.state();
        state.skip_until = Some(Instant::now() + SKIP_AFTER_ERROR);
        if state.healthy {
            state.healthy = false;
            // Logged once per state change, not per failed command.
            tracing::warn!(
                user = self.user,
                operation,
                error = %error,
                skip_for = ?SKIP_AFTER_ERROR,
                fallback = self.fallback,
                "redis failed"
            );
        } else {
            tracing::debug!(user = self.user, operation, error = %error, "redis still failing");
        }
    }

    pub fn healthy(&self) -> bool {
        self.state().healthy
    }

    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_opens_and_a_success_closes() {
        let breaker = Breaker::new("test", "testing");
        assert!(breaker.allows() && breaker.healthy());
        let error = fred::error::Error::new(fred::error::ErrorKind::Timeout, "timed out");
        breaker.failed("read", &error);
        assert!(!breaker.allows());
        assert!(!breaker.healthy());
        assert_eq!(breaker.errors(), 1);
        breaker.succeeded();
        assert!(breaker.allows() && breaker.healthy());
    }

    #[test]
    fn after_the_pause_one_caller_probes() {
        let breaker = Breaker::new("test", "testing");
        let error = fred::error::Error::new(fred::error::ErrorKind::Timeout, "timed out");
        breaker.failed("read", &error);
        // Pretend the pause is over.
        breaker.state().skip_until = Some(Instant::now());
        assert!(breaker.allows(), "the probe goes through");
        assert!(!breaker.allows(), "the others wait for its result");
        breaker.failed("read", &error);
        assert!(!breaker.allows());
        assert!(!breaker.healthy());
    }
}
