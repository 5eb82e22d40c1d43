//! What the integration domain answers, as plain (serde) Rust: these values are what the
//! cache stores, so they hold no wire types. Money is integer cents in the store currency.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use vibe_warehouse::SalesTotals;

/// Completed sales over a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub revenue_cents: i64,
    pub transactions: i64,
    pub distinct_customers: i64,
    /// revenue / transactions, rounded half up to the cent; 0 without transactions.
    pub average_order_value_cents: i64,
}

impl From<SalesTotals> for Totals {
    fn from(totals: SalesTotals) -> Self {
        Self {
            revenue_cents: totals.revenue_cents,
            transactions: totals.transactions,
            distinct_customers: totals.distinct_customers,
            average_order_value_cents: average_cents(totals.revenue_cents, totals.transactions),
        }
    }
}

/// `total / count` rounded half away from zero; 0 when `count` is 0.
pub fn average_cents(total: i64, count: i64) -> i64 {
    if count <= 0 {
        return 0;
    }
    let (total, count) = (i128::from(total), i128::from(count));
    let rounded = (2 * total.abs() + count) / (2 * count);
    let signed = if total < 0 { -rounded } else { rounded };
    i64::try_from(signed).unwrap_or(i64::MAX)
}

/// A dashboard window: local dates `[first_date, last_date]` up to the snapshot's as-of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSummary {
    pub first_date: NaiveDate,
    pub last_date: NaiveDate,
    /// Local midnight of `first_date`.
    pub start: DateTime<Utc>,
    pub totals: Totals,
}

/// A recent payment in any status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentTransaction {
    pub transaction_id: String,
    pub amount_cents: i64,
    pub created_at: DateTime<Utc>,
    /// `SaleStatus::as_str`.
    pub status: String,
    pub customer_id: Option<String>,
    /// `Source::as_str`.
    pub source: String,
    pub location_id: String,
}

/// A product's sales over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductSales {
    pub product_id: String,
    pub name: String,
    pub category: String,
    pub units: i64,
    pub revenue_cents: i64,
    /// Share of the window's line-item revenue, 0.0..=1.0.
    pub revenue_share: f64,
}

/// Everything the dashboard shows, computed at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardSnapshot {
    /// The instant every window ends at: when the warehouse was asked.
    pub as_of: DateTime<Utc>,
    pub time_zone: String,
    pub currency: String,
    /// Today's local date at the as-of instant.
    pub business_date: NaiveDate,
    pub today: WindowSummary,
    pub last_7_days: WindowSummary,
    pub month_to_date: WindowSummary,
    pub year_to_date: WindowSummary,
    /// Up to 25, newest first.
    pub recent_transactions: Vec<RecentTransaction>,
    /// Top sellers by revenue over the last 7 calendar days, at most 10.
    pub top_sellers: Vec<ProductSales>,
}

/// One point of a history series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// The day, or the first day of the month for monthly points.
    pub date: NaiveDate,
    pub totals: Totals,
}

/// A dense history series, oldest first (periods without sales are zero).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub monthly: bool,
    pub points: Vec<HistoryPoint>,
}

/// Top products over a window of local dates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopProducts {
    pub first_date: NaiveDate,
    /// The requested last date, clamped to today.
    pub last_date: NaiveDate,
    pub products: Vec<ProductSales>,
    pub total_revenue_cents: i64,
    pub total_units: i64,
}

#[cfg(test)]
mod tests {
    use super::average_cents;

    #[test]
    fn average_rounds_half_up() {
        assert_eq!(average_cents(1001, 2), 501); // 500.5 -> 501
        assert_eq!(average_cents(1000, 3), 333); // 333.33 -> 333
        assert_eq!(average_cents(2000, 3), 667); // 666.67 -> 667
        assert_eq!(average_cents(5, 0), 0);
    }
}
