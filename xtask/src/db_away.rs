//! The database going away under load.
//!
//! PostgreSQL: the server stopped (`pg_ctl stop -m fast`) for `--outage-secs` and started
//! again, then every connection of the gateway cut (`pg_terminate_backend`). SQLite: the
//! data directory (a small tmpfs) filled to the last byte, then freed, then the gateway
//! killed and restarted.
//!
//! Held throughout: every request is answered, within a few seconds; an API answer is the
//! document's system-error code (`400`, or `B500` for the refund family) with "nothing was
//! changed, please retry", or a true answer; a PayPage is the retry page; nothing answered
//! names a driver, a table or a file; `/readyz` is 503 while the database is away (or
//! refuses writes) and 200 again within seconds of its return; work resumes by itself;
//! and the ledger holds at the end (nothing acknowledged lost, nothing done twice).

use crate::backend::{Cluster, Database};
use crate::gateway::{self, Gateway, Launch};
use crate::ledger::Checker;
use crate::receiver::Receiver;
use crate::setup::{Merchant, browser, settle};
use crate::traffic::{Actors, Answer, Model, Op};
use anyhow::{Context, bail};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args, Clone)]
pub struct DbAwayArgs {
    /// postgres (a throw-away cluster of its own, stopped and started) or sqlite (a
    /// tmpfs data directory filled up; needs root for the mount).
    #[arg(long, default_value = "postgres", value_parser = ["sqlite", "postgres"])]
    pub backend: String,
    /// How long the database is away, in seconds.
    #[arg(long, default_value_t = 20)]
    pub outage_secs: u64,
    /// The run's seed (printed; a random one when left out).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Operations in flight at once.
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
    /// The gateway binary [default: target/release/mypay-gateway].
    #[arg(long)]
    pub gateway: Option<std::path::PathBuf>,
}

/// The longest an answer may take while the database is away: the gateway waits up to
/// 5 s for a connection (its pool's acquire timeout) before it answers the system error.
const ANSWER_WITHIN: Duration = Duration::from_secs(6);
/// How soon after the database's return work must resume and `/readyz` say 200.
const RESUME_WITHIN: Duration = Duration::from_secs(10);

/// What must never appear in an answer: a driver's, the database's or the file system's
/// words.
const INTERNALS: &[&str] = &[
    "sqlx",
    "postgres",
    "sqlite",
    "SQLSTATE",
    "pool timed out",
    "connection refused",
    "error returned from database",
    "No space left",
    "database or disk is full",
    "disk I/O",
    "terminating connection",
    "mypay.sqlite",
];

pub async fn run(args: DbAwayArgs) -> anyhow::Result<()> {
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..1_000_000_000));
    println!(
        "db-away: seed {seed}, {} backend, {} s away, {} in flight",
        args.backend, args.outage_secs, args.workers
    );
    let result = if args.backend == "postgres" {
        postgres(&args, seed).await
    } else {
        disk_full(&args, seed).await
    };
    if let Err(e) = &result {
        eprintln!(
            "db-away: FAILED with seed {seed}: {e:#}\ndb-away: replay with: cargo xtask db-away --backend {} --outage-secs {} --seed {seed} --workers {}",
            args.backend, args.outage_secs, args.workers
        );
    }
    result
}

