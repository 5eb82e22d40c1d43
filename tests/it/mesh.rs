//! The mesh through real gRPC: every target in one process, and targets split apart.

use tonic_health::pb::health_check_response::ServingStatus;
use vibe::app;
use vibe::proto::integration::v1::GetDashboardRequest;
use vibe::proto::integration::v1::dashboard_service_client::DashboardServiceClient;
use vibe::proto::reasoning::v1::GetJobRequest;
use vibe::proto::reasoning::v1::reasoning_service_client::ReasoningServiceClient;
use vibe::targets::{Target, Targets};

use crate::client;
use crate::client::{
    PUBLIC_SERVICES, health, reflected_services, scrape, test_config, wait_for_health,
};

#[tokio::test]
async fn all_targets_serve_health_reflection_and_honest_unimplemented() {
    let running = app::start(&test_config(), &Targets::all()).await.unwrap();
    let gateway = running.gateway_addr.unwrap();
    let grpc = running.grpc_addr.unwrap();

    for addr in [gateway, grpc] {
        wait_for_health(addr, "", ServingStatus::Serving).await;
        assert_eq!(health(addr, "liveness").await, Ok(ServingStatus::Serving));
        for service in PUBLIC_SERVICES {
            assert_eq!(
                health(addr, service).await,
                Ok(ServingStatus::Serving),
                "{service}"
            );
        }
        assert_eq!(
            health(addr, "vibe.nope.v1.Nope").await,
            Err(tonic::Code::NotFound)
        );

        let listed = reflected_services(addr).await;
        for service in PUBLIC_SERVICES {
            assert!(
                listed.contains(&service.to_owned()),
                "{service} missing in {listed:?}"
            );
        }
    }

    // Through the gateway (in-process upstream) and on the services' own listener: a
    // built RPC answers, an unbuilt one says what is missing.
    for addr in [gateway, grpc] {
        let mut dashboard = DashboardServiceClient::new(client::staff_channel(addr).await);
        let empty = dashboard
            .get_dashboard(GetDashboardRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(empty.dashboard.unwrap().today.unwrap().transactions, 0);
        let mut reasoning = ReasoningServiceClient::new(client::staff_channel(addr).await);
        let status = reasoning
            .get_job(GetJobRequest::default())
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unimplemented);
        assert!(
            status.message().starts_with("GetJob is not built yet: "),
            "message must name the missing capability: {:?}",
            status.message()
        );
    }

    let metrics = scrape(running.metrics_addr).await;
    for component in ["gateway", "services"] {
        let line = metrics
            .lines()
            .find(|line| {
                line.starts_with("grpc_server_handled_total{")
                    && line.contains(&format!("component=\"{component}\""))
                    && line.contains("grpc_method=\"GetJob\"")
                    && line.contains("grpc_code=\"Unimplemented\"")
            })
            .unwrap_or_else(|| panic!("no {component} GetJob counter in:\n{metrics}"));
        // The gateway saw one call; the services saw the gateway's and the direct one.
        let want = if component == "gateway" { " 1" } else { " 2" };
        assert!(line.ends_with(want), "{line}");
    }
    assert!(
        metrics.contains("grpc_server_handling_seconds_bucket{"),
        "{metrics}"
    );
    assert!(
        metrics.contains("process_resident_memory_bytes"),
        "{metrics}"
    );

    assert_eq!(running.shutdown().await.unwrap(), app::Drain::Complete);
}

