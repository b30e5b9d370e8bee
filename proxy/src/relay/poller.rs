//! Brings live threads up to date from Mews, because `MessageAdded` webhooks lag minutes and can
//! be lost.
//!
//! One poller per `AccessToken` (all properties on the token, portfolio tokens included). It
//! sleeps while no guest is connected (zero upstream calls) and otherwise reads every live thread
//! once per [`POLL_EVERY`]: one `messages/getAll` per 1000 threads, each thread read from its
//! high-water mark (`covered`, see `hub`), not over a fixed window, so a poll returns only what is
//! new and its cost is flat in the message rate. Threads far behind (a stream resuming after a
//! restart from an hours-old event) are read in their own batch so they do not widen the window
//! of the others. `IsResolved` is checked every [`RESOLVED_EVERY`], and at the next poll for a
//! thread seen for the first time, batched the same way.
//!
//! Wake-ups (a webhook, a stream that needs catching up) only start polling when it was asleep:
//! they never bring the next poll closer than [`POLL_EVERY`] after the last, so no client can
//! raise the poll rate. At that cadence a token spends 30 of its 160 requests per 30 s per 1000
//! live threads, whether the guests write once an hour or every second.
//!
//! In cluster mode ([`run_clustered`]) every instance runs this task for every token, but only
//! the holder of the token's lease in Redis polls: it reads the live threads of all instances
//! (`cluster::live`) and publishes what it found (`relay::fanout`). The others list their live
//! threads, and ask for a thread to be read again when their copy falls behind. When the holder
//! dies, another instance takes the lease within [`crate::cluster::lease::LEASE_FOR`] plus one
//! poll, and reads the threads it never saw from a little further back than the slack.

use std::{sync::Arc, time::Duration};

use jiff::{SignedDuration, Timestamp};
use mews_wire::{SenderKind, TimeInterval, limits::MAX_ARRAY};
use tokio::{sync::watch, time::Instant};

use super::{
    fanout,
    hub::{MARK_SLACK, Thread, age_ms},
};
use crate::{
    mews::{client::MewsError, upstream::Upstream},
    state::{AppState, TokenCluster},
};

/// Poll period while any thread of the token has a subscriber.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// How often live threads are checked for `IsResolved`.
pub const RESOLVED_EVERY: Duration = Duration::from_secs(10);
/// A thread whose mark is older than this is "behind" and read in a batch of its own.
const BEHIND: SignedDuration = SignedDuration::from_secs(60);
/// Mews accepts a `CreatedUtc` filter of at most one month.
const MAX_LOOK_BACK: SignedDuration = SignedDuration::from_hours(24 * 30);
/// Cluster mode: a copy whose mark is older than this is behind the holder's polls (a missed
/// note, a resumed stream): the holder is asked to read the thread again from the mark.
const STALE: SignedDuration = SignedDuration::from_secs(3);
/// Cluster mode: a thread the holder never saw is read from this far back, which covers the
/// previous holder's last poll (at most a lease ago) and the registry's delay.
const TAKEOVER_LOOK_BACK: SignedDuration = SignedDuration::from_secs(10);

