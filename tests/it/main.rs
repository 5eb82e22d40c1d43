//! The root crate's black-box tests, in one binary: each module was a test binary of its
//! own once, and every one of them linked its own copy of the tonic, hyper and DuckDB
//! stacks, which made a clean CI build tens of minutes longer. nextest still runs every
//! test in its own process.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod client;
mod edge;

mod cache;
mod compliance;
mod compliance_edge;
mod config;
mod dashboard;
mod gateway;
mod mesh;
mod process;
mod traces;
