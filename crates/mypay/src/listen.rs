//! `mypay listen`: follow the merchant's notice feed on a (shared) sandbox and post each
//! notice's exact body to a local URL, as the gateway would have; `mypay notices
//! --follow`: print them as they come. A lost connection is said and tried again; the
//! cursor (per profile and merchant) is kept after every notice, so a restarted listen goes
//! on where it stopped.

use crate::profile::{Cursors, Target};
use mypay_client::Client;
use mypay_client::feed::FedNotice;
use std::time::Duration;

/// How long one feed request waits for a notice.
const WAIT: Duration = Duration::from_secs(25);
/// Pauses before each new try of a forward that got no `8888`.
const FORWARD_RETRIES: [u64; 5] = [1, 2, 4, 8, 16];

/// The feed's kind for a `--kinds` name.
fn kind_of(name: &str) -> Result<&'static str, String> {
    match name.trim() {
        "completed" => Ok("completed"),
        "non-real-time" | "non_real_time" => Ok("non_real_time"),
        "confirmation" => Ok("confirmation"),
        "refund" => Ok("refund"),
        "ewallet" => Ok("ewallet"),
        other => Err(format!(
            "--kinds {other:?}: completed, non-real-time, confirmation, refund or ewallet"
        )),
    }
}

/// Where to start: after a notice id, or from a time (RFC 3339, or a duration ago).
enum Since {
    After(i64),
    From(jiff::Timestamp),
}

fn since_of(text: &str) -> Result<Since, String> {
    let t = text.trim();
    if let Ok(id) = t.parse::<i64>() {
        return Ok(Since::After(id.max(0)));
    }
    if let Ok(at) = t.parse::<jiff::Timestamp>() {
        return Ok(Since::From(at));
    }
    let secs = crate::sandbox::duration_secs(t).map_err(|_| {
        format!("--since {t:?}: a notice id, an RFC 3339 time, or a duration (30m, 2h, 1d)")
    })?;
    Ok(Since::From(
        jiff::Timestamp::now() - jiff::SignedDuration::from_secs(secs),
    ))
}

fn now() -> String {
    jiff::Timestamp::now().strftime("%H:%M:%S").to_string()
}

/// One page of the feed, trying again (and saying so) until the gateway answers.
async fn next_page(
    client: &Client,
    after: i64,
    base: &str,
    lost: &mut bool,
) -> mypay_client::feed::NoticeFeed {
    let mut pause = 1;
    loop {
        match client.notice_feed(after, WAIT).await {
            Ok(feed) => {
                if *lost {
                    println!("{} reconnected to {base}", now());
                    *lost = false;
                }
                return feed;
            }
            Err(e) => {
                println!(
                    "{} connection to {base} lost ({e}); reconnecting in {pause} s",
                    now()
                );
                *lost = true;
                tokio::time::sleep(Duration::from_secs(pause)).await;
                pause = (pause * 2).min(10);
            }
        }
    }
}

/// Post one notice's body to `url`: its HTTP status and reply, or why it did not go.
async fn forward(http: &reqwest::Client, url: &str, n: &FedNotice) -> (Option<u16>, String) {
    let sent = http
        .post(url)
        .header("content-type", &n.content_type)
        .body(n.body.clone())
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    match sent {
        Ok(r) => {
            let status = r.status().as_u16();
            let reply = r.text().await.unwrap_or_default();
            (Some(status), reply.chars().take(200).collect())
        }
        Err(e) => (None, e.to_string()),
    }
}

/// The gateway's judgement: a 2xx whose body is `8888` (white space around it aside).
fn acknowledged(status: Option<u16>, reply: &str) -> bool {
    status.is_some_and(|s| (200..300).contains(&s)) && reply.trim() == mypay_client::ACKNOWLEDGEMENT
}

