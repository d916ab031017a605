//! The CLI against a gateway on a random loopback port: create, list tools, query.

use mypay_gateway::app::Application;
use mypay_gateway::clock::Clock;
use mypay_gateway::config::Settings;
use std::process::Command;

async fn gateway() -> String {
    let dir = std::env::temp_dir().join(format!("mypay-cli-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let settings = Settings {
        listen: "127.0.0.1:0".parse().expect("addr"),
        database: mypay_gateway::store::DatabaseUrl::Sqlite(dir.join("mypay.sqlite")),
        ..Settings::default()
    };
    let app = Application::build(settings, Clock::test())
        .await
        .expect("builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until(std::future::pending()));
    base
}

async fn mypay(base: &str, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mypay"));
    cmd.arg("--url").arg(format!("{base}/api/init")).args(args);
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

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_creates_queries_and_lists_through_the_sdk() {
    let base = gateway().await;
    let (ok, out, err) = mypay(
        &base,
        &[
            "order",
            "--order-id",
            "CLI-1",
            "--cost",
            "250",
            "--item",
            "倚天劍模型",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let order: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(order["code"], "200");
    let uid = order["uid"].as_u64().expect("uid").to_string();
    let key = order["key"].as_str().expect("key").to_owned();

    let (ok, out, err) = mypay(&base, &["query", &uid, &key]).await;
    assert!(ok, "{err}");
    let record: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(record["order_id"], "CLI-1");
    assert_eq!(record["cost"], 250);
    assert_eq!(record["items"][0]["name"], "倚天劍模型");

    let (ok, out, _) = mypay(&base, &["modes", "10"]).await;
    assert!(ok);
    assert!(
        out.contains("CREDITCARD") && !out.contains("CSTORECODE"),
        "{out}"
    );

    // A refusal is an error exit with the gateway's code and message.
    let (ok, _, err) = mypay(&base, &["query", &uid, "wrong"]).await;
    assert!(!ok);
    assert!(err.contains("100") && err.contains("uid/key"), "{err}");
}
