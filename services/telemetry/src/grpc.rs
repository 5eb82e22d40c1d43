//! Server-side gRPC telemetry: one span per call (parented on the caller's W3C context)
//! and RED metrics in the go-grpc-prometheus naming that dashboards already know.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use metrics::Label;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::{ensure_request_id, extract_context};

const STARTED: &str = "grpc_server_started_total";
const HANDLED: &str = "grpc_server_handled_total";
const HANDLING_SECONDS: &str = "grpc_server_handling_seconds";
/// Latency buckets in seconds for [`HANDLING_SECONDS`].
pub(crate) const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
pub(crate) const HISTOGRAMS: &[&str] = &[HANDLING_SECONDS];

/// The full method paths (`/package.Service/Method`) a process serves. Calls to anything
/// else are labelled `unknown`, so a scanner cannot blow up metric cardinality.
#[derive(Debug, Clone, Default)]
pub struct MethodNames(Arc<HashSet<String>>);

impl MethodNames {
    pub fn new(paths: impl IntoIterator<Item = String>) -> Self {
        Self(Arc::new(paths.into_iter().collect()))
    }
}

/// One method's metric handles, registered when the layer is built: a lookup by labels
/// on every call would cost more than many of the calls it measures.
#[derive(Debug)]
struct MethodMetrics {
    labels: Vec<Label>,
    started: metrics::Counter,
    handling: metrics::Histogram,
    /// `grpc_server_handled_total` per status code, registered on first use.
    handled: [OnceLock<metrics::Counter>; 17],
}

impl MethodMetrics {
    fn new(component: &'static str, service: &str, method: &str) -> Self {
        let labels = vec![
            Label::new("component", component),
            Label::new("grpc_service", service.to_owned()),
            Label::new("grpc_method", method.to_owned()),
        ];
        Self {
            started: metrics::counter!(STARTED, labels.iter()),
            handling: metrics::histogram!(HANDLING_SECONDS, labels.iter()),
            handled: std::array::from_fn(|_| OnceLock::new()),
            labels,
        }
    }

    fn handled(&self, code: tonic::Code) -> &metrics::Counter {
        let index = usize::try_from(i32::from(code)).unwrap_or(0) % self.handled.len();
        self.handled[index].get_or_init(|| {
            let mut labels = self.labels.clone();
            labels.push(Label::new("grpc_code", format!("{code:?}")));
            metrics::counter!(HANDLED, labels.iter())
        })
    }
}

/// The handles of every known method, and of `unknown`.
#[derive(Debug)]
struct Registered {
    methods: HashMap<String, Arc<MethodMetrics>>,
    unknown: Arc<MethodMetrics>,
}

impl Registered {
    fn new(component: &'static str, names: &MethodNames) -> Self {
        let methods = names
            .0
            .iter()
            .filter_map(|path| {
                let (service, method) = path.strip_prefix('/')?.split_once('/')?;
                let metrics = MethodMetrics::new(component, service, method);
                Some((path.clone(), Arc::new(metrics)))
            })
            .collect();
        Self {
            methods,
            unknown: Arc::new(MethodMetrics::new(component, "unknown", "unknown")),
        }
    }

    fn of(&self, path: &str) -> Arc<MethodMetrics> {
        Arc::clone(self.methods.get(path).unwrap_or(&self.unknown))
    }
}

/// Wraps a gRPC server's services with per-call spans and metrics.
#[derive(Debug, Clone)]
pub struct GrpcServerLayer {
    component: &'static str,
    metrics: Arc<Registered>,
}

impl GrpcServerLayer {
    /// `component` labels the metrics (`gateway` or `services`), so one process hosting
    /// both listeners reports each hop separately.
    pub fn new(component: &'static str, methods: MethodNames) -> Self {
        Self {
            component,
            metrics: Arc::new(Registered::new(component, &methods)),
        }
    }
}

impl<S> tower::Layer<S> for GrpcServerLayer {
    type Service = GrpcServer<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcServer {
            inner,
            layer: self.clone(),
        }
    }
}

