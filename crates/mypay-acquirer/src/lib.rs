//! A reference acquirer speaking the MYPAY LINK upstream protocol v1, as a small bank
//! would: for the gateway's production tests, and for operators to try their setup
//! before an acquirer of their own speaks the protocol.
//!
//! # Layout
//! - [`bank`]: the books (operations by reference, kept cards, faults), no HTTP.
//! - [`http`]: protocol v1, the consumer's pages, the test controls.
//! - [`callbacks`]: signed callbacks to the gateway, retried.
//!
//! Everything is kept in memory: a restart forgets it, as a test bank may.

pub mod bank;
pub mod callbacks;
pub mod http;

use hyper_util::rt::TokioIo;
use mypay_upstream::signature::Secret;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub struct Setup {
    pub listen: SocketAddr,
    pub secret: Secret,
    /// The gateway's full callback URL (`…/upstream/{name}/callback`).
    pub callback_url: String,
    /// Where consumers reach this acquirer; `None`: `http://` and the bound address.
    pub public_url: Option<String>,
    pub pending_after: Duration,
    /// A certificate authority to trust for callbacks (a gateway with a private or
    /// test certificate).
    pub callback_ca: Option<std::path::PathBuf>,
}

/// An acquirer bound to its address, ready to serve.
pub struct Running {
    listener: TcpListener,
    acquirer: Arc<http::Acquirer>,
}

impl Running {
    pub async fn bind(setup: Setup) -> anyhow::Result<Running> {
        let listener = TcpListener::bind(setup.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", setup.listen))?;
        let public_url = setup
            .public_url
            .unwrap_or_else(|| format!("http://{}", listener.local_addr().unwrap_or(setup.listen)));
        let acquirer = Arc::new(http::Acquirer {
            books: Default::default(),
            callbacks: callbacks::Callbacks::new(
                setup.callback_url,
                setup.secret.clone(),
                setup.callback_ca.as_deref(),
            )?,
            secret: setup.secret,
            public_url,
            pending_after: setup.pending_after,
        });
        Ok(Running { listener, acquirer })
    }

    /// Where callbacks go, changeable while serving (a gateway bound after this
    /// acquirer).
    pub fn callbacks(&self) -> callbacks::Callbacks {
        self.acquirer.callbacks.clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Serve until the process ends. Each connection carries a [`http::Hangup`]: a
    /// handler that performed an operation under `drop_after_commit` asks it to close
    /// the connection without answering.
    pub async fn serve(self) -> anyhow::Result<()> {
        let router = http::router(self.acquirer);
        loop {
            let (stream, _) = match self.listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let hangup = http::Hangup(Arc::new(Notify::new()));
            let router = router.clone();
            let on_request = hangup.clone();
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(on_request.clone());
                    let mut router = router.clone();
                    async move {
                        tower_service::Service::call(
                            &mut router,
                            request.map(axum::body::Body::new),
                        )
                        .await
                    }
                },
            );
            tokio::spawn(async move {
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    _ = connection => {}
                    // Dropping the connection's future closes the socket, unanswered.
                    _ = hangup.0.notified() => {}
                }
            });
        }
    }
}
