-- SPEC §4 (the same request again while its transaction is unpaid is that transaction)
-- was kept unique on md5(request), which the server computed twice for every new order
-- (for the conflict check, then for the index entry) and stored as 32 hex characters.
-- The gateway now sends the request's digest with the order: the first 16 bytes of its
-- SHA-256. Orders a series charge copies are never unpaid (`A0001` and on) and need none;
-- every unpaid order has one (the CHECK).
ALTER TABLE orders ADD COLUMN request_digest BYTEA;
UPDATE orders SET request_digest = substring(sha256(convert_to(request, 'UTF8')) FROM 1 FOR 16)
    WHERE prc = '200';
ALTER TABLE orders ADD CONSTRAINT orders_unpaid_have_digest
    CHECK (prc <> '200' OR request_digest IS NOT NULL);
CREATE UNIQUE INDEX orders_by_order_id_digest
    ON orders (store_uid, order_id, request_digest, (CASE WHEN prc = '200' THEN 0 END));
DROP INDEX orders_by_order_id_request;
