//! gRPC client helpers shared by the black-box tests.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use vibe::config::Config;

pub const PUBLIC_SERVICES: [&str; 5] = [
    "vibe.integration.v1.DashboardService",
    "vibe.integration.v1.ComplianceService",
    "vibe.reasoning.v1.ReasoningService",
    "vibe.memory.v1.MemoryService",
    "vibe.sync.v1.SyncService",
];

/// A gateway process on its own (`vibe serve --target gateway`), reaching the integration
/// target at `integration` (a gRPC listener) over the network; when it serves.
pub async fn gateway_apart(
    config: &Config,
    integration: SocketAddr,
) -> (vibe::app::Running, SocketAddr) {
    use vibe::targets::{Target, Targets};
    let mut config = config.clone();
    config.upstreams.integration = format!("http://{integration}");
    let running = vibe::app::start(&config, &Targets::from_list(&[Target::Gateway]))
        .await
        .unwrap();
    let addr = running.gateway_addr.unwrap();
    wait_for_health(addr, "", ServingStatus::Serving).await;
    (running, addr)
}

/// A config whose listeners take free ports, so tests run side by side.
pub fn test_config() -> Config {
    let mut config = Config::default();
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    config.listen.gateway = any;
    config.listen.grpc = any;
    config.listen.metrics = any;
    config.health.check_interval = Duration::from_millis(100);
    // Each test gets its own warehouse file (DuckDB allows one writer per file).
    let dir = tempfile::Builder::new()
        .prefix("vibe-test-")
        .tempdir()
        .expect("temp dir")
        .keep();
    config.warehouse.duckdb.path = dir.join("warehouse.duckdb");
    config.shutdown.drain_deadline = Duration::from_secs(10);
    config.gateway.auth.hs256_secret = Some(vibe::config::Secret::new(TEST_SECRET));
    config.gateway.reflection = true;
    config.compliance.keyring = Some(vibe::config::Secret::new(
        vibe_compliance::Keyring::generate("k1"),
    ));
    config
}

/// `[redis]` at `url` with a short command timeout, so a dead Redis is noticed quickly.
pub fn redis_config(url: &str) -> vibe::config::Redis {
    let text = format!("url = {url:?}\ncommand_timeout = \"200ms\"\n");
    toml::from_str(&text).expect("redis config")
}

/// The HS256 secret of [`test_config`].
pub const TEST_SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";

/// An HS256 token from [`TEST_SECRET`] for `sub` with `roles`, valid for an hour.
pub fn token(sub: &str, roles: &[&str]) -> String {
    let request = vibe_gateway::auth::MintRequest {
        issuer: "vibe".to_owned(),
        audience: "vibe".to_owned(),
        subject: sub.to_owned(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        ttl: Duration::from_secs(3600),
    };
    vibe_gateway::auth::mint_hs256(&secrecy::SecretString::from(TEST_SECRET), &request)
        .expect("mint")
}

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl Bearer {
    pub fn new(token: &str) -> Self {
        Self(format!("Bearer {token}").parse().expect("ascii token"))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A channel to `addr` whose calls carry a staff-and-admin token.
pub async fn staff_channel(
    addr: SocketAddr,
) -> tonic::service::interceptor::InterceptedService<Channel, Bearer> {
    tonic::service::interceptor::InterceptedService::new(
        channel(addr).await,
        Bearer::new(&token("test-staff", &["staff", "admin"])),
    )
}

pub async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("valid uri")
        .connect()
        .await
        .expect("connect")
}

/// The health status of `service`, or the gRPC code when the check itself fails
/// (UNAVAILABLE when nothing listens).
pub async fn health(addr: SocketAddr, service: &str) -> Result<ServingStatus, tonic::Code> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("valid uri")
        .connect()
        .await
        .map_err(|_| tonic::Code::Unavailable)?;
    let mut client = HealthClient::new(channel);
    client
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map(|response| response.into_inner().status())
        .map_err(|status| status.code())
}

/// Polls until `service` reports `want` (readiness changes on the check interval).
pub async fn wait_for_health(addr: SocketAddr, service: &str, want: ServingStatus) {
    for _ in 0..300 {
        if health(addr, service).await == Ok(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{service:?} on {addr} never became {want:?}");
}

/// The services server reflection (v1) lists, sorted.
pub async fn reflected_services(addr: SocketAddr) -> Vec<String> {
    let mut client = ServerReflectionClient::new(channel(addr).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection call")
        .into_inner();
    let response = stream
        .message()
        .await
        .expect("reflection answer")
        .expect("one message");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer: {response:?}");
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    names
}

/// The Prometheus text of a metrics listener.
pub async fn scrape(addr: SocketAddr) -> String {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("metrics connect");
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .expect("http handshake");
    tokio::spawn(connection);
    let request = http::Request::get("/metrics")
        .header("host", "localhost")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .expect("request");
    let response = sender
        .send_request(request)
        .await
        .expect("metrics response");
    assert_eq!(response.status(), 200);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("metrics body")
        .to_bytes();
    String::from_utf8(body.to_vec()).expect("utf-8 metrics")
}

/// The sum of the Prometheus samples of `name` whose line contains every one of `parts`.
pub fn sample(scrape: &str, name: &str, parts: &[&str]) -> f64 {
    scrape
        .lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
        .filter(|line| parts.iter().all(|part| line.contains(part)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
