//! Signed requests to one upstream, and what their answers tell: an outcome, a refusal
//! (nothing was done), or nothing certain (a timeout, a dropped connection, a 5xx after
//! the request was sent: the operation may or may not have happened).

use super::Upstream;
use mypay_upstream::messages::Outcome;
use mypay_upstream::signature::unix_now;
use reqwest::StatusCode;

/// What came back from a request.
#[derive(Debug)]
pub enum Sent {
    Answered(Box<Outcome>),
    /// Refused before anything was done (4xx): safe to tell the consumer it failed.
    Refused(String),
    /// No certain answer: asked later by reference, never sent again blindly.
    Unknown,
    /// A 5xx: asked again with the same reference before it counts as unknown.
    ServerError,
}

/// What came back from a status question.
#[derive(Debug)]
pub enum Asked {
    Found(Box<Outcome>),
    /// The upstream has no operation with this reference: it never happened.
    NotFound,
    Unknown,
}

/// Bodies larger than this from an upstream are not read.
const MAX_ANSWER: usize = 64 * 1024;

/// Send a request; an upstream that answers 5xx is asked again with the same reference
/// (which it performs once, whatever it did before) after these pauses, then the outcome
/// is unknown. A dropped connection or a timeout is not repeated here: the resolver asks.
const AGAIN_AFTER_5XX_MS: [u64; 2] = [200, 1_000];

pub async fn post<T: serde::Serialize>(
    http: &reqwest::Client,
    upstream: &Upstream,
    path: &str,
    reference: &str,
    body: &T,
) -> Sent {
    let Ok(body) = serde_json::to_vec(body) else {
        return Sent::Refused("the request could not be written".into());
    };
    let mut sent = post_once(http, upstream, path, reference, &body).await;
    for pause in AGAIN_AFTER_5XX_MS {
        if !matches!(sent, Sent::ServerError) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        sent = post_once(http, upstream, path, reference, &body).await;
    }
    match sent {
        Sent::ServerError => Sent::Unknown,
        other => other,
    }
}

async fn post_once(
    http: &reqwest::Client,
    upstream: &Upstream,
    path: &str,
    reference: &str,
    body: &[u8],
) -> Sent {
    let Ok(url) = upstream.url.join(path.trim_start_matches('/')) else {
        return Sent::Refused("the upstream's URL cannot take this path".into());
    };
    let signed = upstream.secret.headers(body, unix_now());
    let mut request = http
        .post(url)
        .timeout(upstream.timeout)
        .header("content-type", "application/json")
        .header("idempotency-key", reference);
    for (name, value) in signed.pairs() {
        request = request.header(name, value);
    }
    let response = match request.body(body.to_vec()).send().await {
        Ok(r) => r,
        Err(e) => {
            // A connection refused before the request left is as unknown to us as a
            // drop after it: reqwest cannot always tell them apart.
            tracing::warn!(upstream = upstream.name, reference, error = %e, "an upstream request got no answer");
            return Sent::Unknown;
        }
    };
    let status = response.status();
    match read(response).await {
        Some(text) if status.is_success() => match serde_json::from_slice::<Outcome>(&text) {
            Ok(outcome) if outcome.reference == reference => Sent::Answered(Box::new(outcome)),
            _ => {
                tracing::error!(
                    upstream = upstream.name,
                    reference,
                    "an upstream answered what protocol v1 does not say"
                );
                Sent::Unknown
            }
        },
        Some(text) if status.is_client_error() && status != StatusCode::REQUEST_TIMEOUT => {
            let why = serde_json::from_slice::<mypay_upstream::messages::ErrorBody>(&text)
                .map(|e| e.error)
                .unwrap_or_else(|_| status.to_string());
            tracing::warn!(upstream = upstream.name, reference, %status, why, "an upstream refused a request");
            Sent::Refused(why)
        }
        _ if status.is_server_error() => {
            tracing::warn!(upstream = upstream.name, reference, %status, "an upstream failed a request");
            Sent::ServerError
        }
        _ => Sent::Unknown,
    }
}

pub async fn status(http: &reqwest::Client, upstream: &Upstream, reference: &str) -> Asked {
    let path = format!(
        "{}/{}",
        mypay_upstream::messages::paths::OPERATIONS.trim_start_matches('/'),
        url::form_urlencoded::byte_serialize(reference.as_bytes()).collect::<String>()
    );
    let Ok(url) = upstream.url.join(&path) else {
        return Asked::Unknown;
    };
    let signed = upstream.secret.headers(b"", unix_now());
    let mut request = http.get(url).timeout(upstream.timeout);
    for (name, value) in signed.pairs() {
        request = request.header(name, value);
    }
    let Ok(response) = request.send().await else {
        return Asked::Unknown;
    };
    let status = response.status();
    if status == StatusCode::NOT_FOUND {
        return Asked::NotFound;
    }
    match read(response).await {
        Some(text) if status.is_success() => match serde_json::from_slice::<Outcome>(&text) {
            Ok(outcome) if outcome.reference == reference => Asked::Found(Box::new(outcome)),
            _ => Asked::Unknown,
        },
        _ => Asked::Unknown,
    }
}

/// The body, unless it is larger than an answer of v1 can be.
async fn read(mut response: reqwest::Response) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        if body.len() + chunk.len() > MAX_ANSWER {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}
