//! The harness itself: the servers it promises are real and answer.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::io::{Read, Write};
use std::net::TcpStream;

use vibe_test_harness::{RedisServer, TcpProxy, bigquery_emulator};

fn redis_answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

#[test]
fn redis_server_starts_dies_and_restarts_on_its_port() {
    let mut redis = RedisServer::start();
    assert!(redis_answers(redis.port()));
    assert_ne!(redis.port(), 6379, "never the machine's shared Redis");
    redis.kill();
    assert!(!redis_answers(redis.port()));
    redis.restart();
    assert!(redis_answers(redis.port()));
}

#[test]
fn bigquery_emulator_answers_when_announced() {
    let Some(emulator) = bigquery_emulator("bigquery_emulator_answers_when_announced") else {
        return;
    };
    let rest = emulator.url.strip_prefix("http://").expect("an http url");
    let (host, base) = rest.split_once('/').expect("a base path");
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET /{base}/projects/{}/datasets HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
        emulator.project
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

async fn ping_async(addr: std::net::SocketAddr) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").await.is_ok()
        && stream.read_exact(&mut reply).await.is_ok()
        && &reply == b"+PONG\r\n"
}

#[tokio::test]
async fn a_proxy_forwards_until_cut_and_again_when_restored() {
    let redis = RedisServer::start();
    let proxy = TcpProxy::start(([127, 0, 0, 1], redis.port()).into()).await;
    assert!(ping_async(proxy.addr()).await);

    // An open connection breaks too, not only new ones.
    let mut open = tokio::net::TcpStream::connect(proxy.addr()).await.unwrap();
    proxy.cut();
    assert!(!ping_async(proxy.addr()).await);
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = open.write_all(b"PING\r\n").await;
    let mut buf = [0u8; 7];
    assert!(
        open.read_exact(&mut buf).await.is_err(),
        "the open connection was cut"
    );

    proxy.restore();
    assert!(ping_async(proxy.addr()).await);
}
