//! One trace id follows a call from the gateway to the service, over gRPC and in-process.

use std::time::Duration;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use vibe::app;
use vibe::proto::integration::v1::GetDashboardRequest;
use vibe::proto::integration::v1::dashboard_service_client::DashboardServiceClient;
use vibe::targets::{Target, Targets};

use crate::client;
use crate::client::test_config;

const METHOD: &str = "vibe.integration.v1.DashboardService/GetDashboard";

fn attribute(span: &SpanData, key: &str) -> String {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
        .unwrap_or_default()
}

fn component(span: &SpanData) -> String {
    attribute(span, "component")
}

/// Calls GetDashboard through `gateway` and returns the (gateway, service) server spans.
async fn call_and_collect(
    exporter: &InMemorySpanExporter,
    gateway: std::net::SocketAddr,
) -> (SpanData, SpanData) {
    exporter.reset();
    let mut dashboard = DashboardServiceClient::new(client::staff_channel(gateway).await);
    dashboard
        .get_dashboard(GetDashboardRequest::default())
        .await
        .unwrap();
    // Server spans end when the response body is dropped, just after the client has it.
    for _ in 0..200 {
        let spans = exporter.get_finished_spans().unwrap();
        let find = |wanted: &str| {
            spans
                .iter()
                .find(|span| span.name == METHOD && component(span) == wanted)
                .cloned()
        };
        if let (Some(edge), Some(service)) = (find("gateway"), find("services")) {
            return (edge, service);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "spans missing: {:#?}",
        exporter.get_finished_spans().unwrap()
    );
}

fn assert_one_trace(edge: &SpanData, service: &SpanData) {
    let trace = edge.span_context.trace_id();
    assert_ne!(trace, TraceId::INVALID);
    assert_eq!(
        service.span_context.trace_id(),
        trace,
        "one trace across the hop"
    );
    assert_eq!(
        service.parent_span_id,
        edge.span_context.span_id(),
        "the service span is a child of the gateway span"
    );
    assert_ne!(service.parent_span_id, SpanId::INVALID);
    for span in [edge, service] {
        assert_eq!(attribute(span, "rpc.grpc.status_code"), "0", "{span:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_id_across_gateway_and_service() {
    let exporter = InMemorySpanExporter::default();
    let telemetry =
        vibe_telemetry::Telemetry::init_with_exporter(&Default::default(), exporter.clone())
            .unwrap();

    // Split: gateway and integration as two servers talking gRPC over TCP.
    let integration = app::start(&test_config(), &Targets::from_list(&[Target::Integration]))
        .await
        .unwrap();
    let (gateway, gateway_addr) =
        client::gateway_apart(&test_config(), integration.grpc_addr.unwrap()).await;
    let (edge, service) = call_and_collect(&exporter, gateway_addr).await;
    assert_one_trace(&edge, &service);
    gateway.shutdown().await.unwrap();
    integration.shutdown().await.unwrap();

    // One process: the in-process hop carries the context the same way.
    let all = app::start(&test_config(), &Targets::all()).await.unwrap();
    let (edge, service) = call_and_collect(&exporter, all.gateway_addr.unwrap()).await;
    assert_one_trace(&edge, &service);
    all.shutdown().await.unwrap();

    telemetry.shutdown();
}
