//! The in-process layer: a bounded moka cache whose entries live until their error
//! window ends, plus the per-key memory of recent fill failures.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use moka::Expiry;
use moka::future::Cache as Moka;
use moka::ops::compute::{CompResult, Op};
use tokio::sync::{RwLock, broadcast};

use crate::CacheSettings;
use crate::entry::Entry;

/// Room for update notices per receiver; a slow receiver gets `Lagged`, never a
/// growing queue.
const UPDATES_CAPACITY: usize = 1024;

pub(crate) struct LocalLayer<V> {
    entries: Moka<String, Arc<Entry<V>>>,
    /// Keys whose last fill failed, with the reason, for `error_retry_after`.
    failures: Moka<String, Arc<str>>,
    /// Bumped by every invalidation. A fill that started under an older epoch may have
    /// read pre-invalidation data, so its result is not stored (see [`Self::offer`]).
    /// The write lock makes "bump + clear" atomic against "check + insert".
    epoch: RwLock<u64>,
    updates: broadcast::Sender<String>,
}

/// Entries expire when their error window ends, measured from `as_of` (an entry copied
/// from Redis may already be old).
struct UntilErrorWindowEnds {
    settings: CacheSettings,
}

impl UntilErrorWindowEnds {
    fn remaining<V>(&self, entry: &Entry<V>) -> Duration {
        self.settings.remaining_life(entry.as_of, SystemTime::now())
    }
}

impl<V> Expiry<String, Arc<Entry<V>>> for UntilErrorWindowEnds {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<Entry<V>>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(self.remaining(value))
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Arc<Entry<V>>,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(self.remaining(value))
    }
}

impl<V: Send + Sync + 'static> LocalLayer<V> {
    pub fn new(settings: &CacheSettings) -> Self {
        let entries = Moka::builder()
            .max_capacity(settings.max_entries)
            .expire_after(UntilErrorWindowEnds {
                settings: settings.clone(),
            })
            .build();
        let failures = Moka::builder()
            .max_capacity(settings.max_entries)
            .time_to_live(settings.error_retry_after.max(Duration::from_millis(1)))
            .build();
        let (updates, _) = broadcast::channel(UPDATES_CAPACITY);
        Self {
            entries,
            failures,
            epoch: RwLock::new(0),
            updates,
        }
    }

    pub async fn get(&self, key: &str) -> Option<Arc<Entry<V>>> {
        self.entries.get(key).await
    }

    pub async fn epoch(&self) -> u64 {
        *self.epoch.read().await
    }

    /// Stores `entry` unless an invalidation happened since `epoch` or the layer already
    /// holds a value at least as new. Returns whether it was stored, and tells
    /// subscribers when that made a new value visible.
    pub async fn offer(&self, key: &str, entry: Arc<Entry<V>>, epoch: u64) -> bool {
        let current_epoch = self.epoch.read().await;
        if *current_epoch != epoch {
            return false;
        }
        let as_of = entry.as_of;
        let result = self
            .entries
            .entry_by_ref(key)
            .and_compute_with(|existing| {
                let op = match existing {
                    Some(existing) if existing.value().as_of >= as_of => Op::Nop,
                    _ => Op::Put(entry),
                };
                std::future::ready(op)
            })
            .await;
        drop(current_epoch);
        let stored = matches!(
            result,
            CompResult::Inserted(_) | CompResult::ReplacedWith(_)
        );
        if stored {
            // No receivers is fine: nobody is watching this cache.
            let _ = self.updates.send(key.to_owned());
        }
        stored
    }

    pub async fn recent_failure(&self, key: &str) -> Option<Arc<str>> {
        self.failures.get(key).await
    }

    pub async fn record_failure(&self, key: &str, reason: Arc<str>) {
        self.failures.insert(key.to_owned(), reason).await;
    }

    /// Drops every entry and failure memory, and bumps the epoch so fills already
    /// running cannot store their (pre-invalidation) results. `also` runs under the
    /// same lock (the caller detaches its in-flight fills there). Returns the new epoch.
    pub async fn clear(&self, also: impl FnOnce()) -> u64 {
        let mut epoch = self.epoch.write().await;
        *epoch += 1;
        self.entries.invalidate_all();
        self.failures.invalidate_all();
        also();
        *epoch
    }

    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.updates.subscribe()
    }

    pub fn entry_count(&self) -> u64 {
        self.entries.entry_count()
    }
}
