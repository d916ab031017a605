use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use mypay_client::Client;
use mypay_gateway::app::Application;
use mypay_gateway::clock::Clock;
use mypay_gateway::config::Settings;
use mypay_gateway::ledger::merchant::{MerchantSettings, SAMPLE_STORE_KEY, SAMPLE_STORE_UID};
use mypay_gateway::state::AppState;
use mypay_gateway::store::{DatabaseUrl, Store, Totals};
use mypay_protocol::envelope::{self, MerchantKey};
use mypay_protocol::messages::RefundRow;
use mypay_protocol::notice::TransactionNotice;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The instant every test starts at (a Monday, 10:00 in Taipei).
pub fn start_time() -> jiff::Timestamp {
    "2026-11-23T02:00:00Z".parse().expect("timestamp")
}

pub struct TestApp {
    pub base: String,
    /// The back office's base URL, when the test gave it a listener.
    pub admin_base: Option<String>,
    pub state: AppState,
    pub client: Client,
    /// A consumer's browser without cookies or redirects.
    pub http: reqwest::Client,
    pub database: TestDatabase,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

static NEXT_DB: AtomicU64 = AtomicU64::new(0);

/// A fresh, empty database for one test, removed when the last handle of it is dropped
/// (its folder, or its PostgreSQL database): a SQLite file in a new folder, or, when
/// `MYPAY_TEST_POSTGRES` names a PostgreSQL server (`postgres://USER@HOST:PORT`, as
/// `scripts/test.sh` starts one), a new database on it.
#[derive(Clone)]
pub struct TestDatabase {
    url: DatabaseUrl,
    /// What removes the database when the last handle goes.
    _owned: Arc<Owned>,
}

enum Owned {
    Folder(PathBuf),
    Postgres { server: String, name: String },
}

impl Drop for Owned {
    fn drop(&mut self) {
        match self {
            Owned::Folder(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Owned::Postgres { server, name } => {
                // FORCE: a gateway of the test may still hold connections.
                let _ = Command::new("psql")
                    .arg(format!("{server}/postgres"))
                    .args(["-q", "-c"])
                    .arg(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .output();
            }
        }
    }
}

impl std::ops::Deref for TestDatabase {
    type Target = DatabaseUrl;
    fn deref(&self) -> &DatabaseUrl {
        &self.url
    }
}

impl TestDatabase {
    /// The same database reached at `url` (through a relay, say); removed with this one.
    pub fn reached_at(&self, url: DatabaseUrl) -> TestDatabase {
        TestDatabase {
            url,
            _owned: self._owned.clone(),
        }
    }
}

pub fn fresh_database() -> TestDatabase {
    let n = NEXT_DB.fetch_add(1, Ordering::Relaxed);
    match std::env::var("MYPAY_TEST_POSTGRES") {
        Ok(server) if !server.is_empty() => {
            let server = server.trim_end_matches('/').to_owned();
            let name = format!("t_{}_{n}", std::process::id());
            crate::process::succeed(
                Command::new("psql")
                    .arg(format!("{server}/postgres"))
                    .args(["-q", "-v", "ON_ERROR_STOP=1", "-c"])
                    .arg(format!("CREATE DATABASE {name}")),
                &format!("creating {name} (MYPAY_TEST_POSTGRES is set)"),
            );
            TestDatabase {
                url: format!("{server}/{name}").parse().expect("database url"),
                _owned: Arc::new(Owned::Postgres { server, name }),
            }
        }
        _ => {
            let dir = std::env::temp_dir().join(format!("mypay-test-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            TestDatabase {
                url: DatabaseUrl::Sqlite(dir.join("mypay.sqlite")),
                _owned: Arc::new(Owned::Folder(dir)),
            }
        }
    }
}

/// A fresh database holding the document's sample merchant (production seeds none).
pub async fn database_with_sample_merchant() -> TestDatabase {
    let db = fresh_database();
    let store = mypay_gateway::store::Store::open(&db, &Default::default())
        .await
        .expect("store");
    store
        .seed_sample_merchant(jiff::Timestamp::now())
        .await
        .expect("merchant");
    db
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(fresh_database(), Clock::frozen(start_time()), |_| {}).await
}

pub async fn spawn_app_with(
    database: TestDatabase,
    clock: Clock,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn_app_with_acquirer(database, clock, tweak, None).await
}

/// The gateway with an upstream connector of the test's own (production needs one).
pub async fn spawn_app_with_acquirer(
    database: TestDatabase,
    clock: Clock,
    tweak: impl FnOnce(&mut Settings),
    acquirer: Option<std::sync::Arc<dyn mypay_gateway::ledger::connector::CardAcquirer>>,
) -> TestApp {
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse().expect("addr"),
        database: DatabaseUrl::clone(&database),
        worker_poll: Duration::from_millis(50),
        ..Settings::default()
    };
    tweak(&mut settings);
    let app = Application::build_with(settings, clock, acquirer)
        .await
        .expect("gateway builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let admin_base = app
        .admin_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    let state = app.state().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        app.run_until(async {
            let _ = rx.await;
        })
        .await
        .expect("gateway runs");
    });
    let client = Client::new(
        &format!("{base}/api/init"),
        SAMPLE_STORE_UID,
        SAMPLE_STORE_KEY,
    )
    .expect("client");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http");
    TestApp {
        base,
        admin_base,
        state,
        client,
        http,
        database,
        shutdown: Some(tx),
        task: Some(task),
    }
}

impl TestApp {
    /// Stop serving and the workers (the database stays for a restart).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Run every timer and notice attempt due now to completion (the workers' own step),
    /// so a test reads what they did without waiting for them.
    pub async fn drain(&self) -> usize {
        let ran = mypay_gateway::service::timers::run_due(&self.state.core)
            .await
            .expect("timers run");
        self.state.deliveries.drain().await.expect("notices drain");
        ran
    }

