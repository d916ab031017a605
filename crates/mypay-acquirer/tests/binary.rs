//! The `mypay-acquirer` binary as operators and tests start it: signed requests only,
//! one charge per reference, faults and the ledger, callbacks signed to the gateway.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The acquirer on a free port, calling back `callback`; its base URL.
fn start(callback: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mypay-acquirer"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--secret",
            SECRET,
            "--callback-url",
            callback,
        ])
        .args(["--pending-ms", "100"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the acquirer starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("its banner");
    let base = line
        .trim()
        .strip_prefix("mypay-acquirer listening on ")
        .expect("the banner names the address")
        .to_owned();
    (child, base)
}

fn signed(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> reqwest::RequestBuilder {
    let bytes = serde_json::to_vec(body).expect("json");
    let secret = mypay_upstream::signature::Secret::parse(SECRET).expect("secret");
    let headers = secret.headers(&bytes, mypay_upstream::signature::unix_now());
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header(
            "idempotency-key",
            body["reference"].as_str().unwrap_or_default(),
        );
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    request.body(bytes)
}

/// A callback receiver: every body it gets, with whether its signature held.
async fn receiver() -> (String, Arc<Mutex<Vec<(bool, serde_json::Value)>>>) {
    let got: Arc<Mutex<Vec<(bool, serde_json::Value)>>> = Arc::default();
    let store = got.clone();
    let app = axum::Router::new().route(
        "/callback",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let store = store.clone();
                async move {
                    let secret = mypay_upstream::signature::Secret::parse(SECRET).expect("secret");
                    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
                    let ok = secret
                        .verify_headers(header, &body, mypay_upstream::signature::unix_now())
                        .is_ok();
                    let value = serde_json::from_slice(&body).unwrap_or_default();
                    store.lock().expect("lock").push((ok, value));
                    "ok"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/callback", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[tokio::test]
async fn the_binary_charges_once_per_reference_refuses_unsigned_requests_and_calls_back() {
    let (callback, received) = receiver().await;
    let (mut child, base) = start(&callback);
    let http = reqwest::Client::new();
    let charge = serde_json::json!({
        "reference": "r-1", "tool": "CREDITCARD", "amount": 500, "currency": "TWD",
        "capture": true, "card": {"number": "4111111111111111", "expiry": "1230", "cvc": "123"}
    });
    // Unsigned: 401, nothing done.
    let unsigned = http
        .post(format!("{base}/v1/cards/charges"))
        .json(&charge)
        .send()
        .await
        .expect("post");
    assert_eq!(unsigned.status(), 401);

    for _ in 0..2 {
        let answer: serde_json::Value = signed(&http, &format!("{base}/v1/cards/charges"), &charge)
            .send()
            .await
            .expect("post")
            .json()
            .await
            .expect("json");
        assert_eq!(answer["status"], "approved", "{answer}");
        assert_eq!(answer["amount"], 500);
    }
    let ledger: serde_json::Value = http
        .get(format!("{base}/_acquirer/ledger"))
        .send()
        .await
        .expect("ledger")
        .json()
        .await
        .expect("json");
    assert_eq!(ledger.as_array().map(Vec::len), Some(1), "{ledger}");

    // A fault named wrong is refused; error_500 answers 500 without performing.
    let bad = http
        .post(format!("{base}/_acquirer/faults"))
        .json(&serde_json::json!({"op": "teleport", "fault": "delay"}))
        .send()
        .await
        .expect("fault");
    assert_eq!(bad.status(), 422);
    let set = http
        .post(format!("{base}/_acquirer/faults"))
        .json(&serde_json::json!({"op": "charge", "fault": "error_500", "count": 1}))
        .send()
        .await
        .expect("fault");
    assert_eq!(set.status(), 204);
    let mut second = charge.clone();
    second["reference"] = "r-2".into();
    let failed = signed(&http, &format!("{base}/v1/cards/charges"), &second)
        .send()
        .await
        .expect("post");
    assert_eq!(failed.status(), 500);
    let status = http
        .get(format!("{base}/v1/operations/r-2"))
        .send()
        .await
        .expect("status");
    assert_eq!(status.status(), 401, "status questions are signed too");

    // A pending card is decided after --pending-ms and called back, signed.
    let mut pending = charge.clone();
    pending["reference"] = "r-3".into();
    pending["card"]["number"] = "4000000000000028".into();
    let answer: serde_json::Value = signed(&http, &format!("{base}/v1/cards/charges"), &pending)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["status"], "pending");
    for _ in 0..100 {
        if !received.lock().expect("lock").is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let got = received.lock().expect("lock").clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].0, "the callback is signed");
    assert_eq!(got[0].1["type"], "charge.updated");
    assert_eq!(got[0].1["outcome"]["status"], "approved");

    let _ = child.kill();
    let _ = child.wait();
}
