//! The verification keys: static ones from the config and a JWKS that is fetched before
//! serving, refreshed periodically, and fetched again (at most so often) when a token
//! names a key id nobody knows yet.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

use super::{AuthError, AuthSettings, JwksSettings};
use crate::GatewayError;

/// One key with its pinned algorithm and the checks every token must pass.
pub(super) struct Key {
    pub algorithm: Algorithm,
    pub decoding: DecodingKey,
    pub validation: Validation,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The keys by id. Cheap to clone.
#[derive(Clone, Debug)]
pub struct KeyStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    issuer: String,
    audience: String,
    leeway_secs: u64,
    by_kid: HashMap<String, Arc<Key>>,
    without_kid: Vec<Arc<Key>>,
    jwks: Option<Jwks>,
}

#[derive(Debug)]
struct Jwks {
    settings: JwksSettings,
    client: reqwest::Client,
    keys: RwLock<Arc<HashMap<String, Arc<Key>>>>,
    /// When an unknown `kid` last caused a fetch; also serialises fetches.
    on_demand: tokio::sync::Mutex<Option<Instant>>,
}

impl KeyStore {
    pub(super) async fn load(settings: &AuthSettings) -> Result<Self, GatewayError> {
        let invalid = |key: &str, reason: String| GatewayError::InvalidKey {
            key: key.to_owned(),
            reason,
        };
        let mut inner = Inner {
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            leeway_secs: settings.leeway.as_secs(),
            by_kid: HashMap::new(),
            without_kid: Vec::new(),
            jwks: None,
        };
        if let Some(secret) = &settings.hs256_secret {
            let decoding = DecodingKey::from_secret(secret.expose_secret().as_bytes())
                .map_err(|e| invalid("hs256_secret", e.to_string()))?;
            let key = inner.key(Algorithm::HS256, decoding);
            inner.without_kid.push(Arc::new(key));
        }
        for (index, configured) in settings.keys.iter().enumerate() {
            let name = format!("keys[{index}]");
            let pem = configured.pem.as_bytes();
            let decoding = match configured.algorithm {
                Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512 => DecodingKey::from_rsa_pem(pem),
                Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(pem),
                Algorithm::EdDSA => DecodingKey::from_ed_pem(pem),
                _ => {
                    return Err(invalid(&name, "use hs256_secret for shared secrets".into()));
                }
            }
            .map_err(|e| invalid(&name, format!("not a public key PEM: {e}")))?;
            let key = Arc::new(inner.key(configured.algorithm, decoding));
            match &configured.kid {
                Some(kid) => {
                    inner.by_kid.insert(kid.clone(), key);
                }
                None => inner.without_kid.push(key),
            }
        }
        if let Some(jwks) = &settings.jwks {
            let client = reqwest::Client::builder()
                .timeout(jwks.fetch_timeout)
                .build()
                .map_err(|e| invalid("jwks_url", e.to_string()))?;
            let keys = inner.fetch(&client, &jwks.url).await?;
            inner.jwks = Some(Jwks {
                settings: jwks.clone(),
                client,
                keys: RwLock::new(Arc::new(keys)),
                on_demand: tokio::sync::Mutex::new(None),
            });
        }
        if inner.by_kid.is_empty() && inner.without_kid.is_empty() && inner.jwks.is_none() {
            return Err(GatewayError::NoKeys);
        }
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The key that checks a token with this header.
    pub(super) async fn find(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<Key>, AuthError> {
        let Some(kid) = kid else {
            let keys = &self.inner.without_kid;
            return match keys.iter().find(|key| key.algorithm == alg) {
                Some(key) => Ok(key.clone()),
                None if keys.is_empty() => Err(AuthError::UnknownKey),
                None => Err(AuthError::WrongAlgorithm),
            };
        };
        if let Some(key) = self.inner.by_kid.get(kid) {
            return Ok(key.clone());
        }
        let Some(jwks) = &self.inner.jwks else {
            return Err(AuthError::UnknownKey);
        };
        if let Some(key) = jwks.get(kid) {
            return Ok(key);
        }
        // A new signing key may have been published since the last fetch.
        self.refresh(true).await;
        jwks.get(kid).ok_or(AuthError::UnknownKey)
    }

    /// Fetches the JWKS again. `on_demand` fetches (an unknown `kid`) happen at most once
    /// per `min_refetch_interval`, so random kids cannot make the gateway hammer the
    /// identity provider. A failed fetch keeps the previous keys.
    pub async fn refresh(&self, on_demand: bool) {
        let Some(jwks) = &self.inner.jwks else { return };
        let mut last_on_demand = jwks.on_demand.lock().await;
        if on_demand {
            if last_on_demand.is_some_and(|at| at.elapsed() < jwks.settings.min_refetch_interval) {
                return;
            }
            *last_on_demand = Some(Instant::now());
        }
        match self.inner.fetch(&jwks.client, &jwks.settings.url).await {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), on_demand, "jwks refreshed");
                if let Ok(mut current) = jwks.keys.write() {
                    *current = Arc::new(keys);
                }
            }
            Err(error) => {
                tracing::warn!(%error, on_demand, "jwks refresh failed: keeping the previous keys")
            }
        }
    }

    /// Refreshes the JWKS every `refresh_interval` until `stop`.
    pub async fn run_refresh(self, stop: CancellationToken) {
        let Some(interval) = self
            .inner
            .jwks
            .as_ref()
            .map(|j| j.settings.refresh_interval)
        else {
            return;
        };
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => self.refresh(false).await,
            }
        }
    }
}

impl Jwks {
    fn get(&self, kid: &str) -> Option<Arc<Key>> {
        self.keys.read().ok()?.get(kid).cloned()
    }
}

impl Inner {
    fn key(&self, algorithm: Algorithm, decoding: DecodingKey) -> Key {
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = self.leeway_secs;
        validation.validate_nbf = true;
        Key {
            algorithm,
            decoding,
            validation,
        }
    }

    async fn fetch(
        &self,
        client: &reqwest::Client,
        url: &str,
    ) -> Result<HashMap<String, Arc<Key>>, GatewayError> {
        let failed = |reason: String| GatewayError::Jwks {
            url: url.to_owned(),
            reason,
        };
        let response = client
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| failed(e.to_string()))?;
        let body = response.bytes().await.map_err(|e| failed(e.to_string()))?;
        let set: JwkSet =
            serde_json::from_slice(&body).map_err(|e| failed(format!("not a JWK set: {e}")))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
                continue;
            }
            let declared = jwk
                .common
                .key_algorithm
                .and_then(|a| Algorithm::try_from(a).ok());
            let algorithm = match (&jwk.algorithm, declared) {
                (_, Some(algorithm)) => algorithm,
                (AlgorithmParameters::RSA(_), None) => Algorithm::RS256,
                (AlgorithmParameters::EllipticCurve(ec), None)
                    if ec.curve == EllipticCurve::P256 =>
                {
                    Algorithm::ES256
                }
                (AlgorithmParameters::OctetKeyPair(_), None) => Algorithm::EdDSA,
                _ => continue,
            };
            // Shared secrets never come from a published key set.
            if matches!(
                algorithm,
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
            ) {
                continue;
            }
            match DecodingKey::from_jwk(jwk) {
                Ok(decoding) => {
                    keys.insert(kid, Arc::new(self.key(algorithm, decoding)));
                }
                Err(error) => tracing::warn!(%kid, %error, "jwks key skipped"),
            }
        }
        Ok(keys)
    }
}
