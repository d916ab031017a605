//! The storage interface: everything the gateway keeps, as one trait made of parts. Each
//! method is one transaction: a state change, the notices it owes and the timers it
//! starts are written together or not at all, and every guard that keeps money moving
//! once (an order's state, a refund's balance, a unique notice) is checked by the
//! database inside it.
//!
//! Most parts are written once for both databases (`impl<B: Backend> Part for B`, in a
//! file of the part's name); three are each backend's own: [`OrderPath`] (the two hot
//! paths), [`Work`] (claiming background work) and [`Changes`] (how a process learns that
//! merchants or keys changed).

use super::*;
use jiff::Timestamp;

/// Builds what a refund writes besides its record, once the record's id is known.
pub type RefundEffectsFn<'a> = Box<dyn FnOnce(&ReversalRow) -> RefundEffects + Send + 'a>;
/// Builds the notice a completed refund owes.
pub type RefundNoticeFn<'a> = Box<dyn FnOnce(&ReversalRow) -> Option<NewNotice> + Send + 'a>;

/// The whole interface: one backend implements every part. (Parts, so that each
/// backend module implements the part it holds; a `dyn Storage` answers them all.)
pub trait Storage:
    Operations
    + Installation
    + Merchants
    + Changes
    + OrderPath
    + Orders
    + Timers
    + Reversals
    + Notices
    + Work
    + Recurring
    + Wallets
    + Invoices
    + UpstreamRecords
    + Mail
    + Admins
    + Audit
    + BackOffice
{
}

impl<T> Storage for T where
    T: Operations
        + Installation
        + Merchants
        + Changes
        + OrderPath
        + Orders
        + Timers
        + Reversals
        + Notices
        + Work
        + Recurring
        + Wallets
        + Invoices
        + UpstreamRecords
        + Mail
        + Admins
        + Audit
        + BackOffice
{
}

#[async_trait::async_trait]
pub trait Operations: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and `/metrics`.
    fn backend(&self) -> &'static str;

    /// Whether the database answers and carries every migration this build knows.
    async fn ready(&self) -> StoreResult<()>;

    /// Write everything buffered by the database to its files (a checkpoint), so what
    /// is stored can be inspected on disk.
    async fn checkpoint(&self) -> StoreResult<()>;

    /// Work waiting at `now`.
    async fn backlog(&self, now: Timestamp) -> StoreResult<Backlog>;
    /// How much is stored.
    async fn totals(&self) -> StoreResult<Totals>;
}

#[async_trait::async_trait]
pub trait Installation: Send + Sync + 'static {
    /// The installation's signing secret, created by whichever node asks first.
    async fn installation_secret(&self) -> StoreResult<[u8; 32]>;
    /// The sandbox clock's stored (offset, high-water mark), both in microseconds.
    async fn clock_state(&self) -> StoreResult<Option<(i64, i64)>>;
    /// Move the stored clock forward by `by_us`, from at least `local_offset_us` (the
    /// caller's own clock may be ahead of what is stored); the new stored offset. Two
    /// nodes advancing at once both count.
    async fn advance_clock(&self, by_us: i64, local_offset_us: i64) -> StoreResult<i64>;
    /// Store the clock's state; a stored value is only ever raised.
    async fn save_clock_state(&self, offset_us: i64, now_us: i64) -> StoreResult<()>;
    /// The clocks merchants have of their own, as stored.
    async fn merchant_clocks(&self) -> StoreResult<Vec<MerchantClock>>;
    /// Give `store_uid` a clock of its own, at `offset_us`; [`StoreError::Duplicate`]
    /// when it has one.
    async fn add_merchant_clock(&self, store_uid: &str, offset_us: i64) -> StoreResult<()>;
    /// Move `store_uid`'s own clock forward by `by_us`, from at least `local_offset_us`,
    /// and raise its high-water mark to what it then shows (`base_us`, the time base, plus
    /// its offset): its new stored state, or `None` when it has no clock of its own.
    async fn advance_merchant_clock(
        &self,
        store_uid: &str,
        by_us: i64,
        local_offset_us: i64,
        base_us: i64,
    ) -> StoreResult<Option<MerchantClock>>;
}

