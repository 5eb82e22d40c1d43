use std::io::IsTerminal;
use std::time::Duration;

use opentelemetry::global;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanExporter};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::{LogFormat, TelemetryError, TelemetrySettings};

const OTLP_EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// The installed logs and traces of this process; [`Telemetry::shutdown`] flushes spans.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Installs the global subscriber and tracer provider. Traces leave the process only
    /// when `otlp_endpoint` is set. Without it no span is recorded for OpenTelemetry (a
    /// recorded span with nowhere to go costs every call), and an inbound W3C
    /// `traceparent` travels on unchanged with the request's headers.
    pub fn init(settings: &TelemetrySettings) -> Result<Self, TelemetryError> {
        let mut builder = provider_builder(settings);
        let exporting = settings.otlp_endpoint.is_some();
        if let Some(endpoint) = &settings.otlp_endpoint {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .with_timeout(OTLP_EXPORT_TIMEOUT)
                .build()
                .map_err(|err| TelemetryError::Otlp(err.to_string()))?;
            builder = builder.with_batch_exporter(exporter);
        }
        install(settings, builder.build(), exporting)
    }

    /// Like [`Telemetry::init`] but exports every span synchronously to `exporter`;
    /// for tests that read spans back (e.g. an in-memory exporter).
    pub fn init_with_exporter<E>(
        settings: &TelemetrySettings,
        exporter: E,
    ) -> Result<Self, TelemetryError>
    where
        E: SpanExporter + 'static,
    {
        install(
            settings,
            provider_builder(settings)
                .with_simple_exporter(exporter)
                .build(),
            true,
        )
    }

    /// Flushes and stops span export. Call once, after the servers have drained.
    pub fn shutdown(&self) {
        if let Err(err) = self.provider.force_flush() {
            tracing::warn!(error = %err, "trace flush failed");
        }
        if let Err(err) = self.provider.shutdown() {
            tracing::warn!(error = %err, "trace exporter shutdown failed");
        }
    }
}

fn provider_builder(
    settings: &TelemetrySettings,
) -> opentelemetry_sdk::trace::TracerProviderBuilder {
    let ratio = settings.trace_sample_ratio.clamp(0.0, 1.0);
    SdkTracerProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name(settings.service_name.clone())
                .build(),
        )
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            ratio,
        ))))
}

fn install(
    settings: &TelemetrySettings,
    provider: SdkTracerProvider,
    exporting: bool,
) -> Result<Telemetry, TelemetryError> {
    subscriber(settings, &provider, exporting)?
        .try_init()
        .map_err(|_| TelemetryError::SubscriberInstalled)?;
    global::set_text_map_propagator(TraceContextPropagator::new());
    global::set_tracer_provider(provider.clone());
    Ok(Telemetry { provider })
}

/// The log layer and, when spans leave the process, the OpenTelemetry layer.
fn subscriber(
    settings: &TelemetrySettings,
    provider: &SdkTracerProvider,
    exporting: bool,
) -> Result<impl tracing::Subscriber + Send + Sync + 'static, TelemetryError> {
    let filter =
        EnvFilter::try_new(&settings.log_filter).map_err(|err| TelemetryError::LogFilter {
            filter: settings.log_filter.clone(),
            reason: err.to_string(),
        })?;
    let json = match settings.log_format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let fmt_layer = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed()
    };
    // Spans below INFO belong to libraries' internals (h2, hyper); they are not exported.
    let otel_layer = exporting.then(|| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("vibe"))
            .with_filter(LevelFilter::INFO)
    });
    Ok(tracing_subscriber::registry()
        .with(fmt_layer.with_filter(filter))
        .with(otel_layer))
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::{HeaderValue, Request, Response};
    use tower::{Layer, ServiceExt};

    use super::*;
    use crate::{GrpcServerLayer, InjectTraceContextLayer, MethodNames};

    /// A sampled W3C context, as a caller outside would send it.
    const INBOUND: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    /// The `traceparent` an upstream receives when a call with [`INBOUND`] crosses a
    /// server layer and then an outgoing hop, as at the gateway, under the subscriber
    /// `Telemetry` installs.
    async fn forwarded(exporting: bool) -> String {
        let settings = TelemetrySettings::default();
        let provider = provider_builder(&settings).build();
        let dispatch = tracing::Dispatch::new(subscriber(&settings, &provider, exporting).unwrap());
        let _installed = tracing::dispatcher::set_default(&dispatch);
        global::set_text_map_propagator(TraceContextPropagator::new());

        let upstream = tower::service_fn(|request: Request<()>| async move {
            let mut response = Response::new(tonic::body::Body::empty());
            if let Some(sent) = request.headers().get("traceparent") {
                response.headers_mut().insert("traceparent", sent.clone());
            }
            Ok::<_, Infallible>(response)
        });
        let hop = GrpcServerLayer::new("gateway", MethodNames::default())
            .layer(InjectTraceContextLayer.layer(upstream));
        let mut request = Request::new(());
        request
            .headers_mut()
            .insert("traceparent", HeaderValue::from_static(INBOUND));
        let response = hop.oneshot(request).await.unwrap();
        response.headers()["traceparent"]
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[tokio::test]
    async fn without_an_exporter_the_callers_traceparent_passes_unchanged() {
        assert_eq!(forwarded(false).await, INBOUND);
    }

    #[tokio::test]
    async fn with_an_exporter_the_hop_continues_the_callers_trace_from_its_own_span() {
        let sent = forwarded(true).await;
        let trace_id = |traceparent: &str| traceparent.split('-').nth(1).map(str::to_owned);
        assert_eq!(trace_id(&sent), trace_id(INBOUND), "{sent}");
        assert_ne!(sent, INBOUND, "the upstream's parent is this hop's span");
    }
}
