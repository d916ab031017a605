//! Logs an operator can debug with: one JSON object per line with `--log-format json`,
//! no colour codes when the output is not a terminal; an access line per API request
//! naming its command, merchant, answer code, duration and request id; refused requests
//! and the back office logged too; `/metrics` counting answers by command and code.

use crate::helpers::*;
use mypay_gateway::ledger::merchant::{SAMPLE_STORE_KEY, SAMPLE_STORE_UID};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

#[tokio::test]
async fn json_lines_name_the_command_the_merchant_and_the_answer() {
    let db = fresh_database();
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_mypay-gateway"))
            .arg("--database")
            .arg(db.to_connection_string())
            .args([
                "--log-format",
                "json",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
            ])
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the gateway starts"),
    );
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let (base_tx, base_rx) = std::sync::mpsc::channel::<(String, String)>();
    {
        let lines = lines.clone();
        let stdout = child.0.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            let (mut base, mut admin) = (None, None);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("POST ").nth(1) {
                    base = rest.split("/api/init").next().map(|b| b.trim().to_owned());
                }
                if line.contains("back office") {
                    admin = line
                        .split_whitespace()
                        .find(|w| w.starts_with("http://"))
                        .and_then(|u| u.split("/admin/").next())
                        .map(str::to_owned);
                }
                if let (Some(b), Some(a)) = (&base, &admin) {
                    let _ = base_tx.send((b.clone(), a.clone()));
                    base = None;
                }
                lines.lock().expect("lock").push(line);
            }
        });
    }
    let (base, admin) = base_rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the banner");
    let http = reqwest::Client::new();
    let sealed = sealed_form(
        SAMPLE_STORE_UID,
        SAMPLE_STORE_KEY,
        "api/orders",
        &sample_order_json("LOG-1", 100),
    );
    let answer: Value = http
        .post(format!("{base}/api/init"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-request-id", "trace-me-123")
        .body(sealed)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["code"], "200", "{answer}");
    let wrong = sealed_form(
        SAMPLE_STORE_UID,
        "WRONGKEYWRONGKEYWRONGKEYWRONGKEY",
        "api/orders",
        &sample_order_json("LOG-2", 100),
    );
    let _ = http
        .post(format!("{base}/api/init"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(wrong)
        .send()
        .await
        .expect("post");
    let r = http
        .get(format!("{admin}/admin/api/v1/merchants"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 401);
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");

    let find = |want: &dyn Fn(&Value) -> bool| -> Option<Value> {
        for _ in 0..50 {
            let found = lines
                .lock()
                .expect("lock")
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|v| want(v));
            if found.is_some() {
                return found;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        None
    };
    let ok = find(&|v| v["fields"]["command"] == "api/orders").expect("the order's access line");
    assert_eq!(ok["target"], "access");
    assert_eq!(ok["fields"]["store_uid"], SAMPLE_STORE_UID, "{ok}");
    assert_eq!(ok["fields"]["code"], "200", "{ok}");
    assert!(ok["fields"]["ms"].as_f64().is_some(), "{ok}");
    assert_eq!(ok["span"]["id"], "trace-me-123", "the request id: {ok}");
    let refused =
        find(&|v| v["fields"]["command"] == "unopened").expect("the refused request's line");
    assert_eq!(
        refused["fields"]["store_uid"], SAMPLE_STORE_UID,
        "{refused}"
    );
    assert_ne!(refused["fields"]["code"], "200", "{refused}");
    let admin_line = find(&|v| v["fields"]["path"] == "/admin/api/v1/merchants")
        .expect("the back office's line");
    assert_eq!(admin_line["fields"]["status"], 401, "{admin_line}");
    let all = lines.lock().expect("lock").join("\n");
    assert!(!all.contains('\u{1b}'), "no colour codes off a terminal");
    // The banner shows the sandbox's published key; no log line shows a key.
    let logged: Vec<String> = lines
        .lock()
        .expect("lock")
        .iter()
        .filter(|l| l.starts_with('{'))
        .cloned()
        .collect();
    assert!(logged.len() >= 3, "{all}");
    assert!(
        logged.iter().all(|l| !l.contains(SAMPLE_STORE_KEY)),
        "never a key in the logs"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.contains("api/orders") && l.contains("\"200\"")),
        "answers counted by command and code:\n{metrics}"
    );
}

/// The gateway stops with the test, failed or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
