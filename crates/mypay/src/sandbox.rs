//! The sandbox's verbs, for a mypay-gateway: pay with a test card, the test clock, the
//! notices with their attempts.

use crate::output::print;
use crate::profile::Target;
use mypay_client::protocol::test_cards::TEST_CARDS;
use serde_json::{Value, json};

/// Seconds in `90s`, `30m`, `2h`, `3d` (a bare number is seconds).
pub fn duration_secs(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("{text:?}: a number and a unit (s, m, h, d), e.g. 3d"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit is s, m, h or d")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("{text:?}: too long"))
}

async fn answer(response: reqwest::Response) -> Result<Value, String> {
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!(
            "the sandbox answered {status}: {}",
            body["error"].as_str().unwrap_or("")
        ))
    }
}

/// `POST /sandbox/orders/{uid}/pay` with a card, its expiry and CVC the document's when
/// it is a card of 附錄六 and they are left out.
pub async fn pay(
    target: &Target,
    uid: u64,
    card: &str,
    expiry: Option<String>,
    cvc: Option<String>,
    otp: Option<String>,
) -> Result<Value, String> {
    let known = TEST_CARDS.iter().find(|c| c.pan == card);
    let expiry = expiry
        .or_else(|| known.and_then(|c| c.expiry).map(str::to_owned))
        .unwrap_or_else(|| "1230".into());
    let cvc = cvc
        .or_else(|| known.and_then(|c| c.cvc).map(str::to_owned))
        .unwrap_or_else(|| "123".into());
    let otp = otp.or_else(|| known.and_then(|c| c.password_3d).map(str::to_owned));
    let body = json!({"card_number": card, "expiry": expiry, "cvc": cvc, "otp": otp});
    let response = reqwest::Client::new()
        .post(format!("{}/sandbox/orders/{uid}/pay", target.base()?))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    answer(response).await
}

/// The shared test clock, moved forward by `seconds` when given.
pub async fn clock(target: &Target, seconds: Option<i64>) -> Result<Value, String> {
    let http = reqwest::Client::new();
    let base = target.base()?;
    let response = match seconds {
        None => http.get(format!("{base}/sandbox/clock")).send().await,
        Some(s) => {
            http.post(format!("{base}/sandbox/clock/advance"))
                .header("content-type", "application/json")
                .body(json!({"seconds": s}).to_string())
                .send()
                .await
        }
    }
    .map_err(|e| e.to_string())?;
    answer(response).await
}

/// The merchant's notices (of one transaction with `uid`), one line each, or JSON.
pub async fn notices(target: &Target, uid: Option<u64>, json: bool) -> Result<(), String> {
    let mut url = format!(
        "{}/sandbox/notifications?store_uid={}",
        target.base()?,
        target.store_uid()?
    );
    if let Some(uid) = uid {
        url.push_str(&format!("&uid={uid}"));
    }
    let response = reqwest::Client::new()
        .get(url)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let list = answer(response).await?;
    if json {
        print(&list, true);
        return Ok(());
    }
    for n in list["notifications"].as_array().into_iter().flatten() {
        println!(
            "{:>6}  {:<14} uid {:<8} prc {:<6} {:<10} attempts {}",
            n["id"],
            n["kind"].as_str().unwrap_or(""),
            n["uid"],
            n["prc"].as_str().unwrap_or(""),
            n["status"].as_str().unwrap_or(""),
            n["attempts"]
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::duration_secs;

    #[test]
    fn durations_read_in_their_units() {
        assert_eq!(duration_secs("90s"), Ok(90));
        assert_eq!(duration_secs("30m"), Ok(1_800));
        assert_eq!(duration_secs("2h"), Ok(7_200));
        assert_eq!(duration_secs("3d"), Ok(259_200));
        assert_eq!(duration_secs("45"), Ok(45));
        assert!(duration_secs("3w").is_err());
        assert!(duration_secs("d").is_err());
        assert!(duration_secs("99999999999999999d").is_err());
    }
}
