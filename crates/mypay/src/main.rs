//! `mypay`: the merchant's command line, a thin shell over the mypay-client SDK: one
//! subcommand per command of the document, the sandbox's verbs for a mypay-gateway, and
//! `listen`, which forwards a shared sandbox's notices to a laptop.
//!
//! ```text
//! mypay modes 1000
//! mypay order --order-id A-1 --cost 100 --item "Sword model"
//! mypay query 1 d0625d9640e8664a3be8e19fddf2be79 --json
//! mypay pay 1 --card 4938170130000003
//! mypay listen --forward-to http://localhost:3000/mypay/notify
//! ```

mod listen;
mod output;
mod profile;
mod sandbox;

use clap::{CommandFactory, Parser, Subcommand};
use mypay_client::ClientError;
use mypay_client::protocol::messages::{
    DisableDirectDebitRequest, EwalletBindRequest, IssueInvoiceRequest, Item, OrderRequest,
    RefundRequest,
};
use output::{print, value_of};
use profile::Target;
use serde_json::Value;
use std::io::Read;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "mypay", version, about = "MYPAY LINK merchant command line")]
struct Cli {
    /// A profile of ~/.config/mypay/config.toml ([profiles.NAME]); built in: local (a
    /// gateway on 127.0.0.1:8080 with the sample merchant) and mypay-test (MYPAY's test
    /// area). MYPAY_URL, MYPAY_STORE_UID and MYPAY_STORE_KEY override its values.
    #[arg(long, global = true, env = "MYPAY_PROFILE", default_value = "local")]
    profile: String,
    /// The API endpoint (…/api/init), over the profile's and MYPAY_URL.
    #[arg(long, global = true)]
    url: Option<String>,
    /// The merchant's store_uid, over the profile's and MYPAY_STORE_UID.
    #[arg(long, global = true)]
    store_uid: Option<String>,
    /// The merchant's key, over the profile's and MYPAY_STORE_KEY. (Not `--key`: a
    /// command's KEY is a transaction's.)
    #[arg(long, global = true)]
    store_key: Option<String>,
    /// Print answers as JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// api/orders: a transaction; prints uid, key and the PayPage url.
    Order {
        #[arg(long)]
        order_id: String,
        #[arg(long)]
        cost: i64,
        /// `NAME[:COST[:AMOUNT]]`, once per item (one item of the whole cost when left out).
        #[arg(long = "item")]
        items: Vec<String>,
        /// Payment tool (number or code); every tool when left out.
        #[arg(long)]
        pfn: Option<String>,
        #[arg(long, default_value = "cli")]
        user_id: String,
        #[arg(long, default_value = "127.0.0.1")]
        ip: String,
        /// Any other field of the document's table, KEY=VALUE.
        #[arg(long = "field")]
        fields: Vec<String>,
    },
    /// api/queryorder: the full query record.
    Query { uid: u64, key: String },
    /// api/refund: refund COST of a transaction.
    Refund {
        uid: u64,
        key: String,
        #[arg(long)]
        cost: i64,
        /// The items refunded, as JSON ([{"id":…,"name":…,"cost":…,"amount":…,"total":…}]).
        #[arg(long)]
        items: Option<String>,
    },
    /// api/refundcancel: cancel a refund not yet sent on.
    RefundCancel { uid: u64, key: String },
    /// api/authorizedrequestpayment: capture COST of an authorisation.
    Capture {
        uid: u64,
        key: String,
        #[arg(long)]
        cost: i64,
        /// The items charged, as JSON (one item of the whole cost when left out).
        #[arg(long)]
        items: Option<String>,
    },
    /// api/cancelauthorization: release an authorisation.
    CancelAuth { uid: u64, key: String },
    /// api/disabledirectdebit: stop a recurring series.
    StopRecurring {
        #[arg(long)]
        order_id: String,
        #[arg(long)]
        group_id: String,
        /// YYYYMMDD.
        #[arg(long)]
        stop_time: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// api/ewalletbind: the page where a consumer binds a card.
    BindWallet {
        #[arg(long)]
        user_id: String,
        #[arg(long)]
        ip: String,
        #[arg(long, default_value = "CREDITCARD")]
        pfn: String,
        /// Any other field of the document's table, KEY=VALUE.
        #[arg(long = "field")]
        fields: Vec<String>,
    },
    /// api/issueinvoice: issue a paid transaction's e-invoice.
    IssueInvoice {
        uid: u64,
        key: String,
        /// Any other field of the document's table, KEY=VALUE.
        #[arg(long = "field")]
        fields: Vec<String>,
    },
    /// api/invoice: a transaction's e-invoice.
    Invoice { uid: u64, key: String },
    /// api/paymentsupportpaymode: the tools that accept an amount.
    Modes {
        cost: i64,
        #[arg(long, default_value = "TWD")]
        currency: String,
    },
    /// Sandbox: pay a transaction with a test card (expiry and CVC default to the
    /// document's for a 附錄六 card).
    Pay {
        uid: u64,
        #[arg(long)]
        card: String,
        /// MMYY.
        #[arg(long)]
        expiry: Option<String>,
        #[arg(long)]
        cvc: Option<String>,
        /// A 3-D Secure card's password.
        #[arg(long)]
        otp: Option<String>,
    },
    /// Sandbox: the test clock.
    #[command(subcommand)]
    Clock(ClockCommand),
    /// Sandbox: the merchant's notices with their attempts; --follow waits for new ones.
    Notices {
        #[arg(long)]
        uid: Option<u64>,
        #[arg(long)]
        follow: bool,
    },
    /// Follow the merchant's notices on a (shared) sandbox and post each to a local URL.
    Listen {
        /// Where each notice goes, e.g. http://localhost:3000/mypay/notify.
        #[arg(long)]
        forward_to: String,
        /// completed, non-real-time, confirmation, refund, ewallet (all when left out).
        #[arg(long, value_delimiter = ',')]
        kinds: Vec<String>,
        /// Start after notice ID, at a time (RFC 3339), or that long ago (30m, 2h, 1d);
        /// else where the last listen stopped, or from now.
        #[arg(long)]
        since: Option<String>,
    },
    /// Check a received notice (its body on standard input) against a transaction's uid
    /// and key.
    Notice {
        #[arg(long)]
        uid: u64,
        #[arg(long)]
        key: String,
    },
    /// Shell completions: bash, zsh or fish.
    Completions { shell: clap_complete::Shell },
}

#[derive(Subcommand)]
enum ClockCommand {
    /// Where the shared clock stands.
    Show,
    /// Move it forward: 90s, 30m, 2h, 3d; everything that falls due runs.
    Advance { by: String },
}

/// Why a command did not succeed; both end the process with status 1.
enum Failure {
    /// The gateway refused: its answer is printed.
    Refused(Value),
    /// Anything else: a message.
    Other(String),
}

impl From<String> for Failure {
    fn from(s: String) -> Failure {
        Failure::Other(s)
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        match e {
            ClientError::Refused { code, msg } => {
                Failure::Refused(serde_json::json!({"code": code, "msg": msg}))
            }
            other => Failure::Other(other.to_string()),
        }
    }
}

/// `KEY=VALUE` fields set on a request of the document's table; a key the table does not
/// have is refused by name.
fn with_fields<T>(request: T, fields: &[String]) -> Result<T, String>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    if fields.is_empty() {
        return Ok(request);
    }
    let mut value = serde_json::to_value(&request).map_err(|e| e.to_string())?;
    for field in fields {
        let (k, v) = field
            .split_once('=')
            .ok_or_else(|| format!("--field {field:?}: KEY=VALUE"))?;
        value[k.trim()] = Value::String(v.to_owned());
    }
    let read: T = serde_json::from_value(value).map_err(|e| format!("--field: {e}"))?;
    let back = serde_json::to_value(&read).map_err(|e| e.to_string())?;
    for field in fields {
        let k = field.split_once('=').map_or("", |(k, _)| k.trim());
        if back.get(k).is_none() {
            return Err(format!("--field {k}: not a field of this command's table"));
        }
    }
    Ok(read)
}

