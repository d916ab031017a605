//! What the documentation's examples run against: a mypay-gateway sandbox started for the
//! example (the binary `MYPAY_GATEWAY_BIN` names, else the workspace's debug build) on a
//! random loopback port with a fresh database, and stopped after it. Not part of the API.

use crate::protocol::messages::{Item, OrderRequest};
use crate::{Client, ClientError, SAMPLE_STORE_KEY, SAMPLE_STORE_UID};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A sandbox gateway for one example.
pub struct Gateway {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    child: Child,
    dir: std::path::PathBuf,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn binary() -> std::path::PathBuf {
    std::env::var_os("MYPAY_GATEWAY_BIN")
        .map(Into::into)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/debug/mypay-gateway")
        })
}

impl Gateway {
    /// Start one (its banner names its port).
    pub fn start() -> Gateway {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mypay-client-doc-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let bin = binary();
        let mut child = Command::new(&bin)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
                "--database",
            ])
            .arg(dir.join("mypay.sqlite"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (build it first: cargo build -p mypay-gateway)",
                    bin.display()
                )
            });
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines.next().expect("the gateway's banner").expect("utf-8");
            if let Some(rest) = line.split("POST ").nth(1)
                && let Some(base) = rest.split("/api/init").next()
            {
                break base.trim().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Gateway { base, child, dir }
    }

    /// Run the gateway's command line on its database (`merchant set …`,
    /// `client-code issue …`); what it printed.
    pub fn command(&self, args: &[&str]) -> String {
        let out = Command::new(binary())
            .arg("--database")
            .arg(self.dir.join("mypay.sqlite"))
            .args(args)
            .env("RUST_LOG", "warn")
            .output()
            .expect("the command runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Its merchant endpoint, `…/api/init`.
    pub fn store_url(&self) -> String {
        format!("{}/api/init", self.base)
    }

    /// A client of the sample merchant.
    pub fn sample_client(&self) -> Result<Client, ClientError> {
        Client::new(&self.store_url(), SAMPLE_STORE_UID, SAMPLE_STORE_KEY)
    }

    fn order(order_id: &str, cost: i64) -> OrderRequest {
        OrderRequest {
            store_uid: Some(SAMPLE_STORE_UID.into()),
            order_id: Some(order_id.into()),
            cost: Some(cost.to_string()),
            user_id: Some("doc-user".into()),
            ip: Some("127.0.0.1".into()),
            pfn: Some("CREDITCARD".into()),
            items: Some(vec![Item::new("1", "倚天劍模型", cost, 1)]),
            ..Default::default()
        }
    }

    /// Pay order `uid` with the document's first test card (the sandbox's helper).
    pub async fn pay(&self, uid: u64) -> Result<serde_json::Value, ClientError> {
        let card =
            serde_json::json!({"card_number": "4058650600065507", "expiry": "1022", "cvc": "395"});
        let body = reqwest::Client::new()
            .post(format!("{}/sandbox/orders/{uid}/pay", self.base))
            .header("content-type", "application/json")
            .body(card.to_string())
            .send()
            .await?
            .bytes()
            .await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Answer(e.to_string()))
    }

    /// An order of `cost`, paid by card: its `uid` and `key`.
    pub async fn paid_order(
        &self,
        client: &Client,
        order_id: &str,
        cost: i64,
    ) -> Result<(u64, String), ClientError> {
        let made = client.create_order(&Self::order(order_id, cost)).await?;
        self.pay(made.uid).await?;
        Ok((made.uid, made.key))
    }

    /// An order of `cost` authorised (not captured) by card: its `uid` and `key`.
    pub async fn authorised_order(
        &self,
        client: &Client,
        order_id: &str,
        cost: i64,
    ) -> Result<(u64, String), ClientError> {
        let mut order = Self::order(order_id, cost);
        order.creditcard_is_automatic_payment = Some("0".into());
        let made = client.create_order(&order).await?;
        self.pay(made.uid).await?;
        Ok((made.uid, made.key))
    }

    /// A monthly recurring series (定期定額) with its card bound: its `order_id` and
    /// `group_id`.
    pub async fn recurring_series(
        &self,
        client: &Client,
        order_id: &str,
    ) -> Result<(String, String), ClientError> {
        let mut order = Self::order(order_id, 100);
        order.pfn = Some("DIRECTDEBIT".into());
        order.regular = Some("M".into());
        order.regular_total = Some("0".into());
        let made = client.create_order(&order).await?;
        self.pay(made.uid).await?;
        let record = client.query_order(made.uid, &made.key).await?;
        Ok((record.order_id, record.group_id))
    }
}

/// Run `example` against a sandbox gateway of its own; an error fails the example.
pub fn run<F, Fut>(example: F)
where
    F: FnOnce(std::sync::Arc<Gateway>) -> Fut,
    Fut: std::future::Future<Output = Result<(), ClientError>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let gateway = std::sync::Arc::new(Gateway::start());
    if let Err(e) = runtime.block_on(example(gateway.clone())) {
        panic!("the example failed: {e}");
    }
}
