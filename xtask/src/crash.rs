//! The crash harness: mixed traffic while the gateway is killed with SIGKILL at moments
//! drawn from the seed, restarted, and held to the ledger after every restart and at the
//! end.
//!
//! A run is its seed: the operations of each round, the operation at whose start the kill
//! comes, and the delay after it are drawn from it, as is the receiver's behaviour per
//! notice. What the seed cannot fix is which requests the kernel had finished when the
//! signal landed; rerunning a seed replays the same traffic and the same kill points.

use crate::backend::Database;
use crate::gateway::{self, Gateway, Launch};
use crate::ledger::{Checker, Tally};
use crate::receiver::Receiver;
use crate::setup::{Merchant, browser, settle};
use crate::traffic::{Actors, Model, Op};
use anyhow::{Context, bail};
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args, Clone)]
pub struct CrashArgs {
    /// sqlite or postgres (a throw-away cluster, or the server MYPAY_TEST_POSTGRES names).
    #[arg(long, default_value = "sqlite", value_parser = ["sqlite", "postgres"])]
    pub backend: String,
    /// How many times the gateway is killed.
    #[arg(long, default_value_t = 10)]
    pub kills: u32,
    /// The run's seed (printed; a random one when left out).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Operations drawn for each round (the kill comes among them).
    #[arg(long, default_value_t = 60)]
    pub ops: usize,
    /// Operations in flight at once.
    #[arg(long, default_value_t = 12)]
    pub workers: usize,
    /// The gateway binary [default: target/release/mypay-gateway].
    #[arg(long)]
    pub gateway: Option<PathBuf>,
    /// Break the ledger on purpose while the gateway is down after the last kill, to show
    /// that the checker finds it (the run then fails).
    #[arg(long, value_enum)]
    pub tamper: Option<Tamper>,
}

/// A fault the checker must find.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Tamper {
    /// An answered order's row renamed away.
    LostOrder,
    /// A paid order paid a second time in its history.
    DoublePay,
    /// A refund grown past what its order paid.
    OverRefund,
    /// The merchant's clock set back 40 days.
    ClockBack,
    /// A notice recorded as acknowledged delivered to the receiver again.
    Redelivery,
    /// A paid order's notices removed.
    LostNotice,
}

pub async fn run(args: CrashArgs) -> anyhow::Result<()> {
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..1_000_000_000));
    println!(
        "crash: seed {seed}, {} kills, {} backend, {} operations per round, {} in flight",
        args.kills, args.backend, args.ops, args.workers
    );
    let replay = format!(
        "cargo xtask crash --backend {} --kills {} --seed {seed} --ops {} --workers {}",
        args.backend, args.kills, args.ops, args.workers
    );
    match crash(&args, seed).await {
        Ok(()) => Ok(()),
        Err(e) => {
            eprintln!("crash: FAILED with seed {seed}: {e:#}\ncrash: replay with: {replay}");
            Err(e)
        }
    }
}

