//! The scheduler: `BENCH_SERIES` monthly recurring series (default 100,000) falling due
//! at once, charged and notified in one clock advance, on SQLite and on PostgreSQL.
//!
//!     cargo bench -p mypay-gateway --bench scheduler
//!
//! Each series is an order (DIRECTDEBIT, monthly, first charge tomorrow) whose card is
//! bound on the sandbox's `pay` helper. Then one `clock/advance` of a day makes every
//! series' period 1 due: the advance answers when every charge is recorded and every
//! notice delivered to a local receiver (answering `8888`). Printed: series charged per
//! second, and the time from the advance to the last notice. PostgreSQL: the server
//! `MYPAY_TEST_POSTGRES` names, or a throw-away cluster (`scripts/pg-cluster.sh`).
//! `BENCH_BACKENDS` (`sqlite postgres`) chooses the backends.

mod common;

use axum::extract::State;
use common::cluster::Cluster;
use common::process::succeed;
use common::{STORE_KEY, STORE_UID, env_number, sealed, start_gateway_on};
use mypay_protocol::envelope::MerchantKey;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The notices of recurring charges received: for each period of each series
/// (`order_id`, `nois`), the transactions (`uid`) notified as its charge.
#[derive(Default)]
struct Receiver {
    periods: std::sync::Mutex<HashMap<(String, String), HashSet<String>>>,
}

impl Receiver {
    fn periods(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), HashSet<String>>> {
        self.periods.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn receive(State(r): State<Arc<Receiver>>, body: String) -> &'static str {
    let fields: HashMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    if let (Some(order_id), Some(nois), Some(uid)) = (
        fields.get("order_id"),
        fields.get("nois"),
        fields.get("uid"),
    ) {
        r.periods()
            .entry((order_id.clone(), nois.clone()))
            .or_default()
            .insert(uid.clone());
    }
    "8888"
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
    let series = env_number("BENCH_SERIES", 100_000);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite postgres".into());
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
        "{series} monthly series due at once, one clock advance; receiver on loopback, same 2 cores"
    );
    let binary = std::env::var("BENCH_GATEWAY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_mypay-gateway").to_owned());
    for backend in backends.split_whitespace() {
        let (database, cluster) = match backend {
            "sqlite" => {
                let dir = std::env::temp_dir()
                    .join(format!("mypay-bench-scheduler-{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).expect("dir");
                (dir.join("scheduler.sqlite").display().to_string(), None)
            }
            "postgres" => {
                let cluster = Cluster::start();
                (cluster.database("mypay_scheduler"), Some(cluster))
            }
            other => panic!("BENCH_BACKENDS: unknown backend {other:?}"),
        };
        receiver.periods().clear();
        // The due date comes days after the cards were bound: by then autovacuum has
        // counted the tables the binding filled (their statistics) and checkpoints have
        // written its WAL out. Without this the advance ran on plans made for those
        // tables empty (a scan of every order per read) and paid for the binding's
        // checkpoint: 43–92 s for the same build. The tables the advance fills are left
        // as they are: on a real due date they hold earlier months' rows, never an
        // empty table's statistics, which would plan a scan of each (measured: 86 s).
        let settle = || {
            if let Some(cluster) = &cluster {
                cluster.psql(
                    "mypay_scheduler",
                    "ANALYZE orders, order_events, series, timers",
                );
                cluster.checkpoint();
                println!("{backend}: tables analysed and checkpointed, as on the due date");
            }
        };
        measure(
            &binary,
            backend,
            &database,
            &notify_url,
            &receiver,
            series,
            settle,
        )
        .await;
    }
}

async fn measure(
    binary: &str,
    backend: &str,
    database: &str,
    notify_url: &str,
    receiver: &Receiver,
    n: usize,
    settle: impl Fn(),
) {
    // The sample merchant exists once the gateway has started once; then its URL is set.
    let name = format!("scheduler-{backend}");
    drop(start_gateway_on(binary, database, &name, &[]));
    succeed(
        std::process::Command::new(binary).args([
            "--database",
            database,
            "merchant",
            "set",
            STORE_UID,
            "--notify-url",
            notify_url,
        ]),
        "merchant set",
    );
    let gateway = start_gateway_on(binary, database, &name, &[]);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let key = MerchantKey::parse(STORE_KEY).expect("key");
    let tomorrow = {
        let clock: serde_json::Value = client
            .get(format!("{}/sandbox/clock", gateway.base))
            .send()
            .await
            .expect("clock")
            .json()
            .await
            .expect("json");
        let now: jiff::Timestamp = clock["now"]
            .as_str()
            .expect("now")
            .parse()
            .expect("timestamp");
        let day = now
            .to_zoned(jiff::tz::TimeZone::get("Asia/Taipei").expect("zone"))
            .date()
            .tomorrow()
            .expect("tomorrow");
        format!("{:04}{:02}{:02}", day.year(), day.month(), day.day())
    };
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (client, next, base, key, tomorrow) = (
            client.clone(),
            next.clone(),
            gateway.base.clone(),
            key.clone(),
            tomorrow.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let order = serde_json::json!({
                    "store_uid": STORE_UID, "user_id": "bench", "ip": "127.0.0.1",
                    "order_id": format!("SUB-{i}"), "cost": "100", "pfn": "DIRECTDEBIT",
                    "items": [{"id": "1", "name": "月費", "cost": "100", "amount": "1", "total": "100"}],
                    "regular": "M", "regular_total": "0", "regular_first_charge_date": tomorrow,
                });
                let answer: serde_json::Value = client
                    .post(format!("{base}/api/init"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(sealed(&key, "api/orders", &order))
                    .send()
                    .await
                    .expect("order")
                    .json()
                    .await
                    .expect("json");
                let uid = answer["uid"].as_u64().expect("uid");
                let bound: serde_json::Value = client
                    .post(format!("{base}/sandbox/orders/{uid}/pay"))
                    .json(&serde_json::json!({"card_number": "4058650600065507", "expiry": "1022", "cvc": "395"}))
                    .send()
                    .await
                    .expect("bind")
                    .json()
                    .await
                    .expect("json");
                assert_eq!(bound["prc"], "265", "{bound}");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    println!(
        "{backend}: {n} series bound in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    settle();
    let started = Instant::now();
    let advanced: serde_json::Value = client
        .post(format!("{}/sandbox/clock/advance", gateway.base))
        .json(&serde_json::json!({"seconds": 86_400}))
        .timeout(std::time::Duration::from_secs(3600))
        .send()
        .await
        .expect("advance")
        .json()
        .await
        .expect("json");
    let answered = started.elapsed().as_secs_f64();
    while receiver.periods().len() < n {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        assert!(
            started.elapsed().as_secs() < 3600,
            "every notice within the hour"
        );
    }
    let last_notice = started.elapsed().as_secs_f64();
    // Every period charged once: a second transaction notified for a period would be a
    // second charge (a repeated notice of the same transaction is not).
    let charged_twice = receiver
        .periods()
        .values()
        .filter(|uids| uids.len() > 1)
        .count();
    assert_eq!(charged_twice, 0, "periods charged more than once");
    println!(
        "{backend}: {n} charges in one advance ({} timers run): advance answered in {answered:.1} s, {:.0} series/s; last notice {last_notice:.1} s after the advance; every period charged once",
        advanced["timers_run"],
        n as f64 / answered
    );
    drop(gateway);
}
