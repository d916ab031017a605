-- E-mail delivered for real (`--smtp URL`): each queued mail is sent once it can be, and
-- tried again while the server is away.
-- * `sent_at`: when the SMTP server took it; NULL while it waits.
-- * `next_attempt_at`: when it may be tried (real time, µs); a sender takes a mail by
--   moving this forward first, so two nodes never send one mail at once.
-- * `attempts`, `last_error`: what happened so far.
ALTER TABLE emails ADD COLUMN sent_at BIGINT;
ALTER TABLE emails ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE emails ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE emails ADD COLUMN last_error TEXT;
CREATE INDEX emails_waiting ON emails (next_attempt_at) WHERE sent_at IS NULL;
