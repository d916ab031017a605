//! The mail outbox's delivery: taking a waiting mail to send, and recording what became of
//! it. Mails are queued by the parts that owe them (`notices`, `timers`, …).

use super::sql::{Arg, Backend, Exec};
use super::storage::Mail;
use super::{Columns, StoreResult, micros};
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

    async fn mails_waiting(&self) -> StoreResult<i64> {
        self.pool()
            .one("SELECT COUNT(*) FROM emails WHERE sent_at IS NULL", &[])
            .await?
            .int(0)
    }
}
