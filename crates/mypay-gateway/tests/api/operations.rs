//! What operators' machines ask of a node: health, readiness, metrics, request ids.

use crate::helpers::{fresh_database, spawn_app, spawn_app_with, start_time};
use mypay_gateway::clock::Clock;
use mypay_gateway::store::DatabaseUrl;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

#[tokio::test]
async fn health_readiness_and_request_ids() {
    let app = spawn_app().await;
    let health = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let ready = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz");
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
    let text = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
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

/// A TCP relay to the database that can be frozen: connections stay open, nothing
/// passes (a database host that stopped answering, not one that refuses).
async fn relay(to: std::net::SocketAddr, frozen: Arc<AtomicBool>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let frozen = frozen.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(to).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let f1 = frozen.clone();
                let up = async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        use tokio::io::AsyncReadExt;
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        while f1.load(Ordering::Acquire) {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        if sw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                };
                let down = async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        use tokio::io::AsyncReadExt;
                        let n = match sr.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        while frozen.load(Ordering::Acquire) {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                };
                tokio::join!(up, down);
            });
        }
    });
    port
}

#[tokio::test]
async fn readiness_fails_within_seconds_when_the_database_stops_answering() {
    let DatabaseUrl::Postgres(url) = fresh_database() else {
        // A SQLite file cannot stop answering while the process holds it open; this
        // test runs in the suite's PostgreSQL pass (scripts/test.sh).
        eprintln!("readiness: runs on PostgreSQL (MYPAY_TEST_POSTGRES)");
        return;
    };
    let mut parsed = url::Url::parse(&url).expect("url");
    let target: std::net::SocketAddr = format!(
        "{}:{}",
        parsed.host_str().expect("host"),
        parsed.port().expect("port")
    )
    .parse()
    .expect("address");
    let frozen = Arc::new(AtomicBool::new(false));
    let port = relay(target, frozen.clone()).await;
    parsed.set_port(Some(port)).expect("port");
    let app = spawn_app_with(
        parsed.as_str().parse().expect("url"),
        Clock::frozen(start_time()),
        |_| {},
    )
    .await;
    let ready = |app: &crate::helpers::TestApp| {
        app.http
            .get(format!("{}/readyz", app.base))
            .timeout(Duration::from_secs(10))
            .send()
    };
    assert_eq!(ready(&app).await.expect("readyz").status(), 200);
    frozen.store(true, Ordering::Release);
    let asked = Instant::now();
    let answer = ready(&app).await.expect("an answer, not a hang");
    assert_eq!(answer.status(), 503);
    assert!(
        asked.elapsed() < Duration::from_secs(4),
        "{:?}",
        asked.elapsed()
    );
    frozen.store(false, Ordering::Release);
    app.finish().await;
}
