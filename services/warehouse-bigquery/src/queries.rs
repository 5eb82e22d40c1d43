//! Reads, in GoogleSQL. Every aggregate runs in BigQuery; every statement on an event
//! table filters its partition column (BigQuery rejects the query otherwise); every value
//! is a named parameter.

use gcp_bigquery_client::model::query_parameter::QueryParameter;
use gcp_bigquery_client::model::table_row::TableRow;
use vibe_warehouse::record::{Decoder, Record, Value};
use vibe_warehouse::schema::{
    CATALOG_ITEMS, LINE_ITEMS, ORDERS, PAYMENTS, catalog_page_sql, newest_rows_sql,
    top_products_ranking,
};
use vibe_warehouse::statement::{Placeholders, Statement, read_row};
use vibe_warehouse::{
    CatalogItem, DailySales, LineItemTotals, MonthlySales, Payment, ProductCursor, ProductFilter,
    ProductPage, Result, SaleStatus, SalesTotals, Source, TimeRange, TopProduct, TopProductsOrder,
    WarehouseError,
};

use crate::client::BigQueryWarehouse;
use crate::values::{CellDecoder, boolean, int64, string, timestamp, typed_value};

const TOTALS: &str = "COALESCE(SUM(amount_cents), 0), COUNT(*), COUNT(DISTINCT customer_id)";

fn completed() -> QueryParameter {
    string("completed", SaleStatus::Completed.as_str())
}

fn window(range: TimeRange) -> [QueryParameter; 2] {
    [timestamp("start", range.start), timestamp("end", range.end)]
}

fn int_at(row: &TableRow, index: usize) -> Result<i64> {
    CellDecoder::new(row, index)
        .int64()?
        .ok_or_else(|| WarehouseError::Query(format!("bigquery column {index} is null")))
}

fn string_at(row: &TableRow, index: usize) -> Result<String> {
    CellDecoder::new(row, index)
        .string()?
        .ok_or_else(|| WarehouseError::Query(format!("bigquery column {index} is null")))
}

fn totals_at(row: &TableRow, first: usize) -> Result<SalesTotals> {
    Ok(SalesTotals {
        revenue_cents: int_at(row, first)?,
        transactions: int_at(row, first + 1)?,
        distinct_customers: int_at(row, first + 2)?,
    })
}

fn first_row(rows: Vec<TableRow>, what: &str) -> Result<TableRow> {
    rows.into_iter()
        .next()
        .ok_or_else(|| WarehouseError::Query(format!("bigquery returned no {what} row")))
}

pub(crate) async fn ping(warehouse: &BigQueryWarehouse) -> Result<()> {
    warehouse
        .query("ping", "SELECT 1".to_owned(), Vec::new())
        .await
        .map(|_| ())
}

/// One scan for all ranges: conditional aggregates per range, and an outer filter on the
/// span they cover, which prunes partitions.
pub(crate) async fn sales_totals(
    warehouse: &BigQueryWarehouse,
    ranges: &[TimeRange],
) -> Result<Vec<SalesTotals>> {
    let (Some(min), Some(max)) = (
        ranges.iter().map(|r| r.start).min(),
        ranges.iter().map(|r| r.end).max(),
    ) else {
        return Ok(Vec::new());
    };
    let mut params = vec![
        completed(),
        timestamp("span_start", min),
        timestamp("span_end", max),
    ];
    let mut columns = Vec::with_capacity(ranges.len() * 3);
    for (i, range) in ranges.iter().enumerate() {
        let within = format!("created_at >= @s{i} AND created_at < @e{i}");
        columns.push(format!(
            "COALESCE(SUM(CASE WHEN {within} THEN amount_cents END), 0)"
        ));
        columns.push(format!("COUNTIF({within})"));
        columns.push(format!(
            "COUNT(DISTINCT CASE WHEN {within} THEN customer_id END)"
        ));
        params.push(timestamp(&format!("s{i}"), range.start));
        params.push(timestamp(&format!("e{i}"), range.end));
    }
    let sql = format!(
        "SELECT {} FROM {} WHERE status = @completed \
         AND created_at >= @span_start AND created_at < @span_end",
        columns.join(", "),
        PAYMENTS.name
    );
    let row = first_row(
        warehouse.query("sales_totals", sql, params).await?,
        "totals",
    )?;
    (0..ranges.len()).map(|i| totals_at(&row, 3 * i)).collect()
}

