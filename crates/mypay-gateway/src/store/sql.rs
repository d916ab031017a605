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

/// A database the shared statements run on.
#[async_trait::async_trait]
pub(super) trait Backend: Send + Sync + 'static {
    type Row: Columns + Send + Sync + 'static;
    type Write: Write<Row = Self::Row>;

    /// `sqlite` or `postgres`, for logs and `/metrics`.
    const NAME: &'static str;
    /// The statement that writes everything buffered to the database's files.
    const CHECKPOINT: &'static str;

    /// The migrations this build carries for the backend.
    fn migrator(&self) -> &'static sqlx::migrate::Migrator;

    async fn fetch(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<Self::Row>>;

    async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64>;

    /// Begin a write transaction (SQLite takes the write lock at once: see its backend).
    async fn begin(&self) -> StoreResult<Self::Write>;

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

/// A backend's pool as an [`Exec`].
pub(super) struct Pool<'a, B: ?Sized>(&'a B);

#[async_trait::async_trait]
impl<B: Backend> Exec for Pool<'_, B> {
    type Row = B::Row;

    async fn fetch(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<B::Row>> {
        self.0.fetch(sql, args).await
    }

    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        self.0.execute(sql, args).await
    }
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
