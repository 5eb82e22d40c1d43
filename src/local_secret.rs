//! `vibe up`'s token secret: with no key configured, the one-process mesh signs and checks
//! tokens with an HS256 secret kept next to its data (created once, mode 0600), so a new
//! user gets a shut door and `vibe token` without configuring anything.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use rand::RngCore as _;

use crate::config::{Config, ConfigError, Secret};

/// Where the local secret lives: beside the embedded warehouse file.
pub fn path(config: &Config) -> PathBuf {
    let data_dir = config
        .warehouse
        .duckdb
        .path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    data_dir.join("gateway-hs256.secret")
}

/// Sets `gateway.auth.hs256_secret` from the local secret when no key is configured,
/// creating the secret first when `create` is set.
pub fn apply(config: &mut Config, create: bool) -> Result<(), ConfigError> {
    if config.gateway.has_keys() {
        return Ok(());
    }
    let path = path(config);
    if create && !path.exists() {
        write_new(&path).map_err(|err| {
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

fn write_new(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(hex.as_bytes())
}
