//! `mypay-gateway`: reads settings, builds the application, serves until Ctrl-C. The
//! `merchant` subcommands change a merchant's settings in the database so a newcomer
//! needs no code.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use mypay_gateway::app::Application;
use mypay_gateway::clock::Clock;
use mypay_gateway::config::{Mode, Settings, parse_mode};
use mypay_gateway::ledger::merchant::{
    MerchantSettings, SAMPLE_STORE_KEY, SAMPLE_STORE_UID, check_return_url,
};
use mypay_gateway::store::{DatabaseUrl, Store};
use mypay_protocol::PaymentTool;
use std::net::SocketAddr;

// The gateway allocates many small, short-lived buffers per request (bodies, JSON,
// rows); mimalloc serves those with less contention than the system allocator on the
// benchmark's hot paths.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "mypay-gateway",
    version,
    about = "A self-hostable, wire-compatible MYPAY LINK gateway"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args)]
struct Global {
    /// Address to listen on [env: MYPAY_LISTEN; default 127.0.0.1:8080].
    #[arg(long, global = true)]
    listen: Option<SocketAddr>,
    /// The database: a SQLite file (a path or sqlite://PATH) or
    /// postgres://USER[:PASSWORD]@HOST:PORT/DATABASE[?sslmode=…] [env: MYPAY_DATABASE;
    /// default data/mypay.sqlite].
    #[arg(long, global = true)]
    database: Option<DatabaseUrl>,
    /// Seconds background work stays claimed by a node that stopped (PostgreSQL), 3 to
    /// 60 [env: MYPAY_LEASE_SECS; default 15].
    #[arg(long, global = true, value_parser = mypay_gateway::config::parse_lease)]
    lease_secs: Option<std::time::Duration>,
    /// sandbox or production [env: MYPAY_MODE; default sandbox].
    #[arg(long, global = true)]
    mode: Option<String>,
    /// Base URL consumers reach the gateway at [env: MYPAY_PUBLIC_URL].
    #[arg(long, global = true)]
    public_url: Option<String>,
    /// Request-serving threads [env: MYPAY_WORKER_THREADS; default one per core].
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..))]
    worker_threads: Option<u16>,
    /// Which hosts notices may reach: public or any [env: MYPAY_NOTIFY_HOSTS; default
    /// public in production, any in the sandbox].
    #[arg(long, global = true)]
    notify_hosts: Option<String>,
}

// Parsed once at startup; the size of the `merchant set` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Show or change a merchant.
    #[command(subcommand)]
    Merchant(MerchantCommand),
}

