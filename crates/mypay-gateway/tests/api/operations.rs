//! What operators' machines ask of a node: health, readiness, metrics, request ids.

use crate::helpers::{fresh_database, spawn_app, spawn_app_with, start_time};
use mypay_gateway::clock::Clock;
use mypay_gateway::store::DatabaseUrl;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

#[tokio::test]
async fn health_readiness_and_request_ids() {
    let app = spawn_app().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let own = ready
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("an id of the node's own")
        .to_owned();
    assert!(own.starts_with("node-"), "{own}");
    // API answers carry one too.
    let api = app
        .http
        .post(format!("{}/api/init", app.base))
        .header("x-request-id", "proxy-7")
        .send()
        .await
        .expect("api");
    assert_eq!(api.headers()["x-request-id"], "proxy-7");
    // A proxy's id is kept; anything that is not a plain token is replaced.
    for (given, kept) in [("req-42.a", true), ("bad id\t<x>", false)] {
        let answer = app
            .http
            .get(format!("{}/healthz", app.base))
            .header("x-request-id", given)
            .send()
            .await
            .expect("healthz");
        let echoed = answer.headers()["x-request-id"].to_str().expect("ascii");
        assert_eq!(echoed == given, kept, "{given:?} → {echoed:?}");
    }
    app.finish().await;
}

#[tokio::test]
async fn metrics_count_commands_by_code_and_show_the_backlog() {
    let app = spawn_app().await;
    app.sample_order("M-1", 10).await;
    app.sample_order("M-2", 10).await;
    let refused = app
        .api(
            "api/queryorder",
            &serde_json::json!({ "uid": "1", "key": "wrong" }),
        )
        .await;
    let refused_code = refused["code"].as_str().expect("code").to_owned();
    let text = app.get("/metrics").await.text().await.expect("text");
    for line in [
        r#"mypay_requests_total{command="api/orders",code="200"} 2"#.to_owned(),
        format!(r#"mypay_requests_total{{command="api/queryorder",code="{refused_code}"}} 1"#),
        r#"mypay_request_duration_seconds_count{command="api/orders"} 2"#.to_owned(),
        "mypay_outbox_due_notices 0".to_owned(),
        "mypay_timers_due 0".to_owned(),
    ] {
        assert!(text.contains(&line), "{line} missing from\n{text}");
    }
    let batches: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("mypay_order_commit_batch_size_count "))
        .expect("commit batches")
        .parse()
        .expect("a count");
    assert!((1.0..=2.0).contains(&batches), "{batches}");
    app.finish().await;
}

/// What a [`relay`] does with the bytes: pass them, hold them (a database host that
/// stopped answering), or cut every connection and refuse new ones (one that went away).
const OPEN: u8 = 0;
const FROZEN: u8 = 1;
const CUT: u8 = 2;

/// A TCP relay to the database, told what to do by `mode`.
async fn relay(to: std::net::SocketAddr, mode: Arc<AtomicU8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            if mode.load(Ordering::Acquire) == CUT {
                continue;
            }
            let mode = mode.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(to).await else {
                    return;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::join!(pass(cr, sw, mode.clone()), pass(sr, cw, mode));
            });
        }
    });
    port
}

/// One direction of a relayed connection; ends (closing its side) when cut.
async fn pass(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mode: Arc<AtomicU8>,
) {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        loop {
            match mode.load(Ordering::Acquire) {
                FROZEN => tokio::time::sleep(Duration::from_millis(20)).await,
                CUT => return,
                _ => break,
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// A gateway on a fresh PostgreSQL database reached through a relay, and the relay's
/// mode; `None` on SQLite (a file cannot stop answering while the process holds it open:
/// these tests run in the suite's PostgreSQL pass, scripts/test.sh).
async fn relayed_app(test: &str) -> Option<(crate::helpers::TestApp, Arc<AtomicU8>)> {
    let database = fresh_database();
    let DatabaseUrl::Postgres(url) = &*database else {
        eprintln!("{test}: runs on PostgreSQL (MYPAY_TEST_POSTGRES)");
        return None;
    };
    let mut parsed = url::Url::parse(url).expect("url");
    let target: std::net::SocketAddr = format!(
        "{}:{}",
        parsed.host_str().expect("host"),
        parsed.port().expect("port")
    )
    .parse()
    .expect("address");
    let mode = Arc::new(AtomicU8::new(OPEN));
    let port = relay(target, mode.clone()).await;
    parsed.set_port(Some(port)).expect("port");
    let relayed = database.reached_at(parsed.as_str().parse().expect("url"));
    let app = spawn_app_with(relayed, Clock::frozen(start_time()), |_| {}).await;
    Some((app, mode))
}

#[tokio::test]
async fn readiness_fails_within_seconds_when_the_database_stops_answering() {
    let Some((app, mode)) = relayed_app("readiness").await else {
        return;
    };
    let ready = |app: &crate::helpers::TestApp| {
        app.http
            .get(format!("{}/readyz", app.base))
            .timeout(Duration::from_secs(10))
            .send()
    };
    assert_eq!(ready(&app).await.expect("readyz").status(), 200);
    mode.store(FROZEN, Ordering::Release);
    let asked = Instant::now();
    let answer = ready(&app).await.expect("an answer, not a hang");
    assert_eq!(answer.status(), 503);
    assert!(
        asked.elapsed() < Duration::from_secs(4),
        "{:?}",
        asked.elapsed()
    );
    mode.store(OPEN, Ordering::Release);
    app.finish().await;
}

/// A database that went away: every surface answers at once that nothing was changed,
/// and none shows what failed inside (driver, address, table, file).
#[tokio::test]
async fn a_lost_database_shows_no_storage_text_on_any_surface() {
    let Some((app, mode)) = relayed_app("lost database").await else {
        return;
    };
    let (uid, key) = app.sample_order("LOST-1", 300).await;
    let page = format!("{}/payment/{}.html", app.base, app.ticket(uid));
    let shown = app.http.get(&page).send().await.expect("page");
    assert_eq!(shown.status(), 200);
    mode.store(CUT, Ordering::Release);

    let leaks = |text: &str| {
        let lower = text.to_lowercase();
        [
            "sqlx",
            "postgres",
            "pool",
            "connection",
            "127.0.0.1",
            "orders",
            "relation",
            "i/o",
            "io error",
        ]
        .into_iter()
        .filter(|w| lower.contains(w))
        .map(str::to_owned)
        .collect::<Vec<_>>()
    };
    let page_answer = app.http.get(&page).send().await.expect("page answers");
    assert_eq!(page_answer.status(), 500);
    let body = page_answer.text().await.expect("body");
    assert!(body.contains("未做任何變更"), "{body}");
    assert_eq!(leaks(&body), Vec::<String>::new(), "{body}");

    let (status, helper) = app
        .pay_with(
            uid,
            json!({"card_number": "4111111111111111", "expiry": "1230", "cvc": "123"}),
        )
        .await;
    assert_eq!(status, 500, "{helper}");
    assert_eq!(helper["error"], "internal error; nothing was changed");

    let query = app.query(uid, &key).await;
    assert_eq!(query["code"], "400", "{query}");
    let text = query.to_string();
    assert_eq!(leaks(&text), Vec::<String>::new(), "{text}");

    mode.store(OPEN, Ordering::Release);
    let back = crate::helpers::eventually("the database is back", || async {
        let q = app.query(uid, &key).await;
        (q["prc"] == "200").then_some(q)
    })
    .await;
    assert_eq!(back["order_id"], "LOST-1");
    app.finish().await;
}
