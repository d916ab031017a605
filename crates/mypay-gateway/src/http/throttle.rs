//! Slowing down whoever keeps sending requests that do not open: per sender (`store_uid`,
//! `agent_uid`) and per client address. Only failing requests count, and only failing
//! requests are answered "too many failed requests": a request that opens is always
//! served, so nobody can lock a merchant out by knowing its `store_uid`. A throttled
//! sender's answers no longer differ at all, which leaves a forger nothing to learn.
//!
//! Real time, in memory: each node throttles what it sees.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures within [`WINDOW`] that start a throttle.
pub const LIMIT: u32 = 20;
pub const WINDOW: Duration = Duration::from_secs(60);
/// How long a throttle lasts.
pub const BLOCK: Duration = Duration::from_secs(600);
/// Entries kept at most; an attacker sending from many addresses must not grow the table
/// without end.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Source {
    Sender(String),
    Address(IpAddr),
}

struct Entry {
    window_start: Instant,
    failures: u32,
    blocked_until: Option<Instant>,
}

#[derive(Default)]
pub struct FailureThrottle {
    entries: Mutex<HashMap<Source, Entry>>,
}

/// What one failure changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// The sender or the address is throttled now.
    pub throttled: bool,
    /// This failure started the sender's throttle (tell its technical contact, once).
    pub sender_newly_throttled: bool,
}

impl FailureThrottle {
    /// Count one failed request of `sender` from `address`.
    pub fn fail(&self, sender: Option<&str>, address: Option<IpAddr>, now: Instant) -> Failure {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.blocked_until.is_some_and(|b| b > now));
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let mut outcome = Failure {
            throttled: false,
            sender_newly_throttled: false,
        };
        let sources = sender
            .filter(|s| !s.is_empty())
            .map(|s| Source::Sender(s.to_owned()))
            .into_iter()
            .chain(address.map(Source::Address));
        for source in sources {
            let is_sender = matches!(source, Source::Sender(_));
            let entry = entries.entry(source).or_insert(Entry {
                window_start: now,
                failures: 0,
                blocked_until: None,
            });
            if entry.blocked_until.is_some_and(|b| b <= now) {
                entry.blocked_until = None;
                entry.failures = 0;
                entry.window_start = now;
            }
            if now.duration_since(entry.window_start) > WINDOW {
                entry.window_start = now;
                entry.failures = 0;
            }
            entry.failures = entry.failures.saturating_add(1);
            if entry.blocked_until.is_none() && entry.failures > LIMIT {
                entry.blocked_until = Some(now + BLOCK);
                outcome.sender_newly_throttled |= is_sender;
            }
            outcome.throttled |= entry.blocked_until.is_some();
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_past_the_limit_throttle_for_a_while_and_alert_once() {
        let throttle = FailureThrottle::default();
        let t0 = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        for _ in 0..LIMIT {
            assert!(!throttle.fail(Some("289151880002"), Some(ip), t0).throttled);
        }
        let first = throttle.fail(Some("289151880002"), Some(ip), t0);
        assert!(first.throttled && first.sender_newly_throttled);
        let again = throttle.fail(Some("289151880002"), None, t0);
        assert!(again.throttled && !again.sender_newly_throttled);
        // Another sender from another address is not affected.
        assert!(!throttle.fail(Some("100000000001"), None, t0).throttled);
        // The address alone is throttled too.
        assert!(throttle.fail(Some("100000000002"), Some(ip), t0).throttled);
        let later = t0 + BLOCK + Duration::from_secs(1);
        assert!(!throttle.fail(Some("289151880002"), None, later).throttled);
    }

    #[test]
    fn failures_spread_beyond_the_window_do_not_add_up() {
        let throttle = FailureThrottle::default();
        let t0 = Instant::now();
        for round in 0..3 {
            let at = t0 + (WINDOW + Duration::from_secs(1)) * round;
            for i in 0..LIMIT {
                assert!(
                    !throttle.fail(Some("289151880002"), None, at).throttled,
                    "{round} {i}"
                );
            }
        }
    }
}
