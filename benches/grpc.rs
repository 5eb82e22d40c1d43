//! Cached `GetDashboard` against the health `Check`, over gRPC on the same server, in
//! the same run: the ratio says what the dashboard path costs beyond the bare transport.
//!
//! Measured on both listeners of one `vibe up`-like process: the gateway (the edge, where
//! `GetDashboard` crosses to the integration service in-process, through a second
//! telemetry layer as a network hop would) and the services listener (both calls served
//! by the same router).
//!
//! Client and server share the machine's cores, so the client's own work counts against
//! the server. Two client modes show how much: `decoded` (the generated clients, which
//! decode every response into structs) and `raw` (responses kept as bytes: the decoding a
//! real client does on its own machine leaves the measurement).
//!
//! Every call carries a staff bearer token (the gateway requires one on every non-health
//! call; the services listener ignores it), and the staff rate limit is raised far above
//! what the run can reach, so no call is refused.
//!
//! `cargo bench --profile release --bench grpc` — prints requests/s and latency for both
//! calls in both modes, and the ratios.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark that cannot start should stop

mod mesh_client;

use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes};
use http::uri::PathAndQuery;
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use vibe::proto::integration::v1::GetDashboardRequest;
use vibe::proto::integration::v1::dashboard_service_client::DashboardServiceClient;

use mesh_client::authorized;

const CONNECTIONS: usize = 4;
const IN_FLIGHT: usize = 64;
const WARMUP: Duration = Duration::from_secs(1);
const PHASE: Duration = Duration::from_secs(5);
const ROUNDS: usize = 3;

/// Far above what the run can reach, so no call is refused; the most the config accepts.
const STAFF_PER_MINUTE: u32 = 60_000_000;

#[derive(Clone, Copy)]
enum Call {
    HealthCheck,
    GetDashboard,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Decoded,
    Raw,
}

async fn raw_call(channel: Channel, call: Call, bearer: &MetadataValue<Ascii>) -> Bytes {
    let (path, request) = match call {
        Call::HealthCheck => (
            "/grpc.health.v1.Health/Check",
            HealthCheckRequest {
                service: String::new(),
            }
            .encode_to_vec(),
        ),
        Call::GetDashboard => (
            "/vibe.integration.v1.DashboardService/GetDashboard",
            GetDashboardRequest {}.encode_to_vec(),
        ),
    };
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("channel ready");
    grpc.unary(
        authorized(Bytes::from(request), bearer),
        PathAndQuery::from_static(path),
        RawCodec,
    )
    .await
    .expect("raw call")
    .into_inner()
}

struct Phase {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

async fn load(
    channels: &[Channel],
    bearer: &MetadataValue<Ascii>,
    mode: Mode,
    call: Call,
    duration: Duration,
) -> Phase {
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for worker in 0..IN_FLIGHT {
        let channel = channels[worker % channels.len()].clone();
        let bearer = bearer.clone();
        tasks.push(tokio::spawn(async move {
            let raw = channel.clone();
            let mut health = HealthClient::new(channel.clone());
            let mut dashboard = DashboardServiceClient::new(channel);
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                if mode == Mode::Raw {
                    raw_call(raw.clone(), call, &bearer).await;
                    latencies.push(started.elapsed());
                    continue;
                }
                match call {
                    Call::HealthCheck => {
                        health
                            .check(authorized(
                                HealthCheckRequest {
                                    service: String::new(),
                                },
                                &bearer,
                            ))
                            .await
                            .expect("health check");
                    }
                    Call::GetDashboard => {
                        dashboard
                            .get_dashboard(authorized(GetDashboardRequest {}, &bearer))
                            .await
                            .expect("get dashboard");
                    }
                }
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Phase {
        per_second: latencies.len() as f64 / duration.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// Alternating rounds of `Check` and `GetDashboard`, and their median ratio.
async fn run_mode(channels: &[Channel], bearer: &MetadataValue<Ascii>, mode: Mode) {
    let name = if mode == Mode::Raw { "raw" } else { "decoded" };
    load(channels, bearer, mode, Call::GetDashboard, WARMUP).await;
    load(channels, bearer, mode, Call::HealthCheck, WARMUP).await;
    println!("client mode: {name}");
    println!("{:<14} {:>10} {:>10} {:>10}", "call", "req/s", "p50", "p99");
    let mut ratios = Vec::new();
    for _ in 0..ROUNDS {
        let health = load(channels, bearer, mode, Call::HealthCheck, PHASE).await;
        let dashboard = load(channels, bearer, mode, Call::GetDashboard, PHASE).await;
        for (call, phase) in [("Health/Check", &health), ("GetDashboard", &dashboard)] {
            println!(
                "{call:<14} {:>10.0} {:>10.2?} {:>10.2?}",
                phase.per_second, phase.p50, phase.p99
            );
        }
        ratios.push(dashboard.per_second / health.per_second);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "ratio GetDashboard / Check, {name} client (median of {ROUNDS} rounds): {:.2} (goal >= 0.80)",
        ratios[ROUNDS / 2]
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        // The gateway checks a token on every call; limit staff far above the run's rate.
        let config = mesh_client::config(dir.path(), STAFF_PER_MINUTE);
        let bearer = mesh_client::staff_bearer();
        let (running, telemetry) = mesh_client::start(&config).await;
        let listeners = [
            ("gateway (the edge; GetDashboard crosses to the service in-process)", running.gateway_addr.unwrap()),
            ("services (the integration service's own listener)", running.grpc_addr.unwrap()),
        ];
        for (listener, addr) in listeners {
            let channels = mesh_client::channels(addr, CONNECTIONS).await;
            // Check once that the dashboard path answers a real dashboard.
            mesh_client::assert_dashboard(channels[0].clone(), &bearer).await;
            let size = raw_call(channels[0].clone(), Call::GetDashboard, &bearer).await.len();
            println!(
                "\nlistener: {listener}; {CONNECTIONS} connections, {IN_FLIGHT} calls in flight, {} s per phase; GetDashboard response {size} bytes",
                PHASE.as_secs()
            );
            for mode in [Mode::Decoded, Mode::Raw] {
                run_mode(&channels, &bearer, mode).await;
            }
        }
        running.shutdown().await.unwrap();
        telemetry.shutdown();
    });
}

/// Sends pre-encoded requests and keeps responses as bytes.
#[derive(Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
