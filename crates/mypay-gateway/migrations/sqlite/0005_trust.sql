-- Each delivery attempt records why it was made (the schedule, or a resend) and where it
-- went: a resend goes to the merchant's URL of the moment, not the one the notice was
-- written with. `attempt` numbers the log; `notices.attempts` counts scheduled attempts.
ALTER TABLE notice_attempts ADD COLUMN trigger TEXT NOT NULL DEFAULT 'scheduled';
ALTER TABLE notice_attempts ADD COLUMN url TEXT NOT NULL DEFAULT '';

-- Due notices are looked up per merchant (deliveries are shared fairly between them);
-- this index serves every lookup of due notices, so the one by time alone goes (each
-- index is rewritten by every attempt).
CREATE INDEX notices_due_by_merchant ON notices (status, store_uid, next_attempt_at);
DROP INDEX notices_due;

-- Values of this installation that must outlive a restart and be the same for every node:
-- the secret that signs PayPage tickets and CSRF tokens, the sandbox clock's offset.
CREATE TABLE installation (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- A card payment claims its order before the acquirer is asked: one row per order while
-- an attempt is with the acquirer, so two racing submissions never both ask. `claimed_at`
-- is real time; a claim older than a few minutes belongs to a process that died.
CREATE TABLE charge_claims (
    uid        INTEGER PRIMARY KEY REFERENCES orders (uid),
    attempt    TEXT NOT NULL,
    claimed_at INTEGER NOT NULL
);

-- Every delivery attempt rewrites its notice's row; without the body (a kilobyte) in it,
-- an attempt writes a tenth of the pages, so the body moves to a table of its own.
CREATE TABLE notice_bodies (
    notice_id INTEGER PRIMARY KEY REFERENCES notices (id),
    body      TEXT NOT NULL
);
INSERT INTO notice_bodies (notice_id, body) SELECT id, body FROM notices;
ALTER TABLE notices DROP COLUMN body;

-- Which notice is being delivered is kept by the delivering process (see the notice
-- ledger), so the lease column the first worker wrote is no longer read or written.
ALTER TABLE notices DROP COLUMN lease_until;
