//! The cache's tests, in one binary (one link of the Redis and tokio stacks instead of
//! one per file); nextest still runs every test in its own process.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

mod local;
mod shared;
