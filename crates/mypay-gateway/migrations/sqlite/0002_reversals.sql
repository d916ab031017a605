-- Refunds, authorisation cancellations and captures (SPEC §7, §8).

-- Money taken back from an order: refunds (`api/refund`) and cancelled authorisations
-- (`api/cancelauthorization`). Each has its own transaction number (`refund_uid`).
CREATE TABLE reversals (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,  -- refund_uid / cancel uid
    uid                  INTEGER NOT NULL REFERENCES orders (uid),
    kind                 TEXT NOT NULL CHECK (kind IN ('refund', 'cancel')),
    cost                 INTEGER NOT NULL CHECK (cost > 0),
    -- 200 queued for the next batch (申請中), 230 refunded, 220 cancelled.
    prc                  TEXT NOT NULL,
    retmsg               TEXT NOT NULL,
    refund_type          INTEGER NOT NULL DEFAULT 1,
    expected_refund_date TEXT NOT NULL DEFAULT '',
    invoice_state        INTEGER,
    items                TEXT,                       -- the request's items, JSON
    created_at           INTEGER NOT NULL,
    finished_at          INTEGER
);
CREATE INDEX reversals_by_uid ON reversals (uid);

-- What has been taken back and captured, kept on the order so that one guarded UPDATE
-- decides whether another refund still fits (never more than was paid, even when two
-- requests race) on SQLite and PostgreSQL alike.
ALTER TABLE orders ADD COLUMN refunded INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN captured INTEGER;

-- A notice is unique per (uid, kind, prc, ref_uid): ref_uid tells the notices of several
-- refunds of one order apart (0 for the order's own notices). SQLite cannot change a
-- table's UNIQUE constraint in place, so the table is rebuilt. Its delivery log refers to
-- it, so the log is set aside and rebuilt after it: dropping a table that still has
-- referring rows would break the foreign key.
CREATE TABLE notices_rebuilt (
    id              INTEGER PRIMARY KEY,
    uid             INTEGER NOT NULL,
    ref_uid         INTEGER NOT NULL DEFAULT 0,
    store_uid       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    prc             TEXT NOT NULL,
    url             TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    interval_secs   INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    UNIQUE (uid, kind, prc, ref_uid)
);
INSERT INTO notices_rebuilt (id, uid, store_uid, kind, prc, url, body, status, attempts,
        max_attempts, interval_secs, next_attempt_at, lease_until, created_at, delivered_at)
    SELECT id, uid, store_uid, kind, prc, url, body, status, attempts, max_attempts,
        interval_secs, next_attempt_at, lease_until, created_at, delivered_at FROM notices;
CREATE TEMP TABLE notice_attempts_kept AS SELECT * FROM notice_attempts;
DROP TABLE notice_attempts;
DROP TABLE notices;
ALTER TABLE notices_rebuilt RENAME TO notices;
CREATE INDEX notices_due ON notices (status, next_attempt_at);
CREATE TABLE notice_attempts (
    id          INTEGER PRIMARY KEY,
    notice_id   INTEGER NOT NULL REFERENCES notices (id),
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    http_status INTEGER,
    reply       TEXT NOT NULL,
    elapsed_ms  INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    UNIQUE (notice_id, attempt)
);
INSERT INTO notice_attempts SELECT * FROM notice_attempts_kept;
DROP TABLE notice_attempts_kept;