pub(crate) async fn recent_payments(
    warehouse: &BigQueryWarehouse,
    range: TimeRange,
    limit: u32,
) -> Result<Vec<Payment>> {
    newest(warehouse, "recent_payments", "payment_id", range, limit).await
}

/// The newest rows of `R`'s table in `range` (see [`newest_rows_sql`]).
async fn newest<R: Record>(
    warehouse: &BigQueryWarehouse,
    query: &'static str,
    id_column: &str,
    range: TimeRange,
    limit: u32,
) -> Result<Vec<R>> {
    let sql = newest_rows_sql(R::TABLE, id_column, "@start", "@end", "@limit");
    let mut params = window(range).to_vec();
    params.push(int64("limit", i64::from(limit)));
    let rows = warehouse.query(query, sql, params).await?;
    rows.iter()
        .map(|row| R::decode(&mut CellDecoder::new(row, 0)))
        .collect()
}

pub(crate) async fn daily_sales(
    warehouse: &BigQueryWarehouse,
    range: TimeRange,
) -> Result<Vec<DailySales>> {
    let sql = format!(
        "SELECT business_date, {TOTALS} FROM {} \
         WHERE created_at >= @start AND created_at < @end AND status = @completed \
         GROUP BY business_date ORDER BY business_date",
        PAYMENTS.name
    );
    let mut params = window(range).to_vec();
    params.push(completed());
    let rows = warehouse.query("daily_sales", sql, params).await?;
    rows.iter()
        .map(|row| {
            let date = CellDecoder::new(row, 0)
                .date()?
                .ok_or_else(|| WarehouseError::Query("null business_date".to_owned()))?;
            Ok(DailySales {
                date,
                totals: totals_at(row, 1)?,
            })
        })
        .collect()
}

pub(crate) async fn monthly_sales(
    warehouse: &BigQueryWarehouse,
    range: TimeRange,
) -> Result<Vec<MonthlySales>> {
    let sql = format!(
        "SELECT EXTRACT(YEAR FROM business_date) AS y, EXTRACT(MONTH FROM business_date) AS m, \
         {TOTALS} FROM {} \
         WHERE created_at >= @start AND created_at < @end AND status = @completed \
         GROUP BY y, m ORDER BY y, m",
        PAYMENTS.name
    );
    let mut params = window(range).to_vec();
    params.push(completed());
    let rows = warehouse.query("monthly_sales", sql, params).await?;
    let out_of_range = |_| WarehouseError::Query("bigquery month out of range".to_owned());
    rows.iter()
        .map(|row| {
            Ok(MonthlySales {
                year: i32::try_from(int_at(row, 0)?).map_err(out_of_range)?,
                month: u32::try_from(int_at(row, 1)?).map_err(out_of_range)?,
                totals: totals_at(row, 2)?,
            })
        })
        .collect()
}

pub(crate) async fn top_products(
    warehouse: &BigQueryWarehouse,
    range: TimeRange,
    order: TopProductsOrder,
    limit: u32,
) -> Result<Vec<TopProduct>> {
    let ranking = top_products_ranking(order);
    let latest = |column: &str| {
        format!(
            "ARRAY_AGG({column} ORDER BY created_at DESC, order_id DESC, line_number DESC \
             LIMIT 1)[OFFSET(0)]"
        )
    };
    let sql = format!(
        "SELECT product_id, {name}, {category}, SUM(quantity) AS units, \
         SUM(gross_cents) AS revenue FROM {table} \
         WHERE created_at >= @start AND created_at < @end AND order_status = @completed \
         GROUP BY product_id ORDER BY {ranking} LIMIT @limit",
        name = latest("product_name"),
        category = latest("category"),
        table = LINE_ITEMS.name,
    );
    let mut params = window(range).to_vec();
    params.push(completed());
    params.push(int64("limit", i64::from(limit)));
    let rows = warehouse.query("top_products", sql, params).await?;
    rows.iter()
        .map(|row| {
            Ok(TopProduct {
                product_id: string_at(row, 0)?,
                name: string_at(row, 1)?,
                category: string_at(row, 2)?,
                units: int_at(row, 3)?,
                revenue_cents: int_at(row, 4)?,
            })
        })
        .collect()
}

