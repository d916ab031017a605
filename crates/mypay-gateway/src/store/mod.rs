//! Storage: the interface the gateway keeps its records through ([`Storage`]), and its
//! two backends, chosen by the database URL ([`DatabaseUrl`]):
//!
//! * `sqlite`: one file, one process. The two hot paths (new orders, order lookups)
//!   run on dedicated connections; new orders are group-committed (one fsync a batch).
//! * `postgres`: one database, any number of nodes. New orders are batched into one
//!   transaction; background work is leased row by row (`FOR UPDATE SKIP LOCKED`), and
//!   nodes wake each other with `LISTEN`/`NOTIFY`.
//!
//! Each part of the interface is a file of its own (`merchants.rs`, `orders.rs`, …)
//! holding its rows and, where both databases run the same statements, those statements,
//! written once over the small backend trait of `sql.rs`. No SQL lives outside this
//! module, and nothing outside it names a driver.

mod admins;
mod back_office;
mod database_url;
mod installation;
mod invoices;
mod mail;
mod merchants;
mod notices;
mod operations;
mod orders;
mod postgres;
mod recurring;
mod reversals;
mod sql;
mod sqlite;
mod storage;
mod timers;
mod upstream;
mod wallets;

pub use admins::{AUDIT_GENESIS, AdminRole, AdminSession, AuditEntry, NewAudit, audit_hash};
pub use back_office::{CallbackRecord, OrderSearch, SCAN_WINDOW, SearchPage, StateChange};
pub use database_url::DatabaseUrl;
pub use installation::MerchantClock;
pub use invoices::{
    InvoiceAllowance, InvoiceFields, InvoiceFieldsFn, InvoiceRow, InvoiceTrack, Issued, NewInvoice,
};
pub use mail::{EmailRow, OutgoingMail};
pub use merchants::{
    AgingKey, Credential, CredentialOwner, DealerLink, DealerSummary, KEY_LIFE, KEY_OVERLAP_DAYS,
    KeyStep, KeyValidity, Merchant, MerchantSummary, never,
};
pub use notices::{
    AttemptRecord, NewNotice, NoticeAttempt, NoticeClaim, NoticeFilter, NoticeRow, Trigger,
};
pub use operations::{Backlog, Totals};
pub use orders::{Challenge, Created, NewOrderRow, OrderEvent, OrderRow, PaymentFacts, Transition};
pub use recurring::{
    ChargeTarget, NewSeries, SeriesCharge, SeriesChargeAsk, SeriesRow, SeriesWrite,
};
pub use reversals::{NewReversal, RefundEffects, ReversalKind, ReversalRow};
pub use storage::{RefundEffectsFn, RefundNoticeFn, Storage};
pub use timers::{NewTimer, TimerRow};
pub use upstream::{ReceivedCallback, UpstreamOperation};
pub use wallets::{StoredCard, WalletRow, WalletStatus};

use sql::Columns;
use tokio::sync::{mpsc, oneshot};

use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row changed under us (another request or node moved the order first).
    #[error("the order's state changed concurrently")]
    Conflict,
    #[error("not found")]
    NotFound,
    /// The database could not be reached or did not answer in time.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The database refused or failed a statement.
    #[error("database: {0}")]
    Database(String),
    /// A row with this key exists already.
    #[error("a record with this key exists already")]
    Duplicate,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// Both backends speak through sqlx; its errors become the interface's own here, so
/// nothing outside this module sees a driver's error type.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            e => StoreError::Database(e.to_string()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Told the size of every commit of new orders (for `/metrics`).
pub type CommitObserver = Arc<dyn Fn(usize) + Send + Sync>;

/// Settings of the storage layer.
#[derive(Clone)]
pub struct StoreOptions {
    /// The most new orders committed in one transaction.
    pub max_commit_batch: usize,
    /// PostgreSQL connections per node.
    pub max_connections: u32,
    /// How long a statement may wait for a connection before the database counts as
    /// unavailable.
    pub acquire_timeout: Duration,
    pub on_commit: Option<CommitObserver>,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            max_commit_batch: 512,
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            on_commit: None,
        }
    }
}

/// A claim on background work (a notice to deliver, a timer to run): who holds it and
/// until when, in real time. A node that dies holding one loses it when it ends, and
/// another node takes the work over.
#[derive(Debug, Clone)]
pub struct WorkLease {
    pub holder: Arc<str>,
    /// The real time of the claim.
    pub now: jiff::Timestamp,
    pub until: jiff::Timestamp,
}

impl WorkLease {
    pub fn new(holder: Arc<str>, now: jiff::Timestamp, length: Duration) -> WorkLease {
        let until = now
            .checked_add(jiff::SignedDuration::try_from(length).unwrap_or_default())
            .unwrap_or(jiff::Timestamp::MAX);
        WorkLease { holder, now, until }
    }
}

/// Issues this node's leases: one holder name per process, a fixed length.
#[derive(Debug, Clone)]
pub struct Leases {
    holder: Arc<str>,
    length: Duration,
}

impl Leases {
    /// A holder name unique to this process (its id and random bytes: process ids repeat
    /// across hosts and restarts).
    pub fn new(length: Duration) -> Leases {
        let mut nonce = [0u8; 6];
        // Without randomness the process id alone still tells live nodes apart.
        let _ = getrandom::getrandom(&mut nonce);
        Leases {
            holder: format!("node-{}-{}", std::process::id(), crate::hex::hex(&nonce)).into(),
            length,
        }
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// A lease from now (real time: leases measure how long a node has been silent,
    /// which the test clock's jumps have nothing to do with).
    pub fn issue(&self) -> WorkLease {
        WorkLease::new(self.holder.clone(), jiff::Timestamp::now(), self.length)
    }
}

/// The gateway's handle on its storage, cloned freely.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Storage>,
    /// Fired when another node says work is waiting (PostgreSQL's `NOTIFY`).
    wakeups: Arc<tokio::sync::Notify>,
}

