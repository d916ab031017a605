//! The SDK against a spawned gateway (its sandbox): every command in merchant mode, the
//! dealer and client modes with a wrong key and a refused command, and every kind of
//! notice received through `notices::handler` and confirmed with the gateway.

use mypay_client::doc_support::Gateway;
use mypay_client::protocol::messages::{
    DisableDirectDebitRequest, EwalletBindRequest, IssueInvoiceRequest, Item, OrderRequest,
};
use mypay_client::{Client, ClientError, Notice, SAMPLE_STORE_KEY, SAMPLE_STORE_UID};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SAMPLE_AGENT_UID: &str = "518169081001";
const SAMPLE_AGENT_KEY: &str = "2MrhtRYeF9wKZ4bKwzZoL8aZf26pWzIG";

fn order(order_id: &str, cost: i64, pfn: &str) -> OrderRequest {
    OrderRequest {
        store_uid: Some(SAMPLE_STORE_UID.into()),
        order_id: Some(order_id.into()),
        cost: Some(cost.to_string()),
        user_id: Some("sdk-user".into()),
        ip: Some("127.0.0.1".into()),
        pfn: Some(pfn.into()),
        items: Some(vec![Item::new("1", "倚天劍模型", cost, 1)]),
        ..Default::default()
    }
}

