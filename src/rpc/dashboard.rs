use std::sync::Arc;

use futures::StreamExt;
use tokio_stream::wrappers::WatchStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use vibe_cache::{CacheStats, Served};
use vibe_integration::{
    CacheKind as DomainKind, Dashboard, DashboardSnapshot, HistoryRequest, ProductSales,
    ProductsRequest, TopProductsRequest, Totals, WindowSummary as DomainWindow,
};
use vibe_warehouse::{SaleStatus, Source, TopProductsOrder as DomainOrder};

use super::ResponseStream;
use super::wire::{self, Violations, integration_status};
use crate::proto::integration::v1::dashboard_service_server::DashboardService;
use crate::proto::integration::v1::*;

/// `vibe.integration.v1.DashboardService` over the integration domain.
#[derive(Clone)]
pub struct DashboardRpc {
    dashboard: Dashboard,
    /// Fires when the process drains: watch streams end so the drain can finish.
    shutdown: CancellationToken,
    instance: String,
}

impl DashboardRpc {
    pub fn new(dashboard: Dashboard, shutdown: CancellationToken, instance: String) -> Self {
        Self {
            dashboard,
            shutdown,
            instance,
        }
    }

    pub(super) fn dashboard(&self) -> &Dashboard {
        &self.dashboard
    }

    fn currency(&self) -> &str {
        &self.dashboard.store().currency
    }

    fn freshness<T>(
        &self,
        served: &Served<T>,
        fresh_for: Option<std::time::Duration>,
    ) -> Option<Freshness> {
        Some(Freshness {
            state: match served.freshness {
                vibe_cache::Freshness::Fresh => FreshnessState::Fresh,
                vibe_cache::Freshness::Stale => FreshnessState::Stale,
                vibe_cache::Freshness::StaleOnError => FreshnessState::StaleOnError,
            } as i32,
            as_of: wire::system_timestamp(served.as_of),
            query_duration: wire::duration(served.query_duration),
            fresh_until: fresh_for.and_then(|d| wire::system_timestamp(served.as_of + d)),
        })
    }

    fn window(&self, window: &DomainWindow) -> Option<WindowSummary> {
        let totals: &Totals = &window.totals;
        Some(WindowSummary {
            start_date: wire::date(window.first_date),
            end_date: wire::date(window.last_date),
            start_time: wire::timestamp(window.start),
            revenue: wire::money(totals.revenue_cents, self.currency()),
            transactions: totals.transactions,
            distinct_customers: totals.distinct_customers,
            average_order_value: wire::money(totals.average_order_value_cents, self.currency()),
        })
    }

    fn product_sales(&self, product: &ProductSales) -> TopProduct {
        TopProduct {
            product_id: product.product_id.clone(),
            name: product.name.clone(),
            category: product.category.clone(),
            units: product.units,
            revenue: wire::money(product.revenue_cents, self.currency()),
            revenue_share: product.revenue_share,
        }
    }

    pub(super) fn dashboard_message(
        &self,
        snapshot: &DashboardSnapshot,
    ) -> crate::proto::integration::v1::Dashboard {
        crate::proto::integration::v1::Dashboard {
            time_zone: snapshot.time_zone.clone(),
            business_date: wire::date(snapshot.business_date),
            today: self.window(&snapshot.today),
            last_7_calendar_days: self.window(&snapshot.last_7_days),
            calendar_month_to_date: self.window(&snapshot.month_to_date),
            calendar_year_to_date: self.window(&snapshot.year_to_date),
            recent_transactions: snapshot
                .recent_transactions
                .iter()
                .map(|tx| RecentTransaction {
                    transaction_id: tx.transaction_id.clone(),
                    amount: wire::money(tx.amount_cents, &snapshot.currency),
                    created_at: wire::timestamp(tx.created_at),
                    status: transaction_status(&tx.status) as i32,
                    customer_id: tx.customer_id.clone().unwrap_or_default(),
                    source: data_source(&tx.source) as i32,
                    location_id: tx.location_id.clone(),
                })
                .collect(),
            top_sellers_last_7_calendar_days: snapshot
                .top_sellers
                .iter()
                .map(|product| self.product_sales(product))
                .collect(),
        }
    }

