//! The shared warehouse conformance suite on a fresh DuckDB file per test.

use vibe_warehouse::conformance::Fixture;
use vibe_warehouse_duckdb::{DuckDbSettings, DuckDbWarehouse};

async fn setup(_test: &str) -> Option<Fixture> {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = DuckDbSettings {
        // A missing parent directory is created by `open`.
        path: dir.path().join("data").join("warehouse.duckdb"),
        pool_size: 4,
        threads: Some(2),
        memory_limit: Some("1GB".to_owned()),
    };
    let warehouse = DuckDbWarehouse::open(&settings).await.expect("open duckdb");
    Some(Fixture::new(warehouse, dir))
}

vibe_warehouse::conformance_tests!(setup);