/// See [`GrpcServerLayer`].
#[derive(Debug, Clone)]
pub struct GrpcServer<S> {
    inner: S,
    layer: GrpcServerLayer,
}

impl<S, B, RB> tower::Service<Request<B>> for GrpcServer<S>
where
    S: tower::Service<Request<B>, Response = Response<RB>>,
    RB: Body,
{
    type Response = Response<ObservedBody<RB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // Known before the span is made: recording a field later costs the JSON log
        // format a parse and a rewrite of every field the span has.
        let request_id = ensure_request_id(request.headers_mut());
        let path = request.uri().path();
        let metrics = self.layer.metrics.of(path);
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %path.trim_start_matches('/'),
            otel.kind = "server",
            component = self.layer.component,
            rpc.system = "grpc",
            request_id = request_id.to_str().unwrap_or_default(),
        );
        // An unparsable or missing traceparent starts a new trace; nothing to report.
        let _ = span.set_parent(extract_context(request.headers()));
        metrics.started.increment(1);
        let inner = span.in_scope(|| self.inner.call(request));
        ResponseFuture {
            inner,
            call: Some(Call {
                metrics,
                span,
                start: Instant::now(),
                finished: false,
            }),
        }
    }
}

/// One call being observed; records its outcome exactly once, also when dropped early.
struct Call {
    metrics: Arc<MethodMetrics>,
    span: Span,
    start: Instant,
    finished: bool,
}

impl Call {
    fn finish(&mut self, code: tonic::Code) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        // An OpenTelemetry attribute, not a span field: recording a field makes the JSON
        // log format parse and rewrite the span's fields on every call.
        self.span
            .set_attribute("rpc.grpc.status_code", i64::from(i32::from(code)));
        self.metrics.handled(code).increment(1);
        self.metrics
            .handling
            .record(self.start.elapsed().as_secs_f64());
    }

    /// Finishes from `grpc-status` in headers or trailers; `None` when absent.
    fn finish_from(&mut self, headers: &HeaderMap) -> Option<()> {
        let status = headers.get("grpc-status")?;
        let code = status
            .to_str()
            .ok()
            .and_then(|s| s.parse::<i32>().ok())
            .map_or(tonic::Code::Unknown, tonic::Code::from_i32);
        self.finish(code);
        Some(())
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        // The client went away before the status was sent.
        self.finish(tonic::Code::Cancelled);
    }
}

pin_project_lite::pin_project! {
    /// Future of [`GrpcServer`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        call: Option<Call>,
    }
}

impl<F, RB, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
    RB: Body,
{
    type Output = Result<Response<ObservedBody<RB>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = match this.call.as_ref() {
            Some(call) => call.span.in_scope(|| this.inner.poll(cx)),
            None => this.inner.poll(cx),
        };
        let result = ready!(result);
        let mut call = this.call.take();
        Poll::Ready(match result {
            Ok(response) => {
                // Trailers-only responses (most errors) carry the status in the headers.
                if let Some(c) = call.as_mut()
                    && c.finish_from(response.headers()).is_some()
                {
                    call = None;
                }
                Ok(response.map(|body| ObservedBody { inner: body, call }))
            }
            Err(err) => {
                if let Some(mut c) = call {
                    c.finish(tonic::Code::Internal);
                }
                Err(err)
            }
        })
    }
}

pin_project_lite::pin_project! {
    /// Response body that records the call's outcome when the trailers pass by.
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
    }
}

impl<B: Body> Body for ObservedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = match this.call.as_ref() {
            Some(call) => call.span.in_scope(|| this.inner.poll_frame(cx)),
            None => this.inner.poll_frame(cx),
        };
        let frame = ready!(polled);
        if let Some(call) = this.call.as_mut() {
            match &frame {
                Some(Ok(frame)) => {
                    if let Some(trailers) = frame.trailers_ref() {
                        call.finish_from(trailers);
                    }
                }
                Some(Err(_)) => call.finish(tonic::Code::Internal),
                None => call.finish(tonic::Code::Unknown),
            }
            if call.finished {
                *this.call = None;
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
