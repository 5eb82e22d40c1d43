//! Writes: `insertAll` in batches with deterministic insert ids (a retried batch is not
//! duplicated), the catalog by MERGE, deletes in one multi-statement transaction.

use std::collections::HashSet;
use std::time::Duration;

use gcp_bigquery_client::model::query_parameter::QueryParameter;
use gcp_bigquery_client::model::table_data_insert_all_request::TableDataInsertAllRequest;
use gcp_bigquery_client::model::table_data_insert_all_request_rows::TableDataInsertAllRequestRows;
use vibe_warehouse::record::{Record, Value};
use vibe_warehouse::schema::{CATALOG_ITEMS, LINE_ITEMS, ORDERS, PAYMENTS};
use vibe_warehouse::{
    AgeVerification, AuditEvent, CatalogItem, LineItem, Order, Payment, Result, Source, TimeRange,
    VerificationAttempt, WarehouseError,
};

use crate::client::{BigQueryWarehouse, Call, map_error};
use crate::values::{json_row, string, timestamp, typed};

/// BigQuery's advice for `insertAll`: at most 500 rows and a few MB per request.
const MAX_ROWS_PER_REQUEST: usize = 500;
const MAX_BYTES_PER_REQUEST: usize = 5_000_000;
/// Attempts per batch when BigQuery is unavailable; insert ids make retries safe.
const ATTEMPTS: u32 = 3;
/// Catalog rows per MERGE (13 parameters each; BigQuery allows 10,000 per query).
const MERGE_ROWS: usize = 200;

/// The row's insert id: BigQuery drops a row whose id it saw in the last minute or so.
pub(crate) trait InsertId {
    fn insert_id(&self) -> String;
}

impl InsertId for Payment {
    fn insert_id(&self) -> String {
        format!("{}:{}", self.source.as_str(), self.payment_id)
    }
}

impl InsertId for Order {
    fn insert_id(&self) -> String {
        format!("{}:{}", self.source.as_str(), self.order_id)
    }
}

impl InsertId for LineItem {
    fn insert_id(&self) -> String {
        format!("{}#{}", self.order_id, self.line_number)
    }
}

impl InsertId for AuditEvent {
    fn insert_id(&self) -> String {
        self.event_id.clone()
    }
}

impl InsertId for VerificationAttempt {
    fn insert_id(&self) -> String {
        self.attempt_id.clone()
    }
}

impl InsertId for AgeVerification {
    fn insert_id(&self) -> String {
        self.verification_id.clone()
    }
}

/// Streams `rows` in as few requests as the limits allow. A batch is all or nothing;
/// when one fails, the batches before it are written and the error says from which row.
pub(crate) async fn insert_all<R: Record + InsertId>(
    warehouse: &BigQueryWarehouse,
    rows: &[R],
) -> Result<()> {
    let table = R::TABLE.name;
    let mut batch: Vec<TableDataInsertAllRequestRows> = Vec::new();
    let mut batch_bytes = 0;
    let mut batch_start = 0;
    for (index, row) in rows.iter().enumerate() {
        let json = json_row(row);
        let bytes = serde_json::to_vec(&json).map_or(0, |encoded| encoded.len());
        if !batch.is_empty()
            && (batch.len() >= MAX_ROWS_PER_REQUEST || batch_bytes + bytes > MAX_BYTES_PER_REQUEST)
        {
            send(warehouse, table, std::mem::take(&mut batch), batch_start).await?;
            batch_bytes = 0;
            batch_start = index;
        }
        batch.push(TableDataInsertAllRequestRows {
            insert_id: Some(row.insert_id()),
            json,
        });
        batch_bytes += bytes;
    }
    if !batch.is_empty() {
        send(warehouse, table, batch, batch_start).await?;
    }
    tracing::debug!(table, rows = rows.len(), "bigquery rows inserted");
    Ok(())
}

async fn send(
    warehouse: &BigQueryWarehouse,
    table: &'static str,
    rows: Vec<TableDataInsertAllRequestRows>,
    first_row: usize,
) -> Result<()> {
    let count = rows.len();
    let mut request = TableDataInsertAllRequest::new();
    request
        .add_rows(rows)
        .map_err(|e| map_error(Call::Insert, e))?;
    let settings = &warehouse.settings;
    let mut attempt = 1;
    let response = loop {
        let result = warehouse
            .bounded("insert_all", async {
                warehouse
                    .client()
                    .tabledata()
                    .insert_all(&settings.project, &settings.dataset, table, request.clone())
                    .await
                    .map_err(|e| map_error(Call::Insert, e))
            })
            .await;
        match result {
            Err(WarehouseError::Unavailable(reason)) if attempt < ATTEMPTS => {
                tracing::warn!(table, attempt, reason, "bigquery insert retried");
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt * attempt))).await;
                attempt += 1;
            }
            Err(error) => return Err(with_rows(error, table, first_row, count)),
            Ok(response) => break response,
        }
    };
    let Some(errors) = response.insert_errors.filter(|errors| !errors.is_empty()) else {
        return Ok(());
    };
    // Name the offending rows and fields; never their values.
    let described: Vec<String> = errors
        .iter()
        .filter_map(|row_errors| {
            let index = usize::try_from(row_errors.index?).ok()? + first_row;
            let details: Vec<String> = row_errors
                .errors
                .iter()
                .flatten()
                .filter(|e| e.reason.as_deref() != Some("stopped"))
                .map(|e| {
                    format!(
                        "{} in {}",
                        e.reason.as_deref().unwrap_or("invalid"),
                        e.location.as_deref().unwrap_or("row")
                    )
                })
                .collect();
            (!details.is_empty()).then(|| format!("row {index}: {}", details.join(", ")))
        })
        .take(5)
        .collect();
    Err(WarehouseError::Rejected(format!(
        "bigquery {table}: rows {first_row}..{} not written ({})",
        first_row + count,
        described.join("; ")
    )))
}

