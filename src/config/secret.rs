use std::path::PathBuf;

use secrecy::SecretString;
use serde::{Deserialize, Serialize, Serializer};

/// A secret from the config: given as a value (typically through an environment
/// variable) or as `{ file = "/run/secrets/name" }` (a mounted Kubernetes secret).
/// The file is read while the config loads, so a missing file is a config error that
/// names the key. Secrets never appear in `Debug` output or in `vibe config check`.
#[derive(Clone, Deserialize)]
#[serde(try_from = "SecretSource")]
pub struct Secret {
    value: SecretString,
    file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a secret value or { file = \"/path/to/secret\" }"
)]
enum SecretSource {
    Value(String),
    File { file: PathBuf },
}

impl TryFrom<SecretSource> for Secret {
    type Error = String;

    fn try_from(source: SecretSource) -> Result<Self, Self::Error> {
        let (value, file) = match source {
            SecretSource::Value(value) => (value, None),
            SecretSource::File { file } => {
                let content = std::fs::read_to_string(&file)
                    .map_err(|err| format!("cannot read secret file {}: {err}", file.display()))?;
                // Mounted secrets usually end with a newline that is not part of them.
                (
                    content.trim_end_matches(['\r', '\n']).to_owned(),
                    Some(file),
                )
            }
        };
        if value.is_empty() {
            return Err("the secret is empty".to_owned());
        }
        Ok(Self {
            value: SecretString::from(value),
            file,
        })
    }
}

impl Secret {
    pub fn value(&self) -> &SecretString {
        &self.value
    }

    /// A secret given as a value (tests, generated settings).
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: SecretString::from(value.into()),
            file: None,
        }
    }

    /// The secret held in `file` (read now).
    pub fn from_file(file: PathBuf) -> Result<Self, String> {
        Self::try_from(SecretSource::File { file })
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

const REDACTED: &str = "<redacted>";

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct FromFile<'a> {
            file: &'a PathBuf,
        }
        match &self.file {
            Some(file) => FromFile { file }.serialize(serializer),
            None => serializer.serialize_str(REDACTED),
        }
    }
}
