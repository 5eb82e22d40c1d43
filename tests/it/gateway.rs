//! The edge: who gets in (the auth matrix, every method's declared roles), how often
//! (rate limits, local and global through Redis), CORS, and audit.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::Algorithm;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use vibe::app::{self, Running};
use vibe::config::{Config, PublicKey, Secret};
use vibe::proto::integration::v1::GetDashboardRequest;
use vibe::proto::integration::v1::dashboard_service_client::DashboardServiceClient;
use vibe::targets::Targets;
use vibe_test_harness::RedisServer;

use crate::client;
use crate::client::{test_config, wait_for_health};
use crate::edge;
use crate::edge::{JwksServer, KeyPair, call, claims, key_pair, sign};

const STAFF_RPC: &str = "/vibe.integration.v1.DashboardService/GetDashboard";
const ADMIN_RPC: &str = "/vibe.integration.v1.DashboardService/GetCacheStats";

struct Keys {
    rsa: KeyPair,
    ec: KeyPair,
    ed: KeyPair,
    /// Signs with a kid the gateway knows, but is not that key.
    impostor: KeyPair,
    jwks: JwksServer,
    _dir: tempfile::TempDir,
}

/// A gateway trusting: a static RSA key (kid rsa-1) and a JWKS with an ES256 (ec-1) and
/// an EdDSA (ed-1) key; issuer https://idp.test, audience vibe-cockpit.
async fn keyed_config() -> (Config, Keys) {
    let dir = tempfile::tempdir().unwrap();
    let rsa = key_pair(dir.path(), "rsa", Algorithm::RS256);
    let ec = key_pair(dir.path(), "ec", Algorithm::ES256);
    let ed = key_pair(dir.path(), "ed", Algorithm::EdDSA);
    let impostor = key_pair(dir.path(), "impostor", Algorithm::RS256);
    let jwks = JwksServer::start(&[(&ec, "ec-1"), (&ed, "ed-1")]).await;
    let mut config = test_config();
    config.gateway.auth.issuer = "https://idp.test".to_owned();
    config.gateway.auth.audience = "vibe-cockpit".to_owned();
    config.gateway.auth.hs256_secret = None;
    config.gateway.auth.keys = vec![PublicKey {
        kid: Some("rsa-1".to_owned()),
        algorithm: "RS256".to_owned(),
        pem: Secret::new(rsa.public_pem.clone()),
    }];
    config.gateway.auth.jwks_url = Some(jwks.url.clone());
    config.gateway.cors_origins = vec!["https://cockpit.test".to_owned()];
    (
        config,
        Keys {
            rsa,
            ec,
            ed,
            impostor,
            jwks,
            _dir: dir,
        },
    )
}

async fn start(config: &Config) -> (Running, SocketAddr) {
    let running = app::start(config, &Targets::all()).await.unwrap();
    let addr = running.gateway_addr.unwrap();
    wait_for_health(addr, "", ServingStatus::Serving).await;
    (running, addr)
}

/// `Bearer <token>` signed by the static RSA key for staff member `ana`, claims adjusted.
fn rsa_staff(keys: &Keys, adjust: impl FnOnce(&mut serde_json::Value)) -> Option<String> {
    let token = sign(&keys.rsa, Some("rsa-1"), &claims("ana", &["staff"], adjust));
    Some(format!("Bearer {token}"))
}

/// Stops `running` (which flushes the audit queue) and reads the last minutes' events.
async fn audit_after_shutdown(running: Running) -> Vec<vibe_warehouse::AuditEvent> {
    let warehouse = running.warehouse().unwrap();
    running.shutdown().await.unwrap();
    let range = vibe_warehouse::TimeRange {
        start: chrono::Utc::now() - chrono::Duration::minutes(5),
        end: chrono::Utc::now() + chrono::Duration::minutes(1),
    };
    warehouse.audit_events(range, 1000).await.unwrap()
}

fn b64(json: &serde_json::Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())
}