    /// The dashboard's freshness reports the snapshot's own as-of: every window ends there.
    pub(super) fn dashboard_freshness(
        &self,
        served: &Served<DashboardSnapshot>,
    ) -> Option<Freshness> {
        let mut freshness = self.freshness(served, None)?;
        freshness.as_of = wire::timestamp(served.value.as_of);
        Some(freshness)
    }
}

fn transaction_status(status: &str) -> TransactionStatus {
    match SaleStatus::parse(status) {
        Some(SaleStatus::Pending) => TransactionStatus::Pending,
        Some(SaleStatus::Approved) => TransactionStatus::Approved,
        Some(SaleStatus::Completed) => TransactionStatus::Completed,
        Some(SaleStatus::Cancelled) => TransactionStatus::Cancelled,
        Some(SaleStatus::Failed) => TransactionStatus::Failed,
        None => TransactionStatus::Unspecified,
    }
}

fn data_source(source: &str) -> DataSource {
    match Source::parse(source) {
        Some(Source::Square) => DataSource::Square,
        Some(Source::Lightspeed) => DataSource::Lightspeed,
        Some(Source::Demo) => DataSource::Demo,
        None => DataSource::Unspecified,
    }
}

fn cache_kind(kind: DomainKind) -> CacheKind {
    match kind {
        DomainKind::Dashboard => CacheKind::Dashboard,
        DomainKind::History => CacheKind::History,
        DomainKind::Products => CacheKind::Products,
        DomainKind::TopProducts => CacheKind::TopProducts,
    }
}

fn counters(stats: &[&CacheStats]) -> CacheCounters {
    let sum = |f: fn(&CacheStats) -> u64| -> i64 {
        i64::try_from(stats.iter().map(|s| f(s)).sum::<u64>()).unwrap_or(i64::MAX)
    };
    let hits_fresh = sum(|s| s.hits_fresh);
    let hits = hits_fresh + sum(|s| s.hits_stale) + sum(|s| s.hits_stale_on_error);
    let requests = hits + sum(|s| s.misses);
    let ratio = |part: i64| {
        if requests > 0 {
            part as f64 / requests as f64
        } else {
            0.0
        }
    };
    let fills = sum(|s| s.fills);
    // The mean over all fills, weighting each cache by its number of fills.
    let weighted: f64 = stats
        .iter()
        .map(|s| s.fill_latency_mean.as_secs_f64() * s.fills as f64)
        .sum();
    let mean = if fills > 0 {
        weighted / fills as f64
    } else {
        0.0
    };
    CacheCounters {
        hits_fresh,
        hits_stale: sum(|s| s.hits_stale),
        hits_stale_on_error: sum(|s| s.hits_stale_on_error),
        misses: sum(|s| s.misses),
        fills,
        coalesced_waits: sum(|s| s.coalesced_waits),
        warehouse_errors: sum(|s| s.fill_errors),
        fill_latency_mean: wire::duration(std::time::Duration::from_secs_f64(mean)),
        fill_latency_p95: wire::duration(
            stats
                .iter()
                .map(|s| s.fill_latency_p95)
                .max()
                .unwrap_or_default(),
        ),
        fill_latency_max: wire::duration(
            stats
                .iter()
                .map(|s| s.fill_latency_max)
                .max()
                .unwrap_or_default(),
        ),
        fresh_hit_ratio: ratio(hits_fresh),
        hit_ratio: ratio(hits),
    }
}

#[tonic::async_trait]
impl DashboardService for DashboardRpc {
    /// On the wire, [`super::DashboardServer`] answers this method from pre-encoded bytes
    /// of the same message; this is the plain form of that answer.
    async fn get_dashboard(
        &self,
        _: Request<GetDashboardRequest>,
    ) -> Result<Response<GetDashboardResponse>, Status> {
        let served = self
            .dashboard
            .snapshot()
            .await
            .map_err(integration_status)?;
        Ok(Response::new(GetDashboardResponse {
            dashboard: Some(self.dashboard_message(&served.value)),
            freshness: self.dashboard_freshness(&served),
        }))
    }

    type WatchDashboardStream = ResponseStream<WatchDashboardResponse>;

