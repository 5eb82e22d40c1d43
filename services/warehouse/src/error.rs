/// Why the warehouse could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WarehouseError {
    /// The warehouse could not be reached or did not answer in time; retrying may help.
    #[error("warehouse unavailable: {0}")]
    Unavailable(String),
    /// The warehouse rejected the request (a bug in vibe, or a schema out of date).
    #[error("warehouse query failed: {0}")]
    Query(String),
    /// Rows were refused on insert; nothing of the batch was written.
    #[error("warehouse rejected rows: {0}")]
    Rejected(String),
    /// The backend is misconfigured (credentials, dataset, file).
    #[error("warehouse configuration: {0}")]
    Config(String),
}