impl std::ops::Deref for Store {
    type Target = dyn Storage;
    fn deref(&self) -> &(dyn Storage + 'static) {
        &*self.backend
    }
}

impl Store {
    /// Open (creating a SQLite file if needed) the database at `url` and run its
    /// migrations. Several nodes may open one PostgreSQL database at once.
    pub async fn open(url: &DatabaseUrl, options: &StoreOptions) -> StoreResult<Store> {
        let wakeups = Arc::new(tokio::sync::Notify::new());
        let backend: Arc<dyn Storage> = match url {
            DatabaseUrl::Sqlite(path) => Arc::new(sqlite::SqliteStore::open(path, options).await?),
            DatabaseUrl::Postgres(url) => {
                Arc::new(postgres::PgStore::open(url, options, wakeups.clone()).await?)
            }
        };
        Ok(Store { backend, wakeups })
    }

    /// Fired when another node wrote work (a notice, a timer) or moved the test clock.
    pub fn wakeups(&self) -> &Arc<tokio::sync::Notify> {
        &self.wakeups
    }

    /// Seed the document's sample merchant and sample dealer (sandbox only), once: the
    /// merchant is the dealer's store, as in the document's dealer samples.
    pub async fn seed_sample_merchant(&self, now: jiff::Timestamp) -> StoreResult<()> {
        use crate::ledger::merchant::{
            MerchantSettings, SAMPLE_AGENT_KEY, SAMPLE_AGENT_UID, SAMPLE_STORE_KEY,
            SAMPLE_STORE_UID,
        };
        if self
            .credentials(CredentialOwner::Agent, SAMPLE_AGENT_UID)
            .await?
            .is_empty()
        {
            match self
                .create_dealer(
                    SAMPLE_AGENT_UID,
                    "MYPAY sample dealer",
                    SAMPLE_AGENT_KEY,
                    now,
                )
                .await
            {
                // Another node seeded it at the same moment.
                Ok(()) | Err(StoreError::Duplicate) => {}
                Err(e) => return Err(e),
            }
        }
        if self.merchant(SAMPLE_STORE_UID).await?.is_some() {
            // Seeded before the sample dealer existed: it becomes the dealer's store.
            self.adopt_merchant(SAMPLE_AGENT_UID, SAMPLE_STORE_UID)
                .await?;
            return self.exempt_published_keys().await;
        }
        let mut settings = MerchantSettings::sandbox_defaults("MYPAY sample merchant");
        settings.invoice = crate::ledger::merchant::InvoiceSettings {
            seller_ban: Some(crate::ledger::merchant::SAMPLE_SELLER_BAN.to_owned()),
            qr_key: Some(crate::ledger::merchant::SAMPLE_INVOICE_QR_KEY.to_owned()),
            by_default: false,
        };
        match self
            .create_merchant(
                SAMPLE_STORE_UID,
                Some(SAMPLE_AGENT_UID),
                &settings,
                SAMPLE_STORE_KEY,
                now,
            )
            .await
        {
            // Another node seeded it at the same moment.
            Err(StoreError::Duplicate) if self.merchant(SAMPLE_STORE_UID).await?.is_some() => {}
            other => other?,
        }
        self.exempt_published_keys().await
    }

    /// The document's published keys never expire in the sandbox, whatever its clocks do
    /// (SPEC §3): every sample client keeps working on a sandbox that runs for years or
    /// is moved years ahead. A key an operator rotated away or revoked stays so.
    async fn exempt_published_keys(&self) -> StoreResult<()> {
        use crate::ledger::merchant::{
            SAMPLE_AGENT_KEY, SAMPLE_AGENT_UID, SAMPLE_STORE_KEY, SAMPLE_STORE_UID,
        };
        self.exempt_key(CredentialOwner::Store, SAMPLE_STORE_UID, SAMPLE_STORE_KEY)
            .await?;
        self.exempt_key(CredentialOwner::Agent, SAMPLE_AGENT_UID, SAMPLE_AGENT_KEY)
            .await
    }
}

/// A stored state code, read back.
pub(crate) fn prc(code: &str) -> StoreResult<mypay_protocol::Prc> {
    mypay_protocol::Prc::parse(code).ok_or_else(|| StoreError::Corrupt(format!("prc {code:?}")))
}

pub(crate) fn micros(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

/// A stored instant read back. Out of range only when stored as the latest or earliest
/// instant there is, which it then stays (never the epoch: a key or lease stored "until
/// the end of time" must not read back as long expired).
pub(crate) fn timestamp(us: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(us).unwrap_or(if us > 0 {
        jiff::Timestamp::MAX
    } else {
        jiff::Timestamp::MIN
    })
}

/// Hand `job` to one of a backend's own tasks or threads (`who`) and wait for its answer.
async fn ask<J, T>(
    to: &mpsc::Sender<J>,
    job: impl FnOnce(oneshot::Sender<T>) -> J,
    who: &str,
) -> StoreResult<T> {
    let (reply, answer) = oneshot::channel();
    to.send(job(reply))
        .await
        .map_err(|_| StoreError::Unavailable(format!("{who} has stopped")))?;
    answer
        .await
        .map_err(|_| StoreError::Unavailable(format!("{who} dropped a request")))
}
