//! `mypay-gateway`: runs the gateway (the default), or an operator's `merchant` command on
//! its database. It parses, calls the core, prints; the rules live in the library
//! (`service::merchants`).

use clap::{Args, Parser, Subcommand};
use mypay_gateway::config::{Mode, Settings, parse_mode};
use mypay_gateway::ledger::merchant::{SAMPLE_STORE_KEY, SAMPLE_STORE_UID, SettingsChange};
use mypay_gateway::service::merchants::{Credentials, Operator, OperatorError};
use mypay_gateway::store::DatabaseUrl;
use std::net::SocketAddr;
use std::process::ExitCode;

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
    installation: Installation,
    /// Serving options, when no command is given (as `serve` takes them).
    #[command(flatten)]
    serve: ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Which installation: every command needs these.
#[derive(Args)]
struct Installation {
    /// The database: a SQLite file (a path or sqlite://PATH) or
    /// postgres://USER[:PASSWORD]@HOST:PORT/DATABASE[?sslmode=…] [env: MYPAY_DATABASE;
    /// default data/mypay.sqlite].
    #[arg(long, global = true)]
    database: Option<DatabaseUrl>,
    /// sandbox or production [env: MYPAY_MODE; default sandbox].
    #[arg(long, global = true)]
    mode: Option<String>,
    /// Which hosts notices may reach: public or any [env: MYPAY_NOTIFY_HOSTS; default
    /// public in production, any in the sandbox].
    #[arg(long, global = true)]
    notify_hosts: Option<String>,
    /// Deliver the mail outbox through an SMTP server:
    /// smtp://[USER[:PASSWORD]@]HOST[:PORT]?from=ADDRESS (STARTTLS when offered) or
    /// smtps://… (TLS from the start); `&password_file=PATH` instead of a password in the
    /// URL [env: MYPAY_SMTP]. Without it the outbox is only kept.
    #[arg(long, global = true)]
    smtp: Option<String>,
    /// The upstreams that move the money in production: a TOML file of [[upstream]]
    /// (name, url, secret, tools, timeout_secs) [env: MYPAY_UPSTREAMS].
    #[arg(long, global = true)]
    upstreams: Option<std::path::PathBuf>,
    /// Logs as text (the default) or json, one object per line [env: MYPAY_LOG_FORMAT].
    #[arg(long, global = true, value_parser = ["text", "json"])]
    log_format: Option<String>,
}

