//! Load benchmark of the merchant API's hot paths, on loopback, load generator included.
//!
//!     cargo bench -p mypay-gateway --bench load
//!
//! In one run it measures, at the same concurrency:
//! 1. the ceiling: a bare axum handler of the same stack (tokio, hyper, axum) that reads a
//!    POST body of the same size and answers a small JSON, in its own process;
//! 2. `api/orders` against the release `mypay-gateway` binary in its own process (real
//!    sealed bodies, each a new order, each answered only after its fsync'd commit);
//! 3. `api/queryorder` of those orders.
//!
//! This machine's speed drifts by ±15 % within a minute, so each load is cut into slices
//! that alternate with slices of the ceiling, and each ratio compares a load with the
//! ceiling measured between its own slices.
//!
//! It prints requests/s, p50 and p99 latency and the ratios to the ceiling. With
//! `BENCH_RSS_ORDERS=1000000` it then creates that many orders and prints the gateway's RSS.
//!
//! Both servers run their async runtime with `BENCH_SERVER_THREADS` worker threads
//! (default 0: one per core, the gateway's default). One worker raises the ratios on this
//! 2-core machine, but by lowering the ceiling (the bare server loses ~15 %) rather than
//! by speeding up the gateway, so it is not the default here.
//!
//! Settings (environment): `BENCH_SECONDS` (default 12, per load), `BENCH_ROUNDS` (4
//! slices per load), `BENCH_CONNECTIONS` (64), `BENCH_SERVER_THREADS` (0),
//! `BENCH_RSS_ORDERS` (0), `BENCH_GATEWAY` (another `mypay-gateway` binary to measure, e.g. a
//! copy of an earlier build), `BENCH_VERSUS` (a second binary: then no ceiling is measured;
//! new orders, then queries, go to the two builds in alternating slices, and the second's
//! share of the first is printed: how to tell whether a change helped on this drifting
//! machine). Every load stops by itself after its duration or count.

mod common;

use common::load::{Alternating, load, print, queries_of, rss_kib};
use common::versus::versus;
use common::{STORE_KEY, env_number, order_body, start, start_gateway};
use mypay_protocol::envelope::MerchantKey;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bare-server") {
        common::load::bare_server();
        return;
    }
    let seconds = env_number("BENCH_SECONDS", 12) as u64;
    let rounds = env_number("BENCH_ROUNDS", 4);
    let connections = env_number("BENCH_CONNECTIONS", 64);
    let rss_orders = env_number("BENCH_RSS_ORDERS", 0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(
        Duration::from_secs(seconds),
        rounds,
        connections,
        rss_orders,
    ));
}

async fn run(duration: Duration, rounds: usize, connections: usize, rss_orders: usize) {
    let key = MerchantKey::parse(STORE_KEY).expect("key");
    let run_id = format!("B{}", std::process::id());
    let threads = match env_number("BENCH_SERVER_THREADS", 0) {
        0 => "one per core".to_owned(),
        n => n.to_string(),
    };
    let other_build = std::env::var("BENCH_VERSUS").ok();
    let against = if other_build.is_some() {
        "between two builds"
    } else {
        "with the ceiling"
    };
    println!(
        "loopback, {connections} connections, {} s per load in {rounds} slices alternating {against}, load generator in the same machine (2 cores), server worker threads: {threads}",
        duration.as_secs()
    );

    if let Some(other) = other_build {
        let dir = std::env::temp_dir().join(format!("mypay-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(&dir);
        let databases = ["gateway-a", "gateway-b"]
            .map(|name| dir.join(format!("{name}.sqlite")).display().to_string());
        versus(
            &key,
            &run_id,
            &other,
            &databases,
            duration,
            rounds,
            connections,
        )
        .await;
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }

    // Sealing is the client's work: done before any clock starts.
    let order_bodies: Arc<Vec<String>> =
        Arc::new((0..400_000).map(|i| order_body(&key, &run_id, i)).collect());
    let warm_bodies: Arc<Vec<String>> = Arc::new(
        (0..50_000)
            .map(|i| order_body(&key, &format!("{run_id}W"), i))
            .collect(),
    );

    let bare = start(
        {
            let mut c = Command::new(std::env::current_exe().expect("exe"));
            c.arg("--bare-server");
            c
        },
        &std::env::temp_dir().join("mypay-bench-bare.log"),
    );
    let dir = std::env::temp_dir().join(format!("mypay-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    // Another build of the gateway can be measured against the same ceiling.
    let binary = std::env::var("BENCH_GATEWAY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_mypay-gateway").to_owned());
    let gateway = start_gateway(&binary, &dir, "gateway");
    let url = format!("{}/api/init", gateway.base);
    let ceiling_url = format!("{}/api/init", bare.base);
    let alternating = Alternating {
        ceiling_url: &ceiling_url,
        ceiling_bodies: &order_bodies,
        connections,
        slice: duration / rounds.max(1) as u32,
        rounds: rounds.max(1),
    };

    // The orders to query are created first, unmeasured (this also warms the gateway):
    // the measured loads keep no answers, so the load generator's memory stays the same
    // in every slice.
    let query_bodies = queries_of(&url, &warm_bodies, connections, &key).await;

    let (orders, orders_ceiling) = alternating
        .run(&url, &order_bodies, "\"code\":\"200\"", true)
        .await;
    let orders_count = orders.latencies_us.len();
    let (queries, queries_ceiling) = alternating
        .run(&url, &query_bodies, "\"prc\":\"200\"", false)
        .await;

    let (orders, orders_ceiling) = (orders.figures(), orders_ceiling.figures());
    let (queries, queries_ceiling) = (queries.figures(), queries_ceiling.figures());
    println!();
    print("bare (between orders)", &orders_ceiling, None);
    print("api/orders", &orders, Some(&orders_ceiling));
    print("bare (between queries)", &queries_ceiling, None);
    print("api/queryorder", &queries, Some(&queries_ceiling));
    println!(
        "gateway RSS after {orders_count} orders: {} MiB",
        rss_kib(gateway.child.id()) / 1024
    );
    drop(bare);

    if rss_orders > 0 {
        let more = rss_orders.saturating_sub(orders_count);
        let bodies: Arc<Vec<String>> = Arc::new(
            (0..more)
                .map(|i| order_body(&key, &format!("{run_id}R"), i))
                .collect(),
        );
        let started = Instant::now();
        let (filled, _, _) = load(
            &url,
            &bodies,
            0,
            connections,
            Duration::from_secs(3600),
            more,
            "\"code\":\"200\"",
            false,
        )
        .await;
        println!(
            "gateway RSS after {} orders: {} MiB ({:.0} s to add {})",
            orders_count + filled.latencies_us.len(),
            rss_kib(gateway.child.id()) / 1024,
            started.elapsed().as_secs_f64(),
            filled.latencies_us.len()
        );
    }
    drop(gateway);
    let _ = std::fs::remove_dir_all(&dir);
}
