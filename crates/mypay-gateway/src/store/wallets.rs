//! E-wallet bind requests (`api/ewalletbind` and its bind page), and the cards quick
//! checkout remembers per consumer.

use super::notices::{self, NewNotice};
use super::sql::{Backend, Exec, Signal, Write};
use super::storage::Wallets;
use super::{Columns, StoreError, StoreResult, micros, timestamp};
use jiff::Timestamp;

/// A bind request of the e-wallet (`api/ewalletbind`), as stored.
#[derive(Debug, Clone)]
pub struct WalletRow {
    pub id: u64,
    pub store_uid: String,
    pub user_id: String,
    pub pfn: String,
    pub request: String,
    pub status: WalletStatus,
    pub card: Option<StoredCard>,
    pub pending_password: Option<String>,
    pub otp_failures: i64,
    pub virtual_pan: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalletStatus {
    Open,
    /// A 3-D Secure password is awaited.
    Challenged,
    Bound,
    Failed,
}

impl WalletStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WalletStatus::Open => "open",
            WalletStatus::Challenged => "challenged",
            WalletStatus::Bound => "bound",
            WalletStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<WalletStatus> {
        [
            WalletStatus::Open,
            WalletStatus::Challenged,
            WalletStatus::Bound,
            WalletStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A card as the acquirer keeps it: its token and what may be shown of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCard {
    pub token: String,
    pub cardno: String,
    pub card_type: i64,
    pub issuing_bank: String,
    pub issuing_bank_uid: String,
}

impl WalletRow {
    const COLUMNS: &'static str = "id, store_uid, user_id, pfn, request, status, \
        card_token, cardno, card_type, issuing_bank, issuing_bank_uid, pending_password, \
        otp_failures, virtual_pan, created_at";

    fn from_row(r: &impl Columns) -> StoreResult<WalletRow> {
        let status = r.text(5)?;
        let card = match (r.opt_text(6)?, r.opt_text(7)?) {
            (Some(token), Some(cardno)) => Some(StoredCard {
                token,
                cardno,
                card_type: r.opt_int(8)?.unwrap_or(0),
                issuing_bank: r.opt_text(9)?.unwrap_or_default(),
                issuing_bank_uid: r.opt_text(10)?.unwrap_or_default(),
            }),
            _ => None,
        };
        Ok(WalletRow {
            id: r.int(0)? as u64,
            store_uid: r.text(1)?,
            user_id: r.text(2)?,
            pfn: r.text(3)?,
            request: r.text(4)?,
            status: WalletStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("wallet status {status:?}")))?,
            card,
            pending_password: r.opt_text(11)?,
            otp_failures: r.int(12)?,
            virtual_pan: r.opt_text(13)?,
            created_at: timestamp(r.int(14)?),
        })
    }
}

/// The card columns of a statement (`card_token` … `issuing_bank_uid`) from `$1`.
fn card_args(card: &StoredCard) -> [super::sql::Arg<'_>; 5] {
    [
        (&card.token).into(),
        (&card.cardno).into(),
        card.card_type.into(),
        (&card.issuing_bank).into(),
        (&card.issuing_bank_uid).into(),
    ]
}

#[async_trait::async_trait]
impl<B: Backend> Wallets for B {
    async fn create_wallet_bind(
        &self,
        store_uid: &str,
        user_id: &str,
        pfn: &str,
        request: &str,
        now: Timestamp,
    ) -> StoreResult<u64> {
        let row = self
            .pool()
            .one(
                "INSERT INTO wallets (store_uid, user_id, pfn, request, status, created_at)
                 VALUES ($1, $2, $3, $4, 'open', $5) RETURNING id",
                &[
                    store_uid.into(),
                    user_id.into(),
                    pfn.into(),
                    request.into(),
                    micros(now).into(),
                ],
            )
            .await?;
        Ok(row.int(0)? as u64)
    }

    async fn wallet(&self, id: u64) -> StoreResult<Option<WalletRow>> {
        let sql = format!("SELECT {} FROM wallets WHERE id = $1", WalletRow::COLUMNS);
        let row = self.pool().optional(&sql, &[id.into()]).await?;
        row.as_ref().map(WalletRow::from_row).transpose()
    }

    async fn wallet_by_pan(
        &self,
        store_uid: &str,
        virtual_pan: &str,
    ) -> StoreResult<Option<WalletRow>> {
        let sql = format!(
            "SELECT {} FROM wallets WHERE virtual_pan = $1 AND store_uid = $2",
            WalletRow::COLUMNS
        );
        let row = self
            .pool()
            .optional(&sql, &[virtual_pan.into(), store_uid.into()])
            .await?;
        row.as_ref().map(WalletRow::from_row).transpose()
    }