async fn crash(args: &CrashArgs, seed: u64) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("mypay-crash-{seed}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let database = Database::fresh(&args.backend, &dir, &format!("crash_{seed}")).await?;
    let receiver = Receiver::start(seed).await?;
    let mut gateway = Gateway::new(Launch::new(args.gateway.clone(), &database.url, &dir)?);
    println!("crash: gateway log {}", dir.join("gateway.log").display());
    gateway.start().await?;
    let http = browser()?;
    gateway::wait_ready(&http, &gateway.base(), Duration::from_secs(30)).await?;
    let merchant = Merchant::make(&http, &gateway.base(), &receiver.url).await?;
    let db = database.pool().await?;

    let model = Arc::new(Mutex::new(Model::default()));
    // The merchant's clock starts a day on, so that a clock set back shows.
    let clock: serde_json::Value = http
        .post(format!("{}/sandbox/clock/advance", gateway.base()))
        .json(&json!({"seconds": 86_400, "store_uid": merchant.store_uid}))
        .send()
        .await?
        .json()
        .await?;
    if let Ok(mut m) = model.lock() {
        m.clock = crate::traffic::clock_offset(&clock);
    }
    let mut checker = Checker::default();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut next_order = 0u64;
    let started = Instant::now();
    for round in 1..=args.kills {
        let actors = Arc::new(merchant.actors(&gateway.base())?);
        let ops: Vec<Op> = (0..args.ops)
            .map(|_| {
                next_order += 1;
                Op::draw(&mut rng, next_order)
            })
            .collect();
        let kill_at = rng.usize(args.ops / 4..args.ops);
        let delay = Duration::from_millis(rng.u64(0..40));
        let (cut, answered) = traffic_until_killed(
            &mut gateway,
            actors,
            &model,
            ops,
            kill_at,
            delay,
            args.workers,
        )
        .await?;
        if round == args.kills
            && let Some(tamper) = args.tamper.filter(|t| !matches!(t, Tamper::Redelivery))
        {
            tamper_with(tamper, &db, &model, &merchant.store_uid, &receiver).await?;
        }
        gateway
            .start()
            .await
            .with_context(|| format!("restart after kill {round}"))?;
        gateway::wait_ready(&http, &gateway.base(), Duration::from_secs(30)).await?;
        let actors = merchant.actors(&gateway.base())?;
        let (wrong, tally) = checker
            .check(&db, database.sqlite, &actors, &model, &receiver)
            .await?;
        println!(
            "crash: kill {round:>3} at operation {kill_at:>3} (+{:>2} ms): {answered} answered, {cut} cut; {}",
            delay.as_millis(),
            describe(&tally)
        );
        if !wrong.is_empty() {
            for w in &wrong {
                eprintln!("crash: VIOLATION: {w}");
            }
            bail!("{} invariants broken after kill {round}", wrong.len());
        }
    }

    if let Some(tamper @ Tamper::Redelivery) = args.tamper {
        // After a check has seen the notice recorded as delivered.
        tamper_with(tamper, &db, &model, &merchant.store_uid, &receiver).await?;
    }

    // Let everything owed happen.
    let actors = merchant.actors(&gateway.base())?;
    let settled = settle(&actors, &db, &model).await?;
    let (mut wrong, tally) = checker
        .check(&db, database.sqlite, &actors, &model, &receiver)
        .await?;
    if !settled || tally.notices_pending > 0 {
        wrong.push(format!(
            "{} notices still pending after 20 days",
            tally.notices_pending
        ));
    }
    // A last look a moment later: nothing delivered is delivered again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (again, _) = checker
        .check(&db, database.sqlite, &actors, &model, &receiver)
        .await?;
    wrong.extend(again);
    gateway.stop().await?;
    let (answered, cut, placed, paid, refunds) = {
        let m = model.lock().map_err(|_| anyhow::anyhow!("model lock"))?;
        (
            m.answered,
            m.cut,
            m.placed.len(),
            m.paid.len(),
            m.refunds.len(),
        )
    };
    println!(
        "crash: end: {} kills in {:.0} s; {answered} operations answered, {cut} cut; {placed} orders answered, {paid} paid, {refunds} refunds answered; {}; {} deliveries received",
        args.kills,
        started.elapsed().as_secs_f64(),
        describe(&tally),
        receiver.count()
    );
    if !wrong.is_empty() {
        for w in &wrong {
            eprintln!("crash: VIOLATION: {w}");
        }
        bail!("{} invariants broken at the end", wrong.len());
    }
    println!(
        "crash: every invariant held after each of {} restarts and at the end: 0 lost, 0 duplicated",
        args.kills
    );
    database.drop_after().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Run `ops` with `workers` in flight; SIGKILL the gateway `delay` after the operation
/// `kill_at` starts. Answers (operations cut, operations answered).
async fn traffic_until_killed(
    gateway: &mut Gateway,
    actors: Arc<Actors>,
    model: &Arc<Mutex<Model>>,
    ops: Vec<Op>,
    kill_at: usize,
    delay: Duration,
    workers: usize,
) -> anyhow::Result<(u64, u64)> {
    let ops = Arc::new(ops);
    let next = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let reached = Arc::new(tokio::sync::Notify::new());
    let cut = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (ops, next, killed, reached, actors, model, cut, answered) = (
            ops.clone(),
            next.clone(),
            killed.clone(),
            reached.clone(),
            actors.clone(),
            model.clone(),
            cut.clone(),
            answered.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                if killed.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(op) = ops.get(i) else { break };
                if i == kill_at {
                    reached.notify_one();
                }
                match actors.run(op, &model).await {
                    Ok(()) => answered.fetch_add(1, Ordering::Relaxed),
                    Err(_) => cut.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    reached.notified().await;
    tokio::time::sleep(delay).await;
    killed.store(true, Ordering::SeqCst);
    gateway.kill().await?;
    for t in tasks {
        t.await?;
    }
    let (cut, answered) = (
        cut.load(Ordering::Relaxed),
        answered.load(Ordering::Relaxed),
    );
    if let Ok(mut m) = model.lock() {
        m.cut += cut;
        m.answered += answered;
    }
    Ok((cut, answered))
}

/// Break the ledger on purpose (`--tamper`).
async fn tamper_with(
    tamper: Tamper,
    db: &sqlx::AnyPool,
    model: &Mutex<Model>,
    store_uid: &str,
    receiver: &Receiver,
) -> anyhow::Result<()> {
    let paid = {
        let m = model.lock().map_err(|_| anyhow::anyhow!("model lock"))?;
        m.paid.keys().next().copied()
    };
    let paid = paid.context("no paid order to tamper with")? as i64;
    let sql = match tamper {
        Tamper::LostOrder => {
            format!("UPDATE orders SET order_id = order_id || '-gone' WHERE uid = {paid}")
        }
        Tamper::DoublePay => format!(
            "INSERT INTO order_events (uid, from_prc, to_prc, at, cause) VALUES ({paid}, '250', '250', 0, 'tamper')"
        ),
        Tamper::OverRefund => format!(
            "INSERT INTO reversals (uid, kind, cost, prc, retmsg, created_at) VALUES ({paid}, 'refund', 100000000, '230', 'tamper', 0)"
        ),
        Tamper::ClockBack => format!(
            "UPDATE merchant_clocks SET offset_us = offset_us - 3456000000000, \
             high_water_us = high_water_us - 3456000000000 WHERE store_uid = '{store_uid}'"
        ),
        Tamper::LostNotice => format!(
            "DELETE FROM notice_attempts WHERE notice_id IN (SELECT id FROM notices WHERE uid = {paid}); \
             DELETE FROM notice_bodies WHERE notice_id IN (SELECT id FROM notices WHERE uid = {paid}); \
             DELETE FROM notices WHERE uid = {paid}"
        ),
        Tamper::Redelivery => {
            let body: String = sqlx::query_scalar(
                "SELECT b.body FROM notices n JOIN notice_bodies b ON b.notice_id = n.id \
                 WHERE n.store_uid = $1 AND n.status = 'delivered' ORDER BY n.id LIMIT 1",
            )
            .bind(store_uid)
            .fetch_one(db)
            .await
            .context("a delivered notice to send again")?;
            reqwest::Client::new()
                .post(&receiver.url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await?;
            println!("crash: tampered: {tamper:?}");
            return Ok(());
        }
    };
    for statement in sql.split("; ") {
        sqlx::query(statement).execute(db).await?;
    }
    println!("crash: tampered: {tamper:?}");
    Ok(())
}

fn describe(t: &Tally) -> String {
    format!(
        "{} orders, {} paid, {} periods paid, {} refunds; notices {} delivered, {} pending",
        t.orders, t.paid, t.periods_paid, t.refunds, t.notices_delivered, t.notices_pending
    )
}
