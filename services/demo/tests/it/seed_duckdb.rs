//! Seeding the real embedded warehouse: counts, figures the warehouse computes over the
//! demo rows against the same figures computed here in Rust, and idempotency across runs
//! and restarts.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate, Weekday};
use vibe_demo::{DemoSpec, Generator, Progress, SalesCounts, SeedAction, seed};
use vibe_warehouse::{ProductFilter, SaleStatus, SalesTotals, Source, Warehouse};
use vibe_warehouse_duckdb::{DuckDbSettings, DuckDbWarehouse};

fn settings(dir: &tempfile::TempDir) -> DuckDbSettings {
    DuckDbSettings {
        path: dir.path().join("demo.duckdb"),
        pool_size: 2,
        threads: Some(2),
        memory_limit: Some("1GB".to_owned()),
    }
}

/// Completed payments only, as the warehouse counts them.
fn totals<'a>(payments: impl Iterator<Item = &'a vibe_warehouse::Payment>) -> SalesTotals {
    let mut totals = SalesTotals::default();
    let mut customers = HashSet::new();
    for payment in payments.filter(|p| p.status == SaleStatus::Completed) {
        totals.revenue_cents += payment.amount_cents;
        totals.transactions += 1;
        if let Some(customer) = &payment.customer_id {
            customers.insert(customer.clone());
        }
    }
    totals.distinct_customers = customers.len() as i64;
    totals
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_duckdb_once_and_the_figures_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let spec = DemoSpec {
        days: 120,
        payments: 80_000,
        members: 3_000,
        ..DemoSpec::new(17, NaiveDate::from_ymd_opt(2025, 6, 30).unwrap())
    };
    let generator = Generator::new(spec.clone()).unwrap();
    let expected = generator.expected();
    let range = spec.time_range();

    let warehouse = DuckDbWarehouse::open(&settings(&dir)).await.unwrap();
    warehouse.migrate().await.unwrap();
    let first = seed(&warehouse, &spec, Progress::hidden()).await.unwrap();
    assert_eq!(first.action, SeedAction::Seeded);
    assert_eq!(first.inserted, expected);
    let stored = warehouse
        .count_sales_rows(Source::Demo, range)
        .await
        .unwrap();
    assert_eq!(SalesCounts::from_warehouse(stored), expected);

    // The catalog is there, all eight categories.
    let page = warehouse
        .list_products(&ProductFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(page.total, generator.catalog().len() as i64);
    assert_eq!(warehouse.product_categories().await.unwrap().len(), 8);

    // Totals over the whole period and one late-closing Saturday, against the rows.
    let days: Vec<_> = generator.days().collect();
    let all = totals(days.iter().flat_map(|d| &d.payments));
    assert_eq!(warehouse.sales_totals(&[range]).await.unwrap(), vec![all]);
    let saturday = days
        .iter()
        .rev()
        .find(|d| d.date.weekday() == Weekday::Sat && !d.payments.is_empty())
        .unwrap();
    let daily = warehouse
        .daily_sales(spec.day_range(saturday.date))
        .await
        .unwrap();
    assert_eq!(daily.len(), 1);
    assert_eq!(daily[0].date, saturday.date);
    assert_eq!(daily[0].totals, totals(saturday.payments.iter()));
    let month = warehouse.monthly_sales(range).await.unwrap();
    let june = month
        .iter()
        .find(|m| (m.year, m.month) == (2025, 6))
        .unwrap();
    let june_rows = days
        .iter()
        .filter(|d| d.date.month() == 6)
        .flat_map(|d| &d.payments);
    assert_eq!(june.totals, totals(june_rows));

    // A re-run adds nothing.
    let again = seed(&warehouse, &spec, Progress::hidden()).await.unwrap();
    assert_eq!(again.action, SeedAction::AlreadySeeded);
    assert_eq!(again.inserted, SalesCounts::default());
    let stored = warehouse
        .count_sales_rows(Source::Demo, range)
        .await
        .unwrap();
    assert_eq!(SalesCounts::from_warehouse(stored), expected);

    // Nor after a restart (the file reopened).
    drop(warehouse);
    let warehouse = DuckDbWarehouse::open(&settings(&dir)).await.unwrap();
    warehouse.migrate().await.unwrap();
    let restarted = seed(&warehouse, &spec, Progress::hidden()).await.unwrap();
    assert_eq!(restarted.action, SeedAction::AlreadySeeded);

    // A day lost (as after an interrupted run) is noticed and the data replaced whole.
    warehouse
        .delete_sales_rows(Source::Demo, spec.day_range(saturday.date))
        .await
        .unwrap();
    let repaired = seed(&warehouse, &spec, Progress::hidden()).await.unwrap();
    assert!(
        matches!(repaired.action, SeedAction::Reseeded { .. }),
        "{:?}",
        repaired.action
    );
    let stored = warehouse
        .count_sales_rows(Source::Demo, range)
        .await
        .unwrap();
    assert_eq!(SalesCounts::from_warehouse(stored), expected);
    assert_eq!(warehouse.sales_totals(&[range]).await.unwrap(), vec![all]);
    let page = warehouse
        .list_products(&ProductFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(page.total, generator.catalog().len() as i64);
}

/// Load speed into DuckDB, printed, never asserted. Run in release:
/// `cargo nextest run --release -p vibe-demo --run-ignored only seeding_speed --no-capture`
/// (`DEMO_PAYMENTS=20000000` for Texas year-3 scale).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check; run on demand"]
async fn seeding_speed() {
    let payments = std::env::var("DEMO_PAYMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let dir = tempfile::tempdir().unwrap();
    let spec = DemoSpec {
        payments,
        members: 11_000.max((payments / 100) as u32),
        ..DemoSpec::new(1, NaiveDate::from_ymd_opt(2026, 1, 31).unwrap())
    };
    let warehouse = DuckDbWarehouse::open(&settings(&dir)).await.unwrap();
    warehouse.migrate().await.unwrap();
    let started = std::time::Instant::now();
    let outcome = seed(&warehouse, &spec, Progress::auto()).await.unwrap();
    let elapsed = started.elapsed();
    let again = std::time::Instant::now();
    let rerun = seed(&warehouse, &spec, Progress::hidden()).await.unwrap();
    let size = std::fs::metadata(dir.path().join("demo.duckdb"))
        .map(|m| m.len())
        .unwrap_or(0);
    // Peak memory of this process (generator, seeder and DuckDB together), where Linux
    // reports it.
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            Some(line.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_default();
    println!(
        "{:?}: {} payments, {} line items in {elapsed:.2?} ({:.0} payments/s), file {} MB, peak memory {peak}; re-run {:?} in {:.2?}",
        outcome.action,
        outcome.inserted.payments,
        outcome.inserted.line_items,
        outcome.inserted.payments as f64 / elapsed.as_secs_f64(),
        size / 1_000_000,
        rerun.action,
        again.elapsed()
    );
}