    /// An open bind request waits for its card's 3-D Secure password. False when the
    /// request is no longer open.
    async fn challenge_wallet(
        &self,
        id: u64,
        card: &StoredCard,
        password: &str,
    ) -> StoreResult<bool> {
        let [a, b, c, d, e] = card_args(card);
        let challenged = self
            .execute(
                "UPDATE wallets SET status = 'challenged', card_token = $1, cardno = $2,
                     card_type = $3, issuing_bank = $4, issuing_bank_uid = $5,
                     pending_password = $6, otp_failures = 0
                 WHERE id = $7 AND status IN ('open', 'challenged')",
                &[a, b, c, d, e, password.into(), id.into()],
            )
            .await?;
        Ok(challenged > 0)
    }

    /// Count a wrong 3-D Secure password of a challenged bind; the failures so far.
    async fn fail_wallet_otp(&self, id: u64) -> StoreResult<i64> {
        let row = self
            .pool()
            .optional(
                "UPDATE wallets SET otp_failures = otp_failures + 1
                 WHERE id = $1 AND status = 'challenged' RETURNING otp_failures",
                &[id.into()],
            )
            .await?;
        row.map_or(Ok(i64::MAX), |r| r.int(0))
    }

    /// Remember the card `user_id` of `store_uid` paid with (quick checkout).
    async fn remember_card(
        &self,
        store_uid: &str,
        user_id: &str,
        tool: &str,
        card: &StoredCard,
        at: Timestamp,
    ) -> StoreResult<()> {
        let [a, b, c, d, e] = card_args(card);
        self.execute(
            "INSERT INTO quick_cards (card_token, cardno, card_type, issuing_bank,
                 issuing_bank_uid, store_uid, user_id, tool, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (store_uid, user_id) DO UPDATE SET tool = excluded.tool,
                 card_token = excluded.card_token, cardno = excluded.cardno,
                 card_type = excluded.card_type, issuing_bank = excluded.issuing_bank,
                 issuing_bank_uid = excluded.issuing_bank_uid, updated_at = excluded.updated_at",
            &[
                a,
                b,
                c,
                d,
                e,
                store_uid.into(),
                user_id.into(),
                tool.into(),
                micros(at).into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// The card `user_id` of `store_uid` last paid with, and its tool.
    async fn remembered_card(
        &self,
        store_uid: &str,
        user_id: &str,
    ) -> StoreResult<Option<(String, StoredCard)>> {
        let row = self
            .pool()
            .optional(
                "SELECT tool, card_token, cardno, card_type, issuing_bank, issuing_bank_uid
                 FROM quick_cards WHERE store_uid = $1 AND user_id = $2",
                &[store_uid.into(), user_id.into()],
            )
            .await?;
        row.map(|r| {
            Ok((
                r.text(0)?,
                StoredCard {
                    token: r.text(1)?,
                    cardno: r.text(2)?,
                    card_type: r.int(3)?,
                    issuing_bank: r.text(4)?,
                    issuing_bank_uid: r.text(5)?,
                },
            ))
        })
        .transpose()
    }

    /// End the bind: bound with `card` under `virtual_pan` with its notice, or failed.
    /// False when it had ended already (nothing is written).
    async fn finish_wallet_bind(
        &self,
        id: u64,
        bound: Option<(&StoredCard, &str)>,
        notice: Option<&NewNotice>,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = match bound {
            Some((card, virtual_pan)) => {
                let [a, b, c, d, e] = card_args(card);
                tx.execute(
                    "UPDATE wallets SET status = 'bound', card_token = $1, cardno = $2,
                         card_type = $3, issuing_bank = $4, issuing_bank_uid = $5,
                         pending_password = NULL, virtual_pan = $6, bound_at = $7
                     WHERE id = $8 AND status IN ('open', 'challenged')",
                    &[
                        a,
                        b,
                        c,
                        d,
                        e,
                        virtual_pan.into(),
                        micros(at).into(),
                        id.into(),
                    ],
                )
                .await?
            }
            None => {
                tx.execute(
                    "UPDATE wallets SET status = 'failed', pending_password = NULL,
                         card_token = NULL
                     WHERE id = $1 AND status IN ('open', 'challenged')",
                    &[id.into()],
                )
                .await?
            }
        };
        if done == 0 {
            return Ok(false);
        }
        if let Some(notice) = notice {
            notices::insert(&mut tx, notice, at).await?;
            tx.signal(Signal::Work).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
