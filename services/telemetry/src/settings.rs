/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Pretty when stderr is a terminal, JSON otherwise.
    #[default]
    Auto,
    /// One JSON object per line (what log collectors want).
    Json,
    /// Human-readable, coloured.
    Pretty,
}

/// Telemetry settings, already validated by the caller's config layer.
#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    pub log_format: LogFormat,
    /// An `EnvFilter` directive such as `info` or `info,vibe=debug`.
    pub log_filter: String,
    /// OTLP/gRPC collector endpoint; traces are exported only when set.
    pub otlp_endpoint: Option<String>,
    /// `service.name` on every exported span.
    pub service_name: String,
    /// Share of new root traces that are sampled (0.0..=1.0); child spans follow their parent.
    pub trace_sample_ratio: f64,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Auto,
            log_filter: "info".to_owned(),
            otlp_endpoint: None,
            service_name: "vibe".to_owned(),
            trace_sample_ratio: 1.0,
        }
    }
}

/// Checks an `EnvFilter` directive such as `info,vibe=debug` without installing it.
pub fn validate_log_filter(filter: &str) -> Result<(), String> {
    tracing_subscriber::EnvFilter::try_new(filter)
        .map(|_| ())
        .map_err(|err| err.to_string())
}
