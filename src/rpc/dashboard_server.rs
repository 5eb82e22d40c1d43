//! `DashboardService` on the wire, with `GetDashboard` answered from pre-encoded bytes.
//!
//! Every staff screen polls `GetDashboard`, and between two cache fills every answer
//! carries the same dashboard. Its 3 KB message is encoded once per snapshot; each call
//! then only appends its own freshness (protobuf messages concatenate: the two halves
//! are fields 1 and 2 of `GetDashboardResponse`). Every other method goes to the
//! generated server unchanged.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes};
use futures::future::BoxFuture;
use prost::Message;
use tonic::codec::{Codec, EncodeBuf, Encoder};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};
use tonic_prost::ProstDecoder;
use vibe_integration::DashboardSnapshot;

use super::DashboardRpc;
use super::wire::integration_status;
use crate::proto::integration::v1::dashboard_service_server::DashboardServiceServer;
use crate::proto::integration::v1::{GetDashboardRequest, GetDashboardResponse};

const GET_DASHBOARD: &str = "/vibe.integration.v1.DashboardService/GetDashboard";

/// The service to route: the generated server plus the prepared `GetDashboard`.
#[derive(Clone)]
pub struct DashboardServer {
    generated: DashboardServiceServer<DashboardRpc>,
    prepared: PreparedDashboard,
}

impl DashboardServer {
    pub fn new(rpc: DashboardRpc) -> Self {
        Self {
            generated: DashboardServiceServer::new(rpc.clone()),
            prepared: PreparedDashboard {
                rpc,
                last: Arc::new(Mutex::new(None)),
            },
        }
    }
}

impl NamedService for DashboardServer {
    const NAME: &'static str = <DashboardServiceServer<DashboardRpc> as NamedService>::NAME;
}

impl tower::Service<http::Request<tonic::body::Body>> for DashboardServer {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        if request.uri().path() != GET_DASHBOARD {
            return self.generated.call(request);
        }
        let prepared = self.prepared.clone();
        Box::pin(async move { Ok(Grpc::new(PreparedCodec).unary(prepared, request).await) })
    }
}

/// A snapshot and its encoded dashboard field.
type Encoded = (Arc<DashboardSnapshot>, Bytes);

/// The dashboard half of the last answer, reused while the snapshot is the same one.
#[derive(Clone)]
struct PreparedDashboard {
    rpc: DashboardRpc,
    last: Arc<Mutex<Option<Encoded>>>,
}

impl PreparedDashboard {
    /// `GetDashboardResponse.dashboard` (field 1) of `snapshot`, encoded.
    fn dashboard_field(&self, snapshot: &Arc<DashboardSnapshot>) -> Bytes {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((cached, bytes)) = last.as_ref()
            && Arc::ptr_eq(cached, snapshot)
        {
            return bytes.clone();
        }
        let bytes = Bytes::from(
            GetDashboardResponse {
                dashboard: Some(self.rpc.dashboard_message(snapshot)),
                freshness: None,
            }
            .encode_to_vec(),
        );
        *last = Some((Arc::clone(snapshot), bytes.clone()));
        bytes
    }
}

/// A `GetDashboardResponse` in two encoded halves, written back to back.
struct PreparedResponse {
    /// Field 1, shared by every answer from one snapshot.
    dashboard: Bytes,
    /// Field 2, this answer's freshness.
    freshness: Vec<u8>,
}

impl UnaryService<GetDashboardRequest> for PreparedDashboard {
    type Response = PreparedResponse;
    type Future = BoxFuture<'static, Result<Response<PreparedResponse>, Status>>;

    fn call(&mut self, _: Request<GetDashboardRequest>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let served = this
                .rpc
                .dashboard()
                .snapshot()
                .await
                .map_err(integration_status)?;
            let freshness = GetDashboardResponse {
                dashboard: None,
                freshness: this.rpc.dashboard_freshness(&served),
            };
            Ok(Response::new(PreparedResponse {
                dashboard: this.dashboard_field(&served.value),
                freshness: freshness.encode_to_vec(),
            }))
        })
    }
}

/// Decodes the request with prost; writes the prepared response bytes as they are.
#[derive(Clone, Copy)]
struct PreparedCodec;

impl Codec for PreparedCodec {
    type Encode = PreparedResponse;
    type Decode = GetDashboardRequest;
    type Encoder = PreparedCodec;
    type Decoder = ProstDecoder<GetDashboardRequest>;

    fn encoder(&mut self) -> Self::Encoder {
        PreparedCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstDecoder::default()
    }
}

impl Encoder for PreparedCodec {
    type Item = PreparedResponse;
    type Error = Status;

    fn encode(&mut self, item: PreparedResponse, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item.dashboard);
        dst.put_slice(&item.freshness);
        Ok(())
    }
}
