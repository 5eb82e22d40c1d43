//! Starting and stopping a vibe process: listeners, health, routing, drain.
//!
//! Shutdown order: health goes NOT_SERVING, the gRPC listeners stop accepting and let
//! in-flight calls and streams finish until the drain deadline, then connections to
//! Redis close and the metrics listener stops last.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::service::{Routes, RoutesBuilder};
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::pb::health_server::{Health, HealthServer};
use tower::{Layer, ServiceExt};
use vibe_gateway::{GatewayRoutes, RemoteUpstream};
use vibe_telemetry::{GrpcServerLayer, MethodNames, MetricsRegistry};

use crate::config::Config;
use crate::descriptors;
use crate::health::{Component, Dependency, Readiness};
use crate::proto::integration::v1::compliance_service_server::ComplianceServiceServer;
use crate::proto::integration::v1::dashboard_service_server::DashboardServiceServer;
use crate::proto::memory::v1::memory_service_server::MemoryServiceServer;
use crate::proto::reasoning::v1::reasoning_service_server::ReasoningServiceServer;
use crate::proto::sync::v1::sync_service_server::SyncServiceServer;
use crate::rpc;
use crate::targets::{ServiceTarget, Targets};

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
#[derive(Debug)]
pub struct Running {
    /// The gateway listener, when this process runs the gateway.
    pub gateway_addr: Option<SocketAddr>,
    /// The services' gRPC listener, when this process hosts a service.
    pub grpc_addr: Option<SocketAddr>,
    pub metrics_addr: SocketAddr,
    shutdown: CancellationToken,
    supervisor: tokio::task::JoinHandle<Result<Drain, AppError>>,
}

impl Running {
    /// Starts the graceful shutdown (what SIGTERM does); returns at once.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
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

const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

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

    let (reporter, health_service) = tonic_health::server::health_reporter();
    let mut components: Vec<Component> = targets
        .services
        .iter()
        .map(|service| Component {
            name: service.name(),
            health_names: service.grpc_services().to_vec(),
            dependencies: dependencies.clone(),
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
    let service_routes = service_routes(targets);
    let shutdown = CancellationToken::new();
    let drain = CancellationToken::new();
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
    if let Some(listener) = gateway_listener {
        let routes = gateway_routes(config, targets, &service_routes, &methods)?;
        let public: Vec<&str> = ServiceTarget::ALL
            .iter()
            .flat_map(|service| service.grpc_services().iter().copied())
            .collect();
        servers.spawn(grpc_server(
            "gateway",
            listener,
            routes.into_tonic_routes(),
            &public,
            health_service.clone(),
            methods.clone(),
            drain.clone(),
        )?);
    }

    let metrics_stop = CancellationToken::new();
    let metrics_server = tokio::spawn(
        metrics
            .clone()
            .serve(metrics_listener, metrics_stop.clone().cancelled_owned()),
    );

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
        shutdown,
        supervisor,
    })
}

/// One gRPC listener serving `routes` plus health and reflection (listing `listed`),
/// observed by the telemetry layer as `component`, until `stop` fires and its calls end.
fn grpc_server<H: Health>(
    component: &'static str,
    listener: TcpListener,
    routes: Routes,
    listed: &[&str],
    health: HealthServer<H>,
    methods: MethodNames,
    stop: CancellationToken,
) -> Result<impl Future<Output = ServerResult> + Send + 'static, AppError> {
    let mut routes = RoutesBuilder::from(routes);
    routes
        .add_service(health)
        .add_service(descriptors::reflection_v1(listed)?)
        .add_service(descriptors::reflection_v1alpha(listed)?);
    let router = Server::builder()
        // Finds clients that vanished without closing, so their streams end.
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .layer(GrpcServerLayer::new(component, methods))
        .add_routes(routes.routes());
    Ok(async move {
        router
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), stop.cancelled_owned())
            .await
            .map_err(|source| AppError::Serve {
                listener: component,
                source,
            })?;
        Ok(component)
    })
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

/// The gRPC services of every hosted target, in one router.
fn service_routes(targets: &Targets) -> Routes {
    let mut routes = Routes::builder();
    for service in &targets.services {
        match service {
            ServiceTarget::Integration => {
                routes
                    .add_service(DashboardServiceServer::new(rpc::DashboardRpc))
                    .add_service(ComplianceServiceServer::new(rpc::ComplianceRpc));
            }
            ServiceTarget::Reasoning => {
                routes.add_service(ReasoningServiceServer::new(rpc::ReasoningRpc));
            }
            ServiceTarget::Memory => {
                routes.add_service(MemoryServiceServer::new(rpc::MemoryRpc));
            }
            ServiceTarget::Sync => {
                routes.add_service(SyncServiceServer::new(rpc::SyncRpc));
            }
        }
    }
    routes.routes()
}

/// Every public service, routed in-process when this process hosts it, else remotely.
fn gateway_routes(
    config: &Config,
    targets: &Targets,
    service_routes: &Routes,
    methods: &MethodNames,
) -> Result<GatewayRoutes, AppError> {
    // In-process calls still cross a service boundary: the services' own telemetry
    // layer sees them, exactly as it would over the network.
    let services = GrpcServerLayer::new("services", methods.clone()).layer(service_routes.clone());
    let in_process = vibe_gateway::in_process(
        ServiceExt::<http::Request<tonic::body::Body>>::map_response(services, |response| {
            response.map(tonic::body::Body::new)
        }),
    );
    let mut routes = GatewayRoutes::default();
    for service in ServiceTarget::ALL {
        let upstream = if targets.hosts(service) {
            in_process.clone()
        } else {
            RemoteUpstream {
                address: config.upstreams.address(service).to_owned(),
                connect_timeout: config.upstreams.connect_timeout,
            }
            .into_upstream()?
        };
        for name in service.grpc_services() {
            routes = routes.route(name, upstream.clone());
        }
    }
    Ok(routes)
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
