//! `vibe up`'s local secrets, kept next to its data (created once, mode 0600), so a new user
//! gets a shut door and encrypted records without configuring anything: with no key
//! configured, the one-process mesh signs and checks tokens with a local HS256 secret (also
//! what `vibe token` signs with), and with no keyring it seals compliance records with a
//! local keyring.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use rand::RngCore as _;

use crate::config::{Config, ConfigError, Secret};

/// Where the local secrets live: beside the embedded warehouse file.
fn data_dir(config: &Config) -> PathBuf {
    config
        .warehouse
        .duckdb
        .path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The local token secret's file.
pub fn path(config: &Config) -> PathBuf {
    data_dir(config).join("gateway-hs256.secret")
}

/// The local compliance keyring's file.
pub fn keyring_path(config: &Config) -> PathBuf {
    data_dir(config).join("compliance-keyring.toml")
}

/// Sets `compliance.keyring` from the local keyring when none is configured, creating it
/// first (`vibe up`). Losing this file makes the records sealed with it unreadable, so it
/// is never replaced once it exists.
pub fn apply_keyring(config: &mut Config) -> Result<(), ConfigError> {
    if config.compliance.keyring.is_some() {
        return Ok(());
    }
    let path = keyring_path(config);
    let fail = |reason: String| ConfigError::invalid("compliance.keyring", reason);
    if !path.exists() {
        let keyring = vibe_compliance::Keyring::generate("local-1");
        write_new(&path, keyring.as_bytes()).map_err(|err| {
            fail(format!(
                "cannot create the local keyring {}: {err}",
                path.display()
            ))
        })?;
        tracing::info!(path = %path.display(), "created a local compliance keyring (back it up: records sealed with it need it)");
    }
    config.compliance.keyring = Some(Secret::from_file(path).map_err(fail)?);
    config.compliance.validate()
}

/// Sets `gateway.auth.hs256_secret` from the local secret when no key is configured,
/// creating the secret first when `create` is set.
pub fn apply(config: &mut Config, create: bool) -> Result<(), ConfigError> {
    if config.gateway.has_keys() {
        return Ok(());
    }
    let path = path(config);
    if create && !path.exists() {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        write_new(&path, hex.as_bytes()).map_err(|err| {
            ConfigError::invalid(
                "gateway.auth.hs256_secret",
                format!("cannot create the local secret {}: {err}", path.display()),
            )
        })?;
        tracing::info!(path = %path.display(), "created a local token secret (mint tokens with `vibe token`)");
    }
    if !path.exists() {
        return Err(ConfigError::invalid(
            "gateway.auth.hs256_secret",
            format!(
                "no verification key configured and no local secret at {} (run `vibe up` once, or configure gateway.auth)",
                path.display()
            ),
        ));
    }
    let secret = Secret::from_file(path)
        .map_err(|reason| ConfigError::invalid("gateway.auth.hs256_secret", reason))?;
    config.gateway.auth.hs256_secret = Some(secret);
    Ok(())
}

/// Writes a new file readable by its owner only; never overwrites one.
fn write_new(path: &Path, content: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(content)
}
