//! Three gateway processes on one PostgreSQL database are one gateway, even while one of
//! them is killed (`kill -9`) at random moments and restarted.
//!
//! Mixed traffic goes to random nodes: orders of three merchants (one whose receiver
//! acknowledges, one whose receiver fails each notice's first attempt, one whose
//! receiver is slow), card payments, refunds, authorisations and captures, pay-later
//! codes paid at the counter, and clock advances. Afterwards, read through the storage
//! interface and the API: every answered order exists once, refunds never exceed what
//! was paid, every timer ran once, and every notice of every order was delivered. A
//! notice acknowledged and delivered again is allowed only when a kill fell between the
//! merchant's `8888` and its record; those are counted and printed.
//!
//! Runs in the suite's PostgreSQL pass (`scripts/test.sh`); SQLite is one process.

use crate::helpers::{Rng, fresh_database, gateway_command, sealed_form, start_gateway_with_env};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use mypay_gateway::ledger::merchant::{SAMPLE_STORE_KEY, SAMPLE_STORE_UID};
use mypay_gateway::ledger::state;
use mypay_gateway::store::{DatabaseUrl, NoticeFilter, ReversalKind, Store, StoreOptions};
use mypay_protocol::Prc;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROUNDS: usize = 4;
const ROUND_LENGTH: Duration = Duration::from_secs(7);
const CLIENTS: usize = 10;

/// A merchant's receiver: acknowledges every notice, fails each notice's first
/// attempt, or acknowledges slowly. Records every acknowledged body.
#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    Ack,
    FailFirst,
    Slow,
}

#[derive(Default)]
struct Received {
    seen: HashSet<String>,
    /// Bodies acknowledged, with when.
    acknowledged: Vec<(String, Instant)>,
}

async fn receiver(behaviour: Behaviour) -> (String, Arc<Mutex<Received>>) {
    let received = Arc::new(Mutex::new(Received::default()));
    let app = axum::Router::new()
        .route("/notify", post(receive))
        .with_state((received.clone(), behaviour));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/notify", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, received)
}