#[derive(Args, Default)]
struct ServeArgs {
    /// Address to listen on [env: MYPAY_LISTEN; default 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The back office's own address (admin API) [env: MYPAY_ADMIN_LISTEN; default
    /// 127.0.0.1:8081, left out when taken].
    #[arg(long)]
    admin_listen: Option<SocketAddr>,
    /// Seconds background work stays claimed by a node that stopped (PostgreSQL), 3 to
    /// 60 [env: MYPAY_LEASE_SECS; default 15].
    #[arg(long, value_parser = mypay_gateway::config::parse_lease)]
    lease_secs: Option<std::time::Duration>,
    /// Base URL consumers reach the gateway at [env: MYPAY_PUBLIC_URL].
    #[arg(long)]
    public_url: Option<String>,
    /// TLS built in: the certificate chain, PEM (read again on SIGHUP) [env:
    /// MYPAY_TLS_CERT].
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key, PEM [env: MYPAY_TLS_KEY].
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// A load balancer in front terminates TLS: production then runs without
    /// --tls-cert [env: MYPAY_TLS_OFFLOADED=1].
    #[arg(long)]
    tls_offloaded: bool,
    /// Request-serving threads [env: MYPAY_WORKER_THREADS; default one per core].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    worker_threads: Option<u16>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve(ServeArgs),
    /// Show or change a merchant.
    #[command(subcommand)]
    Merchant(MerchantCommand),
    /// The back office's users and tokens.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Dealers (`/api/agent`) and the merchants each acts for.
    #[command(subcommand)]
    Dealer(DealerCommand),
    /// Client-mode verification codes (驗證碼) for `/api/open`.
    #[command(subcommand)]
    ClientCode(ClientCodeCommand),
    /// List the upstream payments whose outcome stayed unknown after every question to
    /// their upstream: each is the operator's to settle with the upstream.
    Unresolved {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Add a user of the dashboard; prints `password: …` once when none is given.
    AddUser {
        name: String,
        /// operator (reads and acts) or viewer (reads).
        #[arg(long)]
        role: String,
        /// Read the password from the first line of stdin instead of making one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Make a bearer token for the admin API; prints it alone on its line, once.
    Token {
        label: String,
        /// operator (reads and acts) or viewer (reads).
        #[arg(long)]
        role: String,
    },
    /// Revoke the token labelled LABEL.
    RevokeToken { label: String },
}

#[derive(Subcommand)]
enum DealerCommand {
    /// Create a dealer: prints its new agent_uid and key (shown this once).
    Create {
        #[arg(long, default_value = "")]
        name: String,
        /// Print the agent_uid and key as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Let the dealer act for the merchant through /api/agent.
    Attach {
        agent_uid: String,
        store_uid: String,
    },
    /// Stop the dealer acting for the merchant.
    Detach {
        agent_uid: String,
        store_uid: String,
    },
    /// List the dealers with the merchants each acts for.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ClientCodeCommand {
    /// Issue a verification code for a merchant's /api/open requests: prints its id and
    /// code (shown this once).
    Issue {
        store_uid: String,
        /// Print the id and code as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Revoke the code with this id: it is refused from now on.
    Revoke { id: i64 },
}

#[derive(Subcommand)]
enum MerchantCommand {
    /// Create a merchant: prints its new store_uid and key (shown this once). In
    /// production it starts with no payment tool: enable each with `set --tools`.
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
    /// Extend the merchant's newest valid key by a year (refused within 7 days of its
    /// end, when its successor is made).
    ExtendKey { store_uid: String },
    /// List the merchants with each key's validity (never the keys).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Print a merchant's settings and its keys' validity, as JSON.
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
    #[arg(long)]
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

impl From<MerchantSet> for SettingsChange {
    fn from(set: MerchantSet) -> SettingsChange {
        SettingsChange {
            name: None,
            notify_url: set.notify_url,
            completed_url: set.completed_url,
            non_real_time_url: set.non_real_time_url,
            confirmation_url: set.confirmation_url,
            refund_url: set.refund_url,
            ewallet_url: set.ewallet_url,
            success_returl: set.success_returl,
            failure_returl: set.failure_returl,
            tools: set.tools,
            tool_settings: None,
            notice_retry: None,
            strict_order_id: set.strict_order_id,
            contact_email: set.contact_email,
            recurring_retry_days: set.recurring_retry_days,
            invoice_ban: set.invoice_ban,
            invoice_qr_key: set.invoice_qr_key,
            invoice_by_default: set.invoice_by_default,
        }
    }
}

fn settings(installation: &Installation, serve: &ServeArgs) -> anyhow::Result<Settings> {
    let mut s = Settings::from_env()?;
    if let Some(d) = &installation.database {
        s.database = d.clone();
    }
    if let Some(m) = &installation.mode {
        s.mode = parse_mode(m)?;
    }
    if let Some(h) = &installation.notify_hosts {
        s.notify_hosts = Some(mypay_gateway::config::parse_notify_hosts(h)?);
    }
    if let Some(url) = &installation.smtp {
        s.smtp = Some(std::sync::Arc::new(
            mypay_gateway::notify::mail::Smtp::parse(url)?,
        ));
    }
    if let Some(path) = &installation.upstreams {
        s.upstreams = Some(std::sync::Arc::new(
            mypay_gateway::upstream::Upstreams::load(path)?,
        ));
    }
    if let Some(l) = serve.listen {
        s.listen = l;
    }
    match (serve.admin_listen, s.admin_listen) {
        (Some(addr), _) => {
            s.admin_listen = Some(mypay_gateway::config::AdminListen {
                addr,
                required: true,
            })
        }
        (None, None) => {
            s.admin_listen = mypay_gateway::config::DEFAULT_ADMIN_LISTEN
                .parse()
                .ok()
                .map(|addr| mypay_gateway::config::AdminListen {
                    addr,
                    required: false,
                })
        }
        (None, Some(_)) => {}
    }
    if let Some(l) = serve.lease_secs {
        s.lease = l;
    }
    if let Some(u) = &serve.public_url {
        s.public_url = Some(u.clone());
    }
    if let (Some(cert), Some(key)) = (&serve.tls_cert, &serve.tls_key) {
        s.tls = Some(mypay_gateway::config::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        });
    }
    if serve.tls_offloaded {
        s.tls_offloaded = true;
    }
    if let Some(n) = serve.worker_threads {
        s.worker_threads = Some(usize::from(n));
    }
    Ok(s)
}

/// The address the back office listens on, as the banner shows it.
fn settings_admin_ip(app: &mypay_gateway::app::Application) -> String {
    app.state()
        .settings
        .admin_listen
        .map(|a| a.addr.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".into())
}

/// Operators read what failed, not a backtrace (whatever `RUST_BACKTRACE` says).
fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let serving = matches!(cli.command, None | Some(Command::Serve(_)));
    mypay_gateway::config::init_logs(cli.installation.log_format.as_deref(), !serving);
    let (serve_args, task) = match cli.command {
        None => (cli.serve, Task::Serve),
        Some(Command::Serve(args)) => (args, Task::Serve),
        Some(Command::Merchant(cmd)) => (ServeArgs::default(), Task::Merchant(cmd)),
        Some(Command::Unresolved { json }) => (ServeArgs::default(), Task::Unresolved(json)),
        Some(Command::Admin(cmd)) => (ServeArgs::default(), Task::Admin(cmd)),
        Some(Command::Dealer(cmd)) => (ServeArgs::default(), Task::Dealer(cmd)),
        Some(Command::ClientCode(cmd)) => (ServeArgs::default(), Task::ClientCode(cmd)),
    };
    let settings = settings(&cli.installation, &serve_args)?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(n) = settings.worker_threads {
        runtime.worker_threads(n);
    }
    runtime.build()?.block_on(async move {
        match task {
            Task::Serve => serve(settings).await,
            Task::Merchant(cmd) => merchant_command(settings, cmd).await,
            Task::Unresolved(json) => unresolved(settings, json).await,
            Task::Admin(cmd) => admin_command(settings, cmd).await,
            Task::Dealer(cmd) => dealer_command(settings, cmd).await,
            Task::ClientCode(cmd) => client_code_command(settings, cmd).await,
        }
    })
}

enum Task {
    Admin(AdminCommand),
    Dealer(DealerCommand),
    ClientCode(ClientCodeCommand),
    Serve,
    Merchant(MerchantCommand),
    Unresolved(bool),
}

async fn admin_command(settings: Settings, cmd: AdminCommand) -> anyhow::Result<()> {
    use mypay_gateway::service::admins;
    use mypay_gateway::store::AdminRole;
    let role = |text: &str| {
        AdminRole::parse(text)
            .ok_or_else(|| anyhow::anyhow!("--role: operator or viewer, not {text:?}"))
    };
    let store =
        mypay_gateway::store::Store::open(&settings.database, &settings.store_options()).await?;
    let now = jiff::Timestamp::now();
    match cmd {
        AdminCommand::AddUser {
            name,
            role: r,
            password_stdin,
        } => {
            let role = role(&r)?;
            let typed = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                Some(line.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                None
            };
            let made = admins::add_user(&store, &name, role, typed.as_deref(), now).await?;
            let after = serde_json::json!({"name": name, "role": role.as_str()});
            let null = serde_json::Value::Null;
            admins::audit(
                &store,
                &admins::os_actor(),
                "user.add",
                &name,
                &null,
                &after,
                now,
            )
            .await?;
            println!("user {name} added ({})", role.as_str());
            if let Some(password) = made {
                println!("password: {password}");
            }
        }
        AdminCommand::Token { label, role: r } => {
            let role = role(&r)?;
            let token = admins::issue_token(&store, &label, role, now).await?;
            let after = serde_json::json!({"label": label, "role": role.as_str()});
            let null = serde_json::Value::Null;
            admins::audit(
                &store,
                &admins::os_actor(),
                "token.issue",
                &label,
                &null,
                &after,
                now,
            )
            .await?;
            println!("{token}");
        }
        AdminCommand::RevokeToken { label } => {
            admins::revoke_token(&store, &label, now).await?;
            let null = serde_json::Value::Null;
            let after = serde_json::json!({"label": label, "revoked": true});
            admins::audit(
                &store,
                &admins::os_actor(),
                "token.revoke",
                &label,
                &null,
                &after,
                now,
            )
            .await?;
            println!("token {label} revoked");
        }
    }
    Ok(())
}

async fn dealer_command(settings: Settings, cmd: DealerCommand) -> anyhow::Result<()> {
    let operator = Operator::open(&settings).await?;
    match cmd {
        DealerCommand::Create { name, json } => {
            let made = operator.create_dealer(&name).await.map_err(explain)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"agent_uid": made.agent_uid, "key": made.key})
                );
            } else {
                println!("agent_uid {}", made.agent_uid);
                println!("key       {}", made.key);
                println!("(the key is shown this once; keep it secret)");
            }
        }
        DealerCommand::Attach {
            agent_uid,
            store_uid,
        } => {
            operator
                .link_dealer(&agent_uid, &store_uid, true)
                .await
                .map_err(explain)?;
            println!("dealer {agent_uid} now acts for merchant {store_uid}");
        }
        DealerCommand::Detach {
            agent_uid,
            store_uid,
        } => {
            operator
                .link_dealer(&agent_uid, &store_uid, false)
                .await
                .map_err(explain)?;
            println!("dealer {agent_uid} no longer acts for merchant {store_uid}");
        }
        DealerCommand::List { json } => {
            let dealers = operator.dealers().await.map_err(explain)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&dealers)?);
            } else {
                for d in dealers {
                    let name = if d.name.is_empty() {
                        "(no name)"
                    } else {
                        &d.name
                    };
                    println!(
                        "{}  {name}  merchants: {}",
                        d.agent_uid,
                        d.merchants.join(", ")
                    );
                }
            }
        }
    }
    Ok(())
}

