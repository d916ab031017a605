//! The dashboard's sessions: sign-in with a form token, the cookie's flags, the failure
//! throttle, writes with the session's form token only, 8 idle hours, signing out.

use crate::admin::{admin_app, sql, token};
use crate::helpers::*;
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};

fn browser() -> Client {
    Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

fn add_user(app: &TestApp, name: &str, role: &str) -> String {
    let (ok, out, err) =
        gateway_command(&app.database, &["admin", "add-user", name, "--role", role]);
    assert!(ok, "{err}");
    out.lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("password")
        .to_owned()
}

/// The value of the hidden `csrf` field of a page.
fn form_token(html: &str) -> String {
    let at =
        html.find(r#"name="csrf" value=""#).expect("a form token") + r#"name="csrf" value=""#.len();
    html[at..].split('"').next().expect("value").to_owned()
}

fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn value(cookie: &str) -> &str {
    cookie
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .map(|(_, v)| v)
        .unwrap_or("")
}

/// Open the sign-in page and post `name` and `password`: the answer.
async fn sign_in(client: &Client, base: &str, name: &str, password: &str) -> reqwest::Response {
    let page = client
        .get(format!("{base}/sign-in"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    let form_cookie = set_cookie(&page, "mypay_admin_form").expect("the form's cookie");
    let html = page.text().await.expect("html");
    client
        .post(format!("{base}/sign-in"))
        .header("cookie", form_cookie.split(';').next().expect("pair"))
        .form(&[
            ("csrf", form_token(&html).as_str()),
            ("name", name),
            ("password", password),
        ])
        .send()
        .await
        .expect("sign in")
}

#[tokio::test]
async fn sessions_sign_in_throttle_guard_writes_and_end() {
    let app = admin_app().await;
    let base = app.admin_base.clone().expect("admin");
    let client = browser();
    let alice = add_user(&app, "alice", "operator");

    // Pages need a session; the OpenAPI document does not.
    let r = client
        .get(format!("{base}/orders"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/sign-in");

    // A sign-in form without its token is refused.
    let r = client
        .post(format!("{base}/sign-in"))
        .form(&[("name", "alice"), ("password", alice.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&r, "mypay_admin").is_none());

    // Signed in: a cookie the page's scripts cannot read, never sent from another site.
    let r = sign_in(&client, &base, "alice", &alice).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let session = set_cookie(&r, "mypay_admin").expect("session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    assert!(!session.contains("Secure"), "plain http here: {session}");
    let cookie = format!("mypay_admin={}", value(&session));
    let r = client
        .get(format!("{base}/orders"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .expect("csp")
            .contains("frame-ancestors 'none'")
    );
    let html = r.text().await.expect("html");
    assert!(
        html.contains("交易") && html.contains("登出"),
        "Traditional Chinese by default"
    );
    let csrf = form_token(&html);
    let r = client
        .get(format!("{base}/orders?lang=en"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("get");
    assert!(r.text().await.expect("html").contains("Sign out"));

    // The API takes the session too; its writes need the session's form token.
    let r = client
        .get(format!("{base}/admin/api/v1/merchants"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let r = client
        .post(format!("{base}/admin/api/v1/merchants"))
        .header("cookie", &cookie)
        .json(&serde_json::json!({"name": "No token"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = client
        .post(format!("{base}/admin/api/v1/merchants"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({"name": "With token"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::CREATED);

    // Dashboard forms: a wrong form token changes nothing; the right one acts, as the user.
    let r = client
        .post(format!("{base}/merchants"))
        .header("cookie", &cookie)
        .form(&[("csrf", "forged"), ("name", "Forged")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = client
        .post(format!("{base}/merchants"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("name", "Form shop")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("html");
    assert!(html.contains("store_uid") && html.contains("key"), "{html}");
    let op = token(&app, "ops", "operator");
    let (_, log) = crate::admin::get(&app, "/admin/api/v1/audit", Some(&op)).await;
    let actors: Vec<&str> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "merchant.create")
        .filter_map(|e| e["actor"].as_str())
        .collect();
    assert_eq!(actors, vec!["user:alice", "user:alice"], "{log}");

    // Five failures for a name from an address: the sixth try is refused, right or not.
    for _ in 0..5 {
        let r = sign_in(&client, &base, "alice", "not the password").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(set_cookie(&r, "mypay_admin").is_none());
    }
    let r = sign_in(&client, &base, "alice", &alice).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(set_cookie(&r, "mypay_admin").is_none());
    // Another name from the same address is not held back.
    let r = sign_in(&client, &base, "nobody", "whatever it is").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Signing out ends the session: pages and the API refuse its cookie.
    let r = client
        .post(format!("{base}/sign-out"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = client
        .get(format!("{base}/orders"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = client
        .get(format!("{base}/admin/api/v1/merchants"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.finish().await;
}

#[tokio::test]
async fn a_session_ends_after_eight_idle_hours_and_viewers_only_read() {
    let app = admin_app().await;
    let base = app.admin_base.clone().expect("admin");
    let client = browser();
    let password = add_user(&app, "vera", "viewer");
    let r = sign_in(&client, &base, "vera", &password).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = format!(
        "mypay_admin={}",
        value(&set_cookie(&r, "mypay_admin").expect("cookie"))
    );
    let r = client
        .get(format!("{base}/merchants"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("get");
    let html = r.text().await.expect("html");
    assert!(
        !html.contains(r#"action="/merchants""#),
        "no create form for a viewer"
    );
    let csrf = form_token(&html); // the sign-out form's
    let r = client
        .post(format!("{base}/merchants"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("name", "Viewer's shop")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // 8 hours and a minute without use: the session is over.
    sql(
        &app.database,
        "UPDATE admin_sessions SET last_seen_at = last_seen_at - 28860000000",
    )
    .await;
    let r = client
        .get(format!("{base}/orders"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "idle too long");
    app.finish().await;
}
