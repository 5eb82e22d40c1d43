//! Metrics for any backend: one decorator, so both backends report the same way.

use std::future::Future;
use std::time::Instant;

use crate::record::Value;
use crate::statement::{Placeholders, Statement};
use crate::{
    AgeVerification, AuditEvent, CatalogItem, DailySales, LineItem, LineItemTotals, MonthlySales,
    Order, Payment, ProductCursor, ProductFilter, ProductPage, Result, SalesTotals, Source,
    TimeRange, TopProduct, TopProductsOrder, VerificationAttempt, Warehouse,
};

/// `W` with every call counted (`vibe_warehouse_queries_total{backend, query, result}`)
/// and timed (`vibe_warehouse_query_seconds{backend, query}`), and inserted rows counted
/// (`vibe_warehouse_rows_inserted_total{backend, table}`).
#[derive(Debug)]
pub struct Instrumented<W> {
    inner: W,
}

impl<W: Warehouse> Instrumented<W> {
    pub fn new(inner: W) -> Self {
        Self { inner }
    }

    pub fn inner(&self) -> &W {
        &self.inner
    }

    async fn observe<T>(
        &self,
        query: &'static str,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let backend = self.inner.backend();
        let started = Instant::now();
        let result = call.await;
        metrics::histogram!("vibe_warehouse_query_seconds", "backend" => backend, "query" => query)
            .record(started.elapsed().as_secs_f64());
        let outcome = if result.is_ok() { "ok" } else { "error" };
        metrics::counter!(
            "vibe_warehouse_queries_total",
            "backend" => backend,
            "query" => query,
            "result" => outcome
        )
        .increment(1);
        result
    }

    async fn insert<T>(
        &self,
        table: &'static str,
        rows: &[T],
        call: impl Future<Output = Result<()>>,
    ) -> Result<()> {
        self.observe(table, call).await?;
        metrics::counter!(
            "vibe_warehouse_rows_inserted_total",
            "backend" => self.inner.backend(),
            "table" => table
        )
        .increment(rows.len() as u64);
        Ok(())
    }
}

#[async_trait::async_trait]
impl<W: Warehouse> Warehouse for Instrumented<W> {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn migrate(&self) -> Result<()> {
        self.observe("migrate", self.inner.migrate()).await
    }

    async fn ping(&self) -> Result<()> {
        self.observe("ping", self.inner.ping()).await
    }

    async fn insert_payments(&self, rows: &[Payment]) -> Result<()> {
        self.insert("payments", rows, self.inner.insert_payments(rows))
            .await
    }

    async fn insert_orders(&self, rows: &[Order]) -> Result<()> {
        self.insert("orders", rows, self.inner.insert_orders(rows))
            .await
    }

    async fn insert_line_items(&self, rows: &[LineItem]) -> Result<()> {
        self.insert("order_line_items", rows, self.inner.insert_line_items(rows))
            .await
    }

    async fn upsert_catalog_items(&self, rows: &[CatalogItem]) -> Result<()> {
        self.insert("catalog_items", rows, self.inner.upsert_catalog_items(rows))
            .await
    }

    async fn insert_audit_events(&self, rows: &[AuditEvent]) -> Result<()> {
        self.insert("audit_events", rows, self.inner.insert_audit_events(rows))
            .await
    }

    async fn sales_totals(&self, ranges: &[TimeRange]) -> Result<Vec<SalesTotals>> {
        self.observe("sales_totals", self.inner.sales_totals(ranges))
            .await
    }

    async fn recent_payments(&self, range: TimeRange, limit: u32) -> Result<Vec<Payment>> {
        self.observe("recent_payments", self.inner.recent_payments(range, limit))
            .await
    }

    async fn daily_sales(&self, range: TimeRange) -> Result<Vec<DailySales>> {
        self.observe("daily_sales", self.inner.daily_sales(range))
            .await
    }

    async fn monthly_sales(&self, range: TimeRange) -> Result<Vec<MonthlySales>> {
        self.observe("monthly_sales", self.inner.monthly_sales(range))
            .await
    }

    async fn top_products(
        &self,
        range: TimeRange,
        order: TopProductsOrder,
        limit: u32,
    ) -> Result<Vec<TopProduct>> {
        self.observe("top_products", self.inner.top_products(range, order, limit))
            .await
    }

    async fn line_item_totals(&self, range: TimeRange) -> Result<LineItemTotals> {
        self.observe("line_item_totals", self.inner.line_item_totals(range))
            .await
    }

    async fn list_products(
        &self,
        filter: &ProductFilter,
        after: Option<&ProductCursor>,
        limit: u32,
    ) -> Result<ProductPage> {
        self.observe(
            "list_products",
            self.inner.list_products(filter, after, limit),
        )
        .await
    }

    async fn product_categories(&self) -> Result<Vec<String>> {
        self.observe("product_categories", self.inner.product_categories())
            .await
    }

    async fn count_sales_rows(&self, source: Source, range: TimeRange) -> Result<[i64; 3]> {
        self.observe(
            "count_sales_rows",
            self.inner.count_sales_rows(source, range),
        )
        .await
    }

    async fn delete_sales_rows(&self, source: Source, range: TimeRange) -> Result<()> {
        self.observe(
            "delete_sales_rows",
            self.inner.delete_sales_rows(source, range),
        )
        .await
    }

    async fn insert_verification_attempts(&self, rows: &[VerificationAttempt]) -> Result<()> {
        let call = self.inner.insert_verification_attempts(rows);
        self.insert("age_verification_attempts", rows, call).await
    }

    async fn insert_age_verifications(&self, rows: &[AgeVerification]) -> Result<()> {
        let call = self.inner.insert_age_verifications(rows);
        self.insert("age_verifications", rows, call).await
    }

    fn placeholders(&self) -> Placeholders {
        self.inner.placeholders()
    }

    // The portable reads (audit pages, compliance) are the trait's own methods over this
    // `fetch`, so they are observed here under their statement's name.
    async fn fetch(&self, statement: &Statement) -> Result<Vec<Vec<Value<'static>>>> {
        self.observe(statement.name, self.inner.fetch(statement))
            .await
    }
}
