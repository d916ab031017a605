//! The gateway under test: a `mypay-gateway` process on a fixed loopback port, started on a
//! database, killed with SIGKILL, started again on the same port and database.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How to start the gateway: the same every time.
pub struct Launch {
    pub binary: PathBuf,
    /// A SQLite path or a postgres:// URL.
    pub database: String,
    pub port: u16,
    pub admin_port: u16,
    /// Where each start's log goes (appended).
    pub log: PathBuf,
    /// More environment (`MYPAY_…`).
    pub env: Vec<(String, String)>,
}

impl Launch {
    /// The gateway `binary` (`--gateway`, else the release build) on `database`, on free
    /// loopback ports, logging to `dir/gateway.log`. A killed node's claims on PostgreSQL
    /// are taken over after 3 s, not 15.
    pub fn new(binary: Option<PathBuf>, database: &str, dir: &Path) -> anyhow::Result<Launch> {
        Ok(Launch {
            binary: self::binary(binary)?,
            database: database.to_owned(),
            port: free_port()?,
            admin_port: free_port()?,
            log: dir.join("gateway.log"),
            env: vec![("MYPAY_LEASE_SECS".into(), "3".into())],
        })
    }
}

pub struct Gateway {
    launch: Launch,
    child: Option<Child>,
    /// How many times it was started.
    pub starts: u32,
}

impl Gateway {
    pub fn new(launch: Launch) -> Gateway {
        Gateway {
            launch,
            child: None,
            starts: 0,
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.launch.port)
    }

    /// Start it and wait for its banner (it then serves), up to 60 s: a restart after a
    /// kill replays SQLite's WAL or waits for PostgreSQL's leases.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("the gateway is already running");
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.launch.log)
            .with_context(|| format!("the log {}", self.launch.log.display()))?;
        let mut command = Command::new(&self.launch.binary);
        command
            .arg("--database")
            .arg(&self.launch.database)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.launch.port))
            .arg("--admin-listen")
            .arg(format!("127.0.0.1:{}", self.launch.admin_port))
            .env("MYPAY_MODE", "sandbox")
            .env("RUST_LOG", "info,access=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true);
        for (name, value) in &self.launch.env {
            command.env(name, value);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", self.launch.binary.display()))?;
        let stdout = child.stdout.take().context("the gateway's stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let banner = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if line.contains("/api/init") {
                    return Ok::<bool, std::io::Error>(true);
                }
            }
            Ok(false)
        })
        .await;
        match banner {
            Ok(Ok(true)) => {}
            _ => {
                let _ = child.start_kill();
                bail!(
                    "the gateway did not come up (start {}); its log: {}",
                    self.starts + 1,
                    self.launch.log.display()
                );
            }
        }
        // What it prints afterwards (its log) goes to the log file, read as it comes so
        // the gateway never blocks on a full pipe.
        let mut log = tokio::fs::OpenOptions::new()
            .append(true)
            .open(&self.launch.log)
            .await?;
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = log.write_all(line.as_bytes()).await;
                let _ = log.write_all(b"\n").await;
            }
        });
        self.child = Some(child);
        self.starts += 1;
        Ok(())
    }

    /// SIGKILL, and wait for the process to be gone.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.start_kill().context("SIGKILL")?;
            child
                .wait()
                .await
                .context("waiting for the killed gateway")?;
        }
        Ok(())
    }

    /// SIGTERM (a graceful stop), waiting up to 30 s.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .arg("-TERM")
                    .arg(pid.to_string())
                    .status();
            }
            if tokio::time::timeout(Duration::from_secs(30), child.wait())
                .await
                .is_err()
            {
                child.start_kill()?;
                child.wait().await?;
            }
        }
        Ok(())
    }
}

impl Gateway {
    /// The running process's id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }
}

/// A free loopback port (bound, then let go).
pub fn free_port() -> anyhow::Result<u16> {
    let socket = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(socket.local_addr()?.port())
}

/// `/readyz` answers 200 within `limit`.
pub async fn wait_ready(http: &reqwest::Client, base: &str, limit: Duration) -> anyhow::Result<()> {
    let until = Instant::now() + limit;
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > until {
            bail!("{base}/readyz did not answer 200 within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The gateway binary: `--gateway`, else the release build beside this workspace.
pub fn binary(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let path = given.unwrap_or_else(|| workspace().join("target/release/mypay-gateway"));
    if !path.exists() {
        bail!(
            "no gateway at {} (build it: cargo build --release -p mypay-gateway)",
            path.display()
        );
    }
    Ok(path)
}

/// The workspace's root (this crate's parent).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