#[derive(Subcommand)]
enum MerchantCommand {
    /// Create a merchant: prints its new store_uid and key (shown this once).
    Create {
        /// The shop's name.
        #[arg(long, default_value = "")]
        name: String,
        /// Print the store_uid and key as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Give a merchant a new key (shown this once). The old keys keep working for the
    /// 7-day overlap, or stop at once with --revoke-old.
    RotateKey {
        store_uid: String,
        #[arg(long)]
        revoke_old: bool,
        /// Print the store_uid and key as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// List the merchants with their keys' validity (never the keys).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Print a merchant's settings as JSON.
    Show { store_uid: String },
    /// Change a merchant's settings; only the options given change.
    Set(Box<MerchantSet>),
    /// Register an e-invoice word-track range for a two-month period, e.g.
    /// `--period 11502 --track AB --from 00000000 --to 00009999`; with no range, list
    /// the merchant's ranges.
    InvoiceTrack {
        store_uid: String,
        /// ROC year and the period's even month (`yyyMM`, e.g. 11502 for Jan–Feb 2026).
        #[arg(long)]
        period: Option<String>,
        /// Two capital letters.
        #[arg(long)]
        track: Option<String>,
        /// The first number, 8 digits.
        #[arg(long)]
        from: Option<String>,
        /// The last number, 8 digits.
        #[arg(long)]
        to: Option<String>,
    },
}

#[derive(Args)]
struct MerchantSet {
    store_uid: String,
    /// One URL for all three transaction notices (交易完成, 非即時, 訂單確認).
    #[arg(long)]
    notify_url: Option<String>,
    /// URL for 交易完成回傳資訊 only.
    #[arg(long)]
    completed_url: Option<String>,
    /// URL for 非即時交易回傳資訊 only.
    #[arg(long)]
    non_real_time_url: Option<String>,
    /// URL for 訂單確認回傳資訊 only.
    #[arg(long)]
    confirmation_url: Option<String>,
    /// URL for refund-complete notices (退款完成回傳資訊); unset: none are sent.
    #[arg(long)]
    refund_url: Option<String>,
    /// URL for e-wallet notices (電子錢包虛擬卡號回傳資訊); unset: the 交易完成 URL.
    #[arg(long)]
    ewallet_url: Option<String>,
    /// Default success redirect.
    #[arg(long)]
    success_returl: Option<String>,
    /// Default failure redirect.
    #[arg(long)]
    failure_returl: Option<String>,
    /// Enabled tools, by code or number, comma separated (e.g. CREDITCARD,CSTORECODE).
    #[arg(long, value_delimiter = ',')]
    tools: Option<Vec<String>>,
    /// Require unique order_id values.
    #[arg(long)]
    strict_order_id: Option<bool>,
    /// Technical contact e-mail (alerts).
    #[arg(long)]
    contact_email: Option<String>,
    /// Days after a failed recurring charge until its one retry (default 3).
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..=365))]
    recurring_retry_days: Option<i64>,
    /// The seller's 統一編號 on its e-invoices.
    #[arg(long)]
    invoice_ban: Option<String>,
    /// The e-invoice QR codes' AES key (32 hex digits).
    #[arg(long)]
    invoice_qr_key: Option<String>,
    /// Whether `issue_invoice_state` 2 (依系統設定) issues an invoice.
    #[arg(long)]
    invoice_by_default: Option<bool>,
}

fn settings(global: &Global) -> anyhow::Result<Settings> {
    let mut s = Settings::from_env()?;
    if let Some(l) = global.listen {
        s.listen = l;
    }
    if let Some(d) = &global.database {
        s.database = d.clone();
    }
    if let Some(l) = global.lease_secs {
        s.lease = l;
    }
    if let Some(m) = &global.mode {
        s.mode = parse_mode(m)?;
    }
    if let Some(u) = &global.public_url {
        s.public_url = Some(u.clone());
    }
    if let Some(n) = global.worker_threads {
        s.worker_threads = Some(usize::from(n));
    }
    if let Some(h) = &global.notify_hosts {
        s.notify_hosts = Some(mypay_gateway::config::parse_notify_hosts(h)?);
    }
    Ok(s)
}

