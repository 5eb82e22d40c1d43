//! Passive outlier ejection for a remote upstream (Envoy's consecutive-errors detector).
//! Calls are spread over several HTTP/2 connections — behind a Kubernetes Service each one
//! may land on another pod — by the lesser load of two candidates. A connection whose calls
//! fail `consecutive_failures` times in a row (a transport error, or UNAVAILABLE) is ejected
//! for `base_ejection` × the times it was ejected (at most `max_ejection`), replaced by a
//! fresh connection, and never more than half of them are out at once. Each connection is
//! also replaced when it reaches its maximum age (Envoy's `max_connection_duration`), so
//! that pods a Deployment adds behind the Service get their share of calls.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use http::{Request, Response};
use tokio::time::Instant;
use tonic::Code;
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint};
use tower::ServiceExt;

use crate::status_body::code_of;
use crate::upstream::BoxError;

/// When a connection is ejected, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Ejection {
    pub consecutive_failures: u32,
    pub base_ejection: Duration,
    pub max_ejection: Duration,
}

impl Default for Ejection {
    /// Envoy's defaults for the consecutive-errors detector.
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            base_ejection: Duration::from_secs(30),
            max_ejection: Duration::from_secs(300),
        }
    }
}

struct Slot {
    endpoint: Endpoint,
    connection: Mutex<Connection>,
    in_flight: AtomicUsize,
    failures: AtomicU32,
    ejections: AtomicU32,
    ejected_until: Mutex<Option<Instant>>,
}

/// A slot's current connection, and when a call replaces it with a new one.
struct Connection {
    channel: Channel,
    replace_at: Instant,
}

impl Connection {
    /// Connects on first use: a service that is still starting must not stop the gateway.
    fn new(endpoint: &Endpoint, replace_at: Instant) -> Self {
        Self {
            channel: endpoint.connect_lazy(),
            replace_at,
        }
    }
}

impl Slot {
    /// The channel for a call at `now`: a new connection once the current one is
    /// `max_age` old. Calls already on the old one finish there.
    fn channel(&self, now: Instant, max_age: Duration) -> Channel {
        let mut connection = lock(&self.connection);
        if now >= connection.replace_at {
            *connection = Connection::new(&self.endpoint, now + max_age);
        }
        connection.channel.clone()
    }

    fn ejected(&self, now: Instant) -> bool {
        let mut until = lock(&self.ejected_until);
        match *until {
            Some(at) if at > now => true,
            Some(_) => {
                // Back in rotation, on the fresh connection made at ejection.
                *until = None;
                false
            }
            None => false,
        }
    }
}

/// A poisoned lock only means a panic elsewhere; the guarded values stay consistent.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Connections to one upstream, with ejection. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Pool {
    address: Arc<str>,
    slots: Arc<[Slot]>,
    next: Arc<AtomicUsize>,
    ejection: Ejection,
    max_age: Duration,
}

impl Pool {
    /// One lazily connected channel per endpoint (production passes the same endpoint
    /// several times: each is its own connection), each replaced once `max_age` old.
    pub(crate) fn new(
        address: &str,
        endpoints: Vec<Endpoint>,
        ejection: Ejection,
        max_age: Duration,
    ) -> Self {
        let now = Instant::now();
        let n = u32::try_from(endpoints.len()).unwrap_or(u32::MAX).max(1);
        let slots: Vec<Slot> = (0..n)
            .zip(endpoints)
            .map(|(index, endpoint)| Slot {
                // Staggered over half an age, so the connections are not all new at once.
                connection: Mutex::new(Connection::new(
                    &endpoint,
                    now + (max_age - max_age / (2 * n) * index),
                )),
                endpoint,
                in_flight: AtomicUsize::new(0),
                failures: AtomicU32::new(0),
                ejections: AtomicU32::new(0),
                ejected_until: Mutex::new(None),
            })
            .collect();
        Self {
            address: address.into(),
            slots: slots.into(),
            next: Arc::new(AtomicUsize::new(0)),
            ejection,
            max_age,
        }
    }

    /// The less loaded of the next two connections in rotation that are not ejected.
    fn pick(&self) -> usize {
        let now = Instant::now();
        let n = self.slots.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut live = (0..n)
            .map(|k| (start + k) % n)
            .filter(|&i| !self.slots[i].ejected(now));
        // None out is the rule (at most half are ejected); the rotation is the fallback.
        let Some(a) = live.next() else {
            return start % n;
        };
        let b = live.next().unwrap_or(a);
        let load = |i: usize| self.slots[i].in_flight.load(Ordering::Relaxed);
        if load(b) < load(a) { b } else { a }
    }

    fn record(&self, index: usize, failed: bool) {
        let slot = &self.slots[index];
        if !failed {
            slot.failures.store(0, Ordering::Relaxed);
            return;
        }
        let failures = slot.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures < self.ejection.consecutive_failures {
            return;
        }
        let now = Instant::now();
        let out = self.slots.iter().filter(|s| s.ejected(now)).count();
        // At most half out, and never the last one.
        if (out + 1) * 2 > self.slots.len() {
            return;
        }
        slot.failures.store(0, Ordering::Relaxed);
        let times = slot.ejections.fetch_add(1, Ordering::Relaxed) + 1;
        let pause = self
            .ejection
            .base_ejection
            .saturating_mul(times)
            .min(self.ejection.max_ejection);
        *lock(&slot.ejected_until) = Some(now + pause);
        // A new connection: behind a Service it may reach another pod.
        *lock(&slot.connection) = Connection::new(&slot.endpoint, now + self.max_age);
        metrics::counter!("gateway_upstream_ejections_total", "upstream" => self.address.to_string())
            .increment(1);
        tracing::warn!(upstream = %self.address, connection = index, ?pause, "upstream connection ejected after consecutive failures");
    }
}

