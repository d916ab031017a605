//! `cargo xtask`: the project's proofs under faults, run against a release build of the
//! gateway.
//!
//!   cargo xtask crash --backend sqlite --kills 100     # the crash harness
//!   cargo xtask db-away --backend postgres             # the database going away
//!   cargo xtask soak --backend sqlite --minutes 30     # the soak
//!
//! See the README's "Proofs under faults".

mod backend;
mod crash;
mod db_away;
mod gateway;
mod ledger;
mod receiver;
mod setup;
mod soak;
mod traffic;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "xtask", about = "The gateway's proofs under faults")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Mixed traffic while the gateway is killed (SIGKILL) and restarted, the ledger
    /// checked after every restart and at the end.
    Crash(crash::CrashArgs),
    /// The database going away under load: PostgreSQL stopped and started, its
    /// connections cut; SQLite's disk full.
    DbAway(db_away::DbAwayArgs),
    /// Mixed traffic for a long time against slow and failing receivers: a line of
    /// figures a minute (errors, RSS, connections, outbox), and whether each stays flat.
    Soak(soak::SoakArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("xtask: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Task::Crash(args) => crash::run(args).await,
            Task::DbAway(args) => db_away::run(args).await,
            Task::Soak(args) => soak::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}
