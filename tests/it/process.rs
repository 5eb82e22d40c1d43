//! The `vibe` binary as an operator runs it: exit codes, config errors, SIGTERM drain.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tonic_health::pb::health_check_response::ServingStatus;
use vibe::proto::integration::v1::GetDashboardRequest;
use vibe::proto::integration::v1::dashboard_service_client::DashboardServiceClient;
use vibe_test_harness::free_port;

use crate::client;
use crate::client::{PUBLIC_SERVICES, health, scrape, wait_for_health};

const VIBE: &str = env!("CARGO_BIN_EXE_vibe");

/// A `vibe` child process on free ports; killed if the test ends early.
struct Vibe {
    child: Child,
    gateway: SocketAddr,
    grpc: SocketAddr,
    metrics: SocketAddr,
    log: tempfile::NamedTempFile,
}

impl Vibe {
    fn spawn(args: &[&str], env: &[(&str, &str)]) -> Self {
        let [gateway, grpc, metrics] =
            [0; 3].map(|_| SocketAddr::from(([127, 0, 0, 1], free_port())));
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new(VIBE)
            .args(args)
            .args(["--gateway-listen", &gateway.to_string()])
            .args(["--grpc-listen", &grpc.to_string()])
            .args(["--metrics-listen", &metrics.to_string()])
            .envs(env.iter().copied())
            .env("VIBE_TELEMETRY__LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        Self {
            child,
            gateway,
            grpc,
            metrics,
            log,
        }
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit; the bound only keeps a broken build from hanging CI.
    async fn exit_status(&mut self) -> ExitStatus {
        for _ in 0..1200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("vibe did not exit; log:\n{}", self.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for Vibe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(VIBE)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn assert_one_line_config_error(output: &Output, key: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line, no stack trace: {stderr}"
    );
    assert!(
        stderr.contains(&format!("config error: {key}:")),
        "names {key}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_bad_config_value_exits_2_naming_the_key() {
    let output = run(&["up"], &[("VIBE_LISTEN__GATEWAY", "127.0.0.1:abc")]);
    assert_one_line_config_error(&output, "listen.gateway");

    let output = run(
        &["config", "check"],
        &[("VIBE_SHUTDOWN__DRAIN_DEADLINE", "soon")],
    );
    assert_one_line_config_error(&output, "shutdown.drain_deadline");

    // Far longer than any timeout or age needs (near humantime's limit, such a value would
    // overflow the clock arithmetic that uses it): refused at start, naming the key.
    let output = run(
        &["config", "check"],
        &[("VIBE_UPSTREAMS__MAX_CONNECTION_AGE", "1000000y")],
    );
    assert_one_line_config_error(&output, "upstreams.max_connection_age");

    let output = run(
        &["config", "check"],
        &[("VIBE_TELEMETRY__TRACE_SAMPLE_RATIO", "2")],
    );
    assert_one_line_config_error(&output, "telemetry.trace_sample_ratio");

    let output = run(
        &["config", "check"],
        &[("VIBE_TELEMETRY__LOG_FILTER", "info,[=")],
    );
    assert_one_line_config_error(&output, "telemetry.log_filter");
}

#[test]
fn the_example_config_is_valid_and_complete() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/vibe.example.toml");
    let output = run(&["--config", example, "config", "check"], &[]);
    assert!(output.status.success(), "{output:?}");
    let defaults = run(&["config", "check"], &[]);
    assert_eq!(
        output.stdout, defaults.stdout,
        "the example shows the defaults"
    );
}

#[test]
fn an_unknown_key_exits_2_naming_it() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "[listen]\ngatway = \"127.0.0.1:1\"\n").unwrap();
    let path = file.path().to_str().unwrap();
    let output = run(&["--config", path, "serve", "--target", "gateway"], &[]);
    assert_one_line_config_error(&output, "listen.gatway");

    let output = run(&["config", "check"], &[("VIBE_LISTEN__BOGUS", "1")]);
    assert_one_line_config_error(&output, "listen.bogus");
}

#[test]
fn a_missing_secret_exits_2_and_secrets_are_never_printed() {
    // A Redis section without its URL: no silent default for a secret.
    let output = run(&["config", "check"], &[("VIBE_REDIS__POOL_SIZE", "2")]);
    assert_one_line_config_error(&output, "redis.url");

    let output = run(
        &["config", "check"],
        &[("VIBE_REDIS__URL__FILE", "/nonexistent/secret")],
    );
    assert_one_line_config_error(&output, "redis.url");

    let output = run(
        &["config", "check"],
        &[("VIBE_REDIS__URL", "redsi://:hunter2@host:1")],
    );
    assert!(!String::from_utf8_lossy(&output.stderr).contains("hunter2"));
    assert_one_line_config_error(&output, "redis.url");

    let output = run(
        &["config", "check"],
        &[("VIBE_REDIS__URL", "redis://:hunter2@127.0.0.1:1")],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("url = \"<redacted>\""), "{stdout}");
    assert!(!stdout.contains("hunter2"), "{stdout}");

    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "redis://:hunter2@127.0.0.1:1\n").unwrap();
    let path = secret.path().to_str().unwrap();
    let output = run(&["config", "check"], &[("VIBE_REDIS__URL__FILE", path)]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains(path), "the file is named: {stdout}");
    assert!(!stdout.contains("hunter2"), "{stdout}");