async fn receive(
    State((received, behaviour)): State<(Arc<Mutex<Received>>, Behaviour)>,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let body = String::from_utf8_lossy(&body).into_owned();
    if behaviour == Behaviour::Slow {
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
    let mut r = received.lock().expect("lock");
    let first = r.seen.insert(body.clone());
    if behaviour == Behaviour::FailFirst && first {
        return (StatusCode::INTERNAL_SERVER_ERROR, "busy");
    }
    r.acknowledged.push((body, Instant::now()));
    (StatusCode::OK, "8888")
}

/// A gateway process: started, killed, restarted.
struct Node {
    child: Child,
    base: String,
}

/// A node never outlives its test, however the test ends.
impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_node(db: &DatabaseUrl) -> Node {
    let (child, base) = start_gateway_with_env(db, &[("MYPAY_LEASE_SECS", "3")]);
    Node { child, base }
}

#[derive(Clone)]
struct Merchant {
    store_uid: String,
    key: String,
}

#[derive(Clone, Debug)]
struct Answered {
    uid: u64,
    key: String,
    store_uid: String,
    order_id: String,
    cost: i64,
}

#[derive(Default)]
struct Book {
    orders: Vec<Answered>,
    /// Refunds answered B200: (order uid, refund_uid, cost).
    refunds: Vec<(u64, u64, i64)>,
    kills: Vec<Instant>,
    unanswered: usize,
}

struct Cluster {
    nodes: Mutex<Vec<String>>,
    http: reqwest::Client,
}

impl Cluster {
    fn any(&self, rng: &mut Rng) -> String {
        let nodes = self.nodes.lock().expect("lock");
        nodes[rng.below(nodes.len() as u64) as usize].clone()
    }

    /// A sealed command to a random node; `None` when that node did not answer (it
    /// was killed under the request).
    async fn api(&self, rng: &mut Rng, m: &Merchant, cmd: &str, data: &Value) -> Option<Value> {
        let body = sealed_form(&m.store_uid, &m.key, cmd, data);
        let response = self
            .http
            .post(format!("{}/api/init", self.any(rng)))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }

    async fn sandbox(&self, rng: &mut Rng, path: &str, body: Value) -> Option<(u16, Value)> {
        let response = self
            .http
            .post(format!("{}{path}", self.any(rng)))
            .json(&body)
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.json().await.ok()?))
    }

    /// An order, retried on other nodes while unanswered (the same request: a retry
    /// of an order that was stored is that order), booked as answered.
    async fn order(
        &self,
        rng: &mut Rng,
        m: &Merchant,
        data: &Value,
        book: &Mutex<Book>,
    ) -> Option<Answered> {
        for _ in 0..6 {
            match self.api(rng, m, "api/orders", data).await {
                Some(answer) => {
                    assert_eq!(answer["code"], "200", "{answer}");
                    let order = Answered {
                        uid: answer["uid"].as_u64().expect("uid"),
                        key: answer["key"].as_str().expect("key").to_owned(),
                        store_uid: m.store_uid.clone(),
                        order_id: data["order_id"].as_str().expect("id").to_owned(),
                        cost: data["cost"].as_str().expect("cost").parse().expect("cost"),
                    };
                    book.lock().expect("lock").orders.push(order.clone());
                    return Some(order);
                }
                None => {
                    book.lock().expect("lock").unanswered += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        None
    }

    /// The sandbox's `pay` helper for order `uid`; whether it answered 200.
    async fn pay(&self, rng: &mut Rng, uid: u64, body: Value) -> bool {
        self.sandbox(rng, &format!("/sandbox/orders/{uid}/pay"), body)
            .await
            .is_some_and(|(status, _)| status == 200)
    }
}

/// A test card that is approved without a 3-D Secure step.
fn card() -> Value {
    json!({"card_number": "4058650600065507", "expiry": "1022", "cvc": "395"})
}

fn order_json(m: &Merchant, order_id: &str, cost: i64) -> Value {
    json!({
        "store_uid": m.store_uid,
        "items": [{"id": "1", "name": "商品", "cost": cost.to_string(), "amount": "1", "total": cost.to_string()}],
        "cost": cost.to_string(),
        "user_id": "node-test",
        "order_id": order_id,
        "ip": "127.0.0.1",
        "pfn": "0",
    })
}

/// One client: a stream of random work until `until`.
async fn client(
    cluster: Arc<Cluster>,
    merchants: Arc<Vec<Merchant>>,
    book: Arc<Mutex<Book>>,
    seed: u64,
    until: Instant,
) {
    let mut rng = Rng(seed);
    let mut n = 0;
    while Instant::now() < until {
        n += 1;
        let m = &merchants[rng.below(merchants.len() as u64) as usize];
        let order_id = format!("N{seed}-{n}");
        let cost = 100 + rng.below(900) as i64;
        match rng.below(10) {
            // A card payment, and sometimes refunds of it.
            0..=3 => {
                let Some(order) = cluster
                    .order(&mut rng, m, &order_json(m, &order_id, cost), &book)
                    .await
                else {
                    continue;
                };
                if !cluster.pay(&mut rng, order.uid, card()).await {
                    continue;
                }
                for _ in 0..rng.below(3) {
                    let part = 1 + rng.below(order.cost as u64 / 2) as i64;
                    let data =
                        json!({"uid": order.uid.to_string(), "key": order.key, "cost": part});
                    if let Some(answer) = cluster.api(&mut rng, m, "api/refund", &data).await
                        && answer["code"] == "B200"
                    {
                        let refund_uid = answer["row_data"]["refund_uid"]
                            .as_u64()
                            .expect("refund_uid");
                        book.lock()
                            .expect("lock")
                            .refunds
                            .push((order.uid, refund_uid, part));
                    }
                }
            }
            // An authorisation, then a capture of part of it.
            4..=5 => {
                let mut data = order_json(m, &order_id, cost);
                data["creditcard_is_automatic_payment"] = json!("0");
                let Some(order) = cluster.order(&mut rng, m, &data, &book).await else {
                    continue;
                };
                if !cluster.pay(&mut rng, order.uid, card()).await {
                    continue;
                }
                let part = 1 + rng.below(order.cost as u64) as i64;
                let capture = json!({
                    "uid": order.uid.to_string(), "key": order.key, "cost": part,
                    "items": [{"id": "1", "name": "商品", "cost": part.to_string(), "amount": "1", "total": part.to_string()}],
                });
                let _ = cluster
                    .api(&mut rng, m, "api/authorizedrequestpayment", &capture)
                    .await;
            }
            // A convenience-store code, paid at the counter or left to expire.
            6..=7 => {
                let Some(order) = cluster
                    .order(&mut rng, m, &order_json(m, &order_id, cost), &book)
                    .await
                else {
                    continue;
                };
                let issued = cluster
                    .pay(&mut rng, order.uid, json!({"pfn": "CSTORECODE"}))
                    .await;
                if issued && rng.below(2) == 0 {
                    let _ = cluster
                        .sandbox(
                            &mut rng,
                            &format!("/sandbox/orders/{}/offline-payment", order.uid),
                            json!({}),
                        )
                        .await;
                }
            }
            // The clock moves, on whichever node.
            _ => {
                let seconds = [61, 301, 3600, 6 * 3600][rng.below(4) as usize];
                let _ = cluster
                    .sandbox(
                        &mut rng,
                        "/sandbox/clock/advance",
                        json!({"seconds": seconds}),
                    )
                    .await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_survive_kills_as_one_gateway() {
    let db = fresh_database();
    if !matches!(*db, DatabaseUrl::Postgres(_)) {
        eprintln!("three nodes: runs on PostgreSQL (MYPAY_TEST_POSTGRES)");
        return;
    }
    // Three nodes starting at once on an empty database all come up.
    let starting: Vec<_> = (0..3)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || start_node(&db))
        })
        .collect();
    let mut nodes: Vec<Node> = starting
        .into_iter()
        .map(|t| t.join().expect("a node starts"))
        .collect();

    // Three merchants, one per kind of receiver.
    let mut merchants = vec![Merchant {
        store_uid: SAMPLE_STORE_UID.into(),
        key: SAMPLE_STORE_KEY.into(),
    }];
    for _ in 0..2 {
        let (ok, out, err) = gateway_command(
            &db,
            &["merchant", "create", "--name", "Node shop", "--json"],
        );
        assert!(ok, "{err}");
        let created: Value = serde_json::from_str(&out).expect("json");
        merchants.push(Merchant {
            store_uid: created["store_uid"].as_str().expect("uid").into(),
            key: created["key"].as_str().expect("key").into(),
        });
    }
    let mut receivers = Vec::new();
    for (m, behaviour) in
        merchants
            .iter()
            .zip([Behaviour::Ack, Behaviour::FailFirst, Behaviour::Slow])
    {
        let (url, received) = receiver(behaviour).await;
        let (ok, _, err) = gateway_command(
            &db,
            &[
                "merchant",
                "set",
                &m.store_uid,
                "--notify-url",
                &url,
                "--refund-url",
                &url,
            ],
        );
        assert!(ok, "{err}");
        receivers.push(received);
    }

    let cluster = Arc::new(Cluster {
        nodes: Mutex::new(nodes.iter().map(|n| n.base.clone()).collect()),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http"),
    });
    let merchants = Arc::new(merchants);
    let book = Arc::new(Mutex::new(Book::default()));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..ROUNDS {
        let until = Instant::now() + ROUND_LENGTH;
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                tokio::spawn(client(
                    cluster.clone(),
                    merchants.clone(),
                    book.clone(),
                    (round * 100 + c + 1) as u64,
                    until,
                ))
            })
            .collect();
        // One node dies at a random moment of the round, and is back soon after.
        tokio::time::sleep(Duration::from_millis(1000 + rng.below(4000))).await;
        let victim = rng.below(nodes.len() as u64) as usize;
        nodes[victim].child.kill().expect("kill -9");
        let _ = nodes[victim].child.wait();
        book.lock().expect("lock").kills.push(Instant::now());
        tokio::time::sleep(Duration::from_millis(300 + rng.below(1000))).await;
        let db2 = db.clone();
        nodes[victim] = tokio::task::spawn_blocking(move || start_node(&db2))
            .await
            .expect("restart");
        *cluster.nodes.lock().expect("lock") = nodes.iter().map(|n| n.base.clone()).collect();
        for c in clients {
            c.await.expect("client");
        }
    }

    // Everything left runs out: days pass (retries, deadlines, batches), on each node.
    for i in 0..8 {
        let base = nodes[i % nodes.len()].base.clone();
        let answer = cluster
            .http
            .post(format!("{base}/sandbox/clock/advance"))
            .json(&json!({"seconds": 86_400}))
            .send()
            .await
            .expect("advance");
        assert_eq!(answer.status(), 200);
    }
    // Slow deliveries started before the last advance finish.
    let store = Store::open(&db, &StoreOptions::default())
        .await
        .expect("store");
    let now = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 10_000);
    let settled = Instant::now() + Duration::from_secs(30);
    while store.notices_due(now.into()).await.expect("due") && Instant::now() < settled {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let book = std::mem::take(&mut *book.lock().expect("lock"));
    assert!(
        book.orders.len() > 50,
        "enough traffic: {}",
        book.orders.len()
    );
    // Every answered order exists, once.
    let mut by_order_id: HashMap<(String, String), HashSet<u64>> = HashMap::new();
    for o in &book.orders {
        by_order_id
            .entry((o.store_uid.clone(), o.order_id.clone()))
            .or_default()
            .insert(o.uid);
    }
    for ((store_uid, order_id), answered) in &by_order_id {
        let stored = store.order_uids(store_uid, order_id).await.expect("uids");
        assert_eq!(stored.len(), 1, "{order_id}: stored as {stored:?}");
        assert_eq!(answered.len(), 1, "{order_id}: answered as {answered:?}");
        assert!(answered.contains(&stored[0]));
    }
    let answered_refunds: HashMap<u64, i64> = book
        .refunds
        .iter()
        .map(|(_, id, cost)| (*id, *cost))
        .collect();
    let mut paid_orders = 0;
    let mut redelivered = 0;
    let acknowledged: Vec<HashMap<String, Vec<Instant>>> = receivers
        .iter()
        .map(|r| {
            let mut times: HashMap<String, Vec<Instant>> = HashMap::new();
            for (body, at) in &r.lock().expect("lock").acknowledged {
                times.entry(body.clone()).or_default().push(*at);
            }
            times
        })
        .collect();
    // A notice acknowledged twice: a node was killed after the first `8888` reached it
    // and before it recorded it (the lease then ran out and another node sent it again).
    for times in acknowledged.iter().flat_map(|m| m.values()) {
        for pair in times.windows(2) {
            redelivered += 1;
            let explained = book
                .kills
                .iter()
                .any(|k| *k + Duration::from_millis(500) >= pair[0] && *k <= pair[1]);
            assert!(
                explained,
                "a notice was delivered again with no kill between: {times:?}"
            );
        }
    }
    for o in &book.orders {
        let row = store
            .order(o.uid)
            .await
            .expect("read")
            .expect("the order exists");
        // Refunds never exceed what was paid, and every answered refund is recorded.
        let records = store.reversals(o.uid).await.expect("reversals");
        let standing: i64 = records
            .iter()
            .filter(|r| r.kind == ReversalKind::Refund && r.prc.code() != "220")
            .map(|r| r.cost)
            .sum();
        assert_eq!(standing, row.refunded, "order {}", o.uid);
        assert!(
            row.refunded <= row.actual_cost.unwrap_or(0),
            "order {}: {row:?}",
            o.uid
        );
        for r in &records {
            if let Some(cost) = answered_refunds.get(&r.id) {
                assert_eq!(*cost, r.cost);
            }
        }
        // The history is the state table's, each state reached once.
        let events = store.events(o.uid).await.expect("events");
        let mut reached = HashSet::new();
        for e in &events {
            let from = e.from_prc.as_deref().map(|p| Prc::parse(p).expect("state"));
            let to = Prc::parse(&e.to_prc).expect("state");
            assert!(state::is_allowed(from, to), "order {}: {events:?}", o.uid);
            assert!(
                reached.insert(e.to_prc.clone()),
                "order {} reached {} twice: {events:?}",
                o.uid,
                e.to_prc
            );
        }
        // Every notice was delivered, and acknowledged by its merchant's receiver.
        let notices = store
            .notices(&NoticeFilter {
                uid: Some(o.uid),
                ..Default::default()
            })
            .await
            .expect("notices");
        if state::is_success(row.prc) {
            paid_orders += 1;
            assert!(
                !notices.is_empty(),
                "order {} was paid and notified nothing",
                o.uid
            );
        }
        let m = merchants
            .iter()
            .position(|m| m.store_uid == o.store_uid)
            .expect("merchant");
        for n in &notices {
            assert_eq!(n.status, "delivered", "order {}: {n:?}", o.uid);
            assert!(
                acknowledged[m].contains_key(&n.body),
                "order {}: the receiver never acknowledged {}",
                o.uid,
                n.body
            );
        }
    }
    // Every timer ran, once (a second run would have reached a state twice, above).
    let totals = store.totals().await.expect("totals");
    assert_eq!(totals.timers_open, 0, "{totals:?}");
    assert!(refund_ids_unique(&book.refunds));
    println!(
        "three nodes: {} orders answered ({} paid), {} refunds, {} kills, {} requests unanswered \
         under a kill, {} notices delivered again after 8888 (a kill between the reply and its record)",
        book.orders.len(),
        paid_orders,
        book.refunds.len(),
        book.kills.len(),
        book.unanswered,
        redelivered
    );
    drop(nodes);
}

fn refund_ids_unique(refunds: &[(u64, u64, i64)]) -> bool {
    let ids: HashSet<u64> = refunds.iter().map(|r| r.1).collect();
    ids.len() == refunds.len()
}
