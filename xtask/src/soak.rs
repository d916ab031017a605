//! The soak: mixed traffic at a steady rate for a long time, the merchant's receiver slow
//! and failing by the seed, and a line of figures each minute: errors that were not
//! injected, the gateway's RSS, its open connections, the notice outbox's depth and its
//! oldest due notice's age. At the end, each figure's trend over the run, the ledger
//! checked, and a verdict: flat, or growing.
//!
//! Nothing is injected but the receiver's refusals and slowness, so every system error,
//! every missing answer and every 5xx is counted as an error.

use crate::backend::Database;
use crate::gateway::{self, Gateway, Launch};
use crate::ledger::Checker;
use crate::receiver::Receiver;
use crate::setup::{Merchant, browser, settle};
use crate::traffic::{Answer, Model, Op};
use anyhow::bail;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args, Clone)]
pub struct SoakArgs {
    /// sqlite or postgres (a throw-away cluster, or the server MYPAY_TEST_POSTGRES names).
    #[arg(long, default_value = "sqlite", value_parser = ["sqlite", "postgres"])]
    pub backend: String,
    /// How long, in minutes.
    #[arg(long, default_value_t = 30)]
    pub minutes: u64,
    /// Operations started per second, all workers together (about 1.5 notices each, to a
    /// receiver that answers a quarter of them slowly: the gateway sends one merchant 64
    /// at a time, which bounds what that receiver can take).
    #[arg(long, default_value_t = 40)]
    pub rate: u64,
    /// Operations in flight at most.
    #[arg(long, default_value_t = 16)]
    pub workers: usize,
    /// The run's seed (printed; a random one when left out).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Seconds per line of figures (60: a line a minute).
    #[arg(long, default_value_t = 60)]
    pub every: u64,
    /// The gateway binary [default: target/release/mypay-gateway].
    #[arg(long)]
    pub gateway: Option<std::path::PathBuf>,
}

/// One line of figures.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    minute: f64,
    answered: u64,
    errors: u64,
    rss_mib: f64,
    connections: f64,
    outbox: f64,
    due: f64,
    oldest_due_secs: f64,
}

pub async fn run(args: SoakArgs) -> anyhow::Result<()> {
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..1_000_000_000));
    println!(
        "soak: seed {seed}, {} backend, {} minutes, {} operations/s, {} in flight",
        args.backend, args.minutes, args.rate, args.workers
    );
    let dir = std::env::temp_dir().join(format!("mypay-soak-{seed}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let database = Database::fresh(&args.backend, &dir, &format!("soak_{seed}")).await?;
    let receiver = Receiver::start(seed).await?;
    let mut gateway = Gateway::new(Launch::new(args.gateway.clone(), &database.url, &dir)?);
    println!("soak: gateway log {}", dir.join("gateway.log").display());
    gateway.start().await?;
    let http = browser()?;
    gateway::wait_ready(&http, &gateway.base(), Duration::from_secs(30)).await?;
    let merchant = Merchant::make(&http, &gateway.base(), &receiver.url).await?;
    let db = database.pool().await?;
    let pid = gateway.pid().unwrap_or(0);
    let actors = Arc::new(merchant.actors(&gateway.base())?);
    let model = Arc::new(Mutex::new(Model::default()));
    let stop = Arc::new(AtomicBool::new(false));

    // Workers, each starting an operation every `workers / rate` seconds.
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let pace = Duration::from_secs_f64(args.workers as f64 / args.rate.max(1) as f64);
    for w in 0..args.workers {
        let (stop, actors, model, next) =
            (stop.clone(), actors.clone(), model.clone(), next.clone());
        let mut rng = fastrand::Rng::with_seed(seed.wrapping_add(w as u64));
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(pace);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                // The clock is not moved: notices' retries fall due in real time.
                let op = Op::draw(&mut rng, next.fetch_add(1, Ordering::Relaxed));
                if matches!(op, Op::Advance { .. }) {
                    continue;
                }
                let _ = actors.run(&op, &model).await;
            }
        }));
    }

    let started = Instant::now();
    let every = Duration::from_secs(args.every.max(1));
    let end = started + Duration::from_secs(args.minutes * 60);
    let mut samples = Vec::new();
    let mut seen = 0usize;
    println!("soak: minute  answered  errors  RSS MiB  connections  outbox (due)  oldest due s");
    while Instant::now() < end {
        tokio::time::sleep_until((started + every * (samples.len() as u32 + 1)).into()).await;
        let answers = actors.answers.all();
        let fresh = &answers[seen.min(answers.len())..];
        seen = answers.len();
        let (outbox, due, oldest) = outbox(&db, &merchant.store_uid)
            .await
            .unwrap_or((-1.0, -1.0, -1.0));
        let sample = Sample {
            minute: started.elapsed().as_secs_f64() / 60.0,
            answered: fresh.len() as u64,
            errors: fresh.iter().filter(|a| not_injected(a)).count() as u64,
            rss_mib: rss_mib(pid),
            connections: sockets(pid),
            outbox,
            due,
            oldest_due_secs: oldest,
        };
        println!(
            "soak: {:>6.1}  {:>8}  {:>6}  {:>7.1}  {:>11}  {:>6} ({:>4})  {:>12}",
            sample.minute,
            sample.answered,
            sample.errors,
            sample.rss_mib,
            sample.connections,
            sample.outbox,
            sample.due,
            sample.oldest_due_secs
        );
        for a in fresh.iter().filter(|a| not_injected(a)).take(3) {
            eprintln!(
                "soak: error: {} {} {}",
                a.what,
                a.code,
                a.msg.chars().take(160).collect::<String>()
            );
        }
        samples.push(sample);
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }

    let mut wrong = Vec::new();
    let errors: u64 = samples.iter().map(|s| s.errors).sum();
    let answered: u64 = samples.iter().map(|s| s.answered).sum();
    if errors > 0 {
        wrong.push(format!("{errors} errors that were not injected"));
    }
    println!("soak: trend (least squares per minute; the last third against the middle third):");
    type Figure = fn(&Sample) -> f64;
    let figures: [(&str, Figure, f64); 4] = [
        ("RSS MiB", |s| s.rss_mib, 16.0),
        ("connections", |s| s.connections, 10.0),
        ("outbox due", |s| s.due, 50.0),
        ("oldest due s", |s| s.oldest_due_secs, 120.0),
    ];
    for (name, figure, slack) in figures {
        let (slope, middle, last) = trend(&samples, figure);
        let flat = last <= middle * 1.2 + slack;
        println!(
            "soak:   {name:<13} {slope:>+9.3}/min   middle third {middle:>9.1}   last third {last:>9.1}   {}",
            if flat { "flat" } else { "GROWING" }
        );
        if !flat {
            wrong.push(format!("{name} grows: {middle:.1} → {last:.1}"));
        }
    }

    let actors = merchant.actors(&gateway.base())?;
    let settled = settle(&actors, &db, &model).await?;
    let mut checker = Checker::default();
    checker.api_sample = Some(5_000);
    let (found, tally) = checker
        .check(&db, database.sqlite, &actors, &model, &receiver)
        .await?;
    if !settled {
        wrong.push(format!(
            "{} notices still pending after 20 days",
            tally.notices_pending
        ));
    }
    wrong.extend(found);
    gateway.stop().await?;
    println!(
        "soak: {answered} answers in {:.0} min, {errors} errors not injected; ledger: {} orders, {} paid, {} refunds, notices {} delivered; {} deliveries received",
        started.elapsed().as_secs_f64() / 60.0,
        tally.orders,
        tally.paid,
        tally.refunds,
        tally.notices_delivered,
        receiver.count()
    );
    if !wrong.is_empty() {
        for w in wrong.iter().take(50) {
            eprintln!("soak: VIOLATION: {w}");
        }
        bail!("{} checks failed (seed {seed})", wrong.len());
    }
    println!("soak: no error, every figure flat, the ledger holds");
    database.drop_after().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// An answer no fault of the run explains: none came, it was not the interface's, the
