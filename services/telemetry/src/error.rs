/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter {filter:?}: {reason}")]
    LogFilter { filter: String, reason: String },
    #[error("otlp exporter: {0}")]
    Otlp(String),
    #[error("a global log subscriber is already installed")]
    SubscriberInstalled,
    #[error("prometheus recorder: {0}")]
    Prometheus(String),
    #[error("metrics endpoint: {0}")]
    Serve(#[from] std::io::Error),
}