    /// End a test: run every timer and notice attempt due now to completion (the
    /// workers' own drain step), then check that no work is left due, and stop.
    pub async fn finish(self) {
        let ran = self.drain().await;
        let now = self.state.clocks.shared().now();
        let backlog = self.state.store.backlog(now).await.expect("backlog");
        assert_eq!(
            (backlog.notices_due, backlog.timers_due),
            (0, 0),
            "work left due at the end of the test (after {ran} timers ran): {backlog:?}"
        );
        self.stop().await;
    }

    /// Post a sealed command with the sample merchant's key, as a PHP/Python client would.
    pub async fn api(&self, cmd: &str, data: &Value) -> Value {
        self.api_as(SAMPLE_STORE_UID, SAMPLE_STORE_KEY, cmd, data)
            .await
    }

    /// Post a sealed command as the merchant `store_uid` with `key`.
    pub async fn api_as(&self, store_uid: &str, key: &str, cmd: &str, data: &Value) -> Value {
        let body = sealed_form(store_uid, key, cmd, data);
        self.post_raw("/api/init", "application/x-www-form-urlencoded", body)
            .await
    }

    /// Post any body; assert HTTP 200 and a JSON answer.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: String) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "the API always answers HTTP 200");
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/json; charset=utf-8")
        );
        response.json().await.expect("JSON answer")
    }

    /// A receiver that acknowledges every notice, set as the sample merchant's notify URL.
    pub async fn receiver(&self) -> Receiver {
        let receiver = Receiver::start(vec![Reply::Ack]).await;
        self.set_notify_url(&receiver.url).await;
        receiver
    }

    /// The same, also set as the refund notices' URL.
    pub async fn receiver_of_every_notice(&self) -> Receiver {
        let receiver = self.receiver().await;
        self.set_refund_url(&receiver.url).await;
        receiver
    }

    /// A command on one order (`uid` and `key`, as the document's samples send them).
    pub async fn on_order(&self, cmd: &str, uid: u64, key: &str) -> Value {
        self.api(cmd, &json!({"uid": uid.to_string(), "key": key}))
            .await
    }

