//! What the benchmarks share: starting servers, sealing requests. Each benchmark uses
//! part of it.
#![allow(dead_code)]

pub mod cluster;
pub mod load;
#[path = "../../tests/shared/process.rs"]
pub mod process;
pub mod versus;

use mypay_protocol::envelope::{self, MerchantKey};
use mypay_protocol::outer::OuterRequest;
use std::process::{Child, Command, Stdio};

pub const STORE_UID: &str = "289151880002";
pub const STORE_KEY: &str = "KYTjd9ACcjGaTK6V3zWmMkyrQS08Ndcx";

pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(mut command: Command, log: &std::path::Path) -> Server {
    let stderr = std::fs::File::create(log).expect("log file");
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("server starts");
    let base = process::base_url(&mut child);
    Server { child, base }
}

/// Start a `mypay-gateway` binary on a fresh database in `dir`; its log is kept in the
/// temporary folder (`mypay-bench-{name}.log`).
pub fn start_gateway(binary: &str, dir: &std::path::Path, name: &str) -> Server {
    start_gateway_with(binary, dir, name, &[])
}

/// [`start_gateway`] with more environment for the gateway.
pub fn start_gateway_with(
    binary: &str,
    dir: &std::path::Path,
    name: &str,
    env: &[(&str, &str)],
) -> Server {
    let database = dir.join(format!("{name}.sqlite"));
    start_gateway_on(binary, &database.display().to_string(), name, env)
}

/// A `mypay-gateway` binary on the database `database` (a path or a URL).
pub fn start_gateway_on(binary: &str, database: &str, name: &str, env: &[(&str, &str)]) -> Server {
    let mut c = Command::new(binary);
    c.args(["--listen", "127.0.0.1:0", "--database"])
        .arg(database)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn");
    let threads = env_number("BENCH_SERVER_THREADS", 0);
    if threads > 0 {
        c.env("MYPAY_WORKER_THREADS", threads.to_string());
    }
    start(
        c,
        &std::env::temp_dir().join(format!("mypay-bench-{name}.log")),
    )
}

pub fn sealed(key: &MerchantKey, cmd: &str, data: &serde_json::Value) -> String {
    OuterRequest {
        store_uid: Some(STORE_UID.to_owned()),
        agent_uid: None,
        service: Some(envelope::seal(
            key,
            serde_json::json!({"service_name": "api", "cmd": cmd})
                .to_string()
                .as_bytes(),
        )),
        encry_data: Some(envelope::seal(key, data.to_string().as_bytes())),
    }
    .to_form()
}

pub fn order_body(key: &MerchantKey, run: &str, i: usize) -> String {
    let data = serde_json::json!({
        "store_uid": STORE_UID,
        "items": [{"id": "1", "name": "商品名稱", "cost": "10", "amount": "1", "total": "10"}],
        "cost": "10", "user_id": "bench", "order_id": format!("{run}-{i}"), "ip": "127.0.0.1", "pfn": "0",
    });
    sealed(key, "api/orders", &data)
}
