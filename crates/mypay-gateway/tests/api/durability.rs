//! An answered order survives `kill -9` of the gateway process (WAL, synchronous=FULL,
//! answers only after the group commit).

use crate::helpers::{fresh_db_path, sample_order_json};
use mypay_client::Client;
use mypay_gateway::ledger::merchant::{SAMPLE_STORE_KEY, SAMPLE_STORE_UID};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Start the real binary on a random port; its base URL from the startup banner.
fn start_gateway(db: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mypay-gateway"))
        .args(["--listen", "127.0.0.1:0", "--database"])
        .arg(db)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the gateway starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines.next().expect("a banner line").expect("utf-8");
        if let Some(rest) = line.split("POST ").nth(1) {
            break rest
                .split("/api/init")
                .next()
                .expect("url")
                .trim()
                .to_owned();
        }
    };
    // Keep reading what it prints, as a supervisor would.
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

#[tokio::test]
async fn answered_orders_survive_kill_9() {
    let db = fresh_db_path();
    let (mut first, base) = start_gateway(&db);
    let client = Client::new(
        &format!("{base}/api/init"),
        SAMPLE_STORE_UID,
        SAMPLE_STORE_KEY,
    )
    .expect("client");
    let mut answered = Vec::new();
    for i in 0..20 {
        let order =
            serde_json::from_value(sample_order_json(&format!("KILL-{i}"), 10 + i)).expect("order");
        answered.push(client.create_order(&order).await.expect("created"));
    }
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");

    let (mut second, base) = start_gateway(&db);
    let client = Client::new(
        &format!("{base}/api/init"),
        SAMPLE_STORE_UID,
        SAMPLE_STORE_KEY,
    )
    .expect("client");
    for (i, order) in answered.iter().enumerate() {
        let record = client
            .query_order(order.uid, &order.key)
            .await
            .expect("still there");
        assert_eq!(record.order_id, format!("KILL-{i}"));
        assert_eq!(record.prc, "200");
    }
    second.kill().expect("SIGKILL");
    let _ = second.wait();
}
