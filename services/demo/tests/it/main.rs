//! The demo data's tests, in one binary (one link of the DuckDB stack instead of one per
//! file); nextest still runs every test in its own process.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod generator;
mod seed;
mod seed_duckdb;
mod speed;