#[tokio::test]
async fn integration_target_alone_serves_only_its_services() {
    let targets = Targets::from_list(&[Target::Integration]);
    let running = app::start(&test_config(), &targets).await.unwrap();
    assert!(running.gateway_addr.is_none(), "no gateway listener");
    let grpc = running.grpc_addr.unwrap();

    wait_for_health(grpc, "", ServingStatus::Serving).await;
    for service in &PUBLIC_SERVICES[..2] {
        assert_eq!(health(grpc, service).await, Ok(ServingStatus::Serving));
    }
    for service in &PUBLIC_SERVICES[2..] {
        assert_eq!(health(grpc, service).await, Err(tonic::Code::NotFound));
    }
    let listed = reflected_services(grpc).await;
    assert_eq!(
        listed,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "vibe.integration.v1.ComplianceService",
            "vibe.integration.v1.DashboardService",
        ]
    );
    let mut reasoning = ReasoningServiceClient::new(client::staff_channel(grpc).await);
    let status = reasoning
        .get_job(GetJobRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented, "not hosted here");

    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn gateway_alone_routes_to_remote_services() {
    let integration = app::start(&test_config(), &Targets::from_list(&[Target::Integration]))
        .await
        .unwrap();
    let integration_addr = integration.grpc_addr.unwrap();

    let mut config = test_config();
    config.upstreams.integration = format!("http://{integration_addr}");
    // Nothing listens here: calls to reasoning must fail as UNAVAILABLE, not hang.
    config.upstreams.reasoning = format!("http://127.0.0.1:{}", vibe_test_harness::free_port());
    let gateway = app::start(&config, &Targets::from_list(&[Target::Gateway]))
        .await
        .unwrap();
    assert!(gateway.grpc_addr.is_none(), "no services listener");
    let addr = gateway.gateway_addr.unwrap();

    wait_for_health(addr, "", ServingStatus::Serving).await;
    assert_eq!(
        health(addr, PUBLIC_SERVICES[0]).await,
        Err(tonic::Code::NotFound),
        "the gateway does not host services"
    );
    let listed = reflected_services(addr).await;
    for service in PUBLIC_SERVICES {
        assert!(
            listed.contains(&service.to_owned()),
            "{service} routed but not listed"
        );
    }

    let mut dashboard = DashboardServiceClient::new(client::staff_channel(addr).await);
    let routed = dashboard
        .get_dashboard(GetDashboardRequest::default())
        .await;
    assert!(
        routed.is_ok(),
        "routed to the remote integration target: {routed:?}"
    );

    let mut reasoning = ReasoningServiceClient::new(client::staff_channel(addr).await);
    let status = reasoning
        .get_job(GetJobRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    // GetJob is idempotent: the gateway tried three times before giving up.
    let gateway_metrics = scrape(gateway.metrics_addr).await;
    assert!(
        gateway_metrics.contains("gateway_upstream_retries_total 2"),
        "{gateway_metrics}"
    );

    let metrics = scrape(integration.metrics_addr).await;
    assert!(
        metrics
            .lines()
            .any(|line| line.contains("component=\"services\"")
                && line.contains("grpc_method=\"GetDashboard\"")),
        "the remote service saw the routed call:\n{metrics}"
    );

    // An anonymous call is refused and audited; this gateway cannot open the integration
    // target's DuckDB file, so the event reaches the audit table through RecordAuditEvents.
    let mut anonymous = DashboardServiceClient::new(client::channel(addr).await);
    let status = anonymous
        .get_dashboard(GetDashboardRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    gateway.shutdown().await.unwrap();
    let range = vibe_warehouse::TimeRange {
        start: chrono::Utc::now() - chrono::Duration::minutes(5),
        end: chrono::Utc::now() + chrono::Duration::minutes(1),
    };
    let events = integration
        .warehouse()
        .unwrap()
        .audit_events(range, 100)
        .await
        .unwrap();
    assert!(
        events.iter().any(|e| e.service == "gateway"
            && e.event_type == "authz"
            && e.result == "denied"
            && e.method.ends_with("/GetDashboard")),
        "{events:#?}"
    );
    integration.shutdown().await.unwrap();
}

#[tokio::test]
async fn readiness_follows_redis() {
    let mut redis = vibe_test_harness::RedisServer::start();
    let mut config = test_config();
    config.redis = Some(
        toml::from_str(&format!(
            "url = {:?}\ncommand_timeout = \"200ms\"",
            redis.url()
        ))
        .unwrap(),
    );
    config.health.check_timeout = std::time::Duration::from_millis(300);
    let running = app::start(&config, &Targets::from_list(&[Target::Integration]))
        .await
        .unwrap();
    let grpc = running.grpc_addr.unwrap();
    wait_for_health(grpc, "", ServingStatus::Serving).await;
    wait_for_health(grpc, PUBLIC_SERVICES[0], ServingStatus::Serving).await;

    redis.kill();
    wait_for_health(grpc, "", ServingStatus::NotServing).await;
    wait_for_health(grpc, PUBLIC_SERVICES[0], ServingStatus::NotServing).await;
    assert_eq!(
        health(grpc, "liveness").await,
        Ok(ServingStatus::Serving),
        "a dependency outage is not a reason to restart the pod"
    );

    redis.restart();
    wait_for_health(grpc, "", ServingStatus::Serving).await;
    running.shutdown().await.unwrap();
}
