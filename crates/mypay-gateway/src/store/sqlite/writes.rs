//! Write transactions on one dedicated connection, run on the caller's thread.
//!
//! Through sqlx, every statement of a transaction crossed to the connection's worker
//! thread and back (and so did `BEGIN` and `COMMIT`): a payment's claim, settlement and
//! release, or a recurring charge's record and answer, spent most of their time in those
//! hand-offs while holding the one turn to write, so every other write waited for them
//! too. SQLite takes one writer at a time anyway, and this process's writes already wait
//! their turn in its [`WriteGate`]; the turn now comes with this connection, and the
//! transaction's statements run right where they are asked (a statement on cached pages
//! takes microseconds). Only what may wait on the disk leaves the thread: the commit (an
//! fsync) and a `BEGIN` that finds another process writing.

use super::WriteHealth;
use crate::store::sql::{Arg, Exec, Write, WriteGate};
use crate::store::{Columns, StoreError, StoreResult};
use rusqlite::types::Value;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::OwnedMutexGuard;

/// How long a `BEGIN` waits for another process's write (the `merchant` command beside
/// the gateway) before the database counts as busy: SQLite's busy timeout elsewhere.
const OTHER_PROCESS_WAIT: Duration = Duration::from_secs(10);

/// How long a statement on the async threads lets SQLite retry by itself. Holding the
/// write lock, a statement still meets SQLite's brief, transient `SQLITE_BUSY` (another
/// connection reading or checkpointing the log's index), which SQLite's busy handler
/// retries within a millisecond or two; a lock held longer is another process writing,
/// waited for off these threads (see [`Writes::begin`]).
const TRANSIENT_WAIT: Duration = Duration::from_millis(20);

/// The connection this process's transactions write through, and its queue.
#[derive(Clone)]
pub(super) struct Writes {
    conn: Arc<Mutex<rusqlite::Connection>>,
    gate: WriteGate,
    /// Told how each commit went (`/readyz`).
    health: Arc<WriteHealth>,
}

impl Writes {
    pub(super) fn open(
        path: &std::path::Path,
        gate: WriteGate,
        health: Arc<WriteHealth>,
    ) -> StoreResult<Writes> {
        let conn = super::direct::open(path, false)?;
        // Statements run on the async threads: one that meets another process's lock
        // must not sleep there long (see `begin`).
        conn.busy_timeout(TRANSIENT_WAIT)?;
        // Every statement any transaction runs stays prepared (they are a few hundred).
        conn.set_prepared_statement_cache_capacity(512);
        // The pages a burst of payments or charges touches stay in memory (32 MiB).
        conn.pragma_update(None, "cache_size", -32_768)?;
        Ok(Writes {
            conn: Arc::new(Mutex::new(conn)),
            gate,
            health,
        })
    }

    /// Wait for the turn to write, then begin a transaction holding SQLite's write lock.
    /// `IMMEDIATE` takes the lock at the start: a deferred transaction that reads first
    /// and writes later fails at once with `SQLITE_BUSY` when another process committed in
    /// between.
    pub(super) async fn begin(&self) -> StoreResult<WriteTx> {
        let turn = self.gate.turn().await?;
        let began = {
            let conn = locked(&self.conn);
            // A transaction left open (a panic between statements) is given up first.
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            conn.execute_batch("BEGIN IMMEDIATE")
        };
        let turn = match began {
            Ok(()) => turn,
            // Another process writes: wait for it off the async threads.
            Err(e) if is_busy(&e) => {
                let conn = self.conn.clone();
                blocking(move || {
                    let conn = locked(&conn);
                    let began = patiently(&conn, |conn| conn.execute_batch("BEGIN IMMEDIATE"))?;
                    began.map_err(|e| {
                        if is_busy(&e) {
                            StoreError::Unavailable("the database is busy".into())
                        } else {
                            e.into()
                        }
                    })?;
                    Ok(turn)
                })
                .await?
            }
            Err(e) => return Err(e.into()),
        };
        Ok(WriteTx {
            conn: self.conn.clone(),
            turn: Some(turn),
            health: self.health.clone(),
        })
    }
}

impl Writes {
    /// Run one statement on its own (its own transaction, or none: a checkpoint), off the
    /// async threads since its commit waits on the disk; how many rows it changed.
    pub(super) async fn execute_alone(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        let turn = self.gate.turn().await?;
        let conn = self.conn.clone();
        let sql = sql.to_owned();
        let args: Vec<Owned> = args.iter().map(Owned::from).collect();
        blocking(move || {
            let conn = locked(&conn);
            let borrowed: Vec<Arg<'_>> = args.iter().map(Owned::as_arg).collect();
            let ran = patiently(&conn, |conn| {
                let mut statement = conn.prepare_cached(&sql)?;
                bind(&mut statement, &borrowed)?;
                let mut rows = statement.raw_query();
                while rows.next()?.is_some() {}
                Ok::<_, StoreError>(())
            })?;
            ran?;
            let changed = conn.changes();
            drop(turn);
            Ok(changed)
        })
        .await
    }
}

/// An argument kept for another thread.
enum Owned {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(bool),
}

