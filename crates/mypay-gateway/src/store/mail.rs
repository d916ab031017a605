//! The mail outbox's delivery: taking a waiting mail to send, and recording what became of
//! it. Mails are queued by the parts that owe them (`notices`, `timers`, …).

use super::sql::{Arg, Backend, Exec};
use super::storage::Mail;
use super::{Columns, StoreResult, micros, timestamp};
use jiff::Timestamp;

/// A mail taken to send.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// A mail as the back office shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EmailRow {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub created_at: Timestamp,
    /// When the SMTP server took it; `None` while it waits (or with no SMTP server set,
    /// where the outbox is the sandbox's inbox).
    pub sent_at: Option<Timestamp>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub order_uid: Option<u64>,
}

const EMAIL_SELECT: &str = "SELECT id, to_addr, subject, body, created_at, sent_at, attempts, \
     last_error, order_uid FROM emails";

impl EmailRow {
    fn decode(r: &impl Columns) -> StoreResult<EmailRow> {
        Ok(EmailRow {
            id: r.int(0)?,
            to: r.text(1)?,
            subject: r.text(2)?,
            body: r.text(3)?,
            created_at: timestamp(r.int(4)?),
            sent_at: r.opt_int(5)?.map(timestamp),
            attempts: r.int(6)?,
            last_error: r.opt_text(7)?,
            order_uid: r.opt_int(8)?.map(|u| u as u64),
        })
    }
}

#[async_trait::async_trait]
impl<B: Backend> Mail for B {
    async fn take_mail(
        &self,
        now: Timestamp,
        hold_until: Timestamp,
    ) -> StoreResult<Option<OutgoingMail>> {
        // The outer condition is checked again on the row once it is locked: of two
        // nodes picking the same mail, the second finds it held and takes nothing.
        let row = self
            .pool()
            .optional(
                "UPDATE emails SET next_attempt_at = $2, attempts = attempts + 1
                 WHERE id = (SELECT id FROM emails WHERE sent_at IS NULL AND next_attempt_at <= $1
                             ORDER BY next_attempt_at, id LIMIT 1)
                   AND sent_at IS NULL AND next_attempt_at <= $1
                 RETURNING id, to_addr, subject, body, attempts",
                &[micros(now).into(), micros(hold_until).into()],
            )
            .await?;
        row.map(|r| {
            Ok(OutgoingMail {
                id: r.int(0)?,
                to: r.text(1)?,
                subject: r.text(2)?,
                body: r.text(3)?,
                attempts: r.int(4)?,
            })
        })
        .transpose()
    }

    async fn mail_sent(&self, id: i64, at: Timestamp) -> StoreResult<()> {
        self.execute(
            "UPDATE emails SET sent_at = $2, last_error = NULL WHERE id = $1",
            &[Arg::from(id), micros(at).into()],
        )
        .await?;
        Ok(())
    }

    async fn mail_failed(&self, id: i64, error: &str, retry_at: Timestamp) -> StoreResult<()> {
        self.execute(
            "UPDATE emails SET next_attempt_at = $2, last_error = $3 WHERE id = $1 AND sent_at IS NULL",
            &[Arg::from(id), micros(retry_at).into(), error.into()],
        )
        .await?;
        Ok(())
    }

    async fn emails(
        &self,
        before_id: Option<i64>,
        order_uid: Option<u64>,
        limit: i64,
    ) -> StoreResult<Vec<EmailRow>> {
        let rows = self
            .fetch(
                &format!(
                    "{EMAIL_SELECT} WHERE id < $1 AND ($2 < 0 OR order_uid = $2)
                     ORDER BY id DESC LIMIT $3"
                ),
                &[
                    before_id.unwrap_or(i64::MAX).into(),
                    order_uid.map_or(-1, |u| u as i64).into(),
                    limit.into(),
                ],
            )
            .await?;
        rows.iter().map(EmailRow::decode).collect()
    }

    async fn email(&self, id: i64) -> StoreResult<Option<EmailRow>> {
        let row = self
            .pool()
            .optional(&format!("{EMAIL_SELECT} WHERE id = $1"), &[id.into()])
            .await?;
        row.as_ref().map(EmailRow::decode).transpose()
    }

    async fn resend_email(&self, id: i64, at: Timestamp) -> StoreResult<Option<i64>> {
        let row = self
            .pool()
            .optional(
                "INSERT INTO emails (to_addr, subject, body, created_at, order_uid)
                 SELECT to_addr, subject, body, $2, order_uid FROM emails WHERE id = $1
                 RETURNING id",
                &[id.into(), micros(at).into()],
            )
            .await?;
        row.map(|r| r.int(0)).transpose()
    }

    async fn mails_waiting(&self) -> StoreResult<i64> {
        self.pool()
            .one("SELECT COUNT(*) FROM emails WHERE sent_at IS NULL", &[])
            .await?
            .int(0)
    }
}
