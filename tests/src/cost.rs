//! The cost matrix: Mews requests per 30 s against offered load, through one hotel's Mews
//! connection with the real limit (200 requests / 30 s per AccessToken). Rows are live threads
//! (each with an open SSE stream, as an open widget holds), columns guest messages per second per
//! 100 threads. Each cell's cost is split into the polling share (`messages/getAll` +
//! `messageThreads/getAll`: what keeps open widgets current) and the write share (`messages/add`,
//! `messageThreads/add`: what the guests send), read from the proxy's `/metrics` over a measured
//! window after a short warm-up at the cell's rate, and scaled to 30 s.
//!
//! Threads are created once, for the largest row (1000 creations take ~190 s of the budget at 160
//! per 30 s), and rows add streams to the same threads; a row's rates run back to back on it. The
//! first window starts 31 s after the last creation, when the creations have left Mews's 30 s
//! window: a window then holds only its own rate's writes, and the polls run at their own
//! cadence (while the creations fill the window, reads keep only their floor of the budget).
//!
//! Asserts what a hotel would notice: no 429 from Mews (proxy metric and the simulator's log),
//! every guest message in Mews exactly once, and the polling share flat in the message rate:
//! within [`POLLING_BAND`] requests per 30 s across the rates of each row. Prints the table.
//!
//! `make test` runs one row (`tests/tests/timed/proxy_cost.rs`); `make bench` the full matrix.

