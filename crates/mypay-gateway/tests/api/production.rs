//! Production end to end: the gateway in production mode moves card money only through
//! its upstream, here the reference acquirer (`mypay-acquirer`) speaking protocol v1 on
//! loopback. Each test counts the acquirer's ledger: one charge per payment, whatever
//! the faults.

use crate::helpers::*;
use mypay_gateway::clock::Clock;
use mypay_gateway::config::Mode;
use mypay_gateway::ledger::notify_url::NotifyHosts;
use mypay_gateway::upstream::Upstreams;
use mypay_upstream::signature::{Secret, unix_now};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

struct Production {
    app: TestApp,
    /// The acquirer's base URL (`http://127.0.0.1:PORT`).
    acquirer: String,
    /// A browser trusting the test CA (and nothing else).
    http: reqwest::Client,
    /// The test certificate's folder, removed with the test.
    _certs: Folder,
}

/// A production gateway whose every tool goes to a fresh reference acquirer, with the
/// document's sample merchant (seeded by the test: production seeds none) and a resolver
/// that asks after 1 s each time.
async fn production() -> Production {
    production_on(Clock::system()).await
}

/// [`production`] on `clock` (a test clock the test moves, for later periods).
async fn production_on(clock: Clock) -> Production {
    // Over TLS, with a certificate of a test CA every client here trusts (the acquirer's
    // callbacks too).
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let certs = std::env::temp_dir().join(format!(
        "mypay-production-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&certs).expect("a folder for the certificate");
    let cert = test_cert(&certs, "gateway");
    let acquirer = mypay_acquirer::Running::bind(mypay_acquirer::Setup {
        listen: "127.0.0.1:0".parse().expect("addr"),
        secret: Secret::parse(SECRET).expect("secret"),
        callback_url: "http://127.0.0.1:9/".into(),
        public_url: None,
        pending_after: Duration::from_millis(300),
        callback_ca: Some(cert.ca.clone()),
    })
    .await
    .expect("acquirer binds");
    let acquirer_base = format!("http://{}", acquirer.local_addr());
    let callbacks = acquirer.callbacks();
    tokio::spawn(acquirer.serve());

    let db = database_with_sample_merchant().await;
    let upstreams = Upstreams::parse(&format!(
        "[[upstream]]\nname = \"acq\"\nurl = \"{acquirer_base}\"\nsecret = \"{SECRET}\"\n\
         tools = [\"*\"]\ntimeout_secs = 2\n"
    ))
    .expect("upstreams");
    let mut app = spawn_app_with(db, clock, |s| {
        s.mode = Mode::Production;
        s.upstreams = Some(Arc::new(upstreams));
        s.resolve_schedule = vec![Duration::from_secs(1); 3];
        s.notify_hosts = Some(NotifyHosts::Any);
        s.tls = Some(mypay_gateway::config::TlsFiles {
            cert: cert.cert.clone(),
            key: cert.key.clone(),
        });
    })
    .await;
    // Every consumer and merchant request of the tests goes over https.
    app.base = app.state.base_url.to_string();
    assert!(app.base.starts_with("https://127.0.0.1:"), "{}", app.base);
    app.http = client_trusting(&cert.ca);
    callbacks.set_url(format!("{}/upstream/acq/callback", app.base));
    Production {
        app,
        acquirer: acquirer_base,
        http: client_trusting(&cert.ca),
        _certs: Folder(certs),
    }
}

/// A folder removed when the test ends.
struct Folder(std::path::PathBuf);

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Production {
    async fn ledger(&self) -> Vec<Value> {
        let v: Value = self
            .http
            .get(format!("{}/_acquirer/ledger", self.acquirer))
            .send()
            .await
            .expect("ledger")
            .json()
            .await
            .expect("json");
        v.as_array().cloned().unwrap_or_default()
    }

    async fn charges(&self) -> usize {
        self.ledger()
            .await
            .iter()
            .filter(|l| l["kind"] == "charge" && l["state"] == "approved")
            .count()
    }

    async fn fault(&self, fault: Value) {
        let r = self
            .http
            .post(format!("{}/_acquirer/faults", self.acquirer))
            .json(&fault)
            .send()
            .await
            .expect("fault");
        assert_eq!(r.status(), 204);
    }

    /// The consumer opens the PayPage of `uid` and submits a card; the gateway's answer.
    async fn submit_card(
        &self,
        uid: u64,
        card: &str,
        expiry: &str,
        cvc: &str,
    ) -> (reqwest::Response, String) {
        self.submit_card_as(uid, "CREDITCARD", card, expiry, cvc)
            .await
    }

    /// [`Production::submit_card`] with the card tool `pfn`.
    async fn submit_card_as(
        &self,
        uid: u64,
        pfn: &str,
        card: &str,
        expiry: &str,
        cvc: &str,
    ) -> (reqwest::Response, String) {
        self.submit_card_with(uid, pfn, (card, expiry, cvc), &[])
            .await
    }

    /// [`Production::submit_card_as`] with more fields of the form (`installment`).
    async fn submit_card_with(
        &self,
        uid: u64,
        pfn: &str,
        (card, expiry, cvc): (&str, &str, &str),
        more: &[(&str, &str)],
    ) -> (reqwest::Response, String) {
        let ticket = self.app.ticket(uid);
        let page = get_page(&self.app, &format!("/payment/{ticket}.html"), "").await;
        assert_eq!(page.status(), 200);
        let jar = cookies(&page);
        let csrf = hidden_csrf(&page.text().await.expect("html"));
        let mut fields = vec![
            ("csrf", csrf.as_str()),
            ("pfn", pfn),
            ("card_number", card),
            ("expiry", expiry),
            ("cvc", cvc),
        ];
        fields.extend_from_slice(more);
        let answer = post_form(&self.app, &format!("/payment/{ticket}/pay"), &jar, &fields).await;
        (answer, jar)
    }

    async fn state(&self, uid: u64, key: &str) -> String {
        let q = self.app.query(uid, key).await;
        q["prc"].as_str().map(str::to_owned).unwrap_or_default()
    }

    async fn state_becomes(&self, uid: u64, key: &str, prc: &str) {
        eventually(&format!("order {uid} in {prc}"), || async {
            (self.state(uid, key).await == prc).then_some(())
        })
        .await;
    }

    /// A callback as the acquirer would sign it (or not).
    async fn callback(&self, id: &str, timestamp: i64, body: &str, secret: &str) -> u16 {
        let secret = Secret::parse(secret).expect("secret");
        self.http
            .post(format!("{}/upstream/acq/callback", self.app.base))
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                secret.sign(id, timestamp, body.as_bytes()),
            )
            .body(body.to_owned())
            .send()
            .await
            .expect("callback")
            .status()
            .as_u16()
    }
}

/// The states of the first `n` transaction notices, once they arrived.
async fn notice_states(receiver: &Receiver, n: usize) -> Vec<String> {
    eventually("the notices", || async {
        (receiver.count() >= n).then_some(())
    })
    .await;
    receiver
        .transaction_notices()
        .iter()
        .map(|n| n.prc.clone())
        .collect()
}

/// The first notice's state, once it arrived.
async fn one_notice(receiver: &Receiver) -> String {
    eventually("a notice", || async {
        (receiver.count() >= 1).then_some(())
    })
    .await;
    receiver.first_transaction_notice().prc.to_string()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// A 3-D Secure card: the consumer is sent to the acquirer's challenge, types the
/// password there, comes back, and the order is paid once, with one notice.
#[tokio::test]
async fn a_3d_secure_card_is_paid_through_the_acquirers_challenge_once() {
    let p = production().await;
    let receiver = p.app.receiver().await;
    let (uid, key) = p.app.sample_order("PROD-3DS", 1200).await;
    let (answer, jar) = p.submit_card(uid, "4938170130000003", "1228", "985").await;
    assert_eq!(answer.status(), 303);
    let challenge = location(&answer);
    assert!(
        challenge.starts_with(&format!("{}/challenge/", p.acquirer)),
        "{challenge}"
    );
    assert_eq!(
        p.state(uid, &key).await,
        "200",
        "nothing is decided before the challenge"
    );
    assert_eq!(p.charges().await, 0);

    let page = p.http.get(&challenge).send().await.expect("challenge page");
    assert!(page.text().await.expect("html").contains("password"));
    let wrong = p
        .http
        .post(&challenge)
        .form(&[("password", "wrong")])
        .send()
        .await
        .expect("wrong password");
    assert_eq!(wrong.status(), 422);
    let passed = p
        .http
        .post(&challenge)
        .form(&[("password", "nccc1234")])
        .send()
        .await
        .expect("password");
    assert_eq!(passed.status(), 303);
    let back = location(&passed);
    assert!(
        back.starts_with(&format!("{}/payment/", p.app.base)),
        "{back}"
    );
    let returned = p
        .http
        .get(&back)
        .header("cookie", &jar)
        .send()
        .await
        .expect("return");
    assert_eq!(returned.status(), 303, "then the result page");
    assert!(
        location(&returned).ends_with("/result"),
        "{}",
        location(&returned)
    );

    p.state_becomes(uid, &key, "250").await;
    let q = p.app.query(uid, &key).await;
    assert_eq!(q["cardno"], "493817******0003", "{q}");
    assert!(!q["acode"].as_str().unwrap_or_default().is_empty(), "{q}");
    assert_eq!(one_notice(&receiver).await, "250");
    // The acquirer's callback of the same outcome arrives too, and changes nothing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(p.charges().await, 1, "{:?}", p.ledger().await);
    assert_eq!(receiver.count(), 1);
    p.app.finish().await;
}

/// The acquirer performs a charge and drops the connection before answering: the order
/// is `A0001`, the resolver asks by reference, finds it paid, and the merchant gets one
/// confirmation notice; the acquirer charged once.
#[tokio::test]
async fn a_charge_whose_answer_was_lost_is_resolved_paid_without_a_second_charge() {
    let p = production().await;
    let receiver = p.app.receiver().await;
    p.fault(json!({"op": "charge", "fault": "drop_after_commit", "count": 1}))
        .await;
    let (uid, key) = p.app.sample_order("PROD-DROP", 900).await;
    let (answer, _) = p.submit_card(uid, "4111111111111111", "1230", "123").await;
    assert_eq!(answer.status(), 303);
    assert_eq!(p.state(uid, &key).await, "A0001");
    assert_eq!(p.charges().await, 1, "performed once, answer lost");

    p.state_becomes(uid, &key, "250").await;
    // The transaction notice of A0001, then the confirmation of 250.
    assert_eq!(notice_states(&receiver, 2).await, ["A0001", "250"]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(p.charges().await, 1, "{:?}", p.ledger().await);
    assert_eq!(receiver.count(), 2);
    p.app.finish().await;
}

/// A 500 is asked again with the same reference: the second answer counts, one charge.
#[tokio::test]
async fn a_500_is_asked_again_with_the_same_reference_and_charges_once() {
    let p = production().await;
    p.fault(json!({"op": "charge", "fault": "error_500", "count": 1}))
        .await;
    let (uid, key) = p.app.sample_order("PROD-500", 700).await;
    let (answer, _) = p.submit_card(uid, "4111111111111111", "1230", "123").await;
    assert_eq!(answer.status(), 303);
    assert_eq!(p.state(uid, &key).await, "250");
    assert_eq!(p.charges().await, 1);

    // An upstream that keeps failing leaves the outcome unknown; it was never
    // performed, so the resolver finds it failed, and nothing was charged.
    p.fault(json!({"op": "charge", "fault": "error_500", "count": 3}))
        .await;
    let (uid, key) = p.app.sample_order("PROD-500-B", 700).await;
    p.submit_card(uid, "4111111111111111", "1230", "123").await;
    assert_eq!(p.state(uid, &key).await, "A0001");
    p.state_becomes(uid, &key, "300").await;
    assert_eq!(p.charges().await, 1);
    p.app.finish().await;
}

/// Instalments are the acquirer's to run: the count chosen on the PayPage is sent with
/// the charge (the reference acquirer refuses an instalment charge without one).
#[tokio::test]
async fn an_instalment_charge_carries_its_count_to_the_acquirer() {
    let p = production().await;
    let (uid, key) = p.app.sample_order("PROD-INST", 3000).await;
    let (answer, _) = p
        .submit_card_with(
            uid,
            "C_INSTALLMENT",
            ("4111111111111111", "1230", "123"),
            &[("installment", "3")],
        )
        .await;
    assert_eq!(answer.status(), 303);
    assert_eq!(p.state(uid, &key).await, "250");
    assert_eq!(p.charges().await, 1);
    p.app.finish().await;
}

/// A declined card is the acquirer's word, and the consumer may try another card.
#[tokio::test]
async fn declines_come_from_the_acquirer() {
    let p = production().await;
    p.fault(json!({"op": "charge", "fault": "decline", "count": 1}))
        .await;
    let (uid, key) = p.app.sample_order("PROD-DECLINE", 500).await;
    let (answer, _) = p.submit_card(uid, "4111111111111111", "1230", "123").await;
    assert_eq!(answer.status(), 422, "the form again, for another card");
    let (answer, _) = p.submit_card(uid, "4111111111111111", "1230", "123").await;
    assert_eq!(answer.status(), 303);
    assert_eq!(p.state(uid, &key).await, "250");
    assert_eq!(p.charges().await, 1);
    p.app.finish().await;
}

/// Callbacks: forged, stale or replayed ones are refused and change nothing; the first
/// genuine one settles an `A0001` order, and a duplicate of its outcome changes nothing.
#[tokio::test]
async fn callbacks_are_verified_replays_refused_and_late_ones_change_nothing() {
    let p = production().await;
    let receiver = p.app.receiver().await;
    // The pending test card: the acquirer answers pending, then calls back.
    let (uid, key) = p.app.sample_order("PROD-CB", 800).await;
    // Only the callback can settle it: the resolver's questions fail.
    p.fault(json!({"op": "status", "fault": "error_500", "count": 100}))
        .await;
    let (answer, _) = p.submit_card(uid, "4000000000000028", "1230", "123").await;
    assert_eq!(answer.status(), 303);
    assert_eq!(p.state(uid, &key).await, "A0001");
    let ledger = p.ledger().await;
    let charge = ledger
        .iter()
        .find(|l| l["kind"] == "charge")
        .expect("the charge");
    let reference = charge["reference"].as_str().expect("reference").to_owned();
    // Before the acquirer decides, forged and stale "declined" callbacks arrive.
    let declined = json!({"type": "charge.updated", "outcome": {
        "reference": reference, "kind": "charge", "status": "declined", "amount": 0}})
    .to_string();
    let now = unix_now();
    let other_secret = "whsec_dGhpcyBpcyBub3QgdGhlIHNlY3JldCE=";
    assert_eq!(
        p.callback("msg_forged", now, &declined, other_secret).await,
        401
    );
    assert_eq!(
        p.callback("msg_old", now - 600, &declined, SECRET).await,
        401
    );
    let unsigned = p
        .http
        .post(format!("{}/upstream/acq/callback", p.app.base))
        .body(declined.clone())
        .send()
        .await
        .expect("unsigned");
    assert_eq!(unsigned.status(), 401);

    // The acquirer's own callback (paid) settles it.
    p.state_becomes(uid, &key, "250").await;
    eventually("two notices", || async {
        (receiver.count() >= 2).then_some(())
    })
    .await;
    // A genuine, late "declined" is recorded and changes nothing; its replay is 409.
    assert_eq!(
        p.callback("msg_late", unix_now(), &declined, SECRET).await,
        200
    );
    assert_eq!(
        p.callback("msg_late", unix_now(), &declined, SECRET).await,
        409
    );
    assert_eq!(p.state(uid, &key).await, "250");
    let recorded = p
        .app
        .state
        .store
        .callbacks_of(uid)
        .await
        .expect("callbacks");
    assert_eq!(recorded.len(), 2, "{reference} {declined} {recorded:?}");
    assert_eq!(
        recorded.iter().filter(|c| c.2).count(),
        1,
        "one applied: {recorded:?}"
    );
    // A0001's notice and 250's confirmation, nothing for the late callback.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(notice_states(&receiver, 2).await, ["A0001", "250"]);
    assert_eq!(p.charges().await, 1);
    p.app.finish().await;
}

/// An outcome the upstream never gives is left to the operator after the schedule:
/// listed by `mypay-gateway unresolved`, with an e-mail.
#[tokio::test]
async fn an_outcome_never_known_is_left_to_the_operator() {
    let p = production().await;
    p.fault(json!({"op": "charge", "fault": "drop_after_commit", "count": 1}))
        .await;
    p.fault(json!({"op": "status", "fault": "error_500", "count": 100}))
        .await;
    let emails_before = p.app.state.store.email_count().await.expect("emails");
    let (uid, key) = p.app.sample_order("PROD-LOST", 600).await;
    p.submit_card(uid, "4111111111111111", "1230", "123").await;
    assert_eq!(p.state(uid, &key).await, "A0001");
    let left = eventually("given up", || async {
        let left = p.app.state.store.unresolved().await.expect("unresolved");
        (!left.is_empty()).then_some(left)
    })
    .await;
    assert_eq!(left[0].uid, uid);
    assert_eq!(p.state(uid, &key).await, "A0001", "never guessed");
    assert_eq!(
        p.app.state.store.email_count().await.expect("emails"),
        emails_before + 1
    );
    let (ok, out, err) = gateway_command(&p.app.database, &["--mode", "production", "unresolved"]);
    assert!(ok, "{err}");
    assert!(out.contains(&uid.to_string()), "{out}");
    p.app.finish().await;
}

/// Production names the tool no upstream moves, and does not start.
#[tokio::test]
async fn production_names_a_tool_without_an_upstream() {
    let db = database_with_sample_merchant().await;
    let dir = std::env::temp_dir().join(format!("mypay-upstreams-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("upstreams.toml");
    std::fs::write(
        &file,
        format!(
            "[[upstream]]\nname = \"cards\"\nurl = \"http://127.0.0.1:9\"\nsecret = \"{SECRET}\"\n\
             tools = [\"CREDITCARD\"]\ntimeout_secs = 5\n"
        ),
    )
    .expect("file");
    let path = file.to_string_lossy().to_string();
    let (ok, _, err) = gateway_command(
        &db,
        &[
            "--mode",
            "production",
            "--upstreams",
            &path,
            "--listen",
            "127.0.0.1:0",
            "--public-url",
            "https://pay.example",
            "--tls-offloaded",
        ],
    );
    assert!(!ok, "it must not start");
    assert!(
        err.contains("no upstream")
            && err.contains(mypay_gateway::ledger::merchant::SAMPLE_STORE_UID),
        "{err}"
    );
    std::fs::write(
        &file,
        "[[upstream]]\nname = \"x\"\nurl = \"http://bank.example\"\n",
    )
    .expect("file");
    let (ok, _, err) = gateway_command(
        &db,
        &["--mode", "production", "--upstreams", &path, "unresolved"],
    );
    assert!(!ok && err.contains("upstreams file"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

impl Production {
    /// A PayPage form of `uid` (`/payment/{ticket}/{action}`) with its CSRF token.
    async fn choose(&self, uid: u64, action: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
        let ticket = self.app.ticket(uid);
        let page = get_page(&self.app, &format!("/payment/{ticket}.html"), "").await;
        let jar = cookies(&page);
        let csrf = hidden_csrf(&page.text().await.expect("html"));
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(pairs);
        post_form(
            &self.app,
            &format!("/payment/{ticket}/{action}"),
            &jar,
            &all,
        )
        .await
    }

    /// An acquirer test control: `/_acquirer/{path}`.
    async fn control(&self, path: &str, body: Value) -> u16 {
        self.http
            .post(format!("{}/_acquirer/{path}", self.acquirer))
            .json(&body)
            .send()
            .await
            .expect("control")
            .status()
            .as_u16()
    }

    fn ledger_kind(ledger: &[Value], kind: &str) -> Vec<Value> {
        ledger
            .iter()
            .filter(|l| l["kind"] == kind)
            .cloned()
            .collect()
    }
}

/// An authorisation captured in part, then refunded in part: each moved once at the
/// acquirer, which never lets more be captured or refunded than was.
#[tokio::test]
async fn an_authorisation_is_captured_and_refunded_through_the_acquirer() {
    let p = production().await;
    let mut order = sample_order_json("PROD-AUTH", 1000);
    order["creditcard_is_automatic_payment"] = json!("0");
    let answer = p.app.order(&order).await;
    let (uid, key) = placed(&answer);
    let (answer, _) = p.submit_card(uid, "4111111111111111", "1230", "123").await;
    assert_eq!(answer.status(), 303);
    assert_eq!(p.state(uid, &key).await, "245");

    let capture = json!({"uid": uid.to_string(), "key": key, "cost": 800,
        "items": [{"id": "1", "name": "商品名稱", "cost": "800", "amount": "1", "total": "800"}]});
    let captured = p.app.api("api/authorizedrequestpayment", &capture).await;
    assert_eq!(captured["code"], "B200", "{captured}");
    assert_eq!(p.state(uid, &key).await, "250");

    let refunded = p.app.refund(uid, &key, 300).await;
    assert_eq!(refunded["code"], "B200", "{refunded}");
    let ledger = p.ledger().await;
    let captures = Production::ledger_kind(&ledger, "capture");
    assert_eq!(captures.len(), 1, "{ledger:?}");
    assert_eq!(captures[0]["amount"], 800);
    let refunds = Production::ledger_kind(&ledger, "refund");
    assert_eq!(refunds.len(), 1, "{ledger:?}");
    assert_eq!(
        (refunds[0]["amount"].clone(), refunds[0]["state"].clone()),
        (json!(300), json!("approved"))
    );
    let query = p.app.query(uid, &key).await;
    assert_eq!(query["refund_order"][0]["prc"], "230", "{query}");
    assert_eq!(query["refund_order"][0]["cost"], "300", "{query}");

    // More than is left is refused by the gateway before the acquirer is asked.
    let too_much = p.app.refund(uid, &key, 600).await;
    assert_ne!(too_much["code"], "B200", "{too_much}");
    assert_eq!(
        Production::ledger_kind(&p.ledger().await, "refund").len(),
        1
    );
    p.app.finish().await;
}

/// A convenience-store code issued by the acquirer, then paid there: the merchant's
/// non-real-time notice, then the paid one, with the amount the acquirer reports.
#[tokio::test]
async fn a_store_code_issued_by_the_acquirer_is_paid_there() {
    let p = production().await;
    let receiver = p.app.receiver().await;
    let (uid, key) = p.app.sample_order("PROD-CVS", 1500).await;
    let issued = p.choose(uid, "issue", &[("pfn", "CSTORECODE")]).await;
    assert_eq!(issued.status(), 303);
    assert_eq!(p.state(uid, &key).await, "260");
    let ledger = p.ledger().await;
    let collections = Production::ledger_kind(&ledger, "collection");
    assert_eq!(collections.len(), 1, "{ledger:?}");
    let reference = collections[0]["reference"]
        .as_str()
        .expect("reference")
        .to_owned();
    // The code the consumer is given is the acquirer's.
    let query = p.app.query(uid, &key).await;
    assert!(query.to_string().contains("LLL"), "{query}");

    let paid = p
        .control(&format!("collections/{reference}/pay"), json!({}))
        .await;
    assert_eq!(paid, 200);
    p.state_becomes(uid, &key, "250").await;
    eventually("two notices", || async {
        (receiver.count() >= 2).then_some(())
    })
    .await;
    // Paid twice at the acquirer's side is one payment here.
    assert_eq!(
        p.control(&format!("collections/{reference}/pay"), json!({}))
            .await,
        404
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.count(), 2);

    // A store payment is refunded at the acquirer's batch: asked now (200), cancelled no
    // more (the acquirer has it), completed by its callback (230).
    let refunded = p.app.refund(uid, &key, 500).await;
    assert_eq!(refunded["code"], "B200", "{refunded}");
    assert_eq!(
        p.app.query(uid, &key).await["refund_order"][0]["prc"],
        "200"
    );
    let cancel = p
        .app
        .api(
            "api/refundcancel",
            &json!({"uid": uid.to_string(), "key": key}),
        )
        .await;
    assert_ne!(cancel["code"], "B200", "{cancel}");
    let ledger = p.ledger().await;
    let refunds = Production::ledger_kind(&ledger, "refund");
    assert_eq!(refunds.len(), 1, "{ledger:?}");
    assert_eq!(refunds[0]["state"], "pending");
    let refund_ref = refunds[0]["reference"]
        .as_str()
        .expect("reference")
        .to_owned();
    assert_eq!(
        p.control(&format!("refunds/{refund_ref}/complete"), json!({}))
            .await,
        200
    );
    eventually("the refund completed", || async {
        (p.app.query(uid, &key).await["refund_order"][0]["prc"] == "230").then_some(())
    })
    .await;
    p.app.finish().await;
}

/// An online wallet: the PayPage shows the acquirer's QR content; the wallet's decision
/// arrives by callback. The sandbox's "approve" button is no route of production.
#[tokio::test]
async fn a_wallet_is_decided_by_the_acquirers_callback() {
    let p = production().await;
    let (uid, key) = p.app.sample_order("PROD-LINE", 600).await;
    let ticket = p.app.ticket(uid);
    let page = get_page(&p.app, &format!("/payment/{ticket}/wallet/LINEPAYON"), "").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("<svg"), "{html}");
    let ledger = p.ledger().await;
    let wallets = Production::ledger_kind(&ledger, "wallet");
    assert_eq!(wallets.len(), 1, "{ledger:?}");
    let reference = wallets[0]["reference"]
        .as_str()
        .expect("reference")
        .to_owned();
    // Reloading the page starts nothing new.
    get_page(&p.app, &format!("/payment/{ticket}/wallet/LINEPAYON"), "").await;
    assert_eq!(
        Production::ledger_kind(&p.ledger().await, "wallet").len(),
        1
    );
    assert_eq!(p.state(uid, &key).await, "200");

    assert_eq!(
        p.control(
            &format!("wallets/{reference}/pay"),
            json!({"approve": true})
        )
        .await,
        200
    );
    p.state_becomes(uid, &key, "250").await;

    // A declined one fails its order.
    let (uid, key) = p.app.sample_order("PROD-JKO", 600).await;
    let ticket = p.app.ticket(uid);
    get_page(&p.app, &format!("/payment/{ticket}/wallet/JKOON"), "").await;
    let reference = format!("wallet-{uid}-JKOON");
    assert_eq!(
        p.control(
            &format!("wallets/{reference}/pay"),
            json!({"approve": false})
        )
        .await,
        200
    );
    p.state_becomes(uid, &key, "300").await;
    p.app.finish().await;
}

/// A post-pay (AFP) application reviewed by the acquirer's callback, then captured when
/// shipped through the acquirer.
#[tokio::test]
async fn a_post_pay_application_is_reviewed_by_callback_and_captured_when_shipped() {
    let p = production().await;
    let order = sample_order_with(
        "PROD-AFP",
        2000,
        json!({"pfn": "AFP", "shipping_info": {"shipment_type": 2, "name": "王小明",
            "ship_address": "台北市信義路1號", "tel": "0912345678", "zip_code": "110"}}),
    );
    let answer = p.app.order(&order).await;
    assert_eq!(answer["code"], "200", "{answer}");
    let (uid, key) = placed(&answer);
    let applied = p.choose(uid, "apply", &[("pfn", "AFP")]).await;
    assert_eq!(applied.status(), 303);
    assert_eq!(p.state(uid, &key).await, "282");
    let reference = format!("apply-{uid}");
    assert_eq!(
        p.control(
            &format!("applications/{reference}/review"),
            json!({"approve": true})
        )
        .await,
        200
    );
    p.state_becomes(uid, &key, "284").await;
    let capture = json!({"uid": uid.to_string(), "key": key, "cost": 2000,
        "items": [{"id": "1", "name": "商品名稱", "cost": "2000", "amount": "1", "total": "2000"}]});
    let captured = p.app.api("api/authorizedrequestpayment", &capture).await;
    assert_eq!(captured["code"], "B200", "{captured}");
    assert_eq!(p.state(uid, &key).await, "250");
    let ledger = p.ledger().await;
    assert_eq!(
        Production::ledger_kind(&ledger, "capture").len(),
        1,
        "{ledger:?}"
    );
    p.app.finish().await;
}

/// A recurring series in production: the card is kept by the acquirer (a token, never
/// the number at the gateway), period 1 is charged on the PayPage, and period 2, a month
/// later on the core's clock, is a stored-card charge through the acquirer.
#[tokio::test]
async fn a_recurring_period_is_a_stored_card_charge_through_the_acquirer() {
    let p = production_on(Clock::test()).await;
    let receiver = p.app.receiver().await;
    let order = sample_order_with(
        "PROD-SUB",
        300,
        json!({"pfn": "DIRECTDEBIT", "regular": "M", "regular_total": "3", "regular_first_charge_date": ""}),
    );
    let answer = p.app.order(&order).await;
    assert_eq!(answer["code"], "200", "{answer}");
    let (uid, key) = placed(&answer);
    let (paid, _) = p
        .submit_card_as(uid, "DIRECTDEBIT", "4111111111111111", "1230", "123")
        .await;
    assert_eq!(paid.status(), 303);
    assert_eq!(p.state(uid, &key).await, "250");
    let ledger = p.ledger().await;
    assert_eq!(
        Production::ledger_kind(&ledger, "token").len(),
        1,
        "{ledger:?}"
    );
    assert_eq!(p.charges().await, 1);

    // The core's clock, moved as the sandbox's helper moves it (production has none).
    let clock = p.app.state.clocks.shared().clone();
    let by = clock.step(32 * 86_400).expect("the clock moves");
    let store = &p.app.state.store;
    let offset = store
        .advance_clock(by, clock.offset_micros())
        .await
        .expect("stored");
    clock.restore(offset, i64::MIN);
    eventually("period 2 charged", || async {
        (p.charges().await == 2).then_some(())
    })
    .await;
    eventually("period 2 notified", || async {
        receiver
            .transaction_notices()
            .iter()
            .any(|n| n.nois == "2" && n.prc == "250")
            .then_some(())
    })
    .await;
    let charges: Vec<Value> = Production::ledger_kind(&p.ledger().await, "charge");
    assert!(charges.iter().all(|c| c["amount"] == 300), "{charges:?}");
    p.app.finish().await;
}

/// The e-wallet in production: a 3-D Secure card bound through the acquirer's own
/// challenge (kept as the acquirer's token), then an order charged in the background with
/// it: a stored-card charge through the acquirer, once.
#[tokio::test]
async fn an_ewallet_card_is_bound_through_the_acquirer_and_charged_in_the_background() {
    let p = production().await;
    let receiver = p.app.receiver().await;
    p.app
        .update_merchant(|s| s.notify.ewallet = Some(receiver.url.clone()))
        .await;
    let bind = json!({
        "user_id": "prod-wallet", "user_sn": "A123456789", "user_cellphone_code": "886",
        "user_cellphone": "918123123", "user_real_name": "金城武", "pfn": "CREDITCARD",
        "ip": "127.0.0.1",
    });
    let answer = p.app.api("api/ewalletbind", &bind).await;
    assert_eq!(answer["code"], "B200", "{answer}");
    let url = answer["url"].as_str().expect("url").to_owned();
    let ticket = url
        .rsplit('/')
        .next()
        .and_then(|t| t.strip_suffix(".html"))
        .expect("ticket")
        .to_owned();
    let page = p.http.get(&url).send().await.expect("bind page");
    let jar = cookies(&page);
    let csrf = hidden_csrf(&page.text().await.expect("html"));
    let sent = post_form(
        &p.app,
        &format!("/ewallet/{ticket}/bind"),
        &jar,
        &[
            ("csrf", &csrf),
            ("card_number", "4938170130000003"),
            ("expiry", "1228"),
            ("cvc", "985"),
        ],
    )
    .await;
    assert_eq!(sent.status(), 303);
    let challenge = location(&sent);
    assert!(challenge.starts_with(&p.acquirer), "{challenge}");
    let passed = p
        .http
        .post(&challenge)
        .form(&[("password", "nccc1234")])
        .send()
        .await
        .expect("password");
    let back = location(&passed);
    assert!(
        back.ends_with(&format!("/ewallet/{ticket}/challenge")),
        "{back}"
    );
    let returned = p
        .http
        .get(&back)
        .header("cookie", &jar)
        .send()
        .await
        .expect("back");
    assert_eq!(returned.status(), 303);
    let pan = eventually("the e-wallet notice", || async {
        receiver
            .bodies()
            .into_iter()
            .find(|b| b.contains("virtual_pan="))
            .map(|b| mypay_protocol::notice::EwalletNotice::from_form(b.as_bytes()).virtual_pan)
    })
    .await;
    assert_eq!(pan.len(), 16);
    let ledger = p.ledger().await;
    assert_eq!(
        Production::ledger_kind(&ledger, "token").len(),
        1,
        "{ledger:?}"
    );
    assert_eq!(p.charges().await, 0, "a bind charges nothing");

    let order = sample_order_with(
        "PROD-EW",
        700,
        json!({"user_id": "prod-wallet", "enable_ewallet": 1, "virtual_pan": pan, "ewallet_type": 2}),
    );
    let answer = p.app.order(&order).await;
    assert_eq!(answer["code"], "250", "{answer}");
    let again = p.app.order(&order).await;
    assert_eq!(
        again["uid"], answer["uid"],
        "the same request: the same transaction"
    );
    let ledger = p.ledger().await;
    let charges = Production::ledger_kind(&ledger, "charge");
    assert_eq!(charges.len(), 1, "{ledger:?}");
    assert_eq!(
        (charges[0]["amount"].clone(), charges[0]["state"].clone()),
        (json!(700), json!("approved"))
    );
    p.app.finish().await;
}
