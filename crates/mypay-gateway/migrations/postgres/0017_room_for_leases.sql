-- Room in every page for a row's next version. A notice is leased (`lease_until`,
-- `leased_by`) before each attempt and a timer before it runs; neither column is in an
-- index, so the new version can stay on its page without new index entries (a HOT
-- update), but only when the page has room, and pages filled to the brim had none:
-- every lease wrote five index entries (measured during 100,000 recurring charges'
-- notices: the lease was the costliest statement after the charges' own). Applies to
-- pages written from now on.
ALTER TABLE notices SET (fillfactor = 70);
ALTER TABLE timers SET (fillfactor = 70);
