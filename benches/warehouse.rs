//! The cold dashboard computation on DuckDB at Texas year-3 scale: every dashboard query
//! straight from the warehouse (no cache), against the simplest aggregate over the same
//! rows as the baseline, in the same run.
//!
//! `cargo bench --bench warehouse` — seeds `VIBE_BENCH_PAYMENTS` (default 20,000,000)
//! demo payments into a DuckDB file under the target dir once (idempotent, takes a few
//! minutes the first time), then times both.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark that cannot start should stop

use std::time::{Duration, Instant};

use chrono::Utc;
use vibe::app;
use vibe::config::Config;
use vibe_integration::compute_dashboard;

const ITERATIONS: usize = 30;

fn percentile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)]
}

fn main() {
    let payments: u64 = std::env::var("VIBE_BENCH_PAYMENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut config = Config::default();
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-data");
        config.warehouse.duckdb.path = dir.join(format!("demo-{payments}.duckdb"));
        config.demo.payments = payments;
        let started = Instant::now();
        let outcome = app::seed_demo(&config).await.unwrap();
        println!("demo data: {:?} in {:.1?}", outcome.action, started.elapsed());

        let warehouse = app::open_warehouse(&config.warehouse).await.unwrap();
        let store = config.store.settings().unwrap();
        let now = Utc::now();
        let year = store.windows(now).year_to_date.range;
        // One warm-up each: DuckDB reads the file into its buffer pool once.
        warehouse.sales_totals(&[year]).await.unwrap();
        compute_dashboard(&*warehouse, &store, now).await.unwrap();

        let mut baseline = Vec::new();
        let mut dashboard = Vec::new();
        for _ in 0..ITERATIONS {
            let started = Instant::now();
            warehouse.sales_totals(&[year]).await.unwrap();
            baseline.push(started.elapsed());
            let started = Instant::now();
            compute_dashboard(&*warehouse, &store, Utc::now()).await.unwrap();
            dashboard.push(started.elapsed());
        }
        let (b50, b95) = (percentile(&mut baseline, 0.5), percentile(&mut baseline, 0.95));
        let (d50, d95) = (percentile(&mut dashboard, 0.5), percentile(&mut dashboard, 0.95));
        println!("{payments} payments, {ITERATIONS} iterations");
        println!("baseline: year-to-date totals, one aggregate   p50 {b50:>9.2?}  p95 {b95:>9.2?}");
        println!("cold dashboard: all four queries in parallel  p50 {d50:>9.2?}  p95 {d95:>9.2?}  (goal p50 < 100 ms)");
        println!("ratio dashboard / baseline (p50): {:.2}", d50.as_secs_f64() / b50.as_secs_f64());
    });
}
