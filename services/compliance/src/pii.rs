//! The personal data of an attempt, sealed as one value: name, date of birth and ID digits
//! as entered. The row id is the associated data, so a ciphertext moved to another row
//! does not open.

use serde::{Deserialize, Serialize};

use crate::keyring::{Keyring, KeyringError, Sealed};

/// What staff entered about the customer. Never logged: `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pii {
    pub full_name: String,
    /// As entered, `YYYY-MM-DD` (also when it is not a real date).
    pub date_of_birth: String,
    pub id_last_four: String,
}

impl std::fmt::Debug for Pii {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pii(redacted)")
    }
}

impl Pii {
    /// Seals this data for the row `attempt_id` under the keyring's active key.
    pub fn seal(&self, keyring: &Keyring, attempt_id: &str) -> Sealed {
        // Serialising three strings cannot fail; the fallback keeps this infallible.
        let plaintext = serde_json::to_vec(self).unwrap_or_default();
        keyring.seal(&plaintext, attempt_id.as_bytes())
    }

    /// Opens what [`Pii::seal`] sealed for `attempt_id`.
    pub fn open(
        keyring: &Keyring,
        sealed: &Sealed,
        attempt_id: &str,
    ) -> Result<Self, KeyringError> {
        let plaintext = keyring.open(sealed, attempt_id.as_bytes())?;
        serde_json::from_slice(&plaintext).map_err(|_| KeyringError::Decrypt {
            key_id: sealed.key_id.clone(),
        })
    }
}
