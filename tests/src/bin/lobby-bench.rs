//! `make bench`: the long runs behind the figures the README quotes, with the same assertions as
//! their short versions in `make test` (`tests/tests/timed/`):
//! - cost: Mews requests per 30 s, polling and writes side by side, for 10, 100 and 1000 live
//!   threads × 0.1, 1 and 10 guest messages/s per 100 threads: zero 429s, every message once, the
//!   polling share flat in the message rate;
//! - load: 500 guests, a combined 100 messages/s for 5 minutes through one hotel's Mews
//!   connection with the real limit: zero 429s, every message exactly once and in order;
//! - restart: the proxy restarts under 500 open streams while staff reply: every stream resumes,
//!   every reply once, the reload's Mews calls printed and bounded;
//! - latency: 300 staff replies over 60 s across 50 live conversations, then replies to 50
//!   conversations quiet for 3 min, webhooks lagging minutes: every reply arrives, p95 within 2 s.
//!
//! `lobby-bench cost|load|restart|latency` runs one of them; no argument runs all.

use std::time::Duration;

use lobby_e2e::{
    cost::{self, Cost},
    latency::{self, Latency, Quiet},
    load::{self, Load},
    restart::{self, Restart},
};

const RUNS: [&str; 4] = ["cost", "load", "restart", "latency"];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    if !which.is_empty() && !RUNS.contains(&which.as_str()) {
        eprintln!("usage: lobby-bench [{}]", RUNS.join("|"));
        std::process::exit(2);
    }
    let runs = |name: &str| which.is_empty() || which == name;
    if runs("cost") {
        println!("== cost: 10, 100, 1000 live threads × 0.1, 1, 10 messages/s per 100 threads, 30 s windows ==");
        cost::run(Cost {
            threads: vec![10, 100, 1000],
            rates_per_100: vec![0.1, 1.0, 10.0],
            warm_up: Duration::from_secs(5),
            window: Duration::from_secs(30),
        })
        .await;
    }
    if runs("load") {
        // 60 messages per guest over 5 min, one every 5 s: inside the per-conversation limit
        // (burst 10, then one per 3 s), which stays as configured by default.
        println!("== load: 500 guests, 100 messages/s for 5 minutes ==");
        let r = load::run(Load { guests: 500, rate_per_sec: 100, seconds: 300 }).await;
        println!(
            "load: {} messages, {:.1} per messages/add, {:.0} % of the Mews budget, threads created in {:.1} s, drained in {:.1} s",
            r.messages,
            r.messages_per_add,
            100.0 * r.budget_share_used,
            r.created_in.as_secs_f64(),
            r.drained_in.as_secs_f64()
        );
    }
    if runs("restart") {
        println!("== restart: the proxy restarts under 500 open streams while staff reply ==");
        restart::run(Restart { guests: 500 }).await;
    }
    if runs("latency") {
        println!("== reply latency: 300 staff replies over 60 s, 50 conversations ==");
        latency::run(Latency { guests: 50, replies: 300, every: Duration::from_millis(200) }).await;
        println!("== quiet reply latency: 50 conversations quiet for 3 min, one reply each over 60 s ==");
        latency::run_quiet(Quiet { guests: 50, quiet: Duration::from_secs(180), over: Duration::from_secs(60) }).await;
    }
}
