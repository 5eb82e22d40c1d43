//! Reads. Every aggregate runs in DuckDB; every read of an event table is bounded by a
//! UTC range on its event time; every value is a bound parameter.

use duckdb::types::Value as DuckValue;
use duckdb::{Connection, Row, params_from_iter};
use vibe_warehouse::record::{Record, Value};
use vibe_warehouse::schema::{
    CATALOG_ITEMS, LINE_ITEMS, ORDERS, PAYMENTS, catalog_page_sql, newest_rows_sql,
    top_products_ranking,
};
use vibe_warehouse::statement::{Statement, read_row};
use vibe_warehouse::{
    CatalogItem, DailySales, LineItemTotals, MonthlySales, Payment, ProductCursor, ProductFilter,
    ProductPage, Result, SaleStatus, SalesTotals, Source, TimeRange, TopProduct, TopProductsOrder,
    WarehouseError,
};

use crate::convert::{Cell, RowDecoder, int, query_error, text, timestamp};

fn completed() -> DuckValue {
    text(SaleStatus::Completed.as_str())
}

/// Runs `sql` with `params` and maps every row.
fn select<T, P: duckdb::ToSql>(
    connection: &Connection,
    sql: &str,
    params: impl IntoIterator<Item = P>,
    mut map: impl FnMut(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut statement = connection.prepare_cached(sql).map_err(query_error)?;
    let mut rows = statement
        .query(params_from_iter(params))
        .map_err(query_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(query_error)? {
        out.push(map(row)?);
    }
    Ok(out)
}

fn get_i64(row: &Row<'_>, index: usize) -> Result<i64> {
    row.get::<_, i64>(index).map_err(query_error)
}

/// Revenue, transactions and customers in columns `first..first + 3`.
fn totals_at(row: &Row<'_>, first: usize) -> Result<SalesTotals> {
    Ok(SalesTotals {
        revenue_cents: get_i64(row, first)?,
        transactions: get_i64(row, first + 1)?,
        distinct_customers: get_i64(row, first + 2)?,
    })
}

const TOTALS: &str = "CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT), COUNT(*), \
                      COUNT(DISTINCT customer_id)";

pub(crate) fn ping(connection: &mut Connection) -> Result<()> {
    select(connection, "SELECT 1", Vec::<DuckValue>::new(), |_| Ok(())).map(|_| ())
}

/// One aggregate per range, each bounded by its own range, in one statement. DuckDB runs
/// the branches as parallel pipelines and prunes each by its range; one scan with
/// conditional aggregates (what BigQuery gets) costs twice as much here, because every
/// row of the widest range pays for every range's `COUNT(DISTINCT ...)`.
pub(crate) fn sales_totals(
    connection: &mut Connection,
    ranges: &[TimeRange],
) -> Result<Vec<SalesTotals>> {
    if ranges.is_empty() {
        return Ok(Vec::new());
    }
    // $1 status, then a start and an end per range.
    let mut params = vec![completed()];
    let mut branches = Vec::with_capacity(ranges.len());
    for (i, range) in ranges.iter().enumerate() {
        let (start, end) = (2 + 2 * i, 3 + 2 * i);
        branches.push(format!(
            "SELECT {i} AS range_index, {TOTALS} FROM {} \
             WHERE status = $1 AND created_at >= ${start} AND created_at < ${end}",
            PAYMENTS.name
        ));
        params.push(timestamp(range.start));
        params.push(timestamp(range.end));
    }
    let sql = format!("{} ORDER BY range_index", branches.join(" UNION ALL "));
    let totals = select(connection, &sql, params, |row| totals_at(row, 1))?;
    if totals.len() != ranges.len() {
        return Err(WarehouseError::Query(format!(
            "duckdb returned {} totals rows for {} ranges",
            totals.len(),
            ranges.len()
        )));
    }
    Ok(totals)
}

pub(crate) fn recent_payments(
    connection: &mut Connection,
    range: TimeRange,
    limit: u32,
) -> Result<Vec<Payment>> {
    newest(connection, "payment_id", range, limit)
}

/// The newest rows of `R`'s table in `range` (see [`newest_rows_sql`]).
fn newest<R: Record>(
    connection: &mut Connection,
    id_column: &str,
    range: TimeRange,
    limit: u32,
) -> Result<Vec<R>> {
    let sql = newest_rows_sql(R::TABLE, id_column, "$1", "$2", "$3");
    select(
        connection,
        &sql,
        vec![timestamp(range.start), timestamp(range.end), int(limit)],
        |row| R::decode(&mut RowDecoder::new(row, 0)),
    )
}

pub(crate) fn daily_sales(
    connection: &mut Connection,
    range: TimeRange,
) -> Result<Vec<DailySales>> {
    let sql = format!(
        "SELECT business_date, {TOTALS} FROM {} \
         WHERE created_at >= $1 AND created_at < $2 AND status = $3 \
         GROUP BY business_date ORDER BY business_date",
        PAYMENTS.name
    );
    select(
        connection,
        &sql,
        vec![timestamp(range.start), timestamp(range.end), completed()],
        |row| {
            let date = vibe_warehouse::record::Decoder::date(&mut RowDecoder::new(row, 0))?
                .ok_or_else(|| WarehouseError::Query("null business_date".to_owned()))?;
            Ok(DailySales {
                date,
                totals: totals_at(row, 1)?,
            })
        },
    )
}

pub(crate) fn monthly_sales(
    connection: &mut Connection,
    range: TimeRange,
) -> Result<Vec<MonthlySales>> {
    let sql = format!(
        "SELECT CAST(EXTRACT(YEAR FROM business_date) AS BIGINT) AS y, \
         CAST(EXTRACT(MONTH FROM business_date) AS BIGINT) AS m, {TOTALS} FROM {} \
         WHERE created_at >= $1 AND created_at < $2 AND status = $3 \
         GROUP BY y, m ORDER BY y, m",
        PAYMENTS.name
    );
    select(
        connection,
        &sql,
        vec![timestamp(range.start), timestamp(range.end), completed()],
        |row| {
            let out_of_range = |_| WarehouseError::Query("duckdb month out of range".to_owned());
            Ok(MonthlySales {
                year: i32::try_from(get_i64(row, 0)?).map_err(out_of_range)?,
                month: u32::try_from(get_i64(row, 1)?).map_err(out_of_range)?,
                totals: totals_at(row, 2)?,
            })
        },
    )
}

pub(crate) fn top_products(
    connection: &mut Connection,
    range: TimeRange,
    order: TopProductsOrder,
    limit: u32,
) -> Result<Vec<TopProduct>> {
    let ranking = top_products_ranking(order);
    let latest = "ORDER BY created_at DESC, order_id DESC, line_number DESC";
    let sql = format!(
        "SELECT product_id, first(product_name {latest}), first(category {latest}), \
         CAST(SUM(quantity) AS BIGINT) AS units, CAST(SUM(gross_cents) AS BIGINT) AS revenue \
         FROM {} WHERE created_at >= $1 AND created_at < $2 AND order_status = $3 \
         GROUP BY product_id ORDER BY {ranking} LIMIT $4",
        LINE_ITEMS.name
    );
    select(
        connection,
        &sql,
        vec![
            timestamp(range.start),
            timestamp(range.end),
            completed(),
            int(limit),
        ],
        |row| {
            Ok(TopProduct {
                product_id: row.get(0).map_err(query_error)?,
                name: row.get(1).map_err(query_error)?,
                category: row.get(2).map_err(query_error)?,
                units: get_i64(row, 3)?,
                revenue_cents: get_i64(row, 4)?,
            })
        },
    )
}

pub(crate) fn line_item_totals(
    connection: &mut Connection,
    range: TimeRange,
) -> Result<LineItemTotals> {
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(gross_cents), 0) AS BIGINT), \
         CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM {} \
         WHERE created_at >= $1 AND created_at < $2 AND order_status = $3",
        LINE_ITEMS.name
    );
    let rows = select(
        connection,
        &sql,
        vec![timestamp(range.start), timestamp(range.end), completed()],
        |row| {
            Ok(LineItemTotals {
                revenue_cents: get_i64(row, 0)?,
                units: get_i64(row, 1)?,
            })
        },
    )?;
    rows.into_iter()
        .next()
        .ok_or_else(|| WarehouseError::Query("duckdb returned no line item totals row".to_owned()))
}

