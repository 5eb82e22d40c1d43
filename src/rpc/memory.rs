use tonic::{Request, Response, Status};

use super::not_built;
use crate::proto::memory::v1::memory_service_server::MemoryService;
use crate::proto::memory::v1::*;

const PROFILES: &str = "customer memory needs its profile store and warehouse batches";

/// `vibe.memory.v1.MemoryService`.
#[derive(Debug, Default)]
pub struct MemoryRpc;

#[tonic::async_trait]
impl MemoryService for MemoryRpc {
    async fn record_interaction(
        &self,
        _: Request<RecordInteractionRequest>,
    ) -> Result<Response<RecordInteractionResponse>, Status> {
        not_built("RecordInteraction", PROFILES)
    }

    async fn record_purchase(
        &self,
        _: Request<RecordPurchaseRequest>,
    ) -> Result<Response<RecordPurchaseResponse>, Status> {
        not_built("RecordPurchase", PROFILES)
    }

    async fn get_profile(
        &self,
        _: Request<GetProfileRequest>,
    ) -> Result<Response<GetProfileResponse>, Status> {
        not_built("GetProfile", PROFILES)
    }

    async fn get_context(
        &self,
        _: Request<GetContextRequest>,
    ) -> Result<Response<GetContextResponse>, Status> {
        not_built("GetContext", PROFILES)
    }

    async fn predict(
        &self,
        _: Request<PredictRequest>,
    ) -> Result<Response<PredictResponse>, Status> {
        not_built("Predict", PROFILES)
    }

    async fn update_consent(
        &self,
        _: Request<UpdateConsentRequest>,
    ) -> Result<Response<UpdateConsentResponse>, Status> {
        not_built("UpdateConsent", PROFILES)
    }

    async fn forget(&self, _: Request<ForgetRequest>) -> Result<Response<ForgetResponse>, Status> {
        not_built("Forget", PROFILES)
    }
}
