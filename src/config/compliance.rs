use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

/// `[compliance]`: age verification and its encrypted records.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Compliance {
    /// The keyring that seals personal data and keys customer lookups (a secret: value or
    /// `{ file = ... }`; generate one with `vibe keyring`). Required wherever the
    /// integration target runs; `vibe up` creates a local one in its data dir.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyring: Option<Secret>,
}

impl Compliance {
    /// Checks a configured keyring now, so `vibe config check` catches a broken one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.keyring.is_some() {
            self.parsed_keyring()?;
        }
        Ok(())
    }

    /// The keyring, required by the integration target.
    pub fn parsed_keyring(&self) -> Result<vibe_compliance::Keyring, ConfigError> {
        let Some(secret) = &self.keyring else {
            return Err(ConfigError::invalid(
                "compliance.keyring",
                "is required where the integration target runs: it encrypts age-verification \
                 records (create one with `vibe keyring > keyring.toml`; `vibe up` makes a local one)",
            ));
        };
        vibe_compliance::Keyring::parse(secrecy::ExposeSecret::expose_secret(secret.value()))
            .map_err(|error| ConfigError::invalid("compliance.keyring", error.to_string()))
    }
}
