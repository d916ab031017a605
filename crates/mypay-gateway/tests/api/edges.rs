//! The edge as a lost visitor, a misconfigured client and an attacker meet it: helpful
//! answers, security headers, PayPage tickets and CSRF tokens that only the gateway makes.

use crate::helpers::{
    TestApp, assert_mentions, form, fresh_database, placed, sample_order_json, spawn_app,
    spawn_app_with, start_time,
};
use mypay_gateway::clock::Clock;
use serde_json::{Value, json};

#[tokio::test]
async fn a_get_on_an_api_path_answers_100_saying_to_post_a_form() {
    let app = spawn_app().await;
    for path in ["/api/init", "/api/agent", "/api/open"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json; charset=utf-8"
        );
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        // Answered like any API request: with a request id (and an access-log line).
        assert!(response.headers().contains_key("x-request-id"), "{path}");
        let answer: Value = response.json().await.expect("json");
        assert_mentions(&answer, "100", "POST");
    }
    app.finish().await;
}

#[tokio::test]
async fn an_unknown_path_names_the_api_the_paypage_and_the_sandbox() {
    let app = spawn_app().await;
    let response = app.get("/index.php").await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.expect("html");
    for part in ["/api/init", "PayPage", "/sandbox/clock"] {
        assert!(html.contains(part), "{part}: {html}");
    }
    app.finish().await;
}

#[tokio::test]
async fn a_sandbox_body_is_read_by_its_content_type_or_refused_naming_it() {
    let app = spawn_app().await;
    let (uid, _) = app.sample_order("CT-1", 100).await;
    let body = json!({"card_number": "4058650600065507", "expiry": "1022", "cvc": "395"});
    for content_type in [None, Some("text/plain")] {
        let mut request = app
            .http
            .post(format!("{}/sandbox/orders/{uid}/pay", app.base))
            .body(body.to_string());
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let response = request.send().await.expect("post");
        assert_eq!(response.status(), 415, "{content_type:?}");
        let answer: Value = response.json().await.expect("json");
        let msg = answer["error"].as_str().expect("error");
        assert!(msg.starts_with("content-type"), "{msg}");
        assert!(!msg.contains("card_number"), "{msg}");
    }
    // A form works as a form.
    let response = app
        .http
        .post(format!("{}/sandbox/orders/{uid}/pay", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("card_number", "4058650600065507"),
            ("expiry", "1022"),
            ("cvc", "395"),
        ]))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["prc"], "250", "{answer}");
    app.finish().await;
}

#[tokio::test]
async fn pages_forbid_inline_script_framing_and_referrers_and_answers_forbid_sniffing() {
    let app = spawn_app().await;
    let answer = app.order(&sample_order_json("HDR-1", 100)).await;
    let url = answer["url"].as_str().expect("url");
    let page = app.http.get(url).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let csp = headers["content-security-policy"].to_str().expect("csp");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let html = page.text().await.expect("html");
    assert!(!html.contains("<script"), "no script at all");
    assert!(!html.contains("<style"), "no inline style: {html}");
    let css = app.get("/assets/paypage.css").await;
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/css")
    );
    assert!(css.text().await.expect("css").contains("--brand"));
    app.finish().await;
}

async fn paypage_status(app: &TestApp, method: &str, path: &str, body: &[(&str, &str)]) -> u16 {
    let url = format!("{}{path}", app.base);
    let request = if method == "GET" {
        app.http.get(url)
    } else {
        app.http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(body))
    };
    request.send().await.expect("request").status().as_u16()
}

