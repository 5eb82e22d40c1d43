use tonic::{Request, Response, Status};

use super::{ResponseStream, not_built};
use crate::proto::reasoning::v1::reasoning_service_server::ReasoningService;
use crate::proto::reasoning::v1::*;

const JOBS: &str = "reasoning jobs need the job queue and an LLM endpoint";

/// `vibe.reasoning.v1.ReasoningService`.
#[derive(Debug, Default)]
pub struct ReasoningRpc;

#[tonic::async_trait]
impl ReasoningService for ReasoningRpc {
    async fn submit_job(
        &self,
        _: Request<SubmitJobRequest>,
    ) -> Result<Response<SubmitJobResponse>, Status> {
        not_built("SubmitJob", JOBS)
    }

    type StreamJobStream = ResponseStream<StreamJobResponse>;

    async fn stream_job(
        &self,
        _: Request<StreamJobRequest>,
    ) -> Result<Response<Self::StreamJobStream>, Status> {
        not_built("StreamJob", JOBS)
    }

    async fn get_job(&self, _: Request<GetJobRequest>) -> Result<Response<GetJobResponse>, Status> {
        not_built("GetJob", JOBS)
    }

    async fn cancel_job(
        &self,
        _: Request<CancelJobRequest>,
    ) -> Result<Response<CancelJobResponse>, Status> {
        not_built("CancelJob", JOBS)
    }
}
