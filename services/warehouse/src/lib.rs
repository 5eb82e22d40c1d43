//! The warehouse: where sales, catalog and audit rows live, and the aggregate queries the
//! dashboard and compliance need — one trait, with DuckDB (embedded, crate
//! `vibe-warehouse-duckdb`) and BigQuery (crate `vibe-warehouse-bigquery`) behind it.
//!
//! Invariants: money is integer cents; every aggregate is computed by the warehouse (no
//! rows are shipped out to be summed); every read of an event table is bounded by a
//! [`TimeRange`] on its partition column; the schema is declared once in [`schema`] for
//! both backends, and [`record`] maps each row type to its columns for both; the
//! `conformance` module (feature `conformance`) is the one test suite both must pass.

mod compliance;
pub mod compliance_queries;
mod error;
mod instrumented;
mod query;
pub mod record;
mod rows;
pub mod schema;
pub mod statement;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use compliance::{
    AgeVerification, AttemptCount, AttemptStats, AuditCursor, AuditFilter, ProductCompliance,
    VerificationAttempt,
};
pub use error::WarehouseError;
pub use instrumented::Instrumented;
pub use query::{
    DailySales, LineItemTotals, MonthlySales, ProductCursor, ProductFilter, ProductPage,
    SalesTotals, TimeRange, TopProduct, TopProductsOrder,
};
pub use rows::{AuditEvent, CatalogItem, LineItem, Order, Payment, SaleStatus, Source};

pub type Result<T, E = WarehouseError> = std::result::Result<T, E>;

use chrono::{DateTime, Utc};
use compliance_queries as cq;
use record::{Decoder, Value};
use statement::{Cells, Placeholders, Statement};

