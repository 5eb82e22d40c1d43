//! The public `Cache`: lookup order, request accounting, invalidation.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, oneshot};

use crate::entry::{Entry, newest};
use crate::flight::{self, Flight, Flights, Outcome, Source};
use crate::local::LocalLayer;
use crate::redis_layer::RedisLayer;
use crate::settings::Phase;
use crate::stats::{RequestResult, Stats};
use crate::{CacheError, CacheSettings, CacheStats, FillError, Freshness, Served, pubsub};

/// A two-layer stale-while-revalidate cache of `V`s by string key. Cheap to clone; the
/// clones share everything.
pub struct Cache<V> {
    inner: Arc<Inner<V>>,
}

// Manual impl: a clone shares the inner state, so `V` need not be `Clone`.
impl<V> Clone for Cache<V> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<V> std::fmt::Debug for Cache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("name", &self.inner.name)
            .field("redis", &self.inner.redis.is_some())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner<V> {
    pub name: &'static str,
    pub settings: CacheSettings,
    pub local: LocalLayer<V>,
    pub flights: Arc<Flights<V>>,
    pub redis: Option<RedisLayer>,
    pub stats: Stats,
    /// Tells this process's invalidation messages from other replicas'.
    pub instance: String,
    pub subscribed: AtomicBool,
    /// Dropped with the last `Cache` clone, which ends the pub/sub listener.
    _shutdown: oneshot::Sender<()>,
}

impl<V: Serialize + DeserializeOwned + Send + Sync + 'static> Cache<V> {
    /// `name` namespaces the Redis keys (`vibe:cache:{name}:...`) and labels the
    /// metrics. With `redis`, the cache listens for other replicas' invalidations in a
    /// background task, so it must then be created inside a Tokio runtime.
    pub fn new(
        name: &'static str,
        settings: CacheSettings,
        redis: Option<vibe_redis::Redis>,
    ) -> Self {
        let settings = settings.normalized();
        let (shutdown, shutdown_signal) = oneshot::channel();
        let inner = Arc::new(Inner {
            name,
            local: LocalLayer::new(&settings),
            settings,
            flights: Arc::new(Flights::new()),
            redis: redis.map(|redis| RedisLayer::new(name, redis)),
            stats: Stats::new(name),
            instance: format!("{:016x}", rand::random::<u64>()),
            subscribed: AtomicBool::new(false),
            _shutdown: shutdown,
        });
        pubsub::spawn_listener(&inner, shutdown_signal);
        Self { inner }
    }

    /// The value for `key`: from the in-process layer, else from Redis, else from
    /// `fill` — run at most once at a time per key in this process (and, with Redis,
    /// in the cluster). `fill` runs in its own task, so dropping this future does not
    /// cancel it; callers that join a running fill drop their `fill` unused.
    pub async fn get<F, Fut>(&self, key: &str, fill: F) -> Result<Served<V>, CacheError>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<V, FillError>> + Send + 'static,
    {
        let inner = &self.inner;
        let fallback = match inner.local.get(key).await {
            Some(entry) => match inner.settings.phase(entry.as_of, SystemTime::now()) {
                Phase::Fresh => return Ok(inner.hit(&entry, Freshness::Fresh)),
                Phase::Stale => {
                    inner
                        .refresh_in_background(key, Arc::clone(&entry), fill)
                        .await;
                    return Ok(inner.hit(&entry, Freshness::Stale));
                }
                Phase::ErrorWindow => {
                    // A fill failed moments ago: do not make this caller wait for
                    // another one that will most likely fail too.
                    if inner.local.recent_failure(key).await.is_some() {
                        return Ok(inner.hit(&entry, Freshness::StaleOnError));
                    }
                    Some(entry)
                }
                Phase::Expired => None,
            },
            None => None,
        };
        let receiver = match inner.flights.join_or_start(key) {
            Flight::Joined(receiver) => {
                inner.stats.coalesced_wait();
                receiver
            }
            Flight::Started(ticket, receiver) => {
                tokio::spawn(Arc::clone(inner).load(ticket, fallback.clone(), fill));
                receiver
            }
        };
        let outcome = flight::outcome(receiver).await;
        inner.conclude(key, outcome, fallback)
    }

    /// Names of keys that got a new value (a new `as_of`) in this process's in-process
    /// layer, from a fill here or a copy from Redis. A receiver that falls more than
    /// 1024 notices behind gets `RecvError::Lagged`.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.inner.local.subscribe()
    }

    /// Drops this cache's entries everywhere: a new Redis generation makes every shared
    /// entry unreachable (no `KEYS`), this process's layer is cleared, and the other
    /// replicas are told over pub/sub to clear theirs. Without Redis (or when Redis
    /// cannot be reached) only this process's layer is cleared.
    pub async fn invalidate_all(&self) {
        let inner = &self.inner;
        // The generation moves first, so a load that starts after the local clear
        // cannot copy a pre-invalidation entry back from Redis.
        let generation = match &inner.redis {
            Some(redis) => redis.next_generation().await,
            None => None,
        };
        inner.clear_local().await;
        if let (Some(redis), Some(generation)) = (&inner.redis, generation) {
            redis.announce(&inner.instance, generation).await;
        }
        if inner.redis.is_some() && generation.is_none() {
            tracing::warn!(
                cache = inner.name,
                "cache invalidated in this process only: redis did not answer"
            );
        } else {
            tracing::info!(cache = inner.name, generation, "cache invalidated");
        }
    }

    /// A snapshot of this process's counters.
    pub fn stats(&self) -> CacheStats {
        let inner = &self.inner;
        let redis = inner
            .redis
            .as_ref()
            .map(|redis| redis.stats(inner.subscribed.load(Ordering::Relaxed)));
        inner.stats.snapshot(inner.local.entry_count(), redis)
    }
}

