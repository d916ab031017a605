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
/// Create an order of each of `order_bodies` (unmeasured; this also warms the gateway)
/// and answer the queries of them.
pub async fn queries_of(
    url: &str,
    order_bodies: &Arc<Vec<String>>,
    connections: usize,
    key: &MerchantKey,
) -> Arc<Vec<String>> {
    let (_, answers, _) = load(
        url,
        order_bodies,
        0,
        connections,
        Duration::from_secs(3600),
        order_bodies.len(),
        "\"code\":\"200\"",
        true,
    )
    .await;
    Arc::new(query_bodies(key, &answers))
}

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
    let target = Target::parse(url);
    let next = Arc::new(AtomicUsize::new(from));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (bodies, next, target) = (bodies.clone(), next.clone(), target.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut answers = Vec::new();
            let mut conn = Connection::open(&target.address).await;
            while started.elapsed() < duration {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= limit {
                    break;
                }
                let body = &bodies[i % bodies.len()];
                let t = Instant::now();
                let answer = conn.post(&target, body.as_bytes()).await;
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

/// Where the load goes: `http://HOST:PORT/PATH`.
#[derive(Clone)]
struct Target {
    address: String,
    /// The request line and headers up to `Content-Length: `.
    head: Arc<Vec<u8>>,
}

impl Target {
    fn parse(url: &str) -> Target {
        let rest = url.strip_prefix("http://").expect("an http:// URL");
        let (address, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "
        );
        Target {
            address: address.to_owned(),
            head: Arc::new(head.into_bytes()),
        }
    }
}

/// One keep-alive HTTP/1.1 connection of the load generator: a request written in one
/// piece, the answer read by its `Content-Length`. Lean on purpose: the generator shares
/// the 2 cores with what it measures (a general client spent as much CPU per request as
/// the gateway).
pub struct Connection {
    stream: tokio::net::TcpStream,
    buffer: Vec<u8>,
    request: Vec<u8>,
}

/// An answer: its status, its head (status line and headers) and its body.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Answer {
    /// The values of header `name` (case-insensitive).
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.head.lines().filter_map(move |l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

impl Connection {
    pub async fn open(address: &str) -> Connection {
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Connection {
            stream,
            buffer: Vec::with_capacity(8192),
            request: Vec::with_capacity(4096),
        }
    }

    async fn post(&mut self, target: &Target, body: &[u8]) -> String {
        self.request.clear();
        self.request.extend_from_slice(&target.head);
        self.request
            .extend_from_slice(format!("{}\r\n\r\n", body.len()).as_bytes());
        self.request.extend_from_slice(body);
        let request = std::mem::take(&mut self.request);
        let answer = self.send(&request).await;
        self.request = request;
        assert_eq!(answer.status, 200, "unexpected status: {}", answer.head);
        answer.body
    }

    /// Write `request` (a whole HTTP/1.1 request) and read its answer.
    pub async fn send(&mut self, request: &[u8]) -> Answer {
        use tokio::io::AsyncWriteExt;
        self.stream.write_all(request).await.expect("write");
        // Read the head, then the body by its length.
        let head_end = loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                break end + 4;
            }
            self.fill().await;
        };
        let head = std::str::from_utf8(&self.buffer[..head_end])
            .expect("an ASCII head")
            .to_owned();
        let status = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while self.buffer.len() < head_end + length {
            self.fill().await;
        }
        let body = String::from_utf8_lossy(&self.buffer[head_end..head_end + length]).into_owned();
        self.buffer.drain(..head_end + length);
        Answer { status, head, body }
    }

    async fn fill(&mut self) {
        use tokio::io::AsyncReadExt;
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the server closed the connection");
        self.buffer.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
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
