//! The dataset and tables from the schema registry, through the tables API (DDL would
//! lose the partition expiry on the emulator): created when missing, missing columns
//! added by patching the schema. Safe to run at every start, also concurrently.

use std::time::Duration;

use gcp_bigquery_client::error::BQError;
use gcp_bigquery_client::model::clustering::Clustering;
use gcp_bigquery_client::model::dataset::Dataset;
use gcp_bigquery_client::model::field_type::FieldType;
use gcp_bigquery_client::model::table::Table as BqTable;
use gcp_bigquery_client::model::table_field_schema::TableFieldSchema;
use gcp_bigquery_client::model::table_schema::TableSchema;
use gcp_bigquery_client::model::time_partitioning::TimePartitioning;
use vibe_warehouse::Result;
use vibe_warehouse::schema::{Column, ColumnType, TABLES, Table};

use crate::client::{BigQueryWarehouse, Call, map_error};

const DAY: Duration = Duration::from_secs(86_400);

fn status(error: &BQError) -> Option<i64> {
    match error {
        BQError::ResponseError { error } => Some(error.error.code),
        _ => None,
    }
}

fn field_type(ty: ColumnType) -> FieldType {
    match ty {
        ColumnType::String | ColumnType::JsonText => FieldType::String,
        ColumnType::Int64 => FieldType::Integer,
        ColumnType::Bool => FieldType::Boolean,
        ColumnType::Timestamp => FieldType::Timestamp,
        ColumnType::Date => FieldType::Date,
    }
}

/// A column as a schema field; `required` is false for columns added to existing tables.
fn field(column: &Column, required: bool) -> TableFieldSchema {
    let mut field = TableFieldSchema::new(column.name, field_type(column.ty));
    field.mode = Some(if required { "REQUIRED" } else { "NULLABLE" }.to_owned());
    field.description = Some(column.doc.to_owned());
    field
}

/// The table resource the registry asks for.
pub(crate) fn table_resource(project: &str, dataset: &str, table: &Table) -> BqTable {
    let fields = table
        .columns
        .iter()
        .map(|column| field(column, column.required))
        .collect();
    let mut resource = BqTable::new(project, dataset, table.name, TableSchema::new(fields));
    resource.description = Some(table.doc.to_owned());
    if let Some(column) = table.partition_by {
        let mut partitioning = TimePartitioning::per_day().field(column);
        if let Some(days) = table.partition_expiration_days {
            partitioning = partitioning.expiration_ms(DAY * days);
        }
        resource.time_partitioning = Some(partitioning);
        resource.require_partition_filter = Some(table.require_partition_filter);
    }
    if !table.cluster_by.is_empty() {
        resource.clustering = Some(Clustering {
            fields: Some(table.cluster_by.iter().map(|c| (*c).to_owned()).collect()),
        });
    }
    resource
}

pub(crate) async fn migrate(warehouse: &BigQueryWarehouse) -> Result<()> {
    warehouse
        .bounded("migrate", migrate_unbounded(warehouse))
        .await
}

async fn migrate_unbounded(warehouse: &BigQueryWarehouse) -> Result<()> {
    ensure_dataset(warehouse).await?;
    for table in TABLES {
        ensure_table(warehouse, table).await?;
    }
    Ok(())
}

async fn ensure_dataset(warehouse: &BigQueryWarehouse) -> Result<()> {
    let settings = &warehouse.settings;
    let datasets = warehouse.client().dataset();
    match datasets.get(&settings.project, &settings.dataset).await {
        Ok(_) => return Ok(()),
        Err(error) if status(&error) == Some(404) => {}
        Err(error) => return Err(map_error(Call::Admin, error)),
    }
    let dataset = Dataset::new(&settings.project, &settings.dataset).location(&settings.location);
    match datasets.create(dataset).await {
        Ok(_) => {
            tracing::info!(
                dataset = settings.dataset,
                location = settings.location,
                "bigquery dataset created"
            );
            Ok(())
        }
        // Another replica created it first.
        Err(error) if status(&error) == Some(409) => Ok(()),
        Err(error) => Err(map_error(Call::Admin, error)),
    }
}

async fn ensure_table(warehouse: &BigQueryWarehouse, table: &Table) -> Result<()> {
    let settings = &warehouse.settings;
    let tables = warehouse.client().table();
    let existing = match tables
        .get(&settings.project, &settings.dataset, table.name, None)
        .await
    {
        Ok(existing) => existing,
        Err(error) if status(&error) == Some(404) => {
            let resource = table_resource(&settings.project, &settings.dataset, table);
            match tables.create(resource).await {
                Ok(_) => {
                    tracing::info!(table = table.name, "bigquery table created");
                    return Ok(());
                }
                Err(error) if status(&error) == Some(409) => tables
                    .get(&settings.project, &settings.dataset, table.name, None)
                    .await
                    .map_err(|e| map_error(Call::Admin, e))?,
                Err(error) => return Err(map_error(Call::Admin, error)),
            }
        }
        Err(error) => return Err(map_error(Call::Admin, error)),
    };
    check_layout(table, &existing);
    let mut fields = existing.schema.fields.clone().unwrap_or_default();
    let missing: Vec<&Column> = table
        .columns
        .iter()
        .filter(|column| !fields.iter().any(|f| f.name == column.name))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    fields.extend(missing.iter().map(|column| field(column, false)));
    let patch = BqTable::new(
        &settings.project,
        &settings.dataset,
        table.name,
        TableSchema::new(fields),
    );
    tables
        .patch(&settings.project, &settings.dataset, table.name, patch)
        .await
        .map_err(|e| map_error(Call::Admin, e))?;
    let added: Vec<&str> = missing.iter().map(|c| c.name).collect();
    tracing::info!(table = table.name, ?added, "bigquery columns added");
    Ok(())
}

/// Partitioning and clustering cannot change in place; say so instead of failing.
fn check_layout(table: &Table, existing: &BqTable) {
    let partition = existing
        .time_partitioning
        .as_ref()
        .and_then(|p| p.field.as_deref());
    let clustering: Vec<&str> = existing
        .clustering
        .as_ref()
        .and_then(|c| c.fields.as_ref())
        .map(|fields| fields.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let filter_required = existing.require_partition_filter.unwrap_or(false);
    if partition != table.partition_by
        || clustering != table.cluster_by
        || filter_required != table.require_partition_filter
    {
        tracing::warn!(
            table = table.name,
            ?partition,
            ?clustering,
            filter_required,
            "bigquery table layout differs from the schema registry; recreate it to change"
        );
    }
}
