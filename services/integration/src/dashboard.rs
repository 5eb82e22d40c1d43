//! The dashboard domain: every figure computed by the warehouse, served through the
//! shared cache, pushed to watchers.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, Utc};
use vibe_cache::{Cache, CacheSettings, CacheStats, FillError, Served};
use vibe_warehouse::{TimeRange, TopProductsOrder, Warehouse};

use crate::catalog::{
    ProductList, ProductsRequest, TopProductsRequest, next_page_token, parse_products_request,
    parse_top_request,
};
use crate::history::{HistoryRequest, dense_days, dense_months, parse_history_request};
use crate::model::{
    DashboardSnapshot, History, ProductSales, RecentTransaction, TopProducts, Totals, WindowSummary,
};
use crate::store::{Store, Window};
use crate::watch::WatchHub;
use crate::{IntegrationError, Product};

/// How many recent transactions and top sellers the dashboard shows.
const RECENT_TRANSACTIONS: u32 = 25;
const TOP_SELLERS: u32 = 10;
/// How far back the recent transactions are looked for (a partition filter).
const RECENT_LOOKBACK_DAYS: u64 = 30;

/// Where "now" comes from; tests pin it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Which cache a stat or an invalidation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    Dashboard,
    History,
    Products,
    TopProducts,
}

impl CacheKind {
    pub const ALL: [CacheKind; 4] = [
        CacheKind::Dashboard,
        CacheKind::History,
        CacheKind::Products,
        CacheKind::TopProducts,
    ];
}

/// The dashboard, history, catalog and top sellers. Cheap to clone.
#[derive(Clone)]
pub struct Dashboard {
    inner: Arc<Inner>,
}

struct Inner {
    warehouse: Arc<dyn Warehouse>,
    store: Store,
    clock: Clock,
    fresh_for: Duration,
    dashboards: Cache<DashboardSnapshot>,
    histories: Cache<History>,
    products: Cache<ProductList>,
    categories: Cache<Vec<String>>,
    top_products: Cache<TopProducts>,
    watch: WatchHub,
}

