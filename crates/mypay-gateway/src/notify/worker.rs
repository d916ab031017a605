//! Delivering notices: claim due ones, POST each to the merchant's URL of the moment,
//! record every attempt, schedule the next or finish.
//!
//! Deliveries run concurrently, bounded in all and per merchant, and merchants are
//! claimed in turn, so one merchant whose endpoint is slow (or whose backlog is long)
//! delays no other merchant's notices. One order's notices still go one at a time, in
//! order. Attempts are recorded in batches by one recorder (one transaction, one fsync
//! for many attempts), and a notice is not claimed again before its attempt is recorded,
//! so a restart repeats no attempt that was recorded and loses none that was due.
//!
//! Success is a reply whose body is `8888` (white space ignored) with a 2xx status. A reply
//! slower than the timeout (5 s) is a failure logged as HTTP 429, as the document's
//! revision 1.0.6 says. After the last scheduled attempt fails, an alert goes to the
//! merchant's technical contact through the e-mail outbox.

use crate::clock::Clocks;
use crate::directory::Directory;
use crate::ledger::merchant::MerchantSettings;
use crate::ledger::notify_url::NotifyPolicy;
use crate::store::{AttemptRecord, Leases, NoticeClaim, NoticeRow, Store, StoreError, Trigger};
use mypay_protocol::notice::{NoticeKind, is_acknowledgement};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};

/// Attempts recorded in one transaction at most.
const RECORD_BATCH: usize = 512;
/// The most of a reply that is read: an acknowledgement is four characters.
const REPLY_LIMIT: usize = 4096;
/// How long a clock advance waits for the notices that fell due before it answers.
const DRAIN_LIMIT: Duration = Duration::from_secs(600);
/// How long notices whose attempts could not be recorded stay taken: they are then due
/// again, and without a pause a storage that keeps failing would have them posted to the
/// merchant over and over.
const UNRECORDED_PAUSE: Duration = Duration::from_secs(30);

/// How many deliveries may be in flight.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub total: usize,
    pub per_merchant: usize,
}

/// What the delivery worker needs: its own dependencies, not the application's state.
pub struct Deliveries {
    store: Store,
    leases: Leases,
    directory: Directory,
    clocks: Clocks,
    http: reqwest::Client,
    policy: NotifyPolicy,
    timeout: Duration,
    limits: Limits,
    /// Wakes the dispatcher: a notice was written, or an attempt recorded.
    wake: Arc<Notify>,
    slots: Mutex<Slots>,
    /// Notify URLs as the policy judged them.
    urls: Mutex<HashMap<String, Result<url::Url, String>>>,
    /// One claim at a time: a claim reads the notices' rows, and a row read while its
    /// attempt was being recorded must still count as taken (see [`Deliveries::dispatch`]).
    dispatching: tokio::sync::Mutex<()>,
    /// Signalled after every recorded batch.
    recorded: Notify,
    attempts_recorded: AtomicU64,
    done: mpsc::UnboundedSender<AttemptRecord>,
    done_rx: Mutex<Option<mpsc::UnboundedReceiver<AttemptRecord>>>,
}

/// What this process is delivering. A notice is leased from its claim until its attempt
/// is recorded. A merchant has up to `per_merchant` requests in flight, and as many
/// claimed notices queued behind them, so a finished request is followed at once by the
/// next, without waiting for a claim; finished attempts wait for their batch's fsync
/// without holding a slot.
#[derive(Default)]
struct Slots {
    in_flight: usize,
    queued: usize,
    by_merchant: HashMap<String, MerchantSlots>,
    leased: HashSet<i64>,
    orders: HashSet<u64>,
}

#[derive(Default)]
struct MerchantSlots {
    in_flight: usize,
    queue: std::collections::VecDeque<NoticeRow>,
}

impl Slots {
    /// Notices the merchant `m` may still claim (requests in flight plus queued).
    fn room(&self, m: &str, per_merchant: usize) -> usize {
        let used = self
            .by_merchant
            .get(m)
            .map_or(0, |s| s.in_flight + s.queue.len());
        (per_merchant * 2).saturating_sub(used)
    }

