-- The back office's second part.
-- * `credentials.life_stage`: how far a merchant's key has gone towards its end on the
--   merchant's clock (SPEC §3): 0 nothing done yet, 1, 2, 3 the reminders 60, 30 and 20
--   days before sent, 4 its successor made 7 days before. Moved by compare-and-set in the
--   transaction that queues the e-mail, so each step happens once on any number of nodes;
--   an extension sets it back to 0.
-- * `emails.order_uid`: the order an e-mail is about, for that order's timeline.
-- * `admin_sessions`: dashboard sign-ins, by the SHA-256 of the cookie's value, with the
--   form token (CSRF) of the session; ended by signing out or 8 idle hours.
-- * `admin_sign_in_failures`: failed sign-ins by name and address (the throttle).
-- * `orders.user_id`, `orders.card_last4`: the search's filters that name a consumer or a
--   card, as columns with an index each, so such a search finds its few orders directly
--   on any size of table; `orders_by_store` pages one merchant's orders newest first.
ALTER TABLE credentials ADD COLUMN life_stage BIGINT NOT NULL DEFAULT 0;
ALTER TABLE emails ADD COLUMN order_uid BIGINT;
CREATE INDEX emails_by_order ON emails (order_uid) WHERE order_uid IS NOT NULL;

CREATE TABLE admin_sessions (
    token_hash   TEXT PRIMARY KEY,
    user_name    TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    ended_at     BIGINT
);

CREATE TABLE admin_sign_in_failures (
    id        INTEGER PRIMARY KEY,
    user_name TEXT NOT NULL,
    address   TEXT NOT NULL,
    at        BIGINT NOT NULL
);
CREATE INDEX admin_sign_in_failures_by_name ON admin_sign_in_failures (user_name, address, at);

ALTER TABLE orders ADD COLUMN user_id TEXT;
ALTER TABLE orders ADD COLUMN card_last4 TEXT;
UPDATE orders SET user_id = json_extract(request, '$.user_id') WHERE json_valid(request);
UPDATE orders SET card_last4 = SUBSTR(cardno, LENGTH(cardno) - 3) WHERE cardno IS NOT NULL;
CREATE INDEX orders_by_user_id ON orders (user_id);
CREATE INDEX orders_by_card_last4 ON orders (card_last4) WHERE card_last4 IS NOT NULL;
CREATE INDEX orders_by_store ON orders (store_uid, uid);

-- An order's timeline shows the admin writes about it.
CREATE INDEX admin_audit_by_subject ON admin_audit (subject);
