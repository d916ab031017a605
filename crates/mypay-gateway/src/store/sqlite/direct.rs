//! Dedicated SQLite connections for the hot paths (new orders, order lookups).
//!
//! sqlx runs every SQLite connection on a worker thread of its own and sends each
//! statement, and each row of its answer, across threads. Under load those hand-offs,
//! not SQLite, were most of the cost of an order, and they stretched the single writer's
//! cycle until it, not the CPU, capped throughput. The writer and the readers therefore
//! own a plain connection on a thread of their own and run whole batches on it without
//! leaving the thread; everything else stays on sqlx.

use crate::store::{Columns, StoreError};
use std::path::Path;
use std::time::Duration;

/// Open `path` (already created and migrated by [`super::Store::open`]) with the same
/// durability settings as the sqlx pool: WAL, `synchronous=FULL`, foreign keys.
pub(super) fn open(path: &Path, read_only: bool) -> Result<rusqlite::Connection, StoreError> {
    use rusqlite::OpenFlags;
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = rusqlite::Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Every statement of the hot paths stays prepared (a handful per connection).
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, column: usize) -> Result<String, StoreError> {
        Ok(self.get(column)?)
    }
    fn opt_text(&self, column: usize) -> Result<Option<String>, StoreError> {
        Ok(self.get(column)?)
    }
    fn int(&self, column: usize) -> Result<i64, StoreError> {
        Ok(self.get(column)?)
    }
    fn opt_int(&self, column: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.get(column)?)
    }
}
