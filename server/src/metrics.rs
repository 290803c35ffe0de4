//! Counters exposed at `/metrics` in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    /// (method, route, status) → count.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// Request durations: sum in microseconds and count.
    duration_us: AtomicU64,
    duration_n: AtomicU64,
    pub transitions: AtomicU64,
    pub filings: AtomicU64,
    pub refusals: AtomicU64,
    pub notifications_sent: AtomicU64,
    pub notification_failures: AtomicU64,
}

impl Metrics {
    pub fn request(&self, method: &str, route: &str, status: u16, micros: u64) {
        *self
            .requests
            .lock()
            .expect("metrics")
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        self.duration_us.fetch_add(micros, Ordering::Relaxed);
        self.duration_n.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP metroplan_http_requests_total HTTP requests by route and status.\n# TYPE metroplan_http_requests_total counter\n");
        for ((m, r, s), n) in self.requests.lock().expect("metrics").iter() {
            let _ = writeln!(
                out,
                "metroplan_http_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{s}\"}} {n}"
            );
        }
        let sum = self.duration_us.load(Ordering::Relaxed) as f64 / 1e6;
        let n = self.duration_n.load(Ordering::Relaxed);
        let _ = write!(
            out,
            "# HELP metroplan_http_request_duration_seconds Time spent answering requests.\n# TYPE metroplan_http_request_duration_seconds summary\nmetroplan_http_request_duration_seconds_sum {sum}\nmetroplan_http_request_duration_seconds_count {n}\n"
        );
        for (name, help, v) in [
            (
                "metroplan_transitions_total",
                "Workflow transitions taken.",
                &self.transitions,
            ),
            (
                "metroplan_filings_total",
                "Applications filed.",
                &self.filings,
            ),
            (
                "metroplan_refusals_total",
                "Transitions refused by a guard or the envelope.",
                &self.refusals,
            ),
            (
                "metroplan_notifications_sent_total",
                "Notifications sent by email.",
                &self.notifications_sent,
            ),
            (
                "metroplan_notification_failures_total",
                "Failed attempts to send a notification.",
                &self.notification_failures,
            ),
        ] {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                v.load(Ordering::Relaxed)
            );
        }
        out
    }
}
