use std::sync::Arc;

use tonic::{Request, Response, Status};
use vibe_compliance::{
    AuditQuery, Compliance, DateParts, Reason, VerificationState, VerifyAgeRequest as Attempt,
};

use super::compliance_wire::{
    caller, compliance_status, event_from_wire, event_to_wire, event_type_filter, result_filter,
    time,
};
use super::wire;
use crate::proto::integration::v1::compliance_service_server::ComplianceService;
use crate::proto::integration::v1::*;

/// `vibe.integration.v1.ComplianceService`.
#[derive(Debug, Clone)]
pub struct ComplianceRpc {
    compliance: Arc<Compliance>,
}

impl ComplianceRpc {
    pub fn new(compliance: Arc<Compliance>) -> Self {
        Self { compliance }
    }
}

fn reason(reason: Reason) -> AgeVerificationReason {
    match reason {
        Reason::Verified => AgeVerificationReason::Verified,
        Reason::UnderMinimumAge => AgeVerificationReason::UnderMinimumAge,
        Reason::InvalidInput => AgeVerificationReason::InvalidInput,
        Reason::RateLimited => AgeVerificationReason::RateLimited,
    }
}

fn outcome(word: &str) -> AttemptOutcome {
    match word {
        "verified" => AttemptOutcome::Verified,
        "rejected" => AttemptOutcome::Rejected,
        "rate_limited" => AttemptOutcome::RateLimited,
        _ => AttemptOutcome::Unspecified,
    }
}

/// Only self-attestation exists; a stored method word maps to its wire value.
fn method(word: &str) -> VerificationMethod {
    match word {
        vibe_compliance::SELF_ATTESTED => VerificationMethod::SelfAttested,
        "document_check" => VerificationMethod::DocumentCheck,
        _ => VerificationMethod::Unspecified,
    }
}

#[tonic::async_trait]
impl ComplianceService for ComplianceRpc {
    async fn verify_age(
        &self,
        request: Request<VerifyAgeRequest>,
    ) -> Result<Response<VerifyAgeResponse>, Status> {
        let caller = caller(request.metadata());
        let request = request.into_inner();
        let attempt = Attempt {
            customer_id: request.customer_id,
            full_name: request.full_name,
            // Negative months or days are no calendar date; the domain says so by field.
            date_of_birth: request.date_of_birth.map(|d| DateParts {
                year: d.year,
                month: u32::try_from(d.month).unwrap_or(0),
                day: u32::try_from(d.day).unwrap_or(0),
            }),
            state: request.state,
            id_last_four: request.id_last_four,
        };
        let outcome = self
            .compliance
            .verify_age(&attempt, &caller)
            .await
            .map_err(compliance_status)?;
        let verification = outcome.verification.as_ref();
        Ok(Response::new(VerifyAgeResponse {
            verified: outcome.reason == Reason::Verified,
            reason: reason(outcome.reason).into(),
            age: outcome
                .age
                .map(|age| i32::try_from(age).unwrap_or(i32::MAX)),
            verified_at: verification.and_then(|v| wire::timestamp(v.verified_at)),
            expires_at: verification.and_then(|v| wire::timestamp(v.expires_at)),
            method: VerificationMethod::SelfAttested.into(),
            verification_id: verification
                .map(|v| v.verification_id.clone())
                .unwrap_or_default(),
            attempt_id: outcome.attempt_id,
            attempts_remaining: i32::try_from(outcome.attempts_remaining).unwrap_or(0),
            retry_after: outcome.retry_after.and_then(wire::timestamp),
        }))
    }

    async fn get_age_verification(
        &self,
        request: Request<GetAgeVerificationRequest>,
    ) -> Result<Response<GetAgeVerificationResponse>, Status> {
        let status = self
            .compliance
            .age_verification(&request.get_ref().customer_id)
            .await
            .map_err(compliance_status)?;
        let (state, latest) = match &status.state {
            VerificationState::Valid(v) => (AgeVerificationStatus::VerifiedValid, Some(v)),
            VerificationState::Expired(v) => (AgeVerificationStatus::Expired, Some(v)),
            VerificationState::Never => (AgeVerificationStatus::NeverVerified, None),
        };
        Ok(Response::new(GetAgeVerificationResponse {
            status: state.into(),
            verification_id: latest
                .map(|v| v.verification_id.clone())
                .unwrap_or_default(),
            verified_at: latest.and_then(|v| wire::timestamp(v.verified_at)),
            expires_at: latest.and_then(|v| wire::timestamp(v.expires_at)),
            method: latest
                .map_or(VerificationMethod::Unspecified, |v| method(&v.method))
                .into(),
            last_attempt_at: status.last_attempt_at.and_then(wire::timestamp),
            attempts_remaining: i32::try_from(status.attempts_remaining).unwrap_or(0),
        }))
    }