impl Owned {
    fn from(arg: &Arg<'_>) -> Owned {
        match *arg {
            Arg::Int(v) => Owned::Int(v),
            Arg::Text(v) => Owned::Text(v.map(str::to_owned)),
            Arg::Bool(v) => Owned::Bool(v),
        }
    }

    fn as_arg(&self) -> Arg<'_> {
        match self {
            Owned::Int(v) => Arg::Int(*v),
            Owned::Text(v) => Arg::Text(v.as_deref()),
            Owned::Bool(v) => Arg::Bool(*v),
        }
    }
}

/// A write transaction on the [`Writes`] connection, holding the turn to write until it
/// commits; dropped before, it is rolled back.
pub(in crate::store) struct WriteTx {
    conn: Arc<Mutex<rusqlite::Connection>>,
    /// Present while the transaction is open.
    turn: Option<OwnedMutexGuard<()>>,
    health: Arc<WriteHealth>,
}

impl WriteTx {
    /// Run `sql` with `args`: its rows, and how many rows it changed.
    fn run(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<(Vec<WrittenRow>, u64)> {
        if self.turn.is_none() {
            return Err(StoreError::Database(
                "a finished transaction was used".into(),
            ));
        }
        let conn = locked(&self.conn);
        let mut statement = conn.prepare_cached(sql)?;
        bind(&mut statement, args)?;
        let columns = statement.column_count();
        let mut rows = Vec::new();
        let mut found = statement.raw_query();
        while let Some(row) = found.next()? {
            let values = (0..columns)
                .map(|i| row.get::<_, Value>(i))
                .collect::<Result<Vec<_>, _>>()?;
            rows.push(WrittenRow(values));
        }
        drop(found);
        drop(statement);
        Ok((rows, conn.changes()))
    }
}

/// Bind `args` as the shared statements number them (`$N` is the N-th argument,
/// wherever it first appears in the text, and may appear more than once).
fn bind(statement: &mut rusqlite::CachedStatement<'_>, args: &[Arg<'_>]) -> StoreResult<()> {
    for index in 1..=statement.parameter_count() {
        let position = statement
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(index);
        let arg = args.get(position - 1).ok_or_else(|| {
            StoreError::Database(format!("a statement asks for argument {position}"))
        })?;
        match *arg {
            Arg::Int(v) => statement.raw_bind_parameter(index, v)?,
            Arg::Text(v) => statement.raw_bind_parameter(index, v)?,
            Arg::Bool(v) => statement.raw_bind_parameter(index, i64::from(v))?,
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl Exec for WriteTx {
    type Row = WrittenRow;

    async fn fetch(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<WrittenRow>> {
        Ok(self.run(sql, args)?.0)
    }

    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        Ok(self.run(sql, args)?.1)
    }
}

#[async_trait::async_trait]
impl Write for WriteTx {
    /// One process on the file: its workers are woken in memory by the core.
    async fn signal(&mut self, _what: crate::store::sql::Signal) -> StoreResult<()> {
        Ok(())
    }

    /// The commit waits on the disk, off the async threads; the turn to write goes with
    /// it and is given back once the commit is done, even if the caller stops waiting.
    async fn commit(mut self) -> StoreResult<()> {
        let turn = self
            .turn
            .take()
            .ok_or_else(|| StoreError::Database("a finished transaction was used".into()))?;
        let conn = self.conn.clone();
        let committed = blocking(move || {
            let conn = locked(&conn);
            let committed = patiently(&conn, |conn| conn.execute_batch("COMMIT"))?;
            if committed.is_err() && !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            drop(turn);
            Ok(committed?)
        })
        .await;
        self.health.noted(&committed);
        committed
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        let Some(turn) = self.turn.take() else {
            return;
        };
        let conn = locked(&self.conn);
        if !conn.is_autocommit()
            && let Err(e) = conn.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %e, "rolling back a write transaction");
        }
        drop(conn);
        drop(turn);
    }
}

/// A row a write transaction read, its values copied out of SQLite.
pub(in crate::store) struct WrittenRow(Vec<Value>);

impl WrittenRow {
    fn value(&self, column: usize) -> StoreResult<&Value> {
        self.0
            .get(column)
            .ok_or_else(|| StoreError::Database(format!("no column {column}")))
    }
}

impl Columns for WrittenRow {
    fn text(&self, column: usize) -> StoreResult<String> {
        self.opt_text(column)?
            .ok_or_else(|| StoreError::Corrupt(format!("column {column} is NULL")))
    }

    fn opt_text(&self, column: usize) -> StoreResult<Option<String>> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s.clone())),
            other => Err(StoreError::Corrupt(format!(
                "column {column} is {:?}, not text",
                other.data_type()
            ))),
        }
    }

    fn int(&self, column: usize) -> StoreResult<i64> {
        self.opt_int(column)?
            .ok_or_else(|| StoreError::Corrupt(format!("column {column} is NULL")))
    }

    fn opt_int(&self, column: usize) -> StoreResult<Option<i64>> {
        match self.value(column)? {
            Value::Null => Ok(None),
            Value::Integer(i) => Ok(Some(*i)),
            other => Err(StoreError::Corrupt(format!(
                "column {column} is {:?}, not an integer",
                other.data_type()
            ))),
        }
    }
}

