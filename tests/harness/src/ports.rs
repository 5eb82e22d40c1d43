use std::net::TcpListener;

/// A TCP port on 127.0.0.1 that was free a moment ago. Another process may take it before
/// the caller binds it; callers that start servers retry on a bind failure.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free tcp port on 127.0.0.1")
}
