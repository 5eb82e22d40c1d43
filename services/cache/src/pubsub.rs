//! The invalidation listener: a dedicated Redis connection subscribed to the cache's
//! channel, clearing this process's layer when another replica invalidates.
//!
//! A missed message (while the connection was down) is caught later by the generation
//! check in every Redis read (see `RedisLayer::observe_generation`).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use fred::clients::Client;
use fred::prelude::*;
use fred::types::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::cache::Inner;

/// Pause before subscribing again after SUBSCRIBE failed on a live connection.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);
/// Upper bound for closing the connection when the cache is dropped.
const QUIT_TIMEOUT: Duration = Duration::from_secs(1);

/// Starts the listener if the cache has Redis. It ends when `shutdown`'s sender (held
/// by the cache) is dropped.
pub(crate) fn spawn_listener<V>(inner: &Arc<Inner<V>>, shutdown: oneshot::Receiver<()>)
where
    V: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    let Some(layer) = inner.redis.as_ref() else {
        return;
    };
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(
            cache = inner.name,
            "cache created outside a tokio runtime: other replicas' invalidations arrive only through the redis generation"
        );
        return;
    };
    // Pub/sub needs a connection of its own; it shares the pool's settings
    // (address, timeouts, reconnect policy).
    let client = layer.redis().pool().next().clone_new();
    let channel = layer.channel();
    runtime.spawn(listen(Arc::downgrade(inner), client, channel, shutdown));
}

async fn listen<V>(
    inner: Weak<Inner<V>>,
    client: Client,
    channel: String,
    mut shutdown: oneshot::Receiver<()>,
) where
    V: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    // Receivers are taken before connecting so the first connect event is not missed.
    let mut connects = client.reconnect_rx();
    let mut errors = client.error_rx();
    let mut messages = client.message_rx();
    let _connection = client.connect();
    let mut retry_at: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            event = connects.recv() => match event {
                // A plain client does not resubscribe on its own after a reconnect.
                Ok(_) | Err(RecvError::Lagged(_)) => {
                    retry_at = subscribe(&inner, &client, &channel).await;
                }
                Err(RecvError::Closed) => break,
            },
            event = errors.recv() => match event {
                Ok(_) | Err(RecvError::Lagged(_)) => set_subscribed(&inner, false),
                Err(RecvError::Closed) => break,
            },
            () = sleep_until(retry_at), if retry_at.is_some() => {
                retry_at = subscribe(&inner, &client, &channel).await;
            }
            message = messages.recv() => match message {
                Ok(message) => on_message(&inner, message).await,
                Err(RecvError::Lagged(missed)) => {
                    // Some of the missed messages may have been invalidations.
                    if let Some(inner) = inner.upgrade() {
                        tracing::warn!(cache = inner.name, missed, "missed cache invalidation messages, clearing the in-process layer");
                        inner.clear_local().await;
                    }
                }
                Err(RecvError::Closed) => break,
            },
        }
    }
    if tokio::time::timeout(QUIT_TIMEOUT, client.quit())
        .await
        .is_err()
    {
        tracing::debug!("cache invalidation listener did not close in time");
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}

/// Subscribes; returns when to try again if that failed.
async fn subscribe<V>(inner: &Weak<Inner<V>>, client: &Client, channel: &str) -> Option<Instant> {
    let result = client.subscribe(channel).await;
    let inner = inner.upgrade()?;
    match result {
        Ok(()) => {
            inner.subscribed.store(true, Ordering::Relaxed);
            tracing::debug!(cache = inner.name, "listening for cache invalidations");
            None
        }
        Err(error) => {
            inner.subscribed.store(false, Ordering::Relaxed);
            tracing::debug!(cache = inner.name, error = %error, "cannot subscribe to cache invalidations yet");
            Some(Instant::now() + RESUBSCRIBE_AFTER)
        }
    }
}

fn set_subscribed<V>(inner: &Weak<Inner<V>>, subscribed: bool) {
    if let Some(inner) = inner.upgrade() {
        inner.subscribed.store(subscribed, Ordering::Relaxed);
    }
}

/// `"<instance> <generation>"` from `Cache::invalidate_all` in some replica.
async fn on_message<V>(inner: &Weak<Inner<V>>, message: Message)
where
    V: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    let Some(inner) = inner.upgrade() else {
        return;
    };
    let text = message.value.as_string().unwrap_or_default();
    let (instance, generation) = text.split_once(' ').unwrap_or((text.as_str(), ""));
    let generation = generation.parse::<u64>().ok();
    if let (Some(redis), Some(generation)) = (&inner.redis, generation) {
        redis.observe_generation(generation);
    }
    if instance == inner.instance {
        // Our own invalidation; the local layer was cleared before it was sent.
        return;
    }
    inner.clear_local().await;
    tracing::debug!(
        cache = inner.name,
        generation,
        "cleared the in-process layer on another replica's invalidation"
    );
}
