//! AES-256-GCM encryption of personal data, and keyed HMAC-SHA256 customer lookup keys.
//!
//! The keyring is one secret, a TOML document, so encryption keys rotate by adding a key and
//! pointing `active` at it; old keys stay until no stored row uses them:
//!
//! ```toml
//! # vibe compliance keyring: keep secret
//! active = "k2"
//! lookup_key = "<base64 (standard, padded) of 32 random bytes>"
//! [keys]
//! k1 = "<base64 of 32 bytes>"
//! k2 = "<base64 of 32 bytes>"
//! ```
//!
//! Every ciphertext carries the id of the key that sealed it ([`Sealed::key_id`]), so rows
//! sealed before a rotation still open. `lookup_key` is separate from the encryption keys so
//! that customer keys ([`Keyring::customer_key`]) survive rotations; changing it orphans every
//! stored customer key.

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use rand::{Rng as _, RngCore as _, TryRngCore as _};
use sha2::Sha256;

/// Length of every key in the keyring, in bytes.
const KEY_LEN: usize = 32;
/// AES-GCM's standard 96-bit nonce, in bytes.
const NONCE_LEN: usize = 12;
/// AES-GCM's authentication tag, in bytes.
const TAG_LEN: usize = 16;
/// Longest key id: ids are stored in every row.
const MAX_KEY_ID_LEN: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// Why a keyring could not be parsed, or a ciphertext not opened.
///
/// Messages name fields and key ids but never contain key material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The keyring text is not valid: `key` names the field (e.g. "keys.k1", "active").
    #[error("invalid keyring: {key}: {reason}")]
    Invalid {
        /// The field, or "line N" for TOML syntax errors.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The ciphertext was sealed with a key this keyring does not have.
    #[error("no key named \"{0}\" in the keyring")]
    UnknownKey(String),
    /// Authentication failed: wrong key bytes, tampered ciphertext or the wrong context.
    #[error("cannot decrypt with key \"{key_id}\": wrong key or tampered data")]
    Decrypt {
        /// The id of the key that was tried.
        key_id: String,
    },
    /// The ciphertext is not base64 or too short to hold a nonce and tag.
    #[error("malformed ciphertext for key \"{key_id}\": {reason}")]
    Malformed {
        /// The key id the ciphertext claims.
        key_id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// A ciphertext and the id of the key that sealed it, as stored in a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// The id of the sealing key in the keyring's `[keys]`.
    pub key_id: String,
    /// Base64 (standard, padded) of nonce (12 bytes) followed by the AES-GCM output.
    pub ciphertext: String,
}

/// The parsed keyring: AES-256-GCM ciphers by key id, the active id and the lookup HMAC key.
///
/// `Debug` prints key ids only.
#[derive(Clone)]
pub struct Keyring {
    active_id: String,
    // A copy of the active cipher, so sealing needs no lookup that could fail.
    active: Aes256Gcm,
    keys: BTreeMap<String, Aes256Gcm>,
    // Keyed once at parse time and cloned per use.
    lookup: HmacSha256,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active_id)
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// Parses a keyring TOML document (see the module docs).
    ///
    /// # Errors
    ///
    /// [`KeyringError::Invalid`] naming the first bad field: TOML syntax, an unknown
    /// top-level field, a missing or mistyped `active`, `lookup_key` or `[keys]`, a key id
    /// that is not 1 to 32 characters of `A-Z a-z 0-9 _ -`, a value that is not base64 of
    /// exactly 32 bytes, or an `active` id missing from `[keys]`.
    pub fn parse(text: &str) -> Result<Self, KeyringError> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            // Only the parser's short message: its full display quotes the offending line,
            // which may hold key material.
            let line = e.span().map_or(0, |span| line_of(text, span.start));
            invalid(format!("line {line}"), e.message())
        })?;

        if let Some(unknown) = table
            .keys()
            .find(|k| !matches!(k.as_str(), "active" | "lookup_key" | "keys"))
        {
            return Err(invalid(field_name("", unknown), "unknown field"));
        }

        let active_id = match table.get("active") {
            None => return Err(invalid("active", "missing")),
            Some(toml::Value::String(id)) => id.clone(),
            Some(other) => {
                return Err(invalid(
                    "active",
                    format!("expected a key id string, got {}", other.type_str()),
                ));
            }
        };

        let lookup_key = match table.get("lookup_key") {
            None => return Err(invalid("lookup_key", "missing")),
            Some(value) => decode_key("lookup_key", value)?,
        };
        let lookup = HmacSha256::new_from_slice(&lookup_key)
            .map_err(|_| invalid("lookup_key", "rejected by hmac"))?;

        let key_table = match table.get("keys") {
            None => return Err(invalid("keys", "missing")),
            Some(toml::Value::Table(keys)) => keys,
            Some(other) => {
                return Err(invalid(
                    "keys",
                    format!("expected a table, got {}", other.type_str()),
                ));
            }
        };
        let mut keys = BTreeMap::new();
        for (id, value) in key_table {
            let field = field_name("keys.", id);
            if !is_valid_key_id(id) {
                return Err(invalid(
                    field,
                    "key ids must be 1 to 32 characters of A-Z, a-z, 0-9, '_' or '-'",
                ));
            }
            let bytes = decode_key(&field, value)?;
            keys.insert(id.clone(), Aes256Gcm::new(&bytes.into()));
        }

        let Some(active) = keys.get(&active_id).cloned() else {
            return Err(invalid(
                "active",
                format!("no key named {} in [keys]", quoted(&active_id)),
            ));
        };
        Ok(Self {
            active_id,
            active,
            keys,
            lookup,
        })
    }

    /// A fresh keyring TOML document with one encryption key named `key_id` (active) and a
    /// lookup key, both 32 random bytes from the OS, under a header comment.
    ///
    /// `key_id` should be 1 to 32 characters of `A-Z a-z 0-9 _ -`; any other id is still
    /// written as valid TOML, and [`Keyring::parse`] then rejects it naming the id.
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails.
    #[must_use]
    pub fn generate(key_id: &str) -> String {
        let id_value = toml::Value::String(key_id.to_owned()).to_string();
        // Bare keys read best; anything else must be quoted to stay valid TOML.
        let id_key = if is_valid_key_id(key_id) {
            key_id.to_owned()
        } else {
            id_value.clone()
        };
        let lookup_key = random_key_base64();
        let key = random_key_base64();
        format!(
            "# vibe compliance keyring: keep secret\n\
             # Rotate encryption keys by adding a key under [keys] and pointing `active` at it;\n\
             # keep old keys until no stored row uses them. Never change lookup_key: stored\n\
             # customer keys are derived from it.\n\
             active = {id_value}\n\
             lookup_key = \"{lookup_key}\"\n\
             \n\
             [keys]\n\
             {id_key} = \"{key}\"\n"
        )
    }

    /// The id of the key new ciphertexts are sealed with.
    #[must_use]
    pub fn active_key_id(&self) -> &str {
        &self.active_id
    }

    /// Encrypts `plaintext` with the active key under a random 96-bit nonce.
    ///
    /// `context` is authenticated but not encrypted (AES-GCM's associated data): pass e.g. the
    /// row id, binding the ciphertext to its row so it cannot be moved to another.
    ///
    /// # Panics
    ///
    /// If `plaintext` is 64 GiB or longer (AES-GCM's limit), or the thread-local random
    /// number generator cannot be seeded by the OS.
    #[must_use]
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Sealed {
        // Random nonces are safe for far more messages per key than we will seal (2^32).
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill(&mut nonce);
        let output = self
            .active
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .expect("aes-gcm seals any message shorter than 64 GiB");
        let mut bytes = Vec::with_capacity(NONCE_LEN + output.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&output);
        Sealed {
            key_id: self.active_id.clone(),
            ciphertext: BASE64.encode(bytes),
        }
    }

    /// Decrypts `sealed` with the key it names, checking it was sealed with the same
    /// `context`.
    ///
    /// # Errors
    ///
    /// [`KeyringError::UnknownKey`] when the keyring lacks the key,
    /// [`KeyringError::Malformed`] when the ciphertext is not base64 or too short, and
    /// [`KeyringError::Decrypt`] when authentication fails (wrong key bytes, tampered data or
    /// a different context).
    pub fn open(&self, sealed: &Sealed, context: &[u8]) -> Result<Vec<u8>, KeyringError> {
        let key_id = &sealed.key_id;
        let cipher = self
            .keys
            .get(key_id)
            .ok_or_else(|| KeyringError::UnknownKey(key_id.clone()))?;
        let malformed = |reason| KeyringError::Malformed {
            key_id: key_id.clone(),
            reason,
        };
        let bytes = BASE64
            .decode(&sealed.ciphertext)
            .map_err(|_| malformed("not valid base64"))?;
        let (nonce, body) = bytes
            .split_first_chunk::<NONCE_LEN>()
            .filter(|(_, body)| body.len() >= TAG_LEN)
            .ok_or_else(|| malformed("too short to hold a nonce and tag"))?;
        cipher
            .decrypt(
                &Nonce::from(*nonce),
                Payload {
                    msg: body,
                    aad: context,
                },
            )
            .map_err(|_| KeyringError::Decrypt {
                key_id: key_id.clone(),
            })
    }

    /// The customer's lookup key: lowercase hex of HMAC-SHA256(lookup_key, customer_id).
    ///
    /// Keyed so that stored keys reveal nothing without the keyring; independent of the
    /// encryption keys, so stable across their rotations.
    #[must_use]
    pub fn customer_key(&self, customer_id: &str) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut mac = self.lookup.clone();
        mac.update(customer_id.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut hex = String::with_capacity(digest.len() * 2);
        for byte in digest.iter() {
            hex.push(char::from(HEX[usize::from(byte >> 4)]));
            hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        hex
    }
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> KeyringError {
    KeyringError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// A key id may be stored in every row: keep it short and plain.
fn is_valid_key_id(id: &str) -> bool {
    (1..=MAX_KEY_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `prefix` + `name`, quoting names that would be ambiguous or invisible bare.
fn field_name(prefix: &str, name: &str) -> String {
    if is_valid_key_id(name) {
        format!("{prefix}{name}")
    } else {
        format!("{prefix}{}", quoted(name))
    }
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

/// The 1-based line holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Decodes a 32-byte key, reporting errors against `field` without echoing the value.
fn decode_key(field: &str, value: &toml::Value) -> Result<[u8; KEY_LEN], KeyringError> {
    let expected = "expected 32 bytes of base64";
    let toml::Value::String(text) = value else {
        return Err(invalid(
            field,
            format!("{expected}, got {}", value.type_str()),
        ));
    };
    // The decoder's own error names the offending byte, which is key material.
    let bytes = BASE64
        .decode(text)
        .map_err(|_| invalid(field, format!("{expected}, got invalid base64")))?;
    let len = bytes.len();
    <[u8; KEY_LEN]>::try_from(bytes).map_err(|_| invalid(field, format!("{expected}, got {len}")))
}

fn random_key_base64() -> String {
    let mut key = [0u8; KEY_LEN];
    // Straight from the OS rather than a userspace generator: these keys live for years.
    rand::rngs::OsRng.unwrap_err().fill_bytes(&mut key);
    BASE64.encode(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(byte: u8) -> String {
        BASE64.encode([byte; KEY_LEN])
    }

    /// A keyring text with deterministic keys: each key is 32 copies of its byte.
    fn text(active: &str, lookup: u8, keys: &[(&str, u8)]) -> String {
        let mut out = format!(
            "active = \"{active}\"\nlookup_key = \"{}\"\n[keys]\n",
            b64(lookup)
        );
        for (id, byte) in keys {
            out.push_str(&format!("{id} = \"{}\"\n", b64(*byte)));
        }
        out
    }

    fn keyring(active: &str, lookup: u8, keys: &[(&str, u8)]) -> Keyring {
        Keyring::parse(&text(active, lookup, keys)).expect("test keyring parses")
    }

    /// The parse error's field and full message for `text`.
    fn parse_error(text: &str) -> (String, String) {
        match Keyring::parse(text) {
            Err(e @ KeyringError::Invalid { .. }) => {
                let message = e.to_string();
                let KeyringError::Invalid { key, .. } = e else {
                    unreachable!("matched above")
                };
                (key, message)
            }
            Err(other) => panic!("expected Invalid, got {other:?}"),
            Ok(keyring) => panic!("expected an error, parsed {keyring:?}"),
        }
    }

    #[test]
    fn round_trip() {
        let ring = keyring("k1", 9, &[("k1", 1)]);
        let sealed = ring.seal(b"Jane Q. Doe", b"row-1");
        assert_eq!(sealed.key_id, "k1");
        let opened = ring
            .open(&sealed, b"row-1")
            .expect("opens with its context");
        assert_eq!(opened, b"Jane Q. Doe");

        let empty = ring.seal(b"", b"");
        assert_eq!(ring.open(&empty, b"").expect("empty opens"), b"");
    }

    #[test]
    fn ciphertext_hides_the_plaintext() {
        let ring = keyring("k1", 9, &[("k1", 1)]);
        let plaintext = b"Jane Doe 1990-05-20 4321";
        let sealed = ring.seal(plaintext, b"row-1");
        assert!(!sealed.ciphertext.contains("Jane"));
        let raw = BASE64.decode(&sealed.ciphertext).expect("base64");
        assert_eq!(raw.len(), NONCE_LEN + plaintext.len() + TAG_LEN);
        assert!(!raw.windows(4).any(|w| w == b"Jane"));
        // A fresh nonce each time: equal plaintexts don't give equal ciphertexts.
        assert_ne!(ring.seal(plaintext, b"row-1"), sealed);
    }

    #[test]
    fn wrong_context_fails() {
        let ring = keyring("k1", 9, &[("k1", 1)]);
        let sealed = ring.seal(b"secret", b"row-1");
        let err = ring
            .open(&sealed, b"row-2")
            .expect_err("other row's context");
        assert!(matches!(err, KeyringError::Decrypt { ref key_id } if key_id == "k1"));
    }

    #[test]
    fn same_id_with_other_key_bytes_fails_naming_the_key() {
        let sealed = keyring("k1", 9, &[("k1", 1)]).seal(b"secret", b"row-1");
        let impostor = keyring("k1", 9, &[("k1", 2)]);
        let err = impostor
            .open(&sealed, b"row-1")
            .expect_err("wrong key bytes");
        assert!(matches!(err, KeyringError::Decrypt { ref key_id } if key_id == "k1"));
        assert_eq!(
            err.to_string(),
            "cannot decrypt with key \"k1\": wrong key or tampered data"
        );
    }

    #[test]
    fn tampered_or_malformed_ciphertext_fails() {
        let ring = keyring("k1", 9, &[("k1", 1)]);
        let sealed = ring.seal(b"secret", b"row-1");
        let mut raw = BASE64.decode(&sealed.ciphertext).expect("base64");
        raw[NONCE_LEN] ^= 1;
        let tampered = Sealed {
            ciphertext: BASE64.encode(&raw),
            ..sealed.clone()
        };
        assert!(matches!(
            ring.open(&tampered, b"row-1"),
            Err(KeyringError::Decrypt { .. })
        ));

        for ciphertext in [
            "not base64!".to_owned(),
            BASE64.encode([0u8; NONCE_LEN + TAG_LEN - 1]),
        ] {
            let bad = Sealed {
                ciphertext,
                ..sealed.clone()
            };
            assert!(matches!(
                ring.open(&bad, b"row-1"),
                Err(KeyringError::Malformed { ref key_id, .. }) if key_id == "k1"
            ));
        }
    }

    #[test]
    fn rotation_keeps_old_ciphertexts_readable() {
        let old = keyring("k1", 9, &[("k1", 1)]).seal(b"before", b"row-1");
        let rotated = keyring("k2", 9, &[("k1", 1), ("k2", 2)]);
        assert_eq!(rotated.active_key_id(), "k2");
        assert_eq!(
            rotated.open(&old, b"row-1").expect("old key still opens"),
            b"before"
        );
        let new = rotated.seal(b"after", b"row-2");
        assert_eq!(new.key_id, "k2");
        assert_eq!(
            rotated.open(&new, b"row-2").expect("new key opens"),
            b"after"
        );
    }

    #[test]
    fn missing_old_key_is_unknown() {
        let old = keyring("k1", 9, &[("k1", 1)]).seal(b"before", b"row-1");
        let pruned = keyring("k2", 9, &[("k2", 2)]);
        let err = pruned.open(&old, b"row-1").expect_err("k1 was removed");
        assert!(matches!(err, KeyringError::UnknownKey(ref id) if id == "k1"));
    }

    #[test]
    fn customer_key_is_keyed_hmac_stable_across_rotation() {
        let before = keyring("k1", 7, &[("k1", 1)]);
        let after = keyring("k2", 7, &[("k1", 1), ("k2", 2)]);
        // Known answer, computed with Python's hmac module.
        let expected = "d8863764295863e9ffcff5fe444bf84e62c447a69384cfc731faa3dc1c7afa84";
        assert_eq!(before.customer_key("cust-42"), expected);
        assert_eq!(after.customer_key("cust-42"), expected);
        assert_ne!(before.customer_key("cust-43"), expected);
        let other_lookup = keyring("k1", 8, &[("k1", 1)]);
        assert_ne!(other_lookup.customer_key("cust-42"), expected);
    }

    #[test]
    fn missing_fields_are_named() {
        let no_active = format!("lookup_key = \"{}\"\n[keys]\nk1 = \"{}\"\n", b64(9), b64(1));
        assert_eq!(
            parse_error(&no_active).1,
            "invalid keyring: active: missing"
        );

        let no_lookup = format!("active = \"k1\"\n[keys]\nk1 = \"{}\"\n", b64(1));
        assert_eq!(
            parse_error(&no_lookup).1,
            "invalid keyring: lookup_key: missing"
        );

        let no_keys = format!("active = \"k1\"\nlookup_key = \"{}\"\n", b64(9));
        assert_eq!(parse_error(&no_keys).0, "keys");
    }

    #[test]
    fn active_must_name_a_key() {
        let (key, message) = parse_error(&text("k3", 9, &[("k1", 1), ("k2", 2)]));
        assert_eq!(key, "active");
        assert_eq!(
            message,
            "invalid keyring: active: no key named \"k3\" in [keys]"
        );

        let (key, _) = parse_error(&text("k1", 9, &[]));
        assert_eq!(key, "active");
    }

    #[test]
    fn bad_key_values_are_named_without_echoing_them() {
        let bad_base64 = "AAAA*not-base64*AAAA";
        let (key, message) = parse_error(&format!(
            "active = \"k1\"\nlookup_key = \"{}\"\n[keys]\nk1 = \"{bad_base64}\"\n",
            b64(9)
        ));
        assert_eq!(key, "keys.k1");
        assert!(!message.contains("not-base64"), "{message}");

        let short = BASE64.encode([5u8; 16]);
        let (_, message) = parse_error(&format!(
            "active = \"k1\"\nlookup_key = \"{}\"\n[keys]\nk1 = \"{short}\"\n",
            b64(9)
        ));
        assert_eq!(
            message,
            "invalid keyring: keys.k1: expected 32 bytes of base64, got 16"
        );
        assert!(!message.contains(&short));

        let (key, _) = parse_error(&format!(
            "active = \"k1\"\nlookup_key = \"{short}\"\n[keys]\nk1 = \"{}\"\n",
            b64(1)
        ));
        assert_eq!(key, "lookup_key");

        let (key, message) = parse_error(&format!(
            "active = \"k1\"\nlookup_key = \"{}\"\n[keys]\nk1 = 42\n",
            b64(9)
        ));
        assert_eq!(key, "keys.k1");
        assert!(message.contains("got integer"), "{message}");
    }

    #[test]
    fn bad_key_ids_are_rejected() {
        let too_long = "k".repeat(33);
        for id in ["\"k 1\"", "\"k.1\"", "\"\"", "\"ключ\"", too_long.as_str()] {
            let (key, message) = parse_error(&text("k1", 9, &[("k1", 1), (id, 2)]));
            assert!(key.starts_with("keys."), "{key}");
            assert!(message.contains("key ids must be"), "{message}");
        }
        assert_eq!(
            keyring("Key_2024-01", 9, &[("Key_2024-01", 1)]).active_key_id(),
            "Key_2024-01"
        );
        let longest = "k".repeat(32);
        assert_eq!(
            keyring(&longest, 9, &[(&longest, 1)]).active_key_id(),
            longest
        );
    }

    #[test]
    fn syntax_and_unknown_field_errors_hide_key_material() {
        let secret = b64(1);
        let broken = format!(
            "active = \"k1\"\nlookup_key = \"{}\"\n[keys]\nk1 = \"{secret}\n",
            b64(9)
        );
        let (key, message) = parse_error(&broken);
        assert_eq!(key, "line 4");
        assert!(!message.contains(&secret), "{message}");

        // Top-level fields must precede [keys]; put the typo first.
        let typo = format!("lookup-key = \"{secret}\"\n{}", text("k1", 9, &[("k1", 1)]));
        let (key, message) = parse_error(&typo);
        assert_eq!(key, "lookup-key");
        assert!(!message.contains(&secret), "{message}");
    }

    #[test]
    fn generate_parses_back_with_fresh_keys() {
        let text = Keyring::generate("k1");
        assert!(text.starts_with("# vibe compliance keyring: keep secret\n"));
        let ring = Keyring::parse(&text).expect("generated keyring parses");
        assert_eq!(ring.active_key_id(), "k1");
        let sealed = ring.seal(b"hello", b"ctx");
        assert_eq!(ring.open(&sealed, b"ctx").expect("opens"), b"hello");

        let other = Keyring::parse(&Keyring::generate("k1")).expect("parses");
        assert_ne!(other.customer_key("c"), ring.customer_key("c"));
        assert!(matches!(
            other.open(&sealed, b"ctx"),
            Err(KeyringError::Decrypt { .. })
        ));

        // An invalid id still yields valid TOML, rejected by parse naming the id.
        let (key, _) = parse_error(&Keyring::generate("bad id"));
        assert_eq!(key, "keys.\"bad id\"");
    }

    #[test]
    fn debug_prints_ids_only() {
        let ring = keyring("k2", 9, &[("k1", 1), ("k2", 2)]);
        let debug = format!("{ring:?}");
        assert!(debug.contains("k1") && debug.contains("k2"), "{debug}");
        for byte in [1, 2, 9] {
            assert!(!debug.contains(&b64(byte)), "{debug}");
        }
        assert!(!debug.contains("Aes") && !debug.contains("Hmac"), "{debug}");
    }
}