    /// `GET` a path of the gateway, as a browser would.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET")
    }

    /// Open a page the API answered (its `url`) in `locale`.
    pub async fn page(&self, url: &str, locale: &str) -> reqwest::Response {
        self.http
            .get(format!("{url}?locale={locale}"))
            .send()
            .await
            .expect("page")
    }

    pub async fn order(&self, data: &Value) -> Value {
        self.api("api/orders", data).await
    }

    /// Create an order like the document's sample, with `order_id` and `cost`.
    pub async fn sample_order(&self, order_id: &str, cost: i64) -> (u64, String) {
        let answer = self.order(&sample_order_json(order_id, cost)).await;
        assert_eq!(answer["code"], "200", "{answer}");
        placed(&answer)
    }

    pub async fn query(&self, uid: u64, key: &str) -> Value {
        self.on_order("api/queryorder", uid, key).await
    }

    pub async fn sandbox(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = StatusCode::from_u16(response.status().as_u16()).expect("status");
        (status, response.json().await.expect("json"))
    }

    /// The sandbox's consumer pays order `uid` as `body` says (a card, or a tool `pfn`).
    pub async fn pay_with(&self, uid: u64, body: Value) -> (StatusCode, Value) {
        self.sandbox(&format!("/sandbox/orders/{uid}/pay"), body)
            .await
    }

    /// The consumer pays `uid` at a convenience store (a store code, then the store's
    /// payment).
    pub async fn pay_at_a_store(&self, uid: u64) {
        let (status, body) = self.pay_with(uid, json!({"pfn": "CSTORECODE"})).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = self
            .sandbox(&format!("/sandbox/orders/{uid}/offline-payment"), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
    }

    pub async fn pay(
        &self,
        uid: u64,
        card: &str,
        expiry: &str,
        cvc: &str,
        otp: Option<&str>,
    ) -> Value {
        let (status, body) = self
            .pay_with(
                uid,
                json!({"card_number": card, "expiry": expiry, "cvc": cvc, "otp": otp}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn advance(&self, seconds: i64) -> Value {
        let (status, body) = self
            .sandbox("/sandbox/clock/advance", json!({"seconds": seconds}))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn notices(&self, uid: u64) -> Vec<Value> {
        let page = self.get(&format!("/sandbox/notifications?uid={uid}")).await;
        let v: Value = page.json().await.expect("json");
        v["notifications"].as_array().cloned().unwrap_or_default()
    }

    /// Change the sample merchant's settings as the `merchant set` command would.
    pub async fn update_merchant(&self, change: impl FnOnce(&mut MerchantSettings)) {
        let store = &self.state.store;
        let mut m = store
            .merchant(SAMPLE_STORE_UID)
            .await
            .expect("db")
            .expect("merchant");
        change(&mut m.settings);
        store
            .save_settings(SAMPLE_STORE_UID, &m.settings)
            .await
            .expect("saved");
    }

    pub async fn set_notify_url(&self, url: &str) {
        self.update_merchant(|s| {
            s.notify.completed = Some(url.to_owned());
            s.notify.non_real_time = Some(url.to_owned());
            s.notify.confirmation = Some(url.to_owned());
        })
        .await;
    }

    /// Where refund notices go (`merchant set --refund-url`); unset, none are sent.
    pub async fn set_refund_url(&self, url: &str) {
        self.update_merchant(|s| s.notify.refund = Some(url.to_owned()))
            .await;
    }

    /// An order of `cost` paid by card (`250`), or authorised only (`245`) when
    /// `authorise_only`.
    pub async fn card_order(
        &self,
        order_id: &str,
        cost: i64,
        authorise_only: bool,
    ) -> (u64, String) {
        let mut data = sample_order_json(order_id, cost);
        if authorise_only {
            data["creditcard_is_automatic_payment"] = json!("0");
        }
        let answer = self.order(&data).await;
        assert_eq!(answer["code"], "200", "{answer}");
        let uid = answer["uid"].as_u64().expect("uid");
        let key = answer["key"].as_str().expect("key").to_owned();
        let paid = self.pay(uid, "4058650600065507", "1022", "395", None).await;
        let expected = if authorise_only { "245" } else { "250" };
        assert_eq!(paid["prc"], expected, "{paid}");
        (uid, key)
    }

    /// `api/refund` of `cost` from the merchant's order.
    pub async fn refund(&self, uid: u64, key: &str, cost: i64) -> Value {
        self.api(
            "api/refund",
            &json!({"uid": uid.to_string(), "key": key, "cost": cost}),
        )
        .await
    }

    /// A second merchant with every tool and its notices going to `notify_url`.
    pub async fn add_merchant(&self, store_uid: &str, key: &str, notify_url: &str) {
        let mut settings = MerchantSettings::sandbox_defaults("another shop");
        settings.notify.completed = Some(notify_url.to_owned());
        settings.notify.non_real_time = Some(notify_url.to_owned());
        settings.notify.confirmation = Some(notify_url.to_owned());
        self.state
            .store
            .create_merchant(store_uid, None, &settings, key, start_time())
            .await
            .expect("merchant created");
    }

    /// The sandbox's view of one notice (fields, status, attempt log).
    pub async fn notice(&self, uid: u64, kind: &str) -> Value {
        self.notices(uid)
            .await
            .into_iter()
            .find(|n| n["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} notice for order {uid}"))
    }

    /// The PayPage ticket of order `uid` (`<uid>-<token>`), as in the `url` answered.
    pub fn ticket(&self, uid: u64) -> String {
        self.state.tickets.ticket(uid)
    }

    /// What is stored, for checks that nothing was written.
    pub async fn totals(&self) -> Totals {
        self.state.store.totals().await.expect("totals")
    }

    pub async fn order_count(&self) -> i64 {
        self.totals().await.orders
    }
}

/// The `uid` and `key` of an order the API placed.
#[track_caller]
pub fn placed(answer: &Value) -> (u64, String) {
    match (answer["uid"].as_u64(), answer["key"].as_str()) {
        (Some(uid), Some(key)) => (uid, key.to_owned()),
        _ => panic!("no uid and key in {answer}"),
    }
}

/// The API refused with `code`, naming `field` first in its message.
#[track_caller]
pub fn assert_refused(answer: &Value, code: &str, field: &str) {
    assert_eq!(answer["code"], code, "{answer}");
    let msg = answer["msg"].as_str().expect("msg");
    assert!(msg.starts_with(field), "{field}: {answer}");
}

/// The API refused with `code`, its message saying `part`.
#[track_caller]
pub fn assert_mentions(answer: &Value, code: &str, part: &str) {
    assert_eq!(answer["code"], code, "{answer}");
    let msg = answer["msg"].as_str().expect("msg");
    assert!(msg.contains(part), "{part}: {answer}");
}

/// The document's sample order with `fields` set as well.
pub fn sample_order_with(order_id: &str, cost: i64, fields: Value) -> Value {
    let mut order = sample_order_json(order_id, cost);
    for (name, value) in fields.as_object().expect("an object of fields") {
        order[name] = value.clone();
    }
    order
}

/// The states order `uid` went through, oldest first.
pub async fn states(store: &Store, uid: u64) -> Vec<String> {
    let events = store.events(uid).await.expect("events");
    events.into_iter().map(|e| e.to_prc).collect()
}

/// A sealed command's form body, as the document's samples post it to `/api/init`.
pub fn sealed_form(store_uid: &str, key: &str, cmd: &str, data: &Value) -> String {
    let key = MerchantKey::parse(key).expect("key");
    let service = json!({"service_name": "api", "cmd": cmd}).to_string();
    form(&[
        ("store_uid", store_uid),
        ("service", &envelope::seal(&key, service.as_bytes())),
        (
            "encry_data",
            &envelope::seal(&key, data.to_string().as_bytes()),
        ),
    ])
}

/// xorshift64*: small, deterministic, good enough to pick actions.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

pub fn sample_order_json(order_id: &str, cost: i64) -> Value {
    json!({
        "store_uid": SAMPLE_STORE_UID,
        "items": [{"id": "1", "name": "商品名稱", "cost": cost.to_string(), "amount": "1", "total": cost.to_string()}],
        "cost": cost.to_string(),
        "user_id": "phper",
        "order_id": order_id,
        "ip": "127.0.0.1",
        "pfn": "0",
        "echo_0": "first echo",
    })
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        mypay_protocol::outer::percent_encode_into(v, &mut out);
    }
    out
}

/// Poll `probe` until it gives `Some`, for up to 10 s.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..200 {
        if let Some(v) = probe().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// How a test merchant answers notices, one entry per notice received (the last repeats).
#[derive(Clone, Debug)]
pub enum Reply {
    Ack,
    Status(u16, &'static str),
    Slow(Duration),
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    pub async fn start(script: Vec<Reply>) -> Receiver {
        let received = Arc::new(Mutex::new(Vec::new()));
        let shared = (received.clone(), Arc::new(script));
        let app = axum::Router::new()
            .route("/notify", post(receive))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}/notify"),
            received,
        }
    }

    pub fn bodies(&self) -> Vec<String> {
        self.received.lock().expect("lock").clone()
    }

    pub fn count(&self) -> usize {
        self.received.lock().expect("lock").len()
    }

    /// The transaction notices received so far, in order (refund notices left out).
    pub fn transaction_notices(&self) -> Vec<TransactionNotice> {
        self.bodies()
            .iter()
            .filter(|b| !b.contains("refund_uid="))
            .map(|b| TransactionNotice::from_form(b.as_bytes()))
            .collect()
    }

    /// The refund notices (退款完成回傳資訊) received so far, in order.
    /// The first transaction notice received (the test drained its work first).
    pub fn first_transaction_notice(&self) -> TransactionNotice {
        let notices = self.transaction_notices();
        notices.into_iter().next().expect("a transaction notice")
    }

    /// The first refund notice received.
    pub fn first_refund_notice(&self) -> RefundRow {
        let notices = self.refund_notices();
        notices.into_iter().next().expect("a refund notice")
    }

    pub fn refund_notices(&self) -> Vec<RefundRow> {
        self.bodies()
            .iter()
            .filter(|b| b.contains("refund_uid="))
            .map(|b| RefundRow::from_form(b.as_bytes()))
            .collect()
    }
}

type Shared = (Arc<Mutex<Vec<String>>>, Arc<Vec<Reply>>);

async fn receive(State((received, script)): State<Shared>, body: Bytes) -> (StatusCode, String) {
    let n = {
        let mut r = received.lock().expect("lock");
        r.push(String::from_utf8_lossy(&body).into_owned());
        r.len() - 1
    };
    let reply = script
        .get(n)
        .or(script.last())
        .cloned()
        .unwrap_or(Reply::Ack);
    match reply {
        Reply::Ack => (StatusCode::OK, "8888".to_owned()),
        Reply::Status(code, body) => (StatusCode::from_u16(code).expect("status"), body.to_owned()),
        Reply::Slow(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "8888".to_owned())
        }
    }
}

/// Run futures concurrently on this task and collect their outputs in order, so that
/// requests really race (no extra dependency for it).
pub async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => *output = Some(v),
                    Poll::Pending => done = false,
                }
            }
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// Start the real binary on a random port; its base URL from the startup banner.
pub fn start_gateway(db: &DatabaseUrl) -> (Child, String) {
    start_gateway_with_env(db, &[])
}

