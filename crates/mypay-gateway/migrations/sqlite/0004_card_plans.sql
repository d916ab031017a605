-- Card instalments and bonus points (『交易類型定義』 and the JSON the notices carry), and
-- the expected payout date of a settled (600) order.
ALTER TABLE orders ADD COLUMN trans_type INTEGER NOT NULL DEFAULT 1;
ALTER TABLE orders ADD COLUMN installment TEXT;
ALTER TABLE orders ADD COLUMN redeem TEXT;
ALTER TABLE orders ADD COLUMN appropriation_date TEXT;
