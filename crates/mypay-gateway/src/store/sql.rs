//! What the shared statements ask of a backend, and nothing more: run a statement on the
//! pool or in a write transaction, begin a write, and tell the other nodes what a write
//! changed when it commits. Every part of the storage interface whose statements are the
//! same on both databases is written once over this (`impl<B: Backend> Part for B`, one
//! file per part); both drivers take `$N` placeholders. What truly differs (opening and
//! migrating, SQLite's writer and readers, PostgreSQL's leased claims) stays in `sqlite/`
//! and `postgres/`.
//!
//! Statements are bound from [`Arg`]s, so the parts name no driver; rows are read
//! through [`Columns`].

use super::{StoreError, StoreResult};
use std::sync::Arc;
use tokio::sync::OwnedMutexGuard;

/// Read access to a row's columns by position, implemented by each driver's row type:
/// each row type has one decoder whichever driver read it.
pub(super) trait Columns {
    fn text(&self, column: usize) -> Result<String, StoreError>;
    fn opt_text(&self, column: usize) -> Result<Option<String>, StoreError>;
    fn int(&self, column: usize) -> Result<i64, StoreError>;
    fn opt_int(&self, column: usize) -> Result<Option<i64>, StoreError>;
}

/// Every sqlx row reads its columns the same way.
macro_rules! sqlx_columns {
    ($row:ty) => {
        impl Columns for $row {
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
    };
}
sqlx_columns!(sqlx::sqlite::SqliteRow);
sqlx_columns!(sqlx::postgres::PgRow);

/// A statement's parameter. Typed even when absent: PostgreSQL is told the type of a
/// `NULL`.
#[derive(Debug, Clone, Copy)]
pub(super) enum Arg<'a> {
    Int(Option<i64>),
    Text(Option<&'a str>),
    Bool(bool),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}

/// Ids (`uid`, refund and notice numbers) are stored as the databases' 64-bit integers;
/// they never exceed `i64::MAX`, and a larger id from outside names no row.
impl From<u64> for Arg<'_> {
    fn from(v: u64) -> Self {
        Arg::Int(Some(v as i64))
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(Some(v))
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(Some(v))
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::Text(v)
    }
}

impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::Text(v.as_deref())
    }
}

impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}

/// What the other nodes are told when a write commits. (Changes of merchants and keys
/// are told by the database itself: its triggers bump the directory's generation.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signal {
    /// Notices or timers were written: the workers look for due work.
    Work,
    /// A test clock moved: every node follows it.
    Clock,
}

impl Signal {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Signal::Work => "work",
            Signal::Clock => "clock",
        }
    }
}

/// Runs statements: a backend's pool ([`Backend::pool`]) or one of its write
/// transactions.
#[async_trait::async_trait]
pub(super) trait Exec: Send {
    type Row: Columns + Send + Sync + 'static;

