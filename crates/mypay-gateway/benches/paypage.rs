//! The PayPage at flash-sale speed: the whole consumer path, end to end, on loopback.
//!
//!     cargo bench -p mypay-gateway --bench paypage
//!
//! Each of `BENCH_CONNECTIONS` (64) consumers, on a keep-alive connection of its own,
//! over and over: the merchant creates the order (`api/orders`, sealed), the consumer
//! GETs the PayPage (its CSRF cookie and form token), POSTs the card form (a card the
//! sandbox approves at once, no 3-D Secure), and GETs the result page; the 交易完成
//! notice is delivered to the merchant's receiver in this process, which answers
//! `8888`. Every order is new and every payment is committed (fsync'd) before its answer.
//!
//! Printed: payments per second end to end (those whose result page came, and those
//! whose notice came within the run), the p50 and p99 of each step (the notice's: from the
//! card form's post to its arrival), and the ratio to the bare-HTTP ceiling measured in
//! the same run (a bare axum handler in its own process, before and after): a payment is
//! four requests, so it is set against a quarter of the ceiling's requests per second.
//!
//! Settings (environment): `BENCH_SECONDS` (20), `BENCH_CONNECTIONS` (64),
//! `BENCH_SERVER_THREADS` (0: one per core), `BENCH_GATEWAY` (another `mypay-gateway`
//! binary). Stops by itself.

mod common;

use common::load::{Connection, Measured, load, print};
use common::{STORE_KEY, STORE_UID, env_number, sealed, start, start_gateway};
use mypay_protocol::envelope::MerchantKey;
use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bare-server") {
        common::load::bare_server();
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(
        Duration::from_secs(env_number("BENCH_SECONDS", 20) as u64),
        env_number("BENCH_CONNECTIONS", 64),
    ));
}

/// When each order's card form was sent, and how long its notice took to come.
#[derive(Default)]
struct Notices {
    paid_at: HashMap<u64, Instant>,
    latencies_us: Vec<u32>,
}

