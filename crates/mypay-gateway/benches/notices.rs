//! Benchmark of notice delivery when thousands fall due at once, on loopback.
//!
//!     cargo bench -p mypay-gateway --bench notices
//!
//! `BENCH_NOTICES` paid orders (default 10,000) each owe a notice. A local receiver
//! refuses them, so each one's first attempt fails and the next is due 5 minutes later.
//! Then each of four rounds advances the clock 5 minutes, which makes all of them due at
//! once; the advance answers only when every attempt has been made and recorded (durably,
//! as every attempt is), so its duration gives deliveries per second. The receiver refuses
//! in the first three rounds (the schedule goes on) and answers `8888` in the last (every
//! notice is then delivered, once). The machine's speed drifts, so each round is followed
//! by a round of the ceiling, and the ratio compares their sums.
//!
//! The ceiling: a bare HTTP client (reqwest, as the gateway uses) posting the same bodies
//! to the same receiver with as many in flight as the gateway allows one merchant
//! (`BENCH_IN_FLIGHT`, default 64, passed to the gateway as its per-merchant limit).
//! `BENCH_GATEWAY` measures another build; `BENCH_VERSUS` a second build after the first,
//! with its own rounds of the ceiling.

mod common;

use axum::extract::State;
use common::process::succeed;
use common::{STORE_KEY, STORE_UID, env_number, order_body, start_gateway_with};
use mypay_protocol::envelope::MerchantKey;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Receiver {
    acknowledge: AtomicBool,
    received: AtomicUsize,
    acknowledged: AtomicUsize,
    bodies: Mutex<Vec<String>>,
}

