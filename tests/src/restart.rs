//! The restart run: guests hold open streams, each has received a staff reply (so its last event
//! id carries a time), and the proxy restarts (`Stack::restart_proxy`: a graceful stop, every
//! stream gets a `reconnect` event, a new instance on the same address and store) while staff
//! keep replying. Each client does what the widget does (`widget/src/live.rs`): on `reconnect`
//! it waits 300–1500 ms, reopens its stream with `?last_event_id=` (retrying with backoff while
//! the proxy is down), and on open syncs with `GET /v1/conversation/messages?after=<last id>`.
//!
//! Asserts what a guest would notice: every stream resumes, every staff reply arrives on the
//! stream exactly once (none missed, none repeated across the old and the new stream), the sync
//! holds nothing before the last event id, and no 429 from Mews. Prints the Mews calls the reload
//! cost, read from the simulator's request log (it outlives the proxy): the calls from the
//! restart until every stream has caught up, minus the regular polling of that interval
//! (measured just before the restart over the same streams), and asserts the rest is at most
//! [`RELOAD_CALLS_PER_1000`] per 1000 threads.
//!
//! `make test` runs it with 100 streams (`tests/tests/timed/proxy_restart.rs`), `make bench`
//! with 500.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{Ports, Stack, eventually, guest::Guest, load::start_guests};

/// Reload calls allowed per 1000 resuming threads, beyond the regular polls: one batched
/// `messages/getAll` from the resumed streams' times, one batched `messageThreads/getAll` for
/// threads new to the instance, and slack for streams that reconnect across two polls.
pub const RELOAD_CALLS_PER_1000: f64 = 5.0;

/// The shape of one restart run.
#[derive(Clone, Copy, Debug)]
pub struct Restart {
    /// Guests with an open stream.
    pub guests: usize,
}

/// What a restart run measured (also printed).
#[derive(Debug)]
pub struct RestartReport {
    pub resumed_in: Duration,
    pub calls_in_interval: BTreeMap<String, usize>,
    pub regular_polls: f64,
    pub reload_calls: f64,
}

/// One client's view, as its task records it.
#[derive(Default)]
struct Client {
    last_event_id: Option<String>,
    /// Staff replies by text, counted on every stream this client held (no dedupe).
    on_stream: HashMap<String, usize>,
    /// What the widget shows: messages from the streams and the syncs, by Mews message id.
    shown: HashMap<String, String>,
    /// Streams reopened after a `reconnect` (or an ended stream).
    reconnects: usize,
    failed_attempts: usize,
    /// Texts the `after=` syncs returned.
    synced: Vec<String>,
    syncs: usize,
}

type Shared = Arc<Mutex<Client>>;

