//! Storage: SQLite through sqlx, with the migrations in `migrations/`; the two hot paths
//! (new orders, order lookups) on dedicated connections of their own ([`direct`]). No SQL
//! lives outside this module; the rest of the gateway calls these methods.
//!
//! Durability: WAL with `synchronous=FULL`, so an answered order has been fsync'd. New
//! orders go through [`writer`], which commits many concurrent orders in one transaction
//! (one fsync for the batch) and answers each only after that commit.

mod direct;
mod installation;
mod merchants;
mod notices;
mod orders;
pub mod reader;
pub mod reversals;
pub mod writer;

pub use merchants::{Credential, CredentialOwner, Merchant, MerchantSummary};
pub use notices::{
    AttemptRecord, Claim, NewNotice, NoticeAttempt, NoticeFilter, NoticeLedger, NoticeRow, Trigger,
};
pub use orders::{Challenge, NewTimer, OrderEvent, OrderRow, PaymentFacts, TimerRow, Transition};
pub use reversals::{NewReversal, ReversalKind, ReversalRow};

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row changed under us (another request or node moved the order first).
    #[error("the order's state changed concurrently")]
    Conflict,
    #[error("not found")]
    NotFound,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database: {0}")]
    Direct(#[from] rusqlite::Error),
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    /// The database file, for the dedicated connections of [`writer`] and [`reader`].
    path: std::sync::Arc<std::path::PathBuf>,
    /// Bumped by every change of merchants or credentials made through this store, so
    /// caches in this process notice at once (other processes: see `directory`).
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Store {
    /// Open (creating if needed) the SQLite database at `path` and run the migrations.
    pub async fn open(path: &Path) -> StoreResult<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // A ping before every use is one more round trip to SQLite's thread; an
            // embedded database has no connection that silently goes stale.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store {
            pool,
            path: std::sync::Arc::new(path.to_owned()),
            generation: Default::default(),
        })
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes the write lock at the start: a deferred
    /// transaction that reads first and writes later fails at once with SQLITE_BUSY (no
    /// busy wait) when another connection committed in between, which under load turned
    /// into spurious internal errors.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// The generation of merchants and credentials (see the field).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn bump_generation(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

pub(crate) fn micros(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

pub(crate) fn timestamp(us: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(us).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}
