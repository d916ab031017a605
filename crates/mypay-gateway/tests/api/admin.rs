//! The back office: its own listener, bearer tokens made and revoked from the command
//! line, users with Argon2 passwords, and the admin API's merchants.

use crate::helpers::*;
use mypay_gateway::clock::Clock;
use mypay_gateway::config::AdminListen;
use mypay_gateway::ledger::merchant::{SAMPLE_STORE_KEY, SAMPLE_STORE_UID};
use serde_json::Value;

pub(crate) async fn admin_app() -> TestApp {
    admin_app_on(Clock::frozen(start_time())).await
}

/// A gateway with a back office, on `clock` (`Clock::test()` agrees with the command
/// line's clock, which starts from the real time).
pub(crate) async fn admin_app_on(clock: Clock) -> TestApp {
    spawn_app_with(fresh_database(), clock, |s| {
        s.admin_listen = Some(AdminListen {
            addr: "127.0.0.1:0".parse().expect("addr"),
            required: true,
        });
    })
    .await
}

pub(crate) async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (u16, Value) {
    let base = app.admin_base.as_deref().expect("a back office");
    let mut request = app.http.get(format!("{base}{path}"));
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    let response = request.send().await.expect("admin request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_admin_api_answers_live_tokens_only_on_its_own_listener() {
    let app = admin_app().await;
    let (ok, out, err) =
        gateway_command(&app.database, &["admin", "token", "ci", "--role", "viewer"]);
    assert!(ok, "{err}");
    let token = out.trim().to_owned();
    assert!(token.starts_with("mpadm_") && !token.contains(' '), "{out}");

    let (status, body) = get(&app, "/admin/api/v1/merchants", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    let listed = body["merchants"].as_array().expect("merchants");
    assert!(
        listed.iter().any(|m| m["store_uid"] == SAMPLE_STORE_UID),
        "{body}"
    );
    assert!(
        !body.to_string().contains(SAMPLE_STORE_KEY),
        "never a key: {body}"
    );
    let (status, body) = get(
        &app,
        &format!("/admin/api/v1/merchants/{SAMPLE_STORE_UID}"),
        Some(&token),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["store_uid"], SAMPLE_STORE_UID);
    assert!(body["settings"]["tools"].is_array(), "{body}");
    let (status, _) = get(&app, "/admin/api/v1/merchants/000000000000", Some(&token)).await;
    assert_eq!(status, 404);

    // No token, a wrong one, a revoked one: 401, nothing shown.
    for bad in [None, Some("mpadm_nope"), Some("Basic abc")] {
        let (status, body) = get(&app, "/admin/api/v1/merchants", bad).await;
        assert_eq!(status, 401, "{bad:?}: {body}");
        assert!(body.get("merchants").is_none());
    }
    let (ok, _, err) = gateway_command(&app.database, &["admin", "revoke-token", "ci"]);
    assert!(ok, "{err}");
    let (status, _) = get(&app, "/admin/api/v1/merchants", Some(&token)).await;
    assert_eq!(status, 401, "a revoked token is refused at once");
    let (ok, _, err) = gateway_command(&app.database, &["admin", "revoke-token", "ci"]);
    assert!(!ok && err.contains("label"), "{err}");

    // The public listener serves no back office.
    let public = app.get("/admin/api/v1/merchants").await;
    assert_eq!(public.status(), 404);
    app.finish().await;
}

#[tokio::test]
async fn admin_users_get_a_password_once_and_mistakes_are_named() {
    let db = fresh_database();
    let (ok, out, err) =
        gateway_command(&db, &["admin", "add-user", "alice", "--role", "operator"]);
    assert!(ok, "{err}");
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("the password, once");
    assert!(password.len() >= 20, "{out}");
    let (ok, _, err) = gateway_command(&db, &["admin", "add-user", "alice", "--role", "viewer"]);
    assert!(!ok && err.contains("exists"), "{err}");
    let (ok, _, err) = gateway_command(&db, &["admin", "add-user", "bob", "--role", "root"]);
    assert!(!ok && err.contains("--role"), "{err}");
    let (ok, _, err) = gateway_command(&db, &["admin", "token", "has space", "--role", "viewer"]);
    assert!(!ok && err.contains("label"), "{err}");

    // The password checks against its Argon2 hash, and nothing else does.
    let store = mypay_gateway::store::Store::open(&db, &Default::default())
        .await
        .expect("store");
    use mypay_gateway::service::admins::sign_in;
    use mypay_gateway::store::AdminRole;
    assert_eq!(
        sign_in(&store, "alice", password).await.expect("db"),
        Some(AdminRole::Operator)
    );
    assert_eq!(
        sign_in(&store, "alice", "wrong password!")
            .await
            .expect("db"),
        None
    );
    assert_eq!(sign_in(&store, "nobody", password).await.expect("db"), None);
}

pub(crate) async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    let base = app.admin_base.as_deref().expect("a back office");
    let response = app
        .http
        .post(format!("{base}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .json(&body)
        .send()
        .await
        .expect("admin request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub(crate) fn token(app: &TestApp, label: &str, role: &str) -> String {
    let (ok, out, err) = gateway_command(&app.database, &["admin", "token", label, "--role", role]);
    assert!(ok, "{err}");
    out.trim().to_owned()
}

/// Run one SQL statement on the test's database, whichever backend it is.
pub(crate) async fn sql(database: &TestDatabase, statement: &str) {
    match &**database {
        mypay_gateway::store::DatabaseUrl::Sqlite(path) => {
            let pool = sqlx::SqlitePool::connect_with(
                sqlx::sqlite::SqliteConnectOptions::new().filename(path),
            )
            .await
            .expect("db");
            sqlx::query(statement).execute(&pool).await.expect("sql");
            pool.close().await;
        }
        mypay_gateway::store::DatabaseUrl::Postgres(url) => {
            let pool = sqlx::PgPool::connect(url).await.expect("db");
            sqlx::query(statement).execute(&pool).await.expect("sql");
            pool.close().await;
        }
    }
}

/// Operators create merchants, viewers may not; every write (the API's and the command
/// line's) is in a hash-chained audit log, and an entry edited in the database shows.
#[tokio::test]
async fn writes_need_an_operator_and_every_one_is_in_a_chain_that_shows_edits() {
    let app = admin_app().await;
    let operator = token(&app, "ops", "operator");
    let viewer = token(&app, "look", "viewer");

    let (status, body) = post(
        &app,
        "/admin/api/v1/merchants",
        &viewer,
        serde_json::json!({"name": "Nope"}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = post(
        &app,
        "/admin/api/v1/merchants",
        &operator,
        serde_json::json!({"name": "Tea shop"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let store_uid = body["store_uid"].as_str().expect("store_uid").to_owned();
    let key = body["key"].as_str().expect("key").to_owned();
    assert_eq!(key.len(), 32, "{body}");
    // The new merchant's key works on the merchant API at once.
    let order = sample_order_with("ADMIN-1", 100, serde_json::json!({"store_uid": store_uid}));
    let answer = app.api_as(&store_uid, &key, "api/orders", &order).await;
    assert_eq!(answer["code"], "200", "{answer}");
    let (status, _) = post(
        &app,
        "/admin/api/v1/merchants",
        &operator,
        serde_json::json!({"color": "red"}),
    )
    .await;
    assert_eq!(status, 422);

    let (status, log) = get(&app, "/admin/api/v1/audit", Some(&viewer)).await;
    assert_eq!(status, 200, "{log}");
    let entries = log["entries"].as_array().expect("entries");
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        ["merchant.create", "token.issue", "token.issue"],
        "newest first: {log}"
    );
    assert_eq!(entries[0]["actor"], "token:ops");
    assert_eq!(entries[0]["subject"], store_uid.as_str());
    assert!(
        entries[1]["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("os:")),
        "{log}"
    );
    assert!(
        !log.to_string().contains(&key),
        "the audit log holds no key"
    );
    let (_, verified) = get(&app, "/admin/api/v1/audit/verify", Some(&viewer)).await;
    assert_eq!(verified, serde_json::json!({"ok": true}));

    // Edited in the database: the chain breaks at that entry.
    let first = entries[2]["id"].as_i64().expect("id");
    sql(
        &app.database,
        &format!("UPDATE admin_audit SET subject = 'someone else' WHERE id = {first}"),
    )
    .await;
    let (_, verified) = get(&app, "/admin/api/v1/audit/verify", Some(&viewer)).await;
    assert_eq!(
        verified,
        serde_json::json!({"ok": false, "broken_at": first})
    );
    app.finish().await;
}

/// Any method on the back office, with a bearer token (or none) and a JSON body (or none).
pub(crate) async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let base = app.admin_base.as_deref().expect("a back office");
    let mut request = app.http.request(method, format!("{base}{path}"));
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    if let Some(b) = body {
        request = request.json(&b);
    }
    let response = request.send().await.expect("admin request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
