//! Starting and stopping a vibe process: listeners, health, routing, drain.
//!
//! Shutdown order: health goes NOT_SERVING, the gRPC listeners stop accepting and let
//! in-flight calls and streams finish until the drain deadline, then connections to
//! Redis close and the metrics listener stops last.

mod domains;
mod listeners;
mod remote_audit;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use vibe_telemetry::MetricsRegistry;

pub use domains::{open_warehouse, seed_demo};

use crate::config::Config;
use crate::descriptors;
use crate::health::{Component, Dependency, Readiness};
use crate::targets::{ServiceTarget, Targets};
use domains::Domains;
use listeners::{gateway_routes, gateway_server, grpc_server, service_routes};

/// Why the process could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot listen on {addr} ({key}): {source}")]
    Bind {
        key: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Redis(#[from] vibe_redis::RedisError),
    #[error(transparent)]
    Gateway(#[from] vibe_gateway::GatewayError),
    #[error(transparent)]
    Telemetry(#[from] vibe_telemetry::TelemetryError),
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("{listener} listener failed: {source}")]
    Serve {
        listener: &'static str,
        source: tonic::transport::Error,
    },
    #[error("{0} listener stopped unexpectedly")]
    Stopped(&'static str),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Warehouse(#[from] vibe_warehouse::WarehouseError),
    #[error(transparent)]
    Demo(#[from] vibe_demo::DemoError),
}

/// How a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// Every in-flight call finished within the deadline.
    Complete,
    /// The deadline passed; remaining calls were cut off.
    DeadlineExceeded,
}

/// A started process. Dropping it does not stop it: call [`Running::shutdown`].
pub struct Running {
    /// The gateway listener, when this process runs the gateway.
    pub gateway_addr: Option<SocketAddr>,
    /// The services' gRPC listener, when this process hosts a service.
    pub grpc_addr: Option<SocketAddr>,
    pub metrics_addr: SocketAddr,
    warehouse: Option<std::sync::Arc<dyn vibe_warehouse::Warehouse>>,
    shutdown: CancellationToken,
    supervisor: tokio::task::JoinHandle<Result<Drain, AppError>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("gateway_addr", &self.gateway_addr)
            .field("grpc_addr", &self.grpc_addr)
            .field("metrics_addr", &self.metrics_addr)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// Starts the graceful shutdown (what SIGTERM does); returns at once.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// The warehouse this process opened (when it hosts the integration target); the one
    /// handle to its DuckDB file, since a file has one writer.
    pub fn warehouse(&self) -> Option<std::sync::Arc<dyn vibe_warehouse::Warehouse>> {
        self.warehouse.clone()
    }

    /// A token that starts the graceful shutdown when cancelled (for signal handlers).
    pub fn shutdown_trigger(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits until the process has stopped, after [`Running::begin_shutdown`] or a
    /// listener failure.
    pub async fn stopped(self) -> Result<Drain, AppError> {
        self.supervisor
            .await
            .unwrap_or_else(|_| Err(AppError::Stopped("supervisor")))
    }

    /// [`Running::begin_shutdown`] then [`Running::stopped`].
    pub async fn shutdown(self) -> Result<Drain, AppError> {
        self.begin_shutdown();
        self.stopped().await
    }
}

type ServerResult = Result<&'static str, AppError>;

/// Binds every listener of `targets` and starts serving.
pub async fn start(config: &Config, targets: &Targets) -> Result<Running, AppError> {
    let metrics = MetricsRegistry::global()?;
    let metrics_listener = bind("listen.metrics", config.listen.metrics).await?;
    let grpc_listener = match targets.services.is_empty() {
        true => None,
        false => Some(bind("listen.grpc", config.listen.grpc).await?),
    };
    let gateway_listener = match targets.gateway {
        true => Some(bind("listen.gateway", config.listen.gateway).await?),
        false => None,
    };
    let running_addrs = (
        gateway_listener.as_ref().map(local_addr),
        grpc_listener.as_ref().map(local_addr),
        local_addr(&metrics_listener),
    );

    let redis = match &config.redis {
        Some(redis) => Some(vibe_redis::Redis::connect(&redis.settings()).await?),
        None => None,
    };
    let dependencies: Vec<Dependency> = redis.iter().cloned().map(Dependency::Redis).collect();
    let domains = Domains::open(config, targets, redis.clone()).await?;

    let (reporter, health_service) = tonic_health::server::health_reporter();
    let mut components: Vec<Component> = targets
        .services
        .iter()
        .map(|service| {
            let mut needs = dependencies.clone();
            if let (ServiceTarget::Integration, Some(warehouse)) = (service, &domains.warehouse) {
                needs.push(Dependency::Warehouse(warehouse.clone()));
            }
            Component {
                name: service.name(),
                health_names: service.grpc_services().to_vec(),
                dependencies: needs,
            }
        })
        .collect();
    if targets.gateway {
        components.push(Component {
            name: "gateway",
            health_names: Vec::new(),
            dependencies: dependencies.clone(),
        });
    }
    let readiness = Readiness::new(
        reporter,
        components,
        config.health.check_interval,
        config.health.check_timeout,
    )
    .await;

    let methods = descriptors::method_names();
    let shutdown = CancellationToken::new();
    let drain = CancellationToken::new();
    let service_routes = service_routes(targets, &domains, &drain);
    let mut servers: JoinSet<ServerResult> = JoinSet::new();

    if let Some(listener) = grpc_listener {
        let hosted: Vec<&str> = targets
            .services
            .iter()
            .flat_map(|service| service.grpc_services().iter().copied())
            .collect();
        servers.spawn(grpc_server(
            "services",
            listener,
            service_routes.clone(),
            &hosted,
            health_service.clone(),
            methods.clone(),
            drain.clone(),
        )?);
    }
    let background = CancellationToken::new();
    let audit_stop = CancellationToken::new();
    let mut audit_writer = None;
    if let Some(listener) = gateway_listener {
        let routes = gateway_routes(config, targets, &service_routes, &methods)?;
        let (edge, writer) = edge(
            config,
            targets,
            &domains,
            redis.clone(),
            &background,
            &audit_stop,
        )
        .await?;
        audit_writer = Some(writer);
        servers.spawn(gateway_server(
            listener,
            routes,
            health_service.clone(),
            methods.clone(),
            edge,
            &config.gateway,
            drain.clone(),
        )?);
    }

    let metrics_stop = CancellationToken::new();
    let metrics_server = tokio::spawn(
        metrics
            .clone()
            .serve(metrics_listener, metrics_stop.clone().cancelled_owned()),
    );

    if let Some(dashboard) = domains.dashboard.clone() {
        tokio::spawn(async move { dashboard.warm().await });
    }
    readiness.check_once().await;
    let readiness_stop = CancellationToken::new();
    let readiness_task = tokio::spawn(readiness.clone().run(readiness_stop.clone()));

    tracing::info!(
        targets = %targets.describe(),
        gateway = ?running_addrs.0,
        grpc = ?running_addrs.1,
        metrics = %running_addrs.2,
        "vibe started"
    );

    let drain_deadline = config.shutdown.drain_deadline;
    let shutdown_requested = shutdown.clone();
    let supervisor = tokio::spawn(async move {
        let failure = tokio::select! {
            () = shutdown_requested.cancelled() => None,
            // A listener that ends on its own is a failure: stop everything else too.
            Some(ended) = servers.join_next() => Some(listener_failure(ended)),
        };
        tracing::info!("shutting down: draining in-flight calls");
        readiness_stop.cancel();
        let _ = readiness_task.await;
        readiness.set_draining().await;
        drain.cancel();
        let outcome = drain_servers(&mut servers, drain_deadline).await;
        background.cancel();
        // Every call has ended: write what the audit queue still holds.
        audit_stop.cancel();
        if let Some(writer) = audit_writer {
            let _ = writer.await;
        }
        if let Some(redis) = &redis {
            redis.quit().await;
        }
        metrics_stop.cancel();
        let _ = metrics_server.await;
        match failure {
            Some(error) => Err(error),
            None => Ok(outcome),
        }
    });

    Ok(Running {
        gateway_addr: running_addrs.0,
        grpc_addr: running_addrs.1,
        metrics_addr: running_addrs.2,
        warehouse: domains.warehouse.clone(),
        shutdown,
        supervisor,
    })
}

/// The gateway's per-call checks: keys (a JWKS is fetched now), limits, audit.
async fn edge(
    config: &Config,
    targets: &Targets,
    domains: &Domains,
    redis: Option<vibe_redis::Redis>,
    background: &CancellationToken,
    audit_stop: &CancellationToken,
) -> Result<(vibe_gateway::Edge, tokio::task::JoinHandle<()>), AppError> {
    let gateway = &config.gateway;
    let authenticator =
        vibe_gateway::auth::Authenticator::new(&gateway.auth_settings(None)).await?;
    tokio::spawn(authenticator.keys().clone().run_refresh(background.clone()));
    let limiter = vibe_gateway::limit::RateLimiter::new(gateway.rate_limits.settings(), redis);
    tokio::spawn(limiter.clone().run_maintenance(background.clone()));
    let store: std::sync::Arc<dyn vibe_gateway::AuditStore> = match &domains.warehouse {
        Some(warehouse) => std::sync::Arc::new(vibe_gateway::WarehouseAudit(warehouse.clone())),
        None if config.warehouse.backend == crate::config::WarehouseBackend::Bigquery => {
            let warehouse = open_warehouse(&config.warehouse).await?;
            std::sync::Arc::new(vibe_gateway::WarehouseAudit(warehouse))
        }
        // The embedded warehouse belongs to the integration target: write through it.
        None => std::sync::Arc::new(
            remote_audit::RemoteAudit::new(
                &config.upstreams.integration,
                config.upstreams.connect_timeout,
            )
            .map_err(|why| {
                AppError::Config(crate::config::ConfigError::invalid(
                    "upstreams.integration",
                    why,
                ))
            })?,
        ),
    };
    let (audit, writer) = vibe_gateway::AuditLog::start(
        store,
        vibe_gateway::AuditSettings::default(),
        audit_stop.clone(),
    );
    let edge = vibe_gateway::Edge {
        authenticator,
        policies: descriptors::policies(gateway.reflection),
        limiter,
        audit,
        max_timeout: gateway.max_timeout,
        max_request_bytes: gateway.max_request_bytes,
        remote_services: ServiceTarget::ALL
            .iter()
            .filter(|service| !targets.hosts(**service))
            .flat_map(|service| {
                service
                    .grpc_services()
                    .iter()
                    .map(|name| (*name).to_owned())
            })
            .collect(),
    };
    Ok((edge, writer))
}

fn listener_failure(ended: Result<ServerResult, tokio::task::JoinError>) -> AppError {
    match ended {
        Ok(Ok(listener)) => AppError::Stopped(listener),
        Ok(Err(error)) => error,
        Err(_) => AppError::Stopped("a"),
    }
}

async fn drain_servers(servers: &mut JoinSet<ServerResult>, deadline: Duration) -> Drain {
    let drained = tokio::time::timeout(deadline, async {
        while let Some(ended) = servers.join_next().await {
            if let Ok(Err(error)) = ended {
                tracing::warn!(%error, "listener failed while draining");
            }
        }
    })
    .await;
    match drained {
        Ok(()) => {
            tracing::info!("drained");
            Drain::Complete
        }
        Err(_) => {
            tracing::warn!(deadline = ?deadline, "drain deadline passed: cutting off remaining calls");
            servers.abort_all();
            Drain::DeadlineExceeded
        }
    }
}

async fn bind(key: &'static str, addr: SocketAddr) -> Result<TcpListener, AppError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| AppError::Bind { key, addr, source })
}

fn local_addr(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}
