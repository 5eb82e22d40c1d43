//! The seeder's decisions against the real embedded warehouse: a first run inserts, a
//! re-run writes nothing, an interrupted or different earlier run is replaced, other
//! sources are never touched. Earlier states are written through the warehouse itself.

use std::collections::HashSet;

use chrono::{Days, NaiveDate, TimeDelta};
use vibe_demo::{DayRows, DemoError, DemoSpec, Generator, Progress, SalesCounts, SeedAction, seed};
use vibe_warehouse::{
    CatalogItem, LineItem, Order, Payment, ProductFilter, Source, TimeRange, Warehouse,
    WarehouseError,
};
use vibe_warehouse_duckdb::{DuckDbSettings, DuckDbWarehouse};

/// A small spec: three weeks, about a hundred payments a day, ending on a Thursday (the
/// store closes at 22:00, so a second after the last sale is still the same day).
fn small(seed: u64) -> DemoSpec {
    DemoSpec {
        days: 21,
        payments: 2_100,
        members: 300,
        ..DemoSpec::new(seed, NaiveDate::from_ymd_opt(2025, 5, 29).unwrap())
    }
}

async fn open(dir: &tempfile::TempDir) -> DuckDbWarehouse {
    DuckDbWarehouse::open(&DuckDbSettings {
        path: dir.path().join("demo.duckdb"),
        pool_size: 2,
        threads: Some(2),
        memory_limit: Some("1GB".to_owned()),
    })
    .await
    .unwrap()
}

/// A new, migrated database file; it lives as long as the directory returned with it.
async fn migrated() -> (tempfile::TempDir, DuckDbWarehouse) {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = open(&dir).await;
    warehouse.migrate().await.unwrap();
    (dir, warehouse)
}

