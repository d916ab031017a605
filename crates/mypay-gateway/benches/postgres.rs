//! The merchant API's hot paths on PostgreSQL, beside what the server itself can commit.
//!
//!     cargo bench -p mypay-gateway --bench postgres
//!
//! In one run, on one throw-away cluster (`scripts/pg-cluster.sh`, `synchronous_commit`
//! on, fsync on; or the server `MYPAY_TEST_POSTGRES` names):
//! 1. pgbench's own peak of one single-row insert per transaction (the server's commit
//!    rate, at `BENCH_PGBENCH_CLIENTS`, default 16 and 64 clients: the best is printed);
//! 2. the ceiling: a bare axum handler of the same stack, in its own process;
//! 3. `api/orders` and `api/queryorder` against one gateway node, in slices alternating
//!    with the ceiling (as `benches/load.rs` does on SQLite);
//! 4. three nodes on one database: total `api/orders` per second, connections spread
//!    over the three.
//!
//! Each measurement starts from a quiet server: a `CHECKPOINT` before it, and pgbench's
//! database dropped once measured (its table's autovacuum would otherwise run during the
//! gateway's slices). The gateway's own tables are vacuumed when the server decides, during
//! its loads: that is part of what an order costs.
//!
//! Settings: `BENCH_SECONDS` (12 per load), `BENCH_ROUNDS` (4), `BENCH_CONNECTIONS` (64),
//! `BENCH_GATEWAY` (another binary), `BENCH_SLICES` (set: print each slice's rate, to see
//! a load's drift), `BENCH_VERSUS` (a second binary: then only the two builds are
//! measured, each on its own database of the same cluster, in alternating slices, as
//! `benches/load.rs` does on SQLite). Every load stops by itself.

mod common;

use common::cluster::Cluster;

use common::load::{Alternating, Figures, Measured, load, print, queries_of};
use common::versus::versus;
use common::{STORE_KEY, env_number, order_body, start, start_gateway_on};
use mypay_protocol::envelope::MerchantKey;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

fn main() {
    if std::env::args().any(|a| a == "--bare-server") {
        common::load::bare_server();
        return;
    }
    let seconds = env_number("BENCH_SECONDS", 12) as u64;
    let rounds = env_number("BENCH_ROUNDS", 4).max(1);
    let connections = env_number("BENCH_CONNECTIONS", 64);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let cluster = Cluster::start();
    runtime.block_on(run(
        &cluster,
        Duration::from_secs(seconds),
        rounds,
        connections,
    ));
}

async fn run(cluster: &Cluster, duration: Duration, rounds: usize, connections: usize) {
    println!(
        "PostgreSQL on loopback (synchronous_commit on), {connections} connections, {} s per load in {rounds} slices alternating with the ceiling, load generator on the same 2 cores",
        duration.as_secs()
    );
    let key = MerchantKey::parse(STORE_KEY).expect("key");
    let run_id = format!("P{}", std::process::id());
    if let Ok(other) = std::env::var("BENCH_VERSUS") {
        println!("(between two builds, each on its own database)");
        let databases = ["mypay_versus_a", "mypay_versus_b"].map(|name| cluster.database(name));
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
        return;
    }
    let order_bodies: Arc<Vec<String>> =
        Arc::new((0..400_000).map(|i| order_body(&key, &run_id, i)).collect());
    let warm_bodies: Arc<Vec<String>> = Arc::new(
        (0..20_000)
            .map(|i| order_body(&key, &format!("{run_id}W"), i))
            .collect(),
    );

    // 1. What the server commits by itself.
    let clients: Vec<usize> = std::env::var("BENCH_PGBENCH_CLIENTS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![16, 64]);
    let mut pgbench_peak = 0.0f64;
    for c in &clients {
        let tps = cluster.pgbench(*c, duration.as_secs().max(5));
        println!("pgbench, one insert per transaction, {c:>3} clients: {tps:>9.0} tps");
        pgbench_peak = pgbench_peak.max(tps);
    }

    // 2 and 3. One node against the ceiling.
    let bare = start(
        {
            let mut c = Command::new(std::env::current_exe().expect("exe"));
            c.arg("--bare-server");
            c
        },
        &std::env::temp_dir().join("mypay-bench-bare-pg.log"),
    );
    let binary = std::env::var("BENCH_GATEWAY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_mypay-gateway").to_owned());
    let database = cluster.database("mypay_bench");
    let gateway = start_gateway_on(&binary, &database, "pg-gateway", &[]);
    let url = format!("{}/api/init", gateway.base);
    let ceiling_url = format!("{}/api/init", bare.base);
    let alternating = Alternating {
        ceiling_url: &ceiling_url,
        ceiling_bodies: &order_bodies,
        connections,
        slice: duration / rounds as u32,
        rounds,
    };
    let query_bodies = queries_of(&url, &warm_bodies, connections, &key).await;
    cluster.checkpoint();
    let (orders, orders_ceiling) = alternating
        .run(&url, &order_bodies, "\"code\":\"200\"", true)
        .await;
    let (queries, queries_ceiling) = alternating
        .run(&url, &query_bodies, "\"prc\":\"200\"", false)
        .await;
    let (orders, orders_ceiling) = (orders.figures(), orders_ceiling.figures());
    let (queries, queries_ceiling) = (queries.figures(), queries_ceiling.figures());
    drop(gateway);
    drop(bare);

    // 4. Three nodes on one database.
    let database = cluster.database("mypay_bench_nodes");
    let nodes: Vec<_> = (0..3)
        .map(|i| start_gateway_on(&binary, &database, &format!("pg-node-{i}"), &[]))
        .collect();
    let per_node = (connections / 3).max(1);
    let bodies: Vec<Arc<Vec<String>>> = (0..3)
        .map(|n| {
            Arc::new(
                (0..150_000)
                    .map(|i| order_body(&key, &format!("{run_id}N{n}"), i))
                    .collect(),
            )
        })
        .collect();
    cluster.checkpoint();
    let loads: Vec<_> = nodes
        .iter()
        .zip(&bodies)
        .map(|(node, bodies)| {
            let url = format!("{}/api/init", node.base);
            let bodies = bodies.clone();
            tokio::spawn(async move {
                let limit = bodies.len();
                load(
                    &url,
                    &bodies,
                    0,
                    per_node,
                    duration,
                    limit,
                    "\"code\":\"200\"",
                    false,
                )
                .await
                .0
            })
        })
        .collect();
    let mut three = Measured::default();
    let mut seconds: f64 = 0.0;
    for l in loads {
        let m = l.await.expect("load");
        seconds = seconds.max(m.seconds);
        three.latencies_us.extend(m.latencies_us);
    }
    three.seconds = seconds;
    let three = three.figures();
    drop(nodes);

    println!();
    print("bare (between orders)", &orders_ceiling, None);
    print("api/orders", &orders, Some(&orders_ceiling));
    versus_pgbench(&orders, pgbench_peak);
    print("bare (between queries)", &queries_ceiling, None);
    print("api/queryorder", &queries, Some(&queries_ceiling));
    print("api/orders, 3 nodes", &three, None);
    versus_pgbench(&three, pgbench_peak);
}

fn versus_pgbench(f: &Figures, peak: f64) {
    println!(
        "{:<22} {:>5.2} × pgbench's one-insert-per-transaction peak ({peak:.0} tps)",
        "",
        f.per_second / peak
    );
}
