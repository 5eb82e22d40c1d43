//! What the warehouse is asked, and what it answers, as plain Rust.

use chrono::{DateTime, NaiveDate, Utc};

use crate::CatalogItem;

/// A half-open UTC interval `[start, end)`. Every read names one, so every query on an
/// event table carries a partition filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Sales over some period, counting completed payments only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SalesTotals {
    /// Sum of `amount_cents`.
    pub revenue_cents: i64,
    /// Number of payments.
    pub transactions: i64,
    /// Distinct non-null customer ids.
    pub distinct_customers: i64,
}

/// Sales of one business date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailySales {
    pub date: NaiveDate,
    pub totals: SalesTotals,
}

/// Sales of one calendar month (by business date).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthlySales {
    pub year: i32,
    /// 1..=12.
    pub month: u32,
    pub totals: SalesTotals,
}

/// How top products are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopProductsOrder {
    /// By revenue (sum of `gross_cents`), then units, then product id.
    Revenue,
    /// By units (sum of `quantity`), then revenue, then product id.
    Units,
}

/// A product's sales over a range, from completed orders' line items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopProduct {
    pub product_id: String,
    /// The name on the most recent line item of the product in the range (latest
    /// `created_at`, then highest `order_id`, then highest `line_number`).
    pub name: String,
    /// The category on that same line item.
    pub category: String,
    pub units: i64,
    pub revenue_cents: i64,
}

/// Every completed order's line items over a range, summed: the whole that
/// [`TopProduct`] figures are shares of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineItemTotals {
    /// Sum of `gross_cents`.
    pub revenue_cents: i64,
    /// Sum of `quantity`.
    pub units: i64,
}

/// Filters for the catalog; `None` means no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductFilter {
    /// Case-insensitive substring of name, sku or description.
    pub text: Option<String>,
    /// Exact category.
    pub category: Option<String>,
    pub available: Option<bool>,
}

/// Where the next catalog page starts: products are ordered by (name, product_id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductCursor {
    pub name: String,
    pub product_id: String,
}

/// One page of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductPage {
    pub items: Vec<CatalogItem>,
    /// Set when more products match.
    pub next: Option<ProductCursor>,
    /// How many products match the filter in all.
    pub total: i64,
}

impl ProductPage {
    /// Builds a page from a query that fetched one row more than `limit`: the extra row,
    /// when present, says another page follows and is cut off.
    pub fn from_fetched(mut items: Vec<CatalogItem>, limit: u32, total: i64) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = items.len() > limit;
        items.truncate(limit);
        let next = more
            .then(|| items.last())
            .flatten()
            .map(|last| ProductCursor {
                name: last.name.clone(),
                product_id: last.product_id.clone(),
            });
        Self { items, next, total }
    }
}
