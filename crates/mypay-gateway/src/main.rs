//! `mypay-gateway`: reads settings, builds the application, serves until Ctrl-C. The
//! `merchant` subcommands change a merchant's settings in the database so a newcomer
//! needs no code.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use mypay_gateway::app::Application;
use mypay_gateway::clock::Clock;
use mypay_gateway::config::{Mode, Settings, parse_mode};
use mypay_gateway::ledger::merchant::{SAMPLE_STORE_KEY, SAMPLE_STORE_UID};
use mypay_gateway::store::Store;
use mypay_protocol::PaymentTool;
use std::net::SocketAddr;
use std::path::PathBuf;

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
    /// SQLite database file [env: MYPAY_DATABASE; default data/mypay.sqlite].
    #[arg(long, global = true)]
    database: Option<PathBuf>,
    /// sandbox or production [env: MYPAY_MODE; default sandbox].
    #[arg(long, global = true)]
    mode: Option<String>,
    /// Base URL consumers reach the gateway at [env: MYPAY_PUBLIC_URL].
    #[arg(long, global = true)]
    public_url: Option<String>,
    /// Request-serving threads [env: MYPAY_WORKER_THREADS; default one per core].
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..))]
    worker_threads: Option<u16>,
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
    /// Print a merchant's settings as JSON.
    Show { store_uid: String },
    /// Change a merchant's settings; only the options given change.
    Set(Box<MerchantSet>),
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
    /// URL for refund-complete notices (退款完成回傳資訊); unset: the 交易完成 URL.
    #[arg(long)]
    refund_url: Option<String>,
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
}

fn settings(global: &Global) -> anyhow::Result<Settings> {
    let mut s = Settings::from_env()?;
    if let Some(l) = global.listen {
        s.listen = l;
    }
    if let Some(d) = &global.database {
        s.database_path = d.clone();
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
    Ok(s)
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
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
    let db = settings.database_path.clone();
    let app = Application::build(settings, clock).await?;
    let base = app.state().base_url.clone();
    // The banner must not take the gateway down if stdout is closed (a supervisor that
    // stopped reading), so write errors are ignored.
    let mut banner = format!("mypay-gateway ({mode:?} mode), database {}\n", db.display());
    banner += &format!(
        "  merchant API   POST {base}/api/init   (dealers: {base}/api/agent, client mode: {base}/api/open)\n"
    );
    banner += &format!("  PayPage        {base}/payment/<uid>.html\n");
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
    let store = Store::open(&settings.database_path).await?;
    if settings.seed_sample_merchant {
        store.seed_sample_merchant(jiff::Timestamp::now()).await?;
    }
    match cmd {
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
                s.notify.completed = Some(u.clone());
                s.notify.non_real_time = Some(u.clone());
                s.notify.confirmation = Some(u);
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
            if let Some(u) = set.success_returl {
                s.success_returl = Some(u);
            }
            if let Some(u) = set.failure_returl {
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
                let defaults =
                    mypay_gateway::ledger::merchant::MerchantSettings::sandbox_defaults("");
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
            let production = settings.mode == Mode::Production;
            for url in [
                &s.notify.completed,
                &s.notify.non_real_time,
                &s.notify.confirmation,
                &s.notify.refund,
            ]
            .into_iter()
            .flatten()
            {
                mypay_gateway::ledger::merchant::check_notify_url(url, production)
                    .map_err(|e| anyhow::anyhow!("notify URL {e}"))?;
            }
            store.save_settings(&m.store_uid, &m.settings).await?;
            println!("{}", serde_json::to_string_pretty(&m.settings)?);
        }
    }
    Ok(())
}
