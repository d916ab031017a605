-- The notice claim finds the merchants with pending notices by a skip-scan of this index,
-- and each one's earliest due notices by a short scan of it.
CREATE INDEX notices_pending_by_merchant ON notices (store_uid, next_attempt_at, id)
    WHERE status = 'pending';
