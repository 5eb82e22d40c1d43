//! Compliance rows (age-verification attempts and verifications) and what compliance asks
//! the warehouse, as plain Rust. Personal data arrives here only as ciphertext.

use chrono::{DateTime, Utc};

use crate::record::{Decoder, Fields, Record, Value};
use crate::schema::{self, Table};
use crate::{Result, TimeRange};

/// One age-verification attempt, whatever its outcome. Kept seven years.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationAttempt {
    pub attempt_id: String,
    pub attempted_at: DateTime<Utc>,
    /// Keyed HMAC of the customer id (hex); empty when the request named no usable customer.
    pub customer_key: String,
    /// verified, rejected, rate_limited.
    pub outcome: String,
    /// verified, under_minimum_age, invalid_input, rate_limited.
    pub reason: String,
    /// Comma-separated names of the fields that failed validation; empty if none.
    pub failed_fields: String,
    /// self_attested.
    pub method: String,
    /// Whole years on the store's date, when the date of birth was checked.
    pub age: Option<i64>,
    /// Issuing state as entered (a code, not personal data).
    pub state: String,
    /// The verification this attempt produced.
    pub verification_id: Option<String>,
    /// Who made the attempt (the staff member's principal).
    pub principal: String,
    pub request_id: String,
    pub client_ip: String,
    pub user_agent: String,
    /// Id of the key that sealed `pii_ciphertext`.
    pub pii_key_id: String,
    /// Name, date of birth and ID digits as entered, sealed (AES-256-GCM, base64).
    pub pii_ciphertext: String,
}

/// A successful verification; the newest one of a customer is their current status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeVerification {
    pub verification_id: String,
    pub verified_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub customer_key: String,
    /// self_attested.
    pub method: String,
    pub attempt_id: String,
    pub principal: String,
    pub pii_key_id: String,
    pub pii_ciphertext: String,
}

/// Attempts with one (outcome, reason).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AttemptCount {
    pub outcome: String,
    pub reason: String,
    pub count: i64,
}

/// Attempts over a window, counted by the warehouse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptStats {
    /// Per (outcome, reason) present in the window, sorted.
    pub counts: Vec<AttemptCount>,
    /// Distinct non-empty customer keys with an attempt.
    pub customers_attempted: i64,
    /// Distinct customer keys with a verified attempt.
    pub customers_verified: i64,
}

/// Products available for sale, by compliance evidence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProductCompliance {
    pub total: i64,
    pub with_certificate_of_analysis: i64,
    pub with_known_potency: i64,
    /// Known Δ9-THC at or below the limit.
    pub within_thc_limit: i64,
    /// Known Δ9-THC above the limit.
    pub exceeding_thc_limit: i64,
}

/// Which audit events to list; `None` means any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    pub range: TimeRange,
    pub principal: Option<String>,
    pub event_type: Option<String>,
    pub result: Option<String>,
    pub method: Option<String>,
}

/// Where the next page of audit events starts (events are newest first, then by event id
/// descending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCursor {
    pub occurred_at: DateTime<Utc>,
    pub event_id: String,
}

impl Record for VerificationAttempt {
    const TABLE: &'static Table = &schema::VERIFICATION_ATTEMPTS;

    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::str(&self.attempt_id),
            Value::Timestamp(self.attempted_at),
            Value::str(&self.customer_key),
            Value::str(&self.outcome),
            Value::str(&self.reason),
            Value::str(&self.failed_fields),
            Value::str(&self.method),
            Value::opt_int(self.age),
            Value::str(&self.state),
            Value::opt_str(self.verification_id.as_ref()),
            Value::str(&self.principal),
            Value::str(&self.request_id),
            Value::str(&self.client_ip),
            Value::str(&self.user_agent),
            Value::str(&self.pii_key_id),
            Value::str(&self.pii_ciphertext),
        ]);
    }

    fn decode(row: &mut dyn Decoder) -> Result<Self> {
        let mut f = Fields::new(row, Self::TABLE);
        Ok(VerificationAttempt {
            attempt_id: f.string()?,
            attempted_at: f.timestamp()?,
            customer_key: f.string()?,
            outcome: f.string()?,
            reason: f.string()?,
            failed_fields: f.string()?,
            method: f.string()?,
            age: f.opt_int64()?,
            state: f.string()?,
            verification_id: f.opt_string()?,
            principal: f.string()?,
            request_id: f.string()?,
            client_ip: f.string()?,
            user_agent: f.string()?,
            pii_key_id: f.string()?,
            pii_ciphertext: f.string()?,
        })
    }
}

impl Record for AgeVerification {
    const TABLE: &'static Table = &schema::AGE_VERIFICATIONS;

    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::str(&self.verification_id),
            Value::Timestamp(self.verified_at),
            Value::Timestamp(self.expires_at),
            Value::str(&self.customer_key),
            Value::str(&self.method),
            Value::str(&self.attempt_id),
            Value::str(&self.principal),
            Value::str(&self.pii_key_id),
            Value::str(&self.pii_ciphertext),
        ]);
    }

    fn decode(row: &mut dyn Decoder) -> Result<Self> {
        let mut f = Fields::new(row, Self::TABLE);
        Ok(AgeVerification {
            verification_id: f.string()?,
            verified_at: f.timestamp()?,
            expires_at: f.timestamp()?,
            customer_key: f.string()?,
            method: f.string()?,
            attempt_id: f.string()?,
            principal: f.string()?,
            pii_key_id: f.string()?,
            pii_ciphertext: f.string()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::record::tests::round_trip;

    #[test]
    fn compliance_rows_round_trip() {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).single();
        let at = at.expect("valid time");
        round_trip(&VerificationAttempt {
            attempt_id: "a".into(),
            attempted_at: at,
            customer_key: "ab".into(),
            outcome: "rejected".into(),
            reason: "invalid_input".into(),
            failed_fields: "state,id_last_four".into(),
            method: "self_attested".into(),
            age: None,
            state: "XX".into(),
            verification_id: None,
            principal: "ana".into(),
            request_id: "r".into(),
            client_ip: "127.0.0.1".into(),
            user_agent: "ua".into(),
            pii_key_id: "k1".into(),
            pii_ciphertext: "c2VhbGVk".into(),
        });
        round_trip(&AgeVerification {
            verification_id: "v".into(),
            verified_at: at,
            expires_at: at + chrono::Duration::days(365),
            customer_key: "ab".into(),
            method: "self_attested".into(),
            attempt_id: "a".into(),
            principal: "ana".into(),
            pii_key_id: "k1".into(),
            pii_ciphertext: "c2VhbGVk".into(),
        });
    }
}
