//! TLS built in, and production over it end to end: the real binary with a certificate of
//! a test CA made here, the document's sample clients over https, a card paid through the
//! reference acquirer, and a gateway killed while a charge's outcome is unknown.

use crate::helpers::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mypay-tls-{name}-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_microsecond()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// A port free now (bound and let go): the gateway's public URL must name it before it
/// starts.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The gateway binary on `port` with `args`, its base URL once its banner is out.
fn start(db: &TestDatabase, port: u16, args: &[&str], env: &[(&str, &str)]) -> (Child, String) {
    let listen = format!("127.0.0.1:{port}");
    let mut all = vec!["--listen", listen.as_str()];
    all.extend_from_slice(args);
    start_gateway_with(db, &all, env)
}

/// `openssl s_client` limited to one protocol version: whether the handshake succeeded.
fn handshake(port: u16, version: &str, ca: &Path) -> (bool, String) {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            version,
            // Let the client offer old protocols at all; the server must refuse them.
            "-cipher",
            "DEFAULT@SECLEVEL=0",
            "-CAfile",
        ])
        .arg(ca)
        .arg("-brief")
        .stdin(Stdio::null())
        .output()
        .expect("openssl runs (Debian: openssl)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ok = out.status.success() && text.contains("Protocol version");
    (ok, text)
}

