/// Why the gateway could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("invalid upstream address {address:?}: {reason}")]
    InvalidUpstream { address: String, reason: String },
    #[error("gateway.auth.{key}: {reason}")]
    InvalidKey { key: String, reason: String },
    #[error("gateway.auth: no verification key configured (set hs256_secret, keys or jwks_url)")]
    NoKeys,
    #[error("gateway.auth.jwks_url: cannot load {url}: {reason}")]
    Jwks { url: String, reason: String },
}