    /// Take a claimed notice: returned when it may start now, else queued.
    fn take(&mut self, n: NoticeRow, per_merchant: usize) -> Option<NoticeRow> {
        self.leased.insert(n.id);
        self.orders.insert(n.uid);
        let m = self.by_merchant.entry(n.store_uid.clone()).or_default();
        if m.in_flight < per_merchant {
            m.in_flight += 1;
            self.in_flight += 1;
            Some(n)
        } else {
            m.queue.push_back(n);
            self.queued += 1;
            None
        }
    }

    /// A request of `n`'s merchant is done: its next queued notice, which starts in the
    /// freed slot, and whether the queue ran low (time for a claim).
    fn answered(&mut self, n: &NoticeRow, per_merchant: usize) -> (Option<NoticeRow>, bool) {
        let Some(m) = self.by_merchant.get_mut(&n.store_uid) else {
            return (None, true);
        };
        let next = m.queue.pop_front();
        if next.is_some() {
            self.queued = self.queued.saturating_sub(1);
        } else {
            m.in_flight = m.in_flight.saturating_sub(1);
            self.in_flight = self.in_flight.saturating_sub(1);
        }
        let left = m.queue.len();
        let in_flight = m.in_flight;
        if in_flight == 0 && left == 0 {
            self.by_merchant.remove(&n.store_uid);
        }
        // Half the room free (see `dispatch`): time for a claim.
        let low = left == per_merchant / 2 || (left == 0 && in_flight <= per_merchant / 2);
        (next, low)
    }

    /// The attempt is recorded: the notice and its order are free again.
    fn recorded(&mut self, id: i64, uid: u64) {
        self.leased.remove(&id);
        self.orders.remove(&uid);
    }
}

pub struct DeliverySetup {
    pub store: Store,
    pub directory: Directory,
    pub clocks: Clocks,
    pub http: reqwest::Client,
    pub policy: NotifyPolicy,
    pub timeout: Duration,
    pub limits: Limits,
    pub wake: Arc<Notify>,
    pub leases: Leases,
}

impl Deliveries {
    pub fn new(setup: DeliverySetup) -> Arc<Deliveries> {
        let (done, done_rx) = mpsc::unbounded_channel();
        Arc::new(Deliveries {
            leases: setup.leases,
            store: setup.store,
            directory: setup.directory,
            clocks: setup.clocks,
            http: setup.http,
            policy: setup.policy,
            timeout: setup.timeout,
            limits: Limits {
                total: setup.limits.total.max(1),
                per_merchant: setup.limits.per_merchant.max(1),
            },
            wake: setup.wake,
            slots: Mutex::default(),
            urls: Mutex::default(),
            dispatching: tokio::sync::Mutex::new(()),
            recorded: Notify::new(),
            attempts_recorded: AtomicU64::new(0),
            done,
            done_rx: Mutex::new(Some(done_rx)),
        })
    }

