//! The configuration file's schema: one TOML file, overridden by `VIBE_*` environment
//! variables, overridden by command-line flags.
//!
//! This is an edge format like the wire types: it is parsed and validated here, once,
//! and handed to the crates as their own plain settings types. Every struct denies
//! unknown keys, so a typo stops the process instead of being silently ignored.

mod compliance;
mod data;
mod gateway;
mod load;
mod secret;

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use compliance::Compliance;
pub use data::{
    BigQuery, BigQueryCredentials, Cache, Demo, DuckDb, Store, Warehouse, WarehouseBackend,
};
pub use gateway::{Auth, Gateway, Limit, PublicKey, RateLimits, Tls};
pub use load::{ConfigError, ConfigSources, flags_table, load};
pub use secret::Secret;

/// The whole configuration of a vibe process.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: Listen,
    pub upstreams: Upstreams,
    /// Shared Redis; when absent, caches, limits and queues stay in-process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<Redis>,
    pub health: Health,
    pub shutdown: Shutdown,
    pub telemetry: Telemetry,
    pub gateway: Gateway,
    pub store: Store,
    pub warehouse: Warehouse,
    pub cache: Cache,
    pub demo: Demo,
    pub compliance: Compliance,
}

/// Listen addresses.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Listen {
    /// The gateway: the public gRPC (and grpc-web) door.
    pub gateway: SocketAddr,
    /// The services' internal gRPC listener.
    pub grpc: SocketAddr,
    /// Prometheus metrics (`GET /metrics`).
    pub metrics: SocketAddr,
}

impl Default for Listen {
    fn default() -> Self {
        Self {
            gateway: SocketAddr::from(([127, 0, 0, 1], 8080)),
            grpc: SocketAddr::from(([127, 0, 0, 1], 50051)),
            metrics: SocketAddr::from(([127, 0, 0, 1], 9464)),
        }
    }
}

/// Where this process reaches targets it does not host itself (split mode).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Upstreams {
    pub integration: String,
    pub reasoning: String,
    pub memory: String,
    pub sync: String,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// A gateway replaces each connection to another target once this old, so calls
    /// spread over the pods a Deployment adds behind its Service.
    #[serde(with = "humantime_serde")]
    pub max_connection_age: Duration,
}

impl Default for Upstreams {
    fn default() -> Self {
        let local = "http://127.0.0.1:50051".to_owned();
        Self {
            integration: local.clone(),
            reasoning: local.clone(),
            memory: local.clone(),
            sync: local,
            connect_timeout: Duration::from_secs(2),
            max_connection_age: Duration::from_secs(120),
        }
    }
}

/// The shared Redis.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Redis {
    /// `redis://[user:password@]host:port[/db]`; a secret: a value (usually from
    /// `VIBE_REDIS__URL`) or `{ file = "/run/secrets/redis-url" }`.
    pub url: Secret,
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    #[serde(default = "default_command_timeout", with = "humantime_serde")]
    pub command_timeout: Duration,
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
}

fn default_pool_size() -> usize {
    4
}

fn default_command_timeout() -> Duration {
    Duration::from_millis(500)
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(2)
}

/// Readiness checking.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    /// How often each service's dependencies are checked.
    #[serde(with = "humantime_serde")]
    pub check_interval: Duration,
    /// How long one dependency check may take before it counts as failed.
    #[serde(with = "humantime_serde")]
    pub check_timeout: Duration,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            check_interval: Duration::from_secs(5),
            check_timeout: Duration::from_secs(2),
        }
    }
}

/// Graceful shutdown.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Shutdown {
    /// After SIGTERM, how long in-flight calls and streams may run before the process
    /// exits anyway. Keep Kubernetes' terminationGracePeriodSeconds above this.
    #[serde(with = "humantime_serde")]
    pub drain_deadline: Duration,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self {
            drain_deadline: Duration::from_secs(20),
        }
    }
}

/// Logs, traces and metrics.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Telemetry {
    /// `auto` (pretty on a terminal, JSON otherwise), `json` or `pretty`.
    pub log_format: LogFormat,
    /// Log filter directives, e.g. `info` or `info,vibe=debug`.
    pub log_filter: String,
    /// OTLP/gRPC collector, e.g. `http://otel-collector:4317`; no traces leave the
    /// process when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    /// `service.name` of exported spans.
    pub service_name: String,
    /// Share of new traces sampled, 0.0 to 1.0.
    pub trace_sample_ratio: f64,
}

