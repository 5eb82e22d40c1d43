//! The per-call door: request id, authentication, the method's policy, the rate limit,
//! the deadline cap, and audit — in that order — before a gRPC call reaches its route.
//! Non-gRPC requests (the cockpit's files) pass straight through.

use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use tonic::Code;
use tonic::body::Body;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic_types::{ErrorDetails, StatusExt};
use vibe_telemetry::ensure_request_id;

use crate::audit::{AuditLog, CallFacts};
use crate::auth::{Authenticator, Principal};
use crate::limit::{Decision, RateLimiter};
use crate::policy::{MethodPolicy, Policies};
use crate::send::{buffer, once, retrying};
use crate::status_body::StatusWatch;

/// Headers the gateway sets for the services; never taken from outside.
pub const PRINCIPAL_HEADER: &str = "x-vibe-principal";
pub const ROLES_HEADER: &str = "x-vibe-roles";
/// The caller's address as the gateway saw it, for the services' own audit records.
pub const CLIENT_IP_HEADER: &str = "x-vibe-client-ip";
pub use vibe_telemetry::REQUEST_ID_HEADER;

/// Everything the door needs, shared by every connection.
#[derive(Debug)]
pub struct Edge {
    pub authenticator: Authenticator,
    pub policies: Policies,
    pub limiter: RateLimiter,
    pub audit: AuditLog,
    /// Longest deadline a call may run with; also the deadline of unary calls without one.
    pub max_timeout: Duration,
    /// Largest request body accepted.
    pub max_request_bytes: usize,
    /// Services reached over the network: their idempotent unary calls are retried when
    /// the upstream is unavailable (in-process services cannot be unreachable).
    pub remote_services: Vec<String>,
}

/// Puts [`Edge`] in front of a service.
#[derive(Debug, Clone)]
pub struct EdgeLayer(Arc<Edge>);

impl EdgeLayer {
    pub fn new(edge: Edge) -> Self {
        Self(Arc::new(edge))
    }
}

impl<S> tower::Layer<S> for EdgeLayer {
    type Service = EdgeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        EdgeService {
            inner,
            edge: self.0.clone(),
        }
    }
}

/// See [`EdgeLayer`].
#[derive(Debug, Clone)]
pub struct EdgeService<S> {
    inner: S,
    edge: Arc<Edge>,
}

impl<S> tower::Service<Request<Body>> for EdgeService<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The ready service handles this call; its clone waits for the next.
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        if !is_grpc(request.headers()) {
            let mut inner = inner;
            return Box::pin(inner.call(request));
        }
        let edge = self.edge.clone();
        Box::pin(async move { edge.handle(request, inner).await })
    }
}

/// Whether a request is gRPC (grpc-web arrives here already translated).
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