    async fn watch_dashboard(
        &self,
        _: Request<WatchDashboardRequest>,
    ) -> Result<Response<Self::WatchDashboardStream>, Status> {
        let this = self.clone();
        let shutdown = self.shutdown.clone();
        let updates = WatchStream::new(self.dashboard.watch())
            .filter_map(|update: Option<Arc<Served<DashboardSnapshot>>>| async move { update })
            .map(move |served| {
                Ok(WatchDashboardResponse {
                    dashboard: Some(this.dashboard_message(&served.value)),
                    freshness: this.dashboard_freshness(&served),
                })
            })
            // A draining server ends the stream (status OK); the client reconnects elsewhere.
            .take_until(shutdown.cancelled_owned());
        Ok(Response::new(Box::pin(updates)))
    }

    async fn get_history(
        &self,
        request: Request<GetHistoryRequest>,
    ) -> Result<Response<GetHistoryResponse>, Status> {
        let mut violations = Violations::default();
        let parsed = match request.into_inner().range {
            Some(get_history_request::Range::Days(days)) => {
                let first = violations.date("days.start_date", days.start_date.as_ref());
                let last = violations.date("days.end_date", days.end_date.as_ref());
                first
                    .zip(last)
                    .map(|(first, last)| HistoryRequest::Days { first, last })
            }
            Some(get_history_request::Range::Months(months)) => {
                let first =
                    violations.year_month("months.start_month", months.start_month.as_ref());
                let last = violations.year_month("months.end_month", months.end_month.as_ref());
                first
                    .zip(last)
                    .map(|(first, last)| HistoryRequest::Months { first, last })
            }
            None => {
                violations.add("range", "set days or months");
                None
            }
        };
        let request = violations.finish(parsed)?;
        let served = self
            .dashboard
            .history(request)
            .await
            .map_err(integration_status)?;
        let currency = self.currency();
        let points = served
            .value
            .points
            .iter()
            .map(|point| HistoryPoint {
                period: Some(if served.value.monthly {
                    history_point::Period::Month(wire::year_month(point.date).unwrap_or_default())
                } else {
                    history_point::Period::Date(wire::date(point.date).unwrap_or_default())
                }),
                transactions: point.totals.transactions,
                revenue: wire::money(point.totals.revenue_cents, currency),
                distinct_customers: point.totals.distinct_customers,
            })
            .collect();
        Ok(Response::new(GetHistoryResponse {
            points,
            freshness: self.freshness(&served, None),
        }))
    }

    async fn list_products(
        &self,
        request: Request<ListProductsRequest>,
    ) -> Result<Response<ListProductsResponse>, Status> {
        let request = request.into_inner();
        let available = match request.availability() {
            AvailabilityFilter::Unspecified => None,
            AvailabilityFilter::Available => Some(true),
            AvailabilityFilter::Unavailable => Some(false),
        };
        let served = self
            .dashboard
            .products(ProductsRequest {
                page_size: request.page_size,
                page_token: request.page_token,
                query: request.query,
                category: request.category,
                available,
            })
            .await
            .map_err(integration_status)?;
        let currency = self.currency();
        let products = served
            .value
            .products
            .iter()
            .map(|product| Product {
                product_id: product.product_id.clone(),
                name: product.name.clone(),
                description: product.description.clone(),
                price: wire::money(product.price_cents, currency),
                sku: product.sku.clone(),
                category: product.category.clone(),
                available: product.available,
                updated_at: wire::timestamp(product.updated_at),
                source: data_source(&product.source) as i32,
                has_certificate_of_analysis: product.has_certificate_of_analysis,
                delta9_thc_basis_points: product
                    .delta9_thc_basis_points
                    .and_then(|bp| i32::try_from(bp).ok()),
                quantity_on_hand: product.quantity_on_hand,
                unit_cost: None,
            })
            .collect();
        Ok(Response::new(ListProductsResponse {
            products,
            next_page_token: served.value.next_page_token.clone(),
            total_size: served.value.total,
            freshness: self.freshness(&served, None),
        }))
    }

    async fn list_top_products(
        &self,
        request: Request<ListTopProductsRequest>,
    ) -> Result<Response<ListTopProductsResponse>, Status> {
        let request = request.into_inner();
        let mut violations = Violations::default();
        let window = match &request.window {
            Some(window) => {
                let first = violations.date("window.start_date", window.start_date.as_ref());
                let last = violations.date("window.end_date", window.end_date.as_ref());
                first.zip(last)
            }
            None => {
                violations.add("window", "is required");
                None
            }
        };
        let order = match request.order_by() {
            TopProductsOrder::Units => DomainOrder::Units,
            TopProductsOrder::Revenue | TopProductsOrder::Unspecified => DomainOrder::Revenue,
        };
        let (first_date, last_date) = violations.finish(window)?;
        let served = self
            .dashboard
            .top_products(TopProductsRequest {
                first_date,
                last_date,
                order,
                limit: request.limit,
            })
            .await
            .map_err(integration_status)?;
        let top = &served.value;
        Ok(Response::new(ListTopProductsResponse {
            products: top.products.iter().map(|p| self.product_sales(p)).collect(),
            window: Some(DateRange {
                start_date: wire::date(top.first_date),
                end_date: wire::date(top.last_date),
            }),
            total_revenue: wire::money(top.total_revenue_cents, self.currency()),
            total_units: top.total_units,
            freshness: self.freshness(&served, None),
        }))
    }

