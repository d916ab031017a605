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
}
