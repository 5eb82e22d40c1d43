//! The connection pool, and the one way to use it: a closure on tokio's blocking pool.

use std::time::{Duration, Instant};

use duckdb::{Config, Connection, DuckdbConnectionManager};
use vibe_warehouse::{Result, WarehouseError};

use crate::DuckDbSettings;

/// How long a call waits for a free connection before reporting the warehouse busy.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub(crate) struct Pool {
    inner: r2d2::Pool<DuckdbConnectionManager>,
}

impl Pool {
    pub(crate) async fn open(settings: DuckDbSettings) -> Result<Self> {
        tokio::task::spawn_blocking(move || Self::open_blocking(&settings))
            .await
            .map_err(|error| {
                WarehouseError::Unavailable(format!("duckdb open task failed: {error}"))
            })?
    }

    fn open_blocking(settings: &DuckDbSettings) -> Result<Self> {
        let path = settings.path.display().to_string();
        let config_error = |what: &str, error: &dyn std::fmt::Display| {
            WarehouseError::Config(format!("duckdb {what} ({path}): {error}"))
        };
        if settings.pool_size == 0 {
            return Err(WarehouseError::Config(
                "duckdb pool_size must be at least 1".to_owned(),
            ));
        }
        if let Some(parent) = settings.path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| config_error("cannot create the data dir", &e))?;
        }
        // Off: DuckDB would otherwise fetch extensions (ICU for time zones) from the network
        // at query time; everything vibe runs is in the bundled core.
        let mut config = Config::default()
            .enable_autoload_extension(false)
            .map_err(|e| config_error("bad setting", &e))?;
        if let Some(threads) = settings.threads {
            config = config
                .threads(i64::from(threads.max(1)))
                .map_err(|e| config_error("bad threads", &e))?;
        }
        if let Some(limit) = &settings.memory_limit {
            config = config
                .max_memory(limit)
                .map_err(|e| config_error("bad memory_limit", &e))?;
        }
        let manager = DuckdbConnectionManager::file_with_flags(&settings.path, config)
            .map_err(|e| config_error("cannot open the database file", &e))?;
        let inner = r2d2::Pool::builder()
            .max_size(settings.pool_size)
            .connection_timeout(CHECKOUT_TIMEOUT)
            .build(manager)
            .map_err(|e| config_error("cannot start the connection pool", &e))?;
        tracing::info!(
            path,
            pool_size = settings.pool_size,
            "duckdb warehouse open"
        );
        Ok(Self { inner })
    }

    /// Runs `call` with a pooled connection on the blocking pool, so a long query never
    /// stalls the async runtime.
    pub(crate) async fn run<T, F>(&self, op: &'static str, call: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let pool = self.inner.clone();
        let started = Instant::now();
        let result = tokio::task::spawn_blocking(move || {
            let mut connection = pool.get().map_err(|error| {
                WarehouseError::Unavailable(format!("no duckdb connection free: {error}"))
            })?;
            call(&mut connection)
        })
        .await
        .map_err(|error| WarehouseError::Unavailable(format!("duckdb task failed: {error}")))?;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        match &result {
            Ok(_) => tracing::debug!(op, elapsed_ms, "duckdb call"),
            Err(error) => tracing::warn!(op, elapsed_ms, %error, "duckdb call failed"),
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn open(dir: &tempfile::TempDir) -> Pool {
        Pool::open(DuckDbSettings {
            path: dir.path().join("a").join("b").join("w.duckdb"),
            pool_size: 2,
            threads: Some(1),
            memory_limit: Some("512MB".to_owned()),
        })
        .await
        .expect("open")
    }

    #[tokio::test]
    async fn never_downloads_extensions() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pool = open(&dir).await;
        let settings = pool
            .run("settings", |connection| {
                connection
                    .query_row(
                        "SELECT current_setting('autoinstall_known_extensions'), \
                         current_setting('autoload_known_extensions'), \
                         current_setting('threads'), current_setting('memory_limit')",
                        [],
                        |row| {
                            Ok((
                                row.get::<_, bool>(0)?,
                                row.get::<_, bool>(1)?,
                                row.get::<_, i64>(2)?,
                                row.get::<_, String>(3)?,
                            ))
                        },
                    )
                    .map_err(crate::convert::query_error)
            })
            .await
            .expect("settings");
        assert!(!settings.0 && !settings.1, "{settings:?}");
        assert_eq!(settings.2, 1);
        assert!(
            settings.3.contains("MiB") || settings.3.contains("MB"),
            "{settings:?}"
        );
    }

    #[tokio::test]
    async fn reopens_the_same_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pool = open(&dir).await;
        pool.run("write", |connection| {
            connection
                .execute_batch("CREATE TABLE t (x BIGINT); INSERT INTO t VALUES (42);")
                .map_err(crate::convert::query_error)
        })
        .await
        .expect("write");
        drop(pool);
        let pool = open(&dir).await;
        let x = pool
            .run("read", |connection| {
                connection
                    .query_row("SELECT x FROM t", [], |row| row.get::<_, i64>(0))
                    .map_err(crate::convert::query_error)
            })
            .await
            .expect("read");
        assert_eq!(x, 42);
    }

    #[tokio::test]
    async fn rejects_an_empty_pool() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = Pool::open(DuckDbSettings {
            path: dir.path().join("w.duckdb"),
            pool_size: 0,
            threads: None,
            memory_limit: None,
        })
        .await
        .err();
        assert!(
            matches!(error, Some(WarehouseError::Config(_))),
            "{error:?}"
        );
    }
}
