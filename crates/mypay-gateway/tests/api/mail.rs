//! E-mail for real: the outbox delivered through an SMTP server on loopback (aiosmtpd,
//! from PyPI), including a mail queued while the server was away.

use crate::helpers::*;
use mypay_gateway::clock::Clock;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// An SMTP server on `port` keeping every mail it takes in the Maildir `dir`.
fn smtp_server(port: u16, dir: &Path) -> Child {
    let mut child = Command::new("python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
        ])
        .arg("aiosmtpd.handlers.Mailbox")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("aiosmtpd runs (pip install aiosmtpd)");
    // Listening once it accepts a connection.
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("aiosmtpd did not start");
}

/// The mails in Maildir `dir`, as text.
fn mails(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join("new")) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A merchant whose notice fails five times gets its e-mail through the SMTP server,
/// although the server was down when the mail was queued: it arrives once it is back,
/// once.
#[tokio::test]
async fn a_notice_failing_five_times_sends_its_mail_which_arrives_after_an_outage() {
    let port = free_port();
    let dir: PathBuf =
        std::env::temp_dir().join(format!("mypay-mail-{}-{port}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let smtp = mypay_gateway::notify::mail::Smtp::parse(&format!(
        "smtp://127.0.0.1:{port}?from=gateway@mypay.test"
    ))
    .expect("smtp url");
    let app = spawn_app_with(fresh_database(), Clock::frozen(start_time()), |s| {
        s.smtp = Some(std::sync::Arc::new(smtp));
    })
    .await;
    let receiver = Receiver::start(vec![Reply::Status(500, "down")]).await;
    app.set_notify_url(&receiver.url).await;
    let (uid, _) = app.sample_order("MAIL-1", 10).await;
    app.pay(uid, "4058650600065507", "1022", "395", None).await;
    app.drain().await;
    for _ in 2..=5 {
        app.advance(300).await;
    }
    assert_eq!(receiver.count(), 5);
    assert_eq!(app.state.store.email_count().await.expect("emails"), 1);
    // The server is down: the mail waits, tried again and again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(app.state.store.mails_waiting().await.expect("waiting"), 1);

    let mut server = smtp_server(port, &dir);
    let arrived = eventually("the mail arrives", || async {
        let got = mails(&dir);
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(arrived.len(), 1);
    let mail = &arrived[0];
    assert!(mail.contains("From: gateway@mypay.test"), "{mail}");
    assert!(mail.contains("To: tech@example.com"), "{mail}");
    // The server has the mail before the gateway records that it took it.
    eventually("the mail recorded as sent", || async {
        (app.state.store.mails_waiting().await.expect("waiting") == 0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(mails(&dir).len(), 1, "sent once");
    server.kill().expect("kill");
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    app.finish().await;
}
