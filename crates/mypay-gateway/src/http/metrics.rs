//! What `/metrics` tells Prometheus: requests by command and answer code, their
//! latency, new-order commit batch sizes, and, read from the database at each scrape,
//! the outbox's depth and age and the timers due and their lag.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// `api/orders` and the other commands; `unopened` when the request could not be
    /// opened; `paypage`, `sandbox`, `admin` or `other` for the pages.
    command: &'static str,
    /// The document's answer code (`200`, `B200`, `100`, …) for API requests, the HTTP
    /// status for pages.
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabel {
    command: &'static str,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

fn batch_histogram() -> Histogram {
    // 1 to 1024 orders.
    Histogram::new(exponential_buckets(1.0, 2.0, 11))
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<CommandLabel, Histogram, fn() -> Histogram>,
    commit_batches: Histogram,
    outbox_depth: Gauge,
    outbox_oldest: Gauge,
    timers_due: Gauge,
    timers_lag: Gauge,
}

/// The gateway's metrics, cloned freely.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("mypay");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<CommandLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let commit_batches = batch_histogram();
        let (outbox_depth, outbox_oldest, timers_due, timers_lag) = Default::default();
        registry.register(
            "requests",
            "Requests answered, by command and answer code",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to answer a request, by command",
            latency.clone(),
        );
        registry.register(
            "order_commit_batch_size",
            "New orders written per commit",
            commit_batches.clone(),
        );
        registry.register(
            "outbox_due_notices",
            "Notices with an attempt due now",
            Gauge::clone(&outbox_depth),
        );
        registry.register(
            "outbox_oldest_due_seconds",
            "How late the most overdue notice attempt is (business clock)",
            Gauge::clone(&outbox_oldest),
        );
        registry.register(
            "timers_due",
            "Timers due now and not yet run",
            Gauge::clone(&timers_due),
        );
        registry.register(
            "timers_lag_seconds",
            "How late the most overdue timer is (business clock)",
            Gauge::clone(&timers_lag),
        );
        Metrics(Arc::new(Inner {
            registry,
            requests,
            latency,
            commit_batches,
            outbox_depth,
            outbox_oldest,
            timers_due,
            timers_lag,
        }))
    }
}

impl Metrics {
    /// One request answered. (Labels are static strings: counting a request allocates
    /// nothing.)
    pub fn answered(&self, command: &'static str, code: &'static str, elapsed: Duration) {
        self.0
            .requests
            .get_or_create(&RequestLabels { command, code })
            .inc();
        self.0
            .latency
            .get_or_create(&CommandLabel { command })
            .observe(elapsed.as_secs_f64());
    }

    /// One commit of `orders` new orders.
    pub fn committed(&self, orders: usize) {
        self.0.commit_batches.observe(orders as f64);
    }

    /// The text exposition, with the backlog as read now.
    pub fn render(&self, backlog: &crate::store::Backlog) -> String {
        self.0.outbox_depth.set(backlog.notices_due);
        self.0.outbox_oldest.set(backlog.oldest_notice_secs);
        self.0.timers_due.set(backlog.timers_due);
        self.0.timers_lag.set(backlog.oldest_timer_secs);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.0.registry);
        out
    }
}

/// The answer codes the gateway gives (附錄二 and the `B` codes of refunds and
/// captures); any other reads as `other`, so a label's values stay few.
const CODES: [&str; 12] = [
    "200", "100", "300", "400", "B200", "B500", "A0001", "245", "250", "230", "220", "600",
];

/// The answer code of an API answer: the first `"code":"…"` of its JSON. (Reading it
/// back is cheaper than threading it through every command.)
pub fn answer_code(json: &[u8]) -> &'static str {
    const KEY: &[u8] = b"\"code\":\"";
    // Built once: building a searcher costs more than most searches.
    static FINDER: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(KEY));
    let Some(at) = FINDER.find(json) else {
        return "none";
    };
    let rest = &json[at + KEY.len()..];
    let code = memchr::memchr(b'"', rest).map_or(rest, |end| &rest[..end]);
    CODES
        .into_iter()
        .find(|c| c.as_bytes() == code)
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_codes_are_read_from_the_json() {
        assert_eq!(answer_code(br#"{"code":"B200","msg":"ok"}"#), "B200");
        assert_eq!(answer_code(br#"{"msg":"x","code":"100"}"#), "100");
        assert_eq!(answer_code(b"{}"), "none");
        assert_eq!(answer_code(br#"{"code":"<script>"}"#), "other");
    }

    #[test]
    fn the_exposition_names_every_family() {
        let m = Metrics::default();
        m.answered("api/orders", "200", Duration::from_millis(3));
        m.committed(12);
        let text = m.render(&crate::store::Backlog {
            notices_due: 4,
            oldest_notice_secs: 30,
            timers_due: 2,
            oldest_timer_secs: 5,
        });
        for line in [
            r#"mypay_requests_total{command="api/orders",code="200"} 1"#,
            "mypay_outbox_due_notices 4",
            "mypay_outbox_oldest_due_seconds 30",
            "mypay_timers_due 2",
            "mypay_timers_lag_seconds 5",
            "mypay_order_commit_batch_size_count 1",
            r#"mypay_request_duration_seconds_count{command="api/orders"} 1"#,
        ] {
            assert!(text.contains(line), "{line} missing in:\n{text}");
        }
    }
}
