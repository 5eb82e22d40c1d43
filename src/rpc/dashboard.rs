use tonic::{Request, Response, Status};

use super::{ResponseStream, not_built};
use crate::proto::integration::v1::dashboard_service_server::DashboardService;
use crate::proto::integration::v1::*;

const METRICS: &str = "revenue metrics need the warehouse and its cache";
const CATALOG: &str = "the product catalog needs the warehouse";
const CACHE: &str = "the dashboard cache is not in place";

/// `vibe.integration.v1.DashboardService`.
#[derive(Debug, Default)]
pub struct DashboardRpc;

#[tonic::async_trait]
impl DashboardService for DashboardRpc {
    async fn get_dashboard(
        &self,
        _: Request<GetDashboardRequest>,
    ) -> Result<Response<GetDashboardResponse>, Status> {
        not_built("GetDashboard", METRICS)
    }

    type WatchDashboardStream = ResponseStream<WatchDashboardResponse>;

    async fn watch_dashboard(
        &self,
        _: Request<WatchDashboardRequest>,
    ) -> Result<Response<Self::WatchDashboardStream>, Status> {
        not_built("WatchDashboard", METRICS)
    }

    async fn get_history(
        &self,
        _: Request<GetHistoryRequest>,
    ) -> Result<Response<GetHistoryResponse>, Status> {
        not_built("GetHistory", METRICS)
    }

    async fn list_products(
        &self,
        _: Request<ListProductsRequest>,
    ) -> Result<Response<ListProductsResponse>, Status> {
        not_built("ListProducts", CATALOG)
    }

    async fn list_top_products(
        &self,
        _: Request<ListTopProductsRequest>,
    ) -> Result<Response<ListTopProductsResponse>, Status> {
        not_built("ListTopProducts", METRICS)
    }

    async fn get_cache_stats(
        &self,
        _: Request<GetCacheStatsRequest>,
    ) -> Result<Response<GetCacheStatsResponse>, Status> {
        not_built("GetCacheStats", CACHE)
    }

    async fn invalidate_cache(
        &self,
        _: Request<InvalidateCacheRequest>,
    ) -> Result<Response<InvalidateCacheResponse>, Status> {
        not_built("InvalidateCache", CACHE)
    }
}
