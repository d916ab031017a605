-- E-invoices (電子發票, SPEC §10).
-- * `invoice_tracks`: a merchant's word-track ranges per two-month period (`yyyMM`, ROC
--   year and even month). `next_number` only grows; it is taken in the transaction that
--   writes the invoice carrying it, so a number is never reused nor skipped.
-- * `invoices`: one per transaction (`uid`), in its state of 『電子發票開立狀態類型』;
--   `number` (track + 8 digits) is unique, and NULL until one is given (states 1, 3, 5).
--   What the queries answer is kept whole in `fields` (JSON).
-- * `invoice_allowances`: each allowance (折讓) a refund made, once per refund; their sum
--   is kept in `invoices.allowed`, never above `total`.
CREATE TABLE invoice_tracks (
    store_uid    TEXT NOT NULL,
    period       TEXT NOT NULL,
    track        TEXT NOT NULL,
    first_number INTEGER NOT NULL,
    last_number  INTEGER NOT NULL,
    next_number  INTEGER NOT NULL,
    PRIMARY KEY (store_uid, period, track, first_number),
    CHECK (first_number <= last_number AND next_number >= first_number)
);

CREATE TABLE invoices (
    uid        INTEGER PRIMARY KEY,
    store_uid  TEXT NOT NULL,
    state      INTEGER NOT NULL,
    period     TEXT NOT NULL,
    number     TEXT UNIQUE,
    total      INTEGER NOT NULL,
    allowed    INTEGER NOT NULL DEFAULT 0,
    fields     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK (allowed <= total)
);

CREATE TABLE invoice_allowances (
    invoice_uid  INTEGER NOT NULL,
    refund_uid   INTEGER NOT NULL,
    amount       INTEGER NOT NULL,
    order_detail TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (invoice_uid, refund_uid)
);
