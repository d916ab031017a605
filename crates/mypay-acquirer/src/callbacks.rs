//! Callbacks to the gateway, signed, retried until it answers 2xx (or 409: it has this
//! one already): after 1, 2, 4, 8 and 16 seconds, then given up (the gateway's resolver
//! asks `status` on its own).

use mypay_upstream::messages::Callback;
use mypay_upstream::signature::{Secret, unix_now};
use std::time::Duration;

#[derive(Clone)]
pub struct Callbacks {
    http: reqwest::Client,
    /// Settable after start: a test binds the acquirer before the gateway it calls.
    url: std::sync::Arc<std::sync::RwLock<String>>,
    secret: std::sync::Arc<Secret>,
}

/// Attempts of one callback at most.
const ATTEMPTS: u32 = 6;

impl Callbacks {
    /// `trusted_ca`: a PEM certificate authority to trust besides the usual ones (a
    /// gateway with a private or test certificate).
    pub fn new(
        url: String,
        secret: Secret,
        trusted_ca: Option<&std::path::Path>,
    ) -> anyhow::Result<Callbacks> {
        let mut http = reqwest::Client::builder().timeout(Duration::from_secs(10));
        if let Some(path) = trusted_ca {
            let pem = std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("--callback-ca {}: {e}", path.display()))?;
            for ca in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| anyhow::anyhow!("--callback-ca {}: {e}", path.display()))?
            {
                http = http.add_root_certificate(ca);
            }
        }
        Ok(Callbacks {
            http: http.build()?,
            url: std::sync::Arc::new(std::sync::RwLock::new(url)),
            secret: std::sync::Arc::new(secret),
        })
    }

    pub fn set_url(&self, url: String) {
        *self.url.write().unwrap_or_else(|e| e.into_inner()) = url;
    }

    fn url(&self) -> String {
        self.url.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Send `callback` in the background; its id is kept across retries, so the gateway
    /// can tell a retry from a new message.
    pub fn send(&self, callback: Callback) {
        let this = self.clone();
        tokio::spawn(async move {
            let Ok(body) = serde_json::to_vec(&callback) else {
                return;
            };
            let id = this.secret.headers(&body, unix_now()).id;
            for attempt in 0..ATTEMPTS {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_secs(1 << (attempt - 1))).await;
                }
                let now = unix_now();
                let sent = this
                    .http
                    .post(this.url())
                    .header("content-type", "application/json")
                    .header(mypay_upstream::signature::ID_HEADER, &id)
                    .header(mypay_upstream::signature::TIMESTAMP_HEADER, now.to_string())
                    .header(
                        mypay_upstream::signature::SIGNATURE_HEADER,
                        this.secret.sign(&id, now, &body),
                    )
                    .body(body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() || r.status().as_u16() == 409 => return,
                    Ok(r) => eprintln!(
                        "callback {id} ({}): the gateway answered {}",
                        callback.kind,
                        r.status()
                    ),
                    Err(e) => eprintln!("callback {id} ({}): {e}", callback.kind),
                }
            }
            eprintln!("callback {id} ({}): given up", callback.kind);
        });
    }
}
