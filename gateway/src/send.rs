//! Sending a call to its route: bounded by the call's deadline, and for idempotent unary
//! calls tried again when the upstream answers UNAVAILABLE.

use std::time::Duration;

use http::{Request, Response};
use tonic::Code;
use tonic::body::Body;

use crate::status_body::code_of;

/// The inner service's answer, or the status the gateway ends the call with itself.
pub(crate) type Sent<E> = Result<Result<Response<Body>, tonic::Status>, E>;

/// Calls once, bounded by `deadline`.
pub(crate) async fn once<S>(
    inner: &mut S,
    request: Request<Body>,
    deadline: Option<tokio::time::Instant>,
) -> Sent<S::Error>
where
    S: tower::Service<Request<Body>, Response = Response<Body>>,
{
    use tower::ServiceExt as _;
    let call = async { inner.ready().await?.call(request).await };
    match deadline {
        None => Ok(Ok(call.await?)),
        Some(at) => match tokio::time::timeout_at(at, call).await {
            Ok(response) => Ok(Ok(response?)),
            Err(_) => Ok(Err(deadline_exceeded())),
        },
    }
}

/// Attempts of an idempotent unary call when the upstream answers UNAVAILABLE (it is
/// unreachable, or says so): the body is buffered once and sent again after a pause.
const ATTEMPTS: u32 = 3;
const RETRY_PAUSE: Duration = Duration::from_millis(50);

pub(crate) async fn retrying<S>(
    inner: &mut S,
    request: Buffered,
    deadline: Option<tokio::time::Instant>,
) -> Sent<S::Error>
where
    S: tower::Service<Request<Body>, Response = Response<Body>>,
{
    let mut attempt = 1;
    loop {
        let sent = once(inner, request.request(), deadline).await?;
        let unavailable =
            matches!(&sent, Ok(response) if code_of(response.headers()) == Some(Code::Unavailable));
        let pause = RETRY_PAUSE * attempt;
        let time_left = deadline.is_none_or(|at| tokio::time::Instant::now() + pause < at);
        if !unavailable || attempt == ATTEMPTS || !time_left {
            return Ok(sent);
        }
        metrics::counter!("gateway_upstream_retries_total").increment(1);
        tokio::time::sleep(pause).await;
        attempt += 1;
    }
}

/// A request whose body was read whole, to be sent once or again.
pub(crate) struct Buffered {
    parts: http::request::Parts,
    body: bytes::Bytes,
}

impl Buffered {
    pub(crate) fn request(&self) -> Request<Body> {
        let body = Body::new(http_body_util::Full::new(self.body.clone()));
        Request::from_parts(self.parts.clone(), body)
    }
}

/// Reads a request's body whole by `deadline`; a body over the edge's size limit fails
/// with the status the limit gives it.
pub(crate) async fn buffer(
    request: Request<Body>,
    deadline: tokio::time::Instant,
) -> Result<Buffered, tonic::Status> {
    use http_body_util::BodyExt as _;
    let (parts, body) = request.into_parts();
    let collected = tokio::time::timeout_at(deadline, body.collect())
        .await
        .map_err(|_| deadline_exceeded())??;
    Ok(Buffered {
        parts,
        body: collected.to_bytes(),
    })
}

fn deadline_exceeded() -> tonic::Status {
    tonic::Status::deadline_exceeded("deadline exceeded at the gateway")
}
