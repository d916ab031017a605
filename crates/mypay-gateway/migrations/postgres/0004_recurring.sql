-- Recurring billing (定期定額, SPEC §9).
--
-- * `series`: one per bound card, keyed by the order that bound it. The card is kept as
--   the acquirer's token (never the PAN) with what the query records show of it.
-- * `series_charges`: one row per (series, period, attempt), written before the acquirer
--   is asked, with the attempt's idempotency key; `uid` is the transaction it charges.
--   The primary key is what keeps a period from being charged twice, whichever node runs it.
-- * `orders.group_id` and `orders.nois`: the series and period of a transaction.
-- * `timers`: a series has a timer per charge, so a timer is unique per (kind, uid,
--   payload) instead of per (kind, uid).
ALTER TABLE orders ADD COLUMN group_id TEXT, ADD COLUMN nois BIGINT;

CREATE TABLE series (
    uid              BIGINT PRIMARY KEY REFERENCES orders (uid),
    store_uid        TEXT COLLATE "C" NOT NULL,
    group_id         TEXT COLLATE "C" NOT NULL,
    store_group_id   TEXT NOT NULL,
    tool             TEXT NOT NULL,
    card_token       TEXT NOT NULL,
    cardno           TEXT NOT NULL,
    card_type        BIGINT NOT NULL,
    issuing_bank     TEXT NOT NULL,
    issuing_bank_uid TEXT NOT NULL,
    stop_date        TEXT,
    stop_reason      TEXT NOT NULL DEFAULT '',
    -- Sandbox: the next charge declines (`/sandbox/recurring/{group_id}/next-charge`).
    decline_next     BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX series_by_group ON series (store_uid, group_id);
-- The sandbox's next-charge helper finds a series by its id alone.
CREATE INDEX series_by_group_id ON series (group_id);

CREATE TABLE series_charges (
    series_uid       BIGINT NOT NULL REFERENCES series (uid),
    period           BIGINT NOT NULL,
    attempt          BIGINT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    forced_decline   BIGINT NOT NULL,
    uid              BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (series_uid, period, attempt)
);

ALTER TABLE timers DROP CONSTRAINT timers_kind_uid_key,
    ADD CONSTRAINT timers_kind_uid_payload_key UNIQUE (kind, uid, payload);
