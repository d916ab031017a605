-- Every admin write, append-only: who, when, what, before and after. Each entry carries
-- the hash of the one before (`prev_hash`, unique: two writers racing cannot both extend
-- the chain from one entry) and its own hash over its fields, so an edited or removed
-- entry shows when the chain is checked.
CREATE TABLE admin_audit (
    id        BIGSERIAL PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    before    TEXT NOT NULL,
    after     TEXT NOT NULL,
    prev_hash TEXT NOT NULL UNIQUE,
    hash      TEXT NOT NULL
);
