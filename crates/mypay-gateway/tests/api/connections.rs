//! Idle and slow connections cannot starve others: request heads must arrive in time,
//! idle keep-alive connections close, and connections are capped in all and per address
//! with a clear refusal.

use crate::helpers::{TestApp, fresh_database, spawn_app_with, start_time};
use mypay_gateway::clock::Clock;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn app_with(tweak: impl FnOnce(&mut mypay_gateway::config::Settings)) -> TestApp {
    spawn_app_with(fresh_database(), Clock::frozen(start_time()), tweak).await
}

fn address(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Read until the server closes; what it sent, and how long it took.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the connection was still open after {limit:?}"),
        }
    }
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

async fn clock_answers(app: &TestApp) -> bool {
    app.http
        .get(format!("{}/sandbox/clock", app.base))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

/// Whether requests are served again within a second (a closed connection's slot is given
/// back once the server notices the close).
async fn served_again(app: &TestApp) -> bool {
    for _ in 0..50 {
        if clock_answers(app).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn a_trickled_request_line_and_an_idle_connection_are_closed_in_time() {
    let app = app_with(|s| s.header_read_timeout = Duration::from_secs(1)).await;
    let mut slow = TcpStream::connect(address(&app)).await.expect("connect");
    slow.write_all(b"GET /sandbox/clo").await.expect("write");
    assert!(clock_answers(&app).await, "others are served meanwhile");
    let (_, waited) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(waited < Duration::from_secs(3), "closed after {waited:?}");

    // Idle after a whole request: closed too.
    let mut idle = TcpStream::connect(address(&app)).await.expect("connect");
    idle.write_all(b"GET /sandbox/clock HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let (answer, waited) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        waited < Duration::from_secs(3),
        "idle closed after {waited:?}"
    );
}

#[tokio::test]
async fn connections_are_capped_per_address_with_a_clear_refusal() {
    let app = app_with(|s| {
        s.header_read_timeout = Duration::from_secs(30);
        s.max_connections_per_address = 3;
    })
    .await;
    refuses_one_more(&app, 3, "too many connections").await;
}

#[tokio::test]
async fn connections_are_capped_in_all() {
    let app = app_with(|s| {
        s.header_read_timeout = Duration::from_secs(30);
        s.max_connections = 4;
    })
    .await;
    refuses_one_more(&app, 4, "connection limit").await;
}

/// With `cap` connections held open, one more is refused with a 503 that says `why`;
/// once one closes, the gateway serves again.
async fn refuses_one_more(app: &TestApp, cap: usize, why: &str) {
    let mut held = Vec::new();
    for _ in 0..cap {
        held.push(TcpStream::connect(address(app)).await.expect("connect"));
    }
    let mut over = TcpStream::connect(address(app)).await.expect("connect");
    let (answer, _) = read_until_closed(&mut over, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains(why), "{answer}");
    drop(held.pop());
    assert!(served_again(app).await, "a freed slot serves again");
}
