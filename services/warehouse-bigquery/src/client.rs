//! The connection: client construction per credential kind, every query job (with
//! `maximumBytesBilled`, a deadline and result paging), and BigQuery errors mapped to
//! [`WarehouseError`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use gcp_bigquery_client::Client;
use gcp_bigquery_client::auth::Authenticator;
use gcp_bigquery_client::client_builder::ClientBuilder;
use gcp_bigquery_client::error::BQError;
use gcp_bigquery_client::model::dataset_reference::DatasetReference;
use gcp_bigquery_client::model::get_query_results_parameters::GetQueryResultsParameters;
use gcp_bigquery_client::model::query_parameter::QueryParameter;
use gcp_bigquery_client::model::query_request::QueryRequest;
use gcp_bigquery_client::model::table_row::TableRow;
use secrecy::ExposeSecret;
use vibe_warehouse::{Result, WarehouseError};

use crate::{BigQuerySettings, Credentials};

/// The longest the server holds one `jobs.query` / `getQueryResults` call open waiting for
/// the job; longer jobs are polled until the call's deadline.
const SERVER_WAIT: Duration = Duration::from_secs(10);

/// The BigQuery warehouse. Cheap to clone; clones share the HTTP client.
#[derive(Clone)]
pub struct BigQueryWarehouse {
    client: Client,
    pub(crate) settings: Arc<BigQuerySettings>,
}

/// A fixed token: the emulator accepts any.
#[derive(Clone)]
struct EmulatorToken;

#[async_trait::async_trait]
impl Authenticator for EmulatorToken {
    async fn access_token(&self) -> Result<String, BQError> {
        Ok("emulator".to_owned())
    }
}

/// What a failed call was doing: the same HTTP status means different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    Query,
    Insert,
    Admin,
}

fn config(message: String) -> WarehouseError {
    WarehouseError::Config(message)
}

fn validate(settings: &BigQuerySettings) -> Result<()> {
    if settings.project.trim().is_empty() {
        return Err(config("bigquery project is empty".to_owned()));
    }
    let dataset_ok = !settings.dataset.is_empty()
        && settings.dataset.len() <= 1024
        && settings
            .dataset
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !dataset_ok {
        return Err(config(format!(
            "bigquery dataset {:?} must be letters, digits and underscores",
            settings.dataset
        )));
    }
    if settings.location.trim().is_empty() {
        return Err(config("bigquery location is empty".to_owned()));
    }
    if settings.maximum_bytes_billed <= 0 {
        return Err(config(
            "bigquery maximum_bytes_billed must be positive".to_owned(),
        ));
    }
    if settings.query_timeout.is_zero() {
        return Err(config("bigquery query_timeout must be positive".to_owned()));
    }
    if matches!(settings.credentials, Credentials::None) && settings.base_url.is_none() {
        return Err(config(
            "bigquery credentials none are for the emulator only: set base_url".to_owned(),
        ));
    }
    Ok(())
}

impl BigQueryWarehouse {
    /// Builds the client. Nothing is created here; run [`vibe_warehouse::Warehouse::migrate`].
    pub async fn connect(settings: &BigQuerySettings) -> Result<Self> {
        validate(settings)?;
        let mut builder = ClientBuilder::new();
        if let Some(url) = &settings.base_url {
            builder.with_v2_base_url(url.trim_end_matches('/').to_owned());
        }
        let client = match &settings.credentials {
            Credentials::ServiceAccountKey(json) => {
                // Never echo the key or the parser's message (it may quote the key).
                let key = gcp_bigquery_client::yup_oauth2::parse_service_account_key(
                    json.expose_secret(),
                )
                .map_err(|_| {
                    config("bigquery service account key is not a valid JSON key".to_owned())
                })?;
                builder
                    .build_from_service_account_key(key, false)
                    .await
                    .map_err(|e| config(format!("bigquery service account key: {e}")))?
            }
            Credentials::ApplicationDefault => builder
                .build_from_application_default_credentials()
                .await
                .map_err(|e| config(format!("bigquery application default credentials: {e}")))?,
            Credentials::None => builder
                .build_from_authenticator(Arc::new(EmulatorToken))
                .await
                .map_err(|e| config(format!("bigquery client: {e}")))?,
        };
        tracing::info!(
            project = settings.project,
            dataset = settings.dataset,
            location = settings.location,
            emulator = matches!(settings.credentials, Credentials::None),
            "bigquery warehouse connected"
        );
        Ok(Self {
            client,
            settings: Arc::new(settings.clone()),
        })
    }

