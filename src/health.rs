//! Liveness and readiness in the standard gRPC health service.
//!
//! - `liveness`: SERVING while the process runs, also while it drains; Kubernetes
//!   restarts the pod only when this stops answering.
//! - each hosted service's full name: SERVING while its dependencies answer.
//! - `""` (the whole server): SERVING while every hosted part is ready; NOT_SERVING from
//!   the moment shutdown begins, so load balancers stop sending new calls.

use std::time::Duration;

use futures::future::join_all;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// The health service name for liveness probes.
pub const LIVENESS: &str = "liveness";

/// Something a service needs in order to serve.
#[derive(Clone)]
pub enum Dependency {
    Redis(vibe_redis::Redis),
    Warehouse(std::sync::Arc<dyn vibe_warehouse::Warehouse>),
}

impl std::fmt::Debug for Dependency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Dependency {
    fn name(&self) -> &'static str {
        match self {
            Dependency::Redis(_) => "redis",
            Dependency::Warehouse(_) => "warehouse",
        }
    }

    async fn check(&self) -> Result<(), String> {
        match self {
            Dependency::Redis(redis) => redis.ping().await.map_err(|err| err.to_string()),
            Dependency::Warehouse(warehouse) => {
                warehouse.ping().await.map_err(|err| err.to_string())
            }
        }
    }
}

/// A group of health names that are ready together, e.g. the integration target's two
/// services, or the gateway (which has no service name of its own).
#[derive(Debug, Clone)]
pub struct Component {
    pub name: &'static str,
    pub health_names: Vec<&'static str>,
    pub dependencies: Vec<Dependency>,
}

/// Keeps the health service's statuses in line with the dependencies.
#[derive(Debug, Clone)]
pub struct Readiness {
    reporter: HealthReporter,
    components: Vec<Component>,
    interval: Duration,
    timeout: Duration,
}

impl Readiness {
    pub async fn new(
        reporter: HealthReporter,
        components: Vec<Component>,
        interval: Duration,
        timeout: Duration,
    ) -> Self {
        reporter
            .set_service_status(LIVENESS, ServingStatus::Serving)
            .await;
        let readiness = Self {
            reporter,
            components,
            interval,
            timeout,
        };
        readiness.set_all(ServingStatus::NotServing).await;
        readiness
    }

    /// Checks now and then every interval until `stop` fires.
    pub async fn run(self, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut was_ready = None;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let ready = self.check_once().await;
            if was_ready != Some(ready) {
                tracing::info!(ready, "readiness changed");
                was_ready = Some(ready);
            }
        }
    }

    /// Runs every check once and publishes the result; true when all parts are ready.
    pub async fn check_once(&self) -> bool {
        let mut all_ready = true;
        for component in &self.components {
            let results = join_all(component.dependencies.iter().map(|dependency| async {
                let result = tokio::time::timeout(self.timeout, dependency.check())
                    .await
                    .unwrap_or_else(|_| Err(format!("no answer within {:?}", self.timeout)));
                (dependency.name(), result)
            }))
            .await;
            let mut ready = true;
            for (dependency, result) in results {
                if let Err(error) = result {
                    ready = false;
                    tracing::warn!(component = component.name, dependency, %error, "dependency not ready");
                }
            }
            all_ready &= ready;
            let status = serving(ready);
            for name in &component.health_names {
                self.reporter.set_service_status(*name, status).await;
            }
        }
        self.reporter
            .set_service_status("", serving(all_ready))
            .await;
        all_ready
    }

    /// Marks the whole server and every service NOT_SERVING (liveness stays SERVING).
    pub async fn set_draining(&self) {
        self.set_all(ServingStatus::NotServing).await;
    }

    async fn set_all(&self, status: ServingStatus) {
        self.reporter.set_service_status("", status).await;
        for component in &self.components {
            for name in &component.health_names {
                self.reporter.set_service_status(*name, status).await;
            }
        }
    }
}

fn serving(ready: bool) -> ServingStatus {
    if ready {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    }
}
