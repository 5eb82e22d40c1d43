//! The BigQuery backend against the emulator, in one binary (one link of the HTTP and
//! BigQuery client stacks instead of one per file); nextest still runs every test in its
//! own process.

mod common;

mod conformance;
mod errors;
mod tables;