pub async fn listen(
    target: &Target,
    forward_to: &str,
    kinds: &[String],
    since: Option<&str>,
) -> Result<(), String> {
    let parsed =
        reqwest::Url::parse(forward_to).map_err(|e| format!("--forward-to {forward_to:?}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "--forward-to {forward_to:?}: an http:// or https:// URL"
        ));
    }
    let kinds = kinds
        .iter()
        .map(|k| kind_of(k))
        .collect::<Result<Vec<_>, _>>()?;
    let client = target.merchant_client()?;
    let base = target.base()?;
    let store_uid = target.store_uid()?.to_owned();
    let cursor_key = format!("{}/{store_uid}", target.name);
    let mut cursors = Cursors::load();
    let mut lost = false;
    let (mut after, floor) = match since.map(since_of).transpose()? {
        Some(Since::After(id)) => (id, None),
        Some(Since::From(at)) => (0, Some(at)),
        None => match cursors.get(&cursor_key) {
            Some(id) => (id, None),
            None => (next_page(&client, -1, &base, &mut lost).await.last, None),
        },
    };
    println!(
        "{} listening to merchant {store_uid}'s notices on {base} (after notice {after}), forwarding to {forward_to}",
        now()
    );
    let http = reqwest::Client::new();
    loop {
        let page = next_page(&client, after, &base, &mut lost).await;
        for n in &page.notices {
            let too_old = floor.is_some_and(|f| {
                n.created_at
                    .parse::<jiff::Timestamp>()
                    .is_ok_and(|at| at < f)
            });
            let wanted = kinds.is_empty() || kinds.contains(&n.kind.as_str());
            if !too_old && wanted {
                let (mut status, mut reply) = forward(&http, forward_to, n).await;
                let line = |status: Option<u16>, reply: &str, tail: &str| {
                    println!(
                        "{} notice {} {} uid {} prc {} -> {} {}{tail}",
                        now(),
                        n.id,
                        n.kind,
                        n.uid,
                        n.prc,
                        status.map_or_else(|| "no answer".to_owned(), |s| s.to_string()),
                        reply.trim()
                    );
                };
                line(status, &reply, "");
                for pause in FORWARD_RETRIES {
                    if acknowledged(status, &reply) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(pause)).await;
                    (status, reply) = forward(&http, forward_to, n).await;
                    line(status, &reply, " (retry)");
                }
                if !acknowledged(status, &reply) {
                    println!(
                        "{} notice {}: no 8888 after {} retries; going on",
                        now(),
                        n.id,
                        FORWARD_RETRIES.len()
                    );
                }
            }
            after = n.id;
            cursors.set(&cursor_key, after)?;
        }
        after = after.max(page.last);
    }
}

/// `mypay notices --follow`: print each new notice of the merchant as it comes.
pub async fn follow_printing(target: &Target, json: bool) -> Result<(), String> {
    let client = target.merchant_client()?;
    let base = target.base()?;
    let mut lost = false;
    let mut after = next_page(&client, -1, &base, &mut lost).await.last;
    loop {
        let page = next_page(&client, after, &base, &mut lost).await;
        for n in &page.notices {
            if json {
                println!("{}", serde_json::to_string(n).unwrap_or_default());
            } else {
                println!(
                    "{:>6}  {:<14} uid {:<8} prc {:<6} {}",
                    n.id, n.kind, n.uid, n.prc, n.state
                );
            }
            after = n.id;
        }
        after = after.max(page.last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_starts_read_as_the_help_says() {
        assert_eq!(kind_of("non-real-time"), Ok("non_real_time"));
        assert!(kind_of("payments").is_err());
        assert!(matches!(since_of("42"), Ok(Since::After(42))));
        assert!(matches!(
            since_of("2026-12-01T00:00:00Z"),
            Ok(Since::From(_))
        ));
        assert!(matches!(since_of("2h"), Ok(Since::From(_))));
        assert!(since_of("yesterday").is_err());
        assert!(acknowledged(Some(200), " 8888\n"));
        assert!(!acknowledged(Some(500), "8888"));
        assert!(!acknowledged(Some(200), "OK"));
        assert!(!acknowledged(None, ""));
    }
}
