//! `mypay`: the merchant's command line, a thin shell over the mypay-client SDK. It works
//! against mypay-gateway and against MYPAY's own endpoints alike.
//!
//! ```text
//! mypay --url http://127.0.0.1:8080/api/init modes 1000
//! mypay order --order-id A-1 --cost 100 --item "Sword model"
//! mypay query 1 d0625d9640e8664a3be8e19fddf2be79
//! mypay notice < body.txt --uid 1 --key …    # check a received notice
//! ```

use clap::{Parser, Subcommand};
use mypay_client::Client;
use mypay_protocol::messages::{Item, OrderRequest};
use std::io::Read;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "mypay", version, about = "MYPAY LINK merchant command line")]
struct Cli {
    /// The API endpoint.
    #[arg(
        long,
        env = "MYPAY_URL",
        default_value = "http://127.0.0.1:8080/api/init"
    )]
    url: String,
    /// The merchant's store_uid.
    #[arg(long, env = "MYPAY_STORE_UID", default_value = "289151880002")]
    store_uid: String,
    /// The merchant's 32-character key.
    #[arg(
        long,
        env = "MYPAY_STORE_KEY",
        default_value = "KYTjd9ACcjGaTK6V3zWmMkyrQS08Ndcx",
        hide_default_value = true
    )]
    key: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// api/paymentsupportpaymode: the tools that accept an amount.
    Modes {
        cost: i64,
        #[arg(long, default_value = "TWD")]
        currency: String,
    },
    /// api/orders with one item: prints the answer (uid, key, PayPage url).
    Order {
        #[arg(long)]
        order_id: String,
        #[arg(long)]
        cost: i64,
        #[arg(long, default_value = "item")]
        item: String,
        #[arg(long, default_value = "cli")]
        user_id: String,
        #[arg(long, default_value = "127.0.0.1")]
        ip: String,
        /// Payment tool (number or code); all tools when left out.
        #[arg(long)]
        pfn: Option<String>,
    },
    /// api/queryorder: the full query record.
    Query { uid: u64, key: String },
    /// Read a notice body on standard input and check it belongs to `uid` + `key`.
    Notice {
        #[arg(long)]
        uid: u64,
        #[arg(long)]
        key: String,
    },
}

fn print<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("cannot print the answer: {e}"),
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let client = Client::new(&cli.url, &cli.store_uid, &cli.key).map_err(|e| e.to_string())?;
    match cli.command {
        Command::Modes { cost, currency } => {
            print(
                &client
                    .payment_modes(cost, &currency)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        Command::Order {
            order_id,
            cost,
            item,
            user_id,
            ip,
            pfn,
        } => {
            let order = OrderRequest {
                store_uid: Some(cli.store_uid.clone()),
                order_id: Some(order_id),
                cost: Some(cost.to_string()),
                user_id: Some(user_id),
                ip: Some(ip),
                pfn,
                items: Some(vec![Item {
                    id: "1".into(),
                    name: item,
                    cost,
                    amount: 1,
                    total: cost,
                    image_url: None,
                }]),
                ..OrderRequest::default()
            };
            print(
                &client
                    .create_order(&order)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        Command::Query { uid, key } => {
            print(
                &client
                    .query_order(uid, &key)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        Command::Notice { uid, key } => {
            let mut body = Vec::new();
            std::io::stdin()
                .read_to_end(&mut body)
                .map_err(|e| e.to_string())?;
            let notice = mypay_client::verify_notice(&body, uid, &key)
                .ok_or("the notice does not carry this uid and key: do not trust it")?;
            print(&notice);
            eprintln!(
                "valid: answer the gateway with {}",
                mypay_client::ACKNOWLEDGEMENT
            );
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mypay: {e}");
            ExitCode::FAILURE
        }
    }
}
