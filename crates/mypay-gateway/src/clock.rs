//! The one clock every timed rule reads (payment deadlines, notice retries, `A0001`
//! resolution, recurring charges, key expiry).
//!
//! In sandbox mode it is a *test clock*: the real time plus an offset that
//! `POST /sandbox/clock/advance` moves forward, so a merchant's test can jump days ahead
//! and watch what falls due happen in order. Tests may also freeze it at a fixed instant.
//! Handlers read it once at the edge and pass `now` down.

use jiff::Timestamp;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

/// The test clock moves at most a century ahead: far enough for any schedule, and far
/// from the limits of timestamps.
pub const MAX_OFFSET_SECONDS: i64 = 100 * 366 * 24 * 3600;

#[derive(Clone, Debug)]
pub struct Clock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Microseconds added to the system time.
    offset_us: AtomicI64,
    /// When set (not `i64::MIN`), the clock stands still at this instant plus the offset.
    frozen_at_us: AtomicI64,
    advanceable: bool,
}

impl Clock {
    /// The real time; cannot be moved (production).
    pub fn system() -> Clock {
        Clock::build(false, None)
    }

    /// The real time plus a movable offset (sandbox).
    pub fn test() -> Clock {
        Clock::build(true, None)
    }

    /// A movable clock standing still at `at` (tests that want exact times).
    pub fn frozen(at: Timestamp) -> Clock {
        Clock::build(true, Some(at))
    }

    /// A clock of its own beside this one: the same time base (the system time, or the
    /// instant this one is frozen at), offset `offset_us`, moved apart from this one.
    pub fn sibling(&self, offset_us: i64) -> Clock {
        let clock = Clock {
            inner: Arc::new(Inner {
                offset_us: AtomicI64::new(0),
                frozen_at_us: AtomicI64::new(self.inner.frozen_at_us.load(Ordering::Acquire)),
                advanceable: self.inner.advanceable,
            }),
        };
        clock.restore(offset_us, i64::MIN);
        clock
    }

    /// The time base without the offset, in microseconds: what a stored offset is added to.
    pub fn base_micros(&self) -> i64 {
        self.now()
            .as_microsecond()
            .saturating_sub(self.offset_micros())
    }

    /// What "now" is for work that may belong to a merchant with a clock of its own.
    pub fn reading(&self) -> Reading {
        let now = self.now();
        Reading {
            shared: now,
            offset_us: self.offset_micros(),
        }
    }

    fn build(advanceable: bool, frozen: Option<Timestamp>) -> Clock {
        Clock {
            inner: Arc::new(Inner {
                offset_us: AtomicI64::new(0),
                frozen_at_us: AtomicI64::new(frozen.map_or(i64::MIN, |t| t.as_microsecond())),
                advanceable,
            }),
        }
    }

    pub fn now(&self) -> Timestamp {
        let frozen = self.inner.frozen_at_us.load(Ordering::Acquire);
        let base = if frozen == i64::MIN {
            Timestamp::now().as_microsecond()
        } else {
            frozen
        };
        let us = base.saturating_add(self.inner.offset_us.load(Ordering::Acquire));
        Timestamp::from_microsecond(us).unwrap_or(Timestamp::MAX)
    }

    /// Whether this clock can be moved (the sandbox's, and tests').
    pub fn is_advanceable(&self) -> bool {
        self.inner.advanceable
    }

    /// The offset in microseconds.
    pub fn offset_micros(&self) -> i64 {
        self.inner.offset_us.load(Ordering::Acquire)
    }

    /// Restore a stored state at start: the stored offset, raised if need be so that the
    /// clock shows at least `high_water_us`, the latest instant it showed before (the
    /// system time may have gone back meanwhile). Never moves the clock back.
    pub fn restore(&self, offset_us: i64, high_water_us: i64) {
        if !self.inner.advanceable {
            return;
        }
        let base = self.now().as_microsecond() - self.offset_micros();
        let needed = high_water_us.saturating_sub(base);
        let target = offset_us
            .max(needed)
            .clamp(0, MAX_OFFSET_SECONDS * 1_000_000);
        self.inner.offset_us.fetch_max(target, Ordering::AcqRel);
    }

    pub fn offset_seconds(&self) -> i64 {
        self.inner.offset_us.load(Ordering::Acquire) / 1_000_000
    }

