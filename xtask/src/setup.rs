//! What every run sets up: a browser, the run's merchant (a sandbox merchant with a
//! clock of its own, its notices to the receiver, an e-wallet card bound), and the end of
//! a run, when everything owed is let happen.

use crate::traffic::{Actors, Model, clock_offset};
use anyhow::{Context, bail};
use mypay_client::Client;
use mypay_client::protocol::messages::EwalletBindRequest;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Move the merchant's clock a day at a time (each advance answers once every attempt
/// due is made) until no notice is pending, 20 days at most; whether none is.
pub async fn settle(
    actors: &Actors,
    db: &sqlx::AnyPool,
    model: &Mutex<Model>,
) -> anyhow::Result<bool> {
    // An advance answers when every attempt due is made: with thousands of notices to a
    // slow receiver, minutes.
    let patient = reqwest::Client::builder()
        .timeout(Duration::from_secs(900))
        .build()?;
    for _ in 0..20 {
        let response = patient
            .post(format!("{}/sandbox/clock/advance", actors.base))
            .json(&json!({"seconds": 86_400, "store_uid": actors.store_uid}))
            .send()
            .await
            .context("clock/advance while settling")?;
        let status = response.status().as_u16();
        let answer: serde_json::Value = response.json().await.unwrap_or_default();
        if status != 200 {
            bail!("clock/advance while settling: {status} {answer}");
        }
        if let Ok(mut m) = model.lock() {
            m.clock = m.clock.max(clock_offset(&answer));
        }
        let pending: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM notices WHERE store_uid = $1 AND status = 'pending'",
        )
        .bind(&actors.store_uid)
        .fetch_one(db)
        .await?;
        if pending == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A browser: no redirects followed, short timeouts (a killed gateway answers nothing).
pub fn browser() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// The run's merchant: a sandbox merchant with a clock of its own, its notices to the
/// receiver, and an e-wallet card bound for one consumer.
pub struct Merchant {
    pub store_uid: String,
    key: String,
    virtual_pan: String,
}

impl Merchant {
    pub async fn make(
        http: &reqwest::Client,
        base: &str,
        receiver: &str,
    ) -> anyhow::Result<Merchant> {
        let made: serde_json::Value = http
            .post(format!("{base}/sandbox/merchants"))
            .json(&json!({
                "name": "Crash harness",
                "notify_url": receiver,
                "refund_url": receiver,
                "ewallet_url": receiver,
            }))
            .send()
            .await?
            .json()
            .await?;
        let store_uid = made["store_uid"].as_str().context("store_uid")?.to_owned();
        let key = made["key"].as_str().context("key")?.to_owned();
        let client = Client::new(&format!("{base}/api/init"), &store_uid, &key)?;
        let bind = client
            .ewallet_bind(&EwalletBindRequest {
                store_uid: Some(store_uid.clone()),
                user_id: Some("crash".into()),
                user_sn: Some("A123456789".into()),
                user_cellphone_code: Some("886".into()),
                user_cellphone: Some("918123123".into()),
                user_real_name: Some("金城武".into()),
                pfn: Some("CREDITCARD".into()),
                ip: Some("127.0.0.1".into()),
                success_returl: Some("https://shop.example/bound".into()),
                failure_returl: Some("https://shop.example/not-bound".into()),
                ..Default::default()
            })
            .await?;
        let ticket = bind
            .url
            .rsplit('/')
            .next()
            .and_then(|p| p.strip_suffix(".html"))
            .context("the bind page's ticket")?
            .to_owned();
        let bound: serde_json::Value = http
            .post(format!("{base}/sandbox/ewallet/{ticket}/bind"))
            .json(&json!({"card_number": "4058650600065507", "expiry": "1022", "cvc": "395"}))
            .send()
            .await?
            .json()
            .await?;
        let virtual_pan = bound["virtual_pan"]
            .as_str()
            .with_context(|| format!("a bound e-wallet card: {bound}"))?
            .to_owned();
        Ok(Merchant {
            store_uid,
            key,
            virtual_pan,
        })
    }

    pub fn actors(&self, base: &str) -> anyhow::Result<Actors> {
        Ok(Actors {
            client: Client::new(&format!("{base}/api/init"), &self.store_uid, &self.key)?
                .with_timeout(Duration::from_secs(60))
                .with_read_retries(0),
            http: browser()?,
            base: base.to_owned(),
            store_uid: self.store_uid.clone(),
            virtual_pan: self.virtual_pan.clone(),
            answers: Arc::default(),
        })
    }
}