/// [`start_gateway`] with more environment for the gateway.
pub fn start_gateway_with_env(db: &DatabaseUrl, env: &[(&str, &str)]) -> (Child, String) {
    start_gateway_with(db, &["--listen", "127.0.0.1:0"], env)
}

/// The gateway binary on `db` with `args` (a `--listen` among them) and more
/// environment; its base URL once its banner is out.
pub fn start_gateway_with(
    db: &DatabaseUrl,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mypay-gateway"))
        .arg("--database")
        .arg(db.to_connection_string())
        .args(args)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the gateway starts");
    let base = crate::process::base_url(&mut child);
    (child, base)
}

/// Run the real binary's command line on database `db`; (exit success, stdout, stderr).
pub fn gateway_command(db: &DatabaseUrl, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mypay-gateway"))
        .arg("--database")
        .arg(db.to_connection_string())
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the command runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// The cookies a page set, as a browser sends them back (`name=value; …`).
pub fn cookies(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A browser's form post, with its cookies.
pub async fn post_form(
    app: &TestApp,
    path: &str,
    jar: &str,
    pairs: &[(&str, &str)],
) -> reqwest::Response {
    app.http
        .post(format!("{}{path}", app.base))
        .header("cookie", jar)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .expect("post")
}

/// A browser's page load, with its cookies.
pub async fn get_page(app: &TestApp, path: &str, jar: &str) -> reqwest::Response {
    app.http
        .get(format!("{}{path}", app.base))
        .header("cookie", jar)
        .send()
        .await
        .expect("page")
}

pub fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    let len = html[at..].find('"').expect("end of the csrf field");
    html[at..at + len].to_owned()
}

/// A test certificate authority and a certificate it signed for 127.0.0.1 and
/// localhost, written as PEM files in `dir` (`{name}-ca.pem`, `{name}.pem`,
/// `{name}-key.pem`).
pub struct TestCert {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn test_cert(dir: &Path, name: &str) -> TestCert {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("mypay test CA {name}"));
    let ca = ca_params.self_signed(&ca_key).expect("the CA");
    let key = KeyPair::generate().expect("a key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, format!("gateway {name}"));
    let cert = params
        .signed_by(&key, &ca, &ca_key)
        .expect("the certificate");
    let out = TestCert {
        ca: dir.join(format!("{name}-ca.pem")),
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}-key.pem")),
    };
    std::fs::write(&out.ca, ca.pem()).expect("write");
    std::fs::write(&out.cert, cert.pem()).expect("write");
    std::fs::write(&out.key, key.serialize_pem()).expect("write");
    out
}

/// A client that trusts only `ca`.
pub fn client_trusting(ca: &Path) -> reqwest::Client {
    let pem = std::fs::read(ca).expect("ca");
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("pem"))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}
