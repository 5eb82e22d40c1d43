use std::convert::Infallible;
use std::time::Duration;

use http::{Request, Response};
use tonic::body::Body;
use tonic::transport::Endpoint;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;
use vibe_telemetry::InjectTraceContextLayer;

use crate::GatewayError;
use crate::outlier::{Ejection, Pool};

/// Where calls for one public service go: any gRPC-speaking HTTP service. Transport
/// errors become UNAVAILABLE statuses at the route.
pub type Upstream = BoxCloneSyncService<Request<Body>, Response<Body>, BoxError>;

/// A transport-level error from an upstream.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A remote upstream reached over lazily connected tonic channels.
#[derive(Debug, Clone)]
pub struct RemoteUpstream {
    /// `http://host:port` of the upstream's gRPC listener.
    pub address: String,
    pub connect_timeout: Duration,
    /// HTTP/2 connections kept to it; calls are spread over them (the lesser load of two),
    /// so one connection's flow control or a slow stream does not hold up the rest, and a
    /// connection that keeps failing is ejected (see `outlier`).
    pub connections: usize,
    /// Each connection is replaced once this old, so calls spread over pods added since.
    pub max_connection_age: Duration,
}

impl RemoteUpstream {
    /// Builds the channel without connecting: a service that is still starting must not
    /// stop the gateway from starting.
    pub fn into_upstream(self) -> Result<Upstream, GatewayError> {
        let endpoint = Endpoint::from_shared(self.address.clone())
            .map_err(|err| GatewayError::InvalidUpstream {
                address: self.address.clone(),
                reason: err.to_string(),
            })?
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true);
        let connections = vec![endpoint; self.connections.max(1)];
        let pool = Pool::new(
            &self.address,
            connections,
            Ejection::default(),
            self.max_connection_age,
        );
        let service = tower::ServiceBuilder::new()
            .layer(InjectTraceContextLayer)
            .service(pool);
        Ok(BoxCloneSyncService::new(service))
    }
}

/// An upstream hosted in this process (e.g. the services' router under `vibe up`).
pub fn in_process<S>(service: S) -> Upstream
where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    BoxCloneSyncService::new(
        tower::ServiceBuilder::new()
            .layer(InjectTraceContextLayer)
            .service(service)
            .map_err(|never: Infallible| match never {}),
    )
}