    /// The underlying client, for tools and tests that inspect tables.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn settings(&self) -> &BigQuerySettings {
        &self.settings
    }

    /// Runs `call` under the configured deadline and logs its outcome.
    pub(crate) async fn bounded<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let started = Instant::now();
        let timeout = self.settings.query_timeout;
        let result = match tokio::time::timeout(timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(WarehouseError::Unavailable(format!(
                "bigquery {op} timed out after {timeout:?}"
            ))),
        };
        let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        match &result {
            Ok(_) => tracing::debug!(op, elapsed_ms, "bigquery call"),
            Err(error) => tracing::warn!(op, elapsed_ms, %error, "bigquery call failed"),
        }
        result
    }

    /// One query job (SELECT, DML or a script) with named parameters; every result row.
    pub(crate) async fn query(
        &self,
        op: &'static str,
        sql: String,
        params: Vec<QueryParameter>,
    ) -> Result<Vec<TableRow>> {
        self.bounded(op, self.query_pages(sql, params)).await
    }

    fn wait_ms(&self) -> i32 {
        let wait = self.settings.query_timeout.min(SERVER_WAIT);
        i32::try_from(wait.as_millis()).unwrap_or(i32::MAX)
    }

    async fn query_pages(&self, sql: String, params: Vec<QueryParameter>) -> Result<Vec<TableRow>> {
        let settings = &self.settings;
        let mut request = QueryRequest::new(sql);
        request.default_dataset = Some(DatasetReference {
            project_id: settings.project.clone(),
            dataset_id: settings.dataset.clone(),
        });
        request.location = Some(settings.location.clone());
        request.maximum_bytes_billed = Some(settings.maximum_bytes_billed.to_string());
        request.parameter_mode = Some("NAMED".to_owned());
        request.query_parameters = Some(params);
        request.timeout_ms = Some(self.wait_ms());
        let response = self
            .client
            .job()
            .query(&settings.project, request)
            .await
            .map_err(|e| map_error(Call::Query, e))?;
        let mut complete = response.job_complete.unwrap_or(false);
        let mut rows = if complete {
            response.rows.unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut page_token = response.page_token;
        let job_id = response.job_reference.and_then(|job| job.job_id);
        loop {
            if complete && page_token.is_none() {
                return Ok(rows);
            }
            let Some(job_id) = job_id.as_deref() else {
                return Err(WarehouseError::Query(
                    "bigquery returned an unfinished query without a job id".to_owned(),
                ));
            };
            let page = self
                .client
                .job()
                .get_query_results(
                    &settings.project,
                    job_id,
                    GetQueryResultsParameters {
                        location: Some(settings.location.clone()),
                        page_token: page_token.take(),
                        timeout_ms: Some(self.wait_ms()),
                        ..GetQueryResultsParameters::default()
                    },
                )
                .await
                .map_err(|e| map_error(Call::Query, e))?;
            if let Some(error) = page.errors.as_ref().and_then(|errors| errors.first()) {
                return Err(WarehouseError::Query(format!(
                    "bigquery job {job_id} failed: {}",
                    error.message.as_deref().unwrap_or("no message")
                )));
            }
            complete = page.job_complete.unwrap_or(false);
            if complete {
                rows.extend(page.rows.unwrap_or_default());
                page_token = page.page_token;
            }
        }
    }
}

/// Maps a client error. Transport failures, timeouts, 429 and 5xx may pass on a retry
/// (`Unavailable`); bad credentials are `Config`; other 4xx are our request's fault.
pub(crate) fn map_error(call: Call, error: BQError) -> WarehouseError {
    match error {
        BQError::RequestError(error) if error.is_decode() => {
            WarehouseError::Query(format!("bigquery answered something unexpected: {error}"))
        }
        BQError::RequestError(error) => {
            WarehouseError::Unavailable(format!("bigquery unreachable: {error}"))
        }
        BQError::ResponseError { error } => {
            let error = error.error;
            let reason = error
                .errors
                .first()
                .and_then(|e| e.get("reason"))
                .cloned()
                .unwrap_or_default();
            let code = error.code;
            let message = error.message;
            let retryable = code == 408
                || code == 429
                || code >= 500
                || matches!(
                    reason.as_str(),
                    "rateLimitExceeded" | "quotaExceeded" | "backendError"
                );
            if retryable {
                WarehouseError::Unavailable(format!("bigquery {code} {reason}: {message}"))
            } else if code == 401 || (code == 403 && reason == "accessDenied") {
                WarehouseError::Config(format!(
                    "bigquery denied access ({code} {reason}): {message}"
                ))
            } else if call == Call::Insert {
                // Request-level insert errors may quote row data: keep only the reason.
                WarehouseError::Rejected(format!("bigquery {code} {reason}"))
            } else {
                WarehouseError::Query(format!("bigquery {code} {reason}: {message}"))
            }
        }
        BQError::InvalidServiceAccountKey(error) => {
            WarehouseError::Config(format!("bigquery service account key: {error}"))
        }
        BQError::SerializationError(error) => {
            WarehouseError::Query(format!("bigquery json: {error}"))
        }
        // Token refresh and the like: the metadata server or OAuth endpoint may be back soon.
        other => WarehouseError::Unavailable(format!("bigquery: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BigQuerySettings {
        BigQuerySettings {
            project: "p".to_owned(),
            dataset: "vibe_1".to_owned(),
            location: "US".to_owned(),
            credentials: Credentials::None,
            base_url: Some("http://127.0.0.1:1/bigquery/v2".to_owned()),
            maximum_bytes_billed: 1 << 30,
            query_timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn settings_are_checked() {
        assert!(validate(&settings()).is_ok());
        for broken in [
            BigQuerySettings {
                dataset: "vibe-1; DROP".to_owned(),
                ..settings()
            },
            BigQuerySettings {
                base_url: None,
                ..settings()
            },
            BigQuerySettings {
                maximum_bytes_billed: 0,
                ..settings()
            },
            BigQuerySettings {
                query_timeout: Duration::ZERO,
                ..settings()
            },
        ] {
            assert!(
                matches!(validate(&broken), Err(WarehouseError::Config(_))),
                "{broken:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable() {
        let warehouse = BigQueryWarehouse::connect(&settings())
            .await
            .expect("connect");
        let error = warehouse
            .query("ping", "SELECT 1".to_owned(), Vec::new())
            .await
            .err();
        assert!(
            matches!(error, Some(WarehouseError::Unavailable(_))),
            "{error:?}"
        );
    }
}