#[tokio::test]
async fn tls_1_2_and_1_3_are_served_1_1_refused_and_a_new_certificate_taken_on_sighup() {
    let dir = temp_dir("reload");
    let first = test_cert(&dir, "first");
    let second = test_cert(&dir, "second");
    // The files the gateway reads; replaced in place before the SIGHUP.
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::copy(&first.cert, &cert).expect("copy");
    std::fs::copy(&first.key, &key).expect("copy");
    let db = fresh_database();
    let port = free_port();
    let (mut gateway, base) = start(
        &db,
        port,
        &[
            "--tls-cert",
            cert.to_str().expect("path"),
            "--tls-key",
            key.to_str().expect("path"),
        ],
        &[],
    );
    assert_eq!(base, format!("https://127.0.0.1:{port}"));

    let (ok, text) = handshake(port, "-tls1_3", &first.ca);
    assert!(ok && text.contains("TLSv1.3"), "{text}");
    let (ok, text) = handshake(port, "-tls1_2", &first.ca);
    assert!(ok && text.contains("TLSv1.2"), "{text}");
    let (ok, text) = handshake(port, "-tls1_1", &first.ca);
    // Refused by the server (its alert), not by a client that could not offer TLS 1.1.
    assert!(
        !ok && text.contains("alert"),
        "TLS 1.1 must be refused: {text}"
    );

    // A keep-alive connection made with the first certificate.
    let trusting_first = client_trusting(&first.ca);
    let trusting_second = client_trusting(&second.ca);
    let page = trusting_first
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("https with the first certificate");
    assert_eq!(page.status(), 200);
    assert!(
        trusting_second
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_err(),
        "the second certificate is not served yet"
    );

    std::fs::copy(&second.cert, &cert).expect("copy");
    std::fs::copy(&second.key, &key).expect("copy");
    let hup = Command::new("kill")
        .args(["-HUP", &gateway.id().to_string()])
        .status()
        .expect("kill");
    assert!(hup.success());
    eventually("the second certificate served", || async {
        trusting_second
            .get(format!("{base}/healthz"))
            .send()
            .await
            .ok()
            .filter(|r| r.status() == 200)
            .map(|_| ())
    })
    .await;
    // The open connection keeps working: a new one would need the first certificate,
    // which is no longer served.
    let again = trusting_first
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("the keep-alive connection still answers");
    assert_eq!(again.status(), 200);

    // A broken file on the next SIGHUP keeps the certificate in use.
    std::fs::write(&cert, "not a certificate").expect("write");
    Command::new("kill")
        .args(["-HUP", &gateway.id().to_string()])
        .status()
        .expect("kill");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fresh = client_trusting(&second.ca)
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("still the second certificate");
    assert_eq!(fresh.status(), 200);

    gateway.kill().expect("kill");
    let _ = gateway.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn production_needs_https_and_tls_or_a_terminating_balancer() {
    let db = fresh_database();
    let dir = temp_dir("refusals");
    let upstreams = dir.join("upstreams.toml");
    std::fs::write(
        &upstreams,
        format!(
            "[[upstream]]\nname = \"acq\"\nurl = \"http://127.0.0.1:9\"\nsecret = \"{SECRET}\"\n\
             tools = [\"*\"]\n"
        ),
    )
    .expect("write");
    let upstreams = upstreams.to_str().expect("path");
    let base = [
        "--mode",
        "production",
        "--upstreams",
        upstreams,
        "--listen",
        "127.0.0.1:0",
    ];
    let with = |more: &[&str]| {
        let mut all = base.to_vec();
        all.extend_from_slice(more);
        gateway_command(&db, &all)
    };
    let (ok, _, err) = with(&[]);
    assert!(!ok && err.contains("--public-url https://"), "{err}");
    let (ok, _, err) = with(&["--public-url", "http://pay.example"]);
    assert!(!ok && err.contains("--public-url https://"), "{err}");
    let (ok, _, err) = with(&["--public-url", "https://pay.example"]);
    assert!(!ok && err.contains("--tls-offloaded"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Production end to end over TLS: the document's samples create and query orders over
/// https, a 3-D Secure card is paid through the acquirer's challenge, pages carry HSTS,
/// and a charge whose answer was lost when the gateway was killed is resolved by the next
/// start, charged once.
#[tokio::test]
async fn production_over_tls_end_to_end_and_a_killed_gateway_resolves_on_restart() {
    let dir = temp_dir("production");
    let cert = test_cert(&dir, "gateway");
    let port = free_port();
    let public = format!("https://127.0.0.1:{port}");

    let acquirer = mypay_acquirer::Running::bind(mypay_acquirer::Setup {
        listen: "127.0.0.1:0".parse().expect("addr"),
        secret: mypay_upstream::signature::Secret::parse(SECRET).expect("secret"),
        callback_url: format!("{public}/upstream/acq/callback"),
        public_url: None,
        pending_after: Duration::from_millis(300),
        callback_ca: Some(cert.ca.clone()),
    })
    .await
    .expect("acquirer");
    let acquirer_base = format!("http://{}", acquirer.local_addr());
    tokio::spawn(acquirer.serve());
    let upstreams = dir.join("upstreams.toml");
    std::fs::write(
        &upstreams,
        format!(
            "[[upstream]]\nname = \"acq\"\nurl = \"{acquirer_base}\"\nsecret = \"{SECRET}\"\n\
             tools = [\"*\"]\ntimeout_secs = 2\n"
        ),
    )
    .expect("write");

    // Production seeds no merchant: the document's sample merchant, seeded by the test.
    let db = database_with_sample_merchant().await;
    let args = [
        "--mode",
        "production",
        "--upstreams",
        upstreams.to_str().expect("path"),
        "--public-url",
        &public,
        "--tls-cert",
        cert.cert.to_str().expect("path"),
        "--tls-key",
        cert.key.to_str().expect("path"),
        "--notify-hosts",
        "any",
    ];
    let env = [("MYPAY_RESOLVE_SCHEDULE", "2,2,2,2")];
    let (mut gateway, base) = start(&db, port, &args, &env);
    assert_eq!(base, public);
    let browser = client_trusting(&cert.ca);
    let ledger = || async {
        let v: Value = reqwest::get(format!("{acquirer_base}/_acquirer/ledger"))
            .await
            .expect("ledger")
            .json()
            .await
            .expect("json");
        v.as_array().cloned().unwrap_or_default()
    };
    let charges = |ledger: &[Value]| {
        ledger
            .iter()
            .filter(|l| l["kind"] == "charge" && l["state"] == "approved")
            .count()
    };

    // The document's samples, over https (trusting the test CA as a merchant's machine
    // would trust a public one).
    let ca = cert.ca.to_str().expect("path").to_owned();
    let mut answers = Vec::new();
    for lang in ["python", "node", "php"] {
        answers.extend(
            crate::sample_clients::run_in(
                &base,
                lang,
                "orders",
                &[
                    ("REQUESTS_CA_BUNDLE", ca.clone()),
                    ("NODE_EXTRA_CA_CERTS", ca.clone()),
                    ("MYPAY_ORDER_ID", format!("TLS-{lang}")),
                ],
            )
            .await,
        );
    }
    for (lang, _, answer) in &answers {
        assert_eq!(answer["code"], "200", "{lang}: {answer}");
        assert!(
            answer["url"]
                .as_str()
                .unwrap_or_default()
                .starts_with(&public),
            "{lang}: {answer}"
        );
    }

    // A 3-D Secure card on the PayPage over https, through the acquirer's challenge.
    let (uid, key) = placed(&answers[0].2);
    let ticket_url = answers[0].2["url"].as_str().expect("url").to_owned();
    let page = browser.get(&ticket_url).send().await.expect("PayPage");
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000")
    );
    let jar = cookies(&page);
    let html = page.text().await.expect("html");
    assert!(html.contains("name=\"csrf\""), "{ticket_url}: {html}");
    let csrf = hidden_csrf(&html);
    let ticket = ticket_url
        .rsplit('/')
        .next()
        .and_then(|t| t.strip_suffix(".html"))
        .expect("ticket")
        .to_owned();
    let paid = browser
        .post(format!("{base}/payment/{ticket}/pay"))
        .header("cookie", &jar)
        .form(&[
            ("csrf", csrf.as_str()),
            ("pfn", "CREDITCARD"),
            ("card_number", "4938170130000003"),
            ("expiry", "1228"),
            ("cvc", "985"),
        ])
        .send()
        .await
        .expect("card form");
    assert_eq!(paid.status(), 303);
    let challenge = paid.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(challenge.starts_with(&acquirer_base), "{challenge}");
    let passed = browser
        .post(&challenge)
        .form(&[("password", "nccc1234")])
        .send()
        .await
        .expect("password");
    let back = passed.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(back.starts_with(&public), "{back}");
    let returned = browser
        .get(&back)
        .header("cookie", &jar)
        .send()
        .await
        .expect("back");
    assert_eq!(returned.status(), 303);
    let query = |uid: u64, key: String| {
        let base = base.clone();
        let ca = cert.ca.clone();
        async move {
            let out = crate::sample_clients::run_in(
                &base,
                "python",
                "queryorder",
                &[
                    ("REQUESTS_CA_BUNDLE", ca.to_str().expect("path").to_owned()),
                    ("MYPAY_UID", uid.to_string()),
                    ("MYPAY_KEY_TOKEN", key),
                ],
            )
            .await;
            out[0].2["prc"].as_str().unwrap_or_default().to_owned()
        }
    };
    eventually("the 3-D Secure payment recorded", || async {
        (query(uid, key.clone()).await == "250").then_some(())
    })
    .await;
    assert_eq!(charges(&ledger().await), 1);

    // The next charge's answer is lost, and the gateway is killed before it asks.
    reqwest::Client::new()
        .post(format!("{acquirer_base}/_acquirer/faults"))
        .json(&json!({"op": "charge", "fault": "drop_after_commit", "count": 1}))
        .send()
        .await
        .expect("fault");
    let (uid2, key2) = placed(&answers[1].2);
    let url2 = answers[1].2["url"].as_str().expect("url").to_owned();
    let page = browser.get(&url2).send().await.expect("PayPage");
    let jar = cookies(&page);
    let html = page.text().await.expect("html");
    assert!(html.contains("name=\"csrf\""), "{url2}: {html}");
    let csrf = hidden_csrf(&html);
    let ticket2 = url2
        .rsplit('/')
        .next()
        .and_then(|t| t.strip_suffix(".html"))
        .expect("ticket")
        .to_owned();
    let sent = browser
        .post(format!("{base}/payment/{ticket2}/pay"))
        .header("cookie", &jar)
        .form(&[
            ("csrf", csrf.as_str()),
            ("pfn", "CREDITCARD"),
            ("card_number", "4111111111111111"),
            ("expiry", "1230"),
            ("cvc", "123"),
        ])
        .send()
        .await
        .expect("card form");
    assert_eq!(sent.status(), 303);
    assert_eq!(query(uid2, key2.clone()).await, "A0001");
    gateway.kill().expect("kill -9");
    let _ = gateway.wait();
    assert_eq!(charges(&ledger().await), 2, "performed, answer lost");

    let (mut restarted, _) = start(&db, port, &args, &env);
    eventually("the unknown charge resolved by the next start", || async {
        (query(uid2, key2.clone()).await == "250").then_some(())
    })
    .await;
    assert_eq!(charges(&ledger().await), 2, "no second charge");
    restarted.kill().expect("kill");
    let _ = restarted.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
