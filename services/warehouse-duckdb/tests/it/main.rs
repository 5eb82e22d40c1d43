//! The DuckDB backend's tests, in one binary (one link of DuckDB instead of one per file);
//! nextest still runs every test in its own process.

mod conformance;
mod migrate;
