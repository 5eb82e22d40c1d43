//! The BigQuery warehouse backend: `jobs.query` with named parameters (and
//! `maximumBytesBilled` on every job) for reads and DML, `insertAll` with deterministic
//! insert ids for appends, the tables API for the schema (day partitions on the event
//! time, `requirePartitionFilter`, clustering, seven-year partition expiry).

mod client;
mod insert;
mod migrate;
mod queries;
mod values;

use std::time::Duration;

use secrecy::SecretString;

use vibe_warehouse::record::Value;
use vibe_warehouse::statement::{Placeholders, Statement};
use vibe_warehouse::{
    AgeVerification, AuditEvent, CatalogItem, DailySales, LineItem, LineItemTotals, MonthlySales,
    Order, Payment, ProductCursor, ProductFilter, ProductPage, Result, SalesTotals, Source,
    TimeRange, TopProduct, TopProductsOrder, VerificationAttempt, Warehouse,
};

pub use crate::client::BigQueryWarehouse;

/// How the backend authenticates.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A service-account JSON key (the file's content; usually read from a mounted secret).
    ServiceAccountKey(SecretString),
    /// Application default credentials: `GOOGLE_APPLICATION_CREDENTIALS`, or the metadata
    /// server (GKE workload identity, GCE).
    ApplicationDefault,
    /// No credentials, for the local emulator only: requires `base_url`.
    None,
}

/// Where the warehouse lives and what each query may cost.
#[derive(Debug, Clone)]
pub struct BigQuerySettings {
    pub project: String,
    /// Created by `migrate` when missing.
    pub dataset: String,
    /// Dataset and job location, e.g. `US` or `us-central1`.
    pub location: String,
    pub credentials: Credentials,
    /// REST base URL ending in `/bigquery/v2`; `None` means Google's. Set for the emulator.
    pub base_url: Option<String>,
    /// Set on every query job: BigQuery fails a job that would bill more.
    pub maximum_bytes_billed: i64,
    /// Bounds each call as a whole (a query with all its result pages, one insert batch).
    pub query_timeout: Duration,
}

#[async_trait::async_trait]
impl Warehouse for BigQueryWarehouse {
    fn backend(&self) -> &'static str {
        "bigquery"
    }

    async fn migrate(&self) -> Result<()> {
        migrate::migrate(self).await
    }

    async fn ping(&self) -> Result<()> {
        queries::ping(self).await
    }

    async fn insert_payments(&self, rows: &[Payment]) -> Result<()> {
        insert::insert_all(self, rows).await
    }

    async fn insert_orders(&self, rows: &[Order]) -> Result<()> {
        insert::insert_all(self, rows).await
    }

    async fn insert_line_items(&self, rows: &[LineItem]) -> Result<()> {
        insert::insert_all(self, rows).await
    }

    async fn upsert_catalog_items(&self, rows: &[CatalogItem]) -> Result<()> {
        insert::merge_catalog(self, rows).await
    }

    async fn insert_audit_events(&self, rows: &[AuditEvent]) -> Result<()> {
        insert::insert_all(self, rows).await
    }

    async fn sales_totals(&self, ranges: &[TimeRange]) -> Result<Vec<SalesTotals>> {
        queries::sales_totals(self, ranges).await
    }

    async fn recent_payments(&self, range: TimeRange, limit: u32) -> Result<Vec<Payment>> {
        queries::recent_payments(self, range, limit).await
    }

    async fn daily_sales(&self, range: TimeRange) -> Result<Vec<DailySales>> {
        queries::daily_sales(self, range).await
    }

    async fn monthly_sales(&self, range: TimeRange) -> Result<Vec<MonthlySales>> {
        queries::monthly_sales(self, range).await
    }

    async fn top_products(
        &self,
        range: TimeRange,
        order: TopProductsOrder,
        limit: u32,
    ) -> Result<Vec<TopProduct>> {
        queries::top_products(self, range, order, limit).await
    }

    async fn line_item_totals(&self, range: TimeRange) -> Result<LineItemTotals> {
        queries::line_item_totals(self, range).await
    }

    async fn list_products(
        &self,
        filter: &ProductFilter,
        after: Option<&ProductCursor>,
        limit: u32,
    ) -> Result<ProductPage> {
        queries::list_products(self, filter, after, limit).await
    }

    async fn product_categories(&self) -> Result<Vec<String>> {
        queries::product_categories(self).await
    }

    async fn count_sales_rows(&self, source: Source, range: TimeRange) -> Result<[i64; 3]> {
        queries::count_sales_rows(self, source, range).await
    }

    async fn delete_sales_rows(&self, source: Source, range: TimeRange) -> Result<()> {
        insert::delete_sales_rows(self, source, range).await
    }

    async fn insert_verification_attempts(&self, rows: &[VerificationAttempt]) -> Result<()> {
        insert::insert_all(self, rows).await
    }

    async fn insert_age_verifications(&self, rows: &[AgeVerification]) -> Result<()> {
        insert::insert_all(self, rows).await
    }

    fn placeholders(&self) -> Placeholders {
        Placeholders::Named
    }

    async fn fetch(&self, statement: &Statement) -> Result<Vec<Vec<Value<'static>>>> {
        queries::fetch(self, statement).await
    }
}
