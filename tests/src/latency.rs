//! The reply-latency run: staff answer in Mews while the simulator's webhooks lag minutes
//! (`realistic`, 2–5 min), and each reply's time from the staff post to the guest's SSE stream is
//! measured. Asserts every reply arrives and the 95th percentile is within 2 s; prints the
//! distribution.
//!
//! The quiet variant ([`run_quiet`]) answers conversations in which nothing happened for minutes
//! (the "quiet conversation": no message for 3 min or more), each stream open all along:
//! such a reply must reach the guest as fast as one in an active conversation.
//!
//! `make test` runs it at the size below (`tests/tests/timed/proxy_latency.rs`); `make bench` runs
//! a longer one for the figures the README quotes (`src/bin/lobby-bench.rs`).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{PROPERTY, Ports, Stack, guest::Guest};

/// The shape of one latency run.
#[derive(Clone, Copy, Debug)]
pub struct Latency {
    /// Conversations with a live stream.
    pub guests: usize,
    /// Staff replies, spread round-robin (stride 7) over the conversations.
    pub replies: usize,
    /// Time between two staff replies.
    pub every: Duration,
}

/// Reply → SSE latency, in milliseconds.
#[derive(Debug)]
pub struct LatencyReport {
    pub min: u128,
    pub p50: u128,
    pub p90: u128,
    pub p95: u128,
    pub max: u128,
}

/// The quiet-conversation run: every conversation gets its first message, then stays quiet (no
/// message either way) for `quiet` with its stream open, as a guest with the widget open waits;
/// then one staff reply per conversation, spread evenly over `over`, so each reply lands in a
/// conversation that was quiet for at least `quiet`.
#[derive(Clone, Copy, Debug)]
pub struct Quiet {
    pub guests: usize,
    pub quiet: Duration,
    pub over: Duration,
}

type Received = Arc<Mutex<HashMap<String, Instant>>>;

/// A fresh stack with realistic webhook lag (2–5 min), every guest from 127.0.0.1 (the
/// per-address limits and the start cap lifted).
async fn lagging_stack() -> Stack {
    let sim = mews_sim::Config { webhook_lag: mews_sim::WebhookLag::Realistic, ..Default::default() };
    Stack::start_custom(Ports::any(), sim, |c| c.guest_limits = crate::one_address_for_many_guests()).await
}

/// `n` guests start a conversation with a first message and hold a live stream, whose messages
/// are recorded (text → first arrival). Returns the Mews thread ids, in guest order.
async fn open_conversations(stack: &Stack, n: usize, prefix: &str, received: &Received) -> Vec<String> {
    let mut threads = Vec::new();
    for g in 0..n {
        let name = format!("{prefix} {g}");
        let (guest, started) =
            Guest::start(&stack.proxy_url, &stack.pages_url, PROPERTY, &name, Some(("c-0", "hello"))).await;
        let mut sse = guest.events(started.message.as_ref().map(|m| m.id.as_str())).await;
        let received = received.clone();
        tokio::spawn(async move {
            while let Some((_, m)) = sse.next_message(Duration::from_secs(3600)).await {
                received.lock().unwrap().entry(m.text).or_insert_with(Instant::now);
            }
        });
        let id = stack.sim().recent_threads().await.into_iter().find(|t| t.original_sender == name).unwrap().id;
        threads.push(id);
    }
    threads
}

/// The Mews budget in use as the replies begin (requests in the last 30 s, and the capacity;
/// reads may fill at most 75 % of it and always keep 25 %).
async fn print_budget(stack: &Stack) {
    let m = stack.metrics().await;
    let used = crate::load::metric(&m, &format!("lobby_upstream_budget_used{{property=\"{PROPERTY}\"}}"));
    let cap = crate::load::metric(&m, &format!("lobby_upstream_budget_capacity{{property=\"{PROPERTY}\"}}"));
    println!("  as the replies begin, the Mews budget holds {used} of {cap} requests in the last 30 s");
}