/// One page and the total in one query: the count joins the page, so an empty page still
/// returns one row (with a null product).
pub(crate) fn list_products(
    connection: &mut Connection,
    filter: &ProductFilter,
    after: Option<&ProductCursor>,
    limit: u32,
) -> Result<ProductPage> {
    let mut params = Vec::new();
    let mut bind = |value: DuckValue| {
        params.push(value);
        params.len()
    };
    let mut conditions = vec!["TRUE".to_owned()];
    if let Some(needle) = filter.text.as_deref().filter(|t| !t.is_empty()) {
        let n = bind(text(needle));
        conditions.push(format!(
            "(strpos(lower(name), lower(${n})) > 0 OR strpos(lower(sku), lower(${n})) > 0 \
             OR strpos(lower(description), lower(${n})) > 0)"
        ));
    }
    if let Some(category) = &filter.category {
        let n = bind(text(category));
        conditions.push(format!("category = ${n}"));
    }
    if let Some(available) = filter.available {
        let n = bind(DuckValue::Boolean(available));
        conditions.push(format!("available = ${n}"));
    }
    let mut cursor = "TRUE".to_owned();
    if let Some(after) = after {
        let name = bind(text(&after.name));
        let id = bind(text(&after.product_id));
        cursor = format!("(name > ${name} OR (name = ${name} AND product_id > ${id}))");
    }
    // One row more than the page tells whether another page follows.
    let fetch = bind(DuckValue::BigInt(i64::from(limit) + 1));
    let sql = catalog_page_sql(&conditions, &cursor, &format!("${fetch}"));
    let mut total = 0;
    let rows = select(connection, &sql, params, |row| {
        total = get_i64(row, 0)?;
        let present = !matches!(
            row.get_ref(1).map_err(query_error)?,
            duckdb::types::ValueRef::Null
        );
        present
            .then(|| CatalogItem::decode(&mut RowDecoder::new(row, 1)))
            .transpose()
    })?;
    Ok(ProductPage::from_fetched(
        rows.into_iter().flatten().collect(),
        limit,
        total,
    ))
}

