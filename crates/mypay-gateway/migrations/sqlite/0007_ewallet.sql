-- MYPAY e-wallets (電子錢包, SPEC §9): a consumer binds a card on the bind page once,
-- and the merchant's later orders pay with its virtual card number (`virtual_pan`).
-- The card is kept as the acquirer's token, never its number. A bind request is
-- `open`, `challenged` (a 3-D Secure password awaited), then `bound` or `failed`.
CREATE TABLE wallets (
    id               INTEGER PRIMARY KEY,
    store_uid        TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    pfn              TEXT NOT NULL,
    -- The bind request as received (normalised JSON): names, phone, return URLs.
    request          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open', 'challenged', 'bound', 'failed')),
    card_token       TEXT,
    cardno           TEXT,
    card_type        INTEGER,
    issuing_bank     TEXT,
    issuing_bank_uid TEXT,
    pending_password TEXT,
    otp_failures     INTEGER NOT NULL DEFAULT 0,
    virtual_pan      TEXT UNIQUE,
    created_at       INTEGER NOT NULL,
    bound_at         INTEGER
);
