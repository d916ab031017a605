-- Sandbox merchants with a test clock of their own (`POST /sandbox/merchants`), so that
-- tests side by side on one sandbox never move each other's time.
-- * `merchant_clocks`: such a merchant's offset from the time base (the system time) and
--   the latest instant its clock has shown (µs). Merchants not listed run on the shared
--   clock (`installation`).
-- * `timers.store_uid`: whose clock a timer falls due on. Timers stored before this have
--   none (''), and stay on the shared clock, as they were.
CREATE TABLE merchant_clocks (
    store_uid     TEXT PRIMARY KEY,
    offset_us     INTEGER NOT NULL,
    high_water_us INTEGER NOT NULL
);

ALTER TABLE timers ADD COLUMN store_uid TEXT NOT NULL DEFAULT '';
CREATE INDEX timers_due_by_merchant ON timers (store_uid, due_at) WHERE done_at IS NULL;
