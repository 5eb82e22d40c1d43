//! The data sections: the store's calendar, the warehouse, the cache, demo data.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret, require_duration};

/// The store whose numbers vibe reports.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Store {
    /// IANA time zone of every calendar day, week, month and year.
    pub time_zone: String,
    /// ISO 4217 code of every amount.
    pub currency: String,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            time_zone: "America/Chicago".to_owned(),
            currency: "USD".to_owned(),
        }
    }
}

impl Store {
    pub fn time_zone(&self) -> Result<chrono_tz::Tz, ConfigError> {
        self.time_zone.parse().map_err(|_| {
            ConfigError::invalid(
                "store.time_zone",
                format!(
                    "{:?} is not an IANA time zone (e.g. America/Chicago)",
                    self.time_zone
                ),
            )
        })
    }

    pub fn settings(&self) -> Result<vibe_integration::Store, ConfigError> {
        Ok(vibe_integration::Store {
            time_zone: self.time_zone()?,
            currency: self.currency.clone(),
        })
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.time_zone()?;
        let code_ok =
            self.currency.len() == 3 && self.currency.chars().all(|c| c.is_ascii_uppercase());
        if !code_ok {
            return Err(ConfigError::invalid(
                "store.currency",
                format!("{:?} is not an ISO 4217 code such as USD", self.currency),
            ));
        }
        Ok(())
    }
}

/// Which warehouse backend holds the data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WarehouseBackend {
    /// An embedded DuckDB file: nothing to install.
    #[default]
    Duckdb,
    /// Google BigQuery: for the real shop at scale.
    Bigquery,
}

/// The warehouse.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Warehouse {
    pub backend: WarehouseBackend,
    pub duckdb: DuckDb,
    /// Required when `backend = "bigquery"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bigquery: Option<BigQuery>,
}

impl Warehouse {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        match (self.backend, &self.bigquery) {
            (WarehouseBackend::Bigquery, None) => Err(ConfigError::invalid(
                "warehouse.bigquery",
                "missing required section: backend is bigquery",
            )),
            (WarehouseBackend::Bigquery, Some(bigquery)) => bigquery.validate(),
            (WarehouseBackend::Duckdb, _) => self.duckdb.validate(),
        }
    }
}

/// The embedded DuckDB warehouse.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DuckDb {
    /// The database file; its directory is created when missing.
    pub path: PathBuf,
    /// Connections for concurrent queries.
    pub pool_size: u32,
    /// DuckDB's worker threads; one per core when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// DuckDB's memory limit, e.g. "2GB"; 80 % of RAM when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<String>,
}

impl Default for DuckDb {
    fn default() -> Self {
        Self {
            path: PathBuf::from("vibe-data/warehouse.duckdb"),
            pool_size: 4,
            threads: None,
            memory_limit: None,
        }
    }
}

impl DuckDb {
    pub fn settings(&self) -> vibe_warehouse_duckdb::DuckDbSettings {
        vibe_warehouse_duckdb::DuckDbSettings {
            path: self.path.clone(),
            pool_size: self.pool_size,
            threads: self.threads,
            memory_limit: self.memory_limit.clone(),
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.path.as_os_str().is_empty() {
            return Err(ConfigError::invalid(
                "warehouse.duckdb.path",
                "must not be empty",
            ));
        }
        if !(1..=64).contains(&self.pool_size) {
            return Err(ConfigError::invalid(
                "warehouse.duckdb.pool_size",
                "expected 1 to 64",
            ));
        }
        Ok(())
    }
}

/// Google BigQuery.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BigQuery {
    pub project: String,
    pub dataset: String,
    /// Where the dataset lives (created there when missing).
    #[serde(default = "default_location")]
    pub location: String,
    /// How vibe authenticates.
    #[serde(default)]
    pub credentials: BigQueryCredentials,
    /// The most bytes one query may bill; BigQuery fails a query that would scan more.
    #[serde(default = "default_maximum_bytes_billed")]
    pub maximum_bytes_billed: i64,
    /// Upper bound for one query.
    #[serde(default = "default_query_timeout", with = "humantime_serde")]
    pub query_timeout: Duration,
    /// The REST API root, e.g. an emulator's `http://127.0.0.1:9050/bigquery/v2`;
    /// Google's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

/// How vibe authenticates to BigQuery.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum BigQueryCredentials {
    /// Application default credentials: GKE workload identity or the metadata server.
    #[default]
    ApplicationDefault,
    /// A service-account key (JSON): `{ kind = "service_account_key", key = { file = "/var/secrets/google/key.json" } }`.
    ServiceAccountKey { key: Secret },
    /// No credentials (only for a local emulator at `base_url`).
    None,
}

fn default_location() -> String {
    "US".to_owned()
}

fn default_maximum_bytes_billed() -> i64 {
    10 * 1024 * 1024 * 1024
}

fn default_query_timeout() -> Duration {
    Duration::from_secs(30)
}

