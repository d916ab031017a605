//! Merchants as their operator manages them (the `merchant` commands, later the admin
//! API): created under a random `store_uid` with a random key, their settings changed,
//! their keys rotated, their e-invoice word tracks registered; and sandbox merchants
//! with a test clock of their own (`POST /sandbox/merchants`). The rules live here; the
//! command line only parses and prints.

use super::Gateway;
use crate::clock::Clocks;
use crate::config::{Mode, Settings};
use crate::ledger::merchant::{MerchantSettings, Refused, SettingsChange};
use crate::ledger::notify_url::NotifyPolicy;
use crate::store::{InvoiceTrack, KeyValidity, MerchantSummary, Store, StoreError, StoreResult};

/// A new 32-character key of letters and digits, as MYPAY hands them out.
pub fn new_key() -> StoreResult<String> {
    random_text(
        32,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    )
}

fn random_text(len: usize, alphabet: &[u8]) -> StoreResult<String> {
    let mut out = String::with_capacity(len);
    // Rejection sampling: every character equally likely.
    let limit = 256 - 256 % alphabet.len();
    while out.len() < len {
        let mut bytes = [0u8; 64];
        getrandom::getrandom(&mut bytes)
            .map_err(|e| StoreError::Corrupt(format!("no random source: {e}")))?;
        for b in bytes {
            if usize::from(b) < limit && out.len() < len {
                out.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
            }
        }
    }
    Ok(out)
}

/// A new random 12-digit id (a `store_uid` or an `agent_uid`).
pub fn new_uid() -> StoreResult<String> {
    let digits = random_text(11, b"0123456789")?;
    // Never a leading zero: some merchants' systems store it as a number.
    let first = digits.bytes().next().map_or(1, |d| 1 + (d - b'0') % 9);
    Ok(format!("{first}{digits}"))
}