impl Dashboard {
    pub fn new(
        warehouse: Arc<dyn Warehouse>,
        store: Store,
        cache: CacheSettings,
        redis: Option<vibe_redis::Redis>,
        clock: Clock,
    ) -> Self {
        let fresh_for = cache.fresh_for;
        Self {
            inner: Arc::new(Inner {
                warehouse,
                store,
                clock,
                fresh_for,
                dashboards: Cache::new("dashboard", cache.clone(), redis.clone()),
                histories: Cache::new("history", cache.clone(), redis.clone()),
                products: Cache::new("products", cache.clone(), redis.clone()),
                categories: Cache::new("categories", cache.clone(), redis.clone()),
                top_products: Cache::new("top_products", cache.clone(), redis.clone()),
                watch: WatchHub::default(),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The current snapshot (fresh, stale while refreshing, or stale because the
    /// warehouse fails).
    pub async fn snapshot(&self) -> Result<Served<DashboardSnapshot>, IntegrationError> {
        let today = self.inner.store.date_of((self.inner.clock)());
        let inner = self.inner.clone();
        let served = self
            .inner
            .dashboards
            .get(&today.to_string(), move || async move {
                compute_snapshot(&inner).await
            })
            .await?;
        Ok(served)
    }

    /// Snapshots as they change; one background driver per process feeds every watcher.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<Option<Arc<Served<DashboardSnapshot>>>> {
        self.inner
            .watch
            .subscribe(self.clone(), self.inner.fresh_for)
    }

    /// Keys of dashboard values that changed in this process.
    pub(crate) fn dashboard_changes(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.inner.dashboards.subscribe()
    }

    pub async fn history(
        &self,
        request: HistoryRequest,
    ) -> Result<Served<History>, IntegrationError> {
        let now = (self.inner.clock)();
        let span = parse_history_request(request, self.inner.store.date_of(now))?;
        let inner = self.inner.clone();
        let served = self
            .inner
            .histories
            .get(&span.cache_key(), move || async move {
                let now = (inner.clock)();
                let range = inner.store.dates(span.first, span.last, now);
                let points = if span.monthly {
                    dense_months(span, &inner.warehouse.monthly_sales(range).await?)
                } else {
                    dense_days(span, &inner.warehouse.daily_sales(range).await?)
                };
                Ok::<_, FillError>(History {
                    monthly: span.monthly,
                    points,
                })
            })
            .await?;
        Ok(served)
    }

    pub async fn products(
        &self,
        request: ProductsRequest,
    ) -> Result<Served<ProductList>, IntegrationError> {
        let categories = self.categories().await?;
        let query = parse_products_request(&request, &categories.value)?;
        let inner = self.inner.clone();
        let key = query.cache_key();
        let served = self
            .inner
            .products
            .get(&key, move || async move {
                let page = inner
                    .warehouse
                    .list_products(&query.filter, query.after.as_ref(), query.limit)
                    .await?;
                Ok::<_, FillError>(ProductList {
                    next_page_token: next_page_token(&query.filter, page.next.as_ref()),
                    products: page.items.into_iter().map(Product::from).collect(),
                    total: page.total,
                })
            })
            .await?;
        Ok(served)
    }

    async fn categories(&self) -> Result<Served<Vec<String>>, IntegrationError> {
        let inner = self.inner.clone();
        let served = self
            .inner
            .categories
            .get("all", move || async move {
                Ok::<_, FillError>(inner.warehouse.product_categories().await?)
            })
            .await?;
        Ok(served)
    }

    pub async fn top_products(
        &self,
        request: TopProductsRequest,
    ) -> Result<Served<TopProducts>, IntegrationError> {
        let now = (self.inner.clock)();
        let (first, last, limit) = parse_top_request(&request, self.inner.store.date_of(now))?;
        let order = request.order;
        let key = format!("{first}:{last}:{order:?}:{limit}");
        let inner = self.inner.clone();
        let served = self
            .inner
            .top_products
            .get(&key, move || async move {
                let range = inner.store.dates(first, last, (inner.clock)());
                let (products, total_revenue_cents, total_units) =
                    product_sales(&*inner.warehouse, range, order, limit).await?;
                Ok::<_, FillError>(TopProducts {
                    first_date: first,
                    last_date: last,
                    products,
                    total_revenue_cents,
                    total_units,
                })
            })
            .await?;
        Ok(served)
    }

    /// Answers when the warehouse does (readiness).
    pub async fn ping(&self) -> Result<(), IntegrationError> {
        self.inner
            .warehouse
            .ping()
            .await
            .map_err(|err| IntegrationError::Unavailable(err.to_string()))
    }

    /// Fills the values the cockpit asks for first, so the first visitor does not wait.
    pub async fn warm(&self) {
        if let Err(error) = self.snapshot().await {
            tracing::warn!(%error, "dashboard warm-up failed");
        }
        let today = self.inner.store.date_of((self.inner.clock)());
        let request = HistoryRequest::Days {
            first: today - Days::new(29),
            last: today,
        };
        if let Err(error) = self.history(request).await {
            tracing::warn!(%error, "history warm-up failed");
        }
    }

    pub fn cache_stats(&self) -> Vec<(CacheKind, CacheStats)> {
        CacheKind::ALL
            .into_iter()
            .map(|kind| {
                let stats = match kind {
                    CacheKind::Dashboard => self.inner.dashboards.stats(),
                    CacheKind::History => self.inner.histories.stats(),
                    CacheKind::Products => self.inner.products.stats(),
                    CacheKind::TopProducts => self.inner.top_products.stats(),
                };
                (kind, stats)
            })
            .collect()
    }

    /// Invalidates `kinds` everywhere (this process, Redis, other replicas).
    pub async fn invalidate(&self, kinds: &[CacheKind]) {
        for kind in kinds {
            match kind {
                CacheKind::Dashboard => self.inner.dashboards.invalidate_all().await,
                CacheKind::History => self.inner.histories.invalidate_all().await,
                CacheKind::Products => {
                    self.inner.products.invalidate_all().await;
                    self.inner.categories.invalidate_all().await;
                }
                CacheKind::TopProducts => self.inner.top_products.invalidate_all().await,
            }
        }
    }
}

async fn compute_snapshot(inner: &Inner) -> Result<DashboardSnapshot, FillError> {
    Ok(compute_dashboard(&*inner.warehouse, &inner.store, (inner.clock)()).await?)
}

/// The dashboard at `now`, straight from the warehouse (no cache): four queries run in
/// parallel — the window totals, the recent payments, the top sellers and their total.
pub async fn compute_dashboard(
    warehouse: &dyn Warehouse,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<DashboardSnapshot, vibe_warehouse::WarehouseError> {
    let windows = store.windows(now);
    let ranges = windows.all().map(|window| window.range);
    let recent_range = TimeRange {
        start: now - Days::new(RECENT_LOOKBACK_DAYS),
        end: now,
    };
    let (totals, recent, (top_sellers, _, _)) = tokio::try_join!(
        warehouse.sales_totals(&ranges),
        warehouse.recent_payments(recent_range, RECENT_TRANSACTIONS),
        product_sales(
            warehouse,
            windows.last_7_days.range,
            TopProductsOrder::Revenue,
            TOP_SELLERS
        ),
    )?;
    let summary = |window: Window, index: usize| WindowSummary {
        first_date: window.first_date,
        last_date: window.last_date,
        start: window.range.start,
        totals: totals
            .get(index)
            .copied()
            .map(Totals::from)
            .unwrap_or_default(),
    };
    Ok(DashboardSnapshot {
        as_of: now,
        time_zone: store.time_zone.name().to_owned(),
        currency: store.currency.clone(),
        business_date: windows.today.last_date,
        today: summary(windows.today, 0),
        last_7_days: summary(windows.last_7_days, 1),
        month_to_date: summary(windows.month_to_date, 2),
        year_to_date: summary(windows.year_to_date, 3),
        recent_transactions: recent
            .into_iter()
            .map(|payment| RecentTransaction {
                transaction_id: payment.payment_id,
                amount_cents: payment.amount_cents,
                created_at: payment.created_at,
                status: payment.status.as_str().to_owned(),
                customer_id: payment.customer_id,
                source: payment.source.as_str().to_owned(),
                location_id: payment.location_id,
            })
            .collect(),
        top_sellers,
    })
}

/// Ranked products over `range` with their share of all line-item revenue there, and
/// the totals of all products.
async fn product_sales(
    warehouse: &dyn Warehouse,
    range: TimeRange,
    order: TopProductsOrder,
    limit: u32,
) -> Result<(Vec<ProductSales>, i64, i64), vibe_warehouse::WarehouseError> {
    let (top, totals) = tokio::try_join!(
        warehouse.top_products(range, order, limit),
        warehouse.line_item_totals(range),
    )?;
    let share = |revenue: i64| {
        if totals.revenue_cents > 0 {
            revenue as f64 / totals.revenue_cents as f64
        } else {
            0.0
        }
    };
    let products = top
        .into_iter()
        .map(|product| ProductSales {
            revenue_share: share(product.revenue_cents),
            product_id: product.product_id,
            name: product.name,
            category: product.category,
            units: product.units,
            revenue_cents: product.revenue_cents,
        })
        .collect();
    Ok((products, totals.revenue_cents, totals.units))
}
