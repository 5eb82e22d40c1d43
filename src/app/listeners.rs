//! The gRPC listeners: what each serves and how it is observed.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::{Routes, RoutesBuilder};
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::pb::health_server::{Health, HealthServer};
use tower::{Layer, ServiceExt};
use vibe_gateway::{GatewayRoutes, RemoteUpstream};
use vibe_telemetry::{GrpcServerLayer, MethodNames};

use super::domains::Domains;
use super::{AppError, ServerResult};
use crate::config::{self, Config};
use crate::descriptors;
use crate::proto::integration::v1::compliance_service_server::ComplianceServiceServer;
use crate::proto::memory::v1::memory_service_server::MemoryServiceServer;
use crate::proto::reasoning::v1::reasoning_service_server::ReasoningServiceServer;
use crate::proto::sync::v1::sync_service_server::SyncServiceServer;
use crate::rpc;
use crate::targets::{ServiceTarget, Targets};

const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 connections from a split gateway to each upstream service.
const UPSTREAM_CONNECTIONS: usize = 4;

/// One gRPC listener serving `routes` plus health and reflection (listing `listed`),
/// observed by the telemetry layer as `component`, until `stop` fires and its calls end.
pub(super) fn grpc_server<H: Health>(
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
    let router = server()
        .layer(GrpcServerLayer::new(component, methods))
        .add_routes(routes.routes());
    Ok(async move {
        let served = router
            .serve_with_incoming_shutdown(incoming(listener), stop.cancelled_owned())
            .await;
        ended(component, served)
    })
}

fn server() -> Server {
    Server::builder()
        // Finds clients that vanished without closing, so their streams end.
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
}

fn incoming(listener: TcpListener) -> TcpIncoming {
    // Nagle would hold a multi-segment response until the client's delayed ACK (~40 ms):
    // gRPC frames are written whole, so send them at once.
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

fn ended(listener: &'static str, served: Result<(), tonic::transport::Error>) -> ServerResult {
    served.map_err(|source| AppError::Serve { listener, source })?;
    Ok(listener)
}

/// The gateway listener: gRPC and grpc-web (HTTP/1.1 and HTTP/2) on one port, behind
/// security headers, CORS, telemetry and the edge's per-call checks.
#[allow(clippy::too_many_arguments)]
pub(super) fn gateway_server<H: Health>(
    listener: TcpListener,
    routes: GatewayRoutes,
    health: HealthServer<H>,
    methods: MethodNames,
    edge: vibe_gateway::Edge,
    config: &config::Gateway,
    stop: CancellationToken,
) -> Result<impl Future<Output = ServerResult> + Send + 'static, AppError> {
    let files = config
        .cockpit_dir
        .as_deref()
        .map(vibe_gateway::http::cockpit);
    let mut routes = RoutesBuilder::from(routes.into_tonic_routes(files));
    routes.add_service(health);
    if config.reflection {
        let public: Vec<&str> = ServiceTarget::ALL
            .iter()
            .flat_map(|service| service.grpc_services().iter().copied())
            .collect();
        routes
            .add_service(descriptors::reflection_v1(&public)?)
            .add_service(descriptors::reflection_v1alpha(&public)?);
    }
    let origins: Vec<http::HeaderValue> = config
        .cors_origins
        .iter()
        .filter_map(|origin| http::HeaderValue::from_str(origin).ok())
        .collect();
    let stack = tower::ServiceBuilder::new()
        .map_response(vibe_gateway::http::security_headers(config.tls.is_some()))
        .layer(vibe_gateway::http::cors(&origins, config.cors_max_age))
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(GrpcServerLayer::new("gateway", methods))
        .map_response(|response: http::Response<_>| response.map(tonic::body::Body::new))
        .layer(vibe_gateway::EdgeLayer::new(edge));
    let mut server = server().accept_http1(true);
    if let Some(tls) = &config.tls {
        let identity = tls.identity()?;
        server = server
            .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
            .map_err(|source| AppError::Serve {
                listener: "gateway",
                source,
            })?;
    }
    let router = server.layer(stack).add_routes(routes.routes());
    Ok(async move {
        let served = router
            .serve_with_incoming_shutdown(incoming(listener), stop.cancelled_owned())
            .await;
        ended("gateway", served)
    })
}

/// The gRPC services of every hosted target, in one router.
pub(super) fn service_routes(
    targets: &Targets,
    domains: &Domains,
    drain: &CancellationToken,
) -> Routes {
    let mut routes = Routes::builder();
    for service in &targets.services {
        match service {
            ServiceTarget::Integration => {
                if let Some(dashboard) = &domains.dashboard {
                    routes.add_service(rpc::DashboardServer::new(rpc::DashboardRpc::new(
                        dashboard.clone(),
                        drain.clone(),
                        domains.instance.clone(),
                    )));
                }
                if let Some(compliance) = &domains.compliance {
                    routes.add_service(ComplianceServiceServer::new(rpc::ComplianceRpc::new(
                        compliance.clone(),
                    )));
                }
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
pub(super) fn gateway_routes(
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
                max_connection_age: config.upstreams.max_connection_age,
                connections: UPSTREAM_CONNECTIONS,
            }
            .into_upstream()?
        };
        for name in service.grpc_services() {
            routes = routes.route(name, upstream.clone());
        }
    }
    Ok(routes)
}
