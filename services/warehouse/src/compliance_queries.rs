//! The compliance reads as portable [`Statement`]s, and how their answers are read back.
//! Every statement on an event table is bounded by its partition column.

use chrono::{DateTime, Utc};

use crate::compliance::{AttemptCount, AttemptStats, AuditCursor, AuditFilter, ProductCompliance};
use crate::record::{Decoder, Record, Value};
use crate::schema::{
    AGE_VERIFICATIONS, AUDIT_EVENTS, CATALOG_ITEMS, ColumnType, PAYMENTS, VERIFICATION_ATTEMPTS,
};
use crate::statement::{Binder, Cells, Placeholders, Statement, row_of};
use crate::{Result, SaleStatus, TimeRange, WarehouseError};

/// Customer keys per statement when counting verified customers: well inside BigQuery's
/// parameter limits and a short DuckDB `IN` list.
pub const KEYS_PER_STATEMENT: usize = 500;

use ColumnType::{Int64, String as Str, Timestamp};

fn within(binder: &mut Binder, column: &str, range: TimeRange) -> String {
    let (start, end) = (binder.time(range.start), binder.time(range.end));
    between(column, &start, &end)
}

fn between(column: &str, start: &str, end: &str) -> String {
    format!("{column} >= {start} AND {column} < {end}")
}

/// The customer's newest verification made in `range`.
pub fn latest_verification(style: Placeholders, customer_key: &str, range: TimeRange) -> Statement {
    let mut b = Binder::new(style);
    let when = within(&mut b, "verified_at", range);
    let key = b.text(customer_key);
    let sql = format!(
        "SELECT {columns} FROM {table} WHERE {when} AND customer_key = {key} \
         ORDER BY verified_at DESC, verification_id DESC LIMIT 1",
        columns = AGE_VERIFICATIONS.column_list(),
        table = AGE_VERIFICATIONS.name,
    );
    b.finish("latest_age_verification", sql, row_of(&AGE_VERIFICATIONS))
}

/// When the customer's newest attempt in `range` was made (one row, NULL if none).
pub fn latest_attempt(style: Placeholders, customer_key: &str, range: TimeRange) -> Statement {
    let mut b = Binder::new(style);
    let when = within(&mut b, "attempted_at", range);
    let key = b.text(customer_key);
    let sql = format!(
        "SELECT MAX(attempted_at) FROM {} WHERE {when} AND customer_key = {key}",
        VERIFICATION_ATTEMPTS.name
    );
    b.finish("latest_verification_attempt", sql, vec![Timestamp])
}

/// Attempts per (outcome, reason), each row carrying the window's distinct customers.
pub fn attempt_stats(style: Placeholders, range: TimeRange) -> Statement {
    let mut b = Binder::new(style);
    let (start, end) = (b.time(range.start), b.time(range.end));
    let none = b.text("");
    let verified = b.text("verified");
    let sql = format!(
        "SELECT a.outcome, a.reason, COUNT(*), MAX(d.attempted), MAX(d.verified) \
         FROM {table} AS a CROSS JOIN (\
           SELECT COUNT(DISTINCT CASE WHEN customer_key <> {none} THEN customer_key END) AS attempted, \
           COUNT(DISTINCT CASE WHEN outcome = {verified} THEN customer_key END) AS verified \
           FROM {table} WHERE {inner}) AS d \
         WHERE {outer} GROUP BY a.outcome, a.reason ORDER BY a.outcome, a.reason",
        table = VERIFICATION_ATTEMPTS.name,
        inner = between("attempted_at", &start, &end),
        outer = between("a.attempted_at", &start, &end),
    );
    b.finish("attempt_stats", sql, vec![Str, Str, Int64, Int64, Int64])
}

pub fn decode_attempt_stats(rows: Vec<Vec<Value<'static>>>) -> Result<AttemptStats> {
    let mut stats = AttemptStats::default();
    for row in rows {
        let mut cells = Cells::new(row);
        let count = AttemptCount {
            outcome: required(cells.string()?, "outcome")?,
            reason: required(cells.string()?, "reason")?,
            count: required(cells.int64()?, "count")?,
        };
        stats.customers_attempted = required(cells.int64()?, "customers attempted")?;
        stats.customers_verified = required(cells.int64()?, "customers verified")?;
        stats.counts.push(count);
    }
    Ok(stats)
}

/// Products available for sale, counted by COA and Δ9-THC evidence against the limit.
pub fn product_compliance(style: Placeholders, thc_limit_basis_points: i64) -> Statement {
    let mut b = Binder::new(style);
    let yes = b.bind(Value::Bool(true));
    let limit = b.bind(Value::Int64(thc_limit_basis_points));
    let sql = format!(
        "SELECT COUNT(*), \
         COUNT(CASE WHEN has_certificate_of_analysis THEN 1 END), \
         COUNT(delta9_thc_basis_points), \
         COUNT(CASE WHEN delta9_thc_basis_points <= {limit} THEN 1 END), \
         COUNT(CASE WHEN delta9_thc_basis_points > {limit} THEN 1 END) \
         FROM {} WHERE available = {yes}",
        CATALOG_ITEMS.name
    );
    b.finish("product_compliance", sql, vec![Int64; 5])
}