#[tokio::test]
async fn the_paypage_answers_only_with_the_tickets_token_and_changes_nothing_without_it() {
    let app = spawn_app().await;
    let answer = app.order(&sample_order_json("TKT-1", 100)).await;
    let (uid, key) = placed(&answer);
    let url = answer["url"].as_str().expect("url");
    let ticket = app.ticket(uid);
    assert_eq!(url, format!("{}/payment/{ticket}.html", app.base));
    let token = ticket.split_once('-').expect("token").1;
    assert!(token.len() >= 32 && token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(token, key, "the merchant's key never reaches the consumer");
    // Client libraries append ?locale= to the url.
    assert_eq!(app.page(url, "en").await.status(), 200);

    let wrong = format!("{uid}-{}", "0".repeat(32));
    let card = [
        ("card_number", "4058650600065507"),
        ("expiry", "1022"),
        ("cvc", "395"),
        ("csrf", "x"),
    ];
    for t in [uid.to_string(), wrong.clone(), format!("{}", uid + 1)] {
        assert_eq!(
            paypage_status(&app, "GET", &format!("/payment/{t}.html"), &[]).await,
            404,
            "{t}"
        );
        for (method, rest) in [
            ("POST", "pay"),
            ("POST", "abandon"),
            ("POST", "issue"),
            ("POST", "apply"),
            ("POST", "wallet"),
            ("GET", "otp"),
            ("POST", "otp"),
            ("GET", "result"),
            ("GET", "wallet/LINEPAYON"),
            ("POST", "wallet/LINEPAYON/answer"),
            ("GET", "barcode/1.svg"),
        ] {
            let status = paypage_status(&app, method, &format!("/payment/{t}/{rest}"), &card).await;
            assert_eq!(status, 404, "{method} /payment/{t}/{rest}");
        }
    }
    let record = app.query(uid, &key).await;
    assert_eq!(record["prc"], "200", "nothing changed: {record}");
    app.finish().await;
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

fn csrf_field(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    let len = html[at..].find('"').expect("end");
    html[at..at + len].to_owned()
}

#[tokio::test]
async fn csrf_tokens_are_the_servers_own_and_bound_to_the_order() {
    let app = spawn_app().await;
    let first = app.order(&sample_order_json("CSRF-1", 100)).await;
    let second = app.order(&sample_order_json("CSRF-2", 100)).await;
    let (uid1, uid2) = (
        first["uid"].as_u64().expect("uid"),
        second["uid"].as_u64().expect("uid"),
    );
    let page = app
        .http
        .get(first["url"].as_str().expect("url"))
        .send()
        .await
        .expect("page");
    let cookie = set_cookies(&page)
        .into_iter()
        .find(|c| c.starts_with("mypay_csrf="))
        .expect("csrf cookie");
    assert!(
        !cookie.contains("Secure"),
        "http: no Secure flag ({cookie})"
    );
    let jar = cookie.split(';').next().expect("pair").to_owned();
    let token = csrf_field(&page.text().await.expect("html"));

    let abandon = |ticket: String, jar: String, csrf: String| {
        let app = &app;
        async move {
            app.http
                .post(format!("{}/payment/{ticket}/abandon", app.base))
                .header("cookie", jar)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&[("csrf", &csrf)]))
                .send()
                .await
                .expect("post")
                .status()
        }
    };
    // A cookie and a field of the attacker's choosing.
    let chosen = "a".repeat(32);
    assert_eq!(
        abandon(
            app.ticket(uid1),
            format!("mypay_csrf={chosen}"),
            chosen.clone()
        )
        .await,
        403
    );
    // The first order's token does not act on the second.
    assert_eq!(
        abandon(app.ticket(uid2), jar.clone(), token.clone()).await,
        403
    );
    // Nor with another browser's cookie.
    assert_eq!(
        abandon(
            app.ticket(uid1),
            format!("mypay_csrf={chosen}"),
            token.clone()
        )
        .await,
        403
    );
    assert_eq!(
        app.query(uid1, first["key"].as_str().expect("key")).await["prc"],
        "200"
    );
    assert_eq!(
        app.query(uid2, second["key"].as_str().expect("key")).await["prc"],
        "200"
    );
    // The real pair works.
    assert_eq!(abandon(app.ticket(uid1), jar, token).await, 303);
    assert_eq!(
        app.query(uid1, first["key"].as_str().expect("key")).await["prc"],
        "A0002"
    );
    app.finish().await;
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let app = spawn_app_with(fresh_database(), Clock::frozen(start_time()), |s| {
        s.public_url = Some("https://pay.shop.example".to_owned());
    })
    .await;
    let answer = app.order(&sample_order_json("SEC-1", 100)).await;
    let uid = answer["uid"].as_u64().expect("uid");
    assert!(
        answer["url"]
            .as_str()
            .expect("url")
            .starts_with("https://pay.shop.example/payment/")
    );
    let page = app
        .http
        .get(format!(
            "{}/payment/{}.html?locale=en",
            app.base,
            app.ticket(uid)
        ))
        .send()
        .await
        .expect("page");
    let cookies = set_cookies(&page);
    assert!(!cookies.is_empty());
    assert!(
        cookies.iter().all(|c| c.contains("; Secure")),
        "{cookies:?}"
    );
    app.finish().await;
}