async fn client_code_command(settings: Settings, cmd: ClientCodeCommand) -> anyhow::Result<()> {
    let operator = Operator::open(&settings).await?;
    match cmd {
        ClientCodeCommand::Issue { store_uid, json } => {
            let made = operator
                .issue_client_code(&store_uid)
                .await
                .map_err(explain)?;
            if json {
                println!("{}", serde_json::json!({"id": made.id, "code": made.code}));
            } else {
                println!("id   {}", made.id);
                println!("code {}", made.code);
                println!(
                    "(the code is shown this once; it seals /api/open requests of merchant {store_uid})"
                );
            }
        }
        ClientCodeCommand::Revoke { id } => {
            operator
                .revoke_client_code(None, id)
                .await
                .map_err(explain)?;
            println!("client code {id} revoked");
        }
    }
    Ok(())
}

async fn unresolved(settings: Settings, json: bool) -> anyhow::Result<()> {
    let operator = Operator::open(&settings).await?;
    let left = operator.unresolved().await?;
    if json {
        for op in &left {
            println!("{}", serde_json::to_string(op)?);
        }
        return Ok(());
    }
    if left.is_empty() {
        println!("no unresolved upstream payments");
        return Ok(());
    }
    println!(
        "{:<20} {:<34} {:<12} {:<10} given up at",
        "uid", "reference", "upstream", "kind"
    );
    for op in left {
        let at = op.unresolved_at.map(|t| t.to_string()).unwrap_or_default();
        println!(
            "{:<20} {:<34} {:<12} {:<10} {at}",
            op.uid, op.reference, op.upstream, op.kind
        );
    }
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    settings.check_production()?;
    let mode = settings.mode;
    let db = settings.database.clone();
    let app = mypay_gateway::app::Application::build_for(settings).await?;
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
    if let Some(port) = app.admin_port() {
        let ip = settings_admin_ip(&app);
        banner += &format!(
            "  back office    http://{ip}:{port}/admin/api/v1/merchants (bearer token: mypay-gateway admin token LABEL --role viewer)\n"
        );
    }
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

/// An operator's refusal names the command line's option (`--notify-url: …`).
fn explain(e: OperatorError) -> anyhow::Error {
    match e {
        OperatorError::Refused(r) => {
            anyhow::anyhow!("--{}: {}", r.field.replace('_', "-"), r.problem)
        }
        other => anyhow::anyhow!(other),
    }
}

async fn merchant_command(settings: Settings, cmd: MerchantCommand) -> anyhow::Result<()> {
    let operator = Operator::open(&settings).await?;
    match cmd {
        MerchantCommand::Create { name, json } => {
            let made = operator.create_merchant(&name).await.map_err(explain)?;
            print_credentials(&made, json);
        }
        MerchantCommand::RotateKey {
            store_uid,
            revoke_old,
            json,
        } => {
            let made = operator
                .rotate_key(&store_uid, revoke_old)
                .await
                .map_err(explain)?;
            print_credentials(&made, json);
        }
        MerchantCommand::ExtendKey { store_uid } => {
            let key = operator
                .extend_key(&store_uid, None)
                .await
                .map_err(explain)?;
            let until = key
                .valid_until
                .map_or_else(|| "never".to_owned(), |t| t.to_string());
            println!(
                "key {} of merchant {store_uid} now valid until {until}",
                key.id
            );
        }
        MerchantCommand::List { json } => {
            let merchants = operator.merchants().await.map_err(explain)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&merchants)?);
            }
            for m in merchants.iter().filter(|_| !json) {
                let keys: Vec<String> = m
                    .keys
                    .iter()
                    .map(|k| match k.valid_until {
                        Some(until) => format!("valid until {until}"),
                        None => "never expires".to_owned(),
                    })
                    .collect();
                let name = if m.name.is_empty() {
                    "(no name)"
                } else {
                    &m.name
                };
                let keys = if keys.is_empty() {
                    "no valid key".to_owned()
                } else {
                    keys.join(", ")
                };
                println!("{}  {name}  keys: {keys}", m.store_uid);
            }
        }
        MerchantCommand::Show { store_uid } => {
            let view = operator.merchant(&store_uid).await.map_err(explain)?;
            println!("{}", serde_json::to_string_pretty(&view)?);
        }
        MerchantCommand::Set(set) => {
            let store_uid = set.store_uid.clone();
            let changed = operator
                .change(&store_uid, &SettingsChange::from(*set))
                .await
                .map_err(explain)?;
            if changed.is_empty() {
                println!("merchant {store_uid}: nothing to change");
            } else {
                println!("merchant {store_uid} changed:");
                let width = changed.iter().map(|(f, _)| f.len()).max().unwrap_or(0);
                for (field, value) in changed {
                    println!("  {field:width$}  {value}");
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
            if let (Some(period), Some(track), Some(from), Some(to)) = (period, track, from, to) {
                operator
                    .add_invoice_track(&store_uid, &period, &track, &from, &to)
                    .await
                    .map_err(explain)?;
            }
            for t in operator.invoice_tracks(&store_uid).await.map_err(explain)? {
                let next = if t.next_number > t.last_number {
                    "(used up)".to_owned()
                } else {
                    format!("{:08}", t.next_number)
                };
                println!(
                    "{}  {}  {:08}–{:08}  next {next}",
                    t.period, t.track, t.first_number, t.last_number
                );
            }
        }
    }
    Ok(())
}

fn print_credentials(made: &Credentials, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({ "store_uid": made.store_uid, "key": made.key })
        );
    } else {
        println!("store_uid {}", made.store_uid);
        println!("key       {}", made.key);
        println!("(the key is shown this once; keep it secret)");
    }
}
