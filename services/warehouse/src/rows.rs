//! The rows vibe keeps in the warehouse, as plain Rust. Money is integer cents; times are
//! UTC; `business_date` is the calendar date of the event in the store's time zone,
//! computed once at ingest (the warehouse never converts time zones).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

/// Where a row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Square,
    Lightspeed,
    /// Synthetic demo data (`vibe seed`, `vibe up --demo`); never mixed up with real sales.
    Demo,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Square => "square",
            Source::Lightspeed => "lightspeed",
            Source::Demo => "demo",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "square" => Some(Source::Square),
            "lightspeed" => Some(Source::Lightspeed),
            "demo" => Some(Source::Demo),
            _ => None,
        }
    }
}

/// Status of a payment or order, normalised across sources. Only `Completed` counts in
/// revenue, transactions, customers and top sellers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaleStatus {
    Pending,
    Approved,
    Completed,
    Cancelled,
    Failed,
}

impl SaleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SaleStatus::Pending => "pending",
            SaleStatus::Approved => "approved",
            SaleStatus::Completed => "completed",
            SaleStatus::Cancelled => "cancelled",
            SaleStatus::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(SaleStatus::Pending),
            "approved" => Some(SaleStatus::Approved),
            "completed" => Some(SaleStatus::Completed),
            "cancelled" => Some(SaleStatus::Cancelled),
            "failed" => Some(SaleStatus::Failed),
            _ => None,
        }
    }
}

/// One payment (a transaction on the dashboard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub payment_id: String,
    pub source: Source,
    pub location_id: String,
    /// None for anonymous sales; those never count as customers.
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
    /// Amount charged, tax included, in cents.
    pub amount_cents: i64,
    /// ISO 4217, e.g. `USD`.
    pub currency: String,
    pub status: SaleStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub business_date: NaiveDate,
    /// e.g. `VISA`, `CASH`.
    pub card_brand: Option<String>,
}

/// One order; its line items say what was sold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub order_id: String,
    pub source: Source,
    pub location_id: String,
    pub customer_id: Option<String>,
    pub total_cents: i64,
    pub currency: String,
    pub status: SaleStatus,
    pub created_at: DateTime<Utc>,
    pub business_date: NaiveDate,
}

/// One line of an order. Order time and status are copied onto the line so top sellers
/// are one partition-pruned aggregate without a join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    pub order_id: String,
    /// 1-based position in the order; (order_id, line_number) is unique.
    pub line_number: i64,
    pub product_id: String,
    pub product_name: String,
    pub category: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
    /// quantity × unit price less line discounts, before tax, in cents.
    pub gross_cents: i64,
    pub currency: String,
    pub order_status: SaleStatus,
    pub created_at: DateTime<Utc>,
    pub business_date: NaiveDate,
}

/// One catalog product (the current state; a later write replaces it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogItem {
    pub product_id: String,
    pub source: Source,
    pub name: String,
    pub description: String,
    pub sku: String,
    pub category: String,
    pub price_cents: i64,
    pub currency: String,
    pub available: bool,
    pub updated_at: DateTime<Utc>,
    /// A certificate of analysis is on file.
    pub has_certificate_of_analysis: bool,
    /// Δ9-THC in basis points of dry weight (30 = 0.30 %), when lab results are known.
    pub delta9_thc_basis_points: Option<i64>,
    pub quantity_on_hand: Option<i64>,
}

/// One audit event (written by the gateway and by compliance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub event_id: String,
    pub occurred_at: DateTime<Utc>,
    /// auth, authz, admin, data_access, security, compliance, system.
    pub event_type: String,
    /// info, warning, critical.
    pub severity: String,
    pub principal: String,
    pub role: String,
    /// Full gRPC method, e.g. `/vibe.integration.v1.ComplianceService/VerifyAge`.
    pub method: String,
    /// allowed, succeeded, denied, failed, rate_limited.
    pub result: String,
    pub status_code: i64,
    pub request_id: String,
    pub client_ip: String,
    pub user_agent: String,
    pub service: String,
    /// Never tokens, bodies or raw PII.
    pub details: BTreeMap<String, String>,
    /// What was acted on, as `type/id` (e.g. `customer/3f2a...`); empty if nothing.
    pub resource: String,
    /// A short verb, e.g. `verify_age`; empty for the gateway's per-call events.
    pub action: String,
}
