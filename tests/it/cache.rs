//! The shared cache through gRPC: single-flight, one fill per refresh across replicas,
//! stale-if-error, and Redis dying under load. Warehouses and Redis are real.

use std::time::Duration;

use chrono::Utc;
use futures::future::join_all;
use tonic_health::pb::health_check_response::ServingStatus;
use vibe::app::{self, Running};
use vibe::config::{BigQuery, BigQueryCredentials, Config, WarehouseBackend};
use vibe::proto::integration::v1::dashboard_service_client::DashboardServiceClient;
use vibe::proto::integration::v1::{
    CacheKind, FreshnessState, GetCacheStatsRequest, GetDashboardRequest, InvalidateCacheRequest,
    invalidate_cache_request,
};
use vibe::targets::{Target, Targets};
use vibe_test_harness::{RedisServer, TcpProxy, bigquery_emulator};
use vibe_warehouse::{Payment, SaleStatus, Source};

use crate::client;
use crate::client::{sample, scrape, test_config, wait_for_health};

const DASHBOARD: &str = "vibe.integration.v1.DashboardService";

fn warehouse_queries(metrics: &str, query: &str) -> f64 {
    sample(
        metrics,
        "vibe_warehouse_queries_total",
        &[&format!("query=\"{query}\"")],
    )
}

async fn client(running: &Running) -> DashboardServiceClient<tonic::transport::Channel> {
    let addr = running.grpc_addr.unwrap();
    wait_for_health(addr, DASHBOARD, ServingStatus::Serving).await;
    DashboardServiceClient::new(client::channel(addr).await)
}

fn sale(id: usize) -> Payment {
    let at = Utc::now() - chrono::Duration::minutes(5);
    Payment {
        payment_id: format!("cache-test-{id}"),
        source: Source::Square,
        location_id: "L1".to_owned(),
        customer_id: Some(format!("c{id}")),
        order_id: None,
        amount_cents: 1_000 + id as i64,
        currency: "USD".to_owned(),
        status: SaleStatus::Completed,
        created_at: at,
        updated_at: at,
        business_date: at.with_timezone(&chrono_tz::America::Chicago).date_naive(),
        card_brand: None,
    }
}

/// The dashboard kind's counters from `GetCacheStats`.
async fn dashboard_counters(
    dashboard: &mut DashboardServiceClient<tonic::transport::Channel>,
) -> vibe::proto::integration::v1::CacheCounters {
    let stats = dashboard
        .get_cache_stats(GetCacheStatsRequest {})
        .await
        .unwrap()
        .into_inner();
    stats
        .by_kind
        .iter()
        .find(|kind| kind.kind == CacheKind::Dashboard as i32)
        .unwrap()
        .counters
        .unwrap()
}

fn duckdb_config(dir: &tempfile::TempDir) -> Config {
    let mut config = test_config();
    config.warehouse.duckdb.path = dir.path().join("warehouse.duckdb");
    config
}

/// A BigQuery config on the emulator (optionally behind `proxy`), in a fresh dataset.
fn bigquery_config(url: &str, project: &str, dataset: &str) -> Config {
    let mut config = test_config();
    config.warehouse.backend = WarehouseBackend::Bigquery;
    config.warehouse.bigquery = Some(BigQuery {
        project: project.to_owned(),
        dataset: dataset.to_owned(),
        location: "US".to_owned(),
        credentials: BigQueryCredentials::None,
        maximum_bytes_billed: 1 << 30,
        // The emulator answers slowly when many tests share a small machine.
        query_timeout: Duration::from_secs(30),
        base_url: Some(url.to_owned()),
    });
    config
}

