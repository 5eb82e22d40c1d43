//! The crate's one error type.

/// What a fill closure returns when it cannot compute the value.
pub type FillError = Box<dyn std::error::Error + Send + Sync>;

/// Why `get` has no value to give.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CacheError {
    /// No usable value (nothing cached, or past its error window) and the fill failed.
    #[error("no cached value for {key} and the fill failed: {reason}")]
    Unavailable { key: String, reason: String },
}