    /// Deliver until the task is dropped: the recorder, and the dispatcher woken by new
    /// notices, recorded attempts, or every `poll`.
    pub async fn run(self: Arc<Self>, poll: Duration) {
        let receiver = self.done_rx.lock().ok().and_then(|mut r| r.take());
        // The recorder stops with the worker (it holds the worker, so it would not end
        // by itself).
        let _recorder = receiver.map(|rx| AbortOnDrop(tokio::spawn(self.clone().record_loop(rx))));
        loop {
            if let Err(e) = self.dispatch().await {
                tracing::error!(error = %e, "notification dispatcher");
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                // Another node wrote due work (or moved the clock).
                _ = self.store.wakeups().notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Claim and start as many due notices as there is room for.
    ///
    /// The claim skips what was leased when it began: a notice whose attempt is recorded
    /// while the claim reads may be read as still pending, and must not be taken again.
    /// Claims run one at a time, so nothing else is taken between the two.
    async fn dispatch(self: &Arc<Self>) -> Result<usize, StoreError> {
        let _one_at_a_time = self.dispatching.lock().await;
        let mut started = 0;
        loop {
            let per_merchant = self.limits.per_merchant;
            let (room, merchant_room, leased, orders) = {
                let slots = self.lock_slots();
                // Attempts waiting for their record count too, so a stalled recorder
                // stops new deliveries instead of piling them up.
                let busy = slots.in_flight + slots.queued + slots.leased.len() / 4;
                // A merchant with work under way claims only once half its room is
                // free: claims come in batches, not one by one as requests finish.
                let merchant_room: HashMap<String, usize> = slots
                    .by_merchant
                    .keys()
                    .map(|m| {
                        let room = slots.room(m, per_merchant);
                        (m.clone(), if room < per_merchant { 0 } else { room })
                    })
                    .collect();
                (
                    (self.limits.total * 2).saturating_sub(busy),
                    merchant_room,
                    slots.leased.clone(),
                    slots.orders.clone(),
                )
            };
            if room == 0 {
                return Ok(started);
            }
            let claim = NoticeClaim {
                now: self.clocks.shared().reading(),
                limit: room,
                merchant_room,
                default_room: per_merchant * 2,
                leased,
                busy_orders: orders,
            };
            let claimed = self
                .store
                .claim_notices(claim, &self.leases.issue())
                .await?;
            let count = claimed.len();
            let starting: Vec<NoticeRow> = {
                let mut slots = self.lock_slots();
                claimed
                    .into_iter()
                    .filter_map(|n| slots.take(n, per_merchant))
                    .collect()
            };
            for notice in starting {
                tokio::spawn(self.clone().deliver_from(notice));
            }
            started += count;
            // Less than there was room for: nothing more is due now.
            if count < room {
                return Ok(started);
            }
        }
    }

    /// Deliver `notice`, then the queued notices of its merchant as they come, in this
    /// one slot.
    async fn deliver_from(self: Arc<Self>, mut notice: NoticeRow) {
        loop {
            let record = self.attempt(notice, Trigger::Scheduled).await;
            let (next, low) = self
                .lock_slots()
                .answered(&record.notice, self.limits.per_merchant);
            if low {
                self.wake.notify_one();
            }
            // The recorder lives as long as the worker; without it the notice is due
            // again after a restart.
            let _ = self.done.send(record);
            match next {
                Some(n) => notice = n,
                None => return,
            }
        }
    }

    fn lock_slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        // A panic while holding the lock cannot leave the counts inconsistent in a way
        // that matters more than stopping deliveries would.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record finished attempts in batches, then give their slots back.
    async fn record_loop(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<AttemptRecord>) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < RECORD_BATCH {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            let taken: Vec<(i64, u64)> =
                batch.iter().map(|r| (r.notice.id, r.notice.uid)).collect();
            let failure = match self
                .store
                .record_attempts(batch, &self.leases.issue())
                .await
            {
                Ok(()) => None,
                Err(e) => Some(e.to_string()),
            };
            match failure {
                None => {
                    self.attempts_recorded
                        .fetch_add(taken.len() as u64, Ordering::AcqRel);
                    self.release(&taken);
                }
                Some(error) => {
                    // Not recorded: the notices are due again, after a pause.
                    tracing::error!(error, attempts = taken.len(), "recording notice attempts");
                    let me = self.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(UNRECORDED_PAUSE).await;
                        me.release(&taken);
                    });
                }
            }
        }
    }

    /// The attempts of these notices (id, order) are recorded, or given up: the notices
    /// and their orders may be claimed again.
    fn release(&self, taken: &[(i64, u64)]) {
        {
            let mut slots = self.lock_slots();
            for (id, uid) in taken {
                slots.recorded(*id, *uid);
            }
        }
        self.recorded.notify_waiters();
        self.wake.notify_one();
    }

    /// Attempts this process has recorded since it started.
    pub fn attempts_recorded(&self) -> u64 {
        self.attempts_recorded.load(Ordering::Acquire)
    }

