//! The load generator the benchmarks share: keep-alive connections posting sealed
//! bodies, latencies kept, slices alternating with the ceiling.

use super::{env_number, sealed};
use mypay_protocol::envelope::MerchantKey;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Sealed `api/queryorder` bodies for the orders these `api/orders` answers created.
pub fn query_bodies(key: &MerchantKey, answers: &[String]) -> Vec<String> {
    answers
        .iter()
        .map(|a| {
            let v: serde_json::Value = serde_json::from_str(a).expect("json");
            sealed(
                key,
                "api/queryorder",
                &serde_json::json!({"uid": v["uid"].to_string(), "key": v["key"]}),
            )
        })
        .collect()
}

pub struct Figures {
    pub requests: usize,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// What one or more slices of a load measured.
#[derive(Default)]
pub struct Measured {
    pub latencies_us: Vec<u32>,
    pub seconds: f64,
}

impl Measured {
    pub fn add(&mut self, other: Measured) {
        self.latencies_us.extend(other.latencies_us);
        self.seconds += other.seconds;
    }

    pub fn figures(mut self) -> Figures {
        self.latencies_us.sort_unstable();
        let n = self.latencies_us.len();
        let pick = |q: f64| {
            self.latencies_us
                .get(((n as f64 * q) as usize).min(n.saturating_sub(1)))
                .copied()
                .unwrap_or(0) as f64
                / 1000.0
        };
        Figures {
            requests: n,
            per_second: n as f64 / self.seconds.max(f64::EPSILON),
            p50_ms: pick(0.50),
            p99_ms: pick(0.99),
        }
    }
}

/// Post `bodies[from..]` (cycling) over `connections` keep-alive connections for
/// `duration`, or until body number `limit`. Every answer must contain `expect`. Answers
/// are kept when `keep` (to build queries from). Returns the next body's index.
#[allow(clippy::too_many_arguments)]
pub async fn load(
    url: &str,
    bodies: &Arc<Vec<String>>,
    from: usize,
    connections: usize,
    duration: Duration,
    limit: usize,
    expect: &'static str,
    keep: bool,
) -> (Measured, Vec<String>, usize) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .expect("client");
    let next = Arc::new(AtomicUsize::new(from));
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
                if keep {
                    answers.push(answer);
                }
            }
            (latencies, answers)
        }));
    }
    let mut measured = Measured::default();
    let mut answers = Vec::new();
    for t in tasks {
        let (l, a) = t.await.expect("task");
        measured.latencies_us.extend(l);
        answers.extend(a);
    }
    measured.seconds = started.elapsed().as_secs_f64();
    let next = next.load(Ordering::Relaxed).min(limit);
    (measured, answers, next)
}

pub fn print(name: &str, f: &Figures, ceiling: Option<&Figures>) {
    let ratio = ceiling
        .map(|c| {
            format!(
                "  {:>5.1} % of the ceiling",
                100.0 * f.per_second / c.per_second
            )
        })
        .unwrap_or_default();
    println!(
        "{name:<22} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} requests){ratio}",
        f.per_second, f.p50_ms, f.p99_ms, f.requests
    );
}

/// A load cut into `rounds` slices, each followed by a slice of the ceiling.
pub struct Alternating<'a> {
    pub ceiling_url: &'a str,
    pub ceiling_bodies: &'a Arc<Vec<String>>,
    pub connections: usize,
    pub slice: Duration,
    pub rounds: usize,
}

impl Alternating<'_> {
    /// Returns (load, ceiling). Bodies are each sent once when `once` (new orders), else
    /// cycled (queries).
    pub async fn run(
        &self,
        url: &str,
        bodies: &Arc<Vec<String>>,
        expect: &'static str,
        once: bool,
    ) -> (Measured, Measured) {
        let (mut measured, mut ceiling) = (Measured::default(), Measured::default());
        let limit = if once { bodies.len() } else { usize::MAX };
        let mut next = 0;
        for _ in 0..self.rounds {
            let (m, _, n) = load(
                url,
                bodies,
                next,
                self.connections,
                self.slice,
                limit,
                expect,
                false,
            )
            .await;
            if std::env::var_os("BENCH_SLICES").is_some() {
                eprintln!(
                    "  slice: {:.0} req/s",
                    m.latencies_us.len() as f64 / m.seconds.max(f64::EPSILON)
                );
            }
            measured.add(m);
            next = n;
            let (c, _, _) = load(
                self.ceiling_url,
                self.ceiling_bodies,
                0,
                self.connections,
                self.slice,
                usize::MAX,
                "200",
                false,
            )
            .await;
            ceiling.add(c);
        }
        (measured, ceiling)
    }
}

/// The ceiling: the same stack with no work behind the handler.
pub fn bare_server() {
    use axum::routing::post;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    let threads = env_number("BENCH_SERVER_THREADS", 0);
    if threads > 0 {
        runtime.worker_threads(threads);
    }
    let runtime = runtime.build().expect("runtime");
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
