//! The domain objects a process hosts, built from config: the warehouse, the dashboard
//! and compliance for the integration target.

use std::sync::Arc;
use std::time::Duration;

use vibe_compliance::{AttemptCounter, AttemptLimit, Compliance, ComplianceSettings};
use vibe_integration::Dashboard;
use vibe_warehouse::Warehouse;

use super::AppError;
use crate::config::{self, Config, WarehouseBackend};
use crate::targets::{ServiceTarget, Targets};

/// How long schema migration may take at start before the process gives up.
const MIGRATE_TIMEOUT: Duration = Duration::from_secs(120);

/// What the hosted targets need, opened once per process.
pub(crate) struct Domains {
    pub warehouse: Option<Arc<dyn Warehouse>>,
    pub dashboard: Option<Dashboard>,
    pub compliance: Option<Arc<Compliance>>,
    /// This replica's name in stats (the pod name under Kubernetes).
    pub instance: String,
}

impl Domains {
    pub(crate) async fn open(
        config: &Config,
        targets: &Targets,
        redis: Option<vibe_redis::Redis>,
    ) -> Result<Self, AppError> {
        let instance = std::env::var("HOSTNAME")
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| format!("vibe-{}", std::process::id()));
        if !targets.hosts(ServiceTarget::Integration) {
            return Ok(Self {
                warehouse: None,
                dashboard: None,
                compliance: None,
                instance,
            });
        }
        // Checked before anything opens: compliance cannot run without its keyring.
        let keyring = Arc::new(config.compliance.parsed_keyring()?);
        let warehouse = open_warehouse(&config.warehouse).await?;
        let store = config.store.settings()?;
        let time_zone = store.time_zone;
        // Counted in Redis when there is one, so every replica shares the limit.
        let attempts = match &redis {
            Some(redis) => AttemptCounter::redis(AttemptLimit::default(), redis.clone()),
            None => AttemptCounter::local(AttemptLimit::default()),
        };
        let dashboard = Dashboard::new(
            warehouse.clone(),
            store,
            config.cache.settings(),
            redis,
            Arc::new(chrono::Utc::now),
        );
        let compliance = Compliance::new(
            warehouse.clone(),
            keyring,
            attempts,
            ComplianceSettings::new(time_zone),
            Arc::new(chrono::Utc::now),
        );
        Ok(Self {
            warehouse: Some(warehouse),
            dashboard: Some(dashboard),
            compliance: Some(Arc::new(compliance)),
            instance,
        })
    }
}

/// Opens the configured warehouse and brings its schema up to date.
pub async fn open_warehouse(config: &config::Warehouse) -> Result<Arc<dyn Warehouse>, AppError> {
    let warehouse: Arc<dyn Warehouse> = match (config.backend, &config.bigquery) {
        (WarehouseBackend::Duckdb, _) | (WarehouseBackend::Bigquery, None) => {
            let duckdb =
                vibe_warehouse_duckdb::DuckDbWarehouse::open(&config.duckdb.settings()).await?;
            Arc::new(vibe_warehouse::Instrumented::new(duckdb))
        }
        (WarehouseBackend::Bigquery, Some(bigquery)) => {
            let bigquery =
                vibe_warehouse_bigquery::BigQueryWarehouse::connect(&bigquery.settings()).await?;
            Arc::new(vibe_warehouse::Instrumented::new(bigquery))
        }
    };
    tokio::time::timeout(MIGRATE_TIMEOUT, warehouse.migrate())
        .await
        .map_err(|_| {
            vibe_warehouse::WarehouseError::Unavailable(format!(
                "schema migration took longer than {MIGRATE_TIMEOUT:?}"
            ))
        })??;
    Ok(warehouse)
}

/// Fills the embedded warehouse with the configured demo data (idempotent).
pub async fn seed_demo(config: &Config) -> Result<vibe_demo::SeedOutcome, AppError> {
    if config.warehouse.backend != WarehouseBackend::Duckdb {
        return Err(AppError::Config(config::ConfigError::invalid(
            "warehouse.backend",
            "demo data only goes into the embedded DuckDB warehouse, never into BigQuery",
        )));
    }
    let warehouse = open_warehouse(&config.warehouse).await?;
    let time_zone = config.store.time_zone()?;
    let spec = vibe_demo::DemoSpec {
        seed: config.demo.seed,
        last_day: vibe_demo::DemoSpec::today(time_zone),
        days: config.demo.days,
        payments: config.demo.payments,
        members: config.demo.members,
        time_zone,
    };
    Ok(vibe_demo::seed(&*warehouse, &spec, vibe_demo::Progress::auto()).await?)
}
