/// A request field that is wrong, and why (becomes a `google.rpc.BadRequest` violation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's path in the request, e.g. `days.end_date`.
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: &str, description: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            description: description.into(),
        }
    }
}

/// Why the integration domain could not answer.
#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    #[error("invalid request: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// No usable value: the warehouse failed and nothing cached could stand in.
    #[error("{0}")]
    Unavailable(String),
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<vibe_cache::CacheError> for IntegrationError {
    fn from(error: vibe_cache::CacheError) -> Self {
        IntegrationError::Unavailable(error.to_string())
    }
}

/// Collects violations and fails with all of them at once.
#[derive(Debug, Default)]
pub(crate) struct Violations(Vec<FieldViolation>);

impl Violations {
    pub(crate) fn add(&mut self, field: &str, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    pub(crate) fn check(self) -> Result<(), IntegrationError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(IntegrationError::InvalidArgument(self.0))
        }
    }
}