    /// Make every attempt that is due on the clock now, and wait until each is recorded
    /// (including those another worker or node is making): what a clock advance does
    /// before it answers. Returns the attempts recorded by this process meanwhile.
    pub async fn drain(self: &Arc<Self>) -> Result<u64, StoreError> {
        let before = self.attempts_recorded.load(Ordering::Acquire);
        let give_up = Instant::now() + DRAIN_LIMIT;
        loop {
            let progress = self.recorded.notified();
            tokio::pin!(progress);
            progress.as_mut().enable();
            self.dispatch().await?;
            let due = self
                .store
                .notices_due(self.clocks.shared().reading())
                .await?;
            if !due || Instant::now() >= give_up {
                if due {
                    tracing::warn!("clock advance answered with notices still due");
                }
                return Ok(self.attempts_recorded.load(Ordering::Acquire) - before);
            }
            tokio::select! {
                _ = progress => {}
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    }

    /// One extra attempt of notice `id`, now, to the merchant's current URL; recorded
    /// before this answers. `None` when there is no such notice; else whether it was
    /// acknowledged.
    pub async fn resend(self: &Arc<Self>, id: i64) -> Result<Option<bool>, StoreError> {
        let Some(notice) = self.store.notice(id).await? else {
            return Ok(None);
        };
        let record = self.attempt(notice, Trigger::Resend).await;
        let acknowledged = record.acknowledged;
        self.store
            .record_attempts(vec![record], &self.leases.issue())
            .await?;
        self.attempts_recorded.fetch_add(1, Ordering::AcqRel);
        self.recorded.notify_waiters();
        Ok(Some(acknowledged))
    }

    /// POST a test notice of `kind` (`completed`, `non_real_time`, `confirmation`,
    /// `refund` or `ewallet`) to the merchant's URL for it, once, recording nothing: what
    /// an operator checks a merchant's endpoint with. `None` when the merchant is unknown.
    pub async fn test_notice(
        &self,
        store_uid: &str,
        kind: &str,
    ) -> Result<Option<TestAttempt>, StoreError> {
        let Some(merchant) = self.directory.merchant(store_uid).await? else {
            return Ok(None);
        };
        let url = current_url(&merchant.settings, kind).map(str::to_owned);
        let prc = if kind == "non_real_time" {
            "260"
        } else {
            "250"
        };
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("uid", "0")
            .append_pair("key", "test")
            .append_pair("prc", prc)
            .append_pair(
                "finishtime",
                &crate::clock::taipei::datetime14(self.clocks.now_for(store_uid)),
            )
            .append_pair("cardno", "")
            .append_pair("acode", "")
            .append_pair("order_id", "TEST-NOTICE")
            .append_pair("user_id", "")
            .append_pair("cost", "0")
            .append_pair("currency", "TWD")
            .append_pair("actual_cost", "0")
            .append_pair("pfn", "")
            .append_pair(
                "retmsg",
                "測試通知 (a test notice from the gateway's operator)",
            )
            .append_pair("echo_0", "test")
            .finish();
        let started = Instant::now();
        let (http_status, reply, acknowledged) = match &url {
            None => (
                None,
                "not sent: the merchant has no URL for this kind of notice".to_owned(),
                false,
            ),
            Some(url) => match self.checked_url(url) {
                Err(e) => (None, format!("not sent: {e}"), false),
                Ok(parsed) => self.post(parsed, body).await,
            },
        };
        Ok(Some(TestAttempt {
            kind: kind.to_owned(),
            url,
            http_status,
            reply,
            acknowledged,
            elapsed_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        }))
    }

    /// POST `notice` once and say what happened (not yet recorded).
    async fn attempt(&self, mut notice: NoticeRow, trigger: Trigger) -> AttemptRecord {
        let merchant = match self.directory.merchant(&notice.store_uid).await {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, notice = notice.id, "loading the merchant of a notice");
                None
            }
        };
        let url = merchant
            .as_deref()
            .and_then(|m| current_url(&m.settings, &notice.kind))
            .map(str::to_owned);
        let started = Instant::now();
        let (http_status, reply, acknowledged) = match &url {
            None => (
                None,
                "not sent: the merchant has no URL for this kind of notice".to_owned(),
                false,
            ),
            Some(url) => match self.checked_url(url) {
                Err(e) => (None, format!("not sent: {e}"), false),
                // The body goes to the request as it is: the record does not need it.
                Ok(parsed) => self.post(parsed, std::mem::take(&mut notice.body)).await,
            },
        };
        let elapsed_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        // On the clock of the notice's merchant: its schedule goes on from there.
        let at = self.clocks.now_for(&notice.store_uid);
        let url = url.unwrap_or_default();
        let mut record = AttemptRecord {
            notice,
            trigger,
            at,
            url,
            http_status,
            reply,
            elapsed_ms,
            acknowledged,
            alert: None,
        };
        if record.exhausts_schedule() {
            let contact = merchant
                .as_deref()
                .and_then(|m| m.settings.contact_email.clone())
                .unwrap_or_else(|| "technical-contact@unknown".to_owned());
            let n = &record.notice;
            record.alert = Some((
                contact,
                "交易回傳通知失敗 (notification delivery failed)".to_owned(),
                format!(
                    "MYPAY LINK could not deliver the notice for transaction {} (prc {}) to {} after {} attempts. Last reply: {}",
                    n.uid,
                    n.prc,
                    record.url,
                    n.attempts + 1,
                    record.reply
                ),
            ));
        }
        tracing::info!(
            notice = record.notice.id,
            uid = record.notice.uid,
            trigger = ?record.trigger,
            acknowledged = record.acknowledged,
            elapsed_ms,
            "notice attempt"
        );
        record
    }