    // Compliance needs its keyring: a broken one, or none where integration runs, stops
    // the process naming the key, and key material is never echoed.
    let keyring = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        keyring.path(),
        "active = \"k1\"\nlookup_key = \"c2VjcmV0\"\n",
    )
    .unwrap();
    let keyring_path = keyring.path().to_str().unwrap();
    let output = run(
        &["config", "check"],
        &[("VIBE_COMPLIANCE__KEYRING__FILE", keyring_path)],
    );
    assert!(!String::from_utf8_lossy(&output.stderr).contains("c2VjcmV0"));
    assert_one_line_config_error(&output, "compliance.keyring");
    let data = tempfile::tempdir().unwrap();
    let warehouse = data.path().join("w.duckdb");
    let output = run(
        &["serve", "--target", "integration"],
        &[
            ("VIBE_WAREHOUSE__DUCKDB__PATH", warehouse.to_str().unwrap()),
            ("VIBE_LISTEN__GRPC", "127.0.0.1:0"),
            ("VIBE_LISTEN__METRICS", "127.0.0.1:0"),
        ],
    );
    assert_one_line_config_error(&output, "compliance.keyring");
}

#[test]
fn probe_fails_with_one_clear_line_when_nothing_listens() {
    // A port that was free a moment ago: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let probe = run(&["probe", "--addr", &addr, "--timeout", "2s"], &[]);
    let stderr = String::from_utf8_lossy(&probe.stderr);
    assert_eq!(probe.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with(&format!("vibe probe: cannot connect to {addr}")),
        "names what failed: {stderr}"
    );
}

