//! Values on BigQuery's REST wire: named query parameters, `insertAll` JSON rows, and the
//! strings query results come back as.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use gcp_bigquery_client::model::query_parameter::QueryParameter;
use gcp_bigquery_client::model::query_parameter_type::QueryParameterType;
use gcp_bigquery_client::model::query_parameter_value::QueryParameterValue;
use gcp_bigquery_client::model::table_row::TableRow;
use serde_json::{Map, Value as Json};
use vibe_warehouse::record::{Decoder, Record, Value};
use vibe_warehouse::schema::ColumnType;
use vibe_warehouse::{Result, WarehouseError};

/// RFC 3339 with microseconds: what BigQuery (and the emulator) accept for TIMESTAMP.
pub(crate) fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn param(name: &str, ty: &str, value: Option<String>) -> QueryParameter {
    QueryParameter {
        name: Some(name.to_owned()),
        parameter_type: Some(QueryParameterType {
            r#type: ty.to_owned(),
            ..QueryParameterType::default()
        }),
        // No value means a typed NULL.
        parameter_value: Some(QueryParameterValue {
            value,
            ..QueryParameterValue::default()
        }),
    }
}

pub(crate) fn string(name: &str, value: &str) -> QueryParameter {
    param(name, "STRING", Some(value.to_owned()))
}

pub(crate) fn int64(name: &str, value: i64) -> QueryParameter {
    param(name, "INT64", Some(value.to_string()))
}

pub(crate) fn boolean(name: &str, value: bool) -> QueryParameter {
    param(name, "BOOL", Some(value.to_string()))
}

pub(crate) fn timestamp(name: &str, value: DateTime<Utc>) -> QueryParameter {
    param(name, "TIMESTAMP", Some(rfc3339(value)))
}

/// A registry value as a parameter of its column's type.
pub(crate) fn typed(name: &str, ty: ColumnType, value: &Value<'_>) -> QueryParameter {
    let type_name = match ty {
        ColumnType::String | ColumnType::JsonText => "STRING",
        ColumnType::Int64 => "INT64",
        ColumnType::Bool => "BOOL",
        ColumnType::Timestamp => "TIMESTAMP",
        ColumnType::Date => "DATE",
    };
    let text = match value {
        Value::Null => None,
        Value::String(s) => Some(s.to_string()),
        Value::Int64(v) => Some(v.to_string()),
        Value::Bool(v) => Some(v.to_string()),
        Value::Timestamp(v) => Some(rfc3339(*v)),
        Value::Date(v) => Some(v.format("%Y-%m-%d").to_string()),
    };
    param(name, type_name, text)
}

/// A value as a parameter of the type its variant names (statements never bind nulls).
pub(crate) fn typed_value(name: &str, value: &Value<'_>) -> QueryParameter {
    let ty = match value {
        Value::Null | Value::String(_) => ColumnType::String,
        Value::Int64(_) => ColumnType::Int64,
        Value::Bool(_) => ColumnType::Bool,
        Value::Timestamp(_) => ColumnType::Timestamp,
        Value::Date(_) => ColumnType::Date,
    };
    typed(name, ty, value)
}

/// An `insertAll` row: column name to JSON value.
pub(crate) fn json_row<R: Record>(row: &R) -> Json {
    let mut values = Vec::with_capacity(R::TABLE.columns.len());
    row.values(&mut values);
    let mut object = Map::with_capacity(values.len());
    for (column, value) in R::TABLE.columns.iter().zip(values) {
        let json = match value {
            Value::Null => Json::Null,
            Value::String(s) => Json::String(s.into_owned()),
            Value::Int64(v) => Json::from(v),
            Value::Bool(v) => Json::Bool(v),
            Value::Timestamp(v) => Json::String(rfc3339(v)),
            Value::Date(v) => Json::String(v.format("%Y-%m-%d").to_string()),
        };
        object.insert(column.name.to_owned(), json);
    }
    Json::Object(object)
}

