//! `VerifyAge` and `GetAgeVerification`: count the attempt, check the data, record
//! everything — the attempt of every outcome, the verification when it succeeds, and a
//! compliance audit event — before answering.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use vibe_warehouse::{AgeVerification, AuditEvent, TimeRange, VerificationAttempt};

use crate::error::{AttemptReceipt, ComplianceError};
use crate::pii::Pii;
use crate::rules::{self, AgeCheckInput, FieldViolation};
use crate::{Caller, Compliance, RETENTION};

/// A date as it came over the wire: not necessarily a real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateParts {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

/// What staff entered. `Debug` shows no personal data.
#[derive(Clone)]
pub struct VerifyAgeRequest {
    pub customer_id: String,
    pub full_name: String,
    pub date_of_birth: Option<DateParts>,
    pub state: String,
    pub id_last_four: String,
}

impl std::fmt::Debug for VerifyAgeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyAgeRequest").finish_non_exhaustive()
    }
}

/// Why an attempt ended as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Verified,
    UnderMinimumAge,
    InvalidInput,
    RateLimited,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Verified => "verified",
            Reason::UnderMinimumAge => "under_minimum_age",
            Reason::InvalidInput => "invalid_input",
            Reason::RateLimited => "rate_limited",
        }
    }

    /// The attempt outcome this reason belongs to.
    pub fn outcome(self) -> &'static str {
        match self {
            Reason::Verified => "verified",
            Reason::UnderMinimumAge | Reason::InvalidInput => "rejected",
            Reason::RateLimited => "rate_limited",
        }
    }
}

/// How the age was verified; only self-attestation exists today.
pub const SELF_ATTESTED: &str = "self_attested";

/// The answer to an attempt that was checked or rate limited (invalid input is an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyAgeOutcome {
    pub reason: Reason,
    pub age: Option<u32>,
    /// Set when verified.
    pub verification: Option<AgeVerification>,
    pub attempt_id: String,
    pub attempts_remaining: u32,
    /// When the next attempt will be accepted; set when rate limited.
    pub retry_after: Option<DateTime<Utc>>,
}

/// A customer's current status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerificationState {
    /// The newest verification has not expired.
    Valid(AgeVerification),
    /// The newest verification is older than its validity.
    Expired(AgeVerification),
    Never,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationStatus {
    pub state: VerificationState,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub attempts_remaining: u32,
}

