use tonic::{Request, Response, Status};

use super::{ResponseStream, not_built};
use crate::proto::sync::v1::sync_service_server::SyncService;
use crate::proto::sync::v1::*;

const SYNC: &str = "Square and Lightspeed sync needs its connectors and job store";

/// `vibe.sync.v1.SyncService`.
#[derive(Debug, Default)]
pub struct SyncRpc;

#[tonic::async_trait]
impl SyncService for SyncRpc {
    async fn trigger_sync(
        &self,
        _: Request<TriggerSyncRequest>,
    ) -> Result<Response<TriggerSyncResponse>, Status> {
        not_built("TriggerSync", SYNC)
    }

    async fn get_sync_job(
        &self,
        _: Request<GetSyncJobRequest>,
    ) -> Result<Response<GetSyncJobResponse>, Status> {
        not_built("GetSyncJob", SYNC)
    }

    type WatchSyncJobStream = ResponseStream<WatchSyncJobResponse>;

    async fn watch_sync_job(
        &self,
        _: Request<WatchSyncJobRequest>,
    ) -> Result<Response<Self::WatchSyncJobStream>, Status> {
        not_built("WatchSyncJob", SYNC)
    }

    async fn list_sync_jobs(
        &self,
        _: Request<ListSyncJobsRequest>,
    ) -> Result<Response<ListSyncJobsResponse>, Status> {
        not_built("ListSyncJobs", SYNC)
    }

    async fn get_sync_status(
        &self,
        _: Request<GetSyncStatusRequest>,
    ) -> Result<Response<GetSyncStatusResponse>, Status> {
        not_built("GetSyncStatus", SYNC)
    }

    async fn cancel_sync_job(
        &self,
        _: Request<CancelSyncJobRequest>,
    ) -> Result<Response<CancelSyncJobResponse>, Status> {
        not_built("CancelSyncJob", SYNC)
    }
}