fn main() -> anyhow::Result<()> {
    // Logs: human-readable lines, or one JSON object per line with MYPAY_LOG_FORMAT=json
    // (each with the request's id in its span). RUST_LOG filters; `access=warn` silences
    // the access log.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    if std::env::var("MYPAY_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        logs.json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        logs.init();
    }
    let cli = Cli::parse();
    let settings = settings(&cli.global)?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(n) = settings.worker_threads {
        runtime.worker_threads(n);
    }
    runtime.build()?.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(settings).await,
            Command::Merchant(cmd) => merchant(settings, cmd).await,
        }
    })
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let clock = match settings.mode {
        Mode::Sandbox => Clock::test(),
        Mode::Production => Clock::system(),
    };
    let mode = settings.mode;
    let db = settings.database.clone();
    let app = Application::build(settings, clock)
        .await
        .context("the gateway cannot start")?;
    let base = app.state().base_url.clone();
    // The banner must not take the gateway down if stdout is closed (a supervisor that
    // stopped reading), so write errors are ignored.
    let mut banner = format!("mypay-gateway ({mode:?} mode), database {db}\n");
    banner += &format!(
        "  merchant API   POST {base}/api/init   (dealers: {base}/api/agent, client mode: {base}/api/open)\n"
    );
    banner += &format!(
        "  PayPage        {base}/payment/<uid>-<token>.html (the url api/orders answers)\n"
    );
    if mode == Mode::Sandbox {
        banner += &format!("  sandbox        {base}/sandbox/clock, {base}/sandbox/notifications\n");
        banner +=
            &format!("  sample merchant store_uid {SAMPLE_STORE_UID}  key {SAMPLE_STORE_KEY}\n");
    }
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes());
        let _ = out.flush();
    }
    app.run_until(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

async fn merchant(settings: Settings, cmd: MerchantCommand) -> anyhow::Result<()> {
    let store = Store::open(&settings.database, &settings.store_options()).await?;
    let sandbox = settings.mode == Mode::Sandbox;
    // Keys are valid from the gateway's own clock: the sandbox's may stand ahead.
    let clock = if sandbox {
        Clock::test()
    } else {
        Clock::system()
    };
    if let Some((offset, high_water)) = store.clock_state().await? {
        clock.restore(offset, high_water);
    }
    let now = clock.now();
    if settings.seed_sample_merchant && sandbox {
        store.seed_sample_merchant(now).await?;
    }
    match cmd {
        MerchantCommand::Create { name, json } => {
            let key = operators::new_key()?;
            let settings = MerchantSettings::sandbox_defaults(&name);
            let store_uid = operators::create_merchant(&store, &settings, &key, now).await?;
            operators::print_credentials(&store_uid, &key, json);
        }
        MerchantCommand::RotateKey {
            store_uid,
            revoke_old,
            json,
        } => {
            store
                .merchant(&store_uid)
                .await?
                .with_context(|| format!("no merchant {store_uid}"))?;
            let key = operators::new_key()?;
            store.rotate_key(&store_uid, &key, now, revoke_old).await?;
            operators::print_credentials(&store_uid, &key, json);
        }
        MerchantCommand::List { json } => {
            let merchants = store.merchant_summaries(now).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&merchants)?);
            } else {
                for m in merchants {
                    let keys: Vec<String> = m
                        .keys
                        .iter()
                        .map(|k| match k.valid_until {
                            Some(until) => format!("until {until}"),
                            None => "never expires".to_owned(),
                        })
                        .collect();
                    println!(
                        "{}  {}  keys: {}",
                        m.store_uid,
                        if m.name.is_empty() {
                            "(no name)"
                        } else {
                            &m.name
                        },
                        keys.join(", ")
                    );
                }
            }
        }
        MerchantCommand::InvoiceTrack {
            store_uid,
            period,
            track,
            from,
            to,
        } => {
            store
                .merchant(&store_uid)
                .await?
                .with_context(|| format!("no merchant {store_uid}"))?;
            if let (Some(period), Some(track), Some(from), Some(to)) = (period, track, from, to) {
                let range = operators::invoice_track(&store_uid, &period, &track, &from, &to)?;
                match store.add_invoice_track(&range).await {
                    Err(mypay_gateway::store::StoreError::Duplicate) => anyhow::bail!(
                        "--track: {track} {from}–{to} overlaps a range of {track} already registered for {period}"
                    ),
                    other => other?,
                }
            }
            for t in store.invoice_tracks(&store_uid).await? {
                println!(
                    "{}  {}  {:08}–{:08}  next {}",
                    t.period,
                    t.track,
                    t.first_number,
                    t.last_number,
                    if t.next_number > t.last_number {
                        "(used up)".to_owned()
                    } else {
                        format!("{:08}", t.next_number)
                    }
                );
            }
        }
        MerchantCommand::Show { store_uid } => {
            let m = store
                .merchant(&store_uid)
                .await?
                .with_context(|| format!("no merchant {store_uid}"))?;
            println!("{}", serde_json::to_string_pretty(&m.settings)?);
        }
        MerchantCommand::Set(set) => {
            let mut m = store
                .merchant(&set.store_uid)
                .await?
                .with_context(|| format!("no merchant {}", set.store_uid))?;
            let s = &mut m.settings;
            if let Some(u) = set.notify_url {
                s.notify.set_transaction_url(&u);
            }
            if let Some(u) = set.completed_url {
                s.notify.completed = Some(u);
            }
            if let Some(u) = set.non_real_time_url {
                s.notify.non_real_time = Some(u);
            }
            if let Some(u) = set.confirmation_url {
                s.notify.confirmation = Some(u);
            }
            if let Some(u) = set.refund_url {
                s.notify.refund = Some(u);
            }
            if let Some(u) = set.ewallet_url {
                s.notify.ewallet = Some(u);
            }
            if let Some(days) = set.recurring_retry_days {
                s.recurring_retry_days = days;
            }
            if let Some(ban) = set.invoice_ban {
                anyhow::ensure!(
                    mypay_gateway::ledger::invoice::ban_valid(&ban),
                    "--invoice-ban: {ban:?} is not a valid 統一編號"
                );
                s.invoice.seller_ban = Some(ban);
            }
            if let Some(key) = set.invoice_qr_key {
                anyhow::ensure!(
                    mypay_gateway::ledger::invoice::qr_key_valid(&key),
                    "--invoice-qr-key: must be 32 hex digits"
                );
                s.invoice.qr_key = Some(key.to_ascii_lowercase());
            }
            if let Some(v) = set.invoice_by_default {
                s.invoice.by_default = v;
            }
            if let Some(u) = set.success_returl {
                check_return_url(&u).map_err(|e| anyhow::anyhow!("--success-returl: {e}"))?;
                s.success_returl = Some(u);
            }
            if let Some(u) = set.failure_returl {
                check_return_url(&u).map_err(|e| anyhow::anyhow!("--failure-returl: {e}"))?;
                s.failure_returl = Some(u);
            }
            if let Some(tools) = set.tools {
                let mut chosen = Vec::new();
                for t in &tools {
                    chosen.push(
                        PaymentTool::parse(t)
                            .with_context(|| format!("--tools: {t:?} is not a tool of 附錄一"))?,
                    );
                }
                let defaults = MerchantSettings::sandbox_defaults("");
                s.tools = defaults
                    .tools
                    .into_iter()
                    .filter(|ts| chosen.contains(&ts.tool))
                    .collect();
            }
            if let Some(v) = set.strict_order_id {
                s.strict_order_id = v;
            }
            if let Some(v) = set.contact_email {
                s.contact_email = Some(v);
            }
            // What can be told without resolving names: the scheme, the port, and an
            // address literal in any spelling. Names are judged at delivery.
            mypay_gateway::service::merchants::check_notify_urls(s, &settings.notify_policy())
                .map_err(|e| anyhow::anyhow!("notify URL {e}"))?;
            store.save_settings(&m.store_uid, &m.settings).await?;
            println!("{}", serde_json::to_string_pretty(&m.settings)?);
        }
    }
    Ok(())
}

