//! ComplianceService through the gateway, as the cockpit calls it: staff verify ages, the
//! gateway's and compliance's events land in the audit trail an admin reads page by page,
//! and age verification fails closed when its attempt counter (Redis) is down.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_types::StatusExt;
use vibe::app::{self, Running};
use vibe::config::Config;
use vibe::proto::integration::v1::compliance_service_client::ComplianceServiceClient;
use vibe::proto::integration::v1::{
    AgeVerificationReason, AgeVerificationStatus, AuditEventType, GetAgeVerificationRequest,
    GetComplianceMetricsRequest, ListAuditEventsRequest, VerificationMethod, VerifyAgeRequest,
};
use vibe::proto::r#type::v1::Date;
use vibe::targets::Targets;
use vibe_test_harness::RedisServer;

use crate::client;
use crate::client::{Bearer, channel, test_config, token, wait_for_health};

type Client = ComplianceServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>,
>;

async fn start(config: &Config) -> (Running, SocketAddr) {
    let running = app::start(config, &Targets::all()).await.unwrap();
    let addr = running.gateway_addr.unwrap();
    wait_for_health(addr, "", ServingStatus::Serving).await;
    (running, addr)
}

async fn client_as(addr: SocketAddr, sub: &str, roles: &[&str]) -> Client {
    ComplianceServiceClient::with_interceptor(channel(addr).await, Bearer::new(&token(sub, roles)))
}

fn verify(customer: &str, year: i32, state: &str) -> VerifyAgeRequest {
    VerifyAgeRequest {
        customer_id: customer.to_owned(),
        full_name: "Jordan Avery Blake".to_owned(),
        date_of_birth: Some(Date {
            year,
            month: 4,
            day: 2,
        }),
        state: state.to_owned(),
        id_last_four: "0071".to_owned(),
    }
}

/// `message` with forged identity headers: another principal, admin roles, another IP.
fn forged<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let metadata = request.metadata_mut();
    metadata.insert("x-vibe-principal", "mallory".parse().unwrap());
    metadata.insert("x-vibe-roles", "admin,service".parse().unwrap());
    metadata.insert("x-vibe-client-ip", "203.0.113.66".parse().unwrap());
    request
}

