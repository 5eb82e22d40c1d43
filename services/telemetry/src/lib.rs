//! Telemetry for every vibe process: structured logs, OpenTelemetry traces with W3C
//! context carried across hops, and Prometheus metrics.
//!
//! Invariant: a process installs telemetry once ([`Telemetry::init`]); every gRPC server
//! wraps its services in [`GrpcServerLayer`], and every outgoing gRPC hop goes through
//! [`InjectTraceContextLayer`], so one trace id follows a call across services.

mod error;
mod grpc;
mod init;
mod prometheus;
mod propagation;
mod request_id;
mod settings;

pub use error::TelemetryError;
pub use grpc::{GrpcServer, GrpcServerLayer, MethodNames};
pub use init::Telemetry;
pub use prometheus::MetricsRegistry;
pub use propagation::{
    InjectTraceContext, InjectTraceContextLayer, extract_context, inject_context,
};
pub use request_id::{REQUEST_ID_HEADER, ensure_request_id};
pub use settings::{LogFormat, TelemetrySettings, validate_log_filter};
