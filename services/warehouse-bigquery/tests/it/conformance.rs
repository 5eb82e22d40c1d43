//! The shared warehouse conformance suite against the BigQuery emulator, on a fresh
//! dataset per test. The emulator rejects reads without a partition filter, so every read
//! the suite drives also proves it filters.

use vibe_warehouse::conformance::Fixture;

use crate::common;

async fn setup(test: &str) -> Option<Fixture> {
    let (warehouse, dataset) = common::warehouse(test).await?;
    Some(Fixture::new(warehouse, dataset))
}

vibe_warehouse::conformance_tests!(setup);
