//! The SQLite backend: one file, one gateway process.
//!
//! Durability: WAL with `synchronous=FULL`, so an answered order has been fsync'd. New
//! orders go through [`writer`], which commits many concurrent orders in one transaction
//! (one fsync for the batch) and answers each only after that commit; order lookups and
//! the notice ledger run on dedicated connections ([`direct`]). Everything else goes
//! through sqlx's pool, with the statements shared with PostgreSQL.
//!
//! One process owns the file, so background work is marked in that process's memory
//! (the workers' own bookkeeping): the database holds no lease, and a crash forgets
//! them, leaving the work due again at once ([`work`]).

mod changes;
mod direct;
mod reader;
mod work;
mod writer;
mod writes;

use super::sql::{Arg, Backend, Driver, WriteGate};
use super::storage::{Changes, OrderPath};
use super::{Created, NewOrderRow, OrderRow, StoreError, StoreOptions, StoreResult};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub(super) struct SqliteStore {
    pool: SqlitePool,
    health: Arc<WriteHealth>,
    gate: WriteGate,
    writer: writer::OrderWriter,
    reader: reader::Readers,
    ledger: work::NoticeLedger,
    writes: writes::Writes,
    directory: changes::DirectoryFile,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        // As sqlx tells them apart: a key taken is the interface's own error.
        let taken = matches!(
            &e,
            rusqlite::Error::SqliteFailure(f, _)
                if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        );
        if taken {
            StoreError::Duplicate
        } else {
            StoreError::Database(e.to_string())
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> StoreError {
        StoreError::Database(format!("migration: {e}"))
    }
}

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
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!("the SQLite database {}: {e}", path.display()))
            })?;
        <sqlx::Sqlite as Driver>::migrator().run(&pool).await?;
        let health = Arc::new(WriteHealth::default());
        let gate = WriteGate::default();
        Ok(SqliteStore {
            pool,
            writer: writer::OrderWriter::spawn(
                path,
                options.max_commit_batch,
                options.on_commit.clone(),
                health.clone(),
                gate.clone(),
            )?,
            reader: reader::Readers::open(path, 4)?,
            ledger: work::NoticeLedger::open(path, health.clone(), gate.clone())?,
            writes: writes::Writes::open(path, gate.clone(), health.clone())?,
            directory: changes::DirectoryFile::open(path)?,
            health,
            gate,
        })
    }
}

/// Whether the file takes writes: the order writer and the notice ledger (most of the
/// writes, and the ones every payment makes) say how each of their commits went. A full
/// disk or an I/O error fails writes while reads go on, so `/readyz` asks this as well
/// as whether the database answers.
#[derive(Default)]
pub(super) struct WriteHealth(AtomicBool);

impl WriteHealth {
    pub(super) fn noted<T>(&self, result: &Result<T, StoreError>) {
        self.0.store(result.is_err(), Ordering::Relaxed);
    }

    fn failing(&self) -> bool {
        self.0.load(Ordering::Relaxed)
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

#[async_trait::async_trait]
impl Backend for SqliteStore {
    type Db = sqlx::Sqlite;
    type Tx = writes::WriteTx;

    /// On the connection this process writes through, right on the caller's thread.
    async fn begin(&self) -> StoreResult<writes::WriteTx> {
        self.writes.begin().await
    }

    /// A statement alone, on the same connection.
    async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        self.writes.execute_alone(sql, args).await
    }

    fn sql_pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn write_gate(&self) -> Option<&WriteGate> {
        Some(&self.gate)
    }

    fn directory_changed(&self, generation: u64) {
        self.directory.announce(generation);
    }

    /// While the last write failed, one small committed write (a row of its own in
    /// `installation`; SQLite writes the page even when the value stays the same) tells
    /// whether the file takes writes again; otherwise nothing is written.
    async fn writable(&self) -> StoreResult<()> {
        if !self.health.failing() {
            return Ok(());
        }
        let probe = self
            .execute(
                "INSERT INTO installation (name, value) VALUES ('write_probe', '')
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                &[],
            )
            .await;
        self.health.noted(&probe);
        probe
            .map(|_| ())
            .map_err(|_| StoreError::Unavailable("the database refuses writes".into()))
    }
}

#[async_trait::async_trait]
impl OrderPath for SqliteStore {
    async fn create_order(&self, order: NewOrderRow) -> StoreResult<Created> {
        self.writer.create(order).await
    }

    /// On a dedicated read connection, right on the caller's thread (see `reader`).
    async fn order(&self, uid: u64) -> StoreResult<Option<OrderRow>> {
        self.reader.order(uid)
    }
}

impl Changes for SqliteStore {
    /// Read from the database when the file beside it grew since the last read (another
    /// process, or this one, committed a change), or at the latest every
    /// [`changes::POLL`]; else the generation last read.
    fn known_directory_generation(&self) -> Option<u64> {
        let known = || -> StoreResult<u64> {
            let length = self.directory.length()?;
            if let Some(generation) = self.directory.known_at(length) {
                return Ok(generation);
            }
            let generation = self.reader.directory_generation()?;
            self.directory.remember(length, generation);
            Ok(generation)
        };
        match known() {
            Ok(generation) => Some(generation),
            Err(e) => {
                tracing::warn!(error = %e, "reading the directory's generation");
                None
            }
        }
    }
}
