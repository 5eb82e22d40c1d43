use std::task::{Context as TaskContext, Poll};

use http::{HeaderMap, Request};
use opentelemetry::Context;
use opentelemetry::global;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Reads a W3C `traceparent`/`tracestate` from incoming headers.
pub fn extract_context(headers: &HeaderMap) -> Context {
    global::get_text_map_propagator(|propagator| propagator.extract(&HeaderExtractor(headers)))
}

/// Writes `cx` as W3C `traceparent`/`tracestate` into outgoing headers.
pub fn inject_context(cx: &Context, headers: &mut HeaderMap) {
    global::get_text_map_propagator(|propagator| {
        propagator.inject_context(cx, &mut HeaderInjector(headers));
    });
}

/// Client-side layer: every outgoing request carries the current span's trace context.
#[derive(Debug, Clone, Copy, Default)]
pub struct InjectTraceContextLayer;

impl<S> tower::Layer<S> for InjectTraceContextLayer {
    type Service = InjectTraceContext<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InjectTraceContext { inner }
    }
}

/// See [`InjectTraceContextLayer`].
#[derive(Debug, Clone)]
pub struct InjectTraceContext<S> {
    inner: S,
}

impl<S, B> tower::Service<Request<B>> for InjectTraceContext<S>
where
    S: tower::Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        inject_context(&tracing::Span::current().context(), request.headers_mut());
        self.inner.call(request)
    }
}