    async fn get_cache_stats(
        &self,
        _: Request<GetCacheStatsRequest>,
    ) -> Result<Response<GetCacheStatsResponse>, Status> {
        let stats = self.dashboard.cache_stats();
        let all: Vec<&CacheStats> = stats.iter().map(|(_, s)| s).collect();
        let since = stats.iter().map(|(_, s)| s.since).min();
        let mut backends = vec![CacheBackendStats {
            kind: CacheBackendKind::InProcess as i32,
            healthy: true,
            entries: Some(
                i64::try_from(all.iter().map(|s| s.entries).sum::<u64>()).unwrap_or(i64::MAX),
            ),
            errors: 0,
        }];
        let redis: Vec<_> = all.iter().filter_map(|s| s.redis.as_ref()).collect();
        if !redis.is_empty() {
            backends.push(CacheBackendStats {
                kind: CacheBackendKind::Redis as i32,
                healthy: redis.iter().all(|r| r.healthy),
                entries: None,
                errors: i64::try_from(redis.iter().map(|r| r.errors).sum::<u64>())
                    .unwrap_or(i64::MAX),
            });
        }
        Ok(Response::new(GetCacheStatsResponse {
            instance: self.instance.clone(),
            since: since.and_then(wire::system_timestamp),
            total: Some(counters(&all)),
            by_kind: stats
                .iter()
                .map(|(kind, s)| CacheKindStats {
                    kind: cache_kind(*kind) as i32,
                    counters: Some(counters(&[s])),
                })
                .collect(),
            backends,
        }))
    }

    async fn invalidate_cache(
        &self,
        request: Request<InvalidateCacheRequest>,
    ) -> Result<Response<InvalidateCacheResponse>, Status> {
        let mut violations = Violations::default();
        let kinds = match request.into_inner().scope {
            Some(invalidate_cache_request::Scope::All(true)) => Some(DomainKind::ALL.to_vec()),
            Some(invalidate_cache_request::Scope::All(false)) => {
                violations.add("all", "must be true when chosen");
                None
            }
            Some(invalidate_cache_request::Scope::Kind(kind)) => match CacheKind::try_from(kind) {
                Ok(CacheKind::Dashboard) => Some(vec![DomainKind::Dashboard]),
                Ok(CacheKind::History) => Some(vec![DomainKind::History]),
                Ok(CacheKind::Products) => Some(vec![DomainKind::Products]),
                Ok(CacheKind::TopProducts) => Some(vec![DomainKind::TopProducts]),
                _ => {
                    violations.add("kind", format!("not a cache kind this service has: {kind}"));
                    None
                }
            },
            Some(invalidate_cache_request::Scope::KeyPrefix(_)) => {
                // Entries are invalidated by kind through a generation bump (no KEYS scans).
                return Err(Status::unimplemented(
                    "InvalidateCache by key_prefix is not built yet: invalidate a kind or all",
                ));
            }
            None => {
                violations.add("scope", "set all, kind or key_prefix");
                None
            }
        };
        let kinds = violations.finish(kinds)?;
        let before: u64 = self
            .dashboard
            .cache_stats()
            .iter()
            .map(|(_, s)| s.entries)
            .sum();
        self.dashboard.invalidate(&kinds).await;
        let after: u64 = self
            .dashboard
            .cache_stats()
            .iter()
            .map(|(_, s)| s.entries)
            .sum();
        Ok(Response::new(InvalidateCacheResponse {
            local_entries_invalidated: i64::try_from(before.saturating_sub(after)).unwrap_or(0),
            shared_entries_invalidated: None,
            invalidated_at: wire::timestamp(chrono::Utc::now()),
        }))
    }
}
