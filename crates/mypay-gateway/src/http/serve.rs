//! The HTTP listener: accepts connections within caps, serves each with HTTP/1.1, and
//! stops gracefully.
//!
//! Caps keep idle or slow clients from starving everyone else: a connection that has not
//! sent a whole request head within the header timeout (a request line trickled byte by
//! byte, or a keep-alive connection left idle) is closed; connections are limited in all
//! (below the process's file limit, so accepting never fails for lack of descriptors) and
//! per client address. A connection over a cap is answered `503` and closed at once.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// How long in-flight requests may take to finish once shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Connections over a cap being answered `503` at once; past this a flood of them is
/// closed without an answer, so refusing never uses up the descriptors the caps protect.
const REFUSING_AT_ONCE: usize = 64;

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// The whole request head must arrive within this, and an idle keep-alive connection
    /// is closed after it.
    pub header_read_timeout: Duration,
    /// Connections at once, in all (clamped below the process's open-file limit).
    pub max_connections: usize,
    /// Connections at once from one client address.
    pub per_address: usize,
}

impl ConnectionLimits {
    /// `max_connections`, but never so many that the process runs out of file
    /// descriptors (the database, the notice clients and the listener need some too).
    fn effective_max(&self) -> usize {
        let reserve = 128;
        match open_file_limit() {
            Some(limit) if limit > reserve * 2 => self.max_connections.min(limit - reserve),
            Some(limit) => self.max_connections.min(limit / 2).max(1),
            None => self.max_connections,
        }
        .max(1)
    }
}

/// The soft limit of open files, from `/proc/self/limits` (Linux).
fn open_file_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Connections per client address, counted while each is open.
#[derive(Clone, Default)]
struct PerAddress(Arc<Mutex<HashMap<IpAddr, usize>>>);

struct AddressSlot {
    table: PerAddress,
    ip: IpAddr,
}

impl PerAddress {
    fn enter(&self, ip: IpAddr, cap: usize) -> Option<AddressSlot> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = map.entry(ip).or_default();
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut map = self.table.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get_mut(&self.ip) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Serve `router` on `listener` until `shutdown` resolves; then stop accepting, let
/// in-flight requests finish (at most `SHUTDOWN_GRACE`) and return.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let total = Arc::new(Semaphore::new(limits.effective_max()));
    let refusing = Arc::new(Semaphore::new(REFUSING_AT_ONCE));
    let per_address = PerAddress::default();
    let (closing, closing_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: wait a
                    // moment instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = total.clone().try_acquire_owned() else {
            refuse(stream, &refusing, "the gateway is at its connection limit");
            continue;
        };
        let Some(slot) = per_address.enter(peer.ip(), limits.per_address) else {
            refuse(stream, &refusing, "too many connections from this address");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let closing = closing_rx.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            let _held = (permit, slot);
            match tls {
                None => serve_connection(stream, peer, router, limits, closing).await,
                Some(acceptor) => {
                    // The handshake is held to the header timeout too: a client that
                    // opens a connection and says nothing is closed.
                    let handshake =
                        tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream));
                    match handshake.await {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, peer, router, limits, closing).await;
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, %peer, "a TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "a TLS handshake took too long"),
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = closing.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("connections still open after the shutdown grace; closing them");
        connections.abort_all();
    }
    Ok(())
}

/// Serve one connection (plain or TLS) with HTTP/1.1 until it ends or the gateway
/// closes.
async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    mut closing: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(axum::body::Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        let mut router = router.clone();
        tower_service::Service::call(&mut router, request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let closed = async move {
        // The guard `wait_for` gives back is not `Send`; only the fact matters.
        let _ = closing.wait_for(|c| *c).await.is_ok();
    };
    tokio::select! {
        _ = connection.as_mut() => {}
        () = closed => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Answer a connection over a cap with a short `503` and close it (or, when many are being
/// refused at once, just close it).
fn refuse(mut stream: TcpStream, refusing: &Arc<Semaphore>, why: &'static str) {
    let Ok(permit) = refusing.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let body = format!("{why}; try again shortly\n");
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
        })
        .await;
    });
}

/// The client address of a request, as the listener saw it.
pub fn peer(extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| *a)
}