/// Create a merchant under a new random 12-digit `store_uid`, its key valid from `now`.
pub async fn create(
    store: &Store,
    settings: &MerchantSettings,
    key: &str,
    now: jiff::Timestamp,
) -> StoreResult<String> {
    for _ in 0..20 {
        let store_uid = new_uid()?;
        match store
            .create_merchant(&store_uid, None, settings, key, now)
            .await
        {
            Ok(()) => return Ok(store_uid),
            Err(StoreError::Duplicate) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict)
}

/// A merchant created in the sandbox with a clock of its own.
#[derive(Debug, Clone)]
pub struct SandboxMerchant {
    pub store_uid: String,
    pub key: String,
}

/// Create a sandbox merchant with `settings` and a test clock of its own, which starts
/// where the shared clock stands and from then on moves only when it is moved by name.
/// Its key is valid from that instant.
pub async fn create_with_own_clock(
    gateway: &Gateway,
    settings: &MerchantSettings,
) -> StoreResult<SandboxMerchant> {
    let shared = gateway.clocks.shared();
    let key = new_key()?;
    let store_uid = create(&gateway.store, settings, &key, shared.now()).await?;
    // Stored before it is answered: every node, and a restart, finds the clock. (A
    // crash between the two leaves a merchant nobody has the key of, on the shared clock.)
    let offset = shared.offset_micros();
    gateway.store.add_merchant_clock(&store_uid, offset).await?;
    gateway.clocks.follow(&store_uid, offset, i64::MIN);
    Ok(SandboxMerchant { store_uid, key })
}

/// Why an operator's command was refused.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("{0}")]
    Refused(#[from] Refused),
    #[error("no merchant {0}")]
    NoMerchant(String),
    /// Something else named that does not exist: what, and how it was named.
    #[error("{0}")]
    Missing(String),
    /// Refused as things stand (a key too near its end to extend, a merchant another
    /// dealer acts for).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// A merchant's new key, shown this once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Credentials {
    pub store_uid: String,
    pub key: String,
}

/// A merchant as its operator sees it: its settings and its keys' validity (never the
/// keys).
#[derive(Debug, Clone, serde::Serialize)]
pub struct MerchantView {
    pub store_uid: String,
    pub settings: MerchantSettings,
    pub keys: Vec<KeyValidity>,
}

/// The operator's hold on the merchants of one installation: its store, its clocks (a
/// key is valid from its merchant's own clock), its mode and where notices may go.
pub struct Operator {
    pub store: Store,
    pub clocks: Clocks,
    pub(crate) mode: Mode,
    pub(crate) policy: NotifyPolicy,
    /// Who acts, as the audit log names them: `os:USER` on the command line,
    /// `token:LABEL` or `user:NAME` in the back office.
    pub(crate) actor: String,
}

impl Operator {
    /// Open the installation's store as `settings` name it, and follow its stored clocks.
    /// In the sandbox, the sample merchant is seeded first (as the gateway would).
    pub async fn open(settings: &Settings) -> StoreResult<Operator> {
        let store = Store::open(&settings.database, &settings.store_options()).await?;
        let clocks = Clocks::new(match settings.mode {
            Mode::Sandbox => crate::clock::Clock::test(),
            Mode::Production => crate::clock::Clock::system(),
        });
        super::follow_stored_clocks(&store, &clocks).await?;
        if settings.seed_sample_merchant && settings.mode == Mode::Sandbox {
            store.seed_sample_merchant(clocks.shared().now()).await?;
        }
        Ok(Operator {
            store,
            clocks,
            mode: settings.mode,
            policy: settings.notify_policy(),
            actor: super::admins::os_actor(),
        })
    }

    /// The operator's hold of a running gateway's merchants (the admin API's).
    pub fn of(gateway: &super::Gateway) -> Operator {
        Operator {
            store: gateway.store.clone(),
            clocks: gateway.clocks.clone(),
            mode: gateway.settings.mode,
            policy: gateway.settings.notify_policy(),
            actor: "gateway".into(),
        }
    }

    /// The same hold, its writes recorded as `actor`'s.
    pub fn acting_as(mut self, actor: impl Into<String>) -> Operator {
        self.actor = actor.into();
        self
    }

    /// Record a write in the audit log. The write is done: a failure to record it is
    /// logged loudly, not turned into a refusal of what already happened.
    pub(crate) async fn record(
        &self,
        action: &str,
        subject: &str,
        before: serde_json::Value,
        after: serde_json::Value,
    ) {
        let at = jiff::Timestamp::now();
        if let Err(e) = super::admins::audit(
            &self.store,
            &self.actor,
            action,
            subject,
            &before,
            &after,
            at,
        )
        .await
        {
            tracing::error!(error = %e, action, subject, "an admin write was not recorded in the audit log");
        }
    }

    /// Upstream payments whose outcome stayed unknown: the operator's to settle.
    pub async fn unresolved(&self) -> StoreResult<Vec<crate::store::UpstreamOperation>> {
        self.store.unresolved().await
    }

    /// A new merchant: in the sandbox with every tool, in production with none (the
    /// operator enables each).
    pub async fn create_merchant(&self, name: &str) -> Result<Credentials, OperatorError> {
        let mut settings = match self.mode {
            Mode::Sandbox => MerchantSettings::sandbox_defaults(""),
            Mode::Production => MerchantSettings::without_tools(""),
        };
        SettingsChange {
            name: Some(name.to_owned()),
            ..SettingsChange::default()
        }
        .apply(&mut settings, &self.policy)?;
        let key = new_key()?;
        let store_uid = create(&self.store, &settings, &key, self.clocks.shared().now()).await?;
        self.record(
            "merchant.create",
            &store_uid,
            serde_json::Value::Null,
            serde_json::json!({"store_uid": store_uid, "name": settings.name}),
        )
        .await;
        Ok(Credentials { store_uid, key })
    }

    /// A new key for `store_uid`; the old ones keep working for the overlap, or stop at
    /// once with `revoke_old`.
    pub async fn rotate_key(
        &self,
        store_uid: &str,
        revoke_old: bool,
    ) -> Result<Credentials, OperatorError> {
        self.existing(store_uid).await?;
        let key = new_key()?;
        let before = serde_json::json!({"keys": self.keys(store_uid).await?});
        self.store
            .rotate_key(store_uid, &key, self.clocks.now_for(store_uid), revoke_old)
            .await?;
        let after =
            serde_json::json!({"keys": self.keys(store_uid).await?, "revoke_old": revoke_old});
        self.record("key.rotate", store_uid, before, after).await;
        Ok(Credentials {
            store_uid: store_uid.to_owned(),
            key,
        })
    }

    pub async fn merchants(&self) -> Result<Vec<MerchantSummary>, OperatorError> {
        let mut all = self
            .store
            .merchant_summaries(self.clocks.shared().now())
            .await?;
        // Each merchant's keys are valid on its own clock.
        for m in &mut all {
            if self.clocks.own_clock(&m.store_uid).is_some() {
                m.keys = self.keys(&m.store_uid).await?;
            }
        }
        Ok(all)
    }

    pub async fn merchant(&self, store_uid: &str) -> Result<MerchantView, OperatorError> {
        let settings = self.existing(store_uid).await?;
        Ok(MerchantView {
            store_uid: store_uid.to_owned(),
            settings,
            keys: self.keys(store_uid).await?,
        })
    }

    /// Change `store_uid`'s settings: every value checked before anything is written.
    /// Each setting changed, with its new value.
    pub async fn change(
        &self,
        store_uid: &str,
        change: &SettingsChange,
    ) -> Result<Vec<(&'static str, String)>, OperatorError> {
        let mut settings = self.existing(store_uid).await?;
        let before = settings.clone();
        let changed = change.apply(&mut settings, &self.policy)?;
        if !changed.is_empty() {
            self.store.save_settings(store_uid, &settings).await?;
            self.record(
                "merchant.change",
                store_uid,
                redacted(&before),
                redacted(&settings),
            )
            .await;
        }
        Ok(changed)
    }

    /// Register a word-track range for a two-month period (`yyyMM`, its even month).
    pub async fn add_invoice_track(
        &self,
        store_uid: &str,
        period: &str,
        track: &str,
        from: &str,
        to: &str,
    ) -> Result<(), OperatorError> {
        self.existing(store_uid).await?;
        let range = invoice_track(store_uid, period, track, from, to)?;
        match self.store.add_invoice_track(&range).await {
            Err(StoreError::Duplicate) => Err(Refused {
                field: "track",
                problem: format!(
                    "{track} {from}–{to} overlaps a range of {track} already registered for {period}"
                ),
            }
            .into()),
            Err(e) => Err(e.into()),
            Ok(()) => {
                let after = serde_json::json!({"period": period, "track": track, "from": from, "to": to});
                self.record("invoice_track.add", store_uid, serde_json::Value::Null, after)
                    .await;
                Ok(())
            }
        }
    }

    pub async fn invoice_tracks(
        &self,
        store_uid: &str,
    ) -> Result<Vec<InvoiceTrack>, OperatorError> {
        self.existing(store_uid).await?;
        Ok(self.store.invoice_tracks(store_uid).await?)
    }

    pub(crate) async fn existing(
        &self,
        store_uid: &str,
    ) -> Result<MerchantSettings, OperatorError> {
        self.store
            .merchant(store_uid)
            .await?
            .map(|m| m.settings)
            .ok_or_else(|| OperatorError::NoMerchant(store_uid.to_owned()))
    }

    /// `store_uid`'s keys valid now on its clock, newest first.
    pub(crate) async fn keys(&self, store_uid: &str) -> Result<Vec<KeyValidity>, OperatorError> {
        let now = self.clocks.now_for(store_uid);
        let owner = crate::store::CredentialOwner::Store;
        let credentials = self.store.credentials(owner, store_uid).await?;
        Ok(KeyValidity::of_valid(credentials, now))
    }
}

/// Settings as the audit log keeps them: the e-invoice QR key's presence, never its value.
pub fn redacted(settings: &MerchantSettings) -> serde_json::Value {
    let mut settings = settings.clone();
    if settings.invoice.qr_key.is_some() {
        settings.invoice.qr_key = Some("(set)".into());
    }
    serde_json::to_value(&settings).unwrap_or(serde_json::Value::Null)
}

/// A word-track range, checked field by field.
fn invoice_track(
    store_uid: &str,
    period: &str,
    track: &str,
    from: &str,
    to: &str,
) -> Result<InvoiceTrack, Refused> {
    use crate::ledger::invoice::{parse_period, track_valid};
    let refused = |field, problem: String| Refused { field, problem };
    let period = parse_period(period).ok_or_else(|| {
        refused(
            "period",
            format!("{period:?} is not yyyMM with an even month (e.g. 11502)"),
        )
    })?;
    if !track_valid(track) {
        return Err(refused(
            "track",
            format!("{track:?} is not two capital letters"),
        ));
    }
    let number = |field, v: &str| -> Result<i64, Refused> {
        v.parse()
            .ok()
            .filter(|_| v.len() == 8 && v.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| refused(field, format!("{v:?} is not 8 digits")))
    };
    let (first, last) = (number("from", from)?, number("to", to)?);
    if first > last {
        return Err(refused("to", format!("{to} is before --from {from}")));
    }
    Ok(InvoiceTrack {
        store_uid: store_uid.to_owned(),
        period,
        track: track.to_owned(),
        first_number: first,
        last_number: last,
        next_number: first,
    })
}
