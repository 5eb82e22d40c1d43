//! Portable reads: SQL that both backends run as written, with placeholders each renders
//! its own way (`$1` in DuckDB, `@p1` in BigQuery), its bound values, and the type of each
//! selected column. A backend only has to run a [`Statement`] and hand back its cells
//! ([`crate::Warehouse::fetch`]); decoding is shared.

use std::collections::VecDeque;

use chrono::{DateTime, NaiveDate, Utc};

use crate::record::{Decoder, Value};
use crate::schema::{ColumnType, Table};
use crate::{Result, WarehouseError};

/// How a backend writes the placeholder of the n-th (1-based) parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholders {
    /// `$1`, `$2`, ... (DuckDB).
    Positional,
    /// `@p1`, `@p2`, ... (BigQuery named parameters).
    Named,
}

impl Placeholders {
    pub fn render(self, n: usize) -> String {
        match self {
            Placeholders::Positional => format!("${n}"),
            Placeholders::Named => format!("@{}", Self::name(n)),
        }
    }

    /// The BigQuery parameter name of the n-th parameter.
    pub fn name(n: usize) -> String {
        format!("p{n}")
    }
}

/// One read: SQL, its parameters in placeholder order, and its result columns' types.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// A short label for metrics and logs, e.g. `attempt_stats`.
    pub name: &'static str,
    pub sql: String,
    /// Never null: a typed null has no portable spelling.
    pub params: Vec<Value<'static>>,
    pub columns: Vec<ColumnType>,
}

/// Builds a [`Statement`]: `bind` returns the placeholder text to splice into the SQL.
pub(crate) struct Binder {
    style: Placeholders,
    params: Vec<Value<'static>>,
}

impl Binder {
    pub(crate) fn new(style: Placeholders) -> Self {
        Self {
            style,
            params: Vec::new(),
        }
    }

    pub(crate) fn bind(&mut self, value: Value<'static>) -> String {
        self.params.push(value);
        self.style.render(self.params.len())
    }

    pub(crate) fn text(&mut self, value: &str) -> String {
        self.bind(Value::String(value.to_owned().into()))
    }

    pub(crate) fn time(&mut self, value: DateTime<Utc>) -> String {
        self.bind(Value::Timestamp(value))
    }

    pub(crate) fn finish(
        self,
        name: &'static str,
        sql: String,
        columns: Vec<ColumnType>,
    ) -> Statement {
        Statement {
            name,
            sql,
            params: self.params,
            columns,
        }
    }
}

/// The column types of a whole table row, for `SELECT` of [`Table::column_list`].
pub(crate) fn row_of(table: &Table) -> Vec<ColumnType> {
    table.columns.iter().map(|column| column.ty).collect()
}

/// Reads one result row as owned cells, one per expected column type.
pub fn read_row(row: &mut dyn Decoder, columns: &[ColumnType]) -> Result<Vec<Value<'static>>> {
    columns
        .iter()
        .map(|ty| {
            let value = match ty {
                ColumnType::String | ColumnType::JsonText => {
                    row.string()?.map(|s| Value::String(s.into()))
                }
                ColumnType::Int64 => row.int64()?.map(Value::Int64),
                ColumnType::Bool => row.bool()?.map(Value::Bool),
                ColumnType::Timestamp => row.timestamp()?.map(Value::Timestamp),
                ColumnType::Date => row.date()?.map(Value::Date),
            };
            Ok(value.unwrap_or(Value::Null))
        })
        .collect()
}

/// Owned cells read back in order: decodes a fetched row with [`crate::record::Record::decode`]
/// or by hand.
pub struct Cells(VecDeque<Value<'static>>);

impl Cells {
    pub fn new(cells: Vec<Value<'static>>) -> Self {
        Self(cells.into())
    }

    fn next(&mut self) -> Value<'static> {
        self.0.pop_front().unwrap_or(Value::Null)
    }

    fn mismatch(expected: &str, got: &Value<'_>) -> WarehouseError {
        WarehouseError::Query(format!("expected {expected}, got {got:?}"))
    }
}

impl Decoder for Cells {
    fn string(&mut self) -> Result<Option<String>> {
        match self.next() {
            Value::String(v) => Ok(Some(v.into_owned())),
            Value::Null => Ok(None),
            other => Err(Self::mismatch("a string", &other)),
        }
    }

    fn int64(&mut self) -> Result<Option<i64>> {
        match self.next() {
            Value::Int64(v) => Ok(Some(v)),
            Value::Null => Ok(None),
            other => Err(Self::mismatch("an integer", &other)),
        }
    }

    fn bool(&mut self) -> Result<Option<bool>> {
        match self.next() {
            Value::Bool(v) => Ok(Some(v)),
            Value::Null => Ok(None),
            other => Err(Self::mismatch("a bool", &other)),
        }
    }

    fn timestamp(&mut self) -> Result<Option<DateTime<Utc>>> {
        match self.next() {
            Value::Timestamp(v) => Ok(Some(v)),
            Value::Null => Ok(None),
            other => Err(Self::mismatch("a timestamp", &other)),
        }
    }

    fn date(&mut self) -> Result<Option<NaiveDate>> {
        match self.next() {
            Value::Date(v) => Ok(Some(v)),
            Value::Null => Ok(None),
            other => Err(Self::mismatch("a date", &other)),
        }
    }
}
