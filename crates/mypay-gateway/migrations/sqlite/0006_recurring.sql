-- Recurring billing (定期定額, SPEC §9).
--
-- * `series`: one per bound card, keyed by the order that bound it. The card is kept as
--   the acquirer's token (never the PAN) with what the query records show of it.
-- * `series_charges`: one row per (series, period, attempt), written before the acquirer
--   is asked, with the attempt's idempotency key; `uid` is the transaction it charges.
--   The primary key is what keeps a period from being charged twice.
-- * `orders.group_id` and `orders.nois`: the series and period of a transaction.
-- * `timers`: a series has a timer per charge, so a timer is unique per (kind, uid,
--   payload) instead of per (kind, uid). SQLite cannot drop a constraint: the table is
--   rebuilt with its rows.
ALTER TABLE orders ADD COLUMN group_id TEXT;
ALTER TABLE orders ADD COLUMN nois INTEGER;

CREATE TABLE series (
    uid              INTEGER PRIMARY KEY REFERENCES orders (uid),
    store_uid        TEXT NOT NULL,
    group_id         TEXT NOT NULL,
    store_group_id   TEXT NOT NULL,
    tool             TEXT NOT NULL,
    card_token       TEXT NOT NULL,
    cardno           TEXT NOT NULL,
    card_type        INTEGER NOT NULL,
    issuing_bank     TEXT NOT NULL,
    issuing_bank_uid TEXT NOT NULL,
    stop_date        TEXT,
    stop_reason      TEXT NOT NULL DEFAULT '',
    -- Sandbox: the next charge declines (`/sandbox/recurring/{group_id}/next-charge`).
    decline_next     INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX series_by_group ON series (store_uid, group_id);
-- The sandbox's next-charge helper finds a series by its id alone.
CREATE INDEX series_by_group_id ON series (group_id);

CREATE TABLE series_charges (
    series_uid       INTEGER NOT NULL REFERENCES series (uid),
    period           INTEGER NOT NULL,
    attempt          INTEGER NOT NULL,
    idempotency_key  TEXT NOT NULL,
    forced_decline   INTEGER NOT NULL,
    uid              INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (series_uid, period, attempt)
);

CREATE TABLE timers_rebuilt (
    id       INTEGER PRIMARY KEY,
    kind     TEXT NOT NULL,
    uid      INTEGER NOT NULL,
    due_at   INTEGER NOT NULL,
    payload  TEXT NOT NULL,
    done_at  INTEGER,
    UNIQUE (kind, uid, payload)
);
INSERT INTO timers_rebuilt (id, kind, uid, due_at, payload, done_at)
    SELECT id, kind, uid, due_at, payload, done_at FROM timers;
DROP TABLE timers;
ALTER TABLE timers_rebuilt RENAME TO timers;
CREATE INDEX timers_due ON timers (done_at, due_at);
