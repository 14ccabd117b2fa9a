//! Prometheus metrics: counters kept in memory since start, queue depths read from the
//! store at each scrape, rendered in the text exposition format.

use super::pipeline::Outcome;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The daemon's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    files_received: AtomicU64,
    files_rejected: AtomicU64,
    lease_expiries: AtomicU64,
    interchanges: [AtomicU64; 5],
    routed: Mutex<BTreeMap<String, u64>>,
    answered: Mutex<BTreeMap<String, u64>>,
    latency: Histogram,
    realtime: Mutex<BTreeMap<String, u64>>,
    realtime_latency: Histogram,
}

/// Upper bounds (seconds) of the end-to-end latency buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A Prometheus histogram with fixed buckets.
#[derive(Debug, Default)]
struct Histogram {
    counts: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    /// Sum in microseconds.
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, seconds: f64) {
        for (b, c) in LATENCY_BUCKETS.iter().zip(&self.counts) {
            if seconds <= *b {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, s: &mut String, name: &str, help: &str) {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, c) in LATENCY_BUCKETS.iter().zip(&self.counts) {
            let _ = writeln!(
                s,
                "{name}_bucket{{le=\"{b}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            s,
            "{name}_bucket{{le=\"+Inf\"}} {count}\n{name}_sum {}\n{name}_count {count}",
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
    }
}

impl Metrics {
    /// A real-time request was answered, `answer` being the answer's CORE payload type
    /// or the envelope error code, after `seconds`.
    pub fn realtime(&self, answer: &str, seconds: f64) {
        if let Ok(mut m) = self.realtime.lock() {
            *m.entry(answer.to_string()).or_insert(0) += 1;
        }
        self.realtime_latency.observe(seconds);
    }

    /// A file was taken from an inbox.
    pub fn file_received(&self) {
        self.files_received.fetch_add(1, Ordering::Relaxed);
    }

    /// A file was rejected as a whole.
    pub fn file_rejected(&self) {
        self.files_rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Leases ran out without an ack.
    pub fn lease_expired(&self, n: u64) {
        self.lease_expiries.fetch_add(n, Ordering::Relaxed);
    }

    /// An interchange was acknowledged with this outcome.
    pub fn interchange(&self, outcome: Outcome) {
        let i = Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
        self.interchanges[i].fetch_add(1, Ordering::Relaxed);
    }

    /// An interchange was acknowledged `seconds` after its file was taken.
    pub fn latency(&self, seconds: f64) {
        let h = &self.latency;
        for (b, c) in LATENCY_BUCKETS.iter().zip(&h.counts) {
            if seconds <= *b {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        h.count.fetch_add(1, Ordering::Relaxed);
        h.sum_us
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// `n` queue items were routed to `vendor`.
    pub fn routed(&self, vendor: &str, n: u64) {
        if let Ok(mut m) = self.routed.lock() {
            *m.entry(vendor.to_string()).or_insert(0) += n;
        }
    }

    /// A 278 request was answered by the gateway itself (`rejected`, `no_pa_required`,
    /// `approved`, `pended`).
    pub fn answered(&self, status: &str) {
        if let Ok(mut m) = self.answered.lock() {
            *m.entry(status.to_string()).or_insert(0) += 1;
        }
    }

    /// The exposition text; `depths` are (vendor, state, count) rows of the queue.
    pub fn render(&self, depths: &[(String, String, i64)], ready: bool) -> String {
        let mut s = String::new();
        let counter = |s: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter(
            &mut s,
            "gatewayd_files_received_total",
            "Files taken from partner inboxes.",
            self.files_received.load(Ordering::Relaxed),
        );
        counter(
            &mut s,
            "gatewayd_files_rejected_total",
            "Files rejected as a whole (empty, not X12, over a limit).",
            self.files_rejected.load(Ordering::Relaxed),
        );
        counter(
            &mut s,
            "gatewayd_lease_expiries_total",
            "Queue leases that ran out without an ack.",
            self.lease_expiries.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            s,
            "# HELP gatewayd_interchanges_total Interchanges acknowledged, by outcome.\n# TYPE gatewayd_interchanges_total counter"
        );
        for (o, c) in Outcome::ALL.iter().zip(&self.interchanges) {
            let _ = writeln!(
                s,
                "gatewayd_interchanges_total{{outcome=\"{}\"}} {}",
                o.name(),
                c.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP gatewayd_transactions_routed_total Queue items routed, by vendor.\n# TYPE gatewayd_transactions_routed_total counter"
        );
        if let Ok(m) = self.routed.lock() {
            for (v, n) in m.iter() {
                let _ = writeln!(
                    s,
                    "gatewayd_transactions_routed_total{{vendor=\"{v}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            s,
            "# HELP gatewayd_answered_total 278 requests answered by the gateway without a vendor, by answer.\n# TYPE gatewayd_answered_total counter"
        );
        if let Ok(m) = self.answered.lock() {
            for (a, n) in m.iter() {
                let _ = writeln!(s, "gatewayd_answered_total{{answer=\"{a}\"}} {n}");
            }
        }
        let _ = writeln!(
            s,
            "# HELP gatewayd_queue_depth Queue items by vendor and state (ready, leased, dead).\n# TYPE gatewayd_queue_depth gauge"
        );
        for (v, st, n) in depths {
            let _ = writeln!(
                s,
                "gatewayd_queue_depth{{vendor=\"{v}\",state=\"{st}\"}} {n}"
            );
        }
        let _ = writeln!(
            s,
            "# HELP gatewayd_latency_seconds From taking a file to its interchange's acknowledgments in the outbox.\n# TYPE gatewayd_latency_seconds histogram"
        );
        for (b, c) in LATENCY_BUCKETS.iter().zip(&self.latency.counts) {
            let _ = writeln!(
                s,
                "gatewayd_latency_seconds_bucket{{le=\"{b}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let count = self.latency.count.load(Ordering::Relaxed);
        let _ = writeln!(
            s,
            "gatewayd_latency_seconds_bucket{{le=\"+Inf\"}} {count}\ngatewayd_latency_seconds_sum {}\ngatewayd_latency_seconds_count {count}",
            self.latency.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            s,
            "# HELP gatewayd_realtime_total Real-time requests (CORE SOAP, multipart, plain X12), by answer: the CORE payload type sent back, or the envelope error code.\n# TYPE gatewayd_realtime_total counter"
        );
        if let Ok(m) = self.realtime.lock() {
            for (a, n) in m.iter() {
                let _ = writeln!(s, "gatewayd_realtime_total{{answer=\"{a}\"}} {n}");
            }
        }
        self.realtime_latency.render(
            &mut s,
            "gatewayd_realtime_seconds",
            "From a real-time request's arrival to its answer.",
        );
        let _ = writeln!(
            s,
            "# HELP gatewayd_ready Whether the daemon takes files.\n# TYPE gatewayd_ready gauge\ngatewayd_ready {}",
            u8::from(ready)
        );
        s
    }
}
