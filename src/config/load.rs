use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::Serialize;

use super::Config;

/// Environment variables read as config keys: `VIBE_LISTEN__GATEWAY` is `listen.gateway`.
const ENV_PREFIX: &str = "VIBE_";
/// Names under the prefix that are not config keys.
const ENV_NOT_KEYS: &[&str] = &["CONFIG"];

/// Where the configuration comes from, lowest precedence first: built-in defaults, the
/// TOML file, `VIBE_*` environment variables, command-line flags.
#[derive(Debug, Default)]
pub struct ConfigSources {
    pub file: Option<PathBuf>,
    /// Flag values as a partial config (only the keys the user set).
    pub flags: Option<toml::Table>,
}

/// A configuration problem, always naming the key. Printed on one line and the process
/// exits with code 2.
#[derive(Debug, thiserror::Error)]
#[error("config error: {key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn invalid(key: &str, message: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

/// Loads, merges and validates the configuration.
pub fn load(sources: &ConfigSources) -> Result<Config, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(file) = &sources.file {
        if !file.is_file() {
            return Err(ConfigError::invalid(
                "--config",
                format!("no such file: {}", file.display()),
            ));
        }
        figment = figment.merge(Toml::file_exact(file));
    }
    figment = figment.merge(Env::prefixed(ENV_PREFIX).ignore(ENV_NOT_KEYS).split("__"));
    if let Some(flags) = &sources.flags {
        figment = figment.merge(Serialized::defaults(flags));
    }
    let config: Config = figment.extract().map_err(from_figment)?;
    config.validate()?;
    Ok(config)
}

impl Config {
    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|err| format!("# cannot render: {err}\n"))
    }
}

fn from_figment(error: figment::Error) -> ConfigError {
    use figment::error::Kind;

    let mut path = error.path.clone();
    let message = match &error.kind {
        // figment's path already ends with an unknown field's name.
        Kind::UnknownField(..) => "unknown key".to_owned(),
        Kind::MissingField(field) => {
            path.push(field.to_string());
            "missing required key".to_owned()
        }
        kind => kind.to_string(),
    };
    let key = if path.is_empty() {
        "(root)".to_owned()
    } else {
        path.join(".")
    };
    let source = match &error.metadata {
        Some(metadata) => match &metadata.source {
            Some(source) => format!(" (from {} {source})", metadata.name),
            // Only the environment provider has no source; name the variable.
            None if !error.path.is_empty() => format!(
                " (from {ENV_PREFIX}{})",
                error.path.join("__").to_uppercase()
            ),
            None => format!(" (from {})", metadata.name),
        },
        None => String::new(),
    };
    ConfigError {
        key,
        message: format!("{message}{source}"),
    }
}

/// Builds the partial config for [`ConfigSources::flags`] from `(key path, value)`.
pub fn flags_table<V: Serialize>(entries: &[(&[&str], Option<V>)]) -> Option<toml::Table> {
    let mut root = toml::Table::new();
    for (path, value) in entries {
        let Some(value) = value else { continue };
        let Ok(value) = toml::Value::try_from(value) else {
            continue;
        };
        let Some((last, parents)) = path.split_last() else {
            continue;
        };
        let mut table = &mut root;
        for parent in parents {
            table = match table
                .entry((*parent).to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            {
                toml::Value::Table(inner) => inner,
                _ => return None,
            };
        }
        table.insert((*last).to_owned(), value);
    }
    (!root.is_empty()).then_some(root)
}
