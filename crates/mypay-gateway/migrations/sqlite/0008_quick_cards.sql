-- Quick checkout (啟用快速結帳, `enable_quickpay`, on unless an order says 0): the card a
-- merchant's consumer (`user_id`) last paid with on the PayPage, kept as the acquirer's
-- token (never its number), offered on that consumer's next PayPage in one click.
CREATE TABLE quick_cards (
    store_uid        TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    tool             TEXT NOT NULL,
    card_token       TEXT NOT NULL,
    cardno           TEXT NOT NULL,
    card_type        INTEGER NOT NULL,
    issuing_bank     TEXT NOT NULL,
    issuing_bank_uid TEXT NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (store_uid, user_id)
);