pub(crate) async fn line_item_totals(
    warehouse: &BigQueryWarehouse,
    range: TimeRange,
) -> Result<LineItemTotals> {
    let sql = format!(
        "SELECT COALESCE(SUM(gross_cents), 0), COALESCE(SUM(quantity), 0) FROM {} \
         WHERE created_at >= @start AND created_at < @end AND order_status = @completed",
        LINE_ITEMS.name
    );
    let mut params = window(range).to_vec();
    params.push(completed());
    let row = first_row(
        warehouse.query("line_item_totals", sql, params).await?,
        "line item totals",
    )?;
    Ok(LineItemTotals {
        revenue_cents: int_at(&row, 0)?,
        units: int_at(&row, 1)?,
    })
}

/// One page and the total in one query: the count joins the page, so an empty page still
/// returns one row (with a null product).
pub(crate) async fn list_products(
    warehouse: &BigQueryWarehouse,
    filter: &ProductFilter,
    after: Option<&ProductCursor>,
    limit: u32,
) -> Result<ProductPage> {
    let mut params = Vec::new();
    let mut conditions = vec!["TRUE".to_owned()];
    if let Some(needle) = filter.text.as_deref().filter(|t| !t.is_empty()) {
        params.push(string("text", needle));
        conditions.push(
            "(STRPOS(LOWER(name), LOWER(@text)) > 0 OR STRPOS(LOWER(sku), LOWER(@text)) > 0 \
             OR STRPOS(LOWER(description), LOWER(@text)) > 0)"
                .to_owned(),
        );
    }
    if let Some(category) = &filter.category {
        params.push(string("category", category));
        conditions.push("category = @category".to_owned());
    }
    if let Some(available) = filter.available {
        params.push(boolean("available", available));
        conditions.push("available = @available".to_owned());
    }
    let mut cursor = "TRUE";
    if let Some(after) = after {
        params.push(string("after_name", &after.name));
        params.push(string("after_id", &after.product_id));
        cursor = "(name > @after_name OR (name = @after_name AND product_id > @after_id))";
    }
    // One row more than the page tells whether another page follows.
    params.push(int64("fetch", i64::from(limit) + 1));
    let sql = catalog_page_sql(&conditions, cursor, "@fetch");
    let rows = warehouse.query("list_products", sql, params).await?;
    let mut total = 0;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        total = int_at(row, 0)?;
        if CellDecoder::new(row, 1).string()?.is_some() {
            items.push(CatalogItem::decode(&mut CellDecoder::new(row, 1))?);
        }
    }
    Ok(ProductPage::from_fetched(items, limit, total))
}

pub(crate) async fn product_categories(warehouse: &BigQueryWarehouse) -> Result<Vec<String>> {
    let sql = format!(
        "SELECT DISTINCT category FROM {} ORDER BY category",
        CATALOG_ITEMS.name
    );
    let rows = warehouse
        .query("product_categories", sql, Vec::new())
        .await?;
    rows.iter().map(|row| string_at(row, 0)).collect()
}

pub(crate) async fn count_sales_rows(
    warehouse: &BigQueryWarehouse,
    source: Source,
    range: TimeRange,
) -> Result<[i64; 3]> {
    let window = "created_at >= @start AND created_at < @end";
    let sql = format!(
        "SELECT \
         (SELECT COUNT(*) FROM {payments} WHERE source = @source AND {window}), \
         (SELECT COUNT(*) FROM {orders} WHERE source = @source AND {window}), \
         (SELECT COUNT(*) FROM {lines} WHERE {window} AND order_id IN \
          (SELECT order_id FROM {orders} WHERE source = @source AND {window}))",
        payments = PAYMENTS.name,
        orders = ORDERS.name,
        lines = LINE_ITEMS.name,
    );
    let mut params = self::window(range).to_vec();
    params.push(string("source", source.as_str()));
    let row = first_row(
        warehouse.query("count_sales_rows", sql, params).await?,
        "count",
    )?;
    Ok([int_at(&row, 0)?, int_at(&row, 1)?, int_at(&row, 2)?])
}

/// Runs a portable statement; parameter n is named `p{n}`.
pub(crate) async fn fetch(
    warehouse: &BigQueryWarehouse,
    statement: &Statement,
) -> Result<Vec<Vec<Value<'static>>>> {
    let params = statement
        .params
        .iter()
        .enumerate()
        .map(|(i, value)| typed_value(&Placeholders::name(i + 1), value))
        .collect();
    let rows = warehouse
        .query(statement.name, statement.sql.clone(), params)
        .await?;
    rows.iter()
        .map(|row| read_row(&mut CellDecoder::new(row, 0), &statement.columns))
        .collect()
}
