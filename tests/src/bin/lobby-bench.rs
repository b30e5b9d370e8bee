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
//! - idle streams: resident memory of the release `lobby` per idle SSE stream at 10k and 50k
//!   streams (needs `LOBBY_RELEASE_BIN`, which `make bench` builds and sets).
//!
//! - cluster: 3 `lobby` processes on one Redis, 500 guests at a combined 100 messages/s for 60 s,
//!   every request of a guest on the next instance, after the same run against one instance alone:
//!   Mews requests per 30 s against 160, zero 429s, every message once and in order, every staff
//!   reply shown (p95), Redis commands per guest message and the latency cluster mode adds.
//!
//! `lobby-bench cost|load|restart|latency|quiet|idle|cluster` runs one of them (`latency` both latency
//! runs); no argument runs all. A failed run is reported and the others still run; the exit status
//! is 1 if any failed.

use std::time::Duration;

use lobby_e2e::{
    cluster::{self, ClusterLoad},
    cost::{self, Cost},
    latency::{self, Latency, Quiet},
    load::{self, Load},
    restart::{self, Restart},
};

const RUNS: [&str; 7] = ["cost", "load", "restart", "latency", "quiet", "idle", "cluster"];

/// Runs one bench on its own task: a failed assertion is reported and the next bench still runs.
async fn bench<F: Future<Output = ()> + Send + 'static>(title: &str, failed: &mut Vec<String>, f: F) {
    println!("== {title} ==");
    if tokio::spawn(f).await.is_err() {
        println!("FAILED: {title}");
        failed.push(title.to_owned());
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    if !which.is_empty() && !RUNS.contains(&which.as_str()) {
        eprintln!("usage: lobby-bench [{}]  (latency runs the quiet variant too)", RUNS.join("|"));
        std::process::exit(2);
    }
    let runs = |name: &str| which.is_empty() || which == name;
    let mut failed = Vec::new();
    if runs("cost") {
        let title = "cost: 10, 100, 1000 live threads × 0.1, 1, 10 messages/s per 100 threads, 30 s windows";
        bench(title, &mut failed, async {
            cost::run(Cost {
                threads: vec![10, 100, 1000],
                rates_per_100: vec![0.1, 1.0, 10.0],
                warm_up: Duration::from_secs(5),
                window: Duration::from_secs(30),
            })
            .await;
        })
        .await;
    }
    if runs("load") {
        // 60 messages per guest over 5 min, one every 5 s: inside the per-conversation limit
        // (burst 10, then one per 3 s), which stays as configured by default.
        bench("load: 500 guests, 100 messages/s for 5 minutes", &mut failed, async {
            let r = load::run(Load { guests: 500, rate_per_sec: 100, seconds: 300 }).await;
            println!(
                "load: {} messages, {:.1} per messages/add, {:.0} % of the Mews budget, threads created in {:.1} s, drained in {:.1} s",
                r.messages,
                r.messages_per_add,
                100.0 * r.budget_share_used,
                r.created_in.as_secs_f64(),
                r.drained_in.as_secs_f64()
            );
        })
        .await;
    }
    if runs("restart") {
        bench("restart: the proxy restarts under 500 open streams while staff reply", &mut failed, async {
            restart::run(Restart { guests: 500 }).await;
        })
        .await;
    }
    if runs("latency") {
        bench("reply latency: 300 staff replies over 60 s, 50 conversations", &mut failed, async {
            latency::run(Latency { guests: 50, replies: 300, every: Duration::from_millis(200) }).await;
        })
        .await;
    }
    if runs("latency") || runs("quiet") {
        let title = "quiet reply latency: 50 conversations quiet for 3 min, one reply each over 60 s";
        bench(title, &mut failed, async {
            latency::run_quiet(Quiet { guests: 50, quiet: Duration::from_secs(180), over: Duration::from_secs(60) })
                .await;
        })
        .await;
    }
    if runs("idle") {
        bench("idle SSE streams: resident memory of the release lobby", &mut failed, async {
            let exe = std::env::var("LOBBY_RELEASE_BIN").unwrap_or_else(|_| "target/release/lobby".into());
            let steps: Vec<usize> = match std::env::var("LOBBY_IDLE_STEPS") {
                Ok(v) => v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
                Err(_) => vec![10_000, 50_000],
            };
            lobby_e2e::idle::run(std::path::Path::new(&exe), &steps).await;
        })
        .await;
    }
    if runs("cluster") {
        let title = "cluster: 3 instances on one Redis, 500 guests, 100 messages/s for 60 s, requests round-robin";
        bench(title, &mut failed, async {
            let exe = cluster::lobby_exe();
            let shape =
                |instances, clustered| ClusterLoad { instances, clustered, guests: 500, rate_per_sec: 100, seconds: 60 };
            // The reference first, so that its figures are printed even when the cluster's
            // assertions fail.
            println!("-- one instance alone, the reference for the added latency --");
            let a = cluster::run_load(&exe, shape(1, false)).await;
            println!("-- 3 instances on one Redis --");
            let c = cluster::run_load(&exe, shape(3, true)).await;
            println!(
                "cluster: {} messages; most Mews requests in 30 s {} of {} (alone: {}); staff reply p95 {} ms (alone {} ms); \
                 send round trip p50/p95 {}/{} ms (alone {}/{} ms: {:+}/{:+} ms); Redis commands per guest message {:.1} \
                 ({:.1} net of the idle {:.1}/s)",
                c.messages,
                c.windows.max_sliding,
                cluster::BUDGET_PER_30S,
                a.windows.max_sliding,
                c.reply_p95,
                a.reply_p95,
                c.send_p50,
                c.send_p95,
                a.send_p50,
                a.send_p95,
                c.send_p50 as i128 - a.send_p50 as i128,
                c.send_p95 as i128 - a.send_p95 as i128,
                c.redis_per_message,
                c.redis_per_message_net,
                c.redis_idle_per_sec
            );
            a.assert_guests_wait_little();
            c.assert_guests_wait_little();
        })
        .await;
    }
    if !failed.is_empty() {
        println!("lobby-bench: {} failed: {}", failed.len(), failed.join("; "));
        std::process::exit(1);
    }
}