#[tokio::test]
async fn the_auth_matrix() {
    let (config, keys) = keyed_config().await;
    let (running, addr) = start(&config).await;
    let fetches_at_start = keys.jwks.fetches();
    assert_eq!(fetches_at_start, 1, "the JWKS is fetched before serving");

    let staff = claims("ana", &["staff"], |_| {});
    let admin = claims("root", &["admin"], |_| {});
    let now = jsonwebtoken::get_current_timestamp();
    let alg_none = format!(
        "{}.{}.",
        b64(&serde_json::json!({"alg": "none", "typ": "JWT"})),
        b64(&staff)
    );
    // HS256 keyed with the RSA public key: the classic algorithm confusion.
    let confused = {
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.kid = Some("rsa-1".to_owned());
        let key = jsonwebtoken::EncodingKey::from_secret(keys.rsa.public_pem.as_bytes()).unwrap();
        jsonwebtoken::encode(&header, &staff, &key).unwrap()
    };
    let unauthenticated = [Code::Unauthenticated, Code::Unauthenticated];
    let cases: Vec<(&str, Option<String>, [Code; 2])> = vec![
        ("no token", None, unauthenticated),
        (
            "malformed",
            Some("Bearer not.a.jwt".to_owned()),
            unauthenticated,
        ),
        (
            "not bearer",
            Some("Basic YWxhZGRpbjpvcGVu".to_owned()),
            unauthenticated,
        ),
        (
            "alg none",
            Some(format!("Bearer {alg_none}")),
            unauthenticated,
        ),
        (
            "hs256 against the rsa key",
            Some(format!("Bearer {confused}")),
            unauthenticated,
        ),
        (
            "bad signature",
            Some(format!(
                "Bearer {}",
                sign(&keys.impostor, Some("rsa-1"), &staff)
            )),
            unauthenticated,
        ),
        (
            "expired beyond leeway",
            rsa_staff(&keys, |c| {
                c["exp"] = (now - 120).into();
                c["nbf"] = (now - 600).into();
            }),
            unauthenticated,
        ),
        (
            "nbf in the future",
            rsa_staff(&keys, |c| {
                c["nbf"] = (now + 120).into();
            }),
            unauthenticated,
        ),
        (
            "wrong iss",
            rsa_staff(&keys, |c| {
                c["iss"] = "https://evil.test".into();
            }),
            unauthenticated,
        ),
        (
            "wrong aud",
            rsa_staff(&keys, |c| {
                c["aud"] = "someone-else".into();
            }),
            unauthenticated,
        ),
        (
            "unknown kid",
            Some(format!("Bearer {}", sign(&keys.ec, Some("ec-404"), &staff))),
            unauthenticated,
        ),
        (
            "valid, role not allowed",
            Some(format!(
                "Bearer {}",
                sign(
                    &keys.rsa,
                    Some("rsa-1"),
                    &claims("cus", &["customer"], |_| {})
                )
            )),
            [Code::PermissionDenied, Code::PermissionDenied],
        ),
        (
            "valid staff (RS256, static key)",
            Some(format!("Bearer {}", sign(&keys.rsa, Some("rsa-1"), &staff))),
            [Code::Ok, Code::PermissionDenied],
        ),
        (
            "valid admin (ES256, JWKS)",
            Some(format!("Bearer {}", sign(&keys.ec, Some("ec-1"), &admin))),
            [Code::Ok, Code::Ok],
        ),
        (
            "valid service principal (EdDSA, JWKS)",
            Some(format!(
                "Bearer {}",
                sign(&keys.ed, Some("ed-1"), &claims("svc", &["service"], |_| {}))
            )),
            [Code::PermissionDenied, Code::PermissionDenied],
        ),
        (
            "valid staff (EdDSA, JWKS)",
            Some(format!(
                "Bearer {}",
                sign(&keys.ed, Some("ed-1"), &claims("ed", &["staff"], |_| {}))
            )),
            [Code::Ok, Code::PermissionDenied],
        ),
        (
            "leeway: expired 30 s ago",
            rsa_staff(&keys, |c| {
                c["exp"] = (now - 30).into();
                c["nbf"] = (now - 600).into();
            }),
            [Code::Ok, Code::PermissionDenied],
        ),
    ];
    let mut failures = Vec::new();
    for (name, authorization, want) in &cases {
        for (path, want) in [STAFF_RPC, ADMIN_RPC].into_iter().zip(want) {
            let headers: Vec<(&str, &str)> = authorization
                .as_deref()
                .map(|value| vec![("authorization", value)])
                .unwrap_or_default();
            let got = call(addr, path, &headers, true).await.code;
            if got != Some(*want) {
                failures.push(format!("{name} x {path}: want {want:?}, got {got:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "auth matrix:\n{}", failures.join("\n"));

    // The unknown kid fetched the JWKS again, once: a second unknown kid within the
    // refetch interval does not.
    assert_eq!(keys.jwks.fetches(), fetches_at_start + 1);
    let again = sign(&keys.ec, Some("ec-405"), &staff);
    let bearer = format!("Bearer {again}");
    let outcome = call(addr, STAFF_RPC, &[("authorization", &bearer)], true).await;
    assert_eq!(outcome.code, Some(Code::Unauthenticated));
    assert_eq!(
        keys.jwks.fetches(),
        fetches_at_start + 1,
        "refetches are bounded"
    );

    // Every refusal left an audit event; tokens never appear in them.
    let events = audit_after_shutdown(running).await;
    let denied_auth = events
        .iter()
        .filter(|e| e.event_type == "auth" && e.result == "denied")
        .count();
    let denied_role = events
        .iter()
        .filter(|e| e.event_type == "authz" && e.result == "denied")
        .count();
    assert!(denied_auth >= 2 * 9, "auth denials audited: {denied_auth}");
    assert!(denied_role >= 5, "role denials audited: {denied_role}");
    for event in &events {
        let text = format!("{event:?}");
        assert!(!text.contains("eyJ"), "no token in audit events: {text}");
        assert!(!event.request_id.is_empty() && !event.client_ip.is_empty());
    }
}

#[tokio::test]
async fn every_method_is_closed_to_roles_it_does_not_declare() {
    let mut config = test_config();
    for tier in [
        &mut config.gateway.rate_limits.anonymous,
        &mut config.gateway.rate_limits.customer,
        &mut config.gateway.rate_limits.staff,
        &mut config.gateway.rate_limits.admin,
        &mut config.gateway.rate_limits.reasoning,
    ] {
        tier.per_minute = 100_000;
    }
    let (running, addr) = start(&config).await;
    let policies = vibe::descriptors::policies(false);

    // Every RPC in the contracts has a declared policy.
    let pool = prost_reflect::DescriptorPool::decode(vibe::proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut paths = Vec::new();
    for service in pool.services() {
        for method in service.methods() {
            let path = format!("/{}/{}", service.full_name(), method.name());
            assert!(policies.get(&path).is_some(), "{path} has no policy");
            paths.push((path, method.is_server_streaming()));
        }
    }
    assert!(paths.len() > 20, "walked {} methods", paths.len());

    use vibe_gateway::Role;
    let callers: [(Role, Option<String>); 5] = [
        (Role::Anonymous, None),
        (Role::Customer, Some(client::token("c", &["customer"]))),
        (Role::Staff, Some(client::token("s", &["staff"]))),
        (Role::Admin, Some(client::token("a", &["admin"]))),
        (Role::Service, Some(client::token("svc", &["service"]))),
    ];
    let mut failures = Vec::new();
    for (path, streaming) in &paths {
        let policy = policies.get(path).unwrap();
        for (role, token) in &callers {
            let bearer = token.as_ref().map(|t| format!("Bearer {t}"));
            let headers: Vec<(&str, &str)> = bearer
                .as_deref()
                .map(|b| vec![("authorization", b)])
                .unwrap_or_default();
            let code = call(addr, path, &headers, !streaming).await.code;
            let denied = matches!(code, Some(Code::Unauthenticated | Code::PermissionDenied));
            let allowed = policy.roles.contains(role);
            if allowed == denied {
                failures.push(format!(
                    "{path} as {role:?}: declared {:?}, got {code:?}",
                    policy.roles
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // A path without a policy is denied even to an admin.
    let admin = format!(
        "Bearer {}",
        client::token("a", &["admin", "staff", "service"])
    );
    let unknown = call(
        addr,
        "/vibe.integration.v1.DashboardService/Nope",
        &[("authorization", &admin)],
        true,
    )
    .await;
    assert_eq!(unknown.code, Some(Code::PermissionDenied));
    running.shutdown().await.unwrap();
}

fn limited(config: &mut Config, staff_per_minute: u32) {
    config.gateway.rate_limits.staff.per_minute = staff_per_minute;
}

async fn dashboard_call(addr: SocketAddr, token: &str) -> edge::Outcome {
    let bearer = format!("Bearer {token}");
    call(addr, STAFF_RPC, &[("authorization", &bearer)], true).await
}

#[tokio::test]
async fn a_principal_gets_its_burst_then_resource_exhausted_with_retry_info() {
    let mut config = test_config();
    limited(&mut config, 5);
    let (running, addr) = start(&config).await;
    let ana = client::token("ana", &["staff"]);
    for i in 0..5 {
        let outcome = dashboard_call(addr, &ana).await;
        assert_eq!(outcome.code, Some(Code::Ok), "call {i}");
        assert_eq!(outcome.headers["ratelimit-policy"], "\"staff\";q=5;w=60");
        let remaining = format!("\"staff\";r={};", 4 - i);
        let state = outcome.headers["ratelimit"].to_str().unwrap();
        assert!(state.starts_with(&remaining), "{state}");
    }
    let refused = dashboard_call(addr, &ana).await;
    assert_eq!(refused.code, Some(Code::ResourceExhausted));
    let retry_after: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=12).contains(&retry_after), "retry-after {retry_after}");
    let details = refused.headers["grpc-status-details-bin"].to_str().unwrap();
    let status = tonic::Status::from_header_map(&refused.headers).unwrap();
    use tonic_types::StatusExt;
    let retry = status
        .get_details_retry_info()
        .expect("RetryInfo in the status details");
    let delay = retry.retry_delay.unwrap();
    assert!(
        delay > Duration::ZERO && delay <= Duration::from_secs(12),
        "{delay:?} ({details})"
    );

    // Another principal has its own budget.
    let bo = client::token("bo", &["staff"]);
    assert_eq!(dashboard_call(addr, &bo).await.code, Some(Code::Ok));
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_gateways_share_one_redis_limit_and_fall_back_when_it_dies() {
    let mut redis = RedisServer::start();
    let mut config = test_config();
    limited(&mut config, 6);
    config.redis = Some(client::redis_config(&redis.url()));
    let (all, first) = start(&config).await;
    let (second_running, second) = client::gateway_apart(&config, all.grpc_addr.unwrap()).await;

    let ana = client::token("ana", &["staff"]);
    let mut codes = Vec::new();
    for i in 0..10 {
        let addr = if i % 2 == 0 { first } else { second };
        codes.push(dashboard_call(addr, &ana).await.code.unwrap());
    }
    let ok = codes.iter().filter(|c| **c == Code::Ok).count();
    assert_eq!(ok, 6, "one budget across both gateways: {codes:?}");
    assert!(
        codes[6..].iter().all(|c| *c == Code::ResourceExhausted),
        "{codes:?}"
    );

    // Redis gone: each gateway limits in process — still limited, never open.
    redis.kill();
    let bo = client::token("bo", &["staff"]);
    let mut codes = Vec::new();
    for _ in 0..9 {
        codes.push(dashboard_call(first, &bo).await.code.unwrap());
    }
    let ok = codes.iter().filter(|c| **c == Code::Ok).count();
    assert_eq!(ok, 6, "the local limiter took over: {codes:?}");
    let metrics = client::scrape(all.metrics_addr).await;
    assert!(
        metrics.contains("gateway_rate_limit_fallback_total"),
        "fallback counted"
    );

    second_running.shutdown().await.unwrap();
    all.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_principal_calling_now_and_then_finds_a_token_held_for_its_next_call() {
    let redis = RedisServer::start();
    let mut config = test_config();
    limited(&mut config, 600);
    config.redis = Some(client::redis_config(&redis.url()));
    let (all, gateway) = start(&config).await;
    let bo = client::Bearer::new(&client::token("bo", &["staff"]));
    let mut dashboard =
        DashboardServiceClient::with_interceptor(client::channel(gateway).await, bo);
    for _ in 0..3 {
        dashboard
            .get_dashboard(GetDashboardRequest::default())
            .await
            .unwrap();
        // Longer than a lease of several tokens keeps (250 ms), and time enough for the
        // refill asked for in the background.
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let scrape = client::scrape(all.metrics_addr).await;
    let leased = client::sample(&scrape, "gateway_rate_limit_leased_total", &[]);
    assert_eq!(leased, 2.0, "the second and third calls made no round trip");
    all.shutdown().await.unwrap();
}

#[tokio::test]
async fn busy_principals_spend_leased_tokens_and_two_gateways_still_admit_one_budget() {
    // One call refills every 100 ms; the burst is a minute's worth.
    const BUDGET: u32 = 600;
    let redis = RedisServer::start();
    let mut config = test_config();
    limited(&mut config, BUDGET);
    config.redis = Some(client::redis_config(&redis.url()));
    let (all, first) = start(&config).await;
    let (second_running, second) = client::gateway_apart(&config, all.grpc_addr.unwrap()).await;

    // 16 callers on each gateway, 50 calls each: 1,600 calls against a budget of 600.
    let ana = client::Bearer::new(&client::token("ana", &["staff"]));
    let started = std::time::Instant::now();
    let mut callers = tokio::task::JoinSet::new();
    for addr in [first, second] {
        let channel = client::channel(addr).await;
        for _ in 0..16 {
            let mut dashboard =
                DashboardServiceClient::with_interceptor(channel.clone(), ana.clone());
            callers.spawn(async move {
                let mut codes = Vec::new();
                for _ in 0..50 {
                    let reply = dashboard
                        .get_dashboard(GetDashboardRequest::default())
                        .await;
                    codes.push(reply.map_or_else(|status| status.code(), |_| Code::Ok));
                }
                codes
            });
        }
    }
    let codes: Vec<Code> = callers.join_all().await.into_iter().flatten().collect();
    let refilled = u32::try_from(started.elapsed().as_millis() / 100).unwrap() + 1;
    let ok = u32::try_from(codes.iter().filter(|c| **c == Code::Ok).count()).unwrap();
    assert!(
        codes
            .iter()
            .all(|c| matches!(c, Code::Ok | Code::ResourceExhausted)),
        "{codes:?}"
    );
    assert!(
        ok <= BUDGET + refilled,
        "{ok} admitted: more than the budget of {BUDGET} and {refilled} refilled"
    );
    assert!(
        ok >= BUDGET * 7 / 8,
        "{ok} admitted: leases stranded the budget"
    );

    // Both gateways run in this test's process and share its metrics recorder.
    let scrape = client::scrape(all.metrics_addr).await;
    let leased = client::sample(&scrape, "gateway_rate_limit_leased_total", &[]) as u32;
    assert!(
        leased > ok / 4,
        "{leased} of {ok} admitted calls were spent from leases"
    );

    second_running.shutdown().await.unwrap();
    all.shutdown().await.unwrap();
}

/// One HTTP/1.1 request; returns the response head.
async fn http1(
    addr: SocketAddr,
    request: http::Request<http_body_util::Full<bytes::Bytes>>,
) -> http::response::Parts {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let _ = http_body_util::BodyExt::collect(body).await;
    parts
}

fn preflight(origin: &str) -> http::Request<http_body_util::Full<bytes::Bytes>> {
    http::Request::options(STAFF_RPC)
        .header("host", "gateway.test")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,x-grpc-web",
        )
        .body(http_body_util::Full::default())
        .unwrap()
}

#[tokio::test]
async fn cors_allows_listed_origins_only_and_every_response_has_security_headers() {
    let mut config = test_config();
    config.gateway.cors_origins = vec!["https://cockpit.test".to_owned()];
    let (running, addr) = start(&config).await;

    let allowed = http1(addr, preflight("https://cockpit.test")).await;
    assert!(allowed.status.is_success(), "{:?}", allowed.status);
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "https://cockpit.test"
    );
    assert_eq!(allowed.headers["access-control-allow-credentials"], "true");
    assert_eq!(allowed.headers["access-control-max-age"], "7200");
    let allow_headers = allowed.headers["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(allow_headers.contains("authorization") && allow_headers.contains("x-grpc-web"));

    let denied = http1(addr, preflight("https://evil.test")).await;
    assert!(!denied.headers.contains_key("access-control-allow-origin"));

    // The actual grpc-web call exposes the status and rate-limit headers.
    let token = format!("Bearer {}", client::token("ana", &["staff"]));
    let grpc_web = http::Request::post(STAFF_RPC)
        .header("host", "gateway.test")
        .header("origin", "https://cockpit.test")
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("authorization", &token)
        .body(http_body_util::Full::new(bytes::Bytes::from_static(&[
            0, 0, 0, 0, 0,
        ])))
        .unwrap();
    let response = http1(addr, grpc_web).await;
    let exposed = response.headers["access-control-expose-headers"]
        .to_str()
        .unwrap();
    for header in [
        "grpc-status",
        "grpc-message",
        "grpc-status-details-bin",
        "ratelimit",
        "ratelimit-policy",
        "retry-after",
    ] {
        assert!(exposed.contains(header), "{header} not exposed: {exposed}");
    }
    for parts in [&allowed, &denied, &response] {
        assert_eq!(parts.headers["x-content-type-options"], "nosniff");
        assert_eq!(parts.headers["x-frame-options"], "DENY");
        assert!(parts.headers.contains_key("content-security-policy"));
        assert!(parts.headers.contains_key("referrer-policy"));
    }
    assert!(response.headers.contains_key("x-request-id"));
    assert!(
        response.headers["vary"]
            .to_str()
            .unwrap()
            .contains("origin")
    );

    // A native gRPC client sends no Origin: no CORS headers, the API's security headers.
    let native = call(addr, STAFF_RPC, &[("authorization", token.as_str())], true).await;
    assert_eq!(native.code, Some(Code::Ok));
    assert!(
        !native
            .headers
            .contains_key("access-control-allow-credentials")
    );
    assert!(!native.headers.contains_key("access-control-expose-headers"));
    assert_eq!(native.headers["x-content-type-options"], "nosniff");
    assert_eq!(native.headers["x-frame-options"], "DENY");
    assert_eq!(
        native.headers["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert!(
        response.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'"),
        "grpc-web responses are API responses too"
    );
    running.shutdown().await.unwrap();
}

/// Real grpc-web clients from outside the project: @connectrpc/connect-node (binary), and
/// Google's grpc-web runtime in text mode (unary; text streams: the next test).
#[tokio::test]
async fn external_grpc_web_clients_call_unary_and_streams() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/grpc-web");
    if !dir.join("node_modules").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "tests/grpc-web/node_modules missing (scripts/test runs npm ci)"
        );
        eprintln!("skipped: run `npm ci --prefix tests/grpc-web` first");
        return;
    }
    let (running, addr) = start(&test_config()).await;
    let descriptors = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(descriptors.path(), vibe::proto::FILE_DESCRIPTOR_SET).unwrap();
    let token = client::token("ana", &["staff"]);
    let descriptors_path = descriptors.path().to_owned();
    // One call by `script` in tests/grpc-web to a DashboardService method; its JSON line.
    let node = move |script: &str, method: &str, extra: &[&str], token: Option<&str>| {
        let mut command = std::process::Command::new("node");
        command.arg(dir.join(script)).args([
            "--base",
            &format!("http://{addr}"),
            "--descriptors",
            descriptors_path.to_str().unwrap(),
            "--service",
            "vibe.integration.v1.DashboardService",
            "--method",
            method,
        ]);
        command.args(extra);
        if let Some(token) = token {
            command.args(["--token", token]);
        }
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let output = tokio::task::spawn_blocking(move || {
        let run = |method: &str, http: &str, messages: &str, token: Option<&str>| {
            node(
                "client.mjs",
                method,
                &["--http", http, "--messages", messages],
                token,
            )
        };
        let text = |token: Option<&str>| node("text-client.mjs", "GetDashboard", &[], token);
        (
            run("GetDashboard", "1.1", "1", Some(&token)),
            run("GetDashboard", "2", "1", Some(&token)),
            run("WatchDashboard", "1.1", "1", Some(&token)),
            run("GetDashboard", "1.1", "1", None),
            text(Some(&token)),
            text(None),
        )
    })
    .await
    .unwrap();
    let (unary, unary_h2, stream, anonymous, text_unary, text_anonymous) = output;
    assert_eq!(text_unary["ok"], true, "{text_unary}");
    assert!(
        text_unary["message"]["dashboard"].is_object(),
        "{text_unary}"
    );
    assert_eq!(text_anonymous["code"], 16, "{text_anonymous}");
    for ok in [&unary, &unary_h2, &stream] {
        assert_eq!(ok["ok"], true, "{ok}");
        let dashboard = &ok["messages"][0]["dashboard"];
        assert!(dashboard.is_object(), "{ok}");
    }
    assert!(unary["headers"]["ratelimit"].is_string(), "{unary}");
    assert_eq!(anonymous["ok"], false);
    assert_eq!(anonymous["code"], 16, "{anonymous}");
    running.shutdown().await.unwrap();
}

/// grpc-web-text over HTTP/1.1 and HTTP/2: a server stream's first message arrives,
/// base64-encoded, while the stream is still open.
#[tokio::test]
async fn a_grpc_web_text_stream_flows_message_by_message() {
    let (running, addr) = start(&test_config()).await;
    let io = || async {
        hyper_util::rt::TokioIo::new(tokio::net::TcpStream::connect(addr).await.unwrap())
    };
    let (mut http1, connection) = hyper::client::conn::http1::handshake(io().await)
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = http1.send_request(text_watch_request()).await.unwrap();
    first_text_message(response).await;

    let (mut http2, connection) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io().await)
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut request = text_watch_request();
    *request.uri_mut() = format!("http://{addr}{}", request.uri()).parse().unwrap();
    let response = http2.send_request(request).await.unwrap();
    first_text_message(response).await;
    running.shutdown().await.unwrap();
}

/// `WatchDashboard` as a grpc-web-text call of staff member ana.
fn text_watch_request() -> http::Request<http_body_util::Full<bytes::Bytes>> {
    let empty_request = base64::engine::general_purpose::STANDARD.encode([0u8; 5]);
    http::Request::post("/vibe.integration.v1.DashboardService/WatchDashboard")
        .header("host", "gateway.test")
        .header("content-type", "application/grpc-web-text")
        .header("accept", "application/grpc-web-text")
        .header("x-grpc-web", "1")
        .header(
            "authorization",
            format!("Bearer {}", client::token("ana", &["staff"])),
        )
        .body(http_body_util::Full::new(bytes::Bytes::from(empty_request)))
        .unwrap()
}

/// Reads a grpc-web-text response until its first message decodes, then drops the stream.
async fn first_text_message(response: http::Response<hyper::body::Incoming>) {
    use http_body_util::BodyExt as _;
    use prost::Message as _;
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/grpc-web-text"),
        "{content_type}"
    );
    let mut body = response.into_body();
    let mut text = Vec::new();
    let message = loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("the first message within 10 s")
            .expect("the stream is still open")
            .unwrap();
        text.extend_from_slice(frame.data_ref().expect("data before trailers"));
        let bytes = decode_web_text(&text);
        if bytes.len() >= 5 {
            assert_eq!(bytes[0], 0, "a message frame, not trailers");
            let length = u32::from_be_bytes(bytes[1..5].try_into().unwrap()) as usize;
            if bytes.len() >= 5 + length {
                break bytes[5..5 + length].to_vec();
            }
        }
    };
    let first = vibe::proto::integration::v1::WatchDashboardResponse::decode(&message[..]).unwrap();
    assert!(first.dashboard.is_some(), "{first:?}");
}

/// grpc-web-text's base64, decoded in 4-character groups: a server encodes each chunk on its
/// own, so padding may end any group.
fn decode_web_text(text: &[u8]) -> Vec<u8> {
    text.chunks_exact(4)
        .flat_map(|group| {
            base64::engine::general_purpose::STANDARD
                .decode(group)
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn tls_serves_grpc_with_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        // A leaf, not a CA: rustls refuses a CA certificate as the server's own.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .args([
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let mut config = test_config();
    config.gateway.tls = Some(vibe::config::Tls {
        cert: cert.clone(),
        key,
    });
    let running = app::start(&config, &Targets::all()).await.unwrap();
    let addr = running.gateway_addr.unwrap();
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(
            std::fs::read(&cert).unwrap(),
        ))
        .domain_name("localhost");
    let channel =
        tonic::transport::Channel::from_shared(format!("https://localhost:{}", addr.port()))
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut dashboard = vibe::proto::integration::v1::dashboard_service_client::DashboardServiceClient::with_interceptor(
        channel,
        client::Bearer::new(&client::token("ana", &["staff"])),
    );
    let response = dashboard
        .get_dashboard(vibe::proto::integration::v1::GetDashboardRequest {})
        .await
        .unwrap();
    let hsts = response
        .metadata()
        .get("strict-transport-security")
        .unwrap();
    assert!(hsts.to_str().unwrap().starts_with("max-age="));
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn audited_methods_leave_one_event_per_call_with_its_outcome() {
    let (running, addr) = start(&test_config()).await;
    let admin = format!("Bearer {}", client::token("root", &["admin"]));
    let path = "/vibe.integration.v1.DashboardService/InvalidateCache";
    let headers = [
        ("authorization", admin.as_str()),
        ("x-request-id", "audit-test-1"),
    ];
    let outcome = call(addr, path, &headers, true).await;
    let code = outcome.code.expect("a status");
    assert_eq!(outcome.headers["x-request-id"], "audit-test-1");
    // Not audited: no event for it.
    call(addr, STAFF_RPC, &[("authorization", admin.as_str())], true).await;

    let events = audit_after_shutdown(running).await;
    let ours: Vec<_> = events.iter().filter(|e| e.method == path).collect();
    assert_eq!(ours.len(), 1, "{events:?}");
    let event = ours[0];
    assert_eq!(event.principal, "root");
    assert_eq!(event.role, "admin");
    assert_eq!(event.request_id, "audit-test-1");
    assert_eq!(event.status_code, i64::from(i32::from(code)));
    let result = if code == Code::Ok {
        "succeeded"
    } else {
        "failed"
    };
    assert_eq!(event.result, result);
    assert!(
        events.iter().all(|e| e.method != STAFF_RPC),
        "GetDashboard is not audited"
    );
}

#[tokio::test]
async fn a_request_over_the_size_limit_is_resource_exhausted_naming_the_limit_in_process_and_remote()
 {
    use prost::Message as _;
    let mut config = test_config();
    config.gateway.max_request_bytes = 256;
    let (running, addr) = start(&config).await;
    let mut products = DashboardServiceClient::with_interceptor(
        client::channel(addr).await,
        client::Bearer::new(&client::token("ana", &["staff"])),
    );
    let request = |query: String| vibe::proto::integration::v1::ListProductsRequest {
        page_size: 10,
        query,
        ..Default::default()
    };
    let small = request("gummy".to_owned());
    assert!(small.encoded_len() < 256);
    products.list_products(small.clone()).await.unwrap();
    let large = request("x".repeat(1000));
    let status = products.list_products(large.clone()).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("gateway.max_request_bytes"),
        "{status:?}"
    );

    // A gateway apart, forwarding to the services over the network: the same answer.
    let (gateway, remote) = client::gateway_apart(&config, running.grpc_addr.unwrap()).await;
    let mut products = DashboardServiceClient::with_interceptor(
        client::channel(remote).await,
        client::Bearer::new(&client::token("ana", &["staff"])),
    );
    products.list_products(small).await.unwrap();
    let status = products.list_products(large).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("gateway.max_request_bytes"),
        "{status:?}"
    );
    gateway.shutdown().await.unwrap();
    running.shutdown().await.unwrap();
}