/// The widget's stream loop for one guest: reads events, and on `reconnect` or the end of the
/// stream reopens it after the widget's delay with its last event id and syncs.
async fn client(guest: Guest, me: Shared, jitter_ms: u64) {
    let mut sse = guest.events(None).await;
    loop {
        match sse.next(Duration::from_secs(3600)).await {
            Some(ev) if ev.event == "message" => {
                let m: lobby_protocol::ChatMessage = serde_json::from_str(&ev.data).expect("message JSON");
                let mut c = me.lock().unwrap();
                *c.on_stream.entry(m.text.clone()).or_default() += 1;
                c.shown.insert(m.id, m.text);
                if ev.id.is_some() {
                    c.last_event_id = ev.id;
                }
            }
            Some(ev) if ev.event != "reconnect" => {}
            // `reconnect`, or the stream ended: as the widget, wait 300–1500 ms, then reopen.
            _ => {
                tokio::time::sleep(Duration::from_millis(300 + jitter_ms)).await;
                let mut attempt = 0u32;
                let last = me.lock().unwrap().last_event_id.clone().expect("a last event id");
                sse = loop {
                    match guest.try_events_after(&last).await {
                        Ok(s) => break s,
                        Err(_) => {
                            me.lock().unwrap().failed_attempts += 1;
                            let base = 1000u64 << attempt.min(5);
                            attempt += 1;
                            tokio::time::sleep(Duration::from_millis(base.min(30_000) + jitter_ms / 4)).await;
                        }
                    }
                };
                me.lock().unwrap().reconnects += 1;
                // On open the widget syncs what came after its last event.
                let guest = guest.clone();
                let me = me.clone();
                tokio::spawn(async move {
                    for _ in 0..10 {
                        if let Ok(h) = guest.try_after(&last).await {
                            let mut c = me.lock().unwrap();
                            for m in h.messages {
                                c.synced.push(m.text.clone());
                                c.shown.insert(m.id, m.text);
                            }
                            c.syncs += 1;
                            return;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                });
            }
        }
    }
}

/// Connector operations in a slice of the simulator's request log, by operation.
fn by_operation(entries: &[&serde_json::Value]) -> BTreeMap<String, usize> {
    let mut ops = BTreeMap::new();
    for e in entries {
        let path = e["path"].as_str().unwrap_or_default();
        *ops.entry(path.trim_start_matches("/api/connector/v1/").to_owned()).or_default() += 1;
    }
    ops
}

/// Simulator log entries not among `seen` (request ids), and the ids of all.
async fn new_entries(stack: &Stack, seen: &HashSet<String>) -> (Vec<serde_json::Value>, HashSet<String>) {
    let log = stack.sim().requests().await;
    let all = log["requests"].as_array().expect("request log").clone();
    let ids = all.iter().filter_map(|r| r["request_id"].as_str().map(str::to_owned)).collect();
    let fresh = all.into_iter().filter(|r| !r["request_id"].as_str().is_some_and(|id| seen.contains(id))).collect();
    (fresh, ids)
}

/// Runs `shape` against a fresh stack; panics when a stream does not resume, a reply is missed or
/// doubled, Mews answers 429, or the reload costs more than allowed.
pub async fn run(shape: Restart) -> RestartReport {
    let n = shape.guests;
    let mut stack = Stack::start_custom(Ports::any(), mews_sim::Config::default(), |c| {
        c.guest_limits = crate::one_address_for_many_guests();
    })
    .await;
    let t0 = Instant::now();
    let (guests, retries) = start_guests(&stack, n, "Restart guest").await;
    println!("{n} threads created in {:.1} s ({retries} start retries after 503 busy)", t0.elapsed().as_secs_f64());
    let by_name: HashMap<String, String> = stack.sim().staff_threads().await.into_iter().collect();
    let thread_ids: Vec<String> = (0..n).map(|g| by_name[&format!("Restart guest {g}")].clone()).collect();

    // Every guest's stream, and a first staff reply each, so every last event id carries a time.
    let clients: Vec<Shared> = (0..n).map(|_| Shared::default()).collect();
    let mut tasks = Vec::new();
    for (g, guest) in guests.iter().enumerate() {
        tasks.push(tokio::spawn(client(guest.clone(), clients[g].clone(), (g as u64 * 7919) % 1200)));
    }
    let sim = stack.sim();
    let received = |clients: &[Shared], prefix: &str| {
        clients
            .iter()
            .enumerate()
            .filter(|(g, c)| c.lock().unwrap().on_stream.contains_key(&format!("{prefix} {g}")))
            .count()
    };
    for (g, t) in thread_ids.iter().enumerate() {
        sim.staff_reply(t, &format!("before {g}")).await;
    }
    eventually(Duration::from_secs(60), "every stream got its first reply", || async {
        (received(&clients, "before") == n).then_some(())
    })
    .await;

    // The regular polling over these streams, before the restart.
    let (_, seen) = new_entries(&stack, &HashSet::new()).await;
    let baseline_for = Duration::from_secs(10);
    let b0 = Instant::now();
    tokio::time::sleep(baseline_for).await;
    let (baseline, seen) = new_entries(&stack, &seen).await;
    let baseline_secs = b0.elapsed().as_secs_f64();
    let baseline_ops = by_operation(&baseline.iter().collect::<Vec<_>>());
    let polls_per_sec = baseline.len() as f64 / baseline_secs;
    println!("regular polling with {n} open streams, over {baseline_secs:.1} s before the restart: {baseline_ops:?}");

    // Staff keep replying (one more per conversation, over ~2 s) while the proxy restarts.
    let restart_at = Instant::now();
    let replies = {
        let (sim, thread_ids) = (sim.clone(), thread_ids.clone());
        tokio::spawn(async move {
            for (g, t) in thread_ids.iter().enumerate() {
                sim.staff_reply(t, &format!("during {g}")).await;
                tokio::time::sleep(Duration::from_millis(2000 / n as u64)).await;
            }
        })
    };
    stack.restart_proxy().await;
    let restarted_in = restart_at.elapsed();
    replies.await.unwrap();
    eventually(Duration::from_secs(120), "every stream resumed and caught up", || async {
        let done = received(&clients, "during") == n
            && clients.iter().all(|c| {
                let c = c.lock().unwrap();
                c.reconnects >= 1 && c.syncs >= 1
            });
        done.then_some(())
    })
    .await;
    let resumed_in = restart_at.elapsed();
    let (interval, seen) = new_entries(&stack, &seen).await;
    let calls_in_interval = by_operation(&interval.iter().collect::<Vec<_>>());

    // Live again: one more reply each reaches the resumed streams.
    for (g, t) in thread_ids.iter().enumerate() {
        sim.staff_reply(t, &format!("after {g}")).await;
    }
    eventually(Duration::from_secs(60), "every resumed stream got the next reply", || async {
        (received(&clients, "after") == n).then_some(())
    })
    .await;
    let (rest, _) = new_entries(&stack, &seen).await;
    for t in &tasks {
        t.abort();
    }

    // What it cost: everything in the interval, less the regular polls of its length.
    let total: usize = calls_in_interval.values().sum();
    let regular_polls = polls_per_sec * resumed_in.as_secs_f64();
    let reload_calls = total as f64 - regular_polls;
    let reconnects: usize = clients.iter().map(|c| c.lock().unwrap().reconnects).sum();
    let failed: usize = clients.iter().map(|c| c.lock().unwrap().failed_attempts).sum();
    println!(
        "proxy restarted in {:.2} s; all {n} streams resumed ({reconnects} reopens, {failed} attempts refused while it was down) \
         and caught up {:.1} s after the restart began",
        restarted_in.as_secs_f64(),
        resumed_in.as_secs_f64()
    );
    println!(
        "Mews calls from the restart until every stream caught up ({:.1} s): {calls_in_interval:?} = {total}; \
         regular polling at the rate before the restart ({:.2}/s) accounts for {regular_polls:.1}; \
         the reload: {reload_calls:.1} calls for {n} threads",
        resumed_in.as_secs_f64(),
        polls_per_sec
    );

    // Nothing missed or doubled where the guest looks: the widget's list (streams and syncs
    // merged by message id) holds each reply once, and each reached a stream (the resumed one
    // for `after`), and no stream sent an event twice.
    let mut resent = 0;
    let mut sync_repeats = 0;
    for (g, c) in clients.iter().enumerate() {
        let c = c.lock().unwrap();
        for prefix in ["before", "during", "after"] {
            let text = format!("{prefix} {g}");
            let shown = c.shown.values().filter(|t| **t == text).count();
            assert_eq!(shown, 1, "guest {g}: '{text}' shown {shown} times {:?}", c.shown);
            let on_stream = c.on_stream.get(&text).copied().unwrap_or(0);
            assert!(on_stream >= 1, "guest {g}: '{text}' never came on a stream");
            resent += on_stream - 1;
        }
        assert!(c.reconnects >= 1, "guest {g} resumed");
        sync_repeats += c.synced.iter().filter(|t| t.starts_with("before ")).count();
    }
    println!(
        "every reply shown once in all {n} widgets; events the streams sent a second time (dropped by id): {resent}; \
         syncs that returned the last event itself again: {sync_repeats}"
    );
    assert_eq!(resent, 0, "a resumed stream sent an event it had already sent");
    let too_many = baseline.iter().chain(&interval).chain(&rest).filter(|r| r["status"] == 429).count();
    assert_eq!(too_many, 0, "the simulator answered 429");
    let allowed = RELOAD_CALLS_PER_1000 * (n as f64 / 1000.0).ceil();
    assert!(reload_calls <= allowed, "the reload took {reload_calls:.1} calls for {n} threads (allowed {allowed})");
    stack.stop().await;
    RestartReport { resumed_in, calls_in_interval, regular_polls, reload_calls }
}
