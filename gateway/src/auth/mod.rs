//! Authentication: `Authorization: Bearer <JWT>` verified against pinned keys.
//!
//! Every key carries its one algorithm, so a token cannot choose how it is checked
//! (`alg: none` does not parse; an HS256 token naming an RSA key fails). `iss`, `aud`,
//! `exp` and `sub` are required; `exp` and `nbf` get the configured leeway.

mod keys;
mod mint;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use http::HeaderValue;
use jsonwebtoken::{Algorithm, TokenData};
use secrecy::SecretString;
use serde::Deserialize;

use crate::policy::Role;
pub use keys::KeyStore;
pub use mint::{MintRequest, mint_hs256};

/// Where verification keys come from and what every token must say.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub issuer: String,
    pub audience: String,
    /// Tolerated clock skew for `exp` and `nbf`.
    pub leeway: Duration,
    /// A shared HS256 secret (tokens without `kid`, e.g. from `vibe token`).
    pub hs256_secret: Option<SecretString>,
    /// Public keys given as PEM, each pinned to one algorithm.
    pub keys: Vec<StaticKey>,
    pub jwks: Option<JwksSettings>,
}

/// A public key from the config.
#[derive(Debug, Clone)]
pub struct StaticKey {
    /// Tokens naming this `kid` are checked with this key; a key without a kid checks
    /// tokens without one.
    pub kid: Option<String>,
    pub algorithm: Algorithm,
    pub pem: String,
}

/// A JSON Web Key Set fetched over HTTP(S).
#[derive(Debug, Clone)]
pub struct JwksSettings {
    pub url: String,
    /// How often the set is fetched again.
    pub refresh_interval: Duration,
    /// An unknown `kid` fetches the set again at most this often.
    pub min_refetch_interval: Duration,
    pub fetch_timeout: Duration,
}

/// The verified caller, built once per token and shared by its calls: what the edge
/// derives from it on every call (headers for the services, the limiter's key) is
/// derived here, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token subject; empty for anonymous callers.
    pub subject: String,
    /// Known roles from the `role` and `roles` claims; `[Anonymous]` without a token.
    pub roles: Vec<Role>,
    /// `x-vibe-principal` for the services; none for anonymous callers (or a subject
    /// that is not a valid header value, which then reaches no service as anyone).
    pub(crate) subject_header: Option<HeaderValue>,
    /// `x-vibe-roles`: the roles, comma-separated.
    pub(crate) roles_header: HeaderValue,
    /// Who the limiter counts: `sub:<subject>`; empty for anonymous callers, who are
    /// counted by address.
    pub(crate) limit_key: String,
}

impl Principal {
    pub fn new(subject: String, mut roles: Vec<Role>) -> Self {
        roles.sort_unstable();
        roles.dedup();
        let names: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
        let roles_header = HeaderValue::from_str(&names.join(","))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        let anonymous = subject.is_empty();
        Self {
            subject_header: (!anonymous)
                .then(|| HeaderValue::from_str(&subject).ok())
                .flatten(),
            limit_key: if anonymous {
                String::new()
            } else {
                format!("sub:{subject}")
            },
            roles_header,
            subject,
            roles,
        }
    }

    /// The caller without a token (one shared value).
    pub fn anonymous() -> Arc<Self> {
        static ANONYMOUS: LazyLock<Arc<Principal>> =
            LazyLock::new(|| Arc::new(Principal::new(String::new(), vec![Role::Anonymous])));
        ANONYMOUS.clone()
    }

    pub fn is_anonymous(&self) -> bool {
        self.subject.is_empty()
    }

    /// The role that names the caller in audit events: its highest.
    pub fn primary_role(&self) -> Role {
        self.roles.iter().copied().max().unwrap_or(Role::Anonymous)
    }
}

/// Why a token was refused. Messages name the check, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the authorization header is not a bearer token")]
    NotBearer,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's key id is unknown")]
    UnknownKey,
    #[error("the token's algorithm is not the one pinned for its key")]
    WrongAlgorithm,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's issuer is not accepted")]
    BadIssuer,
    #[error("the token's audience is not accepted")]
    BadAudience,
    #[error("the token lacks a required claim")]
    MissingClaim,
}

impl AuthError {
    /// A short label for metrics and audit details.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotBearer => "not_bearer",
            Self::Malformed => "malformed",
            Self::UnknownKey => "unknown_key",
            Self::WrongAlgorithm => "wrong_algorithm",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::BadIssuer => "bad_issuer",
            Self::BadAudience => "bad_audience",
            Self::MissingClaim => "missing_claim",
        }
    }

    fn from_jwt(error: &jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind;
        match error.kind() {
            ErrorKind::InvalidSignature => Self::BadSignature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::BadIssuer,
            ErrorKind::InvalidAudience => Self::BadAudience,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Self::WrongAlgorithm,
            ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidSubject => Self::MissingClaim,
            _ => Self::Malformed,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default)]
    role: Option<OneOrMany>,
    #[serde(default)]
    roles: Option<OneOrMany>,
}

