//! The back office's users and tokens.

use super::sql::{Backend, Exec};
use super::storage::Admins;
use super::{Columns, StoreError, StoreResult, micros};
use jiff::Timestamp;

/// What an admin may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminRole {
    /// Reads and acts.
    Operator,
    /// Reads only.
    Viewer,
}

impl AdminRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Operator => "operator",
            AdminRole::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<AdminRole> {
        match text {
            "operator" => Some(AdminRole::Operator),
            "viewer" => Some(AdminRole::Viewer),
            _ => None,
        }
    }
}

fn role(text: &str) -> StoreResult<AdminRole> {
    AdminRole::parse(text).ok_or_else(|| StoreError::Corrupt(format!("admin role {text:?}")))
}

#[async_trait::async_trait]
impl<B: Backend> Admins for B {
    async fn add_admin_user(
        &self,
        name: &str,
        role: AdminRole,
        password_hash: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let added = self
            .execute(
                "INSERT INTO admin_users (name, role, password_hash, created_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
                &[
                    name.into(),
                    role.as_str().into(),
                    password_hash.into(),
                    micros(at).into(),
                ],
            )
            .await?;
        Ok(added == 1)
    }

    async fn admin_user(&self, name: &str) -> StoreResult<Option<(AdminRole, String)>> {
        let row = self
            .pool()
            .optional(
                "SELECT role, password_hash FROM admin_users WHERE name = $1",
                &[name.into()],
            )
            .await?;
        row.map(|r| Ok((role(&r.text(0)?)?, r.text(1)?)))
            .transpose()
    }

    async fn add_admin_token(
        &self,
        label: &str,
        role: AdminRole,
        token_hash: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let added = self
            .execute(
                "INSERT INTO admin_tokens (label, role, token_hash, created_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (label) DO NOTHING",
                &[
                    label.into(),
                    role.as_str().into(),
                    token_hash.into(),
                    micros(at).into(),
                ],
            )
            .await?;
        Ok(added == 1)
    }

    async fn admin_token(&self, token_hash: &str) -> StoreResult<Option<(String, AdminRole)>> {
        let row = self
            .pool()
            .optional(
                "SELECT label, role FROM admin_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
                &[token_hash.into()],
            )
            .await?;
        row.map(|r| Ok((r.text(0)?, role(&r.text(1)?)?)))
            .transpose()
    }

    async fn revoke_admin_token(&self, label: &str, at: Timestamp) -> StoreResult<bool> {
        let revoked = self
            .execute(
                "UPDATE admin_tokens SET revoked_at = $2 WHERE label = $1 AND revoked_at IS NULL",
                &[label.into(), micros(at).into()],
            )
            .await?;
        Ok(revoked == 1)
    }

    async fn add_admin_session(
        &self,
        token_hash: &str,
        user: &str,
        csrf: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO admin_sessions (token_hash, user_name, csrf, created_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $4)",
            &[
                token_hash.into(),
                user.into(),
                csrf.into(),
                micros(at).into(),
            ],
        )
        .await?;
        Ok(())
    }

    async fn admin_session(&self, token_hash: &str) -> StoreResult<Option<AdminSession>> {
        let row = self
            .pool()
            .optional(
                "SELECT s.user_name, u.role, s.csrf, s.last_seen_at FROM admin_sessions s
                 JOIN admin_users u ON u.name = s.user_name
                 WHERE s.token_hash = $1 AND s.ended_at IS NULL",
                &[token_hash.into()],
            )
            .await?;
        row.map(|r| {
            Ok(AdminSession {
                user: r.text(0)?,
                role: role(&r.text(1)?)?,
                csrf: r.text(2)?,
                last_seen_at: super::timestamp(r.int(3)?),
            })
        })
        .transpose()
    }

    async fn touch_admin_session(&self, token_hash: &str, at: Timestamp) -> StoreResult<()> {
        self.execute(
            "UPDATE admin_sessions SET last_seen_at = $2 WHERE token_hash = $1 AND ended_at IS NULL",
            &[token_hash.into(), micros(at).into()],
        )
        .await?;
        Ok(())
    }

    async fn end_admin_session(&self, token_hash: &str, at: Timestamp) -> StoreResult<()> {
        self.execute(
            "UPDATE admin_sessions SET ended_at = $2 WHERE token_hash = $1 AND ended_at IS NULL",
            &[token_hash.into(), micros(at).into()],
        )
        .await?;
        Ok(())
    }

    async fn record_sign_in_failure(
        &self,
        user: &str,
        address: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO admin_sign_in_failures (user_name, address, at) VALUES ($1, $2, $3)",
            &[user.into(), address.into(), micros(at).into()],
        )
        .await?;
        Ok(())
    }

    async fn sign_in_failures(
        &self,
        user: &str,
        address: &str,
        since: Timestamp,
    ) -> StoreResult<i64> {
        self.pool()
            .one(
                "SELECT COUNT(*) FROM admin_sign_in_failures
                 WHERE user_name = $1 AND address = $2 AND at >= $3",
                &[user.into(), address.into(), micros(since).into()],
            )
            .await?
            .int(0)
    }
}

