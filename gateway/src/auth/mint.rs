//! Minting HS256 tokens for local use (`vibe token`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

/// What a minted token says.
#[derive(Debug, Clone)]
pub struct MintRequest {
    pub issuer: String,
    pub audience: String,
    pub subject: String,
    pub roles: Vec<String>,
    pub ttl: Duration,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    roles: &'a [String],
    iat: u64,
    nbf: u64,
    exp: u64,
}

/// Signs `request` with the shared HS256 secret.
pub fn mint_hs256(
    secret: &SecretString,
    request: &MintRequest,
) -> Result<String, crate::GatewayError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = Claims {
        iss: &request.issuer,
        aud: &request.audience,
        sub: &request.subject,
        roles: &request.roles,
        iat: now,
        nbf: now,
        exp: now + request.ttl.as_secs(),
    };
    let invalid = |e: jsonwebtoken::errors::Error| crate::GatewayError::InvalidKey {
        key: "hs256_secret".to_owned(),
        reason: e.to_string(),
    };
    let key = EncodingKey::from_secret(secret.expose_secret().as_bytes()).map_err(invalid)?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).map_err(invalid)
}