fn window(
    minutes_back: i64,
) -> (
    Option<prost_types::Timestamp>,
    Option<prost_types::Timestamp>,
) {
    let stamp = |t: chrono::DateTime<Utc>| {
        Some(prost_types::Timestamp {
            seconds: t.timestamp(),
            nanos: 0,
        })
    };
    let now = Utc::now();
    (
        stamp(now - chrono::Duration::minutes(minutes_back)),
        stamp(now + chrono::Duration::minutes(1)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_verify_ages_and_admins_read_the_trail() {
    let (running, addr) = start(&test_config()).await;
    let mut staff = client_as(addr, "ana", &["staff"]).await;
    // Identity headers sent by a client are replaced by the gateway's own.
    let verified = staff
        .verify_age(forged(verify("pos-1001", 1990, "TX")))
        .await
        .unwrap()
        .into_inner();
    assert!(verified.verified);
    assert_eq!(verified.reason(), AgeVerificationReason::Verified);
    assert_eq!(verified.method(), VerificationMethod::SelfAttested);
    assert!(verified.age.unwrap() >= 36);
    assert!(!verified.attempt_id.is_empty() && !verified.verification_id.is_empty());
    let (at, until) = (verified.verified_at.unwrap(), verified.expires_at.unwrap());
    assert_eq!(until.seconds - at.seconds, 365 * 86_400);
    assert_eq!(verified.attempts_remaining, 2);

    // Invalid input: INVALID_ARGUMENT naming the field, the attempt recorded all the same.
    let status = staff
        .verify_age(verify("pos-1002", 1990, "Texas"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    let fields: Vec<&str> = details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, ["state"]);
    let info = details.error_info().unwrap();
    assert_eq!(info.reason, "AGE_VERIFICATION_INPUT_INVALID");
    assert!(!info.metadata["attempt_id"].is_empty());
    assert_eq!(info.metadata["attempts_remaining"], "2");
    for personal in ["Jordan", "0071", "1990-04-02", "1990"] {
        assert!(!status.message().contains(personal), "{}", status.message());
    }

    let status = staff
        .get_age_verification(GetAgeVerificationRequest {
            customer_id: "pos-1001".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.status(), AgeVerificationStatus::VerifiedValid);
    assert_eq!(status.verification_id, verified.verification_id);

    let mut admin = client_as(addr, "olga", &["admin"]).await;
    let (start_time, end_time) = window(60);
    let metrics = admin
        .get_compliance_metrics(GetComplianceMetricsRequest {
            start_time,
            end_time,
        })
        .await
        .unwrap()
        .into_inner();
    let attempts = metrics.age_verification.unwrap();
    assert_eq!(
        (attempts.attempts_total, attempts.attempts_verified),
        (2, 1)
    );
    assert!((attempts.success_rate - 0.5).abs() < 1e-12);
    assert!(metrics.texas_readiness.is_some());

    // Staff may not read the trail; an admin must name a time range.
    let denied = staff
        .list_audit_events(forged(ListAuditEventsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let no_range = admin
        .list_audit_events(ListAuditEventsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(no_range.code(), Code::InvalidArgument);
    assert!(
        no_range.message().contains("start_time"),
        "{}",
        no_range.message()
    );

    // The gateway writes its events in batches: wait for the two VerifyAge calls.
    let (start_time, end_time) = window(5);
    let all = ListAuditEventsRequest {
        start_time,
        end_time,
        page_size: 500,
        ..ListAuditEventsRequest::default()
    };
    let mut events = Vec::new();
    for _ in 0..100 {
        events = admin
            .list_audit_events(all.clone())
            .await
            .unwrap()
            .into_inner()
            .events;
        let gateway_verify_age = events
            .iter()
            .filter(|e| e.service == "gateway" && e.method.ends_with("/VerifyAge"))
            .count();
        if gateway_verify_age >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let by_gateway: Vec<_> = events
        .iter()
        .filter(|e| e.service == "gateway" && e.method.ends_with("/VerifyAge"))
        .collect();
    assert_eq!(by_gateway.len(), 2, "{events:#?}");
    assert!(by_gateway.iter().all(|e| e.principal == "ana"));
    let by_compliance: Vec<_> = events
        .iter()
        .filter(|e| e.event_type() == AuditEventType::Compliance)
        .collect();
    assert_eq!(by_compliance.len(), 2, "{events:#?}");
    for event in &by_compliance {
        assert_eq!(event.principal, "ana");
        assert_eq!(event.action, "verify_age");
        assert_eq!(event.client_ip, "127.0.0.1");
        assert!(event.resource.starts_with("customer_key/"));
        assert!(!event.resource.contains("pos-100"));
    }
    // Newest first, and the same events page by page.
    let times: Vec<_> = events
        .iter()
        .map(|e| (e.time.unwrap().seconds, e.time.unwrap().nanos))
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let mut paged = Vec::new();
    let mut token = String::new();
    for _ in 0..events.len() + 1 {
        let page = admin
            .list_audit_events(ListAuditEventsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..all.clone()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.events.len() <= 2);
        paged.extend(page.events.into_iter().map(|e| e.event_id));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    // Events written after the full listing may lead the pages; the rest match in order.
    let ids: Vec<String> = events.iter().map(|e| e.event_id.clone()).collect();
    assert!(
        paged.ends_with(&ids) || paged == ids,
        "{paged:?} vs {ids:?}"
    );
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_age_fails_closed_without_its_counter() {
    let mut redis = RedisServer::start();
    let mut config = test_config();
    config.redis = Some(client::redis_config(&redis.url()));
    let (running, addr) = start(&config).await;
    let mut staff = client_as(addr, "ana", &["staff"]).await;
    // Three attempts in Redis, then the fourth is refused until the first leaves the window.
    let started = Utc::now().timestamp();
    for remaining in [2, 1, 0] {
        let attempt = staff
            .verify_age(verify("pos-2001", 1985, "TX"))
            .await
            .unwrap()
            .into_inner();
        assert!(attempt.verified);
        assert_eq!(attempt.attempts_remaining, remaining);
    }
    let limited = staff
        .verify_age(verify("pos-2001", 1985, "TX"))
        .await
        .unwrap()
        .into_inner();
    assert!(!limited.verified);
    assert_eq!(limited.reason(), AgeVerificationReason::RateLimited);
    let retry = limited.retry_after.unwrap().seconds - started;
    assert!((86_399..=86_410).contains(&retry), "retry after {retry} s");
    redis.kill();
    let status = staff
        .verify_age(verify("pos-2001", 1985, "TX"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("attempt counter"),
        "{}",
        status.message()
    );
    // The status read needs the counter too (attempts remaining): also UNAVAILABLE.
    let status = staff
        .get_age_verification(GetAgeVerificationRequest {
            customer_id: "pos-2001".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);

    // Redis back (empty): the pool reconnects and attempts count again.
    redis.restart();
    let mut recovered = None;
    for _ in 0..100 {
        match staff.verify_age(verify("pos-2002", 1985, "TX")).await {
            Ok(response) => {
                recovered = Some(response.into_inner());
                break;
            }
            Err(status) => assert_eq!(status.code(), Code::Unavailable),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered.expect("verify_age recovers with redis").verified);
    running.shutdown().await.unwrap();
}
