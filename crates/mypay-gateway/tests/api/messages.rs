//! What operators and merchants are told when something fails: the thing that failed,
//! named (an address in use, a database out of reach, a body that is not a sealed
//! request, a field nobody takes), and never a backtrace or a password.

use crate::helpers::{fresh_database, gateway_command, sample_order_json, spawn_app};
use serde_json::json;
use std::process::Command;

/// The real binary with `args` and `env`: (exit success, stdout, stderr).
fn gateway(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mypay-gateway"));
    command.args(args).env("RUST_LOG", "warn");
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_address_in_use_is_named_with_no_backtrace() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    let dir = std::env::temp_dir().join(format!("mypay-in-use-{}", std::process::id()));
    let database = dir.join("mypay.sqlite");
    let (ok, _, err) = gateway(
        &[
            "--listen",
            &address,
            "--database",
            database.to_str().expect("path"),
        ],
        &[("RUST_BACKTRACE", "1")],
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!ok);
    assert!(err.contains(&address), "the address is named: {err}");
    assert!(err.to_lowercase().contains("in use"), "{err}");
    assert!(
        !err.contains("backtrace"),
        "an operator's error has no backtrace: {err}"
    );
    assert!(err.lines().count() <= 3, "{err}");
}

#[test]
fn an_unreachable_database_is_named_by_host_and_port_never_by_password() {
    // Nothing listens on port 1.
    let (ok, _, err) = gateway(
        &[
            "--database",
            "postgres://mypay:hunter2secret@127.0.0.1:1/mypay",
            "merchant",
            "list",
        ],
        &[("RUST_BACKTRACE", "1")],
    );
    assert!(!ok);
    assert!(err.contains("127.0.0.1:1"), "host and port named: {err}");
    assert!(!err.contains("hunter2secret"), "{err}");
    assert!(!err.contains("backtrace"), "{err}");
}

#[test]
fn merchant_commands_list_their_own_options_and_set_says_what_changed() {
    let (ok, help, _) = gateway(&["merchant", "set", "--help"], &[]);
    assert!(ok);
    for server_only in [
        "--listen",
        "--lease-secs",
        "--worker-threads",
        "--public-url",
    ] {
        assert!(
            !help.contains(server_only),
            "{server_only} in `merchant set --help`: {help}"
        );
    }
    assert!(
        help.contains("--notify-url") && help.contains("--database"),
        "{help}"
    );
    let (ok, help, _) = gateway(&["--help"], &[]);
    assert!(ok && help.contains("--listen"), "{help}");

    let db = fresh_database();
    let (ok, out, err) = gateway_command(
        &db,
        &[
            "merchant",
            "set",
            "289151880002",
            "--notify-url",
            "http://127.0.0.1:9/notify",
        ],
    );
    assert!(ok, "{err}");
    // What changed, one line each: not every setting.
    assert!(out.lines().count() <= 5, "{out}");
    assert!(
        out.contains("notify_url") && out.contains("http://127.0.0.1:9/notify"),
        "{out}"
    );
    let (ok, out, _) = gateway_command(&db, &["merchant", "list"]);
    assert!(ok && out.contains("289151880002"), "{out}");
    assert!(
        out.contains("never expires"),
        "the published key's validity: {out}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_a_sealed_request_is_told_what_to_send() {
    let app = spawn_app().await;
    let multipart = app
        .post_raw(
            "/api/init",
            "multipart/form-data; boundary=x",
            "--x\r\nContent-Disposition: form-data; name=\"store_uid\"\r\n\r\n289151880002\r\n--x--\r\n"
                .to_owned(),
        )
        .await;
    assert_eq!(multipart["code"], "100", "{multipart}");
    let msg = multipart["msg"].as_str().expect("msg");
    assert!(
        msg.contains("multipart/form-data") && msg.contains("encry_data"),
        "{msg}"
    );

    // An order sent as it is, not sealed.
    let plain = app
        .post_raw(
            "/api/init",
            "application/json",
            sample_order_json("PLAIN-1", 100).to_string(),
        )
        .await;
    let msg = plain["msg"].as_str().expect("msg");
    assert!(
        msg.contains("sealed") && msg.contains("encry_data"),
        "{msg}"
    );
    assert_eq!(app.order_count().await, 0);
    app.finish().await;
}

#[tokio::test]
async fn a_sandbox_helper_names_a_field_it_does_not_take() {
    let app = spawn_app().await;
    let (uid, key) = app.sample_order("TYPO-1", 100).await;
    let (status, body) = app
        .pay_with(
            uid,
            json!({"card_numbr": "4111111111111111", "expiry": "1230", "cvc": "123"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().expect("error");
    assert!(
        error.contains("card_numbr"),
        "the unknown field is named: {error}"
    );
    assert_eq!(app.query(uid, &key).await["prc"], "200");
    app.finish().await;
}

#[test]
fn the_license_the_manifests_name_is_in_the_repository() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    assert!(manifest.contains("license = \"Apache-2.0\""));
    let license = std::fs::read_to_string(root.join("LICENSE")).expect("a LICENSE file");
    assert!(license.contains("Apache License") && license.contains("Version 2.0"));
}
