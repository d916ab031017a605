-- One index for both jobs of (merchant, order id): finding an id's transactions, and
-- keeping at most one unpaid order per request (SPEC §4: the same request again while
-- the first is unpaid is that transaction). Its last column is 0 while the order is
-- unpaid and NULL once it is not; NULLs never collide, so only unpaid orders of the same
-- request do. Every new order is written into one index fewer.
CREATE UNIQUE INDEX orders_by_order_id_request
    ON orders (store_uid, order_id, md5(request), (CASE WHEN prc = '200' THEN 0 END));
DROP INDEX orders_one_unpaid_request;
DROP INDEX orders_by_order_id;
