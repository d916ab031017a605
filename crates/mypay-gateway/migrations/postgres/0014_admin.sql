-- The back office's people and scripts.
-- * `admin_users`: who signs in to the dashboard, with a role (`operator` acts,
--   `viewer` reads) and an Argon2 hash of the password.
-- * `admin_tokens`: bearer tokens for scripts, by label; only their SHA-256 is kept (a
--   token is 32 random bytes: a slow hash adds nothing). A revoked token stays listed.
CREATE TABLE admin_users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('operator', 'viewer')),
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE admin_tokens (
    label      TEXT PRIMARY KEY,
    role       TEXT NOT NULL CHECK (role IN ('operator', 'viewer')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
