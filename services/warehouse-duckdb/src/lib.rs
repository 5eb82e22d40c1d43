//! The embedded DuckDB warehouse backend: one database file under the data dir, a pool of
//! connections, and every DuckDB call on tokio's blocking pool.
//!
//! DuckDB never downloads anything here: extension autoloading and autoinstalling are off,
//! and no query uses time zones (`TIMESTAMP` holds UTC; callers pass UTC ranges and each
//! row carries its local `business_date`).

mod convert;
mod insert;
mod migrate;
mod pool;
mod queries;

use std::path::PathBuf;

use vibe_warehouse::record::Value;
use vibe_warehouse::statement::{Placeholders, Statement};
use vibe_warehouse::{
    AgeVerification, AuditEvent, CatalogItem, DailySales, LineItem, LineItemTotals, MonthlySales,
    Order, Payment, ProductCursor, ProductFilter, ProductPage, Result, SalesTotals, Source,
    TimeRange, TopProduct, TopProductsOrder, VerificationAttempt, Warehouse,
};

use crate::pool::Pool;

/// Where and how to open the DuckDB file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuckDbSettings {
    /// The database file; missing parent directories are created.
    pub path: PathBuf,
    /// Connections in the pool: how many calls run at once.
    pub pool_size: u32,
    /// DuckDB worker threads for the whole database; `None` means one per core.
    pub threads: Option<u32>,
    /// DuckDB's memory limit, e.g. `"2GB"`; `None` means DuckDB's default (80 % of RAM).
    pub memory_limit: Option<String>,
}

/// The DuckDB warehouse. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct DuckDbWarehouse {
    pool: Pool,
}

impl DuckDbWarehouse {
    /// Opens (or creates) the database file. Run [`Warehouse::migrate`] before use.
    pub async fn open(settings: &DuckDbSettings) -> Result<Self> {
        Ok(Self {
            pool: Pool::open(settings.clone()).await?,
        })
    }
}

#[async_trait::async_trait]
impl Warehouse for DuckDbWarehouse {
    fn backend(&self) -> &'static str {
        "duckdb"
    }

    async fn migrate(&self) -> Result<()> {
        self.pool.run("migrate", migrate::migrate).await
    }

    async fn ping(&self) -> Result<()> {
        self.pool.run("ping", queries::ping).await
    }

    async fn insert_payments(&self, rows: &[Payment]) -> Result<()> {
        insert::append(&self.pool, rows).await
    }

    async fn insert_orders(&self, rows: &[Order]) -> Result<()> {
        insert::append(&self.pool, rows).await
    }

    async fn insert_line_items(&self, rows: &[LineItem]) -> Result<()> {
        insert::append(&self.pool, rows).await
    }

    async fn upsert_catalog_items(&self, rows: &[CatalogItem]) -> Result<()> {
        insert::upsert_catalog(&self.pool, rows).await
    }

    async fn insert_audit_events(&self, rows: &[AuditEvent]) -> Result<()> {
        insert::append(&self.pool, rows).await
    }

    async fn sales_totals(&self, ranges: &[TimeRange]) -> Result<Vec<SalesTotals>> {
        if ranges.is_empty() {
            return Ok(Vec::new());
        }
        let ranges = ranges.to_vec();
        self.pool
            .run("sales_totals", move |conn| {
                queries::sales_totals(conn, &ranges)
            })
            .await
    }

    async fn recent_payments(&self, range: TimeRange, limit: u32) -> Result<Vec<Payment>> {
        self.pool
            .run("recent_payments", move |conn| {
                queries::recent_payments(conn, range, limit)
            })
            .await
    }

    async fn daily_sales(&self, range: TimeRange) -> Result<Vec<DailySales>> {
        self.pool
            .run("daily_sales", move |conn| queries::daily_sales(conn, range))
            .await
    }

    async fn monthly_sales(&self, range: TimeRange) -> Result<Vec<MonthlySales>> {
        self.pool
            .run("monthly_sales", move |conn| {
                queries::monthly_sales(conn, range)
            })
            .await
    }

    async fn top_products(
        &self,
        range: TimeRange,
        order: TopProductsOrder,
        limit: u32,
    ) -> Result<Vec<TopProduct>> {
        self.pool
            .run("top_products", move |conn| {
                queries::top_products(conn, range, order, limit)
            })
            .await
    }

    async fn line_item_totals(&self, range: TimeRange) -> Result<LineItemTotals> {
        self.pool
            .run("line_item_totals", move |conn| {
                queries::line_item_totals(conn, range)
            })
            .await
    }

    async fn list_products(
        &self,
        filter: &ProductFilter,
        after: Option<&ProductCursor>,
        limit: u32,
    ) -> Result<ProductPage> {
        let filter = filter.clone();
        let after = after.cloned();
        self.pool
            .run("list_products", move |conn| {
                queries::list_products(conn, &filter, after.as_ref(), limit)
            })
            .await
    }

    async fn product_categories(&self) -> Result<Vec<String>> {
        self.pool
            .run("product_categories", queries::product_categories)
            .await
    }

    async fn count_sales_rows(&self, source: Source, range: TimeRange) -> Result<[i64; 3]> {
        self.pool
            .run("count_sales_rows", move |conn| {
                queries::count_sales_rows(conn, source, range)
            })
            .await
    }

    async fn delete_sales_rows(&self, source: Source, range: TimeRange) -> Result<()> {
        self.pool
            .run("delete_sales_rows", move |conn| {
                insert::delete_sales_rows(conn, source, range)
            })
            .await
    }

    async fn insert_verification_attempts(&self, rows: &[VerificationAttempt]) -> Result<()> {
        insert::append(&self.pool, rows).await
    }

    async fn insert_age_verifications(&self, rows: &[AgeVerification]) -> Result<()> {
        insert::append(&self.pool, rows).await
    }

    fn placeholders(&self) -> Placeholders {
        Placeholders::Positional
    }

    async fn fetch(&self, statement: &Statement) -> Result<Vec<Vec<Value<'static>>>> {
        let statement = statement.clone();
        self.pool
            .run(statement.name, move |conn| queries::fetch(conn, &statement))
            .await
    }
}
