//! A TCP proxy for one directed peer link, owned by the test harness.
//!
//! Every node reaches every peer's Raft (gRPC) port through its own proxy: the link "node A →
//! node B" is a proxy that A's config lists as B's address. So the harness can cut, delay and
//! heal single links, in one direction (A's requests to B) or both (two proxies), on loopback
//! only, without touching the nodes.
//!
//! A cut link behaves like a network partition: connections open through it are closed, and new
//! ones are accepted but nothing passes until the link heals (then they are closed, and the
//! client reconnects).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The shared switches of one link.
#[derive(Debug)]
struct LinkState {
    cut: AtomicBool,
    delay_ms: AtomicU64,
    /// Bumped on every cut and heal: connections of an older generation close.
    generation: watch::Sender<u64>,
}

/// One directed link: a listener on a free loopback port forwarding to `target`.
#[derive(Clone, Debug)]
pub struct LinkProxy {
    listen: SocketAddr,
    state: Arc<LinkState>,
}

impl LinkProxy {
    /// Starts a proxy to `target` on `runtime`, listening on a free loopback port.
    pub fn start(runtime: &tokio::runtime::Handle, target: SocketAddr) -> std::io::Result<Self> {
        LinkProxy::start_on(runtime, std::net::TcpListener::bind("127.0.0.1:0")?, target)
    }

    /// Starts a proxy to `target` on `runtime`, accepting on `listener`.
    pub fn start_on(
        runtime: &tokio::runtime::Handle,
        listener: std::net::TcpListener,
        target: SocketAddr,
    ) -> std::io::Result<Self> {
        listener.set_nonblocking(true)?;
        let listen = listener.local_addr()?;
        let (generation, _) = watch::channel(0);
        let state = Arc::new(LinkState {
            cut: AtomicBool::new(false),
            delay_ms: AtomicU64::new(0),
            generation,
        });
        let accept_state = state.clone();
        runtime.spawn(async move {
            let Ok(listener) = TcpListener::from_std(listener) else {
                return;
            };
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(serve(client, target, accept_state.clone()));
            }
        });
        Ok(LinkProxy { listen, state })
    }

    /// The address to give the node as its peer's.
    pub fn addr(&self) -> SocketAddr {
        self.listen
    }

    /// Cuts the link: open connections close, new ones hang until [`LinkProxy::heal`].
    pub fn cut(&self) {
        self.state.cut.store(true, Ordering::SeqCst);
        self.state.generation.send_modify(|g| *g += 1);
    }

    /// Restores the link (and removes any delay).
    pub fn heal(&self) {
        self.state.delay_ms.store(0, Ordering::SeqCst);
        self.state.cut.store(false, Ordering::SeqCst);
        self.state.generation.send_modify(|g| *g += 1);
    }

    /// Delays every chunk of data passing the link by `delay`.
    pub fn delay(&self, delay: Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// True while the link is cut.
    pub fn is_cut(&self) -> bool {
        self.state.cut.load(Ordering::SeqCst)
    }
}

async fn serve(client: TcpStream, target: SocketAddr, state: Arc<LinkState>) {
    let mut generation = state.generation.subscribe();
    let born = *generation.borrow_and_update();
    if state.cut.load(Ordering::SeqCst) {
        // A partition: hold the connection silently until the link heals, then drop it.
        let _ = generation.changed().await;
        return;
    }
    let Ok(server) = TcpStream::connect(target).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let pumps = async { tokio::join!(pump(cr, sw, state.clone()), pump(sr, cw, state.clone())) };
    tokio::select! {
        _ = pumps => {}
        _ = async {
            while generation.changed().await.is_ok() {
                if *generation.borrow() != born {
                    return;
                }
            }
        } => {}
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    state: Arc<LinkState>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let delay = state.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        // Checked here too, not only by the generation watch (which closes the connection a
        // moment later): nothing read after a cut is passed on.
        if state.cut.load(Ordering::SeqCst) {
            break;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// An echo server on a free port, on `rt`.
    fn echo(rt: &tokio::runtime::Runtime) -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        rt.spawn(async move {
            let listener = TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    fn roundtrip(addr: SocketAddr, timeout: Duration) -> std::io::Result<Vec<u8>> {
        let mut s = std::net::TcpStream::connect(addr)?;
        s.set_read_timeout(Some(timeout))?;
        s.write_all(b"ping")?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf)?;
        Ok(buf.to_vec())
    }

    #[test]
    fn forwards_cuts_and_heals() {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let target = echo(&rt);
        let proxy = LinkProxy::start(rt.handle(), target).expect("proxy");
        assert_eq!(
            roundtrip(proxy.addr(), Duration::from_secs(5)).expect("open link"),
            b"ping"
        );

        // An open connection stops passing data when the link is cut.
        let mut open = std::net::TcpStream::connect(proxy.addr()).expect("connect");
        open.set_read_timeout(Some(Duration::from_secs(3)))
            .expect("timeout");
        open.write_all(b"x").expect("write");
        let mut one = [0u8; 1];
        open.read_exact(&mut one).expect("echo before the cut");
        open.set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        proxy.cut();
        assert!(proxy.is_cut());
        let _ = open.write_all(b"y");
        assert!(
            open.read_exact(&mut one).is_err(),
            "no data through a cut link"
        );
        // New connections hang.
        assert!(roundtrip(proxy.addr(), Duration::from_millis(300)).is_err());

        proxy.heal();
        assert_eq!(
            roundtrip(proxy.addr(), Duration::from_secs(5)).expect("healed link"),
            b"ping"
        );

        proxy.delay(Duration::from_millis(200));
        let start = std::time::Instant::now();
        roundtrip(proxy.addr(), Duration::from_secs(5)).expect("delayed link");
        assert!(
            start.elapsed() >= Duration::from_millis(400),
            "both directions delayed"
        );
    }
}
