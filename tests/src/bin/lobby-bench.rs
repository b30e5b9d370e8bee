//! `make bench`: the long runs behind the figures the README quotes, with the same assertions as
//! their short versions in `make test` (`tests/tests/timed/`):
//! - load: 500 guests, a combined 100 messages/s for 60 s through one hotel's Mews connection with
//!   the real limit: zero 429s, every message exactly once and in order;
//! - reply latency: 300 staff replies over 60 s across 50 live conversations with webhooks lagging
//!   minutes: every reply arrives, p95 within 2 s.
//!
//! - idle streams: resident memory of the release `lobby` per idle SSE stream at 10k and 50k
//!   streams (needs `LOBBY_RELEASE_BIN`, which `make bench` builds and sets).
//!
//! `lobby-bench load`, `latency` or `idle` runs one of them; no argument runs all.

use std::time::Duration;

use lobby_e2e::{
    latency::{self, Latency},
    load::{self, Load},
};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    if !matches!(which.as_str(), "" | "load" | "latency" | "idle") {
        eprintln!("usage: lobby-bench [load|latency|idle]");
        std::process::exit(2);
    }
    if which.is_empty() || which == "load" {
        println!("== load: 500 guests, 100 messages/s for 60 s ==");
        let r = load::run(Load { guests: 500, rate_per_sec: 100, seconds: 60 }).await;
        println!(
            "load: {} messages, {:.1} per messages/add, {:.0} % of the Mews budget, threads created in {:.1} s, drained in {:.1} s",
            r.messages,
            r.messages_per_add,
            100.0 * r.budget_share_used,
            r.created_in.as_secs_f64(),
            r.drained_in.as_secs_f64()
        );
    }
    if which.is_empty() || which == "latency" {
        println!("== reply latency: 300 staff replies over 60 s, 50 conversations ==");
        latency::run(Latency { guests: 50, replies: 300, every: Duration::from_millis(200) }).await;
    }
    if which.is_empty() || which == "idle" {
        println!("== idle SSE streams: resident memory of the release lobby ==");
        let exe = std::env::var("LOBBY_RELEASE_BIN").unwrap_or_else(|_| "target/release/lobby".into());
        let steps: Vec<usize> = match std::env::var("LOBBY_IDLE_STEPS") {
            Ok(v) => v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
            Err(_) => vec![10_000, 50_000],
        };
        lobby_e2e::idle::run(std::path::Path::new(&exe), &steps).await;
    }
}
