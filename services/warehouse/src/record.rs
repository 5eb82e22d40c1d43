//! How each row type maps to its table's columns, in registry order, for both backends:
//! [`Record::values`] for writes, [`Record::decode`] for reads. Enums are stored as their
//! `as_str()` strings, `details` as JSON text.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use crate::schema::{self, Column, ColumnType, Table};
use crate::{
    AuditEvent, CatalogItem, LineItem, Order, Payment, Result, SaleStatus, Source, WarehouseError,
};

/// One cell to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Null,
    /// Also JSON text.
    String(Cow<'a, str>),
    Int64(i64),
    Bool(bool),
    Timestamp(DateTime<Utc>),
    Date(NaiveDate),
}

impl<'a> Value<'a> {
    pub(crate) fn str(value: &'a str) -> Self {
        Value::String(Cow::Borrowed(value))
    }

    pub(crate) fn opt_str(value: Option<&'a String>) -> Self {
        value.map_or(Value::Null, |v| Value::String(Cow::Borrowed(v)))
    }

    pub(crate) fn opt_int(value: Option<i64>) -> Self {
        value.map_or(Value::Null, Value::Int64)
    }

    /// Whether this value fits a column of type `ty` (a null fits nullable columns only).
    pub fn fits(&self, column: &Column) -> bool {
        match self {
            Value::Null => !column.required,
            Value::String(_) => matches!(column.ty, ColumnType::String | ColumnType::JsonText),
            Value::Int64(_) => column.ty == ColumnType::Int64,
            Value::Bool(_) => column.ty == ColumnType::Bool,
            Value::Timestamp(_) => column.ty == ColumnType::Timestamp,
            Value::Date(_) => column.ty == ColumnType::Date,
        }
    }
}

/// Reads one result row column by column, in the order of the select list. Backends
/// implement it over their own result rows; `None` is SQL NULL.
pub trait Decoder {
    fn string(&mut self) -> Result<Option<String>>;
    fn int64(&mut self) -> Result<Option<i64>>;
    fn bool(&mut self) -> Result<Option<bool>>;
    fn timestamp(&mut self) -> Result<Option<DateTime<Utc>>>;
    fn date(&mut self) -> Result<Option<NaiveDate>>;
}

/// A row type stored in one registry table.
pub trait Record: Sized {
    const TABLE: &'static Table;

    /// Appends this row's cells to `out`, one per column of [`Self::TABLE`], in order.
    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>);

    /// Reads a row selected with [`Table::column_list`].
    fn decode(row: &mut dyn Decoder) -> Result<Self>;
}

/// Walks the table's columns while decoding, so errors name the column.
pub(crate) struct Fields<'d> {
    row: &'d mut dyn Decoder,
    table: &'static Table,
    next: usize,
}

impl<'d> Fields<'d> {
    pub(crate) fn new(row: &'d mut dyn Decoder, table: &'static Table) -> Self {
        Self {
            row,
            table,
            next: 0,
        }
    }

    fn column(&mut self) -> &'static str {
        let name = self.table.columns.get(self.next).map_or("?", |c| c.name);
        self.next += 1;
        name
    }

    fn required<T>(&mut self, value: Option<T>, column: &str) -> Result<T> {
        value.ok_or_else(|| {
            WarehouseError::Query(format!(
                "null in required column {}.{column}",
                self.table.name
            ))
        })
    }

    pub(crate) fn opt_string(&mut self) -> Result<Option<String>> {
        self.column();
        self.row.string()
    }

    pub(crate) fn string(&mut self) -> Result<String> {
        let column = self.column();
        let value = self.row.string()?;
        self.required(value, column)
    }

    pub(crate) fn opt_int64(&mut self) -> Result<Option<i64>> {
        self.column();
        self.row.int64()
    }

    pub(crate) fn int64(&mut self) -> Result<i64> {
        let column = self.column();
        let value = self.row.int64()?;
        self.required(value, column)
    }

    fn bool(&mut self) -> Result<bool> {
        let column = self.column();
        let value = self.row.bool()?;
        self.required(value, column)
    }

    pub(crate) fn timestamp(&mut self) -> Result<DateTime<Utc>> {
        let column = self.column();
        let value = self.row.timestamp()?;
        self.required(value, column)
    }

    fn date(&mut self) -> Result<NaiveDate> {
        let column = self.column();
        let value = self.row.date()?;
        self.required(value, column)
    }

    fn source(&mut self) -> Result<Source> {
        let column = self.column();
        let value = self.row.string()?;
        let value = self.required(value, column)?;
        Source::parse(&value).ok_or_else(|| self.bad(column, "unknown source"))
    }

    fn status(&mut self) -> Result<SaleStatus> {
        let column = self.column();
        let value = self.row.string()?;
        let value = self.required(value, column)?;
        SaleStatus::parse(&value).ok_or_else(|| self.bad(column, "unknown status"))
    }

    fn json_map(&mut self) -> Result<BTreeMap<String, String>> {
        let column = self.column();
        let value = self.row.string()?;
        let value = self.required(value, column)?;
        serde_json::from_str(&value).map_err(|_| self.bad(column, "not a json object of strings"))
    }

    fn bad(&self, column: &str, why: &str) -> WarehouseError {
        WarehouseError::Query(format!("{why} in column {}.{column}", self.table.name))
    }
}

