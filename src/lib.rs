//! vibe: the gRPC service mesh behind a Texas hemp retailer's operations cockpit.
//!
//! This crate is the transport layer and the binary: the generated contracts
//! ([`proto`]), their mapping to the domain crates ([`rpc`]), configuration, and the
//! wiring of targets into listeners ([`app`]). Domain logic lives in `services/*` and
//! `gateway/`, which know nothing of protobuf.

pub mod app;
pub mod cli;
pub mod config;
pub mod descriptors;
pub mod health;
pub mod local_secret;
pub mod probe;
pub mod proto;
pub mod rpc;
pub mod targets;

/// mimalloc for every binary built on this crate (`vibe`, the benchmarks, the tests):
/// a gRPC server allocates per call on every worker, and glibc's malloc spends much of
/// that time contending on its arena locks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