    /// The offset a move of `seconds` forward adds, in microseconds, if this clock may
    /// make it: `None` when it cannot move, `seconds` is negative, or the total offset
    /// would pass [`MAX_OFFSET_SECONDS`].
    pub fn step(&self, seconds: i64) -> Option<i64> {
        if !self.inner.advanceable || seconds < 0 {
            return None;
        }
        let us = seconds.checked_mul(1_000_000)?;
        self.offset_micros()
            .checked_add(us)
            .filter(|o| *o <= MAX_OFFSET_SECONDS * 1_000_000)
            .map(|_| us)
    }
}

/// The shared clock's reading, for the store to compare stored due times with: a
/// merchant with a clock of its own is due at the same time base plus its stored offset
/// (`merchant_clocks`), every other merchant at `shared`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reading {
    pub shared: Timestamp,
    /// The shared clock's offset (µs): `shared` minus it is the time base.
    pub offset_us: i64,
}

/// A reading of a clock with no offset (the system time, or a test's instant).
impl From<Timestamp> for Reading {
    fn from(shared: Timestamp) -> Reading {
        Reading {
            shared,
            offset_us: 0,
        }
    }
}

impl Reading {
    pub fn base_micros(&self) -> i64 {
        self.shared.as_microsecond().saturating_sub(self.offset_us)
    }
}

/// The sandbox's clocks: the shared one, and those of merchants created with a clock of
/// their own (`POST /sandbox/merchants`), so that tests side by side on one sandbox never
/// move each other's time. Every time-dependent rule asks for the clock of the merchant
/// it acts for; a merchant without a clock of its own gets the shared one.
#[derive(Clone, Debug)]
pub struct Clocks {
    shared: Clock,
    own: Arc<RwLock<HashMap<String, Clock>>>,
}

impl Clocks {
    pub fn new(shared: Clock) -> Clocks {
        Clocks {
            shared,
            own: Default::default(),
        }
    }

    /// The installation's clock, for merchants without one of their own (and dealers).
    pub fn shared(&self) -> &Clock {
        &self.shared
    }

    /// The clock `store_uid` runs on.
    pub fn of(&self, store_uid: &str) -> Clock {
        self.own_clock(store_uid)
            .unwrap_or_else(|| self.shared.clone())
    }

    /// Now, for `store_uid`.
    pub fn now_for(&self, store_uid: &str) -> Timestamp {
        match self.own_clock(store_uid) {
            Some(clock) => clock.now(),
            None => self.shared.now(),
        }
    }

    /// `store_uid`'s own clock, if it has one.
    pub fn own_clock(&self, store_uid: &str) -> Option<Clock> {
        // A poisoned lock only means a panic elsewhere while holding it; the map is intact.
        let own = self.own.read().unwrap_or_else(|e| e.into_inner());
        own.get(store_uid).cloned()
    }

    /// Learn of, or follow, a merchant's own clock as stored: never moves it back.
    pub fn follow(&self, store_uid: &str, offset_us: i64, high_water_us: i64) -> Clock {
        if let Some(clock) = self.own_clock(store_uid) {
            clock.restore(offset_us, high_water_us);
            return clock;
        }
        let mut own = self.own.write().unwrap_or_else(|e| e.into_inner());
        let clock = own
            .entry(store_uid.to_owned())
            .or_insert_with(|| self.shared.sibling(offset_us))
            .clone();
        clock.restore(offset_us, high_water_us);
        clock
    }
}

/// Business dates and times are Asia/Taipei (SPEC §2).
pub mod taipei {
    use jiff::Timestamp;
    use jiff::tz::TimeZone;