fn locked(conn: &Mutex<rusqlite::Connection>) -> MutexGuard<'_, rusqlite::Connection> {
    // A poisoned lock only means a holder panicked; `begin` rolls back what it left.
    conn.lock().unwrap_or_else(|p| p.into_inner())
}

/// Run `work` off the async threads with SQLite's full busy timeout: the statement
/// `work` runs there may wait for another process's write.
fn patiently<T>(
    conn: &rusqlite::Connection,
    work: impl FnOnce(&rusqlite::Connection) -> T,
) -> StoreResult<T> {
    conn.busy_timeout(OTHER_PROCESS_WAIT)?;
    let done = work(conn);
    conn.busy_timeout(TRANSIENT_WAIT)?;
    Ok(done)
}

fn is_busy(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> StoreResult<T> + Send + 'static,
) -> StoreResult<T> {
    super::blocking(work).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh file in WAL mode with one table, and the connection writes go through.
    fn fresh(name: &str) -> (std::path::PathBuf, Writes) {
        let dir = std::env::temp_dir().join(format!("writes-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("db.sqlite");
        let setup = rusqlite::Connection::open(&path).expect("create");
        setup
            .execute_batch(
                "PRAGMA journal_mode=WAL;
                 CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INTEGER);",
            )
            .expect("schema");
        let writes = Writes::open(&path, WriteGate::default(), Arc::default()).expect("open");
        (path, writes)
    }

    fn count(path: &std::path::Path) -> i64 {
        rusqlite::Connection::open(path)
            .expect("open")
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("count")
    }

    #[tokio::test]
    async fn arguments_are_bound_by_their_number_wherever_they_appear() {
        let (_path, writes) = fresh("numbers");
        let mut tx = writes.begin().await.expect("begin");
        tx.execute(
            "INSERT INTO t (n, name, id) VALUES ($3, $2, $1)",
            &[7_i64.into(), "seven".into(), Arg::Int(None)],
        )
        .await
        .expect("insert");
        let rows = tx
            .fetch(
                "SELECT name, n, $2 FROM t WHERE id = $1 AND id = $1",
                &[7_i64.into(), Arg::Bool(true)],
            )
            .await
            .expect("select");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].text(0).expect("name"), "seven");
        assert_eq!(rows[0].opt_int(1).expect("n"), None);
        assert_eq!(rows[0].int(2).expect("flag"), 1);
        assert!(rows[0].int(0).is_err(), "text is not read as a number");
        tx.commit().await.expect("commit");
    }

    #[tokio::test]
    async fn a_transaction_dropped_before_its_commit_leaves_nothing() {
        let (path, writes) = fresh("dropped");
        let mut tx = writes.begin().await.expect("begin");
        tx.execute("INSERT INTO t (id, name) VALUES (1, 'a')", &[])
            .await
            .expect("insert");
        drop(tx);
        assert_eq!(count(&path), 0);
        // The turn and the connection are free again.
        let mut tx = writes.begin().await.expect("begin again");
        let changed = tx
            .execute("INSERT INTO t (id, name) VALUES (2, 'b')", &[])
            .await
            .expect("insert");
        assert_eq!(changed, 1);
        tx.commit().await.expect("commit");
        assert_eq!(count(&path), 1);
        assert_eq!(
            writes
                .execute_alone("UPDATE t SET n = $1", &[5_i64.into()])
                .await
                .expect("alone"),
            1
        );
    }

    #[tokio::test]
    async fn a_key_taken_is_a_duplicate_and_the_rest_of_the_transaction_stays() {
        let (path, writes) = fresh("duplicate");
        let mut tx = writes.begin().await.expect("begin");
        tx.execute("INSERT INTO t (id, name) VALUES (1, 'a')", &[])
            .await
            .expect("insert");
        let again = tx
            .execute("INSERT INTO t (id, name) VALUES (1, 'b')", &[])
            .await;
        assert!(matches!(again, Err(StoreError::Duplicate)), "{again:?}");
        tx.commit().await.expect("commit");
        assert_eq!(count(&path), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_waits_off_the_async_threads_for_another_process_writing() {
        let (path, writes) = fresh("other-process");
        let other = rusqlite::Connection::open(&path).expect("open");
        other.execute_batch("BEGIN IMMEDIATE").expect("lock");
        let (held, release) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let _ = release.recv();
            other.execute_batch("COMMIT").expect("release");
        });
        let waiting = tokio::spawn({
            let writes = writes.clone();
            async move {
                let mut tx = writes.begin().await?;
                tx.execute("INSERT INTO t (id, name) VALUES (1, 'a')", &[])
                    .await?;
                tx.commit().await
            }
        });
        // The runtime still answers while the write waits.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiting.is_finished(), "the write waited for the lock");
        held.send(()).expect("release");
        waiting
            .await
            .expect("task")
            .expect("written once the lock was free");
        holder.join().expect("holder");
        assert_eq!(count(&path), 1);
    }
}
