//! Settings, layered: built-in defaults, then `MYPAY_*` environment variables, then
//! command-line flags (see `main.rs`). No configuration at all means: sandbox mode,
//! SQLite in `./data`, listening on 127.0.0.1:8080.

use crate::ledger::notify_url::{NotifyHosts, NotifyPolicy};
use crate::store::{DatabaseUrl, StoreOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Test cards, test clock, `/sandbox/*` helpers.
    Sandbox,
    /// Helpers off; notify-URL policy enforced.
    Production,
}

/// Where the back office listens.
#[derive(Debug, Clone, Copy)]
pub struct AdminListen {
    pub addr: SocketAddr,
    /// Asked for explicitly: not being able to listen there stops the start. The default
    /// address taken (a second gateway on one machine) only leaves the back office out.
    pub required: bool,
}

/// The back office's address when none is given.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:8081";

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Clone)]
pub struct Settings {
    pub mode: Mode,
    pub listen: SocketAddr,
    /// The base URL consumers and merchants reach us at, used in PayPage links. `None`:
    /// derived from the bound address.
    pub public_url: Option<String>,
    /// Where the records live: a SQLite file or a PostgreSQL database.
    pub database: DatabaseUrl,
    /// How long background work stays claimed by a node that stopped answering
    /// (PostgreSQL; real time). A node killed mid-work is taken over after this.
    pub lease: Duration,
    /// PostgreSQL connections per node.
    pub database_connections: usize,
    /// How long a merchant has to answer a notice (the document's 5 seconds).
    pub notify_timeout: Duration,
    /// Seconds an `A0001` (pending with the acquirer) order waits before it resolves.
    pub pending_resolution_secs: i64,
    /// When an upstream's unknown outcome is asked about: the delay before each ask
    /// (the first from the charge). Default [`crate::ledger::timers::RESOLVE_SCHEDULE_SECS`].
    pub resolve_schedule: Vec<Duration>,
    /// The back office's own listener (`--admin-listen`); `None`: no back office.
    pub admin_listen: Option<AdminListen>,
    /// TLS built in: the certificate chain and private key, PEM (read again on SIGHUP).
    pub tls: Option<TlsFiles>,
    /// A load balancer in front terminates TLS (production then needs no `tls`).
    pub tls_offloaded: bool,
    /// Where the mail outbox is delivered (`--smtp URL`); `None`: it is only kept.
    pub smtp: Option<std::sync::Arc<crate::notify::mail::Smtp>>,
    /// The upstreams that move the money (`--upstreams FILE`); none in the sandbox.
    pub upstreams: Option<std::sync::Arc<crate::upstream::Upstreams>>,
    /// Seed the document's sample merchant when the database has none.
    pub seed_sample_merchant: bool,
    /// Orders batched into one commit at most (group commit).
    pub max_commit_batch: usize,
    /// How often background workers look for due work (real time).
    pub worker_poll: Duration,
    /// Threads of the async runtime that serves requests; `None`: one per core. (The
    /// order writer runs on a thread of its own besides.)
    pub worker_threads: Option<usize>,
    /// Which hosts notices may reach; `None`: the mode's default (`public` in production,
    /// `any` in the sandbox).
    pub notify_hosts: Option<NotifyHosts>,
    /// Notice deliveries in flight at most, in all and per merchant.
    pub notify_concurrency: usize,
    pub notify_per_merchant: usize,
    /// A request head must arrive within this; idle keep-alive connections close after it.
    pub header_read_timeout: Duration,
    /// Connections at once, in all and from one client address.
    pub max_connections: usize,
    pub max_connections_per_address: usize,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("mode", &self.mode)
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: Mode::Sandbox,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            database: DatabaseUrl::Sqlite(PathBuf::from("data/mypay.sqlite")),
            lease: Duration::from_secs(15),
            database_connections: 16,
            notify_timeout: Duration::from_secs(5),
            pending_resolution_secs: 60,
            resolve_schedule: crate::ledger::timers::RESOLVE_SCHEDULE_SECS
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            upstreams: None,
            tls: None,
            tls_offloaded: false,
            smtp: None,
            admin_listen: None,
            seed_sample_merchant: true,
            max_commit_batch: 256,
            worker_poll: Duration::from_millis(500),
            worker_threads: None,
            notify_hosts: None,
            notify_concurrency: 256,
            notify_per_merchant: 64,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_connections_per_address: 256,
        }
    }
}