async fn run(duration: Duration, connections: usize) {
    println!(
        "the PayPage path end to end: {connections} consumers, {} s, load generator and notice receiver in this process (2 cores)",
        duration.as_secs()
    );
    let dir = std::env::temp_dir().join(format!("mypay-bench-paypage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a folder");

    // The ceiling first (its own process), with bodies of an order's size.
    let key = MerchantKey::parse(STORE_KEY).expect("key");
    let ceiling_bodies: Arc<Vec<String>> =
        Arc::new((0..1_000).map(|i| order_body(&key, "CEIL", i)).collect());
    let ceiling_server = {
        let mut c = Command::new(std::env::current_exe().expect("exe"));
        c.arg("--bare-server");
        start(c, &dir.join("bare.log"))
    };
    let ceiling_url = format!("{}/api/init", ceiling_server.base);
    let slice = duration / 2;
    let (before, _, _) = load(
        &ceiling_url,
        &ceiling_bodies,
        0,
        connections,
        slice,
        usize::MAX,
        "200",
        false,
    )
    .await;

    // The merchant's receiver: answers 8888 and notes when each notice came.
    let notices = Arc::new(Mutex::new(Notices::default()));
    let receiver = {
        let notices = notices.clone();
        let app = axum::Router::new().route(
            "/notify",
            axum::routing::post(move |body: String| {
                let notices = notices.clone();
                async move {
                    let now = Instant::now();
                    let uid = body
                        .split('&')
                        .find_map(|p| p.strip_prefix("uid="))
                        .and_then(|u| u.parse::<u64>().ok());
                    if let (Some(uid), Ok(mut n)) = (uid, notices.lock())
                        && let Some(at) = n.paid_at.remove(&uid)
                    {
                        let us = now.saturating_duration_since(at).as_micros() as u32;
                        n.latencies_us.push(us);
                    }
                    "8888"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/notify", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        url
    };

    // The gateway, the sample merchant's notices to the receiver.
    let binary = std::env::var("BENCH_GATEWAY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_mypay-gateway").to_owned());
    let database = dir.join("paypage.sqlite");
    let set = Command::new(&binary)
        .arg("--database")
        .arg(&database)
        .args(["merchant", "set", STORE_UID, "--notify-url", &receiver])
        .output()
        .expect("merchant set");
    assert!(
        set.status.success(),
        "merchant set: {}",
        String::from_utf8_lossy(&set.stderr)
    );
    let gateway = start_gateway(&binary, &dir, "paypage");
    let address = gateway.base.trim_start_matches("http://").to_owned();

    // Sealing is the merchant's work, done before the clock starts.
    let run_id = format!("P{}", std::process::id());
    let bodies: Arc<Vec<String>> =
        Arc::new((0..400_000).map(|i| order_body(&key, &run_id, i)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (bodies, next, stop, notices, address) = (
            bodies.clone(),
            next.clone(),
            stop.clone(),
            notices.clone(),
            address.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut steps: [Vec<u32>; 4] = Default::default();
            let mut conn = Connection::open(&address).await;
            let mut paid = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let times = pay(&mut conn, &address, body, &notices).await;
                for (step, t) in steps.iter_mut().zip(times) {
                    step.push(t);
                }
                paid += 1;
            }
            (steps, paid)
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut steps: [Measured; 4] = Default::default();
    let mut paid = 0;
    for t in tasks {
        let (s, p) = t.await.expect("a consumer");
        for (m, l) in steps.iter_mut().zip(s) {
            m.latencies_us.extend(l);
        }
        paid += p;
    }
    let seconds = started.elapsed().as_secs_f64();
    let notified = notices.lock().map(|n| n.latencies_us.len()).unwrap_or(0);
    // Notices still on their way get a moment, for their latency, not for the rate.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let (after, _, _) = load(
        &ceiling_url,
        &ceiling_bodies,
        0,
        connections,
        slice,
        usize::MAX,
        "200",
        false,
    )
    .await;
    let mut ceiling = before;
    ceiling.add(after);
    let ceiling = ceiling.figures();
    print("bare handler", &ceiling, None);
    let names = ["api/orders", "GET PayPage", "POST card form", "GET result"];
    for (name, mut m) in names.into_iter().zip(steps) {
        m.seconds = seconds;
        print(name, &m.figures(), None);
    }
    let notice = {
        let n = notices.lock().expect("notices");
        Measured {
            latencies_us: n.latencies_us.clone(),
            seconds,
        }
    };
    let nf = notice.figures();
    println!(
        "notice delivered      p50 {:>6.2} ms  p99 {:>6.2} ms  (from the card form's post)",
        nf.p50_ms, nf.p99_ms
    );
    let per_second = paid as f64 / seconds;
    println!(
        "payments end to end  {per_second:>9.0} /s ({paid} in {seconds:.1} s; {:.0} /s notified within the run); 4 requests each: {:.1} % of the ceiling's {:.0} req/s",
        notified as f64 / seconds,
        100.0 * per_second * 4.0 / ceiling.per_second,
        ceiling.per_second
    );
    drop(gateway);
    drop(ceiling_server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One payment on `conn`: the order, the page, the card form, the result. The time of
/// each step (µs).
async fn pay(conn: &mut Connection, host: &str, body: &str, notices: &Mutex<Notices>) -> [u32; 4] {
    let t = Instant::now();
    let order = conn
        .send(
            format!(
                "POST /api/init HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await;
    let t_order = t.elapsed();
    assert!(
        order.body.contains(r#""code":"200""#),
        "api/orders: {}",
        order.body
    );
    let url = between(&order.body, r#""url":""#, "\"").expect("the PayPage's url");
    let uid: u64 = between(&order.body, r#""uid":"#, ",")
        .and_then(|u| u.trim_matches('"').parse().ok())
        .expect("uid");
    let path = &url[url.find("/payment/").expect("a PayPage path")..];
    let ticket = path
        .trim_start_matches("/payment/")
        .trim_end_matches(".html");

    let t = Instant::now();
    let page = conn
        .send(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await;
    let t_page = t.elapsed();
    assert_eq!(page.status, 200, "PayPage: {}", page.head);
    let cookie = page
        .headers("set-cookie")
        .filter_map(|c| c.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    let csrf = between(&page.body, r#"name="csrf" value=""#, "\"").expect("the form token");
    let form =
        format!("csrf={csrf}&pfn=CREDITCARD&card_number=4111111111111111&expiry=1230&cvc=123");

    // The notice's time runs from the consumer's click: it may come before the form's
    // answer does.
    if let Ok(mut n) = notices.lock() {
        n.paid_at.insert(uid, Instant::now());
    }
    let t = Instant::now();
    let paid = conn
        .send(
            format!(
                "POST /payment/{ticket}/pay HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
                form.len()
            )
            .as_bytes(),
        )
        .await;
    let t_paid = t.elapsed();
    assert_eq!(paid.status, 303, "card form: {} {}", paid.head, paid.body);
    let location = paid
        .headers("location")
        .next()
        .expect("a Location")
        .to_owned();

    let t = Instant::now();
    let result = conn
        .send(
            format!("GET {location} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\r\n")
                .as_bytes(),
        )
        .await;
    let t_result = t.elapsed();
    assert_eq!(result.status, 200, "result page: {}", result.head);
    [t_order, t_page, t_paid, t_result].map(|d| d.as_micros() as u32)
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let at = text.find(start)? + start.len();
    let len = text[at..].find(end)?;
    Some(&text[at..at + len])
}

fn order_body(key: &MerchantKey, run: &str, i: usize) -> String {
    let data = serde_json::json!({
        "store_uid": STORE_UID,
        "items": [{"id": "1", "name": "限量商品", "cost": "990", "amount": "1", "total": "990"}],
        "cost": "990", "user_id": "flash", "order_id": format!("{run}-{i}"), "ip": "127.0.0.1",
        "pfn": "CREDITCARD",
    });
    sealed(key, "api/orders", &data)
}