pub fn decode_product_compliance(rows: Vec<Vec<Value<'static>>>) -> Result<ProductCompliance> {
    let row = rows
        .into_iter()
        .next()
        .ok_or_else(|| WarehouseError::Query("no product compliance row".to_owned()))?;
    let mut cells = Cells::new(row);
    let mut next = |what| cells.int64().and_then(|v| required(v, what));
    Ok(ProductCompliance {
        total: next("total")?,
        with_certificate_of_analysis: next("with coa")?,
        with_known_potency: next("known potency")?,
        within_thc_limit: next("within limit")?,
        exceeding_thc_limit: next("exceeding limit")?,
    })
}

/// Distinct customer ids with a completed payment in `range`.
pub fn transacting_customers(style: Placeholders, range: TimeRange) -> Statement {
    let mut b = Binder::new(style);
    let when = within(&mut b, "created_at", range);
    let completed = b.text(SaleStatus::Completed.as_str());
    let sql = format!(
        "SELECT DISTINCT customer_id FROM {} WHERE {when} AND status = {completed} \
         AND customer_id IS NOT NULL ORDER BY customer_id",
        PAYMENTS.name
    );
    b.finish("transacting_customers", sql, vec![Str])
}

/// How many of `customer_keys` (at most [`KEYS_PER_STATEMENT`]) hold a verification made
/// in `made` that expires after `valid_after`.
pub fn verified_customers(
    style: Placeholders,
    customer_keys: &[String],
    made: TimeRange,
    valid_after: DateTime<Utc>,
) -> Statement {
    let mut b = Binder::new(style);
    let when = within(&mut b, "verified_at", made);
    let after = b.time(valid_after);
    let keys: Vec<String> = customer_keys.iter().map(|key| b.text(key)).collect();
    let sql = format!(
        "SELECT COUNT(DISTINCT customer_key) FROM {} WHERE {when} AND expires_at > {after} \
         AND customer_key IN ({})",
        AGE_VERIFICATIONS.name,
        keys.join(", ")
    );
    b.finish("verified_customers", sql, vec![Int64])
}

/// One page of audit events, newest first (then event id descending), after `after`;
/// fetched `fetch` rows long.
pub fn audit_page(
    style: Placeholders,
    filter: &AuditFilter,
    after: Option<&AuditCursor>,
    fetch: u32,
) -> Statement {
    let mut b = Binder::new(style);
    let mut conditions = vec![within(&mut b, "occurred_at", filter.range)];
    for (column, value) in [
        ("principal", &filter.principal),
        ("event_type", &filter.event_type),
        ("result", &filter.result),
        ("method", &filter.method),
    ] {
        if let Some(value) = value {
            let value = b.text(value);
            conditions.push(format!("{column} = {value}"));
        }
    }
    if let Some(after) = after {
        let time = b.time(after.occurred_at);
        let id = b.text(&after.event_id);
        conditions.push(format!(
            "(occurred_at < {time} OR (occurred_at = {time} AND event_id < {id}))"
        ));
    }
    let limit = b.bind(Value::Int64(i64::from(fetch)));
    let sql = format!(
        "SELECT {columns} FROM {table} WHERE {conditions} \
         ORDER BY occurred_at DESC, event_id DESC LIMIT {limit}",
        columns = AUDIT_EVENTS.column_list(),
        table = AUDIT_EVENTS.name,
        conditions = conditions.join(" AND "),
    );
    b.finish("list_audit_events", sql, row_of(&AUDIT_EVENTS))
}

/// Which of `event_ids` already exist among events that occurred in `range`.
pub fn existing_audit_ids(
    style: Placeholders,
    event_ids: &[String],
    range: TimeRange,
) -> Statement {
    let mut b = Binder::new(style);
    let when = within(&mut b, "occurred_at", range);
    let ids: Vec<String> = event_ids.iter().map(|id| b.text(id)).collect();
    let sql = format!(
        "SELECT DISTINCT event_id FROM {} WHERE {when} AND event_id IN ({})",
        AUDIT_EVENTS.name,
        ids.join(", ")
    );
    b.finish("existing_audit_ids", sql, vec![Str])
}

/// Rows of whole records.
pub fn decode_records<R: Record>(rows: Vec<Vec<Value<'static>>>) -> Result<Vec<R>> {
    rows.into_iter()
        .map(|row| R::decode(&mut Cells::new(row)))
        .collect()
}

/// The first cell of each row, which must not be null.
pub fn decode_first<T>(
    rows: Vec<Vec<Value<'static>>>,
    read: fn(&mut Cells) -> Result<Option<T>>,
    what: &str,
) -> Result<Vec<T>> {
    rows.into_iter()
        .map(|row| read(&mut Cells::new(row)).and_then(|value| required(value, what)))
        .collect()
}

fn required<T>(value: Option<T>, what: &str) -> Result<T> {
    value.ok_or_else(|| WarehouseError::Query(format!("null {what}")))
}