impl<V: Serialize + DeserializeOwned + Send + Sync + 'static> Inner<V> {
    fn hit(&self, entry: &Entry<V>, freshness: Freshness) -> Served<V> {
        self.stats.request(RequestResult::Hit(freshness));
        entry.served(freshness)
    }

    /// Starts a refresh unless one is running or a fill failed moments ago.
    async fn refresh_in_background<F, Fut>(
        self: &Arc<Self>,
        key: &str,
        stale: Arc<Entry<V>>,
        fill: F,
    ) where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<V, FillError>> + Send + 'static,
    {
        if self.local.recent_failure(key).await.is_some() {
            return;
        }
        if let Flight::Started(ticket, _) = self.flights.join_or_start(key) {
            // The stale value is the one to beat, and the fallback if the fill fails.
            tokio::spawn(Arc::clone(self).load(ticket, Some(stale), fill));
        }
    }

    /// Turns a flight's outcome into this caller's answer, and counts it.
    fn conclude(
        &self,
        key: &str,
        outcome: Option<Outcome<V>>,
        own_fallback: Option<Arc<Entry<V>>>,
    ) -> Result<Served<V>, CacheError> {
        let now = SystemTime::now();
        let (reason, fallback) = match outcome {
            Some(Outcome::Value { entry, source }) => {
                let freshness = match self.settings.phase(entry.as_of, now) {
                    Phase::Fresh => Freshness::Fresh,
                    _ => Freshness::Stale,
                };
                let result = match source {
                    Source::Redis => RequestResult::Hit(freshness),
                    Source::Fill | Source::Peer => RequestResult::Miss,
                };
                self.stats.request(result);
                return Ok(entry.served(freshness));
            }
            Some(Outcome::Failed { reason, fallback }) => (reason, fallback),
            None => (Arc::from("the fill task ended without a result"), None),
        };
        let usable = newest(fallback, own_fallback)
            .map(|entry| (self.settings.phase(entry.as_of, now), entry))
            .filter(|(phase, _)| *phase != Phase::Expired);
        match usable {
            Some((phase, entry)) => {
                let freshness = match phase {
                    Phase::Fresh => Freshness::Fresh,
                    Phase::Stale => Freshness::Stale,
                    Phase::ErrorWindow | Phase::Expired => Freshness::StaleOnError,
                };
                Ok(self.hit(&entry, freshness))
            }
            None => {
                self.stats.request(RequestResult::Error);
                Err(CacheError::Unavailable {
                    key: key.to_owned(),
                    reason: reason.to_string(),
                })
            }
        }
    }

    /// Clears this process's layer and detaches running loads; returns the new epoch.
    pub(crate) async fn clear_local(&self) -> u64 {
        self.local.clear(|| self.flights.detach_all()).await
    }
}
