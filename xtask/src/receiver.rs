//! The merchant's notice receiver: a local server that is slow or failing by the seed, and
//! remembers every notice it was sent, in order, with what it answered.
//!
//! Each notice body gets its own behaviour from the seed: most answer `8888` at once; some
//! refuse their first one or two deliveries (HTTP 500, or a reply that is not `8888`); some
//! answer slowly (up to 3 s, within the document's 5 s); a few answer after 6 s, once, so
//! the gateway's attempt times out.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One delivery the receiver was sent.
#[derive(Clone, Debug)]
pub struct Receipt {
    pub body: String,
    /// Whether it was answered `8888`.
    pub acknowledged: bool,
}

#[derive(Default)]
struct Book {
    receipts: Vec<Receipt>,
    /// Deliveries per body so far.
    seen: HashMap<String, u32>,
}

#[derive(Clone)]
pub struct Receiver {
    book: Arc<Mutex<Book>>,
    seed: u64,
    pub url: String,
}

impl Receiver {
    pub async fn start(seed: u64) -> anyhow::Result<Receiver> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        let receiver = Receiver {
            book: Arc::default(),
            seed,
            url: format!("http://{addr}/notify"),
        };
        let app = Router::new()
            .route("/notify", post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(receiver)
    }

    /// Every delivery so far, in arrival order.
    pub fn receipts(&self) -> Vec<Receipt> {
        self.book
            .lock()
            .map(|b| b.receipts.clone())
            .unwrap_or_default()
    }

    pub fn count(&self) -> usize {
        self.book.lock().map(|b| b.receipts.len()).unwrap_or(0)
    }

    /// What this body's `n`-th delivery (from 0) gets: a delay and an answer.
    fn behaviour(&self, body: &str, n: u32) -> (Duration, StatusCode, &'static str) {
        let mut rng = fastrand::Rng::with_seed(self.seed ^ fnv(body));
        let refusals = [0, 0, 0, 0, 1, 1, 2][rng.usize(..7)];
        let slow = rng.u8(..100);
        let delay = match slow {
            0..=69 => Duration::ZERO,
            70..=94 => Duration::from_millis(rng.u64(50..3_000)),
            // Past the document's 5 s: the gateway gives up on this attempt.
            _ if n == 0 => Duration::from_millis(6_000),
            _ => Duration::ZERO,
        };
        if n < refusals {
            if rng.bool() {
                (delay, StatusCode::INTERNAL_SERVER_ERROR, "busy")
            } else {
                (delay, StatusCode::OK, "0000")
            }
        } else {
            (delay, StatusCode::OK, "8888")
        }
    }
}

async fn receive(State(receiver): State<Receiver>, body: String) -> (StatusCode, &'static str) {
    let n = {
        let Ok(mut book) = receiver.book.lock() else {
            return (StatusCode::INTERNAL_SERVER_ERROR, "poisoned");
        };
        let seen = book.seen.entry(body.clone()).or_insert(0);
        let n = *seen;
        *seen += 1;
        n
    };
    let (delay, status, reply) = receiver.behaviour(&body, n);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Ok(mut book) = receiver.book.lock() {
        book.receipts.push(Receipt {
            body,
            acknowledged: status == StatusCode::OK && reply == "8888",
        });
    }
    (status, reply)
}

/// FNV-1a: a stable hash of a body, so its behaviour is the same in every run of a seed.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