/// Keeps the in-flight count right also when a call is dropped midway.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl tower::Service<Request<Body>> for Pool {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response<Body>, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Each channel buffers and reconnects on its own; readiness is checked per call.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let pool = self.clone();
        Box::pin(async move {
            let index = pool.pick();
            let slot = &pool.slots[index];
            let channel = slot.channel(Instant::now(), pool.max_age);
            slot.in_flight.fetch_add(1, Ordering::Relaxed);
            let _in_flight = InFlight(&slot.in_flight);
            let result = channel.oneshot(request).await;
            let failed = match &result {
                Err(_) => true,
                Ok(response) => code_of(response.headers()) == Some(Code::Unavailable),
            };
            pool.record(index, failed);
            result.map_err(BoxError::from)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real gRPC server (the health service) on a free port.
    async fn healthy_server() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (_, health) = tonic_health::server::health_reporter();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(health)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        format!("http://{addr}")
    }

    /// A real gRPC server (the health service) that counts the connections it accepts.
    async fn counting_server() -> (
        String,
        Arc<AtomicUsize>,
        tonic_health::server::HealthReporter,
    ) {
        use futures::StreamExt as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let incoming =
            tokio_stream::wrappers::TcpListenerStream::new(listener).inspect(move |_| {
                counter.fetch_add(1, Ordering::Relaxed);
            });
        let (reporter, health) = tonic_health::server::health_reporter();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(health)
                .serve_with_incoming(incoming),
        );
        (format!("http://{addr}"), accepted, reporter)
    }

    /// Bound, then released: nothing listens there.
    fn dead_address() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", listener.local_addr().expect("addr"))
    }

    /// Ejects after `failures` in a row, for longer than the test runs.
    fn ejected_after(failures: u32) -> Ejection {
        Ejection {
            consecutive_failures: failures,
            base_ejection: Duration::from_secs(60),
            max_ejection: Duration::from_secs(60),
        }
    }

    /// Longer than any test runs: no connection is replaced for its age.
    const LONG_AGE: Duration = Duration::from_secs(600);

    fn endpoint(url: &str) -> Endpoint {
        Endpoint::from_shared(url.to_owned())
            .expect("url")
            .connect_timeout(Duration::from_millis(500))
    }

    #[tokio::test]
    async fn a_failing_connection_is_ejected_and_calls_go_to_the_rest() {
        let healthy = healthy_server().await;
        let dead = dead_address();
        let ejection = ejected_after(2);
        let pool = Pool::new(
            "test",
            vec![endpoint(&healthy), endpoint(&dead)],
            ejection,
            LONG_AGE,
        );
        let mut client = tonic_health::pb::health_client::HealthClient::new(pool);
        let mut failed = 0;
        for _ in 0..20 {
            let request = tonic_health::pb::HealthCheckRequest::default();
            if client.check(request).await.is_err() {
                failed += 1;
            }
        }
        // Calls alternate until the dead connection fails twice in a row; then it is out.
        assert_eq!(failed, 2);
    }

    #[tokio::test]
    async fn never_more_than_half_are_ejected() {
        let dead = dead_address();
        let ejection = ejected_after(1);
        let pool = Pool::new("test", vec![endpoint(&dead); 4], ejection, LONG_AGE);
        let mut client = tonic_health::pb::health_client::HealthClient::new(pool.clone());
        for _ in 0..12 {
            let request = tonic_health::pb::HealthCheckRequest::default();
            assert!(client.check(request).await.is_err());
        }
        let now = Instant::now();
        let out = pool.slots.iter().filter(|s| s.ejected(now)).count();
        assert_eq!(out, 2);
    }

    #[tokio::test]
    async fn a_connection_is_replaced_once_old_and_its_open_streams_go_on() {
        use tonic_health::ServingStatus;
        use tonic_health::pb::HealthCheckRequest;
        let (url, accepted, reporter) = counting_server().await;
        reporter
            .set_service_status("watched", ServingStatus::Serving)
            .await;
        let pool = Pool::new("test", vec![endpoint(&url)], ejected_after(5), LONG_AGE);
        let mut client = tonic_health::pb::health_client::HealthClient::new(pool.clone());
        let watched = HealthCheckRequest {
            service: "watched".to_owned(),
        };
        let mut watch = client.watch(watched).await.expect("watch").into_inner();
        let first = watch.message().await.expect("update").expect("open");
        assert_eq!(first.status, ServingStatus::Serving as i32);
        for _ in 0..3 {
            client
                .check(HealthCheckRequest::default())
                .await
                .expect("check");
        }
        assert_eq!(accepted.load(Ordering::Relaxed), 1);

        // The connection's age is up now (its next one is LONG_AGE away).
        lock(&pool.slots[0].connection).replace_at = Instant::now();
        for _ in 0..3 {
            client
                .check(HealthCheckRequest::default())
                .await
                .expect("check");
        }
        assert_eq!(accepted.load(Ordering::Relaxed), 2, "one new connection");
        // The stream opened on the old connection still gets its updates.
        reporter
            .set_service_status("watched", ServingStatus::NotServing)
            .await;
        let next = tokio::time::timeout(Duration::from_secs(5), watch.message())
            .await
            .expect("an update within 5 s")
            .expect("update")
            .expect("open");
        assert_eq!(next.status, ServingStatus::NotServing as i32);
    }
}