#[async_trait::async_trait]
pub trait Merchants: Send + Sync + 'static {
    async fn merchant(&self, store_uid: &str) -> StoreResult<Option<Merchant>>;
    async fn create_merchant(
        &self,
        store_uid: &str,
        agent_uid: Option<&str>,
        settings: &crate::ledger::merchant::MerchantSettings,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<()>;
    async fn create_dealer(
        &self,
        agent_uid: &str,
        name: &str,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// Make `store_uid` a merchant of dealer `agent_uid`, if it has no dealer yet.
    async fn adopt_merchant(&self, agent_uid: &str, store_uid: &str) -> StoreResult<()>;
    async fn add_credential(
        &self,
        owner: CredentialOwner,
        owner_uid: &str,
        secret: &str,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// A new key for `store_uid`; the old ones keep working [`KEY_OVERLAP_DAYS`], or
    /// stop now with `revoke_old`.
    async fn rotate_key(
        &self,
        store_uid: &str,
        key: &str,
        now: Timestamp,
        revoke_old: bool,
    ) -> StoreResult<()>;
    /// Make a key never expire unless an operator ends it (the sandbox's published keys).
    async fn exempt_key(
        &self,
        owner: CredentialOwner,
        owner_uid: &str,
        secret: &str,
    ) -> StoreResult<()>;
    async fn merchant_summaries(&self, now: Timestamp) -> StoreResult<Vec<MerchantSummary>>;
    async fn save_settings(
        &self,
        store_uid: &str,
        settings: &crate::ledger::merchant::MerchantSettings,
    ) -> StoreResult<()>;
    /// Credentials of an owner, newest first.
    async fn credentials(
        &self,
        owner: CredentialOwner,
        owner_uid: &str,
    ) -> StoreResult<Vec<Credential>>;
    /// A client-mode verification code of `store_uid`, valid from `now` until revoked;
    /// its id.
    async fn add_client_code(
        &self,
        store_uid: &str,
        code: &str,
        now: Timestamp,
    ) -> StoreResult<i64>;
    /// End credential `id` of `owner_uid` at `at` (no later than it would end anyway);
    /// false when there is no such credential still valid then.
    async fn end_credential(
        &self,
        owner: CredentialOwner,
        owner_uid: &str,
        id: i64,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Move the end of credential `id` from `old_until` to `new_until`, its life begun
    /// again; false when it no longer ends at `old_until`.
    async fn extend_credential(
        &self,
        owner: CredentialOwner,
        owner_uid: &str,
        id: i64,
        old_until: Timestamp,
        new_until: Timestamp,
    ) -> StoreResult<bool>;
    /// Whose credential `id` is.
    async fn credential_owner(&self, id: i64) -> StoreResult<Option<(CredentialOwner, String)>>;
    async fn dealers(&self) -> StoreResult<Vec<crate::store::DealerSummary>>;
    /// Attach `store_uid` to dealer `agent_uid` (`/api/agent` then acts for it), or
    /// detach it.
    async fn link_dealer(
        &self,
        agent_uid: &str,
        store_uid: &str,
        attach: bool,
    ) -> StoreResult<crate::store::DealerLink>;
    /// Each merchant's newest key with an end and a step of its life still to go.
    async fn aging_keys(&self) -> StoreResult<Vec<crate::store::AgingKey>>;
    /// Take one step of a key's life; false when another process took it first.
    async fn age_key(&self, step: &crate::store::KeyStep<'_>) -> StoreResult<bool>;
    /// The generation of merchants and credentials as stored: the database bumps it with
    /// every change of them, in the change's transaction.
    async fn directory_generation(&self) -> StoreResult<u64>;
}

/// How this process learns that merchants or keys changed, whichever process changed
/// them: each backend's own.
pub trait Changes: Send + Sync + 'static {
    /// The directory's generation, known now without waiting (SQLite asks its file
    /// whether anything was committed since; PostgreSQL follows the database's signals
    /// while it listens), or `None` when it must be read
    /// ([`Merchants::directory_generation`]).
    fn known_directory_generation(&self) -> Option<u64>;
}

/// The two hot paths, each backend's own: new orders (group-committed) and lookups of
/// an order by its `uid`.
#[async_trait::async_trait]
pub trait OrderPath: Send + Sync + 'static {
    /// Store a new order durably and say which transaction it is (SPEC §4's `order_id`
    /// rules decided by the database, whichever node asks).
    async fn create_order(&self, order: NewOrderRow) -> StoreResult<Created>;
    async fn order(&self, uid: u64) -> StoreResult<Option<OrderRow>>;
}

/// Claiming background work and recording what was done with it, each backend's own:
/// SQLite's one process marks what it works on in memory, PostgreSQL's nodes lease rows.
#[async_trait::async_trait]
pub trait Work: Send + Sync + 'static {
    /// Take up to `limit` timers due at `now`, oldest first, for `lease.holder` until
    /// the lease ends (another node's timers are skipped while their lease holds).
    async fn claim_timers(
        &self,
        now: crate::clock::Reading,
        limit: i64,
        lease: &WorkLease,
    ) -> StoreResult<Vec<TimerRow>>;
    /// Take due notices to deliver, merchants in turn, for `lease.holder`.
    async fn claim_notices(
        &self,
        claim: NoticeClaim,
        lease: &WorkLease,
    ) -> StoreResult<Vec<NoticeRow>>;
    /// Record attempts in one transaction, each with its consequence for its notice.
    async fn record_attempts(
        &self,
        batch: Vec<AttemptRecord>,
        lease: &WorkLease,
    ) -> StoreResult<()>;
    /// Give back every lease `lease.holder` holds (a node shutting down).
    async fn release_leases(&self, lease: &WorkLease) -> StoreResult<()>;
}

#[async_trait::async_trait]
pub trait Orders: Send + Sync + 'static {
    /// The transactions of a merchant's `order_id`, oldest first.
    async fn order_uids(&self, store_uid: &str, order_id: &str) -> StoreResult<Vec<u64>>;
    /// An order's history, oldest first, starting with its creation.
    async fn events(&self, uid: u64) -> StoreResult<Vec<OrderEvent>>;
    /// Apply one state change atomically; `Conflict` when the order is no longer in
    /// `from`.
    async fn apply(&self, t: &Transition) -> StoreResult<()>;
    /// Apply several state changes in one transaction (one commit), each alone: a change
    /// whose order moved on (`Conflict`) or whose key is taken (`Duplicate`) is left out
    /// and answered so, the others applied; any other failure applies none.
    async fn apply_each(&self, changes: &[Transition]) -> StoreResult<Vec<StoreResult<()>>>;

    /// Claim order `uid`, still in state `prc`, for the payment attempt `attempt`: true
    /// when this attempt may ask the acquirer. `real_now` is the real time.
    async fn claim_charge(
        &self,
        uid: u64,
        prc: mypay_protocol::Prc,
        attempt: &str,
        real_now: Timestamp,
    ) -> StoreResult<bool>;
    /// Give back the claim of `attempt` once its answer is recorded.
    async fn release_charge(&self, uid: u64, attempt: &str) -> StoreResult<()>;

    async fn put_challenge(&self, c: &Challenge, now: Timestamp) -> StoreResult<()>;
    async fn challenge(&self, uid: u64) -> StoreResult<Option<Challenge>>;
    /// Count a wrong 3D password; returns the failures so far.
    async fn fail_challenge(&self, uid: u64) -> StoreResult<i64>;
}