impl Edge {
    async fn handle<S>(
        &self,
        mut request: Request<Body>,
        mut inner: S,
    ) -> Result<Response<Body>, S::Error>
    where
        S: tower::Service<Request<Body>, Response = Response<Body>>,
    {
        // Usually set already by the telemetry layer around the edge (and in its span).
        let request_id = ensure_request_id(request.headers_mut());
        // Only what is cheap to keep: an audit event is rendered from it when one is due.
        let mut facts = CallFacts {
            principal: Principal::anonymous(),
            uri: request.uri().clone(),
            request_id: request_id.clone(),
            client_ip: client_ip(&request),
            user_agent: request.headers().get(USER_AGENT).cloned(),
        };
        let principal = match self
            .authenticator
            .authenticate(
                request
                    .headers()
                    .get(AUTHORIZATION)
                    .map(HeaderValue::as_bytes),
            )
            .await
        {
            Ok(principal) => principal,
            Err(error) => {
                metrics::counter!("gateway_auth_failures_total", "reason" => error.reason())
                    .increment(1);
                let event = facts.event(
                    "auth",
                    "denied",
                    Code::Unauthenticated,
                    Some(error.reason()),
                );
                let status = tonic::Status::unauthenticated(error.to_string());
                return Ok(self.refuse(request, &facts, event, status, None).await);
            }
        };
        facts.principal = principal.clone();

        let policy = match self.authorize(&principal, facts.uri.path()) {
            Ok(policy) => policy.clone(),
            Err((status, reason)) => {
                let event = facts.event("authz", "denied", status.code(), Some(reason));
                return Ok(self.refuse(request, &facts, event, status, None).await);
            }
        };

        let mut decision = None;
        if let Some(tier) = self.limiter.tier(&principal, policy.rate_class) {
            let checked = self.limiter.check(tier, &principal, facts.client_ip).await;
            if !checked.allowed {
                metrics::counter!("gateway_rate_limited_total", "tier" => tier.name).increment(1);
                let event = facts.event(
                    "security",
                    "rate_limited",
                    Code::ResourceExhausted,
                    Some(tier.name),
                );
                let status = tonic::Status::with_error_details(
                    Code::ResourceExhausted,
                    format!("rate limit of the {} tier exceeded", tier.name),
                    ErrorDetails::with_retry_info(Some(checked.retry_after)),
                );
                return Ok(self
                    .refuse(request, &facts, event, status, Some(&checked))
                    .await);
            }
            decision = Some(checked);
        }

        let deadline = self.prepare(&mut request, &facts, &policy);
        let deadline = deadline.map(|after| tokio::time::Instant::now() + after);
        let sent = if policy.client_streaming || !self.is_remote(facts.uri.path()) {
            // In process the service's decoder reports an oversized body itself.
            once(&mut inner, request, deadline).await?
        } else {
            // One request message, read whole here: an oversized one is refused with the
            // limit's status instead of breaking off a call already sent upstream.
            // A streaming method without a deadline still gets the longest one to send it.
            let read_by =
                deadline.unwrap_or_else(|| tokio::time::Instant::now() + self.max_timeout);
            match buffer(request, read_by).await {
                Err(status) => Err(status),
                Ok(buffered) if policy.idempotent && !policy.server_streaming => {
                    retrying(&mut inner, buffered, deadline).await?
                }
                Ok(buffered) => once(&mut inner, buffered.request(), deadline).await?,
            }
        };
        let mut response = match sent {
            Ok(response) => response,
            Err(status) => {
                if policy.audited {
                    self.audit
                        .record(facts.event("data_access", "failed", status.code(), None))
                        .await;
                }
                return Ok(self.reply(status, &request_id, decision.as_ref()));
            }
        };
        self.set_headers(response.headers_mut(), request_id, decision.as_ref());
        if !policy.audited {
            return Ok(response);
        }
        let audit = self.audit.clone();
        let watch = StatusWatch::new(move |code: Code| {
            let result = if code == Code::Ok {
                "succeeded"
            } else {
                "failed"
            };
            let event = facts.event("data_access", result, code, None);
            tokio::spawn(async move { audit.record(event).await });
        });
        Ok(watch.observe(response))
    }

    fn is_remote(&self, path: &str) -> bool {
        let service = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        self.remote_services.iter().any(|remote| remote == service)
    }

    /// Ends a call before it reaches its route: the audit event, then the refusal.
    async fn refuse(
        &self,
        request: Request<Body>,
        facts: &CallFacts,
        event: vibe_warehouse::AuditEvent,
        status: tonic::Status,
        decision: Option<&Decision>,
    ) -> Response<Body> {
        self.audit.record(event).await;
        self.drain(request).await;
        self.reply(status, &facts.request_id, decision)
    }