impl Default for Telemetry {
    fn default() -> Self {
        let defaults = vibe_telemetry::TelemetrySettings::default();
        Self {
            log_format: LogFormat::Auto,
            log_filter: defaults.log_filter,
            otlp_endpoint: defaults.otlp_endpoint,
            service_name: defaults.service_name,
            trace_sample_ratio: defaults.trace_sample_ratio,
        }
    }
}

/// See [`Telemetry::log_format`].
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Auto,
    Json,
    Pretty,
}

impl Config {
    /// Checks what types alone cannot; the error names the key.
    fn validate(&self) -> Result<(), ConfigError> {
        self.store.validate()?;
        self.gateway.validate()?;
        self.warehouse.validate()?;
        self.cache.validate()?;
        self.demo.validate()?;
        self.compliance.validate()?;
        for (key, url) in [
            ("upstreams.integration", &self.upstreams.integration),
            ("upstreams.reasoning", &self.upstreams.reasoning),
            ("upstreams.memory", &self.upstreams.memory),
            ("upstreams.sync", &self.upstreams.sync),
        ] {
            let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
            if !scheme_ok || url.parse::<http::Uri>().is_err() {
                return Err(ConfigError::invalid(
                    key,
                    format!("expected an http:// or https:// address, found {url:?}"),
                ));
            }
        }
        if let Some(redis) = &self.redis {
            if redis.pool_size == 0 || redis.pool_size > 64 {
                return Err(ConfigError::invalid("redis.pool_size", "expected 1 to 64"));
            }
            redis
                .settings()
                .validate()
                .map_err(|err| ConfigError::invalid("redis.url", err.to_string()))?;
            require_duration("redis.command_timeout", redis.command_timeout)?;
            require_duration("redis.connect_timeout", redis.connect_timeout)?;
        }
        require_duration("health.check_interval", self.health.check_interval)?;
        require_duration("health.check_timeout", self.health.check_timeout)?;
        require_duration("shutdown.drain_deadline", self.shutdown.drain_deadline)?;
        require_duration("upstreams.connect_timeout", self.upstreams.connect_timeout)?;
        require_duration(
            "upstreams.max_connection_age",
            self.upstreams.max_connection_age,
        )?;
        if !(0.0..=1.0).contains(&self.telemetry.trace_sample_ratio) {
            return Err(ConfigError::invalid(
                "telemetry.trace_sample_ratio",
                "expected a number from 0.0 to 1.0",
            ));
        }
        vibe_telemetry::validate_log_filter(&self.telemetry.log_filter)
            .map_err(|reason| ConfigError::invalid("telemetry.log_filter", reason))?;
        if self.telemetry.service_name.trim().is_empty() {
            return Err(ConfigError::invalid(
                "telemetry.service_name",
                "must not be empty",
            ));
        }
        Ok(())
    }
}

/// Longest timeout, interval or age a key takes: longer ones are typos, and far longer
/// ones would overflow the clock arithmetic that uses them.
const LONGEST: Duration = Duration::from_secs(366 * 24 * 3600);

/// A timeout, interval or age: above zero and at most [`LONGEST`].
pub(crate) fn require_duration(key: &str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        return Err(ConfigError::invalid(key, "must be longer than zero"));
    }
    if value > LONGEST {
        return Err(ConfigError::invalid(key, "must be at most 366d"));
    }
    Ok(())
}

impl Redis {
    pub fn settings(&self) -> vibe_redis::RedisSettings {
        vibe_redis::RedisSettings {
            url: self.url.value().clone(),
            pool_size: self.pool_size,
            command_timeout: self.command_timeout,
            connect_timeout: self.connect_timeout,
        }
    }
}

impl Upstreams {
    /// Where `service` is reached when this process does not host it.
    pub fn address(&self, service: crate::targets::ServiceTarget) -> &str {
        use crate::targets::ServiceTarget;
        match service {
            ServiceTarget::Integration => &self.integration,
            ServiceTarget::Reasoning => &self.reasoning,
            ServiceTarget::Memory => &self.memory,
            ServiceTarget::Sync => &self.sync,
        }
    }
}

impl Telemetry {
    pub fn settings(&self) -> vibe_telemetry::TelemetrySettings {
        vibe_telemetry::TelemetrySettings {
            log_format: match self.log_format {
                LogFormat::Auto => vibe_telemetry::LogFormat::Auto,
                LogFormat::Json => vibe_telemetry::LogFormat::Json,
                LogFormat::Pretty => vibe_telemetry::LogFormat::Pretty,
            },
            log_filter: self.log_filter.clone(),
            otlp_endpoint: self.otlp_endpoint.clone(),
            service_name: self.service_name.clone(),
            trace_sample_ratio: self.trace_sample_ratio,
        }
    }
}
