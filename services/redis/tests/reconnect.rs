//! The pool against a real redis-server: commands time out while Redis is down, and the
//! pool uses Redis again once it is back, without being rebuilt.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::time::Duration;

use secrecy::SecretString;
use vibe_redis::{Redis, RedisSettings};
use vibe_test_harness::RedisServer;

fn settings(server: &RedisServer) -> RedisSettings {
    RedisSettings {
        url: SecretString::from(server.url()),
        pool_size: 2,
        command_timeout: Duration::from_millis(200),
        connect_timeout: Duration::from_millis(200),
    }
}

async fn wait_for_ping(redis: &Redis, want_ok: bool) {
    for _ in 0..200 {
        if redis.ping().await.is_ok() == want_ok {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "ping never became {}",
        if want_ok { "ok" } else { "an error" }
    );
}

#[tokio::test]
async fn reconnects_after_redis_comes_back() {
    let mut server = RedisServer::start();
    let redis = Redis::connect(&settings(&server)).await.unwrap();
    wait_for_ping(&redis, true).await;

    server.kill();
    wait_for_ping(&redis, false).await;

    server.restart();
    wait_for_ping(&redis, true).await;
    redis.quit().await;
}

#[tokio::test]
async fn starts_while_redis_is_down() {
    let mut server = RedisServer::start();
    server.kill();
    let redis = Redis::connect(&settings(&server)).await.unwrap();
    assert!(redis.ping().await.is_err());
    server.restart();
    wait_for_ping(&redis, true).await;
}

#[tokio::test]
async fn a_bad_url_is_an_error_without_the_password() {
    let settings = RedisSettings {
        url: SecretString::from("nope://:hunter2@host"),
        pool_size: 1,
        command_timeout: Duration::from_millis(100),
        connect_timeout: Duration::from_millis(100),
    };
    let error = Redis::connect(&settings).await.unwrap_err().to_string();
    assert!(error.starts_with("invalid redis url"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}
