use std::convert::Infallible;
use std::time::Duration;

use http::{Request, Response};
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint};
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;
use vibe_telemetry::InjectTraceContextLayer;

use crate::GatewayError;

/// Where calls for one public service go: any gRPC-speaking HTTP service. Transport
/// errors become UNAVAILABLE statuses at the route.
pub type Upstream = BoxCloneSyncService<Request<Body>, Response<Body>, BoxError>;

/// A transport-level error from an upstream.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A remote upstream reached over a lazily connected tonic channel.
#[derive(Debug, Clone)]
pub struct RemoteUpstream {
    /// `http://host:port` of the upstream's gRPC listener.
    pub address: String,
    pub connect_timeout: Duration,
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
        let channel: Channel = endpoint.connect_lazy();
        let service = tower::ServiceBuilder::new()
            .layer(InjectTraceContextLayer)
            .service(channel)
            .map_err(BoxError::from);
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
