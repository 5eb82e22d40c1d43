//! A two-layer stale-while-revalidate cache (in-process moka + shared Redis) with
//! single-flight fills.
//!
//! Per key, from the value's `as_of`: served [`Freshness::Fresh`] until `fresh_for`;
//! served [`Freshness::Stale`] at once until `stale_for` while one background refresh
//! per key and process runs; then, until `error_for`, served
//! [`Freshness::StaleOnError`] only when a fill fails; then gone. Lookups go to the
//! in-process layer, then Redis (copying what they find), then the caller's fill.
//!
//! Invariants: one fill per key at a time per process (callers share it) and, with
//! Redis, per cluster (a `SET NX PX` lock; waiters poll for the holder's entry and fill
//! themselves after `fill_lock_wait`). Redis trouble never fails a `get`: the layer is
//! skipped for a second after an error and used again when it answers. Every request
//! is counted once by how it was served ([`CacheStats`], `vibe_cache_*` metrics).
//! Nothing grows per key without bound: both layers are capacity-bounded and the
//! in-flight map holds a key only while its fill runs.
//!
//! Invalidation without `KEYS`: every Redis key embeds the cache's generation
//! (`INCR vibe:cache:{name}:gen`), read together with the entry in one Lua script;
//! other replicas clear their in-process layer on a pub/sub message, and a replica
//! that missed the message notices the new generation on its next Redis read.

mod cache;
mod entry;
mod error;
mod flight;
mod load;
mod local;
mod pubsub;
mod redis_layer;
mod settings;
mod stats;

pub use cache::Cache;
pub use entry::Served;
pub use error::{CacheError, FillError};
pub use settings::{CacheSettings, Freshness};
pub use stats::{CacheStats, RedisLayerStats};
