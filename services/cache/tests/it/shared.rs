//! The cache with a real redis-server: cluster-wide single-flight, Redis outages,
//! invalidation across replicas, and what lands in Redis.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;
use vibe_cache::{Cache, CacheSettings, Freshness};
use vibe_test_harness::RedisServer;

use crate::common::{Warehouse, connect, entry_keys, eventually, quick_settings, redis_cli};

/// A replica: its own connection pool, as a separate process would have.
async fn replica(server: &RedisServer, name: &'static str, settings: CacheSettings) -> Cache<u64> {
    let cache = Cache::new(name, settings, Some(connect(server).await));
    eventually("the invalidation listener", async || {
        cache
            .stats()
            .redis
            .is_some_and(|redis| redis.subscribed)
            .then_some(())
    })
    .await;
    cache
}

#[tokio::test]
async fn a_thousand_concurrent_gets_share_one_fill_and_one_redis_entry() {
    let server = RedisServer::start();
    let cache = replica(&server, "cold", quick_settings()).await;
    let warehouse = Warehouse::new();
    warehouse.gate_after(0);
    let mut callers = JoinSet::new();
    for _ in 0..1_000 {
        let (cache, warehouse) = (cache.clone(), warehouse.clone());
        callers.spawn(async move { cache.get("k", warehouse.fill()).await });
    }
    eventually("999 callers to join the fill", async || {
        (cache.stats().coalesced_waits == 999).then_some(())
    })
    .await;
    warehouse.open_gate();
    while let Some(result) = callers.join_next().await {
        assert_eq!(*result.unwrap().unwrap().value, 1);
    }
    assert_eq!(warehouse.calls(), 1);
    let stats = cache.stats();
    assert_eq!((stats.fills, stats.misses), (1, 1_000));

    // The entry is in Redis as a JSON envelope under generation 0, with a TTL.
    let keys = entry_keys(&server, "cold").await;
    assert_eq!(keys, ["vibe:cache:{cold}:e:0:k"]);
    let json = redis_cli(&server, &["GET", &keys[0]]).await.unwrap();
    assert!(
        json.contains("\"as_of_ms\":") && json.contains("\"value\":1"),
        "{json}"
    );
    let ttl: i64 = redis_cli(&server, &["PTTL", &keys[0]])
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(ttl > 0 && ttl <= 180_000, "{ttl}");
    // The lock was released.
    assert_eq!(
        redis_cli(&server, &["EXISTS", "vibe:cache:{cold}:lock:0:k"])
            .await
            .unwrap(),
        "0"
    );
}

#[tokio::test]
async fn three_replicas_fill_once_per_refresh() {
    let server = RedisServer::start();
    let settings = CacheSettings {
        fresh_for: Duration::from_secs(3),
        ..quick_settings()
    };
    let replicas = [
        replica(&server, "cluster", settings.clone()).await,
        replica(&server, "cluster", settings.clone()).await,
        replica(&server, "cluster", settings).await,
    ];
    let warehouse = Warehouse::new();
    // Many callers on every replica at once, `rounds` times; returns what they got.
    let burst = async |per_replica: usize| {
        let mut callers = JoinSet::new();
        for cache in &replicas {
            for _ in 0..per_replica {
                let (cache, warehouse) = (cache.clone(), warehouse.clone());
                callers.spawn(async move { cache.get("k", warehouse.fill()).await.unwrap() });
            }
        }
        let mut served = Vec::new();
        while let Some(result) = callers.join_next().await {
            served.push(result.unwrap());
        }
        served
    };

    let cold = burst(100).await;
    assert!(cold.iter().all(|served| *served.value == 1));
    assert_eq!(
        warehouse.calls(),
        1,
        "one fill for a cold key across the cluster"
    );

    for refresh in 2..=3 {
        // Bursts until the value is stale everywhere; each replica then refreshes in
        // the background, and the cluster lock lets one of them fill.
        eventually("the value to go stale", async || {
            let served = burst(10).await;
            served
                .iter()
                .any(|served| served.freshness == Freshness::Stale)
                .then_some(())
        })
        .await;
        eventually("every replica to serve the refreshed value", async || {
            let served = burst(10).await;
            served
                .iter()
                .all(|served| *served.value == refresh)
                .then_some(())
        })
        .await;
        assert_eq!(warehouse.calls(), refresh, "one fill for refresh {refresh}");
    }
    let fills: u64 = replicas.iter().map(|cache| cache.stats().fills).sum();
    assert_eq!(fills, 3);
}

