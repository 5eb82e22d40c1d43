//! The cache without Redis: single-flight, the freshness phases, background refresh,
//! notifications and the counters.

use std::time::Duration;

use tokio::sync::broadcast::error::TryRecvError;
use vibe_cache::{Cache, CacheError, CacheSettings, Freshness, Served};

use crate::common::{Warehouse, eventually, quick_settings};

#[tokio::test]
async fn a_thousand_concurrent_gets_on_a_cold_key_share_one_fill() {
    let cache = Cache::<u64>::new("single_flight", quick_settings(), None);
    let warehouse = Warehouse::new();
    warehouse.gate_after(0);
    let mut callers = Vec::new();
    for _ in 0..1_000 {
        let (cache, warehouse) = (cache.clone(), warehouse.clone());
        callers.push(tokio::spawn(async move {
            cache.get("cold", warehouse.fill()).await
        }));
    }
    // Every caller is waiting on the one fill before it is let go.
    eventually("999 callers to join the fill", async || {
        (cache.stats().coalesced_waits == 999).then_some(())
    })
    .await;
    warehouse.open_gate();
    for caller in callers {
        let served = caller.await.unwrap().unwrap();
        assert_eq!(*served.value, 1);
        assert_eq!(served.freshness, Freshness::Fresh);
    }
    assert_eq!(warehouse.calls(), 1);
    let stats = cache.stats();
    assert_eq!(
        (stats.fills, stats.misses, stats.coalesced_waits),
        (1, 1_000, 999)
    );
    assert_eq!(stats.hits_fresh, 0);
}

