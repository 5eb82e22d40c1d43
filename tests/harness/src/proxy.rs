use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// A TCP forwarder in front of a real server, for tests that need the network between
/// vibe and a dependency to fail: [`TcpProxy::cut`] drops every connection and refuses
/// new ones until [`TcpProxy::restore`]. The server behind it is never faked.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Default)]
struct State {
    cut: AtomicBool,
    cut_now: Notify,
}

impl TcpProxy {
    /// Listens on a free 127.0.0.1 port and forwards to `target`. Needs a tokio runtime.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let state = Arc::new(State::default());
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if shared.cut.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                tokio::spawn(forward(inbound, target, shared.clone()));
            }
        });
        Self { addr, state, task }
    }

    /// Where clients connect instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Breaks every open connection and refuses new ones.
    pub fn cut(&self) {
        self.state.cut.store(true, Ordering::SeqCst);
        self.state.cut_now.notify_waiters();
    }

    /// Accepts and forwards connections again.
    pub fn restore(&self) {
        self.state.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

async fn forward(mut inbound: TcpStream, target: SocketAddr, state: Arc<State>) {
    let Ok(mut outbound) = TcpStream::connect(target).await else {
        return;
    };
    let cut = state.cut_now.notified();
    tokio::pin!(cut);
    // Registered before the flag is read, so a cut() in between is not missed.
    cut.as_mut().enable();
    if state.cut.load(Ordering::SeqCst) {
        return;
    }
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
        () = cut => {}
    }
}
