//! The edge of vibe as a library: which public gRPC services the gateway listener
//! serves and where each call goes — to a service hosted in the same process, or over a
//! pooled tonic channel to a remote one.
//!
//! Invariant: a call's request and response bodies are passed through frame by frame
//! (server streams are never buffered), and every hop carries the caller's W3C trace
//! context. Authentication, roles, rate limits and grpc-web arrive with the gateway issue.

mod error;
mod routes;
mod upstream;

pub use error::GatewayError;
pub use routes::GatewayRoutes;
pub use upstream::{RemoteUpstream, Upstream, in_process};