impl Compliance {
    /// Verifies that a customer is 21 or older on the store's date, recording the attempt
    /// whatever its outcome. Invalid input is `InvalidArgument` naming every bad field
    /// (recorded too); a counter or warehouse that cannot be reached is `Unavailable`.
    pub async fn verify_age(
        &self,
        request: &VerifyAgeRequest,
        caller: &Caller,
    ) -> Result<VerifyAgeOutcome, ComplianceError> {
        let now = (self.clock)();
        let attempt_id = uuid::Uuid::new_v4().to_string();
        let pii = Pii {
            full_name: request.full_name.clone(),
            date_of_birth: request
                .date_of_birth
                .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
                .unwrap_or_default(),
            id_last_four: request.id_last_four.clone(),
        };
        let mut record = Record {
            attempt_id: &attempt_id,
            now,
            customer_key: String::new(),
            pii: &pii,
            state: &request.state,
            caller,
        };
        if let Some(violation) = rules::validate_customer_id(&request.customer_id) {
            // Not attributable to a customer: recorded, but counted against nobody.
            self.record_attempt(
                &record,
                Reason::InvalidInput,
                std::slice::from_ref(&violation),
                None,
                None,
            )
            .await?;
            return Err(ComplianceError::InvalidArgument {
                violations: vec![violation],
                attempt: None,
            });
        }
        record.customer_key = self.keyring.customer_key(&request.customer_id);
        let admission = self
            .attempts
            .admit(&record.customer_key, &attempt_id, now)
            .await?;
        if !admission.allowed {
            self.record_attempt(&record, Reason::RateLimited, &[], None, None)
                .await?;
            return Ok(VerifyAgeOutcome {
                reason: Reason::RateLimited,
                age: None,
                verification: None,
                attempt_id,
                attempts_remaining: 0,
                retry_after: admission.retry_at,
            });
        }
        let today = rules::store_today(self.settings.time_zone, now);
        let input = AgeCheckInput {
            full_name: request.full_name.clone(),
            date_of_birth: request
                .date_of_birth
                .and_then(|d| NaiveDate::from_ymd_opt(d.year, d.month, d.day)),
            state: request.state.clone(),
            id_last_four: request.id_last_four.clone(),
        };
        let violations = rules::validate(&input, today);
        let Some(date_of_birth) = input.date_of_birth.filter(|_| violations.is_empty()) else {
            self.record_attempt(&record, Reason::InvalidInput, &violations, None, None)
                .await?;
            return Err(ComplianceError::InvalidArgument {
                violations,
                attempt: Some(AttemptReceipt {
                    attempt_id,
                    attempts_remaining: admission.remaining,
                }),
            });
        };
        let age = rules::age_on(date_of_birth, today);
        let (reason, verification) = if age >= rules::MINIMUM_AGE {
            let verification = AgeVerification {
                verification_id: uuid::Uuid::new_v4().to_string(),
                verified_at: now,
                expires_at: now + self.settings.validity,
                customer_key: record.customer_key.clone(),
                method: SELF_ATTESTED.to_owned(),
                attempt_id: attempt_id.clone(),
                principal: caller.principal.clone(),
                pii_key_id: String::new(),
                pii_ciphertext: String::new(),
            };
            (Reason::Verified, Some(verification))
        } else {
            (Reason::UnderMinimumAge, None)
        };
        let verification = self
            .record_attempt(&record, reason, &[], Some(age), verification)
            .await?;
        Ok(VerifyAgeOutcome {
            reason,
            age: Some(age),
            verification,
            attempt_id,
            attempts_remaining: admission.remaining,
            retry_after: None,
        })
    }

    /// Writes the attempt, its verification (if any) and a compliance audit event, all
    /// before the caller hears the outcome. Returns the verification as stored.
    async fn record_attempt(
        &self,
        record: &Record<'_>,
        reason: Reason,
        violations: &[FieldViolation],
        age: Option<u32>,
        verification: Option<AgeVerification>,
    ) -> Result<Option<AgeVerification>, ComplianceError> {
        let sealed = record.pii.seal(&self.keyring, record.attempt_id);
        let failed_fields = violations
            .iter()
            .map(|v| v.field)
            .collect::<Vec<_>>()
            .join(",");
        let verification = verification.map(|v| AgeVerification {
            pii_key_id: sealed.key_id.clone(),
            pii_ciphertext: sealed.ciphertext.clone(),
            ..v
        });
        let attempt = VerificationAttempt {
            attempt_id: record.attempt_id.to_owned(),
            attempted_at: record.now,
            customer_key: record.customer_key.clone(),
            outcome: reason.outcome().to_owned(),
            reason: reason.as_str().to_owned(),
            failed_fields: failed_fields.clone(),
            method: SELF_ATTESTED.to_owned(),
            age: age.map(i64::from),
            // Only a known code: a mistyped field could hold anything, even ID digits.
            state: if rules::STATES.contains(&record.state) {
                record.state.to_owned()
            } else {
                String::new()
            },
            verification_id: verification.as_ref().map(|v| v.verification_id.clone()),
            principal: record.caller.principal.clone(),
            request_id: record.caller.request_id.clone(),
            client_ip: record.caller.client_ip.clone(),
            user_agent: record.caller.user_agent.clone(),
            pii_key_id: sealed.key_id,
            pii_ciphertext: sealed.ciphertext,
        };
        let event = self.attempt_event(record, reason, &failed_fields);
        // The attempt first: a verification is only stored once its attempt is on record.
        let (attempted, audited) = tokio::join!(
            self.warehouse
                .insert_verification_attempts(std::slice::from_ref(&attempt)),
            self.warehouse
                .insert_audit_events(std::slice::from_ref(&event)),
        );
        attempted?;
        if let Err(error) = audited {
            // The attempt itself is on record; the audit event is the lesser copy.
            tracing::warn!(error = %error, attempt_id = record.attempt_id, "compliance audit event not written");
        }
        if let Some(verification) = &verification {
            self.warehouse
                .insert_age_verifications(std::slice::from_ref(verification))
                .await?;
        }
        tracing::info!(
            attempt_id = record.attempt_id,
            outcome = reason.outcome(),
            reason = reason.as_str(),
            failed_fields = %failed_fields,
            "age verification attempt recorded"
        );
        Ok(verification)
    }

