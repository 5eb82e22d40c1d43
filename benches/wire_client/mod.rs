//! The gateway benchmark's clients, on hyper's own connections: gRPC over HTTP/2 and
//! grpc-web over HTTP/1.1. Each call is one request with its body whole; its answer is
//! kept as bytes and checked (HTTP 200, one message, `grpc-status: 0`), not decoded.
//!
//! Not tonic's `Channel`: its buffer task and each request's body task are more wakeups of
//! the client's one core per call, and that core's lag counts in every open-loop latency
//! (a real client runs on a machine of its own).

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, TE};
use http::{HeaderMap, HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// grpc-web flag of the trailer frame.
const TRAILER_FLAG: u8 = 0x80;

async fn connect(addr: SocketAddr) -> Result<TokioIo<TcpStream>, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    Ok(TokioIo::new(stream))
}

/// HTTP/2 connections, each carrying many calls at once; call `n` takes connection
/// `n mod connections`.
pub struct H2Pool {
    senders: Vec<http2::SendRequest<Full<Bytes>>>,
    uri: Uri,
    /// The request message, framed once.
    body: Bytes,
}

impl H2Pool {
    /// `connections` HTTP/2 connections to `addr`, calling `method` (`/package.Service/Method`)
    /// with the encoded `message`.
    pub async fn connect(
        addr: SocketAddr,
        connections: usize,
        method: &str,
        message: &[u8],
    ) -> Self {
        let mut senders = Vec::new();
        for _ in 0..connections {
            let (sender, connection) =
                http2::handshake(TokioExecutor::new(), connect(addr).await.unwrap())
                    .await
                    .unwrap();
            tokio::spawn(connection);
            senders.push(sender);
        }
        Self {
            senders,
            uri: format!("http://{addr}{method}").parse().unwrap(),
            body: grpc_frame(message),
        }
    }

    /// One unary call with `bearer` (if any) on connection `n mod connections`: the
    /// answer's message size, or what went wrong.
    pub async fn call(&self, n: usize, bearer: Option<&HeaderValue>) -> Result<usize, String> {
        let mut sender = self.senders[n % self.senders.len()].clone();
        let mut request = Request::post(self.uri.clone())
            .header(CONTENT_TYPE, "application/grpc")
            .header(TE, "trailers");
        if let Some(bearer) = bearer {
            request = request.header(AUTHORIZATION, bearer.clone());
        }
        let request = request
            .body(Full::new(self.body.clone()))
            .map_err(|e| format!("request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| format!("body: {e}"))?;
        // A trailers-only answer (an error) carries its status in the headers.
        let trailers = body
            .trailers()
            .cloned()
            .unwrap_or_else(|| parts.headers.clone());
        let message = body.to_bytes();
        if parts.status != StatusCode::OK {
            return Err(format!("HTTP {} {:?}", parts.status, parts.headers));
        }
        match trailers.get("grpc-status").map(HeaderValue::as_bytes) {
            Some(b"0") => grpc_message(&message),
            _ => Err(format!("trailers {trailers:?}")),
        }
    }
}

/// Keep-alive HTTP/1.1 connections, each lent to one call at a time, as a browser uses
/// them.
pub struct Http1Pool {
    addr: SocketAddr,
    senders: Mutex<Vec<http1::SendRequest<Full<Bytes>>>>,
    permits: Semaphore,
    /// Calls that found every connection busy and waited for one.
    waited: AtomicU64,
    uri: Uri,
    host: HeaderValue,
    bearer: HeaderValue,
    body: Bytes,
}

impl Http1Pool {
    /// `connections` connections to `addr`, calling `method` with `message` and `bearer`.
    pub async fn connect(
        addr: SocketAddr,
        connections: usize,
        method: &str,
        message: &[u8],
        bearer: HeaderValue,
    ) -> Self {
        let mut senders = Vec::new();
        for _ in 0..connections {
            senders.push(Self::open(addr).await.unwrap());
        }
        Self {
            addr,
            senders: Mutex::new(senders),
            permits: Semaphore::new(connections),
            waited: AtomicU64::new(0),
            uri: method.parse().unwrap(),
            host: HeaderValue::from_str(&addr.to_string()).unwrap(),
            bearer,
            body: grpc_frame(message),
        }
    }

    async fn open(addr: SocketAddr) -> Result<http1::SendRequest<Full<Bytes>>, String> {
        let (sender, connection) = http1::handshake(connect(addr).await?)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(connection);
        Ok(sender)
    }

    /// One grpc-web call on a free connection (waiting for one when all are busy), given
    /// `within` once sent; the answer's message size, or what went wrong. `reopened` runs
    /// when a connection the server closed had to be opened again.
    pub async fn call(&self, within: Duration, reopened: impl FnOnce()) -> Result<usize, String> {
        let _permit = match self.permits.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                self.waited.fetch_add(1, Ordering::Relaxed);
                self.permits.acquire().await.unwrap()
            }
        };
        let Some(mut sender) = self.senders.lock().unwrap().pop() else {
            return Err("no connection left in the pool".to_owned());
        };
        // The server closes keep-alive connections idle for 30 s (hyper's header read
        // timeout); a browser opens a new one, so does this pool.
        if sender.is_closed() {
            reopened();
            sender = Self::open(self.addr).await?;
        }
        // Timed out here, not around the whole call, so the connection goes back.
        let result = tokio::time::timeout(within, self.request(&mut sender))
            .await
            .unwrap_or_else(|_| Err(format!("timed out after {within:?}")));
        self.senders.lock().unwrap().push(sender);
        result
    }

