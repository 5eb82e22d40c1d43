//! Writes: bulk appends through DuckDB's Appender, each batch in one transaction, so a
//! rejected row leaves nothing of its batch behind.

use std::collections::HashSet;

use duckdb::types::Value as DuckValue;
use duckdb::{Appender, Connection, appender_params_from_iter, params};
use vibe_warehouse::record::Record;
use vibe_warehouse::schema::{CATALOG_ITEMS, LINE_ITEMS, ORDERS, PAYMENTS};
use vibe_warehouse::{CatalogItem, Result, Source, TimeRange, WarehouseError};

use crate::convert::{Cell, query_error, rejected, text, timestamp};
use crate::pool::Pool;

/// Rows copied and handed to the blocking task at a time: each copy is a short stretch of
/// work on the async runtime, and appending overlaps with copying the next chunk.
const CHUNK_ROWS: usize = 8_192;

enum Feed<R> {
    Rows(Vec<R>),
    /// Everything was sent: commit. A feed that ends without it (the caller went away)
    /// rolls back.
    Done,
}

/// Appends `rows` to their table in one transaction. The rows stream to the blocking task
/// in chunks, so a 100k-row batch never holds the async runtime for long.
pub(crate) async fn append<R>(pool: &Pool, rows: &[R]) -> Result<()>
where
    R: Record + Clone + Send + Sync + 'static,
{
    if rows.is_empty() {
        return Ok(());
    }
    let (sender, receiver) = tokio::sync::mpsc::channel::<Feed<R>>(2);
    let feed = async move {
        for chunk in rows.chunks(CHUNK_ROWS) {
            if sender.send(Feed::Rows(chunk.to_vec())).await.is_err() {
                // The writer stopped (an error it reports itself).
                return;
            }
        }
        let _ = sender.send(Feed::Done).await;
    };
    let write = pool.run("insert", move |connection| {
        append_blocking(connection, receiver)
    });
    let (result, ()) = tokio::join!(write, feed);
    result
}

fn append_blocking<R: Record>(
    connection: &mut Connection,
    mut receiver: tokio::sync::mpsc::Receiver<Feed<R>>,
) -> Result<()> {
    let table = R::TABLE.name;
    let transaction = connection.transaction().map_err(query_error)?;
    let mut appender = appender::<R>(&transaction)?;
    let mut written = 0;
    loop {
        match receiver.blocking_recv() {
            Some(Feed::Rows(rows)) => {
                append_rows(&mut appender, &rows, written)?;
                written += rows.len();
            }
            Some(Feed::Done) => break,
            None => {
                return Err(WarehouseError::Unavailable(format!(
                    "duckdb {table}: insert abandoned by its caller; nothing written"
                )));
            }
        }
    }
    // Constraint violations surface here, before the commit.
    appender
        .flush()
        .map_err(|error| rejected(table, None, &error))?;
    drop(appender);
    transaction
        .commit()
        .map_err(|error| rejected(table, None, &error))?;
    tracing::debug!(table, rows = written, "duckdb rows appended");
    Ok(())
}

/// An appender naming the registry's columns: a column added by a later migration sits at
/// the table's end, not in registry order.
fn appender<R: Record>(connection: &Connection) -> Result<Appender<'_>> {
    let columns: Vec<&str> = R::TABLE.columns.iter().map(|c| c.name).collect();
    connection
        .appender_with_columns(R::TABLE.name, &columns)
        .map_err(query_error)
}

/// `first_index` numbers the rows in errors as the caller's slice does.
fn append_rows<R: Record>(
    appender: &mut Appender<'_>,
    rows: &[R],
    first_index: usize,
) -> Result<()> {
    let mut values = Vec::with_capacity(R::TABLE.columns.len());
    for (index, row) in rows.iter().enumerate() {
        values.clear();
        row.values(&mut values);
        appender
            .append_row(appender_params_from_iter(values.iter().map(Cell)))
            .map_err(|error| rejected(R::TABLE.name, Some(first_index + index), &error))?;
    }
    Ok(())
}

/// Replaces catalog items by product id: delete then append, in one transaction.
pub(crate) async fn upsert_catalog(pool: &Pool, rows: &[CatalogItem]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let rows = last_per_product(rows);
    pool.run("upsert_catalog_items", move |connection| {
        let ids = DuckValue::List(rows.iter().map(|row| text(&row.product_id)).collect());
        let transaction = connection.transaction().map_err(query_error)?;
        transaction
            .execute(
                "DELETE FROM catalog_items \
                 WHERE product_id IN (SELECT unnest(CAST($1 AS VARCHAR[])))",
                params![ids],
            )
            .map_err(query_error)?;
        let mut appender = appender::<CatalogItem>(&transaction)?;
        append_rows(&mut appender, &rows, 0)?;
        appender
            .flush()
            .map_err(|error| rejected(CATALOG_ITEMS.name, None, &error))?;
        drop(appender);
        transaction
            .commit()
            .map_err(|error| rejected(CATALOG_ITEMS.name, None, &error))?;
        tracing::debug!(rows = rows.len(), "duckdb catalog upserted");
        Ok(())
    })
    .await
}

/// The last row of each product id, in first-seen order.
fn last_per_product(rows: &[CatalogItem]) -> Vec<CatalogItem> {
    let mut seen = HashSet::new();
    let mut unique: Vec<CatalogItem> = rows
        .iter()
        .rev()
        .filter(|row| seen.insert(row.product_id.as_str()))
        .cloned()
        .collect();
    unique.reverse();
    unique
}

/// Line items first: they find their source through their orders.
pub(crate) fn delete_sales_rows(
    connection: &mut Connection,
    source: Source,
    range: TimeRange,
) -> Result<()> {
    let statements = [
        format!(
            "DELETE FROM {LINE_ITEMS} WHERE created_at >= $2 AND created_at < $3 \
             AND order_id IN (SELECT order_id FROM {ORDERS} \
             WHERE source = $1 AND created_at >= $2 AND created_at < $3)",
            LINE_ITEMS = LINE_ITEMS.name,
            ORDERS = ORDERS.name,
        ),
        format!(
            "DELETE FROM {} WHERE source = $1 AND created_at >= $2 AND created_at < $3",
            ORDERS.name
        ),
        format!(
            "DELETE FROM {} WHERE source = $1 AND created_at >= $2 AND created_at < $3",
            PAYMENTS.name
        ),
        format!(
            "DELETE FROM {} WHERE source = $1 AND updated_at >= $2 AND updated_at < $3",
            CATALOG_ITEMS.name
        ),
    ];
    let transaction = connection.transaction().map_err(query_error)?;
    let mut deleted = 0;
    for sql in &statements {
        deleted += transaction
            .execute(
                sql,
                params![
                    text(source.as_str()),
                    timestamp(range.start),
                    timestamp(range.end)
                ],
            )
            .map_err(query_error)?;
    }
    transaction.commit().map_err(query_error)?;
    tracing::info!(
        source = source.as_str(),
        deleted,
        "duckdb sales rows deleted"
    );
    Ok(())
}