    fn attempt_event(
        &self,
        record: &Record<'_>,
        reason: Reason,
        failed_fields: &str,
    ) -> AuditEvent {
        let mut details = BTreeMap::from([
            ("attempt_id".to_owned(), record.attempt_id.to_owned()),
            ("outcome".to_owned(), reason.outcome().to_owned()),
            ("reason".to_owned(), reason.as_str().to_owned()),
        ]);
        if !failed_fields.is_empty() {
            details.insert("failed_fields".to_owned(), failed_fields.to_owned());
        }
        let result = match reason {
            Reason::Verified => "succeeded",
            Reason::RateLimited => "rate_limited",
            Reason::UnderMinimumAge | Reason::InvalidInput => "denied",
        };
        AuditEvent {
            event_id: uuid::Uuid::new_v4().to_string(),
            occurred_at: record.now,
            event_type: "compliance".to_owned(),
            severity: if reason == Reason::Verified {
                "info"
            } else {
                "warning"
            }
            .to_owned(),
            principal: record.caller.principal.clone(),
            role: record.caller.role.clone(),
            method: VERIFY_AGE_METHOD.to_owned(),
            result: result.to_owned(),
            // What the call answers: INVALID_ARGUMENT for invalid input, OK otherwise.
            status_code: if reason == Reason::InvalidInput { 3 } else { 0 },
            request_id: record.caller.request_id.clone(),
            client_ip: record.caller.client_ip.clone(),
            user_agent: record.caller.user_agent.clone(),
            service: "integration".to_owned(),
            details,
            // The keyed hash, never the customer id itself.
            resource: if record.customer_key.is_empty() {
                String::new()
            } else {
                format!("customer_key/{}", record.customer_key)
            },
            action: "verify_age".to_owned(),
        }
    }

    /// The customer's current status, straight from the record.
    pub async fn age_verification(
        &self,
        customer_id: &str,
    ) -> Result<VerificationStatus, ComplianceError> {
        if let Some(violation) = rules::validate_customer_id(customer_id) {
            return Err(ComplianceError::invalid(
                violation.field,
                violation.description,
            ));
        }
        let now = (self.clock)();
        let key = self.keyring.customer_key(customer_id);
        // Everything still retained; the tables are clustered by the key.
        let retained = TimeRange {
            start: now - RETENTION,
            end: now + chrono::Duration::seconds(1),
        };
        let (latest, last_attempt, admission) = tokio::join!(
            self.warehouse.latest_age_verification(&key, retained),
            self.warehouse.latest_verification_attempt(&key, retained),
            self.attempts.peek(&key, now),
        );
        let state = match latest? {
            Some(v) if v.expires_at > now => VerificationState::Valid(v),
            Some(v) => VerificationState::Expired(v),
            None => VerificationState::Never,
        };
        Ok(VerificationStatus {
            state,
            last_attempt_at: last_attempt?,
            attempts_remaining: admission?.remaining,
        })
    }
}

const VERIFY_AGE_METHOD: &str = "/vibe.integration.v1.ComplianceService/VerifyAge";

/// What every record of one attempt shares.
struct Record<'a> {
    attempt_id: &'a str,
    now: DateTime<Utc>,
    customer_key: String,
    pii: &'a Pii,
    state: &'a str,
    caller: &'a Caller,
}
