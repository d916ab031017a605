//! An operator's change of a merchant (settings, keys), made by another process (the
//! `merchant` command) on the installation's database, is seen by the very next request,
//! on every node: no window in which a notice goes to the old URL or a revoked key still
//! opens a request.

use crate::helpers::{
    Receiver, Reply, TestApp, fresh_database, gateway_command, sample_order_json, spawn_app,
    spawn_app_with,
};
use mypay_gateway::clock::Clock;
use mypay_gateway::ledger::merchant::SAMPLE_STORE_UID;
use mypay_gateway::store::DatabaseUrl;
use serde_json::Value;
use std::time::{Duration, Instant};

/// The command line's `merchant` command, as an operator runs it beside the gateway;
/// its output, and when it returned.
fn operator(db: &DatabaseUrl, args: &[&str]) -> (String, Instant) {
    let mut full = vec!["merchant"];
    full.extend_from_slice(args);
    let (ok, out, err) = gateway_command(db, &full);
    assert!(ok, "{args:?}: {err}");
    (out, Instant::now())
}

/// A request sent right after the command returned: the premise of these tests.
fn promptly(since: Instant) {
    assert!(
        since.elapsed() < Duration::from_millis(50),
        "the request went {:?} after the change",
        since.elapsed()
    );
}

/// An order paid by card on `paid_on` after it was placed on `placed_on`.
async fn paid_order(placed_on: &TestApp, paid_on: &TestApp, order_id: &str) -> u64 {
    let (uid, _) = placed_on.sample_order(order_id, 100).await;
    let paid = paid_on
        .pay(uid, "4058650600065507", "1022", "395", None)
        .await;
    assert_eq!(paid["prc"], "250", "{paid}");
    uid
}

/// The order answered by merchant `store_uid` with `key`.
async fn order_as(app: &TestApp, store_uid: &str, key: &str, order_id: &str) -> Value {
    let mut order = sample_order_json(order_id, 100);
    order["store_uid"] = store_uid.into();
    app.api_as(store_uid, key, "api/orders", &order).await
}

fn credentials(out: &str) -> (String, String) {
    let v: Value = serde_json::from_str(out.trim()).expect("JSON credentials");
    (
        v["store_uid"].as_str().expect("store_uid").to_owned(),
        v["key"].as_str().expect("key").to_owned(),
    )
}

#[tokio::test]
async fn a_notify_url_set_from_the_command_line_gets_the_next_payments_notice() {
    let app = spawn_app().await;
    let (old, new) = (
        Receiver::start(vec![Reply::Ack]).await,
        Receiver::start(vec![Reply::Ack]).await,
    );
    app.set_notify_url(&old.url).await;
    // The gateway knows the merchant (a paid order, its notice delivered).
    paid_order(&app, &app, "CHANGE-1").await;
    app.drain().await;
    assert_eq!((old.count(), new.count()), (1, 0));

    let (_, changed) = operator(
        &app.database,
        &["set", SAMPLE_STORE_UID, "--notify-url", &new.url],
    );
    promptly(changed);
    paid_order(&app, &app, "CHANGE-2").await;
    app.drain().await;
    assert_eq!(
        (old.count(), new.count()),
        (1, 1),
        "the notice went to the new URL"
    );
    assert!(new.bodies()[0].contains("CHANGE-2"));
    app.finish().await;
}

#[tokio::test]
async fn keys_rotated_from_the_command_line_work_and_stop_at_the_next_request() {
    // On the real time, as the command line is: a key is valid from the moment it is
    // made, on its merchant's clock.
    let app = spawn_app_with(fresh_database(), Clock::test(), |_| {}).await;
    let (out, _) = operator(&app.database, &["create", "--json"]);
    let (store_uid, first) = credentials(&out);
    assert_eq!(
        order_as(&app, &store_uid, &first, "KEY-1").await["code"],
        "200"
    );

    // A new key works at once, beside the old one (the overlap).
    let (out, rotated) = operator(&app.database, &["rotate-key", &store_uid, "--json"]);
    let (_, second) = credentials(&out);
    promptly(rotated);
    assert_eq!(
        order_as(&app, &store_uid, &second, "KEY-2").await["code"],
        "200"
    );
    assert_eq!(
        order_as(&app, &store_uid, &first, "KEY-3").await["code"],
        "200"
    );

    // Revoked: the very next request with an old key is refused.
    let (out, revoked) = operator(
        &app.database,
        &["rotate-key", &store_uid, "--revoke-old", "--json"],
    );
    let (_, third) = credentials(&out);
    promptly(revoked);
    let refused = order_as(&app, &store_uid, &second, "KEY-4").await;
    assert_eq!(refused["code"], "100", "{refused}");
    assert_eq!(
        order_as(&app, &store_uid, &first, "KEY-5").await["code"],
        "100"
    );
    assert_eq!(
        order_as(&app, &store_uid, &third, "KEY-6").await["code"],
        "200"
    );
    app.finish().await;
}

/// Three nodes on one PostgreSQL database: the change is made on the database by the
/// command line; the order is placed on one node, paid on another, its notice delivered
/// by whichever node takes it; a revoked key is refused by a node that had used it.
#[tokio::test]
async fn on_three_nodes_a_change_is_seen_by_every_node_at_once() {
    let db = fresh_database();
    if !matches!(*db, DatabaseUrl::Postgres(_)) {
        // SQLite is one process: the test above is its case. This runs in the suite's
        // PostgreSQL pass.
        return;
    }
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(spawn_app_with(db.clone(), Clock::test(), |_| {}).await);
    }
    let (old, new) = (
        Receiver::start(vec![Reply::Ack]).await,
        Receiver::start(vec![Reply::Ack]).await,
    );
    nodes[0].set_notify_url(&old.url).await;
    let (out, _) = operator(&db, &["create", "--json"]);
    let (store_uid, key) = credentials(&out);
    // Every node knows both merchants.
    for (i, node) in nodes.iter().enumerate() {
        paid_order(node, node, &format!("NODES-{i}")).await;
        let order = order_as(node, &store_uid, &key, &format!("NODES-K{i}")).await;
        assert_eq!(order["code"], "200", "{order}");
    }
    for node in &nodes {
        node.drain().await;
    }
    assert_eq!((old.count(), new.count()), (3, 0));

    let (_, changed) = operator(&db, &["set", SAMPLE_STORE_UID, "--notify-url", &new.url]);
    promptly(changed);
    paid_order(&nodes[1], &nodes[2], "NODES-NEW").await;
    for node in &nodes {
        node.drain().await;
    }
    assert_eq!(
        (old.count(), new.count()),
        (3, 1),
        "the notice went to the new URL"
    );

    let (_, revoked) = operator(&db, &["rotate-key", &store_uid, "--revoke-old"]);
    promptly(revoked);
    for (i, node) in nodes.iter().enumerate() {
        let refused = order_as(node, &store_uid, &key, &format!("NODES-R{i}")).await;
        assert_eq!(refused["code"], "100", "node {i}: {refused}");
    }
    for node in nodes {
        node.finish().await;
    }
}
