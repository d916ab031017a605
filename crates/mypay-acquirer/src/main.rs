//! `mypay-acquirer --listen ADDR --secret whsec_… --callback-url URL`

use clap::Parser;
use std::process::ExitCode;

/// A reference acquirer speaking the MYPAY LINK upstream protocol v1.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Where to listen.
    #[arg(long, env = "MYPAY_ACQUIRER_LISTEN", default_value = "127.0.0.1:9090")]
    listen: std::net::SocketAddr,
    /// The secret shared with the gateway, `whsec_<base64>`.
    #[arg(long, env = "MYPAY_ACQUIRER_SECRET")]
    secret: String,
    /// The gateway's callback URL: `https://GATEWAY/upstream/{name}/callback`.
    #[arg(long, env = "MYPAY_ACQUIRER_CALLBACK_URL")]
    callback_url: String,
    /// Where consumers reach this acquirer's challenge pages; default `http://LISTEN`.
    #[arg(long, env = "MYPAY_ACQUIRER_PUBLIC_URL")]
    public_url: Option<String>,
    /// A PEM certificate authority to trust for callbacks, besides the usual ones (a
    /// gateway with a private certificate).
    #[arg(long)]
    callback_ca: Option<std::path::PathBuf>,
    /// How long a charge of a pending test card waits before it is decided.
    #[arg(long, default_value_t = 2000)]
    pending_ms: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Ok(secret) = mypay_upstream::signature::Secret::parse(&args.secret) else {
        eprintln!("mypay-acquirer: --secret must be whsec_ and at least 16 bytes of base64");
        return ExitCode::FAILURE;
    };
    if url::Url::parse(&args.callback_url).is_err() {
        eprintln!(
            "mypay-acquirer: --callback-url {:?} is not a URL",
            args.callback_url
        );
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mypay-acquirer: {e}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(async {
        let running = mypay_acquirer::Running::bind(mypay_acquirer::Setup {
            listen: args.listen,
            secret,
            callback_url: args.callback_url,
            public_url: args.public_url,
            pending_after: std::time::Duration::from_millis(args.pending_ms),
            callback_ca: args.callback_ca,
        })
        .await?;
        println!(
            "mypay-acquirer listening on http://{}",
            running.local_addr()
        );
        tokio::select! {
            served = running.serve() => served,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mypay-acquirer: {e:#}");
            ExitCode::FAILURE
        }
    }
}
