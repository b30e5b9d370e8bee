//! The reply-latency run: staff answer in Mews while the simulator's webhooks lag minutes
//! (`realistic`, 2–5 min), and each reply's time from the staff post to the guest's SSE stream is
//! measured. Asserts every reply arrives and the 95th percentile is within 2 s; prints the
//! distribution.
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

/// Runs `shape` against a fresh stack; panics when a reply never arrives or p95 exceeds 2 s.
pub async fn run(shape: Latency) -> LatencyReport {
    let sim = mews_sim::Config { webhook_lag: mews_sim::WebhookLag::Realistic, ..Default::default() };
    // Every guest comes from 127.0.0.1: lift the per-address limits and the start cap.
    let stack = Stack::start_custom(Ports::any(), sim, |c| c.guest_limits = crate::one_address_for_many_guests()).await;
    let received: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut threads = Vec::new();
    for g in 0..shape.guests {
        let name = format!("Latency guest {g}");
        let (guest, started) =
            Guest::start(&stack.proxy_url, &stack.pages_url, PROPERTY, &name, Some(("c-0", "hello"))).await;
        let mut sse = guest.events(started.message.as_ref().map(|m| m.id.as_str())).await;
        let received = received.clone();
        tokio::spawn(async move {
            while let Some((_, m)) = sse.next_message(Duration::from_secs(60)).await {
                received.lock().unwrap().entry(m.text).or_insert_with(Instant::now);
            }
        });
        let id = stack.sim().recent_threads().await.into_iter().find(|t| t.original_sender == name).unwrap().id;
        threads.push(id);
    }
    let mut posted = Vec::new();
    for i in 0..shape.replies {
        let text = format!("reply {i}");
        stack.sim().staff_reply(&threads[(i * 7) % threads.len()], &text).await;
        posted.push((text, Instant::now()));
        tokio::time::sleep(shape.every).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = received.lock().unwrap().clone();
    let mut ms: Vec<u128> = posted
        .iter()
        .map(|(text, at)| got.get(text).map_or(u128::MAX, |r| r.saturating_duration_since(*at).as_millis()))
        .collect();
    ms.sort_unstable();
    let pct = |p: f64| ms[((ms.len() as f64 * p).ceil() as usize).clamp(1, ms.len()) - 1];
    let report = LatencyReport { min: ms[0], p50: pct(0.5), p90: pct(0.9), p95: pct(0.95), max: ms[ms.len() - 1] };
    println!(
        "staff reply → SSE latency over {} replies in {} conversations (webhook lag realistic): \
         min {} ms, p50 {} ms, p90 {} ms, p95 {} ms, max {} ms",
        ms.len(),
        shape.guests,
        report.min,
        report.p50,
        report.p90,
        report.p95,
        report.max
    );
    assert!(ms.iter().all(|m| *m != u128::MAX), "every reply arrived");
    assert!(report.p95 <= 2000, "p95 {} ms > 2000 ms", report.p95);
    stack.stop().await;
    report
}