    /// `url` parsed and checked against the policy, remembered: merchants' URLs change
    /// rarely, and parsing one (IDNA included) was a visible share of an attempt.
    fn checked_url(&self, url: &str) -> Result<url::Url, String> {
        let mut cache = self.urls.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(checked) = cache.get(url) {
            return checked.clone();
        }
        let checked = self.policy.check(url);
        // Bounded: URLs are the merchants' settings, few; clear rather than grow.
        if cache.len() >= 10_000 {
            cache.clear();
        }
        cache.insert(url.to_owned(), checked.clone());
        checked
    }

    async fn post(&self, url: url::Url, body: String) -> (Option<i64>, String, bool) {
        let timed_out = || {
            (
                Some(429),
                format!("no reply within {:?}", self.timeout),
                false,
            )
        };
        let sent = self
            .http
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await;
        let mut response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return timed_out(),
            Err(e) => return (None, format!("request failed: {}", error_chain(&e)), false),
        };
        let code = response.status().as_u16();
        let mut reply = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    reply.extend_from_slice(&chunk);
                    if reply.len() > REPLY_LIMIT {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) if e.is_timeout() => return timed_out(),
                Err(e) => {
                    return (
                        Some(i64::from(code)),
                        format!("reading the reply failed: {e}"),
                        false,
                    );
                }
            }
        }
        let acknowledged =
            (200..300).contains(&code) && reply.len() <= REPLY_LIMIT && is_acknowledgement(&reply);
        let text: String = String::from_utf8_lossy(&reply).chars().take(2000).collect();
        (Some(i64::from(code)), text, acknowledged)
    }
}

/// What a test notice's one attempt came to.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestAttempt {
    pub kind: String,
    pub url: Option<String>,
    pub http_status: Option<i64>,
    pub reply: String,
    /// The reply was `8888`.
    pub acknowledged: bool,
    pub elapsed_ms: i64,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The error and its causes, for the attempt log (reqwest's own text names only the top).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The merchant's URL, now, for a notice of `kind` (as stored in the outbox).
fn current_url<'a>(settings: &'a MerchantSettings, kind: &str) -> Option<&'a str> {
    if kind == super::EWALLET_KIND {
        return settings.notify.for_ewallet();
    }
    if kind == super::REFUND_KIND {
        return settings.notify.for_refunds();
    }
    settings.notify.for_kind(NoticeKind::parse(kind)?)
}
