//! What production keeps of its upstreams: each operation's reference (so a callback or
//! a status answer finds its transaction), the callbacks received (so a replay is
//! refused), and the operations the resolver gave up on.

use super::sql::{Arg, Backend, Exec, Signal, Write};
use super::storage::UpstreamRecords;
use super::{Columns, NewTimer, StoreResult, micros};
use jiff::Timestamp;

/// An operation sent to an upstream.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UpstreamOperation {
    pub reference: String,
    pub uid: u64,
    /// `charge`, `verify`, `token`, …
    pub kind: String,
    pub upstream: String,
    pub created_at: Timestamp,
    /// When the resolver stopped asking (left for the operator).
    pub unresolved_at: Option<Timestamp>,
}

/// A callback that passed its signature.
#[derive(Debug, Clone)]
pub struct ReceivedCallback<'a> {
    pub upstream: &'a str,
    pub webhook_id: &'a str,
    pub reference: &'a str,
    pub uid: Option<u64>,
    pub kind: &'a str,
    pub body: &'a str,
}

fn operation<R: Columns>(r: &R) -> StoreResult<UpstreamOperation> {
    Ok(UpstreamOperation {
        reference: r.text(0)?,
        uid: u64::try_from(r.int(1)?).unwrap_or(0),
        kind: r.text(2)?,
        upstream: r.text(3)?,
        created_at: super::timestamp(r.int(4)?),
        unresolved_at: r.opt_int(5)?.map(super::timestamp),
    })
}

const OPERATION: &str =
    "SELECT reference, uid, kind, upstream, created_at, unresolved_at FROM upstream_operations";

#[async_trait::async_trait]
impl<B: Backend> UpstreamRecords for B {
    async fn record_upstream_operation(&self, op: &UpstreamOperation) -> StoreResult<()> {
        self.execute(
            "INSERT INTO upstream_operations (reference, uid, kind, upstream, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (reference) DO NOTHING",
            &[
                (&op.reference).into(),
                op.uid.into(),
                (&op.kind).into(),
                (&op.upstream).into(),
                micros(op.created_at).into(),
            ],
        )
        .await?;
        Ok(())
    }

    async fn upstream_operation(&self, reference: &str) -> StoreResult<Option<UpstreamOperation>> {
        self.pool()
            .optional(
                &format!("{OPERATION} WHERE reference = $1"),
                &[reference.into()],
            )
            .await?
            .map(|r| operation(&r))
            .transpose()
    }

    async fn payment_reference(&self, uid: u64) -> StoreResult<Option<String>> {
        self.pool()
            .optional(
                "SELECT reference FROM upstream_operations WHERE uid = $1
                 AND kind IN ('charge', 'authorize', 'collection', 'wallet', 'application')
                 ORDER BY created_at DESC, reference LIMIT 1",
                &[uid.into()],
            )
            .await?
            .map(|r| r.text(0))
            .transpose()
    }

    async fn record_callback(&self, c: &ReceivedCallback<'_>, at: Timestamp) -> StoreResult<bool> {
        let added = self
            .execute(
                "INSERT INTO upstream_callbacks
                     (upstream, webhook_id, received_at, reference, uid, kind, body, applied)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (upstream, webhook_id) DO NOTHING",
                &[
                    c.upstream.into(),
                    c.webhook_id.into(),
                    micros(at).into(),
                    c.reference.into(),
                    c.uid.map(|u| i64::try_from(u).unwrap_or(i64::MAX)).into(),
                    c.kind.into(),
                    c.body.into(),
                    Arg::Bool(false),
                ],
            )
            .await?;
        Ok(added == 1)
    }

    async fn callback_applied(&self, upstream: &str, webhook_id: &str) -> StoreResult<()> {
        self.execute(
            "UPDATE upstream_callbacks SET applied = $3 WHERE upstream = $1 AND webhook_id = $2",
            &[upstream.into(), webhook_id.into(), Arg::Bool(true)],
        )
        .await?;
        Ok(())
    }

    async fn callbacks_of(&self, uid: u64) -> StoreResult<Vec<(String, String, bool)>> {
        let rows = self
            .fetch(
                "SELECT kind, body, CAST(CASE WHEN applied THEN 1 ELSE 0 END AS BIGINT) FROM upstream_callbacks WHERE uid = $1
                 ORDER BY received_at",
                &[uid.into()],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.text(0)?, r.text(1)?, r.int(2)? != 0)))
            .collect()
    }

    async fn postpone_timer(&self, id: i64, due_at: Timestamp) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        tx.execute(
            "UPDATE timers SET due_at = $1 WHERE id = $2 AND done_at IS NULL",
            &[micros(due_at).into(), Arg::from(id)],
        )
        .await?;
        tx.signal(Signal::Work).await?;
        tx.commit().await
    }

    async fn ask_again(
        &self,
        timer_id: i64,
        next: &NewTimer,
        uid: u64,
        at: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        super::timers::close(&mut tx, timer_id, at).await?;
        super::timers::insert(&mut tx, uid, next).await?;
        tx.signal(Signal::Work).await?;
        tx.commit().await
    }

    async fn give_up(&self, timer_id: i64, reference: &str, at: Timestamp) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        super::timers::close(&mut tx, timer_id, at).await?;
        tx.execute(
            "UPDATE upstream_operations SET unresolved_at = $2
             WHERE reference = $1 AND unresolved_at IS NULL",
            &[reference.into(), micros(at).into()],
        )
        .await?;
        tx.commit().await
    }

    async fn unresolved(&self) -> StoreResult<Vec<UpstreamOperation>> {
        let rows = self
            .fetch(
                &format!("{OPERATION} WHERE unresolved_at IS NOT NULL ORDER BY unresolved_at"),
                &[],
            )
            .await?;
        rows.iter().map(operation).collect()
    }
}
