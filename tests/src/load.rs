//! The load run: guests open conversations through one hotel's Mews connection with the real limit
//! (200 requests / 30 s per AccessToken), hold live streams as open widgets do, and send at a fixed
//! combined rate, round-robin. It asserts what a hotel would notice (zero 429s from Mews; every
//! message in Mews exactly once and in order per thread) and prints upstream requests used against
//! the budget and guest messages per `messages/add`.
//!
//! One body, two sizes: `make test` runs a short one (`tests/tests/timed/proxy_load.rs`) and
//! `make bench` the full one the README quotes (`src/bin/lobby-bench.rs`).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use crate::{PROPERTY, Ports, Stack, guest::Guest};

/// The shape of one load run.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub guests: usize,
    /// Guest messages per second, all guests together.
    pub rate_per_sec: usize,
    pub seconds: usize,
}

/// What a load run measured (also printed).
#[derive(Debug)]
pub struct LoadReport {
    pub created_in: Duration,
    pub drained_in: Duration,
    pub messages: u64,
    pub upstream_calls: f64,
    pub budget_share_used: f64,
    pub messages_per_add: f64,
}

/// The sum of the Prometheus samples in `m` whose line starts with `name` (labels included).
pub fn metric(m: &str, name: &str) -> f64 {
    m.lines().filter(|l| l.starts_with(name)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

/// `n` guests named `"{prefix} {i}"` start their conversations at once, each retrying a `503 busy`
/// with its start key as the widget does. Returns them in order and the number of retries.
pub async fn start_guests(stack: &Stack, n: usize, prefix: &str) -> (Vec<Guest>, u32) {
    let starts: Vec<_> = (0..n)
        .map(|g| {
            let (proxy, origin, name) = (stack.proxy_url.clone(), stack.pages_url.clone(), format!("{prefix} {g}"));
            tokio::spawn(async move {
                let (guest, _, retries) = Guest::start_retrying(&proxy, &origin, PROPERTY, &name).await;
                (guest, retries)
            })
        })
        .collect();
    gather_started(starts).await
}

/// Waits for guests started concurrently, each with its number of retries: the guests in the
/// order they were started, and all retries together.
pub async fn gather_started<G>(starts: Vec<tokio::task::JoinHandle<(G, u32)>>) -> (Vec<G>, u32) {
    let mut guests = Vec::with_capacity(starts.len());
    let mut retries = 0;
    for s in starts {
        let (g, r) = s.await.unwrap();
        guests.push(g);
        retries += r;
    }
    (guests, retries)
}

/// Runs `load` against a fresh stack and panics on a 429, a lost, a duplicated or a reordered message.
pub async fn run(load: Load) -> LoadReport {
    let Load { guests: n_guests, rate_per_sec, seconds } = load;
    assert_eq!((rate_per_sec * seconds) % n_guests, 0, "every guest sends the same number of messages");
    // All test guests come from 127.0.0.1: lift the per-address limits and the per-property cap
    // on new conversations (the per-session ones stay).
    let stack = Stack::start_custom(Ports::any(), mews_sim::Config::default(), |c| {
        c.guest_limits = crate::one_address_for_many_guests();
    })
    .await;
    let metrics = || stack.metrics();

    // Guests arrive and open their conversations (thread creation is one Mews call each); a
    // start that waits past the proxy's 15 s answers busy and is retried with its key, as the
    // widget does.
    let t0 = Instant::now();
    let (guests, start_retries) = start_guests(&stack, n_guests, "Load guest").await;
    let created_in = t0.elapsed();
    // Every guest holds a live stream, as an open widget does.
    let mut streams = Vec::new();
    for g in &guests {
        streams.push(g.events(None).await);
    }
    let before = metrics().await;

    // The combined rate, round-robin over the guests. Each guest sends as the widget's outbox
    // does: one message at a time, in order (the next when the previous is confirmed, or at its
    // due time if that is later), so the order in Mews is the guest's, whatever a request meets.
    let sent = Arc::new(AtomicU64::new(0));
    let send_retries = Arc::new(AtomicU64::new(0));
    let last_offer_ms = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let per_guest = rate_per_sec * seconds / n_guests;
    let mut tasks = Vec::new();
    for (g, guest) in guests.iter().enumerate() {
        let guest = guest.clone();
        let (sent, send_retries, last_offer_ms) = (sent.clone(), send_retries.clone(), last_offer_ms.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..per_guest {
                let due = start + Duration::from_secs_f64((n * n_guests + g) as f64 / rate_per_sec as f64);
                tokio::time::sleep_until(due.into()).await;
                last_offer_ms.fetch_max(start.elapsed().as_millis() as u64, Ordering::Relaxed);
                let retries = guest.send_retrying(&format!("m{n}"), &format!("message {n}")).await;
                send_retries.fetch_add(u64::from(retries), Ordering::Relaxed);
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let offered_in = Duration::from_millis(last_offer_ms.load(Ordering::Relaxed));
    let drained_in = start.elapsed();
    let after = metrics().await;
    drop(streams);

    let calls = metric(&after, "lobby_upstream_requests_total") - metric(&before, "lobby_upstream_requests_total");
    let adds = metric(&after, "lobby_upstream_requests_total{operation=\"messages/add\"}")
        - metric(&before, "lobby_upstream_requests_total{operation=\"messages/add\"}");
    let messages = sent.load(Ordering::Relaxed);
    let budget = 200.0 * drained_in.as_secs_f64() / 30.0;
    let report = LoadReport {
        created_in,
        drained_in,
        messages,
        upstream_calls: calls,
        budget_share_used: calls / budget,
        messages_per_add: messages as f64 / adds.max(1.0),
    };
    println!(
        "{n_guests} threads created in {created_in:?} (one messageThreads/add each; {start_retries} start retries after 503 busy)"
    );
    println!(
        "{messages} messages offered in {offered_in:?}, all confirmed after {drained_in:?}; upstream requests {calls} \
         of a budget of {budget:.0} in that time ({:.0} %); messages/add calls {adds}; {:.1} guest messages per messages/add; \
         429s from Mews: {}; sends retried (503 busy, 429, no answer): {}",
        100.0 * report.budget_share_used,
        report.messages_per_add,
        metric(&after, "lobby_upstream_429_total"),
        send_retries.load(Ordering::Relaxed)
    );
    assert_eq!(messages as usize, rate_per_sec * seconds);
    assert_eq!(metric(&after, "lobby_upstream_429_total"), 0.0, "no 429 from Mews");
    let log = stack.sim().requests().await;
    let requests = log["requests"].as_array().expect("request log");
    let too_many = requests.iter().filter(|r| r["status"] == 429).count();
    assert!(requests.len() > n_guests, "the simulator logged the run ({} requests)", requests.len());
    assert_eq!(too_many, 0, "the simulator answered 429");

    // Every message exactly once and in order, per thread (read through the staff side).
    let want: Vec<String> = (0..rate_per_sec * seconds / n_guests).map(|n| format!("message {n}")).collect();
    let mut checked = 0;
    for (_, id) in stack.sim().staff_threads().await.iter().filter(|(name, _)| name.starts_with("Load guest ")) {
        assert_eq!(stack.sim().staff_texts(id).await, want, "thread {id}");
        checked += 1;
    }
    assert_eq!(checked, n_guests);
    stack.stop().await;
    report
}
