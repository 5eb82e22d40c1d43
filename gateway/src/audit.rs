//! Audit events: built per call by the edge, queued in a bounded channel and written to
//! the warehouse's audit table in batches; the queue is flushed on shutdown.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use vibe_warehouse::{AuditEvent, Warehouse};

use crate::auth::Principal;

/// Where batches of audit events go.
#[async_trait::async_trait]
pub trait AuditStore: Send + Sync + 'static {
    async fn write(&self, events: &[AuditEvent]) -> Result<(), String>;
}

/// The warehouse's audit table.
pub struct WarehouseAudit(pub Arc<dyn Warehouse>);

#[async_trait::async_trait]
impl AuditStore for WarehouseAudit {
    async fn write(&self, events: &[AuditEvent]) -> Result<(), String> {
        self.0
            .insert_audit_events(events)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Batching and back-pressure.
#[derive(Debug, Clone, Copy)]
pub struct AuditSettings {
    /// Events waiting to be written; a full queue makes callers wait up to `enqueue_timeout`.
    pub queue: usize,
    pub batch_size: usize,
    pub flush_interval: Duration,
    pub enqueue_timeout: Duration,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            queue: 10_000,
            batch_size: 500,
            flush_interval: Duration::from_secs(1),
            enqueue_timeout: Duration::from_secs(1),
        }
    }
}

/// The sending side. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AuditLog {
    tx: mpsc::Sender<AuditEvent>,
    enqueue_timeout: Duration,
}

impl AuditLog {
    /// Starts the writer; it ends after `stop`, once everything queued is written.
    pub fn start(
        store: Arc<dyn AuditStore>,
        settings: AuditSettings,
        stop: CancellationToken,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(settings.queue.max(1));
        let writer = tokio::spawn(run(store, rx, settings, stop));
        (
            Self {
                tx,
                enqueue_timeout: settings.enqueue_timeout,
            },
            writer,
        )
    }

    /// Queues `event`; waits while the queue is full, up to the enqueue timeout.
    pub async fn record(&self, event: AuditEvent) {
        let method = event.method.clone();
        match self.tx.send_timeout(event, self.enqueue_timeout).await {
            Ok(()) => metrics::counter!("gateway_audit_events_total").increment(1),
            Err(_) => {
                metrics::counter!("gateway_audit_events_dropped_total").increment(1);
                tracing::error!(%method, "audit queue full or closed: event dropped");
            }
        }
    }
}

/// The fields of an event that the edge knows about a call.
#[derive(Debug, Clone)]
pub struct CallFacts {
    /// The caller; anonymous until its token is verified.
    pub principal: Arc<Principal>,
    /// The request's URI (cheap to clone); its path is the method.
    pub uri: http::Uri,
    pub request_id: http::HeaderValue,
    pub client_ip: Option<std::net::IpAddr>,
    /// Truncated to 256 characters in events.
    pub user_agent: Option<http::HeaderValue>,
}

impl CallFacts {
    /// An event for this call; `kind` and `result` use the audit table's vocabulary.
    pub fn event(
        &self,
        kind: &str,
        result: &str,
        code: tonic::Code,
        reason: Option<&str>,
    ) -> AuditEvent {
        let severity = match result {
            "succeeded" | "allowed" => "info",
            _ => "warning",
        };
        AuditEvent {
            event_id: uuid::Uuid::new_v4().to_string(),
            occurred_at: Utc::now(),
            event_type: kind.to_owned(),
            severity: severity.to_owned(),
            principal: self.principal.subject.clone(),
            role: self.principal.primary_role().as_str().to_owned(),
            method: self.uri.path().to_owned(),
            result: result.to_owned(),
            status_code: i64::from(i32::from(code)),
            request_id: self.request_id.to_str().unwrap_or_default().to_owned(),
            client_ip: self.client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            user_agent: self
                .user_agent
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(256).collect())
                .unwrap_or_default(),
            service: "gateway".to_owned(),
            details: reason
                .map(|reason| [("reason".to_owned(), reason.to_owned())].into())
                .unwrap_or_default(),
            resource: String::new(),
            action: String::new(),
        }
    }
}

async fn run(
    store: Arc<dyn AuditStore>,
    mut rx: mpsc::Receiver<AuditEvent>,
    settings: AuditSettings,
    stop: CancellationToken,
) {
    let mut batch = Vec::with_capacity(settings.batch_size);
    // When the oldest unwritten event must be written at the latest.
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let flush_due = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let room = settings.batch_size.saturating_sub(batch.len()).max(1);
        let stopping = tokio::select! {
            () = stop.cancelled() => true,
            received = rx.recv_many(&mut batch, room) => received == 0,
            () = flush_due => false,
        };
        if stopping {
            // Everything still queued is written too.
            rx.close();
            while rx.recv_many(&mut batch, settings.batch_size).await > 0 {
                write(&*store, &mut batch, &stop).await;
            }
            write(&*store, &mut batch, &stop).await;
            return;
        }
        let now = tokio::time::Instant::now();
        let due = *deadline.get_or_insert(now + settings.flush_interval) <= now;
        if batch.len() >= settings.batch_size || due {
            write(&*store, &mut batch, &stop).await;
            deadline = None;
        }
    }
}

/// Writes `batch`, retrying with backoff; while stopping, gives up after a few tries.
async fn write(store: &dyn AuditStore, batch: &mut Vec<AuditEvent>, stop: &CancellationToken) {
    if batch.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(100);
    for attempt in 1.. {
        match store.write(batch).await {
            Ok(()) => {
                batch.clear();
                return;
            }
            Err(error) => {
                metrics::counter!("gateway_audit_write_errors_total").increment(1);
                tracing::warn!(%error, attempt, events = batch.len(), "audit write failed: retrying");
                if stop.is_cancelled() && attempt >= 3 {
                    tracing::error!(
                        events = batch.len(),
                        "audit events lost: the store kept failing during shutdown"
                    );
                    batch.clear();
                    return;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}
