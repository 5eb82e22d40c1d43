//! The `vibe up`-like process the gRPC and gateway benchmarks load, and the staff client
//! pieces they call it with: its config and start (demo data seeded, a cache that stays
//! fresh for the whole run), the staff bearer token its gateway accepts, HTTP/2 channels
//! to a listener and a first `GetDashboard` that fills the cache.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use vibe::app::{self, Running};
use vibe::config::Config;
use vibe::proto::integration::v1::GetDashboardRequest;
use vibe::proto::integration::v1::dashboard_service_client::DashboardServiceClient;
use vibe::targets::Targets;
use vibe_telemetry::Telemetry;

/// The gateway's HS256 secret for this run; tokens are minted from it.
const SECRET: &str = "bench-secret-0123456789abcdef0123456789abcdef";

/// Every listener on a free local port, the warehouse in `dir`, a cache that stays fresh
/// for the whole run (the benchmarks measure the cached path), the gateway checking
/// tokens against [`SECRET`], and staff limited to `staff_per_minute`.
pub fn config(dir: &Path, staff_per_minute: u32) -> Config {
    let mut config = Config::default();
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    config.listen.gateway = any;
    config.listen.grpc = any;
    config.listen.metrics = any;
    config.warehouse.duckdb.path = dir.join("bench.duckdb");
    config.demo.payments = 50_000;
    config.demo.days = 120;
    config.cache.fresh_for = Duration::from_secs(600);
    config.cache.stale_for = Duration::from_secs(600);
    config.cache.error_for = Duration::from_secs(600);
    config.gateway.auth.hs256_secret = Some(vibe::config::Secret::new(SECRET));
    config.gateway.rate_limits.staff.per_minute = staff_per_minute;
    config.compliance.keyring = Some(vibe::config::Secret::new(
        vibe_compliance::Keyring::generate("k1"),
    ));
    config
}

/// Installs the telemetry `vibe` installs (logs at the configured filter; spans and
/// their per-call cost exactly as in the binary), seeds the demo data, then starts every
/// target on the current runtime. Keep the [`Telemetry`] until the end of the run.
pub async fn start(config: &Config) -> (Running, Telemetry) {
    let telemetry = Telemetry::init(&config.telemetry.settings()).unwrap();
    app::seed_demo(config).await.unwrap();
    let running = app::start(config, &Targets::all()).await.unwrap();
    (running, telemetry)
}

/// `Bearer <token>` for a staff caller, valid for longer than the run.
pub fn staff_bearer() -> MetadataValue<Ascii> {
    bearer_for("bench")
}

/// `Bearer <token>` for staff member `subject`, valid for longer than the run.
pub fn bearer_for(subject: &str) -> MetadataValue<Ascii> {
    let request = vibe_gateway::auth::MintRequest {
        issuer: "vibe".to_owned(),
        audience: "vibe".to_owned(),
        subject: subject.to_owned(),
        roles: vec!["staff".to_owned()],
        ttl: Duration::from_secs(3600),
    };
    let token =
        vibe_gateway::auth::mint_hs256(&secrecy::SecretString::from(SECRET), &request).unwrap();
    format!("Bearer {token}").parse().unwrap()
}

/// `message` with the `authorization` header.
pub fn authorized<T>(message: T, bearer: &MetadataValue<Ascii>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", bearer.clone());
    request
}

/// `count` HTTP/2 connections to `addr`, their background tasks on the current runtime.
pub async fn channels(addr: SocketAddr, count: usize) -> Vec<Channel> {
    let mut channels = Vec::new();
    for _ in 0..count {
        channels.push(
            Channel::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect()
                .await
                .unwrap(),
        );
    }
    channels
}

/// One decoded `GetDashboard` on `channel`: fills the cache, and checks that the path
/// answers a real dashboard.
pub async fn assert_dashboard(channel: Channel, bearer: &MetadataValue<Ascii>) {
    let first = DashboardServiceClient::new(channel)
        .get_dashboard(authorized(GetDashboardRequest {}, bearer))
        .await
        .unwrap()
        .into_inner();
    assert!(
        first
            .dashboard
            .unwrap()
            .calendar_year_to_date
            .unwrap()
            .transactions
            > 0
    );
}