impl Settings {
    /// What the storage layer needs of these settings.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            on_commit: None,
            max_commit_batch: self.max_commit_batch,
            max_connections: u32::try_from(self.database_connections).unwrap_or(u32::MAX),
            ..StoreOptions::default()
        }
    }

    /// Defaults overridden by `MYPAY_MODE`, `MYPAY_LISTEN`, `MYPAY_PUBLIC_URL`,
    /// `MYPAY_DATABASE`, `MYPAY_NOTIFY_TIMEOUT_MS`, `MYPAY_NOTIFY_HOSTS`,
    /// `MYPAY_NOTIFY_CONCURRENCY`, `MYPAY_NOTIFY_PER_MERCHANT`, `MYPAY_MAX_CONNECTIONS`,
    /// `MYPAY_MAX_CONNECTIONS_PER_ADDRESS`, `MYPAY_HEADER_TIMEOUT_MS`, `MYPAY_WORKER_THREADS`,
    /// `MYPAY_LEASE_SECS`, `MYPAY_DATABASE_CONNECTIONS`, `MYPAY_RESOLVE_SCHEDULE`, `MYPAY_UPSTREAMS`.
    pub fn from_env() -> anyhow::Result<Settings> {
        let mut s = Settings::default();
        if let Ok(v) = std::env::var("MYPAY_MODE") {
            s.mode = parse_mode(&v)?;
        }
        if let Ok(v) = std::env::var("MYPAY_LISTEN") {
            s.listen = v
                .parse()
                .map_err(|e| anyhow::anyhow!("MYPAY_LISTEN {v:?}: {e}"))?;
        }
        if let Ok(v) = std::env::var("MYPAY_PUBLIC_URL") {
            s.public_url = Some(v);
        }
        if let Ok(v) = std::env::var("MYPAY_DATABASE") {
            s.database = v.parse()?;
        }
        if let Ok(v) = std::env::var("MYPAY_LEASE_SECS") {
            s.lease = parse_lease(&v)?;
        }
        if let Ok(v) = std::env::var("MYPAY_WORKER_THREADS") {
            let n: usize =
                v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    anyhow::anyhow!("MYPAY_WORKER_THREADS {v:?}: a whole number ≥ 1")
                })?;
            s.worker_threads = Some(n);
        }
        for (name, target) in [
            ("MYPAY_NOTIFY_CONCURRENCY", &mut s.notify_concurrency),
            ("MYPAY_NOTIFY_PER_MERCHANT", &mut s.notify_per_merchant),
            ("MYPAY_MAX_CONNECTIONS", &mut s.max_connections),
            ("MYPAY_DATABASE_CONNECTIONS", &mut s.database_connections),
            (
                "MYPAY_MAX_CONNECTIONS_PER_ADDRESS",
                &mut s.max_connections_per_address,
            ),
        ] {
            if let Ok(v) = std::env::var(name) {
                *target = v
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| anyhow::anyhow!("{name} {v:?}: a whole number ≥ 1"))?;
            }
        }
        if let Ok(v) = std::env::var("MYPAY_HEADER_TIMEOUT_MS") {
            let ms: u64 = v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                anyhow::anyhow!("MYPAY_HEADER_TIMEOUT_MS {v:?}: a whole number ≥ 1")
            })?;
            s.header_read_timeout = Duration::from_millis(ms);
        }
        if let Ok(v) = std::env::var("MYPAY_NOTIFY_HOSTS") {
            s.notify_hosts = Some(parse_notify_hosts(&v)?);
        }
        match (
            std::env::var("MYPAY_TLS_CERT"),
            std::env::var("MYPAY_TLS_KEY"),
        ) {
            (Ok(cert), Ok(key)) => {
                s.tls = Some(TlsFiles {
                    cert: cert.into(),
                    key: key.into(),
                })
            }
            (Err(_), Err(_)) => {}
            _ => anyhow::bail!("MYPAY_TLS_CERT and MYPAY_TLS_KEY go together"),
        }
        if let Ok(v) = std::env::var("MYPAY_ADMIN_LISTEN") {
            s.admin_listen = Some(AdminListen {
                addr: v
                    .parse()
                    .map_err(|e| anyhow::anyhow!("MYPAY_ADMIN_LISTEN {v:?}: {e}"))?,
                required: true,
            });
        }
        if let Ok(v) = std::env::var("MYPAY_SMTP") {
            s.smtp = Some(std::sync::Arc::new(crate::notify::mail::Smtp::parse(&v)?));
        }
        if let Ok(v) = std::env::var("MYPAY_TLS_OFFLOADED") {
            s.tls_offloaded = matches!(v.trim(), "1" | "true" | "yes");
        }
        if let Ok(v) = std::env::var("MYPAY_RESOLVE_SCHEDULE") {
            s.resolve_schedule = parse_schedule(&v)?;
        }
        if let Ok(v) = std::env::var("MYPAY_UPSTREAMS") {
            s.upstreams = Some(std::sync::Arc::new(crate::upstream::Upstreams::load(
                std::path::Path::new(&v),
            )?));
        }
        if let Ok(v) = std::env::var("MYPAY_NOTIFY_TIMEOUT_MS") {
            let ms: u64 = v
                .parse()
                .map_err(|e| anyhow::anyhow!("MYPAY_NOTIFY_TIMEOUT_MS {v:?}: {e}"))?;
            s.notify_timeout = Duration::from_millis(ms);
        }
        Ok(s)
    }
}

