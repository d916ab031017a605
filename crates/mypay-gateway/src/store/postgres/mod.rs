//! The PostgreSQL backend: one database, any number of gateway nodes.
//!
//! * Durability is the server's: `synchronous_commit` on means an answered order is on
//!   the server's disk. New orders are batched ([`writer`]): the node's writer task
//!   commits every order waiting with one multi-row insert; lookups of orders are
//!   batched too ([`reader`]).
//! * `order_id` reuse (SPEC §4) is decided by two unique indexes (one unpaid order per
//!   request; a strict merchant's ids once), so two nodes taking the same request at
//!   once give one transaction.
//! * Background work (notices, timers) is leased row by row ([`work`]).
//! * Nodes wake each other with `NOTIFY mypay_work` when they write due work or move the
//!   test clock, and the database itself signals every change of merchants or keys (its
//!   triggers); a node that cannot `LISTEN` (PgBouncer in transaction mode) still finds
//!   the work by polling, and reads the directory's generation before it trusts its cache.

pub(super) mod batched;
mod reader;
mod work;
mod writer;

use super::sql::{Backend, CHANNEL, Driver, Tx};
use super::storage::{Changes, OrderPath};
use super::{Created, NewOrderRow, OrderRow, StoreError, StoreOptions, StoreResult};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// The payload prefix of the database's signal that merchants or keys changed, followed
/// by the directory's new generation (migration `0011_directory_generation.sql`).
const DIRECTORY: &str = "directory:";

pub(super) struct PgStore {
    pool: PgPool,
    writer: writer::OrderWriter,
    reader: reader::OrderReader,
    directory: Arc<Directory>,
}

/// What this node knows of the directory's generation, from the database's signals.
#[derive(Default)]
struct Directory {
    /// The highest generation seen.
    generation: AtomicU64,
    /// Whether this node is listening: only then does `generation` follow every change.
    listening: AtomicBool,
}

impl PgStore {
    /// Connect, run the migrations (under sqlx's advisory lock, so nodes starting at once
    /// on an empty database take turns), and start listening for other nodes.
    pub(super) async fn open(
        url: &str,
        options: &StoreOptions,
        wakeups: Arc<Notify>,
    ) -> Result<PgStore, StoreError> {
        let connect: PgConnectOptions = url
            .parse()
            .map_err(|e| StoreError::Unavailable(format!("the PostgreSQL URL: {e}")))?;
        let server = format!("{}:{}", connect.get_host(), connect.get_port());
        let connect = connect.application_name("mypay-gateway");
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .acquire_timeout(options.acquire_timeout)
            // A ping before every use doubles the round trips of a point read; a broken
            // connection fails its statement instead, and the pool replaces it.
            .test_before_acquire(false)
            // The server compiles a statement whose estimated cost passes `jit_above_cost`
            // to machine code before running it. The gateway's statements are short, and
            // the notices' claim (whose estimate counts a hundred merchants) spent ~20 ms
            // compiling for 1 ms of work, every claim: its whole cost during recurring
            // charges' notices (measured with `pg_stat_statements`' JIT columns). A plain
            // `SET` after connecting, not a startup option, which poolers such as PgBouncer
            // refuse.
            .after_connect(|db, _| {
                Box::pin(async move {
                    sqlx::Executor::execute(db, "SET jit = off").await?;
                    Ok(())
                })
            })
            .connect_with(connect)
            .await
            .map_err(|e| StoreError::Unavailable(format!("PostgreSQL at {server}: {e}")))?;
        <sqlx::Postgres as Driver>::migrator().run(&pool).await?;
        let directory = Arc::new(Directory::default());
        tokio::spawn(listen(pool.clone(), wakeups, directory.clone()));
        Ok(PgStore {
            reader: reader::OrderReader::spawn(pool.clone(), options.acquire_timeout),
            writer: writer::OrderWriter::spawn(
                pool.clone(),
                options.max_commit_batch,
                options.on_commit.clone(),
            ),
            pool,
            directory,
        })
    }
}

/// Follow the other nodes: wake this node's workers whenever one signals work or a clock
/// move, and keep the directory's generation. Reconnects after a pause when the
/// listening connection fails; ends with the pool.
async fn listen(pool: PgPool, wakeups: Arc<Notify>, directory: Arc<Directory>) {
    while !pool.is_closed() {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => follow(&mut listener, &pool, &wakeups, &directory).await,
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN failed; other nodes' work is found by polling")
                }
            },
            Err(e) => tracing::warn!(error = %e, "cannot listen for other nodes"),
        }
        directory.listening.store(false, Ordering::Release);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Take the signals of a listening connection until it fails.
async fn follow(
    listener: &mut sqlx::postgres::PgListener,
    pool: &PgPool,
    wakeups: &Notify,
    directory: &Directory,
) {
    // Listening first, then reading: no change falls between the two.
    follow_directory(pool, directory).await;
    loop {
        match listener.try_recv().await {
            Ok(Some(signal)) => match signal.payload().strip_prefix(DIRECTORY) {
                Some(generation) => {
                    if let Ok(g) = generation.parse() {
                        directory.generation.fetch_max(g, Ordering::AcqRel);
                    }
                }
                None => wakeups.notify_waiters(),
            },
            // The connection was lost and is re-established: signals may have been
            // missed meanwhile.
            Ok(None) => {
                directory.listening.store(false, Ordering::Release);
                follow_directory(pool, directory).await;
                wakeups.notify_waiters();
            }
            Err(e) => {
                tracing::warn!(error = %e, "listening for other nodes");
                return;
            }
        }
    }
}

/// Read the directory's generation, then trust the signals again (while listening).
async fn follow_directory(pool: &PgPool, directory: &Directory) {
    match sqlx::query_scalar::<_, i64>("SELECT value FROM directory_generation WHERE id = 1")
        .fetch_one(pool)
        .await
    {
        Ok(g) => {
            directory.generation.fetch_max(g as u64, Ordering::AcqRel);
            directory.listening.store(true, Ordering::Release);
        }
        Err(e) => tracing::warn!(error = %e, "reading the directory's generation"),
    }
}

#[async_trait::async_trait]
impl Backend for PgStore {
    type Db = sqlx::Postgres;
    type Tx = Tx<sqlx::Postgres>;
    const WRITES_IN_BATCHES: bool = true;

    async fn begin(&self) -> StoreResult<Tx<sqlx::Postgres>> {
        self.begin_pooled().await
    }

    fn sql_pool(&self) -> &PgPool {
        &self.pool
    }

    fn directory_generation_seen(&self, generation: u64) {
        self.directory
            .generation
            .fetch_max(generation, Ordering::AcqRel);
    }
}

#[async_trait::async_trait]
impl OrderPath for PgStore {
    async fn create_order(&self, order: NewOrderRow) -> StoreResult<Created> {
        self.writer.create(order).await
    }

    async fn order(&self, uid: u64) -> StoreResult<Option<OrderRow>> {
        let Ok(uid) = i64::try_from(uid) else {
            return Ok(None);
        };
        self.reader.order(uid).await
    }
}

impl Changes for PgStore {
    /// While this node listens, every change reaches it as the database's signal, sent
    /// when the change commits: the generation it holds is current. Otherwise it must be
    /// read.
    fn known_directory_generation(&self) -> Option<u64> {
        self.directory
            .listening
            .load(Ordering::Acquire)
            .then(|| self.directory.generation.load(Ordering::Acquire))
    }
}
