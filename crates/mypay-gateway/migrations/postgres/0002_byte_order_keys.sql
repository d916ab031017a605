-- Merchant and order ids are ASCII identifiers compared for equality and kept in index
-- order only to be found again: byte order ("C") compares them with memcmp instead of
-- the database locale's strcoll, which every order insert pays for in two indexes.
-- Changing the collation rebuilds the indexes on these columns.
ALTER TABLE orders
    ALTER COLUMN store_uid TYPE TEXT COLLATE "C",
    ALTER COLUMN order_id TYPE TEXT COLLATE "C";
ALTER TABLE notices
    ALTER COLUMN store_uid TYPE TEXT COLLATE "C";
