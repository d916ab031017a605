//! Two builds of the gateway head to head (`BENCH_VERSUS`), on either backend.

use super::load::{Measured, load, print, query_bodies};
use super::{order_body, start_gateway_on};
use mypay_protocol::envelope::MerchantKey;
use std::sync::Arc;
use std::time::Duration;

/// `BENCH_VERSUS=<binary>`: new orders against two builds of the gateway, in alternating
/// slices (A B B A …), each on its own fresh database (`databases`: a path or a URL
/// each); prints both and B's share of A.
/// A is `BENCH_GATEWAY` (default: this build), B the given binary. For comparing a change
/// with the build before it, on this machine whose speed drifts within a minute.
pub async fn versus(
    key: &MerchantKey,
    run_id: &str,
    other: &str,
    databases: &[String; 2],
    duration: Duration,
    rounds: usize,
    connections: usize,
) {
    let this = std::env::var("BENCH_GATEWAY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_mypay-gateway").to_owned());
    let servers = [
        start_gateway_on(&this, &databases[0], "gateway-a", &[]),
        start_gateway_on(other, &databases[1], "gateway-b", &[]),
    ];
    let per_gateway = 400_000;
    let bodies: Vec<Arc<Vec<String>>> = ["A", "B"]
        .iter()
        .map(|name| {
            Arc::new(
                (0..per_gateway)
                    .map(|i| order_body(key, &format!("{run_id}{name}"), i))
                    .collect(),
            )
        })
        .collect();
    let urls: Vec<String> = servers
        .iter()
        .map(|s| format!("{}/api/init", s.base))
        .collect();
    let slice = duration / rounds.max(1) as u32;
    let mut next = [0usize; 2];
    // Warm both (the first 20,000 orders of each are not measured, and are queried).
    let mut queries: Vec<Arc<Vec<String>>> = Vec::new();
    for g in 0..2 {
        let (_, answers, n) = load(
            &urls[g],
            &bodies[g],
            0,
            connections,
            Duration::from_secs(3600),
            20_000,
            "\"code\":\"200\"",
            true,
        )
        .await;
        next[g] = n;
        queries.push(Arc::new(query_bodies(key, &answers)));
    }
    // One load of both builds in alternating slices (A B, B A, …); `from` is where each
    // build's bodies start and is moved past the ones sent.
    let alternate = async |bodies: &[Arc<Vec<String>>], from: &mut [usize; 2], limit, expect| {
        let mut measured = [Measured::default(), Measured::default()];
        for round in 0..rounds.max(1) {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for g in order {
                let (m, _, n) = load(
                    &urls[g],
                    &bodies[g],
                    from[g],
                    connections,
                    slice,
                    limit,
                    expect,
                    false,
                )
                .await;
                measured[g].add(m);
                from[g] = n;
            }
        }
        measured
    };
    let measured = alternate(&bodies, &mut next, per_gateway, "\"code\":\"200\"").await;
    let queried = alternate(&queries, &mut [0, 0], usize::MAX, "\"prc\":\"200\"").await;
    let [a, b] = measured.map(Measured::figures);
    let [qa, qb] = queried.map(Measured::figures);
    println!();
    print("api/orders A", &a, None);
    print("api/orders B", &b, None);
    println!(
        "orders B / A: {:.3}",
        b.per_second / a.per_second.max(f64::EPSILON)
    );
    print("api/queryorder A", &qa, None);
    print("api/queryorder B", &qb, None);
    println!(
        "queries B / A: {:.3}",
        qb.per_second / qa.per_second.max(f64::EPSILON)
    );
    drop(servers);
}
