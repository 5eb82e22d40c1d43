//! A gateway running apart from an embedded (DuckDB) warehouse cannot open its file: its
//! audit events go to the integration target's `RecordAuditEvents` instead, so the audit
//! table stays the one record whatever the layout. Retried batches are de-duplicated there
//! by event id.

use std::time::Duration;

use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use vibe_warehouse::AuditEvent;

use crate::proto::integration::v1::RecordAuditEventsRequest;
use crate::proto::integration::v1::compliance_service_client::ComplianceServiceClient;
use crate::rpc::event_to_wire;

/// Most events per call (the contract's limit).
const MAX_EVENTS_PER_CALL: usize = 500;
/// Upper bound of one call; the audit writer retries after it.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct RemoteAudit {
    client: ComplianceServiceClient<Channel>,
}

impl RemoteAudit {
    /// Connects lazily to the integration target at `url` (its internal listener).
    pub(crate) fn new(url: &str, connect_timeout: Duration) -> Result<Self, String> {
        let channel = Endpoint::from_shared(url.to_owned())
            .map_err(|error| error.to_string())?
            .connect_timeout(connect_timeout)
            .connect_lazy();
        Ok(Self {
            client: ComplianceServiceClient::new(channel),
        })
    }
}

#[async_trait::async_trait]
impl vibe_gateway::AuditStore for RemoteAudit {
    async fn write(&self, events: &[AuditEvent]) -> Result<(), String> {
        for chunk in events.chunks(MAX_EVENTS_PER_CALL) {
            let mut request = tonic::Request::new(RecordAuditEventsRequest {
                events: chunk.iter().cloned().map(event_to_wire).collect(),
            });
            request.set_timeout(CALL_TIMEOUT);
            // The identity the services listener trusts: set by the gateway, as for every
            // call it forwards (that listener is internal only).
            let metadata = request.metadata_mut();
            metadata.insert(
                vibe_gateway::PRINCIPAL_HEADER,
                MetadataValue::from_static("gateway"),
            );
            metadata.insert(
                vibe_gateway::ROLES_HEADER,
                MetadataValue::from_static("service"),
            );
            self.client
                .clone()
                .record_audit_events(request)
                .await
                .map_err(|status| format!("record audit events: {}", status.message()))?;
        }
        Ok(())
    }
}
