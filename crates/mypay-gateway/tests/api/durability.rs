//! An answered order survives `kill -9` of the gateway process (WAL, synchronous=FULL,
//! answers only after the group commit).

use crate::helpers::{fresh_database, sample_order_json, start_gateway};
use mypay_client::Client;
use mypay_gateway::ledger::merchant::{SAMPLE_STORE_KEY, SAMPLE_STORE_UID};

#[tokio::test]
async fn answered_orders_survive_kill_9() {
    let db = fresh_database();
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