/// Creating merchants and keys from the command line.
mod operators {
    pub use mypay_gateway::service::merchants::{create as create_merchant, new_key};

    /// A word-track range from the command line, checked field by field.
    pub fn invoice_track(
        store_uid: &str,
        period: &str,
        track: &str,
        from: &str,
        to: &str,
    ) -> anyhow::Result<mypay_gateway::store::InvoiceTrack> {
        use mypay_gateway::ledger::invoice::{parse_period, track_valid};
        let period = parse_period(period).ok_or_else(|| {
            anyhow::anyhow!("--period: {period:?} is not yyyMM with an even month (e.g. 11502)")
        })?;
        anyhow::ensure!(
            track_valid(track),
            "--track: {track:?} is not two capital letters"
        );
        let number = |flag: &str, v: &str| -> anyhow::Result<i64> {
            anyhow::ensure!(
                v.len() == 8 && v.bytes().all(|b| b.is_ascii_digit()),
                "{flag}: {v:?} is not 8 digits"
            );
            Ok(v.parse()?)
        };
        let (first, last) = (number("--from", from)?, number("--to", to)?);
        anyhow::ensure!(first <= last, "--to: {to} is before --from {from}");
        Ok(mypay_gateway::store::InvoiceTrack {
            store_uid: store_uid.to_owned(),
            period,
            track: track.to_owned(),
            first_number: first,
            last_number: last,
            next_number: first,
        })
    }

    pub fn print_credentials(store_uid: &str, key: &str, json: bool) {
        if json {
            println!(
                "{}",
                serde_json::json!({ "store_uid": store_uid, "key": key })
            );
        } else {
            println!("store_uid {store_uid}");
            println!("key       {key}");
            println!("(the key is shown this once; keep it secret)");
        }
    }
}