fn with_rows(error: WarehouseError, table: &str, first_row: usize, count: usize) -> WarehouseError {
    let rows = format!(
        "bigquery {table}: rows {first_row}..{} not written",
        first_row + count
    );
    match error {
        WarehouseError::Rejected(why) => WarehouseError::Rejected(format!("{rows}: {why}")),
        WarehouseError::Unavailable(why) => WarehouseError::Unavailable(format!("{rows}: {why}")),
        WarehouseError::Query(why) => WarehouseError::Query(format!("{rows}: {why}")),
        WarehouseError::Config(why) => WarehouseError::Config(format!("{rows}: {why}")),
    }
}

/// Replaces catalog items by product id with MERGE (atomic per statement; the catalog
/// is not partitioned, so nothing needs a partition filter).
pub(crate) async fn merge_catalog(
    warehouse: &BigQueryWarehouse,
    rows: &[CatalogItem],
) -> Result<()> {
    let mut seen = HashSet::new();
    let mut unique: Vec<&CatalogItem> = rows
        .iter()
        .rev()
        .filter(|row| seen.insert(row.product_id.as_str()))
        .collect();
    unique.reverse();
    for chunk in unique.chunks(MERGE_ROWS) {
        let (sql, params) = merge_statement(chunk);
        warehouse.query("upsert_catalog_items", sql, params).await?;
    }
    Ok(())
}

fn merge_statement(rows: &[&CatalogItem]) -> (String, Vec<QueryParameter>) {
    let columns = CATALOG_ITEMS.columns;
    let mut params = Vec::with_capacity(rows.len() * columns.len());
    let mut selects = Vec::with_capacity(rows.len());
    let mut values: Vec<Value<'_>> = Vec::with_capacity(columns.len());
    for (r, row) in rows.iter().enumerate() {
        values.clear();
        row.values(&mut values);
        let mut fields = Vec::with_capacity(columns.len());
        for (c, (column, value)) in columns.iter().zip(&values).enumerate() {
            let name = format!("r{r}_{c}");
            fields.push(format!("@{name} AS {}", column.name));
            params.push(typed(&name, column.ty, value));
        }
        selects.push(format!("SELECT {}", fields.join(", ")));
    }
    let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
    let updates: Vec<String> = names
        .iter()
        .filter(|name| **name != "product_id")
        .map(|name| format!("{name} = s.{name}"))
        .collect();
    let sql = format!(
        "MERGE {table} AS t USING ({source}) AS s ON t.product_id = s.product_id \
         WHEN MATCHED THEN UPDATE SET {updates} \
         WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values})",
        table = CATALOG_ITEMS.name,
        source = selects.join(" UNION ALL "),
        updates = updates.join(", "),
        columns = names.join(", "),
        values = names
            .iter()
            .map(|name| format!("s.{name}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    (sql, params)
}

/// One script, one transaction; every event-table statement carries its partition filter.
pub(crate) async fn delete_sales_rows(
    warehouse: &BigQueryWarehouse,
    source: Source,
    range: TimeRange,
) -> Result<()> {
    let window = "created_at >= @start AND created_at < @end";
    let sql = format!(
        "BEGIN TRANSACTION;\n\
         DELETE FROM {lines} WHERE {window} AND order_id IN \
         (SELECT order_id FROM {orders} WHERE source = @source AND {window});\n\
         DELETE FROM {orders} WHERE source = @source AND {window};\n\
         DELETE FROM {payments} WHERE source = @source AND {window};\n\
         DELETE FROM {catalog} WHERE source = @source \
         AND updated_at >= @start AND updated_at < @end;\n\
         COMMIT TRANSACTION;",
        lines = LINE_ITEMS.name,
        orders = ORDERS.name,
        payments = PAYMENTS.name,
        catalog = CATALOG_ITEMS.name,
    );
    let params = vec![
        string("source", source.as_str()),
        timestamp("start", range.start),
        timestamp("end", range.end),
    ];
    warehouse.query("delete_sales_rows", sql, params).await?;
    tracing::info!(source = source.as_str(), "bigquery sales rows deleted");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_ids_are_deterministic_and_distinct() {
        let line = |order: &str, n: i64| LineItem {
            order_id: order.to_owned(),
            line_number: n,
            product_id: String::new(),
            product_name: String::new(),
            category: String::new(),
            quantity: 1,
            unit_price_cents: 1,
            gross_cents: 1,
            currency: String::new(),
            order_status: vibe_warehouse::SaleStatus::Completed,
            created_at: chrono::DateTime::UNIX_EPOCH,
            business_date: chrono::NaiveDate::MIN,
        };
        assert_eq!(line("o", 1).insert_id(), line("o", 1).insert_id());
        assert_ne!(line("o", 1).insert_id(), line("o", 2).insert_id());
        assert_ne!(line("o1", 1).insert_id(), line("o", 11).insert_id());
    }
}