/// Wider than every spec here and the seeder's sweep around it.
fn all_time() -> TimeRange {
    let at = |year| {
        NaiveDate::from_ymd_opt(year, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
    };
    TimeRange {
        start: at(2000),
        end: at(2100),
    }
}

async fn demo_counts(warehouse: &DuckDbWarehouse) -> SalesCounts {
    SalesCounts::from_warehouse(
        warehouse
            .count_sales_rows(Source::Demo, all_time())
            .await
            .unwrap(),
    )
}

/// Every stored payment, of any source, newest first.
async fn payments(warehouse: &DuckDbWarehouse) -> Vec<Payment> {
    warehouse
        .recent_payments(all_time(), u32::MAX)
        .await
        .unwrap()
}

async fn products(warehouse: &DuckDbWarehouse) -> Vec<CatalogItem> {
    warehouse
        .list_products(&ProductFilter::default(), None, u32::MAX)
        .await
        .unwrap()
        .items
}

/// Distinct ids of the stored demo payments.
async fn demo_ids(warehouse: &DuckDbWarehouse) -> HashSet<String> {
    payments(warehouse)
        .await
        .into_iter()
        .filter(|p| p.source == Source::Demo)
        .map(|p| p.payment_id)
        .collect()
}

/// Stores days as the seeder does: orders and line items before their payments.
async fn insert_days(warehouse: &DuckDbWarehouse, days: &[DayRows]) {
    for day in days {
        warehouse.insert_orders(&day.orders).await.unwrap();
        warehouse.insert_line_items(&day.line_items).await.unwrap();
        warehouse.insert_payments(&day.payments).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_run_inserts_everything_in_bounded_batches_and_a_rerun_nothing() {
    let (_dir, warehouse) = migrated().await;
    // More payments than one batch (50,000): the run takes several, and every row of each
    // must arrive exactly once. How a batch is split into insert calls (at most 100,000
    // rows each, orders and line items before payments) leaves no trace in the warehouse
    // and is not checked here.
    let spec = DemoSpec {
        days: 30,
        payments: 60_000,
        members: 2_000,
        ..DemoSpec::new(1, NaiveDate::from_ymd_opt(2025, 5, 31).unwrap())
    };
    let generator = Generator::new(spec.clone()).unwrap();
    let expected = generator.expected();

    let first = seed(&warehouse, &spec, Progress::hidden()).await.unwrap();
    assert_eq!(first.action, SeedAction::Seeded);
    assert_eq!(first.rows, expected);
    assert_eq!(first.inserted, expected);
    assert_eq!(demo_counts(&warehouse).await, expected);
    let ids = demo_ids(&warehouse).await;
    assert_eq!(ids.len() as u64, expected.payments, "no payment twice");
    assert_eq!(first.catalog_items, generator.catalog().len() as u64);
    assert_eq!(products(&warehouse).await.len(), generator.catalog().len());

    // A demo product the generator does not make, dated inside the period: deleting the
    // demo rows would take it along, upserting the catalog leaves it.
    let marker = CatalogItem {
        product_id: "demo-marker".to_owned(),
        updated_at: spec.time_range().start,
        ..generator.catalog()[0].clone()
    };
    warehouse
        .upsert_catalog_items(std::slice::from_ref(&marker))
        .await
        .unwrap();

    let again = seed(&warehouse, &spec, Progress::hidden()).await.unwrap();
    assert_eq!(again.action, SeedAction::AlreadySeeded);
    assert_eq!(again.inserted, SalesCounts::default());
    assert_eq!(again.rows, expected);
    // Nothing inserted (the counts would grow) and nothing deleted (the marker stays).
    assert_eq!(demo_counts(&warehouse).await, expected);
    assert_eq!(demo_ids(&warehouse).await, ids);
    assert!(products(&warehouse).await.contains(&marker));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_is_replaced() {
    let (_dir, warehouse) = migrated().await;
    let spec = small(2);
    let generator = Generator::new(spec.clone()).unwrap();
    let days: Vec<DayRows> = generator.days().collect();
    // A run stopped part way: the first half of the days stored whole, the next day with
    // its orders and line items but not yet its payments.
    let (done, rest) = days.split_at(days.len() / 2);
    insert_days(&warehouse, done).await;
    let cut = rest.iter().find(|day| !day.orders.is_empty()).unwrap();
    warehouse.insert_orders(&cut.orders).await.unwrap();
    warehouse.insert_line_items(&cut.line_items).await.unwrap();
    let partial = demo_counts(&warehouse).await;
    assert!(0 < partial.payments && partial.payments < partial.orders);
    assert!(partial.orders < generator.expected().orders);

    let outcome = seed(&warehouse, &spec, Progress::hidden()).await.unwrap();
    assert_eq!(outcome.action, SeedAction::Reseeded { found: partial });
    assert_eq!(outcome.rows, generator.expected());
    assert_eq!(outcome.inserted, outcome.rows);
    assert_eq!(demo_counts(&warehouse).await, outcome.rows);
    assert_eq!(
        demo_ids(&warehouse).await.len() as u64,
        outcome.rows.payments,
        "no duplicates"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warehouse_error_is_returned() {
    // Not migrated: the warehouse refuses the seeder's first query.
    let dir = tempfile::tempdir().unwrap();
    let warehouse = open(&dir).await;
    let error = seed(&warehouse, &small(10), Progress::hidden())
        .await
        .unwrap_err();
    assert!(
        matches!(error, DemoError::Warehouse(WarehouseError::Query(_))),
        "{error:?}"
    );
    assert!(
        error.to_string().starts_with("warehouse query failed: "),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_seed_with_the_same_counts_is_replaced() {
    let (_dir, warehouse) = migrated().await;
    let first = seed(&warehouse, &small(3), Progress::hidden())
        .await
        .unwrap();
    let before = demo_ids(&warehouse).await;
    // Same size, other seed: as many payments and orders (line items vary with the seed),
    // and every stored row is replaced by the new seed's.
    let outcome = seed(&warehouse, &small(4), Progress::hidden())
        .await
        .unwrap();
    assert_eq!(outcome.action, SeedAction::Reseeded { found: first.rows });
    assert_eq!(outcome.rows.payments, first.rows.payments);
    assert_eq!(demo_counts(&warehouse).await, outcome.rows);
    let after = demo_ids(&warehouse).await;
    assert!(before.is_disjoint(&after));
    assert!(after.iter().all(|id| id.starts_with("demo-4-")));
    assert_eq!(after.len() as u64, outcome.rows.payments);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equal_counts_from_another_seed_are_caught_by_the_newest_payments() {
    let (_dir, warehouse) = migrated().await;
    let spec = small(5);
    let generator = Generator::new(spec.clone()).unwrap();
    // Rows of exactly this spec's counts, but under another seed's payment ids.
    let other: Vec<DayRows> = generator
        .days()
        .map(|mut day| {
            for payment in &mut day.payments {
                payment.payment_id = payment.payment_id.replacen("demo-5-", "demo-6-", 1);
            }
            day
        })
        .collect();
    insert_days(&warehouse, &other).await;
    let expected = generator.expected();
    assert_eq!(demo_counts(&warehouse).await, expected);

    let outcome = seed(&warehouse, &spec, Progress::hidden()).await.unwrap();
    assert_eq!(outcome.action, SeedAction::Reseeded { found: expected });
    assert_eq!(demo_counts(&warehouse).await, outcome.rows);
    let ids = demo_ids(&warehouse).await;
    assert_eq!(ids.len() as u64, outcome.rows.payments);
    assert!(ids.iter().all(|id| id.starts_with("demo-5-")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_period_leaves_nothing_of_the_old_one_behind() {
    let (_dir, warehouse) = migrated().await;
    let old = small(7);
    seed(&warehouse, &old, Progress::hidden()).await.unwrap();
    let old_first_day = old.day_range(old.first_day().unwrap());
    let [payments_then, ..] = warehouse
        .count_sales_rows(Source::Demo, old_first_day)
        .await
        .unwrap();
    assert!(payments_then > 0);

    // The next day's `vibe up --demo`: the period moves by one day.
    let new = DemoSpec {
        last_day: old.last_day.checked_add_days(Days::new(1)).unwrap(),
        ..old.clone()
    };
    let outcome = seed(&warehouse, &new, Progress::hidden()).await.unwrap();
    assert!(matches!(outcome.action, SeedAction::Reseeded { .. }));
    assert_eq!(demo_counts(&warehouse).await, outcome.rows);
    let first_day = new.first_day().unwrap();
    assert!(
        payments(&warehouse)
            .await
            .iter()
            .all(|p| p.business_date >= first_day)
    );
    assert_eq!(
        warehouse
            .count_sales_rows(Source::Demo, old_first_day)
            .await
            .unwrap(),
        [0, 0, 0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_sources_are_left_alone() {
    let (_dir, warehouse) = migrated().await;
    let spec = small(8);
    seed(&warehouse, &spec, Progress::hidden()).await.unwrap();
    // A real Square sale (order, line item, payment) and product, a second after the
    // newest demo sale, on the same day.
    let newest = payments(&warehouse).await.remove(0);
    let at = newest.created_at + TimeDelta::seconds(1);
    let generator = Generator::new(spec.clone()).unwrap();
    let day = generator.day(newest.business_date).unwrap();
    let order = Order {
        order_id: "sq-order-1".to_owned(),
        source: Source::Square,
        created_at: at,
        ..day.orders.last().unwrap().clone()
    };
    let line = LineItem {
        order_id: order.order_id.clone(),
        line_number: 1,
        created_at: at,
        ..day.line_items.last().unwrap().clone()
    };
    let payment = Payment {
        payment_id: "sq-1".to_owned(),
        source: Source::Square,
        order_id: Some(order.order_id.clone()),
        created_at: at,
        updated_at: at,
        ..newest
    };
    let product = CatalogItem {
        product_id: "sq-product-1".to_owned(),
        source: Source::Square,
        updated_at: at,
        ..generator.catalog()[0].clone()
    };
    warehouse.insert_orders(&[order]).await.unwrap();
    warehouse.insert_line_items(&[line]).await.unwrap();
    warehouse
        .insert_payments(std::slice::from_ref(&payment))
        .await
        .unwrap();
    warehouse
        .upsert_catalog_items(std::slice::from_ref(&product))
        .await
        .unwrap();

    // The Square payment, now the newest of the day, does not hide that the demo data is
    // this spec's.
    let again = seed(&warehouse, &spec, Progress::hidden()).await.unwrap();
    assert_eq!(again.action, SeedAction::AlreadySeeded);
    let reseeded = seed(
        &warehouse,
        &DemoSpec { seed: 9, ..spec },
        Progress::hidden(),
    )
    .await
    .unwrap();
    assert!(matches!(reseeded.action, SeedAction::Reseeded { .. }));
    assert_eq!(
        warehouse
            .count_sales_rows(Source::Square, all_time())
            .await
            .unwrap(),
        [1, 1, 1]
    );
    assert!(payments(&warehouse).await.contains(&payment));
    assert!(products(&warehouse).await.contains(&product));
}