    fn zone() -> TimeZone {
        TimeZone::get("Asia/Taipei").unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(8)))
    }

    /// `YYYYMMDDHHmmss`, the document's `finishtime` format.
    pub fn datetime14(t: Timestamp) -> String {
        t.to_zoned(zone()).strftime("%Y%m%d%H%M%S").to_string()
    }

    /// The business date of `t`.
    pub fn date(t: Timestamp) -> jiff::civil::Date {
        t.to_zoned(zone()).date()
    }

    /// 00:00 in Taipei on `date` (the start of that business day).
    pub fn start_of(date: jiff::civil::Date) -> Timestamp {
        date.to_zoned(zone())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MAX)
    }

    /// `YYYYMMDD`.
    pub fn date8(t: Timestamp) -> String {
        t.to_zoned(zone()).strftime("%Y%m%d").to_string()
    }

    /// The next 00:00 in Taipei strictly after `t`: when the nightly batches run (refunds,
    /// batch captures).
    pub fn next_midnight(t: Timestamp) -> Timestamp {
        let zoned = t.to_zoned(zone());
        zoned
            .date()
            .tomorrow()
            .ok()
            .and_then(|d| d.to_zoned(zone()).ok())
            .map(|z| z.timestamp())
            // Only at the end of jiff's range; a day later is then as good as midnight.
            .unwrap_or_else(|| {
                t.saturating_add(jiff::SignedDuration::from_hours(24))
                    .unwrap_or(t)
            })
    }

    /// `YYYYMMDD` of the day `days` after `t` (Taipei).
    pub fn date8_after_days(t: Timestamp, days: i64) -> String {
        let later = t
            .saturating_add(jiff::SignedDuration::from_hours(24 * days))
            .unwrap_or(t);
        date8(later)
    }

    /// `YYYY-MM-DD HH:MM:SS` for people (the PayPage, the dashboard).
    pub fn display(t: Timestamp) -> String {
        t.to_zoned(zone()).strftime("%Y-%m-%d %H:%M:%S").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nightly_batch_is_the_next_taipei_midnight() {
        // 2026-03-10 23:59:59 in Taipei is 15:59:59 UTC.
        let late: Timestamp = "2026-03-10T15:59:59Z".parse().expect("timestamp");
        assert_eq!(
            taipei::next_midnight(late).to_string(),
            "2026-03-10T16:00:00Z"
        );
        let midnight: Timestamp = "2026-03-10T16:00:00Z".parse().expect("timestamp");
        assert_eq!(
            taipei::next_midnight(midnight).to_string(),
            "2026-03-11T16:00:00Z",
            "strictly after"
        );
        assert_eq!(taipei::date8_after_days(midnight, 7), "20260318");
    }

    #[test]
    fn a_test_clock_moves_forward_and_a_system_clock_does_not() {
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().expect("timestamp");
        let clock = Clock::frozen(at);
        assert_eq!(clock.now(), at);
        let by = clock.step(300).expect("movable");
        clock.restore(clock.offset_micros() + by, i64::MIN);
        assert_eq!(clock.now().as_second(), at.as_second() + 300);
        assert!(Clock::system().step(1).is_none());
        assert!(clock.step(-1).is_none());
        assert!(clock.step(i64::MAX).is_none());
        assert!(
            clock.step(MAX_OFFSET_SECONDS).is_none(),
            "past a century in total"
        );
        assert_eq!(
            clock.now().as_second(),
            at.as_second() + 300,
            "a refused move changes nothing"
        );
    }

    #[test]
    fn a_merchants_own_clock_moves_apart_from_the_shared_one() {
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().expect("timestamp");
        let clocks = Clocks::new(Clock::frozen(at));
        let shared = clocks.shared().clone();
        shared.restore(3_600_000_000, i64::MIN);
        // Starts where the shared clock stands, then moves on its own.
        let own = clocks.follow("100000000001", shared.offset_micros(), i64::MIN);
        assert_eq!(own.now(), shared.now());
        let by = own.step(86_400).expect("movable");
        own.restore(own.offset_micros() + by, i64::MIN);
        assert_eq!(
            clocks.now_for("100000000001").as_second(),
            at.as_second() + 3_600 + 86_400
        );
        assert_eq!(
            clocks.now_for("398800730001"),
            shared.now(),
            "others: the shared clock"
        );
        assert_eq!(
            shared.now().as_second(),
            at.as_second() + 3_600,
            "the shared one stayed"
        );
        // Following a stored state never moves it back.
        clocks.follow("100000000001", 0, i64::MIN);
        assert_eq!(own.now().as_second(), at.as_second() + 3_600 + 86_400);
        let reading = shared.reading();
        assert_eq!(reading.base_micros(), at.as_microsecond());
    }

    #[test]
    fn taipei_is_eight_hours_ahead() {
        let at: Timestamp = "2020-02-27T08:54:36Z".parse().expect("timestamp");
        assert_eq!(taipei::datetime14(at), "20200227165436");
        assert_eq!(taipei::date8(at), "20200227");
    }
}
