//! The shared Redis connection pool (fred) for every vibe service that uses Redis.
//!
//! Invariant: one pool per process, built from [`RedisSettings`], reconnecting on its own
//! with bounded backoff; every command has a timeout, so a dead Redis costs a caller at
//! most `command_timeout`, never a hang. Callers decide what to do when Redis is down.

mod breaker;

use std::time::Duration;

use fred::prelude::*;
use secrecy::{ExposeSecret, SecretString};

pub use breaker::{Breaker, SKIP_AFTER_ERROR};

/// Where Redis is and how to talk to it.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS); a secret
    /// because it may hold a password.
    pub url: SecretString,
    /// Connections in the pool.
    pub pool_size: usize,
    /// Upper bound for any single command, including waiting for a reconnect.
    pub command_timeout: Duration,
    /// Upper bound for establishing a connection.
    pub connect_timeout: Duration,
}

/// URL schemes fred understands; anything else is a typo, not a default.
const SCHEMES: &[&str] = &[
    "redis",
    "rediss",
    "redis-cluster",
    "rediss-cluster",
    "redis-sentinel",
    "rediss-sentinel",
];

impl RedisSettings {
    /// Checks the URL without connecting; the error never echoes it (it may carry a
    /// password).
    pub fn validate(&self) -> Result<(), RedisError> {
        self.parse_url().map(|_| ())
    }

    fn parse_url(&self) -> Result<Config, RedisError> {
        let url = self.url.expose_secret();
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        if !scheme.is_some_and(|scheme| SCHEMES.contains(&scheme)) {
            return Err(RedisError::InvalidUrl(format!(
                "expected one of the schemes {}",
                SCHEMES.join(", ")
            )));
        }
        Config::from_url(url).map_err(|err| RedisError::InvalidUrl(err.details().to_string()))
    }
}

/// Why Redis could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("invalid redis url: {0}")]
    InvalidUrl(String),
    #[error("redis: {0}")]
    Command(#[from] fred::error::Error),
}

/// A pooled, reconnecting Redis client. Cheap to clone.
#[derive(Clone)]
pub struct Redis {
    pool: Pool,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("pool_size", &self.pool.size())
            .finish()
    }
}

impl Redis {
    /// Builds the pool and starts connecting in the background. Returns at once: a Redis
    /// that is down at start is reported by [`Redis::ping`] (readiness), not by failing
    /// the process.
    pub async fn connect(settings: &RedisSettings) -> Result<Self, RedisError> {
        let mut config = settings.parse_url()?;
        // Keep retrying when Redis is down at start instead of giving up for good.
        config.fail_fast = false;
        let pool = Builder::from_config(config)
            .with_performance_config(|perf| {
                perf.default_command_timeout = settings.command_timeout;
            })
            .with_connection_config(|conn| {
                // Pipelined small commands: Nagle would hold a command back until the
                // previous one's answer (and its ACK) came back.
                conn.tcp.nodelay = Some(true);
                conn.connection_timeout = settings.connect_timeout;
                conn.internal_command_timeout = settings.command_timeout;
            })
            // Retry forever with capped exponential backoff: Redis coming back must be
            // picked up without a restart.
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
            .build_pool(settings.pool_size.max(1))?;
        // The connection tasks run detached; they end when the pool quits.
        drop(pool.connect_pool());
        Ok(Self { pool })
    }

    /// One round trip; `Ok` means Redis answered within the command timeout.
    pub async fn ping(&self) -> Result<(), RedisError> {
        let _: String = self.pool.ping(None).await?;
        Ok(())
    }

    /// The underlying pool, for crates that issue their own commands.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Closes every connection; pending commands fail.
    pub async fn quit(&self) {
        if let Err(err) = self.pool.quit().await {
            tracing::debug!(error = %err, "redis quit failed");
        }
    }
}
