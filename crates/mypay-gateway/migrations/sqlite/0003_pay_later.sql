-- Pay-later tools (CVS codes, barcodes, virtual accounts, WebATM): what the consumer was
-- given to pay with, and until when.
ALTER TABLE orders ADD COLUMN pay_deadline INTEGER;
ALTER TABLE orders ADD COLUMN result_content_type TEXT;
ALTER TABLE orders ADD COLUMN result_content TEXT;
ALTER TABLE orders ADD COLUMN bank_id TEXT;