#[tokio::test]
async fn freshness_goes_fresh_stale_stale_on_error_then_unavailable() {
    let settings = CacheSettings {
        fresh_for: Duration::from_millis(200),
        stale_for: Duration::from_millis(1_000),
        error_for: Duration::from_millis(2_500),
        error_retry_after: Duration::from_millis(100),
        ..quick_settings()
    };
    let cache = Cache::<u64>::new("phases", settings, None);
    let warehouse = Warehouse::new();
    let first = cache.get("k", warehouse.fill()).await.unwrap();
    assert_eq!((*first.value, first.freshness), (1, Freshness::Fresh));

    warehouse.fail(true);
    // Phases as numbers, to check that they only ever move forward.
    let rank = |result: &Result<Served<u64>, CacheError>| match result {
        Ok(served) if served.freshness == Freshness::Fresh => 0,
        Ok(served) if served.freshness == Freshness::Stale => 1,
        Ok(_) => 2,
        Err(_) => 3,
    };
    let mut seen = [0_u32; 4];
    let mut last = 0;
    let error = loop {
        let result = cache.get("k", warehouse.fill()).await;
        let now = rank(&result);
        assert!(now >= last, "freshness went back from {last} to {now}");
        last = now;
        seen[now] += 1;
        match result {
            Ok(served) => {
                assert_eq!(*served.value, 1, "only the first value exists");
                assert_eq!(served.as_of, first.as_of);
            }
            Err(error) => break error,
        }
        assert!(
            seen.iter().sum::<u32>() < 10_000,
            "never became unavailable"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(seen[1] > 0, "served stale while refreshing: {seen:?}");
    assert!(seen[2] > 0, "served stale-on-error while failing: {seen:?}");
    let CacheError::Unavailable { key, reason } = &error;
    assert_eq!(key, "k");
    assert!(reason.contains("warehouse is down"), "{reason}");
    assert!(error.to_string().contains("warehouse is down"), "{error}");

    let stats = cache.stats();
    assert!(stats.fill_errors >= 2, "{stats:?}");
    assert_eq!(stats.fill_errors + 1, stats.fills);
    assert_eq!(stats.hits_stale, u64::from(seen[1]));
    assert_eq!(stats.hits_stale_on_error, u64::from(seen[2]));
    assert_eq!(stats.unavailable, 1);

    // The warehouse recovers: the next get fills again.
    warehouse.fail(false);
    let back = cache.get("k", warehouse.fill()).await.unwrap();
    assert_eq!(back.freshness, Freshness::Fresh);
    assert_eq!(*back.value, warehouse.calls());
    assert!(back.as_of > first.as_of);
}

#[tokio::test]
async fn a_failing_fill_is_not_retried_within_error_retry_after() {
    let settings = CacheSettings {
        fresh_for: Duration::from_millis(50),
        stale_for: Duration::from_millis(50),
        error_for: Duration::from_secs(120),
        error_retry_after: Duration::from_secs(60),
        ..quick_settings()
    };
    let cache = Cache::<u64>::new("retry_pause", settings, None);
    let warehouse = Warehouse::new();
    cache.get("k", warehouse.fill()).await.unwrap();
    warehouse.fail(true);
    let served = eventually("the value to leave its stale window", async || {
        let served = cache.get("k", warehouse.fill()).await.unwrap();
        (served.freshness == Freshness::StaleOnError).then_some(served)
    })
    .await;
    assert_eq!(*served.value, 1);
    let calls = warehouse.calls();
    assert_eq!(calls, 2, "one failed fill");
    for _ in 0..100 {
        let served = cache.get("k", warehouse.fill()).await.unwrap();
        assert_eq!(served.freshness, Freshness::StaleOnError);
    }
    assert_eq!(
        warehouse.calls(),
        calls,
        "no retries inside error_retry_after"
    );
}

#[tokio::test]
async fn a_stale_key_is_refreshed_once_in_the_background() {
    let settings = CacheSettings {
        fresh_for: Duration::from_millis(100),
        ..quick_settings()
    };
    let cache = Cache::<u64>::new("background", settings, None);
    let warehouse = Warehouse::new();
    warehouse.gate_after(1);
    cache.get("k", warehouse.fill()).await.unwrap();
    // The first stale get starts the refresh, which waits at the gate.
    eventually("the value to go stale", async || {
        let served = cache.get("k", warehouse.fill()).await.unwrap();
        (served.freshness == Freshness::Stale).then_some(())
    })
    .await;
    let mut callers = Vec::new();
    for _ in 0..200 {
        let (cache, warehouse) = (cache.clone(), warehouse.clone());
        callers.push(tokio::spawn(async move {
            cache.get("k", warehouse.fill()).await
        }));
    }
    // They answer while the refresh is still held at the gate.
    for caller in callers {
        let served = caller.await.unwrap().unwrap();
        assert_eq!((*served.value, served.freshness), (1, Freshness::Stale));
    }
    assert_eq!(warehouse.calls(), 2, "one refresh for all stale callers");
    warehouse.open_gate();
    let fresh = eventually("the refreshed value", async || {
        let served = cache.get("k", warehouse.fill()).await.unwrap();
        (served.freshness == Freshness::Fresh).then_some(served)
    })
    .await;
    assert_eq!(*fresh.value, 2);
    assert_eq!(warehouse.calls(), 2);
    let stats = cache.stats();
    assert_eq!(stats.fills, 2);
    assert!(stats.hits_stale >= 201, "{stats:?}");
    assert_eq!(stats.misses, 1);
}

#[tokio::test]
async fn a_background_refresh_failure_keeps_serving_stale() {
    let settings = CacheSettings {
        fresh_for: Duration::from_millis(50),
        error_retry_after: Duration::from_millis(20),
        ..quick_settings()
    };
    let cache = Cache::<u64>::new("refresh_fails", settings, None);
    let warehouse = Warehouse::new();
    cache.get("k", warehouse.fill()).await.unwrap();
    warehouse.fail(true);
    eventually("a failed background refresh", async || {
        let served = cache.get("k", warehouse.fill()).await.unwrap();
        assert_eq!(*served.value, 1);
        (cache.stats().fill_errors >= 2).then_some(())
    })
    .await;
    let served = cache.get("k", warehouse.fill()).await.unwrap();
    assert_eq!((*served.value, served.freshness), (1, Freshness::Stale));
}

#[tokio::test]
async fn a_cancelled_caller_does_not_cancel_the_fill() {
    let cache = Cache::<u64>::new("cancel", quick_settings(), None);
    let warehouse = Warehouse::new();
    warehouse.gate_after(0);
    let caller = {
        let (cache, warehouse) = (cache.clone(), warehouse.clone());
        tokio::spawn(async move { cache.get("k", warehouse.fill()).await })
    };
    eventually("the fill to start", async || {
        (warehouse.calls() == 1).then_some(())
    })
    .await;
    caller.abort();
    assert!(caller.await.unwrap_err().is_cancelled());
    warehouse.open_gate();
    let served = eventually("the abandoned fill's value", async || {
        let served = cache.get("k", warehouse.fill()).await.unwrap();
        (cache.stats().hits_fresh > 0).then_some(served)
    })
    .await;
    assert_eq!(*served.value, 1);
    assert_eq!(warehouse.calls(), 1);
}

#[tokio::test]
async fn a_panicking_fill_is_a_failed_fill() {
    let cache = Cache::<u64>::new("panic", quick_settings(), None);
    let error = cache
        .get("k", || async { panic!("the warehouse client panicked") })
        .await
        .unwrap_err();
    assert!(error.to_string().contains("panicked"), "{error}");
    let warehouse = Warehouse::new();
    let served = cache.get("k", warehouse.fill()).await.unwrap();
    assert_eq!(*served.value, 1);
    let stats = cache.stats();
    assert_eq!(
        (stats.fills, stats.fill_errors, stats.unavailable),
        (2, 1, 1)
    );
}

#[tokio::test]
async fn a_fill_longer_than_the_lock_lifetime_is_abandoned() {
    let settings = CacheSettings {
        fill_lock_ttl: Duration::from_millis(50),
        ..quick_settings()
    };
    let cache = Cache::<u64>::new("slow", settings, None);
    let warehouse = Warehouse::new();
    warehouse.gate_after(0);
    let error = cache.get("k", warehouse.fill()).await.unwrap_err();
    assert!(error.to_string().contains("longer than"), "{error}");
    assert_eq!(cache.stats().fill_errors, 1);
}

#[tokio::test]
async fn subscribers_hear_of_new_values_only() {
    let settings = CacheSettings {
        fresh_for: Duration::from_millis(100),
        ..quick_settings()
    };
    let cache = Cache::<u64>::new("notify", settings, None);
    let mut updates = cache.subscribe();
    let warehouse = Warehouse::new();
    cache.get("a", warehouse.fill()).await.unwrap();
    assert_eq!(updates.recv().await.unwrap(), "a");
    cache.get("a", warehouse.fill()).await.unwrap();
    assert_eq!(
        updates.try_recv(),
        Err(TryRecvError::Empty),
        "a hit is no new value"
    );
    eventually("the refreshed value", async || {
        let served = cache.get("a", warehouse.fill()).await.unwrap();
        (*served.value == 2).then_some(())
    })
    .await;
    assert_eq!(updates.recv().await.unwrap(), "a");
    cache.get("b", warehouse.fill()).await.unwrap();
    assert_eq!(updates.recv().await.unwrap(), "b");
    cache.invalidate_all().await;
    assert_eq!(
        updates.try_recv(),
        Err(TryRecvError::Empty),
        "clearing is no new value"
    );
}

#[tokio::test]
async fn invalidation_without_redis_clears_this_process() {
    let cache = Cache::<u64>::new("invalidate_local", quick_settings(), None);
    let warehouse = Warehouse::new();
    cache.get("k", warehouse.fill()).await.unwrap();
    cache.invalidate_all().await;
    let served = cache.get("k", warehouse.fill()).await.unwrap();
    assert_eq!(*served.value, 2);
    assert!(cache.stats().redis.is_none());
}

#[tokio::test]
async fn stats_and_metrics_count_what_happened() {
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .unwrap();
    let cache = Cache::<u64>::new("counted", quick_settings(), None);
    let warehouse = Warehouse::new();

    cache.get("one", warehouse.fill()).await.unwrap(); // miss, fill 1
    cache.get("one", warehouse.fill()).await.unwrap(); // fresh hit

    warehouse.gate_after(1);
    let mut callers = Vec::new();
    for _ in 0..10 {
        let (cache, warehouse) = (cache.clone(), warehouse.clone());
        callers.push(tokio::spawn(async move {
            cache.get("two", warehouse.fill()).await
        }));
    }
    eventually("9 callers to join", async || {
        (cache.stats().coalesced_waits == 9).then_some(())
    })
    .await;
    warehouse.open_gate();
    for caller in callers {
        caller.await.unwrap().unwrap(); // 10 misses, fill 2
    }

    warehouse.fail(true);
    cache.get("three", warehouse.fill()).await.unwrap_err(); // fill 3 fails

    let stats = cache.stats();
    assert_eq!(stats.name, "counted");
    assert_eq!(stats.hits_fresh, 1);
    assert_eq!(stats.hits_stale, 0);
    assert_eq!(stats.hits_stale_on_error, 0);
    assert_eq!(stats.misses, 11);
    assert_eq!(stats.unavailable, 1);
    assert_eq!(stats.fills, 3);
    assert_eq!(stats.fill_errors, 1);
    assert_eq!(stats.coalesced_waits, 9);
    assert!(stats.entries <= 2, "{stats:?}");
    assert!(stats.fill_latency_max > Duration::ZERO);
    assert!(stats.fill_latency_mean <= stats.fill_latency_max);
    assert!(stats.fill_latency_p95 <= stats.fill_latency_max);
    assert!(stats.since <= std::time::SystemTime::now());

    let text = prometheus.render();
    for line in [
        r#"vibe_cache_requests_total{cache="counted",result="fresh"} 1"#,
        r#"vibe_cache_requests_total{cache="counted",result="miss"} 11"#,
        r#"vibe_cache_requests_total{cache="counted",result="error"} 1"#,
        r#"vibe_cache_fills_total{cache="counted"} 3"#,
        r#"vibe_cache_fill_errors_total{cache="counted"} 1"#,
        r#"vibe_cache_fill_seconds_count{cache="counted"} 3"#,
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
}