    /// Reads what the client is still sending of a refused call (bounded in size and
    /// time), so an HTTP/1.1 client sees the refusal instead of a broken pipe.
    async fn drain(&self, request: Request<Body>) {
        use http_body_util::BodyExt as _;
        let body = http_body_util::Limited::new(request.into_body(), self.max_request_bytes);
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, body.collect()).await;
    }

    /// A trailers-only gRPC response for `status`.
    fn reply(
        &self,
        status: tonic::Status,
        request_id: &HeaderValue,
        decision: Option<&Decision>,
    ) -> Response<Body> {
        let mut response = status.into_http::<Body>();
        let headers = response.headers_mut();
        self.set_headers(headers, request_id.clone(), decision);
        if let Some(decision) = decision.filter(|d| !d.allowed) {
            let seconds = decision.retry_after.as_secs_f64().ceil().max(1.0);
            headers.insert(http::header::RETRY_AFTER, HeaderValue::from(seconds as u64));
        }
        response
    }

    /// The request id and, for a limited call, the `RateLimit` headers.
    fn set_headers(
        &self,
        headers: &mut HeaderMap,
        request_id: HeaderValue,
        decision: Option<&Decision>,
    ) {
        headers.insert(REQUEST_ID_HEADER, request_id);
        let Some(decision) = decision else { return };
        let tier = decision.tier;
        if let Some(policy) = self.limiter.policy_header(tier) {
            headers.insert(HeaderName::from_static("ratelimit-policy"), policy.clone());
        }
        let reset =
            decision.reset_after.as_secs() + u64::from(decision.reset_after.subsec_nanos() > 0);
        let state = format!("\"{}\";r={};t={reset}", tier.name, decision.remaining);
        if let Ok(mut value) = HeaderValue::try_from(state) {
            // Changes with every call: not worth an HPACK table entry (as the request id).
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static("ratelimit"), value);
        }
    }

    /// The caller's policy for `path`, or the status that refuses it (fail closed).
    fn authorize(
        &self,
        principal: &Principal,
        path: &str,
    ) -> Result<&Arc<MethodPolicy>, (tonic::Status, &'static str)> {
        let Some(policy) = self.policies.get(path) else {
            return Err((
                tonic::Status::permission_denied("this method has no access policy"),
                "no_policy",
            ));
        };
        if policy.allows(&principal.roles) {
            return Ok(policy);
        }
        if principal.is_anonymous() {
            return Err((
                tonic::Status::unauthenticated("this method requires a bearer token"),
                "token_required",
            ));
        }
        Err((
            tonic::Status::permission_denied("the caller's roles may not call this method"),
            "role_not_allowed",
        ))
    }

    /// Rewrites what the services see: identity headers set here only, the capped
    /// deadline and the body limit. Returns the deadline to enforce.
    fn prepare(
        &self,
        request: &mut Request<Body>,
        facts: &CallFacts,
        policy: &MethodPolicy,
    ) -> Option<Duration> {
        let headers = request.headers_mut();
        headers.remove(PRINCIPAL_HEADER);
        headers.remove(CLIENT_IP_HEADER);
        if let Some(ip) = facts.client_ip
            && let Ok(value) = HeaderValue::from_str(&ip.to_string())
        {
            headers.insert(CLIENT_IP_HEADER, value);
        }
        let principal = &facts.principal;
        if let Some(value) = &principal.subject_header {
            headers.insert(PRINCIPAL_HEADER, value.clone());
        }
        headers.insert(ROLES_HEADER, principal.roles_header.clone());
        let asked = headers
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout);
        // The upstream is told the time left when the call is sent (`send::once`).
        let deadline = capped(asked, self.max_timeout, policy.server_streaming);
        let limit = self.max_request_bytes;
        let body = std::mem::take(request.body_mut());
        // The service's decoder passes a status from the body on as the call's status.
        let limited = http_body_util::BodyExt::map_err(
            http_body_util::Limited::new(body, limit),
            move |error| match error.downcast::<http_body_util::LengthLimitError>() {
                Ok(_) => tonic::Status::resource_exhausted(format!(
                    "the request is larger than gateway.max_request_bytes ({limit} bytes)"
                )),
                Err(error) => tonic::Status::from_error(error),
            },
        );
        *request.body_mut() = Body::new(limited);
        deadline
    }
}

/// How long a refused call's body may take to arrive before the refusal goes out anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(500);

fn client_ip<B>(request: &Request<B>) -> Option<IpAddr> {
    let extensions = request.extensions();
    let tcp = extensions.get::<TcpConnectInfo>().or_else(|| {
        extensions
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .map(TlsConnectInfo::get_ref)
    });
    tcp.and_then(TcpConnectInfo::remote_addr)
        .map(|addr| addr.ip())
}

/// The deadline a call runs with: what the caller asked for, at most `max`; a unary call
/// without one gets `max`, a server stream without one runs until it ends.
fn capped(asked: Option<Duration>, max: Duration, server_streaming: bool) -> Option<Duration> {
    match asked {
        Some(asked) => Some(asked.min(max)),
        None if server_streaming => None,
        None => Some(max),
    }
}

/// `grpc-timeout`: up to 8 digits and a unit (H, M, S, m, u, n).
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let split = value.len().checked_sub(1)?;
    let (digits, unit) = value.split_at(split);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("123456789S"), None);
        assert_eq!(parse_grpc_timeout("5x"), None);
        assert_eq!(parse_grpc_timeout(""), None);
    }

    #[test]
    fn deadlines_are_capped_and_unary_calls_always_get_one() {
        let max = Duration::from_secs(30);
        let asked = |secs| Some(Duration::from_secs(secs));
        assert_eq!(capped(asked(60), max, false), asked(30));
        assert_eq!(capped(asked(5), max, true), asked(5));
        assert_eq!(capped(None, max, false), asked(30));
        assert_eq!(capped(None, max, true), None);
    }
}
