//! The back office: its own listener, bearer tokens made and revoked from the command
//! line, users with Argon2 passwords, and the admin API's merchants.

use crate::helpers::*;
use mypay_gateway::clock::Clock;
use mypay_gateway::config::AdminListen;
use mypay_gateway::ledger::merchant::{SAMPLE_STORE_KEY, SAMPLE_STORE_UID};
use serde_json::Value;

async fn admin_app() -> TestApp {
    spawn_app_with(fresh_database(), Clock::frozen(start_time()), |s| {
        s.admin_listen = Some(AdminListen {
            addr: "127.0.0.1:0".parse().expect("addr"),
            required: true,
        });
    })
    .await
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (u16, Value) {
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