/// The order's items from `--item NAME[:COST[:AMOUNT]]`.
fn items_of(specs: &[String], cost: i64) -> Result<Vec<Item>, String> {
    if specs.is_empty() {
        return Ok(vec![Item::new("1", "item", cost, 1)]);
    }
    let mut items = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let mut parts = spec.rsplitn(3, ':').collect::<Vec<_>>();
        parts.reverse();
        // A name may hold colons: only trailing numbers are a cost and an amount.
        let numbers: Vec<i64> = parts
            .iter()
            .skip(1)
            .filter_map(|p| p.parse().ok())
            .collect();
        let (name, item_cost, amount) = if numbers.len() + 1 == parts.len() {
            match numbers.as_slice() {
                [c] => (parts[0].to_owned(), *c, 1),
                [c, a] => (parts[0].to_owned(), *c, *a),
                _ => (spec.clone(), cost, 1),
            }
        } else {
            (spec.clone(), cost, 1)
        };
        if numbers.is_empty() && specs.len() > 1 {
            return Err(format!(
                "--item {spec:?}: give each item's cost (NAME:COST[:AMOUNT]) when there are several"
            ));
        }
        items.push(Item::new(&(i + 1).to_string(), &name, item_cost, amount));
    }
    Ok(items)
}

fn items_json(text: Option<&str>, cost: i64) -> Result<Vec<Item>, String> {
    match text {
        None => Ok(vec![Item::new("1", "item", cost, 1)]),
        Some(t) => serde_json::from_str(t).map_err(|e| format!("--items: {e}")),
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let json = cli.json;
    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(shell, &mut Cli::command(), "mypay", &mut std::io::stdout());
        return Ok(());
    }
    let mut target = Target::resolve(&cli.profile)?;
    if let Some(url) = cli.url {
        target.profile.url = Some(url);
    }
    if let Some(uid) = cli.store_uid {
        target.profile.store_uid = Some(uid);
    }
    if let Some(key) = cli.store_key {
        target.profile.store_key = Some(key);
    }
    let store_uid = || target.store_uid().map(str::to_owned);
    let answer: Value = match cli.command {
        Command::Order {
            order_id,
            cost,
            items,
            pfn,
            user_id,
            ip,
            fields,
        } => {
            let order = OrderRequest {
                store_uid: Some(store_uid()?),
                order_id: Some(order_id),
                cost: Some(cost.to_string()),
                user_id: Some(user_id),
                ip: Some(ip),
                pfn,
                items: Some(items_of(&items, cost)?),
                ..OrderRequest::default()
            };
            let order = with_fields(order, &fields)?;
            value_of(&target.client()?.create_order(&order).await?)
        }
        Command::Query { uid, key } => value_of(&target.client()?.query_order(uid, &key).await?),
        Command::Refund {
            uid,
            key,
            cost,
            items,
        } => {
            let request = RefundRequest {
                store_uid: Some(store_uid()?),
                uid: Some(uid.to_string()),
                key: Some(key),
                cost: Some(cost.to_string()),
                items: items
                    .as_deref()
                    .map(|t| items_json(Some(t), cost))
                    .transpose()?,
                ..RefundRequest::default()
            };
            value_of(&target.client()?.refund_with(&request).await?)
        }
        Command::RefundCancel { uid, key } => {
            value_of(&target.client()?.refund_cancel(uid, &key).await?)
        }
        Command::Capture {
            uid,
            key,
            cost,
            items,
        } => {
            let items = items_json(items.as_deref(), cost)?;
            value_of(&target.client()?.capture(uid, &key, cost, items).await?)
        }
        Command::CancelAuth { uid, key } => {
            value_of(&target.client()?.cancel_authorization(uid, &key).await?)
        }
        Command::StopRecurring {
            order_id,
            group_id,
            stop_time,
            reason,
        } => {
            let request = DisableDirectDebitRequest {
                store_uid: Some(store_uid()?),
                order_id: Some(order_id),
                group_id: Some(group_id),
                stop_time: Some(stop_time),
                stop_reason: reason,
            };
            value_of(&target.client()?.disable_direct_debit(&request).await?)
        }
        Command::BindWallet {
            user_id,
            ip,
            pfn,
            fields,
        } => {
            let request = EwalletBindRequest {
                store_uid: Some(store_uid()?),
                user_id: Some(user_id),
                ip: Some(ip),
                pfn: Some(pfn),
                ..EwalletBindRequest::default()
            };
            let request = with_fields(request, &fields)?;
            value_of(&target.client()?.ewallet_bind(&request).await?)
        }
        Command::IssueInvoice { uid, key, fields } => {
            let request = IssueInvoiceRequest {
                store_uid: Some(store_uid()?),
                uid: Some(uid.to_string()),
                key: Some(key),
                ..IssueInvoiceRequest::default()
            };
            let request = with_fields(request, &fields)?;
            value_of(&target.client()?.issue_invoice(&request).await?)
        }
        Command::Invoice { uid, key } => value_of(&target.client()?.invoice(uid, &key).await?),
        Command::Modes { cost, currency } => {
            value_of(&target.client()?.payment_modes(cost, &currency).await?)
        }
        Command::Pay {
            uid,
            card,
            expiry,
            cvc,
            otp,
        } => sandbox::pay(&target, uid, &card, expiry, cvc, otp).await?,
        Command::Clock(ClockCommand::Show) => sandbox::clock(&target, None).await?,
        Command::Clock(ClockCommand::Advance { by }) => {
            let seconds = sandbox::duration_secs(&by)?;
            sandbox::clock(&target, Some(seconds)).await?
        }
        Command::Notices { uid, follow } => {
            sandbox::notices(&target, uid, json).await?;
            if follow {
                listen::follow_printing(&target, json).await?;
            }
            return Ok(());
        }
        Command::Listen {
            forward_to,
            kinds,
            since,
        } => {
            listen::listen(&target, &forward_to, &kinds, since.as_deref()).await?;
            return Ok(());
        }
        Command::Notice { uid, key } => {
            let mut body = Vec::new();
            std::io::stdin()
                .read_to_end(&mut body)
                .map_err(|e| e.to_string())?;
            let notice = mypay_client::verify_notice(&body, uid, &key)
                .ok_or("the notice does not carry this uid and key: do not trust it")?;
            eprintln!(
                "valid: answer the gateway with {}",
                mypay_client::ACKNOWLEDGEMENT
            );
            value_of(&notice)
        }
        Command::Completions { .. } => return Ok(()),
    };
    print(&answer, json);
    Ok(())
}

impl From<&str> for Failure {
    fn from(s: &str) -> Failure {
        Failure::Other(s.to_owned())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Refused(answer)) => {
            print(&answer, json);
            ExitCode::FAILURE
        }
        Err(Failure::Other(e)) => {
            eprintln!("mypay: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