    async fn fetch(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<Self::Row>>;

    /// Rows changed.
    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64>;

    /// The first row, if any (the statements ask for one at most).
    async fn optional(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Option<Self::Row>> {
        Ok(self.fetch(sql, args).await?.into_iter().next())
    }

    /// [`Exec::fetch`], planned for this call's values and the tables as they are now
    /// rather than reusing the plan the connection kept for the statement. For the
    /// batched writes of a table that grows by thousands of rows a second: a plan kept
    /// from when it was small scans it whole on every call (measured on PostgreSQL:
    /// recurring charges' records at 17 ms a part of 25, against 2 ms planned each time).
    async fn fetch_planned_now(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> StoreResult<Vec<Self::Row>> {
        self.fetch(sql, args).await
    }

    async fn one(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Self::Row> {
        self.optional(sql, args)
            .await?
            .ok_or_else(|| StoreError::Database("a statement answered no row".into()))
    }
}

/// A write transaction: everything in it is written together or not at all.
#[async_trait::async_trait]
pub(super) trait Write: Exec + Sized {
    /// Tell the other nodes, when (and only if) this transaction commits.
    async fn signal(&mut self, what: Signal) -> StoreResult<()>;

    async fn commit(self) -> StoreResult<()>;
}

/// A database the shared statements run on: a driver and the pool of it.
#[async_trait::async_trait]
pub(super) trait Backend: Send + Sync + 'static {
    type Db: Driver;
    /// A write transaction of this backend.
    type Tx: Write;
    /// Whether a group of recurring charges, or of state changes, is written in one
    /// statement per kind of write (PostgreSQL: [`super::postgres::batched`]); otherwise
    /// item by item in one transaction.
    const WRITES_IN_BATCHES: bool = false;

    fn sql_pool(&self) -> &sqlx::Pool<Self::Db>;

    /// The queue this process's writes wait in, when the database takes one writer at a
    /// time (see [`WriteGate`]).
    fn write_gate(&self) -> Option<&WriteGate> {
        None
    }

    /// Wait for this process's turn to write (at once when the backend has no gate).
    async fn turn_to_write(&self) -> StoreResult<Option<OwnedMutexGuard<()>>> {
        match self.write_gate() {
            Some(gate) => gate.turn().await.map(Some),
            None => Ok(None),
        }
    }

    async fn fetch(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<RowOf<Self>>> {
        // A statement that writes (`… RETURNING`) takes its turn like any write; without a
        // gate (PostgreSQL) the statement is not looked at.
        let _turn = match self.write_gate() {
            Some(gate) if !reads_only(sql) => Some(gate.turn().await?),
            _ => None,
        };
        Self::Db::fetch(self.sql_pool(), sql, args).await
    }

    async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        let _turn = self.turn_to_write().await?;
        Self::Db::execute(self.sql_pool(), sql, args).await
    }

    /// Begin a write transaction.
    async fn begin(&self) -> StoreResult<Self::Tx>;

    /// Begin a write transaction on the sqlx pool (PostgreSQL's; SQLite's transactions
    /// run on a connection of their own).
    async fn begin_pooled(&self) -> StoreResult<Tx<Self::Db>> {
        let turn = self.turn_to_write().await?;
        Ok(Tx(self.sql_pool().begin().await?, turn))
    }

    /// Whether the database takes writes now, as far as this process can tell (asked by
    /// `/readyz`); by default, whether it answers is enough.
    async fn writable(&self) -> StoreResult<()> {
        Ok(())
    }

    /// This process read the directory's generation from the database.
    fn directory_generation_seen(&self, _generation: u64) {}

    /// This process committed a change of merchants or keys that made the directory's
    /// generation `generation`.
    fn directory_changed(&self, generation: u64) {
        self.directory_generation_seen(generation);
    }

    /// Statements outside a transaction, each on its own.
    fn pool(&self) -> Pool<'_, Self> {
        Pool(self)
    }
}

/// The row type a backend's statements answer.
pub(super) type RowOf<B> = <<B as Backend>::Db as sqlx::Database>::Row;

/// A backend's pool as an [`Exec`].
pub(super) struct Pool<'a, B: ?Sized>(&'a B);

#[async_trait::async_trait]
impl<B: Backend> Exec for Pool<'_, B> {
    type Row = RowOf<B>;

    async fn fetch(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<RowOf<B>>> {
        self.0.fetch(sql, args).await
    }

    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        self.0.execute(sql, args).await
    }
}

/// The channel PostgreSQL nodes signal each other on.
pub(super) const CHANNEL: &str = "mypay_work";