/// The distribution of post → stream times, printed with `what`; panics when a reply never
/// arrived or p95 exceeds 2 s.
fn report(what: &str, posted: &[(String, Instant)], got: &HashMap<String, Instant>) -> LatencyReport {
    let mut ms: Vec<u128> = posted
        .iter()
        .map(|(text, at)| got.get(text).map_or(u128::MAX, |r| r.saturating_duration_since(*at).as_millis()))
        .collect();
    ms.sort_unstable();
    let pct = |p: f64| ms[((ms.len() as f64 * p).ceil() as usize).clamp(1, ms.len()) - 1];
    let report = LatencyReport { min: ms[0], p50: pct(0.5), p90: pct(0.9), p95: pct(0.95), max: ms[ms.len() - 1] };
    let missing = ms.iter().filter(|m| **m == u128::MAX).count();
    println!(
        "staff reply → SSE latency over {} replies {what}: min {} ms, p50 {} ms, p90 {} ms, p95 {} ms, max {} ms{}",
        ms.len(),
        report.min,
        report.p50,
        report.p90,
        report.p95,
        report.max,
        if missing > 0 { format!(" ({missing} never arrived)") } else { String::new() }
    );
    let slow: Vec<f64> = posted
        .iter()
        .filter(|(text, at)| got.get(text).is_none_or(|r| r.saturating_duration_since(*at) > Duration::from_secs(2)))
        .map(|(_, at)| at.saturating_duration_since(posted[0].1).as_secs_f64())
        .collect();
    if let (Some(first), Some(last)) = (slow.first(), slow.last()) {
        println!(
            "  {} replies took over 2 s, posted from {first:.1} s to {last:.1} s after the first reply",
            slow.len()
        );
    }
    assert_eq!(missing, 0, "every reply arrived");
    assert!(report.p95 <= 2000, "p95 {} ms > 2000 ms", report.p95);
    report
}

/// Runs `shape` against a fresh stack; panics when a reply never arrives or p95 exceeds 2 s.
pub async fn run(shape: Latency) -> LatencyReport {
    let stack = lagging_stack().await;
    let received: Received = Arc::default();
    let threads = open_conversations(&stack, shape.guests, "Latency guest", &received).await;
    print_budget(&stack).await;
    let mut posted = Vec::new();
    for i in 0..shape.replies {
        let text = format!("reply {i}");
        stack.sim().staff_reply(&threads[(i * 7) % threads.len()], &text).await;
        posted.push((text, Instant::now()));
        tokio::time::sleep(shape.every).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = received.lock().unwrap().clone();
    let report = report(&format!("in {} conversations (webhook lag realistic)", shape.guests), &posted, &got);
    stack.stop().await;
    report
}

/// Runs `shape` against a fresh stack: replies to conversations quiet for `shape.quiet`; panics
/// when a reply never arrives or p95 exceeds 2 s.
pub async fn run_quiet(shape: Quiet) -> LatencyReport {
    let stack = lagging_stack().await;
    let received: Received = Arc::default();
    let threads = open_conversations(&stack, shape.guests, "Quiet guest", &received).await;
    let quiet_from = Instant::now();
    println!(
        "{} conversations open with a first message each; now quiet for {:?} with their streams open",
        shape.guests, shape.quiet
    );
    tokio::time::sleep(shape.quiet).await;
    print_budget(&stack).await;
    let every = shape.over / shape.guests as u32;
    let mut posted = Vec::new();
    for (i, thread) in threads.iter().enumerate() {
        let text = format!("quiet reply {i}");
        stack.sim().staff_reply(thread, &text).await;
        posted.push((text, Instant::now()));
        tokio::time::sleep(every).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = received.lock().unwrap().clone();
    let report = report(
        &format!(
            "to {} conversations quiet for {:.0} s or more (one each, over {:?}, webhook lag realistic)",
            shape.guests,
            posted[0].1.saturating_duration_since(quiet_from).as_secs_f64(),
            shape.over
        ),
        &posted,
        &got,
    );
    stack.stop().await;
    report
}