#[async_trait::async_trait]
pub trait Timers: Send + Sync + 'static {
    /// Whether any timer is due at `now`, being run or not.
    async fn timers_due(&self, now: crate::clock::Reading) -> StoreResult<bool>;
    /// Close a timer whose work no longer applies (the order moved on by itself).
    async fn close_timer(&self, id: i64, now: Timestamp) -> StoreResult<()>;
}

#[async_trait::async_trait]
pub trait Reversals: Send + Sync + 'static {
    /// Record a refund against order `uid` if it fits the paid balance (`Conflict`
    /// otherwise), with the notice and timer `effects` builds.
    async fn refund(
        &self,
        uid: u64,
        refund: &NewReversal,
        at: Timestamp,
        effects: RefundEffectsFn<'_>,
    ) -> StoreResult<ReversalRow>;
    /// Cancel every refund of `uid` still queued for the batch.
    async fn cancel_queued_refunds(&self, uid: u64, at: Timestamp)
    -> StoreResult<Vec<ReversalRow>>;
    /// Complete queued refund `id` at the nightly batch, closing `timer_id`.
    async fn complete_refund(
        &self,
        id: u64,
        timer_id: i64,
        expected_refund_date: &str,
        at: Timestamp,
        notice: RefundNoticeFn<'_>,
    ) -> StoreResult<Option<ReversalRow>>;
    async fn reversal(&self, id: u64) -> StoreResult<Option<ReversalRow>>;
    async fn reversals(&self, uid: u64) -> StoreResult<Vec<ReversalRow>>;
}