async fn receive(
    State(r): State<Arc<Receiver>>,
    body: String,
) -> (axum::http::StatusCode, &'static str) {
    r.received.fetch_add(1, Ordering::Relaxed);
    if r.acknowledge.load(Ordering::Relaxed) {
        r.acknowledged.fetch_add(1, Ordering::Relaxed);
        (axum::http::StatusCode::OK, "8888")
    } else {
        if let Ok(mut b) = r.bodies.lock() {
            b.push(body);
        }
        (axum::http::StatusCode::SERVICE_UNAVAILABLE, "not yet")
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let notices = env_number("BENCH_NOTICES", 10_000);
    let in_flight = env_number("BENCH_IN_FLIGHT", 64);
    let receiver = Arc::new(Receiver::default());
    let app = axum::Router::new()
        .route("/notify", axum::routing::post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let notify_url = format!("http://{}/notify", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!(
        "loopback, {notices} notices falling due at once, {in_flight} in flight, receiver and clients in the same machine (2 cores)"
    );

    let this = std::env::var("BENCH_GATEWAY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_mypay-gateway").to_owned());
    let mut builds = vec![("gateway", this)];
    if let Ok(other) = std::env::var("BENCH_VERSUS") {
        builds.push(("versus", other));
    }
    let mut results = Vec::new();
    let bench = Bench {
        notify_url: &notify_url,
        receiver: &receiver,
        n: notices,
        in_flight,
    };
    for (name, binary) in &builds {
        results.push((*name, measure(&bench, binary, name).await));
    }
    println!();
    for (name, (gateway, ceiling)) in &results {
        println!(
            "{name}: bare client {ceiling:>8.0} posts/s, gateway {gateway:>8.0} deliveries/s, {:>5.1} % of the ceiling",
            100.0 * gateway / ceiling
        );
    }
    if let [(_, (a, _)), (_, (b, _))] = results.as_slice() {
        println!("versus / gateway: {:.3}", b / a);
    }
}

/// What every build is measured against: the merchant's receiver, and how many notices
/// fall due with how many in flight.
#[derive(Clone, Copy)]
struct Bench<'a> {
    notify_url: &'a str,
    receiver: &'a Receiver,
    n: usize,
    in_flight: usize,
}

/// Rounds of the gateway and of the ceiling, alternating: (deliveries/s, posts/s).
async fn measure(bench: &Bench<'_>, binary: &str, name: &str) -> (f64, f64) {
    let Bench {
        notify_url,
        receiver,
        n,
        in_flight,
    } = *bench;
    let (gateway, client, bodies) = prepare(bench, binary, name).await;
    let (mut gateway_seconds, mut ceiling_seconds) = (0.0, 0.0);
    for round in 1..=4 {
        let last = round == 4;
        receiver.acknowledge.store(last, Ordering::SeqCst);
        receiver.received.store(0, Ordering::SeqCst);
        receiver.acknowledged.store(0, Ordering::SeqCst);
        let started = Instant::now();
        advance(&client, &gateway.base, 300).await;
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(
            receiver.received.load(Ordering::SeqCst),
            n,
            "one attempt each, round {round}"
        );
        if last {
            assert_eq!(
                receiver.acknowledged.load(Ordering::SeqCst),
                n,
                "every notice delivered once"
            );
        }
        let bare = bare_client(notify_url, &bodies, in_flight, receiver).await;
        println!(
            "{name} round {round}: {n} attempts in {seconds:.2} s ({:.0}/s); bare client {bare:.0} posts/s",
            n as f64 / seconds
        );
        gateway_seconds += seconds;
        ceiling_seconds += n as f64 / bare;
    }
    drop(gateway);
    let _ = std::fs::remove_dir_all(bench_dir(name));
    let rounds = 4.0 * n as f64;
    (rounds / gateway_seconds, rounds / ceiling_seconds)
}

/// A fresh gateway with `n` paid orders whose first attempt failed (the receiver
/// refuses); also the notices' bodies, for the ceiling.
async fn prepare(
    bench: &Bench<'_>,
    binary: &str,
    name: &str,
) -> (common::Server, reqwest::Client, Vec<String>) {
    let Bench {
        notify_url,
        receiver,
        n,
        in_flight,
    } = *bench;
    receiver.acknowledge.store(false, Ordering::SeqCst);
    receiver.received.store(0, Ordering::SeqCst);
    receiver.acknowledged.store(0, Ordering::SeqCst);
    if let Ok(mut b) = receiver.bodies.lock() {
        b.clear();
    }
    let dir = bench_dir(name);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    succeed(
        std::process::Command::new(binary)
            .arg("--database")
            .arg(dir.join(format!("{name}.sqlite")))
            .args(["merchant", "set", STORE_UID, "--notify-url", notify_url]),
        "merchant set",
    );
    let per_merchant = in_flight.to_string();
    let gateway = start_gateway_with(
        binary,
        &dir,
        name,
        &[("MYPAY_NOTIFY_PER_MERCHANT", per_merchant.as_str())],
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let key = MerchantKey::parse(STORE_KEY).expect("key");
    let run = format!("N{}{name}", std::process::id());
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (client, next, base, key, run) = (
            client.clone(),
            next.clone(),
            gateway.base.clone(),
            key.clone(),
            run.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let answer: serde_json::Value = client
                    .post(format!("{base}/api/init"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(order_body(&key, &run, i))
                    .send()
                    .await
                    .expect("order")
                    .json()
                    .await
                    .expect("json");
                let uid = answer["uid"].as_u64().expect("uid");
                let paid = client
                    .post(format!("{base}/sandbox/orders/{uid}/pay"))
                    .json(&serde_json::json!({"card_number": "4058650600065507", "expiry": "1022", "cvc": "395"}))
                    .send()
                    .await
                    .expect("pay");
                assert_eq!(paid.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    // Every first attempt made and recorded: nothing is due at the current time.
    advance(&client, &gateway.base, 0).await;
    assert_eq!(
        receiver.received.load(Ordering::SeqCst),
        n,
        "one first attempt each"
    );
    let bodies = receiver
        .bodies
        .lock()
        .map(|b| b.clone())
        .unwrap_or_default();
    (gateway, client, bodies)
}

fn bench_dir(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("mypay-bench-notices-{}-{name}", std::process::id()))
}

async fn advance(client: &reqwest::Client, base: &str, seconds: u64) {
    let answer = client
        .post(format!("{base}/sandbox/clock/advance"))
        .json(&serde_json::json!({ "seconds": seconds }))
        .timeout(Duration::from_secs(600))
        .send()
        .await
        .expect("advance");
    assert_eq!(answer.status(), 200);
}

/// Post `bodies` to the receiver with `in_flight` at once, as the gateway's client does.
async fn bare_client(url: &str, bodies: &[String], in_flight: usize, receiver: &Receiver) -> f64 {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let bodies = Arc::new(bodies.to_vec());
    let before = receiver.acknowledge.swap(true, Ordering::SeqCst);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..in_flight {
        let (client, bodies, next, url) =
            (client.clone(), bodies.clone(), next.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let reply = client
                    .post(&url)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("post");
                let text = reply.bytes().await.expect("reply");
                assert_eq!(&text[..], b"8888");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let rate = bodies.len() as f64 / started.elapsed().as_secs_f64();
    receiver.acknowledge.store(before, Ordering::SeqCst);
    rate
}