/// A merchant's receiver: every notice through the SDK's handler, kept.
async fn receiver() -> (String, Arc<Mutex<Vec<Notice>>>) {
    let kept = Arc::new(Mutex::new(Vec::new()));
    let store = kept.clone();
    let app = axum::Router::new().route(
        "/notify",
        mypay_client::notices::handler(move |notice: Notice| {
            let store = store.clone();
            async move {
                store.lock().expect("lock").push(notice);
                Ok::<(), std::io::Error>(())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/notify", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, kept)
}

async fn until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(v) = probe() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what} did not come");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_in_merchant_mode_and_every_notice_confirmed() {
    let gateway = Gateway::start();
    let (url, kept) = receiver().await;
    gateway.command(&[
        "merchant",
        "set",
        SAMPLE_STORE_UID,
        "--notify-url",
        &url,
        "--refund-url",
        &url,
        "--ewallet-url",
        &url,
    ]);
    let client = gateway.sample_client().expect("client");

    // api/paymentsupportpaymode, api/orders, the card paid, api/queryorder.
    let tools = client.payment_modes(1000, "TWD").await.expect("modes");
    assert!(tools.contains(&"CREDITCARD".to_owned()), "{tools:?}");
    let made = client
        .create_order(&order("SDK-1", 1000, "CREDITCARD"))
        .await
        .expect("order");
    gateway.pay(made.uid).await.expect("paid");
    let record = client
        .query_order(made.uid, &made.key)
        .await
        .expect("query");
    assert_eq!((record.prc.as_str(), record.cost), ("250", 1000));
    let paid = until("the transaction notice", || {
        kept.lock().expect("lock").iter().find_map(|n| match n {
            Notice::Transaction(t) if t.uid == made.uid.to_string() => Some(n.clone()),
            _ => None,
        })
    })
    .await;
    assert!(paid.is_about(made.uid, &made.key));
    assert_eq!(client.confirm(&paid).await.expect("confirmed").prc, "250");

    // api/refund and its notice; api/refundcancel of a refund already done is B500.
    let refund = client
        .refund(made.uid, &made.key, 400)
        .await
        .expect("refund");
    let row = refund.row_data.expect("row");
    let refunded = until("the refund notice", || {
        kept.lock().expect("lock").iter().find_map(|n| match n {
            Notice::Refund(r) if r.refund_uid == row.refund_uid => Some(n.clone()),
            _ => None,
        })
    })
    .await;
    client
        .confirm(&refunded)
        .await
        .expect("the refund confirmed");
    let refused = client
        .refund(made.uid, &made.key, 10_000)
        .await
        .expect_err("more than paid");
    assert!(refused.code().is_some(), "{refused}");
    match client.refund_cancel(made.uid, &made.key).await {
        Ok(answer) => assert_eq!(answer.code, "B200"),
        Err(e) => assert_eq!(e.code(), Some("B500"), "{e}"),
    }

    // api/invoice and api/issueinvoice (the sample merchant issues e-invoices).
    assert_eq!(
        client
            .invoice(made.uid, &made.key)
            .await
            .expect("invoice")
            .state,
        0
    );
    let issued = client
        .issue_invoice(&IssueInvoiceRequest {
            store_uid: Some(SAMPLE_STORE_UID.into()),
            uid: Some(made.uid.to_string()),
            key: Some(made.key.clone()),
            invoice_input_type: Some(1),
            invoice_cloud_type: Some("2".into()),
            invoice_mobile_code: Some("/NFVIAZP".into()),
            ..Default::default()
        })
        .await;
    match issued {
        Ok(answer) => assert_eq!(answer.code, "B200"),
        Err(e) => assert_eq!(
            e.code(),
            Some("B500"),
            "a refusal with the document's code: {e}"
        ),
    }

    // api/authorizedrequestpayment and api/cancelauthorization.
    let mut held = order("SDK-AUTH-1", 900, "CREDITCARD");
    held.creditcard_is_automatic_payment = Some("0".into());
    let auth = client.create_order(&held).await.expect("order");
    gateway.pay(auth.uid).await.expect("authorised");
    let captured = client
        .capture(
            auth.uid,
            &auth.key,
            900,
            vec![Item::new("1", "倚天劍模型", 900, 1)],
        )
        .await
        .expect("capture");
    assert_eq!(captured.content.prc, "250");
    held.order_id = Some("SDK-AUTH-2".into());
    let auth = client.create_order(&held).await.expect("order");
    gateway.pay(auth.uid).await.expect("authorised");
    let cancelled = client
        .cancel_authorization(auth.uid, &auth.key)
        .await
        .expect("cancel");
    assert_eq!(cancelled.code, "B200");

    // A pay-later code: the non-real-time notice.
    let later = client
        .create_order(&order("SDK-CVS-1", 300, "CSTORECODE"))
        .await
        .expect("order");
    let issued_code = reqwest::Client::new()
        .post(format!("{}/sandbox/orders/{}/pay", gateway.base, later.uid))
        .header("content-type", "application/json")
        .body(r#"{"pfn":"CSTORECODE"}"#)
        .send()
        .await
        .expect("code");
    assert_eq!(issued_code.status(), 200);
    let pending = until("the non-real-time notice", || {
        kept.lock().expect("lock").iter().find_map(|n| match n {
            Notice::Transaction(t) if t.uid == later.uid.to_string() => Some(n.clone()),
            _ => None,
        })
    })
    .await;
    client
        .confirm(&pending)
        .await
        .expect("the code's notice confirmed");

    // A charge pending with the acquirer, resolved a minute later: the confirmation notice.
    let pending_card = client
        .create_order(&order("SDK-PENDING-1", 200, "CREDITCARD"))
        .await
        .expect("order");
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/sandbox/orders/{}/pay",
            gateway.base, pending_card.uid
        ))
        .header("content-type", "application/json")
        .body(r#"{"card_number":"4000000000000028","expiry":"1230","cvc":"123"}"#)
        .send()
        .await
        .expect("pay");
    assert_eq!(answer.status(), 200);
    let advanced = reqwest::Client::new()
        .post(format!("{}/sandbox/clock/advance", gateway.base))
        .header("content-type", "application/json")
        .body(r#"{"seconds":60}"#)
        .send()
        .await
        .expect("advance");
    assert_eq!(advanced.status(), 200);
    let confirmed = until("the confirmation notice", || {
        kept.lock().expect("lock").iter().find_map(|n| match n {
            Notice::Transaction(t) if t.uid == pending_card.uid.to_string() && t.prc == "250" => {
                Some(n.clone())
            }
            _ => None,
        })
    })
    .await;
    client
        .confirm(&confirmed)
        .await
        .expect("the confirmation confirmed");

    // api/disabledirectdebit of a recurring series.
    let (order_id, group_id) = gateway
        .recurring_series(&client, "SDK-SUB-1")
        .await
        .expect("series");
    let stopped = client
        .disable_direct_debit(&DisableDirectDebitRequest {
            store_uid: Some(SAMPLE_STORE_UID.into()),
            order_id: Some(order_id),
            group_id: Some(group_id),
            stop_time: Some("20991231".into()),
            stop_reason: None,
        })
        .await
        .expect("stopped");
    assert_eq!(stopped.code, "B200");

    // api/ewalletbind, the card bound on the sandbox's helper, the e-wallet notice.
    let bind = client
        .ewallet_bind(&bind_request("wallet-user"))
        .await
        .expect("bind page");
    let ticket = bind
        .url
        .rsplit('/')
        .next()
        .expect("ticket")
        .trim_end_matches(".html")
        .to_owned();
    let bound = reqwest::Client::new()
        .post(format!("{}/sandbox/ewallet/{ticket}/bind", gateway.base))
        .header("content-type", "application/json")
        .body(r#"{"card_number":"4058650600065507","expiry":"1022","cvc":"395"}"#)
        .send()
        .await
        .expect("bound");
    assert_eq!(
        bound.status(),
        200,
        "{}",
        bound.text().await.unwrap_or_default()
    );
    let wallet = until("the e-wallet notice", || {
        kept.lock().expect("lock").iter().find_map(|n| match n {
            Notice::Ewallet(w) if w.user_id == "wallet-user" => Some(w.clone()),
            _ => None,
        })
    })
    .await;
    assert_eq!(wallet.enable, "1");
    assert!(wallet.cardno.ends_with("5507"), "{wallet:?}");

    // An order charged to that card in the background: the answer is the charge's state
    // and the transaction, not a refusal.
    let background = client
        .create_order(&OrderRequest {
            user_id: Some("wallet-user".into()),
            enable_ewallet: Some(1),
            ewallet_type: Some(2),
            virtual_pan: Some(wallet.virtual_pan.clone()),
            ..order("SDK-EWALLET-1", 700, "0")
        })
        .await
        .expect("charged in the background");
    assert_eq!(background.code, "250", "{background:?}");
    assert!(
        background.uid > 0 && background.url.is_empty(),
        "{background:?}"
    );
    let record = client
        .query_order(background.uid, &background.key)
        .await
        .expect("the charge's record");
    assert_eq!((record.prc.as_str(), record.cost), ("250", 700));
}

fn bind_request(user_id: &str) -> EwalletBindRequest {
    EwalletBindRequest {
        store_uid: Some(SAMPLE_STORE_UID.into()),
        user_id: Some(user_id.into()),
        user_sn: Some("A123456789".into()),
        user_cellphone_code: Some("886".into()),
        user_cellphone: Some("918123123".into()),
        user_real_name: Some("金城武".into()),
        pfn: Some("CREDITCARD".into()),
        ip: Some("127.0.0.1".into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dealer_and_client_modes_with_a_wrong_key_and_a_refused_command() {
    let gateway = Gateway::start();
    // Dealer mode: the sample dealer acts for the sample merchant.
    let dealer = Client::dealer(
        &format!("{}/api/agent", gateway.base),
        SAMPLE_AGENT_UID,
        SAMPLE_AGENT_KEY,
    )
    .expect("dealer");
    let made = dealer
        .create_order(&order("SDK-DEALER-1", 100, "CREDITCARD"))
        .await
        .expect("order");
    assert!(made.uid > 0);
    let page = dealer
        .ewallet_bind(&bind_request("dealer-user"))
        .await
        .expect("bind");
    assert_eq!(page.code, "B200");

    // Client mode: a code from the gateway's command line seals /api/open orders; a
    // refund is refused there with the document's code.
    let out = gateway.command(&["client-code", "issue", SAMPLE_STORE_UID, "--json"]);
    let issued: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    let code = issued["code"].as_str().expect("code");
    let open = Client::client_mode(
        &format!("{}/api/open", gateway.base),
        SAMPLE_STORE_UID,
        code,
    )
    .expect("client mode");
    let made = open
        .create_order(&order("SDK-OPEN-1", 100, "CREDITCARD"))
        .await
        .expect("order");
    let refused = open
        .refund(made.uid, &made.key, 100)
        .await
        .expect_err("refused");
    let Some(refused_code) = refused.code() else {
        panic!("a refusal with a code: {refused}");
    };
    assert!(!refused_code.is_empty());
    assert!(refused.to_string().contains("client mode"), "{refused}");

    // A wrong key: a refusal with a code, never a panic or a transport error.
    let wrong = Client::new(
        &gateway.store_url(),
        SAMPLE_STORE_UID,
        "WRONGKEYWRONGKEYWRONGKEYWRONGKEY",
    )
    .expect("client");
    let e = wrong.payment_modes(100, "TWD").await.expect_err("refused");
    assert!(matches!(e, ClientError::Refused { .. }), "{e}");
    assert!(!e.is_transport());
    // A key that is not 32 bytes never leaves the client.
    assert!(matches!(
        Client::new(&gateway.store_url(), SAMPLE_STORE_UID, "short"),
        Err(ClientError::Key)
    ));
    // The merchant's own key still works beside them.
    let ok = Client::new(&gateway.store_url(), SAMPLE_STORE_UID, SAMPLE_STORE_KEY).expect("client");
    assert!(
        !ok.payment_modes(100, "TWD")
            .await
            .expect("modes")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_are_asked_again_when_the_gateway_is_away_and_writes_never() {
    // Nothing listens here: reads fail after their retries, as transport errors.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let client = Client::new(
        &format!("http://127.0.0.1:{port}/api/init"),
        SAMPLE_STORE_UID,
        SAMPLE_STORE_KEY,
    )
    .expect("client")
    .with_timeout(Duration::from_millis(500))
    .with_read_retries(2);
    let started = std::time::Instant::now();
    let e = client.query_order(1, "k").await.expect_err("nobody there");
    assert!(e.is_transport(), "{e}");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "two pauses before giving up"
    );
    let started = std::time::Instant::now();
    let e = client.refund(1, "k", 1).await.expect_err("nobody there");
    assert!(e.is_transport());
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "a refund is tried once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_handler_answers_8888_only_when_the_merchant_took_the_notice() {
    let app = axum::Router::new().route(
        "/notify",
        mypay_client::notices::handler(|notice: Notice| async move {
            match notice.transaction() {
                Some((1, _)) => Ok(()),
                _ => Err("not ours"),
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/notify", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();
    let post = |body: &'static str| {
        http.post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let taken = post("uid=1&key=k&prc=250").await.expect("post");
    assert_eq!(taken.status(), 200);
    assert_eq!(taken.text().await.expect("text"), "8888");
    let refused = post("uid=2&key=k&prc=250").await.expect("post");
    assert_eq!(refused.status(), 500);
    assert_ne!(
        refused.text().await.expect("text").trim(),
        "8888",
        "the gateway will send it again"
    );
}
