//! The gRPC services as the wire sees them. Each maps protobuf to its domain crate and
//! domain errors to statuses; until a domain is built, its RPCs answer UNIMPLEMENTED
//! with a message naming the missing capability — never made-up data.

mod compliance;
mod compliance_wire;
mod dashboard;
mod dashboard_server;
mod memory;
mod reasoning;
mod sync;
mod wire;

pub use compliance::ComplianceRpc;
pub(crate) use compliance_wire::event_to_wire;
pub use dashboard::DashboardRpc;
pub use dashboard_server::DashboardServer;
pub use memory::MemoryRpc;
pub use reasoning::ReasoningRpc;
pub use sync::SyncRpc;

use std::pin::Pin;

use futures::Stream;

/// A server stream as the generated traits want it.
pub type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, tonic::Status>> + Send>>;

/// The UNIMPLEMENTED answer of an RPC whose capability is not built yet.
fn not_built<T>(method: &str, capability: &str) -> Result<T, tonic::Status> {
    Err(tonic::Status::unimplemented(format!(
        "{method} is not built yet: {capability}"
    )))
}