#[tokio::test]
async fn a_replica_waits_for_the_lock_holder_instead_of_filling() {
    let server = RedisServer::start();
    let a = replica(&server, "lock_wait", quick_settings()).await;
    let b = replica(&server, "lock_wait", quick_settings()).await;
    let warehouse = Warehouse::new();
    warehouse.gate_after(0);
    let first = {
        let (a, warehouse) = (a.clone(), warehouse.clone());
        tokio::spawn(async move { a.get("k", warehouse.fill()).await })
    };
    eventually("a to hold the lock and fill", async || {
        (warehouse.calls() == 1).then_some(())
    })
    .await;
    let second = {
        let (b, warehouse) = (b.clone(), warehouse.clone());
        tokio::spawn(async move { b.get("k", warehouse.fill()).await })
    };
    // b polls while a's fill is held; it must not start its own.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(warehouse.calls(), 1);
    warehouse.open_gate();
    assert_eq!(*first.await.unwrap().unwrap().value, 1);
    let served = second.await.unwrap().unwrap();
    assert_eq!((*served.value, served.freshness), (1, Freshness::Fresh));
    assert_eq!(warehouse.calls(), 1);
    let stats = b.stats();
    assert_eq!((stats.fills, stats.misses), (0, 1), "b waited for a's fill");
}

