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
}

impl Metrics {
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

    /// `n` queue items were routed to `vendor`.
    pub fn routed(&self, vendor: &str, n: u64) {
        if let Ok(mut m) = self.routed.lock() {
            *m.entry(vendor.to_string()).or_insert(0) += n;
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
            "# HELP gatewayd_ready Whether the daemon takes files.\n# TYPE gatewayd_ready gauge\ngatewayd_ready {}",
            u8::from(ready)
        );
        s
    }
}
