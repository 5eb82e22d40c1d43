//! A fresh dataset on the emulator per test, deleted afterwards.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vibe_warehouse_bigquery::{BigQuerySettings, BigQueryWarehouse, Credentials};

/// Deletes the dataset when dropped.
pub struct Dataset {
    warehouse: BigQueryWarehouse,
}

impl Drop for Dataset {
    fn drop(&mut self) {
        let settings = self.warehouse.settings().clone();
        // Drop cannot await, and the test's runtime may be the one blocked here: a fresh
        // client on a short-lived runtime of its own does the delete.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let Ok(warehouse) = BigQueryWarehouse::connect(&settings).await else {
                    return false;
                };
                warehouse
                    .client()
                    .dataset()
                    .delete_if_exists(&settings.project, &settings.dataset, true)
                    .await
            })
        });
        let _ = cleanup.join();
    }
}

/// A warehouse on a new, unique dataset of the emulator; `None` when it is not running
/// (outside CI).
pub async fn warehouse(test: &str) -> Option<(BigQueryWarehouse, Dataset)> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let emulator = vibe_test_harness::bigquery_emulator(test)?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dataset = format!(
        "vibe_{}_{}_{}_{}",
        test.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let settings = BigQuerySettings {
        project: emulator.project,
        dataset,
        location: "US".to_owned(),
        credentials: Credentials::None,
        base_url: Some(emulator.url),
        maximum_bytes_billed: 1 << 30,
        query_timeout: Duration::from_secs(60),
    };
    let warehouse = BigQueryWarehouse::connect(&settings)
        .await
        .expect("connect to the emulator");
    Some((warehouse.clone(), Dataset { warehouse }))
}
