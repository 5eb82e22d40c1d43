use http::Request;
use tower::ServiceExt;

use axum::error_handling::HandleError;

use crate::Upstream;
use crate::upstream::BoxError;

/// The public services the gateway listener serves, each mapped to its upstream.
#[derive(Clone, Default)]
pub struct GatewayRoutes {
    router: axum::Router,
    services: Vec<String>,
}

impl std::fmt::Debug for GatewayRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayRoutes")
            .field("services", &self.services)
            .finish()
    }
}

impl GatewayRoutes {
    /// Sends every call to `/{service}/...` to `upstream`. `service` is the full proto
    /// service name, e.g. `vibe.integration.v1.DashboardService`.
    pub fn route(mut self, service: &str, upstream: Upstream) -> Self {
        let path = format!("/{service}/{{*method}}");
        let name = service.to_owned();
        let upstream = upstream
            .map_request(|request: Request<axum::body::Body>| request.map(tonic::body::Body::new));
        self.router = self.router.route_service(
            &path,
            HandleError::new(upstream, move |err: BoxError| {
                let name = name.clone();
                async move {
                    tracing::warn!(service = %name, error = %err, "upstream call failed");
                    tonic::Status::unavailable(format!("{name} is unreachable"))
                        .into_http::<axum::body::Body>()
                }
            }),
        );
        self.services.push(service.to_owned());
        self
    }

    /// The full names of the routed services.
    pub fn services(&self) -> &[String] {
        &self.services
    }

    /// The routes for a tonic server; unknown paths answer UNIMPLEMENTED.
    pub fn into_tonic_routes(self) -> tonic::service::Routes {
        tonic::service::Routes::from(self.router.fallback(unknown_method))
    }
}

async fn unknown_method() -> http::Response<tonic::body::Body> {
    tonic::Status::unimplemented("no such service or method on this gateway").into_http()
}
