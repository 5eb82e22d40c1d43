//! The warehouse: where sales, catalog and audit rows live, and the aggregate queries the
//! dashboard and compliance need — one trait, with DuckDB (embedded, crate
//! `vibe-warehouse-duckdb`) and BigQuery (crate `vibe-warehouse-bigquery`) behind it.
//!
//! Invariants: money is integer cents; every aggregate is computed by the warehouse (no
//! rows are shipped out to be summed); every read of an event table is bounded by a
//! [`TimeRange`] on its partition column; the schema is declared once in [`schema`] for
//! both backends, and [`record`] maps each row type to its columns for both; the
//! `conformance` module (feature `conformance`) is the one test suite both must pass.

mod error;
mod instrumented;
mod query;
pub mod record;
mod rows;
pub mod schema;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use error::WarehouseError;
pub use instrumented::Instrumented;
pub use query::{
    DailySales, LineItemTotals, MonthlySales, ProductCursor, ProductFilter, ProductPage,
    SalesTotals, TimeRange, TopProduct, TopProductsOrder,
};
pub use rows::{AuditEvent, CatalogItem, LineItem, Order, Payment, SaleStatus, Source};

pub type Result<T, E = WarehouseError> = std::result::Result<T, E>;

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

    /// The newest audit events that occurred in `range`, newest first (ties by event id,
    /// descending).
    async fn audit_events(&self, range: TimeRange, limit: u32) -> Result<Vec<AuditEvent>>;
}