    /// Calls that waited for a free connection since the last time this was asked.
    pub fn take_waited(&self) -> u64 {
        self.waited.swap(0, Ordering::Relaxed)
    }

    async fn request(&self, sender: &mut http1::SendRequest<Full<Bytes>>) -> Result<usize, String> {
        let request = Request::post(self.uri.clone())
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .header(AUTHORIZATION, self.bearer.clone())
            .body(Full::new(self.body.clone()))
            .map_err(|e| format!("request: {e}"))?;
        sender
            .ready()
            .await
            .map_err(|e| format!("connection not ready: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        if parts.status != StatusCode::OK {
            return Err(format!("HTTP {} {:?}", parts.status, parts.headers));
        }
        grpc_web_message(&body, &parts.headers)
    }
}

/// A gRPC length-prefixed frame: flag 0 (uncompressed), big-endian length, message.
fn grpc_frame(message: &[u8]) -> Bytes {
    let mut frame = Vec::with_capacity(5 + message.len());
    frame.push(0);
    frame.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(message);
    Bytes::from(frame)
}

/// The frames of a gRPC or grpc-web body: `(flag, payload)` each.
fn frames(body: &[u8]) -> Result<Vec<(u8, &[u8])>, String> {
    let mut rest = body;
    let mut frames = Vec::new();
    while !rest.is_empty() {
        if rest.len() < 5 {
            return Err(format!(
                "truncated frame header in a {}-byte body",
                body.len()
            ));
        }
        let length = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let Some(payload) = rest.get(5..5 + length) else {
            return Err(format!("truncated frame in a {}-byte body", body.len()));
        };
        frames.push((rest[0], payload));
        rest = &rest[5 + length..];
    }
    Ok(frames)
}

/// The size of the one message of a gRPC response body.
fn grpc_message(body: &[u8]) -> Result<usize, String> {
    match frames(body)?.as_slice() {
        [(0, message)] if !message.is_empty() => Ok(message.len()),
        frames => Err(format!("{} frames, not one message", frames.len())),
    }
}

/// The message size of a grpc-web response body whose trailer frame says `grpc-status:0`.
fn grpc_web_message(body: &[u8], headers: &HeaderMap) -> Result<usize, String> {
    let mut message = 0;
    let mut trailers = None;
    for (flag, payload) in frames(body)? {
        if flag & TRAILER_FLAG != 0 {
            trailers = Some(String::from_utf8_lossy(payload).into_owned());
        } else {
            message += payload.len();
        }
    }
    let Some(trailers) = trailers else {
        return Err(format!(
            "no trailer frame in a {}-byte body; headers {headers:?}",
            body.len()
        ));
    };
    let status = trailers.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("grpc-status")
            .then(|| value.trim().to_owned())
    });
    match status.as_deref() {
        Some("0") if message > 0 => Ok(message),
        Some("0") => Err("grpc-status 0 but no message".to_owned()),
        _ => Err(format!("trailer frame {trailers:?}; headers {headers:?}")),
    }
}