/// Parses a TIMESTAMP cell: epoch seconds as a decimal (`"1768471200.5"`, what the REST
/// API and the emulator return) or in scientific notation (`"1.7684712005E9"`), exactly,
/// to the microsecond.
pub(crate) fn parse_epoch_seconds(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (negative, digits) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut value: i128 = 0;
    for c in whole.chars().chain(fraction.chars()) {
        value = value
            .checked_mul(10)?
            .checked_add(i128::from(c.to_digit(10)?))?;
    }
    // value × 10^(exponent − fraction digits) seconds, in microseconds.
    let shift = exponent + 6 - i32::try_from(fraction.len()).ok()?;
    let pow = |n: i32| 10_i128.checked_pow(u32::try_from(n).ok()?);
    let micros = if shift >= 0 {
        value.checked_mul(pow(shift)?)?
    } else {
        // Below a microsecond: BigQuery has none; drop it.
        value / pow(-shift)?
    };
    let micros = i64::try_from(if negative { -micros } else { micros }).ok()?;
    DateTime::from_timestamp_micros(micros)
}

/// Reads a result row's cells left to right, from `first`.
pub(crate) struct CellDecoder<'r> {
    row: &'r TableRow,
    next: usize,
}

impl<'r> CellDecoder<'r> {
    pub(crate) fn new(row: &'r TableRow, first: usize) -> Self {
        Self { row, next: first }
    }

    /// The next cell as text; `None` for NULL.
    fn text(&mut self) -> Result<Option<&'r str>> {
        let index = self.next;
        self.next += 1;
        let cell = self
            .row
            .columns
            .as_ref()
            .and_then(|cells| cells.get(index))
            .ok_or_else(|| WarehouseError::Query(format!("bigquery row has no column {index}")))?;
        match &cell.value {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(WarehouseError::Query(format!(
                "bigquery column {index} is not a scalar"
            ))),
        }
    }

    fn parsed<T>(
        &mut self,
        what: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>> {
        let index = self.next;
        match self.text()? {
            None => Ok(None),
            Some(text) => parse(text).map(Some).ok_or_else(|| {
                WarehouseError::Query(format!("bigquery column {index} is not {what}"))
            }),
        }
    }
}

impl Decoder for CellDecoder<'_> {
    fn string(&mut self) -> Result<Option<String>> {
        Ok(self.text()?.map(str::to_owned))
    }

    fn int64(&mut self) -> Result<Option<i64>> {
        self.parsed("an integer", |t| t.parse().ok())
    }

    fn bool(&mut self) -> Result<Option<bool>> {
        self.parsed("a boolean", |t| match t {
            "true" | "TRUE" => Some(true),
            "false" | "FALSE" => Some(false),
            _ => None,
        })
    }

    fn timestamp(&mut self) -> Result<Option<DateTime<Utc>>> {
        self.parsed("a timestamp", parse_epoch_seconds)
    }

    fn date(&mut self) -> Result<Option<NaiveDate>> {
        self.parsed("a date", |t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(text: &str) -> Option<i64> {
        parse_epoch_seconds(text).map(|t| t.timestamp_micros())
    }

    #[test]
    fn epoch_seconds_parse_exactly() {
        assert_eq!(micros("1768471200.5"), Some(1_768_471_200_500_000));
        assert_eq!(micros("1768471200"), Some(1_768_471_200_000_000));
        assert_eq!(micros("1768471200.123456"), Some(1_768_471_200_123_456));
        assert_eq!(micros("1.7684712005E9"), Some(1_768_471_200_500_000));
        assert_eq!(micros("1.768471200123456E9"), Some(1_768_471_200_123_456));
        assert_eq!(micros("-1.5"), Some(-1_500_000));
        assert_eq!(micros("0.000001"), Some(1));
        assert_eq!(micros("1e3"), Some(1_000_000_000));
        for bad in ["", ".", "abc", "1.2.3", "1e", "--1", "1e999"] {
            assert_eq!(micros(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_go_out_as_rfc3339() {
        let t = DateTime::from_timestamp_micros(1_768_471_200_000_001).expect("instant");
        assert_eq!(rfc3339(t), "2026-01-15T10:00:00.000001Z");
    }
}
