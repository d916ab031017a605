//! Load benchmark of the merchant API's hot paths, on loopback, load generator included.
//!
//!     cargo bench -p mypay-gateway --bench load
//!
//! In one run it measures, at the same concurrency:
//! 1. the ceiling, before and after the rest (the mean is used): a bare axum handler of the same stack (tokio, hyper, axum) that reads a
//!    POST body of the same size and answers a small JSON, in its own process;
//! 2. `api/orders` against the release `mypay-gateway` binary in its own process (real
//!    sealed bodies, each a new order, each answered only after its fsync'd commit);
//! 3. `api/queryorder` of those orders.
//!
//! It prints requests/s, p50 and p99 latency and the ratios to the ceiling. With
//! `BENCH_RSS_ORDERS=1000000` it then creates that many orders and prints the gateway's RSS.
//!
//! Settings (environment): `BENCH_SECONDS` (default 10), `BENCH_CONNECTIONS` (64),
//! `BENCH_RSS_ORDERS` (0). Every load stops by itself after its duration or count.

use mypay_protocol::envelope::{self, MerchantKey};
use mypay_protocol::outer::OuterRequest;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const STORE_UID: &str = "289151880002";
const STORE_KEY: &str = "KYTjd9ACcjGaTK6V3zWmMkyrQS08Ndcx";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bare-server") {
        bare_server();
        return;
    }
    let seconds = env_number("BENCH_SECONDS", 10) as u64;
    let connections = env_number("BENCH_CONNECTIONS", 64);
    let rss_orders = env_number("BENCH_RSS_ORDERS", 0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(Duration::from_secs(seconds), connections, rss_orders));
}