    async fn get_compliance_metrics(
        &self,
        request: Request<GetComplianceMetricsRequest>,
    ) -> Result<Response<GetComplianceMetricsResponse>, Status> {
        let request = request.into_inner();
        let start = time(request.start_time.as_ref(), "start_time")?;
        let end = time(request.end_time.as_ref(), "end_time")?;
        let m = self
            .compliance
            .metrics(start, end)
            .await
            .map_err(compliance_status)?;
        let a = &m.attempts;
        let p = &m.products;
        Ok(Response::new(GetComplianceMetricsResponse {
            age_verification: Some(AgeVerificationMetrics {
                attempts_total: a.total,
                attempts_verified: a.verified,
                attempts_rejected: a.rejected,
                attempts_rate_limited: a.rate_limited,
                success_rate: a.success_rate,
                by_outcome: a
                    .by_outcome
                    .iter()
                    .map(|(word, count)| OutcomeCount {
                        outcome: outcome(word).into(),
                        count: *count,
                    })
                    .collect(),
                by_reason: a
                    .by_reason
                    .iter()
                    .map(|(r, count)| ReasonCount {
                        reason: reason(*r).into(),
                        count: *count,
                    })
                    .collect(),
                distinct_customers_attempted: a.customers_attempted,
                distinct_customers_verified: a.customers_verified,
            }),
            products: Some(ProductComplianceMetrics {
                total_products: p.total,
                products_with_coa: p.with_certificate_of_analysis,
                coa_share: m.coa_share,
                products_with_known_potency: p.with_known_potency,
                products_within_thc_limit: p.within_thc_limit,
                products_exceeding_thc_limit: p.exceeding_thc_limit,
                within_thc_limit_share: m.within_thc_limit_share,
            }),
            verification_coverage: Some(VerificationCoverage {
                customers_transacting: m.coverage.customers_transacting,
                customers_transacting_verified: m.coverage.customers_transacting_verified,
                coverage: m.coverage.coverage,
            }),
            texas_readiness: Some(TexasReadiness {
                score: m.readiness.score,
                coa_component: m.readiness.coa_component,
                thc_component: m.readiness.thc_component,
                verification_component: m.readiness.verification_component,
            }),
            // Computed for this request, straight from the warehouse.
            freshness: Some(Freshness {
                state: FreshnessState::Fresh.into(),
                as_of: wire::timestamp(m.as_of),
                query_duration: None,
                fresh_until: None,
            }),
        }))
    }

    async fn list_audit_events(
        &self,
        request: Request<ListAuditEventsRequest>,
    ) -> Result<Response<ListAuditEventsResponse>, Status> {
        let request = request.into_inner();
        let query = AuditQuery {
            start: time(request.start_time.as_ref(), "start_time")?,
            end: time(request.end_time.as_ref(), "end_time")?,
            principal: request.principal,
            event_type: event_type_filter(request.event_type)?,
            result: result_filter(request.result)?,
            method: request.method,
            page_size: request.page_size,
            page_token: request.page_token,
        };
        let page = self
            .compliance
            .list_audit_events(&query)
            .await
            .map_err(compliance_status)?;
        Ok(Response::new(ListAuditEventsResponse {
            events: page.events.into_iter().map(event_to_wire).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn record_audit_events(
        &self,
        request: Request<RecordAuditEventsRequest>,
    ) -> Result<Response<RecordAuditEventsResponse>, Status> {
        let events = request
            .into_inner()
            .events
            .into_iter()
            .enumerate()
            .map(|(i, event)| event_from_wire(event, i))
            .collect::<Result<Vec<_>, _>>()?;
        let outcome = self
            .compliance
            .record_audit_events(events)
            .await
            .map_err(compliance_status)?;
        Ok(Response::new(RecordAuditEventsResponse {
            accepted: outcome.accepted,
            duplicates: outcome.duplicates,
        }))
    }
}
