/// Why the gateway could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("invalid upstream address {address:?}: {reason}")]
    InvalidUpstream { address: String, reason: String },
}
