//! The back office's people and scripts: users who sign in to the dashboard (Argon2
//! password hashes) and bearer tokens for the admin API (kept as SHA-256), each with a
//! role: `operator` acts, `viewer` reads.

use crate::store::{AdminRole, Store, StoreError};
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use sha2::{Digest, Sha256};

/// Bearer tokens begin with this, so a leaked one is recognised for what it is.
pub const TOKEN_PREFIX: &str = "mpadm_";

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A wrong argument; the message names it.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn check_name(what: &str, name: &str) -> Result<(), AdminError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(AdminError::Refused(format!(
            "{what}: 1 to 64 letters, digits, '.', '_', '-' or '@'"
        )))
    }
}

/// `bytes` random bytes as URL-safe base64: tokens, passwords, form tokens.
pub fn random_token(bytes: usize) -> String {
    random(bytes)
}

fn random(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf).unwrap_or_else(|e| panic!("the OS's random source failed: {e}"));
    URL_SAFE_NO_PAD.encode(buf)
}

/// Add a user; with no password given, one is made and answered (shown once).
pub async fn add_user(
    store: &Store,
    name: &str,
    role: AdminRole,
    password: Option<&str>,
    now: Timestamp,
) -> Result<Option<String>, AdminError> {
    check_name("name", name)?;
    let made = match password {
        Some(p) if p.chars().count() < 12 => {
            return Err(AdminError::Refused(
                "password: at least 12 characters".into(),
            ));
        }
        Some(_) => None,
        None => Some(random(18)),
    };
    let password = password
        .map(str::to_owned)
        .or_else(|| made.clone())
        .unwrap_or_default();
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .map_err(|e| AdminError::Refused(format!("password: {e}")))?
        .to_string();
    if !store.add_admin_user(name, role, &hash, now).await? {
        return Err(AdminError::Refused(format!("name: a user {name:?} exists")));
    }
    Ok(made)
}

/// The role of `name` when `password` is theirs.
pub async fn sign_in(
    store: &Store,
    name: &str,
    password: &str,
) -> Result<Option<AdminRole>, StoreError> {
    let Some((role, hash)) = store.admin_user(name).await? else {
        // The same work as a real check, so timing does not tell who exists.
        let _ =
            Argon2::default().hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng));
        return Ok(None);
    };
    let matches = PasswordHash::new(&hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    });
    Ok(matches.then_some(role))
}

fn token_hash(token: &str) -> String {
    crate::hex::hex(&Sha256::digest(token.as_bytes()))
}

/// A new bearer token labelled `label`, answered once.
pub async fn issue_token(
    store: &Store,
    label: &str,
    role: AdminRole,
    now: Timestamp,
) -> Result<String, AdminError> {
    check_name("label", label)?;
    let token = format!("{TOKEN_PREFIX}{}", random(32));
    if !store
        .add_admin_token(label, role, &token_hash(&token), now)
        .await?
    {
        return Err(AdminError::Refused(format!(
            "label: a token {label:?} exists"
        )));
    }
    Ok(token)
}

pub async fn revoke_token(store: &Store, label: &str, now: Timestamp) -> Result<(), AdminError> {
    if store.revoke_admin_token(label, now).await? {
        Ok(())
    } else {
        Err(AdminError::Refused(format!(
            "label: no live token {label:?}"
        )))
    }
}

/// The label and role of a live bearer token.
pub async fn authenticate(
    store: &Store,
    token: &str,
) -> Result<Option<(String, AdminRole)>, StoreError> {
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
        return Ok(None);
    }
    store.admin_token(&token_hash(token)).await
}

/// Dashboard sessions end after this long unused.
pub const SESSION_IDLE: jiff::SignedDuration = jiff::SignedDuration::from_hours(8);
/// A session's last use is written at most this often (every page would be a write).
const SESSION_TOUCH: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);
/// Failed sign-ins for one name from one address within [`SIGN_IN_WINDOW`] before
/// sign-ins are refused (429) for them.
pub const SIGN_IN_FAILURES: i64 = 5;
pub const SIGN_IN_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);

