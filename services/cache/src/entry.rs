//! A cached value with its timing, what callers get back, and the Redis envelope.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::Freshness;

/// What a `get` returns: the value and how much to trust it.
#[derive(Debug)]
pub struct Served<V> {
    pub value: Arc<V>,
    pub freshness: Freshness,
    /// When the value was computed (the fill finished), in any replica.
    pub as_of: SystemTime,
    /// How long the fill that computed it took.
    pub query_duration: Duration,
}

// Manual impl: cloning shares the value, so `V` need not be `Clone`.
impl<V> Clone for Served<V> {
    fn clone(&self) -> Self {
        Self {
            value: Arc::clone(&self.value),
            freshness: self.freshness,
            as_of: self.as_of,
            query_duration: self.query_duration,
        }
    }
}

/// One computed value, shared by the in-process layer and every waiter.
#[derive(Debug)]
pub(crate) struct Entry<V> {
    pub value: Arc<V>,
    pub as_of: SystemTime,
    pub query_duration: Duration,
}

impl<V> Entry<V> {
    /// A value computed just now; `as_of` is cut to milliseconds so the copy that makes
    /// the round trip through Redis compares equal to the original.
    pub fn computed_now(value: V, query_duration: Duration) -> Self {
        Self {
            value: Arc::new(value),
            as_of: from_millis(to_millis(SystemTime::now())),
            query_duration,
        }
    }

    pub fn served(&self, freshness: Freshness) -> Served<V> {
        Served {
            value: Arc::clone(&self.value),
            freshness,
            as_of: self.as_of,
            query_duration: self.query_duration,
        }
    }

    /// True when `self` was computed after `other` (or there is no `other`).
    pub fn is_newer_than(&self, other: Option<&Entry<V>>) -> bool {
        other.is_none_or(|other| self.as_of > other.as_of)
    }
}

/// The newer of two optional entries.
pub(crate) fn newest<V>(
    a: Option<Arc<Entry<V>>>,
    b: Option<Arc<Entry<V>>>,
) -> Option<Arc<Entry<V>>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.as_of > a.as_of { b } else { a }),
        (a, b) => a.or(b),
    }
}

#[derive(Serialize)]
struct EnvelopeOut<'a, V> {
    as_of_ms: u64,
    query_ms: u64,
    value: &'a V,
}

#[derive(Deserialize)]
struct EnvelopeIn<V> {
    as_of_ms: u64,
    query_ms: u64,
    value: V,
}

/// The Redis form of an entry: JSON `{as_of_ms, query_ms, value}`.
pub(crate) fn encode<V: Serialize>(entry: &Entry<V>) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&EnvelopeOut {
        as_of_ms: to_millis(entry.as_of),
        query_ms: u64::try_from(entry.query_duration.as_millis()).unwrap_or(u64::MAX),
        value: entry.value.as_ref(),
    })
}

/// `None` when the bytes are not an envelope of `V`: after a schema change an old
/// entry is a miss to refill, never an error for the caller.
pub(crate) fn decode<V: DeserializeOwned>(bytes: &[u8]) -> Option<Entry<V>> {
    match serde_json::from_slice::<EnvelopeIn<V>>(bytes) {
        Ok(envelope) => Some(Entry {
            value: Arc::new(envelope.value),
            as_of: from_millis(envelope.as_of_ms),
            query_duration: Duration::from_millis(envelope.query_ms),
        }),
        Err(err) => {
            tracing::debug!(error = %err, "ignoring a redis cache entry that does not decode");
            None
        }
    }
}

fn to_millis(time: SystemTime) -> u64 {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

fn from_millis(millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_survives_the_envelope() {
        let entry = Entry::computed_now(vec![1_u32, 2, 3], Duration::from_millis(42));
        let bytes = encode(&entry).unwrap_or_default();
        let back: Entry<Vec<u32>> = decode(&bytes).unwrap_or_else(|| panic!("decodes"));
        assert_eq!(back.value, entry.value);
        assert_eq!(back.as_of, entry.as_of);
        assert_eq!(back.query_duration, Duration::from_millis(42));
        let text = String::from_utf8(bytes).unwrap_or_default();
        assert!(text.contains("\"as_of_ms\""), "{text}");
        assert!(text.contains("\"query_ms\":42"), "{text}");
    }

    #[test]
    fn a_foreign_schema_is_not_an_entry() {
        assert!(decode::<Vec<u32>>(br#"{"as_of_ms":1,"query_ms":1,"value":"text"}"#).is_none());
        assert!(decode::<Vec<u32>>(b"garbage").is_none());
    }

    #[test]
    fn newest_picks_the_later_entry() {
        let old = Arc::new(Entry {
            value: Arc::new(1),
            as_of: from_millis(1),
            query_duration: Duration::ZERO,
        });
        let new = Arc::new(Entry {
            value: Arc::new(2),
            as_of: from_millis(2),
            query_duration: Duration::ZERO,
        });
        let pick = newest(Some(Arc::clone(&old)), Some(Arc::clone(&new)));
        assert_eq!(pick.map(|e| *e.value), Some(2));
        assert_eq!(newest(None, Some(old)).map(|e| *e.value), Some(1));
        assert!(new.is_newer_than(None));
    }
}