/// gateway failed (the system error, a 5xx).
fn not_injected(a: &Answer) -> bool {
    match a.code.as_str() {
        "transport" | "garbage" => true,
        "400" | "B500" => a.msg.contains("nothing was changed"),
        code => code.starts_with('5') && code.len() == 3,
    }
}

/// The least-squares slope per minute, and the mean of the middle and the last third.
fn trend(samples: &[Sample], figure: fn(&Sample) -> f64) -> (f64, f64, f64) {
    let n = samples.len() as f64;
    if samples.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let mx = samples.iter().map(|s| s.minute).sum::<f64>() / n;
    let my = samples.iter().map(figure).sum::<f64>() / n;
    let sxx: f64 = samples.iter().map(|s| (s.minute - mx).powi(2)).sum();
    let sxy: f64 = samples
        .iter()
        .map(|s| (s.minute - mx) * (figure(s) - my))
        .sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let third = samples.len().div_ceil(3);
    let mean = |part: &[Sample]| {
        if part.is_empty() {
            0.0
        } else {
            part.iter().map(figure).sum::<f64>() / part.len() as f64
        }
    };
    let middle = mean(&samples[third.min(samples.len())..(2 * third).min(samples.len())]);
    let last = mean(&samples[(2 * third).min(samples.len())..]);
    (slope, middle, last)
}

/// The gateway's resident memory (VmRSS), MiB.
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(-1.0, |kb| kb / 1024.0)
}

/// The gateway's open sockets (listeners, clients, the database, notices on their way).
fn sockets(pid: u32) -> f64 {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.flatten()
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .map(|t| t.to_string_lossy().starts_with("socket:"))
                        .unwrap_or(false)
                })
                .count() as f64
        })
        .unwrap_or(-1.0)
}

/// The merchant's notices not yet delivered, those of them due, and the oldest due
/// one's age in seconds (on the merchant's clock, which runs with real time here).
async fn outbox(db: &sqlx::AnyPool, store_uid: &str) -> anyhow::Result<(f64, f64, f64)> {
    let now_us = now_us();
    let row: (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), \
         CAST(COALESCE(SUM(CASE WHEN next_attempt_at <= $2 THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(MIN(CASE WHEN next_attempt_at <= $2 THEN next_attempt_at END), $2) AS BIGINT) \
         FROM notices WHERE store_uid = $1 AND status = 'pending'",
    )
    .bind(store_uid)
    .bind(now_us)
    .fetch_one(db)
    .await?;
    Ok((
        row.0 as f64,
        row.1 as f64,
        ((now_us - row.2) / 1_000_000) as f64,
    ))
}

/// Now, in microseconds since the epoch.
fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}
