//! The admin API's OpenAPI document: readable without credentials, true to the running
//! API (every operation it names refuses a caller without a token), and checked by
//! schemathesis (PyPI): no input it makes gets a 5xx, and every answer's status, type
//! and body are the ones the document gives.

use crate::admin::{admin_app, call, token};
use crate::helpers::*;
use reqwest::Method;
use serde_json::Value;

async fn document(app: &TestApp) -> Value {
    let base = app.admin_base.as_deref().expect("admin");
    let r = app
        .http
        .get(format!("{base}/admin/api/v1/openapi.json"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200, "no credentials needed");
    r.json().await.expect("JSON")
}

#[tokio::test]
async fn the_document_describes_every_operation_and_each_needs_a_token() {
    let app = admin_app().await;
    let doc = document(&app).await;
    assert!(doc["openapi"].as_str().expect("openapi").starts_with("3.1"));
    let paths = doc["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        for (method, _) in item.as_object().expect("operations") {
            let concrete = path
                .replace("{store_uid}", "289151880002")
                .replace("{agent_uid}", "518169081001")
                .replace("{id}", "1")
                .replace("{uid}", "1");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let (status, body) = call(&app, method.clone(), &concrete, None, None).await;
            assert_eq!(status, 401, "{method} {path}: {body}");
            operations += 1;
        }
    }
    assert_eq!(operations, 28);
    app.finish().await;
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_off_the_document() {
    let app = admin_app().await;
    let operator = token(&app, "schemathesis", "operator");
    let base = app.admin_base.clone().expect("admin");
    let run = move || {
        let (base, operator) = (base.clone(), operator.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                // The module, not a script on PATH: the Python that pip installed it for.
                std::process::Command::new("python3")
                    .args(["-m", "schemathesis.cli", "--no-color", "run"])
                    .arg(format!("{base}/admin/api/v1/openapi.json"))
                    .args(["-H", &format!("Authorization: Bearer {operator}")])
                    .args([
                        "--checks",
                        "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance",
                        "--max-examples",
                        "25",
                        "--seed",
                        "20261207",
                        "--workers",
                        "1",
                    ])
                    .output()
                    .expect("schemathesis runs (python3 -m pip install schemathesis)")
            })
            .await
            .expect("join")
        }
    };
    let mut out = run().await;
    let mut report = String::from_utf8_lossy(&out.stdout).into_owned();
    // A run that failed on an error inside schemathesis itself (seen: a KeyError in its
    // generator on a loaded machine), with no check failing, is run once more; a check
    // that fails fails the test at once.
    if !out.status.success() && !report.contains("Failures:") && report.contains("Runtime Error") {
        out = run().await;
        report = String::from_utf8_lossy(&out.stdout).into_owned();
    }
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("passed"), "{report}");
    app.finish().await;
}
