-- The directory's generation: bumped by the database itself, in the same transaction, by
-- every change of merchants, dealers or credentials, whichever process makes it (any
-- node, the `merchant` command, a hand-written statement), and signalled to every
-- listening node when the change commits (`directory:<generation>` on `mypay_work`).
CREATE TABLE directory_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO directory_generation (id, value) VALUES (1, 1);

CREATE FUNCTION mypay_directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    generation BIGINT;
BEGIN
    UPDATE directory_generation SET value = value + 1 WHERE id = 1 RETURNING value INTO generation;
    PERFORM pg_notify('mypay_work', 'directory:' || generation);
    RETURN NULL;
END;
$$;

CREATE TRIGGER merchants_changed AFTER INSERT OR UPDATE OR DELETE ON merchants
    FOR EACH ROW EXECUTE FUNCTION mypay_directory_changed();
CREATE TRIGGER dealers_changed AFTER INSERT OR UPDATE OR DELETE ON dealers
    FOR EACH ROW EXECUTE FUNCTION mypay_directory_changed();
CREATE TRIGGER credentials_changed AFTER INSERT OR UPDATE OR DELETE ON credentials
    FOR EACH ROW EXECUTE FUNCTION mypay_directory_changed();

-- A timer is one of the kinds the gateway runs (`ledger::timers::TimerKind`): any other
-- is refused when written, so every stored timer reads back as its kind.
ALTER TABLE timers ADD CONSTRAINT timers_kind CHECK (kind IN ('resolve_pending',
    'payment_deadline', 'application_review', 'capture_batch', 'refund_batch',
    'recurring_charge', 'issue_invoice'));