#[tokio::test]
async fn a_failed_fill_on_one_replica_answers_its_waiters() {
    let server = RedisServer::start();
    let a = replica(&server, "peer_fail", quick_settings()).await;
    let b = replica(&server, "peer_fail", quick_settings()).await;
    let warehouse = Warehouse::new();
    warehouse.fail(true);
    warehouse.gate_after(0);
    let first = {
        let (a, warehouse) = (a.clone(), warehouse.clone());
        tokio::spawn(async move { a.get("k", warehouse.fill()).await })
    };
    eventually("a to fill", async || (warehouse.calls() == 1).then_some(())).await;
    let second = {
        let (b, warehouse) = (b.clone(), warehouse.clone());
        tokio::spawn(async move { b.get("k", warehouse.fill()).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    warehouse.open_gate();
    assert!(first.await.unwrap().is_err());
    let error = second.await.unwrap().unwrap_err();
    assert!(error.to_string().contains("warehouse is down"), "{error}");
    assert_eq!(
        warehouse.calls(),
        1,
        "b took a's failure instead of asking again"
    );
}

#[tokio::test]
async fn gets_survive_redis_being_killed_and_use_it_again_after_restart() {
    let mut server = RedisServer::start();
    let settings = CacheSettings {
        fresh_for: Duration::from_millis(100),
        fill_lock_wait: Duration::from_secs(1),
        ..quick_settings()
    };
    let cache = replica(&server, "outage", settings).await;
    let warehouse = Warehouse::new();
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let mut load = JoinSet::new();
    for worker in 0..4 {
        let (cache, warehouse) = (cache.clone(), warehouse.clone());
        let (stop, served) = (Arc::clone(&stop), Arc::clone(&served));
        load.spawn(async move {
            let mut errors = Vec::new();
            let mut round = 0_u64;
            while !stop.load(Ordering::SeqCst) {
                let key = format!("k{}", (round + worker) % 5);
                match cache.get(&key, warehouse.fill()).await {
                    Ok(_) => served.fetch_add(1, Ordering::SeqCst),
                    Err(error) => {
                        errors.push(error);
                        0
                    }
                };
                round += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            errors
        });
    }
    eventually("entries in redis", async || {
        (entry_keys(&server, "outage").await.len() == 5).then_some(())
    })
    .await;

    server.kill();
    eventually("the cache to notice the outage", async || {
        cache
            .stats()
            .redis
            .is_some_and(|redis| !redis.healthy)
            .then_some(())
    })
    .await;
    // Values keep being refreshed from the in-process layer's point of view.
    let fills = cache.stats().fills;
    let count = served.load(Ordering::SeqCst);
    eventually("refreshes and answers without redis", async || {
        let stats = cache.stats();
        (stats.fills >= fills + 5 && served.load(Ordering::SeqCst) >= count + 100).then_some(())
    })
    .await;

    server.restart();
    // The restarted server is empty: entries there were written after it came back.
    eventually("new entries in the restarted redis", async || {
        (!entry_keys(&server, "outage").await.is_empty()).then_some(())
    })
    .await;
    eventually("the redis layer to be healthy again", async || {
        cache
            .stats()
            .redis
            .is_some_and(|redis| redis.healthy)
            .then_some(())
    })
    .await;

    stop.store(true, Ordering::SeqCst);
    while let Some(errors) = load.join_next().await {
        let errors = errors.unwrap();
        assert!(errors.is_empty(), "gets failed: {errors:?}");
    }
    let stats = cache.stats();
    assert!(stats.redis.unwrap().errors > 0, "{stats:?}");
    assert_eq!(stats.unavailable, 0);
}

#[tokio::test]
async fn invalidate_all_reaches_every_replica() {
    let server = RedisServer::start();
    let a = replica(&server, "invalidate", quick_settings()).await;
    let b = replica(&server, "invalidate", quick_settings()).await;
    let warehouse = Warehouse::new();
    assert_eq!(*a.get("k", warehouse.fill()).await.unwrap().value, 1);
    assert_eq!(
        *b.get("k", warehouse.fill()).await.unwrap().value,
        1,
        "from redis"
    );
    assert_eq!(warehouse.calls(), 1);

    a.invalidate_all().await;
    assert_eq!(
        redis_cli(&server, &["GET", "vibe:cache:{invalidate}:gen"])
            .await
            .unwrap(),
        "1"
    );
    // b's values are fresh for a minute: only the message can make it drop them.
    eventually("b to drop its value", async || {
        let served = b.get("k", warehouse.fill()).await.unwrap();
        (*served.value == 2).then_some(())
    })
    .await;
    assert_eq!(
        *a.get("k", warehouse.fill()).await.unwrap().value,
        2,
        "from redis"
    );
    assert_eq!(warehouse.calls(), 2, "one refill for both replicas");
    // A replica that starts now does not see the old generation's entry either.
    let c = replica(&server, "invalidate", quick_settings()).await;
    assert_eq!(*c.get("k", warehouse.fill()).await.unwrap().value, 2);
    let keys: BTreeSet<String> = entry_keys(&server, "invalidate")
        .await
        .into_iter()
        .collect();
    assert!(keys.contains("vibe:cache:{invalidate}:e:1:k"), "{keys:?}");
}

#[tokio::test]
async fn an_entry_that_does_not_decode_is_a_miss() {
    let server = RedisServer::start();
    let cache = replica(&server, "schema", quick_settings()).await;
    redis_cli(
        &server,
        &["SET", "vibe:cache:{schema}:e:0:k", r#"{"old":"shape"}"#],
    )
    .await
    .unwrap();
    let warehouse = Warehouse::new();
    let served = cache.get("k", warehouse.fill()).await.unwrap();
    assert_eq!((*served.value, served.freshness), (1, Freshness::Fresh));
    assert_eq!(warehouse.calls(), 1);
    let json = redis_cli(&server, &["GET", "vibe:cache:{schema}:e:0:k"])
        .await
        .unwrap();
    assert!(json.contains("\"value\":1"), "replaced: {json}");
}

#[tokio::test]
async fn values_copied_from_redis_are_hits_and_notify() {
    let server = RedisServer::start();
    let a = replica(&server, "copy", quick_settings()).await;
    let b = replica(&server, "copy", quick_settings()).await;
    let mut updates = b.subscribe();
    let warehouse = Warehouse::new();
    let filled = a.get("k", warehouse.fill()).await.unwrap();
    let copied = b.get("k", warehouse.fill()).await.unwrap();
    assert_eq!(copied.freshness, Freshness::Fresh);
    assert_eq!(
        (copied.as_of, copied.query_duration.as_millis()),
        (filled.as_of, filled.query_duration.as_millis())
    );
    assert_eq!(updates.recv().await.unwrap(), "k");
    let stats = b.stats();
    assert_eq!((stats.hits_fresh, stats.misses, stats.fills), (1, 0, 0));
    assert_eq!(warehouse.calls(), 1);
}

#[tokio::test]
async fn redis_down_from_the_start_is_no_error() {
    let mut server = RedisServer::start();
    server.kill();
    let redis = vibe_redis::Redis::connect(&vibe_redis::RedisSettings {
        url: secrecy::SecretString::from(server.url()),
        pool_size: 1,
        command_timeout: Duration::from_millis(100),
        connect_timeout: Duration::from_millis(100),
    })
    .await
    .unwrap();
    let cache = Cache::<u64>::new("down", quick_settings(), Some(redis));
    let warehouse = Warehouse::new();
    assert_eq!(*cache.get("k", warehouse.fill()).await.unwrap().value, 1);
    assert_eq!(*cache.get("k", warehouse.fill()).await.unwrap().value, 1);
    cache.invalidate_all().await;
    assert_eq!(*cache.get("k", warehouse.fill()).await.unwrap().value, 2);
    let redis = cache.stats().redis.unwrap();
    assert!(!redis.healthy && redis.errors > 0, "{redis:?}");
}
