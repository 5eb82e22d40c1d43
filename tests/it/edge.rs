//! Helpers of the gateway tests: raw gRPC calls with chosen headers, signing keys made
//! with openssl, a JWKS server.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

/// How a raw call ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The grpc-status; `None` when the call was let through and is still streaming.
    pub code: Option<tonic::Code>,
    pub headers: http::HeaderMap,
}

/// One empty gRPC message: uncompressed, length 0.
const EMPTY_MESSAGE: [u8; 5] = [0, 0, 0, 0, 0];

/// Calls `path` over HTTP/2 with `headers`. Unary answers are read to their trailers;
/// `wait_for_trailers = false` stops at the response headers (streams).
pub async fn call(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    wait_for_trailers: bool,
) -> Outcome {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
            .await
            .expect("h2 handshake");
    tokio::spawn(connection);
    let mut request = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from_static(&EMPTY_MESSAGE)))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    let headers = response.headers().clone();
    if let Some(code) = code_in(&headers) {
        return Outcome {
            code: Some(code),
            headers,
        };
    }
    if !wait_for_trailers {
        return Outcome {
            code: None,
            headers,
        };
    }
    let collected = response.into_body().collect().await.expect("body");
    let code = collected.trailers().and_then(code_in);
    Outcome { code, headers }
}

fn code_in(headers: &http::HeaderMap) -> Option<tonic::Code> {
    let value = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .parse::<i32>()
        .ok()?;
    Some(tonic::Code::from_i32(value))
}

/// A key pair made by openssl: the private key for signing, the public PEM for the gateway.
pub struct KeyPair {
    pub algorithm: Algorithm,
    pub private: EncodingKey,
    pub public_pem: String,
}

pub fn key_pair(dir: &Path, name: &str, algorithm: Algorithm) -> KeyPair {
    let private = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    let args: &[&str] = match algorithm {
        Algorithm::RS256 => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        Algorithm::ES256 => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        Algorithm::EdDSA => &["-algorithm", "ed25519"],
        other => panic!("no test keys for {other:?}"),
    };
    let run = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .status()
            .expect("openssl");
        assert!(status.success(), "openssl {args:?}");
    };
    let mut genpkey = vec!["genpkey"];
    genpkey.extend_from_slice(args);
    genpkey.extend_from_slice(&["-out", private.to_str().expect("utf-8")]);
    run(&genpkey);
    run(&[
        "pkey",
        "-in",
        private.to_str().expect("utf-8"),
        "-pubout",
        "-out",
        public.to_str().expect("utf-8"),
    ]);
    let private_pem = std::fs::read(&private).expect("private key");
    let private = match algorithm {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&private_pem),
        Algorithm::ES256 => EncodingKey::from_ec_pem(&private_pem),
        _ => EncodingKey::from_ed_pem(&private_pem),
    }
    .expect("encoding key");
    KeyPair {
        algorithm,
        private,
        public_pem: std::fs::read_to_string(&public).expect("public key"),
    }
}

/// Claims with every required field; adjust with the closure.
pub fn claims(
    sub: &str,
    roles: &[&str],
    adjust: impl FnOnce(&mut serde_json::Value),
) -> serde_json::Value {
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = json!({
        "iss": "https://idp.test",
        "aud": "vibe-cockpit",
        "sub": sub,
        "roles": roles,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    });
    adjust(&mut claims);
    claims
}

pub fn sign(key: &KeyPair, kid: Option<&str>, claims: &serde_json::Value) -> String {
    let mut header = Header::new(key.algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key.private).expect("sign")
}

/// A JWKS endpoint over plain HTTP, counting its fetches.
pub struct JwksServer {
    pub url: String,
    pub fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    pub async fn start(keys: &[(&KeyPair, &str)]) -> Self {
        let jwks: Vec<serde_json::Value> = keys
            .iter()
            .map(|(key, kid)| {
                let mut jwk =
                    jsonwebtoken::jwk::Jwk::from_encoding_key(&key.private, key.algorithm)
                        .expect("jwk");
                jwk.common.key_id = Some((*kid).to_owned());
                serde_json::to_value(jwk).expect("jwk json")
            })
            .collect();
        let body = json!({ "keys": jwks }).to_string();
        let fetches = Arc::new(AtomicUsize::new(0));
        let counter = fetches.clone();
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                async move { ([("content-type", "application/json")], body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, fetches }
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}