impl Settings {
    /// What production needs before it may take a payment: consumers reach it over
    /// https (`--public-url https://…`), with TLS built in or a load balancer in front
    /// that terminates it (`--tls-offloaded`).
    pub fn check_production(&self) -> anyhow::Result<()> {
        if self.mode != Mode::Production {
            return Ok(());
        }
        if self.upstreams.is_none() {
            anyhow::bail!(
                "production mode moves money only through upstreams, and none is configured: \
                 list them in a file given by --upstreams (env MYPAY_UPSTREAMS); see \
                 docs/upstream-protocol.md. Or run with --mode sandbox."
            );
        }
        let https = self
            .public_url
            .as_deref()
            .is_some_and(|u| u.trim().to_ascii_lowercase().starts_with("https://"));
        if !https {
            anyhow::bail!(
                "production needs --public-url https://… (env MYPAY_PUBLIC_URL): consumers \
                 type card numbers on its pages"
            );
        }
        if self.tls.is_none() && !self.tls_offloaded {
            anyhow::bail!(
                "production needs TLS: --tls-cert FILE --tls-key FILE, or --tls-offloaded \
                 when a load balancer in front terminates TLS"
            );
        }
        Ok(())
    }

    /// The rules notify URLs are held to, in this mode. Production delivers only to ports 80 and 443 of public addresses; `--notify-hosts
    /// any` lifts both rules (for tests and closed networks).
    pub fn notify_policy(&self) -> NotifyPolicy {
        let production = self.mode == Mode::Production;
        let hosts = self.notify_hosts.unwrap_or(if production {
            NotifyHosts::Public
        } else {
            NotifyHosts::Any
        });
        NotifyPolicy {
            hosts,
            standard_ports_only: production && hosts == NotifyHosts::Public,
        }
    }
}

/// A resolver schedule: delays in seconds, comma-separated (`60,300,1800`), at least one,
/// each from 1 second to 30 days.
pub fn parse_schedule(text: &str) -> anyhow::Result<Vec<Duration>> {
    let delays: Option<Vec<Duration>> = text
        .split(',')
        .map(|d| {
            d.trim()
                .parse::<u64>()
                .ok()
                .filter(|s| (1..=30 * 86_400).contains(s))
                .map(Duration::from_secs)
        })
        .collect();
    match delays {
        Some(d) if !d.is_empty() && d.len() <= 100 => Ok(d),
        _ => anyhow::bail!(
            "the resolve schedule {text:?} must be delays in whole seconds (1 to 2592000), \
             comma-separated"
        ),
    }
}

pub fn parse_notify_hosts(text: &str) -> anyhow::Result<NotifyHosts> {
    NotifyHosts::parse(text)
        .ok_or_else(|| anyhow::anyhow!("notify hosts must be public or any, got {text:?}"))
}

pub fn parse_mode(text: &str) -> anyhow::Result<Mode> {
    match text.trim().to_ascii_lowercase().as_str() {
        "sandbox" => Ok(Mode::Sandbox),
        "production" => Ok(Mode::Production),
        other => anyhow::bail!("mode must be sandbox or production, got {other:?}"),
    }
}

/// A lease length in whole seconds, 3 to 60: shorter leases would expire under a slow
/// but live delivery (whose timeout is the document's 5 seconds), longer ones leave a
/// dead node's work waiting.
pub fn parse_lease(v: &str) -> anyhow::Result<Duration> {
    match v.trim().parse::<u64>() {
        Ok(n) if (3..=60).contains(&n) => Ok(Duration::from_secs(n)),
        _ => anyhow::bail!("the lease {v:?} must be a whole number of seconds from 3 to 60"),
    }
}

/// Logs: human-readable lines, or one JSON object per line with `--log-format json` or
/// `MYPAY_LOG_FORMAT=json` (each with the request's id in its span). Colour only when
/// the output is a terminal. `RUST_LOG` filters; `access=warn` silences the access log.
/// The server logs to stdout; a command logs to stderr, so what it prints (a token, a
/// key) is alone on stdout for a script to read.
pub fn init_logs(format: Option<&str>, to_stderr: bool) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let terminal = if to_stderr {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    let format = format
        .map(str::to_owned)
        .or_else(|| std::env::var("MYPAY_LOG_FORMAT").ok())
        .unwrap_or_default();
    let json = format.eq_ignore_ascii_case("json");
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(terminal && !json);
    match (json, to_stderr) {
        (true, true) => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .init(),
        (true, false) => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        (false, true) => logs.with_writer(std::io::stderr).init(),
        (false, false) => logs.init(),
    }
}
