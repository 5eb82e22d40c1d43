//! `vibe probe`: one gRPC health check, for Docker's HEALTHCHECK, `helm test` and scripts.

use std::time::Duration;

use tonic::transport::Endpoint;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Why a probe failed, as the one line it prints.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("invalid address {0:?}")]
    Address(String),
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("{addr} did not answer within {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    #[error("{addr} answered the health check with {code:?}: {message}")]
    Status {
        addr: String,
        code: tonic::Code,
        message: String,
    },
    #[error("{addr} reports {service:?} as {status}")]
    NotServing {
        addr: String,
        service: String,
        status: &'static str,
    },
}

/// Checks `service` ("" = the whole server) on `addr` (`host:port`).
pub async fn probe(addr: &str, service: &str, timeout: Duration) -> Result<(), ProbeError> {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|_| ProbeError::Address(addr.to_owned()))?
        .connect_timeout(timeout)
        .timeout(timeout);
    let check = async {
        let channel = endpoint
            .connect()
            .await
            .map_err(|err| ProbeError::Connect {
                addr: addr.to_owned(),
                reason: std::error::Error::source(&err)
                    .map_or_else(|| err.to_string(), ToString::to_string),
            })?;
        HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .map_err(|status| ProbeError::Status {
                addr: addr.to_owned(),
                code: status.code(),
                message: status.message().to_owned(),
            })
    };
    let response =
        tokio::time::timeout(timeout, check)
            .await
            .map_err(|_| ProbeError::Timeout {
                addr: addr.to_owned(),
                timeout,
            })??;
    match response.into_inner().status() {
        ServingStatus::Serving => Ok(()),
        other => Err(ProbeError::NotServing {
            addr: addr.to_owned(),
            service: service.to_owned(),
            status: other.as_str_name(),
        }),
    }
}
