//! The PostgreSQL backend: one database, any number of gateway nodes.
//!
//! * Durability is the server's: `synchronous_commit` on means an answered order is on
//!   the server's disk. New orders are batched ([`writer`]): the node's writer task
//!   commits every order waiting with one multi-row insert.
//! * `order_id` reuse (SPEC §4) is decided by two unique indexes (one unpaid order per
//!   request; a strict merchant's ids once), so two nodes taking the same request at
//!   once give one transaction.
//! * Background work (notices, timers) is leased row by row: claimed with
//!   `FOR UPDATE SKIP LOCKED`, held until a real-time expiry, given back at shutdown.
//! * Nodes wake each other with `NOTIFY mypay_work` when they write due work or move the
//!   test clock; a node that cannot `LISTEN` (PgBouncer in transaction mode) still finds
//!   the work by polling.

mod installation;
mod merchants;
mod notices;
mod operations;
mod orders;
mod reader;
mod recurring;
mod reversals;
mod wallets;
mod writer;

use super::{Columns, StoreError, StoreOptions};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use tokio::sync::Notify;

/// The channel nodes signal each other on.
pub(super) const CHANNEL: &str = "mypay_work";

pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub(super) struct PgStore {
    pool: PgPool,
    generation: AtomicU64,
    writer: writer::OrderWriter,
    reader: reader::OrderReader,
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
        let connect = connect.application_name("mypay-gateway");
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .acquire_timeout(options.acquire_timeout)
            // A ping before every use doubles the round trips of a point read; a broken
            // connection fails its statement instead, and the pool replaces it.
            .test_before_acquire(false)
            .connect_with(connect)
            .await?;
        MIGRATOR.run(&pool).await?;
        tokio::spawn(listen(pool.clone(), wakeups));
        Ok(PgStore {
            reader: reader::OrderReader::spawn(pool.clone()),
            writer: writer::OrderWriter::spawn(
                pool.clone(),
                options.max_commit_batch,
                options.on_commit.clone(),
            ),
            pool,
            generation: AtomicU64::new(0),
        })
    }

    fn bump_generation(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Wake this node's workers whenever another node signals; reconnect after a pause when
/// the listening connection fails. Ends with the pool.
async fn listen(pool: PgPool, wakeups: Arc<Notify>) {
    loop {
        if pool.is_closed() {
            return;
        }
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen(CHANNEL).await {
                    tracing::warn!(error = %e, "LISTEN failed; other nodes' work is found by polling");
                } else {
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(_)) => wakeups.notify_waiters(),
                            // The connection was lost and is re-established: work may
                            // have been signalled meanwhile.
                            Ok(None) => wakeups.notify_waiters(),
                            Err(e) => {
                                tracing::warn!(error = %e, "listening for other nodes");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for other nodes"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Signal the other nodes, in `tx`: delivered when it commits, and only then.
pub(super) async fn signal(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    what: &str,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(what)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Columns for PgRow {
    fn text(&self, column: usize) -> Result<String, StoreError> {
        Ok(sqlx::Row::try_get(self, column)?)
    }
    fn opt_text(&self, column: usize) -> Result<Option<String>, StoreError> {
        Ok(sqlx::Row::try_get(self, column)?)
    }
    fn int(&self, column: usize) -> Result<i64, StoreError> {
        Ok(sqlx::Row::try_get(self, column)?)
    }
    fn opt_int(&self, column: usize) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::Row::try_get(self, column)?)
    }
}

async fn begin_invoice_write(
    store: &PgStore,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    store.pool.begin().await
}

crate::store::invoice_sql::invoices_part!(PgStore, sqlx::Postgres, begin_invoice_write);
