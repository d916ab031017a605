//! The CLI as a user runs it, through its binary, against a gateway on a random loopback
//! port: every subcommand (reads compared with the document's Python sample sending the
//! same request), a refusal printed with exit status 1, and `listen` forwarding notices to
//! a local receiver through a gateway restart and a stop and start with `--since`.

use mypay_gateway::app::Application;
use mypay_gateway::clock::Clock;
use mypay_gateway::config::Settings;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const STORE_UID: &str = "289151880002";
const STORE_KEY: &str = "KYTjd9ACcjGaTK6V3zWmMkyrQS08Ndcx";

/// A gateway on `port` (0: any) over the database in `dir`; its base URL and its stop.
async fn gateway_on(dir: &Path, port: u16) -> (String, tokio::sync::oneshot::Sender<()>) {
    let settings = Settings {
        listen: format!("127.0.0.1:{port}").parse().expect("addr"),
        database: mypay_gateway::store::DatabaseUrl::Sqlite(dir.join("mypay.sqlite")),
        ..Settings::default()
    };
    // Notices are written for a merchant with a URL: one nobody answers (the discard
    // port), so only `listen` gets them through.
    let operator = mypay_gateway::service::merchants::Operator::open(&settings)
        .await
        .expect("operator");
    operator
        .change(
            STORE_UID,
            &mypay_gateway::ledger::merchant::SettingsChange {
                notify_url: Some("http://127.0.0.1:9/notify".into()),
                refund_url: Some("http://127.0.0.1:9/notify".into()),
                ..Default::default()
            },
        )
        .await
        .expect("notify url");
    drop(operator);
    let app = Application::build(settings, Clock::test())
        .await
        .expect("builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    (base, stop)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mypay-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// Run `mypay` with `args` against `base` (config in `config`): success, stdout, stderr.
async fn mypay(base: &str, config: &Path, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mypay"));
    cmd.env("MYPAY_URL", format!("{base}/api/init"))
        .env("XDG_CONFIG_HOME", config)
        .args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The document's Python sample `name` sending its request to `base`, with `env`.
async fn python_sample(base: &str, name: &str, env: &[(&str, String)]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/sample-clients/python")
        .join(format!("{name}.py"));
    let mut cmd = Command::new("python3");
    cmd.arg(&script)
        .env("MYPAY_URL", format!("{base}/api/init"))
        .env("MYPAY_STORE_UID", STORE_UID)
        .env("MYPAY_STORE_KEY", STORE_KEY);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("python3 runs the document's sample (pip install pycryptodome requests)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(String::from_utf8_lossy(&out.stdout).trim())
}

/// Pay `uid` with the first test card (the sandbox's helper, through the CLI).
async fn pay(base: &str, config: &Path, uid: &str) {
    let (ok, out, err) = mypay(
        base,
        config,
        &["--json", "pay", uid, "--card", "4058650600065507"],
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(json(&out)["prc"], "250", "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_subcommand_against_a_gateway_and_the_python_sample() {
    let dir = temp_dir("commands");
    let (base, _stop) = gateway_on(&dir, 0).await;
    let config = dir.join("config");

    // order (items with costs, a --field), pay, query: the same record as the sample's.
    let (ok, out, err) = mypay(
        &base,
        &config,
        &[
            "order",
            "--order-id",
            "CLI-1",
            "--cost",
            "1000",
            "--item",
            "倚天劍模型:600",
            "--item",
            "屠龍刀:200:2",
            "--field",
            "echo_0=from the cli",
            "--json",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let order = json(&out);
    assert_eq!(order["code"], "200", "{order}");
    let uid = order["uid"].as_u64().expect("uid").to_string();
    let key = order["key"].as_str().expect("key").to_owned();
    pay(&base, &config, &uid).await;
    let (ok, out, err) = mypay(&base, &config, &["--json", "query", &uid, &key]).await;
    assert!(ok, "{err}");
    let ours = json(&out);
    let sample = python_sample(
        &base,
        "queryorder",
        &[("MYPAY_UID", uid.clone()), ("MYPAY_KEY_TOKEN", key.clone())],
    )
    .await;
    let typed: mypay_client::protocol::messages::QueryRecord =
        serde_json::from_value(sample).expect("the sample's answer reads as a query record");
    assert_eq!(
        ours,
        serde_json::to_value(typed).expect("json"),
        "the same record"
    );
    assert_eq!(ours["echo_0"], "from the cli");
    assert_eq!(ours["prc"], "250");

    // The table form, without --json.
    let (ok, out, _) = mypay(&base, &config, &["query", &uid, &key]).await;
    assert!(ok);
    assert!(
        out.lines()
            .any(|l| l.starts_with("prc") && l.trim_end().ends_with("250")),
        "{out}"
    );

    // invoice and modes: the sample's answers.
    let (ok, out, err) = mypay(&base, &config, &["--json", "invoice", &uid, &key]).await;
    assert!(ok, "{err}");
    let sample = python_sample(
        &base,
        "invoice",
        &[("MYPAY_UID", uid.clone()), ("MYPAY_KEY_TOKEN", key.clone())],
    )
    .await;
    let typed: mypay_client::protocol::messages::InvoiceRecord =
        serde_json::from_value(sample).expect("an invoice record");
    assert_eq!(json(&out), serde_json::to_value(typed).expect("json"));
    let (ok, out, err) = mypay(&base, &config, &["--json", "modes", "100"]).await;
    assert!(ok, "{err}");
    let sample = python_sample(&base, "paymentsupportpaymode", &[]).await;
    assert_eq!(json(&out), sample["content"], "the same tools");

    // refund, then refund-cancel of a refund done at once: refused, printed, status 1.
    let (ok, out, err) = mypay(
        &base,
        &config,
        &["--json", "refund", &uid, &key, "--cost", "100"],
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(json(&out)["code"], "B200", "{out}");
    let (ok, out, _) = mypay(&base, &config, &["--json", "refund-cancel", &uid, &key]).await;
    assert!(!ok, "nothing to cancel: {out}");
    assert_eq!(json(&out)["code"], "B500", "the refusal printed: {out}");
    let (ok, out, _) = mypay(&base, &config, &["query", &uid, "wrong"]).await;
    assert!(!ok);
    assert!(out.contains("100"), "the refusal's code printed: {out}");

    // capture and cancel-auth of authorisations.
    for (order_id, verb) in [("CLI-AUTH-1", "capture"), ("CLI-AUTH-2", "cancel-auth")] {
        let (ok, out, err) = mypay(
            &base,
            &config,
            &[
                "--json",
                "order",
                "--order-id",
                order_id,
                "--cost",
                "300",
                "--pfn",
                "CREDITCARD",
                "--field",
                "creditcard_is_automatic_payment=0",
            ],
        )
        .await;
        assert!(ok, "{err}");
        let made = json(&out);
        let (uid, key) = (
            made["uid"].to_string(),
            made["key"].as_str().expect("key").to_owned(),
        );
        let (ok, out, err) = mypay(
            &base,
            &config,
            &["--json", "pay", &uid, "--card", "4058650600065507"],
        )
        .await;
        assert!(ok, "{err}");
        assert_eq!(json(&out)["prc"], "245", "{out}");
        let args: Vec<&str> = if verb == "capture" {
            vec!["--json", "capture", &uid, &key, "--cost", "300"]
        } else {
            vec!["--json", "cancel-auth", &uid, &key]
        };
        let (ok, out, err) = mypay(&base, &config, &args).await;
        assert!(ok, "{verb}: {err} {out}");
        assert_eq!(json(&out)["code"], "B200", "{out}");
    }

    // stop-recurring of a series, bind-wallet, issue-invoice.
    let (ok, out, err) = mypay(
        &base,
        &config,
        &[
            "--json",
            "order",
            "--order-id",
            "CLI-SUB-1",
            "--cost",
            "100",
            "--pfn",
            "DIRECTDEBIT",
            "--field",
            "regular=M",
            "--field",
            "regular_total=0",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let series = json(&out);
    let (s_uid, s_key) = (
        series["uid"].to_string(),
        series["key"].as_str().expect("key").to_owned(),
    );
    let (ok, out, _) = mypay(
        &base,
        &config,
        &["--json", "pay", &s_uid, "--card", "4058650600065507"],
    )
    .await;
    assert!(ok, "{out}");
    let (_, out, _) = mypay(&base, &config, &["--json", "query", &s_uid, &s_key]).await;
    let group_id = json(&out)["group_id"]
        .as_str()
        .expect("group_id")
        .to_owned();
    let (ok, out, err) = mypay(
        &base,
        &config,
        &[
            "--json",
            "stop-recurring",
            "--order-id",
            "CLI-SUB-1",
            "--group-id",
            &group_id,
            "--stop-time",
            "20991231",
        ],
    )
    .await;
    assert!(ok, "{err} {out}");
    assert_eq!(json(&out)["code"], "B200");
    let (ok, out, err) = mypay(
        &base,
        &config,
        &[
            "--json",
            "bind-wallet",
            "--user-id",
            "cli-wallet",
            "--ip",
            "127.0.0.1",
            "--field",
            "user_sn=A123456789",
            "--field",
            "user_cellphone_code=886",
            "--field",
            "user_cellphone=918123123",
            "--field",
            "user_real_name=金城武",
        ],
    )
    .await;
    assert!(ok, "{err} {out}");
    assert_eq!(json(&out)["code"], "B200");
    let (_, out, _) = mypay(
        &base,
        &config,
        &[
            "--json",
            "issue-invoice",
            &uid,
            &key,
            "--field",
            "invoice_input_type=1",
            "--field",
            "invoice_cloud_type=2",
            "--field",
            "invoice_mobile_code=/NFVIAZP",
        ],
    )
    .await;
    assert!(
        json(&out)["code"].is_string(),
        "an answer with the document's code: {out}"
    );
    let (ok, _, err) = mypay(
        &base,
        &config,
        &["issue-invoice", &uid, &key, "--field", "colour=red"],
    )
    .await;
    assert!(
        !ok && err.contains("colour"),
        "a field the table has not: {err}"
    );

    // The clock, the notices, completions.
    let (ok, out, err) = mypay(&base, &config, &["--json", "clock", "advance", "3d"]).await;
    assert!(ok, "{err}");
    assert_eq!(json(&out)["offset_seconds"], 259_200);
    let (ok, out, err) = mypay(&base, &config, &["notices", "--uid", &uid]).await;
    assert!(ok, "{err}");
    assert!(out.contains("completed"), "{out}");
    for shell in ["bash", "zsh", "fish"] {
        let (ok, out, _) = mypay(&base, &config, &["completions", shell]).await;
        assert!(ok && out.contains("listen"), "{shell}");
    }
}

/// A local merchant server: answers 500 to the first notice it gets (so one forward is
/// retried), `8888` after; keeps every body.
async fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let bodies = Arc::new(Mutex::new(Vec::<String>::new()));
    let kept = bodies.clone();
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(move |body: String| {
            let kept = kept.clone();
            async move {
                let mut all = kept.lock().expect("lock");
                all.push(body);
                if all.len() == 1 {
                    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "busy")
                } else {
                    (axum::http::StatusCode::OK, "8888")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/notify", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, bodies)
}

/// A `mypay listen` that stops with the test, failed or not.
struct Listening(Child);

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `mypay listen` as a child, its output lines kept.
fn listen(base: &str, config: &Path, args: &[&str]) -> (Listening, Arc<Mutex<Vec<String>>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mypay"))
        .env("MYPAY_URL", format!("{base}/api/init"))
        .env("XDG_CONFIG_HOME", config)
        .arg("listen")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("listen runs");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let kept = lines.clone();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            kept.lock().expect("lock").push(line);
        }
    });
    (Listening(child), lines)
}

async fn until(what: &str, mut probe: impl FnMut() -> bool) {
    for _ in 0..400 {
        if probe() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen");
}

async fn paid_order(base: &str, config: &Path, order_id: &str) -> String {
    let (ok, out, err) = mypay(
        base,
        config,
        &["--json", "order", "--order-id", order_id, "--cost", "100"],
    )
    .await;
    assert!(ok, "{err}");
    let uid = json(&out)["uid"].to_string();
    pay(base, config, &uid).await;
    uid
}

#[tokio::test(flavor = "multi_thread")]
async fn listen_forwards_through_a_restart_and_catches_up_after_a_stop() {
    let dir = temp_dir("listen");
    let config = dir.join("config");
    let (base, stop) = gateway_on(&dir, 0).await;
    let port: u16 = base
        .rsplit(':')
        .next()
        .expect("port")
        .parse()
        .expect("port");
    let (url, bodies) = receiver().await;
    let (child, lines) = listen(&base, &config, &["--forward-to", &url]);
    until("listening", || {
        lines
            .lock()
            .expect("lock")
            .iter()
            .any(|l| l.contains("listening"))
    })
    .await;

    // A notice forwarded: refused once (500), retried, then 8888.
    let first = paid_order(&base, &config, "LISTEN-1").await;
    until("the first notice acknowledged", || {
        lines
            .lock()
            .expect("lock")
            .iter()
            .any(|l| l.contains(&format!("uid {first}")) && l.contains("8888"))
    })
    .await;
    assert_eq!(
        bodies.lock().expect("lock").len(),
        2,
        "one refusal, one retry"
    );
    assert!(bodies.lock().expect("lock")[1].contains(&format!("uid={first}")));
    assert!(
        lines
            .lock()
            .expect("lock")
            .iter()
            .any(|l| l.contains("(retry)")),
        "the retry said: {:?}",
        lines.lock().expect("lock")
    );

    // The gateway stops: listen says so and keeps trying; back on the same port, the next
    // notice comes.
    let _ = stop.send(());
    until("the loss said", || {
        lines
            .lock()
            .expect("lock")
            .iter()
            .any(|l| l.contains("lost"))
    })
    .await;
    let (base_again, stop_again) = gateway_on(&dir, port).await;
    assert_eq!(base_again, base);
    let second = paid_order(&base, &config, "LISTEN-2").await;
    until("the second notice forwarded", || {
        bodies
            .lock()
            .expect("lock")
            .iter()
            .any(|b| b.contains(&format!("uid={second}")))
    })
    .await;
    assert!(
        lines
            .lock()
            .expect("lock")
            .iter()
            .any(|l| l.contains("reconnected"))
    );
    let last_seen = lines
        .lock()
        .expect("lock")
        .iter()
        .rev()
        .find_map(|l| {
            l.split("notice ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .and_then(|id| id.parse::<i64>().ok())
        })
        .expect("a notice id");

    // Stopped; two notices meanwhile; started again with --since: both come, once.
    drop(child);
    let third = paid_order(&base, &config, "LISTEN-3").await;
    let fourth = paid_order(&base, &config, "LISTEN-4").await;
    let before = bodies.lock().expect("lock").len();
    let (child, lines) = listen(
        &base,
        &config,
        &["--forward-to", &url, "--since", &last_seen.to_string()],
    );
    until("the missed notices forwarded", || {
        let all = bodies.lock().expect("lock");
        all.iter().any(|b| b.contains(&format!("uid={third}")))
            && all.iter().any(|b| b.contains(&format!("uid={fourth}")))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        bodies.lock().expect("lock").len(),
        before + 2,
        "each once: {:?}",
        lines.lock().expect("lock")
    );
    drop(child);
    let _ = stop_again.send(());
    let _ = std::fs::remove_dir_all(&dir);
}