#[async_trait::async_trait]
pub trait Notices: Send + Sync + 'static {
    async fn notice(&self, id: i64) -> StoreResult<Option<NoticeRow>>;
    /// Whether any notice's scheduled attempt is due at `now`, being delivered or not.
    async fn notices_due(&self, now: crate::clock::Reading) -> StoreResult<bool>;
    async fn notices(&self, filter: &NoticeFilter) -> StoreResult<Vec<NoticeRow>>;
    async fn notice_attempts(&self, notice_id: i64) -> StoreResult<Vec<NoticeAttempt>>;
    /// One extra attempt of a notice, now.
    async fn resend_notice(&self, id: i64, now: Timestamp) -> StoreResult<bool>;
    async fn queue_email(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        at: Timestamp,
        order_uid: Option<u64>,
    ) -> StoreResult<()>;
    async fn email_count(&self) -> StoreResult<i64>;
}

/// Recurring series (定期定額). A series is started by the state change that binds its
/// card (`Transition::series`); its charges are recorded here before the acquirer is
/// asked, and their outcomes are ordinary state changes of their transactions.
#[async_trait::async_trait]
pub trait Recurring: Send + Sync + 'static {
    async fn series(&self, uid: u64) -> StoreResult<Option<SeriesRow>>;
    /// The series with `group_id`: of `store_uid` (one at most), or of every merchant.
    async fn series_by_group(
        &self,
        store_uid: Option<&str>,
        group_id: &str,
    ) -> StoreResult<Vec<SeriesRow>>;
    /// Stop series `uid` from `stop_date` (`YYYYMMDD`) on; false when a stop set before
    /// has already taken effect by `today`, which nothing changes.
    async fn stop_series(
        &self,
        uid: u64,
        stop_date: &str,
        reason: &str,
        today: &str,
    ) -> StoreResult<bool>;
    /// Sandbox: make the next charge of series `uid` decline (or not).
    async fn decline_next_charge(&self, uid: u64, decline: bool) -> StoreResult<bool>;
    /// Record charges before the upstream is asked, in one transaction (one commit), each
    /// alone (see [`Orders::apply_each`]); a charge recorded before is answered as it was
    /// (same key, same transaction).
    async fn begin_series_charges(
        &self,
        asks: &[SeriesChargeAsk],
    ) -> StoreResult<Vec<StoreResult<SeriesCharge>>>;
}

/// E-wallet bind requests (`api/ewalletbind` and its bind page).
#[async_trait::async_trait]
pub trait Wallets: Send + Sync + 'static {
    async fn create_wallet_bind(
        &self,
        store_uid: &str,
        user_id: &str,
        pfn: &str,
        request: &str,
        now: Timestamp,
    ) -> StoreResult<u64>;
    async fn wallet(&self, id: u64) -> StoreResult<Option<WalletRow>>;
    /// The bound wallet of `store_uid` with this virtual card number.
    async fn wallet_by_pan(
        &self,
        store_uid: &str,
        virtual_pan: &str,
    ) -> StoreResult<Option<WalletRow>>;
    /// The bind waits for the card's 3-D Secure `password`; false once it has ended.
    async fn challenge_wallet(
        &self,
        id: u64,
        card: &StoredCard,
        password: &str,
    ) -> StoreResult<bool>;
    /// Count a wrong 3-D Secure password; the failures so far.
    async fn fail_wallet_otp(&self, id: u64) -> StoreResult<i64>;
    /// Quick checkout: remember the card `user_id` of `store_uid` paid with with `tool`.
    async fn remember_card(
        &self,
        store_uid: &str,
        user_id: &str,
        tool: &str,
        card: &StoredCard,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// The card `user_id` of `store_uid` last paid with, and its tool.
    async fn remembered_card(
        &self,
        store_uid: &str,
        user_id: &str,
    ) -> StoreResult<Option<(String, StoredCard)>>;
    /// End the bind: bound with `card` under `virtual_pan`, with the e-wallet notice it
    /// owes (in one transaction), or failed (`None`). False when it had ended already.
    async fn finish_wallet_bind(
        &self,
        id: u64,
        bound: Option<(&StoredCard, &str)>,
        notice: Option<&NewNotice>,
        at: Timestamp,
    ) -> StoreResult<bool>;
}