pub async fn run(
    state: AppState,
    upstream: Arc<Upstream>,
    properties: Vec<String>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last_poll: Option<Instant> = None;
    let mut last_resolved = Instant::now() - RESOLVED_EVERY;
    loop {
        let live = state.hub().live(&properties);
        let next = if live.is_empty() { None } else { Some(last_poll.map_or_else(Instant::now, |t| t + POLL_EVERY)) };
        tokio::select! {
            // Asleep: a wake-up starts polling (at most one poll per POLL_EVERY all the same).
            _ = upstream.wake.notified(), if next.is_none() => {
                if let Some(t) = last_poll {
                    tokio::time::sleep_until(t + POLL_EVERY).await;
                }
            }
            _ = async { match next { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {}
            _ = shutdown.changed() => return,
        }
        let live = state.hub().live(&properties);
        if live.is_empty() {
            continue;
        }
        last_poll = Some(Instant::now());
        poll_once(&state, &upstream, live, &mut last_resolved).await;
    }
}

/// One poll of `live`: new messages, then resolved states (all every [`RESOLVED_EVERY`], threads
/// not known yet at once).
async fn poll_once(state: &AppState, upstream: &Upstream, live: Vec<Arc<Thread>>, last_resolved: &mut Instant) {
    if let Err(e) = poll_messages(state, upstream, &live).await {
        tracing::warn!(error = %e, "polling Mews failed");
    }
    let unknown: Vec<Arc<Thread>> = live.iter().filter(|t| !t.resolved_known()).cloned().collect();
    let check = if last_resolved.elapsed() >= RESOLVED_EVERY {
        *last_resolved = Instant::now();
        live
    } else {
        unknown
    };
    if !check.is_empty()
        && let Err(e) = poll_resolved(state, upstream, &check).await
    {
        tracing::warn!(error = %e, "checking resolved threads failed");
    }
}

/// The poller of one token in cluster mode (see the module docs). Ticks every [`POLL_EVERY`]
/// whether or not this instance has streams (another may); Mews is called only by the lease's
/// holder and only while some instance has a live thread.
pub async fn run_clustered(
    state: AppState,
    upstream: Arc<Upstream>,
    properties: Vec<String>,
    cluster: TokenCluster,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last_tick = Instant::now() - POLL_EVERY;
    let mut last_resolved = Instant::now() - RESOLVED_EVERY;
    let mut holding = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(last_tick + POLL_EVERY) => {}
            // A wake-up never brings a poll closer than POLL_EVERY after the last.
            _ = upstream.wake.notified() => tokio::time::sleep_until(last_tick + POLL_EVERY).await,
            _ = shutdown.changed() => {
                if holding {
                    cluster.holding.store(false, std::sync::atomic::Ordering::Release);
                    let _ = cluster.lease.release(crate::cluster::now_ms()).await;
                }
                return;
            }
        }
        last_tick = Instant::now();
        let now = Timestamp::now();
        let now_ms = now.as_millisecond();
        let local = state.hub().live(&properties);
        let mut behind = Vec::new();
        for t in &local {
            match t.covered() {
                None => t.rewind(now - MARK_SLACK),
                Some(c) if now.duration_since(c) > STALE => behind.push((t.id.clone(), c.as_millisecond())),
                Some(_) => {}
            }
        }
        if !local.is_empty() {
            let ids: Vec<(String, String)> = local.iter().map(|t| (t.property.clone(), t.id.clone())).collect();
            if let Err(e) = cluster.live.register(&ids, now_ms).await {
                tracing::warn!(error = %e, "could not list live threads in Redis");
            }
        }
        let was_holding = holding;
        let share = state.lease_share();
        // More leases here than this instance's share (an instance joined): this one is given
        // up, and an instance below its share takes it at its next poll.
        if holding && share.is_some_and(|s| s.give_up_one()) {
            holding = false;
            cluster.holding.store(false, std::sync::atomic::Ordering::Release);
            state.metrics().leases_held.fetch_add(-1, std::sync::atomic::Ordering::Relaxed);
            tracing::info!("poller lease given up: this instance holds more than its share");
            if let Err(e) = cluster.lease.release(crate::cluster::now_ms()).await {
                tracing::warn!(error = %e, "could not release the poller lease; it lapses");
            }
            continue;
        }
        let grace = if holding { Duration::ZERO } else { share.map_or(Duration::ZERO, |s| s.grace()) };
        holding = match cluster.lease.hold_with_grace(now_ms, grace).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "could not reach the poller lease in Redis");
                false
            }
        };
        cluster.holding.store(holding, std::sync::atomic::Ordering::Release);
        if holding != was_holding {
            if let Some(s) = share {
                s.changed(holding);
            }
            tracing::info!(holding, "poller lease changed hands");
            state.metrics().leases_held.fetch_add(if holding { 1 } else { -1 }, std::sync::atomic::Ordering::Relaxed);
        }
        if !holding {
            if let Err(e) = cluster.live.rewind(&behind).await {
                tracing::warn!(error = %e, "could not ask for threads to be read again");
            }
            continue;
        }
        // The holder: every instance's live threads, from the earliest mark anyone needs.
        let mut threads: std::collections::HashMap<String, Arc<Thread>> =
            local.into_iter().map(|t| (t.id.clone(), t)).collect();
        match cluster.live.list(now_ms).await {
            Ok(remote) => {
                for (p, id) in remote {
                    if properties.contains(&p) && !threads.contains_key(&id) {
                        let t = state.hub().thread(&p, &id);
                        threads.insert(id, t);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the live threads from Redis"),
        }
        match cluster.live.take_rewinds().await {
            Ok(rewinds) => {
                for (id, since_ms) in rewinds {
                    if let (Some(t), Ok(since)) = (threads.get(&id), Timestamp::from_millisecond(since_ms)) {
                        t.rewind(since);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the rewinds from Redis"),
        }
        for t in threads.values() {
            if t.covered().is_none() {
                t.rewind(now - TAKEOVER_LOOK_BACK);
            }
        }
        if threads.is_empty() {
            continue;
        }
        poll_once(&state, &upstream, threads.into_values().collect(), &mut last_resolved).await;
    }
}

/// Reads the new messages of `live` threads from their marks and publishes them.
pub async fn poll_messages(state: &AppState, upstream: &Upstream, live: &[Arc<Thread>]) -> Result<(), MewsError> {
    let now = Timestamp::now();
    // Threads never seen here start now (their streams asked for new events only).
    for t in live {
        if t.covered().is_none() {
            t.rewind(now - MARK_SLACK);
        }
    }
    let (mut behind, current): (Vec<Arc<Thread>>, Vec<Arc<Thread>>) =
        live.iter().cloned().partition(|t| t.covered().is_some_and(|c| now.duration_since(c) > BEHIND));
    behind.sort_by_key(|t| t.covered());
    for group in [current, behind] {
        for chunk in group.chunks(MAX_ARRAY) {
            read_chunk(state, upstream, chunk).await?;
        }
    }
    Ok(())
}

async fn read_chunk(state: &AppState, upstream: &Upstream, chunk: &[Arc<Thread>]) -> Result<(), MewsError> {
    let asked_at = Timestamp::now();
    let oldest = chunk.iter().filter_map(|t| t.covered()).min().unwrap_or(asked_at);
    let start = (oldest - MARK_SLACK).max(asked_at - MAX_LOOK_BACK);
    let window = TimeInterval { start_utc: start, end_utc: asked_at + SignedDuration::from_mins(1) };
    let ids: Vec<String> = chunk.iter().map(|t| t.id.clone()).collect();
    let found = upstream.messages_in(&ids, window).await?;
    fanout::publish_poll(state, chunk, &found, window.start_utc, asked_at).await;
    let by_id: std::collections::HashMap<&str, &Arc<Thread>> = chunk.iter().map(|t| (t.id.as_str(), t)).collect();
    for m in found {
        let Some(thread) = by_id.get(m.message_thread_id.as_str()) else {
            continue;
        };
        if !thread.publish(std::slice::from_ref(&m)).is_empty() && m.sender.discriminator == SenderKind::Enterprise {
            state.metrics().staff_replies.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            state.metrics().observe_reply_latency(age_ms(m.created_utc));
        }
    }
    // Everything created before the question is in the logs now (Mews's answer is a snapshot;
    // the next read starts MARK_SLACK earlier against late commits and clock skew).
    for t in chunk {
        t.advance(asked_at);
    }
    Ok(())
}

async fn poll_resolved(state: &AppState, upstream: &Upstream, threads: &[Arc<Thread>]) -> Result<(), MewsError> {
    for chunk in threads.chunks(MAX_ARRAY) {
        let ids: Vec<String> = chunk.iter().map(|t| t.id.clone()).collect();
        let found = upstream
            .read("messageThreads/getAll", None, move |c| {
                let ids = ids.clone();
                async move { c.get_threads(&ids).await }
            })
            .await?;
        fanout::publish_resolved(state, found.iter().map(|t| (t.id.clone(), t.is_resolved)).collect()).await;
        for t in found {
            if let Some(thread) = chunk.iter().find(|x| x.id == t.id) {
                thread.set_resolved(t.is_resolved);
            }
        }
    }
    Ok(())
}

/// The poller against the simulator in process, under paused time: minutes of cadence in
/// milliseconds of wall time.
#[cfg(test)]
mod tests {
    use tokio::time::Instant;

    use super::*;
    use crate::{mews::in_process::InProcessMews, relay::hub::Event};

    const HOTEL: &str = "hotel";

    /// A thread in Mews, and the poller of its token running.
    async fn start(mews: &InProcessMews) -> (AppState, Arc<Upstream>, String) {
        let state = mews.app_state();
        let upstream = state.property(HOTEL).unwrap().upstream.clone();
        let thread = new_thread(&upstream).await;
        tokio::spawn(run(state.clone(), upstream.clone(), vec![HOTEL.into()], state.shutdown_signal()));
        (state, upstream, thread)
    }

    async fn new_thread(upstream: &Upstream) -> String {
        let r = crate::conversation::start::new_reference();
        upstream.add_thread("Ann", &format!("Chat · #{r}"), &r, Timestamp::now()).await.unwrap().id
    }

    #[tokio::test(start_paused = true)]
    async fn nobody_connected_costs_no_mews_call() {
        let mews = InProcessMews::default();
        let (_state, _up, _thread) = start(&mews).await;
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert_eq!(mews.requests("messages/getAll").await, (0, 0));
        assert_eq!(mews.requests("messageThreads/getAll").await, (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_staff_reply_reaches_a_connected_guest_within_one_poll_even_after_a_quiet_hour() {
        let mews = InProcessMews::default();
        let (state, _up, thread) = start(&mews).await;
        let mut guest = state.hub().subscribe(HOTEL, &thread);
        tokio::time::sleep(Duration::from_secs(3600)).await; // nobody wrote for an hour
        let t0 = Instant::now();
        mews.staff_reply(&thread, "Your room is ready").await;
        let event = tokio::time::timeout(Duration::from_secs(5), guest.rx.recv()).await.expect("in time").unwrap();
        let waited = t0.elapsed();
        assert!(matches!(&event, Event::Message(m) if m.text == "Your room is ready"), "{event:?}");
        assert!(waited <= POLL_EVERY, "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn one_poll_a_second_and_a_hundred_reconnects_and_webhooks_do_not_raise_it() {
        let mews = InProcessMews::default();
        let (state, up, thread) = start(&mews).await;
        let _guest = state.hub().subscribe(HOTEL, &thread);
        // A client connecting and closing its stream 100 times, and 100 replayed webhooks, in 60 s.
        for _ in 0..100 {
            drop(state.hub().subscribe(HOTEL, &thread));
            up.wake.notify_one();
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
        let (polls, too_many) = mews.requests("messages/getAll").await;
        assert!((59..=61).contains(&polls), "{polls} polls in 60 s");
        assert_eq!(too_many, 0);
        let (resolved_checks, _) = mews.requests("messageThreads/getAll").await;
        assert!((6..=8).contains(&resolved_checks), "{resolved_checks} resolved checks in 60 s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_reads_from_the_mark_so_a_busy_past_costs_nothing() {
        let mews = InProcessMews::default();
        let (state, up, thread) = start(&mews).await;
        // 2,500 messages in the last minutes: a fixed 10-minute look-back would page three times
        // per poll.
        for batch in 0..5 {
            let sends = (0..500).map(|i| {
                let (up, thread) = (up.clone(), thread.clone());
                tokio::spawn(async move { up.add_message(&thread, &format!("old {batch}-{i}"), None, None).await })
            });
            for s in sends.collect::<Vec<_>>() {
                s.await.unwrap().unwrap();
            }
        }
        tokio::time::sleep(Duration::from_secs(30)).await; // the budget window is clear again
        let sub = state.hub().subscribe(HOTEL, &thread);
        // The widget loaded the newest page an hour after those messages. (Mews's clock and the
        // marks are wall time, which paused Tokio time does not move: the mark is set ahead
        // instead of letting an hour pass.)
        sub.thread.advance(Timestamp::now() + SignedDuration::from_hours(1));
        up.wake.notify_one(); // as a stream does when it subscribes
        let before = mews.requests("messages/getAll").await.0;
        tokio::time::sleep(Duration::from_secs(30)).await;
        let polls = mews.requests("messages/getAll").await.0 - before;
        assert!((29..=31).contains(&polls), "{polls} calls for 30 polls");
    }

    #[tokio::test(start_paused = true)]
    async fn five_hundred_threads_resuming_from_an_hour_ago_cost_a_few_calls() {
        let mews = InProcessMews::default();
        let (state, up, _thread) = start(&mews).await;
        let mut threads = Vec::new();
        for _ in 0..500 {
            threads.push(new_thread(&up).await);
        }
        let hour_ago = Timestamp::now() - SignedDuration::from_hours(1);
        for t in threads.iter().take(50) {
            mews.staff_reply(t, "while you were away").await;
        }
        let (reads_before, checks_before) =
            (mews.requests("messages/getAll").await.0, mews.requests("messageThreads/getAll").await.0);
        let subs: Vec<_> = threads
            .iter()
            .map(|t| {
                let s = state.hub().subscribe(HOTEL, t);
                s.thread.rewind(hour_ago);
                s
            })
            .collect();
        up.wake.notify_one();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let got = subs.iter().filter(|s| s.thread.after(None).is_empty() && s.thread.recent(10).0.len() == 1).count();
        assert_eq!(got, 50, "every missed reply is in its thread's log");
        let reads = mews.requests("messages/getAll").await.0 - reads_before;
        let checks = mews.requests("messageThreads/getAll").await.0 - checks_before;
        println!("500 threads resumed: {reads} messages/getAll, {checks} messageThreads/getAll");
        assert!(reads <= 2 && checks <= 1, "{reads} reads, {checks} resolved checks");
    }

    #[tokio::test(start_paused = true)]
    async fn a_resolved_thread_is_told_to_its_guest_within_ten_seconds() {
        let mews = InProcessMews::default();
        let (state, _up, thread) = start(&mews).await;
        let mut guest = state.hub().subscribe(HOTEL, &thread);
        tokio::time::sleep(Duration::from_millis(100)).await;
        mews.resolve(&thread).await;
        let t0 = Instant::now();
        let event = tokio::time::timeout(Duration::from_secs(30), guest.rx.recv()).await.expect("in time").unwrap();
        assert_eq!(event, Event::Resolved(true));
        assert!(t0.elapsed() <= RESOLVED_EVERY, "{:?}", t0.elapsed());
    }
}