impl Claims {
    fn into_principal(self) -> Principal {
        let roles: Vec<Role> = [self.role, self.roles]
            .into_iter()
            .flatten()
            .flat_map(|names| match names {
                OneOrMany::One(name) => vec![name],
                OneOrMany::Many(names) => names,
            })
            .filter_map(|name| Role::from_claim(&name))
            .collect();
        Principal::new(self.sub, roles)
    }
}

/// Verified tokens are remembered this long at most, so a key removed from the JWKS stops
/// working within it; a token's own `exp` still applies to every call.
const VERIFIED_FOR: Duration = Duration::from_secs(60);
const VERIFIED_MAX: u64 = 10_000;

/// Verifies bearer tokens. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Authenticator {
    keys: KeyStore,
    leeway_secs: u64,
    /// Token -> (principal, exp): a signature check (RSA, ECDSA: far dearer than a
    /// lookup) once per token and minute instead of once per call.
    verified: moka::future::Cache<String, (Arc<Principal>, u64)>,
}

impl Authenticator {
    /// Loads every configured key; with a JWKS URL, fetches the set before returning,
    /// so the gateway never serves without its keys.
    pub async fn new(settings: &AuthSettings) -> Result<Self, crate::GatewayError> {
        Ok(Self {
            keys: KeyStore::load(settings).await?,
            leeway_secs: settings.leeway.as_secs(),
            verified: moka::future::Cache::builder()
                .max_capacity(VERIFIED_MAX)
                .time_to_live(VERIFIED_FOR)
                .build(),
        })
    }

    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// The principal of a call from its `authorization` header value; no header is an
    /// anonymous caller.
    pub async fn authenticate(
        &self,
        authorization: Option<&[u8]>,
    ) -> Result<Arc<Principal>, AuthError> {
        let Some(value) = authorization else {
            return Ok(Principal::anonymous());
        };
        let value = std::str::from_utf8(value).map_err(|_| AuthError::NotBearer)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(AuthError::NotBearer)?;
        if let Some((principal, exp)) = self.verified.get(token).await {
            if jsonwebtoken::get_current_timestamp() <= exp + self.leeway_secs {
                return Ok(principal);
            }
            self.verified.invalidate(token).await;
            return Err(AuthError::Expired);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| AuthError::from_jwt(&e))?;
        let key = self.keys.find(header.kid.as_deref(), header.alg).await?;
        if key.algorithm != header.alg {
            return Err(AuthError::WrongAlgorithm);
        }
        let data: TokenData<Claims> = jsonwebtoken::decode(token, &key.decoding, &key.validation)
            .map_err(|e| AuthError::from_jwt(&e))?;
        if data.claims.sub.is_empty() {
            return Err(AuthError::MissingClaim);
        }
        let exp = data.claims.exp;
        let principal = Arc::new(data.claims.into_principal());
        self.verified
            .insert(token.to_owned(), (principal.clone(), exp))
            .await;
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(secret: &str) -> AuthSettings {
        AuthSettings {
            issuer: "vibe".to_owned(),
            audience: "vibe".to_owned(),
            leeway: Duration::from_secs(60),
            hs256_secret: Some(SecretString::from(secret.to_owned())),
            keys: Vec::new(),
            jwks: None,
        }
    }

    fn minted(secret: &str, roles: &[&str]) -> String {
        let request = MintRequest {
            issuer: "vibe".to_owned(),
            audience: "vibe".to_owned(),
            subject: "ana".to_owned(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            ttl: Duration::from_secs(60),
        };
        mint_hs256(&SecretString::from(secret.to_owned()), &request).expect("mint")
    }

    #[tokio::test]
    async fn minted_tokens_verify_and_unknown_roles_are_dropped() {
        let auth = Authenticator::new(&settings("s3cret-s3cret-s3cret"))
            .await
            .expect("keys");
        let token = minted("s3cret-s3cret-s3cret", &["Staff", "wizard", "admin"]);
        let header = format!("Bearer {token}");
        let principal = auth
            .authenticate(Some(header.as_bytes()))
            .await
            .expect("valid");
        assert_eq!(principal.subject, "ana");
        assert_eq!(principal.roles, vec![Role::Staff, Role::Admin]);
        assert_eq!(principal.primary_role(), Role::Admin);
    }

    #[tokio::test]
    async fn another_secret_or_no_bearer_is_refused() {
        let auth = Authenticator::new(&settings("s3cret-s3cret-s3cret"))
            .await
            .expect("keys");
        let forged = format!("Bearer {}", minted("another-secret-entirely", &["admin"]));
        assert_eq!(
            auth.authenticate(Some(forged.as_bytes())).await,
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            auth.authenticate(Some(b"Token abc")).await,
            Err(AuthError::NotBearer)
        );
        assert_eq!(auth.authenticate(None).await, Ok(Principal::anonymous()));
    }

    #[tokio::test]
    async fn no_key_source_is_a_setup_error() {
        let mut settings = settings("x");
        settings.hs256_secret = None;
        assert!(matches!(
            Authenticator::new(&settings).await,
            Err(crate::GatewayError::NoKeys)
        ));
    }
}
