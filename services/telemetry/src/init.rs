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

    tracing_subscriber::registry()
        .with(fmt_layer.with_filter(filter))
        .with(otel_layer)
        .try_init()
        .map_err(|_| TelemetryError::SubscriberInstalled)?;
    global::set_text_map_propagator(TraceContextPropagator::new());
    global::set_tracer_provider(provider.clone());
    Ok(Telemetry { provider })
}
