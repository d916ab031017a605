-- Times are microseconds since the Unix epoch (UTC), read from the gateway's clock.

CREATE TABLE merchants (
    store_uid   TEXT PRIMARY KEY,
    agent_uid   TEXT,
    settings    TEXT NOT NULL,            -- JSON: ledger::merchant::MerchantSettings
    created_at  INTEGER NOT NULL
);

CREATE TABLE dealers (
    agent_uid   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

-- Keys of merchants ('store'), dealers ('agent') and client-mode verification codes ('client').
CREATE TABLE credentials (
    id          INTEGER PRIMARY KEY,
    owner_kind  TEXT NOT NULL CHECK (owner_kind IN ('store', 'agent', 'client')),
    owner_uid   TEXT NOT NULL,
    secret      TEXT NOT NULL,
    valid_from  INTEGER NOT NULL,
    valid_until INTEGER NOT NULL,
    UNIQUE (owner_kind, owner_uid, secret)
);

CREATE TABLE orders (
    uid              INTEGER PRIMARY KEY AUTOINCREMENT,
    store_uid        TEXT NOT NULL,
    order_id         TEXT NOT NULL,
    token            TEXT NOT NULL,       -- the order's `key`
    request          TEXT NOT NULL,       -- the normalised request JSON
    pfn              TEXT NOT NULL,       -- the preselection
    cost             INTEGER NOT NULL,
    currency         TEXT NOT NULL,
    authorise_only   INTEGER NOT NULL,
    prc              TEXT NOT NULL,
    paid_pfn         TEXT,
    cardno           TEXT,                -- first 6 / last 4 only
    card_type        INTEGER,
    issuing_bank     TEXT,
    issuing_bank_uid TEXT,
    acode            TEXT,
    supplier_code    TEXT,
    actual_cost      INTEGER,
    retmsg           TEXT NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    finished_at      INTEGER
);
CREATE INDEX orders_by_order_id ON orders (store_uid, order_id);

-- Every change of an order's state, with its time and cause.
CREATE TABLE order_events (
    id        INTEGER PRIMARY KEY,
    uid       INTEGER NOT NULL REFERENCES orders (uid),
    from_prc  TEXT,
    to_prc    TEXT NOT NULL,
    at        INTEGER NOT NULL,
    cause     TEXT NOT NULL
);
CREATE INDEX order_events_by_uid ON order_events (uid);

-- A 3-D Secure step under way: the acquirer's pending answer, never the card number.
CREATE TABLE challenges (
    uid        INTEGER PRIMARY KEY REFERENCES orders (uid),
    pfn        TEXT NOT NULL,
    cardno     TEXT NOT NULL,
    card_type  INTEGER NOT NULL,
    issuing_bank TEXT NOT NULL,
    issuing_bank_uid TEXT NOT NULL,
    password   TEXT NOT NULL,             -- the test card's documented 3D password
    answer     TEXT NOT NULL,             -- JSON of the answer once the password is right
    failures   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

-- The notification outbox: one row per notice, its attempts below.
CREATE TABLE notices (
    id              INTEGER PRIMARY KEY,
    uid             INTEGER NOT NULL,
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
    lease_until     INTEGER NOT NULL DEFAULT 0,   -- real time, not the test clock
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    UNIQUE (uid, kind, prc)
);
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

-- Timed work on the gateway's clock (A0001 resolution, deadlines, recurring charges, …).
CREATE TABLE timers (
    id       INTEGER PRIMARY KEY,
    kind     TEXT NOT NULL,
    uid      INTEGER NOT NULL,
    due_at   INTEGER NOT NULL,
    payload  TEXT NOT NULL,
    done_at  INTEGER,
    UNIQUE (kind, uid)
);
CREATE INDEX timers_due ON timers (done_at, due_at);

-- E-mail outbox (alerts to the technical contact, key reminders).
CREATE TABLE emails (
    id         INTEGER PRIMARY KEY,
    to_addr    TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
