//! Between the registry's values and DuckDB's: cells to append or bind, result rows to
//! decode, and DuckDB errors to [`WarehouseError`].

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use duckdb::Row;
use duckdb::types::{TimeUnit, ToSqlOutput, Value as DuckValue, ValueRef};
use vibe_warehouse::WarehouseError;
use vibe_warehouse::record::{Decoder, Value};

/// Days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

pub(crate) fn timestamp(instant: DateTime<Utc>) -> DuckValue {
    DuckValue::Timestamp(TimeUnit::Microsecond, instant.timestamp_micros())
}

pub(crate) fn date(date: NaiveDate) -> DuckValue {
    DuckValue::Date32(date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE)
}

pub(crate) fn text(value: &str) -> DuckValue {
    DuckValue::Text(value.to_owned())
}

pub(crate) fn int(value: u32) -> DuckValue {
    DuckValue::BigInt(i64::from(value))
}

/// A registry value as a DuckDB parameter; strings are borrowed, not copied.
pub(crate) struct Cell<'v, 'a>(pub(crate) &'v Value<'a>);

impl duckdb::ToSql for Cell<'_, '_> {
    fn to_sql(&self) -> duckdb::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Owned(DuckValue::Null),
            Value::String(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Int64(v) => ToSqlOutput::Owned(DuckValue::BigInt(*v)),
            Value::Bool(v) => ToSqlOutput::Owned(DuckValue::Boolean(*v)),
            Value::Timestamp(v) => ToSqlOutput::Owned(timestamp(*v)),
            Value::Date(v) => ToSqlOutput::Owned(date(*v)),
        })
    }
}

/// Reads a result row left to right, starting at column `next`.
pub(crate) struct RowDecoder<'r, 's> {
    row: &'r Row<'s>,
    next: usize,
}

impl<'r, 's> RowDecoder<'r, 's> {
    pub(crate) fn new(row: &'r Row<'s>, first_column: usize) -> Self {
        Self {
            row,
            next: first_column,
        }
    }

    fn value(&mut self) -> vibe_warehouse::Result<ValueRef<'_>> {
        let index = self.next;
        self.next += 1;
        self.row.get_ref(index).map_err(query_error)
    }
}

fn unexpected(what: &str, value: &ValueRef<'_>) -> WarehouseError {
    WarehouseError::Query(format!(
        "duckdb returned {:?} where {what} was expected",
        value.data_type()
    ))
}

impl Decoder for RowDecoder<'_, '_> {
    fn string(&mut self) -> vibe_warehouse::Result<Option<String>> {
        match self.value()? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(bytes) => String::from_utf8(bytes.to_vec())
                .map(Some)
                .map_err(|_| WarehouseError::Query("duckdb returned invalid utf-8".to_owned())),
            other => Err(unexpected("a string", &other)),
        }
    }

    fn int64(&mut self) -> vibe_warehouse::Result<Option<i64>> {
        match self.value()? {
            ValueRef::Null => Ok(None),
            ValueRef::BigInt(v) => Ok(Some(v)),
            ValueRef::Int(v) => Ok(Some(i64::from(v))),
            ValueRef::HugeInt(v) => i64::try_from(v)
                .map(Some)
                .map_err(|_| WarehouseError::Query("duckdb integer out of range".to_owned())),
            other => Err(unexpected("an integer", &other)),
        }
    }

    fn bool(&mut self) -> vibe_warehouse::Result<Option<bool>> {
        match self.value()? {
            ValueRef::Null => Ok(None),
            ValueRef::Boolean(v) => Ok(Some(v)),
            other => Err(unexpected("a boolean", &other)),
        }
    }

    fn timestamp(&mut self) -> vibe_warehouse::Result<Option<DateTime<Utc>>> {
        match self.value()? {
            ValueRef::Null => Ok(None),
            ValueRef::Timestamp(unit, v) => DateTime::from_timestamp_micros(unit.to_micros(v))
                .map(Some)
                .ok_or_else(|| WarehouseError::Query("duckdb timestamp out of range".to_owned())),
            other => Err(unexpected("a timestamp", &other)),
        }
    }

    fn date(&mut self) -> vibe_warehouse::Result<Option<NaiveDate>> {
        match self.value()? {
            ValueRef::Null => Ok(None),
            ValueRef::Date32(days) => days
                .checked_add(UNIX_EPOCH_DAYS_FROM_CE)
                .and_then(NaiveDate::from_num_days_from_ce_opt)
                .map(Some)
                .ok_or_else(|| WarehouseError::Query("duckdb date out of range".to_owned())),
            other => Err(unexpected("a date", &other)),
        }
    }
}

/// A failed statement: a bug in vibe or a schema out of date.
pub(crate) fn query_error(error: duckdb::Error) -> WarehouseError {
    WarehouseError::Query(format!("duckdb: {error}"))
}

/// A failed insert; nothing of the batch was written (it runs in one transaction).
pub(crate) fn rejected(table: &str, row: Option<usize>, error: &duckdb::Error) -> WarehouseError {
    match row {
        Some(row) => WarehouseError::Rejected(format!("duckdb {table}: row {row}: {error}")),
        None => WarehouseError::Rejected(format!("duckdb {table}: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_count_days_from_the_unix_epoch() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1);
        assert_eq!(epoch.map(date), Some(DuckValue::Date32(0)));
        let day = NaiveDate::from_ymd_opt(2026, 1, 15);
        assert_eq!(day.map(date), Some(DuckValue::Date32(20_468)));
    }
}