#[async_trait::async_trait]
pub trait Invoices: Send + Sync + 'static {
    /// Register a word-track range; [`StoreError::Duplicate`] when it overlaps one of the
    /// same track and period.
    async fn add_invoice_track(&self, track: &InvoiceTrack) -> StoreResult<()>;
    async fn invoice_tracks(&self, store_uid: &str) -> StoreResult<Vec<InvoiceTrack>>;
    /// Issue an invoice in one transaction: the next number of the merchant's ranges for
    /// the period (lowest track and range first; never reused, never skipped: a number
    /// is taken only with the invoice that carries it) and the invoice. A transaction's
    /// failed invoice (state 3 or 5) is issued again in place; an issued one is answered
    /// as it is.
    async fn issue_invoice(&self, new: NewInvoice) -> StoreResult<Issued>;
    /// Store an invoice that did not issue (state 3, the sandbox's value-added centre
    /// refusing; 1, waiting), unless the transaction has one.
    async fn hold_invoice(
        &self,
        uid: u64,
        store_uid: &str,
        state: i64,
        total: i64,
        fields: &InvoiceFields,
        at: Timestamp,
    ) -> StoreResult<()>;
    async fn invoice(&self, uid: u64) -> StoreResult<Option<InvoiceRow>>;
    /// Void an issued invoice (state 2 → 4); `false` when it is not issued (or voided).
    async fn void_invoice(&self, uid: u64, at: Timestamp) -> StoreResult<bool>;
    /// Record an allowance of `amount` made by refund `refund_uid` (state → 6); `false`
    /// when the invoice is not issued or the allowances would pass its total.
    async fn allow_invoice(
        &self,
        uid: u64,
        allowance: &InvoiceAllowance,
        at: Timestamp,
    ) -> StoreResult<bool>;
}

/// Production's records of its upstreams (protocol v1).
#[async_trait::async_trait]
pub trait UpstreamRecords: Send + Sync + 'static {
    /// Record an operation before it is sent (written once per reference).
    async fn record_upstream_operation(&self, op: &UpstreamOperation) -> StoreResult<()>;
    async fn upstream_operation(&self, reference: &str) -> StoreResult<Option<UpstreamOperation>>;
    /// The reference of transaction `uid`'s payment (its latest charge, authorisation,
    /// collection, wallet payment or application), which follow-ups act on.
    async fn payment_reference(&self, uid: u64) -> StoreResult<Option<String>>;
    /// Record a callback that passed its signature: false when its `webhook-id` was
    /// seen before (a replay: nothing else is done with it).
    async fn record_callback(&self, c: &ReceivedCallback<'_>, at: Timestamp) -> StoreResult<bool>;
    /// Mark a recorded callback as the one that moved its transaction.
    async fn callback_applied(&self, upstream: &str, webhook_id: &str) -> StoreResult<()>;
    /// The callbacks about `uid`, oldest first: (kind, body, applied).
    async fn callbacks_of(&self, uid: u64) -> StoreResult<Vec<(String, String, bool)>>;
    /// Move open timer `id` to fall due at `due_at` (its work is asked again then).
    async fn postpone_timer(&self, id: i64, due_at: Timestamp) -> StoreResult<()>;
    /// Close the resolver's timer `timer_id` and set its next ask, together.
    async fn ask_again(
        &self,
        timer_id: i64,
        next: &NewTimer,
        uid: u64,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Close the resolver's last timer and leave `reference` to the operator.
    async fn give_up(&self, timer_id: i64, reference: &str, at: Timestamp) -> StoreResult<()>;
    /// The operations left to the operator, oldest first.
    async fn unresolved(&self) -> StoreResult<Vec<UpstreamOperation>>;
}

/// Delivering the mail outbox (`--smtp`).
#[async_trait::async_trait]
pub trait Mail: Send + Sync + 'static {
    /// Take the oldest mail due at `now` (real time), holding it until `hold_until`.
    async fn take_mail(
        &self,
        now: Timestamp,
        hold_until: Timestamp,
    ) -> StoreResult<Option<OutgoingMail>>;
    async fn mail_sent(&self, id: i64, at: Timestamp) -> StoreResult<()>;
    /// Record a failed attempt; the mail is tried again at `retry_at`.
    async fn mail_failed(&self, id: i64, error: &str, retry_at: Timestamp) -> StoreResult<()>;
    /// Mails not yet sent.
    async fn mails_waiting(&self) -> StoreResult<i64>;
    /// Mails newest first, below `before_id` when given, about order `order_uid` when
    /// given.
    async fn emails(
        &self,
        before_id: Option<i64>,
        order_uid: Option<u64>,
        limit: i64,
    ) -> StoreResult<Vec<crate::store::EmailRow>>;
    async fn email(&self, id: i64) -> StoreResult<Option<crate::store::EmailRow>>;
    /// Queue mail `id` again, as a new mail (the old one keeps its history); its id.
    async fn resend_email(&self, id: i64, at: Timestamp) -> StoreResult<Option<i64>>;
}

