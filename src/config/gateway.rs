//! The `[gateway]` section: the public door's CORS, limits, keys and rate limits.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret, require_duration};

/// Highest limit: one call per microsecond, the resolution of the Redis counter.
const MAX_PER_MINUTE: u32 = 60_000_000;

/// The gateway listener's policy.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Gateway {
    /// Exact browser origins allowed to call (e.g. "https://cockpit.example.com"); never `*`.
    pub cors_origins: Vec<String>,
    /// How long browsers may cache a preflight answer.
    #[serde(with = "humantime_serde")]
    pub cors_max_age: Duration,
    /// Largest request body accepted, in bytes.
    pub max_request_bytes: usize,
    /// Longest deadline of a call; also the deadline of unary calls that set none.
    #[serde(with = "humantime_serde")]
    pub max_timeout: Duration,
    /// Serve server reflection on the gateway (anonymously).
    pub reflection: bool,
    /// The built cockpit to serve; nothing is served when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cockpit_dir: Option<PathBuf>,
    /// Serve TLS (HTTP/2 over TLS, and HTTPS for grpc-web); plaintext when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    pub auth: Auth,
    pub rate_limits: RateLimits,
}

/// The gateway's certificate chain and private key, PEM files (read at start).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Tls {
    /// The identity for the listener; a file that cannot be read is a config error.
    pub fn identity(&self) -> Result<tonic::transport::Identity, ConfigError> {
        let read = |key: &str, path: &PathBuf| {
            std::fs::read(path).map_err(|err| {
                ConfigError::invalid(key, format!("cannot read {}: {err}", path.display()))
            })
        };
        Ok(tonic::transport::Identity::from_pem(
            read("gateway.tls.cert", &self.cert)?,
            read("gateway.tls.key", &self.key)?,
        ))
    }
}

impl Default for Gateway {
    fn default() -> Self {
        Self {
            cors_origins: Vec::new(),
            cors_max_age: Duration::from_secs(7200),
            max_request_bytes: 4 * 1024 * 1024,
            max_timeout: Duration::from_secs(30),
            reflection: false,
            cockpit_dir: None,
            tls: None,
            auth: Auth::default(),
            rate_limits: RateLimits::default(),
        }
    }
}

/// Token verification. At least one key source is required where the gateway runs;
/// `vibe up` creates a local HS256 secret when none is configured.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    /// Required `iss` of every token.
    pub issuer: String,
    /// Required `aud` of every token.
    pub audience: String,
    /// Tolerated clock skew on `exp` and `nbf`.
    #[serde(with = "humantime_serde")]
    pub leeway: Duration,
    /// A shared HS256 secret (a secret: value or `{ file = ... }`); checks tokens without `kid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hs256_secret: Option<Secret>,
    /// Public keys, each pinned to one algorithm.
    pub keys: Vec<PublicKey>,
    /// A JSON Web Key Set, fetched before serving and refreshed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    #[serde(with = "humantime_serde")]
    pub jwks_refresh: Duration,
}

impl Default for Auth {
    fn default() -> Self {
        Self {
            issuer: "vibe".to_owned(),
            audience: "vibe".to_owned(),
            leeway: Duration::from_secs(60),
            hs256_secret: None,
            keys: Vec::new(),
            jwks_url: None,
            jwks_refresh: Duration::from_secs(300),
        }
    }
}

/// One configured public key.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA.
    pub algorithm: String,
    /// The PEM (a secret: value or `{ file = ... }`).
    pub pem: Secret,
}

/// Calls per minute (and burst) per principal, by tier.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    pub anonymous: Limit,
    pub customer: Limit,
    pub staff: Limit,
    pub admin: Limit,
    /// The reasoning rate class, whatever the role.
    pub reasoning: Limit,
}

/// One tier's limit; `burst` defaults to `per_minute`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub per_minute: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

impl Default for RateLimits {
    fn default() -> Self {
        let d = vibe_gateway::limit::LimitSettings::default();
        let limit = |q: vibe_gateway::limit::Quota| Limit {
            per_minute: q.per_minute,
            burst: None,
        };
        Self {
            anonymous: limit(d.anonymous),
            customer: limit(d.customer),
            staff: limit(d.staff),
            admin: limit(d.admin),
            reasoning: limit(d.reasoning),
        }
    }
}

impl RateLimits {
    pub fn settings(&self) -> vibe_gateway::limit::LimitSettings {
        let quota = |l: Limit| vibe_gateway::limit::Quota {
            per_minute: l.per_minute,
            burst: l.burst.unwrap_or(l.per_minute),
        };
        vibe_gateway::limit::LimitSettings {
            anonymous: quota(self.anonymous),
            customer: quota(self.customer),
            staff: quota(self.staff),
            admin: quota(self.admin),
            reasoning: quota(self.reasoning),
        }
    }
}

