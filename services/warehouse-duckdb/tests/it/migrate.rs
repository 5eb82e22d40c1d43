//! `migrate` on a file written by an older release: missing columns are added, old rows
//! stay readable, and writes go to the right columns although the new one sits last.

use chrono::{TimeZone, Utc};
use vibe_warehouse::{CatalogItem, ProductFilter, Source, Warehouse};
use vibe_warehouse_duckdb::{DuckDbSettings, DuckDbWarehouse};

#[tokio::test]
async fn adds_missing_columns_to_an_old_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("old.duckdb");
    {
        // The catalog before `delta9_thc_basis_points` existed.
        let old = duckdb::Connection::open(&path).expect("open old file");
        old.execute_batch(
            "CREATE TABLE catalog_items (product_id VARCHAR NOT NULL, source VARCHAR NOT NULL, \
             name VARCHAR NOT NULL, description VARCHAR NOT NULL, sku VARCHAR NOT NULL, \
             category VARCHAR NOT NULL, price_cents BIGINT NOT NULL, currency VARCHAR NOT NULL, \
             available BOOLEAN NOT NULL, updated_at TIMESTAMP NOT NULL, \
             has_certificate_of_analysis BOOLEAN NOT NULL, quantity_on_hand BIGINT); \
             INSERT INTO catalog_items VALUES ('p-old', 'square', 'Old', 'd', 'S-1', 'Flower', \
             100, 'USD', true, TIMESTAMP '2025-06-01 12:00:00', false, 4);",
        )
        .expect("old schema");
    }
    let warehouse = DuckDbWarehouse::open(&DuckDbSettings {
        path,
        pool_size: 2,
        threads: Some(1),
        memory_limit: None,
    })
    .await
    .expect("open");
    warehouse.migrate().await.expect("migrate");
    warehouse.migrate().await.expect("migrate again");

    let updated_at = Utc
        .with_ymd_and_hms(2025, 6, 2, 12, 0, 0)
        .single()
        .expect("instant");
    let new = CatalogItem {
        product_id: "p-new".to_owned(),
        source: Source::Square,
        name: "New".to_owned(),
        description: "d".to_owned(),
        sku: "S-2".to_owned(),
        category: "Flower".to_owned(),
        price_cents: 200,
        currency: "USD".to_owned(),
        available: false,
        updated_at,
        has_certificate_of_analysis: true,
        delta9_thc_basis_points: Some(25),
        quantity_on_hand: Some(9),
    };
    warehouse
        .upsert_catalog_items(std::slice::from_ref(&new))
        .await
        .expect("upsert");
    let page = warehouse
        .list_products(&ProductFilter::default(), None, 10)
        .await
        .expect("list");
    let old = CatalogItem {
        product_id: "p-old".to_owned(),
        name: "Old".to_owned(),
        sku: "S-1".to_owned(),
        price_cents: 100,
        available: true,
        updated_at: Utc
            .with_ymd_and_hms(2025, 6, 1, 12, 0, 0)
            .single()
            .expect("instant"),
        has_certificate_of_analysis: false,
        delta9_thc_basis_points: None,
        quantity_on_hand: Some(4),
        ..new.clone()
    };
    assert_eq!(page.items, vec![new, old]);
}
