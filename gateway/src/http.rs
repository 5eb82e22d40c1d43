//! The HTTP around the gRPC door: CORS from an allow-list, security headers on every
//! response, and the cockpit's static files.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures::future::Either;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response};
use tonic::body::Body;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;
use tower_http::cors::{AllowOrigin, Cors, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};

/// Response headers the browser may read: the gRPC status and the rate limit.
const EXPOSED: [&str; 8] = [
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "ratelimit",
    "ratelimit-policy",
    "retry-after",
    "x-request-id",
    "content-type",
];

/// Request headers a grpc-web client sends.
const ALLOWED: [&str; 8] = [
    "authorization",
    "content-type",
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
    "x-request-id",
    "traceparent",
    "tracestate",
];

/// CORS for exactly `origins` (never `*`: calls carry credentials); preflights are
/// cached by the browser for `max_age`.
pub fn cors(origins: &[HeaderValue], max_age: Duration) -> BrowserCorsLayer {
    BrowserCorsLayer(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins.iter().cloned()))
            .allow_credentials(true)
            .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
            .allow_headers(ALLOWED.map(HeaderName::from_static))
            .expose_headers(EXPOSED.map(HeaderName::from_static))
            .max_age(max_age),
    )
}

/// CORS where a browser may read the response: requests that carry an `Origin`, and
/// everything that is not gRPC (the cockpit's files, whose caches need `Vary: Origin`).
/// Native gRPC clients send no `Origin` and read none of the CORS headers, which cost a
/// header map and five more headers to encode on every call.
#[derive(Debug, Clone)]
pub struct BrowserCorsLayer(CorsLayer);

impl<S: Clone> tower::Layer<S> for BrowserCorsLayer {
    type Service = BrowserCors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BrowserCors {
            cors: self.0.layer(inner.clone()),
            plain: inner,
        }
    }
}

/// See [`BrowserCorsLayer`].
#[derive(Debug, Clone)]
pub struct BrowserCors<S> {
    cors: Cors<S>,
    plain: S,
}

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for BrowserCors<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Either<tower_http::cors::ResponseFuture<S::Future>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Two clones of one service that reserves nothing when ready (tonic's routes
        // behind the edge): either may take the call.
        ready!(self.cors.poll_ready(cx))?;
        self.plain.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let headers = request.headers();
        if headers.contains_key(header::ORIGIN) || !crate::edge::is_grpc(headers) {
            Either::Left(self.cors.call(request))
        } else {
            Either::Right(self.plain.call(request))
        }
    }
}

/// The cockpit's policy: only its own scripts, styles and connections.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";
/// An API response is never a document: nothing may load from it or frame it (OWASP's
/// REST security headers).
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Adds the security headers to a response (keeping any a handler set itself): the
/// cockpit's policy on pages and files, the API's on gRPC responses.
pub fn security_headers<B>(
    tls: bool,
) -> impl Fn(Response<B>) -> Response<B> + Clone + Send + Sync + 'static {
    move |mut response: Response<B>| {
        let api = crate::edge::is_grpc(response.headers());
        let headers = response.headers_mut();
        let mut set = |name: HeaderName, value: &'static str| {
            headers
                .entry(name)
                .or_insert(HeaderValue::from_static(value));
        };
        set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        set(header::X_FRAME_OPTIONS, "DENY");
        set(header::REFERRER_POLICY, "no-referrer");
        if api {
            set(header::CONTENT_SECURITY_POLICY, API_CSP);
        } else {
            set(header::CONTENT_SECURITY_POLICY, CSP);
            set(
                HeaderName::from_static("cross-origin-opener-policy"),
                "same-origin",
            );
        }
        if tls {
            set(
                header::STRICT_TRANSPORT_SECURITY,
                "max-age=31536000; includeSubDomains",
            );
        }
        response
    }
}

/// A static-file service for non-gRPC requests.
pub type StaticFiles = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

/// Serves the built cockpit in `dir`: hashed files under `/assets/` cached for a year,
/// everything else `no-cache`; `.br`/`.gz` variants when the browser accepts them; any
/// other path answers `index.html` (the app routes in the browser).
pub fn cockpit(dir: &Path) -> StaticFiles {
    let index: PathBuf = dir.join("index.html");
    let assets = ServeDir::new(dir).precompressed_br().precompressed_gzip();
    let app = ServeDir::new(dir)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(
            ServeFile::new(index)
                .precompressed_br()
                .precompressed_gzip(),
        );
    BoxCloneSyncService::new(tower::service_fn(move |request: Request<Body>| {
        let hashed = request.uri().path().starts_with("/assets/");
        let (assets, app) = (assets.clone(), app.clone());
        async move {
            let mut response = if hashed {
                let Ok(response) = assets.oneshot(request).await;
                response.map(Body::new)
            } else {
                let Ok(response) = app.oneshot(request).await;
                response.map(Body::new)
            };
            let cache = match (hashed, response.status().is_success()) {
                (true, true) => "public, max-age=31536000, immutable",
                _ => "no-cache",
            };
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            Ok::<_, Infallible>(response)
        }
    }))
}
