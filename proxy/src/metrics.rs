//! Prometheus metrics, kept as plain atomics and rendered by hand in the text exposition format:
//! a handful of counters and gauges does not need a metrics framework.
//!
//! Exposed at `/metrics`: upstream calls by operation, 429s, upstream errors, guest-message queue
//! depth, messages per upstream batch, live threads, SSE connections, and the staff-reply
//! latency (Mews `CreatedUtc` → SSE publish) as a histogram.

use std::{
    fmt::Write,
    sync::atomic::{AtomicI64, AtomicU64, Ordering},
};

const OPS: [&str; 4] = ["messageThreads/add", "messageThreads/getAll", "messages/add", "messages/getAll"];
/// Upper bounds of the reply-latency buckets, in milliseconds.
const LATENCY_BUCKETS_MS: [u64; 10] = [250, 500, 1000, 1500, 2000, 3000, 5000, 10_000, 60_000, 300_000];

#[derive(Debug, Default)]
pub struct Metrics {
    upstream_calls: [AtomicU64; 4],
    pub upstream_429: AtomicU64,
    pub upstream_errors: AtomicU64,
    /// Guest-facing reads refused because the budget could not serve them in time (503).
    pub upstream_busy: AtomicU64,
    pub queue_depth: AtomicI64,
    pub batches: AtomicU64,
    pub guest_messages: AtomicU64,
    pub staff_replies: AtomicU64,
    pub sse_connections: AtomicI64,
    /// Cluster mode: tokens whose poller lease this instance holds.
    pub leases_held: AtomicI64,
    /// Cluster mode: guest messages queued for another instance, the token's sender.
    pub sends_queued: AtomicU64,
    /// Cluster mode: queued guest messages this instance, as a token's sender, took over.
    pub sends_taken: AtomicU64,
    pub webhooks_received: AtomicU64,
    pub webhooks_rejected: AtomicU64,
    latency_buckets: [AtomicU64; 10],
    latency_count: AtomicU64,
    latency_sum_ms: AtomicU64,
}

impl Metrics {
    pub fn upstream_call(&self, op: &str) {
        if let Some(i) = OPS.iter().position(|o| *o == op) {
            self.upstream_calls[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn upstream_calls_total(&self) -> u64 {
        self.upstream_calls.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    pub fn observe_reply_latency(&self, ms: u64) {
        for (i, bound) in LATENCY_BUCKETS_MS.iter().enumerate() {
            if ms <= *bound {
                self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// Renders the exposition text; `live_threads` and `budget` are read from elsewhere.
    pub fn render(&self, live_threads: usize, budget: &[(String, usize, usize)]) -> String {
        let mut s = String::new();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        s.push_str("# HELP lobby_upstream_requests_total Requests sent to Mews, by operation.\n");
        s.push_str("# TYPE lobby_upstream_requests_total counter\n");
        for (i, op) in OPS.iter().enumerate() {
            let _ =
                writeln!(s, "lobby_upstream_requests_total{{operation=\"{op}\"}} {}", load(&self.upstream_calls[i]));
        }
        let counters = [
            ("lobby_upstream_429_total", "429 answers from Mews.", load(&self.upstream_429)),
            (
                "lobby_upstream_busy_total",
                "Guest reads answered 503 because the budget was busy.",
                load(&self.upstream_busy),
            ),
            ("lobby_upstream_errors_total", "Other failed Mews calls.", load(&self.upstream_errors)),
            ("lobby_upstream_batches_total", "messages/add batches sent.", load(&self.batches)),
            ("lobby_guest_messages_total", "Guest messages accepted by Mews.", load(&self.guest_messages)),
            ("lobby_staff_replies_total", "Staff replies pushed to guests.", load(&self.staff_replies)),
            (
                "lobby_cluster_sends_queued_total",
                "Guest messages queued for the token's sender on another instance.",
                load(&self.sends_queued),
            ),
            (
                "lobby_cluster_sends_taken_total",
                "Queued guest messages taken over to send, as a token's sender.",
                load(&self.sends_taken),
            ),
            ("lobby_webhooks_received_total", "Authenticated Mews webhooks.", load(&self.webhooks_received)),
            ("lobby_webhooks_rejected_total", "Webhooks rejected for a bad token.", load(&self.webhooks_rejected)),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        }
        let gauges = [
            ("lobby_queue_depth", "Guest messages waiting for Mews.", self.queue_depth.load(Ordering::Relaxed)),
            ("lobby_sse_connections", "Open SSE streams.", self.sse_connections.load(Ordering::Relaxed)),
            ("lobby_live_threads", "Threads with at least one connected guest.", live_threads as i64),
            (
                "lobby_poller_leases_held",
                "Cluster mode: tokens this instance polls (it holds their lease).",
                self.leases_held.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        s.push_str("# HELP lobby_upstream_budget_used Requests in the current 30 s window, and the allowed number.\n");
        s.push_str("# TYPE lobby_upstream_budget_used gauge\n");
        for (property, used, cap) in budget {
            let _ = writeln!(s, "lobby_upstream_budget_used{{property=\"{property}\"}} {used}");
            let _ = writeln!(s, "lobby_upstream_budget_capacity{{property=\"{property}\"}} {cap}");
        }
        s.push_str("# HELP lobby_reply_latency_seconds Staff reply created in Mews until pushed to the guest.\n");
        s.push_str("# TYPE lobby_reply_latency_seconds histogram\n");
        for (i, bound) in LATENCY_BUCKETS_MS.iter().enumerate() {
            let _ = writeln!(
                s,
                "lobby_reply_latency_seconds_bucket{{le=\"{}\"}} {}",
                *bound as f64 / 1000.0,
                load(&self.latency_buckets[i])
            );
        }
        let count = load(&self.latency_count);
        let _ = writeln!(s, "lobby_reply_latency_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(s, "lobby_reply_latency_seconds_sum {}", load(&self.latency_sum_ms) as f64 / 1000.0);
        let _ = writeln!(s, "lobby_reply_latency_seconds_count {count}");
        s
    }
}
