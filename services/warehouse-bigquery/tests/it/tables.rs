//! What `migrate` creates on BigQuery (the emulator), read back through the tables API,
//! and that the partition filter it asks for is enforced.

use gcp_bigquery_client::model::field_type::FieldType;
use gcp_bigquery_client::model::query_request::QueryRequest;
use vibe_warehouse::Warehouse;
use vibe_warehouse::schema::{ColumnType, TABLES};

use crate::common;

fn type_name(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::String | ColumnType::JsonText => "STRING",
        ColumnType::Int64 => "INTEGER",
        ColumnType::Bool => "BOOLEAN",
        ColumnType::Timestamp => "TIMESTAMP",
        ColumnType::Date => "DATE",
    }
}

fn field_type_name(ty: &FieldType) -> String {
    serde_json::to_value(ty)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[tokio::test]
async fn tables_are_partitioned_clustered_and_filtered() {
    let Some((warehouse, _dataset)) = common::warehouse("tables_are_partitioned").await else {
        return;
    };
    warehouse.migrate().await.expect("migrate");
    let settings = warehouse.settings();
    for table in TABLES {
        let got = warehouse
            .client()
            .table()
            .get(&settings.project, &settings.dataset, table.name, None)
            .await
            .unwrap_or_else(|e| panic!("get {}: {e}", table.name));
        let fields = got.schema.fields.clone().unwrap_or_default();
        let columns: Vec<(String, String, String)> = fields
            .iter()
            .map(|f| {
                (
                    f.name.clone(),
                    field_type_name(&f.r#type),
                    f.mode.clone().unwrap_or_default(),
                )
            })
            .collect();
        let want: Vec<(String, String, String)> = table
            .columns
            .iter()
            .map(|c| {
                (
                    c.name.to_owned(),
                    type_name(c.ty).to_owned(),
                    if c.required { "REQUIRED" } else { "NULLABLE" }.to_owned(),
                )
            })
            .collect();
        assert_eq!(columns, want, "{}: schema", table.name);

        match table.partition_by {
            Some(column) => {
                let partitioning = got
                    .time_partitioning
                    .as_ref()
                    .unwrap_or_else(|| panic!("{}: not partitioned", table.name));
                assert_eq!(partitioning.r#type, "DAY", "{}", table.name);
                assert_eq!(
                    partitioning.field.as_deref(),
                    Some(column),
                    "{}",
                    table.name
                );
                let days = table.partition_expiration_days.map(u64::from);
                assert_eq!(
                    partitioning.expiration_ms.as_deref(),
                    days.map(|d| (d * 86_400_000).to_string()).as_deref(),
                    "{}: partition expiry",
                    table.name
                );
                assert_eq!(got.require_partition_filter, Some(true), "{}", table.name);
            }
            None => {
                assert!(got.time_partitioning.is_none(), "{}", table.name);
                assert_ne!(got.require_partition_filter, Some(true), "{}", table.name);
            }
        }
        let clustering = got
            .clustering
            .as_ref()
            .and_then(|c| c.fields.clone())
            .unwrap_or_default();
        assert_eq!(clustering, table.cluster_by, "{}: clustering", table.name);
    }
    assert_eq!(
        TABLES.iter().filter(|t| t.partition_by.is_some()).count(),
        6,
        "payments, orders, line items, audit events, verification attempts and verifications \
         are partitioned"
    );
}

/// The emulator's check is live on the tables `migrate` made: a read without a filter on
/// the partition column fails, so the conformance suite passing means every read filters.
#[tokio::test]
async fn reads_without_a_partition_filter_are_rejected() {
    let Some((warehouse, _dataset)) = common::warehouse("reads_without_filter").await else {
        return;
    };
    warehouse.migrate().await.expect("migrate");
    let settings = warehouse.settings();
    for table in TABLES.iter().filter(|t| t.require_partition_filter) {
        let mut request = QueryRequest::new(format!(
            "SELECT COUNT(*) FROM `{}.{}`",
            settings.dataset, table.name
        ));
        request.location = Some(settings.location.clone());
        let result = warehouse
            .client()
            .job()
            .query(&settings.project, request)
            .await;
        let error = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            error.contains("partition"),
            "{}: an unfiltered read was not rejected: {error:?}",
            table.name
        );
    }
}

/// Adding a column to the registry later is a schema patch: simulated by dropping one from
/// a table and migrating again.
#[tokio::test]
async fn migrate_adds_missing_columns() {
    let Some((warehouse, _dataset)) = common::warehouse("migrate_adds_columns").await else {
        return;
    };
    let settings = warehouse.settings().clone();
    let table = &vibe_warehouse::schema::CATALOG_ITEMS;
    // A catalog table from an older release, without the last column.
    warehouse.migrate().await.expect("migrate");
    let client = warehouse.client();
    client
        .table()
        .delete(&settings.project, &settings.dataset, table.name)
        .await
        .expect("drop");
    let mut old = TABLES
        .iter()
        .find(|t| t.name == table.name)
        .copied()
        .expect("catalog table");
    old.columns = &table.columns[..table.columns.len() - 1];
    let mut request = QueryRequest::new(format!(
        "CREATE TABLE `{}.{}` ({})",
        settings.dataset,
        table.name,
        old.columns
            .iter()
            .map(|c| format!("{} {}", c.name, type_name(c.ty)))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    request.location = Some(settings.location.clone());
    client
        .job()
        .query(&settings.project, request)
        .await
        .expect("old table");

    warehouse.migrate().await.expect("migrate again");
    let got = client
        .table()
        .get(&settings.project, &settings.dataset, table.name, None)
        .await
        .expect("get");
    let names: Vec<String> = got
        .schema
        .fields
        .unwrap_or_default()
        .into_iter()
        .map(|f| f.name)
        .collect();
    let want: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    assert_eq!(names, want);
    // And the new column is usable.
    let page = warehouse
        .list_products(&vibe_warehouse::ProductFilter::default(), None, 10)
        .await
        .expect("list");
    assert!(page.items.is_empty());
}