pub(crate) fn product_categories(connection: &mut Connection) -> Result<Vec<String>> {
    let sql = format!(
        "SELECT DISTINCT category FROM {} ORDER BY category",
        CATALOG_ITEMS.name
    );
    select(connection, &sql, Vec::<DuckValue>::new(), |row| {
        row.get(0).map_err(query_error)
    })
}

pub(crate) fn count_sales_rows(
    connection: &mut Connection,
    source: Source,
    range: TimeRange,
) -> Result<[i64; 3]> {
    let orders_of_source = format!(
        "SELECT order_id FROM {} WHERE source = $1 AND created_at >= $2 AND created_at < $3",
        ORDERS.name
    );
    let sql = format!(
        "SELECT \
         (SELECT COUNT(*) FROM {payments} WHERE source = $1 AND created_at >= $2 AND created_at < $3), \
         (SELECT COUNT(*) FROM {orders} WHERE source = $1 AND created_at >= $2 AND created_at < $3), \
         (SELECT COUNT(*) FROM {lines} WHERE created_at >= $2 AND created_at < $3 \
          AND order_id IN ({orders_of_source}))",
        payments = PAYMENTS.name,
        orders = ORDERS.name,
        lines = LINE_ITEMS.name,
    );
    let rows = select(
        connection,
        &sql,
        vec![
            text(source.as_str()),
            timestamp(range.start),
            timestamp(range.end),
        ],
        |row| Ok([get_i64(row, 0)?, get_i64(row, 1)?, get_i64(row, 2)?]),
    )?;
    rows.into_iter()
        .next()
        .ok_or_else(|| WarehouseError::Query("duckdb returned no count row".to_owned()))
}

/// Runs a portable statement, reading each row as the statement's column types.
pub(crate) fn fetch(
    connection: &mut Connection,
    statement: &Statement,
) -> Result<Vec<Vec<Value<'static>>>> {
    select(
        connection,
        &statement.sql,
        statement.params.iter().map(Cell),
        |row| read_row(&mut RowDecoder::new(row, 0), &statement.columns),
    )
}