impl Record for Payment {
    const TABLE: &'static Table = &schema::PAYMENTS;

    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::str(&self.payment_id),
            Value::str(self.source.as_str()),
            Value::str(&self.location_id),
            Value::opt_str(self.customer_id.as_ref()),
            Value::opt_str(self.order_id.as_ref()),
            Value::Int64(self.amount_cents),
            Value::str(&self.currency),
            Value::str(self.status.as_str()),
            Value::Timestamp(self.created_at),
            Value::Timestamp(self.updated_at),
            Value::Date(self.business_date),
            Value::opt_str(self.card_brand.as_ref()),
        ]);
    }

    fn decode(row: &mut dyn Decoder) -> Result<Self> {
        let mut f = Fields::new(row, Self::TABLE);
        Ok(Payment {
            payment_id: f.string()?,
            source: f.source()?,
            location_id: f.string()?,
            customer_id: f.opt_string()?,
            order_id: f.opt_string()?,
            amount_cents: f.int64()?,
            currency: f.string()?,
            status: f.status()?,
            created_at: f.timestamp()?,
            updated_at: f.timestamp()?,
            business_date: f.date()?,
            card_brand: f.opt_string()?,
        })
    }
}

impl Record for Order {
    const TABLE: &'static Table = &schema::ORDERS;

    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::str(&self.order_id),
            Value::str(self.source.as_str()),
            Value::str(&self.location_id),
            Value::opt_str(self.customer_id.as_ref()),
            Value::Int64(self.total_cents),
            Value::str(&self.currency),
            Value::str(self.status.as_str()),
            Value::Timestamp(self.created_at),
            Value::Date(self.business_date),
        ]);
    }

    fn decode(row: &mut dyn Decoder) -> Result<Self> {
        let mut f = Fields::new(row, Self::TABLE);
        Ok(Order {
            order_id: f.string()?,
            source: f.source()?,
            location_id: f.string()?,
            customer_id: f.opt_string()?,
            total_cents: f.int64()?,
            currency: f.string()?,
            status: f.status()?,
            created_at: f.timestamp()?,
            business_date: f.date()?,
        })
    }
}

impl Record for LineItem {
    const TABLE: &'static Table = &schema::LINE_ITEMS;

    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::str(&self.order_id),
            Value::Int64(self.line_number),
            Value::str(&self.product_id),
            Value::str(&self.product_name),
            Value::str(&self.category),
            Value::Int64(self.quantity),
            Value::Int64(self.unit_price_cents),
            Value::Int64(self.gross_cents),
            Value::str(&self.currency),
            Value::str(self.order_status.as_str()),
            Value::Timestamp(self.created_at),
            Value::Date(self.business_date),
        ]);
    }

    fn decode(row: &mut dyn Decoder) -> Result<Self> {
        let mut f = Fields::new(row, Self::TABLE);
        Ok(LineItem {
            order_id: f.string()?,
            line_number: f.int64()?,
            product_id: f.string()?,
            product_name: f.string()?,
            category: f.string()?,
            quantity: f.int64()?,
            unit_price_cents: f.int64()?,
            gross_cents: f.int64()?,
            currency: f.string()?,
            order_status: f.status()?,
            created_at: f.timestamp()?,
            business_date: f.date()?,
        })
    }
}

impl Record for CatalogItem {
    const TABLE: &'static Table = &schema::CATALOG_ITEMS;

    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::str(&self.product_id),
            Value::str(self.source.as_str()),
            Value::str(&self.name),
            Value::str(&self.description),
            Value::str(&self.sku),
            Value::str(&self.category),
            Value::Int64(self.price_cents),
            Value::str(&self.currency),
            Value::Bool(self.available),
            Value::Timestamp(self.updated_at),
            Value::Bool(self.has_certificate_of_analysis),
            Value::opt_int(self.delta9_thc_basis_points),
            Value::opt_int(self.quantity_on_hand),
        ]);
    }

    fn decode(row: &mut dyn Decoder) -> Result<Self> {
        let mut f = Fields::new(row, Self::TABLE);
        Ok(CatalogItem {
            product_id: f.string()?,
            source: f.source()?,
            name: f.string()?,
            description: f.string()?,
            sku: f.string()?,
            category: f.string()?,
            price_cents: f.int64()?,
            currency: f.string()?,
            available: f.bool()?,
            updated_at: f.timestamp()?,
            has_certificate_of_analysis: f.bool()?,
            delta9_thc_basis_points: f.opt_int64()?,
            quantity_on_hand: f.opt_int64()?,
        })
    }
}

