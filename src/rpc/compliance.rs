use tonic::{Request, Response, Status};

use super::not_built;
use crate::proto::integration::v1::compliance_service_server::ComplianceService;
use crate::proto::integration::v1::*;

const AGE: &str = "age verification needs its encrypted attempt store and attempt limit";
const METRICS: &str = "compliance metrics need the warehouse";
const AUDIT: &str = "the audit trail needs the warehouse's audit table";

/// `vibe.integration.v1.ComplianceService`.
#[derive(Debug, Default)]
pub struct ComplianceRpc;

#[tonic::async_trait]
impl ComplianceService for ComplianceRpc {
    async fn verify_age(
        &self,
        _: Request<VerifyAgeRequest>,
    ) -> Result<Response<VerifyAgeResponse>, Status> {
        not_built("VerifyAge", AGE)
    }

    async fn get_age_verification(
        &self,
        _: Request<GetAgeVerificationRequest>,
    ) -> Result<Response<GetAgeVerificationResponse>, Status> {
        not_built("GetAgeVerification", AGE)
    }

    async fn get_compliance_metrics(
        &self,
        _: Request<GetComplianceMetricsRequest>,
    ) -> Result<Response<GetComplianceMetricsResponse>, Status> {
        not_built("GetComplianceMetrics", METRICS)
    }

    async fn list_audit_events(
        &self,
        _: Request<ListAuditEventsRequest>,
    ) -> Result<Response<ListAuditEventsResponse>, Status> {
        not_built("ListAuditEvents", AUDIT)
    }

    async fn record_audit_events(
        &self,
        _: Request<RecordAuditEventsRequest>,
    ) -> Result<Response<RecordAuditEventsResponse>, Status> {
        not_built("RecordAuditEvents", AUDIT)
    }
}