#[tokio::test]
async fn up_serves_every_service_and_exits_0_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let warehouse = data.path().join("warehouse.duckdb");
    let mut vibe = Vibe::spawn(
        &["up"],
        &[("VIBE_WAREHOUSE__DUCKDB__PATH", warehouse.to_str().unwrap())],
    );
    wait_for_health(vibe.gateway, "", ServingStatus::Serving).await;

    // `vibe probe` is what Docker and `helm test` run.
    let gateway = vibe.gateway.to_string();
    let probe = run(&["probe", "--addr", &gateway], &[]);
    assert!(probe.status.success(), "{probe:?}");
    let probe = run(
        &[
            "probe",
            "--addr",
            &gateway,
            "--service",
            "vibe.sync.v1.SyncService",
        ],
        &[],
    );
    assert!(probe.status.success(), "{probe:?}");
    for addr in [vibe.gateway, vibe.grpc] {
        for service in PUBLIC_SERVICES {
            assert_eq!(health(addr, service).await, Ok(ServingStatus::Serving));
        }
    }

    // With no key configured, `vibe up` made a local secret (0600) and `vibe token` mints
    // tokens the gateway accepts; nothing gets in without one.
    let secret = data.path().join("gateway-hs256.secret");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&secret).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the local secret is private");
    // And a local compliance keyring (0600) that parses, since the integration target needs one.
    let keyring = data.path().join("compliance-keyring.toml");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&keyring).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the local keyring is private");
    vibe_compliance::Keyring::parse(&std::fs::read_to_string(&keyring).unwrap()).unwrap();
    let env = [("VIBE_WAREHOUSE__DUCKDB__PATH", warehouse.to_str().unwrap())];
    let minted = run(
        &["token", "--sub", "ana", "--role", "staff", "--ttl", "10m"],
        &env,
    );
    assert!(minted.status.success(), "{minted:?}");
    let token = String::from_utf8(minted.stdout).unwrap().trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "{token}");
    let mut dashboard = DashboardServiceClient::with_interceptor(
        client::channel(vibe.gateway).await,
        client::Bearer::new(&token),
    );
    dashboard
        .get_dashboard(GetDashboardRequest {})
        .await
        .unwrap();
    let mut anonymous = DashboardServiceClient::new(client::channel(vibe.gateway).await);
    let refused = anonymous
        .get_dashboard(GetDashboardRequest {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let wizard = run(&["token", "--sub", "ana", "--role", "wizard"], &env);
    assert_eq!(wizard.status.code(), Some(2), "{wizard:?}");

    vibe.sigterm();
    assert_eq!(
        vibe.exit_status().await.code(),
        Some(0),
        "{}",
        vibe.log_text()
    );
}

type BodySender = tokio::sync::mpsc::Sender<Result<Frame<Bytes>, Infallible>>;
type PendingResponse =
    tokio::task::JoinHandle<Result<hyper::Response<hyper::body::Incoming>, hyper::Error>>;

/// `vibe serve --target reasoning` with a GetJob call in flight: the server has
/// started it, but its request body is held back until the returned sender sends it.
async fn reasoning_with_held_call(drain_deadline: &str) -> (Vibe, BodySender, PendingResponse) {
    let vibe = Vibe::spawn(
        &["serve", "--target", "reasoning"],
        &[("VIBE_SHUTDOWN__DRAIN_DEADLINE", drain_deadline)],
    );
    wait_for_health(vibe.grpc, "", ServingStatus::Serving).await;
    let (release, response) = call_in_flight(vibe.grpc).await;
    wait_for_started_call(vibe.metrics).await;
    (vibe, release, response)
}

async fn call_in_flight(addr: SocketAddr) -> (BodySender, PendingResponse) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let (body_tx, body_rx) = tokio::sync::mpsc::channel(1);
    let request = http::Request::post(format!(
        "http://{addr}/vibe.reasoning.v1.ReasoningService/GetJob"
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .body(StreamBody::new(
        tokio_stream::wrappers::ReceiverStream::new(body_rx),
    ))
    .unwrap();
    (body_tx, tokio::spawn(sender.send_request(request)))
}

/// Waits until the server has counted the call as started.
async fn wait_for_started_call(metrics: SocketAddr) {
    for _ in 0..200 {
        let text = scrape(metrics).await;
        if text
            .lines()
            .any(|line| line.starts_with("grpc_server_started_total{") && line.contains("GetJob"))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the held call never reached the server");
}

#[tokio::test]
async fn sigterm_lets_a_call_in_flight_finish_then_exits_0() {
    let (mut vibe, release, response) = reasoning_with_held_call("60s").await;

    vibe.sigterm();
    // Draining: new connections are refused while the held call is still open.
    let mut refused = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(vibe.grpc).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(refused, "the listener kept accepting after SIGTERM");
    assert!(
        vibe.child.try_wait().unwrap().is_none(),
        "exited with a call in flight"
    );

    // An empty GetJobRequest: one uncompressed gRPC frame of length 0.
    release
        .send(Ok(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 0]))))
        .await
        .unwrap();
    drop(release);
    let response = response
        .await
        .unwrap()
        .expect("the in-flight call got its answer");
    let status = match response.headers().get("grpc-status") {
        Some(status) => status.clone(),
        None => {
            let collected = response.into_body().collect().await.unwrap();
            collected.trailers().unwrap()["grpc-status"].clone()
        }
    };
    assert_eq!(status, "12", "GetJob answers UNIMPLEMENTED");
    assert_eq!(
        vibe.exit_status().await.code(),
        Some(0),
        "{}",
        vibe.log_text()
    );
}

#[tokio::test]
async fn the_drain_deadline_cuts_off_calls_that_do_not_finish() {
    let (mut vibe, _held_forever, response) = reasoning_with_held_call("500ms").await;

    vibe.sigterm();
    let status = vibe.exit_status().await;
    assert_eq!(
        status.code(),
        Some(1),
        "a cut-off drain is reported: {}",
        vibe.log_text()
    );
    assert!(
        vibe.log_text().contains("drain deadline passed"),
        "{}",
        vibe.log_text()
    );
    let outcome = response.await.unwrap();
    assert!(outcome.is_err(), "the held call was cut off: {outcome:?}");
}
