//! The SQLite backend: one file, one gateway process.
//!
//! Durability: WAL with `synchronous=FULL`, so an answered order has been fsync'd. New
//! orders go through [`writer`], which commits many concurrent orders in one transaction
//! (one fsync for the batch) and answers each only after that commit; order lookups and
//! the notice ledger run on dedicated connections ([`direct`]). Everything else goes
//! through sqlx's pool.
//!
//! One process owns the file, so background work is leased in that process's memory
//! (the workers' own bookkeeping): the database holds no lease, and a crash forgets
//! them, leaving the work due again at once.

mod direct;
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

use super::{StoreError, StoreOptions};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

pub(super) struct SqliteStore {
    pool: SqlitePool,
    /// Bumped by every change of merchants or credentials made through this store.
    generation: AtomicU64,
    writer: writer::OrderWriter,
    reader: reader::OrderReader,
    ledger: notices::NoticeLedger,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Database(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> StoreError {
        StoreError::Database(format!("migration: {e}"))
    }
}

pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl SqliteStore {
    /// Open (creating if needed) the SQLite database at `path` and run the migrations.
    pub(super) async fn open(
        path: &Path,
        options: &StoreOptions,
    ) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Unavailable(format!("{}: {e}", dir.display())))?;
        }
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(options.acquire_timeout)
            // A ping before every use is one more round trip to SQLite's thread; an
            // embedded database has no connection that silently goes stale.
            .test_before_acquire(false)
            .connect_with(connect)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(SqliteStore {
            pool,
            generation: AtomicU64::new(0),
            writer: writer::OrderWriter::spawn(
                path,
                options.max_commit_batch,
                options.on_commit.clone(),
            )?,
            reader: reader::OrderReader::open(path, 4)?,
            ledger: notices::NoticeLedger::open(path)?,
        })
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes the write lock at the start: a deferred
    /// transaction that reads first and writes later fails at once with SQLITE_BUSY (no
    /// busy wait) when another connection committed in between, which under load turned
    /// into spurious internal errors.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    fn bump_generation(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Run blocking work of a dedicated connection off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Database(format!("a storage task failed: {e}")))?
}

async fn begin_invoice_write(
    store: &SqliteStore,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
    store.begin_write().await
}

crate::store::invoice_sql::invoices_part!(SqliteStore, sqlx::Sqlite, begin_invoice_write);
