/// Where the BigQuery emulator started by `scripts/bigquery-emulator start` listens.
#[derive(Debug, Clone)]
pub struct BigQueryEmulator {
    /// REST base URL ending in `/bigquery/v2`.
    pub url: String,
    /// The emulator's project id.
    pub project: String,
}

/// The emulator announced by `BIGQUERY_EMULATOR_URL` (and `BIGQUERY_EMULATOR_PROJECT`).
///
/// When it is not announced: in CI (`CI` set) that is a failure, because `.ci/run` always
/// starts it; elsewhere the caller skips, and this prints a visible notice saying so.
pub fn bigquery_emulator(test: &str) -> Option<BigQueryEmulator> {
    match std::env::var("BIGQUERY_EMULATOR_URL") {
        Ok(url) if !url.is_empty() => Some(BigQueryEmulator {
            url,
            project: std::env::var("BIGQUERY_EMULATOR_PROJECT")
                .unwrap_or_else(|_| "local".to_owned()),
        }),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: BIGQUERY_EMULATOR_URL is not set in CI; .ci/run must start the emulator"
            );
            eprintln!(
                "NOTICE: skipping {test}: no BigQuery emulator (run `eval \"$(scripts/bigquery-emulator start)\"` first)"
            );
            None
        }
    }
}