use std::{
    fmt::Write as _,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use crate::{
    Ports, Stack,
    guest::SseStream,
    load::{metric, start_guests},
};

/// How far the polling share per 30 s may spread across the rates of one row: the poller reads
/// once a second (30 per 30 s) plus an `IsResolved` check every 10 s (3 per 30 s), per 1000
/// threads; a window can catch one more or one less of each, and a poll delayed behind writes.
pub const POLLING_BAND: f64 = 4.0;

/// The shape of a cost run.
#[derive(Clone, Debug)]
pub struct Cost {
    /// Live threads per row, ascending.
    pub threads: Vec<usize>,
    /// Guest messages per second per 100 live threads, per column.
    pub rates_per_100: Vec<f64>,
    /// Time at a cell's rate before its window is measured.
    pub warm_up: Duration,
    /// The measured window of each cell.
    pub window: Duration,
}

/// One measured cell, requests scaled to 30 s.
#[derive(Clone, Debug)]
pub struct Cell {
    pub threads: usize,
    pub rate_per_100: f64,
    /// The offered load: guest messages per 30 s at this rate.
    pub messages_per_30s: f64,
    /// Guest messages sent inside the measured window.
    pub sent_in_window: usize,
    pub polling_per_30s: f64,
    pub writes_per_30s: f64,
    pub other_per_30s: f64,
}

const POLLING: [&str; 2] = ["messages/getAll", "messageThreads/getAll"];
const WRITES: [&str; 2] = ["messages/add", "messageThreads/add"];

fn op(m: &str, operation: &str) -> f64 {
    metric(m, &format!("lobby_upstream_requests_total{{operation=\"{operation}\"}}"))
}

/// Runs `shape` against a fresh stack; panics on a 429, a lost or duplicated message, or a polling
/// share outside the band. Returns the cells, row by row.
pub async fn run(shape: Cost) -> Vec<Cell> {
    let max_threads = *shape.threads.iter().max().expect("a row");
    let stack = Stack::start_custom(Ports::any(), mews_sim::Config::default(), |c| {
        c.guest_limits = crate::one_address_for_many_guests();
    })
    .await;
    let metrics = || stack.metrics();

    let t0 = Instant::now();
    let (guests, start_retries) = start_guests(&stack, max_threads, "Cost guest").await;
    // The creations' writes share the budget with everything else while they are in the last
    // 30 s (the start-up, not the steady state this measures): no window starts before they
    // have left it.
    let first_window_from = Instant::now() + Duration::from_secs(31);
    println!(
        "{max_threads} threads created in {:.1} s ({start_retries} start retries after 503 busy)",
        t0.elapsed().as_secs_f64()
    );

    // Each guest's messages so far (its next number), and every send's retries.
    let mut next = vec![0usize; max_threads];
    let retries = Arc::new(AtomicU32::new(0));
    // Each stream is read as a widget reads it, whatever comes on it.
    let mut streams: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    let mut cells = Vec::new();
    let mut sends = Vec::new();
    for &threads in &shape.threads {
        // Open streams up to this row's thread count: these are the live threads.
        while streams.len() < threads {
            let mut sse: SseStream = guests[streams.len()].events(None).await;
            streams.push(tokio::spawn(async move { while sse.next(Duration::from_secs(3600)).await.is_some() {} }));
        }
        for &rate_per_100 in &shape.rates_per_100 {
            let rate = rate_per_100 * threads as f64 / 100.0;
            let every = Duration::from_secs_f64(1.0 / rate);
            let begin = Instant::now();
            let measure_at = (begin + shape.warm_up).max(first_window_from);
            let end = measure_at + shape.window;
            let mut before = None;
            let mut offered_in_window = 0;
            let mut i = 0usize;
            loop {
                let due = begin + every.mul_f64(i as f64);
                if due >= end {
                    break;
                }
                if before.is_none() && due >= measure_at {
                    tokio::time::sleep_until(measure_at.into()).await;
                    before = Some(metrics().await);
                }
                tokio::time::sleep_until(due.into()).await;
                let g = i % threads;
                let (guest, n, retries) = (guests[g].clone(), next[g], retries.clone());
                next[g] += 1;
                if before.is_some() {
                    offered_in_window += 1;
                }
                sends.push(tokio::spawn(async move {
                    let r = guest.send_retrying(&format!("c{n}"), &format!("cost {n}")).await;
                    retries.fetch_add(r, Ordering::Relaxed);
                }));
                i += 1;
            }
            let before = match before {
                Some(b) => b,
                None => {
                    tokio::time::sleep_until(measure_at.into()).await;
                    metrics().await
                }
            };
            tokio::time::sleep_until(end.into()).await;
            let after = metrics().await;
            let scale = 30.0 / shape.window.as_secs_f64();
            let delta = |ops: &[&str]| ops.iter().map(|o| op(&after, o) - op(&before, o)).sum::<f64>() * scale;
            let total = (metric(&after, "lobby_upstream_requests_total")
                - metric(&before, "lobby_upstream_requests_total"))
                * scale;
            let (polling, writes) = (delta(&POLLING), delta(&WRITES));
            // Which seconds of the window saw a poll (the simulator's log, whole seconds).
            let polled_seconds = {
                let log = stack.sim().requests().await;
                let mut secs = std::collections::BTreeSet::new();
                let now = jiff::Timestamp::now().as_second();
                let from = now - shape.window.as_secs() as i64;
                for r in log["requests"].as_array().expect("request log") {
                    if r["path"].as_str().is_some_and(|p| p.ends_with("/messages/getAll"))
                        && let Some(t) = r["time_utc"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok())
                    {
                        secs.insert(t.as_second());
                    }
                }
                (from..now).filter(|s| secs.contains(s)).count()
            };
            let polling_ops =
                POLLING.map(|o| format!("{o} {:.0}", (op(&after, o) - op(&before, o)) * scale)).join(" + ");
            let cell = Cell {
                threads,
                rate_per_100,
                messages_per_30s: rate * 30.0,
                sent_in_window: offered_in_window,
                polling_per_30s: polling,
                writes_per_30s: writes,
                other_per_30s: total - polling - writes,
            };
            println!(
                "  {threads} threads, {rate_per_100} msg/s per 100 threads ({} guest messages sent in the {:?} window; \
                 messages/getAll seen in {polled_seconds} of its seconds): polling {:.1} ({polling_ops}), writes {:.1}, other {:.1} requests per 30 s",
                cell.sent_in_window, shape.window, cell.polling_per_30s, cell.writes_per_30s, cell.other_per_30s
            );
            cells.push(cell);
        }
    }
    for s in sends {
        s.await.unwrap();
    }
    let end_metrics = metrics().await;
    for s in streams {
        s.abort();
    }
    println!("{}", table(&cells, &shape));

    // No 429, as the proxy saw it and as the simulator answered.
    assert_eq!(metric(&end_metrics, "lobby_upstream_429_total"), 0.0, "no 429 from Mews");
    let log = stack.sim().requests().await;
    let too_many = log["requests"].as_array().expect("request log").iter().filter(|r| r["status"] == 429).count();
    assert_eq!(too_many, 0, "the simulator answered 429");

    // Every guest message in Mews exactly once (read through the staff side).
    let mut checked = 0;
    let mut messages = 0;
    for (name, id) in stack.sim().staff_threads().await {
        let Some(g) = name.strip_prefix("Cost guest ").and_then(|g| g.parse::<usize>().ok()) else {
            continue;
        };
        let mut texts = stack.sim().staff_texts(&id).await;
        texts.sort();
        let mut want: Vec<String> = (0..next[g]).map(|n| format!("cost {n}")).collect();
        want.sort();
        assert_eq!(texts, want, "guest {g}'s messages in Mews, each once");
        messages += texts.len();
        checked += 1;
    }
    assert_eq!(checked, max_threads);
    println!(
        "{messages} guest messages, each in Mews exactly once; 429s from Mews: 0; sends retried (503 busy, 429, no answer): {}",
        retries.load(Ordering::Relaxed)
    );

    // The polling share is flat in the message rate.
    for &threads in &shape.threads {
        let row: Vec<f64> = cells.iter().filter(|c| c.threads == threads).map(|c| c.polling_per_30s).collect();
        let (lo, hi) = row.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(*p), hi.max(*p)));
        assert!(
            hi - lo <= POLLING_BAND,
            "{threads} threads: polling requests per 30 s {row:?} spread over {} > {POLLING_BAND}",
            hi - lo
        );
    }
    stack.stop().await;
    cells
}

/// The matrix as a Markdown table: one line per row, `polling / writes` per 30 s per rate.
pub fn table(cells: &[Cell], shape: &Cost) -> String {
    let mut s = String::from(
        "Mews requests per 30 s, polling (messages/getAll + messageThreads/getAll) / writes (messages/add + messageThreads/add), and in brackets the guest messages offered per 30 s, by guest messages/s per 100 threads:\n\n| live threads |",
    );
    for r in &shape.rates_per_100 {
        let _ = write!(s, " {r} msg/s per 100 |");
    }
    s.push_str("\n|---|");
    for _ in &shape.rates_per_100 {
        s.push_str("---|");
    }
    for &threads in &shape.threads {
        let _ = write!(s, "\n| {threads} |");
        for c in cells.iter().filter(|c| c.threads == threads) {
            let _ = write!(
                s,
                " {:.0} / {:.0} ({} msgs) |",
                c.polling_per_30s,
                c.writes_per_30s,
                fmt_count(c.messages_per_30s)
            );
        }
    }
    s
}

/// An offered message count per 30 s: whole when it is, else one decimal.
fn fmt_count(v: f64) -> String {
    if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.1}") }
}
