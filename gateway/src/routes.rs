use http::Request;
use tower::ServiceExt;

use axum::error_handling::HandleError;

use crate::Upstream;
use crate::http::StaticFiles;
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

    /// The routes for a tonic server: unknown gRPC paths answer UNIMPLEMENTED; any other
    /// request goes to `files` (the cockpit) when given, else 404.
    pub fn into_tonic_routes(self, files: Option<StaticFiles>) -> tonic::service::Routes {
        let fallback = tower::service_fn(move |request: Request<axum::body::Body>| {
            let files = files.clone();
            async move {
                let grpc = crate::edge::is_grpc(request.headers());
                let response = match (grpc, files) {
                    (true, _) => {
                        tonic::Status::unimplemented("no such service or method on this gateway")
                            .into_http::<axum::body::Body>()
                    }
                    (false, Some(files)) => {
                        let Ok(response) = files.oneshot(request.map(tonic::body::Body::new)).await;
                        response.map(axum::body::Body::new)
                    }
                    (false, None) => {
                        let mut response = http::Response::new(axum::body::Body::empty());
                        *response.status_mut() = http::StatusCode::NOT_FOUND;
                        response
                    }
                };
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        tonic::service::Routes::from(self.router.fallback_service(fallback))
    }
}