/// A dashboard session begun: the cookie's value and the session's form token.
#[derive(Debug, Clone)]
pub struct SessionStart {
    pub token: String,
    pub csrf: String,
    pub role: AdminRole,
}

/// Why a sign-in was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Too many failures for this name from this address lately.
    #[error("too many failed sign-ins; try again later")]
    Throttled,
    /// The name and password do not match (which of the two is never said).
    #[error("the name or the password is wrong")]
    Wrong,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sign `name` in from `address` with `password`: a new session, unless 5 sign-ins for
/// this name from this address failed in the last 15 minutes (refused without looking at
/// the password, so guessing stops there).
pub async fn start_session(
    store: &Store,
    name: &str,
    password: &str,
    address: &str,
    now: Timestamp,
) -> Result<SessionStart, SignInError> {
    let name = name.trim();
    let since = now - SIGN_IN_WINDOW;
    if store.sign_in_failures(name, address, since).await? >= SIGN_IN_FAILURES {
        tracing::warn!(user = name, address, "sign-in refused: too many failures");
        return Err(SignInError::Throttled);
    }
    let Some(role) = sign_in(store, name, password).await? else {
        store.record_sign_in_failure(name, address, now).await?;
        tracing::warn!(user = name, address, "a failed sign-in");
        return Err(SignInError::Wrong);
    };
    let token = random(32);
    let csrf = random(24);
    store
        .add_admin_session(&token_hash(&token), name, &csrf, now)
        .await?;
    tracing::info!(user = name, address, "signed in");
    Ok(SessionStart { token, csrf, role })
}

/// The session a cookie's value names, while it is live (not ended, used within 8 hours).
pub async fn session(
    store: &Store,
    token: &str,
    now: Timestamp,
) -> Result<Option<crate::store::AdminSession>, StoreError> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let hash = token_hash(token);
    let Some(session) = store.admin_session(&hash).await? else {
        return Ok(None);
    };
    if now.duration_since(session.last_seen_at) > SESSION_IDLE {
        store.end_admin_session(&hash, now).await?;
        return Ok(None);
    }
    if now.duration_since(session.last_seen_at) > SESSION_TOUCH {
        store.touch_admin_session(&hash, now).await?;
    }
    Ok(Some(session))
}

/// Sign out: the session ends now.
pub async fn end_session(store: &Store, token: &str, now: Timestamp) -> Result<(), StoreError> {
    store.end_admin_session(&token_hash(token), now).await
}

/// Record an admin write in the audit log: who (`token:LABEL`, `user:NAME`, `os:USER`),
/// what, on what, and the JSON before and after.
pub async fn audit(
    store: &Store,
    actor: &str,
    action: &str,
    subject: &str,
    before: &serde_json::Value,
    after: &serde_json::Value,
    now: Timestamp,
) -> Result<i64, StoreError> {
    tracing::info!(target: "audit", actor, action, subject, "admin write");
    let before = before.to_string();
    let after = after.to_string();
    store
        .append_audit(
            &crate::store::NewAudit {
                actor,
                action,
                subject,
                before: &before,
                after: &after,
            },
            now,
        )
        .await
}

/// The command line's actor: the operating-system user running it.
pub fn os_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("os:{user}")
}

/// Check the whole audit chain: `None` when every entry holds, else the first entry that
/// does not (edited, or following a removed one).
pub async fn verify_audit(store: &Store) -> Result<Option<i64>, StoreError> {
    let mut prev = crate::store::AUDIT_GENESIS.to_owned();
    let mut after = 0;
    loop {
        let page = store.audit_from(after, 1000).await?;
        if page.is_empty() {
            return Ok(None);
        }
        for e in page {
            let expected = crate::store::audit_hash(
                &prev,
                e.at,
                &crate::store::NewAudit {
                    actor: &e.actor,
                    action: &e.action,
                    subject: &e.subject,
                    before: &e.before,
                    after: &e.after,
                },
            );
            if e.prev_hash != prev || e.hash != expected {
                return Ok(Some(e.id));
            }
            prev = e.hash;
            after = e.id;
        }
    }
}
