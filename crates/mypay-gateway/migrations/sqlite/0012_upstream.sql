-- Production's upstreams (protocol v1).
-- * `upstream_operations`: every operation sent to an upstream, by the gateway's own
--   reference (its idempotency key), written before it is sent: a callback or a status
--   answer finds its transaction by it. `unresolved_at`: the resolver gave up asking
--   (the operator's to settle).
-- * `upstream_callbacks`: every callback that passed its signature, by its `webhook-id`
--   per upstream: one seen before is refused (409) and changes nothing. `applied` tells
--   whether it moved anything (a late or duplicated outcome is recorded, not applied).
CREATE TABLE upstream_operations (
    reference     TEXT PRIMARY KEY,
    uid           BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    upstream      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    unresolved_at BIGINT
);
CREATE INDEX upstream_operations_by_uid ON upstream_operations (uid);

CREATE TABLE upstream_callbacks (
    upstream    TEXT NOT NULL,
    webhook_id  TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    reference   TEXT NOT NULL,
    uid         BIGINT,
    kind        TEXT NOT NULL,
    body        TEXT NOT NULL,
    applied     BOOLEAN NOT NULL,
    PRIMARY KEY (upstream, webhook_id)
);
CREATE INDEX upstream_callbacks_by_uid ON upstream_callbacks (uid);
