//! One key's load, run by the flight that holds its ticket: Redis first, then the
//! cluster-wide fill lock, then the fill.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::FillError;
use crate::cache::Inner;
use crate::entry::{self, Entry};
use crate::flight::{FlightTicket, Outcome, Source};
use crate::redis_layer::{RedisLayer, Snapshot};
use crate::settings::Phase;

/// First and longest pause between polls while another replica fills.
const POLL_FIRST: Duration = Duration::from_millis(5);
const POLL_MAX: Duration = Duration::from_millis(100);
/// Shortest life of a failure marker in Redis, whatever `error_retry_after` says.
const FAILURE_MARKER_MIN: Duration = Duration::from_secs(1);

/// What waiting on the cluster-wide lock ended in.
enum Coordination<V> {
    /// We hold the lock (its token): fill and store.
    Holder(String),
    /// Another replica stored a newer entry.
    Found(Arc<Entry<V>>),
    /// Another replica's fill failed while we waited.
    PeerFailed(Arc<str>),
    /// Redis failed or the wait ran out: fill without the lock.
    FillWithoutLock,
}

impl<V: Serialize + DeserializeOwned + Send + Sync + 'static> Inner<V> {
    /// Loads `ticket`'s key and publishes the outcome. `known` is the newest value the
    /// caller had (stale, or in its error window): what a new value must beat, and the
    /// fallback if the fill fails.
    pub(crate) async fn load<F, Fut>(
        self: Arc<Self>,
        ticket: FlightTicket<V>,
        mut known: Option<Arc<Entry<V>>>,
        fill: F,
    ) where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<V, FillError>> + Send + 'static,
    {
        let key = ticket.key().to_owned();
        let mut epoch = self.local.epoch().await;
        // The Redis layer and the generation this load works under.
        let mut shared: Option<(&RedisLayer, u64)> = None;
        let mut old_failure_token = None;
        // `read` is skipped (None) while the breaker is open; the load goes on without
        // the shared layer.
        if let Some(redis) = self.redis.as_ref()
            && let Some(snapshot) = redis.read(&key).await
        {
            if redis.observe_generation(snapshot.generation) {
                // Another replica invalidated and its message did not reach us.
                tracing::info!(
                    cache = self.name,
                    generation = snapshot.generation,
                    "redis cache generation moved on, clearing the in-process layer"
                );
                epoch = self.clear_local().await;
            }
            shared = Some((redis, snapshot.generation));
            if let Some(entry) = self.newer_entry(&snapshot, known.as_deref()) {
                self.local.offer(&key, Arc::clone(&entry), epoch).await;
                match self.settings.phase(entry.as_of, SystemTime::now()) {
                    Phase::Fresh => {
                        ticket.publish(Outcome::Value {
                            entry,
                            source: Source::Redis,
                        });
                        return;
                    }
                    Phase::Stale => {
                        // Usable at once; waiters take it while we refresh.
                        ticket.publish(Outcome::Value {
                            entry: Arc::clone(&entry),
                            source: Source::Redis,
                        });
                        known = Some(entry);
                    }
                    Phase::ErrorWindow | Phase::Expired => known = Some(entry),
                }
            }
            if known.is_some()
                && let Some(failure) = &snapshot.failure
            {
                // Another replica's fill failed moments ago: serve the old value
                // instead of asking the warehouse again (cluster-wide retry pause).
                let reason: Arc<str> = Arc::from(failure.reason.as_str());
                self.local.record_failure(&key, Arc::clone(&reason)).await;
                ticket.publish(Outcome::Failed {
                    reason,
                    fallback: known,
                });
                return;
            }
            old_failure_token = snapshot.failure.map(|failure| failure.token);
        }
        if known.is_some()
            && let Some(reason) = self.local.recent_failure(&key).await
        {
            ticket.publish(Outcome::Failed {
                reason,
                fallback: known,
            });
            return;
        }

        let mut token = String::new();
        if let Some((redis, generation)) = shared {
            match self
                .coordinate(redis, generation, &key, known.as_deref(), old_failure_token)
                .await
            {
                Coordination::Holder(ours) => token = ours,
                Coordination::Found(entry) => {
                    self.local.offer(&key, Arc::clone(&entry), epoch).await;
                    ticket.publish(Outcome::Value {
                        entry,
                        source: Source::Peer,
                    });
                    return;
                }
                Coordination::PeerFailed(reason) => {
                    self.local.record_failure(&key, Arc::clone(&reason)).await;
                    ticket.publish(Outcome::Failed {
                        reason,
                        fallback: known,
                    });
                    return;
                }
                Coordination::FillWithoutLock => {}
            }
        }

        match self.fill(&key, fill).await {
            Ok(entry) => {
                let entry = Arc::new(entry);
                if let Some((redis, generation)) = shared {
                    self.store(redis, generation, &key, &entry, &token).await;
                }
                self.local.offer(&key, Arc::clone(&entry), epoch).await;
                ticket.publish(Outcome::Value {
                    entry,
                    source: Source::Fill,
                });
            }
            Err(reason) => {
                self.local.record_failure(&key, Arc::clone(&reason)).await;
                if let Some((redis, generation)) = shared {
                    // Long enough for waiting replicas to see it between two polls.
                    let pause = self.settings.error_retry_after.max(FAILURE_MARKER_MIN);
                    redis.fail(generation, &key, &reason, pause, &token).await;
                }
                ticket.publish(Outcome::Failed {
                    reason,
                    fallback: known,
                });
            }
        }
    }

    /// The snapshot's entry if it decodes, is newer than `known` and not expired.
    fn newer_entry(&self, snapshot: &Snapshot, known: Option<&Entry<V>>) -> Option<Arc<Entry<V>>> {
        let entry = entry::decode::<V>(snapshot.entry.as_deref()?)?;
        let alive = self.settings.phase(entry.as_of, SystemTime::now()) != Phase::Expired;
        (alive && entry.is_newer_than(known)).then(|| Arc::new(entry))
    }

    /// Takes the cluster-wide fill lock, or waits for the replica that holds it.
    async fn coordinate(
        &self,
        redis: &RedisLayer,
        generation: u64,
        key: &str,
        known: Option<&Entry<V>>,
        old_failure_token: Option<String>,
    ) -> Coordination<V> {
        let token = format!("{:032x}", rand::random::<u128>());
        let deadline = Instant::now() + self.settings.fill_lock_wait;
        let mut pause = POLL_FIRST;
        loop {
            match redis
                .try_lock(generation, key, &token, self.settings.fill_lock_ttl)
                .await
            {
                None => return Coordination::FillWithoutLock,
                Some(true) => {
                    // A replica may have stored its entry between our read and our
                    // lock; then there is nothing left to fill.
                    if let Some(snapshot) = redis.read(key).await
                        && snapshot.generation == generation
                        && let Some(entry) = self.newer_entry(&snapshot, known)
                    {
                        redis.release(generation, key, &token).await;
                        return Coordination::Found(entry);
                    }
                    return Coordination::Holder(token);
                }
                Some(false) => {}
            }
            // Another replica fills: wait for its entry, its failure, or its lock to
            // go away without either (then try to take the lock ourselves).
            loop {
                let now = Instant::now();
                if now >= deadline {
                    tracing::debug!(
                        cache = self.name,
                        key,
                        "gave up waiting for another replica's fill"
                    );
                    return Coordination::FillWithoutLock;
                }
                tokio::time::sleep(pause.min(deadline - now)).await;
                pause = (pause * 2).min(POLL_MAX);
                let Some(snapshot) = redis.read(key).await else {
                    return Coordination::FillWithoutLock;
                };
                if snapshot.generation != generation {
                    // Invalidated while we waited; the holder's entry will not count.
                    return Coordination::FillWithoutLock;
                }
                if let Some(entry) = self.newer_entry(&snapshot, known) {
                    return Coordination::Found(entry);
                }
                if let Some(failure) = &snapshot.failure
                    && !failure.token.is_empty()
                    && old_failure_token.as_deref() != Some(failure.token.as_str())
                {
                    return Coordination::PeerFailed(Arc::from(failure.reason.as_str()));
                }
                if snapshot.lock_holder.is_none() {
                    break;
                }
            }
        }
    }

    /// Runs the fill closure in its own task (a panic becomes a failed fill, not a lost
    /// flight), bounded by the lock lifetime, and counts it.
    async fn fill<F, Fut>(&self, key: &str, fill: F) -> Result<Entry<V>, Arc<str>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<V, FillError>> + Send + 'static,
    {
        let started = Instant::now();
        let mut task = tokio::spawn(fill());
        let limit = self.settings.fill_lock_ttl;
        let result = match tokio::time::timeout(limit, &mut task).await {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(error))) => Err(error.to_string()),
            Ok(Err(join_error)) => Err(format!("the fill panicked: {join_error}")),
            Err(_) => {
                task.abort();
                Err(format!("the fill took longer than {limit:?}"))
            }
        };
        let took = started.elapsed();
        self.stats.fill(took, result.is_ok());
        match result {
            Ok(value) => Ok(Entry::computed_now(value, took)),
            Err(reason) => {
                tracing::warn!(cache = self.name, key, reason, took = ?took, "cache fill failed");
                Err(Arc::from(reason))
            }
        }
    }

    /// Writes a filled entry to Redis for the other replicas, releasing our lock.
    async fn store(
        &self,
        redis: &RedisLayer,
        generation: u64,
        key: &str,
        entry: &Entry<V>,
        token: &str,
    ) {
        let ttl = self.settings.remaining_life(entry.as_of, SystemTime::now());
        match entry::encode(entry) {
            Ok(payload) => redis.store(generation, key, payload, ttl, token).await,
            Err(error) => {
                tracing::warn!(cache = self.name, key, error = %error, "cache value does not serialize, keeping it in-process only");
                if !token.is_empty() {
                    redis.release(generation, key, token).await;
                }
            }
        }
    }
}
