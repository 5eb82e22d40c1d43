//! Sending a call to its route: bounded by the call's deadline, and for idempotent unary
//! calls tried again when the upstream answers UNAVAILABLE.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, Request, Response};
use tonic::Code;
use tonic::body::Body;

use crate::status_body::code_of;

/// The inner service's answer, or the status the gateway ends the call with itself.
pub(crate) type Sent<E> = Result<Result<Response<Body>, tonic::Status>, E>;

/// Calls once, bounded by `deadline`, which the upstream is told as the time left.
pub(crate) async fn once<S>(
    inner: &mut S,
    mut request: Request<Body>,
    deadline: Option<tokio::time::Instant>,
) -> Sent<S::Error>
where
    S: tower::Service<Request<Body>, Response = Response<Body>>,
{
    use tower::ServiceExt as _;
    if let Some(at) = deadline {
        set_time_left(request.headers_mut(), at);
    }
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

/// `grpc-timeout` = the time left until `deadline`: reading the body or pausing before a
/// retry has used some of what the caller asked for, and the upstream should stop when
/// the gateway does. Rounded up to whole milliseconds (a call is never sent with none
/// left); seconds when the milliseconds would not fit the header's 8 digits.
fn set_time_left(headers: &mut HeaderMap, deadline: tokio::time::Instant) {
    const MAX_DIGITS: u128 = 99_999_999;
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    let millis = left.as_micros().div_ceil(1000).max(1);
    let value = if millis <= MAX_DIGITS {
        format!("{millis}m")
    } else {
        format!("{}S", millis.div_ceil(1000).min(MAX_DIGITS))
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert("grpc-timeout", value);
    }
}

fn deadline_exceeded() -> tonic::Status {
    tonic::Status::deadline_exceeded("deadline exceeded at the gateway")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upstream that answers at once with the `grpc-timeout` it was sent, or after
    /// `delay` when given one.
    fn upstream(
        delay: Duration,
    ) -> impl tower::Service<Request<Body>, Response = Response<Body>, Error = std::convert::Infallible>
    {
        tower::service_fn(move |request: Request<Body>| async move {
            tokio::time::sleep(delay).await;
            let mut response = Response::new(Body::empty());
            if let Some(sent) = request.headers().get("grpc-timeout") {
                response.headers_mut().insert("grpc-timeout", sent.clone());
            }
            Ok(response)
        })
    }

    #[tokio::test]
    async fn the_upstream_is_told_the_time_left_not_the_time_asked() {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut request = Request::new(Body::empty());
        request
            .headers_mut()
            .insert("grpc-timeout", HeaderValue::from_static("10000m"));
        let response = once(&mut upstream(Duration::ZERO), request, Some(deadline))
            .await
            .expect("infallible")
            .expect("answered");
        let sent = response.headers()["grpc-timeout"].to_str().expect("ascii");
        let millis: u64 = sent.trim_end_matches('m').parse().expect("milliseconds");
        assert!((1..=9_700).contains(&millis), "sent {sent}");
    }

    #[tokio::test]
    async fn a_call_past_its_deadline_ends_deadline_exceeded() {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(50);
        let sent = once(
            &mut upstream(Duration::from_secs(5)),
            Request::new(Body::empty()),
            Some(deadline),
        )
        .await
        .expect("infallible");
        let status = sent.expect_err("the gateway ends the call");
        assert_eq!(status.code(), Code::DeadlineExceeded);
    }
}
