//! The process-wide Prometheus recorder and the HTTP endpoint that serves it.

use std::future::{Future, IntoFuture};
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::TelemetryError;
use crate::grpc::{HISTOGRAMS, LATENCY_BUCKETS};

static REGISTRY: OnceLock<MetricsRegistry> = OnceLock::new();

/// Handle to the global metrics recorder. `metrics` has one recorder per process, so
/// several in-process servers (as in tests) share it.
#[derive(Clone)]
pub struct MetricsRegistry {
    handle: PrometheusHandle,
    process: std::sync::Arc<metrics_process::Collector>,
}

impl std::fmt::Debug for MetricsRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsRegistry").finish_non_exhaustive()
    }
}

/// How often histogram samples are folded into buckets (the exporter's own default).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

impl MetricsRegistry {
    /// Installs the recorder on first call; later calls return the same registry.
    pub fn global() -> Result<Self, TelemetryError> {
        if let Some(registry) = REGISTRY.get() {
            return Ok(registry.clone());
        }
        let mut builder = PrometheusBuilder::new();
        for name in HISTOGRAMS {
            builder = builder
                .set_buckets_for_metric(Matcher::Full((*name).to_owned()), LATENCY_BUCKETS)
                .map_err(|err| TelemetryError::Prometheus(err.to_string()))?;
        }
        let handle = builder
            .install_recorder()
            .map_err(|err| TelemetryError::Prometheus(err.to_string()))?;
        let process = metrics_process::Collector::default();
        process.describe();
        let registry = Self {
            handle,
            process: std::sync::Arc::new(process),
        };
        Ok(REGISTRY.get_or_init(|| registry).clone())
    }

    /// The Prometheus text exposition of every metric, process metrics included.
    pub fn render(&self) -> String {
        self.process.collect();
        self.handle.run_upkeep();
        self.handle.render()
    }

    /// Serves `GET /metrics` on `listener` until `shutdown` completes. Meanwhile folds
    /// histogram samples into their buckets every few seconds: the exporter keeps every
    /// sample until then, so with nobody scraping they would pile up without bound (two
    /// per gateway call), and a scrape after a long pause would fold them all at once.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), TelemetryError> {
        let handle = self.handle.clone();
        // In this future, not a task of its own: it ends with the listener.
        let upkeep = async move {
            let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                handle.run_upkeep();
            }
        };
        let app = Router::new().route("/metrics", get(move || async move { self.render() }));
        let serve = axum::serve(listener, app).with_graceful_shutdown(shutdown);
        tokio::select! {
            served = serve.into_future() => served?,
            () = upkeep => {}
        }
        Ok(())
    }
}
