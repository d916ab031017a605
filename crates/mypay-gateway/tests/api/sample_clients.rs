//! The document's own sample clients (../shared/sample-clients), unchanged but for the
//! URL, against the gateway: the proof of wire compatibility.

use crate::helpers::spawn_app;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn samples_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sample-clients");
    assert!(
        root.join("run.sh").exists(),
        "the sample clients are expected at {}",
        root.display()
    );
    root
}

/// Run `apis` in every language; one parsed answer per (language, api).
async fn run(base: &str, apis: &str, env: &[(&str, String)]) -> Vec<(String, String, Value)> {
    let mut cmd = Command::new("bash");
    cmd.arg(samples_dir().join("run.sh"))
        .arg(base)
        .env("LANGS", "python node php")
        .env("APIS", apis);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("run.sh runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut out = Vec::new();
    for line in text.lines() {
        let row: Value = serde_json::from_str(line).expect("run.sh prints JSON lines");
        assert_eq!(row["exit"], 0, "{row}");
        let answer: Value = serde_json::from_str(row["stdout"].as_str().expect("stdout").trim())
            .unwrap_or_else(|e| {
                panic!(
                    "{} {}: not JSON ({e}): {}",
                    row["lang"], row["api"], row["stdout"]
                )
            });
        out.push((
            row["lang"].as_str().unwrap_or("").to_owned(),
            row["api"].as_str().unwrap_or("").to_owned(),
            answer,
        ));
    }
    assert_eq!(
        out.len(),
        3 * apis.split_whitespace().count(),
        "every language ran every api: {text}"
    );
    out
}

#[tokio::test]
async fn the_documents_sample_clients_create_query_and_list_in_three_languages() {
    let app = spawn_app().await;
    let results = run(&app.base, "orders paymentsupportpaymode", &[]).await;
    let mut uids = Vec::new();
    for (lang, api, answer) in &results {
        match api.as_str() {
            "orders" => {
                assert_eq!(answer["code"], "200", "{lang}: {answer}");
                assert!(answer["url"].as_str().expect("url").contains("/payment/"));
                uids.push((
                    answer["uid"].as_u64().expect("uid"),
                    answer["key"].as_str().expect("key").to_owned(),
                ));
            }
            "paymentsupportpaymode" => {
                assert_eq!(answer["code"], "B200", "{lang}: {answer}");
                let content: Vec<&str> = answer["content"]
                    .as_array()
                    .expect("content")
                    .iter()
                    .filter_map(|v| v.as_str())
                    .collect();
                assert!(
                    content.contains(&"CREDITCARD") && content.contains(&"CSTORECODE"),
                    "{lang}: {answer}"
                );
            }
            _ => unreachable!(),
        }
    }
    // Python and Node.js send the identical order: a safe retry gives the same transaction.
    assert_eq!(uids[0], uids[1]);

    // Pay one, then each language's query sample reads it.
    let (uid, key) = uids[2].clone();
    app.pay(uid, "4058650600065507", "1022", "395", None).await;
    let env = [
        ("MYPAY_UID", uid.to_string()),
        ("MYPAY_KEY_TOKEN", key.clone()),
    ];
    for (lang, _, record) in run(&app.base, "queryorder", &env).await {
        assert_eq!(record["uid"], uid, "{lang}: {record}");
        assert_eq!(record["key"], key);
        assert_eq!(record["prc"], "250");
        assert_eq!(record["cardno"], "405865******5507");
        assert_eq!(record["items"][0]["name"], "商品名稱");
    }
    // The documented example uid/key belong to no order here: a clean refusal.
    for (lang, _, record) in run(&app.base, "queryorder", &[]).await {
        assert_eq!(record["code"], "100", "{lang}: {record}");
    }
}
