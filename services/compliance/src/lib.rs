//! Compliance for a Texas hemp retailer: age verification (21+) that says honestly what it
//! checked, every attempt on record with its personal data encrypted, a server-side attempt
//! limit that fails closed, compliance metrics computed by the warehouse, and the audit trail.
//!
//! Invariants: names, dates of birth and ID digits leave this crate only as AES-256-GCM
//! ciphertext tagged with its key id; customers are looked up by a keyed HMAC of their id;
//! ages are computed on the store's calendar date; no personal data in logs, audit details
//! or errors. Knows nothing of protobuf.

pub mod attempts;
mod audit_trail;
mod error;
pub mod keyring;
mod metrics;
pub mod pii;
pub mod provider;
pub mod rules;
mod verify;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use vibe_warehouse::Warehouse;

pub use attempts::{Admission, AttemptCounter, AttemptLimit};
pub use audit_trail::{AuditPage, AuditQuery, DEFAULT_AUDIT_PAGE, MAX_AUDIT_PAGE, RecordOutcome};
pub use error::{AttemptReceipt, ComplianceError};
pub use keyring::{Keyring, KeyringError, Sealed};
pub use metrics::{AttemptMetrics, ComplianceMetrics, Coverage, TexasReadiness};
pub use rules::FieldViolation;
pub use verify::{
    DateParts, Reason, SELF_ATTESTED, VerificationState, VerificationStatus, VerifyAgeOutcome,
    VerifyAgeRequest,
};

/// Audit trail, attempts and verifications are kept seven years.
pub const RETENTION: chrono::Duration = chrono::Duration::days(2555);

/// Now, injectable for tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How compliance decides.
#[derive(Debug, Clone)]
pub struct ComplianceSettings {
    /// The store's zone: ages are computed on its calendar date.
    pub time_zone: Tz,
    /// How long a verification stays valid (365 days).
    pub validity: chrono::Duration,
    /// Δ9-THC above this, in basis points of dry weight, exceeds the legal limit (30 = 0.3 %).
    pub thc_limit_basis_points: i64,
}

impl ComplianceSettings {
    pub fn new(time_zone: Tz) -> Self {
        Self {
            time_zone,
            validity: chrono::Duration::days(365),
            thc_limit_basis_points: 30,
        }
    }
}

/// Who is calling, as the gateway established it (never personal data of the customer).
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub principal: String,
    /// The role that authorized the call, in the audit table's vocabulary.
    pub role: String,
    pub request_id: String,
    pub client_ip: String,
    pub user_agent: String,
}

/// The compliance service. Cheap to share behind an `Arc`.
pub struct Compliance {
    warehouse: Arc<dyn Warehouse>,
    keyring: Arc<Keyring>,
    attempts: AttemptCounter,
    settings: ComplianceSettings,
    clock: Clock,
}

impl std::fmt::Debug for Compliance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compliance")
            .field("keyring", &self.keyring)
            .field("attempts", &self.attempts)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Compliance {
    pub fn new(
        warehouse: Arc<dyn Warehouse>,
        keyring: Arc<Keyring>,
        attempts: AttemptCounter,
        settings: ComplianceSettings,
        clock: Clock,
    ) -> Self {
        Self {
            warehouse,
            keyring,
            attempts,
            settings,
            clock,
        }
    }
}
