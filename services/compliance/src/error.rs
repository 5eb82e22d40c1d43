use crate::rules::FieldViolation;

/// The record of an attempt that was refused as invalid: the caller still learns its id
/// and how many attempts are left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReceipt {
    pub attempt_id: String,
    pub attempts_remaining: u32,
}

/// Why compliance could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ComplianceError {
    /// Request fields are wrong (every one named). For `VerifyAge` the attempt was
    /// recorded when it could be attributed to a customer: `attempt` says which.
    #[error("invalid request: {}", describe(.violations))]
    InvalidArgument {
        violations: Vec<FieldViolation>,
        attempt: Option<AttemptReceipt>,
    },
    /// The attempt counter or the warehouse cannot be reached; nothing was verified.
    #[error("{0}")]
    Unavailable(String),
    /// Stored data cannot be read back (e.g. sealed under a key this keyring lacks).
    #[error("{0}")]
    Internal(String),
}

impl ComplianceError {
    pub(crate) fn invalid(field: &'static str, description: impl Into<String>) -> Self {
        ComplianceError::InvalidArgument {
            violations: vec![FieldViolation {
                field,
                description: description.into(),
            }],
            attempt: None,
        }
    }
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<vibe_warehouse::WarehouseError> for ComplianceError {
    fn from(error: vibe_warehouse::WarehouseError) -> Self {
        match error {
            vibe_warehouse::WarehouseError::Unavailable(why) => ComplianceError::Unavailable(why),
            other => ComplianceError::Internal(other.to_string()),
        }
    }
}