/// A dashboard session as stored: whose, their role now, its form token, when last used.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub user: String,
    pub role: AdminRole,
    pub csrf: String,
    pub last_seen_at: Timestamp,
}

/// One entry of the admin audit log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: Timestamp,
    /// `token:LABEL`, `user:NAME`, or `os:USER` for the command line.
    pub actor: String,
    pub action: String,
    pub subject: String,
    /// JSON of what was there before and after (`null` for nothing).
    pub before: String,
    pub after: String,
    pub prev_hash: String,
    pub hash: String,
}

/// What a new audit entry says.
#[derive(Debug, Clone)]
pub struct NewAudit<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub before: &'a str,
    pub after: &'a str,
}

/// The hash before the first entry.
pub const AUDIT_GENESIS: &str = "genesis";

/// An entry's hash: SHA-256 over its previous hash and its fields, each length-prefixed
/// so no two different entries hash alike.
pub fn audit_hash(prev_hash: &str, at: Timestamp, entry: &NewAudit<'_>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let at = micros(at).to_string();
    for part in [
        prev_hash,
        at.as_str(),
        entry.actor,
        entry.action,
        entry.subject,
        entry.before,
        entry.after,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    crate::hex::hex(&h.finalize())
}

pub(super) const AUDIT_COLUMNS: &str =
    "id, at, actor, action, subject, before, after, prev_hash, hash";

pub(super) fn audit_entry<R: Columns>(r: &R) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        id: r.int(0)?,
        at: super::timestamp(r.int(1)?),
        actor: r.text(2)?,
        action: r.text(3)?,
        subject: r.text(4)?,
        before: r.text(5)?,
        after: r.text(6)?,
        prev_hash: r.text(7)?,
        hash: r.text(8)?,
    })
}

#[async_trait::async_trait]
impl<B: Backend> super::storage::Audit for B {
    async fn append_audit(&self, entry: &NewAudit<'_>, at: Timestamp) -> StoreResult<i64> {
        // Two writers racing read the same last hash; the unique `prev_hash` lets one
        // in, and the other tries again on the new end of the chain.
        for _ in 0..8 {
            let last = self
                .pool()
                .optional("SELECT hash FROM admin_audit ORDER BY id DESC LIMIT 1", &[])
                .await?
                .map(|r| r.text(0))
                .transpose()?
                .unwrap_or_else(|| AUDIT_GENESIS.to_owned());
            let hash = audit_hash(&last, at, entry);
            let inserted = self
                .pool()
                .optional(
                    "INSERT INTO admin_audit (at, actor, action, subject, before, after, prev_hash, hash)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (prev_hash) DO NOTHING RETURNING id",
                    &[
                        micros(at).into(),
                        entry.actor.into(),
                        entry.action.into(),
                        entry.subject.into(),
                        entry.before.into(),
                        entry.after.into(),
                        last.as_str().into(),
                        hash.as_str().into(),
                    ],
                )
                .await?;
            if let Some(row) = inserted {
                return row.int(0);
            }
        }
        Err(StoreError::Conflict)
    }

    async fn audit(&self, before_id: Option<i64>, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        let rows = self
            .fetch(
                &format!(
                    "SELECT {AUDIT_COLUMNS} FROM admin_audit WHERE id < $1 ORDER BY id DESC LIMIT $2"
                ),
                &[before_id.unwrap_or(i64::MAX).into(), limit.into()],
            )
            .await?;
        rows.iter().map(audit_entry).collect()
    }

    async fn audit_from(&self, after_id: i64, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        let rows = self
            .fetch(
                &format!(
                    "SELECT {AUDIT_COLUMNS} FROM admin_audit WHERE id > $1 ORDER BY id LIMIT $2"
                ),
                &[after_id.into(), limit.into()],
            )
            .await?;
        rows.iter().map(audit_entry).collect()
    }
}