impl Gateway {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (index, origin) in self.cors_origins.iter().enumerate() {
            let key = format!("gateway.cors_origins[{index}]");
            let uri: Result<http::Uri, _> = origin.parse();
            let exact = uri.as_ref().is_ok_and(|uri| {
                matches!(uri.scheme_str(), Some("http" | "https"))
                    && uri.host().is_some()
                    && uri.path() == "/"
                    && !origin.ends_with('/')
            });
            if origin == "*" || !exact {
                return Err(ConfigError::invalid(
                    &key,
                    format!(
                        "expected an exact origin such as https://cockpit.example.com, found {origin:?}"
                    ),
                ));
            }
        }
        if self.max_request_bytes == 0 {
            return Err(ConfigError::invalid(
                "gateway.max_request_bytes",
                "must be above zero",
            ));
        }
        require_duration("gateway.max_timeout", self.max_timeout)?;
        if let Some(tls) = &self.tls {
            tls.identity()?;
        }
        require_duration("gateway.auth.jwks_refresh", self.auth.jwks_refresh)?;
        for (key, value) in [
            ("gateway.auth.issuer", &self.auth.issuer),
            ("gateway.auth.audience", &self.auth.audience),
        ] {
            if value.trim().is_empty() {
                return Err(ConfigError::invalid(key, "must not be empty"));
            }
        }
        for (index, key) in self.auth.keys.iter().enumerate() {
            if self.algorithm(index).is_none() {
                return Err(ConfigError::invalid(
                    &format!("gateway.auth.keys[{index}].algorithm"),
                    format!(
                        "{:?} is not one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA",
                        key.algorithm
                    ),
                ));
            }
        }
        if let Some(url) = &self.auth.jwks_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ConfigError::invalid(
                "gateway.auth.jwks_url",
                "expected an https:// URL",
            ));
        }
        for (tier, limit) in [
            ("anonymous", self.rate_limits.anonymous),
            ("customer", self.rate_limits.customer),
            ("staff", self.rate_limits.staff),
            ("admin", self.rate_limits.admin),
            ("reasoning", self.rate_limits.reasoning),
        ] {
            if !(1..=MAX_PER_MINUTE).contains(&limit.per_minute) || limit.burst == Some(0) {
                return Err(ConfigError::invalid(
                    &format!("gateway.rate_limits.{tier}"),
                    format!("per_minute must be 1 to {MAX_PER_MINUTE} and burst above zero"),
                ));
            }
        }
        Ok(())
    }

    fn algorithm(&self, index: usize) -> Option<jsonwebtoken::Algorithm> {
        use jsonwebtoken::Algorithm::*;
        let algorithm: jsonwebtoken::Algorithm =
            self.auth.keys.get(index)?.algorithm.parse().ok()?;
        matches!(
            algorithm,
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 | ES256 | ES384 | EdDSA
        )
        .then_some(algorithm)
    }

    /// The verification settings; `local_secret` stands in when no key is configured
    /// (`vibe up`'s generated secret).
    pub fn auth_settings(
        &self,
        local_secret: Option<secrecy::SecretString>,
    ) -> vibe_gateway::auth::AuthSettings {
        let keys = self
            .auth
            .keys
            .iter()
            .enumerate()
            .filter_map(|(index, key)| {
                Some(vibe_gateway::auth::StaticKey {
                    kid: key.kid.clone(),
                    algorithm: self.algorithm(index)?,
                    pem: secrecy::ExposeSecret::expose_secret(key.pem.value()).to_owned(),
                })
            })
            .collect();
        vibe_gateway::auth::AuthSettings {
            issuer: self.auth.issuer.clone(),
            audience: self.auth.audience.clone(),
            leeway: self.auth.leeway,
            hs256_secret: self
                .auth
                .hs256_secret
                .as_ref()
                .map(|s| s.value().clone())
                .or(local_secret),
            keys,
            jwks: self
                .auth
                .jwks_url
                .as_ref()
                .map(|url| vibe_gateway::auth::JwksSettings {
                    url: url.clone(),
                    refresh_interval: self.auth.jwks_refresh,
                    min_refetch_interval: Duration::from_secs(30),
                    fetch_timeout: Duration::from_secs(5),
                }),
        }
    }

    /// Whether any verification key is configured.
    pub fn has_keys(&self) -> bool {
        self.auth.hs256_secret.is_some()
            || !self.auth.keys.is_empty()
            || self.auth.jwks_url.is_some()
    }
}