fn unique(name: &str) -> String {
    format!(
        "{name}_{}_{}",
        std::process::id(),
        Utc::now().timestamp_micros()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_on_a_cold_cache_cause_one_fill() {
    let dir = tempfile::tempdir().unwrap();
    let config = duckdb_config(&dir);
    let warehouse = app::open_warehouse(&config.warehouse).await.unwrap();
    warehouse
        .insert_payments(&[sale(1), sale(2)])
        .await
        .unwrap();
    drop(warehouse);
    let running = app::start(&config, &Targets::from_list(&[Target::Integration]))
        .await
        .unwrap();
    let mut dashboard = client(&running).await;
    dashboard
        .get_dashboard(GetDashboardRequest {})
        .await
        .unwrap();

    // Cold again: invalidated everywhere.
    dashboard
        .invalidate_cache(InvalidateCacheRequest {
            scope: Some(invalidate_cache_request::Scope::Kind(
                CacheKind::Dashboard as i32,
            )),
        })
        .await
        .unwrap();
    let before = scrape(running.metrics_addr).await;
    let stats_before = dashboard_counters(&mut dashboard).await;
    let calls = (0..1_000).map(|_| {
        let mut dashboard = dashboard.clone();
        async move { dashboard.get_dashboard(GetDashboardRequest {}).await }
    });
    let responses = join_all(calls).await;
    let after = scrape(running.metrics_addr).await;

    let mut as_of = std::collections::HashSet::new();
    for response in responses {
        let response = response.unwrap().into_inner();
        assert_eq!(response.dashboard.unwrap().today.unwrap().transactions, 2);
        as_of.insert(response.freshness.unwrap().as_of.unwrap().seconds);
    }
    assert_eq!(as_of.len(), 1, "every caller got the one fill's value");
    for query in [
        "sales_totals",
        "recent_payments",
        "top_products",
        "line_item_totals",
    ] {
        let queries = warehouse_queries(&after, query) - warehouse_queries(&before, query);
        assert_eq!(queries, 1.0, "{query} ran once for 1,000 callers");
    }
    // GetCacheStats tells the same story: one fill; every call is counted once, as a miss
    // (the first started the fill, the others waited for it) or, once the fill was in, a
    // fresh hit.
    let stats_after = dashboard_counters(&mut dashboard).await;
    let delta = |f: fn(&vibe::proto::integration::v1::CacheCounters) -> i64| {
        f(&stats_after) - f(&stats_before)
    };
    assert_eq!(delta(|c| c.fills), 1);
    let misses = delta(|c| c.misses);
    assert!(misses >= 1);
    assert_eq!(misses + delta(|c| c.hits_fresh), 1_000);
    assert_eq!(delta(|c| c.coalesced_waits), misses - 1);
    assert_eq!(delta(|c| c.hits_stale + c.hits_stale_on_error), 0);
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_sharing_redis_fill_once_per_refresh() {
    let Some(emulator) = bigquery_emulator("three_replicas_sharing_redis_fill_once_per_refresh")
    else {
        return;
    };
    let redis = RedisServer::start();
    let mut config = bigquery_config(&emulator.url, &emulator.project, &unique("replicas"));
    config.redis = Some(toml::from_str(&format!("url = {:?}", redis.url())).unwrap());
    config.cache.fresh_for = Duration::from_secs(2);
    config.cache.stale_for = Duration::from_secs(60);
    config.cache.error_for = Duration::from_secs(60);
    let warehouse = app::open_warehouse(&config.warehouse).await.unwrap();
    warehouse.insert_payments(&[sale(1)]).await.unwrap();

    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(
            app::start(&config, &Targets::from_list(&[Target::Integration]))
                .await
                .unwrap(),
        );
    }
    let mut clients = Vec::new();
    for replica in &replicas {
        clients.push(client(replica).await);
    }
    let metrics_addr = replicas[0].metrics_addr; // one process: one registry for all three
    let burst = |clients: &Vec<DashboardServiceClient<tonic::transport::Channel>>| {
        let calls = clients.iter().flat_map(|client| {
            (0..50).map(move |_| {
                let mut client = client.clone();
                async move {
                    client
                        .get_dashboard(GetDashboardRequest {})
                        .await
                        .unwrap()
                        .into_inner()
                }
            })
        });
        join_all(calls.collect::<Vec<_>>())
    };

    // Start-up warm-ups and a first burst on every replica: one fill in the cluster.
    burst(&clients).await;
    let metrics = scrape(metrics_addr).await;
    assert_eq!(
        warehouse_queries(&metrics, "sales_totals"),
        1.0,
        "one fill across three replicas"
    );

    // Each time the value goes stale, every replica is asked again: one refresh each time.
    for refresh in 1..=2 {
        let first = burst(&clients).await[0].freshness.unwrap().as_of.unwrap();
        let mut refreshed = false;
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let responses = burst(&clients).await;
            if responses
                .iter()
                .all(|r| r.freshness.as_ref().unwrap().as_of.as_ref().unwrap() != &first)
            {
                refreshed = true;
                break;
            }
        }
        assert!(refreshed, "every replica serves the refreshed value");
        let metrics = scrape(metrics_addr).await;
        assert_eq!(
            warehouse_queries(&metrics, "sales_totals"),
            1.0 + f64::from(refresh),
            "refresh {refresh} queried the warehouse once for the whole cluster"
        );
    }
    for replica in replicas {
        replica.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_warehouse_serves_stale_on_error_then_unavailable() {
    let Some(emulator) =
        bigquery_emulator("a_failing_warehouse_serves_stale_on_error_then_unavailable")
    else {
        return;
    };
    let target: std::net::SocketAddr = emulator
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let proxy = TcpProxy::start(target).await;
    let url = emulator
        .url
        .replace(&target.to_string(), &proxy.addr().to_string());
    let mut config = bigquery_config(&url, &emulator.project, &unique("stale_on_error"));
    config.cache.fresh_for = Duration::from_millis(200);
    config.cache.stale_for = Duration::from_millis(400);
    config.cache.error_for = Duration::from_secs(3);
    config.cache.error_retry_after = Duration::from_millis(100);
    let warehouse = app::open_warehouse(&config.warehouse).await.unwrap();
    warehouse
        .insert_payments(&[sale(1), sale(2), sale(3)])
        .await
        .unwrap();
    let running = app::start(&config, &Targets::from_list(&[Target::Integration]))
        .await
        .unwrap();
    let mut dashboard = client(&running).await;
    let good = dashboard
        .get_dashboard(GetDashboardRequest {})
        .await
        .unwrap()
        .into_inner();
    let good_as_of = good.freshness.unwrap().as_of.unwrap();

    proxy.cut();
    // Past the stale window, every answer is the last good value, marked stale-on-error,
    // until the error window ends; then UNAVAILABLE.
    let mut saw_stale_on_error = false;
    let status = loop {
        match dashboard.get_dashboard(GetDashboardRequest {}).await {
            Ok(response) => {
                let response = response.into_inner();
                let freshness = response.freshness.unwrap();
                assert_eq!(
                    freshness.as_of.unwrap(),
                    good_as_of,
                    "never a made-up value"
                );
                assert_eq!(response.dashboard.unwrap().today.unwrap().transactions, 3);
                if freshness.state == FreshnessState::StaleOnError as i32 {
                    saw_stale_on_error = true;
                } else {
                    assert!(
                        !saw_stale_on_error,
                        "once failing, only stale-on-error until the end"
                    );
                }
            }
            Err(status) => break status,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(saw_stale_on_error);
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(
        status.message().contains("fill failed"),
        "a clear message: {}",
        status.message()
    );

    // The warehouse is back: fresh values again.
    proxy.restore();
    let mut recovered = false;
    for _ in 0..100 {
        if let Ok(response) = dashboard.get_dashboard(GetDashboardRequest {}).await {
            recovered =
                response.into_inner().freshness.unwrap().state == FreshnessState::Fresh as i32;
            if recovered {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered);
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_keep_succeeding_while_redis_is_down_and_redis_is_used_again_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::start();
    let mut config = duckdb_config(&dir);
    config.redis = Some(
        toml::from_str(&format!(
            "url = {:?}\ncommand_timeout = \"200ms\"",
            redis.url()
        ))
        .unwrap(),
    );
    config.cache.fresh_for = Duration::from_millis(100);
    config.cache.stale_for = Duration::from_millis(300);
    let warehouse = app::open_warehouse(&config.warehouse).await.unwrap();
    warehouse.insert_payments(&[sale(1)]).await.unwrap();
    drop(warehouse);
    let running = app::start(&config, &Targets::from_list(&[Target::Integration]))
        .await
        .unwrap();
    let dashboard = client(&running).await;

    let load = |rounds: usize| {
        let dashboard = dashboard.clone();
        async move {
            let mut failures = 0;
            for _ in 0..rounds {
                let calls = (0..20).map(|_| {
                    let mut dashboard = dashboard.clone();
                    async move { dashboard.get_dashboard(GetDashboardRequest {}).await }
                });
                failures += join_all(calls).await.iter().filter(|r| r.is_err()).count();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            failures
        }
    };
    assert_eq!(load(10).await, 0);
    redis.kill();
    assert_eq!(load(40).await, 0, "no call fails while Redis is down");
    let stats = dashboard
        .clone()
        .get_cache_stats(GetCacheStatsRequest {})
        .await
        .unwrap()
        .into_inner();
    let shared = stats
        .backends
        .iter()
        .find(|b| b.kind == 2)
        .expect("a redis backend");
    assert!(!shared.healthy, "the stats say Redis is down");

    redis.restart();
    // Used again without a restart of vibe: a new dashboard entry appears in Redis.
    let mut back = false;
    for _ in 0..100 {
        assert_eq!(load(2).await, 0);
        let keys = std::process::Command::new("redis-cli")
            .args([
                "-p",
                &redis.port().to_string(),
                "--scan",
                "--pattern",
                "vibe:cache:{dashboard}:e:*",
            ])
            .output()
            .unwrap();
        if !keys.stdout.is_empty() {
            back = true;
            break;
        }
    }
    assert!(back, "the cache writes to Redis again");
    running.shutdown().await.unwrap();
}