/// The run's moving parts: the gateway, its merchant, the receiver, the load.
struct Stage {
    gateway: Gateway,
    merchant: Merchant,
    receiver: Receiver,
    actors: Arc<Actors>,
    model: Arc<Mutex<Model>>,
    http: reqwest::Client,
    /// `/readyz` polled every 200 ms: (when, status; 0 when no answer).
    ready: Arc<Mutex<Vec<(Instant, u16)>>>,
    /// PayPages of unpaid orders, asked for while the database is away.
    pages: Vec<String>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Stage {
    async fn start(launch: Launch, seed: u64, workers: usize) -> anyhow::Result<Stage> {
        let receiver = Receiver::start(seed).await?;
        let mut gateway = Gateway::new(launch);
        gateway.start().await?;
        let http = browser()?;
        gateway::wait_ready(&http, &gateway.base(), Duration::from_secs(30)).await?;
        let merchant = Merchant::make(&http, &gateway.base(), &receiver.url).await?;
        let actors = Arc::new(merchant.actors(&gateway.base())?);
        let model = Arc::new(Mutex::new(Model::default()));
        // Unpaid orders whose PayPages are asked for while the database is away.
        let mut pages = Vec::new();
        for n in 0..10 {
            let answer = actors.place(&model, &format!("PAGE-{n}"), 500).await;
            if let Ok(Some(url)) = answer {
                pages.push(url);
            }
        }
        if pages.len() < 10 {
            bail!("could not place the PayPage orders");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let ready = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        {
            let (stop, ready, http, base) =
                (stop.clone(), ready.clone(), http.clone(), gateway.base());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let at = Instant::now();
                    let status = match http
                        .get(format!("{base}/readyz"))
                        .timeout(Duration::from_secs(5))
                        .send()
                        .await
                    {
                        Ok(r) => r.status().as_u16(),
                        Err(_) => 0,
                    };
                    if let Ok(mut r) = ready.lock() {
                        r.push((at, status));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }));
        }
        let next = Arc::new(AtomicU64::new(0));
        for w in 0..workers {
            let (stop, actors, model, next) =
                (stop.clone(), actors.clone(), model.clone(), next.clone());
            let mut rng = fastrand::Rng::with_seed(seed.wrapping_add(w as u64));
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let op = Op::draw(&mut rng, next.fetch_add(1, Ordering::Relaxed));
                    // The clock is not moved here: the phases are in real time.
                    if matches!(op, Op::Advance { .. }) {
                        continue;
                    }
                    let _ = actors.run(&op, &model).await;
                }
            }));
        }
        Ok(Stage {
            gateway,
            merchant,
            receiver,
            actors,
            model,
            http,
            ready,
            pages,
            stop,
            tasks,
        })
    }

    /// Ask for every PayPage at once, a consumer each, over and over, until `until`.
    async fn ask_for_pages(&self, until: Instant) {
        let mut asks = tokio::task::JoinSet::new();
        for url in self.pages.clone() {
            let (http, actors) = (self.http.clone(), self.actors.clone());
            asks.spawn(async move {
                while Instant::now() < until {
                    let started = Instant::now();
                    match http.get(&url).send().await {
                        Ok(r) => {
                            let status = r.status().as_u16().to_string();
                            let text = r.text().await.unwrap_or_default();
                            actors.answers.note("paypage", status, text, started);
                        }
                        Err(e) => actors.answers.note(
                            "paypage",
                            "transport".into(),
                            e.to_string(),
                            started,
                        ),
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            });
        }
        while asks.join_next().await.is_some() {}
    }

    /// Stop the load and wait for it.
    async fn stop_load(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }

    /// When, after `since`, an order was first answered `200` again.
    fn first_order_after(&self, since: Instant) -> Option<Instant> {
        self.actors
            .answers
            .all()
            .into_iter()
            .filter(|a| a.what == "api/orders" && a.code == "200" && a.started >= since)
            .map(|a| a.started + a.elapsed)
            .min()
    }

    async fn wait_for_order_after(&self, since: Instant) -> Option<Duration> {
        let until = since + Duration::from_secs(30);
        while Instant::now() < until {
            if let Some(at) = self.first_order_after(since) {
                return Some(at.saturating_duration_since(since));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    /// `/readyz`'s answers between `from` and `to`.
    fn ready_between(&self, from: Instant, to: Instant) -> Vec<(Instant, u16)> {
        self.ready
            .lock()
            .map(|r| {
                r.iter()
                    .copied()
                    .filter(|(at, _)| *at >= from && *at <= to)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Judge the answers to requests made between `from` and `to` (`phase` names the
/// window): each came, within [`ANSWER_WITHIN`], naming nothing internal. While the
/// database is entirely away (`away`), an API answer is the system error, a PayPage the
/// retry page, a helper's `5xx` says nothing was changed; what was answered otherwise is
/// counted (and held to the ledger at the end).
fn judge(
    answers: &[Answer],
    from: Instant,
    to: Instant,
    phase: &str,
    away: bool,
    wrong: &mut Vec<String>,
) -> Figures {
    let mut figures = Figures::default();
    for a in answers
        .iter()
        .filter(|a| a.started >= from && a.started <= to)
    {
        figures.during += 1;
        if a.code == "transport" {
            wrong.push(format!("{phase}: {}: no answer ({})", a.what, a.msg));
            continue;
        }
        if a.code == "garbage" {
            wrong.push(format!(
                "{phase}: {}: not an answer of the interface: {}",
                a.what,
                short(&a.msg)
            ));
            continue;
        }
        let lower = a.msg.to_lowercase();
        if let Some(word) = INTERNALS.iter().find(|w| lower.contains(&w.to_lowercase())) {
            wrong.push(format!(
                "{phase}: {} answered {} naming internals ({word}): {}",
                a.what,
                a.code,
                short(&a.msg)
            ));
        }
        figures.slowest = figures.slowest.max(a.elapsed);
        if a.elapsed > ANSWER_WITHIN {
            wrong.push(format!("{phase}: {} took {:?}", a.what, a.elapsed));
        }
        let api = a.what.starts_with("api/");
        let page = a.what == "paypage" || a.what == "paypage/pay";
        if api
            && matches!(a.code.as_str(), "400" | "B500")
            && a.msg.contains("nothing was changed, please retry")
        {
            figures.system_errors += 1;
        } else if page && a.code.starts_with('5') {
            figures.retry_pages += 1;
            if !(a.msg.contains("請稍後再試") || a.msg.contains("try again later")) {
                wrong.push(format!(
                    "{phase}: {} {} is not the retry page: {}",
                    a.what,
                    a.code,
                    short(&a.msg)
                ));
            }
        } else if !api && !page && a.code.starts_with('5') {
            figures.system_errors += 1;
            if !a.msg.contains("nothing was changed") {
                wrong.push(format!(
                    "{phase}: {} answered {} without \"nothing was changed\": {}",
                    a.what,
                    a.code,
                    short(&a.msg)
                ));
            }
        } else {
            *figures
                .otherwise
                .entry(format!("{} {}", a.what, a.code))
                .or_default() += 1;
            // Only what was asked and answered while the server was away must be the
            // system error: a request waiting for a connection may get one when it is back.
            let inside = a.started + a.elapsed <= to;
            if away && inside && api && matches!(a.code.as_str(), "400" | "B500") {
                wrong.push(format!("{phase}: {} answered {} while the database was away, and not as the system error: {}", a.what, a.code, short(&a.msg)));
            }
        }
    }
    figures
}

#[derive(Default, Debug)]
struct Figures {
    /// Answers to requests made while the database was away.
    during: u64,
    system_errors: u64,
    retry_pages: u64,
    /// Answered otherwise, by what and code.
    otherwise: std::collections::BTreeMap<String, u64>,
    slowest: Duration,
}

fn short(text: &str) -> String {
    text.chars().take(160).collect()
}

/// `/readyz` went 503 while the database was away, and 200 within seconds of its return.
fn judge_ready(
    stage: &Stage,
    away: Instant,
    back: Instant,
    wrong: &mut Vec<String>,
) -> (Option<Duration>, Option<Duration>) {
    let during = stage.ready_between(away, back);
    let first_503 = during
        .iter()
        .find(|(_, s)| *s == 503)
        .map(|(at, _)| at.duration_since(away));
    if first_503.is_none() {
        wrong.push(format!(
            "/readyz never answered 503 while the database was away ({} polls)",
            during.len()
        ));
    }
    let after = stage.ready_between(back, Instant::now());
    let first_200 = after
        .iter()
        .find(|(_, s)| *s == 200)
        .map(|(at, _)| at.duration_since(back));
    match first_200 {
        Some(d) if d <= RESUME_WITHIN => {}
        other => wrong.push(format!(
            "/readyz not 200 within {RESUME_WITHIN:?} of the database's return ({other:?})"
        )),
    }
    (first_503, first_200)
}

async fn postgres(args: &DbAwayArgs, seed: u64) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("mypay-db-away-{seed}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let database = Database::fresh_on_own_cluster(&format!("away_{seed}")).await?;
    let cluster = database.cluster().context("an own cluster")?;
    let launch = Launch::new(args.gateway.clone(), &database.url, &dir)?;
    println!("db-away: gateway log {}", launch.log.display());
    let mut stage = Stage::start(launch, seed, args.workers).await?;
    let mut wrong = Vec::new();

    tokio::time::sleep(Duration::from_secs(5)).await;
    cluster.pause()?;
    // Counted from the server's end: requests answered from its last moments are not
    // judged as made while it was away.
    let away = Instant::now();
    println!("db-away: PostgreSQL stopped");
    let outage = Duration::from_secs(args.outage_secs);
    stage.ask_for_pages(away + outage).await;
    // The window judged ends as the server is asked to start: it may serve before
    // pg_ctl returns.
    let back = Instant::now();
    cluster.resume()?;
    println!(
        "db-away: PostgreSQL started again after {:.1} s",
        back.duration_since(away).as_secs_f64()
    );
    let resumed = stage.wait_for_order_after(back).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (first_503, first_200) = judge_ready(&stage, away, back, &mut wrong);
    let figures = judge(
        &stage.actors.answers.all(),
        away,
        back,
        "stopped",
        true,
        &mut wrong,
    );

    // Every connection of the gateway cut at once, under load.
    let cut = Instant::now();
    let terminated = cluster.terminate_connections(&database.name).await?;
    let resumed_after_cut = stage
        .wait_for_order_after(cut + Duration::from_millis(100))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stage.stop_load().await;
    let cut_figures = judge(
        &stage.actors.answers.all(),
        cut,
        cut + Duration::from_secs(2),
        "connections cut",
        false,
        &mut wrong,
    );

    finish(&mut stage, &database, &mut wrong).await?;
    println!(
        "db-away: stopped {:.0} s: {} requests answered meanwhile ({} system errors, {} retry pages, otherwise {:?}), slowest {:?}; /readyz 503 after {:?}, 200 {:?} after the return; orders again {:?} after the return",
        outage.as_secs_f64(),
        figures.during,
        figures.system_errors,
        figures.retry_pages,
        figures.otherwise,
        figures.slowest,
        first_503,
        first_200,
        resumed
    );
    println!(
        "db-away: {terminated} connections cut: {} requests in the next 2 s ({} system errors), slowest {:?}; orders again {:?} after the cut",
        cut_figures.during, cut_figures.system_errors, cut_figures.slowest, resumed_after_cut
    );
    match resumed {
        Some(d) if d <= RESUME_WITHIN => {}
        other => wrong.push(format!(
            "orders did not resume within {RESUME_WITHIN:?} of the return ({other:?})"
        )),
    }
    match resumed_after_cut {
        Some(d) if d <= RESUME_WITHIN => {}
        other => wrong.push(format!(
            "orders did not resume within {RESUME_WITHIN:?} of the cut ({other:?})"
        )),
    }
    if figures.system_errors == 0 {
        wrong.push(
            "no request was answered with the system error while the database was away".into(),
        );
    }
    verdict(wrong)?;
    database.drop_after().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

async fn disk_full(args: &DbAwayArgs, seed: u64) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("mypay-disk-full-{seed}-{}", std::process::id()));
    let data = dir.join("data");
    std::fs::create_dir_all(&data)?;
    let mount = Tmpfs::mount(&data, "48m")?;
    let database = Database::fresh("sqlite", &data, "full").await?;
    let launch = Launch::new(args.gateway.clone(), &database.url, &dir)?;
    println!("db-away: gateway log {}", launch.log.display());
    let mut stage = Stage::start(launch, seed, args.workers).await?;
    let mut wrong = Vec::new();

    tokio::time::sleep(Duration::from_secs(5)).await;
    let filler = data.join("filler");
    let filled = fill(&filler)?;
    let away = Instant::now();
    println!(
        "db-away: the data directory is full ({} MiB written to fill it)",
        filled >> 20
    );
    let outage = Duration::from_secs(args.outage_secs);
    stage.ask_for_pages(away + outage).await;
    let back = Instant::now();
    std::fs::remove_file(&filler)?;
    println!(
        "db-away: space freed after {:.1} s",
        back.duration_since(away).as_secs_f64()
    );
    let resumed = stage.wait_for_order_after(back).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    stage.stop_load().await;
    let (first_503, first_200) = judge_ready(&stage, away, back, &mut wrong);
    let figures = judge(
        &stage.actors.answers.all(),
        away,
        back,
        "disk full",
        false,
        &mut wrong,
    );
    // What was acknowledged survives a kill right after.
    stage.gateway.kill().await?;
    stage.gateway.start().await?;
    gateway::wait_ready(&stage.http, &stage.gateway.base(), Duration::from_secs(30)).await?;
    stage.actors = Arc::new(stage.merchant.actors(&stage.gateway.base())?);
    finish(&mut stage, &database, &mut wrong).await?;
    println!(
        "db-away: full {:.0} s: {} requests answered meanwhile ({} system errors, {} retry pages, otherwise {:?}), slowest {:?}; /readyz 503 after {:?}, 200 {:?} after space came back; orders again {:?} after",
        outage.as_secs_f64(),
        figures.during,
        figures.system_errors,
        figures.retry_pages,
        figures.otherwise,
        figures.slowest,
        first_503,
        first_200,
        resumed
    );
    match resumed {
        Some(d) if d <= RESUME_WITHIN => {}
        other => wrong.push(format!(
            "orders did not resume within {RESUME_WITHIN:?} of space's return ({other:?})"
        )),
    }
    if figures.system_errors == 0 {
        wrong.push("no request was answered with the system error while the disk was full".into());
    }
    if !wrong.is_empty() {
        // The database, kept for a look after the tmpfs is gone.
        let kept = dir.join("kept");
        std::fs::create_dir_all(&kept)?;
        for entry in std::fs::read_dir(&data)?.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with("mypay.sqlite")
            {
                std::fs::copy(entry.path(), kept.join(entry.file_name()))?;
            }
        }
        println!("db-away: the database is kept in {}", kept.display());
    }
    drop(mount);
    verdict(wrong)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Settle what is owed, then hold the ledger (nothing acknowledged lost or done twice).
async fn finish(
    stage: &mut Stage,
    database: &Database,
    wrong: &mut Vec<String>,
) -> anyhow::Result<()> {
    let db = database.pool().await?;
    let settled = settle(&stage.actors, &db, &stage.model).await?;
    let (found, tally) = Checker::default()
        .check(
            &db,
            database.sqlite,
            &stage.actors,
            &stage.model,
            &stage.receiver,
        )
        .await?;
    if !settled {
        wrong.push(format!(
            "{} notices still pending after 20 days",
            tally.notices_pending
        ));
    }
    wrong.extend(found);
    let (placed, paid, refunds) = {
        let m = stage
            .model
            .lock()
            .map_err(|_| anyhow::anyhow!("model lock"))?;
        (m.placed.len(), m.paid.len(), m.refunds.len())
    };
    println!(
        "db-away: ledger: {placed} orders answered, {paid} paid, {refunds} refunds answered; {} orders stored, {} paid, notices {} delivered",
        tally.orders, tally.paid, tally.notices_delivered
    );
    stage.gateway.stop().await?;
    Ok(())
}

fn verdict(wrong: Vec<String>) -> anyhow::Result<()> {
    if wrong.is_empty() {
        println!("db-away: every check held");
        return Ok(());
    }
    for w in wrong.iter().take(50) {
        eprintln!("db-away: VIOLATION: {w}");
    }
    bail!("{} checks failed", wrong.len())
}

/// Write zeros until the file system refuses (ENOSPC): the bytes written.
fn fill(path: &std::path::Path) -> anyhow::Result<u64> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    let chunk = vec![0u8; 1 << 16];
    let mut written = 0u64;
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => return Err(e.into()),
        }
    }
    let _ = file.sync_all();
    Ok(written)
}

/// A tmpfs mounted for the run (root, or sudo), unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &std::path::Path, size: &str) -> anyhow::Result<Tmpfs> {
        let status = as_root("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()?;
        if !status.success() {
            bail!("mounting a tmpfs at {} needs root (or sudo)", at.display());
        }
        Ok(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = as_root("umount").arg(&self.0).status();
    }
}

fn as_root(program: &str) -> std::process::Command {
    // SAFETY-free check of the effective user: `id -u`.
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false);
    if root {
        std::process::Command::new(program)
    } else {
        let mut sudo = std::process::Command::new("sudo");
        sudo.arg(program);
        sudo
    }
}

impl Cluster {
    /// Stop the server (fast: every connection dropped at once), keeping its files.
    pub fn pause(&self) -> anyhow::Result<()> {
        self.script("pause")
    }

    /// Start it again.
    pub fn resume(&self) -> anyhow::Result<()> {
        self.script("resume")
    }

    /// `pg_terminate_backend` of every other connection to `database`: how many.
    pub async fn terminate_connections(&self, database: &str) -> anyhow::Result<i64> {
        let admin = sqlx::AnyPool::connect(&format!("{}/postgres", self.url)).await?;
        let cut: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(pg_terminate_backend(pid)) AS BIGINT) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(database)
        .fetch_one(&admin)
        .await?;
        admin.close().await;
        Ok(cut)
    }

    fn script(&self, verb: &str) -> anyhow::Result<()> {
        let status = std::process::Command::new(gateway::workspace().join("scripts/pg-cluster.sh"))
            .arg(verb)
            .arg(&self.data)
            .status()?;
        if !status.success() {
            bail!("pg-cluster.sh {verb} failed");
        }
        Ok(())
    }
}