impl Record for AuditEvent {
    const TABLE: &'static Table = &schema::AUDIT_EVENTS;

    fn values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        // A map of strings always serialises; the fallback only keeps this infallible.
        let details = serde_json::to_string(&self.details).unwrap_or_else(|_| "{}".to_owned());
        out.extend([
            Value::str(&self.event_id),
            Value::Timestamp(self.occurred_at),
            Value::str(&self.event_type),
            Value::str(&self.severity),
            Value::str(&self.principal),
            Value::str(&self.role),
            Value::str(&self.method),
            Value::str(&self.result),
            Value::Int64(self.status_code),
            Value::str(&self.request_id),
            Value::str(&self.client_ip),
            Value::str(&self.user_agent),
            Value::str(&self.service),
            Value::String(Cow::Owned(details)),
            Value::str(&self.resource),
            Value::str(&self.action),
        ]);
    }

    fn decode(row: &mut dyn Decoder) -> Result<Self> {
        let mut f = Fields::new(row, Self::TABLE);
        Ok(AuditEvent {
            event_id: f.string()?,
            occurred_at: f.timestamp()?,
            event_type: f.string()?,
            severity: f.string()?,
            principal: f.string()?,
            role: f.string()?,
            method: f.string()?,
            result: f.string()?,
            status_code: f.int64()?,
            request_id: f.string()?,
            client_ip: f.string()?,
            user_agent: f.string()?,
            service: f.string()?,
            details: f.json_map()?,
            // Added after the table was first created: older rows hold NULL.
            resource: f.opt_string()?.unwrap_or_default(),
            action: f.opt_string()?.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::TimeZone;

    use super::*;

    pub(crate) fn round_trip<R: Record + PartialEq + std::fmt::Debug>(row: &R) {
        let mut values = Vec::new();
        row.values(&mut values);
        assert_eq!(values.len(), R::TABLE.columns.len(), "{}", R::TABLE.name);
        for (value, column) in values.iter().zip(R::TABLE.columns) {
            assert!(
                value.fits(column),
                "{}.{}: {value:?}",
                R::TABLE.name,
                column.name
            );
        }
        let owned = values
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Value::String(Cow::Owned(s.into_owned())),
                Value::Null => Value::Null,
                Value::Int64(v) => Value::Int64(v),
                Value::Bool(v) => Value::Bool(v),
                Value::Timestamp(v) => Value::Timestamp(v),
                Value::Date(v) => Value::Date(v),
            })
            .collect();
        let decoded = R::decode(&mut crate::statement::Cells::new(owned));
        assert_eq!(decoded.as_ref().ok(), Some(row), "{decoded:?}");
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 15, 10, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 15).unwrap_or_default()
    }

    #[test]
    fn every_record_matches_its_table() {
        round_trip(&Payment {
            payment_id: "p1".into(),
            source: Source::Square,
            location_id: "l".into(),
            customer_id: None,
            order_id: Some("o1".into()),
            amount_cents: 1234,
            currency: "USD".into(),
            status: SaleStatus::Completed,
            created_at: at(),
            updated_at: at(),
            business_date: date(),
            card_brand: Some("VISA".into()),
        });
        round_trip(&Order {
            order_id: "o1".into(),
            source: Source::Lightspeed,
            location_id: "l".into(),
            customer_id: Some("c".into()),
            total_cents: 99,
            currency: "USD".into(),
            status: SaleStatus::Pending,
            created_at: at(),
            business_date: date(),
        });
        round_trip(&LineItem {
            order_id: "o1".into(),
            line_number: 1,
            product_id: "x".into(),
            product_name: "X".into(),
            category: "Flower".into(),
            quantity: 2,
            unit_price_cents: 500,
            gross_cents: 1000,
            currency: "USD".into(),
            order_status: SaleStatus::Failed,
            created_at: at(),
            business_date: date(),
        });
        round_trip(&CatalogItem {
            product_id: "x".into(),
            source: Source::Demo,
            name: "X".into(),
            description: "d".into(),
            sku: "S".into(),
            category: "Flower".into(),
            price_cents: 500,
            currency: "USD".into(),
            available: true,
            updated_at: at(),
            has_certificate_of_analysis: false,
            delta9_thc_basis_points: Some(30),
            quantity_on_hand: None,
        });
        round_trip(&AuditEvent {
            event_id: "e".into(),
            occurred_at: at(),
            event_type: "auth".into(),
            severity: "info".into(),
            principal: "p".into(),
            role: "admin".into(),
            method: "/m".into(),
            result: "allowed".into(),
            status_code: 0,
            request_id: "r".into(),
            client_ip: "127.0.0.1".into(),
            user_agent: "ua".into(),
            service: "s".into(),
            details: BTreeMap::from([("k \"q\"".to_owned(), "v\n".to_owned())]),
            resource: "customer/ab".into(),
            action: "verify_age".into(),
        });
    }
}