/// The ceiling: the same stack with no work behind the handler.
fn bare_server() {
    use axum::routing::post;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let app = axum::Router::new().route(
            "/api/init",
            post(|body: axum::body::Bytes| async move {
                let answer = format!(r#"{{"code":"200","msg":"資料正確","len":{}}}"#, body.len());
                (
                    [("content-type", "application/json; charset=utf-8")],
                    answer,
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!(
            "  merchant API   POST http://{}/api/init",
            listener.local_addr().expect("addr")
        );
        axum::serve(listener, app).await.expect("serve");
    });
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(mut command: Command, log: &std::path::Path) -> Server {
    let stderr = std::fs::File::create(log).expect("log file");
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("server starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let base = loop {
        let line = lines.next().expect("banner").expect("utf-8");
        if let Some(rest) = line.split("POST ").nth(1) {
            break rest
                .split("/api/init")
                .next()
                .expect("url")
                .trim()
                .to_owned();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, base }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn sealed(key: &MerchantKey, cmd: &str, data: &serde_json::Value) -> String {
    OuterRequest {
        store_uid: Some(STORE_UID.to_owned()),
        agent_uid: None,
        service: Some(envelope::seal(
            key,
            serde_json::json!({"service_name": "api", "cmd": cmd})
                .to_string()
                .as_bytes(),
        )),
        encry_data: Some(envelope::seal(key, data.to_string().as_bytes())),
    }
    .to_form()
}

fn order_body(key: &MerchantKey, run: &str, i: usize) -> String {
    let data = serde_json::json!({
        "store_uid": STORE_UID,
        "items": [{"id": "1", "name": "商品名稱", "cost": "10", "amount": "1", "total": "10"}],
        "cost": "10", "user_id": "bench", "order_id": format!("{run}-{i}"), "ip": "127.0.0.1", "pfn": "0",
    });
    sealed(key, "api/orders", &data)
}

struct Figures {
    requests: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Post `bodies` (cycling) over `connections` keep-alive connections for `duration`, or
/// until `limit` requests were sent. Every answer must contain `expect`.
async fn load(
    url: &str,
    bodies: Arc<Vec<String>>,
    connections: usize,
    duration: Duration,
    limit: usize,
    expect: &'static str,
) -> (Figures, Vec<String>) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .expect("client");
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, bodies, next, url) =
            (client.clone(), bodies.clone(), next.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut answers = Vec::new();
            while started.elapsed() < duration {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= limit {
                    break;
                }
                let body = bodies[i % bodies.len()].clone();
                let t = Instant::now();
                let answer = client
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .expect("request")
                    .text()
                    .await
                    .expect("answer");
                latencies.push(t.elapsed().as_micros() as u32);
                assert!(answer.contains(expect), "unexpected answer: {answer}");
                if answers.len() < 1_000_000 && expect == "\"code\":\"200\"" {
                    answers.push(answer);
                }
            }
            (latencies, answers)
        }));
    }
    let mut latencies = Vec::new();
    let mut answers = Vec::new();
    for t in tasks {
        let (l, a) = t.await.expect("task");
        latencies.extend(l);
        answers.extend(a);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    (
        Figures {
            requests: latencies.len(),
            per_second: latencies.len() as f64 / elapsed,
            p50_ms: pick(0.50),
            p99_ms: pick(0.99),
        },
        answers,
    )
}

fn print(name: &str, f: &Figures, ceiling: Option<&Figures>) {
    let ratio = ceiling
        .map(|c| {
            format!(
                "  {:>5.1} % of the ceiling",
                100.0 * f.per_second / c.per_second
            )
        })
        .unwrap_or_default();
    println!(
        "{name:<16} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} requests){ratio}",
        f.per_second, f.p50_ms, f.p99_ms, f.requests
    );
}

async fn run(duration: Duration, connections: usize, rss_orders: usize) {
    let key = MerchantKey::parse(STORE_KEY).expect("key");
    let run_id = format!("B{}", std::process::id());
    println!(
        "loopback, {connections} connections, {} s per load, load generator in the same machine (2 cores)",
        duration.as_secs()
    );

    // Sealing is the client's work: done before any clock starts.
    let order_bodies: Arc<Vec<String>> =
        Arc::new((0..400_000).map(|i| order_body(&key, &run_id, i)).collect());

    let (ceiling_before, _) = ceiling(&order_bodies, connections, duration).await;

    let dir = std::env::temp_dir().join(format!("mypay-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    // The gateway's log is kept in the temporary folder (mypay-bench-gateway.log).
    let gateway = start(
        {
            let mut c = Command::new(env!("CARGO_BIN_EXE_mypay-gateway"));
            c.args(["--listen", "127.0.0.1:0", "--database"])
                .arg(dir.join("mypay.sqlite"))
                .env("RUST_LOG", "warn");
            c
        },
        &std::env::temp_dir().join("mypay-bench-gateway.log"),
    );
    let url = format!("{}/api/init", gateway.base);
    let (orders, answers) = load(
        &url,
        order_bodies.clone(),
        connections,
        duration,
        order_bodies.len(),
        "\"code\":\"200\"",
    )
    .await;

    let query_bodies: Arc<Vec<String>> = Arc::new(
        answers
            .iter()
            .take(100_000)
            .map(|a| {
                let v: serde_json::Value = serde_json::from_str(a).expect("json");
                sealed(
                    &key,
                    "api/queryorder",
                    &serde_json::json!({"uid": v["uid"].to_string(), "key": v["key"]}),
                )
            })
            .collect(),
    );
    let (queries, _) = load(
        &url,
        query_bodies,
        connections,
        duration,
        usize::MAX,
        "\"prc\":\"200\"",
    )
    .await;

    // The ceiling again: this machine's speed drifts, so the ratio uses the mean of both.
    let (ceiling_after, _) = ceiling(&order_bodies, connections, duration).await;
    let ceiling = Figures {
        requests: ceiling_before.requests + ceiling_after.requests,
        per_second: (ceiling_before.per_second + ceiling_after.per_second) / 2.0,
        p50_ms: (ceiling_before.p50_ms + ceiling_after.p50_ms) / 2.0,
        p99_ms: (ceiling_before.p99_ms + ceiling_after.p99_ms) / 2.0,
    };
    println!();
    print("bare (before)", &ceiling_before, None);
    print("bare (after)", &ceiling_after, None);
    print("bare (mean)", &ceiling, None);
    print("api/orders", &orders, Some(&ceiling));
    print("api/queryorder", &queries, Some(&ceiling));
    println!(
        "gateway RSS after {} orders: {} MiB",
        orders.requests,
        rss_kib(gateway.child.id()) / 1024
    );

    if rss_orders > 0 {
        let more = rss_orders.saturating_sub(orders.requests);
        let bodies: Arc<Vec<String>> = Arc::new(
            (0..more)
                .map(|i| order_body(&key, &format!("{run_id}R"), i))
                .collect(),
        );
        let started = Instant::now();
        let (filled, _) = load(
            &url,
            bodies,
            connections,
            Duration::from_secs(3600),
            more,
            "\"code\":\"200\"",
        )
        .await;
        println!(
            "gateway RSS after {} orders: {} MiB ({:.0} s to add {})",
            orders.requests + filled.requests,
            rss_kib(gateway.child.id()) / 1024,
            started.elapsed().as_secs_f64(),
            filled.requests
        );
    }
    drop(gateway);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The bare handler's figures under the same load.
async fn ceiling(
    bodies: &Arc<Vec<String>>,
    connections: usize,
    duration: Duration,
) -> (Figures, Vec<String>) {
    let bare = start(
        {
            let mut c = Command::new(std::env::current_exe().expect("exe"));
            c.arg("--bare-server");
            c
        },
        &std::env::temp_dir().join("mypay-bench-bare.log"),
    );
    let figures = load(
        &format!("{}/api/init", bare.base),
        bodies.clone(),
        connections,
        duration,
        usize::MAX,
        "200",
    )
    .await;
    drop(bare);
    figures
}