/// The back office's users and bearer tokens.
#[async_trait::async_trait]
pub trait Admins: Send + Sync + 'static {
    /// False when a user of that name exists.
    async fn add_admin_user(
        &self,
        name: &str,
        role: AdminRole,
        password_hash: &str,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// A user's role and password hash.
    async fn admin_user(&self, name: &str) -> StoreResult<Option<(AdminRole, String)>>;
    /// False when a token of that label exists (revoked ones too).
    async fn add_admin_token(
        &self,
        label: &str,
        role: AdminRole,
        token_hash: &str,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// The label and role of the live token with this hash.
    async fn admin_token(&self, token_hash: &str) -> StoreResult<Option<(String, AdminRole)>>;
    /// False when no live token has that label.
    async fn revoke_admin_token(&self, label: &str, at: Timestamp) -> StoreResult<bool>;
    async fn add_admin_session(
        &self,
        token_hash: &str,
        user: &str,
        csrf: &str,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// A session not ended, with its user's role now.
    async fn admin_session(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<crate::store::AdminSession>>;
    async fn touch_admin_session(&self, token_hash: &str, at: Timestamp) -> StoreResult<()>;
    async fn end_admin_session(&self, token_hash: &str, at: Timestamp) -> StoreResult<()>;
    async fn record_sign_in_failure(
        &self,
        user: &str,
        address: &str,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Failed sign-ins of `user` from `address` since `since`.
    async fn sign_in_failures(
        &self,
        user: &str,
        address: &str,
        since: Timestamp,
    ) -> StoreResult<i64>;
}

/// The admin audit log: append-only, hash-chained.
#[async_trait::async_trait]
pub trait Audit: Send + Sync + 'static {
    /// Append an entry at the chain's end; its id.
    async fn append_audit(&self, entry: &NewAudit<'_>, at: Timestamp) -> StoreResult<i64>;
    /// Entries newest first, below `before_id` when given.
    async fn audit(&self, before_id: Option<i64>, limit: i64) -> StoreResult<Vec<AuditEntry>>;
    /// Entries oldest first, after `after_id` (0: from the start).
    async fn audit_from(&self, after_id: i64, limit: i64) -> StoreResult<Vec<AuditEntry>>;
}

/// What the back office reads: the order search and one order's trail.
#[async_trait::async_trait]
pub trait BackOffice: Send + Sync + 'static {
    /// Orders matching every filter given, newest first, keyset-paged.
    async fn search_orders(
        &self,
        q: &crate::store::OrderSearch,
    ) -> StoreResult<crate::store::SearchPage>;
    /// An order's state changes with their raw times, oldest first.
    async fn state_changes(&self, uid: u64) -> StoreResult<Vec<crate::store::StateChange>>;
    async fn upstream_operations_of(&self, uid: u64) -> StoreResult<Vec<UpstreamOperation>>;
    async fn callbacks_at(&self, uid: u64) -> StoreResult<Vec<crate::store::CallbackRecord>>;
    /// Audit entries about `subject`, oldest first.
    async fn audit_about(&self, subject: &str) -> StoreResult<Vec<AuditEntry>>;
}