/// What the shared statements need of a sqlx driver, where the two differ.
#[async_trait::async_trait]
pub(super) trait Driver: sqlx::Database<Row: Columns + Send + Sync + 'static> {
    /// `sqlite` or `postgres`, for logs and `/metrics`.
    const NAME: &'static str;
    /// The statement that writes everything buffered to the database's files.
    const CHECKPOINT: &'static str;
    /// Whether a write tells the other nodes (`NOTIFY` on [`CHANNEL`]) when it commits;
    /// SQLite has one process, whose workers the core wakes in memory.
    const NOTIFIES: bool;

    /// The migrations this build carries for the driver.
    fn migrator() -> &'static sqlx::migrate::Migrator;

    async fn fetch(
        pool: &sqlx::Pool<Self>,
        sql: &str,
        args: &[Arg<'_>],
    ) -> StoreResult<Vec<Self::Row>>;
    async fn execute(pool: &sqlx::Pool<Self>, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64>;
    async fn fetch_in(
        tx: &mut Tx<Self>,
        sql: &str,
        args: &[Arg<'_>],
    ) -> StoreResult<Vec<Self::Row>>;
    async fn execute_in(tx: &mut Tx<Self>, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64>;
    /// See [`Exec::fetch_planned_now`].
    async fn fetch_in_planned_now(
        tx: &mut Tx<Self>,
        sql: &str,
        args: &[Arg<'_>],
    ) -> StoreResult<Vec<Self::Row>>;
}

/// The same calls for both drivers, on their own types (sqlx's executors are generic
/// in ways a generic function would have to restate at every use).
macro_rules! driver {
    ($db:ty, $name:literal, $checkpoint:literal, $notifies:literal, $migrations:literal) => {
        #[async_trait::async_trait]
        impl Driver for $db {
            const NAME: &'static str = $name;
            const CHECKPOINT: &'static str = $checkpoint;
            const NOTIFIES: bool = $notifies;

            fn migrator() -> &'static sqlx::migrate::Migrator {
                static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!($migrations);
                &MIGRATOR
            }

            async fn fetch(
                pool: &sqlx::Pool<$db>,
                sql: &str,
                args: &[Arg<'_>],
            ) -> StoreResult<Vec<Self::Row>> {
                Ok(bind(sqlx::query(sql), args).fetch_all(pool).await?)
            }

            async fn execute(
                pool: &sqlx::Pool<$db>,
                sql: &str,
                args: &[Arg<'_>],
            ) -> StoreResult<u64> {
                Ok(bind(sqlx::query(sql), args)
                    .execute(pool)
                    .await?
                    .rows_affected())
            }

            async fn fetch_in(
                tx: &mut Tx<$db>,
                sql: &str,
                args: &[Arg<'_>],
            ) -> StoreResult<Vec<Self::Row>> {
                Ok(bind(sqlx::query(sql), args).fetch_all(&mut *tx.0).await?)
            }

            async fn execute_in(tx: &mut Tx<$db>, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
                Ok(bind(sqlx::query(sql), args)
                    .execute(&mut *tx.0)
                    .await?
                    .rows_affected())
            }

            async fn fetch_in_planned_now(
                tx: &mut Tx<$db>,
                sql: &str,
                args: &[Arg<'_>],
            ) -> StoreResult<Vec<Self::Row>> {
                Ok(bind(sqlx::query(sql).persistent(false), args)
                    .fetch_all(&mut *tx.0)
                    .await?)
            }
        }
    };
}

driver!(
    sqlx::Sqlite,
    "sqlite",
    "PRAGMA wal_checkpoint(TRUNCATE)",
    false,
    "./migrations/sqlite"
);
driver!(
    sqlx::Postgres,
    "postgres",
    "CHECKPOINT",
    true,
    "./migrations/postgres"
);

/// A write transaction of either driver, holding its turn to write (SQLite) until it
/// commits or is dropped.
pub(super) struct Tx<DB: sqlx::Database>(
    pub(super) sqlx::Transaction<'static, DB>,
    Option<OwnedMutexGuard<()>>,
);

#[async_trait::async_trait]
impl<DB: Driver> Exec for Tx<DB> {
    type Row = DB::Row;

    async fn fetch(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<DB::Row>> {
        DB::fetch_in(self, sql, args).await
    }

    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        DB::execute_in(self, sql, args).await
    }

    async fn fetch_planned_now(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> StoreResult<Vec<DB::Row>> {
        DB::fetch_in_planned_now(self, sql, args).await
    }
}

#[async_trait::async_trait]
impl<DB: Driver> Write for Tx<DB> {
    /// `NOTIFY` in the transaction: delivered when it commits, and only then.
    async fn signal(&mut self, what: Signal) -> StoreResult<()> {
        if DB::NOTIFIES {
            self.execute(
                "SELECT pg_notify($1, $2)",
                &[CHANNEL.into(), what.as_str().into()],
            )
            .await?;
        }
        Ok(())
    }

    /// The turn to write is given back once the commit is done.
    async fn commit(self) -> StoreResult<()> {
        let Tx(tx, turn) = self;
        tx.commit().await?;
        drop(turn);
        Ok(())
    }
}

/// Begin one item of a transaction that writes many (a group of charges or state changes
/// committed together): [`item_done`] keeps its writes or undoes them alone.
pub(super) async fn item_begin(tx: &mut impl Exec) -> StoreResult<()> {
    tx.execute("SAVEPOINT item", &[]).await?;
    Ok(())
}

/// End the item begun by [`item_begin`]. An item refused as [`StoreError::Conflict`] (its
/// order moved on) or [`StoreError::Duplicate`] (its key is taken) is undone alone, and
/// its error is its answer; any other error is the whole transaction's.
pub(super) async fn item_done<T>(
    tx: &mut impl Exec,
    done: StoreResult<T>,
) -> StoreResult<StoreResult<T>> {
    match done {
        Ok(v) => {
            tx.execute("RELEASE item", &[]).await?;
            Ok(Ok(v))
        }
        Err(e @ (StoreError::Conflict | StoreError::Duplicate)) => {
            tx.execute("ROLLBACK TO item", &[]).await?;
            tx.execute("RELEASE item", &[]).await?;
            Ok(Err(e))
        }
        Err(e) => Err(e),
    }
}

/// One item written alone (its transaction committed only when it was written): a
/// refusal as [`item_done`] tells it is its answer, any other error the call's.
pub(super) fn refused_alone<T>(done: StoreResult<T>) -> StoreResult<StoreResult<T>> {
    match done {
        Err(e @ (StoreError::Conflict | StoreError::Duplicate)) => Ok(Err(e)),
        Err(e) => Err(e),
        Ok(v) => Ok(Ok(v)),
    }
}

/// Whether a statement run outside a transaction only reads: a `SELECT` with no
/// `RETURNING` (any other statement is taken for a write, which at worst waits its turn
/// needlessly).
fn reads_only(sql: &str) -> bool {
    let sql = sql.trim_start();
    sql.get(..6)
        .is_some_and(|w| w.eq_ignore_ascii_case("select"))
        && !sql
            .as_bytes()
            .windows(b"returning".len())
            .any(|w| w.eq_ignore_ascii_case(b"returning"))
}

/// SQLite takes one writer at a time. A connection that finds the write lock taken sleeps
/// in SQLite's busy handler (1, 2, 5, … up to 100 ms) and tries again, so under load
/// writes queued behind one another spent most of their time asleep while the lock was
/// free (recurring charges falling due together, payments settling beside new orders).
/// This process's writes, on every connection, wait their turn here instead, first come
/// first served, and reach SQLite's lock when it is free. Other processes (the CLI) still
/// meet the busy handler.
#[derive(Clone, Default)]
pub(super) struct WriteGate(Arc<tokio::sync::Mutex<()>>);

/// How long a write waits for its turn before it is refused as the database being busy
/// (SQLite's own busy timeout, which it replaces within the process).
const TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl WriteGate {
    /// This task's turn (async callers).
    pub(super) async fn turn(&self) -> StoreResult<OwnedMutexGuard<()>> {
        tokio::time::timeout(TURN_WAIT, self.0.clone().lock_owned())
            .await
            .map_err(|_| busy())
    }

    /// This thread's turn (the dedicated connections' threads, outside the runtime). No
    /// timeout is needed: every holder's wait is bounded (a transaction's connection by
    /// the pool's acquire timeout, its statements by SQLite's busy timeout), and no holder
    /// waits for these threads.
    pub(super) fn turn_blocking(&self) -> OwnedMutexGuard<()> {
        self.0.clone().blocking_lock_owned()
    }
}

fn busy() -> StoreError {
    StoreError::Unavailable("the database is busy: a write waited too long for its turn".into())
}

/// Bind `args` to a sqlx statement, for either driver.
pub(super) fn bind<'q, DB>(
    mut query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    args: &[Arg<'q>],
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for arg in args {
        query = match *arg {
            Arg::Int(v) => query.bind(v),
            Arg::Text(v) => query.bind(v),
            Arg::Bool(v) => query.bind(v),
        };
    }
    query
}

/// `true` when `row`'s first column (an `EXISTS` cast to a number) says so: PostgreSQL's
/// `EXISTS` is a boolean, SQLite's an integer, so the statements cast it.
pub(super) fn flag(row: &impl Columns) -> StoreResult<bool> {
    Ok(row.int(0)? != 0)
}

#[cfg(test)]
mod tests {
    use super::reads_only;

    #[test]
    fn only_a_plain_select_skips_the_turn_to_write() {
        assert!(reads_only("SELECT uid FROM orders WHERE uid = $1"));
        assert!(reads_only("  select 1"));
        assert!(!reads_only("UPDATE timers SET lease = $1 RETURNING id"));
        assert!(!reads_only("INSERT INTO notices (id) VALUES ($1)"));
        assert!(!reads_only(
            "WITH due AS (SELECT id FROM timers) UPDATE timers SET x = 1"
        ));
        assert!(!reads_only("SELECT 1 FROM x; DELETE FROM y RETURNING id"));
        assert!(!reads_only(""));
    }
}