/// A warehouse backend. Every method is one round trip (or one batch of them for large
/// inserts) and is safe to call concurrently.
#[async_trait::async_trait]
pub trait Warehouse: Send + Sync + 'static {
    /// `duckdb` or `bigquery`, for logs and stats.
    fn backend(&self) -> &'static str;

    /// Creates missing tables and adds missing columns; safe to run at every start.
    async fn migrate(&self) -> Result<()>;

    /// A trivial query: `Ok` means the warehouse answers.
    async fn ping(&self) -> Result<()>;

    async fn insert_payments(&self, rows: &[Payment]) -> Result<()>;
    async fn insert_orders(&self, rows: &[Order]) -> Result<()>;
    async fn insert_line_items(&self, rows: &[LineItem]) -> Result<()>;
    /// Inserts or replaces catalog items by `product_id` (when a batch repeats an id, its
    /// last row wins).
    async fn upsert_catalog_items(&self, rows: &[CatalogItem]) -> Result<()>;
    async fn insert_audit_events(&self, rows: &[AuditEvent]) -> Result<()>;

    /// Completed-payment totals for each range, in one aggregate query.
    async fn sales_totals(&self, ranges: &[TimeRange]) -> Result<Vec<SalesTotals>>;

    /// The newest payments (any status) created in `range`, newest first (ties by payment
    /// id, descending).
    async fn recent_payments(&self, range: TimeRange, limit: u32) -> Result<Vec<Payment>>;

    /// Completed-payment totals per business date of payments created in `range`,
    /// oldest first; dates without sales are absent.
    async fn daily_sales(&self, range: TimeRange) -> Result<Vec<DailySales>>;

    /// The same per calendar month of the business date.
    async fn monthly_sales(&self, range: TimeRange) -> Result<Vec<MonthlySales>>;

    /// Products ranked over completed orders' line items created in `range`.
    async fn top_products(
        &self,
        range: TimeRange,
        order: TopProductsOrder,
        limit: u32,
    ) -> Result<Vec<TopProduct>>;

    /// Revenue and units of all completed orders' line items created in `range` (the
    /// population [`Warehouse::top_products`] ranks). Both backends override this; the
    /// default only keeps other implementations (test doubles) compiling.
    async fn line_item_totals(&self, range: TimeRange) -> Result<LineItemTotals>;

    /// One page of the catalog ordered by (name, product_id), starting after `after`.
    async fn list_products(
        &self,
        filter: &ProductFilter,
        after: Option<&ProductCursor>,
        limit: u32,
    ) -> Result<ProductPage>;

    /// Every distinct category in the catalog, sorted.
    async fn product_categories(&self) -> Result<Vec<String>>;

    /// Rows of `source` in the sales tables (payments, orders, line items) created in
    /// `range`: `[payments, orders, line_items]`. Line items count through their order.
    async fn count_sales_rows(&self, source: Source, range: TimeRange) -> Result<[i64; 3]>;

    /// Deletes every sales and catalog row of `source` created in `range` (used to
    /// reseed demo data after an interrupted run). Catalog rows count by `updated_at`.
    /// Line items carry no source: they are matched through their order, so write each
    /// order before (or with) its line items.
    async fn delete_sales_rows(&self, source: Source, range: TimeRange) -> Result<()>;

    async fn insert_verification_attempts(&self, rows: &[VerificationAttempt]) -> Result<()>;
    async fn insert_age_verifications(&self, rows: &[AgeVerification]) -> Result<()>;

    /// How this backend writes parameter placeholders in a [`Statement`].
    fn placeholders(&self) -> Placeholders;

    /// Runs a portable read and returns its rows as cells of the statement's column types.
    /// The reads below are built on it, so both backends answer them with the same SQL.
    async fn fetch(&self, statement: &Statement) -> Result<Vec<Vec<Value<'static>>>>;

    /// The newest audit events that occurred in `range`, newest first (ties by event id,
    /// descending).
    async fn audit_events(&self, range: TimeRange, limit: u32) -> Result<Vec<AuditEvent>> {
        let filter = AuditFilter {
            range,
            principal: None,
            event_type: None,
            result: None,
            method: None,
        };
        self.list_audit_events(&filter, None, limit).await
    }

    /// Up to `limit` audit events matching `filter`, newest first (then by event id
    /// descending), starting after `after`.
    async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        after: Option<&AuditCursor>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>> {
        let statement = cq::audit_page(self.placeholders(), filter, after, limit);
        cq::decode_records(self.fetch(&statement).await?)
    }

    /// Which of `event_ids` are already recorded among the events that occurred in `range`.
    async fn existing_audit_event_ids(
        &self,
        event_ids: &[String],
        range: TimeRange,
    ) -> Result<Vec<String>> {
        let mut found = Vec::new();
        for chunk in event_ids.chunks(cq::KEYS_PER_STATEMENT) {
            let statement = cq::existing_audit_ids(self.placeholders(), chunk, range);
            found.extend(cq::decode_first(
                self.fetch(&statement).await?,
                Cells::string,
                "event_id",
            )?);
        }
        Ok(found)
    }

    /// The customer's newest verification made in `range`.
    async fn latest_age_verification(
        &self,
        customer_key: &str,
        range: TimeRange,
    ) -> Result<Option<AgeVerification>> {
        let statement = cq::latest_verification(self.placeholders(), customer_key, range);
        Ok(cq::decode_records(self.fetch(&statement).await?)?
            .into_iter()
            .next())
    }

    /// When the customer's newest attempt in `range` was made.
    async fn latest_verification_attempt(
        &self,
        customer_key: &str,
        range: TimeRange,
    ) -> Result<Option<DateTime<Utc>>> {
        let statement = cq::latest_attempt(self.placeholders(), customer_key, range);
        let rows = self.fetch(&statement).await?;
        match rows.into_iter().next() {
            Some(row) => Cells::new(row).timestamp(),
            None => Ok(None),
        }
    }

    /// Attempts in `range` by outcome and reason, and distinct customers.
    async fn attempt_stats(&self, range: TimeRange) -> Result<AttemptStats> {
        let statement = cq::attempt_stats(self.placeholders(), range);
        cq::decode_attempt_stats(self.fetch(&statement).await?)
    }

    /// The catalog's products available for sale, by compliance evidence; Δ9-THC above
    /// `thc_limit_basis_points` exceeds the limit.
    async fn product_compliance(&self, thc_limit_basis_points: i64) -> Result<ProductCompliance> {
        let statement = cq::product_compliance(self.placeholders(), thc_limit_basis_points);
        cq::decode_product_compliance(self.fetch(&statement).await?)
    }

    /// Distinct customer ids with a completed payment in `range`.
    async fn transacting_customers(&self, range: TimeRange) -> Result<Vec<String>> {
        let statement = cq::transacting_customers(self.placeholders(), range);
        cq::decode_first(self.fetch(&statement).await?, Cells::string, "customer_id")
    }

    /// How many of `customer_keys` hold a verification made in `made` that expires after
    /// `valid_after`.
    async fn count_verified_customers(
        &self,
        customer_keys: &[String],
        made: TimeRange,
        valid_after: DateTime<Utc>,
    ) -> Result<i64> {
        use futures::{StreamExt, TryStreamExt};
        let statements: Vec<Statement> = customer_keys
            .chunks(cq::KEYS_PER_STATEMENT)
            .map(|chunk| cq::verified_customers(self.placeholders(), chunk, made, valid_after))
            .collect();
        // A few at a time: a long window's customers need many statements, each one round
        // trip.
        let counts: Vec<i64> = futures::stream::iter(statements)
            .map(|statement| async move {
                let rows = self.fetch(&statement).await?;
                let counts = cq::decode_first(rows, Cells::int64, "count")?;
                Ok::<i64, WarehouseError>(counts.into_iter().sum())
            })
            .buffer_unordered(4)
            .try_collect()
            .await?;
        Ok(counts.into_iter().sum())
    }
}
