//! The edge of vibe as a library: the one door from outside.
//!
//! Per gRPC call ([`EdgeLayer`]): a request id, authentication (JWT, keys pinned to one
//! algorithm), the method's declared policy (fail closed), a GCRA rate limit (global in
//! Redis, in process as fallback), a capped deadline, audit events; then the route to the
//! service — in this process or over a tonic channel. Around it ([`http`]): grpc-web,
//! CORS from an allow-list, security headers and the cockpit's static files.
//!
//! Invariant: a call's request and response bodies are passed through frame by frame
//! (server streams are never buffered), every hop carries the caller's W3C trace context,
//! and no call reaches a service without passing every check above.

mod audit;
pub mod auth;
mod edge;
mod error;
pub mod http;
pub mod limit;
mod outlier;
mod policy;
mod routes;
mod send;
mod status_body;
mod upstream;

pub use audit::{AuditLog, AuditSettings, AuditStore, CallFacts, WarehouseAudit};
pub use edge::{
    CLIENT_IP_HEADER, Edge, EdgeLayer, PRINCIPAL_HEADER, REQUEST_ID_HEADER, ROLES_HEADER,
};
pub use error::GatewayError;
pub use policy::{MethodPolicy, Policies, RateClass, Role};
pub use routes::GatewayRoutes;
pub use upstream::{RemoteUpstream, Upstream, in_process};
