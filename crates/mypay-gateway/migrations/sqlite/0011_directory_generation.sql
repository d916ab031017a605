-- The directory's generation: bumped by the database itself, in the same transaction, by
-- every change of merchants, dealers or credentials, whichever process makes it (the
-- gateway, the `merchant` command, a hand-written statement). A process caching them
-- compares it before it trusts its cache (`PRAGMA data_version` tells it cheaply when
-- another connection committed anything at all).
CREATE TABLE directory_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO directory_generation (id, value) VALUES (1, 1);

CREATE TRIGGER merchants_insert AFTER INSERT ON merchants
BEGIN UPDATE directory_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER merchants_update AFTER UPDATE ON merchants
BEGIN UPDATE directory_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER merchants_delete AFTER DELETE ON merchants
BEGIN UPDATE directory_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER dealers_insert AFTER INSERT ON dealers
BEGIN UPDATE directory_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER dealers_update AFTER UPDATE ON dealers
BEGIN UPDATE directory_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER dealers_delete AFTER DELETE ON dealers
BEGIN UPDATE directory_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER credentials_insert AFTER INSERT ON credentials
BEGIN UPDATE directory_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER credentials_update AFTER UPDATE ON credentials
BEGIN UPDATE directory_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER credentials_delete AFTER DELETE ON credentials
BEGIN UPDATE directory_generation SET value = value + 1 WHERE id = 1; END;

-- A timer is one of the kinds the gateway runs (`ledger::timers::TimerKind`): any other
-- is refused when written, so every stored timer reads back as its kind.
CREATE TRIGGER timers_kind BEFORE INSERT ON timers
WHEN NEW.kind NOT IN ('resolve_pending', 'payment_deadline', 'application_review',
    'capture_batch', 'refund_batch', 'recurring_charge', 'issue_invoice')
BEGIN SELECT RAISE(ABORT, 'unknown timer kind'); END;
