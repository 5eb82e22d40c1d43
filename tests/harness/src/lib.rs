//! Real servers for tests. Every test that needs Redis starts its own `redis-server` on a
//! free port (never the machine's default one); tests that need BigQuery talk to the
//! emulator that `scripts/bigquery-emulator start` runs and announces in the environment.
//! [`TcpProxy`] sits between vibe and a real server when a test needs the link to fail.

mod bigquery;
mod ports;
mod proxy;
mod redis;

pub use bigquery::{BigQueryEmulator, bigquery_emulator};
pub use ports::free_port;
pub use proxy::TcpProxy;
pub use redis::RedisServer;