impl BigQuery {
    pub fn settings(&self) -> vibe_warehouse_bigquery::BigQuerySettings {
        use vibe_warehouse_bigquery::Credentials;
        vibe_warehouse_bigquery::BigQuerySettings {
            project: self.project.clone(),
            dataset: self.dataset.clone(),
            location: self.location.clone(),
            credentials: match &self.credentials {
                BigQueryCredentials::ApplicationDefault => Credentials::ApplicationDefault,
                BigQueryCredentials::ServiceAccountKey { key } => {
                    Credentials::ServiceAccountKey(key.value().clone())
                }
                BigQueryCredentials::None => Credentials::None,
            },
            base_url: self.base_url.clone(),
            maximum_bytes_billed: self.maximum_bytes_billed,
            query_timeout: self.query_timeout,
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("warehouse.bigquery.project", &self.project),
            ("warehouse.bigquery.dataset", &self.dataset),
            ("warehouse.bigquery.location", &self.location),
        ] {
            if value.trim().is_empty() {
                return Err(ConfigError::invalid(key, "must not be empty"));
            }
        }
        if !self
            .dataset
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(ConfigError::invalid(
                "warehouse.bigquery.dataset",
                "letters, digits and underscores only",
            ));
        }
        if self.maximum_bytes_billed <= 0 {
            return Err(ConfigError::invalid(
                "warehouse.bigquery.maximum_bytes_billed",
                "must be positive",
            ));
        }
        require_duration("warehouse.bigquery.query_timeout", self.query_timeout)?;
        if matches!(self.credentials, BigQueryCredentials::None) && self.base_url.is_none() {
            return Err(ConfigError::invalid(
                "warehouse.bigquery.credentials",
                "kind \"none\" only works with an emulator's base_url",
            ));
        }
        Ok(())
    }
}

/// The shared cache in front of the warehouse (stale-while-revalidate, RFC 5861).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cache {
    /// A value is served as fresh this long after it was computed.
    #[serde(with = "humantime_serde")]
    pub fresh_for: Duration,
    /// Until then it is served stale while one background refresh runs.
    #[serde(with = "humantime_serde")]
    pub stale_for: Duration,
    /// Until then it is served only while the warehouse fails (stale-on-error).
    #[serde(with = "humantime_serde")]
    pub error_for: Duration,
    /// After a failed fill, serve stale-on-error this long before trying again.
    #[serde(with = "humantime_serde")]
    pub error_retry_after: Duration,
    /// Lifetime of the cluster-wide fill lock in Redis.
    #[serde(with = "humantime_serde")]
    pub fill_lock_ttl: Duration,
    /// How long a replica waits for another's fill before filling itself.
    #[serde(with = "humantime_serde")]
    pub fill_lock_wait: Duration,
    /// In-process entries per cache.
    pub max_entries: u64,
}

impl Default for Cache {
    fn default() -> Self {
        let defaults = vibe_cache::CacheSettings::default();
        Self {
            fresh_for: defaults.fresh_for,
            stale_for: defaults.stale_for,
            error_for: defaults.error_for,
            error_retry_after: defaults.error_retry_after,
            fill_lock_ttl: defaults.fill_lock_ttl,
            fill_lock_wait: defaults.fill_lock_wait,
            max_entries: defaults.max_entries,
        }
    }
}

impl Cache {
    pub fn settings(&self) -> vibe_cache::CacheSettings {
        vibe_cache::CacheSettings {
            fresh_for: self.fresh_for,
            stale_for: self.stale_for,
            error_for: self.error_for,
            error_retry_after: self.error_retry_after,
            fill_lock_ttl: self.fill_lock_ttl,
            fill_lock_wait: self.fill_lock_wait,
            max_entries: self.max_entries,
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("cache.fresh_for", self.fresh_for),
            ("cache.error_retry_after", self.error_retry_after),
            ("cache.fill_lock_ttl", self.fill_lock_ttl),
            ("cache.fill_lock_wait", self.fill_lock_wait),
        ] {
            require_duration(key, value)?;
        }
        if self.stale_for < self.fresh_for {
            return Err(ConfigError::invalid(
                "cache.stale_for",
                "must not be shorter than cache.fresh_for",
            ));
        }
        if self.error_for < self.stale_for {
            return Err(ConfigError::invalid(
                "cache.error_for",
                "must not be shorter than cache.stale_for",
            ));
        }
        if self.max_entries == 0 {
            return Err(ConfigError::invalid(
                "cache.max_entries",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Synthetic demo data (`vibe seed`, `vibe up --demo`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Demo {
    /// The same seed always gives the same data.
    pub seed: u64,
    /// Payments over the whole period (the Texas year-3 scale is 20 million and more).
    pub payments: u64,
    /// Days of history, ending today.
    pub days: u32,
    /// Members (customers) who buy.
    pub members: u32,
}

impl Default for Demo {
    fn default() -> Self {
        Self {
            seed: 42,
            payments: 250_000,
            days: 730,
            members: 11_000,
        }
    }
}

impl Demo {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.payments == 0 || self.payments > 1_000_000_000 {
            return Err(ConfigError::invalid(
                "demo.payments",
                "expected 1 to 1,000,000,000",
            ));
        }
        if !(1..=3650).contains(&self.days) {
            return Err(ConfigError::invalid("demo.days", "expected 1 to 3650"));
        }
        if self.members == 0 {
            return Err(ConfigError::invalid("demo.members", "must be at least 1"));
        }
        Ok(())
    }
}
