//! Where a real identity check would plug in. vibe has no provider today: every
//! verification is honestly `SELF_ATTESTED` (the customer's statement, checked for validity
//! and age only). This trait is the interface a document-check vendor (ID scan, database
//! lookup) would implement; there is deliberately no fake implementation.

use chrono::NaiveDate;

/// What a provider is asked to confirm. It sees the data only for the call; `Debug` shows
/// none of it.
pub struct IdentityClaim<'a> {
    pub full_name: &'a str,
    pub date_of_birth: NaiveDate,
    /// Two-letter issuing state.
    pub state: &'a str,
    pub id_last_four: &'a str,
}

impl std::fmt::Debug for IdentityClaim<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityClaim(redacted)")
    }
}

/// A provider's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderVerdict {
    /// The document matches the claim; `reference` is the provider's check id (stored, so
    /// an inspector can trace it; never personal data).
    Confirmed { reference: String },
    /// The document does not match or is not valid; `reason` is a short code.
    Refused { reason: String },
}

/// A third-party identity/document check. Implementations must bound every call with a
/// timeout, return `Err` (never a verdict) when the provider cannot be reached, and keep
/// no copy of the claim. A verification confirmed this way is recorded with the method
/// `DOCUMENT_CHECK`.
#[async_trait::async_trait]
pub trait VerificationProvider: Send + Sync + 'static {
    /// A short name for logs and metrics, e.g. `acme-id`.
    fn name(&self) -> &'static str;

    async fn check(&self, claim: &IdentityClaim<'_>) -> Result<ProviderVerdict, String>;
}
